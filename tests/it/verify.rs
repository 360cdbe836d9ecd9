//! `calsync verify`: events deleted in Outlook are found with batched lookups, reported, and
//! re-created once each; what was seen goes into the ledger.

use calsync::domain::Filter;
use calsync::domain::ledger::{LedgerAction, LedgerScope};
use calsync::sim::SimServer;
use calsync::sync::verify::{CheckStatus, Verifier, VerifyEvent, VerifyOptions, verifiable};
use chrono::Utc;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::assert_one_line_error;
use crate::on_both_backends;
use crate::own_tables::run;
use crate::support::{Backend, TestDb};
use crate::sync::{World, graph_config, sim_config};

const LEA: &str = "lea.learner@example.org";
const INES: &str = "ines.tutor@example.org";

async fn verify(
    world: &World,
) -> (
    calsync::sync::verify::VerifySummary,
    Vec<calsync::sync::verify::Check>,
) {
    let graph = calsync::graph::GraphClient::new(graph_config(&world.sim)).unwrap();
    let verifier = Verifier::new(world.store.clone(), graph, VerifyOptions::default());
    let ids = world
        .store
        .selection_ids(&verifiable(Filter::default()))
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let summary = verifier
        .run(ids, tx, CancellationToken::new())
        .await
        .unwrap();
    let mut checks = Vec::new();
    while let Ok(event) = rx.try_recv() {
        if let VerifyEvent::Checked(check) = event {
            checks.push(check);
        }
    }
    (summary, checks)
}

fn status_of(checks: &[calsync::sync::verify::Check], id: i64) -> &CheckStatus {
    &checks
        .iter()
        .find(|c| c.selection_id == id)
        .unwrap_or_else(|| panic!("{id} checked: {checks:?}"))
        .status
}

on_both_backends! {
    async fn verify_finds_an_event_deleted_in_outlook_and_a_resync_recreates_it_once(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        // 1 and 3 hold event ids the simulator never saw: their update answers 404 and they
        // are created anew; 2 is created. All three now have exactly one event.
        let (synced, items) = world.sync(vec![1, 2, 3]).await;
        assert_eq!(synced.synced, 3, "{items:?}");
        let lea_event = world.store.selection(2).await.unwrap().unwrap().sync.outlook_event_id.unwrap();
        assert!(world.sim.state().delete_event_out_of_band(LEA, &lea_event));

        let batches_before = world.sim.state().stats().batches;
        let (summary, checks) = verify(&world).await;
        // Added: 1, 2, 3 and 8 (whose user has no integration, so it cannot be looked up).
        assert_eq!(summary.total, 4);
        assert_eq!((summary.present, summary.missing, summary.unchecked), (2, 1, 1), "{checks:?}");
        assert_eq!(summary.missing_ids, vec![2]);
        assert_eq!(status_of(&checks, 1), &CheckStatus::Present);
        assert_eq!(status_of(&checks, 2), &CheckStatus::Missing);
        let CheckStatus::Unchecked(why) = status_of(&checks, 8) else { panic!("{checks:?}") };
        assert!(why.starts_with("No Teams integration available"), "{why}");
        assert_eq!(world.sim.state().stats().batches - batches_before, 1, "three lookups, one $batch");

        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        let lea_row = ledger.iter().find(|r| r.event_id == lea_event).unwrap();
        assert_eq!(lea_row.last_action, LedgerAction::Missing);
        assert!(lea_row.deleted_at.is_some());
        let seen = ledger.iter().filter(|r| r.mailbox == INES && r.last_action == LedgerAction::Found).count();
        assert_eq!(seen, 2, "{ledger:?}");

        // Re-created once: a second pass updates the new event instead of adding another.
        let (first, _) = world.sync(summary.missing_ids.clone()).await;
        assert_eq!(first.created, 1);
        let (second, _) = world.sync(summary.missing_ids).await;
        assert_eq!((second.created, second.updated), (0, 1));
        assert_eq!(world.events(LEA).len(), 1);
        let (after, _) = verify(&world).await;
        assert_eq!((after.present, after.missing), (3, 0));
    }
}

on_both_backends! {
    async fn verify_learns_the_events_the_lms_made_so_they_outlive_their_selection(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        // An event made by the LMS: in the mailbox, in the row, unknown to the ledger.
        world.sync(vec![2]).await;
        world.db.exec("DELETE FROM calsync_event_ledger").await;
        let (summary, _) = verify(&world).await;
        assert_eq!(summary.present, 1);
        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        let lea = ledger.iter().find(|r| r.mailbox == LEA).unwrap_or_else(|| panic!("{ledger:?}"));
        assert_eq!(lea.selection_id, Some(2));
        assert_eq!(lea.last_action, LedgerAction::Found);
        // The fixture's own event ids (1 and 3) never existed in this mailbox: known as missing.
        let missing: Vec<_> = ledger.iter().filter(|r| r.last_action == LedgerAction::Missing).map(|r| r.selection_id).collect();
        assert_eq!(missing.len(), 2, "{ledger:?}");
        // What was sent is unknown: the event is not called stale for it.
        assert!(!world.store.selection(2).await.unwrap().unwrap().stale);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_verify_command_reports_missing_events_and_recreates_them() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let sim = SimServer::start(sim_config()).await.unwrap();
    assert_eq!(run(&db, None, &["migrate"]).code, 0);
    let sync = run(&db, Some(&sim), &["sync", "--all", "--conference-id", "1"]);
    assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);
    let store = db.store().await;
    let lea_event = store
        .selection(2)
        .await
        .unwrap()
        .unwrap()
        .sync
        .outlook_event_id
        .unwrap();
    assert!(sim.state().delete_event_out_of_band(LEA, &lea_event));

    let check = run(
        &db,
        Some(&sim),
        &["verify", "--conference-id", "1", "--json"],
    );
    assert_eq!(
        check.code, 1,
        "a missing event is not a clean bill: {}",
        check.stderr
    );
    let lines: Vec<Value> = check
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", check.stdout);
    assert_eq!(lines[0]["selection_id"], 2);
    assert_eq!(lines[0]["status"], "missing");
    assert_eq!(lines[0]["mailbox"], LEA);
    assert_eq!(lines[0]["event_id"], lea_event.as_str());
    assert_eq!(lines[0]["recreated"], Value::Null);
    let keys: Vec<&str> = lines[1]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "duration_ms",
            "missing",
            "not_started",
            "present",
            "recreated",
            "skipped",
            "total",
            "unchecked"
        ]
    );
    assert_eq!(
        (
            lines[1]["total"].as_u64(),
            lines[1]["present"].as_u64(),
            lines[1]["missing"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(
        sim.state().events(LEA).len(),
        0,
        "checking changes nothing in Outlook"
    );

    assert_one_line_error(
        &run(&db, Some(&sim), &["--read-only", "verify", "--recreate"]),
        "--read-only",
    );

    let fix = run(
        &db,
        Some(&sim),
        &["verify", "--conference-id", "1", "--recreate"],
    );
    assert_eq!(fix.code, 0, "{}{}", fix.stdout, fix.stderr);
    assert!(
        fix.stdout
            .contains("✗ Missing: llearner - Induction Q&A - 2025-12-15 10:00:00"),
        "{}",
        fix.stdout
    );
    assert!(
        fix.stdout.contains("✓ Re-created: selection 2"),
        "{}",
        fix.stdout
    );
    assert!(fix.stdout.contains("Re-created: 1"), "{}", fix.stdout);
    assert_eq!(sim.state().events(LEA).len(), 1);
    let clean = run(&db, Some(&sim), &["verify", "--conference-id", "1"]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);
    assert_eq!(sim.state().events(LEA).len(), 1, "re-created once");

    let audit = run(&db, None, &["audit", "--json", "--action", "verify"]);
    let rows: Vec<Value> = audit
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "{}", audit.stdout);
    assert_eq!(rows[1]["scope"], "--conference-id 1 --recreate");
    assert_eq!(rows[1]["outcome"], "ok");
    assert!(
        rows[1]["detail"]
            .as_str()
            .unwrap()
            .ends_with("1 missing; 1 re-created"),
        "{}",
        rows[1]
    );
    assert_eq!(rows[2]["outcome"], "partial");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_mailboxes_hold_what_the_lms_left_so_verify_and_reconcile_have_work() {
    use calsync::demo::{DemoSpec, SimulatorSettings, create, seed_simulator, start_simulator};
    use calsync::domain::ledger::LedgerScope;
    use calsync::sync::reconcile::{FindingKind, ReconcileOptions, Reconciler};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    create(&path, &DemoSpec::new(400), &mut |_, _| {}).unwrap();
    let store = calsync::store::Store::open(
        &calsync::store::DatabaseUrl::Sqlite(path),
        &calsync::store::StoreOptions::default(),
    )
    .await
    .unwrap();
    let sim = start_simulator(SimulatorSettings {
        port: 0,
        latency: calsync::sim::Latency::fixed(std::time::Duration::ZERO),
        fault_rate: 0.0,
    })
    .await
    .unwrap();
    let seeded = seed_simulator(&store, &sim).await.unwrap();
    assert!(
        seeded.events > 50 && seeded.deleted_in_outlook > 0 && seeded.duplicates > 0,
        "{seeded:?}"
    );

    let graph = calsync::graph::GraphClient::new(calsync::graph::GraphConfig {
        graph_url: sim.graph_url(),
        login_url: sim.login_url(),
        ..calsync::graph::GraphConfig::default()
    })
    .unwrap();
    let verifier = Verifier::new(store.clone(), graph.clone(), VerifyOptions::default());
    let ids = store
        .selection_ids(&verifiable(Filter::default()))
        .await
        .unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    let summary = verifier
        .run(ids, tx, CancellationToken::new())
        .await
        .unwrap();
    assert!(summary.present > 0, "{summary:?}");
    assert!(
        summary.missing >= seeded.deleted_in_outlook,
        "{summary:?} {seeded:?}"
    );

    let reconciler = Reconciler::new(store, graph, ReconcileOptions::default());
    let (tx, _rx) = mpsc::unbounded_channel();
    let plan = reconciler
        .plan(LedgerScope::default(), tx, CancellationToken::new())
        .await
        .unwrap();
    let duplicates = plan
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::ProbableDuplicate)
        .count();
    assert!(
        duplicates >= seeded.duplicates,
        "{duplicates} found for {seeded:?}"
    );
    sim.shutdown().await;
}
