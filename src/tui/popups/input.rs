//! The one-line inputs: `/` (a quick filter) and `:` (a command, with tab completion). Enter
//! applies; an error keeps the line open with the reason beside it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::domain::{Filter, Scope};
use crate::text::{clean_line, truncate};
use crate::tui::app::{App, Effect};
use crate::tui::complete::{Completion, KnownPerson, Prompt};
use crate::tui::list::SelectionList;
use crate::tui::popup::{InputKind, Popup};
use crate::tui::screen::Screen;
use crate::tui::theme::Theme;

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
                list.only_marked = None;
                list.restart()
            });
        Ok(self.fetch_for_top(fetch, true))
    }

    pub(in crate::tui) fn input_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let people = self.known_people();
        let Some(Popup::Input {
            kind,
            text,
            error,
            completion,
        }) = &mut self.popup
        else {
            return Vec::new();
        };
        let kind = *kind;
        let history = match kind {
            InputKind::Filter => &mut self.histories.filter,
            InputKind::Command => &mut self.histories.command,
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        // Only Tab and Shift-Tab go on cycling; only ↑ and ↓ go on browsing.
        if !matches!(key.code, KeyCode::Tab | KeyCode::BackTab) {
            *completion = None;
        }
        if !matches!(key.code, KeyCode::Up | KeyCode::Down) {
            history.stop_browsing();
        }
        match key.code {
            KeyCode::Esc => self.popup = None,
            KeyCode::Char('c') if ctrl => self.popup = None,
            KeyCode::Enter => {
                let line = text.trim().to_string();
                history.remember(&line);
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
                    // The line stays open, drawn as refused, with the reason: Esc closes it.
                    Err(message) => {
                        if let Some(Popup::Input { error, .. }) = &mut self.popup {
                            *error = Some(message);
                        }
                    }
                }
            }
            KeyCode::Up => {
                if let Some(older) = history.older(text) {
                    *text = older;
                    *error = None;
                }
            }
            KeyCode::Down => {
                if let Some(newer) = history.newer() {
                    *text = newer;
                    *error = None;
                }
            }
            KeyCode::Tab | KeyCode::BackTab => {
                let prompt = match kind {
                    InputKind::Filter => Prompt::Filter,
                    InputKind::Command => Prompt::Command,
                };
                if completion.is_none() {
                    *completion = Completion::start(text, prompt, &people);
                }
                match completion {
                    Some(c) if key.code == KeyCode::BackTab => *text = c.backward(),
                    Some(c) => *text = c.forward(),
                    None => *error = Some("nothing to complete here".to_string()),
                }
            }
            KeyCode::Backspace => {
                text.pop();
                *error = None;
                self.search_typed = kind == InputKind::Filter;
            }
            KeyCode::Char('u') if ctrl => {
                text.clear();
                self.search_typed = kind == InputKind::Filter;
            }
            KeyCode::Char(c) if !ctrl => {
                text.push(c);
                *error = None;
                self.search_typed = kind == InputKind::Filter;
            }
            _ => {}
        }
        Vec::new()
    }

    /// Search as you type: the filter being typed, applied once typing has paused (the event
    /// loop's debounce calls this). A text that does not compile yet only shows its error.
    pub fn search_as_typed(&mut self) -> Vec<Effect> {
        let Some(Popup::Input {
            kind: InputKind::Filter,
            text,
            ..
        }) = &self.popup
        else {
            return Vec::new();
        };
        let text = text.trim().to_string();
        let popup = self.popup.clone();
        let result = self.apply_query(text);
        // Applying keeps the prompt open: the operator is still typing.
        self.popup = popup;
        match result {
            Ok(effects) => effects,
            Err(message) => {
                if let Some(Popup::Input { error, .. }) = &mut self.popup {
                    *error = Some(message);
                }
                Vec::new()
            }
        }
    }

    /// The text typed into `/` changed since the last call (the event loop debounces it).
    pub fn take_search_typed(&mut self) -> Option<String> {
        if !std::mem::take(&mut self.search_typed) {
            return None;
        }
        match &self.popup {
            Some(Popup::Input {
                kind: InputKind::Filter,
                text,
                ..
            }) => Some(text.clone()),
            _ => None,
        }
    }

    /// People Tab offers: those a `:person` lookup found, then those of the rows on screen.
    fn known_people(&self) -> Vec<KnownPerson> {
        let mut people = self.found_people.clone();
        if let Some(list) = self.screen().and_then(Screen::list) {
            for s in &list.rows {
                let person = KnownPerson {
                    username: s.username.clone(),
                    email: s.email.clone(),
                    name: s.full_name(),
                };
                if !people.contains(&person) {
                    people.push(person);
                }
            }
        }
        people
    }

    pub(in crate::tui) fn run_command(&mut self, line: &str) -> Result<Vec<Effect>, String> {
        use crate::tui::command::{Command as C, SyncScope, parse_command};
        use crate::tui::worker_views::WorkerTab;
        match parse_command(line)? {
            C::Quit => {
                self.popup = None;
                Ok(self.quit())
            }
            C::Help => {
                self.popup = Some(Popup::Help { scroll: 0 });
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
                    self.looking_for = who.clone();
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
    completion: Option<&Completion>,
    theme: Theme,
) {
    let width = area.width.saturating_sub(2) as usize;
    // The hint under the line: Tab's candidates while cycling, the filter's keys and causes.
    let hint: Vec<Line> = match (completion, kind) {
        (Some(c), _) => vec![candidates_line(c, width, theme)],
        (None, InputKind::Filter) => crate::tui::reference::filter_hint(width)
            .into_iter()
            .map(|l| Line::styled(l, theme.dim()))
            .collect(),
        (None, InputKind::Command) => vec![Line::styled(
            "Tab completes and cycles · ↑↓ history · Enter runs · Esc closes",
            theme.dim(),
        )],
    };
    let height = (3 + hint.len() as u16).min(area.height);
    let popup = Rect::new(
        area.x,
        area.bottom().saturating_sub(height + 1),
        area.width,
        height,
    );
    frame.render_widget(Clear, popup);
    let (prompt, title) = match kind {
        InputKind::Filter => (
            "/",
            " Filter: rows update as you type (Enter keeps it, Esc closes, ↑↓ history) ",
        ),
        InputKind::Command => (":", " Command "),
    };
    let mut spans = vec![
        Span::styled(prompt, theme.key()),
        Span::raw(clean_line(text)),
        Span::styled("▏", theme.key()),
    ];
    let mut block = Block::bordered().title(truncate(title, width));
    if let Some(e) = error {
        spans.push(Span::styled(
            format!("   ✗ {}", clean_line(e)),
            theme.danger(),
        ));
        // Refused: the line stays open and says so in its border.
        block = Block::bordered()
            .border_style(theme.danger())
            .title(truncate(
                " Not done: fix the line, or Esc closes it ",
                width,
            ));
    }
    let mut lines = vec![Line::from(spans)];
    lines.extend(hint);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

fn candidates_line(completion: &Completion, width: usize, theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    let mut used = 0;
    for (i, c) in completion.candidates().iter().enumerate() {
        let label = if c.label.is_empty() {
            c.text.clone()
        } else {
            format!("{} ({})", c.text, c.label)
        };
        let label = clean_line(&label);
        if used + crate::text::width(&label) + 2 > width {
            spans.push(Span::styled("…", theme.dim()));
            break;
        }
        used += crate::text::width(&label) + 2;
        let style = if completion.shown() == Some(i) {
            theme.selected()
        } else {
            theme.dim()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw("  "));
    }
    Line::from(spans)
}
