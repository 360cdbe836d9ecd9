//! `calsync bench verify`: the drift check on a demo database whose simulated mailboxes are
//! filled the way the LMS left them. calsync's `$batch` lookups are measured against the
//! baseline a straightforward check would be (one GET per event, as many in flight), in the
//! same run, against the same simulator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::shared::demo_database;
use crate::cli::{BenchVerifyArgs, EXIT_OK};
use crate::commands::{CliError, Output, store_options};
use crate::demo::{SimulatorSettings, seed_simulator, start_simulator};
use crate::domain::Filter;
use crate::graph::{GraphClient, GraphConfig};
use crate::sim::{Latency, SimHandle};
use crate::store::{DatabaseUrl, Store};
use crate::sync::credentials::{Holder, RunCredentials};
use crate::sync::verify::{Verifier, VerifyOptions, verifiable};

/// What one way of checking found, to be sure every mode did the same work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    present: usize,
    missing: usize,
    unchecked: usize,
}

struct Mode {
    name: &'static str,
    /// Lookups in flight at once.
    concurrency: usize,
    batched: bool,
    /// Writes what it sees into the ledger, as `calsync verify` does.
    record: bool,
}

const MODES: [Mode; 4] = [
    Mode {
        name: "one GET per event, 64 (baseline)",
        concurrency: 64,
        batched: false,
        record: false,
    },
    Mode {
        name: "one GET per event, 400",
        concurrency: 400,
        batched: false,
        record: false,
    },
    Mode {
        name: "calsync verify, read-only, 400",
        concurrency: 400,
        batched: true,
        record: false,
    },
    Mode {
        name: "calsync verify, ledger written, 400",
        concurrency: 400,
        batched: true,
        record: true,
    },
];

pub async fn run(args: &BenchVerifyArgs) -> Result<i32, CliError> {
    let mut out = Output::default();
    let (path, _) = demo_database(&args.db, args.selections).await?;
    // A migrated copy, so the ledger is written as `calsync verify` writes it; the demo
    // database itself is left as it was.
    let scratch = tempfile::Builder::new()
        .prefix("calsync-bench-verify-")
        .tempdir()
        .map_err(|e| CliError::unusable(format!("cannot create a scratch directory: {e}")))?;
    let copy = scratch.path().join("verify.db");
    std::fs::copy(&path, &copy)
        .map_err(|e| CliError::unusable(format!("cannot copy {}: {e}", path.display())))?;
    let store = Store::open(&DatabaseUrl::Sqlite(copy), &store_options()?).await?;
    store.migrate_up(chrono::Utc::now()).await?;
    let sim = start_simulator(SimulatorSettings {
        port: 0,
        latency: Latency::fixed(Duration::from_millis(args.latency_ms)),
        fault_rate: 0.0,
    })
    .await
    .map_err(|e| CliError::unusable(format!("cannot start the simulated Graph: {e}")))?;
    let seeded = seed_simulator(&store, &sim)
        .await
        .map_err(CliError::unusable)?;
    let ids = store.selection_ids(&verifiable(Filter::default())).await?;
    out.line(&format!(
        "{} added selections in {} ({} events in the simulated mailboxes, {} deleted in \
         Outlook); {} ms added to every Graph request; median of {} runs",
        ids.len(),
        path.display(),
        seeded.events,
        seeded.deleted_in_outlook,
        args.latency_ms,
        args.runs
    ))?;
    out.line("")?;
    out.line(&format!(
        "{:<34} {:>9} {:>12} {:>10} {:>9} {:>14}",
        "mode", "in flight", "median (ms)", "events/s", "vs base", "HTTP requests"
    ))?;
    out.flush()?;

    // The runs of calsync's two modes alternate (read-only, ledger written, read-only, …), so
    // the ratio compares runs of the same minutes on a machine whose load moves.
    let order: Vec<usize> = (0..MODES.len())
        .filter(|&m| !MODES[m].batched)
        .flat_map(|m| std::iter::repeat_n(m, args.runs as usize))
        .chain((0..args.runs).flat_map(|_| (0..MODES.len()).filter(|&m| MODES[m].batched)))
        .collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); MODES.len()];
    let mut http = vec![0; MODES.len()];
    let mut agreed: Option<Found> = None;
    for m in order {
        let mode = &MODES[m];
        let before = sim.state().stats();
        let (took, found) = if mode.batched {
            batched(&store, &sim, &ids, mode).await?
        } else {
            one_by_one(&store, &sim, &ids, mode.concurrency).await?
        };
        if *agreed.get_or_insert(found) != found {
            return Err(CliError::failed(format!(
                "{} found {found:?}, another mode {agreed:?}",
                mode.name
            )));
        }
        times[m].push(took);
        let after = sim.state().stats();
        // Batch items count as Graph requests too; the HTTP requests are the envelopes.
        http[m] = if mode.batched {
            after.batches - before.batches
        } else {
            after.total_requests() - before.total_requests()
        };
    }
    let mut baseline: Option<Duration> = None;
    let mut read_only: Option<Duration> = None;
    for (m, mode) in MODES.iter().enumerate() {
        let times = &mut times[m];
        times.sort();
        let median = times[times.len() / 2];
        let base = *baseline.get_or_insert(median);
        if mode.batched && !mode.record {
            read_only = Some(median);
        }
        out.line(&format!(
            "{:<34} {:>9} {:>12.0} {:>10.0} {:>8.1}x {:>14}",
            mode.name,
            mode.concurrency,
            median.as_secs_f64() * 1000.0,
            ids.len() as f64 / median.as_secs_f64().max(1e-9),
            base.as_secs_f64() / median.as_secs_f64().max(1e-9),
            http[m]
        ))?;
        if mode.record
            && let Some(read_only) = read_only
        {
            out.line(&format!(
                "{:<34} {:>9} {:>12.2}x   (goal: ≤ 1.2x its read-only run)",
                "  ledger written / read-only",
                "",
                median.as_secs_f64() / read_only.as_secs_f64().max(1e-9)
            ))?;
        }
    }
    if let Some(found) = agreed {
        out.line("")?;
        out.line(&format!(
            "Every mode found {} present, {} missing, {} not checked.",
            found.present, found.missing, found.unchecked
        ))?;
    }
    out.flush()?;
    sim.shutdown().await;
    Ok(EXIT_OK)
}

fn client(sim: &SimHandle) -> Result<GraphClient, CliError> {
    GraphClient::new(GraphConfig {
        graph_url: sim.graph_url(),
        login_url: sim.login_url(),
        ..GraphConfig::default()
    })
    .map_err(|e| CliError::failed(format!("cannot set up the Graph client: {e}")))
}

/// calsync's verifier, writing the ledger or only reading as `mode` says.
async fn batched(
    store: &Store,
    sim: &SimHandle,
    ids: &[i64],
    mode: &Mode,
) -> Result<(Duration, Found), CliError> {
    let verifier = Verifier::new(
        store.clone(),
        client(sim)?,
        VerifyOptions {
            concurrency: mode.concurrency,
            record: mode.record,
            ..VerifyOptions::default()
        },
    );
    let (events, _rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let summary = verifier
        .run(ids.to_vec(), events, CancellationToken::new())
        .await
        .map_err(CliError::failed)?;
    Ok((
        started.elapsed(),
        Found {
            present: summary.present,
            missing: summary.missing,
            unchecked: summary.unchecked,
        },
    ))
}

/// The baseline: every event looked up with its own GET, `concurrency` at once.
async fn one_by_one(
    store: &Store,
    sim: &SimHandle,
    ids: &[i64],
    concurrency: usize,
) -> Result<(Duration, Found), CliError> {
    let graph = client(sim)?;
    let started = Instant::now();
    let credentials = Arc::new(
        RunCredentials::load(store, None)
            .await
            .map_err(|e| CliError::failed(e.to_string()))?,
    );
    let rows = store.selections_by_id(ids, &Filter::default()).await?;
    let in_flight = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    let mut found = Found {
        present: 0,
        missing: 0,
        unchecked: 0,
    };
    for row in rows.into_values() {
        let event_id = row.sync.outlook_event_id.clone().unwrap_or_default();
        // The same order of checks as the verifier's.
        if row.email.trim().is_empty() {
            found.unchecked += 1;
            continue;
        }
        if event_id.is_empty() {
            found.missing += 1;
            continue;
        }
        let Ok(creds) = credentials.for_holder(&Holder {
            user_id: row.user_id,
            username: &row.username,
            branch_id: row.branch_id,
            branch_name: row.branch_name.as_deref(),
        }) else {
            found.unchecked += 1;
            continue;
        };
        let permit = Arc::clone(&in_flight)
            .acquire_owned()
            .await
            .map_err(|e| CliError::failed(e.to_string()))?;
        let graph = graph.clone();
        tasks.spawn(async move {
            let result = graph.get_event(&creds, row.email.trim(), &event_id).await;
            drop(permit);
            result
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(Some(_))) => found.present += 1,
            Ok(Ok(None)) => found.missing += 1,
            _ => found.unchecked += 1,
        }
    }
    Ok((started.elapsed(), found))
}
