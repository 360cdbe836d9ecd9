//! calsync's migration "worker" and its SQL: the retry schedule of `calsync worker` (one row per
//! selection that failed, with its attempts, next time and, once parked, why) and the registry
//! of running workers with their heartbeats. Kept in a file of its own so the step can be
//! renumbered without touching the others.

use chrono::{DateTime, Utc};

use super::migration::Migration;
use super::sql::{self, Builder, Sql, SqlEngine, SqlRow, Value};
use super::{Store, StoreError};
use crate::domain::Cause;
use crate::domain::worker::{Dependencies, RetryEntry, ScheduleCounts, WorkerCounts, WorkerEntry};

/// This step's place in `store::migrate::MIGRATIONS`.
pub const VERSION: u32 = 5;

pub const RETRIES: &str = "calsync_worker_retries";
/// A schedule entry's columns, in the order [`map_retry`] reads them.
pub(super) const RETRY_COLUMNS: &str = "selection_id, cause, attempts, next_attempt_at, \
    parked_at, last_error, dep_email, dep_branch_id, dep_zone, dep_integrations, updated_at";
pub const WORKERS: &str = "calsync_workers";

pub const MIGRATION: Migration = Migration {
    version: VERSION,
    name: "worker",
    enables: "`calsync worker`: its retry schedule, parked failures and registry",
    up,
    down,
};

fn up(engine: SqlEngine) -> Vec<String> {
    let (pk, ts) = super::migration::column_types(engine);
    vec![
        // No foreign key: an entry must not stop the LMS deleting a selection.
        format!(
            "CREATE TABLE {RETRIES} (selection_id bigint NOT NULL PRIMARY KEY, \
             cause varchar(20) NOT NULL, attempts bigint NOT NULL, next_attempt_at {ts} NULL, \
             parked_at {ts} NULL, last_error text NOT NULL, dep_email varchar(254) NULL, \
             dep_branch_id bigint NULL, dep_zone varchar(100) NULL, \
             dep_integrations varchar(64) NULL, updated_at {ts} NOT NULL)"
        ),
        format!(
            "CREATE TABLE {WORKERS} (id {pk}, host varchar(255) NOT NULL, pid bigint NOT NULL, \
             version varchar(40) NOT NULL, started_at {ts} NOT NULL, heartbeat_at {ts} NOT NULL, \
             last_pass_at {ts} NULL, passes bigint NOT NULL, synced bigint NOT NULL, \
             failed bigint NOT NULL, retries_scheduled bigint NOT NULL, parked bigint NOT NULL)"
        ),
    ]
}

fn down() -> Vec<String> {
    vec![
        format!("DROP TABLE {WORKERS}"),
        format!("DROP TABLE {RETRIES}"),
    ]
}

/// A change to one selection's schedule, written with the others of a pass in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleChange {
    Put(RetryEntry),
    /// Synced, or no longer failed: out of the schedule.
    Forget(i64),
}

impl Store {
    /// Whether `calsync migrate` created the worker's tables.
    pub fn has_worker_tables(&self) -> bool {
        self.own_version() >= VERSION
    }

    pub(super) fn require_worker_tables(&self) -> Result<(), StoreError> {
        if self.has_worker_tables() {
            Ok(())
        } else {
            Err(StoreError::Schema(
                "calsync's worker tables do not exist yet: run `calsync migrate` first".into(),
            ))
        }
    }

    /// The whole retry schedule (scheduled and parked).
    pub async fn retry_entries(&self) -> Result<Vec<RetryEntry>, StoreError> {
        self.require_worker_tables()?;
        self.query(
            Sql::plain(&format!(
                "SELECT {RETRY_COLUMNS} FROM {RETRIES} ORDER BY selection_id"
            )),
            map_retry,
        )
        .await
    }

    pub async fn schedule_counts(&self, now: DateTime<Utc>) -> Result<ScheduleCounts, StoreError> {
        self.require_worker_tables()?;
        let mut b = Builder::new(
            self.dialect(),
            "SELECT COUNT(CASE WHEN parked_at IS NULL THEN 1 END), \
             COUNT(CASE WHEN parked_at IS NULL AND next_attempt_at <= ",
        );
        b.bind(Value::Time(now)).push(&format!(
            " THEN 1 END), COUNT(CASE WHEN parked_at IS NOT NULL THEN 1 END) FROM {RETRIES}"
        ));
        self.query_one(b.finish(), |row| {
            Ok(ScheduleCounts {
                scheduled: count(row, 0)?,
                due: count(row, 1)?,
                parked: count(row, 2)?,
            })
        })
        .await
    }

    /// The parked selections whose user's email or branch, slot zone or active integrations
    /// (`integrations`, their digest now) differ from what they failed with: one query over
    /// the parked entries, whatever the size of the LMS.
    pub async fn parked_with_changed_dependencies(
        &self,
        integrations: &str,
    ) -> Result<Vec<i64>, StoreError> {
        self.changed_dependencies(integrations, None).await
    }

    /// [`Store::parked_with_changed_dependencies`] among the selections of these slots only
    /// (through the LMS's index on `time_slot_id`).
    pub async fn parked_with_changed_dependencies_in_slots(
        &self,
        integrations: &str,
        slots: &[i64],
    ) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::new();
        for chunk in slots.chunks(500) {
            ids.extend(self.changed_dependencies(integrations, Some(chunk)).await?);
        }
        Ok(ids)
    }

    async fn changed_dependencies(
        &self,
        integrations: &str,
        slots: Option<&[i64]>,
    ) -> Result<Vec<i64>, StoreError> {
        self.require_worker_tables()?;
        let mut b = Builder::new(
            self.dialect(),
            &format!(
                "SELECT r.selection_id FROM {RETRIES} r \
                 JOIN {selection} s ON s.id = r.selection_id \
                 JOIN {user} u ON u.id = s.user_id \
                 JOIN {slot} t ON t.id = s.time_slot_id \
                 WHERE r.parked_at IS NOT NULL AND r.dep_zone IS NOT NULL AND (\
                 COALESCE(u.email, '') <> COALESCE(r.dep_email, '') \
                 OR COALESCE(u.branch_id, -1) <> COALESCE(r.dep_branch_id, -1) \
                 OR COALESCE(t.timezone, '') <> r.dep_zone \
                 OR COALESCE(r.dep_integrations, '') <> ",
                selection = sql::SELECTION,
                user = sql::USER,
                slot = sql::SLOT,
            ),
        );
        b.bind(Value::Text(integrations.to_string())).push(")");
        if let Some(slots) = slots {
            b.push(" AND s.time_slot_id IN (");
            b.bind_ids(slots);
            b.push(")");
        }
        b.push(" ORDER BY r.selection_id");
        self.query(b.finish(), sql::map_id).await
    }

    /// Applies a pass's schedule changes in one transaction.
    pub async fn apply_schedule(&self, changes: &[ScheduleChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.require_worker_tables()?;
        let dialect = self.dialect();
        let statements = changes
            .iter()
            .map(|change| match change {
                ScheduleChange::Put(entry) => put_retry(dialect, entry),
                ScheduleChange::Forget(id) => {
                    let mut b = Builder::new(
                        dialect,
                        &format!("DELETE FROM {RETRIES} WHERE selection_id = "),
                    );
                    b.bind(Value::Int(*id));
                    b.finish()
                }
            })
            .collect();
        self.execute_all(statements).await?;
        Ok(())
    }

    /// The oldest `selected_at` of a selection never attempted (for the metrics).
    pub async fn oldest_unsynced(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.query_one(
            Sql::plain(&format!(
                "SELECT MIN(s.selected_at) FROM {} s WHERE NOT s.calendar_added \
                 AND s.calendar_add_attempted_at IS NULL",
                sql::SELECTION
            )),
            |row| row.opt_timestamp(0),
        )
        .await
    }

    /// One round trip that proves the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.query_one(Sql::plain("SELECT 1"), sql::map_count)
            .await
            .map(|_| ())
    }

    /// Registers this process as a worker; the id its heartbeats name.
    pub async fn register_worker(
        &self,
        host: &str,
        pid: u32,
        version: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.require_worker_tables()?;
        let mut b = Builder::new(
            self.dialect(),
            &format!(
                "INSERT INTO {WORKERS} (host, pid, version, started_at, heartbeat_at, \
                 last_pass_at, passes, synced, failed, retries_scheduled, parked) VALUES ("
            ),
        );
        b.bind(Value::Text(crate::text::clean_line(host)))
            .push(", ")
            .bind(Value::Int(i64::from(pid)))
            .push(", ")
            .bind(Value::Text(version.to_string()))
            .push(", ")
            .bind(Value::Time(at))
            .push(", ")
            .bind(Value::Time(at))
            .push(", NULL, 0, 0, 0, 0, 0) RETURNING id");
        self.query_one(b.finish(), |row| row.int(0)).await
    }

    /// Refreshes a worker's heartbeat (and, after a pass, its counts), and removes the entries
    /// of workers whose heartbeat stopped before `expired_before`. False when this worker's
    /// own entry had expired meanwhile (then it registers again).
    pub async fn worker_heartbeat(
        &self,
        id: i64,
        at: DateTime<Utc>,
        last_pass_at: Option<DateTime<Utc>>,
        counts: WorkerCounts,
        expired_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let dialect = self.dialect();
        let mut b = Builder::new(dialect, &format!("UPDATE {WORKERS} SET heartbeat_at = "));
        b.bind(Value::Time(at)).push(", last_pass_at = ");
        match last_pass_at {
            Some(pass) => b.bind(Value::Time(pass)),
            None => b.push("NULL"),
        };
        for (column, value) in [
            ("passes", counts.passes),
            ("synced", counts.synced),
            ("failed", counts.failed),
            ("retries_scheduled", counts.retries_scheduled),
            ("parked", counts.parked),
        ] {
            b.push(&format!(", {column} = "))
                .bind(Value::Int(i64::try_from(value).unwrap_or(i64::MAX)));
        }
        b.push(" WHERE id = ").bind(Value::Int(id));
        let mut expire = Builder::new(
            dialect,
            &format!("DELETE FROM {WORKERS} WHERE heartbeat_at < "),
        );
        expire.bind(Value::Time(expired_before));
        let changed = self.execute_all(vec![b.finish(), expire.finish()]).await?;
        Ok(changed.first().copied() == Some(1))
    }

    /// Removes a worker's entry as it stops.
    pub async fn unregister_worker(&self, id: i64) -> Result<(), StoreError> {
        let mut b = Builder::new(
            self.dialect(),
            &format!("DELETE FROM {WORKERS} WHERE id = "),
        );
        b.bind(Value::Int(id));
        self.execute(b.finish()).await?;
        Ok(())
    }

    /// The workers whose heartbeat is newer than `alive_since`, oldest first.
    pub async fn live_workers(
        &self,
        alive_since: DateTime<Utc>,
    ) -> Result<Vec<WorkerEntry>, StoreError> {
        self.require_worker_tables()?;
        let mut b = Builder::new(
            self.dialect(),
            &format!(
                "SELECT id, host, pid, version, started_at, heartbeat_at, last_pass_at, passes, \
                 synced, failed, retries_scheduled, parked FROM {WORKERS} WHERE heartbeat_at >= "
            ),
        );
        b.bind(Value::Time(alive_since)).push(" ORDER BY id");
        self.query(b.finish(), map_worker).await
    }
}

pub(super) fn put_retry(dialect: sql::Dialect, entry: &RetryEntry) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!(
            "INSERT INTO {RETRIES} (selection_id, cause, attempts, next_attempt_at, parked_at, \
             last_error, dep_email, dep_branch_id, dep_zone, dep_integrations, updated_at) \
             VALUES ("
        ),
    );
    b.bind(Value::Int(entry.selection_id))
        .push(", ")
        .bind(Value::Text(entry.cause.as_str().to_string()))
        .push(", ")
        .bind(Value::Int(i64::from(entry.attempts)));
    for at in [entry.next_attempt_at, entry.parked_at] {
        b.push(", ");
        match at {
            Some(at) => b.bind(Value::Time(at)),
            None => b.push("NULL"),
        };
    }
    b.push(", ")
        .bind(Value::Text(entry.last_error.clone()))
        .push(", ");
    match &entry.depends_on {
        Some(d) => {
            b.bind(Value::Text(d.email.clone())).push(", ");
            match d.branch_id {
                Some(id) => b.bind(Value::Int(id)),
                None => b.push("NULL"),
            };
            b.push(", ")
                .bind(Value::Text(d.zone.clone()))
                .push(", ")
                .bind(Value::Text(d.integrations.clone()))
        }
        None => b.push("NULL, NULL, NULL, NULL"),
    };
    b.push(", ").bind(Value::Time(entry.updated_at)).push(
        ") ON CONFLICT (selection_id) DO UPDATE SET cause = excluded.cause, \
             attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, \
             parked_at = excluded.parked_at, last_error = excluded.last_error, \
             dep_email = excluded.dep_email, dep_branch_id = excluded.dep_branch_id, \
             dep_zone = excluded.dep_zone, dep_integrations = excluded.dep_integrations, \
             updated_at = excluded.updated_at",
    );
    b.finish()
}

pub(super) fn map_retry(row: &dyn SqlRow) -> Result<RetryEntry, StoreError> {
    let cause = row.text(1)?;
    Ok(RetryEntry {
        selection_id: row.int(0)?,
        cause: Cause::parse(&cause)
            .ok_or_else(|| StoreError::Data(format!("unknown failure cause '{cause}'")))?,
        attempts: u32::try_from(row.int(2)?).unwrap_or(0),
        next_attempt_at: row.opt_timestamp(3)?,
        parked_at: row.opt_timestamp(4)?,
        last_error: row.text(5)?,
        depends_on: match row.opt_text(8)? {
            Some(zone) => Some(Dependencies {
                email: row.text(6)?,
                branch_id: row.opt_int(7)?,
                zone,
                integrations: row.text(9)?,
            }),
            None => None,
        },
        updated_at: row.timestamp(10)?,
    })
}

pub(super) fn map_worker(row: &dyn SqlRow) -> Result<WorkerEntry, StoreError> {
    Ok(WorkerEntry {
        id: row.int(0)?,
        host: row.text(1)?,
        pid: row.int(2)?,
        version: row.text(3)?,
        started_at: row.timestamp(4)?,
        heartbeat_at: row.timestamp(5)?,
        last_pass_at: row.opt_timestamp(6)?,
        counts: WorkerCounts {
            passes: count(row, 7)?,
            synced: count(row, 8)?,
            failed: count(row, 9)?,
            retries_scheduled: count(row, 10)?,
            parked: count(row, 11)?,
        },
    })
}

pub(super) fn count(row: &dyn SqlRow, idx: usize) -> Result<u64, StoreError> {
    Ok(u64::try_from(row.int(idx)?).unwrap_or(0))
}

/// SQLite: the lock that keeps a second worker off one database file, held for the worker's
/// life (the OS drops it when the process ends, however it ends). PostgreSQL needs none: its
/// workers share the work through claims.
pub struct WorkerLock {
    _open: std::fs::File,
}

impl Store {
    /// Takes the worker lock on SQLite (None on PostgreSQL); [`StoreError::Busy`] names the
    /// worker holding it.
    pub async fn worker_lock(&self) -> Result<Option<WorkerLock>, StoreError> {
        let super::Backend::Sqlite(backend) = &self.backend else {
            return Ok(None);
        };
        let mut base = backend.path().as_os_str().to_owned();
        base.push(".worker");
        let base = std::path::PathBuf::from(base);
        let taken = tokio::task::spawn_blocking(move || super::claims::take_run_lock(&base, false))
            .await
            .map_err(|e| StoreError::Connect(format!("lock task failed: {e}")))?;
        match taken {
            Ok(file) => Ok(Some(WorkerLock { _open: file })),
            Err(StoreError::Busy(holder)) => Err(StoreError::Busy(holder.replacen(
                "another calsync is syncing this database",
                "another calsync worker runs on this database",
                1,
            ))),
            Err(e) => Err(e),
        }
    }
}
