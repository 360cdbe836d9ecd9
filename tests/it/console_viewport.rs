//! The console's known bugs of issue 12, as specifications: answers reach the screen that
//! waits for them, a jump home keeps the list's counts, and the rows the state pages and
//! re-reads by are the rows the draw has.

use calsync::domain::{Page, SlotSummary, StateCounts};
use calsync::tui::app::Screen;
use calsync::tui::{App, Effect, Report, Theme, render};
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::console::{app_with_failed_rows, code, key, now, selection, session, type_text};

fn command(app: &mut App, line: &str) -> Vec<Effect> {
    app.key(key(':'));
    type_text(app, line);
    app.key(code(KeyCode::Enter))
}

fn list(app: &App) -> &calsync::tui::list::SelectionList {
    app.screen().and_then(Screen::list).expect("a list")
}

/// The screen as drawn at the app's size, one string per terminal row.
fn drawn(app: &App) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(app.width, app.height)).unwrap();
    terminal
        .draw(|frame| render(frame, app, Theme::MONOCHROME))
        .unwrap();
    let buffer = terminal.backend().buffer().clone();
    (0..app.height)
        .map(|y| {
            (0..app.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

/// Answers the page request among `effects` with the selections `ids`.
fn answer_page(app: &mut App, effects: &[Effect], ids: std::ops::RangeInclusive<i64>) {
    let Some(generation) = effects.iter().find_map(|e| match e {
        Effect::Page(g, _) => Some(*g),
        _ => None,
    }) else {
        panic!("{effects:?}")
    };
    app.report(Report::Page(
        generation,
        Ok(Page {
            rows: ids.map(|i| selection(i, true)).collect(),
            malformed: Vec::new(),
            next: None,
        }),
    ));
}

/// The list's table rows as drawn: between the table header and the bottom border.
fn table_rows(app: &App) -> usize {
    let lines = drawn(app);
    let header = lines.iter().position(|l| l.contains("PERSON")).unwrap();
    bottom_border(app) - header - 1
}

fn bottom_border(app: &App) -> usize {
    drawn(app).iter().rposition(|l| l.starts_with('└')).unwrap()
}

#[test]
fn a_second_audit_while_one_is_open_shows_its_rows_instead_of_loading_forever() {
    let (mut app, _) = App::new(session(false), now());
    command(&mut app, "audit");
    let effects = command(&mut app, "audit");
    let [Effect::Audit(second)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    app.report(Report::Audit(*second, Ok(Vec::new())));
    let Some(Screen::Audit(table)) = app.screen() else {
        panic!("the audit log")
    };
    assert_eq!(table.pending, None, "the top audit log got its answer");
    assert!(drawn(&app).iter().any(|l| l.contains("Nothing here.")));
}

#[test]
fn end_then_home_keeps_the_lists_total_and_counts() {
    // More rows than a page: the end is read backwards, so the window no longer holds row 1.
    let mut app = app_with_failed_rows(250, false);
    let counts = list(&app).counts;
    let effects = app.key(key('G'));
    let Some(generation) = effects.iter().find_map(|e| match e {
        Effect::Page(g, _) => Some(*g),
        _ => None,
    }) else {
        panic!("{effects:?}")
    };
    app.report(Report::Page(
        generation,
        Ok(Page {
            rows: (151..=250).rev().map(|i| selection(i, true)).collect(),
            malformed: Vec::new(),
            next: None,
        }),
    ));
    assert!(!list(&app).at_start);
    let effects = app.key(key('g'));
    answer_page(&mut app, &effects, 1..=100);
    assert_eq!(list(&app).total, Some(250));
    assert_eq!(list(&app).counts, counts);
    assert!(drawn(&app).iter().any(|l| l.contains("row 1 of 250")));
}

#[test]
fn the_live_refresh_rereads_every_drawn_row_of_a_list_including_the_bottom_one() {
    let mut app = app_with_failed_rows(40, false);
    let drawn_rows = table_rows(&app);
    let effects = app.report(Report::Tick(now()));
    let Some(Effect::Rows(_, ids, _)) = effects.iter().find(|e| matches!(e, Effect::Rows(..)))
    else {
        panic!("{effects:?}")
    };
    assert_eq!(ids.len(), drawn_rows);
    assert_eq!(app.page_height(), drawn_rows);
}

#[test]
fn the_list_scrolls_only_when_the_cursor_passes_the_last_drawn_row() {
    let mut app = app_with_failed_rows(40, false);
    let rows = table_rows(&app);
    for _ in 0..rows - 1 {
        app.key(key('j'));
    }
    assert_eq!(list(&app).top, 0, "the cursor is on the last drawn row");
    app.key(key('j'));
    assert_eq!(list(&app).top, 1);
}

#[test]
fn the_person_views_cursor_stays_on_a_drawn_row() {
    let mut app = app_with_failed_rows(40, false);
    let effects = app.key(key('p'));
    let Some(Screen::Person { .. }) = app.screen() else {
        panic!("the person view")
    };
    answer_page(&mut app, &effects, 1..=40);
    let rows = table_rows(&app);
    assert_eq!(app.page_height(), rows);
    for _ in 0..rows {
        app.key(key('j'));
    }
    let cursor_id = list(&app).current().unwrap().id.to_string();
    let last_drawn = drawn(&app)[bottom_border(&app) - 1].clone();
    assert!(
        last_drawn.starts_with(&format!("│  {cursor_id} ")),
        "the cursor's row {cursor_id} is the last drawn row: {last_drawn}"
    );
}

#[test]
fn the_slots_table_follows_its_cursor_past_the_bottom() {
    let (mut app, _) = App::new(session(false), now());
    let effects = command(&mut app, "conferences");
    let [Effect::Conferences(generation)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    app.report(Report::Conferences(*generation, Ok(vec![conference()])));
    let effects = app.key(code(KeyCode::Enter));
    let [Effect::Slots(generation, _)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let slots: Vec<SlotSummary> = (0..40).map(slot).collect();
    app.report(Report::Slots(*generation, Ok(slots)));
    for _ in 0..30 {
        app.key(key('j'));
    }
    let lines = drawn(&app);
    assert!(
        lines.iter().any(|l| l.contains("2026-12-31")),
        "the 31st slot, under the cursor, is drawn"
    );
}

fn conference() -> calsync::domain::ConferenceSummary {
    calsync::domain::ConferenceSummary {
        id: 1,
        title: "Conference".into(),
        platform: "teams".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        use_time_slots: true,
        status: "published".into(),
        slot_count: 40,
        counts: StateCounts::default(),
    }
}

fn slot(i: u32) -> SlotSummary {
    SlotSummary {
        id: i as i64,
        conference_id: 1,
        // One slot a day from December 1st: the 31st is on the 31st.
        date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1 + i.min(30)).unwrap(),
        start_time: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        end_time: chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
        timezone: "Europe/London".into(),
        max_participants: 0,
        current_participants: 0,
        is_available: true,
        meeting_link: None,
        counts: StateCounts::default(),
    }
}

#[test]
fn end_and_home_move_the_audit_logs_cursor_like_every_other_table() {
    use calsync::domain::audit::{AuditOutcome, AuditRecord};
    let (mut app, _) = App::new(session(false), now());
    let effects = command(&mut app, "audit");
    let [Effect::Audit(generation)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let rows: Vec<AuditRecord> = (1..=30)
        .map(|id| AuditRecord {
            id,
            started_at: now(),
            finished_at: Some(now()),
            os_user: "ops".into(),
            host: "desk-1".into(),
            action: "sync".into(),
            scope: "all".into(),
            filter: String::new(),
            rows: 1,
            outcome: AuditOutcome::Ok,
            detail: String::new(),
        })
        .collect();
    app.report(Report::Audit(*generation, Ok(rows)));
    let cursor = |app: &App| match app.screen() {
        Some(Screen::Audit(table)) => table.cursor,
        _ => panic!("the audit log"),
    };
    app.key(key('G'));
    assert_eq!(cursor(&app), 29);
    assert!(drawn(&app).iter().any(|l| l.starts_with("│30 ")));
    app.key(key('g'));
    assert_eq!(cursor(&app), 0);
}
