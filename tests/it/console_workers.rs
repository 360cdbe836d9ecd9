//! The console's worker screens (issue 11) against a real migrated SQLite database with worker
//! rows in it: `:workers`, `:retries` with `r` (retry now) and `P` (park), `:parked` by cause,
//! the overview's worker line, read-only refusals and a database without the worker tables.

use calsync::domain::Cause;
use calsync::domain::worker::RetryEntry;
use calsync::store::{ScheduleChange, Store};
use calsync::tui::app::Screen;
use calsync::tui::data::{OverviewPart, WorkersLine};
use calsync::tui::worker_views::{ParkedRow, WorkerAction, WorkerTab};
use calsync::tui::{App, Effect, Report};
use chrono::{Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::console::{code, key, now, session, type_text};
use crate::support::{Backend, TestDb};

/// Runs one effect through the console's runtime on `store`; its first report.
pub async fn run_effect(store: &Store, effect: Effect) -> Report {
    let graph = calsync::graph::GraphClient::new(calsync::graph::GraphConfig::default()).unwrap();
    let engine =
        calsync::sync::Engine::new(store.clone(), graph, calsync::sync::SyncOptions::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runtime = calsync::tui::runtime::Runtime::new(store.clone(), engine, tx);
    runtime.run(effect);
    tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv())
        .await
        .expect("a report")
        .expect("the runtime answers")
}

fn entry(id: i64, cause: Cause, parked: bool) -> RetryEntry {
    let at = Utc::now();
    RetryEntry {
        selection_id: id,
        cause,
        attempts: 2,
        next_attempt_at: (!parked).then(|| at + Duration::minutes(10)),
        parked_at: parked.then_some(at),
        last_error: match cause {
            Cause::NoMailbox => "No mailbox (MailboxNotEnabledForRESTAPI)".to_string(),
            _ => "Graph 503 Service Unavailable".to_string(),
        },
        depends_on: None,
        updated_at: at,
    }
}

/// The fixture, migrated, with one live worker, selection 2 waiting (throttled) and 5
/// parked (no mailbox).
async fn migrated_with_worker_rows() -> (TestDb, Store) {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let store = db.store().await;
    store.migrate_up(Utc::now()).await.unwrap();
    let store = db.store().await;
    store
        .register_worker("worker-host", 4242, "9.9.9", Utc::now())
        .await
        .unwrap();
    store
        .apply_schedule(&[
            ScheduleChange::Put(entry(2, Cause::Throttled, false)),
            ScheduleChange::Put(entry(5, Cause::NoMailbox, true)),
        ])
        .await
        .unwrap();
    (db, store)
}

/// Types `:command` and Enter; the worker screen's read.
fn command(app: &mut App, command: &str) -> Vec<Effect> {
    app.key(key(':'));
    type_text(app, command);
    app.key(code(KeyCode::Enter))
}

/// Opens a worker screen by its command and fills it from the real database.
async fn open(app: &mut App, store: &Store, name: &str, tab: WorkerTab) {
    let effects = command(app, name);
    let [Effect::WorkerData(generation, asked)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(*asked, tab);
    let report = run_effect(store, effects[0].clone()).await;
    assert!(
        matches!(report, Report::WorkerData(g, _) if g == *generation),
        "{report:?}"
    );
    app.report(report);
}

fn shift(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_lists_the_registered_workers_with_whether_they_run() {
    let (_db, store) = migrated_with_worker_rows().await;
    let (mut app, _) = App::new(session(false), now());
    open(&mut app, &store, "workers", WorkerTab::Workers).await;
    let Some(Screen::Workers(screen)) = app.screen() else {
        panic!("no workers screen")
    };
    assert!(!screen.no_tables && screen.table.pending.is_none());
    let hosts: Vec<(&str, i64, bool)> = screen
        .table
        .rows
        .iter()
        .map(|w| (w.entry.host.as_str(), w.entry.pid, w.alive))
        .collect();
    assert_eq!(hosts, [("worker-host", 4242, true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_shows_the_schedule_and_r_makes_the_entry_due_now_audited() {
    let (_db, store) = migrated_with_worker_rows().await;
    let (mut app, _) = App::new(session(false), now());
    open(&mut app, &store, "retries", WorkerTab::Retries).await;
    let Some(Screen::Retries(screen)) = app.screen() else {
        panic!("no retries screen")
    };
    let ids: Vec<(i64, Cause, u32)> = screen
        .table
        .rows
        .iter()
        .map(|l| (l.entry.selection_id, l.entry.cause, l.entry.attempts))
        .collect();
    assert_eq!(
        ids,
        [(2, Cause::Throttled, 2)],
        "parked entries are not in the schedule"
    );
    assert!(!screen.table.rows[0].person.is_empty());

    let effects = app.key(key('r'));
    assert_eq!(
        effects,
        [Effect::WorkerAct(WorkerAction::RetryNow, vec![2])]
    );
    let report = run_effect(&store, effects[0].clone()).await;
    let reload = app.report(report);
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.starts_with("due now: ")),
        "{:?}",
        app.message
    );
    assert!(
        matches!(
            reload.as_slice(),
            [Effect::WorkerData(_, WorkerTab::Retries)]
        ),
        "the screen is read again: {reload:?}"
    );
    let due = store.retry_entries_of(&[2]).await.unwrap();
    assert!(due[0].is_due(Utc::now()), "{due:?}");
    let audit = store
        .audit_rows(10, Some("console retry now"))
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].scope, "selections 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_p_on_the_schedule_parks_the_selection_audited() {
    let (_db, store) = migrated_with_worker_rows().await;
    let (mut app, _) = App::new(session(false), now());
    open(&mut app, &store, "retries", WorkerTab::Retries).await;
    let effects = app.key(shift('P'));
    assert_eq!(effects, [Effect::WorkerAct(WorkerAction::Park, vec![2])]);
    app.report(run_effect(&store, effects[0].clone()).await);
    assert_eq!(app.message.as_deref(), Some("parked: 2"));
    assert!(store.retry_entries_of(&[2]).await.unwrap()[0].is_parked());
    let audit = store.audit_rows(10, Some("console park")).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_groups_by_cause_with_what_to_fix_and_r_on_a_cause_retries_its_selections() {
    let (_db, store) = migrated_with_worker_rows().await;
    let (mut app, _) = App::new(session(false), now());
    open(&mut app, &store, "parked", WorkerTab::Parked).await;
    let Some(Screen::Parked(screen)) = app.screen() else {
        panic!("no parked screen")
    };
    let [
        ParkedRow::Cause {
            cause,
            count,
            fix,
            listed,
            ..
        },
        ParkedRow::Selection(first),
    ] = screen.table.rows.as_slice()
    else {
        panic!("{:?}", screen.table.rows)
    };
    assert_eq!(
        (*cause, *count, listed.as_slice()),
        (Cause::NoMailbox, 1, &[5][..])
    );
    assert!(fix.contains("Exchange Online licence"), "{fix}");
    assert_eq!(first.entry.selection_id, 5);
    // Park is for the schedule; on the parked set it is not a key.
    assert!(app.key(shift('P')).is_empty());

    let effects = app.key(key('r'));
    assert_eq!(
        effects,
        [Effect::WorkerAct(WorkerAction::RetryNow, vec![5])]
    );
    app.report(run_effect(&store, effects[0].clone()).await);
    let entry = &store.retry_entries_of(&[5]).await.unwrap()[0];
    assert!(!entry.is_parked() && entry.is_due(Utc::now()), "{entry:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_retry_now_and_park_with_a_message_and_writes_nothing() {
    let (_db, store) = migrated_with_worker_rows().await;
    let (mut app, _) = App::new(session(true), now());
    open(&mut app, &store, "retries", WorkerTab::Retries).await;
    for pressed in [key('r'), shift('P')] {
        app.message = None;
        assert!(app.key(pressed).is_empty());
        let message = app.message.clone().unwrap_or_default();
        assert!(message.contains("read-only"), "{pressed:?}: {message:?}");
    }
    // The action itself refuses too, however it is reached.
    assert!(app.update(calsync::tui::Action::RetryNow).is_empty());
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.starts_with("read-only: cannot retry now"))
    );
    assert!(!store.retry_entries_of(&[2]).await.unwrap()[0].is_due(Utc::now()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_calsync_migrate_the_worker_screens_show_a_notice_not_an_error() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let store = db.store().await;
    let (mut app, _) = App::new(session(false), now());
    for (name, tab) in [
        ("workers", WorkerTab::Workers),
        ("retries", WorkerTab::Retries),
        ("parked", WorkerTab::Parked),
    ] {
        open(&mut app, &store, name, tab).await;
        let (no_tables, error) = match app.screen() {
            Some(Screen::Workers(s)) => (s.no_tables, s.table.error.clone()),
            Some(Screen::Retries(s)) => (s.no_tables, s.table.error.clone()),
            Some(Screen::Parked(s)) => (s.no_tables, s.table.error.clone()),
            other => panic!("{other:?}"),
        };
        assert!(no_tables && error.is_none(), "{name}: {error:?}");
    }
    // An action there is refused in one line, not sent as a query that fails.
    let report = run_effect(&store, Effect::WorkerAct(WorkerAction::RetryNow, vec![2])).await;
    let Report::WorkerActed(_, Err(e)) = report else {
        panic!("{report:?}")
    };
    assert!(e.contains("calsync migrate"), "{e}");
}

/// The overview's worker line, as the runtime reads it for the overview's generation.
async fn overview_workers_line(store: &Store) -> WorkersLine {
    let graph = calsync::graph::GraphClient::new(calsync::graph::GraphConfig::default()).unwrap();
    let engine =
        calsync::sync::Engine::new(store.clone(), graph, calsync::sync::SyncOptions::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runtime = calsync::tui::runtime::Runtime::new(store.clone(), engine, tx);
    runtime.run(Effect::Overview(1));
    loop {
        let report = tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv())
            .await
            .expect("a report")
            .expect("the runtime answers");
        if let Report::Overview(1, Ok(OverviewPart::Workers(line))) = report {
            return line;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_says_whether_workers_run_and_when_the_last_pass_was() {
    let (_db, store) = migrated_with_worker_rows().await;
    assert_eq!(
        overview_workers_line(&store).await,
        WorkersLine::Seen {
            running: 1,
            last_pass: None
        }
    );
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    assert_eq!(
        overview_workers_line(&db.store().await).await,
        WorkersLine::NoTables
    );

    // The line arrives as one more overview part and does not hold the overview's counts back.
    let (mut app, effects) = App::new(session(false), now());
    let Effect::Overview(generation) = effects[0] else {
        panic!("{effects:?}")
    };
    let last_pass = now() - Duration::seconds(12);
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::Workers(WorkersLine::Seen {
            running: 2,
            last_pass: Some(last_pass),
        })),
    ));
    let Some(Screen::Overview {
        data: Some(data), ..
    }) = app.screen()
    else {
        panic!("no overview")
    };
    assert!(matches!(
        data.workers,
        Some(WorkersLine::Seen { running: 2, .. })
    ));
    assert!(!data.complete());
}
