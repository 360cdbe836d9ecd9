//! What the console's worker views and `calsync worker status` read from calsync's worker
//! tables: every registered worker (expired ones too, until a heartbeat removes them), the
//! schedule with whose selection each entry is, and the parked entries per cause.

use std::collections::BTreeMap;

use super::sql::{Builder, CONFERENCE, SELECTION, Sql, SqlRow, USER, Value};
use super::worker::{RETRIES, RETRY_COLUMNS, WORKERS, map_retry, map_worker};
use super::{Store, StoreError};
use crate::domain::Cause;
use crate::domain::worker::{RetryListing, WorkerEntry};

impl Store {
    /// Every worker in the registry, alive or not, oldest first.
    pub async fn registered_workers(&self) -> Result<Vec<WorkerEntry>, StoreError> {
        self.require_worker_tables()?;
        self.query(
            Sql::plain(&format!(
                "SELECT id, host, pid, version, started_at, heartbeat_at, last_pass_at, passes, \
                 synced, failed, retries_scheduled, parked FROM {WORKERS} ORDER BY id"
            )),
            map_worker,
        )
        .await
    }

    /// Schedule entries with their selection's person and conference: the waiting ones soonest
    /// first, or (`parked`) the parked ones of `cause` (any when None) newest first; at most
    /// `limit`.
    pub async fn retry_listing(
        &self,
        parked: bool,
        cause: Option<Cause>,
        limit: u32,
    ) -> Result<Vec<RetryListing>, StoreError> {
        self.require_worker_tables()?;
        let columns: Vec<String> = RETRY_COLUMNS
            .split(", ")
            .map(|c| format!("r.{}", c.trim()))
            .collect();
        let mut b = Builder::new(
            self.dialect(),
            &format!(
                "SELECT {}, s.user_id, u.username, u.first_name, u.last_name, u.email, c.title \
                 FROM {RETRIES} r LEFT JOIN {SELECTION} s ON s.id = r.selection_id \
                 LEFT JOIN {USER} u ON u.id = s.user_id \
                 LEFT JOIN {CONFERENCE} c ON c.id = s.conference_id WHERE r.parked_at IS {}NULL",
                columns.join(", "),
                if parked { "NOT " } else { "" }
            ),
        );
        if let Some(cause) = cause {
            b.push(" AND r.cause = ")
                .bind(Value::Text(cause.as_str().to_string()));
        }
        b.push(if parked {
            " ORDER BY r.parked_at DESC, r.selection_id DESC LIMIT "
        } else {
            " ORDER BY r.next_attempt_at, r.selection_id LIMIT "
        })
        .bind(Value::Int(i64::from(limit)));
        self.query(b.finish(), map_listing).await
    }

    /// The number of parked entries per cause.
    pub async fn parked_counts(&self) -> Result<BTreeMap<Cause, u64>, StoreError> {
        self.require_worker_tables()?;
        let rows = self
            .query(
                Sql::plain(&format!(
                    "SELECT cause, COUNT(*) FROM {RETRIES} WHERE parked_at IS NOT NULL \
                     GROUP BY cause"
                )),
                |row| Ok((row.text(0)?, u64::try_from(row.int(1)?).unwrap_or(0))),
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(cause, n)| Some((Cause::parse(&cause)?, n)))
            .collect())
    }
}

fn map_listing(row: &dyn SqlRow) -> Result<RetryListing, StoreError> {
    let first = row.text(13)?;
    let last = row.text(14)?;
    let name = format!("{first} {last}").trim().to_string();
    Ok(RetryListing {
        entry: map_retry(row)?,
        user_id: row.opt_int(11)?,
        person: if name.is_empty() { row.text(12)? } else { name },
        email: row.text(15)?,
        conference: row.text(16)?,
    })
}
