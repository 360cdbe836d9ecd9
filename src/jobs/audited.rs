//! An audited run: its audit row is opened before the work (by the caller, who words the
//! scope) and closed here with how the work ended, also when it failed. The CLI's commands and
//! the console's jobs share it, so no path leaves a row `running`.

use std::future::Future;

use crate::audit::{
    AuditTrail, reconcile_detail, reconcile_outcome, reconcile_rows, sync_detail, sync_outcome,
    verify_detail, verify_outcome,
};
use crate::domain::audit::AuditOutcome;
use crate::sync::Summary;
use crate::sync::reconcile::Resolved;
use crate::sync::verify::VerifySummary;

/// How a finished run closes its row: outcome, rows, detail.
pub type Closing = (AuditOutcome, u64, String);

/// What an audited run ended with.
pub struct Audited<T> {
    pub result: Result<T, String>,
    /// Why the audit row could not be closed (reported, never fatal: the work is done).
    pub unclosed: Option<String>,
}

/// Runs `work` and closes `trail` (None: a run that is not recorded, such as a read-only
/// check) with `close` of its result, or as failed with the error.
pub async fn audited<T>(
    trail: Option<AuditTrail>,
    work: impl Future<Output = Result<T, String>>,
    close: impl FnOnce(&T) -> Closing,
) -> Audited<T> {
    let result = work.await;
    let unclosed = match trail {
        None => None,
        Some(trail) => {
            let (outcome, rows, detail) = match &result {
                Ok(done) => close(done),
                Err(e) => (AuditOutcome::Failed, 0, e.clone()),
            };
            trail.finish(outcome, rows, &detail).await.err()
        }
    };
    Audited { result, unclosed }
}

pub fn sync_closing(summary: &Summary) -> Closing {
    (
        sync_outcome(summary),
        summary.total as u64,
        sync_detail(summary),
    )
}

pub fn verify_closing(summary: &VerifySummary) -> Closing {
    (
        verify_outcome(summary, summary.missing),
        summary.total as u64,
        verify_detail(summary),
    )
}

pub fn reconcile_closing(resolved: &[Resolved]) -> Closing {
    (
        reconcile_outcome(resolved),
        reconcile_rows(resolved),
        reconcile_detail(resolved),
    )
}
