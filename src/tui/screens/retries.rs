//! `:retries`: the worker's retry schedule, soonest next attempt first: whose selection, why
//! it failed, how often, and when the next attempt is. `r` retries now, `P` parks.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::domain::SyncState;
use crate::domain::worker::RetryListing;
use crate::tui::theme::Theme;
use crate::tui::widgets::table::{self, Column, Drawn, Width, Window};
use crate::tui::widgets::table_state;
use crate::tui::worker_views::{WorkerScreen, next_attempt};

/// A long name leaves the rest of the line to the error.
const PERSON_AT_MOST: usize = 32;

const COLUMNS: [Column; 7] = [
    Column::new("SELECTION", Width::Fixed(9)),
    Column::new(
        "PERSON",
        Width::Responsive {
            wide: 24,
            narrow: 16,
        },
    )
    .at_most(PERSON_AT_MOST),
    Column::new("CONFERENCE", Width::Fixed(22)).wide_only(),
    Column::new("CAUSE", Width::Fixed(12)),
    Column::new("TRIES", Width::Fixed(5)),
    Column::new("NEXT", Width::Fixed(7)),
    Column::new("LAST ERROR", Width::Fill(10)),
];

/// "ann (gone)" when the LMS deleted the selection.
pub fn person(listing: &RetryListing) -> String {
    if listing.user_id.is_none() {
        "gone from the LMS".to_string()
    } else {
        listing.person.clone()
    }
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    screen: &WorkerScreen<RetryListing>,
    now: DateTime<Utc>,
    theme: Theme,
) {
    if super::workers::no_tables_notice(frame, area, screen, theme) {
        return;
    }
    let schedule = &screen.table;
    table::draw(
        frame,
        area,
        &COLUMNS,
        &schedule.rows,
        Window::FollowCursor(Some(schedule.cursor)),
        |_, l, current, _| Drawn {
            cells: vec![
                (l.entry.selection_id.to_string(), Style::default()),
                (person(l), Style::default()),
                (l.conference.clone(), Style::default()),
                (
                    l.entry.cause.as_str().to_string(),
                    theme.state(SyncState::Failed),
                ),
                (l.entry.attempts.to_string(), Style::default()),
                (next_attempt(l, now), Style::default()),
                (l.entry.last_error.clone(), theme.dim()),
            ],
            style: theme.row(current),
        },
        theme,
    );
    table_state(frame, area, schedule, theme);
}
