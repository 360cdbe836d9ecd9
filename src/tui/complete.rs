//! Tab completion for the `/` and `:` prompts: it cycles (Tab, Shift-Tab) through every candidate
//! for the word being typed, keeps what is around it (a trailing space included), and offers
//! commands, their fixed arguments, filter keys, the values of `state:`, `scope:`, `cause:` and
//! `is:` (each cause word with its label) and known people for `user:` and `:person`.
//! Pure logic: the prompt keeps a [`Completion`] while Tab is pressed and drops it on any other
//! key.

use super::command::COMMANDS;
use crate::domain::query::KEYS;
use crate::domain::{Cause, Scope, SyncState};

/// Which prompt is being completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Filter,
    Command,
}

/// One thing Tab can put in place of the word: its text, and words that say what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub text: String,
    pub label: String,
    /// People are found by any part of their username, email or name (`rossi`); the fixed
    /// words of the language by how they begin.
    anywhere: bool,
}

impl Candidate {
    fn new(text: impl Into<String>, label: impl Into<String>) -> Candidate {
        Candidate {
            text: text.into(),
            label: label.into(),
            anywhere: false,
        }
    }

    fn offered_for(&self, lowered: &str) -> bool {
        let text = self.text.to_lowercase();
        if self.anywhere {
            text.contains(lowered) || self.label.to_lowercase().contains(lowered)
        } else {
            text.starts_with(lowered)
        }
    }
}

/// A person the console knows of (from the store's candidates or the rows seen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPerson {
    pub username: String,
    pub email: String,
    pub name: String,
}

/// A completion in progress: the line around the word, the candidates and the one shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    before: String,
    candidates: Vec<Candidate>,
    /// None until the first Tab has put a candidate in.
    shown: Option<usize>,
}

impl Completion {
    /// The candidates for the last word of `line`, or None when there are none.
    pub fn start(line: &str, prompt: Prompt, people: &[KnownPerson]) -> Option<Completion> {
        let (before, word, candidates) = match prompt {
            Prompt::Filter => filter_candidates(line, people),
            Prompt::Command => command_candidates(line, people),
        };
        let lowered = word.to_lowercase();
        let mut candidates: Vec<Candidate> = candidates
            .into_iter()
            .filter(|c| c.offered_for(&lowered) && c.text != word)
            .collect();
        candidates.dedup_by(|a, b| a.text == b.text);
        if candidates.is_empty() {
            return None;
        }
        Some(Completion {
            before,
            candidates,
            shown: None,
        })
    }

    /// Tab: the line with the next candidate.
    pub fn forward(&mut self) -> String {
        let n = self.candidates.len();
        self.shown = Some(self.shown.map_or(0, |i| (i + 1) % n));
        self.line()
    }

    /// Shift-Tab: the line with the previous candidate.
    pub fn backward(&mut self) -> String {
        let n = self.candidates.len();
        self.shown = Some(self.shown.map_or(n - 1, |i| (i + n - 1) % n));
        self.line()
    }

    fn line(&self) -> String {
        let chosen = &self.candidates[self.shown.unwrap_or(0)];
        format!("{}{}", self.before, chosen.text)
    }

    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    pub fn shown(&self) -> Option<usize> {
        self.shown
    }
}

/// Splits off the word being typed: everything after the last space (nothing after a space).
fn last_word(line: &str) -> (&str, &str) {
    match line.rfind(char::is_whitespace) {
        Some(at) => line.split_at(at + 1),
        None => ("", line),
    }
}

fn filter_candidates(line: &str, people: &[KnownPerson]) -> (String, String, Vec<Candidate>) {
    let (before, word) = last_word(line);
    let Some((key, values)) = word.split_once(':') else {
        let keys = KEYS
            .iter()
            .map(|k| Candidate::new(format!("{}:", k.name), k.description))
            .collect();
        return (before.to_string(), word.to_string(), keys);
    };
    // `state:failed,int` completes the item after the last comma.
    let (done, item) = match values.rfind(',') {
        Some(at) => values.split_at(at + 1),
        None => ("", values),
    };
    let prefix = format!("{before}{key}:{done}");
    (prefix, item.to_string(), values_of(key, people))
}

fn values_of(key: &str, people: &[KnownPerson]) -> Vec<Candidate> {
    match key.to_lowercase().as_str() {
        "state" => SyncState::ALL
            .iter()
            .map(|s| Candidate::new(s.as_str(), s.label()))
            .collect(),
        "scope" => [Scope::Failed, Scope::Unsynced, Scope::All]
            .iter()
            .map(|s| Candidate::new(s.as_str(), "a scope of the LMS's sync command"))
            .collect(),
        "cause" => Cause::ALL
            .iter()
            .map(|c| Candidate::new(c.as_str(), c.label()))
            .collect(),
        "is" => vec![Candidate::new(
            "stale",
            "added, but the slot or conference changed since",
        )],
        "user" => person_candidates(people),
        _ => Vec::new(),
    }
}

fn person_candidates(people: &[KnownPerson]) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for person in people {
        for text in [&person.username, &person.email] {
            // A value with a space could not be typed back as one word.
            if !text.is_empty() && !text.contains(char::is_whitespace) {
                candidates.push(Candidate {
                    anywhere: true,
                    ..Candidate::new(text.clone(), person.name.clone())
                });
            }
        }
    }
    candidates
}

fn command_candidates(line: &str, people: &[KnownPerson]) -> (String, String, Vec<Candidate>) {
    let colon = if line.trim_start().starts_with(':') {
        ":"
    } else {
        ""
    };
    let body = line.trim_start().trim_start_matches(':');
    let Some((word, rest)) = body.split_once(char::is_whitespace) else {
        let names = COMMANDS
            .iter()
            .map(|c| Candidate::new(c.name, c.description))
            .collect();
        return (colon.to_string(), body.to_string(), names);
    };
    let Some(command) = COMMANDS
        .iter()
        .find(|c| c.name == word || c.aliases.contains(&word))
    else {
        return (line.to_string(), String::new(), Vec::new());
    };
    let head = format!("{colon}{word} ");
    let rest = rest.trim_start();
    match command.name {
        "filter" => {
            let (before, word, candidates) = filter_candidates(rest, people);
            (format!("{head}{before}"), word, candidates)
        }
        "person" if !rest.contains(char::is_whitespace) => {
            (head, rest.to_string(), person_candidates(people))
        }
        _ if !rest.contains(char::is_whitespace) => {
            let choices = command
                .choices
                .iter()
                .map(|c| Candidate::new(*c, command.args))
                .collect();
            (head, rest.to_string(), choices)
        }
        _ => (line.to_string(), String::new(), Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(line: &str, prompt: Prompt, tabs: usize) -> Vec<String> {
        let mut completion = Completion::start(line, prompt, &people()).unwrap();
        (0..tabs).map(|_| completion.forward()).collect()
    }

    fn people() -> Vec<KnownPerson> {
        vec![
            KnownPerson {
                username: "mrossi".into(),
                email: "mario.rossi@example.org".into(),
                name: "Mario Rossi".into(),
            },
            KnownPerson {
                username: "arossini".into(),
                email: "anna.rossini@example.org".into(),
                name: "Anna Rossini".into(),
            },
        ]
    }

    #[test]
    fn tab_cycles_through_every_command_sharing_a_prefix_and_wraps() {
        let lines = cycle("co", Prompt::Command, 3);
        assert_eq!(lines, ["conferences", "conference", "conferences"]);
    }

    #[test]
    fn shift_tab_goes_the_other_way() {
        let mut completion = Completion::start("co", Prompt::Command, &[]).unwrap();
        assert_eq!(completion.backward(), "conference");
        assert_eq!(completion.backward(), "conferences");
    }

    #[test]
    fn a_command_argument_is_completed_and_the_colon_kept() {
        assert_eq!(cycle(":sync f", Prompt::Command, 1), [":sync failed"]);
        assert_eq!(
            cycle("export ", Prompt::Command, 2),
            ["export csv", "export json"]
        );
    }

    #[test]
    fn a_trailing_space_is_kept_and_starts_a_new_word() {
        let lines = cycle("state:failed ", Prompt::Filter, 2);
        assert_eq!(lines, ["state:failed state:", "state:failed scope:"]);
    }

    #[test]
    fn filter_keys_and_their_values_complete_inside_the_filter_prompt() {
        assert_eq!(cycle("ca", Prompt::Filter, 1), ["cause:"]);
        assert_eq!(
            cycle("user:ann state:failed,in", Prompt::Filter, 1),
            ["user:ann state:failed,interrupted"]
        );
        assert_eq!(cycle("is:", Prompt::Filter, 1), ["is:stale"]);
    }

    #[test]
    fn cause_words_are_offered_with_their_labels() {
        let completion = Completion::start("cause:", Prompt::Filter, &[]).unwrap();
        let offered: Vec<(&str, &str)> = completion
            .candidates()
            .iter()
            .map(|c| (c.text.as_str(), c.label.as_str()))
            .collect();
        assert_eq!(offered.len(), Cause::ALL.len());
        assert!(offered.contains(&("no_mailbox", "No Exchange Online mailbox")));
    }

    #[test]
    fn the_filter_command_completes_like_the_filter_prompt() {
        assert_eq!(
            cycle(":f cause:cred", Prompt::Command, 1),
            [":f cause:credentials"]
        );
    }

    #[test]
    fn known_people_complete_user_and_person_by_any_part_of_them() {
        assert_eq!(
            cycle("user:mar", Prompt::Filter, 2),
            ["user:mrossi", "user:mario.rossi@example.org"],
            "mar is in Mario Rossi's name, so both of his handles are offered"
        );
        assert_eq!(
            cycle(":person rossini", Prompt::Command, 2),
            [":person arossini", ":person anna.rossini@example.org"]
        );
        let people = cycle(":person ", Prompt::Command, 4);
        assert_eq!(
            people,
            [
                ":person mrossi",
                ":person mario.rossi@example.org",
                ":person arossini",
                ":person anna.rossini@example.org"
            ]
        );
    }

    #[test]
    fn nothing_to_offer_is_no_completion() {
        assert!(Completion::start("zzz", Prompt::Command, &[]).is_none());
        assert!(Completion::start("platform:", Prompt::Filter, &[]).is_none());
        assert!(Completion::start(":quit now", Prompt::Command, &[]).is_none());
        // A word already complete offers nothing more than itself.
        assert!(Completion::start("is:stale", Prompt::Filter, &[]).is_none());
    }
}
