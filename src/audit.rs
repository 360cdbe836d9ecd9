//! The audit trail of one operator action that writes: opened before the first write, closed
//! with its outcome. Headless commands and the console use the same trail, so every write path
//! leaves the same kind of row. Before `calsync migrate` there is no audit table and the trail
//! records nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;

use crate::domain::audit::{AuditOutcome, AuditStart, Operator};
use crate::store::Store;
use crate::store::retry::retrying;
use crate::sync::Summary;
use crate::sync::reconcile::{Resolution, Resolved};
use crate::sync::verify::VerifySummary;

pub struct AuditTrail {
    store: Store,
    id: Option<i64>,
    rows: u64,
    open: Option<OpenRows>,
}

/// The audit rows a console has open. Whatever ends the console in the middle of a run (a
/// confirmed quit, SIGTERM, an error) marks them `interrupted` instead of leaving them `running`:
/// a run that ends after [`OpenRows::ending`] and would say `cancelled` says `interrupted`, and
/// [`OpenRows::close_remaining`] closes the rows whose run could not end in time.
#[derive(Debug, Clone, Default)]
pub struct OpenRows {
    state: Arc<Mutex<OpenState>>,
}

#[derive(Debug, Default)]
struct OpenState {
    /// Row id → the rows it was opened for.
    open: BTreeMap<i64, u64>,
    ending: bool,
}

impl OpenRows {
    fn lock(&self) -> std::sync::MutexGuard<'_, OpenState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The console is closing: runs that are cut short from now on were interrupted.
    pub fn ending(&self) {
        self.lock().ending = true;
    }

    pub fn is_ending(&self) -> bool {
        self.lock().ending
    }

    /// How many rows are open now.
    pub fn count(&self) -> usize {
        self.lock().open.len()
    }

    /// Closes every row still open as `interrupted`; the number closed.
    pub async fn close_remaining(&self, store: &Store) -> Result<usize, String> {
        let open: Vec<(i64, u64)> = std::mem::take(&mut self.lock().open).into_iter().collect();
        let detail = "the console was closed before the run could record its end";
        for &(id, rows) in &open {
            retrying(|| store.audit_finish(id, AuditOutcome::Interrupted, rows, detail))
                .await
                .map_err(|e| format!("cannot close the audit log entry {id}: {e}"))?;
        }
        Ok(open.len())
    }
}

impl AuditTrail {
    /// Opens the row. An action must not run unrecorded once the audit log exists, so a failure
    /// to write it is the action's failure.
    pub async fn begin(
        store: &Store,
        action: &str,
        scope: &str,
        filter: &str,
        rows: u64,
    ) -> Result<AuditTrail, String> {
        let start = AuditStart {
            operator: Operator::current(),
            action: action.to_string(),
            scope: crate::text::clean_line(scope),
            filter: crate::text::clean_line(filter),
            rows,
            at: Utc::now(),
        };
        let id = retrying(|| store.audit_start(&start))
            .await
            .map_err(|e| format!("cannot write the audit log: {e}"))?;
        Ok(AuditTrail {
            store: store.clone(),
            id,
            rows,
            open: None,
        })
    }

    /// Registers the row with the console's open rows (see [`OpenRows`]).
    pub fn tracked_by(mut self, open: &OpenRows) -> AuditTrail {
        if let Some(id) = self.id {
            open.lock().open.insert(id, self.rows);
            self.open = Some(open.clone());
        }
        self
    }

    /// Closes the row. A failure here is reported, never fatal: the action itself is done.
    pub async fn finish(
        self,
        outcome: AuditOutcome,
        rows: u64,
        detail: &str,
    ) -> Result<(), String> {
        let Some(id) = self.id else {
            return Ok(());
        };
        let mut detail = crate::text::clean_line(detail);
        let mut outcome = outcome;
        if let Some(open) = &self.open {
            // Closed by close_remaining meanwhile: that row already says interrupted.
            if open.lock().open.remove(&id).is_none() {
                return Ok(());
            }
            if open.is_ending() && outcome == AuditOutcome::Cancelled {
                outcome = AuditOutcome::Interrupted;
                detail = format!("the console was closed during the run: {detail}");
            }
        }
        // A lock or a lost session at the end of a run must not leave the row `running`.
        retrying(|| self.store.audit_finish(id, outcome, rows, &detail))
            .await
            .map_err(|e| format!("cannot close the audit log entry {id}: {e}"))
    }
}

/// The scope of an action run against the simulated Graph says so, so nobody reads its row as
/// real work (the action names stay the contract they are).
pub fn run_scope(scope: &str, simulated_graph: bool) -> String {
    if simulated_graph {
        format!("{scope} · simulated Graph")
    } else {
        scope.to_string()
    }
}

pub fn sync_outcome(summary: &Summary) -> AuditOutcome {
    if summary.stopped.is_some() {
        if summary.synced > 0 {
            AuditOutcome::Partial
        } else {
            AuditOutcome::Failed
        }
    } else if summary.not_started > 0 {
        AuditOutcome::Cancelled
    } else if summary.failed > 0 || summary.conflicts > 0 {
        AuditOutcome::Partial
    } else {
        AuditOutcome::Ok
    }
}

pub fn sync_detail(summary: &Summary) -> String {
    let mut parts = vec![format!(
        "{} synced ({} created, {} updated, {} adopted)",
        summary.synced, summary.created, summary.updated, summary.adopted
    )];
    for (n, what) in [
        (summary.failed, "failed"),
        (summary.skipped, "skipped"),
        (summary.conflicts, "changed by the LMS meanwhile"),
        (summary.claimed_elsewhere, "left to another calsync"),
        (summary.not_started, "not started"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if let Some(reason) = &summary.stopped {
        parts.push(format!("stopped: {reason}"));
    }
    parts.join(", ")
}

/// A check ends "ok" only when every event is present, or was re-created (`missing_left` 0).
pub fn verify_outcome(summary: &VerifySummary, missing_left: usize) -> AuditOutcome {
    if summary.not_started > 0 {
        AuditOutcome::Cancelled
    } else if missing_left > 0 || summary.unchecked > 0 {
        AuditOutcome::Partial
    } else {
        AuditOutcome::Ok
    }
}

pub fn verify_detail(summary: &VerifySummary) -> String {
    let mut parts = vec![
        format!("{} present", summary.present),
        format!("{} missing", summary.missing),
    ];
    for (n, what) in [
        (summary.unchecked, "could not be checked"),
        (summary.skipped, "no longer added"),
        (summary.not_started, "not started"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

/// A deletion run: "ok" when nothing failed, "cancelled" when some never started, "partial"
/// when some went, "failed" when none did.
pub fn reconcile_outcome(resolved: &[Resolved]) -> AuditOutcome {
    let failed = resolved.iter().filter(|r| r.result.is_failure()).count();
    if failed == 0 {
        AuditOutcome::Ok
    } else if resolved.iter().any(|r| r.result == Resolution::NotStarted) {
        AuditOutcome::Cancelled
    } else if failed < resolved.len() {
        AuditOutcome::Partial
    } else {
        AuditOutcome::Failed
    }
}

/// How many went, as the audit log and the jobs panel say it.
pub fn reconcile_detail(resolved: &[Resolved]) -> String {
    let count =
        |wanted: fn(&Resolution) -> bool| resolved.iter().filter(|r| wanted(&r.result)).count();
    format!(
        "{} deleted, {} already gone, {} failed",
        count(|r| matches!(r, Resolution::Deleted)),
        count(|r| matches!(r, Resolution::AlreadyGone)),
        count(Resolution::is_failure),
    )
}

/// The rows a deletion run counts: the events that went.
pub fn reconcile_rows(resolved: &[Resolved]) -> u64 {
    resolved
        .iter()
        .filter(|r| r.result == Resolution::Deleted)
        .count() as u64
}
