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

/// An overview with one cause and two conferences with most failures.
fn overview_with_conferences() -> App {
    let (mut app, effects) = App::new(session(false), now());
    let Effect::Overview(generation) = effects[0] else {
        panic!("{effects:?}")
    };
    for part in [
        OverviewPart::Causes(vec![(Cause::Throttled, 40)]),
        OverviewPart::WorstConferences(vec![
            (10, "Careers Guidance".into(), 21, 64),
            (22, "Quarterly Review".into(), 17, 53),
        ]),
    ] {
        app.report(Report::Overview(generation, Ok(part)));
    }
    app
}

fn overview_cursor(app: &App) -> calsync::tui::screen::OverviewCursor {
    match app.screen() {
        Some(Screen::Overview { cursor, .. }) => *cursor,
        _ => panic!("the overview on top"),
    }
}

#[test]
fn tab_focuses_the_conferences_with_most_failures_and_enter_opens_that_conferences_failures() {
    use calsync::tui::screen::OverviewPanel;
    let mut app = overview_with_conferences();
    app.key(code(KeyCode::Tab));
    assert_eq!(overview_cursor(&app).panel, OverviewPanel::Conferences);
    app.key(code(KeyCode::Down));
    let effects = app.key(code(KeyCode::Enter));
    let Some(Screen::Selections { title, list }) = app.screen() else {
        panic!("that conference's failures")
    };
    assert_eq!(title, "Failures: Quarterly Review");
    assert_eq!(list.filter.conference_id, Some(22));
    assert_eq!(list.filter.states, vec![SyncState::Failed]);
    assert!(effects.iter().any(|e| matches!(e, Effect::Page(..))));

    // Back on the overview, the cursor is where it was; ← returns to the causes.
    app.key(code(KeyCode::Esc));
    let cursor = overview_cursor(&app);
    assert_eq!(
        (cursor.panel, cursor.conference),
        (OverviewPanel::Conferences, 1)
    );
    // ← goes round the three panels: the newest failures, then the causes.
    app.key(code(KeyCode::Left));
    assert_eq!(overview_cursor(&app).panel, OverviewPanel::Failures);
    app.key(code(KeyCode::Left));
    assert_eq!(overview_cursor(&app).panel, OverviewPanel::Causes);
    app.key(code(KeyCode::Enter));
    assert!(
        matches!(app.screen(), Some(Screen::Selections { title, .. }) if title == "Failures: Throttled by Graph")
    );
}

#[test]
fn r_on_the_conferences_panel_says_how_to_retry_instead_of_doing_nothing() {
    let mut app = overview_with_conferences();
    app.key(code(KeyCode::Tab));
    let effects = app.key(key('r'));
    assert!(effects.is_empty(), "{effects:?}");
    let message = app.message.clone().unwrap_or_default();
    assert!(message.contains("tab back to the causes"), "{message}");
    app.key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    app.key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert!(matches!(
        app.key(key('r')).as_slice(),
        [Effect::BulkPlan(..)]
    ));
}

/// Opens selection 1's detail from whatever is on screen (`:sel 1`) and fills it.
fn open_detail_of_selection_1(app: &mut App) {
    app.key(key(':'));
    let typed = type_text(app, "sel 1");
    assert!(typed.is_empty(), "{typed:?}");
    let effects = app.key(code(KeyCode::Enter));
    let Some(generation) = effects.iter().find_map(|e| match e {
        Effect::Selection(generation, 1) => Some(*generation),
        _ => None,
    }) else {
        panic!("{effects:?}")
    };
    app.report(Report::Selection(
        generation,
        Ok(Some(Box::new(crate::console::selection(1, true)))),
    ));
}

#[test]
fn a_selections_detail_says_where_its_row_belongs_whatever_path_opened_it() {
    let belongs = [
        "Conferences",
        "Induction Q&A",
        "2026-12-15 10:00",
        "Zoë Ünal 1",
    ];
    // From a list of failures opened with a filter.
    let mut app = app_with_failed_rows(2, false);
    open_detail_of_selection_1(&mut app);
    assert_eq!(calsync::tui::breadcrumbs::of(&app.stack), belongs);
    // From the overview's cause, then the row itself.
    let mut app = overview_with_conferences();
    app.key(code(KeyCode::Enter));
    open_detail_of_selection_1(&mut app);
    assert_eq!(calsync::tui::breadcrumbs::of(&app.stack), belongs);
    // Esc still walks back the path that was taken.
    app.key(code(KeyCode::Esc));
    assert!(
        matches!(app.screen(), Some(Screen::Selections { title, .. }) if title == "Failures: Throttled by Graph")
    );
    assert_eq!(
        calsync::tui::breadcrumbs::of(&app.stack),
        ["Overview", "Failures: Throttled by Graph"]
    );
}

#[test]
fn m_shows_only_the_marked_rows_and_m_again_every_row() {
    let mut app = app_with_failed_rows(3, false);
    assert_eq!(
        app.key(shift('M')),
        vec![],
        "nothing marked: nothing to narrow to"
    );
    assert!(
        app.message
            .as_deref()
            .unwrap_or_default()
            .contains("nothing is marked")
    );
    app.key(key(' '));
    app.key(code(KeyCode::Down));
    app.key(code(KeyCode::Down));
    app.key(key(' '));
    let effects = app.key(shift('M'));
    let Some(Effect::Page(_, request)) = effects.iter().find(|e| matches!(e, Effect::Page(..)))
    else {
        panic!("{effects:?}")
    };
    assert_eq!(request.filter.selection_ids, vec![1, 3]);
    assert_eq!(
        request.filter.states,
        vec![SyncState::Failed],
        "within the filter"
    );
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Counts(..))),
        "recounted"
    );
    let list = app.screen().and_then(Screen::list).unwrap();
    assert_eq!(
        list.marks.ids.iter().copied().collect::<Vec<_>>(),
        vec![1, 3],
        "marks kept"
    );
    assert!(list.only_marked.is_some());

    let effects = app.key(shift('M'));
    let Some(Effect::Page(_, request)) = effects.iter().find(|e| matches!(e, Effect::Page(..)))
    else {
        panic!("{effects:?}")
    };
    assert!(request.filter.selection_ids.is_empty(), "every row again");
    // A new filter starts from every row.
    app.key(shift('M'));
    app.key(key('/'));
    app.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    type_text(&mut app, "state:failed");
    app.key(code(KeyCode::Enter));
    assert!(
        app.screen()
            .and_then(Screen::list)
            .unwrap()
            .only_marked
            .is_none()
    );
}

#[test]
fn w_opens_the_events_outlook_link_and_shift_w_the_lms_admin_page() {
    let mut app = app_with_failed_rows(1, false);
    app.lms_url = Some("https://lms.example.org".into());
    let link = "https://outlook.office365.com/owa/?itemid=AAMkAG1%3D&exvsurl=1&path=/calendar/item";
    let Some(Screen::Selections { list, .. }) = app.stack.last_mut() else {
        panic!("a list")
    };
    list.rows[0].recorded.web_link = Some(link.into());
    assert_eq!(app.key(key('w')), vec![Effect::OpenUrl(link.into())]);
    assert_eq!(
        app.key(shift('W')),
        vec![Effect::OpenUrl(
            "https://lms.example.org/admin/conferences/conferencetimeslotselection/1/change/"
                .into()
        )]
    );
    app.lms_url = None;
    assert!(app.key(shift('W')).is_empty());
    assert!(
        app.message
            .as_deref()
            .unwrap_or_default()
            .contains("lms_url")
    );
}

#[test]
fn help_lists_every_filter_key_and_every_cause_word_with_its_label() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let mut app = app_with_failed_rows(1, false);
    app.height = 48;
    app.key(key('?'));
    // Every page of the help, as drawn.
    let mut seen = String::new();
    for _ in 0..10 {
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
        terminal
            .draw(|frame| calsync::tui::render(frame, &app, calsync::tui::Theme::MONOCHROME))
            .unwrap();
        for cell in terminal.backend().buffer().content() {
            seen.push_str(cell.symbol());
        }
        app.key(code(KeyCode::PageDown));
    }
    let seen = seen.split_whitespace().collect::<Vec<_>>().join(" ");
    for key in calsync::domain::query::KEYS {
        assert!(
            seen.contains(&format!("{}:", key.name)),
            "{} missing",
            key.name
        );
    }
    for cause in Cause::ALL {
        assert!(
            seen.contains(&format!("cause:{} {}", cause.as_str(), cause.label())),
            "cause:{} with its label missing",
            cause.as_str()
        );
    }
    assert!(
        seen.contains("M show only the marked rows"),
        "the M key is in ?"
    );
}

/// The header line as drawn at 160 columns.
fn header(app: &App) -> String {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal
        .draw(|frame| calsync::tui::render(frame, app, calsync::tui::Theme::MONOCHROME))
        .unwrap();
    let buffer = terminal.backend().buffer();
    (0..160)
        .map(|x| buffer[(x, 0)].symbol().to_string())
        .collect()
}

#[test]
fn the_headers_data_age_is_the_screens_own_and_moves_with_the_clock() {
    let (mut app, effects) = App::new(session(false), now());
    let Effect::Overview(generation) = effects[0] else {
        panic!("{effects:?}")
    };
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::Causes(vec![])),
    ));
    app.report(Report::Tick(now() + chrono::Duration::minutes(2)));
    assert!(header(&app).contains("(2m ago)"), "{}", header(&app));
    // The conferences, read a minute later: the age starts again from their read.
    let effects = app.key(key('2'));
    let Effect::Conferences(generation) = effects[0] else {
        panic!("{effects:?}")
    };
    app.report(Report::Tick(now() + chrono::Duration::minutes(3)));
    app.report(Report::Conferences(generation, Ok(vec![])));
    assert!(header(&app).contains("(0s ago)"), "{}", header(&app));
    app.report(Report::Tick(
        now() + chrono::Duration::minutes(3) + chrono::Duration::seconds(20),
    ));
    assert!(header(&app).contains("(20s ago)"), "{}", header(&app));
}

#[test]
fn rate_and_eta_are_right_at_both_ends_of_a_short_run() {
    let failed = |id: i64| {
        Report::Sync(SyncEvent::Item(ItemResult {
            selection_id: id,
            label: None,
            outcome: Outcome::Failed {
                error: "x".into(),
                cause: Cause::Other,
            },
        }))
    };
    let mut app = app_with_failed_rows(10, false);
    app.key(key('r'));
    app.report(Report::Sync(SyncEvent::Started { total: 10 }));
    // A slow token: the first result comes 2 s in; no estimate is made from the wait.
    app.now = now() + chrono::Duration::seconds(2);
    app.report(failed(1));
    let job = app.job.as_ref().unwrap();
    assert_eq!((job.rate(), job.eta_seconds()), (None, None), "never 0.0/s");
    // Then ten a second: the estimate is the second left, not one counted from the start.
    for id in 2..=9 {
        app.now = now() + chrono::Duration::milliseconds(2_000 + (id - 1) * 100);
        app.report(failed(id));
    }
    let job = app.job.as_ref().unwrap();
    let rate = job.rate().expect("a rate once enough results arrived");
    assert!((rate - 10.0).abs() < 0.01, "{rate}");
    let eta = job.eta_seconds().unwrap();
    assert!((eta - 0.1).abs() < 0.01, "one row left at 10/s: {eta}");
    app.now = now() + chrono::Duration::milliseconds(2_900);
    app.report(failed(10));
    app.report(Report::Sync(SyncEvent::Finished(Summary::default())));
    let job = app.job.as_ref().unwrap();
    assert_eq!(job.eta_seconds(), None, "no estimate once it ended");
    let rate = job.rate().unwrap();
    assert!(
        (rate - 10.0).abs() < 0.01,
        "the whole run's average: {rate}"
    );
}

/// Where `text` is drawn on the app's screen: (column, row).
fn where_drawn(app: &App, text: &str) -> (u16, u16) {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let mut terminal = Terminal::new(TestBackend::new(app.width, app.height)).unwrap();
    terminal
        .draw(|frame| calsync::tui::render(frame, app, calsync::tui::Theme::MONOCHROME))
        .unwrap();
    let buffer = terminal.backend().buffer();
    for y in 0..app.height {
        let line: String = (0..app.width).map(|x| buffer[(x, y)].symbol()).collect();
        if let Some(at) = line.find(text) {
            let column = line[..at].chars().count() as u16;
            return (column, y);
        }
    }
    panic!("{text:?} is not on screen")
}

#[test]
fn a_click_on_an_overview_panels_row_focuses_it_there_and_a_second_click_opens_it() {
    use calsync::tui::screen::OverviewPanel;
    // Side by side at 160 columns, stacked at 80.
    for (width, height) in [(160, 48), (80, 24)] {
        let mut app = overview_with_conferences();
        (app.width, app.height) = (width, height);
        let (column, row) = where_drawn(&app, "Quarterly Review");
        let effects = app.mouse(click(column, row));
        assert!(effects.is_empty(), "{effects:?}");
        let cursor = overview_cursor(&app);
        assert_eq!(
            (cursor.panel, cursor.conference),
            (OverviewPanel::Conferences, 1),
            "at {width}×{height}"
        );

        let (column, row) = where_drawn(&app, "Throttled by Graph");
        app.mouse(click(column, row));
        assert_eq!(overview_cursor(&app).panel, OverviewPanel::Causes);
        app.mouse(click(column, row));
        assert!(
            matches!(app.screen(), Some(Screen::Selections { title, .. }) if title == "Failures: Throttled by Graph"),
            "a click on the focused cause opens its failures at {width}×{height}"
        );

        app.key(code(KeyCode::Esc));
        let (column, row) = where_drawn(&app, "Careers Guidance");
        app.mouse(click(column, row));
        app.mouse(click(column, row));
        assert!(
            matches!(app.screen(), Some(Screen::Selections { title, .. }) if title == "Failures: Careers Guidance"),
            "at {width}×{height}"
        );
    }
}

#[test]
fn a_click_on_the_overview_outside_its_panels_rows_changes_nothing() {
    let mut app = overview_with_conferences();
    (app.width, app.height) = (160, 48);
    let (column, row) = where_drawn(&app, "Failures by cause");
    let before = overview_cursor(&app);
    assert!(app.mouse(click(column, row)).is_empty());
    assert_eq!(overview_cursor(&app), before);
}

#[test]
fn a_cancelled_runs_panel_says_cancelled_at_80_columns() {
    let mut app = app_with_failed_rows(3, false);
    (app.width, app.height) = (80, 24);
    start_retry(&mut app);
    app.report(Report::Sync(SyncEvent::Finished(Summary {
        total: 3,
        not_started: 3,
        ..Summary::default()
    })));
    let (_, row) = where_drawn(&app, "(cancelled)");
    let (_, done) = where_drawn(&app, "done:");
    assert_eq!(row, done, "on the panel's title line");
}
