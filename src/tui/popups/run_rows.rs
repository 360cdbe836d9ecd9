//! The rows of a run that did not sync, with their reasons (issue 13, items 3 and 11): skipped
//! ones first, since nothing else says why they were skipped. ↑↓ PgUp PgDn scroll; any other
//! key closes.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::text::{clean_line, truncate};
use crate::tui::app::{App, Effect};
use crate::tui::popup::Popup;
use crate::tui::run_rows::{Kind, RunRows};
use crate::tui::theme::Theme;
use crate::tui::widgets::centered;

/// The rows a scroll key moves by: one, or the popup's page.
pub(in crate::tui) fn scrolled(
    scroll: usize,
    key: KeyEvent,
    page: usize,
    last: usize,
) -> Option<usize> {
    let moved = match key.code {
        KeyCode::Down | KeyCode::Char('j') => scroll + 1,
        KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
        KeyCode::PageDown | KeyCode::Char(' ') => scroll + page,
        KeyCode::PageUp => scroll.saturating_sub(page),
        KeyCode::Home | KeyCode::Char('g') => 0,
        KeyCode::End | KeyCode::Char('G') => last,
        _ => return None,
    };
    Some(moved.min(last))
}

impl App {
    pub(in crate::tui) fn run_rows_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let count = self.run_rows().rows().len();
        let page = usize::from(self.height.saturating_sub(8)).max(1);
        if let Some(Popup::RunRows { scroll }) = &mut self.popup {
            match scrolled(*scroll, key, page, count.saturating_sub(1)) {
                Some(moved) => *scroll = moved,
                None => self.popup = None,
            }
        }
        Vec::new()
    }

    /// The rows `L` lists: the job's on screen, else the dismissed one's.
    pub fn run_rows(&self) -> &RunRows {
        self.job.as_ref().map_or(&self.last_run_rows, |j| &j.rows)
    }
}

pub fn draw(frame: &mut Frame, area: Rect, rows: &RunRows, scroll: usize, theme: Theme) {
    let popup = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, popup);
    let width = popup.width.saturating_sub(2) as usize;
    let listed = rows.rows();
    let mut lines: Vec<Line> = listed
        .iter()
        .skip(scroll)
        .take(popup.height.saturating_sub(3) as usize)
        .map(|row| {
            let style = match row.kind {
                Kind::Failed | Kind::Conflict => theme.danger(),
                Kind::Skipped | Kind::Elsewhere => theme.warning(),
            };
            let text = format!(
                "{:>8}  {:<17} {} — {}",
                row.selection_id,
                row.kind.as_str(),
                row.who,
                clean_line(&row.reason)
            );
            Line::from(Span::styled(truncate(&text, width), style))
        })
        .collect();
    if rows.left_out() > 0 {
        lines.push(Line::styled(
            format!(
                " … and {} more not kept (the audit log has the counts)",
                rows.left_out()
            ),
            theme.dim(),
        ));
    }
    let title = format!(
        " {} rows of the run did not sync ({}–{} shown; ↑↓ scroll, any other key closes) ",
        listed.len(),
        (scroll + 1).min(listed.len()),
        (scroll + popup.height.saturating_sub(3) as usize).min(listed.len())
    );
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(truncate(&title, width))),
        popup,
    );
}
