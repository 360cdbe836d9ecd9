//! The queries that let a worker's pass look only where something can have changed (see
//! `worker::watch`): the selections above an id (a range of the primary key), the table's row
//! count and highest id, one signature per slot, the stale events of a few slots (through the
//! LMS's index on `time_slot_id`), and the schedule entries that are due or named. None needs
//! an index on the LMS's tables beyond those the LMS has.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::sql::{self, Builder, CONFERENCE, FINGERPRINT, SELECTION, SLOT, Sql, SqlRow, Value};
use super::worker::{RETRIES, RETRY_COLUMNS, map_retry};
use super::{Store, StoreError};
use crate::domain::SyncState;
use crate::domain::diagnosis::cause_of;
use crate::domain::worker::{Candidate, RetryEntry, RowsMark};

/// Ids per `IN (…)` list.
const IDS_PER_QUERY: usize = 500;

impl Store {
    /// Every selection not added yet (with `above`, only those with a higher id), newest
    /// selection first. One scan of the table, or one range of its primary key; failures are
    /// classified here, not in SQL, so no text pattern runs per row in the database.
    pub async fn worker_candidates(
        &self,
        above: Option<i64>,
    ) -> Result<Vec<Candidate>, StoreError> {
        let mut b = Builder::new(
            self.dialect(),
            &format!(
                "SELECT s.id, s.selected_at, CASE WHEN s.calendar_add_attempted_at IS NULL \
                 THEN 0 ELSE 1 END, s.calendar_error FROM {SELECTION} s WHERE NOT s.calendar_added"
            ),
        );
        if let Some(id) = above {
            b.push(" AND s.id > ").bind(Value::Int(id));
        }
        let mut rows = self.query(b.finish(), map_candidate).await?;
        // Sorted here: asking the database to order would let it walk the `selected_at` index
        // over the whole table instead of the id range.
        rows.sort_by_key(|c| std::cmp::Reverse((c.selected_at, c.id)));
        Ok(rows)
    }

    /// The selection table's highest id: one step down the primary key.
    pub async fn selection_max_id(&self) -> Result<i64, StoreError> {
        self.query_one(
            Sql::plain(&format!("SELECT COALESCE(MAX(s.id), 0) FROM {SELECTION} s")),
            |row| row.int(0),
        )
        .await
    }

    /// The selection table's row count and highest id (the count reads a whole index).
    pub async fn selection_mark(&self) -> Result<RowsMark, StoreError> {
        self.query_one(
            Sql::plain(&format!(
                "SELECT COUNT(*), COALESCE(MAX(s.id), 0) FROM {SELECTION} s"
            )),
            |row| {
                Ok(RowsMark {
                    count: u64::try_from(row.int(0)?).unwrap_or(0),
                    max_id: row.int(1)?,
                })
            },
        )
        .await
    }

    /// One text per slot that changes whenever what an event is made from changes (the slot's
    /// and its conference's fingerprint) or the LMS saves either row (`updated_at`, which the
    /// stale rule reads for events written before the ledger). Slots are few next to
    /// selections: thousands, not millions.
    pub async fn slot_signatures(&self) -> Result<HashMap<i64, String>, StoreError> {
        let rows = self
            .query(
                Sql::plain(&format!(
                    "SELECT t.id, {FINGERPRINT} || '|' || t.updated_at || '|' || c.updated_at \
                     FROM {SLOT} t JOIN {CONFERENCE} c ON c.id = t.conference_id"
                )),
                |row| Ok((row.int(0)?, row.text(1)?)),
            )
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// The added selections of these slots whose event is stale, newest selection first.
    pub async fn stale_in_slots(&self, slots: &[i64]) -> Result<Vec<i64>, StoreError> {
        let dialect = self.dialect();
        let mut found: Vec<(Option<DateTime<Utc>>, i64)> = Vec::new();
        for chunk in slots.chunks(IDS_PER_QUERY) {
            let mut b = Builder::new(
                dialect,
                &format!(
                    "SELECT s.id, s.selected_at FROM {SELECTION} s \
                     JOIN {CONFERENCE} c ON c.id = s.conference_id \
                     JOIN {SLOT} t ON t.id = s.time_slot_id WHERE s.time_slot_id IN ("
                ),
            );
            b.bind_ids(chunk);
            b.push(&format!(") AND {}", sql::stale_predicate(dialect)));
            found.extend(
                self.query(b.finish(), |row| Ok((row.opt_timestamp(1)?, row.int(0)?)))
                    .await?,
            );
        }
        found.sort_by(|a, b| b.cmp(a));
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }

    /// The schedule entries due at `now` (not parked, next attempt reached).
    pub async fn due_retry_entries(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<RetryEntry>, StoreError> {
        let mut b = Builder::new(
            self.dialect(),
            &format!(
                "SELECT {RETRY_COLUMNS} FROM {RETRIES} WHERE parked_at IS NULL \
                 AND next_attempt_at <= "
            ),
        );
        // An entry that is not parked always has a next attempt: the one condition the
        // partial index of migration 6 answers. No ORDER BY: SQLite would walk the whole table
        // in key order rather than sort the few due entries.
        b.bind(Value::Time(now));
        self.query(b.finish(), map_retry).await
    }

    /// The schedule entries of these selections (those that have one).
    pub async fn retry_entries_of(&self, ids: &[i64]) -> Result<Vec<RetryEntry>, StoreError> {
        let mut entries = Vec::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let mut b = Builder::new(
                self.dialect(),
                &format!("SELECT {RETRY_COLUMNS} FROM {RETRIES} WHERE selection_id IN ("),
            );
            b.bind_ids(chunk);
            b.push(")");
            entries.extend(self.query(b.finish(), map_retry).await?);
        }
        Ok(entries)
    }
}

fn map_candidate(row: &dyn SqlRow) -> Result<Candidate, StoreError> {
    let error = row.opt_text(3)?;
    let state = SyncState::derive(false, row.int(2)? == 1, error.as_deref());
    Ok(Candidate {
        id: row.int(0)?,
        selected_at: row.opt_timestamp(1).ok().flatten(),
        state,
        cause: (state == SyncState::Failed).then(|| cause_of(error.as_deref().unwrap_or(""))),
    })
}
