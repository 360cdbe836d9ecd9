//! `calsync worker` as a service runs it: a real spawned process against the simulated Graph
//! over HTTP, while the test changes the LMS's rows underneath it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use calsync::domain::SyncState;
use calsync::sim::{Fault, Latency, MailboxState, SimConfig, SimHandle, SimServer};
use calsync::store::Store;

use crate::cli::{assert_one_line_error, calsync};
use crate::on_both_backends;
use crate::support::{Backend, TestDb};
use crate::sync::{add_learners, sim_config};

/// A `calsync worker` process; its stderr (the log) goes to a file the test reads.
struct Worker {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Worker {
    fn spawn(db: &TestDb, sim: &SimHandle, args: &[&str]) -> Worker {
        Worker::spawn_with(db, sim, args, &[])
    }

    fn spawn_with(db: &TestDb, sim: &SimHandle, args: &[&str], env: &[(&str, &str)]) -> Worker {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("worker.log");
        let url = db.url_string();
        let mut all = vec!["--database-url", url.as_str(), "worker"];
        all.extend_from_slice(args);
        let child = Command::new(env!("CARGO_BIN_EXE_calsync"))
            .args(&all)
            .env_remove("DATABASE_URL")
            .env_remove("CALSYNC_CONFIG")
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("CALSYNC_GRAPH_URL", sim.graph_url())
            .env("CALSYNC_LOGIN_URL", sim.login_url())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Worker {
            child,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for the process to end; its exit code (None: still running at the deadline).
    fn wait_for_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn migrate(db: &TestDb) {
    let run = calsync(&["--database-url", &db.url_string(), "migrate"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// Polls `check` until it holds, failing with `what` after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn state_of(store: &Store, id: i64) -> SyncState {
    store.selection(id).await.unwrap().unwrap().state()
}

/// The learner rows `add_learners` made: selection 1000 + 2i for user 100 + i.
fn learner_selection(user: i64) -> i64 {
    1000 + (user - 100) * 2
}

fn mailbox(user: i64) -> String {
    format!("learner{user}@example.org")
}

/// The workers `calsync worker status --json` lists.
fn live_workers(db: &TestDb) -> usize {
    let status = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "worker",
            "status",
            "--json",
        ],
        &[],
    );
    assert_eq!(status.code, 0, "{}", status.stderr);
    let json: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
    json["workers"].as_array().map_or(0, Vec::len)
}

/// A plain HTTP/1.0 GET; (status, body).
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_needs_calsyncs_tables_and_says_so_in_one_line() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let run = calsync(
        &["--database-url", &db.url_string(), "worker", "--once"],
        &[],
    );
    assert_one_line_error(&run, "run `calsync migrate` first");
    let status = calsync(
        &["--database-url", &db.url_string(), "worker", "status"],
        &[],
    );
    assert_one_line_error(&status, "run `calsync migrate` first");
    migrate(&db);
    let bad = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "worker",
            "--interval",
            "0",
        ],
        &[],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("is not a number of seconds"),
        "{}",
        bad.stderr
    );
    let read_only = calsync(
        &["--database-url", &db.url_string(), "--read-only", "worker"],
        &[],
    );
    assert_one_line_error(&read_only, "--read-only: refusing to run the worker");
}

on_both_backends! {
    async fn new_selections_get_exactly_one_event_and_sigterm_drains(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        migrate(&db);
        let sim = SimServer::start(sim_config()).await.unwrap();
        let store = db.store().await;
        let mut worker = Worker::spawn(&db, &sim, &["--interval", "0.2"]);
        eventually(Duration::from_secs(20), "the worker has registered", || async {
            live_workers(&db) == 1
        })
        .await;

        // The LMS makes new selections while the worker runs.
        add_learners(&db, 8, false).await;
        eventually(Duration::from_secs(30), "every new selection is added", || async {
            for user in 100..108 {
                if state_of(&store, learner_selection(user)).await != SyncState::Added {
                    return false;
                }
            }
            true
        })
        .await;
        // Several more passes go by: still exactly one event per selection.
        tokio::time::sleep(Duration::from_millis(800)).await;
        for user in 100..108 {
            let events = sim.state().events(&mailbox(user));
            assert_eq!(events.len(), 1, "{} has exactly one event", mailbox(user));
            let row = store.selection(learner_selection(user)).await.unwrap().unwrap();
            assert!(row.sync.outlook_event_id.is_some());
        }

        let status = calsync(
            &["--database-url", &db.url_string(), "worker", "status", "--json"],
            &[],
        );
        assert_eq!(status.code, 0, "{}", status.stderr);
        let json: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
        let workers = json["workers"].as_array().unwrap();
        assert_eq!(workers.len(), 1, "{json}");
        assert_eq!(workers[0]["pid"], worker.child.id());
        assert!(workers[0]["passes"].as_u64().unwrap() >= 2, "{json}");
        assert!(workers[0]["synced"].as_u64().unwrap() >= 8, "{json}");
        assert!(workers[0]["last_pass_at"].is_string(), "{json}");
        assert!(json["retries"]["parked"].is_u64(), "{json}");

        // Passes that wrote are audited once each, as `worker`, with counts.
        let audit = calsync(
            &["--database-url", &db.url_string(), "audit", "--action", "worker", "--json"],
            &[],
        );
        assert_eq!(audit.code, 0, "{}", audit.stderr);
        let rows: Vec<serde_json::Value> = audit
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(!rows.is_empty());
        assert!(rows.len() < 8, "one row per pass, not per selection: {rows:?}");
        assert!(rows.iter().all(|r| r["scope"].as_str().unwrap().starts_with("worker pass: ")));

        let started = Instant::now();
        worker.signal("TERM");
        assert_eq!(worker.wait_for_exit(Duration::from_secs(10)), Some(0), "{}", worker.log());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(worker.log().contains("SIGTERM: stopping after the work in flight"), "{}", worker.log());
        let after = calsync(
            &["--database-url", &db.url_string(), "worker", "status", "--json"],
            &[],
        );
        let json: serde_json::Value = serde_json::from_str(after.stdout.trim()).unwrap();
        assert_eq!(json["workers"].as_array().unwrap().len(), 0, "a stopped worker leaves the registry");
    }
}

on_both_backends! {
    async fn a_transient_failure_is_retried_on_its_schedule_and_clears(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        migrate(&db);
        add_learners(&db, 1, false).await;
        let sim = SimServer::start(sim_config()).await.unwrap();
        // Both tries of the first attempt (CALSYNC_GRAPH_MAX_ATTEMPTS=2) get a 503.
        sim.state().push_fault(Fault::FailNext { mailbox: mailbox(100), count: 2, status: 503 });
        let store = db.store().await;
        let id = learner_selection(100);
        let _worker = Worker::spawn_with(
            &db,
            &sim,
            &["--interval", "0.2", "--retry-after", "2"],
            &[("CALSYNC_GRAPH_MAX_ATTEMPTS", "2")],
        );
        // The row's failure is written first, its schedule at the end of the pass.
        eventually(Duration::from_secs(20), "the first failure is scheduled", || async {
            store.retry_entries().await.unwrap().iter().any(|e| e.selection_id == id)
        })
        .await;
        assert_eq!(state_of(&store, id).await, SyncState::Failed);
        let entries = store.retry_entries().await.unwrap();
        let entry = entries.iter().find(|e| e.selection_id == id).expect("a retry entry");
        assert_eq!(entry.attempts, 1);
        assert!(!entry.cause.is_permanent(), "{:?}", entry.cause);
        assert!(!entry.is_parked());
        let wait = entry.next_attempt_at.unwrap() - entry.updated_at;
        // 2 s ± 25% jitter.
        assert!(
            (1500..=2500).contains(&wait.num_milliseconds()),
            "next attempt in {} ms",
            wait.num_milliseconds()
        );
        eventually(Duration::from_secs(20), "the retry succeeds", || async {
            state_of(&store, id).await == SyncState::Added
        })
        .await;
        // Judged on the row's own attempt time, not on when this test noticed the schedule: a
        // retry ignoring it would come at the next pass, 0.2 s after the failure.
        let retried_at = store.selection(id).await.unwrap().unwrap().sync.attempted_at.unwrap();
        let due = entry.next_attempt_at.unwrap();
        assert!(
            retried_at >= due - chrono::Duration::milliseconds(250),
            "retried at {retried_at}, before its time {due}"
        );
        assert_eq!(sim.state().events(&mailbox(100)).len(), 1);
        eventually(Duration::from_secs(5), "the entry leaves the schedule", || async {
            !store.retry_entries().await.unwrap().iter().any(|e| e.selection_id == id)
        })
        .await;
    }
}

on_both_backends! {
    async fn a_permanent_cause_is_parked_and_synced_once_the_lms_fixes_the_email(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        migrate(&db);
        add_learners(&db, 1, false).await;
        let sim = SimServer::start(sim_config()).await.unwrap();
        sim.state().set_mailbox_state(&mailbox(100), MailboxState::NoMailbox);
        let store = db.store().await;
        let id = learner_selection(100);
        let _worker = Worker::spawn(&db, &sim, &["--interval", "0.2", "--retry-after", "0.2"]);
        eventually(Duration::from_secs(20), "the failure is parked", || async {
            store
                .retry_entries()
                .await
                .unwrap()
                .iter()
                .any(|e| e.selection_id == id && e.is_parked())
        })
        .await;
        let entry = store
            .retry_entries()
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.selection_id == id)
            .unwrap();
        assert_eq!(entry.cause, calsync::domain::Cause::NoMailbox);
        assert_eq!(entry.attempts, 1, "parked at once, not retried");
        // Parked means left alone: passes go by without a request for it.
        let requests = sim.state().mailbox_stats(&mailbox(100)).requests;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(sim.state().mailbox_stats(&mailbox(100)).requests, requests);

        // Fixing the cause in the LMS is enough: the worker tries it once more by itself.
        db.exec("UPDATE users_customuser SET email = 'fixed100@example.org' WHERE id = 100").await;
        eventually(Duration::from_secs(20), "the fixed selection is added", || async {
            state_of(&store, id).await == SyncState::Added
        })
        .await;
        assert_eq!(sim.state().events("fixed100@example.org").len(), 1);
    }
}

on_both_backends! {
    async fn once_runs_one_pass_and_exits(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        migrate(&db);
        add_learners(&db, 3, false).await;
        let sim = SimServer::start(sim_config()).await.unwrap();

        let url = db.url_string();
        let dry = calsync(&["--database-url", &url, "worker", "--dry-run"], &[]);
        assert_eq!(dry.code, 0, "{}", dry.stderr);
        // The three learners, newest first, then the fixture's never-attempted and interrupted rows.
        assert!(dry.stdout.contains("Would sync new: 7 (1004, 1002, 1000, 10, 6, 5, 4)"), "{}", dry.stdout);
        // Selections 2, 7 and 9 failed for good (unknown user, unknown user, no integration).
        assert!(dry.stdout.contains("Would park: 3 (failures of a permanent cause)"), "{}", dry.stdout);
        let store = db.store().await;
        assert!(store.retry_entries().await.unwrap().is_empty(), "a dry run writes nothing");
        assert_eq!(sim.state().stats().total_requests(), 0, "a dry run sends nothing");

        let mut worker = Worker::spawn(&db, &sim, &["--once"]);
        assert_eq!(worker.wait_for_exit(Duration::from_secs(30)), Some(0), "{}", worker.log());
        for user in 100..103 {
            assert_eq!(state_of(&store, learner_selection(user)).await, SyncState::Added);
        }
        assert!(worker.log().contains("pass"), "{}", worker.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_healthz_answer_while_the_worker_runs() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    migrate(&db);
    add_learners(&db, 2, false).await;
    let sim = SimServer::start(sim_config()).await.unwrap();
    let worker = Worker::spawn(
        &db,
        &sim,
        &[
            "--interval",
            "0.2",
            "--metrics",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
    );
    let mut addr = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while addr.is_none() && Instant::now() < deadline {
        addr = worker.log().lines().find_map(|line| {
            let json: serde_json::Value = serde_json::from_str(line).ok()?;
            let message = json["message"].as_str()?;
            let rest = message.strip_prefix("metrics on http://")?;
            Some(rest.split('/').next()?.to_string())
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let addr = addr.unwrap_or_else(|| panic!("no metrics address in the log: {}", worker.log()));
    let store = db.store().await;
    eventually(
        Duration::from_secs(20),
        "the learners are added",
        || async { state_of(&store, learner_selection(101)).await == SyncState::Added },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = http_get(&addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    for needle in [
        "calsync_selections{state=\"added\"}",
        "calsync_selections{state=\"failed\"}",
        "calsync_worker_passes_total",
        "calsync_worker_pass_duration_seconds",
        "calsync_graph_requests_total{service=\"graph\",status=\"201\"}",
        "calsync_graph_throttled_total",
        "calsync_retries_scheduled_total",
        "calsync_parked ",
        "calsync_oldest_unsynced_age_seconds",
    ] {
        assert!(body.contains(needle), "{needle} missing from:\n{body}");
    }
    let passes: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("calsync_worker_passes_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(passes >= 1.0);
    let (status, body) = http_get(&addr, "/healthz");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["healthy"], true);
    assert_eq!(health["database"], "ok");
    // The log is JSON lines, one object per event.
    assert!(
        worker
            .log()
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{}",
        worker.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_worker_on_one_sqlite_file_is_refused_in_one_line() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    migrate(&db);
    let sim = SimServer::start(sim_config()).await.unwrap();
    let first = Worker::spawn(&db, &sim, &["--interval", "0.2"]);
    eventually(
        Duration::from_secs(20),
        "the first worker has registered",
        || async { live_workers(&db) == 1 },
    )
    .await;
    let second = calsync(
        &["--database-url", &db.url_string(), "worker"],
        &[
            ("CALSYNC_GRAPH_URL", &sim.graph_url()),
            ("CALSYNC_LOGIN_URL", &sim.login_url()),
        ],
    );
    assert_one_line_error(&second, "another calsync worker runs on this database");
    assert!(
        second.stderr.contains(&format!("pid {}", first.child.id())),
        "{}",
        second.stderr
    );
}

/// The simulator without its `transactionId` de-duplication, so a second create is a second
/// event (Graph docs: api-reference/v1.0/api/user-post-events.md documents no de-duplication
/// window for `transactionId`).
fn no_dedupe() -> SimConfig {
    SimConfig {
        transaction_id_dedup: false,
        latency: Latency::fixed(Duration::from_millis(120)),
        ..sim_config()
    }
}

on_both_backends! {
    async fn a_worker_killed_mid_pass_and_restarted_leaves_one_event_per_selection(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        migrate(&db);
        add_learners(&db, 40, false).await;
        let sim = SimServer::start(no_dedupe()).await.unwrap();
        let store = db.store().await;
        let added = || async {
            let mut n = 0;
            for user in 100..140 {
                if state_of(&store, learner_selection(user)).await == SyncState::Added {
                    n += 1;
                }
            }
            n
        };
        let mut worker = Worker::spawn(&db, &sim, &["--interval", "0.2", "--concurrency", "6"]);
        eventually(Duration::from_secs(30), "a few selections are added", || async { added().await >= 6 }).await;
        worker.signal("KILL");
        assert!(worker.wait_for_exit(Duration::from_secs(5)).is_some());
        assert!(added().await < 40, "killed mid-pass");

        let _restarted = Worker::spawn(&db, &sim, &["--interval", "0.2", "--concurrency", "6"]);
        eventually(Duration::from_secs(60), "every selection is added", || async { added().await == 40 }).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        for user in 100..140 {
            assert_eq!(sim.state().events(&mailbox(user)).len(), 1, "{} has one event", mailbox(user));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgresql_never_both_send_for_one_selection() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    migrate(&db);
    add_learners(&db, 40, false).await;
    let sim = SimServer::start(no_dedupe()).await.unwrap();
    let store = db.store().await;
    let args = ["--interval", "0.1", "--concurrency", "4"];
    let _a = Worker::spawn(&db, &sim, &args);
    let _b = Worker::spawn(&db, &sim, &args);
    eventually(
        Duration::from_secs(60),
        "every selection is added",
        || async {
            for user in 100..140 {
                if state_of(&store, learner_selection(user)).await != SyncState::Added {
                    return false;
                }
            }
            true
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut creates = 0;
    for user in 100..140 {
        let stats = sim.state().mailbox_stats(&mailbox(user));
        assert_eq!(
            sim.state().events(&mailbox(user)).len(),
            1,
            "{} has one event",
            mailbox(user)
        );
        creates += stats.events_created;
    }
    assert_eq!(creates, 40, "one create per selection across both workers");
    let status = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "worker",
            "status",
            "--json",
        ],
        &[],
    );
    let json: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
    assert_eq!(json["workers"].as_array().unwrap().len(), 2, "{json}");
}

on_both_backends! {
    async fn a_moved_slot_moves_its_events_and_a_cancelled_selection_loses_its_event(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        migrate(&db);
        add_learners(&db, 2, false).await;
        let sim = SimServer::start(sim_config()).await.unwrap();
        let store = db.store().await;
        let worker = Worker::spawn(&db, &sim, &["--interval", "0.2", "--stale-every", "0.5"]);
        eventually(Duration::from_secs(20), "both learners are added", || async {
            state_of(&store, learner_selection(100)).await == SyncState::Added
                && state_of(&store, learner_selection(101)).await == SyncState::Added
        })
        .await;
        let start = |user: i64| {
            sim.state().events(&mailbox(user))[0]["start"]["dateTime"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        assert!(start(100).contains("T10:00:00"), "{}", start(100));

        // The organiser moves the slot: every attendee's event follows, in place.
        db.exec(
            "UPDATE conferences_conferencetimeslot SET start_time = '12:00:00', \
             end_time = '13:00:00', updated_at = '2026-01-05 09:00:00' WHERE id = 1",
        )
        .await;
        eventually(Duration::from_secs(20), "the events move to 12:00", || async {
            start(100).contains("T12:00:00") && start(101).contains("T12:00:00")
        })
        .await;
        assert_eq!(sim.state().events(&mailbox(100)).len(), 1, "moved, not duplicated");

        // The learner cancels: the LMS deletes the row, and the worker deletes its event (the
        // ledger proves it calsync's); the other learner's event stays.
        db.exec(&format!(
            "DELETE FROM conferences_conferencetimeslotselection WHERE id = {}",
            learner_selection(101)
        ))
        .await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !sim.state().events(&mailbox(101)).is_empty() {
            assert!(Instant::now() < deadline, "the cancelled selection's event stays: {}", worker.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(sim.state().events(&mailbox(100)).len(), 1);
        assert_eq!(state_of(&store, learner_selection(100)).await, SyncState::Added);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_connection_is_waited_out_and_the_worker_goes_on() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    migrate(&db);
    add_learners(&db, 2, false).await;
    let sim = SimServer::start(sim_config()).await.unwrap();
    let store = db.store().await;
    let admin = crate::support::pg_connect(&db.url_string()).await;
    let before: chrono::DateTime<chrono::Utc> =
        admin.query_one("SELECT now()", &[]).await.unwrap().get(0);
    let mut worker = Worker::spawn(&db, &sim, &["--interval", "0.2"]);
    eventually(
        Duration::from_secs(20),
        "the first learners are added",
        || async { state_of(&store, learner_selection(101)).await == SyncState::Added },
    )
    .await;
    // Every session the worker opened is terminated, as a failover or a DBA would.
    let terminated = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND backend_start > $1 \
             AND pid <> pg_backend_pid()",
            &[&before],
        )
        .await
        .unwrap();
    assert!(!terminated.is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.exec(
        "INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, calendar_added, \
         calendar_add_attempted_at, calendar_error, selected_at, ip_address, conference_id, \
         time_slot_id, user_id) VALUES (1100, NULL, FALSE, NULL, NULL, '2025-12-11 10:00:00', \
         NULL, 1, 2, 100)",
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the selection made after the outage is added",
        || async { state_of(&store, 1100).await == SyncState::Added },
    )
    .await;
    assert_eq!(
        worker.child.try_wait().unwrap(),
        None,
        "the worker is still running: {}",
        worker.log()
    );
    assert_eq!(sim.state().events(&mailbox(100)).len(), 2);
    worker.signal("TERM");
    assert_eq!(
        worker.wait_for_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        worker.log()
    );
}

/// `calsync worker status --json`, parsed.
fn status_json(db: &TestDb) -> serde_json::Value {
    let status = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "worker",
            "status",
            "--json",
        ],
        &[],
    );
    assert_eq!(status.code, 0, "{}", status.stderr);
    serde_json::from_str(status.stdout.trim()).unwrap()
}

fn scheduled_ids(json: &serde_json::Value) -> Vec<i64> {
    json["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["selection_id"].as_i64().unwrap())
        .collect()
}

fn parked_group<'a>(json: &'a serde_json::Value, cause: &str) -> Option<&'a serde_json::Value> {
    json["parked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["cause"] == cause)
}

on_both_backends! {
    async fn status_lists_the_schedule_and_the_parked_by_cause_and_retry_now_and_park_move_them(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        migrate(&db);
        add_learners(&db, 2, false).await;
        let sim = SimServer::start(sim_config()).await.unwrap();
        sim.state().set_mailbox_state(&mailbox(100), MailboxState::NoMailbox);
        sim.state().push_fault(Fault::FailNext { mailbox: mailbox(101), count: 2, status: 503 });
        let (parked_id, waiting_id) = (learner_selection(100), learner_selection(101));
        let once = |extra: &[&str]| {
            let mut args = vec!["--once", "--retry-after", "600"];
            args.extend_from_slice(extra);
            let mut worker = Worker::spawn_with(&db, &sim, &args, &[("CALSYNC_GRAPH_MAX_ATTEMPTS", "2")]);
            assert_eq!(worker.wait_for_exit(Duration::from_secs(30)), Some(0), "{}", worker.log());
        };
        once(&[]);

        let json = status_json(&db);
        assert!(json["retries"]["scheduled"].as_u64().unwrap() >= 1, "the counts stay: {json}");
        assert!(json["workers"].as_array().unwrap().is_empty(), "--once has left: {json}");
        assert!(json["expired"].is_array(), "{json}");
        let waiting = json["schedule"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["selection_id"] == waiting_id)
            .unwrap_or_else(|| panic!("the 503 is scheduled: {json}"));
        assert_eq!(waiting["user_id"], 101);
        assert_eq!(waiting["person"], "Learner 101");
        assert_eq!(waiting["email"], mailbox(101));
        assert!(!waiting["conference"].as_str().unwrap().is_empty());
        assert_eq!(waiting["attempts"], 1);
        assert!(waiting["next_attempt_at"].is_string(), "{waiting}");
        let no_mailbox = parked_group(&json, "no_mailbox").unwrap_or_else(|| panic!("{json}"));
        assert_eq!(no_mailbox["label"], "No Exchange Online mailbox");
        assert!(no_mailbox["count"].as_u64().unwrap() >= 1);
        assert!(no_mailbox["fix"].as_str().unwrap().contains("Exchange Online licence"), "{no_mailbox}");
        assert!(no_mailbox["selections"].as_array().unwrap().iter().any(|e| e["selection_id"] == parked_id));

        // Retry now brings a parked selection back on the schedule, due at once; park takes a
        // waiting one off it.
        let url = db.url_string();
        let retry = calsync(&["--database-url", &url, "worker", "retry-now", "--id", &parked_id.to_string()], &[]);
        assert_eq!(retry.code, 0, "{}", retry.stderr);
        assert!(retry.stdout.contains("Due now"), "{}", retry.stdout);
        let park = calsync(&["--database-url", &url, "worker", "park", "--id", &waiting_id.to_string(), "--json"], &[]);
        assert_eq!(park.code, 0, "{}", park.stderr);
        let parked: serde_json::Value = serde_json::from_str(park.stdout.trim()).unwrap();
        assert_eq!(parked["changed"], serde_json::json!([waiting_id]));
        let json = status_json(&db);
        assert!(scheduled_ids(&json).contains(&parked_id), "{json}");
        assert!(!scheduled_ids(&json).contains(&waiting_id), "{json}");
        assert!(json["retries"]["due"].as_u64().unwrap() >= 1, "{json}");
        let all_parked: Vec<i64> = json["parked"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["selections"].as_array().unwrap().iter().map(|e| e["selection_id"].as_i64().unwrap()))
            .collect();
        assert!(all_parked.contains(&waiting_id) && !all_parked.contains(&parked_id), "{json}");

        // The next pass tries the one retried now and leaves the parked one alone.
        let (tried, left) = (
            sim.state().mailbox_stats(&mailbox(100)).requests,
            sim.state().mailbox_stats(&mailbox(101)).requests,
        );
        once(&[]);
        assert!(sim.state().mailbox_stats(&mailbox(100)).requests > tried);
        assert_eq!(sim.state().mailbox_stats(&mailbox(101)).requests, left);

        // Both actions are audited; nonsense is refused in one line.
        let audit = calsync(&["--database-url", &url, "audit", "--json"], &[]);
        assert!(audit.stdout.contains("\"worker retry now\"") && audit.stdout.contains("\"worker park\""), "{}", audit.stdout);
        let unknown = calsync(&["--database-url", &url, "worker", "park", "--id", "987654"], &[]);
        assert_one_line_error(&unknown, "no selection 987654 exists");
        let read_only = calsync(&["--database-url", &url, "--read-only", "worker", "retry-now", "--id", "1"], &[]);
        assert_one_line_error(&read_only, "--read-only: refusing `worker retry-now`");
    }
}

on_both_backends! {
    async fn registered_workers_say_whether_their_heartbeat_is_recent(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        migrate(&db);
        let store = db.store().await;
        let now = chrono::Utc::now();
        let live = store.register_worker("host-a", 11, "1.0", now).await.unwrap();
        let dead = store
            .register_worker("host-b", 22, "1.0", now - chrono::Duration::minutes(5))
            .await
            .unwrap();
        let workers = calsync::worker::views::workers(&store, now).await.unwrap();
        let alive: Vec<(i64, bool)> = workers.iter().map(|w| (w.entry.id, w.alive)).collect();
        assert_eq!(alive, [(live, true), (dead, false)]);
        assert_eq!(workers[1].entry.host, "host-b");
        let json = status_json(&db);
        assert_eq!(json["workers"].as_array().unwrap().len(), 1, "{json}");
        assert_eq!(json["expired"][0]["pid"], 22, "{json}");
    }
}

on_both_backends! {
    async fn between_sweeps_a_pass_finds_new_rows_and_moved_slots_without_reading_every_row(backend: Backend) {
        use calsync::graph::{GraphClient, GraphConfig};
        use calsync::sync::{Engine, SyncOptions};
        use calsync::worker::{Cleanup, Pass, Watch, schedule::RetryPolicy};

        let db = TestDb::with_fixture(backend).await;
        migrate(&db);
        add_learners(&db, 2, false).await;
        let store = db.store().await;
        let engine = Engine::new(store.clone(), GraphClient::new(GraphConfig::default()).unwrap(), SyncOptions::default());
        let (cleanup, watch) = (Cleanup::default(), Watch::default());
        let pass = |sweep| Pass { engine: &engine, cleanup: &cleanup, watch: &watch, policy: RetryPolicy::default(), simulated: true, sweep };
        let questions = |d: &calsync::worker::watch::Detection| d.timings.iter().map(|(q, _)| *q).collect::<Vec<_>>();

        let (plan, _, detection) = pass(true).plan().await.unwrap();
        assert!(detection.swept);
        assert!(questions(&detection).contains(&"rows not added"));
        assert!(plan.new.contains(&learner_selection(100)));
        watch.commit(detection.seen, false);

        // The LMS makes a selection: the next pass finds it in the id range above the last one.
        db.exec(
            "INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, calendar_added, \
             calendar_add_attempted_at, calendar_error, selected_at, ip_address, conference_id, \
             time_slot_id, user_id) VALUES (1100, NULL, FALSE, NULL, NULL, '2030-01-01 10:00:00', NULL, 1, 2, 100)",
        )
        .await;
        let (plan, _, detection) = pass(false).plan().await.unwrap();
        assert!(!detection.swept);
        assert_eq!(plan.new.first(), Some(&1100), "newest first: {:?}", plan.new);
        let asked = questions(&detection);
        assert!(asked.contains(&"new rows"), "{asked:?}");
        assert!(!asked.contains(&"rows not added") && !asked.contains(&"stale events"), "nothing read whole: {asked:?}");
        assert!(plan.stale.is_empty());
        watch.commit(detection.seen, false);

        // The organiser moves slot 5: its added selection (8) is stale, found through that slot.
        db.exec("UPDATE conferences_conferencetimeslot SET start_time = '15:00:00', end_time = '16:00:00', updated_at = '2030-01-02 09:00:00' WHERE id = 5").await;
        let (plan, _, detection) = pass(false).plan().await.unwrap();
        assert_eq!(plan.stale, [8]);
        assert!(questions(&detection).contains(&"stale events"));
        watch.commit(detection.seen, false);

        // An old row someone else reset is below the range: only the next sweep sees it.
        db.exec("UPDATE conferences_conferencetimeslotselection SET calendar_added = FALSE, \
                 calendar_add_attempted_at = NULL, outlook_event_id = NULL WHERE id = 1").await;
        let (plan, _, detection) = pass(false).plan().await.unwrap();
        assert!(!plan.new.contains(&1), "{:?}", plan.new);
        assert!(plan.stale.is_empty(), "a moved slot is looked at once");
        watch.commit(detection.seen, false);
        let (plan, _, _) = pass(true).plan().await.unwrap();
        assert!(plan.new.contains(&1), "{:?}", plan.new);
    }
}
