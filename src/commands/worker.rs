//! `calsync worker`: the CLI side of [`crate::worker`] (opening the database, refusing what
//! cannot work in one line, signals, the dry run); its status and actions are in
//! `worker_status`.

use std::io::Write;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::rehearsal::Rehearsal;
use super::{CliError, Output, open_store, store_options};
use crate::cli::worker::{WorkerArgs, WorkerCommand};
use crate::cli::{EXIT_OK, GlobalArgs};
use crate::graph::{GraphClient, GraphConfig};
use crate::store::{Store, StoreError, WorkerLock};
use crate::sync::{SyncOptions, payload::PayloadOptions};
use crate::worker::metrics::{self, Metrics};
use crate::worker::schedule::RetryPolicy;
use crate::worker::{
    self as worker_loop, Cleanup, Pass, Plan, TARGET, Watch, WorkerConfig, describe_ids,
};

pub async fn run(global: &GlobalArgs, args: &WorkerArgs) -> Result<i32, CliError> {
    match &args.command {
        Some(WorkerCommand::Status(status_args)) => {
            return super::worker_status::status(global, status_args).await;
        }
        Some(WorkerCommand::RetryNow(action)) => {
            return super::worker_status::act(global, action, false).await;
        }
        Some(WorkerCommand::Park(action)) => {
            return super::worker_status::act(global, action, true).await;
        }
        None => {}
    }
    if global.read_only && !args.dry_run {
        return Err(CliError::unusable(
            "--read-only: refusing to run the worker (it writes Outlook and the database); \
             --dry-run shows what a pass would do",
        ));
    }
    let credentials_override = SyncOptions::credentials_from_env().map_err(CliError::unusable)?;
    let (store, choice) = open_store(global).await?;
    super::worker_status::require_tables(&store)?;
    let rehearsal = Rehearsal::decide(&store, &args.simulation).await?;
    let dry_run = args.dry_run || rehearsal.dry_run();
    let interval = Duration::from_secs_f64(args.interval);
    // /healthz fails once no pass ended for three intervals (and at least a minute).
    let metrics = Metrics::new((interval * 3).max(Duration::from_secs(60)));
    crate::worker::logging::install(args.log_format, global.log_file.as_deref(), metrics.clone())
        .map_err(CliError::unusable)?;
    let cancel = CancellationToken::new();
    watch_signals(cancel.clone());
    // A dry run writes nothing, so it runs beside a worker.
    let _lock = if dry_run {
        None
    } else {
        match worker_lock(&store, args.wait, &cancel).await? {
            Some(lock) => lock,
            None => return Ok(EXIT_OK),
        }
    };

    // A dry run sends nothing, so it starts no simulator either.
    let target = if dry_run {
        None
    } else {
        Some(rehearsal.graph(&store).await?)
    };
    let graph_config = match &target {
        Some(target) => target.config.clone(),
        None => GraphConfig::from_env().map_err(CliError::unusable)?,
    };
    let graph = GraphClient::new(graph_config)
        .map_err(|e| CliError::unusable(format!("cannot set up the Graph client: {e}")))?;
    let config = WorkerConfig {
        url: choice.url.clone(),
        store_options: store_options()?,
        graph,
        sync: SyncOptions {
            concurrency: args.concurrency as usize,
            payload: PayloadOptions::default(),
            credentials_override,
        },
        interval,
        stale_every: Duration::from_secs_f64(args.stale_every),
        once: args.once,
        policy: RetryPolicy {
            first_wait: Duration::from_secs_f64(args.retry_after),
            longest_wait: Duration::from_secs_f64(args.retry_max_wait.max(args.retry_after)),
            max_attempts: args.max_attempts,
        },
        simulated: rehearsal.simulated(),
    };
    let Some(target) = target else {
        return print_dry_run(&store, &config).await;
    };
    if let Some(addr) = args.metrics {
        let listener = metrics::bind(addr).await.map_err(CliError::unusable)?;
        let bound = listener.local_addr().unwrap_or(addr);
        tracing::info!(target: TARGET, "metrics on http://{bound}/metrics and /healthz");
        metrics::serve(listener, metrics.clone());
    }
    let ran = worker_loop::run(config, store, metrics, cancel).await;
    target.shutdown().await;
    ran.map(|()| EXIT_OK).map_err(CliError::failed)
}

/// SQLite allows one worker per database file: a second is refused in one line, or waits with
/// `--wait` (until the first stops, or this one is asked to). None: stopped while waiting.
async fn worker_lock(
    store: &Store,
    wait: bool,
    cancel: &CancellationToken,
) -> Result<Option<Option<WorkerLock>>, CliError> {
    let mut said = false;
    loop {
        match store.worker_lock().await {
            Ok(lock) => return Ok(Some(lock)),
            Err(StoreError::Busy(holder)) if wait => {
                if !said {
                    tracing::info!(target: TARGET, "{holder}; waiting for it to stop…");
                    said = true;
                }
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(None),
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
            Err(StoreError::Busy(holder)) => {
                return Err(CliError::unusable(format!(
                    "{holder}; stop it first or run with --wait"
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn print_dry_run(store: &Store, config: &WorkerConfig) -> Result<i32, CliError> {
    let engine = crate::sync::Engine::new(store.clone(), config.graph.clone(), config.sync.clone());
    let cleanup = Cleanup::default();
    let watch = Watch::default();
    let pass = Pass {
        engine: &engine,
        cleanup: &cleanup,
        watch: &watch,
        policy: config.policy,
        simulated: config.simulated,
        sweep: true,
    };
    let (plan, cleanup_users, _detection): (Plan, usize, _) = pass
        .plan()
        .await
        .map_err(|e| CliError::failed(format!("cannot plan a pass: {e}")))?;
    let mut out = Output::default();
    out.line("=== DRY RUN: what the next pass would do (nothing is written) ===")?;
    for (what, ids) in [
        ("sync new", &plan.new),
        ("retry", &plan.retries),
        ("update stale", &plan.stale),
    ] {
        if ids.is_empty() {
            out.line(&format!("Would {what}: 0"))?;
        } else {
            out.line(&format!(
                "Would {what}: {} ({})",
                ids.len(),
                describe_ids(ids)
            ))?;
        }
    }
    if plan.rechecks > 0 {
        out.line(&format!(
            "Of the retries, {} parked failures whose user, slot zone or integration changed",
            plan.rechecks
        ))?;
    }
    out.line(&format!(
        "Would park: {} (failures of a permanent cause)",
        plan.parked
    ))?;
    out.line(&format!(
        "Would look for leftover events of cancelled selections: {cleanup_users} users"
    ))?;
    out.flush()?;
    Ok(EXIT_OK)
}

/// First Ctrl-C or SIGTERM (how systemd, cron and Kubernetes stop a service): finish what is
/// in flight, record it, exit 0. A second one leaves at once (rows in flight stay untouched,
/// never half-written).
fn watch_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        if let Some(signal) = crate::signals::stop_requested().await {
            tracing::info!(
                target: TARGET,
                "{signal}: stopping after the work in flight (again to quit now)"
            );
            cancel.cancel();
            if let Some(again) = crate::signals::stop_requested().await {
                let _ = std::io::stderr().flush();
                std::process::exit(again.exit_code());
            }
        }
    });
}
