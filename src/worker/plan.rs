//! What one pass of the worker has to do, decided from the LMS's rows and the retry schedule:
//! new selections (never attempted, or left in flight by a run that died), failures whose retry
//! is due, parked failures whose cause may have been fixed, and stale events. Each list is
//! newest selection first.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::depends::depends_on;
use super::schedule::{RetryPolicy, jitter};
use crate::domain::diagnosis::cause_of;
use crate::domain::worker::RetryEntry;
use crate::domain::{Cause, Filter, Selection, SyncState};
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

/// Decides a pass. `integrations` is the digest of the active integrations now; `scan_stale`:
/// look for stale events too (the costliest scan, so not on every pass).
pub async fn plan(
    store: &Store,
    schedule: &[RetryEntry],
    policy: &RetryPolicy,
    integrations: &str,
    now: DateTime<Utc>,
    scan_stale: bool,
) -> Result<Plan, StoreError> {
    let entries: HashMap<i64, &RetryEntry> = schedule.iter().map(|e| (e.selection_id, e)).collect();
    let due = |id: &i64| entries.get(id).is_none_or(|e| e.is_due(now));
    let permanent: Vec<Cause> = Cause::ALL
        .into_iter()
        .filter(|c| c.is_permanent())
        .collect();

    let new_ids = store.selection_ids(&Plan::new_filter()).await?;
    let transient_ids = store
        .selection_ids(&Filter {
            exclude_causes: permanent.clone(),
            ..Plan::retry_filter()
        })
        .await?;
    let permanent_ids = store
        .selection_ids(&Filter {
            causes: permanent,
            ..Plan::retry_filter()
        })
        .await?;
    let stale_ids = if scan_stale {
        store.selection_ids(&Plan::stale_filter()).await?
    } else {
        Vec::new()
    };

    let mut plan = Plan {
        new: new_ids.iter().copied().filter(due).collect(),
        stale: stale_ids.iter().copied().filter(due).collect(),
        ..Plan::default()
    };

    // Parked failures come back when what they depend on changed (one query); permanent
    // failures not parked yet are read whole, once, to park them with what they depend on.
    let changed: HashSet<i64> = store
        .parked_with_changed_dependencies(integrations)
        .await?
        .into_iter()
        .collect();
    let permanent_set: HashSet<i64> = permanent_ids.iter().copied().collect();
    let parked = |id: &i64| entries.get(id).is_some_and(|e| e.is_parked());
    let to_park: Vec<i64> = permanent_ids
        .iter()
        .copied()
        .filter(|id| !parked(id))
        .collect();
    let rows = read_all(store, &to_park).await?;
    for &id in transient_ids.iter().chain(&permanent_ids) {
        let entry = entries.get(&id).copied();
        if parked(&id) {
            if changed.contains(&id) {
                plan.retries.push(id);
                plan.rechecks += 1;
            }
        } else if permanent_set.contains(&id) {
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

    // Entries whose selection is no longer failed, new or stale: fixed elsewhere, or gone
    // (known only when every list was read).
    if !scan_stale {
        return Ok(plan);
    }
    let wanted: HashSet<i64> = new_ids
        .iter()
        .chain(&transient_ids)
        .chain(&permanent_ids)
        .chain(&stale_ids)
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
