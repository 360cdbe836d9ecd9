//! The column chooser (`C`): the list's columns with checkboxes, space to show or hide one.
//! The choice is the event loop's to save (`[console] columns` in the config file) when the
//! chooser closes. Beside it, the keys that sort and scroll the columns.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::domain::Sort;
use crate::tui::app::{App, Effect};
use crate::tui::columns::{ColumnChoice, ListColumn};
use crate::tui::popup::Popup;
use crate::tui::screen::Screen;
use crate::tui::theme::Theme;
use crate::tui::widgets::centered;

impl App {
    /// `o`: the next shown column that sorts; `O`: the same one reversed.
    pub(in crate::tui) fn sort_list(&mut self, reverse: bool) -> Vec<Effect> {
        let columns = self.columns.clone();
        let fetch = self
            .stack
            .last_mut()
            .and_then(Screen::list_mut)
            .map(|list| {
                let sort = if reverse {
                    // Rows without a value stay last either way round.
                    Sort::by(list.sort.key, !list.sort.descending)
                } else {
                    columns.next_sort(list.sort)
                };
                list.sort_by(sort)
            });
        self.fetch_for_top(fetch, true)
    }

    pub(in crate::tui) fn scroll_columns(&mut self, right: bool) -> Vec<Effect> {
        if let Some(list) = self.stack.last_mut().and_then(Screen::list_mut) {
            list.scroll_columns(right);
        }
        Vec::new()
    }

    pub(in crate::tui) fn open_column_chooser(&mut self) -> Vec<Effect> {
        self.popup = Some(Popup::Columns { cursor: 0 });
        Vec::new()
    }

    pub(in crate::tui) fn column_chooser_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(Popup::Columns { cursor }) = self.popup.as_mut() else {
            return Vec::new();
        };
        let last = ListColumn::ALL.len() - 1;
        match key.code {
            KeyCode::Down | KeyCode::Char('j') => *cursor = (*cursor + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => *cursor = cursor.saturating_sub(1),
            KeyCode::Char(' ') => {
                let column = ListColumn::ALL[*cursor];
                match self.columns.toggle(column) {
                    Ok(()) => self.columns_changed = true,
                    Err(why) => self.message = Some(why.to_string()),
                }
            }
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q' | 'C') => {
                self.popup = None;
                if self.columns_changed {
                    self.message = Some(format!(
                        "columns: {} (saved in the config file)",
                        self.columns.names().join(", ")
                    ));
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// The column choice, once, when it changed and the chooser is closed (for the config).
    pub fn take_columns_changed(&mut self) -> Option<ColumnChoice> {
        if self.popup.is_some() || !std::mem::take(&mut self.columns_changed) {
            return None;
        }
        Some(self.columns.clone())
    }
}

pub fn draw(frame: &mut Frame, area: Rect, choice: &ColumnChoice, cursor: usize, theme: Theme) {
    let height = u16::try_from(ListColumn::ALL.len()).unwrap_or(9) + 4;
    let popup = centered(area, 44, height);
    frame.render_widget(Clear, popup);
    let mut lines: Vec<Line> = ListColumn::ALL
        .into_iter()
        .enumerate()
        .map(|(i, column)| {
            let check = if choice.is_shown(column) {
                "[x]"
            } else {
                "[ ]"
            };
            let text = format!(" {check} {}", column.header());
            if i == cursor {
                Line::styled(text, theme.selected())
            } else {
                Line::raw(text)
            }
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        " space show/hide · enter/esc done",
        theme.key(),
    ));
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Columns ")),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::Session;
    use crossterm::event::KeyModifiers;

    fn app() -> App {
        let session = Session {
            database: "sqlite:///x.db".into(),
            simulated_graph: true,
            read_only: false,
            read_only_reason: None,
            missing_tables: None,
            keymap: Default::default(),
        };
        App::new(session, chrono::Utc::now()).0
    }

    fn press(app: &mut App, code: KeyCode) {
        let _ = app.column_chooser_key(KeyEvent::new(code, KeyModifiers::NONE));
    }

    #[test]
    fn space_hides_the_column_under_the_cursor_and_closing_hands_the_choice_over_once() {
        let mut app = app();
        let _ = app.open_column_chooser();
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char(' '));
        assert!(!app.columns.is_shown(ListColumn::Person));
        assert_eq!(
            app.take_columns_changed(),
            None,
            "not while the chooser is open"
        );
        press(&mut app, KeyCode::Enter);
        assert!(app.popup.is_none());
        let saved = app.take_columns_changed().unwrap();
        assert!(!saved.names().contains(&"person"));
        assert_eq!(app.take_columns_changed(), None, "saved once");
    }

    #[test]
    fn the_last_shown_column_cannot_be_hidden() {
        let mut app = app();
        app.columns = ColumnChoice::from_names(&["id".into()]).unwrap();
        let _ = app.open_column_chooser();
        press(&mut app, KeyCode::Char(' '));
        assert!(app.columns.is_shown(ListColumn::Id));
        assert_eq!(
            app.message.as_deref(),
            Some("one column at least stays shown")
        );
    }
}
