//! What `verify` learns reaches the ledger through one writer task off the lookup loop: the
//! loop hands each envelope's findings over without waiting, and the writer commits them
//! together every [`COMMIT_ROWS`] findings or [`COMMIT_EVERY`] after the first one pending,
//! whichever comes first, and once more when the run ends. A commit per envelope of 4 lookups
//! cost 19,572 disk flushes for 20,000 events and stalled the loop that sends the lookups.
//!
//! Killed outright (SIGKILL, power loss), a run loses at most the findings of its last
//! [`COMMIT_EVERY`] (and never more than [`COMMIT_ROWS`] of them): "seen" and "missing" marks,
//! which the next `verify` derives again from Graph. Nothing else is written by a verify, and
//! each commit is whole or absent, so the ledger is never half-written.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::domain::ledger::{LedgerAction, LedgerRecord};
use crate::store::Store;

/// Findings committed together at most.
pub(super) const COMMIT_ROWS: usize = 1000;
/// How long a finding waits for company before it is committed.
pub(super) const COMMIT_EVERY: Duration = Duration::from_millis(250);

/// What a lookup learnt: the ledger's record, seen or missing, and the `webLink` Graph answered.
type Findings = Vec<(LedgerRecord, LedgerAction, Option<String>)>;

pub(super) struct LedgerWriter {
    findings: mpsc::UnboundedSender<Findings>,
    task: JoinHandle<()>,
}

impl LedgerWriter {
    pub(super) fn start(store: Store) -> LedgerWriter {
        let (findings, rx) = mpsc::unbounded_channel();
        LedgerWriter {
            findings,
            task: tokio::spawn(run(store, rx)),
        }
    }

    /// Hands findings over; never waits for a commit.
    pub(super) fn add(&self, findings: Findings) {
        if !findings.is_empty() {
            let _ = self.findings.send(findings);
        }
    }

    /// Commits whatever is pending and waits until it is.
    pub(super) async fn finish(self) {
        drop(self.findings);
        let _ = self.task.await;
    }
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<Findings>) {
    let mut pending: Findings = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        let received = match deadline {
            Some(due) => tokio::select! {
                received = rx.recv() => received,
                () = tokio::time::sleep_until(due) => {
                    commit(&store, &mut pending).await;
                    deadline = None;
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(mut findings) = received else {
            commit(&store, &mut pending).await;
            return;
        };
        if pending.is_empty() {
            deadline = Some(Instant::now() + COMMIT_EVERY);
        }
        pending.append(&mut findings);
        if pending.len() >= COMMIT_ROWS {
            commit(&store, &mut pending).await;
            deadline = None;
        }
    }
}

async fn commit(store: &Store, pending: &mut Findings) {
    if pending.is_empty() {
        return;
    }
    // The ledger is calsync's bookkeeping: failing to write it must not hide the results,
    // which are reported all the same (the next verify finds the same again).
    let _ = store.ledger_record_many(pending, Utc::now()).await;
    pending.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::LedgerScope;
    use crate::store::{DatabaseUrl, StoreOptions};

    async fn migrated_store(dir: &std::path::Path) -> Store {
        let path = dir.join("lms.db");
        crate::demo::create(&path, &crate::demo::DemoSpec::new(10), &mut |_, _| {}).unwrap();
        let store = Store::open(&DatabaseUrl::Sqlite(path), &StoreOptions::default())
            .await
            .unwrap();
        store.migrate_up(Utc::now()).await.unwrap();
        store
    }

    fn finding(n: usize) -> (LedgerRecord, LedgerAction, Option<String>) {
        let at = Utc::now();
        let record = LedgerRecord {
            id: 0,
            selection_id: Some(n as i64),
            user_id: None,
            conference_id: None,
            slot_id: None,
            mailbox: "ann@example.org".to_string(),
            event_id: format!("event-{n}"),
            subject: "Seminar".to_string(),
            sent_start: at,
            sent_end: at,
            last_action: LedgerAction::Found,
            created_at: at,
            last_seen_at: at,
            deleted_at: None,
        };
        (record, LedgerAction::Found, None)
    }

    async fn ledger_size(store: &Store) -> usize {
        store
            .ledger_rows(LedgerScope::default())
            .await
            .unwrap()
            .len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn findings_are_committed_while_the_run_goes_on_not_only_at_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = migrated_store(dir.path()).await;
        let writer = LedgerWriter::start(store.clone());
        writer.add(vec![finding(1), finding(2)]);
        // Lost on a SIGKILL from now on: nothing, once the commit interval has passed.
        let mut waited = Duration::ZERO;
        while ledger_size(&store).await < 2 && waited < COMMIT_EVERY * 40 {
            tokio::time::sleep(COMMIT_EVERY / 5).await;
            waited += COMMIT_EVERY / 5;
        }
        assert_eq!(ledger_size(&store).await, 2, "committed without finish()");
        writer.add(vec![finding(3)]);
        writer.finish().await;
        assert_eq!(
            ledger_size(&store).await,
            3,
            "finish() commits what is pending"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn findings_handed_over_in_envelopes_of_four_all_reach_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let store = migrated_store(dir.path()).await;
        let writer = LedgerWriter::start(store.clone());
        // 3,000 findings handed over in envelopes of 4, as verify's loop does.
        for envelope in 0..750 {
            writer.add((0..4).map(|i| finding(envelope * 4 + i)).collect());
        }
        writer.finish().await;
        assert_eq!(ledger_size(&store).await, 3000);
    }
}
