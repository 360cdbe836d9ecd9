//! SIGTERM, how cron, systemd and Kubernetes stop a job, drains a run like the first Ctrl-C:
//! nothing new starts, what is in flight finishes and is recorded, and the audit row is closed.

use std::time::Duration;

use calsync::domain::audit::AuditOutcome;
use calsync::sim::SimServer;
use calsync::store::Store;

use crate::runs::{graph_env, learners_added, run_sync, signal, spawn_sync, without_dedupe};
use crate::support::{Backend, TestDb};
use crate::sync::add_learners;

async fn newest_audit_row(store: &Store, action: &str) -> calsync::domain::audit::AuditRecord {
    store
        .audit_rows(1, Some(action))
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {action} audit row"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_sync_and_closes_its_audit_row() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    add_learners(&db, 40, false).await;
    let store = db.store().await;
    store.migrate_up(chrono::Utc::now()).await.unwrap();
    let sim = SimServer::start(without_dedupe(150)).await.unwrap();
    let child = spawn_sync(&db.url_string(), &sim, &["--concurrency", "2"], &[]);
    tokio::time::sleep(Duration::from_millis(900)).await;
    signal(&child, "-TERM");
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1), "cancelled: {stderr}");
    assert!(stderr.contains("Cancelling (SIGTERM)"), "{stderr}");
    assert!(stdout.contains("Not started (cancelled): "), "{stdout}");
    // Every success it reported is recorded, and nothing more was done.
    let reported = stdout.matches("✓ Success").count();
    assert_eq!(learners_added(&store).await, reported);
    let row = newest_audit_row(&store, "sync").await;
    assert!(row.finished_at.is_some(), "{row:?}");
    assert_eq!(row.outcome, AuditOutcome::Cancelled, "{row:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_verify_and_closes_its_audit_row() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    add_learners(&db, 40, false).await;
    let store = db.store().await;
    store.migrate_up(chrono::Utc::now()).await.unwrap();
    let sim = SimServer::start(without_dedupe(0)).await.unwrap();
    let (_, _, stderr) = run_sync(&db.url_string(), &sim, &[], &[]);
    assert_eq!(learners_added(&store).await, 40, "{stderr}");
    sim.state()
        .set_latency(calsync::sim::Latency::fixed(Duration::from_millis(300)));

    let child = std::process::Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args([
            "--database-url",
            &db.url_string(),
            "verify",
            "--concurrency",
            "1",
        ])
        .envs(graph_env(&sim))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    signal(&child, "-TERM");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1), "cancelled: {stderr}");
    assert!(stderr.contains("Cancelling (SIGTERM)"), "{stderr}");
    let row = newest_audit_row(&store, "verify").await;
    assert!(row.finished_at.is_some(), "{row:?}");
    assert_eq!(row.outcome, AuditOutcome::Cancelled, "{row:?}");
}
