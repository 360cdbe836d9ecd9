//! The console's one background job (sync, verify, reconcile) as the jobs panel shows it: what
//! it does and its counters. Starting jobs and folding each engine's progress into them is
//! `job_control.rs`'s work.

use chrono::{DateTime, Utc};

use super::rate::RateMeter;
use super::run_rows::RunRows;

/// What a background job does: the jobs panel words its counters after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Sync,
    /// Counters: `synced` is present, `failed` missing, `skipped` not checked.
    Verify,
    /// Counters: `done` mailboxes, `synced` findings, `failed` mailboxes that failed.
    ReconcileScan,
    /// Counters: `synced` deleted, `failed` failed, `skipped` already gone.
    ReconcileDelete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub kind: JobKind,
    pub label: String,
    pub total: usize,
    pub done: usize,
    pub synced: usize,
    pub failed: usize,
    pub skipped: usize,
    pub throttled: usize,
    pub started: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub cancelling: bool,
    /// How it ended, in one line (`3 synced, 0 failed, 0 skipped in 1.2s`).
    pub ended: Option<String>,
    pub error: Option<String>,
    /// The pace of its results (see [`RateMeter`]).
    pub meter: RateMeter,
    /// A sync's rows that did not sync, with their reasons (L lists them).
    pub rows: RunRows,
}

impl Job {
    /// Results per second; None until it can be told.
    pub fn rate(&self) -> Option<f64> {
        self.meter.rate(self.now)
    }

    pub fn eta_seconds(&self) -> Option<f64> {
        self.meter.eta_seconds(self.now, self.total)
    }

    pub fn running(&self) -> bool {
        self.ended.is_none() && self.error.is_none()
    }
}
