//! How a pass finds its work without reading a million rows each time. A *sweep* looks at
//! every row (one scan for the rows not added, the stale rule over the added ones, the whole
//! schedule); between sweeps a pass looks only where something can have changed since the last
//! one:
//! - new rows: the ids above the highest one seen (a range of the primary key), with a tail
//!   of [`LATE_COMMIT_TAIL`] ids below it for PostgreSQL transactions that commit out of order;
//! - retries: the schedule's due entries (through migration 6's index), and the parked ones
//!   whose dependencies changed: those of changed slots on every pass, every parked entry
//!   when the integrations changed and otherwise as often as [`DEPENDENCY_COST_RATIO`] allows;
//! - stale events: only the selections of slots whose signature (what an event is made from,
//!   and the slot's and conference's `updated_at`) changed;
//! - leftovers of cancelled selections: only when rows went (the row count fell: counted as
//!   often as [`COUNT_COST_RATIO`] allows) or came (the highest id rose), or the last pass
//!   wrote events.
//!
//! What only a sweep sees (an old row whose sync columns someone else changed, a selection
//! moved to another slot) waits for the next sweep: every `--stale-every` seconds, and never
//! more often than [`SWEEP_COST_RATIO`] times the last sweep's own database time.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::plan::{Found, Plan, read_all};
use crate::domain::diagnosis::failure_cause;
use crate::domain::worker::{Candidate, RetryEntry, RowsMark};
use crate::domain::{Selection, SyncState};
use crate::store::{Store, StoreError};

/// Ids below the highest seen that every pass looks at again.
pub const LATE_COMMIT_TAIL: i64 = 1000;
/// A sweep costs at most 1/this of the time between two sweeps.
pub const SWEEP_COST_RATIO: u32 = 50;
/// The check of every parked entry's dependencies (users have no `updated_at` to tell which
/// changed) costs at most 1/this of the time between two; between them, only the parked
/// entries of changed slots are checked, and every one when the integrations change.
pub const DEPENDENCY_COST_RATIO: u32 = 20;
/// Counting the selections (how a pass tells that rows went) costs at most 1/this of the time
/// between two counts; between them a pass reads the highest id only.
pub const COUNT_COST_RATIO: u32 = 20;

/// What the last successful pass saw; empty until the first sweep.
#[derive(Default)]
pub struct Watch {
    seen: Mutex<Option<Seen>>,
}

#[derive(Debug, Clone)]
pub struct Seen {
    high_water: i64,
    mark: RowsMark,
    counted_at: Instant,
    count_cost: Duration,
    slots: HashMap<i64, u64>,
    swept_at: Instant,
    sweep_cost: Duration,
    /// The integrations' digest at the last check of every parked entry's dependencies.
    integrations: String,
    dependencies_at: Instant,
    dependencies_cost: Duration,
    /// The pass wrote events: the ledger may hold replaced ones.
    wrote: bool,
}

/// What a pass found, and how long each question to the database took.
pub struct Detection {
    pub found: Found,
    /// The entries of every selection found (all of them after a sweep).
    pub schedule: Vec<RetryEntry>,
    /// Parked selections whose dependencies changed.
    pub changed: HashSet<i64>,
    /// Whether to look for leftover events of cancelled selections.
    pub look_for_leftovers: bool,
    pub timings: Vec<(&'static str, Duration)>,
    /// Every row was looked at.
    pub swept: bool,
    /// What the watch remembers once the pass has succeeded.
    pub seen: Seen,
}

impl Detection {
    /// The database time of the whole detection.
    pub fn cost(&self) -> Duration {
        self.timings.iter().map(|(_, took)| *took).sum()
    }
}

/// Times one question to the database.
struct Clock(Vec<(&'static str, Duration)>);

impl Clock {
    async fn time<T>(
        &mut self,
        what: &'static str,
        run: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let out = run.await;
        self.0.push((what, started.elapsed()));
        out
    }
}

impl Watch {
    /// Whether the next pass must sweep: none yet, or the last is `every` old and its cost
    /// allows another.
    pub fn sweep_due(&self, every: Duration) -> bool {
        self.seen
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .is_none_or(|seen| {
                seen.swept_at.elapsed() >= every.max(seen.sweep_cost * SWEEP_COST_RATIO)
            })
    }

    /// Remembers what a successful pass saw; `wrote`: it created, updated or deleted events.
    pub fn commit(&self, mut seen: Seen, wrote: bool) {
        seen.wrote = wrote;
        if let Ok(mut state) = self.seen.lock() {
            *state = Some(seen);
        }
    }

    /// Finds a pass's work: a sweep when asked or before the first one, else only the changes.
    pub async fn detect(
        &self,
        store: &Store,
        integrations: &str,
        now: DateTime<Utc>,
        sweep: bool,
    ) -> Result<Detection, StoreError> {
        let seen = self.seen.lock().ok().and_then(|s| s.clone());
        match seen {
            Some(seen) if !sweep => changes_since(store, &seen, integrations, now).await,
            _ => sweep_all(store, integrations).await,
        }
    }
}

fn signatures(texts: HashMap<i64, String>) -> HashMap<i64, u64> {
    texts
        .into_iter()
        .map(|(id, text)| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut hasher);
            (id, hasher.finish())
        })
        .collect()
}

/// Every row looked at.
async fn sweep_all(store: &Store, integrations: &str) -> Result<Detection, StoreError> {
    let mut clock = Clock(Vec::new());
    let started = Instant::now();
    // Read first: a row that arrives during the sweep is above the mark, so the next pass
    // sees it.
    let counted_at = Instant::now();
    let mark = clock.time("row count", store.selection_mark()).await?;
    let count_cost = counted_at.elapsed();
    let slots = clock
        .time("slot signatures", store.slot_signatures())
        .await?;
    let candidates = clock
        .time("rows not added", store.worker_candidates(None))
        .await?;
    let stale = clock
        .time("stale events", store.selection_ids(&Plan::stale_filter()))
        .await?;
    let schedule = clock.time("schedule", store.retry_entries()).await?;
    let dependencies_at = Instant::now();
    let changed = clock
        .time(
            "dependency changes",
            store.parked_with_changed_dependencies(integrations),
        )
        .await?;
    let dependencies_cost = dependencies_at.elapsed();
    let mut found = Found {
        stale,
        whole_table: true,
        ..Found::default()
    };
    found.sort_in(&candidates);
    Ok(Detection {
        found,
        schedule,
        changed: changed.into_iter().collect(),
        look_for_leftovers: true,
        timings: clock.0,
        swept: true,
        seen: Seen {
            high_water: mark.max_id,
            mark,
            counted_at,
            count_cost,
            slots: signatures(slots),
            swept_at: started,
            sweep_cost: started.elapsed(),
            integrations: integrations.to_string(),
            dependencies_at,
            dependencies_cost,
            wrote: false,
        },
    })
}

/// Only where something changed since `seen`.
async fn changes_since(
    store: &Store,
    seen: &Seen,
    integrations: &str,
    now: DateTime<Utc>,
) -> Result<Detection, StoreError> {
    let mut clock = Clock(Vec::new());
    let count_due = seen.counted_at.elapsed() >= seen.count_cost * COUNT_COST_RATIO;
    let counted_at = Instant::now();
    let mark = if count_due {
        clock.time("row count", store.selection_mark()).await?
    } else {
        RowsMark {
            max_id: clock.time("highest id", store.selection_max_id()).await?,
            ..seen.mark
        }
    };
    let count_cost = counted_at.elapsed();
    let mut candidates = clock
        .time(
            "new rows",
            store.worker_candidates(Some(seen.high_water - LATE_COMMIT_TAIL)),
        )
        .await?;
    let due = clock
        .time("due retries", store.due_retry_entries(now))
        .await?;
    let slots = signatures(
        clock
            .time("slot signatures", store.slot_signatures())
            .await?,
    );
    let moved: Vec<i64> = slots
        .iter()
        .filter(|(id, signature)| seen.slots.get(id) != Some(signature))
        .map(|(id, _)| *id)
        .collect();
    let mut next = Seen {
        high_water: seen.high_water.max(mark.max_id),
        mark,
        slots,
        wrote: false,
        ..seen.clone()
    };
    if count_due {
        next.counted_at = counted_at;
        next.count_cost = count_cost;
    }
    let check_all = integrations != seen.integrations
        || seen.dependencies_at.elapsed() >= seen.dependencies_cost * DEPENDENCY_COST_RATIO;
    let changed: HashSet<i64> = if check_all {
        let started = Instant::now();
        let changed = clock
            .time(
                "dependency changes",
                store.parked_with_changed_dependencies(integrations),
            )
            .await?;
        next.integrations = integrations.to_string();
        next.dependencies_at = started;
        next.dependencies_cost = started.elapsed();
        changed
    } else if moved.is_empty() {
        Vec::new()
    } else {
        clock
            .time(
                "dependency changes of changed slots",
                store.parked_with_changed_dependencies_in_slots(integrations, &moved),
            )
            .await?
    }
    .into_iter()
    .collect();
    let mut found = Found {
        stale: if moved.is_empty() {
            Vec::new()
        } else {
            clock
                .time("stale events", store.stale_in_slots(&moved))
                .await?
        },
        ..Found::default()
    };

    // Due and recheckable entries whose rows the id range did not bring: read them whole.
    let in_range: HashSet<i64> = candidates.iter().map(|c| c.id).collect();
    let others: Vec<i64> = due
        .iter()
        .map(|e| e.selection_id)
        .chain(changed.iter().copied())
        .filter(|id| !in_range.contains(id))
        .collect();
    let rows = clock
        .time("rows of due retries", read_all(store, &others))
        .await?;
    sort_rows_in(&others, &rows, &mut found, &mut candidates);
    // A due entry's stale row may also be among the moved slots' ones.
    let mut listed = HashSet::new();
    found.stale.retain(|id| listed.insert(*id));
    candidates.sort_by_key(|c| std::cmp::Reverse((c.selected_at, c.id)));
    found.sort_in(&candidates);

    let due_ids: HashSet<i64> = due.iter().map(|e| e.selection_id).collect();
    let mut named: Vec<i64> = in_range
        .union(&changed)
        .copied()
        .filter(|id| !due_ids.contains(id))
        .collect();
    named.sort_unstable();
    let mut schedule = due;
    schedule.extend(
        clock
            .time("schedule of new rows", store.retry_entries_of(&named))
            .await?,
    );
    Ok(Detection {
        found,
        schedule,
        changed,
        look_for_leftovers: mark != seen.mark || seen.wrote,
        timings: clock.0,
        swept: false,
        seen: next,
    })
}

/// Sorts the rows read by id (those of due and recheckable entries) into `found` or, when not
/// added, among the candidates; an entry whose row is gone or added is settled.
fn sort_rows_in(
    ids: &[i64],
    rows: &HashMap<i64, Selection>,
    found: &mut Found,
    candidates: &mut Vec<Candidate>,
) {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        match rows.get(&id) {
            Some(row) if row.stale => found.stale.push(id),
            Some(row) if !matches!(row.state(), SyncState::Added | SyncState::AddedStaleError) => {
                candidates.push(Candidate {
                    id,
                    selected_at: Some(row.selected_at),
                    state: row.state(),
                    cause: failure_cause(row.sync.error_text()),
                });
            }
            _ => found.settled.push(id),
        }
    }
}
