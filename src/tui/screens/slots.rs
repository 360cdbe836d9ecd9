//! A conference's time slots with their per-state counts; enter lists a slot's selections.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::domain::{ConferenceSummary, Filter, SlotSummary};
use crate::tui::opens::Opens;
use crate::tui::table::Table;
use crate::tui::theme::Theme;
use crate::tui::widgets::table::{self, COUNT_HEADERS, Column, Drawn, Width, Window};
use crate::tui::widgets::{count_row_style, counts_cells, table_state};

const COLUMNS: [Column; 10] = [
    Column::new("DATE", Width::Fixed(10)),
    Column::new("LOCAL TIME", Width::Fixed(11)),
    Column::new("ZONE", Width::Fixed(18)),
    Column::new("CAPACITY", Width::Fixed(8)),
    Column::new("LINK", Width::Fill(12)).wide_only(),
    Column::new(COUNT_HEADERS[0], Width::Fixed(5)),
    Column::new(COUNT_HEADERS[1], Width::Fixed(4)).wide_only(),
    Column::new(COUNT_HEADERS[2], Width::Fixed(4)),
    Column::new(COUNT_HEADERS[3], Width::Fixed(4)).wide_only(),
    Column::new(COUNT_HEADERS[4], Width::Fixed(4)),
];

/// Enter lists the slot's selections.
pub fn enter(conference: &ConferenceSummary, slots: &Table<SlotSummary>) -> Opens {
    let Some(slot) = slots.current() else {
        return Opens::Nothing;
    };
    Opens::List {
        title: format!("{} {}", slot.date, slot.start_time.format("%H:%M")),
        filter: Filter {
            conference_id: Some(conference.id),
            slot_id: Some(slot.id),
            ..Filter::default()
        },
    }
}

pub fn draw(frame: &mut Frame, area: Rect, slots: &Table<SlotSummary>, theme: Theme) {
    table::draw(
        frame,
        area,
        &COLUMNS,
        &slots.rows,
        Window::FollowCursor(Some(slots.cursor)),
        |_, s, current, _| {
            let capacity = if s.max_participants > 0 {
                format!("{}/{}", s.current_participants, s.max_participants)
            } else {
                format!("{}/∞", s.current_participants)
            };
            let zone_style = if s.timezone.parse::<chrono_tz::Tz>().is_ok() {
                Style::default()
            } else {
                theme.danger()
            };
            let mut cells = vec![
                (s.date.to_string(), Style::default()),
                (
                    format!(
                        "{}–{}",
                        s.start_time.format("%H:%M"),
                        s.end_time.format("%H:%M")
                    ),
                    Style::default(),
                ),
                (s.timezone.clone(), zone_style),
                (capacity, Style::default()),
                (
                    s.meeting_link
                        .clone()
                        .filter(|l| !l.trim().is_empty())
                        .unwrap_or_else(|| "(conference link)".to_string()),
                    Style::default(),
                ),
            ];
            cells.extend(counts_cells(&s.counts, theme));
            Drawn {
                cells,
                style: count_row_style(current, s.is_available, theme),
            }
        },
        theme,
    );
    table_state(frame, area, slots, theme);
}
