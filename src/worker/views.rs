//! The worker as operators see it, with no UI in it: who is running, the retry schedule, the
//! parked set grouped by cause with what to fix (like Sidekiq's Retries and Dead tabs), and
//! the two actions on them, "retry now" and "park", each audited. The console's `:workers`,
//! `:retries` and `:parked` views and `calsync worker status|retry-now|park` share these.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::registry::EXPIRY;
use crate::audit::AuditTrail;
use crate::domain::audit::AuditOutcome;
use crate::domain::diagnosis::{cause_of, diagnose};
use crate::domain::worker::{RetryEntry, RetryListing, WorkerEntry};
use crate::domain::{Cause, Filter};
use crate::store::{ScheduleChange, Store, StoreError};

/// A registered worker and whether its heartbeat is recent enough to count it as running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerView {
    #[serde(flatten)]
    pub entry: WorkerEntry,
    /// Heartbeat within [`EXPIRY`]; an expired entry is removed by the next live heartbeat.
    pub alive: bool,
}

/// The parked entries of one cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParkedGroup {
    pub cause: Cause,
    /// The cause in plain words.
    pub label: String,
    pub count: u64,
    /// What to fix, from the newest entry's error (fixing it in the LMS is enough: the worker
    /// then tries the selection once more by itself).
    pub fix: String,
    /// The newest entries, at most the limit asked for.
    pub selections: Vec<RetryListing>,
}

/// Where an action came from, for its audit row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Cli,
    Console,
}

impl Origin {
    fn action(self, what: &str) -> String {
        match self {
            Origin::Cli => format!("worker {what}"),
            Origin::Console => format!("console {what}"),
        }
    }
}

/// What an action did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActionReport {
    /// The selections whose schedule entry was changed (or made).
    pub changed: Vec<i64>,
    /// Ids with no selection in the LMS and no schedule entry.
    pub unknown: Vec<i64>,
}

/// Every registered worker, oldest first, each with whether it is alive at `now`.
pub async fn workers(store: &Store, now: DateTime<Utc>) -> Result<Vec<WorkerView>, StoreError> {
    let alive_since = now - chrono::Duration::from_std(EXPIRY).unwrap_or_default();
    Ok(store
        .registered_workers()
        .await?
        .into_iter()
        .map(|entry| WorkerView {
            alive: entry.heartbeat_at >= alive_since,
            entry,
        })
        .collect())
}

/// The waiting entries (not parked), soonest next attempt first, at most `limit`.
pub async fn retry_schedule(store: &Store, limit: u32) -> Result<Vec<RetryListing>, StoreError> {
    store.retry_listing(false, None, limit).await
}

/// The parked entries grouped by cause, largest group first, each with at most `per_cause` of
/// its newest entries.
pub async fn parked(store: &Store, per_cause: u32) -> Result<Vec<ParkedGroup>, StoreError> {
    let mut groups = Vec::new();
    for (cause, count) in store.parked_counts().await? {
        let selections = store.retry_listing(true, Some(cause), per_cause).await?;
        let fix = selections.first().map_or_else(
            || cause.label().to_string(),
            |newest| diagnose(&newest.entry.last_error).hint,
        );
        groups.push(ParkedGroup {
            cause,
            label: cause.label().to_string(),
            count,
            fix,
            selections,
        });
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.cause.cmp(&b.cause)));
    Ok(groups)
}

/// Makes these selections due now (parked ones too): the next pass of any worker tries them.
/// Attempts are kept, so a failure at the cap parks the selection again.
pub async fn retry_now(store: &Store, ids: &[i64], origin: Origin) -> Result<ActionReport, String> {
    act(store, ids, origin, "retry now", |entry, now| RetryEntry {
        next_attempt_at: Some(now),
        parked_at: None,
        updated_at: now,
        ..entry
    })
    .await
}

/// Parks these selections: no worker touches them until someone retries them now. Nothing
/// they depend on is recorded, so fixing the LMS does not bring them back by itself.
pub async fn park(store: &Store, ids: &[i64], origin: Origin) -> Result<ActionReport, String> {
    act(store, ids, origin, "park", |entry, now| RetryEntry {
        next_attempt_at: None,
        parked_at: Some(now),
        depends_on: None,
        updated_at: now,
        ..entry
    })
    .await
}

/// One audited change to the entries of `ids` (made from the selection's row when it has
/// none yet).
async fn act(
    store: &Store,
    ids: &[i64],
    origin: Origin,
    what: &str,
    change: impl Fn(RetryEntry, DateTime<Utc>) -> RetryEntry,
) -> Result<ActionReport, String> {
    let now = Utc::now();
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let described = super::describe_ids(&ids);
    let trail = AuditTrail::begin(
        store,
        &origin.action(what),
        &format!("selections {described}"),
        "",
        ids.len() as u64,
    )
    .await?;
    let outcome = entries_for(store, &ids, now).await;
    let (report, written) = match outcome {
        Ok((entries, unknown)) => {
            let changed: Vec<i64> = entries.iter().map(|e| e.selection_id).collect();
            let changes: Vec<ScheduleChange> = entries
                .into_iter()
                .map(|e| ScheduleChange::Put(change(e, now)))
                .collect();
            let written = store.apply_schedule(&changes).await;
            (ActionReport { changed, unknown }, written)
        }
        Err(e) => (ActionReport::default(), Err(e)),
    };
    let (result, detail) = match &written {
        Ok(()) => (
            AuditOutcome::Ok,
            format!(
                "{} changed{}",
                report.changed.len(),
                if report.unknown.is_empty() {
                    String::new()
                } else {
                    format!(", {} unknown", report.unknown.len())
                }
            ),
        ),
        Err(e) => (AuditOutcome::Failed, e.to_string()),
    };
    trail
        .finish(result, report.changed.len() as u64, &detail)
        .await?;
    written.map_err(|e| e.to_string())?;
    Ok(report)
}

/// The entries of `ids`: the scheduled ones as they are, others made from their selection's
/// row (its error's cause, no attempts yet); and the ids that have neither.
async fn entries_for(
    store: &Store,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(Vec<RetryEntry>, Vec<i64>), StoreError> {
    let mut scheduled: HashMap<i64, RetryEntry> = store
        .retry_entries_of(ids)
        .await?
        .into_iter()
        .map(|e| (e.selection_id, e))
        .collect();
    let missing: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !scheduled.contains_key(id))
        .collect();
    let rows = store.selections_by_id(&missing, &Filter::default()).await?;
    let mut entries = Vec::with_capacity(ids.len());
    let mut unknown = Vec::new();
    for id in ids {
        if let Some(entry) = scheduled.remove(id) {
            entries.push(entry);
        } else if let Some(row) = rows.get(id) {
            let error = row.sync.error_text().unwrap_or_default().to_string();
            entries.push(RetryEntry {
                selection_id: *id,
                cause: if error.is_empty() {
                    Cause::Other
                } else {
                    cause_of(&error)
                },
                attempts: 0,
                next_attempt_at: None,
                parked_at: None,
                last_error: error,
                depends_on: None,
                updated_at: now,
            });
        } else {
            unknown.push(*id);
        }
    }
    Ok((entries, unknown))
}
