//! The screens of the console's stack, as state: what each holds, what its breadcrumb says,
//! which keys apply to it, and which answer it waits for.

use ratatui::layout::Rect;

use super::data::{OverviewData, PersonData};
use super::keymap::Context;
use super::list::{Fetch, SelectionList};
use super::opens::Opens;
use super::overview_refresh::OverviewRefresh;
use super::reconcile::ReconcileView;
use super::screens;
pub use super::screens::overview::{Cursor as OverviewCursor, Panel as OverviewPanel};
use super::table::Table;
use super::widgets::table;
use super::worker_views::{ParkedRow, WorkerData, WorkerScreen, parked_rows};
use crate::domain::audit::AuditRecord;
use crate::domain::worker::RetryListing;
use crate::domain::{ConferenceSummary, Selection, SlotSummary};
use crate::worker::views::WorkerView;

#[derive(Debug, Clone)]
pub enum Screen {
    Overview {
        data: Option<OverviewData>,
        pending: Option<u64>,
        error: Option<String>,
        /// The panel with the cursor, and the cursor's row in each.
        cursor: screens::overview::Cursor,
        /// When its counts were read and when they are read again.
        refresh: OverviewRefresh,
    },
    Conferences(Table<ConferenceSummary>),
    /// The audit log, newest first.
    Audit(Table<AuditRecord>),
    /// Orphaned and duplicated events found in the mailboxes.
    Reconcile(Box<ReconcileView>),
    Slots {
        conference: ConferenceSummary,
        table: Table<SlotSummary>,
    },
    Selections {
        title: String,
        list: Box<SelectionList>,
    },
    Person {
        user_id: i64,
        data: Option<PersonData>,
        pending: Option<u64>,
        list: Box<SelectionList>,
    },
    ErrorDetail {
        id: i64,
        selection: Option<Box<Selection>>,
        pending: Option<u64>,
    },
    /// `:workers`: the registered workers and whether each is alive.
    Workers(WorkerScreen<WorkerView>),
    /// `:retries`: the retry schedule, soonest first.
    Retries(WorkerScreen<RetryListing>),
    /// `:parked`: the dead set by cause, with what to fix.
    Parked(WorkerScreen<ParkedRow>),
}

impl Screen {
    pub fn context(&self) -> Context {
        match self {
            Screen::Overview { .. } => Context::Overview,
            Screen::Reconcile(_) => Context::Reconcile,
            Screen::Conferences(_)
            | Screen::Slots { .. }
            | Screen::Audit(_)
            | Screen::Workers(_) => Context::Lists,
            Screen::Retries(_) => Context::Retries,
            Screen::Parked(_) => Context::Parked,
            // The detail of one selection offers what its row does (retry, person).
            Screen::Selections { .. } | Screen::Person { .. } | Screen::ErrorDetail { .. } => {
                Context::Selections
            }
        }
    }

    pub fn crumb(&self) -> String {
        match self {
            Screen::Overview { .. } => "Overview".to_string(),
            Screen::Conferences(_) => "Conferences".to_string(),
            Screen::Audit(_) => "Audit log".to_string(),
            Screen::Reconcile(view) => format!("Reconcile ({})", view.scope_text()),
            Screen::Slots { conference, .. } => crate::text::clean_line(&conference.title),
            Screen::Selections { title, .. } => title.clone(),
            Screen::Person { data, user_id, .. } => data
                .as_ref()
                .map(|d| crate::text::clean_line(&d.person.display_name()))
                .unwrap_or_else(|| format!("Person {user_id}")),
            Screen::ErrorDetail { id, .. } => format!("Selection {id}"),
            Screen::Workers(_) => "Workers".to_string(),
            Screen::Retries(_) => "Retry schedule".to_string(),
            Screen::Parked(_) => "Parked".to_string(),
        }
    }

    pub fn list_mut(&mut self) -> Option<&mut SelectionList> {
        match self {
            Screen::Selections { list, .. } | Screen::Person { list, .. } => Some(list),
            _ => None,
        }
    }

    pub fn list(&self) -> Option<&SelectionList> {
        match self {
            Screen::Selections { list, .. } | Screen::Person { list, .. } => Some(list),
            _ => None,
        }
    }

    /// Whether this screen waits for the answer to `generation`. Generations are never reused,
    /// so at most one screen of the stack does: the one to fill.
    pub fn waits_for(&self, generation: u64) -> bool {
        let own = match self {
            Screen::Overview { pending, .. }
            | Screen::Person { pending, .. }
            | Screen::ErrorDetail { pending, .. } => *pending,
            Screen::Conferences(table) => table.pending,
            Screen::Audit(table) => table.pending,
            Screen::Slots { table, .. } => table.pending,
            Screen::Reconcile(view) => view.pending,
            Screen::Workers(s) => s.table.pending,
            Screen::Retries(s) => s.table.pending,
            Screen::Parked(s) => s.table.pending,
            Screen::Selections { .. } => None,
        };
        own == Some(generation) || self.list().is_some_and(|list| list.waits_for(generation))
    }

    /// Up, down and the page keys: the cursor moves by `delta` (`rows`: the rows drawn at once);
    /// a list may ask for a page near the edge of what it holds.
    pub fn move_by(&mut self, delta: i64, rows: usize) -> Option<Fetch> {
        match self {
            Screen::Overview { data, cursor, .. } => cursor.move_by(data.as_ref(), delta),
            Screen::Conferences(table) => table.move_by(delta),
            Screen::Audit(table) => table.move_by(delta),
            Screen::Reconcile(view) => view.move_by(delta),
            Screen::Slots { table, .. } => table.move_by(delta),
            Screen::Workers(s) => s.table.move_by(delta),
            Screen::Retries(s) => s.table.move_by(delta),
            Screen::Parked(s) => s.table.move_by(delta),
            Screen::Selections { list, .. } | Screen::Person { list, .. } => {
                return list.move_by(delta, rows);
            }
            Screen::ErrorDetail { .. } => {}
        }
        None
    }

    /// What Enter opens from here.
    pub fn enter(&self) -> Opens {
        match self {
            Screen::Overview { data, cursor, .. } => {
                screens::overview::enter(data.as_ref(), *cursor)
            }
            Screen::Conferences(table) => screens::conferences::enter(table),
            Screen::Slots { conference, table } => screens::slots::enter(conference, table),
            Screen::Selections { list, .. } | Screen::Person { list, .. } => {
                screens::selections::enter(list)
            }
            Screen::ErrorDetail { selection, .. } => {
                screens::error_detail::enter(selection.as_deref())
            }
            Screen::Retries(s) => s
                .selection_under_cursor()
                .map_or(Opens::Nothing, Opens::ErrorDetail),
            Screen::Parked(s) => s
                .selection_under_cursor()
                .map_or(Opens::Nothing, Opens::ErrorDetail),
            Screen::Audit(_) | Screen::Reconcile(_) | Screen::Workers(_) => Opens::Nothing,
        }
    }

    /// Puts a worker screen's read into it; a read that holds none of its rows (an error, no
    /// worker tables) leaves it empty.
    pub fn fill_worker(&mut self, result: Result<WorkerData, String>) {
        match (self, result) {
            (Screen::Workers(s), Ok(WorkerData::Workers(rows))) => s.table.fill(Ok(rows)),
            (Screen::Retries(s), Ok(WorkerData::Retries(rows))) => s.table.fill(Ok(rows)),
            (Screen::Parked(s), Ok(WorkerData::Parked(groups))) => {
                s.table.fill(Ok(parked_rows(groups)))
            }
            (Screen::Workers(s), other) => s.fill_without_rows(other),
            (Screen::Retries(s), other) => s.fill_without_rows(other),
            (Screen::Parked(s), other) => s.fill_without_rows(other),
            _ => {}
        }
    }

    /// The first row (a list whose window has moved on reads it again).
    pub fn home(&mut self) -> Option<Fetch> {
        match self {
            Screen::Conferences(table) => table.cursor = 0,
            Screen::Audit(table) => table.cursor = 0,
            Screen::Slots { table, .. } => table.cursor = 0,
            Screen::Workers(s) => s.table.cursor = 0,
            Screen::Retries(s) => s.table.cursor = 0,
            Screen::Parked(s) => s.table.cursor = 0,
            Screen::Reconcile(view) => view.cursor = 0,
            Screen::Selections { list, .. } | Screen::Person { list, .. } => return list.home(),
            Screen::Overview { .. } | Screen::ErrorDetail { .. } => {}
        }
        None
    }

    /// The last row (a list reads the end of its result backwards when it does not hold it).
    pub fn end(&mut self, rows: usize) -> Option<Fetch> {
        match self {
            Screen::Conferences(table) => table.cursor = table.rows.len().saturating_sub(1),
            Screen::Audit(table) => table.cursor = table.rows.len().saturating_sub(1),
            Screen::Slots { table, .. } => table.cursor = table.rows.len().saturating_sub(1),
            Screen::Workers(s) => s.table.cursor = s.table.rows.len().saturating_sub(1),
            Screen::Retries(s) => s.table.cursor = s.table.rows.len().saturating_sub(1),
            Screen::Parked(s) => s.table.cursor = s.table.rows.len().saturating_sub(1),
            Screen::Reconcile(view) => view.cursor = view.rows.len().saturating_sub(1),
            Screen::Selections { list, .. } | Screen::Person { list, .. } => {
                return list.jump_to_end(rows);
            }
            Screen::Overview { .. } | Screen::ErrorDetail { .. } => {}
        }
        None
    }

    /// The table rows this screen draws at once in `body` (what paging moves by and the live
    /// refresh re-reads): asked of the same layout the draw uses.
    pub fn page_rows(&self, body: Rect) -> usize {
        match self {
            Screen::Conferences(_) | Screen::Audit(_) | Screen::Slots { .. } => {
                table::body_rows(body)
            }
            Screen::Workers(_) | Screen::Retries(_) | Screen::Parked(_) => {
                screens::workers::page_rows(body)
            }
            Screen::Reconcile(_) => screens::reconcile::page_rows(body),
            Screen::Selections { .. } => screens::selections::page_rows(body),
            Screen::Person { .. } => screens::person::page_rows(body),
            Screen::Overview { .. } | Screen::ErrorDetail { .. } => body.height as usize,
        }
    }
}
