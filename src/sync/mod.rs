//! The sync engine, between the store and Graph (and free of terminal code): it runs a frozen
//! list of selections concurrently, decides per selection whether to create, update or adopt an
//! event, never makes a second event for one selection, writes each result in one guarded
//! statement, and reports progress as events on a channel.

mod ceiling;
pub mod credentials;
mod engine;
mod error;
mod event_ids;
mod halt;
mod intent;
mod landed;
mod lms_id;
mod meeting;
pub mod payload;
pub mod progress;
pub mod reconcile;
mod rest_ids;
pub mod verify;
mod verify_ledger;
mod verify_rows;
mod writer;
pub mod zones;

use std::time::Duration;

pub use ceiling::{BYTES_PER_TASK, default_concurrency};
pub use engine::{Engine, SyncOptions};
pub use error::SyncError;
use serde::Serialize;

use crate::domain::Cause;

/// What happened to one selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Synced {
        event_id: String,
        action: SyncAction,
    },
    /// The operator-readable reason, as written to `calendar_error`, and what kind of problem
    /// it is (known where it arose, never read back from the text).
    Failed { error: String, cause: Cause },
    /// Not synced on purpose (the LMS command's skip rule, the row is gone, or it no longer
    /// matches the run's filter once claimed).
    Skipped { reason: String },
    /// The LMS changed the row while calsync worked on it: nothing was written.
    Conflict { detail: String },
    /// Another calsync holds the selection's claim and is syncing it: left to that one.
    ClaimedElsewhere { detail: String },
}

impl Outcome {
    /// The failure `error` describes, in its operator text and with its cause.
    pub fn failed(error: &SyncError) -> Outcome {
        Outcome::Failed {
            error: error.to_string(),
            cause: error.cause(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncAction {
    Created,
    /// The existing event was updated in place.
    Updated,
    /// An event calsync had made before (found by its tag) was adopted instead of creating one.
    Adopted,
}

/// Who and what one result is about, for progress lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemLabel {
    pub username: String,
    pub full_name: String,
    pub conference_title: String,
    pub slot_date: String,
    pub slot_start: String,
}

#[derive(Debug, Clone)]
pub struct ItemResult {
    pub selection_id: i64,
    /// Absent when the selection no longer exists.
    pub label: Option<ItemLabel>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub enum SyncEvent {
    Started {
        total: usize,
    },
    Item(ItemResult),
    /// Graph asked to wait before the next request to this mailbox.
    Throttled {
        mailbox: String,
        wait: Duration,
    },
    Finished(Summary),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub selection_id: i64,
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub synced: usize,
    pub created: usize,
    pub updated: usize,
    pub adopted: usize,
    pub failed: usize,
    pub skipped: usize,
    pub conflicts: usize,
    /// Left to another calsync that was syncing them at the same time.
    pub claimed_elsewhere: usize,
    /// Not started because the run was cancelled.
    pub not_started: usize,
    pub throttled: usize,
    pub duration: Duration,
    pub failures: Vec<Failure>,
    /// Why the run stopped before its end: a result (or a create's intent) could not be
    /// written, so nothing new was started.
    pub stopped: Option<String>,
}

impl Summary {
    fn record(&mut self, result: &ItemResult) {
        match &result.outcome {
            Outcome::Synced { action, .. } => {
                self.synced += 1;
                match action {
                    SyncAction::Created => self.created += 1,
                    SyncAction::Updated => self.updated += 1,
                    SyncAction::Adopted => self.adopted += 1,
                }
            }
            Outcome::Failed { error, .. } => {
                self.failed += 1;
                self.failures.push(Failure {
                    selection_id: result.selection_id,
                    error: error.clone(),
                });
            }
            Outcome::Skipped { .. } => self.skipped += 1,
            Outcome::Conflict { .. } => self.conflicts += 1,
            Outcome::ClaimedElsewhere { .. } => self.claimed_elsewhere += 1,
        }
    }
}

/// How a selection is named in progress lines.
fn label_of(selection: &crate::domain::Selection) -> ItemLabel {
    ItemLabel {
        username: selection.username.clone(),
        full_name: selection.full_name(),
        conference_title: selection.conference_title.clone(),
        slot_date: selection.slot_date.to_string(),
        slot_start: selection.slot_start.format("%H:%M:%S").to_string(),
    }
}
