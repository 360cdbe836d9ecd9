//! The overview's "Failures by cause" panel: every label whole. The panel asks for the width
//! its longest label needs; where the terminal cannot give it, labels wrap onto more lines, and
//! a panel taller than its area scrolls to keep the cursor's cause in view.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::domain::{Cause, SyncState};
use crate::text::{truncate, width};
use crate::tui::theme::Theme;

/// The count column and the "fix, then retry" words after a label.
const COUNT: usize = 7;
const KIND: usize = "  fix, then retry".len();
/// Left margin, and one column kept free before the next panel.
const MARGINS: usize = 2;
/// Labels narrower than this are not worth wrapping into: the "retry" words go first.
const LABEL_FLOOR: usize = 12;

fn kind(cause: Cause) -> &'static str {
    if cause.is_permanent() {
        "fix, then retry"
    } else {
        "retry"
    }
}

/// The columns the panel needs to show every cause's label on one line: the same whichever
/// causes the data has, so the layout does not move while the parts arrive.
pub fn needed_width() -> u16 {
    let label = Cause::ALL
        .iter()
        .map(|c| width(c.label()))
        .max()
        .unwrap_or(0);
    (MARGINS + label + COUNT + KIND) as u16
}

/// Lines a label takes at `columns`, words kept whole where they fit.
fn wrap(label: &str, columns: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in label.split(' ') {
        match lines.last_mut() {
            Some(line) if width(line) + 1 + width(word) <= columns => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(truncate(word, columns)),
        }
    }
    lines
}

/// The panel's lines below its title, each with the index of the cause it belongs to.
pub fn lines(causes: &[(Cause, u64)], columns: u16, theme: Theme) -> Vec<(usize, Line<'static>)> {
    let columns = columns as usize;
    let longest = causes
        .iter()
        .map(|(c, _)| width(c.label()))
        .max()
        .unwrap_or(0);
    let room = columns.saturating_sub(MARGINS + COUNT + KIND);
    // Too narrow for labels and words both: the words go, the labels keep their room.
    let with_kind = room >= LABEL_FLOOR.min(longest);
    let label_width = if with_kind {
        room.min(longest)
    } else {
        columns.saturating_sub(MARGINS + COUNT).max(1)
    };
    let mut out = Vec::new();
    for (i, (cause, n)) in causes.iter().enumerate() {
        for (part, text) in wrap(cause.label(), label_width).into_iter().enumerate() {
            let pad = label_width.saturating_sub(width(&text));
            let mut spans = vec![Span::raw(format!(" {text}{}", " ".repeat(pad)))];
            if part == 0 {
                spans.push(Span::styled(
                    format!("{n:>7}"),
                    theme.state(SyncState::Failed),
                ));
                if with_kind {
                    spans.push(Span::styled(format!("  {}", kind(*cause)), theme.dim()));
                }
            }
            out.push((i, Line::from(spans)));
        }
    }
    out
}

/// The first line to draw so the cursor's cause is whole on `rows` lines.
fn scroll_top(lines: &[(usize, Line)], cursor: usize, rows: usize) -> usize {
    let first = lines.iter().position(|(i, _)| *i == cursor).unwrap_or(0);
    let last = lines.iter().rposition(|(i, _)| *i == cursor).unwrap_or(0);
    if last < rows {
        0
    } else {
        (last + 1 - rows).min(first)
    }
}

/// The cause drawn on line `row` of the panel in `area` (its title is the first line).
pub fn cause_at_row(causes: &[(Cause, u64)], area: Rect, cursor: usize, row: u16) -> Option<usize> {
    let line = row.checked_sub(area.y + 1)? as usize;
    let lines = lines(causes, area.width, Theme::MONOCHROME);
    let rows = area.height.saturating_sub(1) as usize;
    let top = scroll_top(&lines, cursor, rows);
    (line < rows).then(|| lines.get(top + line).map(|(i, _)| *i))?
}

/// What the panel shows: its causes (None while counting), its cursor, and whether it has
/// the focus (its cursor is drawn then).
pub struct Shown<'a> {
    pub causes: Option<&'a [(Cause, u64)]>,
    pub cursor: usize,
    pub focused: bool,
}

pub fn draw(frame: &mut Frame, area: Rect, shown: Shown, theme: Theme) {
    let marker = if shown.focused { "▸" } else { " " };
    let mut drawn = vec![Line::styled(
        format!("{marker}Failures by cause"),
        theme.title(),
    )];
    match shown.causes {
        None => drawn.push(Line::styled(" counting…", theme.dim())),
        Some([]) => drawn.push(Line::styled(" no failures", theme.dim())),
        Some(causes) => {
            let lines = lines(causes, area.width, theme);
            let rows = area.height.saturating_sub(1) as usize;
            let top = scroll_top(&lines, shown.cursor, rows);
            for (i, line) in lines.into_iter().skip(top).take(rows) {
                drawn.push(if shown.focused && i == shown.cursor {
                    line.style(theme.selected())
                } else {
                    line
                });
            }
        }
    }
    frame.render_widget(Paragraph::new(drawn), area);
}

/// The lines the panel takes at `columns`: its title and every label whole.
pub fn height(causes: Option<&[(Cause, u64)]>, columns: u16) -> u16 {
    let rows = match causes {
        Some(causes) if !causes.is_empty() => lines(causes, columns, Theme::MONOCHROME).len(),
        _ => 1,
    };
    rows as u16 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn every_label_is_whole_when_the_panel_has_the_width_it_asks_for() {
        let causes: Vec<(Cause, u64)> = Cause::ALL.iter().map(|c| (*c, 12)).collect();
        let columns = needed_width();
        let lines = lines(&causes, columns, Theme::MONOCHROME);
        assert_eq!(lines.len(), causes.len(), "one line each");
        for ((cause, _), (_, line)) in causes.iter().zip(&lines) {
            let line = text(line);
            assert!(line.contains(cause.label()), "{line}");
            assert!(width(&line) < columns as usize, "{line}");
        }
    }

    #[test]
    fn a_narrow_panel_wraps_labels_instead_of_cutting_them() {
        let causes = vec![(Cause::Credentials, 120), (Cause::Throttled, 50)];
        let lines = lines(&causes, 40, Theme::MONOCHROME);
        let credentials: Vec<String> = lines
            .iter()
            .filter(|(i, _)| *i == 0)
            .map(|(_, l)| text(l))
            .collect();
        assert!(credentials.len() > 1, "{credentials:?}");
        let words: Vec<String> = credentials
            .iter()
            .map(|l| l.split("  ").next().unwrap_or_default().trim().to_string())
            .collect();
        assert_eq!(words.join(" "), "Teams integration or credentials");
        assert!(lines.iter().all(|(_, l)| width(&text(l)) <= 40));
        assert!(!text(&lines[0].1).contains('…'));
    }

    #[test]
    fn the_cursor_cause_is_scrolled_into_view_whole() {
        let causes: Vec<(Cause, u64)> = Cause::ALL.iter().map(|c| (*c, 1)).collect();
        let lines = lines(&causes, 30, Theme::MONOCHROME);
        let last = causes.len() - 1;
        let top = scroll_top(&lines, last, 3);
        let shown: Vec<usize> = lines.iter().skip(top).take(3).map(|(i, _)| *i).collect();
        assert!(shown.contains(&last), "{shown:?}");
        assert_eq!(scroll_top(&lines, 0, 3), 0);
    }
}
