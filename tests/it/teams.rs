//! Updates keep what Exchange added: the Teams meeting block of an online-meeting event survives
//! `sync --all`, `sync --stale`, single retries and adoption, over HTTP to the simulated Graph on
//! both backends; its join URL is recorded in the ledger and shown by `status --json`.
//!
//! Graph docs: api-reference/v1.0/api/event-update.md, "body property and online meetings" —
//! "Inadvertently removing the meeting blob from the body would disable meeting online";
//! api-reference/v1.0/resources/event.md, isOnlineMeeting — "Subsequently, Outlook ignores any
//! further changes to isOnlineMeeting"; concepts/outlook-calendar-online-meetings.md — the
//! created event's body holds the meeting block and `onlineMeeting.joinUrl` is returned.

use calsync::graph::{Credentials, GraphClient};
use calsync::sim::SimServer;
use calsync::sync::{Outcome, SyncAction};
use chrono::Utc;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::own_tables::run;
use crate::support::{Backend, TestDb};
use crate::sync::{CLIENT_ID, SECRET, TENANT, World, graph_config, sim_config};

const LEA: &str = "lea.learner@example.org";
const INES: &str = "ines.tutor@example.org";
/// The event the fixture's selection 1 says the LMS created for Ines.
const INES_EVENT: &str = "AAMkAGFixtureEventId00001=";
/// The event of the fixture's selection 3 (Ines, slot 2 of the same Teams conference).
const INES_PLAIN_EVENT: &str = "AAMkAGFixtureEventId00003=";

fn credentials() -> Credentials {
    Credentials::new(TENANT, CLIENT_ID, SECRET)
}

fn teams_event(content: &str) -> Value {
    json!({
        "subject": "Induction Q&A",
        "body": {"contentType": "HTML", "content": content},
        "start": {"dateTime": "2025-12-15T10:00:00", "timeZone": "GMT Standard Time"},
        "end": {"dateTime": "2025-12-15T11:00:00", "timeZone": "GMT Standard Time"},
        "isOnlineMeeting": true,
        "onlineMeetingProvider": "teamsForBusiness",
    })
}

/// An event of the Teams conference on which no online meeting was made.
fn plain_event() -> Value {
    let mut event = teams_event("<p>Bring your questions.</p>");
    if let Some(object) = event.as_object_mut() {
        object.remove("isOnlineMeeting");
        object.remove("onlineMeetingProvider");
    }
    event
}

fn join_url(event: &Value) -> Option<String> {
    event["onlineMeeting"]["joinUrl"]
        .as_str()
        .map(str::to_string)
}

fn content_of(event: &Value) -> &str {
    event["body"]["content"].as_str().unwrap_or_default()
}

/// The one event of `mailbox` with `id` (the REST id a row holds, or the immutable id the
/// simulator lists events by).
fn event_by_id(state: &calsync::sim::SimState, mailbox: &str, id: &str) -> Value {
    let events = state.events(mailbox);
    let wanted = state.immutable_id_of(mailbox, id);
    events
        .iter()
        .find(|e| e["id"].as_str() == wanted.as_deref())
        .cloned()
        .unwrap_or_else(|| panic!("no event {id} in {events:?}"))
}

/// An online meeting as the simulator keeps it: on, with the join URL it had at first, and
/// the join link still in the body.
fn assert_meeting_kept(event: &Value, join: &str) {
    assert_eq!(
        event["isOnlineMeeting"], true,
        "meeting turned off: {event}"
    );
    assert_eq!(join_url(event).as_deref(), Some(join), "{event}");
    assert!(content_of(event).contains(join), "the block is in the body");
}

#[tokio::test]
async fn the_simulator_turns_a_meeting_off_when_a_patch_drops_its_block() {
    let sim = SimServer::start(sim_config()).await.expect("sim");
    let graph = GraphClient::new(graph_config(&sim)).expect("client");
    let creds = credentials();
    let created = graph
        .create_event(&creds, LEA, &teams_event("<p>Welcome</p>"))
        .await
        .expect("create");
    let join = created.online_meeting_join_url.clone().expect("a join URL");
    assert!(join.starts_with("https://teams.microsoft.com/l/meetup-join/"));
    let stored = content_of(&created.raw).to_string();
    assert!(stored.contains("<p>Welcome</p>") && stored.contains(&format!("href=\"{join}\"")));

    // isOnlineMeeting false after true is ignored.
    let ignored = graph
        .update_event(
            &creds,
            LEA,
            &created.id,
            &json!({"isOnlineMeeting": false, "subject": "Renamed"}),
        )
        .await
        .expect("patch");
    assert_eq!(ignored.raw["subject"], "Renamed");
    assert_meeting_kept(&ignored.raw, &join);

    // What calsync used to send on every update: a new body, and isOnlineMeeting true again.
    let replaced = graph
        .update_event(
            &creds,
            LEA,
            &created.id,
            &json!({
                "body": {"contentType": "HTML", "content": "<p>Welcome</p>"},
                "isOnlineMeeting": true,
                "onlineMeetingProvider": "teamsForBusiness",
            }),
        )
        .await
        .expect("patch");
    assert_eq!(replaced.raw["isOnlineMeeting"], false);
    assert!(replaced.raw["onlineMeeting"].is_null());
    let read = graph
        .get_event(&creds, LEA, &created.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(read.online_meeting_join_url, None, "the meeting is off");
    assert!(!content_of(&read.raw).contains(&join));
}

/// Lea's Teams event made by calsync, and Ines's made by the LMS (under the id selection 1
/// holds), both as Exchange stores an online meeting; returns their join URLs. Ines's event of
/// selection 3 is one the LMS made without a meeting (a Teams conference whose organiser had no
/// Teams licence).
async fn teams_events_in_both_mailboxes(
    db: &TestDb,
    sim: &calsync::sim::SimHandle,
) -> (String, String) {
    let created = run(db, Some(sim), &["sync", "--selection-id", "2"]);
    assert_eq!(created.code, 0, "{}{}", created.stdout, created.stderr);
    let state = sim.state();
    let lea = state.events(LEA);
    assert_eq!(lea.len(), 1);
    let lea_join = join_url(&lea[0]).expect("calsync asked for a Teams meeting");
    state
        .plant_event_with_id(
            INES,
            Some(INES_EVENT),
            &teams_event("<p>Bring your questions.</p>"),
        )
        .expect("plant");
    state
        .plant_event_with_id(INES, Some(INES_PLAIN_EVENT), &plain_event())
        .expect("plant");
    let ines_join = join_url(&event_by_id(&state, INES, INES_EVENT)).expect("join URL");
    (lea_join, ines_join)
}

on_both_backends! {
    async fn sync_all_updates_teams_events_and_keeps_their_meetings(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let sim = SimServer::start(sim_config()).await.expect("sim");
        let (lea_join, ines_join) = teams_events_in_both_mailboxes(&db, &sim).await;
        db.exec(
            "UPDATE conferences_conference SET title = 'Induction Q&A (moved)', \
             description = '<p>Bring two questions.</p>' WHERE id = 1; \
             UPDATE conferences_conferencetimeslot SET start_time = '10:30:00' WHERE id = 1",
        )
        .await;

        let all = run(&db, Some(&sim), &["sync", "--all", "--conference-id", "1"]);
        assert_eq!(all.code, 0, "{}{}", all.stdout, all.stderr);
        let state = sim.state();
        let lea = state.events(LEA);
        assert_eq!(lea.len(), 1, "updated in place");
        let ines = event_by_id(&state, INES, INES_EVENT);
        for (event, join) in [(&lea[0], &lea_join), (&ines, &ines_join)] {
            assert_meeting_kept(event, join);
            assert_eq!(event["subject"], "Induction Q&A (moved)");
            assert!(event["start"]["dateTime"].as_str().unwrap_or_default().starts_with("2025-12-15T10:30:00"), "{event}");
            assert!(content_of(event).contains("Bring two questions."), "the new description went through");
            assert!(!content_of(event).contains("Bring your questions."), "the old one is gone");
        }
        // isOnlineMeeting goes only on creates: an update never makes a meeting of an event
        // that has none (the simulator would, as Graph documents for a PATCH).
        let plain = event_by_id(&state, INES, INES_PLAIN_EVENT);
        assert_eq!(plain["subject"], "Induction Q&A (moved)", "updated in place");
        assert_eq!(plain["isOnlineMeeting"], false, "{plain}");
        assert!(plain["onlineMeeting"].is_null());
        assert_eq!(state.events(INES).len(), 2, "no event was created for Ines");
    }
}

on_both_backends! {
    async fn sync_stale_keeps_the_meeting_and_leaves_an_unchanged_body_out(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let migrated = run(&db, None, &["migrate"]);
        assert_eq!(migrated.code, 0, "{}", migrated.stderr);
        let sim = SimServer::start(sim_config()).await.expect("sim");
        let (lea_join, _) = teams_events_in_both_mailboxes(&db, &sim).await;
        let before = sim.state().events(LEA)[0].clone();
        let requests_before = sim.state().mailbox_stats(LEA).requests;

        // The slot moves: the event is stale, its body is not.
        db.exec("UPDATE conferences_conferencetimeslot SET start_time = '10:45:00' WHERE id = 1").await;
        let stale = run(&db, Some(&sim), &["sync", "--stale", "--selection-id", "2"]);
        assert_eq!(stale.code, 0, "{}{}", stale.stdout, stale.stderr);
        assert!(stale.stdout.contains("0 created, 1 updated in place"), "{}", stale.stdout);
        let after = sim.state().events(LEA)[0].clone();
        assert_meeting_kept(&after, &lea_join);
        assert!(after["start"]["dateTime"].as_str().unwrap_or_default().starts_with("2025-12-15T10:45:00"), "{after}");
        assert_eq!(content_of(&after), content_of(&before), "the body Exchange holds was not sent again");
        assert_eq!(
            sim.state().mailbox_stats(LEA).requests - requests_before,
            1,
            "one PATCH without a body, and no read of the body first"
        );

        // Then the description changes: the new content goes out with the block kept.
        db.exec("UPDATE conferences_conference SET description = '<p>Read the handbook first.</p>' WHERE id = 1; \
                 UPDATE conferences_conferencetimeslot SET end_time = '11:45:00' WHERE id = 1").await;
        let again = run(&db, Some(&sim), &["sync", "--stale", "--selection-id", "2"]);
        assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
        let last = sim.state().events(LEA)[0].clone();
        assert_meeting_kept(&last, &lea_join);
        assert!(content_of(&last).contains("Read the handbook first."));
    }
}

on_both_backends! {
    async fn a_single_retry_and_an_adoption_keep_the_meeting(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        world.sync(vec![2]).await;
        let join = join_url(&world.events(LEA)[0]).expect("join URL");

        world.db.exec("UPDATE conferences_conference SET title = 'Retried' WHERE id = 1").await;
        let (retried, items) = world.sync(vec![2]).await;
        assert_eq!(retried.updated, 1, "{items:?}");
        let event = world.events(LEA)[0].clone();
        assert_meeting_kept(&event, &join);
        assert_eq!(event["subject"], "Retried");

        // The result of a sync was lost: the row looks interrupted, the event is found by its tag.
        world.db.exec("UPDATE conferences_conferencetimeslotselection SET outlook_event_id = NULL, \
                       calendar_added = FALSE WHERE id = 2; \
                       UPDATE conferences_conference SET title = 'Adopted' WHERE id = 1").await;
        let (adopted, items) = world.sync(vec![2]).await;
        assert_eq!(adopted.synced, 1, "{items:?}");
        assert!(items.iter().any(|i| matches!(&i.outcome, Outcome::Synced { action: SyncAction::Adopted, .. })), "{items:?}");
        let events = world.events(LEA);
        assert_eq!(events.len(), 1);
        assert_meeting_kept(&events[0], &join);
        assert_eq!(events[0]["subject"], "Adopted");
    }
}

on_both_backends! {
    async fn the_join_url_is_in_the_ledger_and_in_status_json(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let migrated = run(&db, None, &["migrate"]);
        assert_eq!(migrated.code, 0, "{}", migrated.stderr);
        let sim = SimServer::start(sim_config()).await.expect("sim");
        let created = run(&db, Some(&sim), &["sync", "--selection-id", "2"]);
        assert_eq!(created.code, 0, "{}{}", created.stdout, created.stderr);
        let join = join_url(&sim.state().events(LEA)[0]).expect("join URL");

        let ledger = db
            .scalar_text("SELECT teams_join_url FROM calsync_event_ledger WHERE selection_id = 2")
            .await;
        assert_eq!(ledger.as_deref(), Some(join.as_str()));

        let status = run(&db, None, &["status", "--user-id", "3", "--json"]);
        assert_eq!(status.code, 0, "{}", status.stderr);
        let rows: Vec<Value> = status.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let of = |id: i64| rows.iter().find(|r| r["id"] == id).cloned().unwrap_or_default();
        assert_eq!(of(2)["teams_join_url"], join.as_str());
        assert!(of(9)["teams_join_url"].is_null(), "never synced: unknown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_migration_status_json_says_null() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let status = run(&db, None, &["status", "--json"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    for line in status.stdout.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        assert!(row["teams_join_url"].is_null(), "{row}");
    }
}
