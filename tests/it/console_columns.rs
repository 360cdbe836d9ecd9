//! The list's columns as the operator drives them (issue 13, item 6): `o` sorts by the next
//! column and says so in the header, `O` reverses it, the end key reads the same order
//! backwards, and `<` `>` scroll the columns that do not fit.

use calsync::domain::{Page, Sort, SortKey};
use calsync::tui::app::Screen;
use calsync::tui::{App, Effect, Report, Theme, render};
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::console::{app_with_failed_rows, code, key, selection};

fn list(app: &App) -> &calsync::tui::list::SelectionList {
    app.screen().and_then(Screen::list).expect("a list")
}

/// The sort of the page `effects` ask for.
fn asked_sort(effects: &[Effect]) -> Sort {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Page(_, request) => Some(request.sort),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no page asked: {effects:?}"))
}

fn answer(app: &mut App, effects: &[Effect]) {
    for effect in effects {
        if let Effect::Page(g, _) = effect {
            app.report(Report::Page(
                *g,
                Ok(Page {
                    rows: (1..=20).map(|i| selection(i, true)).collect(),
                    malformed: Vec::new(),
                    next: None,
                }),
            ));
        }
    }
}

/// The screen at `width`×24, one string per row.
fn drawn(app: &App, width: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, 24)).unwrap();
    terminal
        .draw(|frame| render(frame, app, Theme::MONOCHROME))
        .unwrap();
    let buffer = terminal.backend().buffer().clone();
    (0..24)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

fn header(lines: &[String]) -> String {
    lines.iter().find(|l| l.contains(" ID ")).cloned().unwrap()
}

#[test]
fn o_sorts_by_the_next_column_shows_it_in_the_header_and_capital_o_reverses_it() {
    let mut app = app_with_failed_rows(20, false);
    assert!(drawn(&app, 160)[2].contains("sort: selected ▼"));
    let effects = app.key(key('o'));
    assert_eq!(asked_sort(&effects), Sort::by(SortKey::Id, true));
    answer(&mut app, &effects);
    assert!(header(&drawn(&app, 160)).contains("ID ▼"));

    app.key(key('o'));
    let effects = app.key(key('o'));
    assert_eq!(asked_sort(&effects), Sort::by(SortKey::Email, false));
    answer(&mut app, &effects);
    let lines = drawn(&app, 160);
    assert!(header(&lines).contains("EMAIL ▲"), "{lines:#?}");
    assert!(lines[2].contains("sort: email ▲"), "{}", lines[2]);

    // Reversed, the rows without a value still come last.
    let effects = app.key(key('O'));
    let sort = asked_sort(&effects);
    assert_eq!(sort, Sort::by(SortKey::Email, true));
    assert!(!sort.nulls_first);
    answer(&mut app, &effects);
    assert!(header(&drawn(&app, 160)).contains("EMAIL ▼"));
}

#[test]
fn the_end_key_reads_the_chosen_order_backwards_with_empty_values_first() {
    let mut app = app_with_failed_rows(20, false);
    for _ in 0..6 {
        let effects = app.key(key('o'));
        // A full page each time: the list does not know where its result ends.
        for effect in &effects {
            if let Effect::Page(g, _) = effect {
                app.report(Report::Page(
                    *g,
                    Ok(Page {
                        rows: (1..=100).map(|i| selection(i, true)).collect(),
                        malformed: Vec::new(),
                        next: None,
                    }),
                ));
            }
        }
    }
    assert_eq!(list(&app).sort, Sort::by(SortKey::Error, false));
    let sort = asked_sort(&app.key(code(KeyCode::End)));
    assert_eq!(sort, Sort::by(SortKey::Error, false).reversed());
    assert!(
        sort.descending && sort.nulls_first,
        "the exact reverse: {sort:?}"
    );
}

#[test]
fn angle_brackets_scroll_the_columns_that_do_not_fit_and_stop_at_either_end() {
    let mut app = app_with_failed_rows(20, false);
    app.width = 80;
    let start = drawn(&app, 80);
    assert!(header(&start).contains("PERSON"), "{}", header(&start));
    assert!(
        start[2].contains("cols"),
        "the status line says columns are hidden: {}",
        start[2]
    );
    app.key(key('<'));
    assert_eq!(list(&app).scroll_x, 0, "nothing is hidden on the left");
    app.key(key('>'));
    let moved = drawn(&app, 80);
    assert!(!header(&moved).contains("PERSON"), "{}", header(&moved));
    assert!(
        header(&moved).contains(" ID "),
        "ID stays: {}",
        header(&moved)
    );
    assert!(moved[2].contains("◀ 1"), "{}", moved[2]);
    for _ in 0..20 {
        app.key(key('>'));
        drawn(&app, 80);
    }
    let end = drawn(&app, 80);
    assert!(header(&end).contains("ERROR"), "{}", header(&end));
    assert!(
        !end[2].contains('▶'),
        "nothing left on the right: {}",
        end[2]
    );
    let furthest = list(&app).scroll_x;
    app.key(key('>'));
    assert_eq!(list(&app).scroll_x, furthest);
    app.key(key('<'));
    assert_eq!(list(&app).scroll_x, furthest - 1);
    // At 220 columns everything fits: nothing scrolls.
    assert!(!drawn(&app, 220)[2].contains("cols"));
}
