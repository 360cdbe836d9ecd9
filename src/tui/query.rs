//! The console's two text inputs: the `/` quick filter (compiled to a store Filter, and from
//! there to bound SQL) and the `:` command line.

use chrono::{DateTime, Utc};

use crate::domain::{Filter, Scope, SyncState};

/// Compiles the quick-filter text. Words are free text; `state:` narrows by state.
pub fn compile(text: &str, _now: DateTime<Utc>) -> Result<Filter, String> {
    let mut filter = Filter::default();
    let mut words = Vec::new();
    for word in text.split_whitespace() {
        match word.split_once(':') {
            Some(("state", states)) => {
                for name in states.split(',') {
                    filter.states.push(
                        SyncState::parse(name).ok_or_else(|| format!("unknown state '{name}'"))?,
                    );
                }
            }
            _ => words.push(word),
        }
    }
    if !words.is_empty() {
        filter.text = Some(words.join(" "));
    }
    Ok(filter)
}

/// A view's own narrowing plus what the operator typed; the view's own wins where both speak.
pub fn combine(base: &Filter, typed: &Filter) -> Filter {
    let mut combined = typed.clone();
    combined.conference_id = base.conference_id.or(typed.conference_id);
    combined.slot_id = base.slot_id.or(typed.slot_id);
    combined.user_id = base.user_id.or(typed.user_id);
    combined
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleCommand {
    Quit,
    Help,
    Overview,
    Conferences,
    Failed,
    Filter(String),
    /// A user id, username or email.
    Person(String),
    Conference(i64),
    Selection(i64),
    Sync(Scope),
    Export(String),
    Refresh,
}

pub fn command(line: &str) -> Result<ConsoleCommand, String> {
    let line = line.trim().trim_start_matches(':');
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    let number = |what: &str| {
        rest.parse::<i64>()
            .map_err(|_| format!("{what} needs a number, e.g. :{word} 12"))
    };
    Ok(match word {
        "q" | "quit" => ConsoleCommand::Quit,
        "help" | "h" => ConsoleCommand::Help,
        "overview" | "o" => ConsoleCommand::Overview,
        "conferences" | "confs" => ConsoleCommand::Conferences,
        "failed" => ConsoleCommand::Failed,
        "f" | "filter" => ConsoleCommand::Filter(rest.to_string()),
        "p" | "person" if !rest.is_empty() => ConsoleCommand::Person(rest.to_string()),
        "conference" | "conf" => ConsoleCommand::Conference(number("conference")?),
        "sel" | "selection" => ConsoleCommand::Selection(number("selection")?),
        "sync" => ConsoleCommand::Sync(match rest {
            "" | "failed" => Scope::Failed,
            "unsynced" => Scope::Unsynced,
            "all" => Scope::All,
            other => {
                return Err(format!(
                    "unknown sync scope '{other}' (failed, unsynced, all)"
                ));
            }
        }),
        "export" => ConsoleCommand::Export(match rest {
            "" | "csv" => "csv".to_string(),
            "json" => "json".to_string(),
            other => return Err(format!("unknown export format '{other}' (csv, json)")),
        }),
        "refresh" | "r" => ConsoleCommand::Refresh,
        "" => return Err("type a command, e.g. :failed".to_string()),
        other => return Err(format!("unknown command '{other}' (tab completes)")),
    })
}

const WORDS: [&str; 11] = [
    "conference",
    "conferences",
    "export",
    "failed",
    "filter",
    "help",
    "overview",
    "person",
    "quit",
    "refresh",
    "sync",
];

/// Completes the command word when the typed prefix names exactly one.
pub fn complete_command(text: &str) -> Option<String> {
    let prefix = text.trim_start_matches(':');
    let matches: Vec<&str> = WORDS
        .iter()
        .copied()
        .filter(|w| w.starts_with(prefix))
        .collect();
    match matches.as_slice() {
        [one] => Some(format!("{one} ")),
        _ => None,
    }
}
