//! `bench sync` as a user runs it: the `calsync sync` command itself, spawned with nothing but
//! the database (the CLI's defaults, no flags), against the simulated Graph, which it finds
//! through `CALSYNC_GRAPH_URL` and `CALSYNC_LOGIN_URL` as a deployment finds Graph. Timed from
//! the spawn to the exit, so process start, opening the store, claims and the audit trail count;
//! beside it the CPU the command used and the simulator's (the bench process's) meanwhile.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::cpu::{CpuClock, CpuSpent};
use super::scratch_lms::{create_lms_db, recorded_events};
use super::world::{Counts, Spec, observe};
use crate::commands::CliError;
use crate::graph::{ENV_GRAPH_CA_FILE, ENV_GRAPH_URL, ENV_LOGIN_URL};
use crate::sim::SimHandle;

pub(super) async fn sync_command_run(
    sim: &SimHandle,
    path: &Path,
    spec: &Spec,
    problems: &mut Vec<String>,
) -> Result<(Duration, Counts, u64, CpuSpent), CliError> {
    sim.state().reset();
    create_lms_db(path, spec).await?;
    let Spawned {
        output,
        took,
        peak_rss_kib,
        cpu,
    } = spawn_as_a_user(sim, path, &["sync", "--json"]).await?;
    if !output.status.success() {
        problems.push(format!(
            "calsync sync exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let recorded = recorded_events(path).await?;
    Ok((
        took,
        observe(sim, "calsync sync", spec.selections, recorded, problems),
        peak_rss_kib,
        cpu,
    ))
}

/// A calsync command as it ran: its output, wall time, peak memory and CPU.
pub(super) struct Spawned {
    pub output: std::process::Output,
    pub took: Duration,
    pub peak_rss_kib: u64,
    pub cpu: CpuSpent,
}

/// Runs the calsync binary with `args` on the database at `path`, against the simulator (found
/// through `CALSYNC_GRAPH_URL`/`CALSYNC_LOGIN_URL`, its certificate through
/// `CALSYNC_GRAPH_CA_FILE` over TLS), timed from spawn to exit.
pub(super) async fn spawn_as_a_user(
    sim: &SimHandle,
    path: &Path,
    args: &[&str],
) -> Result<Spawned, CliError> {
    let what = format!("calsync {}", args.first().copied().unwrap_or_default());
    let exe = std::env::current_exe()
        .map_err(|e| CliError::failed(format!("cannot find the calsync binary: {e}")))?;
    let cpu_before = CpuClock::now();
    let started = Instant::now();
    let mut command = tokio::process::Command::new(exe);
    if let Some(file) = sim.certificate_file() {
        command.env(ENV_GRAPH_CA_FILE, file);
    }
    let child = command
        .arg("--database-url")
        .arg(path)
        .args(args)
        .env(ENV_GRAPH_URL, sim.graph_url())
        .env(ENV_LOGIN_URL, sim.login_url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::failed(format!("cannot start {what}: {e}")))?;
    let sampler = child.id().map(|pid| tokio::spawn(peak_rss_kib(pid)));
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| CliError::failed(format!("{what}: {e}")))?;
    let took = started.elapsed();
    let cpu = CpuClock::now().since(cpu_before);
    let peak_rss_kib = match sampler {
        Some(task) => task.await.unwrap_or(0),
        None => 0,
    };
    Ok(Spawned {
        output,
        took,
        peak_rss_kib,
        cpu,
    })
}

/// The process's peak resident memory (`VmHWM`), read until the process is gone (the last
/// reading is within 10 ms of its exit).
pub(super) async fn peak_rss_kib(pid: u32) -> u64 {
    let status = format!("/proc/{pid}/status");
    let mut peak = 0;
    while let Ok(text) = tokio::fs::read_to_string(&status).await {
        let hwm = text
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok());
        match hwm {
            Some(kib) => peak = kib,
            // A zombie has no memory lines left: it has exited.
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    peak
}
