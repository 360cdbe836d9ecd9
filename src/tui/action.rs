//! Everything that can change the console's state, as data: what the operator asked for (from
//! the keymap) and what background work reported back (carrying the generation of the request
//! that caused it, so stale answers are dropped).

use chrono::{DateTime, Utc};

use crate::domain::{ConferenceSummary, Page, Selection, SlotSummary, StateCounts};
use crate::sync::SyncEvent;
use crate::sync::reconcile::{Plan, ReconcileEvent, Resolved};
use crate::sync::verify::VerifyEvent;

use super::data::{OverviewPart, PersonData};
use super::overview_cache::CachedOverview;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Esc: close the popup, else go back one screen.
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Help,
    Filter,
    Command,
    ClearFilter,
    ToggleMark,
    MarkRange,
    MarkAllMatching,
    ClearMarks,
    Retry,
    BulkSync,
    /// Overview: retry the failures of the cause under the cursor.
    RetryCause,
    /// Overview: retry every failure (of a cause worth retrying, unless asked).
    RetryAllFailed,
    CancelJob,
    /// Check that the events of the listed (or marked) added selections still exist.
    Verify,
    /// Reconcile view: delete the certain and the chosen probable findings.
    DeleteFindings,
    ErrorDetail,
    Person,
    ConferenceSelections,
    Refresh,
    Overview,
    Conferences,
    Export,
    /// Sort by the next column that sorts (`o`).
    ToggleSort,
    /// The same sort the other way round (`O`).
    ReverseSort,
    /// The columns that do not fit, one sideways (`<` `>`).
    ScrollLeft,
    ScrollRight,
    /// The chooser of which columns show (`C`).
    ChooseColumns,
    /// Retry schedule and parked set: make the selection due now.
    RetryNow,
    /// Retry schedule: park the selection.
    Park,
    /// The last run's rows that did not sync, with their reasons.
    RunRows,
    /// Copy the current row's email (OSC 52).
    Copy,
    /// Copy the current row's error.
    CopyError,
    /// Open the row's event in Outlook on the web (its `webLink`), else its LMS admin page or
    /// meeting link, in the browser.
    OpenLink,
    /// Open the row's LMS admin page in the browser.
    OpenAdmin,
    /// Overview: the cursor to the other panel (causes, conferences with most failures).
    SwitchPanel,
    /// Lists of selections: show only the marked rows, or every row again.
    OnlyMarked,
}

/// What background work reports.
#[derive(Debug, Clone)]
pub enum Report {
    Overview(u64, Result<OverviewPart, String>),
    /// The last complete overview of this database, shown (with its age) until fresh parts come.
    OverviewCached(u64, Box<CachedOverview>),
    Conferences(u64, Result<Vec<ConferenceSummary>, String>),
    Audit(u64, Result<Vec<crate::domain::audit::AuditRecord>, String>),
    Slots(u64, Result<Vec<SlotSummary>, String>),
    Page(u64, Result<Page, String>),
    /// The exact count and per-state counts of a list's filter.
    Counts(u64, Result<(u64, StateCounts), String>),
    /// Rows re-read by id for the live refresh.
    Rows(u64, Result<Vec<Selection>, String>),
    /// Boxed: a selection is far larger than every other report.
    Selection(u64, Result<Option<Box<Selection>>, String>),
    Person(u64, Result<Option<PersonData>, String>),
    /// The exact scope of a bulk run, for its confirmation sheet.
    BulkPlan(u64, Result<super::data::BulkPlan, String>),
    Sync(SyncEvent),
    Verify(VerifyEvent),
    Reconcile(u64, ReconcileEvent),
    ReconcilePlanned(u64, Result<Plan, String>),
    ReconcileApplied(u64, Result<Vec<Resolved>, String>),
    SyncFailed(String),
    Exported(Result<String, String>),
    /// A worker screen's read.
    WorkerData(u64, Result<super::worker_views::WorkerData, String>),
    /// What retry-now or park did.
    WorkerActed(
        super::worker_views::WorkerAction,
        Result<crate::worker::views::ActionReport, String>,
    ),
    /// What opening a page in the browser did.
    Opened(Result<String, String>),
    /// The users a `:person` text matches, exact handles first (at most a few).
    PersonFound(u64, Result<Vec<crate::domain::PersonMatch>, String>),
    /// Time passed (live refresh, relative times, the jobs panel's rate).
    Tick(DateTime<Utc>),
}

impl Report {
    /// The generation of the request a screen's answer belongs to; None for the reports that
    /// are not a screen's answer (jobs, popups, time).
    pub fn generation(&self) -> Option<u64> {
        match self {
            Report::Overview(g, _)
            | Report::OverviewCached(g, _)
            | Report::Conferences(g, _)
            | Report::Audit(g, _)
            | Report::Slots(g, _)
            | Report::Page(g, _)
            | Report::Counts(g, _)
            | Report::Rows(g, _)
            | Report::Selection(g, _)
            | Report::Person(g, _)
            | Report::WorkerData(g, _) => Some(*g),
            _ => None,
        }
    }
}
