//! What one pass of the worker has to do, decided from the LMS's rows and the retry schedule:
//! new selections (never attempted, or left in flight by a run that died), failures whose retry
//! is due, parked failures whose cause may have been fixed, and stale events. Each list is
//! newest selection first.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::depends::depends_on;
use super::schedule::{RetryPolicy, jitter};
use crate::domain::diagnosis::cause_of;
use crate::domain::worker::{Candidate, RetryEntry};
use crate::domain::{Filter, Selection, SyncState};
use crate::store::{ScheduleChange, Store, StoreError};

/// Rows read per query when a pass needs whole selections.
const READ_CHUNK: usize = 500;

#[derive(Debug, Default)]
pub struct Plan {
    /// Never attempted, or attempted by a run that did not finish (looked up by tag first).
    pub new: Vec<i64>,
    /// Failed selections whose next attempt is due, and parked ones tried once more because
    /// what they depend on changed.
    pub retries: Vec<i64>,
    /// Of `retries`, the parked ones.
    pub rechecks: usize,
    /// Added selections whose slot or conference changed since their event was written.
    pub stale: Vec<i64>,
    /// Failures of a permanent cause seen for the first time (parked at once) and entries no
    /// longer needed.
    pub changes: Vec<ScheduleChange>,
    /// Of `changes`, the selections parked now.
    pub parked: usize,
}

impl Plan {
    pub fn is_idle(&self) -> bool {
        self.new.is_empty() && self.retries.is_empty() && self.stale.is_empty()
    }

    /// The filters the engine re-checks each list's rows against once claimed, so a row done
    /// meanwhile by another calsync is skipped, never synced twice.
    pub fn new_filter() -> Filter {
        Filter {
            states: vec![SyncState::NotSynced, SyncState::Interrupted],
            ..Filter::default()
        }
    }

    pub fn retry_filter() -> Filter {
        Filter {
            states: vec![SyncState::Failed],
            ..Filter::default()
        }
    }

    pub fn stale_filter() -> Filter {
        Filter {
            stale: true,
            ..Filter::default()
        }
    }
}

/// The rows a pass looked at, sorted into lists, each newest selection first.
#[derive(Debug, Default)]
pub struct Found {
    /// Never attempted, or left in flight.
    pub new: Vec<i64>,
    /// Failed, of a transient cause.
    pub transient: Vec<i64>,
    /// Failed, of a permanent cause.
    pub permanent: Vec<i64>,
    /// Added, with a stale event.
    pub stale: Vec<i64>,
    /// Schedule entries whose selection is gone or added (without a stale event).
    pub settled: Vec<i64>,
    /// Every row of the table was looked at, so an entry whose selection is in no list is no
    /// longer needed.
    pub whole_table: bool,
}

impl Found {
    /// Sorts candidates (already newest first) into the lists.
    pub fn sort_in(&mut self, candidates: &[Candidate]) {
        for c in candidates {
            match (c.state, c.cause) {
                (SyncState::NotSynced | SyncState::Interrupted, _) => self.new.push(c.id),
                (SyncState::Failed, Some(cause)) if cause.is_permanent() => {
                    self.permanent.push(c.id);
                }
                (SyncState::Failed, _) => self.transient.push(c.id),
                (SyncState::Added | SyncState::AddedStaleError, _) => {}
            }
        }
    }
}

/// Decides a pass from what it found. `schedule` holds at least the entries of every selection
/// in `found`; `changed`, the parked selections whose dependencies changed; `integrations` is
/// the digest of the active integrations now.
pub async fn plan(
    store: &Store,
    found: Found,
    schedule: &[RetryEntry],
    changed: &HashSet<i64>,
    policy: &RetryPolicy,
    integrations: &str,
    now: DateTime<Utc>,
) -> Result<Plan, StoreError> {
    let entries: HashMap<i64, &RetryEntry> = schedule.iter().map(|e| (e.selection_id, e)).collect();
    let due = |id: &i64| entries.get(id).is_none_or(|e| e.is_due(now));

    let mut plan = Plan {
        new: found.new.iter().copied().filter(due).collect(),
        stale: found.stale.iter().copied().filter(due).collect(),
        ..Plan::default()
    };

    // Parked failures come back when what they depend on changed; permanent failures not in
    // the schedule yet are read whole, once, to park them with what they depend on (one with
    // an entry that is not parked was retried now by an operator: it is tried when due).
    let parked = |id: &i64| entries.get(id).is_some_and(|e| e.is_parked());
    let to_park: Vec<i64> = found
        .permanent
        .iter()
        .copied()
        .filter(|id| !entries.contains_key(id))
        .collect();
    let to_park_set: HashSet<i64> = to_park.iter().copied().collect();
    let rows = read_all(store, &to_park).await?;
    for &id in found.transient.iter().chain(&found.permanent) {
        let entry = entries.get(&id).copied();
        if parked(&id) {
            if changed.contains(&id) {
                plan.retries.push(id);
                plan.rechecks += 1;
            }
        } else if to_park_set.contains(&id) {
            if let Some(row) = rows.get(&id) {
                let error = row.sync.error_text().unwrap_or_default();
                // The row's text is all there is of an earlier failure: its cause is read from it.
                let parked = policy.after_failure(
                    entry,
                    id,
                    (error, cause_of(error)),
                    Some(depends_on(row, integrations)),
                    now,
                    jitter(id, 0),
                );
                plan.changes.push(ScheduleChange::Put(parked));
                plan.parked += 1;
            }
        } else if due(&id) {
            plan.retries.push(id);
        }
    }

    plan.changes.extend(
        found
            .settled
            .iter()
            .filter(|id| entries.contains_key(id))
            .map(|id| ScheduleChange::Forget(*id)),
    );
    // Entries whose selection is no longer failed, new or stale: fixed elsewhere, or gone
    // (known only when every row was looked at).
    if !found.whole_table {
        return Ok(plan);
    }
    let wanted: HashSet<i64> = found
        .new
        .iter()
        .chain(&found.transient)
        .chain(&found.permanent)
        .chain(&found.stale)
        .copied()
        .collect();
    plan.changes.extend(
        schedule
            .iter()
            .filter(|e| !wanted.contains(&e.selection_id))
            .map(|e| ScheduleChange::Forget(e.selection_id)),
    );
    Ok(plan)
}

/// The selections among `ids` by id, read in chunks.
pub async fn read_all(store: &Store, ids: &[i64]) -> Result<HashMap<i64, Selection>, StoreError> {
    let mut rows = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(READ_CHUNK) {
        rows.extend(store.selections_by_id(chunk, &Filter::default()).await?);
    }
    Ok(rows)
}
