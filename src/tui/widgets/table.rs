//! The one table widget. A table is a column spec (header, width rule, whether the column
//! survives a narrow terminal) and a function from a row to its cells; the widget keeps the
//! columns the width allows, sizes them from what the drawn rows hold and the terminal's width
//! (`tui::widths`), windows the rows to the height it is drawn at, and cleans and cuts every
//! cell to its column with an ellipsis. [`draw_fitted`] also scrolls sideways through columns
//! that do not fit (the selections list).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use crate::text::{clean_line, truncate, width};
use crate::tui::theme::Theme;
use crate::tui::widths::{self, Need};

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
    /// The column's least width (a `Fill` column also takes what is left when it is the
    /// last); content narrower than that narrows the column, content wider widens it while
    /// there is room.
    pub width: Width,
    /// False: dropped on a terminal narrower than [`WIDE`].
    pub when_narrow: bool,
    /// Gets its content's width before the others get more than their least (emails).
    pub whole: bool,
    /// Never wider than this, so a long value leaves room to the columns that grow.
    pub most: Option<usize>,
}

impl Column {
    pub const fn new(header: &'static str, width: Width) -> Column {
        Column {
            header,
            width,
            when_narrow: true,
            whole: false,
            most: None,
        }
    }

    /// The same column, shown on wide terminals only.
    pub const fn wide_only(self) -> Column {
        Column {
            when_narrow: false,
            ..self
        }
    }

    /// The same column, never cut while there is room (a mailbox).
    pub const fn whole(self) -> Column {
        Column {
            whole: true,
            ..self
        }
    }

    /// The same column, at most `most` wide (a person's name).
    pub const fn at_most(self, most: usize) -> Column {
        Column {
            most: Some(most),
            ..self
        }
    }

    fn least(&self, wide: bool) -> usize {
        match self.width {
            Width::Fixed(n) | Width::Fill(n) => n as usize,
            Width::Responsive { wide: w, narrow } => (if wide { w } else { narrow }) as usize,
        }
    }

    /// `last`: the table's last column shown, the only one that takes the room left over, so
    /// the columns after a title stay beside it on a wide terminal.
    fn need(&self, wide: bool, content: usize, last: bool) -> Need {
        let want = content
            .max(width(self.header))
            .min(self.most.unwrap_or(usize::MAX));
        Need {
            least: self.least(wide).min(want),
            want,
            grows: last && matches!(self.width, Width::Fill(_)),
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
    let kept: Vec<&Column> = keep(columns.iter(), &shown).collect();
    let height = body_rows(area);
    let (top, cursor) = window_start(window, height);
    let drawn: Vec<Drawn> = rows
        .iter()
        .enumerate()
        .skip(top)
        .take(height)
        .map(|(i, r)| {
            let drawn = draw_row(i, r, cursor == Some(i), wide);
            Drawn {
                cells: keep(drawn.cells.into_iter(), &shown)
                    .map(|(text, style)| (clean_line(&text), style))
                    .collect(),
                style: drawn.style,
            }
        })
        .collect();
    let needs: Vec<Need> = kept
        .iter()
        .enumerate()
        .map(|(c, column)| {
            let content = drawn
                .iter()
                .filter_map(|d| d.cells.get(c))
                .map(|(text, _)| width(text))
                .max()
                .unwrap_or(0);
            column.need(wide, content, c + 1 == kept.len())
        })
        .collect();
    let whole: Vec<usize> = (0..kept.len()).filter(|&c| kept[c].whole).collect();
    let allotted = widths::allot(&needs, &whole, area.width as usize);
    let constraints: Vec<Constraint> = allotted
        .iter()
        .map(|&w| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX)))
        .collect();
    // What the terminal really gives each column when even the least widths do not fit.
    let widths = widths(area.width, &constraints);
    let body: Vec<Row> = drawn
        .into_iter()
        .map(|d| {
            Row::new(
                d.cells
                    .into_iter()
                    .zip(&widths)
                    .map(|((text, style), w)| Cell::from(Span::styled(truncate(&text, *w), style))),
            )
            .style(d.style)
        })
        .collect();
    let header = Row::new(
        kept.iter()
            .zip(&widths)
            .map(|(c, w)| Cell::from(truncate(c.header, *w))),
    )
    .style(theme.title().add_modifier(Modifier::UNDERLINED));
    frame.render_widget(
        Table::new(body, constraints)
            .header(header)
            .column_spacing(1),
        area,
    );
}

/// A column sized by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    pub header: String,
    /// Never narrower than this (or its content, when that is shorter).
    pub least: usize,
    /// Takes a share of what is left once every column has its content.
    pub grows: bool,
    /// Never cut while the terminal has room for it: it gets its content's width before the
    /// others get more than their least (emails, the thing operators look people up by).
    pub whole: bool,
    /// Stays on screen when the table scrolls sideways (the mark, the id).
    pub pinned: bool,
    /// Never wider than this, so a long value leaves room to the columns that grow.
    pub most: Option<usize>,
}

/// How many columns the sideways scroll hides on either side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sideways {
    pub left: usize,
    pub right: usize,
}

/// Draws the `rows` as a table of `columns` sized by the content of the rows drawn: every
/// column gets its least, whole columns their content, the growing ones what is left. When the
/// least widths do not fit, the pinned columns stay and the others are shown from the
/// `scroll`-th on; what that hides is returned for the caller to say.
#[allow(clippy::too_many_arguments)]
pub fn draw_fitted<R>(
    frame: &mut Frame,
    area: Rect,
    columns: &[Fitted],
    rows: &[R],
    window: Window,
    scroll: usize,
    draw_row: impl Fn(usize, &R, bool) -> Drawn,
    theme: Theme,
) -> Sideways {
    let height = body_rows(area);
    let (top, cursor) = window_start(window, height);
    let drawn: Vec<Drawn> = rows
        .iter()
        .enumerate()
        .skip(top)
        .take(height)
        .map(|(i, r)| {
            let mut drawn = draw_row(i, r, cursor == Some(i));
            for (text, _) in &mut drawn.cells {
                *text = clean_line(text);
            }
            drawn
        })
        .collect();
    let total = area.width as usize;
    let needs: Vec<Need> = columns
        .iter()
        .enumerate()
        .map(|(c, column)| {
            let want = drawn
                .iter()
                .filter_map(|d| d.cells.get(c))
                .map(|(text, _)| width(text))
                .chain([width(&column.header)])
                .max()
                .unwrap_or(0)
                .min(column.most.unwrap_or(usize::MAX));
            let least = if column.whole {
                want.min(total)
            } else {
                column.least.min(want)
            };
            Need {
                least,
                want,
                grows: column.grows,
            }
        })
        .collect();
    let (visible, sideways) = in_view(columns, &needs, scroll, total);
    let visible_needs: Vec<Need> = visible.iter().map(|&c| needs[c]).collect();
    let whole: Vec<usize> = visible
        .iter()
        .enumerate()
        .filter(|(_, c)| columns[**c].whole)
        .map(|(i, _)| i)
        .collect();
    let column_widths = widths::allot(&visible_needs, &whole, total);
    let body: Vec<Row> = drawn
        .into_iter()
        .map(|d| {
            let cells = visible.iter().zip(&column_widths).map(|(&c, &w)| {
                let (text, style) = d.cells.get(c).cloned().unwrap_or_default();
                Cell::from(Span::styled(truncate(&text, w), style))
            });
            Row::new(cells.collect::<Vec<_>>()).style(d.style)
        })
        .collect();
    let header = Row::new(
        visible
            .iter()
            .zip(&column_widths)
            .map(|(&c, &w)| Cell::from(truncate(&columns[c].header, w))),
    )
    .style(theme.title().add_modifier(Modifier::UNDERLINED));
    let constraints = column_widths
        .iter()
        .map(|&w| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX)));
    frame.render_widget(
        Table::new(body, constraints)
            .header(header)
            .column_spacing(1),
        area,
    );
    sideways
}

/// The columns in view for a sideways `scroll`, and what they leave out on either side.
fn in_view(
    columns: &[Fitted],
    needs: &[Need],
    scroll: usize,
    total: usize,
) -> (Vec<usize>, Sideways) {
    let all: Vec<usize> = (0..columns.len()).collect();
    let least: usize = needs.iter().map(|n| n.least + widths::SPACING).sum();
    if least <= total + widths::SPACING {
        return (all, Sideways::default());
    }
    let (pinned, moving): (Vec<usize>, Vec<usize>) =
        all.into_iter().partition(|&c| columns[c].pinned);
    let pinned_width: usize = pinned
        .iter()
        .map(|&c| needs[c].least + widths::SPACING)
        .sum();
    let room = total.saturating_sub(pinned_width);
    let moving_least: Vec<usize> = moving.iter().map(|&c| needs[c].least).collect();
    // Never scrolled past the point where the last column is in view.
    let mut from = scroll.min(moving.len().saturating_sub(1));
    while from > 0 && from - 1 + widths::fitting_from(&moving_least, from - 1, room) >= moving.len()
    {
        from -= 1;
    }
    let count = widths::fitting_from(&moving_least, from, room);
    let mut visible = pinned;
    visible.extend(moving.iter().skip(from).take(count));
    let sideways = Sideways {
        left: from,
        right: moving.len().saturating_sub(from + count),
    };
    (visible, sideways)
}

/// The first row drawn and the cursor's row, for a table `height` rows tall.
fn window_start(window: Window, height: usize) -> (usize, Option<usize>) {
    match window {
        Window::FollowCursor(cursor) => (
            cursor.map_or(0, |c| c.saturating_sub(height.saturating_sub(1))),
            cursor,
        ),
        Window::From { top, cursor } => (top, cursor),
    }
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
            "N WIDE ONLY"
        );
    }

    /// NAME (at most 8), MAIL (whole), NOTE (grows) as drawn `width` columns wide.
    fn fitted_line(width: u16) -> (String, String) {
        let columns = [
            Column::new("NAME", Width::Fixed(4)).at_most(8),
            Column::new("MAIL", Width::Fixed(4)).whole(),
            Column::new("NOTE", Width::Fill(4)),
        ];
        let mut terminal = Terminal::new(TestBackend::new(width, 2)).unwrap();
        terminal
            .draw(|frame| {
                draw(
                    frame,
                    frame.area(),
                    &columns,
                    &[()],
                    Window::FollowCursor(None),
                    |_, (), _, _| Drawn {
                        cells: ["Bartholomew Jones", "bart@example.org", "a note"]
                            .map(|t| (t.to_string(), Style::default()))
                            .to_vec(),
                        style: Style::default(),
                    },
                    Theme::MONOCHROME,
                )
            })
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        let line = |y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        };
        (line(0), line(1))
    }

    #[test]
    fn columns_take_their_contents_width_a_whole_one_first_a_capped_one_no_more_than_its_cap() {
        let (header, row) = fitted_line(40);
        assert_eq!(row, "Barthol… bart@example.org a note");
        assert_eq!(header, "NAME     MAIL             NOTE");
        // Narrower: the mailbox stays whole, the name gives way down to its least.
        assert_eq!(fitted_line(28).1, "Barth… bart@example.org a n…");
    }
}
