//! Popups over the screen: each owns its keys (the keymap is not asked while one is open) and
//! its draw. What each holds is in [`super::popup`].

pub mod bulk_sheet;
pub mod column_chooser;
pub mod confirm_quit;
pub mod delete_sheet;
pub mod help;
pub mod input;
pub mod run_rows;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::app::{App, Effect};
use super::popup::Popup;
use super::theme::Theme;

impl App {
    /// The key goes to the open popup, if one is; None when none is open.
    pub(in crate::tui) fn popup_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        Some(match self.popup.as_ref()? {
            Popup::Help { .. } => self.help_key(key),
            Popup::RunRows { .. } => self.run_rows_key(key),
            Popup::Input { .. } => self.input_key(key),
            Popup::Bulk(_) => self.bulk_key(key),
            Popup::DeleteFindings(_) => self.delete_key(key),
            Popup::ConfirmQuit => self.confirm_quit_key(key),
            Popup::Columns { .. } => self.column_chooser_key(key),
        })
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    match &app.popup {
        Some(Popup::Help { scroll }) => help::draw(frame, area, app, *scroll, theme),
        Some(Popup::RunRows { scroll }) => {
            run_rows::draw(frame, area, app.run_rows(), *scroll, theme)
        }
        Some(Popup::Input {
            kind,
            text,
            error,
            completion,
        }) => input::draw(
            frame,
            area,
            *kind,
            text,
            error.as_deref(),
            completion.as_ref(),
            theme,
        ),
        Some(Popup::Bulk(sheet)) => bulk_sheet::draw(frame, area, sheet, theme),
        Some(Popup::DeleteFindings(sheet)) => delete_sheet::draw(frame, area, sheet, theme),
        Some(Popup::ConfirmQuit) => confirm_quit::draw(frame, area, app.job.as_ref(), theme),
        Some(Popup::Columns { cursor }) => {
            column_chooser::draw(frame, area, &app.columns, *cursor, theme)
        }
        None => {}
    }
}
