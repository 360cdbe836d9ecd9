//! `:parked`: the dead set, grouped by cause, largest first, each cause with what to fix (in
//! the LMS, after which the worker tries once more by itself) and its newest selections.
//! `r` retries now: the selection under the cursor, or on a cause line those listed under it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use crate::domain::SyncState;
use crate::tui::theme::Theme;
use crate::tui::widgets::table::{self, Column, Drawn, Width, Window};
use crate::tui::widgets::table_state;
use crate::tui::worker_views::{ParkedRow, WorkerScreen};

const COLUMNS: [Column; 5] = [
    Column::new(
        "CAUSE / SELECTION",
        Width::Responsive {
            wide: 30,
            narrow: 22,
        },
    ),
    Column::new("COUNT", Width::Fixed(6)),
    Column::new("CONFERENCE", Width::Fixed(22)).wide_only(),
    Column::new("TRIES", Width::Fixed(5)).wide_only(),
    Column::new("TO FIX / LAST ERROR", Width::Fill(20)),
];

pub fn draw(frame: &mut Frame, area: Rect, screen: &WorkerScreen<ParkedRow>, theme: Theme) {
    if super::workers::no_tables_notice(frame, area, screen, theme) {
        return;
    }
    let parked = &screen.table;
    table::draw(
        frame,
        area,
        &COLUMNS,
        &parked.rows,
        Window::FollowCursor(Some(parked.cursor)),
        |_, row, current, _| match row {
            ParkedRow::Cause {
                label, count, fix, ..
            } => Drawn {
                cells: vec![
                    (label.clone(), theme.state(SyncState::Failed)),
                    (count.to_string(), theme.state(SyncState::Failed)),
                    (String::new(), Style::default()),
                    (String::new(), Style::default()),
                    (format!("To fix: {fix}"), Style::default()),
                ],
                style: theme.row(current).add_modifier(Modifier::BOLD),
            },
            ParkedRow::Selection(l) => Drawn {
                cells: vec![
                    (
                        format!("  {} {}", l.entry.selection_id, super::retries::person(l)),
                        Style::default(),
                    ),
                    (String::new(), Style::default()),
                    (l.conference.clone(), Style::default()),
                    (l.entry.attempts.to_string(), Style::default()),
                    (l.entry.last_error.clone(), theme.dim()),
                ],
                style: theme.row(current),
            },
        },
        theme,
    );
    table_state(frame, area, parked, theme);
}
