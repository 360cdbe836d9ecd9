//! `calsync reconcile`: events left behind by cancelled and changed selections, by the LMS's
//! lost ids and duplicates, found in the ledger, by calsync's tag and by their shape, and deleted
//! with `DELETE /users/{mailbox}/calendar/events/{id}` against the simulated Graph over HTTP.

use std::collections::BTreeSet;

use calsync::domain::ledger::{LedgerAction, LedgerScope};
use calsync::graph::GraphClient;
use calsync::sim::{Fault, MailboxState, SimHandle, SimServer};
use calsync::sync::payload::TAG_PROPERTY_ID;
use calsync::sync::reconcile::{
    Finding, FindingKind, Plan, ReconcileOptions, Reconciler, Resolution, Resolved,
};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::{Run, assert_one_line_error, calsync};
use crate::on_both_backends;
use crate::support::{Backend, TestDb};
use crate::sync::{CLIENT_ID, SECRET, TENANT, World, graph_config, sim_config};

const LEA: &str = "lea.learner@example.org";
const SELECTION: &str = "conferences_conferencetimeslotselection";

fn reconciler(world: &World) -> Reconciler {
    let graph = GraphClient::new(graph_config(&world.sim)).expect("graph client");
    Reconciler::new(world.store.clone(), graph, ReconcileOptions::default())
}

fn conference(id: i64) -> LedgerScope {
    LedgerScope {
        conference_id: Some(id),
        user_id: None,
    }
}

async fn plan(world: &World, scope: LedgerScope) -> Plan {
    let (events, _) = mpsc::unbounded_channel();
    reconciler(world)
        .plan(scope, events, CancellationToken::new())
        .await
        .expect("plan")
}

async fn apply(world: &World, findings: Vec<Finding>) -> Vec<Resolved> {
    let (events, _) = mpsc::unbounded_channel();
    reconciler(world)
        .apply(findings, events, CancellationToken::new())
        .await
        .expect("apply")
}

fn ids_of(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Syncs selection 2 (Lea, slot 1 of 'Induction Q&A') and returns its event id.
async fn synced_event_of_selection_2(world: &World) -> String {
    let (summary, items) = world.sync(vec![2]).await;
    assert_eq!(summary.created, 1, "{items:?}");
    let events = world.events(LEA);
    assert_eq!(events.len(), 1);
    events[0]["id"].as_str().unwrap().to_string()
}

async fn migrated_world(backend: Backend) -> World {
    let world = World::new(backend).await;
    world.store.migrate_up(Utc::now()).await.unwrap();
    world
}

async fn cancel_selection(db: &TestDb, id: i64) {
    db.exec(&format!("DELETE FROM {SELECTION} WHERE id = {id}"))
        .await;
}

/// The event the LMS's `add_to_outlook_calendar` sends: the bare title, an offset `dateTime`
/// beside an IANA zone, no tag, no transactionId.
fn lms_event(title: &str, start: &str, end: &str) -> Value {
    json!({
        "subject": title,
        "body": {"contentType": "HTML", "content": "<p>Bring your questions.</p>"},
        "start": {"dateTime": start, "timeZone": "Europe/London"},
        "end": {"dateTime": end, "timeZone": "Europe/London"},
        "isOnlineMeeting": true,
        "onlineMeetingProvider": "teamsForBusiness",
    })
}

/// What the LMS left for Lea's slot 1 (2025-12-15 10:00–11:00 London, which is UTC then).
fn plant_lms_event_for_slot_1(sim: &SimHandle) -> String {
    sim.state()
        .plant_event(
            LEA,
            &lms_event(
                "Induction Q&A",
                "2025-12-15T10:00:00+00:00",
                "2025-12-15T11:00:00+00:00",
            ),
        )
        .expect("plant")
}

/// The immutable id calsync's requests get back for the event the LMS (or a row) knows as `id`.
fn as_calsync_sees(sim: &SimHandle, id: &str) -> String {
    sim.state()
        .immutable_id_of(LEA, id)
        .expect("the event exists")
}

fn cli(db: &TestDb, sim: &SimHandle, args: &[&str]) -> Run {
    let url = db.url_string();
    let mut all = vec!["--database-url", url.as_str(), "reconcile"];
    all.extend_from_slice(args);
    let (graph, login) = (sim.graph_url(), sim.login_url());
    calsync(
        &all,
        &[
            ("CALSYNC_GRAPH_URL", graph.as_str()),
            ("CALSYNC_LOGIN_URL", login.as_str()),
            ("USER", "ops-tester"),
            ("HOSTNAME", "console-7"),
        ],
    )
}

fn json_lines(run: &Run) -> (Vec<Value>, Value) {
    let mut lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    let summary = lines.pop().expect("a summary line");
    (lines, summary)
}

on_both_backends! {
    async fn deletes_the_event_of_a_cancelled_selection_and_marks_the_ledger(backend: Backend) {
        let world = migrated_world(backend).await;
        let event_id = synced_event_of_selection_2(&world).await;
        cancel_selection(&world.db, 2).await;

        let found = plan(&world, conference(1)).await;
        assert!(found.ledger_checked);
        assert_eq!(found.mailboxes_scanned, 2, "Ines and Lea");
        assert_eq!(found.findings.len(), 1, "{:?}", found.findings);
        let orphan = &found.findings[0];
        assert_eq!(orphan.kind, FindingKind::LedgerOrphan);
        assert_eq!((orphan.mailbox.as_str(), orphan.event_id.as_str()), (LEA, event_id.as_str()));
        assert_eq!((orphan.selection_id, orphan.user_id, orphan.slot_id), (Some(2), Some(3), Some(1)));
        assert!(orphan.evidence.contains("selection 2, which no longer exists"), "{}", orphan.evidence);

        let resolved = apply(&world, found.findings).await;
        assert_eq!(resolved[0].result, Resolution::Deleted);
        assert!(world.events(LEA).is_empty(), "the event is gone from Lea's calendar");
        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].last_action, LedgerAction::Deleted);
        assert!(ledger[0].deleted_at.is_some());
        assert!(plan(&world, conference(1)).await.findings.is_empty(), "nothing left to do");
    }
}

on_both_backends! {
    async fn a_changed_slot_deletes_the_old_event_and_keeps_the_new_one(backend: Backend) {
        let world = migrated_world(backend).await;
        let old = synced_event_of_selection_2(&world).await;
        // The LMS's select_time_slot: the old row goes (no Graph call), a new one comes.
        cancel_selection(&world.db, 2).await;
        world.db.exec(&format!(
            "INSERT INTO {SELECTION} (id, outlook_event_id, calendar_added, calendar_add_attempted_at, \
             calendar_error, selected_at, ip_address, conference_id, time_slot_id, user_id) \
             VALUES (11, NULL, FALSE, NULL, NULL, '2025-12-10 10:00:00', NULL, 1, 2, 3)"
        )).await;
        let (summary, _) = world.sync(vec![11]).await;
        assert_eq!(summary.created, 1);
        let new = world.store.selection(11).await.unwrap().unwrap().sync.outlook_event_id.unwrap();

        let found = plan(&world, conference(1)).await;
        assert_eq!(found.findings.len(), 1, "only the old event: {:?}", found.findings);
        assert_eq!(found.findings[0].kind, FindingKind::LedgerOrphan);
        assert_eq!(found.findings[0].event_id, old);
        apply(&world, found.findings).await;
        assert_eq!(ids_of(&world.events(LEA)), BTreeSet::from([as_calsync_sees(&world.sim, &new)]));
    }
}

on_both_backends! {
    async fn an_event_whose_id_the_lms_overwrote_is_a_ledger_orphan(backend: Backend) {
        let world = migrated_world(backend).await;
        let ours = synced_event_of_selection_2(&world).await;
        // The LMS re-adds the selection on a re-confirm and keeps only its new event's id.
        let lms = plant_lms_event_for_slot_1(&world.sim);
        world.db.exec(&format!(
            "UPDATE {SELECTION} SET outlook_event_id = '{lms}' WHERE id = 2"
        )).await;

        let found = plan(&world, conference(1)).await;
        assert_eq!(found.findings.len(), 1, "the LMS's event is pointed to: {:?}", found.findings);
        let orphan = &found.findings[0];
        assert_eq!((orphan.kind, orphan.event_id.as_str()), (FindingKind::LedgerOrphan, ours.as_str()));
        assert!(orphan.evidence.contains("which now points to event AAMkAG"), "{}", orphan.evidence);
    }
}

on_both_backends! {
    async fn an_event_deleted_meanwhile_counts_as_already_gone(backend: Backend) {
        let world = migrated_world(backend).await;
        let event_id = synced_event_of_selection_2(&world).await;
        cancel_selection(&world.db, 2).await;
        let found = plan(&world, conference(1)).await;
        assert!(world.sim.state().delete_event_out_of_band(LEA, &event_id));

        let resolved = apply(&world, found.findings).await;
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].result, Resolution::AlreadyGone);
        assert_eq!(resolved[0].result.as_text(), "already_gone");
        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        assert_eq!(ledger[0].last_action, LedgerAction::Deleted);
        assert!(ledger[0].deleted_at.is_some());
    }
}

on_both_backends! {
    async fn an_lms_duplicate_is_listed_with_evidence_and_deleted_only_when_confirmed(backend: Backend) {
        let world = migrated_world(backend).await;
        let ours = synced_event_of_selection_2(&world).await;
        let duplicate = plant_lms_event_for_slot_1(&world.sim);
        let duplicate_seen = as_calsync_sees(&world.sim, &duplicate);

        let listed = cli(&world.db, &world.sim, &["--conference-id", "1", "--json"]);
        assert_eq!(listed.code, 0, "{}{}", listed.stdout, listed.stderr);
        let (findings, summary) = json_lines(&listed);
        assert_eq!(findings.len(), 1, "{}", listed.stdout);
        let finding = &findings[0];
        let keys: BTreeSet<&str> = finding.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from([
            "kind", "mailbox", "user_id", "selection_id", "conference_id", "slot_id", "event_id",
            "subject", "start", "end", "evidence", "result",
        ]));
        assert_eq!(finding["kind"], "probable_duplicate");
        assert_eq!(finding["mailbox"], LEA);
        assert_eq!((finding["user_id"].clone(), finding["conference_id"].clone(), finding["slot_id"].clone()), (json!(3), json!(1), json!(1)));
        assert_eq!(finding["selection_id"], Value::Null);
        assert_eq!(finding["event_id"], duplicate_seen.as_str());
        assert_eq!(finding["subject"], "Induction Q&A");
        assert_eq!(finding["start"], "2025-12-15T10:00:00+00:00");
        assert_eq!(finding["result"], "kept");
        let evidence = finding["evidence"].as_str().unwrap();
        for part in [
            "match conference 1 'Induction Q&A' slot 1 (2025-12-15 10:00–11:00 Europe/London)",
            "no selection or ledger entry points to it",
            "selection 2 holds this slot and points to event",
            "2 such event(s) in this mailbox",
        ] {
            assert!(evidence.contains(part), "{part:?} in {evidence}");
        }
        assert_eq!(summary["findings"], 1);
        assert_eq!(summary["kept"], 1);
        assert_eq!(summary["deleted"], 0);
        assert_eq!(summary["mailboxes_scanned"], 2);
        assert_eq!(summary["mailboxes_failed"], 0);
        assert_eq!(summary["dry_run"], false);
        assert_eq!(world.events(LEA).len(), 2, "listed, not deleted");

        let dry = cli(&world.db, &world.sim, &["--conference-id", "1", "--dry-run", "--json"]);
        assert_eq!(dry.code, 0, "{}", dry.stderr);
        assert_eq!(json_lines(&dry).0[0]["result"], "kept");
        assert_eq!(world.events(LEA).len(), 2);

        let unconfirmed = cli(&world.db, &world.sim, &["--conference-id", "1", "--delete-probable"]);
        assert_one_line_error(&unconfirmed, "add --yes");
        assert_eq!(world.events(LEA).len(), 2);

        let confirmed = cli(&world.db, &world.sim, &["--conference-id", "1", "--delete-probable", "--yes", "--json"]);
        assert_eq!(confirmed.code, 0, "{}{}", confirmed.stdout, confirmed.stderr);
        let (findings, summary) = json_lines(&confirmed);
        assert_eq!(findings[0]["result"], "deleted");
        assert_eq!(summary["deleted"], 1);
        assert_eq!(ids_of(&world.events(LEA)), BTreeSet::from([ours]), "calsync's own event stays");
        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        let recorded = ledger.iter().find(|r| r.event_id == duplicate_seen).expect("recorded in the ledger");
        assert_eq!((recorded.last_action, recorded.selection_id, recorded.slot_id), (LedgerAction::Deleted, None, Some(1)));

        let audit = calsync(&["--database-url", &world.db.url_string(), "audit", "--json", "--action", "reconcile"], &[]);
        let rows: Vec<Value> = audit.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), 1, "only the run that deleted is audited: {}", audit.stdout);
        assert_eq!(rows[0]["scope"], "--conference-id 1 --delete-probable");
        assert_eq!(rows[0]["rows"], 1);
        assert_eq!(rows[0]["outcome"], "ok");
        assert_eq!(rows[0]["os_user"], "ops-tester");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_deletes_nothing_and_says_what_it_would_do() {
    let world = migrated_world(Backend::Sqlite).await;
    let event_id = synced_event_of_selection_2(&world).await;
    cancel_selection(&world.db, 2).await;
    // Slot 2 of the same conference, which Lea does not hold.
    let stray = world
        .sim
        .state()
        .plant_event(
            LEA,
            &lms_event(
                "Induction Q&A",
                "2025-12-16T14:00:00+00:00",
                "2025-12-16T15:00:00+00:00",
            ),
        )
        .unwrap();

    let run = cli(
        &world.db,
        &world.sim,
        &["--conference-id", "1", "--dry-run"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let ledger_line = lines
        .iter()
        .find(|l| l.starts_with("ledger_orphan"))
        .expect(&run.stdout);
    assert!(
        ledger_line.contains("user 3 lea.learner@example.org conference 1 slot 1 selection 2"),
        "{ledger_line}"
    );
    assert!(ledger_line.ends_with("→ would_delete"), "{ledger_line}");
    let stray_line = lines
        .iter()
        .find(|l| l.starts_with("probable_orphan"))
        .expect(&run.stdout);
    assert!(
        stray_line.contains("no selection of this person holds this slot"),
        "{stray_line}"
    );
    assert!(stray_line.ends_with("→ kept"), "{stray_line}");
    assert!(
        run.stdout
            .contains("Dry run: nothing deleted (1 would be deleted, 1 kept)"),
        "{}",
        run.stdout
    );
    assert_eq!(
        ids_of(&world.events(LEA)),
        BTreeSet::from([event_id, as_calsync_sees(&world.sim, &stray)])
    );
    let ledger = world
        .store
        .ledger_rows(LedgerScope::default())
        .await
        .unwrap();
    assert_eq!(ledger.len(), 1);
    assert!(ledger[0].deleted_at.is_none(), "the ledger is untouched");
    let audit = calsync(
        &[
            "--database-url",
            &world.db.url_string(),
            "audit",
            "--json",
            "--action",
            "reconcile",
        ],
        &[],
    );
    assert!(
        audit.stdout.trim().is_empty(),
        "a dry run writes no audit row"
    );
}

on_both_backends! {
    async fn without_the_ledger_tagged_orphans_are_still_found_and_the_missing_ledger_is_named(backend: Backend) {
        let world = World::new(backend).await;
        let event_id = synced_event_of_selection_2(&world).await;
        cancel_selection(&world.db, 2).await;

        let run = cli(&world.db, &world.sim, &["--user-id", "3"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let line = run.stdout.lines().find(|l| l.starts_with("tagged_orphan")).expect(&run.stdout);
        assert!(line.contains("carries calsync's tag, but its selection 2 no longer exists"), "{line}");
        assert!(line.ends_with("→ deleted"), "{line}");
        let notes: Vec<&str> = run.stdout.lines().filter(|l| l.contains("calsync migrate")).collect();
        assert_eq!(notes.len(), 1, "said once: {}", run.stdout);
        assert!(notes[0].starts_with("Ledger orphans need calsync's event ledger"));
        assert!(world.sim.state().events(LEA).iter().all(|e| e["id"] != event_id.as_str()));
        assert!(world.events(LEA).is_empty());
    }
}

on_both_backends! {
    async fn with_the_ledger_a_tagged_orphan_is_recorded_before_it_is_deleted(backend: Backend) {
        // Synced before `calsync migrate`: the ledger never heard of this event.
        let world = World::new(backend).await;
        let event_id = synced_event_of_selection_2(&world).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        cancel_selection(&world.db, 2).await;

        let found = plan(&world, LedgerScope { user_id: Some(3), conference_id: None }).await;
        assert_eq!(found.findings.len(), 1, "{:?}", found.findings);
        assert_eq!(found.findings[0].kind, FindingKind::TaggedOrphan);
        assert_eq!(found.findings[0].selection_id, Some(2));
        assert!(!found.findings[0].in_ledger);
        apply(&world, found.findings).await;

        let ledger = world.store.ledger_of_selection(2).await.unwrap();
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].event_id, event_id);
        assert_eq!(ledger[0].last_action, LedgerAction::Deleted);
        assert!(world.events(LEA).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deletion_is_reported_and_the_ledger_keeps_the_event_alive() {
    let world = migrated_world(Backend::Sqlite).await;
    synced_event_of_selection_2(&world).await;
    cancel_selection(&world.db, 2).await;
    let found = plan(&world, conference(1)).await;
    world.sim.state().push_fault(Fault::FailNext {
        mailbox: LEA.to_string(),
        count: 1,
        status: 500,
    });

    let resolved = apply(&world, found.findings).await;
    let Resolution::Failed(error) = &resolved[0].result else {
        panic!("{resolved:?}")
    };
    assert!(error.contains("500"), "{error}");
    assert!(resolved[0].result.as_text().starts_with("failed: "));
    assert_eq!(world.events(LEA).len(), 1, "still there");
    let ledger = world
        .store
        .ledger_rows(LedgerScope::default())
        .await
        .unwrap();
    assert!(
        ledger[0].deleted_at.is_none(),
        "found again by the next run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_that_fails_is_reported_once_and_the_others_go_on() {
    let world = migrated_world(Backend::Sqlite).await;
    synced_event_of_selection_2(&world).await;
    cancel_selection(&world.db, 2).await;
    world
        .sim
        .state()
        .set_mailbox_state(LEA, MailboxState::NoMailbox);

    let run = cli(&world.db, &world.sim, &["--conference-id", "1", "--json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let (findings, summary) = json_lines(&run);
    assert!(findings.is_empty(), "{}", run.stdout);
    assert_eq!(summary["mailboxes_scanned"], 1, "Ines's mailbox");
    assert_eq!(summary["mailboxes_failed"], 1);
    let errors = summary["mailbox_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["mailbox"], LEA);
    assert_eq!(errors[0]["user_id"], 3);
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("MailboxNotEnabledForRESTAPI")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_without_email_or_credentials_are_counted_not_fatal() {
    // Conference 2: Lea, Zoë and Ann (South Campus, no integration), a user without email.
    let world = migrated_world(Backend::Sqlite).await;
    let found = plan(&world, conference(2)).await;
    assert_eq!(found.users_without_email, 1);
    assert_eq!(found.mailboxes_scanned, 1, "Lea holds selection 9 of it");
    let failed: Vec<(&str, Option<i64>)> = found
        .mailbox_failures
        .iter()
        .map(|f| (f.mailbox.as_str(), f.user_id))
        .collect();
    assert_eq!(
        failed,
        [("ann@x.org", Some(5)), ("zoe.unal@example.org", Some(4))]
    );
    assert!(
        found
            .mailbox_failures
            .iter()
            .all(|f| f.error.starts_with("No Teams integration available"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_input_is_one_line_and_exit_2() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let sim = SimServer::start(sim_config()).await.unwrap();
    assert_one_line_error(
        &cli(&db, &sim, &["--user-id", "999"]),
        "no user with id 999",
    );
    assert_one_line_error(
        &cli(&db, &sim, &["--conference-id", "999"]),
        "no conference with id 999",
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_a_row_points_to_costs_one_translation_not_two() {
    let world = World::new(Backend::Sqlite).await;
    synced_event_of_selection_2(&world).await;
    let translations = |sim: &SimHandle| {
        sim.state()
            .wire_log()
            .iter()
            .filter(|r| {
                r.target.contains("lea.learner") && r.target.contains("translateExchangeIds")
            })
            .count()
    };
    let before = translations(&world.sim);

    let found = plan(&world, conference(1)).await;

    assert!(found.findings.is_empty(), "{:?}", found.findings);
    // The row's REST id translates to the immutable id the calendarView answered with: Graph
    // has named that id already, so it is not asked about in the other direction.
    assert_eq!(translations(&world.sim) - before, 1);
}

/// Plants `count` LMS events in Lea's calendar on 2025-12-15, one a minute from 10:00, each
/// ending on the next full hour.
fn plant_on_the_15th(sim: &SimHandle, count: u32) {
    for minute in 0..count {
        let start = format!("2025-12-15T10:{:02}:00+00:00", minute % 60);
        let hour = if minute < 60 { 11 } else { 12 };
        let end = format!("2025-12-15T{hour}:00:00+00:00");
        sim.state()
            .plant_event(LEA, &lms_event("Induction Q&A", &start, &end))
            .unwrap();
    }
}

#[tokio::test]
async fn a_mailboxs_windows_are_read_in_one_batch_and_a_window_past_its_first_page_is_followed() {
    let sim = SimServer::start(sim_config()).await.unwrap();
    let graph = GraphClient::new(graph_config(&sim)).unwrap();
    let creds = calsync::graph::Credentials::new(TENANT, CLIENT_ID, SECRET);
    plant_on_the_15th(&sim, 110);
    sim.state()
        .plant_event(
            LEA,
            &lms_event(
                "Induction Q&A",
                "2025-12-20T10:00:00+00:00",
                "2025-12-20T11:00:00+00:00",
            ),
        )
        .unwrap();
    let day = |d: u32| {
        (
            Utc.with_ymd_and_hms(2025, 12, d, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2025, 12, d + 1, 0, 0, 0).unwrap(),
        )
    };

    let before = sim.state().stats();
    let views = graph
        .calendar_views(&creds, LEA, &[day(15), day(18), day(20)], TAG_PROPERTY_ID)
        .await
        .unwrap();
    let after = sim.state().stats();

    let counts: Vec<usize> = views.iter().map(Vec::len).collect();
    assert_eq!(counts, [110, 0, 1], "per window, in the order asked");
    assert_eq!(
        after.batches - before.batches,
        1,
        "the three first pages in one $batch"
    );
    assert_eq!(
        sim.state().mailbox_stats(LEA).requests,
        4,
        "three windows and the 15th's second page: Graph counts each"
    );
    assert_eq!(views[2][0].subject.as_deref(), Some("Induction Q&A"));
    sim.shutdown().await;
}

#[tokio::test]
async fn calendar_view_lists_the_events_overlapping_the_window_across_pages() {
    let sim = SimServer::start(sim_config()).await.unwrap();
    let graph = GraphClient::new(graph_config(&sim)).unwrap();
    let creds = calsync::graph::Credentials::new(TENANT, CLIENT_ID, SECRET);
    plant_on_the_15th(&sim, 120);
    sim.state()
        .plant_event(
            LEA,
            &lms_event(
                "Induction Q&A",
                "2025-12-16T10:00:00+00:00",
                "2025-12-16T11:00:00+00:00",
            ),
        )
        .unwrap();

    let window = (
        Utc.with_ymd_and_hms(2025, 12, 15, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2025, 12, 16, 0, 0, 0).unwrap(),
    );
    let requests_before = sim.state().mailbox_stats(LEA).requests;
    let events = graph
        .calendar_view(&creds, LEA, window.0, window.1, TAG_PROPERTY_ID)
        .await
        .unwrap();
    assert_eq!(events.len(), 120, "the next day's event is outside");
    assert_eq!(
        sim.state().mailbox_stats(LEA).requests - requests_before,
        2,
        "100 per page"
    );
    let first = &events[0];
    assert_eq!(first.subject.as_deref(), Some("Induction Q&A"));
    let start = first.start.as_ref().unwrap();
    assert_eq!(
        (start.date_time.as_str(), start.time_zone.as_str()),
        ("2025-12-15T10:00:00.0000000", "UTC")
    );
    assert!(
        first.raw.get("body").is_none(),
        "$select leaves the body out"
    );
    sim.shutdown().await;
}
