//! A list of selections (a slot's, a conference's, a filter's): the status line with the
//! filter, position, per-state counts and marks, then the table. The list's state and its
//! scrolling are in `tui::list`.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::domain::{Selection, SyncState};
use crate::text::clean_line;
use crate::tui::list::SelectionList;
use crate::tui::opens::Opens;
use crate::tui::theme::Theme;
use crate::tui::widgets::table::{self, Column, Drawn, Width, Window};
use crate::tui::widgets::{ago, badge, state_line};

const COLUMNS: [Column; 10] = [
    Column::new("", Width::Fixed(1)),
    Column::new("ID", Width::Fixed(8)),
    Column::new(
        "PERSON",
        Width::Responsive {
            wide: 20,
            narrow: 16,
        },
    ),
    Column::new("EMAIL", Width::Fixed(26)).wide_only(),
    Column::new(
        "CONFERENCE",
        Width::Responsive {
            wide: 22,
            narrow: 14,
        },
    ),
    Column::new("SLOT", Width::Fixed(11)).wide_only(),
    Column::new(
        "STATE",
        Width::Responsive {
            wide: 22,
            narrow: 11,
        },
    ),
    Column::new("ATTEMPTED", Width::Fixed(10)).wide_only(),
    Column::new("CAUSE", Width::Fixed(12)).wide_only(),
    Column::new("ERROR", Width::Fill(16)),
];

/// The status line and the table below it.
fn areas(area: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area)
}

/// The rows drawn at once when the list fills `area`.
pub fn page_rows(area: Rect) -> usize {
    table::body_rows(areas(area)[1])
}

/// Enter opens the selection under the cursor in full.
pub fn enter(list: &SelectionList) -> Opens {
    list.current()
        .map_or(Opens::Nothing, |s| Opens::ErrorDetail(s.id))
}

pub fn draw(frame: &mut Frame, area: Rect, list: &SelectionList, now: DateTime<Utc>, theme: Theme) {
    let [status, table_area] = areas(area);
    let filter = if list.query.is_empty() {
        "(none: / to filter)".to_string()
    } else {
        list.query.clone()
    };
    let position = match (list.total, list.rows.is_empty()) {
        (Some(0), _) => "no rows".to_string(),
        (Some(total), false) => format!("row {} of {total}", list.cursor + 1),
        (None, false) => format!("row {} of …", list.cursor + 1),
        _ => "loading…".to_string(),
    };
    let mut spans = vec![
        Span::styled(" filter: ", theme.dim()),
        Span::styled(clean_line(&filter), theme.key()),
        Span::raw(format!("  · {position}")),
    ];
    if let Some(counts) = list.counts {
        for state in SyncState::ALL {
            spans.push(Span::raw("  "));
            spans.push(Span::styled(
                format!("{} {}", state.symbol(), counts.get(state)),
                theme.state(state),
            ));
        }
    }
    if !list.marks.is_empty() {
        let marked = match list.marked_count() {
            Some(n) if list.marks.all_matching => format!("  · ALL {n} matching marked"),
            Some(n) => format!("  · {n} marked"),
            None => "  · all matching marked".to_string(),
        };
        spans.push(Span::styled(marked, theme.marked()));
    }
    if list.only_marked.is_some() {
        spans.push(Span::styled(
            "  · only marked (M: every row)",
            theme.marked(),
        ));
    }
    if list.marks.range_anchor.is_some() {
        spans.push(Span::styled(
            "  · range: press v at the other end",
            theme.marked(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), status);

    let wide = table::is_wide(table_area);
    let top = list.top.saturating_sub(list.first_index) as usize;
    let cursor = list
        .cursor
        .checked_sub(list.first_index)
        .map(|c| c as usize);
    table::draw(
        frame,
        table_area,
        &COLUMNS,
        &list.rows,
        Window::From { top, cursor },
        |_, s, current, _| Drawn {
            cells: selection_cells(s, list, theme, now, wide),
            style: row_style(s, current, list, theme),
        },
        theme,
    );
    state_line(
        frame,
        table_area,
        list.loading.is_some(),
        list.error.as_deref(),
        list.rows.is_empty(),
        theme,
    );
}

fn selection_cells(
    s: &Selection,
    list: &SelectionList,
    theme: Theme,
    now: DateTime<Utc>,
    wide: bool,
) -> Vec<(String, Style)> {
    let state = s.state();
    let mark = if list.marks.is_marked(s.id) {
        "●"
    } else if list.changed.contains(&s.id) {
        "*"
    } else {
        " "
    };
    // Narrow terminals get the symbol and the state's short name.
    let mut badge_text = if wide {
        badge(state)
    } else {
        format!("{} {}", state.symbol(), state.as_str().replace('_', " "))
    };
    if s.stale {
        badge_text = format!("{badge_text} · STALE");
    }
    vec![
        (mark.to_string(), theme.marked()),
        (s.id.to_string(), Style::default()),
        (s.person_name(), Style::default()),
        (s.email.clone(), Style::default()),
        (s.conference_title.clone(), Style::default()),
        (
            format!(
                "{} {}",
                s.slot_date.format("%m-%d"),
                s.slot_start.format("%H:%M")
            ),
            Style::default(),
        ),
        (badge_text, theme.state(state)),
        (
            s.sync
                .attempted_at
                .map(|t| ago(now, t))
                .unwrap_or_else(|| "never".to_string()),
            Style::default(),
        ),
        (
            s.sync
                .error_text()
                .map(|e| crate::domain::diagnosis::cause_of(e).as_str().to_string())
                .unwrap_or_default(),
            Style::default(),
        ),
        // Read, not skimmed past: the terminal's own foreground, never dim.
        (
            s.sync.error_text().map(short_error).unwrap_or_default(),
            theme.error_text(),
        ),
    ]
}

fn row_style(s: &Selection, current: bool, list: &SelectionList, theme: Theme) -> Style {
    if current {
        theme.selected()
    } else if list.changed.contains(&s.id) {
        theme.changed()
    } else {
        Style::default()
    }
}

/// The error without the LMS's boilerplate, for the table's last column.
fn short_error(error: &str) -> String {
    clean_line(error)
        .trim_start_matches("API request failed: ")
        .replace("https://graph.microsoft.com/v1.0", "")
}
