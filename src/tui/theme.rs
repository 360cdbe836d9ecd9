//! Colours and emphasis. Every badge also carries a symbol and words, so nothing depends on colour;
//! with `NO_COLOR` set, only bold/reverse/dim remain.

use ratatui::style::{Color, Modifier, Style};

use crate::domain::SyncState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// The config file's `[theme] color`: `auto` (the default) follows `NO_COLOR` (any
    /// non-empty value turns colour off, as <https://no-color.org> asks); `always`, `never`.
    pub fn from_setting(color: Option<&str>) -> Result<Theme, String> {
        let color = match color.unwrap_or("auto") {
            "auto" => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            "always" => true,
            "never" => false,
            other => {
                return Err(format!(
                    "[theme] color = \"{other}\": use \"auto\", \"always\" or \"never\""
                ));
            }
        };
        Ok(Theme { color })
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    pub fn state(&self, state: SyncState) -> Style {
        match state {
            SyncState::Added => self.fg(Color::Green),
            SyncState::AddedStaleError => self.fg(Color::LightGreen),
            SyncState::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            SyncState::Interrupted => self.fg(Color::Yellow),
            SyncState::NotSynced => self.fg(Color::Gray),
        }
    }

    pub fn header(&self) -> Style {
        if self.color {
            Style::default().fg(Color::Black).bg(Color::Cyan)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn warning(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn danger(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }

    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// A table row: highlighted under the cursor, plain otherwise.
    pub fn row(&self, current: bool) -> Style {
        if current {
            self.selected()
        } else {
            Style::default()
        }
    }

    pub fn marked(&self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }

    pub fn changed(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::ITALIC)
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
}
