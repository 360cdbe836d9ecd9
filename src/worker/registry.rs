//! Who is running: each worker registers itself in `calsync_workers` (host, pid, version, start)
//! and keeps a heartbeat there, with its last pass and counts. An entry whose heartbeat stopped
//! (a killed worker, a lost host) expires: the next heartbeat of any worker removes it, and
//! `calsync worker status` never lists it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::logging::TARGET;
use super::pass::PassReport;
use crate::domain::audit::Operator;
use crate::domain::worker::WorkerCounts;
use crate::store::Store;

/// How often a worker says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A worker silent for this long is taken for dead.
pub const EXPIRY: Duration = Duration::from_secs(60);

pub struct Registry {
    state: Mutex<State>,
}

struct State {
    store: Store,
    id: Option<i64>,
    last_pass_at: Option<DateTime<Utc>>,
    counts: WorkerCounts,
}

impl Registry {
    /// Registers this process and starts its heartbeat (until `stop` is cancelled).
    pub async fn start(store: &Store, stop: CancellationToken) -> Arc<Registry> {
        let registry = Arc::new(Registry {
            state: Mutex::new(State {
                store: store.clone(),
                id: None,
                last_pass_at: None,
                counts: WorkerCounts::default(),
            }),
        });
        registry.beat().await;
        let beating = Arc::clone(&registry);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(HEARTBEAT) => beating.beat().await,
                }
            }
        });
        registry
    }

    /// The store to use after the worker reconnected.
    pub fn use_store(&self, store: &Store) {
        if let Ok(mut state) = self.state.lock() {
            state.store = store.clone();
        }
    }

    pub async fn record_pass(&self, report: &PassReport) {
        if let Ok(mut state) = self.state.lock() {
            state.last_pass_at = Some(Utc::now());
            let c = &mut state.counts;
            c.passes += 1;
            c.synced += report.summary.synced as u64;
            c.failed += report.summary.failed as u64;
            c.retries_scheduled += report.retries_scheduled as u64;
            c.parked += report.parked as u64;
        }
        self.beat().await;
    }

    /// One heartbeat; registers (again) when there is no live entry. Failures are logged by
    /// the pass that meets the same database, so they are quiet here.
    async fn beat(&self) {
        let Some((store, id, last_pass_at, counts)) = self
            .state
            .lock()
            .ok()
            .map(|s| (s.store.clone(), s.id, s.last_pass_at, s.counts))
        else {
            return;
        };
        let now = Utc::now();
        let expired_before = now - chrono::Duration::from_std(EXPIRY).unwrap_or_default();
        let alive = match id {
            Some(id) => store
                .worker_heartbeat(id, now, last_pass_at, counts, expired_before)
                .await
                .unwrap_or(true),
            None => false,
        };
        if alive {
            return;
        }
        let host = Operator::current().host;
        match store
            .register_worker(&host, std::process::id(), env!("CARGO_PKG_VERSION"), now)
            .await
        {
            Ok(new_id) => {
                if let Ok(mut state) = self.state.lock() {
                    state.id = Some(new_id);
                }
                let _ = store
                    .worker_heartbeat(new_id, now, last_pass_at, counts, expired_before)
                    .await;
                tracing::info!(target: TARGET, worker_id = new_id, "registered in calsync_workers");
            }
            Err(e) => tracing::warn!(target: TARGET, "cannot register this worker: {e}"),
        }
    }

    /// Removes this worker's entry (a clean stop).
    pub async fn unregister(&self) {
        let Some((store, Some(id))) = self.state.lock().ok().map(|s| (s.store.clone(), s.id))
        else {
            return;
        };
        if let Err(e) = store.unregister_worker(id).await {
            tracing::warn!(target: TARGET, "cannot remove this worker's entry: {e}");
        }
    }
}
