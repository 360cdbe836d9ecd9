//! The one-line inputs: `/` (a quick filter) and `:` (a command, with tab completion). Enter
//! applies; an error keeps the line open with the reason beside it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::Popup;
use crate::domain::{Filter, Scope};
use crate::text::{clean_line, truncate};
use crate::tui::app::{App, Effect};
use crate::tui::list::SelectionList;
use crate::tui::screen::Screen;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
}

impl App {
    pub(in crate::tui) fn current_query(&self) -> String {
        self.screen()
            .and_then(Screen::list)
            .map(|l| l.query.clone())
            .unwrap_or_default()
    }

    /// Applies a quick filter to the current list (from the overview it opens the selections).
    pub(in crate::tui) fn apply_query(&mut self, text: String) -> Result<Vec<Effect>, String> {
        let parsed = crate::tui::query::compile(&text, self.now)?;
        if self.screen().and_then(Screen::list).is_none() {
            self.push(Screen::Selections {
                title: "Selections".to_string(),
                list: Box::new(SelectionList::new(Filter::default())),
            });
        }
        self.narrow_top(text, parsed)
    }

    pub(in crate::tui) fn narrow_top(
        &mut self,
        text: String,
        parsed: Filter,
    ) -> Result<Vec<Effect>, String> {
        let fetch = self
            .stack
            .last_mut()
            .and_then(Screen::list_mut)
            .map(|list| {
                list.query = text;
                list.filter = crate::tui::query::combine(&list.base, &parsed);
                list.marks = Default::default();
                list.restart()
            });
        Ok(self.fetch_for_top(fetch, true))
    }

    pub(in crate::tui) fn input_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(Popup::Input { kind, text, error }) = &mut self.popup else {
            return Vec::new();
        };
        let kind = *kind;
        match key.code {
            KeyCode::Esc => self.popup = None,
            KeyCode::Enter => {
                let line = text.trim().to_string();
                let result = match kind {
                    InputKind::Filter => self.apply_query(line),
                    InputKind::Command => self.run_command(&line),
                };
                match result {
                    Ok(effects) => {
                        if matches!(self.popup, Some(Popup::Input { .. })) {
                            self.popup = None;
                        }
                        return effects;
                    }
                    Err(message) => {
                        if let Some(Popup::Input { error, .. }) = &mut self.popup {
                            *error = Some(message);
                        }
                    }
                }
            }
            KeyCode::Backspace => {
                text.pop();
                *error = None;
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => text.clear(),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.popup = None
            }
            KeyCode::Tab if kind == InputKind::Command => {
                let completions = crate::tui::command::complete(text);
                match completions.as_slice() {
                    [] => {}
                    [one] => *text = one.clone(),
                    many => *error = Some(many.join("  ")),
                }
            }
            KeyCode::Char(c) => {
                text.push(c);
                *error = None;
            }
            _ => {}
        }
        Vec::new()
    }

    pub(in crate::tui) fn run_command(&mut self, line: &str) -> Result<Vec<Effect>, String> {
        use crate::tui::command::{Command as C, SyncScope, parse_command};
        use crate::tui::worker_views::WorkerTab;
        match parse_command(line)? {
            C::Quit => {
                self.should_quit = true;
                Ok(Vec::new())
            }
            C::Help => {
                self.popup = Some(Popup::Help);
                Ok(Vec::new())
            }
            C::Overview => Ok(self.open_overview()),
            C::Conferences => Ok(self.open_conferences()),
            C::Failed => {
                self.stack.truncate(1);
                self.apply_query("state:failed".to_string())
            }
            C::Filter(query) => self.apply_query(query),
            C::ClearFilter => self.apply_query(String::new()),
            C::Person(who) => match who.parse::<i64>() {
                Ok(user_id) => Ok(self.open_person(user_id)),
                Err(_) => {
                    let generation = self.generation();
                    self.looking_up = Some(generation);
                    Ok(vec![Effect::FindPerson(generation, who)])
                }
            },
            C::Conference(id) => {
                self.stack.truncate(1);
                Ok(self.open_list(
                    format!("Conference {id}"),
                    Filter {
                        conference_id: Some(id),
                        ..Filter::default()
                    },
                ))
            }
            C::Selection(id) => Ok(self.open_error(id)),
            C::Sync(scope) => {
                if self.session.read_only {
                    return Err("read-only: syncing is disabled".to_string());
                }
                let marked = self
                    .screen()
                    .and_then(Screen::list)
                    .is_some_and(|l| !l.marks.is_empty());
                let scope = match scope {
                    SyncScope::Failed => Scope::Failed,
                    SyncScope::Unsynced => Scope::Unsynced,
                    SyncScope::All => Scope::All,
                    SyncScope::Marked if marked => Scope::All,
                    SyncScope::Marked => {
                        return Err(
                            "mark rows first (space, v … v, or A for all matching)".to_string()
                        );
                    }
                };
                self.popup = None;
                Ok(self.open_bulk_with(scope))
            }
            C::Export { format, path } => match self.screen().and_then(Screen::list) {
                Some(list) => Ok(vec![Effect::Export(
                    list.filter.clone(),
                    format.as_str().to_string(),
                    path,
                )]),
                None => Err("open a list of selections to export it".to_string()),
            },
            C::Refresh => Ok(self.reload()),
            C::Audit => Ok(self.open_audit()),
            C::Verify => Ok(self.verify()),
            C::Reconcile(scope) => Ok(self.open_reconcile(scope)),
            C::Workers => Ok(self.open_worker_tab(WorkerTab::Workers)),
            C::Retries => Ok(self.open_worker_tab(WorkerTab::Retries)),
            C::Parked => Ok(self.open_worker_tab(WorkerTab::Parked)),
            C::ReadOnly => {
                self.session.read_only = true;
                self.session.read_only_reason = Some(":readonly".to_string());
                self.message = Some("read-only for the rest of this session".to_string());
                Ok(Vec::new())
            }
        }
    }
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    kind: InputKind,
    text: &str,
    error: Option<&str>,
    theme: Theme,
) {
    let popup = Rect::new(
        area.x,
        area.bottom().saturating_sub(4),
        area.width,
        3.min(area.height),
    );
    frame.render_widget(Clear, popup);
    let (prompt, title) = match kind {
        InputKind::Filter => (
            "/",
            " Filter: text, state:failed conf:12 user:ann platform:zoom error:\"…\" since:24h (enter applies, esc cancels) ",
        ),
        InputKind::Command => (
            ":",
            " Command: failed, person ann@x.org, conference 12, sync failed, export csv, quit (tab completes) ",
        ),
    };
    let mut spans = vec![
        Span::styled(prompt, theme.key()),
        Span::raw(clean_line(text)),
        Span::styled("▏", theme.key()),
    ];
    if let Some(e) = error {
        spans.push(Span::styled(
            format!("   {}", clean_line(e)),
            theme.danger(),
        ));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans))
            .block(Block::bordered().title(truncate(title, area.width.saturating_sub(2) as usize))),
        popup,
    );
}
