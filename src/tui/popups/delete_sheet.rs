//! The confirmation before reconcile deletes events: how many, how many are guesses (then the
//! count is typed back).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::text::clean_line;
use crate::tui::app::{App, Effect};
use crate::tui::job::JobKind;
use crate::tui::popup::Popup;
use crate::tui::reconcile::DeleteSheet;
use crate::tui::screen::Screen;
use crate::tui::theme::Theme;
use crate::tui::widgets::centered;

impl App {
    /// `d` on the reconcile view: the confirmation sheet for what is chosen.
    pub(in crate::tui) fn ask_to_delete(&mut self) -> Vec<Effect> {
        let Some(Screen::Reconcile(view)) = self.screen() else {
            return Vec::new();
        };
        if view.pending.is_some() {
            self.message = Some("wait for the scan to finish".to_string());
            return Vec::new();
        }
        let sheet = view.chosen();
        if sheet.findings.is_empty() {
            self.message = Some(
                "nothing chosen: certain findings are chosen by themselves; space chooses a probable one"
                    .to_string(),
            );
            return Vec::new();
        }
        if self.job_running() {
            return Vec::new();
        }
        self.popup = Some(Popup::DeleteFindings(Box::new(sheet)));
        Vec::new()
    }

    pub(in crate::tui) fn delete_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(Popup::DeleteFindings(mut sheet)) = self.popup.take() else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Backspace => {
                sheet.typed.pop();
            }
            KeyCode::Char(c) if sheet.needs_typing() && c.is_ascii_digit() => sheet.typed.push(c),
            KeyCode::Enter | KeyCode::Char('y') => {
                let count = sheet.findings.len();
                if sheet.needs_typing() && sheet.typed != count.to_string() {
                    sheet.error = Some(format!(
                        "{} of these are guesses: type {count} to confirm",
                        sheet.probable
                    ));
                    self.popup = Some(Popup::DeleteFindings(sheet));
                    return Vec::new();
                }
                let generation = self.generation();
                let Some(Screen::Reconcile(view)) = self.stack.last_mut() else {
                    return Vec::new();
                };
                view.pending = Some(generation);
                let scope = view.scope_text();
                self.start_job(
                    JobKind::ReconcileDelete,
                    format!("Deleting {count} events ({scope})"),
                    count,
                );
                return vec![Effect::ReconcileApply(generation, sheet.findings, scope)];
            }
            _ => {}
        }
        self.popup = Some(Popup::DeleteFindings(sheet));
        Vec::new()
    }
}

pub fn draw(frame: &mut Frame, area: Rect, sheet: &DeleteSheet, theme: Theme) {
    let popup = centered(area, 72, 9);
    frame.render_widget(Clear, popup);
    let count = sheet.findings.len();
    let certain = count - sheet.probable;
    let mut lines = vec![
        Line::styled(
            format!(" {count} events will be deleted from their mailboxes:"),
            theme.title(),
        ),
        Line::raw(format!(
            "   {certain} certain (calsync's ledger or tag), {} probable (by their shape)",
            sheet.probable
        )),
        Line::styled(
            " An event already gone counts as done. This cannot be undone.",
            theme.dim(),
        ),
        Line::raw(""),
    ];
    if sheet.needs_typing() {
        lines.push(Line::from(vec![
            Span::styled(
                format!(" Type {count} and press enter to delete: "),
                theme.warning(),
            ),
            Span::styled(sheet.typed.clone(), theme.key()),
            Span::styled("▏", theme.key()),
        ]));
    } else {
        lines.push(Line::styled(
            " enter deletes · esc cancels",
            theme.warning(),
        ));
    }
    if let Some(e) = &sheet.error {
        lines.push(Line::styled(format!(" {}", clean_line(e)), theme.danger()));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Delete events ")),
        popup,
    );
}
