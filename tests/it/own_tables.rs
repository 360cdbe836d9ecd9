//! calsync's own tables: `calsync migrate` up, down and up again without touching the LMS's
//! tables, the event ledger written with every sync result, and the audit log of every action
//! that writes.

use std::time::Duration;

use calsync::domain::audit::AuditOutcome;
use calsync::domain::ledger::{LedgerAction, LedgerScope};
use calsync::sim::{Fault, GhostReply, SimServer};
use calsync::store::Store;
use calsync::sync::Outcome;
use chrono::{TimeZone, Utc};
use serde_json::Value;

use crate::cli::{assert_one_line_error, calsync};
use crate::on_both_backends;
use crate::support::{Backend, TestDb};
use crate::sync::{World, sim_config};

const LEA: &str = "lea.learner@example.org";

/// The immutable id (what calsync gets back and the ledger keeps) of Lea's event `id`.
fn immutable_id(world: &World, id: Option<&str>) -> Option<String> {
    world.sim.state().immutable_id_of(LEA, id?)
}
const OWN_TABLES: [&str; 6] = [
    "calsync_schema_migrations",
    "calsync_event_ledger",
    "calsync_audit_log",
    "calsync_create_intent",
    "calsync_worker_retries",
    "calsync_workers",
];

async fn table_exists(db: &TestDb, table: &str) -> bool {
    let sql = match db.backend {
        Backend::Sqlite => format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
        ),
        Backend::Postgres => format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM information_schema.tables WHERE table_name = '{table}'"
        ),
    };
    db.scalar_text(&sql).await.as_deref() == Some("1")
}

/// Every LMS row, as text, so any change by calsync would show.
async fn lms_snapshot(store: &Store) -> String {
    let counts = store.row_counts().await.unwrap();
    let slots = store.all_slots().await.unwrap();
    let page = store
        .page(&calsync::domain::PageRequest {
            filter: calsync::domain::Filter::default(),
            sort: calsync::domain::Sort::by(calsync::domain::SortKey::Id, false),
            after: None,
            limit: 1000,
        })
        .await
        .unwrap();
    let sync: Vec<_> = page.rows.iter().map(|r| (r.id, r.sync.clone())).collect();
    format!("{counts:?}\n{slots:?}\n{sync:?}")
}

fn graph_env(sim: &calsync::sim::SimHandle) -> Vec<(&'static str, String)> {
    vec![
        ("CALSYNC_GRAPH_URL", sim.graph_url()),
        ("CALSYNC_LOGIN_URL", sim.login_url()),
        ("USER", "ops-tester".to_string()),
        ("HOSTNAME", "console-7".to_string()),
    ]
}

pub fn run(db: &TestDb, sim: Option<&calsync::sim::SimHandle>, args: &[&str]) -> crate::cli::Run {
    let url = db.url_string();
    let mut all = vec!["--database-url", url.as_str()];
    all.extend_from_slice(args);
    let env = sim.map(graph_env).unwrap_or_else(|| {
        vec![
            ("USER", "ops-tester".to_string()),
            ("HOSTNAME", "console-7".to_string()),
        ]
    });
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    calsync(&all, &env)
}

on_both_backends! {
    async fn migrate_goes_up_down_and_up_again_without_touching_the_lms_tables(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        assert_eq!(store.own_version(), 0);
        let before = lms_snapshot(&store).await;

        let up = store.migrate_up(Utc::now()).await.unwrap();
        assert_eq!((up.from, up.to), (0, 7));
        assert_eq!(
            up.steps,
            vec![
                (1, "event ledger"),
                (2, "audit log"),
                (3, "teams meetings"),
                (4, "create intents"),
                (5, "worker"),
                (6, "worker due index"),
                (7, "event web links")
            ]
        );
        for table in OWN_TABLES {
            assert!(table_exists(&db, table).await, "{table} created");
        }
        let again = store.migrate_up(Utc::now()).await.unwrap();
        assert!(again.steps.is_empty(), "idempotent: {again:?}");
        assert_eq!(db.store().await.own_version(), 7, "a new connection sees version 7");

        let partly = store.migrate_down(1).await.unwrap();
        assert_eq!(
            partly.steps,
            vec![
                (7, "event web links"),
                (6, "worker due index"),
                (5, "worker"),
                (4, "create intents"),
                (3, "teams meetings"),
                (2, "audit log")
            ]
        );
        assert!(!table_exists(&db, "calsync_create_intent").await);
        assert!(!table_exists(&db, "calsync_workers").await);
        assert!(table_exists(&db, "calsync_event_ledger").await);
        assert!(!table_exists(&db, "calsync_audit_log").await);

        let down = store.migrate_down(0).await.unwrap();
        assert_eq!((down.from, down.to), (1, 0));
        for table in OWN_TABLES {
            assert!(!table_exists(&db, table).await, "{table} dropped");
        }
        assert_eq!(store.own_version(), 0);
        assert!(!store.has_ledger());

        let up_again = store.migrate_up(Utc::now()).await.unwrap();
        assert_eq!((up_again.from, up_again.to), (0, 7));
        assert_eq!(lms_snapshot(&store).await, before, "the LMS's rows are untouched");
    }
}

#[tokio::test]
async fn the_migrate_command_reports_each_step_and_is_idempotent() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let first = run(&db, None, &["migrate"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(
        first.stdout.lines().collect::<Vec<_>>(),
        [
            "applied 1: event ledger",
            "applied 2: audit log",
            "applied 3: teams meetings",
            "applied 4: create intents",
            "applied 5: worker",
            "applied 6: worker due index",
            "applied 7: event web links",
            "calsync's tables: version 0 → 7"
        ]
    );
    let second = run(&db, None, &["migrate"]);
    assert_eq!(
        second.stdout.trim(),
        "calsync's tables are already at version 7 (nothing to do)"
    );
    let status = run(&db, None, &["migrate", "--status"]);
    assert!(
        status
            .stdout
            .starts_with("calsync's tables: version 7 of 7")
    );
    assert!(status.stdout.contains("applied"));
    assert!(!status.stdout.contains("pending"));

    let audit = run(&db, None, &["audit", "--json"]);
    let rows: Vec<Value> = audit
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "the migration itself is audited once");
    assert_eq!(rows[0]["action"], "migrate");
    assert_eq!(rows[0]["os_user"], "ops-tester");
    assert_eq!(rows[0]["host"], "console-7");
    assert_eq!(rows[0]["outcome"], "ok");

    let down = run(&db, None, &["migrate", "--down"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(down.stdout.contains("calsync's tables: version 7 → 0"));
    let gone = run(&db, None, &["audit"]);
    assert_one_line_error(&gone, "run `calsync migrate` first");
    let pending = run(&db, None, &["migrate", "--status"]);
    assert!(pending.stdout.contains("pending"));
    assert!(pending.stdout.contains("Run `calsync migrate`"));
}

#[tokio::test]
async fn migrate_refuses_a_read_only_session_and_a_bad_target_version() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    assert_one_line_error(&run(&db, None, &["--read-only", "migrate"]), "--read-only");
    assert_one_line_error(
        &run(&db, None, &["migrate", "--down", "--to", "8"]),
        "the newest version is 7",
    );
    assert!(!table_exists(&db, "calsync_schema_migrations").await);
}

on_both_backends! {
    async fn dropping_a_ledger_that_tracks_live_events_needs_force(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let sim = SimServer::start(sim_config()).await.unwrap();
        assert_eq!(run(&db, None, &["migrate"]).code, 0);
        let sync = run(&db, Some(&sim), &["sync", "--selection-id", "2"]);
        assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);

        let refused = run(&db, None, &["migrate", "--down"]);
        assert_one_line_error(&refused, "still tracks 1 event(s)");
        assert!(table_exists(&db, "calsync_event_ledger").await);
        let forced = run(&db, None, &["migrate", "--down", "--force"]);
        assert_eq!(forced.code, 0, "{}", forced.stderr);
        assert!(!table_exists(&db, "calsync_event_ledger").await);
        sim.shutdown().await;
    }
}

on_both_backends! {
    async fn the_ledger_records_every_event_the_engine_creates_updates_adopts_or_loses(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();

        // 2 is created; 6 (no email) and 5 (branch without integration) fail and leave no event.
        let (summary, items) = world.sync(vec![2, 5, 6]).await;
        assert_eq!((summary.created, summary.failed), (1, 2), "{items:?}");
        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        assert_eq!(ledger.len(), 1, "{ledger:?}");
        let first = &ledger[0];
        let two = world.store.selection(2).await.unwrap().unwrap();
        // The row keeps the LMS's format (a REST id), the ledger the immutable id: one event.
        assert_eq!(Some(first.event_id.clone()), immutable_id(&world, two.sync.outlook_event_id.as_deref()));
        assert_eq!(first.last_action, LedgerAction::Created);
        assert_eq!((first.selection_id, first.user_id, first.conference_id, first.slot_id), (Some(2), Some(3), Some(1), Some(1)));
        assert_eq!(first.mailbox, LEA);
        assert_eq!(first.subject, "Induction Q&A");
        // Slot 1: 2025-12-15 10:00–11:00 Europe/London, which is UTC in December.
        assert_eq!(first.sent_start, Utc.with_ymd_and_hms(2025, 12, 15, 10, 0, 0).unwrap());
        assert_eq!(first.sent_end, Utc.with_ymd_and_hms(2025, 12, 15, 11, 0, 0).unwrap());
        assert_eq!(first.deleted_at, None);

        // Synced again: updated in place, the same ledger row, seen later.
        let (again, _) = world.sync(vec![2]).await;
        assert_eq!(again.updated, 1);
        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].last_action, LedgerAction::Updated);
        assert!(ledger[0].last_seen_at >= first.last_seen_at);
        assert_eq!(ledger[0].created_at, first.created_at);

        // Deleted in Outlook: the old event is recorded as missing, the new one as created.
        assert!(world.sim.state().delete_event_out_of_band(LEA, &first.event_id));
        let (recreated, _) = world.sync(vec![2]).await;
        assert_eq!(recreated.created, 1);
        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        assert_eq!(ledger.len(), 2, "{ledger:?}");
        let old = ledger.iter().find(|r| r.event_id == first.event_id).unwrap();
        assert_eq!(old.last_action, LedgerAction::Missing);
        assert!(old.deleted_at.is_some());
        let new = ledger.iter().find(|r| r.event_id != first.event_id).unwrap();
        assert_eq!(new.last_action, LedgerAction::Created);
        let two = world.store.selection(2).await.unwrap().unwrap();
        assert_eq!(immutable_id(&world, two.sync.outlook_event_id.as_deref()), Some(new.event_id.clone()));
        assert_eq!(world.store.ledger_of_selection(2).await.unwrap().len(), 2);
    }
}

on_both_backends! {
    async fn an_event_adopted_after_a_lost_reply_is_in_the_ledger_once(backend: Backend) {
        let world = World::with(backend, sim_config(), |c| c.timeout = Duration::from_millis(500)).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        world.sim.state().push_fault(Fault::GhostCommit {
            mailbox: LEA.to_string(),
            reply: GhostReply::Stall(Duration::from_secs(3)),
        });
        let (summary, items) = world.sync(vec![2]).await;
        assert_eq!(summary.synced, 1, "{items:?}");
        let Outcome::Synced { event_id, .. } = &items[0].outcome else { panic!("{items:?}") };
        let ledger = world.store.ledger_rows(LedgerScope::default()).await.unwrap();
        assert_eq!(ledger.len(), 1, "{ledger:?}");
        assert_eq!(Some(ledger[0].event_id.clone()), immutable_id(&world, Some(event_id)));
        assert_eq!(ledger[0].last_action, LedgerAction::Adopted);
        assert_eq!(world.events(LEA).len(), 1);
    }
}

on_both_backends! {
    async fn without_migrate_syncing_works_and_writes_no_ledger(backend: Backend) {
        let world = World::new(backend).await;
        let (summary, _) = world.sync(vec![2]).await;
        assert_eq!(summary.created, 1);
        assert!(!world.store.has_ledger());
        assert!(world.store.ledger_rows(LedgerScope::default()).await.is_err());
        assert!(world.store.ledger_of_selection(2).await.unwrap().is_empty());
        assert_eq!(world.store.audit_start(&calsync::domain::audit::AuditStart {
            operator: calsync::domain::audit::Operator::current(),
            action: "sync".into(),
            scope: String::new(),
            filter: String::new(),
            rows: 1,
            at: Utc::now(),
        }).await.unwrap(), None, "no audit table, nothing recorded");
    }
}

on_both_backends! {
    async fn a_sync_run_is_audited_with_who_what_and_how_it_ended(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let sim = SimServer::start(sim_config()).await.unwrap();
        assert_eq!(run(&db, None, &["migrate"]).code, 0);
        let sync = run(&db, Some(&sim), &["sync", "--conference-id", "1"]);
        assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);

        let audit = run(&db, None, &["audit", "--json", "--action", "sync"]);
        assert_eq!(audit.code, 0, "{}", audit.stderr);
        let rows: Vec<Value> = audit.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), 1, "{}", audit.stdout);
        let row = &rows[0];
        assert_eq!(row["os_user"], "ops-tester");
        assert_eq!(row["host"], "console-7");
        assert_eq!(row["scope"], "unsynced --conference-id 1");
        assert_eq!(row["rows"], 1);
        assert_eq!(row["outcome"], AuditOutcome::Ok.as_str());
        assert!(row["finished_at"].is_string());
        assert!(row["detail"].as_str().unwrap().starts_with("1 synced (1 created"), "{row}");

        // A run with failures is "partial"; the table view shows both, newest first.
        let failing = run(&db, Some(&sim), &["sync", "--selection-id", "6"]);
        assert_eq!(failing.code, 1);
        let table = run(&db, None, &["audit"]);
        let lines: Vec<&str> = table.stdout.lines().collect();
        assert!(lines[0].starts_with("   ID  STARTED (UTC)"), "{}", table.stdout);
        assert!(lines[1].contains("partial") && lines[1].contains("--selection-id 6"), "{}", table.stdout);
        assert!(lines[2].contains(" ok ") && lines[2].contains("unsynced --conference-id 1"), "{}", table.stdout);
        assert!(lines[3].contains("migrate"), "{}", table.stdout);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn retry_failed_leaves_permanent_causes_alone_unless_asked() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    // Failed or interrupted: 2 and 7 (unknown user), 9 (no integration: credentials), 4 (no error).
    let default = run(&db, None, &["sync", "--dry-run", "--retry-failed"]);
    assert_eq!(default.code, 0, "{}", default.stderr);
    assert!(
        default
            .stdout
            .contains("Skipping 3 failures with a permanent cause"),
        "{}",
        default.stdout
    );
    assert!(
        default.stdout.contains("Found 1 selections to sync"),
        "{}",
        default.stdout
    );
    let asked = run(
        &db,
        None,
        &["sync", "--dry-run", "--retry-failed", "--include-permanent"],
    );
    assert!(!asked.stdout.contains("Skipping"));
    assert!(
        asked.stdout.contains("Found 4 selections to sync"),
        "{}",
        asked.stdout
    );
    let one_cause = run(
        &db,
        None,
        &[
            "sync",
            "--dry-run",
            "--retry-failed",
            "--cause",
            "credentials",
        ],
    );
    assert!(one_cause.stdout.contains("Found 1 selections to sync"));
}

fn event_start(world: &World, mailbox: &str) -> String {
    let events = world.events(mailbox);
    assert_eq!(events.len(), 1, "exactly one event: {events:?}");
    events[0]["start"]["dateTime"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

on_both_backends! {
    async fn a_slot_edited_after_its_event_was_written_is_stale_until_a_sync_updates_it_in_place(backend: Backend) {
        let world = World::new(backend).await;
        let (created, _) = world.sync(vec![2]).await;
        assert_eq!(created.created, 1);
        assert!(!world.store.selection(2).await.unwrap().unwrap().stale);
        let before = event_start(&world, LEA);

        // No ledger: the slot's updated_at after the attempt is the evidence.
        let edited_at = Utc::now() + chrono::Duration::milliseconds(500);
        world.db.exec(&format!("UPDATE conferences_conferencetimeslot SET start_time = '10:30:00', \
                       updated_at = '{}' WHERE id = 1", edited_at.format("%Y-%m-%d %H:%M:%S%.6f"))).await;
        let two = world.store.selection(2).await.unwrap().unwrap();
        assert!(two.stale, "the slot changed after the event was written");
        let stale_filter = calsync::domain::Filter { stale: true, ..Default::default() };
        let stale_ids = world.store.selection_ids(&stale_filter).await.unwrap();
        assert!(stale_ids.contains(&2), "{stale_ids:?}");
        assert!(!stale_ids.contains(&5), "a selection that was never added is not stale");

        // The next attempt comes after the edit.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let (updated, items) = world.sync(vec![2]).await;
        assert_eq!((updated.updated, updated.created), (1, 0), "{items:?}");
        let after = event_start(&world, LEA);
        assert_ne!(after, before, "the one event now carries the new start");
        assert!(after.contains("10:30"), "{after}");
        let two = world.store.selection(2).await.unwrap().unwrap();
        assert!(!two.stale, "written after the slot's change");
    }
}

on_both_backends! {
    async fn with_the_ledger_staleness_is_what_was_sent_not_when_the_slot_was_touched(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        world.sync(vec![2]).await;

        // The LMS bumps updated_at when the participant counter moves: the event is still right.
        world.db.exec("UPDATE conferences_conferencetimeslot SET current_participants = 4, \
                       updated_at = '2099-01-01 00:00:00' WHERE id = 1").await;
        assert!(!world.store.selection(2).await.unwrap().unwrap().stale);

        // A new conference title changes the event's subject, whatever updated_at says.
        world.db.exec("UPDATE conferences_conference SET title = 'Induction Q&A (moved)' WHERE id = 1").await;
        assert!(world.store.selection(2).await.unwrap().unwrap().stale);
        let (updated, _) = world.sync(vec![2]).await;
        assert_eq!(updated.updated, 1);
        let events = world.events(LEA);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["subject"], "Induction Q&A (moved)");
        assert!(!world.store.selection(2).await.unwrap().unwrap().stale);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_sync_select_stale_events_by_flag() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let sim = SimServer::start(sim_config()).await.unwrap();
    let created = run(&db, Some(&sim), &["sync", "--selection-id", "2"]);
    assert_eq!(created.code, 0, "{}{}", created.stdout, created.stderr);
    let edited_at = Utc::now() + chrono::Duration::milliseconds(500);
    db.exec(&format!(
        "UPDATE conferences_conferencetimeslot SET end_time = '11:15:00', \
         updated_at = '{}' WHERE id = 1",
        edited_at.format("%Y-%m-%d %H:%M:%S%.6f")
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;

    let status = run(&db, None, &["status", "--stale", "--json"]);
    let rows: Vec<Value> = status
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    // 1 was added by the LMS before the change too; 2 was just added by calsync.
    assert_eq!(ids, vec![2, 1], "{}", status.stdout);
    assert!(rows.iter().all(|r| r["stale"] == true));

    let sync = run(&db, Some(&sim), &["sync", "--stale", "--selection-id", "2"]);
    assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);
    assert!(
        sync.stdout.contains("Updating only stale events"),
        "{}",
        sync.stdout
    );
    assert!(
        sync.stdout.contains("0 created, 1 updated in place"),
        "{}",
        sync.stdout
    );
    let still = run(&db, None, &["status", "--stale", "--json"]);
    let ids: Vec<i64> = still
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, vec![1], "only the LMS's own stale event is left");
    sim.shutdown().await;
}

on_both_backends! {
    async fn a_ledger_event_is_an_orphan_only_when_its_selection_is_gone_or_points_elsewhere(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        world.sync(vec![2]).await;
        // The row in the ledger's format, as an older calsync wrote it: the query compares
        // strings (reconcile translates the row's REST ids before it calls anything an orphan).
        let ours = world.store.ledger_rows(LedgerScope::default()).await.unwrap()[0].event_id.clone();
        world.db.exec(&format!("UPDATE conferences_conferencetimeslotselection SET outlook_event_id = '{ours}' \
                       WHERE id = 2")).await;
        let scope = LedgerScope::default();
        assert!(world.store.ledger_orphans(scope).await.unwrap().is_empty());

        // The LMS's "retry" resets the row: no event id is no proof, the next sync adopts it.
        world.db.exec("UPDATE conferences_conferencetimeslotselection SET outlook_event_id = NULL, \
                       calendar_added = FALSE WHERE id = 2").await;
        assert!(world.store.ledger_orphans(scope).await.unwrap().is_empty());
        world.db.exec("UPDATE conferences_conferencetimeslotselection SET outlook_event_id = '' \
                       WHERE id = 2").await;
        assert!(world.store.ledger_orphans(scope).await.unwrap().is_empty());

        // Pointing to another event, or gone: orphaned.
        world.db.exec("UPDATE conferences_conferencetimeslotselection SET outlook_event_id = 'AAMkAGother=' \
                       WHERE id = 2").await;
        let orphans = world.store.ledger_orphans(scope).await.unwrap();
        assert_eq!(orphans.len(), 1, "{orphans:?}");
        assert!(!orphans[0].1, "the selection still exists");
        world.db.exec("DELETE FROM conferences_conferencetimeslotselection WHERE id = 2").await;
        let orphans = world.store.ledger_orphans(scope).await.unwrap();
        assert!(orphans.len() == 1 && orphans[0].1, "{orphans:?}");
    }
}
