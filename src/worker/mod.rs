//! `calsync worker`: keeps every Outlook calendar in step with the LMS without being asked.
//! Each pass syncs new selections, retries transient failures on their schedule, parks
//! permanent ones (and tries them once more when what they depend on changes) and updates stale
//! events, all through the engine and its claims, so any number of workers (and consoles and
//! `calsync sync` runs) on one PostgreSQL database never sync a selection twice at once.
//! Database outages and Graph errors are waited out with backoff; the worker never exits on
//! them. Stopping (SIGTERM, Ctrl-C) lets what is in flight finish and be recorded.

mod cleanup;
pub mod depends;
pub mod logging;
pub mod metrics;
mod pass;
mod pass_error;
mod plan;
mod registry;
pub mod schedule;
pub mod views;
pub mod watch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub use cleanup::Cleanup;
pub use logging::{LogFormat, TARGET};
use metrics::Metrics;
pub use pass::{Pass, PassReport, describe_ids};
pub use pass_error::PassError;
pub use plan::Plan;
pub use registry::{EXPIRY, HEARTBEAT};
use schedule::RetryPolicy;
pub use watch::Watch;

use crate::graph::GraphClient;
use crate::store::{DatabaseUrl, Store, StoreOptions};
use crate::sync::{Engine, SyncOptions};

/// The longest wait between attempts to reach a database that went away.
const LONGEST_OUTAGE_WAIT: Duration = Duration::from_secs(60);

pub struct WorkerConfig {
    pub url: DatabaseUrl,
    pub store_options: StoreOptions,
    pub graph: GraphClient,
    pub sync: SyncOptions,
    /// The pause between passes.
    pub interval: Duration,
    /// How often a pass sweeps every row (see [`watch`]); passes between look only where
    /// something changed.
    pub stale_every: Duration,
    /// One pass, then exit (for cron).
    pub once: bool,
    pub policy: RetryPolicy,
    /// Against the simulated Graph (its audit rows say so).
    pub simulated: bool,
}

/// Runs passes until `cancel` (or, with `once`, after one). Err only for `once`: the pass could
/// not run, and cron should hear of it.
pub async fn run(
    config: WorkerConfig,
    store: Store,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let heartbeat = CancellationToken::new();
    let registry = registry::Registry::start(&store, heartbeat.clone()).await;
    metrics.use_store(&store);
    let mut engine = Engine::new(store, config.graph.clone(), config.sync.clone());
    let cleanup = Cleanup::default();
    let watch = Watch::default();
    let mut outage_wait = Duration::from_secs(1);
    let mut outcome = Ok(());
    tracing::info!(
        target: TARGET,
        database = %engine.store().describe(),
        interval_s = config.interval.as_secs_f64(),
        "worker started"
    );
    while !cancel.is_cancelled() {
        let started = Instant::now();
        let pass = Pass {
            engine: &engine,
            cleanup: &cleanup,
            watch: &watch,
            policy: config.policy,
            simulated: config.simulated,
            sweep: config.once || watch.sweep_due(config.stale_every),
        };
        match pass.run(&cancel).await {
            Ok(report) => {
                let took = started.elapsed();
                log_pass(&report, took);
                metrics.record_pass(&report, took);
                registry.record_pass(&report).await;
                outage_wait = Duration::from_secs(1);
                if config.once {
                    break;
                }
                pause(config.interval, &cancel).await;
            }
            Err(PassError::Busy(holder)) => {
                tracing::info!(
                    target: TARGET,
                    "waiting: {holder}; trying again in {:.0} s",
                    config.interval.as_secs_f64().max(1.0)
                );
                pause(config.interval.max(Duration::from_secs(1)), &cancel).await;
            }
            Err(e) => {
                metrics.record_pass_failure();
                if config.once {
                    outcome = Err(format!("the pass could not run: {e}"));
                    break;
                }
                tracing::warn!(
                    target: TARGET,
                    "cannot run a pass: {e}; waiting {} s before trying again",
                    outage_wait.as_secs()
                );
                pause(outage_wait, &cancel).await;
                outage_wait = (outage_wait * 2).min(LONGEST_OUTAGE_WAIT);
                if matches!(e, PassError::Database(_)) && !cancel.is_cancelled() {
                    match Store::open(&config.url, &config.store_options).await {
                        Ok(store) => {
                            registry.use_store(&store);
                            metrics.use_store(&store);
                            engine = Engine::new(store, config.graph.clone(), config.sync.clone());
                        }
                        Err(e) => tracing::warn!(
                            target: TARGET,
                            "still waiting for the database: {e}"
                        ),
                    }
                }
            }
        }
    }
    heartbeat.cancel();
    registry.unregister().await;
    tracing::info!(target: TARGET, "worker stopped");
    outcome
}

/// Sleeps `wait`, or less when the worker is asked to stop.
async fn pause(wait: Duration, cancel: &CancellationToken) {
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(wait) => {}
    }
}

/// A line per pass that did something; quiet passes stay quiet (but at debug level, with
/// the database time of each question of their detection).
fn log_pass(report: &PassReport, took: Duration) {
    if report.planned() == 0 && report.parked == 0 {
        tracing::debug!(
            target: TARGET,
            swept = report.swept,
            detection_ms = report.detection_cost().as_secs_f64() * 1000.0,
            questions = %describe_detection(report),
            "quiet pass"
        );
        return;
    }
    let s = &report.summary;
    tracing::info!(
        target: TARGET,
        new = report.new,
        retries = report.retries,
        rechecks = report.rechecks,
        stale = report.stale,
        created = s.created,
        updated = s.updated,
        adopted = s.adopted,
        failed = s.failed,
        left_to_others = s.claimed_elsewhere,
        not_started = s.not_started,
        retries_scheduled = report.retries_scheduled,
        parked = report.parked,
        deleted = report.deleted,
        delete_failures = report.delete_failures,
        swept = report.swept,
        detection_ms = report.detection_cost().as_secs_f64() * 1000.0,
        duration_ms = took.as_millis() as u64,
        "pass"
    );
}

/// "row count 3.1 ms, new rows 0.4 ms, …".
pub fn describe_detection(report: &PassReport) -> String {
    report
        .detection
        .iter()
        .map(|(what, took)| format!("{what} {:.1} ms", took.as_secs_f64() * 1000.0))
        .collect::<Vec<_>>()
        .join(", ")
}
