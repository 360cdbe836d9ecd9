//! The overview's "newest failures" panel: the first page of the list of failures, newest
//! selection first. It is one page read through the index on `selected_at`, so on a million
//! rows it is what the overview draws first while the counts are still being counted; Enter
//! opens the whole list of failures.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::domain::SyncState;
use crate::tui::data::RecentFailure;
use crate::tui::theme::Theme;
use crate::tui::widgets::ago;
use crate::tui::widgets::table::{self, Column, Drawn, Width, Window};

/// The panel's columns; the focused one says so in its header.
const fn columns(title: &'static str) -> [Column; 5] {
    [
        Column::new("ID", Width::Fixed(7)),
        Column::new(title, Width::Fill(16)).at_most(32),
        Column::new("CAUSE", Width::Fixed(12)),
        Column::new("SELECTED", Width::Fixed(8)).wide_only(),
        Column::new("CONFERENCE", Width::Fill(16)),
    ]
}
const COLUMNS: [Column; 5] = columns("NEWEST FAILURES");
const COLUMNS_FOCUSED: [Column; 5] = columns("▸ NEWEST FAILURES");

/// What the panel shows: its rows (None while they are read), its cursor, and whether it has
/// the focus (its cursor is drawn then).
pub struct Shown<'a> {
    pub failures: Option<&'a [RecentFailure]>,
    pub cursor: usize,
    pub focused: bool,
}

/// The row of `failures` drawn on line `row` of the panel in `area` (its header is the first
/// line), as [`draw`] windows them.
pub fn failure_at_row(
    failures: usize,
    area: Rect,
    shown: (usize, bool),
    row: u16,
) -> Option<usize> {
    let (cursor, focused) = shown;
    let line = row.checked_sub(area.y + 1)? as usize;
    let rows = table::body_rows(area);
    if line >= rows {
        return None;
    }
    let top = if focused {
        cursor.saturating_sub(rows.saturating_sub(1))
    } else {
        0
    };
    let i = top + line;
    (i < failures).then_some(i)
}

pub fn draw(frame: &mut Frame, area: Rect, shown: Shown, now: DateTime<Utc>, theme: Theme) {
    if area.height == 0 {
        return;
    }
    let columns = if shown.focused {
        &COLUMNS_FOCUSED
    } else {
        &COLUMNS
    };
    let failures = shown.failures.unwrap_or_default();
    table::draw(
        frame,
        area,
        columns,
        failures,
        Window::FollowCursor(shown.focused.then_some(shown.cursor)),
        |_, failure, current, _| Drawn {
            cells: vec![
                (failure.id.to_string(), Style::default()),
                (failure.person.clone(), Style::default()),
                (
                    failure
                        .cause
                        .map(|c| c.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    theme.state(SyncState::Failed),
                ),
                (ago(now, failure.selected_at), theme.dim()),
                (failure.conference.clone(), Style::default()),
            ],
            style: if current {
                theme.selected()
            } else {
                Style::default()
            },
        },
        theme,
    );
    let empty = match shown.failures {
        None => Some(" reading…"),
        Some([]) => Some(" no failures"),
        Some(_) => None,
    };
    if let Some(text) = empty
        && area.height > 1
    {
        let line = Rect::new(area.x, area.y + 1, area.width, 1);
        frame.render_widget(Paragraph::new(Line::styled(text, theme.dim())), line);
    }
}
