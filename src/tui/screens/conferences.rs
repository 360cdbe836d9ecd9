//! The conferences table: one row per conference with its per-state counts; enter opens its
//! slots.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::domain::ConferenceSummary;
use crate::tui::opens::Opens;
use crate::tui::table::Table;
use crate::tui::theme::Theme;
use crate::tui::widgets::table::{self, COUNT_HEADERS, Column, Drawn, Width, Window};
use crate::tui::widgets::{count_row_style, counts_cells, table_state};

const COLUMNS: [Column; 10] = [
    Column::new("ID", Width::Fixed(5)),
    Column::new("CONFERENCE", Width::Fill(20)),
    Column::new("PLATFORM", Width::Fixed(11)).wide_only(),
    Column::new("DATE", Width::Fixed(10)).wide_only(),
    Column::new("SLOTS", Width::Fixed(5)),
    Column::new(COUNT_HEADERS[0], Width::Fixed(6)),
    Column::new(COUNT_HEADERS[1], Width::Fixed(5)),
    Column::new(COUNT_HEADERS[2], Width::Fixed(6)),
    Column::new(COUNT_HEADERS[3], Width::Fixed(5)),
    Column::new(COUNT_HEADERS[4], Width::Fixed(5)),
];

/// Enter opens the conference's slots.
pub fn enter(conferences: &Table<ConferenceSummary>) -> Opens {
    conferences
        .current()
        .cloned()
        .map_or(Opens::Nothing, Opens::Slots)
}

pub fn draw(frame: &mut Frame, area: Rect, conferences: &Table<ConferenceSummary>, theme: Theme) {
    table::draw(
        frame,
        area,
        &COLUMNS,
        &conferences.rows,
        Window::FollowCursor(Some(conferences.cursor)),
        |_, c, current, _| {
            let mut cells = vec![
                (c.id.to_string(), Style::default()),
                (c.title.clone(), Style::default()),
                (c.platform.clone(), Style::default()),
                (c.date.to_string(), Style::default()),
                (c.slot_count.to_string(), Style::default()),
            ];
            cells.extend(counts_cells(&c.counts, theme));
            Drawn {
                cells,
                style: count_row_style(current, c.use_time_slots, theme),
            }
        },
        theme,
    );
    table_state(frame, area, conferences, theme);
}
