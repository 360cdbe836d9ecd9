//! The lag half of `bench worker`: a `calsync worker` process on the settled copy, talking HTTP
//! to the simulated Graph, while the bench inserts new selections at a steady rate as the LMS
//! does; each row's lag runs from its insert's commit to its event in the simulated mailbox.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;

use super::worker_db::{Scratch, id_list};
use crate::cli::BenchWorkerArgs;
use crate::commands::CliError;
use crate::demo::{EXPIRED_SECRET_TENANT, SimulatorSettings, mailbox_state, start_simulator};
use crate::domain::{Filter, SyncState};
use crate::sim::{Latency, MailboxState};
use crate::store::{Store, django_datetime, sql};

/// How long a row may wait for its event before it counts as missed.
const GIVE_UP: Duration = Duration::from_secs(60);
/// How long the worker's first pass (a sweep of every row) may take.
const FIRST_PASS: Duration = Duration::from_secs(600);

/// Where a new row goes: a learner with a mailbox, on a slot of a conference that uses slots.
#[derive(Debug, Clone)]
pub(super) struct Arrival {
    user_id: i64,
    slot_id: i64,
    conference_id: i64,
    email: String,
}

#[derive(Debug, Default, Serialize)]
pub(super) struct Lag {
    pub rows: usize,
    pub median_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Rows without an event after a minute.
    pub missed: usize,
}

/// Takes `n` added selections of distinct users who have a mailbox, and deletes them: the
/// bench inserts them again, as new rows, while the worker runs.
pub(super) async fn take_arrivals(
    scratch: &Scratch,
    store: &Store,
    n: u32,
) -> Result<Vec<Arrival>, CliError> {
    let ids = store
        .selection_ids(&Filter {
            states: vec![SyncState::Added],
            ..Filter::default()
        })
        .await?;
    let mut arrivals = Vec::new();
    let mut taken = Vec::new();
    let mut users = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        if arrivals.len() >= n as usize {
            break;
        }
        let rows = store.selections_by_id(chunk, &Filter::default()).await?;
        for id in chunk {
            let Some(row) = rows.get(id) else { continue };
            let usable = row.use_time_slots
                && mailbox_state(&row.email) == MailboxState::Ok
                && !row
                    .email
                    .to_ascii_lowercase()
                    .ends_with(EXPIRED_SECRET_TENANT)
                && users.insert(row.user_id);
            if usable && arrivals.len() < n as usize {
                taken.push(*id);
                arrivals.push(Arrival {
                    user_id: row.user_id,
                    slot_id: row.time_slot_id,
                    conference_id: row.conference_id,
                    email: row.email.clone(),
                });
            }
        }
    }
    if arrivals.len() < n as usize {
        return Err(CliError::failed(format!(
            "the demo database has only {} selections fit to arrive again",
            arrivals.len()
        )));
    }
    scratch
        .exec(&format!(
            "DELETE FROM {} WHERE id IN ({})",
            sql::SELECTION,
            id_list(&taken)
        ))
        .await?;
    Ok(arrivals)
}

/// The worker as a process, stopped (SIGTERM, then SIGKILL) when dropped.
struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) async fn measure_lag(
    scratch: &Scratch,
    store: &Store,
    arrivals: &[Arrival],
    args: &BenchWorkerArgs,
) -> Result<Lag, CliError> {
    let sim = start_simulator(SimulatorSettings {
        port: 0,
        latency: Latency::fixed(Duration::from_millis(args.latency_ms)),
        fault_rate: 0.0,
    })
    .await
    .map_err(|e| CliError::unusable(format!("cannot start the simulated Graph: {e}")))?;
    let exe = std::env::current_exe().map_err(|e| CliError::failed(e.to_string()))?;
    let log = tempfile::NamedTempFile::new().map_err(|e| CliError::failed(e.to_string()))?;
    let stderr = log.reopen().map_err(|e| CliError::failed(e.to_string()))?;
    let url = scratch.url_text();
    let interval = args.interval.to_string();
    let child = Command::new(exe)
        .args(["--database-url", &url, "worker", "--interval", &interval])
        .env_remove("DATABASE_URL")
        .env_remove("CALSYNC_CONFIG")
        .env("CALSYNC_GRAPH_URL", sim.graph_url())
        .env("CALSYNC_LOGIN_URL", sim.login_url())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| CliError::failed(format!("cannot start the worker: {e}")))?;
    let worker = WorkerProcess(child);
    wait_for_first_pass(store, &log).await?;
    let lag = arrive(scratch, store, arrivals, args, &sim).await;
    drop(worker);
    sim.shutdown().await;
    lag
}

async fn wait_for_first_pass(store: &Store, log: &tempfile::NamedTempFile) -> Result<(), CliError> {
    let deadline = Instant::now() + FIRST_PASS;
    loop {
        let workers = store.registered_workers().await?;
        if workers.iter().any(|w| w.last_pass_at.is_some()) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let text = std::fs::read_to_string(log.path()).unwrap_or_default();
            return Err(CliError::failed(format!(
                "the worker ended no pass in {} s: {}",
                FIRST_PASS.as_secs(),
                text.lines().last().unwrap_or("no log")
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Inserts the rows at the rate asked and waits for their events.
async fn arrive(
    scratch: &Scratch,
    store: &Store,
    arrivals: &[Arrival],
    args: &BenchWorkerArgs,
    sim: &crate::sim::SimHandle,
) -> Result<Lag, CliError> {
    let every = Duration::from_secs_f64(1.0 / args.rate);
    let mut next_id = store.selection_mark().await?.max_id + 1;
    let started = Instant::now();
    let mut pending: Vec<(&Arrival, Instant, usize)> = Vec::new();
    let mut lags: Vec<Duration> = Vec::new();
    let mut missed = 0;
    let mut sent = 0;
    while sent < arrivals.len() || !pending.is_empty() {
        if sent < arrivals.len() && started.elapsed() >= every * sent as u32 {
            let a = &arrivals[sent];
            let before = sim.state().event_count(&a.email);
            scratch
                .exec(&format!(
                    "INSERT INTO {} (id, outlook_event_id, calendar_added, \
                     calendar_add_attempted_at, calendar_error, selected_at, ip_address, \
                     conference_id, time_slot_id, user_id) VALUES ({next_id}, NULL, FALSE, \
                     NULL, NULL, '{}', NULL, {}, {}, {})",
                    sql::SELECTION,
                    django_datetime(Utc::now()),
                    a.conference_id,
                    a.slot_id,
                    a.user_id
                ))
                .await?;
            pending.push((a, Instant::now(), before));
            next_id += 1;
            sent += 1;
        }
        let now = Instant::now();
        pending.retain(|(a, at, before)| {
            if sim.state().event_count(&a.email) > *before {
                lags.push(now - *at);
                false
            } else if now - *at > GIVE_UP {
                missed += 1;
                false
            } else {
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lags.sort();
    let at = |q: f64| {
        lags.get(((lags.len() as f64 - 1.0) * q).round() as usize)
            .map_or(0.0, |d| super::shared::ms(*d))
    };
    Ok(Lag {
        rows: arrivals.len(),
        median_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: at(1.0),
        missed,
    })
}
