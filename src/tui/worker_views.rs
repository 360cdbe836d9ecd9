//! The console's worker screens as state, with no drawing in them: `:workers`, `:retries` (the
//! retry schedule; `r` retries now, `P` parks) and `:parked` (the dead set by cause, with what
//! to fix), like Sidekiq's Retries and Dead tabs. Their data and actions are
//! [`crate::worker::views`], shared with `calsync worker status|retry-now|park`.

use chrono::{DateTime, Utc};

use super::table::Table;
use crate::domain::Cause;
use crate::domain::worker::RetryListing;
use crate::worker::views::{ParkedGroup, WorkerView};

/// The one line a database without `calsync migrate` shows instead of the worker screens.
pub const NO_WORKER_TABLES: &str =
    "no worker tables in this database: `calsync migrate` creates them, then run `calsync worker`";

/// Which worker screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerTab {
    Workers,
    Retries,
    Parked,
}

/// What a worker screen's read found.
#[derive(Debug, Clone)]
pub enum WorkerData {
    /// `calsync migrate` has not created the worker's tables.
    NoTables,
    Workers(Vec<WorkerView>),
    Retries(Vec<RetryListing>),
    Parked(Vec<ParkedGroup>),
}

/// `r` and `P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerAction {
    RetryNow,
    Park,
}

/// A line of the parked screen: a cause with its count and what to fix, then its selections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParkedRow {
    Cause {
        cause: Cause,
        label: String,
        count: u64,
        fix: String,
        /// The selections listed under it (what `r` on this line retries).
        listed: Vec<i64>,
    },
    Selection(RetryListing),
}

/// A worker screen: its table and whether the database has no worker tables.
#[derive(Debug, Clone)]
pub struct WorkerScreen<T> {
    pub table: Table<T>,
    pub no_tables: bool,
}

impl<T> WorkerScreen<T> {
    pub fn loading(generation: u64) -> WorkerScreen<T> {
        WorkerScreen {
            table: Table::loading(generation),
            no_tables: false,
        }
    }

    /// Takes in a read that holds none of this screen's rows: an error, or no worker tables.
    pub fn fill_without_rows(&mut self, result: Result<WorkerData, String>) {
        self.no_tables = matches!(result, Ok(WorkerData::NoTables));
        self.table.fill(match result {
            Err(e) => Err(e),
            Ok(_) => Ok(Vec::new()),
        });
    }
}

impl WorkerScreen<RetryListing> {
    /// The selection under the cursor (Enter opens it).
    pub fn selection_under_cursor(&self) -> Option<i64> {
        self.table.current().map(|l| l.entry.selection_id)
    }
}

impl WorkerScreen<ParkedRow> {
    /// The selection under the cursor; none on a cause line (Enter opens it).
    pub fn selection_under_cursor(&self) -> Option<i64> {
        match self.table.current() {
            Some(ParkedRow::Selection(l)) => Some(l.entry.selection_id),
            _ => None,
        }
    }
}

/// The parked groups as the lines the screen draws.
pub fn parked_rows(groups: Vec<ParkedGroup>) -> Vec<ParkedRow> {
    let mut rows = Vec::new();
    for group in groups {
        rows.push(ParkedRow::Cause {
            cause: group.cause,
            label: group.label,
            count: group.count,
            fix: group.fix,
            listed: group
                .selections
                .iter()
                .map(|s| s.entry.selection_id)
                .collect(),
        });
        rows.extend(group.selections.into_iter().map(ParkedRow::Selection));
    }
    rows
}

/// "in 5m", "now", "parked".
pub fn next_attempt(listing: &RetryListing, now: DateTime<Utc>) -> String {
    match listing.entry.next_attempt_at {
        _ if listing.entry.is_parked() => "parked".to_string(),
        Some(at) if at > now => {
            let seconds = (at - now).num_seconds();
            match seconds {
                0..=59 => format!("in {seconds}s"),
                60..=3599 => format!("in {}m", seconds / 60),
                3600..=86_399 => format!("in {}h", seconds / 3600),
                _ => format!("in {}d", seconds / 86_400),
            }
        }
        _ => "now".to_string(),
    }
}
