//! The one table widget. A table is a column spec (header, width rule, whether the column
//! survives a narrow terminal) and a function from a row to its cells; the widget keeps the
//! columns the width allows, windows the rows to the height it is drawn at, and cleans and cuts
//! every cell to its column with an ellipsis.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use crate::text::{clean_line, truncate};
use crate::tui::theme::Theme;

/// Terminals narrower than this get the essential columns only.
pub const WIDE: u16 = 110;

/// How wide a column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    Fixed(u16),
    /// Wider when the terminal is wide.
    Responsive {
        wide: u16,
        narrow: u16,
    },
    /// What is left, at least this much.
    Fill(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub header: &'static str,
    pub width: Width,
    /// False: dropped on a terminal narrower than [`WIDE`].
    pub when_narrow: bool,
}

impl Column {
    pub const fn new(header: &'static str, width: Width) -> Column {
        Column {
            header,
            width,
            when_narrow: true,
        }
    }

    /// The same column, shown on wide terminals only.
    pub const fn wide_only(self) -> Column {
        Column {
            when_narrow: false,
            ..self
        }
    }

    fn constraint(&self, wide: bool) -> Constraint {
        match self.width {
            Width::Fixed(n) => Constraint::Length(n),
            Width::Responsive { wide: w, narrow } => {
                Constraint::Length(if wide { w } else { narrow })
            }
            Width::Fill(n) => Constraint::Min(n),
        }
    }
}

/// The per-state count columns that end the conferences and slots tables: symbols, explained
/// in the overview and in the help.
pub const COUNT_HEADERS: [&str; 5] = ["✓", "✓!", "✗", "…", "·"];

/// Which rows are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// From the first row, the cursor's row kept on screen by scrolling once it passes the bottom.
    FollowCursor(Option<usize>),
    /// From `top`, as the state scrolled it (a list that holds a window of a larger result).
    From { top: usize, cursor: Option<usize> },
}

/// A row's cells (one per column of the spec, in its order) and the row's own style.
pub struct Drawn {
    pub cells: Vec<(String, Style)>,
    pub style: Style,
}

/// Table rows that fit in `area`: all of it but the header.
pub fn body_rows(area: Rect) -> usize {
    area.height.saturating_sub(1) as usize
}

pub fn is_wide(area: Rect) -> bool {
    area.width >= WIDE
}

/// Draws `rows` as the table of `columns` in `area`. `draw_row` gets the row's index in `rows`,
/// the row, whether it is under the cursor and whether the terminal is wide.
pub fn draw<R>(
    frame: &mut Frame,
    area: Rect,
    columns: &[Column],
    rows: &[R],
    window: Window,
    draw_row: impl Fn(usize, &R, bool, bool) -> Drawn,
    theme: Theme,
) {
    let wide = is_wide(area);
    let shown: Vec<bool> = columns.iter().map(|c| wide || c.when_narrow).collect();
    let constraints: Vec<Constraint> = keep(columns.iter(), &shown)
        .map(|c| c.constraint(wide))
        .collect();
    let widths = widths(area.width, &constraints);
    let height = body_rows(area);
    let (top, cursor) = match window {
        Window::FollowCursor(cursor) => (
            cursor.map_or(0, |c| c.saturating_sub(height.saturating_sub(1))),
            cursor,
        ),
        Window::From { top, cursor } => (top, cursor),
    };
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(top)
        .take(height)
        .map(|(i, r)| {
            let drawn = draw_row(i, r, cursor == Some(i), wide);
            Row::new(keep(drawn.cells.into_iter(), &shown).zip(&widths).map(
                |((text, style), w)| {
                    Cell::from(Span::styled(truncate(&clean_line(&text), *w), style))
                },
            ))
            .style(drawn.style)
        })
        .collect();
    let header = Row::new(keep(columns.iter(), &shown).map(|c| Cell::from(c.header)))
        .style(theme.title().add_modifier(Modifier::UNDERLINED));
    frame.render_widget(
        Table::new(body, constraints)
            .header(header)
            .column_spacing(1),
        area,
    );
}

/// The items whose column is shown.
fn keep<T>(items: impl Iterator<Item = T>, shown: &[bool]) -> impl Iterator<Item = T> {
    items
        .zip(shown.iter().copied())
        .filter(|(_, keep)| *keep)
        .map(|(item, _)| item)
}

/// Column widths for `constraints` inside `width`, so cells can be cut with an ellipsis.
fn widths(width: u16, constraints: &[Constraint]) -> Vec<usize> {
    Layout::horizontal(constraints.to_vec())
        .spacing(1)
        .split(Rect::new(0, 0, width, 1))
        .iter()
        .map(|r| r.width as usize)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    const COLUMNS: [Column; 2] = [
        Column::new("N", Width::Fixed(4)),
        Column::new("WIDE ONLY", Width::Fill(10)).wide_only(),
    ];

    fn drawn(width: u16, height: u16, rows: &[u32], window: Window) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| {
                draw(
                    frame,
                    frame.area(),
                    &COLUMNS,
                    rows,
                    window,
                    |_, n, current, _| Drawn {
                        cells: vec![
                            (
                                format!("{}{n}", if current { ">" } else { "" }),
                                Style::default(),
                            ),
                            ("x".to_string(), Style::default()),
                        ],
                        style: Style::default(),
                    },
                    Theme::MONOCHROME,
                )
            })
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn the_cursor_row_is_the_last_drawn_row_once_it_passes_the_bottom() {
        let rows: Vec<u32> = (0..10).collect();
        // 4 rows tall: the header and 3 rows.
        let lines = drawn(20, 4, &rows, Window::FollowCursor(Some(5)));
        assert_eq!(lines[1..], ["3", "4", ">5"]);
        let lines = drawn(20, 4, &rows, Window::FollowCursor(Some(2)));
        assert_eq!(lines[1..], ["0", "1", ">2"]);
    }

    #[test]
    fn a_window_from_the_state_starts_where_the_state_scrolled() {
        let rows: Vec<u32> = (0..10).collect();
        let lines = drawn(
            20,
            4,
            &rows,
            Window::From {
                top: 6,
                cursor: Some(7),
            },
        );
        assert_eq!(lines[1..], ["6", ">7", "8"]);
        assert_eq!(body_rows(Rect::new(0, 0, 20, 4)), 3);
    }

    #[test]
    fn a_wide_only_column_is_dropped_on_a_narrow_terminal() {
        let rows = [1u32];
        assert_eq!(drawn(40, 2, &rows, Window::FollowCursor(None))[0], "N");
        assert_eq!(
            drawn(WIDE, 2, &rows, Window::FollowCursor(None))[0],
            "N    WIDE ONLY"
        );
    }
}
