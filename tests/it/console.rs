//! The console's state machine, without a terminal: keys and reports in, state and effects out.

use calsync::domain::Cause;
use calsync::domain::audit::{AuditOutcome, AuditRecord};
use calsync::domain::{
    ConferenceSummary, Filter, Page, Scope, Selection, StateCounts, SyncColumns, SyncState,
};
use calsync::sync::{ItemResult, Outcome, Summary, SyncAction, SyncEvent};
use calsync::tui::app::{Popup, RunScope, Screen, SyncTarget};
use calsync::tui::data::{BulkPlan, OverviewPart};
use calsync::tui::{App, Effect, Report, Session};
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub fn session(read_only: bool) -> Session {
    Session {
        database: "sqlite:////tmp/lms.db".to_string(),
        simulated_graph: true,
        read_only,
        read_only_reason: read_only.then(|| "--read-only".to_string()),
        missing_tables: None,
        keymap: Default::default(),
    }
}

pub fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}

/// A selection row for tests; `failed` gives it the LMS's 404 error.
pub fn selection(id: i64, failed: bool) -> Selection {
    Selection {
        id,
        user_id: 100 + id,
        username: format!("user{id}"),
        first_name: "Zoë".into(),
        last_name: format!("Ünal {id}"),
        email: format!("user{id}@north.example"),
        role: "learner".into(),
        branch_id: Some(1),
        branch_name: Some("North Campus".into()),
        conference_id: 1,
        conference_title: "Induction Q&A".into(),
        conference_description: None,
        conference_link: None,
        platform: "teams".into(),
        use_time_slots: true,
        time_slot_id: 1,
        slot_conference_id: 1,
        slot_date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
        slot_start: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
        slot_end: NaiveTime::from_hms_opt(11, 0, 0).unwrap(),
        timezone: "Europe/London".into(),
        slot_link: None,
        slot_updated_at: now(),
        selected_at: now() - chrono::Duration::minutes(id),
        sync: if failed {
            SyncColumns {
                outlook_event_id: None,
                calendar_added: false,
                attempted_at: Some(now() - chrono::Duration::hours(2)),
                error: Some(format!(
                    "API request failed: 404 Client Error: Not Found for url: https://graph.microsoft.com/v1.0/users/user{id}@north.example/calendar/events"
                )),
            }
        } else {
            SyncColumns {
                outlook_event_id: Some(format!("AAMkAG{id}=")),
                calendar_added: true,
                attempted_at: Some(now() - chrono::Duration::days(1)),
                error: None,
            }
        },
        fingerprint: String::new(),
        stale: false,
        recorded: Default::default(),
    }
}

pub fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

pub fn code(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    for c in text.chars() {
        effects.extend(app.key(key(c)));
    }
    effects
}

fn page_effect(effects: &[Effect]) -> (u64, calsync::domain::PageRequest) {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Page(generation, request) => Some((*generation, request.clone())),
            _ => None,
        })
        .expect("a page request")
}

fn counts_effect(effects: &[Effect]) -> u64 {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Counts(generation, _) => Some(*generation),
            _ => None,
        })
        .expect("a count request")
}

/// Opens the failed-selections list (from the overview, as `/state:failed`) and loads `n` rows.
pub fn app_with_failed_rows(n: i64, read_only: bool) -> App {
    let (mut app, _) = App::new(session(read_only), now());
    app.height = 24;
    app.key(key('/'));
    type_text(&mut app, "state:failed");
    let effects = app.key(code(KeyCode::Enter));
    let (page_gen, request) = page_effect(&effects);
    assert_eq!(request.filter.states, vec![SyncState::Failed]);
    let count_gen = counts_effect(&effects);
    let rows: Vec<Selection> = (1..=n).map(|i| selection(i, true)).collect();
    app.report(Report::Page(
        page_gen,
        Ok(Page {
            rows,
            malformed: Vec::new(),
            next: None,
        }),
    ));
    let counts = StateCounts {
        failed: n as u64,
        ..StateCounts::default()
    };
    app.report(Report::Counts(count_gen, Ok((n as u64, counts))));
    app
}

fn list(app: &App) -> &calsync::tui::list::SelectionList {
    app.screen()
        .and_then(Screen::list)
        .expect("a selection list on top")
}

#[test]
fn starting_opens_the_overview_and_asks_for_its_data() {
    let (app, effects) = App::new(session(false), now());
    assert!(matches!(app.screen(), Some(Screen::Overview { .. })));
    assert!(matches!(effects.as_slice(), [Effect::Overview(_)]));
}

#[test]
fn a_stale_answer_is_dropped() {
    let (mut app, effects) = App::new(session(false), now());
    let Effect::Overview(first) = effects[0] else {
        panic!()
    };
    // Reloading supersedes the first request; its late answer must not land.
    let effects = app.key(KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL));
    let Effect::Overview(second) = effects[0] else {
        panic!()
    };
    let stale = OverviewPart::Counts(StateCounts {
        failed: 1,
        ..Default::default()
    });
    app.report(Report::Overview(first, Ok(stale)));
    assert!(matches!(
        app.screen(),
        Some(Screen::Overview { data: None, .. })
    ));
    let counts = OverviewPart::Counts(StateCounts::default());
    app.report(Report::Overview(second, Ok(counts)));
    // The overview arrives in parts; the counts show before the heavier parts are done.
    assert!(matches!(
        app.screen(),
        Some(Screen::Overview { data: Some(d), pending: Some(_), .. }) if d.counts.is_some()
    ));
    for part in [
        OverviewPart::Trend(vec![]),
        OverviewPart::WorstConferences(vec![]),
        OverviewPart::Causes(vec![]),
        OverviewPart::NewestFailures(vec![]),
    ] {
        app.report(Report::Overview(second, Ok(part)));
    }
    assert!(matches!(
        app.screen(),
        Some(Screen::Overview { pending: None, .. })
    ));
}

#[test]
fn enter_drills_down_and_esc_goes_back_with_breadcrumbs() {
    let (mut app, _) = App::new(session(false), now());
    let effects = app.key(code(KeyCode::Enter));
    let Effect::Conferences(generation) = effects[0] else {
        panic!("{effects:?}")
    };
    let conference = ConferenceSummary {
        id: 7,
        title: "Induction Q&A".into(),
        platform: "teams".into(),
        date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
        use_time_slots: true,
        status: "published".into(),
        slot_count: 2,
        counts: StateCounts::default(),
    };
    app.report(Report::Conferences(generation, Ok(vec![conference])));
    let effects = app.key(code(KeyCode::Enter));
    assert!(
        matches!(effects.as_slice(), [Effect::Slots(_, 7)]),
        "{effects:?}"
    );
    let crumbs: Vec<String> = app.stack.iter().map(Screen::crumb).collect();
    assert_eq!(crumbs, ["Overview", "Conferences", "Induction Q&A"]);
    app.key(code(KeyCode::Esc));
    app.key(code(KeyCode::Esc));
    assert_eq!(app.stack.len(), 1);
    app.key(code(KeyCode::Esc));
    assert_eq!(
        app.stack.len(),
        1,
        "the overview is the bottom of the stack"
    );
    app.key(key('q'));
    assert!(app.should_quit);
}

#[test]
fn the_filter_from_the_overview_opens_the_matching_selections() {
    let app = app_with_failed_rows(3, false);
    assert_eq!(list(&app).query, "state:failed");
    assert_eq!(list(&app).total, Some(3));
    assert_eq!(list(&app).rows.len(), 3);
}

#[test]
fn moving_near_the_end_of_the_window_fetches_the_next_page_by_key() {
    let (mut app, _) = App::new(session(false), now());
    app.height = 24;
    app.key(key('/'));
    let effects = app.key(code(KeyCode::Enter));
    let (generation, _) = page_effect(&effects);
    let rows: Vec<Selection> = (1..=100).map(|i| selection(i, true)).collect();
    let next = Some(calsync::domain::Cursor::after(
        &rows[99],
        calsync::domain::SortKey::SelectedAt,
    ));
    app.report(Report::Page(
        generation,
        Ok(Page {
            rows,
            malformed: Vec::new(),
            next,
        }),
    ));
    let mut fetched = None;
    for _ in 0..80 {
        let effects = app.key(key('j'));
        if let Some(found) = effects.iter().find_map(|e| match e {
            Effect::Page(g, r) => Some((*g, r.clone())),
            _ => None,
        }) {
            fetched = Some(found);
            break;
        }
    }
    let (generation, request) = fetched.expect("the next page is asked for before the end");
    assert_eq!(request.after.as_ref().map(|c| c.id), Some(100));
    let more: Vec<Selection> = (101..=150).map(|i| selection(i, true)).collect();
    app.report(Report::Page(
        generation,
        Ok(Page {
            rows: more,
            malformed: Vec::new(),
            next: None,
        }),
    ));
    assert_eq!(list(&app).rows.len(), 150);
    app.key(key('G'));
    // End reads the last rows backwards from the end of the result.
    assert_eq!(list(&app).cursor, 149);
}

#[test]
fn marks_are_ids_or_the_filter_itself_never_a_million_ids() {
    let mut app = app_with_failed_rows(5, false);
    app.key(key(' '));
    app.key(key('j'));
    app.key(key(' '));
    assert_eq!(list(&app).marks.ids.len(), 2);
    app.key(key('u'));
    assert!(list(&app).marks.is_empty());
    app.key(KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT));
    assert!(list(&app).marks.all_matching);
    assert!(list(&app).marks.ids.is_empty());
    app.key(key(' ')); // unmarks one row out of "all matching"
    assert_eq!(list(&app).marked_count(), Some(4));
    // v … v marks a range.
    app.key(key('u'));
    app.key(key('v'));
    app.key(key('j'));
    app.key(key('j'));
    app.key(key('v'));
    assert_eq!(list(&app).marks.ids.len(), 3);
}

#[test]
fn retrying_marked_rows_asks_with_an_exact_count_first() {
    let mut app = app_with_failed_rows(5, false);
    app.key(KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT));
    let effects = app.key(key('r'));
    let Some(Popup::Bulk(sheet)) = &app.popup else {
        panic!("a confirmation sheet")
    };
    assert!(matches!(sheet.target, SyncTarget::Matching { .. }));
    let Effect::BulkPlan(
        generation,
        target,
        RunScope {
            scope: Scope::All, ..
        },
    ) = effects[0].clone()
    else {
        panic!("{effects:?}")
    };
    let plan = BulkPlan {
        run: RunScope::of(Scope::All),
        permanent_left_out: 0,
        target,
        count: 5,
        counts: StateCounts {
            failed: 5,
            ..Default::default()
        },
        causes: Vec::new(),
        skipped: 0,
    };
    app.report(Report::BulkPlan(generation, Ok(plan)));
    let effects = app.key(code(KeyCode::Enter));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Sync(
                SyncTarget::Matching { .. },
                RunScope {
                    scope: Scope::All,
                    ..
                }
            )]
        ),
        "{effects:?}"
    );
    assert!(app.popup.is_none());
    assert!(app.job.as_ref().is_some_and(|j| j.running()));
}

#[test]
fn a_big_bulk_run_needs_the_count_typed_back() {
    let mut app = app_with_failed_rows(3, false);
    let effects = app.key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT));
    let Effect::BulkPlan(
        generation,
        target,
        RunScope {
            scope: Scope::Failed,
            ..
        },
    ) = effects[0].clone()
    else {
        panic!("{effects:?}")
    };
    app.report(Report::BulkPlan(
        generation,
        Ok(BulkPlan {
            run: RunScope::of(Scope::Failed),
            permanent_left_out: 0,
            target,
            count: 1234,
            counts: StateCounts {
                failed: 1234,
                ..Default::default()
            },
            causes: Vec::new(),
            skipped: 0,
        }),
    ));
    assert!(
        app.key(code(KeyCode::Enter)).is_empty(),
        "enter alone does not start it"
    );
    assert!(
        matches!(&app.popup, Some(Popup::Bulk(sheet)) if sheet.error.as_deref() == Some("type 1234 to confirm"))
    );
    type_text(&mut app, "1234");
    let effects = app.key(code(KeyCode::Enter));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Sync(
                _,
                RunScope {
                    scope: Scope::Failed,
                    ..
                }
            )]
        ),
        "{effects:?}"
    );
}

#[test]
fn tab_changes_the_scope_and_recounts() {
    let mut app = app_with_failed_rows(3, false);
    app.key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT));
    let effects = app.key(code(KeyCode::Tab));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::BulkPlan(
                _,
                _,
                RunScope {
                    scope: Scope::Unsynced,
                    ..
                }
            )]
        ),
        "{effects:?}"
    );
    app.key(code(KeyCode::Esc));
    assert!(app.popup.is_none());
}

#[test]
fn read_only_mode_ignores_every_writing_key() {
    let mut app = app_with_failed_rows(3, true);
    assert!(app.key(key('r')).is_empty());
    assert!(
        app.key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT))
            .is_empty()
    );
    app.key(key(' '));
    assert!(list(&app).marks.is_empty());
    assert!(app.popup.is_none() && app.job.is_none());
}

#[test]
fn sync_progress_moves_the_jobs_panel_and_marks_rows() {
    let mut app = app_with_failed_rows(3, false);
    let effects = app.key(key('r'));
    assert!(
        matches!(effects.as_slice(), [Effect::Sync(SyncTarget::Ids(ids), RunScope { scope: Scope::All, .. })] if ids == &vec![1])
    );
    app.report(Report::Sync(SyncEvent::Started { total: 1 }));
    let effects = app.report(Report::Sync(SyncEvent::Item(ItemResult {
        selection_id: 1,
        label: None,
        outcome: Outcome::Synced {
            event_id: "AAMkAGx=".into(),
            action: SyncAction::Created,
        },
    })));
    assert!(list(&app).changed.contains(&1));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Rows(..))),
        "the row on screen is re-read as its result arrives"
    );
    assert_eq!(
        app.message.as_deref(),
        Some("selection 1: added to Outlook")
    );
    let effects = app.report(Report::Sync(SyncEvent::Finished(Summary {
        total: 1,
        synced: 1,
        created: 1,
        ..Summary::default()
    })));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Counts(..))),
        "counts are re-read when the run ends"
    );
    let job = app.job.as_ref().unwrap();
    assert_eq!((job.done, job.synced), (1, 1));
    assert!(!job.running());
}

#[test]
fn cancelling_a_running_job_is_one_key() {
    let mut app = app_with_failed_rows(3, false);
    app.key(key('r'));
    assert_eq!(app.key(key('x')), vec![Effect::CancelSync]);
    assert!(app.job.as_ref().unwrap().cancelling);
}

#[test]
fn the_live_refresh_rereads_visible_rows_but_pauses_under_a_popup() {
    let mut app = app_with_failed_rows(3, false);
    let effects = app.report(Report::Tick(now()));
    let Some(Effect::Rows(generation, ids, _)) = effects.first().cloned() else {
        panic!("{effects:?}")
    };
    assert_eq!(ids, vec![1, 2, 3]);
    let mut changed = selection(2, true);
    changed.sync.error = Some("Graph 404 ErrorInvalidUser".into());
    app.report(Report::Rows(generation, Ok(vec![changed])));
    assert!(list(&app).changed.contains(&2));
    app.key(key('?'));
    assert!(app.report(Report::Tick(now())).is_empty());
}

#[test]
fn commands_reach_the_same_places_as_keys() {
    let (mut app, _) = App::new(session(false), now());
    app.key(key(':'));
    type_text(&mut app, "failed");
    let effects = app.key(code(KeyCode::Enter));
    assert_eq!(
        page_effect(&effects).1.filter.states,
        vec![SyncState::Failed]
    );
    app.key(key(':'));
    type_text(&mut app, "person ann@x.org");
    let effects = app.key(code(KeyCode::Enter));
    assert!(matches!(effects.as_slice(), [Effect::FindPerson(_, who)] if who == "ann@x.org"));
    app.key(key(':'));
    type_text(&mut app, "nonsense");
    app.key(code(KeyCode::Enter));
    assert!(
        matches!(&app.popup, Some(Popup::Input { error: Some(e), .. }) if e.contains("unknown command"))
    );
    app.key(code(KeyCode::Esc));
    app.key(key(':'));
    type_text(&mut app, "q");
    app.key(code(KeyCode::Enter));
    assert!(app.should_quit);
}

#[test]
fn each_view_keeps_its_own_filter() {
    let mut app = app_with_failed_rows(2, false);
    app.key(key('p')); // the person of the current row
    app.key(key('/'));
    type_text(&mut app, "zoom");
    app.key(code(KeyCode::Enter));
    app.key(code(KeyCode::Esc));
    assert_eq!(list(&app).query, "state:failed");
    let _ = Filter::default();
}

/// The runtime against a real database: effects in, reports out.
async fn run_effect(db: &crate::support::TestDb, effect: Effect) -> calsync::tui::Report {
    let store = db.store().await;
    let graph = calsync::graph::GraphClient::new(calsync::graph::GraphConfig::default()).unwrap();
    let engine =
        calsync::sync::Engine::new(store.clone(), graph, calsync::sync::SyncOptions::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runtime = calsync::tui::runtime::Runtime::new(store, engine, tx);
    runtime.run(effect);
    tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv())
        .await
        .expect("a report")
        .expect("the runtime answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filtered_rows_export_to_csv_and_json_lines() {
    let db = crate::support::TestDb::with_fixture(crate::support::Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let failed = Filter {
        states: vec![SyncState::Failed],
        ..Filter::default()
    };
    let csv_path = dir.path().join("failed.csv");
    let report = run_effect(
        &db,
        Effect::Export(
            failed.clone(),
            "csv".into(),
            Some(csv_path.display().to_string()),
        ),
    )
    .await;
    let Report::Exported(Ok(message)) = report else {
        panic!("{report:?}")
    };
    assert!(message.ends_with("(3 rows)"), "{message}");
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], calsync::export::CSV_HEADER);
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().any(|l| l.starts_with("9,3,llearner,")
        && l.ends_with(",No Teams integration available,false,,Lea Learner,credentials,")));

    let json_path = dir.path().join("failed.jsonl");
    let report = run_effect(
        &db,
        Effect::Export(failed, "json".into(), Some(json_path.display().to_string())),
    )
    .await;
    assert!(matches!(report, Report::Exported(Ok(_))), "{report:?}");
    let json = std::fs::read_to_string(&json_path).unwrap();
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["state"] == "failed"));
}

/// An overview whose causes panel lists throttling (transient) and no mailbox (permanent).
fn overview_with_causes() -> App {
    let (mut app, effects) = App::new(session(false), now());
    let Effect::Overview(generation) = effects[0] else {
        panic!("{effects:?}")
    };
    let causes = vec![(Cause::Throttled, 40), (Cause::NoMailbox, 7)];
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::Causes(causes)),
    ));
    app
}

#[test]
fn the_overview_retries_one_cause_at_a_time() {
    let mut app = overview_with_causes();
    app.key(code(KeyCode::Down));
    let effects = app.key(key('r'));
    let [Effect::BulkPlan(_, SyncTarget::Matching { filter, except }, run)] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    assert_eq!(
        filter.causes,
        vec![Cause::NoMailbox],
        "the cause under the cursor"
    );
    assert!(except.is_empty());
    assert_eq!(run.scope, Scope::Failed);
    // Naming a permanent cause is asking for it: the run's filter keeps those rows.
    assert!(run.narrow(filter).exclude_causes.is_empty());
    assert!(
        matches!(app.popup, Some(Popup::Bulk(_))),
        "nothing starts unconfirmed"
    );
}

#[test]
fn retry_all_failed_leaves_permanent_causes_out_until_asked() {
    let mut app = overview_with_causes();
    let effects = app.key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT));
    let [Effect::BulkPlan(generation, target, run)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(*run, RunScope::of(Scope::Failed));
    let SyncTarget::Matching { filter, .. } = target else {
        panic!()
    };
    let narrowed = run.narrow(filter);
    assert!(narrowed.exclude_causes.contains(&Cause::NoMailbox));
    assert!(!narrowed.exclude_causes.contains(&Cause::Throttled));
    app.report(Report::BulkPlan(
        *generation,
        Ok(BulkPlan {
            run: *run,
            permanent_left_out: 7,
            target: target.clone(),
            count: 40,
            counts: StateCounts {
                failed: 40,
                ..Default::default()
            },
            causes: vec![(Cause::Throttled, 40)],
            skipped: 0,
        }),
    ));
    // p asks for the permanent ones too, and the sheet is counted again.
    let effects = app.key(key('p'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::BulkPlan(
                _,
                _,
                RunScope {
                    scope: Scope::Failed,
                    include_permanent: true
                }
            )]
        ),
        "{effects:?}"
    );
    let effects = app.key(key('p'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::BulkPlan(
                _,
                _,
                RunScope {
                    include_permanent: false,
                    ..
                }
            )]
        ),
        "{effects:?}"
    );
}

#[test]
fn the_audit_log_opens_from_a_command_and_lists_its_rows() {
    let (mut app, _) = App::new(session(false), now());
    app.key(key(':'));
    type_text(&mut app, "audit");
    let effects = app.key(code(KeyCode::Enter));
    let [Effect::Audit(generation)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let row = AuditRecord {
        id: 3,
        started_at: now(),
        finished_at: Some(now()),
        os_user: "ops".into(),
        host: "desk-1".into(),
        action: "console sync".into(),
        scope: "12 marked rows (all)".into(),
        filter: String::new(),
        rows: 12,
        outcome: AuditOutcome::Partial,
        detail: "10 synced, 2 failed".into(),
    };
    app.report(Report::Audit(*generation, Ok(vec![row.clone()])));
    let Some(Screen::Audit(table)) = app.screen() else {
        panic!()
    };
    assert_eq!(table.rows, vec![row]);
    assert_eq!(app.screen().unwrap().crumb(), "Audit log");
}

fn checked(id: i64, status: calsync::sync::verify::CheckStatus) -> Report {
    Report::Verify(calsync::sync::verify::VerifyEvent::Checked(
        calsync::sync::verify::Check {
            selection_id: id,
            user_id: 100 + id,
            conference_id: 1,
            slot_id: 1,
            mailbox: format!("user{id}@north.example"),
            event_id: format!("AAMkAG{id}="),
            label: calsync::sync::ItemLabel {
                username: format!("user{id}"),
                full_name: String::new(),
                conference_title: "Induction Q&A".into(),
                slot_date: "2026-12-15".into(),
                slot_start: "10:00:00".into(),
            },
            status,
        },
    ))
}

#[test]
fn verify_checks_the_list_and_marks_the_missing_rows_for_r() {
    use calsync::sync::verify::{CheckStatus, VerifyEvent, VerifySummary};
    let mut app = app_with_failed_rows(3, false);
    let effects = app.key(KeyEvent::new(KeyCode::Char('V'), KeyModifiers::SHIFT));
    assert!(
        matches!(effects.as_slice(), [Effect::Verify(SyncTarget::Matching { except, .. }, true)] if except.is_empty()),
        "the whole list is checked, nothing to confirm: {effects:?}"
    );
    assert!(app.popup.is_none());
    app.report(Report::Verify(VerifyEvent::Started { total: 3 }));
    app.report(checked(1, CheckStatus::Present));
    app.report(checked(2, CheckStatus::Missing));
    app.report(checked(
        3,
        CheckStatus::Unchecked("mailbox not found".into()),
    ));
    let job = app.job.as_ref().unwrap();
    assert_eq!(
        (job.done, job.synced, job.failed, job.skipped),
        (3, 1, 1, 1)
    );
    assert!(job.running());
    // The operator looks at someone meanwhile: the marks still go to the list checked.
    app.key(key('p'));
    app.report(Report::Verify(VerifyEvent::Finished(VerifySummary {
        total: 3,
        present: 1,
        missing: 1,
        unchecked: 1,
        missing_ids: vec![2],
        ..VerifySummary::default()
    })));
    assert!(!app.job.as_ref().unwrap().running());
    assert!(
        list(&app).marks.is_empty(),
        "the person's list is not the one checked"
    );
    assert_eq!(
        app.message.as_deref(),
        Some("1 events missing from Outlook, now marked in the list checked: r re-creates them")
    );
    app.key(code(KeyCode::Esc));
    assert_eq!(
        list(&app).marks.ids.iter().copied().collect::<Vec<_>>(),
        vec![2]
    );

    let effects = app.key(key('r'));
    let Some(Popup::Bulk(sheet)) = &app.popup else {
        panic!("r on marked rows asks first: {effects:?}")
    };
    assert_eq!(sheet.target, SyncTarget::Ids(vec![2]));
    assert_eq!(
        sheet.scope,
        Scope::All,
        "an added row is re-synced, not skipped"
    );
}

#[test]
fn a_read_only_console_verifies_without_recording() {
    let mut app = app_with_failed_rows(2, true);
    app.key(key(' '));
    let effects = app.key(key(':'));
    assert!(effects.is_empty());
    let effects = type_text(&mut app, "verify");
    assert!(effects.is_empty());
    let effects = app.key(code(KeyCode::Enter));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Verify(SyncTarget::Matching { .. }, false)]
        ),
        "{effects:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_verify_job_runs_the_real_check_and_is_audited() {
    use calsync::sync::verify::VerifyEvent;
    let world = crate::sync::World::new(crate::support::Backend::Sqlite).await;
    world.store.migrate_up(Utc::now()).await.unwrap();
    world.sync(vec![2]).await;
    let event = world
        .store
        .selection(2)
        .await
        .unwrap()
        .unwrap()
        .sync
        .outlook_event_id
        .unwrap();
    assert!(
        world
            .sim
            .state()
            .delete_event_out_of_band("lea.learner@example.org", &event)
    );

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runtime =
        calsync::tui::runtime::Runtime::new(world.store.clone(), world.engine.clone(), tx);
    // 5 was never added: only 2 has an event to check.
    runtime.run(Effect::Verify(SyncTarget::Ids(vec![2, 5]), true));
    let finished = loop {
        let report = tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv())
            .await
            .expect("a report")
            .expect("the runtime answers");
        match report {
            Report::Verify(VerifyEvent::Finished(summary)) => break summary,
            Report::SyncFailed(e) => panic!("{e}"),
            _ => {}
        }
    };
    assert_eq!((finished.total, finished.missing_ids.clone()), (1, vec![2]));
    let rows = closed_audit_rows(&world.store, "console verify").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].scope, "2 marked rows (added)");
    assert_eq!(rows[0].outcome, AuditOutcome::Partial);
    assert_eq!(rows[0].detail, "0 present, 1 missing");
}

/// The audit rows of `action` once the newest is closed: the trail is closed after the job's
/// last report, so a test that saw the report waits a moment for the row.
async fn closed_audit_rows(
    store: &calsync::store::Store,
    action: &str,
) -> Vec<calsync::domain::audit::AuditRecord> {
    for _ in 0..50 {
        let rows = store.audit_rows(10, Some(action)).await.unwrap();
        if rows.first().is_some_and(|r| r.finished_at.is_some()) {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the {action} audit row was never closed")
}

pub fn finding(
    kind: calsync::sync::reconcile::FindingKind,
    n: i64,
) -> calsync::sync::reconcile::Finding {
    calsync::sync::reconcile::Finding {
        kind,
        mailbox: format!("user{n}@north.example"),
        user_id: Some(100 + n),
        selection_id: kind.is_certain().then_some(n),
        conference_id: Some(1),
        slot_id: Some(1),
        event_id: format!("AAMkAGorphan{n}="),
        subject: "Induction Q&A".into(),
        start: Some(Utc.with_ymd_and_hms(2026, 12, 15, 10, 0, 0).unwrap()),
        end: Some(Utc.with_ymd_and_hms(2026, 12, 15, 11, 0, 0).unwrap()),
        evidence: format!("selection {n} no longer exists; the ledger recorded this event for it"),
        in_ledger: kind.is_certain(),
    }
}

/// `:reconcile` from a person's page, its scan answered with one certain and two probable
/// findings.
pub fn reconcile_app(read_only: bool) -> (App, u64) {
    use calsync::sync::reconcile::{FindingKind, Plan, ReconcileEvent};
    let mut app = app_with_failed_rows(2, read_only);
    app.key(key('p'));
    app.key(key(':'));
    type_text(&mut app, "reconcile");
    let effects = app.key(code(KeyCode::Enter));
    let [Effect::ReconcilePlan(generation, scope)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(scope.user_id, Some(101), "the person on screen");
    let generation = *generation;
    app.report(Report::Reconcile(
        generation,
        ReconcileEvent::PlanStarted { users: 1 },
    ));
    app.report(Report::Reconcile(
        generation,
        ReconcileEvent::MailboxScanned {
            user_id: Some(101),
            mailbox: "user1@north.example".into(),
            findings: 3,
        },
    ));
    let mut probable = finding(FindingKind::ProbableDuplicate, 2);
    probable.evidence =
        "subject and times match slot 1; the person's selection points to another event".into();
    app.report(Report::ReconcilePlanned(
        generation,
        Ok(Plan {
            findings: vec![
                finding(FindingKind::LedgerOrphan, 1),
                probable,
                finding(FindingKind::ProbableOrphan, 3),
            ],
            mailboxes_scanned: 1,
            ledger_checked: true,
            ..Plan::default()
        }),
    ));
    (app, generation)
}

fn reconcile_view(app: &App) -> &calsync::tui::reconcile::ReconcileView {
    match app.screen() {
        Some(Screen::Reconcile(view)) => view,
        other => panic!("the reconcile view, not {:?}", other.map(Screen::crumb)),
    }
}

#[test]
fn reconcile_deletes_certain_findings_and_only_the_chosen_guesses_after_typing_the_count() {
    use calsync::sync::reconcile::{FindingKind, ReconcileEvent, Resolution, Resolved};
    let (mut app, _) = reconcile_app(false);
    let job = app.job.as_ref().unwrap();
    assert!(!job.running(), "the scan has ended");
    assert_eq!((job.done, job.synced), (1, 3));
    assert_eq!(reconcile_view(&app).rows.len(), 3);

    // Space refuses a certain finding and chooses a probable one.
    app.key(key(' '));
    assert_eq!(
        app.message.as_deref(),
        Some("certain findings are always deleted with d")
    );
    app.key(key('j'));
    app.key(key(' '));
    assert_eq!(
        reconcile_view(&app)
            .marked
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![1]
    );

    app.key(key('d'));
    let Some(Popup::DeleteFindings(sheet)) = &app.popup else {
        panic!("d asks first")
    };
    let chosen: Vec<FindingKind> = sheet.findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        chosen,
        vec![FindingKind::LedgerOrphan, FindingKind::ProbableDuplicate]
    );
    assert!(sheet.needs_typing(), "a guess is among them");
    assert!(
        app.key(code(KeyCode::Enter)).is_empty(),
        "not without the count"
    );
    let effects = type_text(&mut app, "2");
    assert!(effects.is_empty());
    let effects = app.key(code(KeyCode::Enter));
    let [Effect::ReconcileApply(generation, findings, scope)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(findings.len(), 2);
    assert_eq!(scope, "--user-id 101");
    let generation = *generation;

    let first = findings[0].clone();
    app.report(Report::Reconcile(
        generation,
        ReconcileEvent::ApplyStarted { total: 2 },
    ));
    app.report(Report::Reconcile(
        generation,
        ReconcileEvent::Resolved(Resolved {
            finding: first.clone(),
            result: Resolution::Deleted,
        }),
    ));
    app.report(Report::Reconcile(
        generation,
        ReconcileEvent::Resolved(Resolved {
            finding: findings[1].clone(),
            result: Resolution::AlreadyGone,
        }),
    ));
    app.report(Report::ReconcileApplied(
        generation,
        Ok(vec![
            Resolved {
                finding: first,
                result: Resolution::Deleted,
            },
            Resolved {
                finding: findings[1].clone(),
                result: Resolution::AlreadyGone,
            },
        ]),
    ));
    let view = reconcile_view(&app);
    assert_eq!(view.rows[0].result, Some(Resolution::Deleted));
    assert_eq!(view.rows[1].result, Some(Resolution::AlreadyGone));
    assert_eq!(
        view.rows[2].result, None,
        "the guess nobody chose is left alone"
    );
    assert_eq!(
        app.job.as_ref().unwrap().ended.as_deref(),
        Some("1 deleted, 1 already gone, 0 failed")
    );
    // What is dealt with is not offered again; the last guess is not chosen.
    app.key(key('d'));
    assert!(app.popup.is_none());
    assert!(
        app.message
            .as_deref()
            .unwrap_or_default()
            .starts_with("nothing chosen")
    );
}

#[test]
fn a_read_only_console_can_look_for_orphans_but_not_delete_them() {
    let (mut app, _) = reconcile_app(true);
    assert_eq!(reconcile_view(&app).rows.len(), 3);
    app.key(key('d'));
    assert!(app.popup.is_none());
    app.key(key(' '));
    assert!(reconcile_view(&app).marked.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reconcile_deletes_a_cancelled_selections_event_and_audits_it() {
    use calsync::domain::ledger::LedgerScope;
    use calsync::sync::reconcile::{FindingKind, Resolution};
    let world = crate::sync::World::new(crate::support::Backend::Sqlite).await;
    world.store.migrate_up(Utc::now()).await.unwrap();
    world.sync(vec![2]).await;
    assert_eq!(world.events("lea.learner@example.org").len(), 1);
    // The learner cancels: the LMS deletes the row and, as always, not the event.
    world
        .db
        .exec("DELETE FROM conferences_conferencetimeslotselection WHERE id = 2")
        .await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runtime =
        calsync::tui::runtime::Runtime::new(world.store.clone(), world.engine.clone(), tx);
    let scope = LedgerScope {
        user_id: Some(3),
        conference_id: None,
    };
    runtime.run(Effect::ReconcilePlan(7, scope));
    let plan = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await {
            Ok(Some(Report::ReconcilePlanned(7, result))) => break result.expect("a plan"),
            Ok(Some(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    let kinds: Vec<FindingKind> = plan.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![FindingKind::LedgerOrphan], "{plan:?}");

    runtime.run(Effect::ReconcileApply(
        8,
        plan.findings,
        "--user-id 3".into(),
    ));
    let resolved = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await {
            Ok(Some(Report::ReconcileApplied(8, result))) => break result.expect("deleted"),
            Ok(Some(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(resolved[0].result, Resolution::Deleted);
    assert!(world.events("lea.learner@example.org").is_empty());
    let rows = world
        .store
        .audit_rows(10, Some("console reconcile"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].scope.as_str(), rows[0].rows), ("--user-id 3", 1));
    assert_eq!(rows[0].outcome, AuditOutcome::Ok);
    assert_eq!(rows[0].detail, "1 deleted, 0 already gone, 0 failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_sync_is_audited_with_its_target_and_outcome() {
    let world = crate::sync::World::new(crate::support::Backend::Sqlite).await;
    world.store.migrate_up(Utc::now()).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runtime =
        calsync::tui::runtime::Runtime::new(world.store.clone(), world.engine.clone(), tx);
    runtime.run(Effect::Sync(
        SyncTarget::Ids(vec![2]),
        RunScope::of(Scope::All),
    ));
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await {
            Ok(Some(Report::Sync(SyncEvent::Finished(summary)))) => {
                assert_eq!(summary.synced, 1);
                break;
            }
            Ok(Some(Report::SyncFailed(e))) => panic!("{e}"),
            Ok(Some(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    let rows = closed_audit_rows(&world.store, "console sync").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].scope, "selection 2 (all)");
    assert_eq!((rows[0].rows, rows[0].outcome), (1, AuditOutcome::Ok));
    assert!(
        rows[0].detail.starts_with("1 synced (1 created"),
        "{}",
        rows[0].detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_sync_against_the_simulated_graph_says_so_in_its_audit_row() {
    let world = crate::sync::World::new(crate::support::Backend::Sqlite).await;
    world.store.migrate_up(Utc::now()).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runtime =
        calsync::tui::runtime::Runtime::new(world.store.clone(), world.engine.clone(), tx)
            .with_simulated_graph(true);
    runtime.run(Effect::Sync(
        SyncTarget::Ids(vec![2]),
        RunScope::of(Scope::All),
    ));
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await {
            Ok(Some(Report::Sync(SyncEvent::Finished(_)))) => break,
            Ok(Some(Report::SyncFailed(e))) => panic!("{e}"),
            Ok(Some(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    let rows = closed_audit_rows(&world.store, "console sync").await;
    assert_eq!(rows[0].scope, "selection 2 (all) · simulated Graph");
}
