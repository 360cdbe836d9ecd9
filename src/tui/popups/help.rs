//! The help popup: the keys of the screen it is opened on, from the keymap (writing keys
//! hidden when read-only), the one rule for what a run takes, every filter key and every
//! state and cause word with its label. It scrolls (↑↓ PgUp PgDn); any other key closes it.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::run_rows::scrolled;
use crate::tui::app::{App, Effect};
use crate::tui::popup::Popup;
use crate::tui::reference;
use crate::tui::run_choice::RULE;
use crate::tui::theme::Theme;
use crate::tui::widgets::centered;

impl App {
    pub(in crate::tui) fn help_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let last = help_lines(self, Theme::MONOCHROME).len().saturating_sub(1);
        let page = usize::from(self.height.saturating_sub(6)).max(1);
        if let Some(Popup::Help { scroll }) = &mut self.popup {
            match scrolled(*scroll, key, page, last) {
                Some(moved) => *scroll = moved,
                None => self.popup = None,
            }
        }
        Vec::new()
    }
}

fn entry(keys: &str, words: &str, theme: Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!(" {keys:<22}"), theme.key()),
        Span::raw(words.to_string()),
    ])
}

fn help_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = app
        .session
        .keymap
        .help_for(app.context(), app.session.read_only)
        .iter()
        .map(|b| entry(&b.keys, b.description, theme))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(" What a run takes", theme.title()));
    lines.push(Line::raw(format!(" {RULE}")));
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Filter keys (/)", theme.title()));
    for (typed, meaning) in reference::filter_keys() {
        lines.push(entry(&typed, &meaning, theme));
    }
    lines.push(Line::styled(" States", theme.title()));
    for (typed, meaning) in reference::state_words() {
        lines.push(entry(&typed, &meaning, theme));
    }
    lines.push(Line::styled(" Causes", theme.title()));
    for (typed, meaning) in reference::cause_words() {
        lines.push(entry(&typed, &meaning, theme));
    }
    lines
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, scroll: usize, theme: Theme) {
    let lines = help_lines(app, theme);
    let popup = centered(area, 96, lines.len() as u16 + 3);
    frame.render_widget(Clear, popup);
    let shown = popup.height.saturating_sub(2) as usize;
    let more = lines.len() > scroll + shown;
    let title = match (app.session.read_only, more || scroll > 0) {
        (true, _) => {
            " Keys (read-only: writing keys hidden) — ↑↓ PgDn scroll, any other key closes "
        }
        (false, true) => " Keys — ↑↓ PgDn scroll, any other key closes ",
        (false, false) => " Keys — any key closes ",
    };
    let body: Vec<Line> = lines.into_iter().skip(scroll).collect();
    frame.render_widget(
        Paragraph::new(body)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(crate::text::truncate(
                title,
                popup.width.saturating_sub(2) as usize,
            ))),
        popup,
    );
}
