//! Mailboxes the LMS filled: its rows hold regular REST ids (its Graph calls send no
//! `Prefer: IdType`), while calsync asks for immutable ids. Reconcile and verify compare them
//! only after `translateExchangeIds`, so they find the real leftovers and never an event a row
//! or the ledger points to (concepts/outlook-immutable-id.md: the two formats of one item are
//! different, case-sensitive strings). On both backends, over HTTP to the simulated Graph.

use std::collections::BTreeSet;

use calsync::domain::Filter;
use calsync::domain::ledger::LedgerScope;
use calsync::graph::GraphClient;
use calsync::sim::{SimConfig, SimHandle};
use calsync::sync::reconcile::{Finding, ReconcileOptions, Reconciler};
use calsync::sync::verify::{CheckStatus, Verifier, VerifyEvent, VerifyOptions, verifiable};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::calsync;
use crate::on_both_backends;
use crate::sync::{World, graph_config, sim_config};

const LEA: &str = "lea.learner@example.org";
const INES: &str = "ines.tutor@example.org";
const SELECTION: &str = "conferences_conferencetimeslotselection";

/// The event the LMS sends for a slot of 'Induction Q&A' (slot 1: 2025-12-15 10:00–11:00
/// London; slot 2: 2025-12-16 14:00–15:00 London, both UTC then).
fn lms_event(day: &str, start: &str, end: &str) -> Value {
    json!({
        "subject": "Induction Q&A",
        "body": {"contentType": "HTML", "content": "<p>Bring your questions.</p>"},
        "start": {"dateTime": format!("{day}T{start}:00"), "timeZone": "Europe/London"},
        "end": {"dateTime": format!("{day}T{end}:00"), "timeZone": "Europe/London"},
    })
}

fn slot_1() -> Value {
    lms_event("2025-12-15", "10:00", "11:00")
}

fn slot_2() -> Value {
    lms_event("2025-12-16", "14:00", "15:00")
}

/// What the LMS left: Ines's selections 1 and 3 and Lea's selection 2 (now added) each with
/// their event under the REST id in the row, plus one duplicate per mailbox from its retries.
struct LmsMailboxes {
    /// The REST ids the rows hold: selection 1, 2, 3.
    rows: [String; 3],
    /// The leftovers: Lea's second event for slot 1, Ines's second for slot 2.
    leftovers: [String; 2],
}

async fn filled_by_the_lms(world: &World) -> LmsMailboxes {
    let state = world.sim.state();
    let plant = |mailbox: &str, id: Option<&str>, event: &Value| {
        state
            .plant_event_with_id(mailbox, id, event)
            .expect("plant")
    };
    let one = plant(INES, Some("AAMkAGFixtureEventId00001="), &slot_1());
    let three = plant(INES, Some("AAMkAGFixtureEventId00003="), &slot_2());
    let two = plant(LEA, None, &slot_1());
    world
        .db
        .exec(&format!(
            "UPDATE {SELECTION} SET outlook_event_id = '{two}', calendar_added = TRUE, \
             calendar_error = NULL WHERE id = 2"
        ))
        .await;
    let lea_duplicate = plant(LEA, None, &slot_1());
    let ines_duplicate = plant(INES, None, &slot_2());
    LmsMailboxes {
        rows: [one, two, three],
        leftovers: [lea_duplicate, ines_duplicate],
    }
}

fn mailbox_of(row: usize) -> &'static str {
    if row == 1 { LEA } else { INES }
}

/// What calsync calls the event: its immutable id.
fn immutable(sim: &SimHandle, mailbox: &str, id: &str) -> String {
    sim.state()
        .immutable_id_of(mailbox, id)
        .unwrap_or_else(|| panic!("{id} exists in {mailbox}"))
}

/// Whether the event is still in the mailbox's calendar.
fn in_calendar(sim: &SimHandle, mailbox: &str, id: &str) -> bool {
    let wanted = sim.state().immutable_id_of(mailbox, id);
    sim.state()
        .events(mailbox)
        .iter()
        .any(|e| e["id"].as_str() == wanted.as_deref())
}

fn reconciler(world: &World) -> Reconciler {
    let graph = GraphClient::new(graph_config(&world.sim)).expect("graph client");
    Reconciler::new(world.store.clone(), graph, ReconcileOptions::default())
}

async fn plan(world: &World) -> Vec<Finding> {
    let (events, _) = mpsc::unbounded_channel();
    reconciler(world)
        .plan(LedgerScope::default(), events, CancellationToken::new())
        .await
        .expect("plan")
        .findings
}

async fn verify(world: &World) -> Vec<(i64, CheckStatus)> {
    let graph = GraphClient::new(graph_config(&world.sim)).expect("graph client");
    let verifier = Verifier::new(world.store.clone(), graph, VerifyOptions::default());
    let ids = world
        .store
        .selection_ids(&verifiable(Filter::default()))
        .await
        .expect("ids");
    let (tx, mut rx) = mpsc::unbounded_channel();
    verifier
        .run(ids, tx, CancellationToken::new())
        .await
        .expect("verify");
    let mut checks = Vec::new();
    while let Ok(event) = rx.try_recv() {
        if let VerifyEvent::Checked(check) = event {
            checks.push((check.selection_id, check.status));
        }
    }
    checks.sort_by_key(|(id, _)| *id);
    checks
}

fn status(checks: &[(i64, CheckStatus)], id: i64) -> &CheckStatus {
    &checks
        .iter()
        .find(|(selection, _)| *selection == id)
        .unwrap_or_else(|| panic!("{id} checked: {checks:?}"))
        .1
}

/// The findings as (mailbox, immutable id), to compare with what the sim holds.
fn found(findings: &[Finding]) -> BTreeSet<(String, String)> {
    findings
        .iter()
        .map(|f| (f.mailbox.clone(), f.event_id.clone()))
        .collect()
}

fn leftovers(sim: &SimHandle, lms: &LmsMailboxes) -> BTreeSet<(String, String)> {
    BTreeSet::from([
        (LEA.to_string(), immutable(sim, LEA, &lms.leftovers[0])),
        (INES.to_string(), immutable(sim, INES, &lms.leftovers[1])),
    ])
}

on_both_backends! {
    async fn reconcile_finds_the_lms_leftovers_and_never_an_event_a_row_or_the_ledger_points_to(backend: Backend) {
        let world = World::new(backend).await;
        let lms = filled_by_the_lms(&world).await;

        // Before `calsync migrate`: only the rows point to events.
        assert_eq!(found(&plan(&world).await), leftovers(&world.sim, &lms));

        // After it, with verify having put the events the LMS made into the ledger under the
        // immutable ids Graph answered with: still only the leftovers.
        world.store.migrate_up(Utc::now()).await.unwrap();
        let checks = verify(&world).await;
        for id in [1, 2, 3] {
            assert_eq!(status(&checks, id), &CheckStatus::Present, "{checks:?}");
        }
        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        for (row, id) in lms.rows.iter().enumerate() {
            let ledgered = immutable(&world.sim, mailbox_of(row), id);
            assert_ne!(&ledgered, id);
            assert!(ledger.iter().any(|r| r.event_id == ledgered), "{ledger:?}");
        }
        let findings = plan(&world).await;
        assert_eq!(found(&findings), leftovers(&world.sim, &lms), "{findings:#?}");
        assert!(findings.iter().all(|f| f.kind.as_str() == "probable_duplicate"), "{findings:#?}");

        // Reconcile deletes them, and every row's event is still there.
        let (events, _) = mpsc::unbounded_channel();
        reconciler(&world).apply(findings, events, CancellationToken::new()).await.unwrap();
        for (row, id) in lms.rows.iter().enumerate() {
            assert!(in_calendar(&world.sim, mailbox_of(row), id), "selection's event {id} kept");
        }
        assert!(!in_calendar(&world.sim, LEA, &lms.leftovers[0]));
        assert!(plan(&world).await.is_empty());
    }
}

on_both_backends! {
    async fn events_calsync_wrote_are_its_own_whatever_format_the_row_holds(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        let (summary, items) = world.sync(vec![2]).await;
        assert_eq!(summary.created, 1, "{items:?}");
        let row = world.store.selection(2).await.unwrap().unwrap().sync.outlook_event_id.unwrap();
        let ours = immutable(&world.sim, LEA, &row);
        // The row holds the LMS's format, the ledger the immutable id.
        assert_eq!(world.sim.state().rest_id_of(LEA, &row).as_deref(), Some(row.as_str()));
        assert_ne!(row, ours);
        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        assert_eq!(ledger.iter().map(|r| r.event_id.as_str()).collect::<Vec<_>>(), vec![ours.as_str()]);
        assert!(plan(&world).await.is_empty(), "neither a ledger nor a tagged orphan");
        assert_eq!(status(&verify(&world).await, 2), &CheckStatus::Present);

        // A row an older calsync wrote holds the immutable id: the same event, no finding.
        world.db.exec(&format!("UPDATE {SELECTION} SET outlook_event_id = '{ours}' WHERE id = 2")).await;
        assert!(plan(&world).await.is_empty());
        // Its next sync updates it in place and writes the LMS's format back.
        let (again, _) = world.sync(vec![2]).await;
        assert_eq!((again.created, again.updated), (0, 1));
        let rewritten = world.store.selection(2).await.unwrap().unwrap().sync.outlook_event_id.unwrap();
        assert_eq!(rewritten, row);
        assert_eq!(world.events(LEA).len(), 1);
    }
}

on_both_backends! {
    async fn delete_probable_yes_loses_no_selections_event(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        let lms = filled_by_the_lms(&world).await;

        let url = world.db.url_string();
        let (graph, login) = (world.sim.graph_url(), world.sim.login_url());
        let run = calsync(
            &["--database-url", &url, "reconcile", "--conference-id", "1", "--delete-probable", "--yes", "--json"],
            &[("CALSYNC_GRAPH_URL", graph.as_str()), ("CALSYNC_LOGIN_URL", login.as_str())],
        );
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let lines: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let summary = lines.last().unwrap();
        assert_eq!(summary["deleted"], 2, "{}", run.stdout);
        for (row, id) in lms.rows.iter().enumerate() {
            assert!(in_calendar(&world.sim, mailbox_of(row), id), "selection's event {id} kept: {}", run.stdout);
        }
        assert!(!in_calendar(&world.sim, LEA, &lms.leftovers[0]));
        assert!(!in_calendar(&world.sim, INES, &lms.leftovers[1]));
        let rows = world.store.selection(2).await.unwrap().unwrap();
        assert_eq!(rows.sync.outlook_event_id.as_deref(), Some(lms.rows[1].as_str()));
    }
}

on_both_backends! {
    async fn verify_reports_an_event_its_owner_deleted_as_missing_and_a_resync_recreates_it(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        let lms = filled_by_the_lms(&world).await;
        // Lea deletes her event in Outlook: it sits in Deleted Items, its immutable id intact.
        assert!(world.sim.state().delete_as_owner(LEA, &lms.rows[1]));
        // Ines's first event is known to the row by its immutable id (an older calsync wrote
        // it); she deletes that one too.
        let ines_immutable = immutable(&world.sim, INES, &lms.rows[0]);
        world.db.exec(&format!("UPDATE {SELECTION} SET outlook_event_id = '{ines_immutable}' WHERE id = 1")).await;
        assert!(world.sim.state().delete_as_owner(INES, &ines_immutable));

        let checks = verify(&world).await;
        assert_eq!(status(&checks, 1), &CheckStatus::Missing, "in Deleted Items is not present");
        assert_eq!(status(&checks, 2), &CheckStatus::Missing);
        assert_eq!(status(&checks, 3), &CheckStatus::Present);

        // Re-created once each, in the calendar; the deleted ones stay in Deleted Items.
        let (summary, items) = world.sync(vec![1, 2]).await;
        assert_eq!(summary.created, 2, "{items:?}");
        assert_eq!(world.sim.state().deleted_items_count(LEA), 1);
        let lea_now = world.store.selection(2).await.unwrap().unwrap().sync.outlook_event_id.unwrap();
        assert!(in_calendar(&world.sim, LEA, &lea_now));
        let checks = verify(&world).await;
        assert_eq!((status(&checks, 1), status(&checks, 2)), (&CheckStatus::Present, &CheckStatus::Present));
    }
}

on_both_backends! {
    async fn nothing_depends_on_the_id_format_graph_answers_in(backend: Backend) {
        // A Graph that answers in REST ids whatever calsync prefers.
        let config = SimConfig { honour_id_type: false, ..sim_config() };
        let world = World::with(backend, config, |_| {}).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        let lms = filled_by_the_lms(&world).await;
        // calsync's own event for Lea's slot 2, and a row an older calsync wrote (immutable id).
        world.db.exec(&format!(
            "INSERT INTO {SELECTION} (id, outlook_event_id, calendar_added, calendar_add_attempted_at, \
             calendar_error, selected_at, ip_address, conference_id, time_slot_id, user_id) \
             VALUES (11, NULL, FALSE, NULL, NULL, '2025-12-10 10:00:00', NULL, 1, 2, 3)"
        )).await;
        let (summary, items) = world.sync(vec![11]).await;
        assert_eq!(summary.created, 1, "{items:?}");
        let ours = world.store.selection(11).await.unwrap().unwrap().sync.outlook_event_id.unwrap();
        assert_eq!(world.sim.state().rest_id_of(LEA, &ours), Some(ours.clone()));
        let ines_immutable = immutable(&world.sim, INES, &lms.rows[2]);
        world.db.exec(&format!("UPDATE {SELECTION} SET outlook_event_id = '{ines_immutable}' WHERE id = 3")).await;

        let checks = verify(&world).await;
        for id in [1, 2, 3, 11] {
            assert_eq!(status(&checks, id), &CheckStatus::Present, "{checks:?}");
        }
        let findings = plan(&world).await;
        let as_immutable: BTreeSet<(String, String)> = findings
            .iter()
            .map(|f| (f.mailbox.clone(), immutable(&world.sim, &f.mailbox, &f.event_id)))
            .collect();
        assert_eq!(as_immutable, leftovers(&world.sim, &lms), "{findings:#?}");
        let (events, _) = mpsc::unbounded_channel();
        reconciler(&world).apply(findings, events, CancellationToken::new()).await.unwrap();
        for (row, id) in lms.rows.iter().enumerate() {
            assert!(in_calendar(&world.sim, mailbox_of(row), id), "selection's event {id} kept");
        }
        assert!(in_calendar(&world.sim, LEA, &ours));
        assert!(plan(&world).await.is_empty());
    }
}
