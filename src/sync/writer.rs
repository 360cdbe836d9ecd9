//! Results reach the database through one writer task that groups them into short
//! transactions: each row is still one guarded statement (so never half-written), but the
//! results that arrive while one commit runs share the next, so a bulk run pays one disk flush
//! per batch instead of one per row. A result never waits for company: its selection holds a
//! concurrency slot until the row is committed, so a wait here stalls the whole run (a 20 ms
//! wait made every round of a run 20 ms longer in `calsync bench sync`). A commit is the
//! expensive part (tens of milliseconds of disk flushes on SQLite), so a batch takes whatever
//! has queued, up to [`MAX_BATCH`]: at 128 a row, 20,000 selections in flight queued behind 157
//! commits of intents and 157 of results.

use super::error::SyncError;
use tokio::sync::{mpsc, oneshot};

use super::landed::landed;
use crate::domain::ledger::LedgerChange;
use crate::domain::{Filter, SyncColumns, SyncWrite, WriteOutcome};
use crate::store::retry::retrying;
use crate::store::{Store, StoreError};

/// Results committed together at most, which bounds what one commit's wait holds up.
const MAX_BATCH: usize = 2048;
/// Times the writer lets the tasks that are ready run before a batch closes: a burst of
/// results (a wave of creates answered together) then shares one commit. Yields, not a timer.
const GATHER_YIELDS: usize = 2;

struct Job {
    id: i64,
    write: SyncWrite,
    expected: SyncColumns,
    ledger: Vec<LedgerChange>,
    reply: oneshot::Sender<Result<WriteOutcome, SyncError>>,
}

#[derive(Clone)]
pub struct ResultWriter {
    jobs: mpsc::Sender<Job>,
}

impl ResultWriter {
    pub fn start(store: Store) -> ResultWriter {
        let (jobs, rx) = mpsc::channel(MAX_BATCH * 2);
        tokio::spawn(run(store, rx));
        ResultWriter { jobs }
    }

    /// Writes one result, with the ledger changes that go with it, and waits until it is
    /// committed (or refused by the guard).
    pub async fn write(
        &self,
        id: i64,
        write: SyncWrite,
        expected: SyncColumns,
        ledger: Vec<LedgerChange>,
    ) -> Result<WriteOutcome, SyncError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                id,
                write,
                expected,
                ledger,
                reply,
            })
            .await
            .map_err(|_| SyncError::WriterStopped)?;
        answer.await.map_err(|_| SyncError::WriterStopped)?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        // Whatever queued up during the previous commit, and what the tasks that are ready
        // are about to send.
        for pass in 0..=GATHER_YIELDS {
            if pass > 0 {
                tokio::task::yield_now().await;
            }
            while batch.len() < MAX_BATCH
                && let Ok(job) = rx.try_recv()
            {
                batch.push(job);
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
        }
        let writes: Vec<_> = batch
            .iter()
            .map(|j| (j.id, j.write.clone(), j.expected.clone(), j.ledger.clone()))
            .collect();
        // A lost session or a lock is waited out: the result must reach the row.
        let mut tries = 0;
        let written = retrying(|| {
            tries += 1;
            store.write_sync_many(&writes)
        })
        .await;
        match written {
            Ok(mut outcomes) => {
                if tries > 1 {
                    confirm_landed(&store, &writes, &mut outcomes).await;
                }
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                let message = SyncError::Store(describe(&e));
                for job in batch {
                    let _ = job.reply.send(Err(message.clone()));
                }
            }
        }
    }
}

/// After a retried batch, a "conflict" may be this batch's own earlier commit that landed
/// although its answer was lost: such rows are read back and counted as written.
async fn confirm_landed(
    store: &Store,
    writes: &[(i64, SyncWrite, SyncColumns, Vec<LedgerChange>)],
    outcomes: &mut [WriteOutcome],
) {
    let conflicts: Vec<i64> = writes
        .iter()
        .zip(outcomes.iter())
        .filter(|(_, outcome)| **outcome == WriteOutcome::Conflict)
        .map(|((id, ..), _)| *id)
        .collect();
    if conflicts.is_empty() {
        return;
    }
    // Unreadable now: the conflicts stand, which never claims a write that did not happen.
    let any_state = Filter::default();
    let Ok(rows) = retrying(|| store.selections_by_id(&conflicts, &any_state)).await else {
        return;
    };
    for ((id, write, expected, _), outcome) in writes.iter().zip(outcomes.iter_mut()) {
        if *outcome == WriteOutcome::Conflict
            && rows
                .get(id)
                .is_some_and(|row| landed(write, expected, &row.sync))
        {
            *outcome = WriteOutcome::Written;
        }
    }
}

fn describe(e: &StoreError) -> String {
    format!("could not record the result: {e}")
}
