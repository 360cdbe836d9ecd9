//! The mouse (issue 13, item 11): a click on a table row puts the cursor there (a second click
//! on the row under the cursor opens it, like Enter; on the overview a click also gives its
//! panel the focus), the wheel moves by three rows, and a click
//! on a key in the bottom bar does what the key does.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use super::action::Action;
use super::app::{App, Effect};
use super::layout::Chrome;
use super::screen::Screen;
use super::screens::overview;

/// Rows the wheel moves by.
const WHEEL_ROWS: i64 = 3;

impl App {
    pub fn mouse(&mut self, event: MouseEvent) -> Vec<Effect> {
        if self.popup.is_some() {
            return Vec::new();
        }
        match event.kind {
            MouseEventKind::ScrollDown => self.move_rows(WHEEL_ROWS),
            MouseEventKind::ScrollUp => self.move_rows(-WHEEL_ROWS),
            MouseEventKind::Down(MouseButton::Left) => self.click(event.column, event.row),
            _ => Vec::new(),
        }
    }

    fn move_rows(&mut self, delta: i64) -> Vec<Effect> {
        let action = if delta > 0 { Action::Down } else { Action::Up };
        (0..delta.abs()).flat_map(|_| self.update(action)).collect()
    }

    fn click(&mut self, column: u16, row: u16) -> Vec<Effect> {
        let chrome = Chrome::of(Rect::new(0, 0, self.width, self.height), self.job.is_some());
        if row == chrome.footer.y {
            return self.click_bar(column);
        }
        let Some(screen) = self.screen() else {
            return Vec::new();
        };
        if let Screen::Overview { .. } = screen {
            return self.click_overview(chrome.body, column, row);
        }
        let rows = screen.page_rows(chrome.body);
        // Every table is drawn at the bottom of the body: its rows end where the body ends.
        let first = chrome.body.bottom().saturating_sub(rows as u16);
        if row < first || row >= chrome.body.bottom() {
            return Vec::new();
        }
        let on_screen = i64::from(row - first);
        let (top, cursor) = match screen {
            Screen::Selections { list, .. } | Screen::Person { list, .. } => {
                (list.top as i64, list.cursor as i64)
            }
            Screen::Conferences(table) => follow(table.cursor, rows),
            Screen::Audit(table) => follow(table.cursor, rows),
            Screen::Slots { table, .. } => follow(table.cursor, rows),
            Screen::Reconcile(view) => follow(view.cursor, rows),
            Screen::Workers(s) => follow(s.table.cursor, rows),
            Screen::Retries(s) => follow(s.table.cursor, rows),
            Screen::Parked(s) => follow(s.table.cursor, rows),
            Screen::Overview { .. } | Screen::ErrorDetail { .. } => return Vec::new(),
        };
        let delta = top + on_screen - cursor;
        if delta == 0 {
            return self.update(Action::Enter);
        }
        let action = if delta > 0 { Action::Down } else { Action::Up };
        (0..delta.abs()).flat_map(|_| self.update(action)).collect()
    }

    /// A click on a cause, a conference with most failures or a newest failure: the panel and its cursor go
    /// there; a click on the row that already has the cursor opens it.
    fn click_overview(&mut self, body: Rect, column: u16, row: u16) -> Vec<Effect> {
        let missing_tables = self.session.missing_tables.is_some();
        let Some(Screen::Overview { data, cursor, .. }) = self.stack.last_mut() else {
            return Vec::new();
        };
        let Some((panel, at)) =
            overview::row_at(body, missing_tables, data.as_ref(), *cursor, column, row)
        else {
            return Vec::new();
        };
        if cursor.panel == panel && *cursor.row_mut(panel) == at {
            return self.update(Action::Enter);
        }
        cursor.panel = panel;
        *cursor.row_mut(panel) = at;
        Vec::new()
    }

    /// A click on the bottom bar: the key under it.
    fn click_bar(&mut self, column: u16) -> Vec<Effect> {
        if self.message.is_some() {
            self.message = None;
            return Vec::new();
        }
        let bar = super::widgets::chrome::bar_items(self, self.width as usize);
        let mut x = 0u16;
        for (action, width) in bar {
            if column >= x && column < x + width {
                return self.update(action);
            }
            x += width;
        }
        Vec::new()
    }
}

/// Where a table that keeps its cursor on screen starts, and the cursor.
fn follow(cursor: usize, rows: usize) -> (i64, i64) {
    let top = cursor.saturating_sub(rows.saturating_sub(1));
    (top as i64, cursor as i64)
}
