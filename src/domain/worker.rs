//! What `calsync worker` keeps in calsync's own tables: each selection's retry schedule (the
//! retry set and, once parked, the dead set) and the registry of running workers.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Cause;

/// One selection's place in the retry schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetryEntry {
    pub selection_id: i64,
    pub cause: Cause,
    /// Failed attempts so far (by anyone: the LMS's first one counts).
    pub attempts: u32,
    /// When the worker tries again; None once parked.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Set when the worker stopped retrying: a permanent cause, or the attempts cap.
    pub parked_at: Option<DateTime<Utc>>,
    pub last_error: String,
    /// What a parked failure depends on, as it was when it failed: when any of it changes, the
    /// selection is tried once more.
    pub depends_on: Option<Dependencies>,
    pub updated_at: DateTime<Utc>,
}

impl RetryEntry {
    pub fn is_parked(&self) -> bool {
        self.parked_at.is_some()
    }

    /// Whether the worker may try it at `now`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        !self.is_parked() && self.next_attempt_at.is_none_or(|at| at <= now)
    }
}

/// What a failure may depend on: fixing any of these in the LMS may fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependencies {
    /// The user's email as the LMS holds it.
    pub email: String,
    pub branch_id: Option<i64>,
    /// The slot's time zone.
    pub zone: String,
    /// Digest of the active Teams integrations.
    pub integrations: String,
}

/// A registered worker, as its heartbeat keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerEntry {
    pub id: i64,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub last_pass_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub counts: WorkerCounts,
}

/// What a worker has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WorkerCounts {
    pub passes: u64,
    pub synced: u64,
    pub failed: u64,
    pub retries_scheduled: u64,
    pub parked: u64,
}

/// The retry schedule at a glance, for `calsync worker status` and the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScheduleCounts {
    /// Waiting for their next attempt.
    pub scheduled: u64,
    /// Of those, due now.
    pub due: u64,
    pub parked: u64,
}

/// A selection not added yet, as the worker's scan of the LMS's rows reads it: enough to tell
/// whether it is new, in flight or failed (and why) without reading the row whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub selected_at: Option<DateTime<Utc>>,
    pub state: super::SyncState,
    /// The cause of a failure (None unless failed).
    pub cause: Option<Cause>,
}

/// The selection table's row count and highest id: any insert raises `max_id`, any delete
/// lowers `count`, so comparing two marks tells whether rows came or went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowsMark {
    pub count: u64,
    pub max_id: i64,
}

/// A schedule entry with whose selection it is, for the retry and parked lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetryListing {
    #[serde(flatten)]
    pub entry: RetryEntry,
    /// None once the LMS deleted the selection.
    pub user_id: Option<i64>,
    /// The user's full name, or the username when the LMS has no name.
    pub person: String,
    pub email: String,
    pub conference: String,
}
