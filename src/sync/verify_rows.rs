//! The rows `verify` checks, read by a task of their own ahead of the lookups. On SQLite in
//! rollback-journal mode (as the LMS leaves its database, and calsync never changes it) a read
//! waits while the ledger writer's commit flushes; read inside the lookup loop, every such
//! wait held up the next lookups (1.13× and 1.50× the read-only run in two quiet runs). Read
//! ahead, a read that waits only delays the refill of a buffer the lookups keep drawing from.
//!
//! Memory: at most [`READ_AHEAD`] chunks of [`READ_CHUNK`] rows wait in the buffer, plus the
//! chunk being read and the one being looked up.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::domain::{Filter, Selection};
use crate::store::Store;

/// Rows are read one query per this many selections.
pub(super) const READ_CHUNK: usize = 500;
/// Chunks read and not yet looked up, at most: 8 × 500 rows, about 0.6 s of lookups at the
/// pace of `calsync bench verify` (≈ 13,000 a second), longer than the commits measured.
pub(super) const READ_AHEAD: usize = 8;

/// One chunk of the frozen list, with the rows among them that still exist.
pub(super) struct Chunk {
    pub ids: Vec<i64>,
    pub rows: HashMap<i64, Selection>,
}

pub(super) struct RowsAhead {
    chunks: mpsc::Receiver<Result<Chunk, String>>,
    task: JoinHandle<()>,
}

impl RowsAhead {
    /// Starts reading the rows of `ids`, in their order.
    pub(super) fn start(store: Store, ids: Vec<i64>) -> RowsAhead {
        let (tx, chunks) = mpsc::channel(READ_AHEAD);
        let task = tokio::spawn(async move {
            for chunk in ids.chunks(READ_CHUNK) {
                let read = store
                    .selections_by_id(chunk, &Filter::default())
                    .await
                    .map(|rows| Chunk {
                        ids: chunk.to_vec(),
                        rows,
                    })
                    .map_err(|e| format!("cannot read the selections: {e}"));
                let failed = read.is_err();
                // The lookups stopped (cancelled or failed): nothing more to read.
                if tx.send(read).await.is_err() || failed {
                    return;
                }
            }
        });
        RowsAhead { chunks, task }
    }

    /// The next chunk, in the order of the ids; `None` once every chunk was handed out.
    pub(super) async fn next(&mut self) -> Option<Result<Chunk, String>> {
        self.chunks.recv().await
    }
}

impl Drop for RowsAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}
