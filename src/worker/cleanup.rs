//! Deleting the events of cancelled selections and moved or replaced slots, as `reconcile`
//! proves them: only the certain kinds (in calsync's ledger, or carrying calsync's tag, with no
//! selection pointing to them in either id format). Probable leftovers stay for an operator.
//! The ledger tells cheaply which users to look at; each is then planned by the reconciler,
//! which translates ids before it calls anything an orphan.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pass_error::PassError;
use crate::domain::ledger::LedgerScope;
use crate::store::Store;
use crate::sync::reconcile::{Reconciler, Resolution};

/// What a cleanup deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanupReport {
    /// Users whose mailbox was looked at.
    pub users: usize,
    pub deleted: usize,
    pub failed: usize,
}

/// Remembers the users looked at without a certain finding, by the ledger orphans they had,
/// so a leftover the reconciler does not call certain costs no mailbox scan on every pass.
#[derive(Default)]
pub struct Cleanup {
    settled: Mutex<HashMap<i64, Vec<String>>>,
}

impl Cleanup {
    /// The users with ledger orphans not looked at yet in that state.
    pub async fn users_to_check(
        &self,
        store: &Store,
    ) -> Result<BTreeMap<i64, Vec<String>>, PassError> {
        if !store.has_ledger() {
            return Ok(BTreeMap::new());
        }
        let orphans = store.ledger_orphans(LedgerScope::default()).await?;
        // The row holds the REST id and the ledger the immutable one, so the query also lists
        // every selection's own event; the reconciler tells them apart by translating. Only
        // these are worth its mailbox scan: a selection that is gone, or one with a newer
        // ledger row than this one (its event was replaced).
        let mut newest: HashMap<i64, i64> = HashMap::new();
        for (record, _) in &orphans {
            if let Some(selection) = record.selection_id {
                let id = newest.entry(selection).or_insert(record.id);
                *id = (*id).max(record.id);
            }
        }
        let mut by_user: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (record, gone) in orphans {
            let replaced = record
                .selection_id
                .and_then(|s| newest.get(&s))
                .is_some_and(|&newest| newest != record.id);
            // A user gone from the LMS has no mailbox to name: left to `calsync reconcile`.
            if let (Some(user), true) = (record.user_id, gone || replaced) {
                let state = if gone { "gone" } else { "replaced" };
                by_user
                    .entry(user)
                    .or_default()
                    .push(format!("{}|{state}", record.event_id));
            }
        }
        let settled = self.settled.lock().map(|s| s.clone()).unwrap_or_default();
        by_user.retain(|user, events| {
            events.sort();
            settled.get(user) != Some(events)
        });
        Ok(by_user)
    }

    /// Looks at each user's mailbox and deletes the certain orphans.
    pub async fn run(
        &self,
        reconciler: &Reconciler,
        users: BTreeMap<i64, Vec<String>>,
        cancel: &CancellationToken,
    ) -> CleanupReport {
        let mut report = CleanupReport::default();
        for (user, orphans) in users {
            if cancel.is_cancelled() {
                break;
            }
            report.users += 1;
            let scope = LedgerScope {
                user_id: Some(user),
                conference_id: None,
            };
            let (events, _ignored) = mpsc::unbounded_channel();
            let plan = match reconciler.plan(scope, events, cancel.clone()).await {
                Ok(plan) if plan.mailbox_failures.is_empty() => plan,
                Ok(plan) => {
                    for failure in &plan.mailbox_failures {
                        tracing::warn!(target: super::TARGET, user_id = user, "cannot look for leftover events: {}", failure.error);
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(target: super::TARGET, user_id = user, "cannot look for leftover events: {e}");
                    continue;
                }
            };
            let certain: Vec<_> = plan
                .findings
                .into_iter()
                .filter(|f| f.kind.is_certain())
                .collect();
            if certain.is_empty() {
                if let Ok(mut settled) = self.settled.lock() {
                    settled.insert(user, orphans);
                }
                continue;
            }
            let (events, _ignored) = mpsc::unbounded_channel();
            match reconciler.apply(certain, events, cancel.clone()).await {
                Ok(resolved) => {
                    for r in resolved {
                        match r.result {
                            Resolution::Deleted | Resolution::AlreadyGone => report.deleted += 1,
                            Resolution::Failed(_) => report.failed += 1,
                            _ => {}
                        }
                    }
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(target: super::TARGET, user_id = user, "cannot delete leftover events: {e}");
                }
            }
        }
        report
    }
}
