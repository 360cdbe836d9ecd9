//! The filter language and the run rule as `?` help and the `/` hint say them (issue 13, item
//! 4): every filter key, every state and cause word with its label, written from the tables the
//! parser reads, so the help can never miss a key the language has.

use crate::domain::query::KEYS;
use crate::domain::{Cause, SyncState};

/// One help line: a word to type and what it means.
pub type Entry = (String, String);

/// Every filter key with its example and meaning.
pub fn filter_keys() -> Vec<Entry> {
    KEYS.iter()
        .map(|k| (k.example.to_string(), k.description.to_string()))
        .collect()
}

/// Every `cause:` word with the label the overview shows, and whether a retry is worth it.
pub fn cause_words() -> Vec<Entry> {
    Cause::ALL
        .iter()
        .map(|c| {
            let retry = if c.is_permanent() {
                "fix, then retry"
            } else {
                "retry"
            };
            (
                format!("cause:{}", c.as_str()),
                format!("{} ({retry})", c.label()),
            )
        })
        .collect()
}

/// Every `state:` word with its badge's words.
pub fn state_words() -> Vec<Entry> {
    SyncState::ALL
        .iter()
        .map(|s| (format!("state:{}", s.as_str()), s.label().to_string()))
        .collect()
}

/// The `/` prompt's hint, wrapped to `columns`: every key, then every cause word.
pub fn filter_hint(columns: usize) -> Vec<String> {
    let mut words: Vec<String> = vec!["keys:".to_string()];
    words.extend(KEYS.iter().map(|k| format!("{}:", k.name)));
    words.push("· cause:".to_string());
    words.extend(Cause::ALL.iter().map(|c| c.as_str().to_string()));
    words.push("· Tab completes, ? explains".to_string());
    let mut lines: Vec<String> = Vec::new();
    for word in words {
        match lines.last_mut() {
            Some(line) if crate::text::width(line) + 1 + crate::text::width(&word) <= columns => {
                line.push(' ');
                line.push_str(&word);
            }
            _ => lines.push(crate::text::truncate(&word, columns)),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_the_language_is_in_the_help_and_the_hint() {
        let help = filter_keys();
        let hint = filter_hint(400).join(" ");
        for key in KEYS {
            assert!(
                help.iter()
                    .any(|(typed, _)| typed.starts_with(&format!("{}:", key.name))),
                "{} missing from the help",
                key.name
            );
            assert!(
                hint.contains(&format!("{}:", key.name)),
                "{} missing: {hint}",
                key.name
            );
        }
        for needed in ["cause:", "is:", "role:"] {
            assert!(hint.contains(needed), "{hint}");
        }
    }

    #[test]
    fn every_cause_word_is_listed_with_its_label() {
        let words = cause_words();
        assert_eq!(words.len(), Cause::ALL.len());
        assert!(words.contains(&(
            "cause:no_mailbox".to_string(),
            "No Exchange Online mailbox (fix, then retry)".to_string()
        )));
        assert!(words.contains(&(
            "cause:throttled".to_string(),
            "Throttled by Graph (retry)".to_string()
        )));
        let hint = filter_hint(400).join(" ");
        for cause in Cause::ALL {
            assert!(hint.contains(cause.as_str()), "{hint}");
        }
    }

    #[test]
    fn the_hint_fits_an_80_column_prompt_in_three_lines_and_says_it_all() {
        let hint = filter_hint(76);
        assert!(hint.len() <= 3, "{hint:?}");
        assert!(hint.iter().all(|l| crate::text::width(l) <= 76), "{hint:?}");
        let all = hint.join(" ");
        assert_eq!(
            all,
            filter_hint(400).join(" "),
            "nothing is cut at 80 columns"
        );
        assert_eq!(state_words().len(), SyncState::ALL.len());
    }
}
