//! The overview's newest failures: the first page of the list of failures, read through the
//! index on `selected_at`, so that a first start on a million rows draws data while the counts
//! are still being counted. The panel is reached with Tab like the others; Enter opens the list
//! of every failure. The store's query on both backends; the console's state machine here.

use calsync::domain::{Cause, Filter, StateCounts, SyncState};
use calsync::tui::app::Screen;
use calsync::tui::data::{OverviewData, OverviewPart, RecentFailure};
use calsync::tui::overview_cache::CachedOverview;
use calsync::tui::screen::OverviewPanel;
use calsync::tui::{App, Effect, Report, Theme, render};
use crossterm::event::{KeyCode, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::console::{code, key, now, session};
use crate::on_both_backends;
use crate::support::TestDb;

fn failure(id: i64, minutes_ago: i64) -> RecentFailure {
    RecentFailure {
        id,
        selected_at: now() - chrono::Duration::minutes(minutes_ago),
        person: format!("Learner {id}"),
        conference: "Careers Guidance".into(),
        cause: Some(Cause::UnknownUser),
    }
}

fn three_failures() -> Vec<RecentFailure> {
    vec![failure(903, 1), failure(902, 5), failure(901, 9)]
}

/// A console whose overview read is in flight, and the generation it waits for.
fn started() -> (App, u64) {
    let (mut app, effects) = App::new(session(false), now());
    app.width = 160;
    app.height = 48;
    let Effect::Overview(generation) = effects[0] else {
        panic!("{effects:?}")
    };
    (app, generation)
}

fn overview(app: &App) -> (&OverviewData, bool, Option<chrono::DateTime<chrono::Utc>>) {
    match app.screen() {
        Some(Screen::Overview {
            data: Some(data),
            pending,
            refresh,
            ..
        }) => (data, pending.is_some(), refresh.read),
        other => panic!("no overview data: {other:?}"),
    }
}

fn focused_panel(app: &App) -> OverviewPanel {
    match app.screen() {
        Some(Screen::Overview { cursor, .. }) => cursor.panel,
        other => panic!("not the overview: {other:?}"),
    }
}

fn failure_cursor(app: &App) -> usize {
    match app.screen() {
        Some(Screen::Overview { cursor, .. }) => cursor.failure,
        other => panic!("not the overview: {other:?}"),
    }
}

/// The screen's text, line by line, as drawn at the app's size.
fn drawn(app: &App) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(app.width, app.height)).unwrap();
    terminal
        .draw(|frame| render(frame, app, Theme::MONOCHROME))
        .unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn the_newest_failures_are_drawn_before_any_count_and_the_read_waits_for_them() {
    let (mut app, generation) = started();
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::NewestFailures(three_failures())),
    ));
    let (data, pending, _) = overview(&app);
    assert_eq!(data.newest_failures.as_deref(), Some(&three_failures()[..]));
    assert_eq!(data.counts, None);
    assert!(pending, "the counts are still being counted");
    let lines = drawn(&app);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("903") && l.contains("Learner 903")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains("counting…")), "{lines:#?}");

    // Every other part in: the read is complete only with the newest failures in it too.
    let (mut app, generation) = started();
    for part in [
        OverviewPart::Counts(StateCounts::default()),
        OverviewPart::Trend(vec![]),
        OverviewPart::WorstConferences(vec![]),
        OverviewPart::Causes(vec![]),
    ] {
        app.report(Report::Overview(generation, Ok(part)));
    }
    assert!(overview(&app).1, "still waiting for the newest failures");
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::NewestFailures(vec![])),
    ));
    assert!(!overview(&app).1);
    assert!(
        drawn(&app).iter().any(|l| l.contains("no failures")),
        "an empty panel says so"
    );
}

#[test]
fn tab_reaches_the_newest_failures_and_enter_opens_every_failure_newest_first() {
    let (mut app, generation) = started();
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::NewestFailures(three_failures())),
    ));
    assert_eq!(focused_panel(&app), OverviewPanel::Causes);
    app.key(code(KeyCode::Tab));
    assert_eq!(focused_panel(&app), OverviewPanel::Conferences);
    app.key(code(KeyCode::Tab));
    assert_eq!(focused_panel(&app), OverviewPanel::Failures);
    assert!(
        drawn(&app).iter().any(|l| l.contains("▸ NEWEST FAILURES")),
        "the focused panel's header says so"
    );
    // The cursor stops at the last row.
    for _ in 0..5 {
        app.key(code(KeyCode::Down));
    }
    assert_eq!(failure_cursor(&app), 2);
    app.key(code(KeyCode::Up));
    assert_eq!(failure_cursor(&app), 1);
    // `r` retries a cause; here it says where the causes are.
    assert!(app.key(key('r')).is_empty());
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.contains("tab to the causes")),
        "{:?}",
        app.message
    );
    app.message = None;

    let effects = app.key(code(KeyCode::Enter));
    let Some(Screen::Selections { title, list }) = app.screen() else {
        panic!("the list of failures: {:?}", app.screen())
    };
    assert_eq!(title, "Failures");
    assert_eq!(
        list.filter,
        Filter {
            states: vec![SyncState::Failed],
            ..Filter::default()
        }
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Page(_, request) if request.filter == list.filter && request.sort == Default::default())),
        "{effects:?}"
    );
    // Tab goes round: from the failures back to the causes.
    app.key(code(KeyCode::Esc));
    app.key(code(KeyCode::Tab));
    assert_eq!(focused_panel(&app), OverviewPanel::Causes);
}

#[test]
fn enter_on_an_empty_panel_of_newest_failures_opens_nothing() {
    let (mut app, generation) = started();
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::NewestFailures(vec![])),
    ));
    app.key(code(KeyCode::Tab));
    app.key(code(KeyCode::Tab));
    assert!(app.key(code(KeyCode::Enter)).is_empty());
    assert!(matches!(app.screen(), Some(Screen::Overview { .. })));
}

#[test]
fn a_click_on_a_newest_failure_puts_the_cursor_there_and_a_second_opens_the_list() {
    let (mut app, generation) = started();
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::NewestFailures(three_failures())),
    ));
    let lines = drawn(&app);
    let row = lines
        .iter()
        .position(|l| l.contains("Learner 902"))
        .unwrap_or_else(|| panic!("{lines:#?}")) as u16;
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 10,
        row,
        modifiers: crossterm::event::KeyModifiers::NONE,
    };
    assert!(app.mouse(click).is_empty());
    assert_eq!(focused_panel(&app), OverviewPanel::Failures);
    assert_eq!(failure_cursor(&app), 1);
    app.mouse(click);
    assert!(
        matches!(app.screen(), Some(Screen::Selections { title, .. }) if title == "Failures"),
        "{:?}",
        app.screen()
    );
}

#[test]
fn the_kept_overview_fills_only_the_parts_not_yet_read_afresh() {
    let (mut app, generation) = started();
    // The newest failures (one page) arrive before the kept overview is read from its file.
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::NewestFailures(three_failures())),
    ));
    let read_at = now() - chrono::Duration::hours(3);
    let kept = OverviewData {
        newest_failures: Some(vec![failure(1, 200)]),
        counts: Some(StateCounts {
            failed: 7,
            ..StateCounts::default()
        }),
        trend: Some(vec![]),
        worst_conferences: Some(vec![]),
        causes: Some(vec![(Cause::UnknownUser, 7)]),
        workers: None,
    };
    app.report(Report::OverviewCached(
        generation,
        Box::new(CachedOverview {
            database: "sqlite:////tmp/lms.db".into(),
            read_at,
            data: kept,
        }),
    ));
    let (data, pending, read) = overview(&app);
    assert_eq!(data.newest_failures.as_deref(), Some(&three_failures()[..]));
    assert_eq!(
        data.counts.map(|c| c.failed),
        Some(7),
        "the kept counts meanwhile"
    );
    assert_eq!(read, Some(read_at), "and their age");
    assert!(pending);
    assert!(
        drawn(&app)
            .iter()
            .any(|l| l.contains("recounting (09:00:00)")),
        "{:#?}",
        drawn(&app)
    );
    // The fresh counts replace the kept ones as they arrive.
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::Counts(StateCounts {
            failed: 3,
            ..StateCounts::default()
        })),
    ));
    assert_eq!(overview(&app).0.counts.map(|c| c.failed), Some(3));
}

on_both_backends! {
    async fn the_newest_failures_are_the_failed_rows_newest_selection_first(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        // Failed in the fixture: 7 (selected 2025-12-06), 9 (12-04) and 2 (12-01).
        let ids = |rows: &[calsync::domain::Selection]| rows.iter().map(|s| s.id).collect::<Vec<_>>();
        let all = store.newest_failures(40).await.unwrap();
        assert_eq!(ids(&all), vec![7, 9, 2]);
        assert!(all.iter().all(|s| s.state() == SyncState::Failed));
        assert_eq!(ids(&store.newest_failures(2).await.unwrap()), vec![7, 9]);

        let shown: Vec<RecentFailure> = all.iter().map(RecentFailure::of).collect();
        assert_eq!(
            shown.iter().map(|f| (f.id, f.cause)).collect::<Vec<_>>(),
            vec![
                (7, Some(Cause::UnknownUser)),
                (9, Some(Cause::Credentials)),
                (2, Some(Cause::UnknownUser)),
            ]
        );
        assert_eq!(shown[0].selected_at, all[0].selected_at);
        assert_eq!(shown[0].person, all[0].person_name());
        assert_eq!(shown[0].conference, all[0].conference_title);

        // A row that fails later is the newest failure at the next read.
        db.exec(
            "UPDATE conferences_conferencetimeslotselection SET calendar_error = 'Graph 429 TooManyRequests', calendar_add_attempted_at = '2025-12-08 10:00:00' WHERE id = 10",
        )
        .await;
        assert_eq!(ids(&store.newest_failures(40).await.unwrap()), vec![10, 7, 9, 2]);
    }
}
