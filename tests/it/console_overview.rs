//! The overview keeps its counts current: it re-reads them after a run it started and on the
//! live timer (at a cadence tied to what a read costs), keeping the last counts on screen
//! meanwhile; and `:sync failed|unsynced|all` typed on it works on every selection.

use calsync::domain::{Filter, Scope, StateCounts};
use calsync::sync::{Summary, SyncEvent};
use calsync::tui::app::{Popup, RunScope, Screen, SyncTarget};
use calsync::tui::data::{BulkPlan, OverviewPart};
use calsync::tui::{App, Effect, Report};
use chrono::Duration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::console::{app_with_failed_rows, now, session};

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn failed(n: u64) -> StateCounts {
    StateCounts {
        failed: n,
        ..StateCounts::default()
    }
}

fn overview_generation(effects: &[Effect]) -> u64 {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Overview(generation) => Some(*generation),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no overview read in {effects:?}"))
}

/// Every part of the overview for `generation`, with `failed` failures.
fn answer(app: &mut App, generation: u64, failed_rows: u64) {
    for part in [
        OverviewPart::NewestFailures(vec![]),
        OverviewPart::Counts(failed(failed_rows)),
        OverviewPart::Trend(vec![]),
        OverviewPart::WorstConferences(vec![]),
        OverviewPart::Causes(vec![]),
    ] {
        app.report(Report::Overview(generation, Ok(part)));
    }
}

fn overview_failed(app: &App) -> Option<u64> {
    app.stack.iter().find_map(|s| match s {
        Screen::Overview { data, .. } => data.as_ref()?.counts.map(|c| c.failed),
        _ => None,
    })
}

fn overview_pending(app: &App) -> bool {
    app.stack.iter().any(|s| {
        matches!(
            s,
            Screen::Overview {
                pending: Some(_),
                ..
            }
        )
    })
}

fn finished() -> Report {
    Report::Sync(SyncEvent::Finished(Summary {
        total: 3,
        synced: 3,
        created: 3,
        ..Summary::default()
    }))
}

#[test]
fn a_run_started_from_a_list_re_reads_the_overview_beneath_it() {
    let mut app = app_with_failed_rows(3, false);
    // The overview under the list had been read: 3 failures.
    let Some(Screen::Overview { pending, .. }) = app.stack.first() else {
        panic!("the overview is the bottom screen")
    };
    let first = pending.expect("the first read is still in flight");
    answer(&mut app, first, 3);
    assert_eq!(overview_failed(&app), Some(3));

    app.key(key('r'));
    let effects = app.report(finished());
    let generation = overview_generation(&effects);
    // The old counts stay on screen until the new ones arrive.
    assert!(overview_pending(&app));
    assert_eq!(overview_failed(&app), Some(3));
    answer(&mut app, generation, 0);
    assert_eq!(overview_failed(&app), Some(0));
    assert!(!overview_pending(&app));
}

#[test]
fn a_run_started_from_the_overview_re_reads_it_and_shows_the_new_counts() {
    let (mut app, effects) = App::new(session(false), now());
    answer(&mut app, overview_generation(&effects), 81);
    // R: retry every failure, confirmed on the sheet.
    let effects = app.key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT));
    let [Effect::BulkPlan(plan_generation, target, run)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    app.report(Report::BulkPlan(
        *plan_generation,
        Ok(BulkPlan {
            run: *run,
            permanent_left_out: 0,
            target: target.clone(),
            count: 81,
            counts: failed(81),
            causes: vec![],
            skipped: 0,
        }),
    ));
    let effects = app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(
        matches!(effects.as_slice(), [Effect::Sync(..)]),
        "{effects:?}"
    );
    let effects = app.report(finished());
    let generation = overview_generation(&effects);
    // A late part of the new read replaces the old one as it arrives, the rest follows.
    app.report(Report::Overview(
        generation,
        Ok(OverviewPart::Counts(failed(0))),
    ));
    assert_eq!(overview_failed(&app), Some(0));
    assert!(overview_pending(&app), "the other parts are still counting");
    answer(&mut app, generation, 0);
    assert!(!overview_pending(&app));
    // A second end of run while nothing is in flight reads again; one in flight is not doubled.
    let effects = app.report(finished());
    overview_generation(&effects);
    let again = app.report(finished());
    assert!(!again.iter().any(|e| matches!(e, Effect::Overview(_))));
}

#[test]
fn the_timer_re_reads_the_overview_at_a_cadence_tied_to_its_cost() {
    let start = now();
    let (mut app, effects) = App::new(session(false), start);
    let first = overview_generation(&effects);
    // The read took 6 s (as the console's clock saw it): the next waits 20 × 6 s = 2 min.
    app.report(Report::Tick(start + Duration::seconds(6)));
    answer(&mut app, first, 5);
    let ticks =
        |app: &mut App, seconds: i64| app.report(Report::Tick(start + Duration::seconds(seconds)));
    assert!(
        !ticks(&mut app, 60)
            .iter()
            .any(|e| matches!(e, Effect::Overview(_))),
        "too soon for a read that costs 6 s"
    );
    assert!(
        !ticks(&mut app, 125)
            .iter()
            .any(|e| matches!(e, Effect::Overview(_)))
    );
    let effects = ticks(&mut app, 126);
    let second = overview_generation(&effects);
    assert!(overview_pending(&app));
    assert_eq!(
        overview_failed(&app),
        Some(5),
        "the last counts stay meanwhile"
    );
    // While a read is in flight the timer does not start another.
    assert!(
        !ticks(&mut app, 400)
            .iter()
            .any(|e| matches!(e, Effect::Overview(_)))
    );
    answer(&mut app, second, 4);
    assert_eq!(overview_failed(&app), Some(4));
}

#[test]
fn the_timer_leaves_an_overview_that_is_not_on_screen_alone() {
    let mut app = app_with_failed_rows(2, false);
    if let Some(Screen::Overview {
        pending: Some(first),
        ..
    }) = app.stack.first().cloned()
    {
        answer(&mut app, first, 2);
    }
    let effects = app.report(Report::Tick(now() + Duration::hours(1)));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Overview(_))));
}

#[test]
fn sync_commands_typed_on_the_overview_work_on_every_selection() {
    for (command, scope) in [
        ("sync failed", Scope::Failed),
        ("sync unsynced", Scope::Unsynced),
        ("sync all", Scope::All),
    ] {
        let (mut app, _) = App::new(session(false), now());
        app.key(key(':'));
        for c in command.chars() {
            app.key(key(c));
        }
        let effects = app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert!(
            matches!(
                effects.as_slice(),
                [Effect::BulkPlan(
                    _,
                    SyncTarget::Matching { filter, except },
                    RunScope { scope: s, .. },
                )] if **filter == Filter::default() && except.is_empty() && *s == scope
            ),
            "{command}: {effects:?}"
        );
        assert!(matches!(&app.popup, Some(Popup::Bulk(sheet)) if sheet.scope == scope));
        assert_eq!(app.message, None, "{command}");
    }
}

#[test]
fn sync_commands_stay_refused_where_there_is_no_list_and_no_overview() {
    let (mut app, _) = App::new(session(false), now());
    // The conferences table is neither a list of selections nor the overview.
    app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    app.key(key(':'));
    for c in "sync failed".chars() {
        app.key(key(c));
    }
    let effects = app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(
        app.message.as_deref(),
        Some("open a list of selections first")
    );
}
