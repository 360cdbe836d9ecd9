//! What was typed at the `/` and `:` prompts, kept across sessions (issue 13, item 7).
//!
//! One file per prompt in calsync's data directory (`history/filter`, `history/command`), one
//! entry a line, oldest first, at most [`KEPT`] of them. ↑ steps back through the entries that
//! start with what is typed (all of them when nothing is), ↓ steps forward and finally gives the
//! typed text back. Filters and commands are not secret; terminal controls are stripped anyway,
//! so a line read back can never carry one into the prompt.

use std::path::{Path, PathBuf};

/// How many entries a prompt keeps.
pub const KEPT: usize = 500;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    entries: Vec<String>,
    /// While browsing: the entry shown, and what had been typed before the first ↑.
    browsing: Option<(usize, String)>,
}

/// The history file of one prompt (`filter` or `command`) under the data directory.
pub fn file_for(data_dir: &Path, prompt: &str) -> PathBuf {
    data_dir.join("history").join(prompt)
}

/// The histories of both prompts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histories {
    pub filter: History,
    pub command: History,
}

impl Histories {
    pub fn load(data_dir: &Path) -> Histories {
        Histories {
            filter: History::load(&file_for(data_dir, "filter")),
            command: History::load(&file_for(data_dir, "command")),
        }
    }

    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        self.filter.save(&file_for(data_dir, "filter"))?;
        self.command.save(&file_for(data_dir, "command"))
    }
}

impl History {
    pub fn from_entries(entries: impl IntoIterator<Item = String>) -> History {
        let mut history = History::default();
        for entry in entries {
            history.remember(&entry);
        }
        history.browsing = None;
        history
    }

    /// The file's entries; a missing or unreadable file is an empty history (it only costs
    /// convenience).
    pub fn load(file: &Path) -> History {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        History::from_entries(text.lines().map(str::to_string))
    }

    /// Writes the entries aside, then renames, so a second console never reads half a file.
    pub fn save(&self, file: &Path) -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = self.entries.join("\n");
        text.push('\n');
        let aside = file.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&aside, text)?;
        std::fs::rename(&aside, file)
    }

    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// Adds a line that was run: newest last, an earlier copy of it dropped, blank lines not kept.
    pub fn remember(&mut self, line: &str) {
        self.browsing = None;
        let line = crate::text::clean_line(line).trim().to_string();
        if line.is_empty() {
            return;
        }
        self.entries.retain(|e| *e != line);
        self.entries.push(line);
        if self.entries.len() > KEPT {
            let extra = self.entries.len() - KEPT;
            self.entries.drain(..extra);
        }
    }

    /// ↑: the next older entry starting with what was typed, or None at the oldest.
    pub fn older(&mut self, typed: &str) -> Option<String> {
        let (from, draft) = match &self.browsing {
            Some((shown, draft)) => (*shown, draft.clone()),
            None => (self.entries.len(), typed.to_string()),
        };
        let found = (0..from)
            .rev()
            .find(|&i| self.entries[i].starts_with(draft.as_str()))?;
        self.browsing = Some((found, draft));
        Some(self.entries[found].clone())
    }

    /// ↓: the next newer matching entry, and after the newest what was typed before browsing.
    pub fn newer(&mut self) -> Option<String> {
        let (shown, draft) = self.browsing.take()?;
        let found =
            (shown + 1..self.entries.len()).find(|&i| self.entries[i].starts_with(draft.as_str()));
        match found {
            Some(i) => {
                self.browsing = Some((i, draft));
                Some(self.entries[i].clone())
            }
            None => Some(draft),
        }
    }

    /// Typing anything else ends browsing: the next ↑ starts from the newest again.
    pub fn stop_browsing(&mut self) {
        self.browsing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(lines: &[&str]) -> History {
        History::from_entries(lines.iter().map(|l| l.to_string()))
    }

    #[test]
    fn up_goes_back_and_down_comes_back_to_what_was_typed() {
        let mut h = history(&["state:failed", "user:ann", "conf:12"]);
        assert_eq!(h.older("").as_deref(), Some("conf:12"));
        assert_eq!(h.older("").as_deref(), Some("user:ann"));
        assert_eq!(h.older("").as_deref(), Some("state:failed"));
        assert_eq!(h.older(""), None, "the oldest stays the oldest");
        assert_eq!(h.newer().as_deref(), Some("user:ann"));
        assert_eq!(h.newer().as_deref(), Some("conf:12"));
        assert_eq!(h.newer().as_deref(), Some(""), "then the draft again");
        assert_eq!(h.newer(), None);
    }

    #[test]
    fn up_with_text_typed_only_offers_entries_starting_with_it() {
        let mut h = history(&["user:bob", "state:failed", "user:ann", "conf:12"]);
        assert_eq!(h.older("user:").as_deref(), Some("user:ann"));
        assert_eq!(
            h.older("ignored while browsing").as_deref(),
            Some("user:bob")
        );
        assert_eq!(h.older("x"), None);
        assert_eq!(h.newer().as_deref(), Some("user:ann"));
        assert_eq!(h.newer().as_deref(), Some("user:"));
    }

    #[test]
    fn a_line_run_again_moves_to_the_newest_and_blank_lines_are_not_kept() {
        let mut h = history(&["a", "b", "c"]);
        h.remember("a");
        h.remember("   ");
        assert_eq!(h.entries(), ["b", "c", "a"]);
    }

    #[test]
    fn only_the_newest_entries_are_kept() {
        let h = History::from_entries((0..KEPT + 20).map(|i| format!("id:{i}")));
        assert_eq!(h.entries().len(), KEPT);
        assert_eq!(h.entries()[0], "id:20");
    }

    #[test]
    fn terminal_controls_never_come_back_from_the_file() {
        let mut h = History::default();
        h.remember("user:\u{1b}[2Jann");
        assert!(!h.entries()[0].contains('\u{1b}'), "{:?}", h.entries());
    }

    #[test]
    fn entries_survive_a_restart_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_for(dir.path(), "filter");
        let mut h = History::default();
        h.remember("state:failed");
        h.remember("user:ann");
        h.save(&file).unwrap();
        let mut again = History::load(&file);
        assert_eq!(again.entries(), ["state:failed", "user:ann"]);
        assert_eq!(again.older("").as_deref(), Some("user:ann"));
        assert_eq!(
            History::load(&dir.path().join("missing")),
            History::default()
        );
    }
}
