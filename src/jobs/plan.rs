//! The exact scope of a bulk run, counted before its confirmation sheet shows.

use super::{RunScope, SyncTarget, target_filter, text};
use crate::domain::{Cause, Filter, StateCounts, SyncState};
use crate::store::Store;

/// A bulk run as it will happen, shown before anything is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkPlan {
    pub run: RunScope,
    /// Failures of a permanent cause the run leaves out (0 when they are included).
    pub permanent_left_out: u64,
    pub target: SyncTarget,
    pub count: u64,
    pub counts: StateCounts,
    /// The failed ones among them, by cause.
    pub causes: Vec<(Cause, u64)>,
    /// Of `count`, the rows the run will skip by the LMS command's rule (their conference no
    /// longer uses time slots): counted apart, never as "will be synced".
    pub skipped: u64,
}

/// Counts what `target` covers under `run`: by state, by cause, and the permanent failures
/// it leaves out.
pub async fn plan(store: &Store, target: SyncTarget, run: RunScope) -> Result<BulkPlan, String> {
    let (filter, except) = target_filter(&target);
    let filter = run.narrow(&filter);
    let permanent_left_out = if filter.exclude_causes.is_empty() {
        0
    } else {
        text(store.count(&filter.permanent_failures()).await)?
    };
    let mut counts = text(store.summary(&filter).await)?;
    if !except.is_empty() {
        let excluded = text(
            store
                .summary(&Filter {
                    selection_ids: except.to_vec(),
                    ..filter.clone()
                })
                .await,
        )?;
        for state in SyncState::ALL {
            let n = excluded.get(state);
            match state {
                SyncState::Added => counts.added -= n,
                SyncState::AddedStaleError => counts.added_stale_error -= n,
                SyncState::Failed => counts.failed -= n,
                SyncState::Interrupted => counts.interrupted -= n,
                SyncState::NotSynced => counts.not_synced -= n,
            }
        }
    }
    let causes = text(store.cause_counts(&filter).await)?;
    let mut skipped = text(store.count_without_time_slots(&filter).await)?;
    if !except.is_empty() {
        let unmarked = Filter {
            selection_ids: except.to_vec(),
            ..filter.clone()
        };
        skipped -= text(store.count_without_time_slots(&unmarked).await)?.min(skipped);
    }
    Ok(BulkPlan {
        run,
        permanent_left_out,
        count: counts.total(),
        target,
        counts,
        causes,
        skipped,
    })
}
