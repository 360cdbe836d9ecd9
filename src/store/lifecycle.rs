//! The store's side of calsync's own tables: migrating them, and reading and writing the event
//! ledger and the audit log. Every method here is a no-op or an empty answer where the table
//! it needs does not exist yet, except the ones that only make sense with it (they say so).

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};

use super::own::{self, LATEST, MIGRATIONS, Migration};
use super::sql::{self, Sql};
use super::{Store, StoreError};
use crate::domain::lifecycle::{
    AuditOutcome, AuditRecord, AuditStart, EventPointer, LedgerAction, LedgerRecord, LedgerScope,
};

/// What `calsync migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub from: u32,
    pub to: u32,
    /// The steps applied (up) or reverted (down), in the order they ran.
    pub steps: Vec<(u32, &'static str)>,
}

impl Store {
    pub(super) async fn read_own_version(&self) -> Result<u32, StoreError> {
        let engine = self.dialect().engine;
        let exists = self
            .query_one(plain(own::migrations_table_exists(engine)), sql::map_count)
            .await?;
        if exists == 0 {
            return Ok(0);
        }
        let version = self
            .query_one(plain(&own::current_version()), sql::map_count)
            .await?;
        Ok(u32::try_from(version).unwrap_or(u32::MAX))
    }

    /// The version of calsync's own tables: 0 before `calsync migrate`.
    pub fn own_version(&self) -> u32 {
        self.own_version.load(Ordering::Relaxed)
    }

    pub fn has_ledger(&self) -> bool {
        self.own_version() >= 1
    }

    pub fn has_audit_log(&self) -> bool {
        self.own_version() >= 2
    }

    /// The migrations not applied yet, for "run `calsync migrate` to enable …" hints.
    pub fn pending_migrations(&self) -> Vec<&'static Migration> {
        let current = self.own_version();
        MIGRATIONS.iter().filter(|m| m.version > current).collect()
    }

    /// Creates calsync's tables up to the newest version, in one transaction. Running it again
    /// does nothing.
    pub async fn migrate_up(&self, at: DateTime<Utc>) -> Result<MigrationReport, StoreError> {
        let from = self.read_own_version().await?;
        let dialect = self.dialect();
        let mut statements = vec![plain(&own::migrations_table_ddl(dialect.engine))];
        let mut steps = Vec::new();
        for migration in MIGRATIONS.iter().filter(|m| m.version > from) {
            statements.extend(migration.up(dialect.engine).iter().map(|s| plain(s)));
            statements.push(own::record_migration(
                dialect,
                migration.version,
                migration.name,
                at,
            ));
            steps.push((migration.version, migration.name));
        }
        if !steps.is_empty() {
            self.execute_all(statements).await?;
        }
        self.own_version.store(LATEST.max(from), Ordering::Relaxed);
        Ok(MigrationReport {
            from,
            to: LATEST.max(from),
            steps,
        })
    }

    /// Reverts calsync's tables down to version `to` (0 removes them all, the migrations table
    /// included), newest first, in one transaction.
    pub async fn migrate_down(&self, to: u32) -> Result<MigrationReport, StoreError> {
        let from = self.read_own_version().await?;
        let dialect = self.dialect();
        let mut statements = Vec::new();
        let mut steps = Vec::new();
        for migration in MIGRATIONS
            .iter()
            .rev()
            .filter(|m| m.version > to && m.version <= from)
        {
            statements.extend(migration.down().iter().map(|s| plain(s)));
            statements.push(own::forget_migration(dialect, migration.version));
            steps.push((migration.version, migration.name));
        }
        if to == 0 && from > 0 {
            statements.push(plain(&format!("DROP TABLE {}", own::MIGRATIONS_TABLE)));
        }
        if !statements.is_empty() {
            self.execute_all(statements).await?;
        }
        let now = from.min(to);
        self.own_version.store(now, Ordering::Relaxed);
        Ok(MigrationReport {
            from,
            to: now,
            steps,
        })
    }

    fn require_ledger(&self) -> Result<(), StoreError> {
        if self.has_ledger() {
            Ok(())
        } else {
            Err(StoreError::Schema(
                "calsync's event ledger does not exist yet: run `calsync migrate` first".into(),
            ))
        }
    }

    /// Marks an event seen or gone. Returns whether the ledger knew it.
    pub async fn ledger_mark(
        &self,
        mailbox: &str,
        event_id: &str,
        action: LedgerAction,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if !self.has_ledger() {
            return Ok(false);
        }
        let changed = self
            .execute(own::ledger_mark(
                self.dialect(),
                mailbox,
                event_id,
                action,
                at,
            ))
            .await?;
        Ok(changed > 0)
    }

    /// Records an event calsync found (or deleted) without having sent it.
    pub async fn ledger_record_found(
        &self,
        record: &LedgerRecord,
        action: LedgerAction,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.require_ledger()?;
        self.execute(own::ledger_insert_found(self.dialect(), record, action, at))
            .await?;
        Ok(())
    }

    /// Records what one pass learnt about many events, in one transaction (nothing before
    /// `calsync migrate`).
    pub async fn ledger_record_many(
        &self,
        found: &[(LedgerRecord, LedgerAction)],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !self.has_ledger() || found.is_empty() {
            return Ok(());
        }
        let dialect = self.dialect();
        let statements = found
            .iter()
            .map(|(record, action)| own::ledger_insert_found(dialect, record, *action, at))
            .collect();
        self.execute_all(statements).await?;
        Ok(())
    }

    /// Events the ledger holds as existing (0 before `calsync migrate`).
    pub async fn ledger_live_count(&self) -> Result<u64, StoreError> {
        if !self.has_ledger() {
            return Ok(0);
        }
        self.query_one(
            plain(&format!(
                "SELECT COUNT(*) FROM {} WHERE deleted_at IS NULL",
                super::sql::LEDGER
            )),
            sql::map_count,
        )
        .await
    }

    pub async fn ledger_rows(&self, scope: LedgerScope) -> Result<Vec<LedgerRecord>, StoreError> {
        self.require_ledger()?;
        self.query(own::ledger_rows(self.dialect(), scope), own::map_ledger)
            .await
    }

    /// The ledger's rows for one selection, newest first (empty before `calsync migrate`).
    pub async fn ledger_of_selection(
        &self,
        selection_id: i64,
    ) -> Result<Vec<LedgerRecord>, StoreError> {
        if !self.has_ledger() {
            return Ok(Vec::new());
        }
        self.query(
            own::ledger_of_selection(self.dialect(), selection_id),
            own::map_ledger,
        )
        .await
    }

    /// Live events no selection points to: `(record, selection_gone)`.
    pub async fn ledger_orphans(
        &self,
        scope: LedgerScope,
    ) -> Result<Vec<(LedgerRecord, bool)>, StoreError> {
        self.require_ledger()?;
        self.query(
            own::ledger_orphans(self.dialect(), scope),
            own::map_ledger_orphan,
        )
        .await
    }

    /// The users reconcile looks at: those holding selections (of `scope`'s conference, or
    /// all) plus those the ledger knows in `scope` (none before `calsync migrate`).
    pub async fn reconcile_user_ids(&self, scope: LedgerScope) -> Result<Vec<i64>, StoreError> {
        if let Some(user_id) = scope.user_id {
            return Ok(vec![user_id]);
        }
        let mut ids = self
            .query(
                sql::selection_user_ids(self.dialect(), scope.conference_id),
                sql::map_id,
            )
            .await?;
        if self.has_ledger() {
            ids.extend(
                self.query(own::ledger_user_ids(self.dialect(), scope), sql::map_id)
                    .await?,
            );
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// What each selection of `user_id` points to.
    pub async fn event_pointers_of_user(
        &self,
        user_id: i64,
    ) -> Result<Vec<EventPointer>, StoreError> {
        self.query(
            sql::event_pointers_of_user(self.dialect(), user_id),
            sql::map_event_pointer,
        )
        .await
    }

    /// What the selections among `ids` point to; the ids missing from the answer are gone.
    pub async fn event_pointers(&self, ids: &[i64]) -> Result<Vec<EventPointer>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.query(
            sql::event_pointers(self.dialect(), ids),
            sql::map_event_pointer,
        )
        .await
    }

    /// Opens an audit row for an action that writes; `None` before `calsync migrate`.
    pub async fn audit_start(&self, start: &AuditStart) -> Result<Option<i64>, StoreError> {
        if !self.has_audit_log() {
            return Ok(None);
        }
        self.query_one(own::audit_insert(self.dialect(), start), sql::map_id)
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
        self.execute(own::audit_finish(
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
        self.query(
            own::audit_rows(self.dialect(), limit, action),
            own::map_audit,
        )
        .await
    }
}

fn plain(text: &str) -> Sql {
    Sql {
        text: text.to_string(),
        params: Vec::new(),
    }
}
