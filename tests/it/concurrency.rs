//! Concurrency chosen from the run: with no `--concurrency` every mailbox of the run is kept at
//! Graph's 4 in flight; `--concurrency` caps the whole run; Graph's app-wide limit makes the
//! client back off and the run still completes. Against the simulated Graph over real HTTP, on
//! both backends.
//!
//! Graph docs: concepts/throttling-limits.md — Outlook service limits "per app ID and mailbox
//! combination": "Four concurrent requests"; and "Any request can be evaluated against multiple
//! limits … per app across all tenants" (130,000 requests per 10 seconds). concepts/throttling.md:
//! a 429 carries Retry-After; wait that long before retrying.

use std::time::Duration;

use calsync::demo::lms_rows::literal_insert;
use calsync::domain::Filter;
use calsync::graph::{Credentials, ErrorKind, GraphClient, GraphConfig};
use calsync::sim::{AppLimit, Latency, SimConfig, SimServer};
use calsync::sync::{Engine, Summary, SyncOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::on_both_backends;
use crate::support::{Backend, TestDb, learner_row};
use crate::sync::{CLIENT_ID, SECRET, TENANT, graph_config, sim_config};

/// `mailboxes` learners (ids from 100), each selecting `per_mailbox` new UTC slots of
/// conference 1 (slot ids from 100; selection ids from 10,000). Returns the selection ids.
async fn learners_with_slots(db: &TestDb, mailboxes: i64, per_mailbox: i64) -> Vec<i64> {
    let mut sql = String::new();
    for k in 0..per_mailbox {
        sql.push_str(&format!(
            "INSERT INTO conferences_conferencetimeslot (id, date, start_time, end_time, timezone, \
             max_participants, current_participants, meeting_link, meeting_id, meeting_password, \
             is_available, created_at, updated_at, conference_id, online_meeting_id) VALUES \
             ({slot}, '2026-02-01', '{hour:02}:00:00', '{hour:02}:30:00', 'UTC', 0, 0, '', '', '', \
             TRUE, '2025-11-20 14:35:00', '2025-11-20 14:35:00', 1, NULL);\n",
            slot = 100 + k,
            hour = k % 24,
        ));
    }
    let mut ids = Vec::new();
    for i in 0..mailboxes {
        let user = 100 + i;
        sql.push_str(&literal_insert(&[learner_row(
            user,
            &format!("learner{user}"),
            &mailbox(user),
            Some(1),
        )]));
        for k in 0..per_mailbox {
            let id = 10_000 + i * per_mailbox + k;
            ids.push(id);
            sql.push_str(&format!(
                "INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, \
                 calendar_added, calendar_add_attempted_at, calendar_error, selected_at, ip_address, \
                 conference_id, time_slot_id, user_id) VALUES ({id}, NULL, FALSE, NULL, NULL, \
                 '2025-12-10 10:00:00', NULL, 1, {slot}, {user});\n",
                slot = 100 + k,
            ));
        }
    }
    db.exec(&sql).await;
    ids
}

fn mailbox(user: i64) -> String {
    format!("learner{user}@example.org")
}

/// Runs a sync of `ids` with `options` against a simulator started with `sim`.
async fn run(
    db: &TestDb,
    sim: SimConfig,
    options: SyncOptions,
    ids: Vec<i64>,
) -> (Summary, calsync::sim::SimStats, GraphClient) {
    let store = db.store().await;
    let sim = SimServer::start(sim)
        .await
        .expect("start the simulated Graph");
    let graph = GraphClient::new(graph_config(&sim)).expect("graph client");
    let engine = Engine::new(store.clone(), graph.clone(), options);
    let (tx, _rx) = mpsc::unbounded_channel();
    let claims = store.claims(false).await.expect("claims");
    let summary = engine
        .run(
            claims,
            &Filter::default(),
            ids,
            tx,
            CancellationToken::new(),
        )
        .await
        .expect("run");
    (summary, sim.state().stats(), graph)
}

fn slow(latency_ms: u64) -> SimConfig {
    SimConfig {
        latency: Latency::fixed(Duration::from_millis(latency_ms)),
        ..sim_config()
    }
}

on_both_backends! {
    async fn with_no_concurrency_every_mailbox_of_the_run_is_kept_at_four_in_flight(
        backend: Backend
    ) {
        let db = TestDb::with_fixture(backend).await;
        let ids = learners_with_slots(&db, 30, 8).await;
        let (summary, stats, _) = run(&db, slow(150), SyncOptions::default(), ids).await;
        assert_eq!((summary.synced, summary.failed), (240, 0), "{summary:?}");
        for user in 100..130 {
            let m = stats.mailbox(&mailbox(user));
            assert_eq!(m.peak_concurrency, 4, "{}: {m:?}", mailbox(user));
        }
        // Every mailbox at once, and never one over Graph's limit.
        assert!(stats.peak_in_flight > 64, "peak {}", stats.peak_in_flight);
        assert_eq!(stats.total_throttled(), 0);
    }
}

on_both_backends! {
    async fn concurrency_caps_the_whole_run(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let ids = learners_with_slots(&db, 30, 4).await;
        let options = SyncOptions {
            concurrency: 8,
            ..SyncOptions::default()
        };
        let (summary, stats, _) = run(&db, slow(30), options, ids).await;
        assert_eq!((summary.synced, summary.failed), (120, 0), "{summary:?}");
        assert!(stats.peak_in_flight <= 8, "peak {}", stats.peak_in_flight);
        assert!(stats.peak_in_flight >= 2, "peak {}", stats.peak_in_flight);
    }
}

on_both_backends! {
    async fn graphs_app_wide_limit_makes_the_run_back_off_and_it_still_completes(
        backend: Backend
    ) {
        let db = TestDb::with_fixture(backend).await;
        let ids = learners_with_slots(&db, 40, 4).await;
        // Graph's 130,000 per 10 s scaled down: 50 requests per 400 ms for 160 creates.
        let sim = SimConfig {
            app_limit: Some(AppLimit {
                requests: 50,
                window: Duration::from_millis(400),
            }),
            ..slow(20)
        };
        let (summary, stats, graph) = run(&db, sim, SyncOptions::default(), ids).await;
        assert_eq!((summary.synced, summary.failed), (160, 0), "{summary:?}");
        assert!(stats.app_throttled > 0, "{stats:?}");
        let (ceiling, decreases) = graph.app_ceiling();
        assert!(decreases >= 1, "the ceiling was never lowered");
        assert!(ceiling < calsync::graph::APP_IN_FLIGHT_CEILING);
        for user in 100..140 {
            assert!(stats.mailbox(&mailbox(user)).peak_concurrency <= 4);
        }
    }
}

/// Over the app-wide budget the simulator answers Graph's documented 429: `TooManyRequests`
/// with a Retry-After that lasts until the window ends (concepts/throttling.md, "Sample
/// response").
#[tokio::test]
async fn the_app_wide_limit_answers_429_with_retry_after_across_mailboxes() {
    let sim = SimServer::start(SimConfig {
        app_limit: Some(AppLimit {
            requests: 1,
            window: Duration::from_secs(30),
        }),
        ..sim_config()
    })
    .await
    .expect("start the simulated Graph");
    let graph = GraphClient::new(GraphConfig {
        max_attempts: 1,
        ..graph_config(&sim)
    })
    .expect("graph client");
    let creds = Credentials::new(TENANT, CLIENT_ID, SECRET);
    let first = graph.get_event(&creds, "a@example.org", "AAMkAGone=").await;
    assert!(matches!(first, Ok(None)), "{first:?}");
    // Another mailbox: the limit is the app's, not the first mailbox's.
    let Err(second) = graph.get_event(&creds, "b@example.org", "AAMkAGone=").await else {
        panic!("the second request was admitted");
    };
    assert_eq!(second.kind, ErrorKind::Throttled, "{second:?}");
    assert_eq!(second.code.as_deref(), Some("TooManyRequests"));
    let wait = second.retry_after.expect("a Retry-After");
    assert!(
        wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    assert_eq!(sim.state().stats().app_throttled, 1);
}

on_both_backends! {
    async fn a_run_holds_no_more_claims_than_postgresqls_lock_table_can_spare(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let claims = store.claims(false).await.expect("claims");
        match backend {
            // One run lock for the whole file: no per-selection claims to count.
            Backend::Sqlite => assert_eq!(claims.budget().await, None),
            // Advisory locks live in the shared lock table (64 × 100 entries by default):
            // "out of shared memory" past it, so a run takes a quarter.
            Backend::Postgres => {
                let budget = claims.budget().await.expect("a budget on PostgreSQL");
                assert!((1..20_000).contains(&budget), "{budget}");
            }
        }
    }
}
