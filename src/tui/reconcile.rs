//! The console's reconcile view: the orphaned and duplicated events reconcile finds, with the
//! evidence for each, and deletion on confirmation. Certain findings (the ledger's, calsync's
//! tag) are chosen by default; probable ones (the LMS's leftovers, found by their shape) only
//! when the operator marks them, and then the count must be typed back.

use std::collections::BTreeSet;

use crate::domain::ledger::LedgerScope;
use crate::sync::reconcile::{Finding, MailboxFailure, Plan, Resolution, Resolved};

/// One finding on screen, with what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRow {
    pub finding: Finding,
    pub result: Option<Resolution>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileView {
    pub scope: LedgerScope,
    /// The plan or deletion this view waits for.
    pub pending: Option<u64>,
    pub rows: Vec<FindingRow>,
    pub cursor: usize,
    /// Probable findings the operator chose (indices into `rows`).
    pub marked: BTreeSet<usize>,
    /// Mailboxes looked at so far.
    pub scanned: usize,
    pub failures: Vec<MailboxFailure>,
    /// The finished plan's facts; None while scanning.
    pub plan: Option<PlanFacts>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanFacts {
    pub mailboxes_scanned: usize,
    pub users_without_email: usize,
    pub ledger_checked: bool,
    pub not_scanned: usize,
}

/// The deletion the operator is asked to confirm.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteSheet {
    pub findings: Vec<Finding>,
    /// How many of them are guesses: then the count must be typed back.
    pub probable: usize,
    pub typed: String,
    pub error: Option<String>,
}

impl DeleteSheet {
    pub fn needs_typing(&self) -> bool {
        self.probable > 0
    }
}

impl ReconcileView {
    pub fn scanning(scope: LedgerScope, generation: u64) -> ReconcileView {
        ReconcileView {
            scope,
            pending: Some(generation),
            rows: Vec::new(),
            cursor: 0,
            marked: BTreeSet::new(),
            scanned: 0,
            failures: Vec::new(),
            plan: None,
            error: None,
        }
    }

    /// `--user-id 7`, `--conference-id 3` or `all mailboxes`, as the audit log and title say it.
    pub fn scope_text(&self) -> String {
        match (self.scope.user_id, self.scope.conference_id) {
            (Some(user), _) => format!("--user-id {user}"),
            (None, Some(conference)) => format!("--conference-id {conference}"),
            (None, None) => "all mailboxes".to_string(),
        }
    }

    pub fn planned(&mut self, plan: Plan) {
        self.pending = None;
        self.plan = Some(PlanFacts {
            mailboxes_scanned: plan.mailboxes_scanned,
            users_without_email: plan.users_without_email,
            ledger_checked: plan.ledger_checked,
            not_scanned: plan.not_scanned,
        });
        self.failures = plan.mailbox_failures;
        self.rows = plan
            .findings
            .into_iter()
            .map(|finding| FindingRow {
                finding,
                result: None,
            })
            .collect();
        self.cursor = 0;
        self.marked.clear();
    }

    pub fn move_by(&mut self, delta: i64) {
        if !self.rows.is_empty() {
            self.cursor =
                (self.cursor as i64 + delta).clamp(0, self.rows.len() as i64 - 1) as usize;
        }
    }

    pub fn current(&self) -> Option<&FindingRow> {
        self.rows.get(self.cursor)
    }

    /// Space: choose or unchoose the probable finding under the cursor. Certain findings are
    /// always chosen; a finding already dealt with cannot be chosen again.
    pub fn toggle_mark(&mut self) -> Result<(), &'static str> {
        let row = self.rows.get(self.cursor).ok_or("no finding here")?;
        if row.result.is_some() {
            return Err("this finding is already dealt with");
        }
        if row.finding.kind.is_certain() {
            return Err("certain findings are always deleted with d");
        }
        if !self.marked.remove(&self.cursor) {
            self.marked.insert(self.cursor);
        }
        Ok(())
    }

    /// What `d` deletes: every certain finding and the marked probable ones, not yet dealt with.
    pub fn chosen(&self) -> DeleteSheet {
        let findings: Vec<Finding> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(i, row)| {
                row.result.is_none() && (row.finding.kind.is_certain() || self.marked.contains(i))
            })
            .map(|(_, row)| row.finding.clone())
            .collect();
        let probable = findings.iter().filter(|f| !f.kind.is_certain()).count();
        DeleteSheet {
            findings,
            probable,
            typed: String::new(),
            error: None,
        }
    }

    pub fn resolved(&mut self, resolved: Resolved) {
        if let Some(row) = self.rows.iter_mut().find(|r| {
            r.finding.mailbox == resolved.finding.mailbox
                && r.finding.event_id == resolved.finding.event_id
        }) {
            row.result = Some(resolved.result);
        }
        self.marked
            .retain(|i| self.rows.get(*i).is_some_and(|r| r.result.is_none()));
    }

    pub fn counts(&self) -> (usize, usize) {
        let certain = self
            .rows
            .iter()
            .filter(|r| r.finding.kind.is_certain())
            .count();
        (certain, self.rows.len() - certain)
    }
}
