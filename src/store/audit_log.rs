//! calsync's audit log (migration step 2): its table, its SQL, and the store's audit methods.

use chrono::{DateTime, Utc};

use super::migration::{Migration, column_types};
use super::sql::{self, Builder, Dialect, Sql, SqlEngine, SqlRow, Value};
use super::{Store, StoreError};
use crate::domain::audit::{AuditOutcome, AuditRecord, AuditStart};

const AUDIT: &str = "calsync_audit_log";

pub(super) const MIGRATION: Migration = Migration {
    version: 2,
    name: "audit log",
    enables: "the audit view, `calsync audit`",
    up: audit_up,
    down: audit_down,
};

fn audit_up(engine: SqlEngine) -> Vec<String> {
    let (pk, ts) = column_types(engine);
    vec![
        format!(
            "CREATE TABLE {AUDIT} (id {pk}, started_at {ts} NOT NULL, finished_at {ts} NULL, \
             os_user varchar(150) NOT NULL, host varchar(255) NOT NULL, \
             action varchar(40) NOT NULL, scope text NOT NULL, filter text NOT NULL, \
             row_count bigint NOT NULL, outcome varchar(20) NOT NULL, detail text NOT NULL)"
        ),
        format!("CREATE INDEX {AUDIT}_started ON {AUDIT} (started_at)"),
    ]
}

fn audit_down() -> Vec<String> {
    vec![format!("DROP TABLE {AUDIT}")]
}

fn audit_insert(dialect: Dialect, start: &AuditStart) -> Sql {
    let returning = " RETURNING id";
    let mut b = Builder::new(
        dialect,
        &format!(
            "INSERT INTO {AUDIT} (started_at, finished_at, os_user, host, action, scope, filter, \
             row_count, outcome, detail) VALUES ("
        ),
    );
    b.bind(Value::Time(start.at))
        .push(", NULL, ")
        .bind(Value::Text(start.operator.user.clone()))
        .push(", ")
        .bind(Value::Text(start.operator.host.clone()))
        .push(", ")
        .bind(Value::Text(start.action.clone()))
        .push(", ")
        .bind(Value::Text(start.scope.clone()))
        .push(", ")
        .bind(Value::Text(start.filter.clone()))
        .push(", ")
        .bind(Value::Int(i64::try_from(start.rows).unwrap_or(i64::MAX)))
        .push(", ")
        .bind(Value::Text(AuditOutcome::Running.as_str().to_string()))
        .push(", '')")
        .push(returning);
    b.finish()
}

fn audit_finish(
    dialect: Dialect,
    id: i64,
    outcome: AuditOutcome,
    rows: u64,
    detail: &str,
    at: DateTime<Utc>,
) -> Sql {
    let mut b = Builder::new(dialect, &format!("UPDATE {AUDIT} SET finished_at = "));
    b.bind(Value::Time(at))
        .push(", outcome = ")
        .bind(Value::Text(outcome.as_str().to_string()))
        .push(", row_count = ")
        .bind(Value::Int(i64::try_from(rows).unwrap_or(i64::MAX)))
        .push(", detail = ")
        .bind(Value::Text(detail.to_string()))
        .push(" WHERE id = ")
        .bind(Value::Int(id));
    b.finish()
}

/// The newest audit rows first, at most `limit`, optionally only one action.
fn audit_rows(dialect: Dialect, limit: u32, action: Option<&str>) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!(
            "SELECT id, started_at, finished_at, os_user, host, action, scope, filter, \
             row_count, outcome, detail FROM {AUDIT}"
        ),
    );
    if let Some(action) = action {
        b.push(" WHERE action = ")
            .bind(Value::Text(action.to_string()));
    }
    b.push(" ORDER BY id DESC LIMIT ")
        .bind(Value::Int(i64::from(limit)));
    b.finish()
}

fn map_audit(row: &dyn SqlRow) -> Result<AuditRecord, StoreError> {
    let outcome = row.text(9)?;
    Ok(AuditRecord {
        id: row.int(0)?,
        started_at: row.timestamp(1)?,
        finished_at: row.opt_timestamp(2)?,
        os_user: row.text(3)?,
        host: row.text(4)?,
        action: row.text(5)?,
        scope: row.text(6)?,
        filter: row.text(7)?,
        rows: u64::try_from(row.int(8)?).unwrap_or(0),
        outcome: AuditOutcome::parse(&outcome)
            .ok_or_else(|| StoreError::Data(format!("unknown audit outcome '{outcome}'")))?,
        detail: row.text(10)?,
    })
}

impl Store {
    /// Opens an audit row for an action that writes; `None` before `calsync migrate`.
    pub async fn audit_start(&self, start: &AuditStart) -> Result<Option<i64>, StoreError> {
        if !self.has_audit_log() {
            return Ok(None);
        }
        self.query_one(audit_insert(self.dialect(), start), sql::map_id)
            .await
            .map(Some)
    }

    pub async fn audit_finish(
        &self,
        id: i64,
        outcome: AuditOutcome,
        rows: u64,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.execute(audit_finish(
            self.dialect(),
            id,
            outcome,
            rows,
            detail,
            Utc::now(),
        ))
        .await?;
        Ok(())
    }

    pub async fn audit_rows(
        &self,
        limit: u32,
        action: Option<&str>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        if !self.has_audit_log() {
            return Err(StoreError::Schema(
                "calsync's audit log does not exist yet: run `calsync migrate` first".into(),
            ));
        }
        self.query(audit_rows(self.dialect(), limit, action), map_audit)
            .await
    }
}
