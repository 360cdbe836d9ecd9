//! Drawing pieces every screen and popup uses: the one table, the chrome around the screen,
//! and the small texts (state badges, "5m ago", the loading and empty lines).

pub mod chrome;
pub mod table;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Paragraph;

use crate::domain::{StateCounts, SyncState};
use crate::text::{clean_line, truncate};
use crate::tui::table::Table;
use crate::tui::theme::Theme;

pub fn badge(state: SyncState) -> String {
    format!("{} {}", state.symbol(), state.label())
}

pub fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    match seconds {
        0..=59 => format!("{seconds}s ago"),
        60..=3599 => format!("{}m ago", seconds / 60),
        3600..=86_399 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86_400),
    }
}

/// "Loading…", "Nothing here." or the error, on the first row of a table that has no rows.
pub fn state_line(
    frame: &mut Frame,
    area: Rect,
    loading: bool,
    error: Option<&str>,
    empty: bool,
    theme: Theme,
) {
    let text = match (error, loading, empty) {
        (Some(e), _, _) => Some((format!("Could not load: {}", clean_line(e)), theme.danger())),
        (None, true, true) => Some(("Loading…".to_string(), theme.dim())),
        (None, false, true) => Some(("Nothing here.".to_string(), theme.dim())),
        _ => None,
    };
    if let Some((text, style)) = text
        && area.height > 2
    {
        let line = Rect::new(area.x + 1, area.y + 2, area.width.saturating_sub(2), 1);
        frame.render_widget(
            Paragraph::new(truncate(&text, line.width as usize)).style(style),
            line,
        );
    }
}

/// The loading, empty or error line of a table that waits for its rows.
pub fn table_state<T>(frame: &mut Frame, area: Rect, table: &Table<T>, theme: Theme) {
    state_line(
        frame,
        area,
        table.pending.is_some(),
        table.error.as_deref(),
        table.rows.is_empty(),
        theme,
    );
}

/// The per-state count cells of a conferences or slots row.
pub fn counts_cells(counts: &StateCounts, theme: Theme) -> Vec<(String, Style)> {
    SyncState::ALL
        .iter()
        .map(|s| (counts.get(*s).to_string(), theme.state(*s)))
        .collect()
}

/// A row of a count table: under the cursor, in use, or unused (dimmed).
pub fn count_row_style(current: bool, active: bool, theme: Theme) -> Style {
    if current {
        theme.selected()
    } else if active {
        Style::default()
    } else {
        theme.dim()
    }
}

pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}
