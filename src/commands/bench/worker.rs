//! `calsync bench worker`: on a copy of the 1M-row demo database, settled as a worker leaves
//! it, the database time of a quiet pass (and of a sweep, and of the pass before the watch,
//! which read every list whole, as the baseline), then the lag from a new row to its event
//! while rows arrive at a steady rate, with the worker a real process talking HTTP to the
//! simulated Graph. On SQLite, and on PostgreSQL with `--postgres`.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::shared::{demo_database, ms};
use super::worker_db::Scratch;
use super::worker_lag::{Lag, measure_lag};
use crate::cli::{BenchWorkerArgs, EXIT_OK};
use crate::commands::{CliError, Output};
use crate::domain::{Cause, Filter};
use crate::graph::{GraphClient, GraphConfig};
use crate::store::{DatabaseUrl, Store};
use crate::sync::{Engine, SyncOptions};
use crate::worker::depends::integrations_digest;
use crate::worker::schedule::RetryPolicy;
use crate::worker::{Cleanup, Pass, Plan, Watch};

/// One backend's figures.
#[derive(Debug, Serialize)]
struct Report {
    backend: &'static str,
    selections: u64,
    parked: u64,
    /// A quiet pass's database time, median of the runs, ms.
    quiet_pass_ms: f64,
    quiet_pass_questions: Vec<(String, f64)>,
    /// A sweep of every row, ms.
    sweep_ms: f64,
    sweep_questions: Vec<(String, f64)>,
    /// The pass before the watch (every list read whole on every pass), ms.
    before_watch_ms: f64,
    lag: Lag,
}

pub async fn run(args: &BenchWorkerArgs) -> Result<i32, CliError> {
    let mut out = Output::default();
    let (path, generated) = demo_database(&args.db, args.selections).await?;
    if let Some(took) = generated {
        out.line(&format!(
            "generated the demo database with {} selections in {:.1} s",
            args.selections,
            took.as_secs_f64()
        ))?;
    }
    let mut reports = vec![measure(&mut out, args, Scratch::sqlite(&path).await?, "SQLite").await?];
    if let Some(text) = &args.postgres {
        let url = DatabaseUrl::parse(text).map_err(CliError::unusable)?;
        let DatabaseUrl::Postgres(target) = &url else {
            return Err(CliError::unusable("--postgres takes a postgres:// URL"));
        };
        super::pg::ensure_copy(target, &path)?;
        let scratch = Scratch::postgres(target).await?;
        reports.push(measure(&mut out, args, scratch, "PostgreSQL").await?);
    }
    if args.json {
        let json = serde_json::to_string(&reports)
            .map_err(|e| CliError::failed(format!("cannot write JSON: {e}")))?;
        out.line(&json)?;
    }
    out.flush()?;
    Ok(EXIT_OK)
}

async fn measure(
    out: &mut Output,
    args: &BenchWorkerArgs,
    scratch: Scratch,
    backend: &'static str,
) -> Result<Report, CliError> {
    let outcome = measure_on(out, args, &scratch, backend).await;
    scratch.remove().await;
    outcome
}

async fn measure_on(
    out: &mut Output,
    args: &BenchWorkerArgs,
    scratch: &Scratch,
    backend: &'static str,
) -> Result<Report, CliError> {
    let store = scratch.migrated_store().await?;
    let selections = store.count(&Filter::default()).await?;
    let arrivals = super::worker_lag::take_arrivals(scratch, &store, args.rows).await?;
    let parked = scratch.settle(&store).await?;
    let (before_watch, sweep, quiet) = quiet_pass(&store, args.runs).await?;
    let lag = measure_lag(scratch, &store, &arrivals, args).await?;
    let report = Report {
        backend,
        selections,
        parked,
        quiet_pass_ms: ms(quiet.0),
        quiet_pass_questions: questions(&quiet.1),
        sweep_ms: ms(sweep.0),
        sweep_questions: questions(&sweep.1),
        before_watch_ms: ms(before_watch),
        lag,
    };
    if !args.json {
        print_report(out, &report, args)?;
    }
    Ok(report)
}

fn print_report(out: &mut Output, r: &Report, args: &BenchWorkerArgs) -> Result<(), CliError> {
    let list = |qs: &[(String, f64)]| {
        qs.iter()
            .map(|(what, took)| format!("{what} {took:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.line(&format!(
        "calsync bench worker: {} selections, {}, {} build; {} failures parked",
        r.selections,
        r.backend,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        r.parked
    ))?;
    out.line(&format!(
        "  quiet pass (database time, median of {}) {:>9.1} ms   [{}]",
        args.runs,
        r.quiet_pass_ms,
        list(&r.quiet_pass_questions)
    ))?;
    out.line(&format!(
        "  sweep of every row                    {:>9.1} ms   [{}]",
        r.sweep_ms,
        list(&r.sweep_questions)
    ))?;
    out.line(&format!(
        "  a pass before the watch (baseline)    {:>9.1} ms   quiet pass {:.0}x cheaper",
        r.before_watch_ms,
        r.before_watch_ms / r.quiet_pass_ms.max(0.001)
    ))?;
    let lag = &r.lag;
    out.line(&format!(
        "  lag from a new row to its event: {} rows at {}/s, --interval {}: median {:.0} ms, \
         p99 {:.0} ms, max {:.0} ms; {} without an event",
        lag.rows, args.rate, args.interval, lag.median_ms, lag.p99_ms, lag.max_ms, lag.missed
    ))?;
    out.flush()
}

fn questions(timings: &[(&'static str, Duration)]) -> Vec<(String, f64)> {
    timings
        .iter()
        .map(|(what, took)| ((*what).to_string(), ms(*took)))
        .collect()
}

type Timed = (Duration, Vec<(&'static str, Duration)>);

/// The baseline, a sweep, and the median quiet pass (each with its questions).
async fn quiet_pass(store: &Store, runs: u32) -> Result<(Duration, Timed, Timed), CliError> {
    let before_watch = before_watch(store).await?;
    let graph =
        GraphClient::new(GraphConfig::default()).map_err(|e| CliError::unusable(e.to_string()))?;
    let engine = Engine::new(store.clone(), graph, SyncOptions::default());
    let cleanup = Cleanup::default();
    let watch = Watch::default();
    let pass = |sweep| Pass {
        engine: &engine,
        cleanup: &cleanup,
        watch: &watch,
        policy: RetryPolicy::default(),
        simulated: true,
        sweep,
    };
    let timed = |sweep| {
        let pass = pass(sweep);
        let watch = &watch;
        async move {
            let started = Instant::now();
            let (plan, users, detection) = pass
                .plan()
                .await
                .map_err(|e| CliError::failed(format!("cannot plan a pass: {e}")))?;
            let took = started.elapsed();
            if !plan.is_idle() || users > 0 {
                return Err(CliError::failed(format!(
                    "the settled database is not quiet: {} new, {} retries, {} stale, {} users \
                     with leftover events",
                    plan.new.len(),
                    plan.retries.len(),
                    plan.stale.len(),
                    users
                )));
            }
            let timings = detection.timings.clone();
            watch.commit(detection.seen, false);
            Ok::<Timed, CliError>((took, timings))
        }
    };
    let sweep = timed(true).await?;
    let mut quiet = Vec::new();
    for _ in 0..runs.max(1) {
        quiet.push(timed(false).await?);
    }
    quiet.sort_by_key(|(took, _)| *took);
    let median = quiet.swap_remove(quiet.len() / 2);
    Ok((before_watch, sweep, median))
}

/// What every pass asked before the watch: every list of the LMS's rows read whole, the
/// whole schedule, the parked entries' dependencies and the ledger's leftovers.
async fn before_watch(store: &Store) -> Result<Duration, CliError> {
    let permanent: Vec<Cause> = Cause::ALL
        .into_iter()
        .filter(|c| c.is_permanent())
        .collect();
    let started = Instant::now();
    store.selection_ids(&Plan::new_filter()).await?;
    store
        .selection_ids(&Filter {
            exclude_causes: permanent.clone(),
            ..Plan::retry_filter()
        })
        .await?;
    store
        .selection_ids(&Filter {
            causes: permanent,
            ..Plan::retry_filter()
        })
        .await?;
    store.selection_ids(&Plan::stale_filter()).await?;
    store.retry_entries().await?;
    let digest = integrations_digest(&store.active_credentials().await?);
    store.parked_with_changed_dependencies(&digest).await?;
    Cleanup::default()
        .users_to_check(store)
        .await
        .map_err(|e| CliError::failed(e.to_string()))?;
    Ok(started.elapsed())
}
