//! Search as you type (issue 13, item 11): the filter being typed is applied once typing pauses
//! for [`PAUSE`], never per key, so a million-row list runs one count and one page per pause
//! instead of one per character. Only a text that compiles is applied (the prompt shows the
//! error of one that does not), and never the same text twice in a row.

use std::time::{Duration, Instant};

pub const PAUSE: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Debounce {
    pending: Option<(Instant, String)>,
    applied: Option<String>,
}

impl Debounce {
    /// What is typed now, at `now`: due after the pause, unless more is typed.
    pub fn typed(&mut self, now: Instant, text: &str) {
        self.pending = Some((now + PAUSE, text.to_string()));
    }

    /// When the event loop has to wake for it.
    pub fn due(&self) -> Option<Instant> {
        self.pending.as_ref().map(|(at, _)| *at)
    }

    /// The text to apply now, if its pause is over and it is not what was applied last.
    pub fn take_due(&mut self, now: Instant) -> Option<String> {
        let (at, _) = self.pending.as_ref()?;
        if *at > now {
            return None;
        }
        let (_, text) = self.pending.take()?;
        if self.applied.as_deref() == Some(text.as_str()) {
            return None;
        }
        self.applied = Some(text.clone());
        Some(text)
    }

    /// Enter or Esc: nothing is left to apply.
    pub fn settle(&mut self) {
        self.pending = None;
        self.applied = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_fast_applies_once_after_the_pause() {
        let start = Instant::now();
        let mut debounce = Debounce::default();
        for (i, text) in ["u", "us", "use", "user:", "user:a"].iter().enumerate() {
            let at = start + Duration::from_millis(80 * i as u64);
            debounce.typed(at, text);
            assert_eq!(debounce.take_due(at), None, "no query per key");
        }
        let last = start + Duration::from_millis(320);
        assert_eq!(debounce.due(), Some(last + PAUSE));
        assert_eq!(
            debounce.take_due(last + PAUSE - Duration::from_millis(1)),
            None
        );
        assert_eq!(debounce.take_due(last + PAUSE).as_deref(), Some("user:a"));
        assert_eq!(debounce.due(), None);
    }

    #[test]
    fn the_same_text_is_not_applied_twice() {
        let start = Instant::now();
        let mut debounce = Debounce::default();
        debounce.typed(start, "ann");
        assert!(debounce.take_due(start + PAUSE).is_some());
        // A character typed and deleted again.
        debounce.typed(start + PAUSE * 2, "ann");
        assert_eq!(debounce.take_due(start + PAUSE * 3), None);
        debounce.settle();
        debounce.typed(start + PAUSE * 4, "ann");
        assert!(debounce.take_due(start + PAUSE * 5).is_some());
    }
}
