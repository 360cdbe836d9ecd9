//! `calsync bench reconcile`: `calsync reconcile --dry-run` as a user runs it, the binary
//! spawned with nothing but the database and `--dry-run` (the CLI's defaults otherwise), against
//! the simulated Graph, which it finds through `CALSYNC_GRAPH_URL` and `CALSYNC_LOGIN_URL`. The
//! database is a copy of a demo database whose simulated mailboxes hold the events the LMS left
//! (as `bench verify` fills them). Beside it, the floor for the very requests the run made,
//! read from the simulator's counters of the same run.
//!
//! The floor is the least time Graph's limits allow: one token round trip, then each mailbox's
//! requests (calendarView pages and translateExchangeIds) at Graph's 4 in flight per mailbox
//! (concepts/throttling-limits.md, "Outlook service limits": "Four concurrent requests"), every
//! mailbox at once: L × (1 + the most ceil(requests / 4) of any mailbox). It leaves out that a
//! calendarView's next page is known only from the page before, so no client reaches it.

use std::path::Path;
use std::time::Duration;

use super::as_a_user::{Spawned, spawn_as_a_user};
use super::cpu::CpuSpent;
use super::shared::{demo_database, ms};
use crate::cli::{BenchReconcileArgs, EXIT_OK};
use crate::commands::{CliError, Output, store_options};
use crate::demo::{SimulatorSettings, seed_simulator, start_simulator};
use crate::graph::MAILBOX_CONCURRENCY;
use crate::sim::{Latency, SimHandle, SimStats};
use crate::store::{DatabaseUrl, Store};

/// One run of the command, with what the simulator saw of it.
struct Run {
    took: Duration,
    peak_rss_kib: u64,
    mailboxes: usize,
    /// Mailboxes the command gave up on (after its retries).
    mailboxes_failed: u64,
    graph_requests: u64,
    token_requests: u64,
    /// Waves of 4 of the mailbox with the most requests.
    waves: u64,
    mean_in_flight: f64,
    peak_in_flight: usize,
    throttled: u64,
    /// CPU of the command, and of the simulator (the bench's process) meanwhile.
    cpu: CpuSpent,
}

pub async fn run(args: &BenchReconcileArgs) -> Result<i32, CliError> {
    let mut out = Output::default();
    let (path, _) = demo_database(&args.db, args.selections).await?;
    let scratch = tempfile::Builder::new()
        .prefix("calsync-bench-reconcile-")
        .tempdir()
        .map_err(|e| CliError::unusable(format!("cannot create a scratch directory: {e}")))?;
    let copy = scratch.path().join("reconcile.db");
    std::fs::copy(&path, &copy)
        .map_err(|e| CliError::unusable(format!("cannot copy {}: {e}", path.display())))?;
    not_a_demo(&copy).await?;
    let store = Store::open(&DatabaseUrl::Sqlite(copy.clone()), &store_options()?).await?;
    let latency = Duration::from_millis(args.latency_ms);
    let sim = start_simulator(SimulatorSettings {
        port: 0,
        latency: Latency::fixed(latency),
        fault_rate: args.fault_rate,
    })
    .await
    .map_err(|e| CliError::unusable(format!("cannot start the simulated Graph: {e}")))?;
    let seeded = seed_simulator(&store, &sim)
        .await
        .map_err(CliError::unusable)?;
    drop(store);
    out.line(&format!(
        "calsync reconcile --dry-run on a copy of {} ({} events in the simulated mailboxes); \
         {} ms added to every request, {:.1} % random 429/503/504; median of {} runs",
        path.display(),
        seeded.events,
        args.latency_ms,
        args.fault_rate * 100.0,
        args.runs
    ))?;
    out.flush()?;

    let mut runs = Vec::new();
    for _ in 0..args.runs {
        runs.push(command_run(&sim, &copy).await?);
    }
    sim.shutdown().await;
    runs.sort_by_key(|r| r.took);
    let median = &runs[runs.len() / 2];
    let floor = latency * u32::try_from(1 + median.waves).unwrap_or(u32::MAX);

    out.line("")?;
    out.line(&format!(
        "{} mailboxes scanned ({} given up on), {} Graph requests ({} token), {} waves of \
         {MAILBOX_CONCURRENCY} in the busiest mailbox, {} answered 429",
        median.mailboxes,
        median.mailboxes_failed,
        median.graph_requests,
        median.token_requests,
        median.waves,
        median.throttled
    ))?;
    out.line("")?;
    out.line(&format!(
        "{:<44} {:>11} {:>15} {:>15} {:>10}",
        "mode", "median (ms)", "mean in flight", "peak in flight", "peak RSS"
    ))?;
    out.line(&format!(
        "{:<44} {:>11.0} {:>15.1} {:>15} {:>7} MB",
        "calsync reconcile --dry-run (CLI defaults)",
        ms(median.took),
        median.mean_in_flight,
        median.peak_in_flight,
        median.peak_rss_kib / 1024
    ))?;
    out.line(&format!(
        "{:<44} {:>11.0} {:>15}",
        "floor",
        ms(floor),
        4 * median.mailboxes
    ))?;
    out.line(&format!(
        "  floor = {} ms (one token round trip) + {} waves of {MAILBOX_CONCURRENCY} × {} ms",
        args.latency_ms, median.waves, args.latency_ms
    ))?;
    out.line(&format!(
        "CPU (user + system) of the median run: calsync reconcile {:.0} ms ({:.0} µs per Graph \
         request), the simulator meanwhile {:.0} ms ({:.0} µs per request); wall {:.0} ms",
        median.cpu.command_ms,
        median.cpu.command_us_per(median.graph_requests),
        median.cpu.bench_ms,
        median.cpu.bench_us_per(median.graph_requests),
        ms(median.took)
    ))?;
    out.line("")?;
    if floor.is_zero() {
        out.line("reconcile --dry-run / floor = - (the floor is 0 ms without latency)")?;
    } else {
        out.line(&format!(
            "reconcile --dry-run / floor = {:.2}×  (goal: ≤ 2×; runs {})",
            median.took.as_secs_f64() / floor.as_secs_f64(),
            runs.iter()
                .map(|r| format!("{:.2}×", r.took.as_secs_f64() / floor.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
    }
    out.flush()?;
    Ok(EXIT_OK)
}

/// Unmarks the copy as a demo database, so the command talks to the bench's simulator and
/// not to a simulated Graph of its own.
async fn not_a_demo(copy: &Path) -> Result<(), CliError> {
    let copy = copy.to_path_buf();
    tokio::task::spawn_blocking(move || {
        rusqlite::Connection::open(&copy)?.execute_batch("PRAGMA application_id = 0")
    })
    .await
    .map_err(|e| CliError::failed(e.to_string()))?
    .map_err(|e| CliError::failed(format!("SQLite: {e}")))
}

/// `calsync reconcile --dry-run --json` spawned as a user runs it, timed from spawn to exit.
async fn command_run(sim: &SimHandle, db: &Path) -> Result<Run, CliError> {
    let before = sim.state().stats();
    let Spawned {
        output,
        took,
        peak_rss_kib,
        cpu,
    } = spawn_as_a_user(sim, db, &["reconcile", "--dry-run", "--json"]).await?;
    // Exit 1 is a run that found something (or failed on some mailboxes): still a run.
    let summary = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .and_then(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|s| s.get("mailboxes_scanned").is_some());
    let Some(summary) = summary.filter(|_| matches!(output.status.code(), Some(0 | 1))) else {
        return Err(CliError::failed(format!(
            "calsync reconcile --dry-run exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    };
    let after = sim.state().stats();
    let mut run = observe(&before, &after, took, peak_rss_kib);
    run.mailboxes_failed = summary["mailboxes_failed"].as_u64().unwrap_or(0);
    run.cpu = cpu;
    Ok(run)
}

/// What the simulator counted between `before` and `after`.
fn observe(before: &SimStats, after: &SimStats, took: Duration, peak_rss_kib: u64) -> Run {
    let mut mailboxes = 0;
    let mut graph_requests = 0;
    let mut waves = 0;
    for (address, m) in &after.mailboxes {
        let earlier = before.mailboxes.get(address).map_or(0, |b| b.requests);
        let requests = m.requests - earlier;
        if requests == 0 {
            continue;
        }
        mailboxes += 1;
        graph_requests += requests;
        waves = waves.max(requests.div_ceil(MAILBOX_CONCURRENCY as u64));
    }
    Run {
        took,
        peak_rss_kib,
        mailboxes,
        mailboxes_failed: 0,
        graph_requests,
        token_requests: after.token_requests - before.token_requests,
        waves,
        mean_in_flight: after.mean_in_flight(Some(before)),
        peak_in_flight: after.peak_in_flight,
        throttled: after.total_throttled() - before.total_throttled(),
        cpu: CpuSpent::default(),
    }
}
