//! What an operator in the middle of an incident relies on (issue 13), as state-machine tests:
//! keys and reports in, state and effects out, no terminal.

use calsync::domain::{Cause, PersonMatch, Scope, SyncState};
use calsync::sync::{ItemLabel, ItemResult, Outcome, Summary, SyncEvent};
use calsync::tui::app::{Popup, Screen, SyncTarget};
use calsync::tui::data::OverviewPart;
use calsync::tui::{App, Effect, Report};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use crate::console::{app_with_failed_rows, code, key, now, session, type_text};

fn shift(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT)
}

/// The run scope the bulk sheet asks to count.
fn planned(effects: &[Effect]) -> (SyncTarget, calsync::tui::app::RunScope) {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::BulkPlan(_, target, run) => Some((target.clone(), *run)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a bulk plan: {effects:?}"))
}

fn start_retry(app: &mut App) {
    app.key(key('r'));
    app.report(Report::Sync(SyncEvent::Started { total: 3 }));
}

#[test]
fn quitting_while_a_job_runs_asks_first_and_esc_stays() {
    let mut app = app_with_failed_rows(3, false);
    start_retry(&mut app);
    app.key(key('q'));
    assert!(!app.should_quit, "q during a run must not quit at once");
    assert!(matches!(app.popup, Some(Popup::ConfirmQuit)));
    app.key(code(KeyCode::Esc));
    assert!(app.popup.is_none() && !app.should_quit);
    assert_eq!(app.message.as_deref(), Some("still running; x cancels it"));
    app.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(
        matches!(app.popup, Some(Popup::ConfirmQuit)),
        "Ctrl-C asks too"
    );
    app.key(key('y'));
    assert!(app.should_quit);
}

#[test]
fn quitting_with_no_job_running_is_immediate_and_colon_quit_asks_too() {
    let mut app = app_with_failed_rows(1, false);
    app.key(key('q'));
    assert!(app.should_quit);
    let mut app = app_with_failed_rows(3, false);
    start_retry(&mut app);
    app.key(key(':'));
    type_text(&mut app, "quit");
    app.key(code(KeyCode::Enter));
    assert!(matches!(app.popup, Some(Popup::ConfirmQuit)));
}

#[test]
fn r_and_r_on_marked_rows_both_take_permanent_failures() {
    let mut app = app_with_failed_rows(3, false);
    app.key(key(' '));
    let (_, run) = planned(&app.key(key('r')));
    assert_eq!((run.scope, run.include_permanent), (Scope::All, true));
    app.key(code(KeyCode::Esc));
    let (target, run) = planned(&app.key(shift('R')));
    assert!(matches!(target, SyncTarget::Ids(ids) if ids == vec![1]));
    assert_eq!((run.scope, run.include_permanent), (Scope::Failed, true));
    let Some(Popup::Bulk(sheet)) = &app.popup else {
        panic!("the sheet")
    };
    assert_eq!(
        calsync::tui::run_choice::sheet_title(&sheet.chosen),
        "1 marked row"
    );
}

#[test]
fn a_then_r_takes_permanent_failures_and_an_unmarked_r_leaves_them_out() {
    let mut app = app_with_failed_rows(3, false);
    app.key(shift('A'));
    let (target, run) = planned(&app.key(shift('R')));
    assert!(matches!(target, SyncTarget::Matching { .. }));
    assert!(
        run.include_permanent,
        "A marks: the one rule takes them whole"
    );
    app.key(code(KeyCode::Esc));
    app.key(shift('A'));
    let (_, run) = planned(&app.key(shift('R')));
    assert!(
        !run.include_permanent,
        "nothing marked: permanent causes left out"
    );
    assert_eq!(run.scope, Scope::Failed);
}

fn overview_with_causes() -> App {
    let (mut app, effects) = App::new(session(false), now());
    let Effect::Overview(generation) = effects[0] else {
        panic!("{effects:?}")
    };
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::Causes(vec![
            (Cause::Throttled, 40),
            (Cause::NoMailbox, 7),
        ])),
    ));
    app
}

#[test]
fn enter_on_a_cause_opens_that_causes_failures() {
    let mut app = overview_with_causes();
    app.key(code(KeyCode::Down));
    let effects = app.key(code(KeyCode::Enter));
    let Some(Screen::Selections { title, list }) = app.screen() else {
        panic!("a list of selections, not the conferences")
    };
    assert_eq!(title, "Failures: No Exchange Online mailbox");
    assert_eq!(list.filter.causes, vec![Cause::NoMailbox]);
    assert_eq!(list.filter.states, vec![SyncState::Failed]);
    assert!(effects.iter().any(|e| matches!(e, Effect::Page(..))));
}

#[test]
fn a_key_that_does_nothing_here_says_where_it_works() {
    let (mut app, _) = App::new(session(false), now());
    app.key(key('2'));
    app.key(shift('E'));
    let message = app.message.clone().unwrap_or_default();
    assert!(
        message.contains("works on lists of selections"),
        "{message}"
    );
    let (mut app, _) = App::new(session(true), now());
    app.key(key('2'));
    app.key(key('r'));
    assert!(
        app.message.is_some(),
        "r on the conferences says why it does nothing"
    );
}

#[test]
fn a_refused_command_keeps_the_prompt_with_its_reason_and_esc_closes_it() {
    let mut app = app_with_failed_rows(2, true);
    app.key(key(':'));
    type_text(&mut app, "sync failed");
    app.key(code(KeyCode::Enter));
    assert!(
        matches!(&app.popup, Some(Popup::Input { error: Some(e), .. }) if e.contains("read-only"))
    );
    app.key(code(KeyCode::Esc));
    assert!(app.popup.is_none());
}

#[test]
fn prompt_history_goes_back_with_up_and_forward_with_down() {
    let mut app = app_with_failed_rows(2, false);
    app.key(key(':'));
    type_text(&mut app, "audit");
    app.key(code(KeyCode::Enter));
    app.key(key(':'));
    app.key(code(KeyCode::Up));
    assert!(matches!(&app.popup, Some(Popup::Input { text, .. }) if text == "audit"));
    app.key(code(KeyCode::Down));
    assert!(matches!(&app.popup, Some(Popup::Input { text, .. }) if text.is_empty()));
    assert_eq!(app.histories.command.entries(), ["audit"]);
}

#[test]
fn tab_cycles_inside_the_filter_prompt_and_keeps_a_trailing_space() {
    let mut app = app_with_failed_rows(2, false);
    app.key(key('/'));
    app.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    type_text(&mut app, "state:failed cause:");
    app.key(code(KeyCode::Tab));
    assert!(
        matches!(&app.popup, Some(Popup::Input { text, .. }) if text == "state:failed cause:no_mailbox")
    );
    app.key(code(KeyCode::Tab));
    assert!(
        matches!(&app.popup, Some(Popup::Input { text, .. }) if text == "state:failed cause:unknown_user")
    );
    app.key(code(KeyCode::BackTab));
    assert!(
        matches!(&app.popup, Some(Popup::Input { text, .. }) if text == "state:failed cause:no_mailbox")
    );
}

#[test]
fn person_lookup_opens_one_match_and_offers_several_to_tab() {
    let mut app = app_with_failed_rows(2, false);
    app.key(key(':'));
    type_text(&mut app, "person rossi");
    let effects = app.key(code(KeyCode::Enter));
    let [Effect::FindPerson(generation, who)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(who, "rossi");
    let found = |id: i64, username: &str| PersonMatch {
        id,
        username: username.into(),
        email: format!("{username}@example.org"),
        name: "Mario Rossi".into(),
    };
    app.report(Report::PersonFound(
        *generation,
        Ok(vec![found(7, "mrossi"), found(8, "rossini")]),
    ));
    let message = app.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("2 people match: mrossi (Mario Rossi)"),
        "{message}"
    );
    app.key(key(':'));
    type_text(&mut app, "person ross");
    app.key(code(KeyCode::Tab));
    assert!(matches!(&app.popup, Some(Popup::Input { text, .. }) if text == "person mrossi"));
    app.key(code(KeyCode::Esc));

    app.key(key(':'));
    type_text(&mut app, "person mrossi");
    let effects = app.key(code(KeyCode::Enter));
    let [Effect::FindPerson(generation, _)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let effects = app.report(Report::PersonFound(
        *generation,
        Ok(vec![found(7, "mrossi"), found(8, "mrossini")]),
    ));
    assert!(
        effects.contains(&Effect::Person(
            effects
                .iter()
                .find_map(|e| match e {
                    Effect::Person(g, _) => Some(*g),
                    _ => None,
                })
                .unwrap(),
            7
        )),
        "an exact username opens: {effects:?}"
    );
}

fn skipped(id: i64) -> Report {
    Report::Sync(SyncEvent::Item(ItemResult {
        selection_id: id,
        label: Some(ItemLabel {
            username: "ann".into(),
            full_name: "Ann Other".into(),
            conference_title: "Café numérique".into(),
            slot_date: "2025-12-31".into(),
            slot_start: "23:00:00".into(),
        }),
        outcome: Outcome::Skipped {
            reason: "the conference does not use time slots".into(),
        },
    }))
}

#[test]
fn a_runs_skipped_rows_are_listed_with_their_reasons_and_the_panel_can_be_dismissed() {
    let mut app = app_with_failed_rows(3, false);
    start_retry(&mut app);
    app.report(skipped(1));
    app.report(Report::Sync(SyncEvent::Finished(Summary {
        total: 1,
        skipped: 1,
        ..Summary::default()
    })));
    let message = app.message.clone().unwrap_or_default();
    assert!(
        message.contains("L lists the rows that did not sync"),
        "{message}"
    );
    app.key(shift('L'));
    assert!(matches!(app.popup, Some(Popup::RunRows { scroll: 0 })));
    let rows = app.run_rows().rows();
    assert_eq!(rows[0].reason, "the conference does not use time slots");
    app.key(code(KeyCode::Esc));
    // x on a finished job closes its panel; L still lists the rows.
    app.key(key('x'));
    assert!(app.job.is_none());
    app.key(shift('L'));
    assert!(matches!(app.popup, Some(Popup::RunRows { .. })));
}

#[test]
fn the_first_rate_waits_for_results_and_the_end_reports_the_whole_run() {
    let mut app = app_with_failed_rows(3, false);
    start_retry(&mut app);
    let job = app.job.as_ref().unwrap();
    assert_eq!(job.rate(), None, "no 0.0/s before anything arrived");
    assert_eq!(job.eta_seconds(), None);
    for (ms, id) in [(900, 1), (1_200, 2), (1_500, 3)] {
        app.now = now() + chrono::Duration::milliseconds(ms);
        app.report(Report::Sync(SyncEvent::Item(ItemResult {
            selection_id: id,
            label: None,
            outcome: Outcome::Failed {
                error: "x".into(),
                cause: calsync::domain::Cause::Other,
            },
        })));
    }
    app.now = now() + chrono::Duration::milliseconds(1_500);
    app.report(Report::Sync(SyncEvent::Finished(Summary::default())));
    let rate = app.job.as_ref().unwrap().rate().unwrap();
    assert!((rate - 2.0 / 0.6).abs() < 0.01, "{rate}");
}

#[test]
fn y_copies_the_rows_email_through_the_terminal() {
    let mut app = app_with_failed_rows(2, false);
    app.key(key('y'));
    let sequence = app.to_terminal.clone().unwrap();
    assert!(sequence.starts_with("\u{1b}]52;c;"), "{sequence:?}");
    assert_eq!(app.message.as_deref(), Some("copied: user1@north.example"));
}

#[test]
fn w_opens_the_lms_admin_page_when_lms_url_is_set() {
    let mut app = app_with_failed_rows(2, false);
    let effects = app.key(key('w'));
    assert!(
        effects.is_empty(),
        "no meeting link and no lms_url: {effects:?}"
    );
    assert!(
        app.message
            .as_deref()
            .unwrap_or_default()
            .contains("lms_url")
    );
    app.lms_url = Some("https://lms.example.org".into());
    assert_eq!(
        app.key(key('w')),
        vec![Effect::OpenUrl(
            "https://lms.example.org/admin/conferences/conferencetimeslotselection/1/change/"
                .into()
        )]
    );
}

fn click(column: u16, row: u16) -> MouseEvent {
    MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }
}

#[test]
fn a_click_moves_the_cursor_to_the_row_and_a_second_click_opens_it() {
    let mut app = app_with_failed_rows(5, false);
    app.width = 160;
    // Header, border, status line, table header: the first row is on line 4.
    app.mouse(click(20, 6));
    assert_eq!(app.screen().and_then(Screen::list).unwrap().cursor, 2);
    let effects = app.mouse(click(20, 6));
    assert!(
        matches!(app.screen(), Some(Screen::ErrorDetail { id: 3, .. })),
        "{effects:?}"
    );
    app.key(code(KeyCode::Esc));
    app.mouse(MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: 0,
        row: 10,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(app.screen().and_then(Screen::list).unwrap().cursor, 0);
}

#[test]
fn help_scrolls_and_lists_every_cause_word() {
    let mut app = app_with_failed_rows(2, false);
    app.height = 24;
    app.key(key('?'));
    app.key(code(KeyCode::PageDown));
    assert!(matches!(app.popup, Some(Popup::Help { scroll }) if scroll > 0));
    app.key(key('z'));
    assert!(app.popup.is_none(), "any other key closes");
}
