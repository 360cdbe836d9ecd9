//! The popup over the screen, as data: which one is open and what it holds. Their keys and
//! draws are in `popups/`.

use crate::domain::Scope;
use crate::jobs::{BulkPlan, SyncTarget};
use crate::tui::complete::Completion;
use crate::tui::reconcile::DeleteSheet;
use crate::tui::run_choice::Chosen;

#[derive(Debug, Clone)]
pub enum Popup {
    /// The keys and the filter reference, scrolled this many lines.
    Help {
        scroll: usize,
    },
    Input {
        kind: InputKind,
        text: String,
        error: Option<String>,
        /// Tab's candidates while Tab is being pressed.
        completion: Option<Completion>,
    },
    Bulk(Box<BulkSheet>),
    DeleteFindings(Box<DeleteSheet>),
    /// Quit while a job runs?
    ConfirmQuit,
    /// The last run's rows that did not sync, scrolled this many rows.
    RunRows {
        scroll: usize,
    },
    /// Which columns the lists show; the cursor is on one of them.
    Columns {
        cursor: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
}

/// Bulk runs bigger than this need the count typed back before they start.
pub const TYPED_CONFIRMATION_ABOVE: u64 = 500;

#[derive(Debug, Clone)]
pub struct BulkSheet {
    pub scope: Scope,
    /// With "failed": retry failures of a permanent cause too.
    pub include_permanent: bool,
    pub dry_run: bool,
    /// The filter the run covers (the list's filter, or the marks).
    pub target: SyncTarget,
    /// What the key was pressed on: the sheet's title, and whether permanent failures are in.
    pub chosen: Chosen,
    pub plan: Option<BulkPlan>,
    pub pending: Option<u64>,
    pub typed: String,
    pub error: Option<String>,
}
