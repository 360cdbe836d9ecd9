//! The question before quitting while a job runs (issue 13, item 1): quitting stops the job as
//! `x` does (what is in flight finishes and is recorded) and its audit row says `interrupted`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::text::clean_line;
use crate::tui::app::{App, Effect};
use crate::tui::job::Job;
use crate::tui::popup::Popup;
use crate::tui::theme::Theme;
use crate::tui::widgets::centered;

impl App {
    /// `q`, Ctrl-C or `:quit`: at once when nothing runs, else asked first.
    pub(in crate::tui) fn quit(&mut self) -> Vec<Effect> {
        if self.job.as_ref().is_some_and(Job::running) {
            self.popup = Some(Popup::ConfirmQuit);
        } else {
            self.should_quit = true;
        }
        Vec::new()
    }

    pub(in crate::tui) fn confirm_quit_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('y' | 'q') | KeyCode::Enter => self.should_quit = true,
            _ if ctrl_c => self.should_quit = true,
            _ => {
                self.popup = None;
                self.message = Some("still running; x cancels it".to_string());
            }
        }
        Vec::new()
    }
}

pub fn draw(frame: &mut Frame, area: Rect, job: Option<&Job>, theme: Theme) {
    let popup = centered(area, 64, 7);
    frame.render_widget(Clear, popup);
    let label = job.map(|j| clean_line(&j.label)).unwrap_or_default();
    let lines = vec![
        Line::styled(format!(" {label} is still running."), theme.warning()),
        Line::raw(
            " Quitting stops it: what is in flight finishes and is recorded, the rest is not \
             started, and its audit row says interrupted.",
        ),
        Line::styled(" y or q quits · any other key stays", theme.key()),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Quit while a job runs? ")),
        popup,
    );
}
