//! Exactly one event per selection even when Graph does not de-duplicate `transactionId`
//! (Graph docs: api-reference/v1.0/resources/event.md documents the property and no window in
//! which a repeated create is recognised, so every simulator here has it switched off). A run
//! killed after its POSTs, a PostgreSQL session terminated under a run, and a SQLite lock held
//! longer than the busy timeout all end with one event per selection, and each re-creation
//! sends a `transactionId` of its own.

use std::time::Duration;

use calsync::sim::{Fault, GhostReply, SimServer};

use crate::on_both_backends;
use crate::runs::{
    LEARNERS, assert_one_event_per_learner, learner_events, learner_mailbox, learners_added,
    run_sync, spawn_sync, wait_until_added, without_dedupe,
};
use crate::support::{Backend, TestDb, pg_connect};
use crate::sync::add_learners;

/// SIGKILL while creates are in flight, then a plain re-run.
async fn killed_midway_then_rerun(backend: Backend, migrated: bool) {
    let db = TestDb::with_fixture(backend).await;
    add_learners(&db, LEARNERS, false).await;
    let store = db.store().await;
    if migrated {
        store.migrate_up(chrono::Utc::now()).await.unwrap();
    }
    let sim = SimServer::start(without_dedupe(60)).await.unwrap();
    // Three of the first learners' creates are stored and then answered only after 30 s: the
    // run is killed while they are in flight, their events made and their results unwritten.
    let stalled = [157, 155, 153];
    for user in stalled {
        sim.state().push_fault(Fault::GhostCommit {
            mailbox: learner_mailbox(user),
            reply: GhostReply::Stall(Duration::from_secs(30)),
        });
    }
    let url = db.url_string();
    let mut child = spawn_sync(&url, &sim, &["--concurrency", "6"], &[]);
    wait_until_added(&store, 6).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stalled
        .iter()
        .any(|&user| sim.state().event_count(&learner_mailbox(user)) == 0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled creates never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL: nothing after the POSTs in flight is written
    let _ = child.wait();
    let recorded = learners_added(&store).await;
    assert!(recorded < LEARNERS as usize);
    assert!(
        learner_events(&sim) >= recorded + stalled.len(),
        "the stalled creates' events exist, their results are not recorded"
    );

    let (code, _, stderr) = run_sync(&url, &sim, &[], &[]);
    assert_eq!(code, 1, "only the fixture's broken rows fail: {stderr}");
    // The rows in flight were stamped as attempted (and, migrated, their intents left
    // "creating") before their POST: the re-run finds their events by tag and adopts them.
    assert_one_event_per_learner(&sim, &store).await;
    if migrated {
        let left = db
            .scalar_text(
                "SELECT CAST(COUNT(*) AS TEXT) FROM calsync_create_intent \
                 WHERE state = 'creating' AND selection_id >= 1000",
            )
            .await;
        assert_eq!(
            left.as_deref(),
            Some("0"),
            "every learner's intent is settled"
        );
    }
}

on_both_backends! {
    async fn a_killed_run_then_a_rerun_make_one_event_each_without_dedupe(backend: Backend) {
        killed_midway_then_rerun(backend, false).await;
    }
}

on_both_backends! {
    async fn a_killed_run_then_a_rerun_make_one_event_each_with_intents(backend: Backend) {
        killed_midway_then_rerun(backend, true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_postgresql_session_is_replaced_and_every_result_written() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    add_learners(&db, LEARNERS, false).await;
    let store = db.store().await;
    let sim = SimServer::start(without_dedupe(100)).await.unwrap();
    let url = db.url_string();
    let admin = pg_connect(&db.url_string()).await;
    let before_child: chrono::DateTime<chrono::Utc> =
        admin.query_one("SELECT now()", &[]).await.unwrap().get(0);
    let child = spawn_sync(&url, &sim, &["--concurrency", "4"], &[]);
    wait_until_added(&store, 8).await;
    // The run's reading and writing sessions (its claims session has a name of its own; the
    // test's own store connected before the run started).
    let terminated = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'calsync' \
             AND backend_start > $1",
            &[&before_child],
        )
        .await
        .unwrap();
    assert_eq!(terminated.len(), 2, "both of calsync's sessions");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("the run stopped"), "{stderr}");

    // Nothing was dropped: every learner's result reached its row in the same run.
    assert_eq!(learners_added(&store).await, LEARNERS as usize, "{stderr}");
    assert_one_event_per_learner(&sim, &store).await;
    let (_, _, stderr) = run_sync(&url, &sim, &[], &[]);
    assert!(!stderr.contains("the run stopped"), "{stderr}");
    assert_one_event_per_learner(&sim, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_lock_outlasting_the_busy_timeout_is_waited_out() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    add_learners(&db, LEARNERS, false).await;
    let store = db.store().await;
    let sim = SimServer::start(without_dedupe(100)).await.unwrap();
    let url = db.url_string();
    let busy = [("CALSYNC_SQLITE_BUSY_TIMEOUT_SECS", "0.3")];
    let child = spawn_sync(&url, &sim, &["--concurrency", "4"], &busy);
    wait_until_added(&store, 8).await;
    // Another program (the LMS, a backup) holds the write lock for 2.5 s: eight busy timeouts.
    let path = db.sqlite_path();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        conn.execute_batch("COMMIT").unwrap();
    });
    let output = child.wait_with_output().unwrap();
    holder.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("the run stopped"), "{stderr}");
    assert!(!stderr.contains("locked"), "{stderr}");

    assert_eq!(learners_added(&store).await, LEARNERS as usize, "{stderr}");
    assert_one_event_per_learner(&sim, &store).await;
    let (_, _, stderr) = run_sync(&url, &sim, &[], &busy);
    assert!(!stderr.contains("the run stopped"), "{stderr}");
    assert_one_event_per_learner(&sim, &store).await;
}

/// Selection 1 (Ines, added) points to an event its owner deleted; it is re-created twice.
async fn recreated_twice(backend: Backend, migrated: bool) -> (String, String) {
    let db = TestDb::with_fixture(backend).await;
    let store = db.store().await;
    if migrated {
        store.migrate_up(chrono::Utc::now()).await.unwrap();
    }
    let sim = SimServer::start(without_dedupe(0)).await.unwrap();
    let url = db.url_string();
    let mailbox = "ines.tutor@example.org";
    let mut transaction_ids = Vec::new();
    for _ in 0..2 {
        let (code, stdout, stderr) = run_sync(&url, &sim, &["--selection-id", "1"], &[]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        let events = sim.state().events(mailbox);
        assert_eq!(events.len(), 1, "{events:?}");
        transaction_ids.push(events[0]["transactionId"].as_str().unwrap().to_string());
        // The owner deletes it in Outlook: the next sync finds it gone (404) and re-creates.
        let id = events[0]["id"].as_str().unwrap().to_string();
        assert!(sim.state().delete_event_out_of_band(mailbox, &id));
    }
    (transaction_ids.remove(0), transaction_ids.remove(0))
}

on_both_backends! {
    async fn each_recreation_sends_a_transaction_id_of_its_own(backend: Backend) {
        for migrated in [false, true] {
            let (first, second) = recreated_twice(backend, migrated).await;
            assert!(first.starts_with("calsync-1-"), "{first}");
            assert_ne!(first, second, "migrated: {migrated}");
        }
    }
}

#[test]
fn graph_sim_can_run_without_dedupe() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args(["graph-sim", "--port", "0", "--no-dedupe"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.starts_with("Press Ctrl-C"))
        .collect();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("transactionId de-duplication: off")),
        "{lines:?}"
    );
}
