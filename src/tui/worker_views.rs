//! The console's worker screens as state, with no drawing in them: `:workers`, `:retries` (the
//! retry schedule; `r` retries now, `P` parks) and `:parked` (the dead set by cause, with what
//! to fix), like Sidekiq's Retries and Dead tabs. Their data and actions are
//! [`crate::worker::views`], shared with `calsync worker status|retry-now|park`.

use chrono::{DateTime, Utc};

use super::app::{App, Effect};
use super::screen::{Screen, Table};
use crate::domain::Cause;
use crate::domain::worker::RetryListing;
use crate::worker::views::{ActionReport, ParkedGroup, WorkerView};

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

impl App {
    pub(super) fn open_worker_tab(&mut self, tab: WorkerTab) -> Vec<Effect> {
        let generation = self.generation();
        self.push(match tab {
            WorkerTab::Workers => Screen::Workers(WorkerScreen::loading(generation)),
            WorkerTab::Retries => Screen::Retries(WorkerScreen::loading(generation)),
            WorkerTab::Parked => Screen::Parked(WorkerScreen::loading(generation)),
        });
        vec![Effect::WorkerData(generation, tab)]
    }

    /// Reads the worker screen on top again (after an action, or Ctrl-L).
    pub(super) fn reload_worker_tab(&mut self) -> Vec<Effect> {
        let tab = match self.screen() {
            Some(Screen::Workers(_)) => WorkerTab::Workers,
            Some(Screen::Retries(_)) => WorkerTab::Retries,
            Some(Screen::Parked(_)) => WorkerTab::Parked,
            _ => return Vec::new(),
        };
        self.stack.pop();
        self.open_worker_tab(tab)
    }

    /// `r` on the retries or parked screen, `P` on the retries screen: the selections under the
    /// cursor (a cause line: those listed under it) are changed in the background, audited.
    pub(super) fn act_on_schedule(&mut self, action: WorkerAction) -> Vec<Effect> {
        let verb = match action {
            WorkerAction::RetryNow => "retry now",
            WorkerAction::Park => "park",
        };
        if self.session.read_only {
            self.message = Some(format!(
                "read-only: cannot {verb} (it writes the worker's retry schedule)"
            ));
            return Vec::new();
        }
        let ids = match (self.screen(), action) {
            (Some(Screen::Retries(screen)), _) => screen
                .table
                .current()
                .map(|l| vec![l.entry.selection_id])
                .unwrap_or_default(),
            (Some(Screen::Parked(screen)), WorkerAction::RetryNow) => {
                match screen.table.current() {
                    Some(ParkedRow::Cause { listed, .. }) => listed.clone(),
                    Some(ParkedRow::Selection(l)) => vec![l.entry.selection_id],
                    None => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        if ids.is_empty() {
            self.message = Some(format!("nothing to {verb} here"));
            return Vec::new();
        }
        self.message = Some(format!("{verb}: {} selections…", ids.len()));
        vec![Effect::WorkerAct(action, ids)]
    }

    /// An action's result: said in the footer, and the screen read again.
    pub(super) fn schedule_acted(
        &mut self,
        action: WorkerAction,
        result: Result<ActionReport, String>,
    ) -> Vec<Effect> {
        match result {
            Ok(report) => {
                let ids = crate::worker::describe_ids(&report.changed);
                self.message = Some(match action {
                    WorkerAction::RetryNow => {
                        format!("due now: {ids} (the next pass of a worker tries them)")
                    }
                    WorkerAction::Park => format!("parked: {ids}"),
                });
                self.reload_worker_tab()
            }
            Err(e) => {
                self.message = Some(format!("not changed: {e}"));
                Vec::new()
            }
        }
    }
}

/// Puts a read into the worker screen waiting for it.
pub(super) fn fill(screen: &mut Screen, result: Result<WorkerData, String>) {
    let no_tables = matches!(result, Ok(WorkerData::NoTables));
    match (screen, result) {
        (Screen::Workers(s), Ok(WorkerData::Workers(rows))) => s.table.fill(Ok(rows)),
        (Screen::Retries(s), Ok(WorkerData::Retries(rows))) => s.table.fill(Ok(rows)),
        (Screen::Parked(s), Ok(WorkerData::Parked(groups))) => {
            s.table.fill(Ok(parked_rows(groups)))
        }
        (Screen::Workers(s), other) => fill_other(s, other, no_tables),
        (Screen::Retries(s), other) => fill_other(s, other, no_tables),
        (Screen::Parked(s), other) => fill_other(s, other, no_tables),
        _ => {}
    }
}

fn fill_other<T>(
    screen: &mut WorkerScreen<T>,
    result: Result<WorkerData, String>,
    no_tables: bool,
) {
    screen.no_tables = no_tables;
    screen.table.fill(match result {
        Err(e) => Err(e),
        Ok(_) => Ok(Vec::new()),
    });
}

/// The selection under the cursor of the retry schedule or the parked set (Enter opens it).
pub(super) fn scheduled_selection(screen: &Screen) -> Option<i64> {
    match screen {
        Screen::Retries(screen) => screen.table.current().map(|l| l.entry.selection_id),
        Screen::Parked(screen) => match screen.table.current() {
            Some(ParkedRow::Selection(l)) => Some(l.entry.selection_id),
            _ => None,
        },
        _ => None,
    }
}
