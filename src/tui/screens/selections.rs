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
use crate::tui::columns::{self, ColumnChoice, ListColumn};
use crate::tui::list::SelectionList;
use crate::tui::opens::Opens;
use crate::tui::theme::Theme;
use crate::tui::widgets::ago;
use crate::tui::widgets::state_line;
use crate::tui::widgets::table::{self, Drawn, Fitted, Sideways, Window};

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

/// The widest PERSON gets; beyond it the name ends in an ellipsis.
pub const PERSON_AT_MOST: usize = 32;

/// The mark column, then the chosen ones.
fn fitted(choice: &ColumnChoice, list: &SelectionList) -> Vec<Fitted> {
    // One column wide whether or not a row on screen is marked.
    let mark = Fitted {
        header: " ".to_string(),
        least: 1,
        grows: false,
        whole: false,
        pinned: true,
        most: None,
    };
    let chosen = choice.shown().map(|column| Fitted {
        header: columns::header(column, list.sort),
        least: match column {
            ListColumn::Id | ListColumn::Slot => 11,
            ListColumn::State | ListColumn::Cause => 8,
            _ => 10,
        },
        grows: matches!(column, ListColumn::Conference | ListColumn::Error),
        whole: column == ListColumn::Email,
        pinned: column == ListColumn::Id,
        // A very long name leaves the room to the error (and the conference) beside it.
        most: (column == ListColumn::Person).then_some(PERSON_AT_MOST),
    });
    std::iter::once(mark).chain(chosen).collect()
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    list: &SelectionList,
    choice: &ColumnChoice,
    now: DateTime<Utc>,
    theme: Theme,
) {
    let [status, table_area] = areas(area);
    let top = list.top.saturating_sub(list.first_index) as usize;
    let cursor = list
        .cursor
        .checked_sub(list.first_index)
        .map(|c| c as usize);
    let sideways = table::draw_fitted(
        frame,
        table_area,
        &fitted(choice, list),
        &list.rows,
        Window::From { top, cursor },
        list.scroll_x,
        |_, s, current| Drawn {
            cells: selection_cells(s, list, choice, theme, now),
            style: row_style(s, current, list, theme),
        },
        theme,
    );
    list.sideways.set(sideways);
    state_line(
        frame,
        table_area,
        list.loading.is_some(),
        list.error.as_deref(),
        list.rows.is_empty(),
        theme,
    );
    draw_status(frame, status, list, sideways, theme);
}

/// The filter, the position, the sort, what scrolls sideways, the counts and the marks.
fn draw_status(
    frame: &mut Frame,
    status: Rect,
    list: &SelectionList,
    sideways: Sideways,
    theme: Theme,
) {
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
    spans.push(Span::styled(
        format!("  · {}", columns::sort_words(list.sort)),
        Style::default(),
    ));
    if sideways != Sideways::default() {
        let left = if sideways.left > 0 {
            format!("◀ {} ", sideways.left)
        } else {
            String::new()
        };
        let right = if sideways.right > 0 {
            format!(" {} ▶", sideways.right)
        } else {
            String::new()
        };
        spans.push(Span::styled(format!("  · {left}cols{right}"), theme.key()));
    }
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
}

/// The mark, then one cell per chosen column.
fn selection_cells(
    s: &Selection,
    list: &SelectionList,
    choice: &ColumnChoice,
    theme: Theme,
    now: DateTime<Utc>,
) -> Vec<(String, Style)> {
    let mark = if list.marks.is_marked(s.id) {
        "●"
    } else if list.changed.contains(&s.id) {
        "*"
    } else {
        " "
    };
    std::iter::once((mark.to_string(), theme.marked()))
        .chain(choice.shown().map(|column| cell(s, column, theme, now)))
        .collect()
}

fn cell(s: &Selection, column: ListColumn, theme: Theme, now: DateTime<Utc>) -> (String, Style) {
    let plain = |text: String| (text, Style::default());
    match column {
        ListColumn::Id => plain(s.id.to_string()),
        ListColumn::Person => plain(s.person_name()),
        ListColumn::Email => plain(s.email.clone()),
        ListColumn::Conference => plain(s.conference_title.clone()),
        ListColumn::Slot => plain(format!(
            "{} {}",
            s.slot_date.format("%m-%d"),
            s.slot_start.format("%H:%M")
        )),
        // The symbol and the state's short name: the column stays narrow, the counts above
        // and the error detail carry the LMS's wording.
        ListColumn::State => {
            let state = s.state();
            let mut text = format!("{} {}", state.symbol(), state.as_str().replace('_', " "));
            if s.stale {
                text.push_str(" · STALE");
            }
            (text, theme.state(state))
        }
        ListColumn::Attempted => plain(
            s.sync
                .attempted_at
                .map(|t| ago(now, t))
                .unwrap_or_else(|| "never".to_string()),
        ),
        ListColumn::Cause => plain(
            s.sync
                .error_text()
                .map(|e| crate::domain::diagnosis::cause_of(e).as_str().to_string())
                .unwrap_or_default(),
        ),
        // Read, not skimmed past: the terminal's own foreground, never dim.
        ListColumn::Error => (
            s.sync.error_text().map(short_error).unwrap_or_default(),
            theme.error_text(),
        ),
    }
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
