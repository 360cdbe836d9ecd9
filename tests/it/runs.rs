//! Helpers for tests that run `calsync sync` as a real process against an in-process simulated
//! Graph and look at what the mailboxes and the rows hold afterwards.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use calsync::domain::{Filter, SyncState};
use calsync::sim::{Latency, SimConfig, SimHandle};
use calsync::store::Store;

/// The learners `add_learners` made: users 100.. with one selection each (1000, 1002, …).
pub const LEARNERS: i64 = 60;

pub fn learner_mailbox(user: i64) -> String {
    format!("learner{user}@example.org")
}

pub fn learner_selection(user: i64) -> i64 {
    1000 + (user - 100) * 2
}

/// The fixture's tenant with Graph's de-duplication on `transactionId` switched off (Graph
/// docs: api-reference/v1.0/resources/event.md documents `transactionId` but no window in which
/// a repeated create is recognised) and `latency` on every request.
pub fn without_dedupe(latency_ms: u64) -> SimConfig {
    SimConfig {
        transaction_id_dedup: false,
        latency: Latency::fixed(Duration::from_millis(latency_ms)),
        ..crate::sync::sim_config()
    }
}

pub fn graph_env(sim: &SimHandle) -> Vec<(&'static str, String)> {
    vec![
        ("CALSYNC_GRAPH_URL", sim.graph_url()),
        ("CALSYNC_LOGIN_URL", sim.login_url()),
    ]
}

/// `calsync --database-url URL sync ARGS…`, started and left running.
pub fn spawn_sync(url: &str, sim: &SimHandle, args: &[&str], env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args(["--database-url", url, "sync"])
        .args(args)
        .envs(graph_env(sim))
        .envs(env.iter().copied())
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start calsync sync")
}

/// `calsync sync ARGS…` to the end: (exit code, stdout, stderr).
pub fn run_sync(
    url: &str,
    sim: &SimHandle,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let output = spawn_sync(url, sim, args, env)
        .wait_with_output()
        .expect("wait for calsync sync");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Waits until at least `n` learner rows are added (at most 30 s).
pub async fn wait_until_added(store: &Store, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while learners_added(store).await < n {
        assert!(Instant::now() < deadline, "the run never added {n} rows");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Events in the learners' mailboxes, all together.
pub fn learner_events(sim: &SimHandle) -> usize {
    (100..100 + LEARNERS)
        .map(|user| sim.state().events(&learner_mailbox(user)).len())
        .sum()
}

/// Learner rows whose result is recorded (added).
pub async fn learners_added(store: &Store) -> usize {
    let ids: Vec<i64> = (100..100 + LEARNERS).map(learner_selection).collect();
    store
        .selections_by_id(&ids, &Filter::default())
        .await
        .expect("read the learner rows")
        .values()
        .filter(|row| row.state() == SyncState::Added)
        .count()
}

/// Every learner has exactly one event, and its row is added and points to it.
pub async fn assert_one_event_per_learner(sim: &SimHandle, store: &Store) {
    for user in 100..100 + LEARNERS {
        let events = sim.state().events(&learner_mailbox(user));
        assert_eq!(
            events.len(),
            1,
            "learner{user} has exactly one event: {events:?}"
        );
        let row = store
            .selection(learner_selection(user))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.state(),
            SyncState::Added,
            "learner{user}: {:?}",
            row.sync
        );
        // The row holds the LMS's format of the event's id: its REST id.
        let event_id = events[0]["id"].as_str().unwrap_or_default();
        assert_eq!(
            row.sync.outlook_event_id,
            sim.state().rest_id_of(&learner_mailbox(user), event_id),
            "learner{user}'s row points to its one event"
        );
    }
}

/// Sends `signal` (`-TERM`, `-INT`, …) to `child`.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal}");
}

/// Whether this process may mount file systems (tests of read-only files and full disks need
/// real mounts, because root ignores file modes).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

pub fn mount(args: &[&str]) {
    let output = Command::new("mount")
        .args(args)
        .output()
        .expect("run mount");
    assert!(
        output.status.success(),
        "mount {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn umount(path: &std::path::Path) {
    let _ = Command::new("umount").arg(path).status();
}
