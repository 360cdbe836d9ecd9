//! The sync engine over real HTTP against the simulated Graph, on SQLite and PostgreSQL.

use std::time::Duration;

use calsync::demo::lms_rows::{SelectionRow, literal_insert};
use calsync::domain::{Filter, Scope, SyncState};
use calsync::graph::{GraphClient, GraphConfig};
use calsync::sim::{
    Fault, GhostReply, Latency, MailboxState, RetryAfterMode, SimConfig, SimHandle, SimServer,
    SimTenant,
};
use calsync::store::Store;
use calsync::sync::{Engine, ItemResult, Outcome, Summary, SyncAction, SyncEvent, SyncOptions};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::on_both_backends;
use crate::support::{Backend, TestDb, learner_row};

pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const CLIENT_ID: &str = "00000000-0000-0000-0000-00000000c1d0";
pub const SECRET: &str = "fixture-secret-not-real";
const LEA: &str = "lea.learner@example.org";

pub fn sim_config() -> SimConfig {
    SimConfig {
        tenants: vec![SimTenant::new(TENANT, CLIENT_ID, SECRET)],
        retry_after: RetryAfterMode::Decimal,
        throttle_retry_after: Duration::from_millis(200),
        ..SimConfig::default()
    }
}

pub fn graph_config(sim: &SimHandle) -> GraphConfig {
    GraphConfig {
        graph_url: sim.graph_url(),
        login_url: sim.login_url(),
        timeout: Duration::from_secs(5),
        ..GraphConfig::default()
    }
}

pub struct World {
    pub db: TestDb,
    pub store: Store,
    pub sim: SimHandle,
    pub engine: Engine,
}

impl World {
    pub async fn new(backend: Backend) -> World {
        World::with(backend, sim_config(), |_| {}).await
    }

    pub async fn with(
        backend: Backend,
        sim: SimConfig,
        client: impl FnOnce(&mut GraphConfig),
    ) -> World {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let sim = SimServer::start(sim)
            .await
            .expect("start the simulated Graph");
        let mut config = graph_config(&sim);
        client(&mut config);
        let graph = GraphClient::new(config).expect("graph client");
        let engine = Engine::new(store.clone(), graph, SyncOptions::default());
        World {
            db,
            store,
            sim,
            engine,
        }
    }

    pub async fn sync(&self, ids: Vec<i64>) -> (Summary, Vec<ItemResult>) {
        self.sync_with(ids, CancellationToken::new()).await
    }

    pub async fn sync_with(
        &self,
        ids: Vec<i64>,
        cancel: CancellationToken,
    ) -> (Summary, Vec<ItemResult>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let claims = self.store.claims(false).await.expect("claims");
        let summary = self
            .engine
            .run(claims, &Filter::default(), ids, tx, cancel)
            .await
            .expect("run");
        let mut items = Vec::new();
        while let Ok(event) = rx.try_recv() {
            if let SyncEvent::Item(item) = event {
                items.push(item);
            }
        }
        (summary, items)
    }

    pub fn events(&self, mailbox: &str) -> Vec<Value> {
        self.sim.state().events(mailbox)
    }
}

fn outcome_of(items: &[ItemResult], id: i64) -> &Outcome {
    &items
        .iter()
        .find(|i| i.selection_id == id)
        .unwrap_or_else(|| panic!("no result for selection {id}"))
        .outcome
}

/// Adds `n` North Campus learners (ids from 100) each holding slot 1 (and slot 2 when `both`).
pub async fn add_learners(db: &TestDb, n: i64, both: bool) {
    let mut users = Vec::new();
    let mut selections = Vec::new();
    for i in 0..n {
        let id = 100 + i;
        users.push(learner_row(
            id,
            &format!("learner{id}"),
            &format!("learner{id}@example.org"),
            Some(1),
        ));
        for (k, slot) in [1, 2]
            .into_iter()
            .enumerate()
            .take(if both { 2 } else { 1 })
        {
            selections.push(SelectionRow {
                id: 1000 + i * 2 + k as i64,
                outlook_event_id: None,
                calendar_added: false,
                calendar_add_attempted_at: None,
                calendar_error: None,
                selected_at: format!("2025-12-10 10:{:02}:{:02}", (i / 60) % 60, i % 60),
                ip_address: None,
                conference: 1,
                slot,
                user: id,
            });
        }
    }
    db.exec(&(literal_insert(&users) + &literal_insert(&selections)))
        .await;
}

async fn learner_ids(store: &Store) -> Vec<i64> {
    let mut ids = store
        .selection_ids(&Filter {
            scope: Some(Scope::Unsynced),
            ..Filter::default()
        })
        .await
        .unwrap();
    ids.retain(|id| *id >= 1000);
    ids
}

on_both_backends! {
    async fn a_create_writes_the_event_id_and_clears_the_error(backend: Backend) {
        let world = World::new(backend).await;
        let (summary, items) = world.sync(vec![2, 9]).await;
        assert_eq!((summary.synced, summary.failed), (2, 0), "{items:?}");
        let events = world.events(LEA);
        assert_eq!(events.len(), 2);
        let two = world.store.selection(2).await.unwrap().unwrap();
        assert_eq!(two.state(), SyncState::Added);
        assert_eq!(two.sync.error, None);
        let Outcome::Synced { event_id, action } = outcome_of(&items, 2) else { panic!() };
        assert_eq!(*action, SyncAction::Created);
        assert_eq!(two.sync.outlook_event_id.as_deref(), Some(event_id.as_str()));
        assert!(two.sync.attempted_at.is_some());
    }
}

on_both_backends! {
    async fn the_payload_keeps_the_lms_meaning_with_its_bugs_fixed(backend: Backend) {
        let world = World::new(backend).await;
        world
            .db
            .exec(
                "UPDATE conferences_conference SET title = 'Q&A <script>alert(1)</script>', \
                 description = '<p onclick=\"x()\">Bring <b>questions</b></p><script>steal()</script>' WHERE id = 1; \
                 UPDATE conferences_conferencetimeslot SET meeting_link = 'https://teams.example/join?a=1&b=\"2\"' WHERE id = 1",
            )
            .await;
        world.sync(vec![2, 9]).await;
        let events = world.events(LEA);
        let teams = events.iter().find(|e| e["subject"].as_str().unwrap_or("").starts_with("Q&A")).unwrap();
        assert_eq!(teams["subject"], "Q&A <script>alert(1)</script>", "the subject is plain text, JSON-escaped");
        let body = teams["body"]["content"].as_str().unwrap();
        assert!(!body.contains("<script") && !body.contains("onclick"), "{body}");
        assert!(body.contains("<b>questions</b>"));
        assert!(body.contains("<strong>Join Microsoft Teams:</strong>"));
        assert!(body.contains("href=\"https://teams.example/join?a=1&amp;b=&quot;2&quot;\""), "{body}");
        assert_eq!(teams["isOnlineMeeting"], true);
        assert_eq!(teams["onlineMeetingProvider"], "teamsForBusiness");
        assert_eq!(teams["originalStartTimeZone"], "GMT Standard Time");
        assert!(teams["transactionId"].as_str().unwrap().starts_with("calsync-2-"));
        // Zoom slot 3 falls in the spring-forward gap: 01:30 does not exist, 02:30 is sent.
        let zoom = events.iter().find(|e| e["subject"] == "Zoom Clinic").unwrap();
        assert!(zoom.get("isOnlineMeeting").is_none_or(|v| v == false));
        assert_eq!(zoom["location"]["displayName"], "Online Meeting");
        assert!(zoom["start"]["dateTime"].as_str().unwrap().starts_with("2026-03-29T01:30:00"), "{}", zoom["start"]);
    }
}

on_both_backends! {
    async fn selections_that_cannot_sync_fail_before_any_graph_call(backend: Backend) {
        let world = World::new(backend).await;
        let (summary, items) = world.sync(vec![4, 6, 7, 8, 10]).await;
        assert_eq!(world.sim.state().stats().total_requests(), 0, "no Graph call was needed");
        assert_eq!(summary.skipped, 1, "conference 3 no longer uses time slots");
        assert!(matches!(outcome_of(&items, 8), Outcome::Skipped { .. }));
        let error = |id| match outcome_of(&items, id) {
            Outcome::Failed { error, .. } => error.clone(),
            other => panic!("{id}: {other:?}"),
        };
        assert_eq!(error(6), "User email address is required for calendar integration");
        assert_eq!(error(7), "Slot 4: unknown time zone 'Foo/Bar' (not an IANA zone name) — fix the slot in the LMS");
        assert!(error(4).starts_with("No Teams integration available (none active is owned by someone in branch 'South Campus'"));
        let stored = world.store.selection(4).await.unwrap().unwrap();
        assert_eq!(stored.state(), SyncState::Failed);
        assert_eq!(stored.sync.error_text(), Some(error(4).as_str()));
    }
}

on_both_backends! {
    async fn all_updates_added_events_in_place_and_never_duplicates(backend: Backend) {
        let world = World::new(backend).await;
        world.sync(vec![2, 9]).await;
        let first: Vec<String> = world.events(LEA).iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
        world.db.exec("UPDATE conferences_conference SET title = 'Induction Q&A (moved)' WHERE id = 1").await;
        let (summary, items) = world.sync(vec![2, 9]).await;
        assert_eq!(summary.updated, 2, "{items:?}");
        let after = world.events(LEA);
        assert_eq!(after.len(), 2, "no new event");
        let mut ids: Vec<String> = after.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
        ids.sort();
        let mut first = first;
        first.sort();
        assert_eq!(ids, first);
        assert!(after.iter().any(|e| e["subject"] == "Induction Q&A (moved)"));
    }
}

on_both_backends! {
    async fn an_event_deleted_in_outlook_is_created_again_once(backend: Backend) {
        let world = World::new(backend).await;
        world.sync(vec![2]).await;
        let old = world.store.selection(2).await.unwrap().unwrap().sync.outlook_event_id.unwrap();
        assert!(world.sim.state().delete_event_out_of_band(LEA, &old));
        let (summary, items) = world.sync(vec![2]).await;
        assert_eq!(summary.synced, 1, "{items:?}");
        let events = world.events(LEA);
        assert_eq!(events.len(), 1);
        let new = world.store.selection(2).await.unwrap().unwrap().sync.outlook_event_id.unwrap();
        assert_ne!(new, old);
    }
}

on_both_backends! {
    async fn a_create_that_times_out_after_committing_leaves_exactly_one_event(backend: Backend) {
        let world = World::with(backend, sim_config(), |c| c.timeout = Duration::from_millis(500)).await;
        world.sim.state().push_fault(Fault::GhostCommit {
            mailbox: LEA.to_string(),
            reply: GhostReply::Stall(Duration::from_secs(3)),
        });
        let (summary, items) = world.sync(vec![2]).await;
        assert_eq!(summary.synced, 1, "{items:?}");
        assert_eq!(world.events(LEA).len(), 1, "exactly one event");
        let Outcome::Synced { event_id, .. } = outcome_of(&items, 2) else { panic!() };
        // The row holds the LMS's format of that one event's id (calsync sees the immutable one).
        let seen = world.events(LEA)[0]["id"].as_str().unwrap().to_string();
        assert_eq!(world.sim.state().rest_id_of(LEA, &seen), Some(event_id.clone()));
    }
}

on_both_backends! {
    async fn tokens_expiring_mid_run_are_fetched_again(backend: Backend) {
        let world = World::new(backend).await;
        add_learners(&world.db, 20, false).await;
        let ids = learner_ids(&world.store).await;
        world.sync(ids[..10].to_vec()).await;
        world.sim.state().expire_all_tokens();
        let (summary, items) = world.sync(ids[10..].to_vec()).await;
        assert_eq!((summary.synced, summary.failed), (10, 0), "{items:?}");
    }
}

on_both_backends! {
    async fn a_rotated_secret_fails_with_a_reason_and_no_secret(backend: Backend) {
        let world = World::new(backend).await;
        assert!(world.sim.state().rotate_secret(TENANT, CLIENT_ID, "the-new-secret"));
        let (summary, items) = world.sync(vec![2]).await;
        assert_eq!(summary.failed, 1);
        let Outcome::Failed { error, .. } = outcome_of(&items, 2) else { panic!("{items:?}") };
        assert!(error.contains("AADSTS7000215"), "{error}");
        let stored = world.store.selection(2).await.unwrap().unwrap();
        let text = stored.sync.error_text().unwrap();
        assert!(!text.contains(SECRET) && !text.contains("the-new-secret"));
        for token in world.sim.state().issued_tokens() {
            assert!(!text.contains(&token));
        }
        assert_eq!(world.events(LEA).len(), 0);
    }
}

/// Ines (instructor) gets a third selection, so three of hers hit one mailbox at once.
async fn give_ines_three_slots(db: &TestDb) {
    db.exec(
        "INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, calendar_added, \
         calendar_add_attempted_at, calendar_error, selected_at, ip_address, conference_id, time_slot_id, user_id) \
         VALUES (11, NULL, FALSE, NULL, NULL, '2025-12-08 10:00:00', NULL, 2, 3, 2)",
    )
    .await;
}

on_both_backends! {
    /// `translateExchangeIds` takes up to 1,000 ids of one mailbox in one call
    /// (api/user-translateexchangeids.md): the REST ids of a mailbox's new events are asked for
    /// together, and each row still gets its own event's REST id, the format the LMS writes.
    async fn a_mailboxs_new_events_share_one_id_translation(backend: Backend) {
        let ines = "ines.tutor@example.org";
        let world = World::new(backend).await;
        // Three slots of hers never tried before: each is one create.
        world.db.exec(
            "INSERT INTO conferences_conferencetimeslot (id, date, start_time, end_time, timezone, \
             max_participants, current_participants, meeting_link, meeting_id, meeting_password, \
             is_available, created_at, updated_at, conference_id) \
             VALUES (6, '2026-04-02', '10:00:00', '11:00:00', 'Europe/London', 0, 0, NULL, NULL, NULL, TRUE, '2025-11-20 14:35:00', '2025-11-20 14:35:00', 2), \
                    (7, '2026-04-03', '10:00:00', '11:00:00', 'Europe/London', 0, 0, NULL, NULL, NULL, TRUE, '2025-11-20 14:35:00', '2025-11-20 14:35:00', 2);
             INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, calendar_added, \
             calendar_add_attempted_at, calendar_error, selected_at, ip_address, conference_id, time_slot_id, user_id) \
             VALUES (11, NULL, FALSE, NULL, NULL, '2025-12-08 10:00:00', NULL, 2, 3, 2), \
                    (12, NULL, FALSE, NULL, NULL, '2025-12-08 10:01:00', NULL, 2, 6, 2), \
                    (13, NULL, FALSE, NULL, NULL, '2025-12-08 10:02:00', NULL, 2, 7, 2)",
        ).await;
        let (summary, items) = world.sync(vec![11, 12, 13]).await;
        assert_eq!(summary.synced, 3, "{items:?}");
        // Three creates and one translateExchangeIds, not three.
        assert_eq!(world.sim.state().stats().mailbox(ines).requests, 4);
        let mut events = std::collections::BTreeSet::new();
        for id in [11, 12, 13] {
            let row = world.store.selection(id).await.unwrap().unwrap();
            let column = row.sync.outlook_event_id.unwrap();
            let event = world.sim.state().immutable_id_of(ines, &column).unwrap();
            assert_ne!(column, event, "selection {id} holds the REST id");
            events.insert(event);
        }
        assert_eq!(events.len(), 3, "each row names its own event");
    }
}

on_both_backends! {
    async fn throttling_storms_are_waited_out(backend: Backend) {
        // Exchange allows this mailbox one request at a time: the client's fourth-of-four
        // requests meet 429s with Retry-After and must wait them out, not fail.
        let mut config = sim_config();
        config.per_mailbox_concurrency = 1;
        config.latency = Latency::fixed(Duration::from_millis(30));
        // Each create is now two requests to the mailbox (the create, then translateExchangeIds),
        // so on a busy machine the one slot is raced for longer than six attempts can cover.
        let world = World::with(backend, config, |c| c.max_attempts = 12).await;
        give_ines_three_slots(&world.db).await;
        // Scripted 429s make the storm certain, whatever the timing of this busy machine.
        world.sim.state().push_fault(Fault::FailNext {
            mailbox: "ines.tutor@example.org".to_string(),
            status: 429,
            count: 2,
        });
        let (summary, items) = world.sync(vec![1, 3, 11]).await;
        assert_eq!((summary.synced, summary.failed), (3, 0), "{items:?}");
        assert!(summary.throttled > 0, "the storm happened: {summary:?}");
        assert_eq!(world.events("ines.tutor@example.org").len(), 3);
    }
}

on_both_backends! {
    async fn no_request_goes_out_before_retry_after(backend: Backend) {
        let world = World::with(backend, sim_config(), |c| c.per_mailbox_concurrency = 1).await;
        give_ines_three_slots(&world.db).await;
        world.sim.state().push_fault(Fault::FailNext {
            mailbox: "ines.tutor@example.org".to_string(),
            status: 429,
            count: 3,
        });
        let started = std::time::Instant::now();
        let (summary, items) = world.sync(vec![1, 3, 11]).await;
        assert_eq!(summary.synced, 3, "{items:?}");
        assert_eq!(world.sim.state().stats().total_early_retries(), 0);
        // Three 429s with Retry-After 0.2 s each: the waits really happened.
        assert!(started.elapsed() >= Duration::from_millis(600));
    }
}

on_both_backends! {
    async fn unavailable_and_gateway_timeouts_are_retried(backend: Backend) {
        let world = World::new(backend).await;
        world.sim.state().push_fault(Fault::FailNext { mailbox: LEA.to_string(), status: 503, count: 2 });
        let (summary, items) = world.sync(vec![9]).await;
        assert_eq!(summary.synced, 1, "{items:?}");
        assert_eq!(world.events(LEA).len(), 1);
    }
}

on_both_backends! {
    async fn unknown_users_and_unlicensed_mailboxes_get_operator_reasons(backend: Backend) {
        let mut config = sim_config();
        config.directory = config.directory.with_user(LEA, MailboxState::NoMailbox);
        let world = World::with(backend, config, |_| {}).await;
        let (_, items) = world.sync(vec![2, 1]).await;
        let Outcome::Failed { error, .. } = outcome_of(&items, 2) else { panic!("{items:?}") };
        assert!(error.contains("MailboxNotEnabledForRESTAPI") && error.contains(LEA), "{error}");
        world.sim.state().set_mailbox_state("ines.tutor@example.org", MailboxState::Unknown);
        let (_, items) = world.sync(vec![1]).await;
        let Outcome::Failed { error, .. } = outcome_of(&items, 1) else { panic!("{items:?}") };
        assert!(error.contains("ErrorInvalidUser"), "{error}");
        assert!(error.chars().count() <= 1000 && !error.contains('\n'));
    }
}

on_both_backends! {
    async fn cancelling_stops_new_work_and_records_what_was_in_flight(backend: Backend) {
        let mut config = sim_config();
        config.latency = Latency::fixed(Duration::from_millis(100));
        let world = World::with(backend, config, |_| {}).await;
        add_learners(&world.db, 40, false).await;
        let ids = learner_ids(&world.store).await;
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        let (tx, mut rx) = mpsc::unbounded_channel();
        // Cancel once the first selection is done: what is in flight is creates, or rarely a
        // login wait, which is abandoned (see http_client's tests).
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if matches!(event, SyncEvent::Item(_)) {
                    trigger.cancel();
                }
            }
        });
        let engine = Engine::new(
            world.store.clone(),
            GraphClient::new(graph_config(&world.sim)).unwrap(),
            SyncOptions { concurrency: 4, ..SyncOptions::default() },
        );
        let claims = world.store.claims(false).await.unwrap();
        let summary = engine.run(claims, &Filter::default(), ids.clone(), tx, cancel).await.unwrap();
        assert!(summary.not_started > 0, "{summary:?}");
        // On a loaded machine a task launched just before the cancel can still be waiting for
        // its token: that wait is abandoned and says nothing reached Graph.
        let abandoned_logins = summary
            .failures
            .iter()
            .filter(|f| f.error.contains("nothing was sent to Graph"))
            .count();
        assert_eq!(abandoned_logins, summary.failed, "{summary:?}");
        assert_eq!(summary.synced + summary.not_started + abandoned_logins, ids.len(), "{summary:?}");
        let added = world
            .store
            .count(&Filter { states: vec![SyncState::Added], selection_ids: ids.clone(), ..Filter::default() })
            .await
            .unwrap();
        assert_eq!(added as usize, summary.synced, "every finished selection was recorded");
        let events: usize = (100..140).map(|u| world.events(&format!("learner{u}@example.org")).len()).sum();
        assert_eq!(events, summary.synced);
    }
}

on_both_backends! {
    async fn a_mailbox_with_less_concurrency_left_is_met_with_less(backend: Backend) {
        // Something else uses three of the mailbox's four slots: the client must settle on one
        // instead of losing every race after each Retry-After until its attempts run out.
        let mut config = sim_config();
        config.per_mailbox_concurrency = 1;
        config.latency = Latency::fixed(Duration::from_millis(40));
        let world = World::with(backend, config, |_| {}).await;
        give_ines_three_slots(&world.db).await;
        world.db.exec(
            "INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, calendar_added, \
             calendar_add_attempted_at, calendar_error, selected_at, ip_address, conference_id, time_slot_id, user_id) \
             VALUES (12, NULL, FALSE, NULL, NULL, '2025-12-08 11:00:00', NULL, 2, 4, 2), \
                    (13, NULL, FALSE, NULL, NULL, '2025-12-08 12:00:00', NULL, 3, 5, 2)",
        ).await;
        world.db.exec("UPDATE conferences_conferencetimeslot SET timezone = 'UTC', end_time = '11:00:00' WHERE id = 4").await;
        world.db.exec("UPDATE conferences_conference SET use_time_slots = TRUE WHERE id = 3").await;
        let (summary, items) = world.sync(vec![1, 3, 11, 12, 13]).await;
        assert_eq!((summary.synced, summary.failed), (5, 0), "{items:?}");
        assert_eq!(world.events("ines.tutor@example.org").len(), 5);
    }
}

on_both_backends! {
    async fn rows_read_in_chunks_skip_the_missing_and_sync_the_rest(backend: Backend) {
        let world = World::new(backend).await;
        add_learners(&world.db, 10, false).await;
        let mut ids = learner_ids(&world.store).await;
        ids.insert(3, 999_999);
        // Concurrency 3 reads the rows three at a time: four chunks, one holding the missing id.
        let engine = Engine::new(
            world.store.clone(),
            GraphClient::new(graph_config(&world.sim)).unwrap(),
            SyncOptions { concurrency: 3, ..SyncOptions::default() },
        );
        let (tx, mut rx) = mpsc::unbounded_channel();
        let claims = world.store.claims(false).await.unwrap();
        let summary = engine
            .run(claims, &Filter::default(), ids, tx, CancellationToken::new())
            .await
            .unwrap();
        assert_eq!((summary.created, summary.skipped, summary.failed), (10, 1, 0), "{summary:?}");
        let mut items = Vec::new();
        while let Ok(event) = rx.try_recv() {
            if let SyncEvent::Item(item) = event {
                items.push(item);
            }
        }
        assert!(matches!(
            outcome_of(&items, 999_999),
            Outcome::Skipped { reason } if reason == "the selection no longer exists"
        ));
        let events: usize = (100..110).map(|u| world.events(&format!("learner{u}@example.org")).len()).sum();
        assert_eq!(events, 10);
    }
}
