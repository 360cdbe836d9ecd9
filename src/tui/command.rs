//! The console's `:` command line, k9s-style: `:q`, `:failed`, `:conf 12`, `:p ann@x.org`,
//! `:sync failed`, `:export csv /tmp/x.csv`, `:f state:failed user:ann`.
//!
//! [`COMMANDS`] is the one table behind parsing, completion and the help screen.

/// What the operator asked for on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Quit,
    Help,
    Overview,
    Conferences,
    Conference(i64),
    /// A user id, username or email, as typed.
    Person(String),
    Selection(i64),
    /// A quick-filter query as typed, for `domain::query::parse_query` (which needs the time).
    Filter(String),
    ClearFilter,
    /// The selections whose state is failed (`state:failed`).
    Failed,
    Sync(SyncScope),
    Export {
        format: ExportFormat,
        path: Option<String>,
    },
    Refresh,
    ReadOnly,
    Audit,
    Verify,
    /// The worker screens: registered workers, the retry schedule, the parked set.
    Workers,
    Retries,
    Parked,
    /// `None`: the scope of the screen it is typed on.
    Reconcile(Option<crate::domain::ledger::LedgerScope>),
}

/// Which selections `:sync` works on: the LMS command's scopes, or the rows marked in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncScope {
    Failed,
    Unsynced,
    All,
    Marked,
}

impl SyncScope {
    pub const ALL: [SyncScope; 4] = [
        SyncScope::Failed,
        SyncScope::Unsynced,
        SyncScope::All,
        SyncScope::Marked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncScope::Failed => "failed",
            SyncScope::Unsynced => "unsynced",
            SyncScope::All => "all",
            SyncScope::Marked => "marked",
        }
    }

    pub fn parse(name: &str) -> Option<SyncScope> {
        SyncScope::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// In [`SyncScope::ALL`] order; also what completion offers after `:sync`.
const SYNC_SCOPES: &[&str] = &["failed", "unsynced", "all", "marked"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 2] = [ExportFormat::Csv, ExportFormat::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }

    pub fn parse(name: &str) -> Option<ExportFormat> {
        ExportFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// In [`ExportFormat::ALL`] order; also what completion offers after `:export`.
const EXPORT_FORMATS: &[&str] = &["csv", "json"];

/// One command: how it is typed, what it does, and how its arguments are read.
#[derive(Debug, Clone, Copy)]
pub struct CommandHelp {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// Usage of the arguments, e.g. `<csv|json> [path]` (empty when there are none).
    pub args: &'static str,
    pub description: &'static str,
    /// The fixed values of the first argument, offered by [`complete`].
    pub choices: &'static [&'static str],
    /// Reads the arguments (the rest of the line, trimmed); the error says what is wrong.
    build: fn(&str) -> Result<Command, String>,
}

pub const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        name: "quit",
        aliases: &["q", "q!", "exit"],
        args: "",
        description: "Leave calsync",
        choices: &[],
        build: |args| no_args(args, Command::Quit),
    },
    CommandHelp {
        name: "help",
        aliases: &["h", "?"],
        args: "",
        description: "Keys, commands and the filter syntax",
        choices: &[],
        build: |args| no_args(args, Command::Help),
    },
    CommandHelp {
        name: "overview",
        aliases: &["home", "ov"],
        args: "",
        description: "Counts by sync state and failures grouped by cause",
        choices: &[],
        build: |args| no_args(args, Command::Overview),
    },
    CommandHelp {
        name: "conferences",
        aliases: &["confs"],
        args: "",
        description: "Conferences with the sync counts of their selections",
        choices: &[],
        build: |args| no_args(args, Command::Conferences),
    },
    CommandHelp {
        name: "conference",
        aliases: &["conf", "c"],
        args: "[id]",
        description: "One conference's slots and selections (without an id: all conferences)",
        choices: &[],
        build: |args| {
            if args.is_empty() {
                Ok(Command::Conferences)
            } else {
                id(args, "conference").map(Command::Conference)
            }
        },
    },
    CommandHelp {
        name: "person",
        aliases: &["p", "user", "u"],
        args: "<id|username|email>",
        description: "One person's selections",
        choices: &[],
        build: |args| required(args, "a user id, username or email").map(Command::Person),
    },
    CommandHelp {
        name: "selection",
        aliases: &["sel", "s"],
        args: "<id>",
        description: "One selection with its error diagnosed",
        choices: &[],
        build: |args| id(args, "selection").map(Command::Selection),
    },
    CommandHelp {
        name: "filter",
        aliases: &["f"],
        args: "<query>",
        description: "Filter the selections, e.g. state:failed user:ann since:24h",
        choices: &[],
        build: |args| required(args, "a query, e.g. state:failed user:ann").map(Command::Filter),
    },
    CommandHelp {
        name: "clear",
        aliases: &["nofilter"],
        args: "",
        description: "Remove the filter",
        choices: &[],
        build: |args| no_args(args, Command::ClearFilter),
    },
    CommandHelp {
        name: "failed",
        aliases: &["failures"],
        args: "",
        description: "The failed selections (the filter state:failed)",
        choices: &[],
        build: |args| no_args(args, Command::Failed),
    },
    CommandHelp {
        name: "sync",
        aliases: &[],
        args: "<failed|unsynced|all|marked>",
        description: "Sync selections to Outlook: a scope of the LMS's command, or the marked rows",
        choices: SYNC_SCOPES,
        build: |args| {
            SyncScope::parse(args)
                .map(Command::Sync)
                .ok_or_else(|| one_of("a scope", args, SYNC_SCOPES))
        },
    },
    CommandHelp {
        name: "export",
        aliases: &["save"],
        args: "<csv|json> [path]",
        description: "Write the filtered selections to a file",
        choices: EXPORT_FORMATS,
        build: export,
    },
    CommandHelp {
        name: "refresh",
        aliases: &["r", "reload"],
        args: "",
        description: "Read the database again",
        choices: &[],
        build: |args| no_args(args, Command::Refresh),
    },
    CommandHelp {
        name: "audit",
        aliases: &["log"],
        args: "",
        description: "The audit log: who synced, reconciled or verified what, and how it ended",
        choices: &[],
        build: |args| no_args(args, Command::Audit),
    },
    CommandHelp {
        name: "verify",
        aliases: &["check"],
        args: "",
        description: "Check that the events of the marked or listed added selections still exist",
        choices: &[],
        build: |args| no_args(args, Command::Verify),
    },
    CommandHelp {
        name: "reconcile",
        aliases: &["orphans"],
        args: "[user N | conf N]",
        description: "Orphaned and duplicated events: find them, then delete on confirmation",
        choices: &[],
        build: reconcile,
    },
    CommandHelp {
        name: "workers",
        aliases: &["worker"],
        args: "",
        description: "The running `calsync worker`s: host, pid, heartbeat, last pass, counts",
        choices: &[],
        build: |args| no_args(args, Command::Workers),
    },
    CommandHelp {
        name: "retries",
        aliases: &["schedule"],
        args: "",
        description: "The worker's retry schedule (r retries now, P parks)",
        choices: &[],
        build: |args| no_args(args, Command::Retries),
    },
    CommandHelp {
        name: "parked",
        aliases: &["dead"],
        args: "",
        description: "Parked failures by cause, with what to fix (r retries now)",
        choices: &[],
        build: |args| no_args(args, Command::Parked),
    },
    CommandHelp {
        name: "readonly",
        aliases: &["ro"],
        args: "",
        description: "Read-only mode for the rest of the session: nothing is synced or written",
        choices: &[],
        build: |args| no_args(args, Command::ReadOnly),
    },
];

fn no_args(args: &str, command: Command) -> Result<Command, String> {
    if args.is_empty() {
        Ok(command)
    } else {
        Err(format!("takes no arguments, got '{args}'"))
    }
}

fn required(args: &str, what: &str) -> Result<String, String> {
    if args.is_empty() {
        Err(format!("needs {what}"))
    } else {
        Ok(args.to_string())
    }
}

fn id(args: &str, what: &str) -> Result<i64, String> {
    if args.is_empty() {
        return Err(format!("needs a {what} id"));
    }
    args.parse::<i64>()
        .ok()
        .filter(|_| args.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("'{args}' is not a {what} id (a number)"))
}

fn one_of(what: &str, got: &str, choices: &[&str]) -> String {
    if got.is_empty() {
        format!("needs {what}: {}", choices.join(", "))
    } else {
        format!("'{got}' is not {what}; use {}", choices.join(", "))
    }
}

fn export(args: &str) -> Result<Command, String> {
    let (format, path) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let format =
        ExportFormat::parse(format).ok_or_else(|| one_of("a format", format, EXPORT_FORMATS))?;
    let path = path.trim();
    // A path with spaces may be quoted, as in a shell.
    let path = path
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(path);
    Ok(Command::Export {
        format,
        path: (!path.is_empty()).then(|| path.to_string()),
    })
}

/// `:reconcile`, `:reconcile user 7`, `:reconcile conf 12`.
fn reconcile(args: &str) -> Result<Command, String> {
    use crate::domain::ledger::LedgerScope;
    if args.is_empty() {
        return Ok(Command::Reconcile(None));
    }
    let (what, id) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| format!("'{args}': use user N or conf N"))?;
    match what {
        "user" => Ok(Command::Reconcile(Some(LedgerScope {
            user_id: Some(id),
            conference_id: None,
        }))),
        "conf" | "conference" => Ok(Command::Reconcile(Some(LedgerScope {
            user_id: None,
            conference_id: Some(id),
        }))),
        _ => Err(format!("'{args}': use user N or conf N")),
    }
}

fn find(word: &str) -> Option<&'static CommandHelp> {
    let word = word.to_lowercase();
    COMMANDS
        .iter()
        .find(|c| c.name == word || c.aliases.contains(&word.as_str()))
}

/// Splits `:word args` (the `:` is optional) into the command word and its trimmed arguments.
fn split(line: &str) -> (&str, &str) {
    let line = line.trim();
    let line = line.strip_prefix(':').unwrap_or(line).trim_start();
    match line.split_once(char::is_whitespace) {
        Some((word, args)) => (word, args.trim()),
        None => (line, ""),
    }
}

/// Reads one command line; the error is one line to show under it.
pub fn parse_command(line: &str) -> Result<Command, String> {
    let (word, args) = split(line);
    if word.is_empty() {
        return Err("type a command, or :help for the list".to_string());
    }
    let command =
        find(word).ok_or_else(|| format!("unknown command ':{word}' (:help lists them)"))?;
    (command.build)(args).map_err(|problem| {
        let usage = format!("{} {}", command.name, command.args);
        format!(":{word} {problem} (usage: :{})", usage.trim_end())
    })
}

/// Completions of the line as typed: command names for the first word (an alias completes to
/// its command), then the fixed values of the first argument (`:sync f` → `:sync failed`).
/// Whole lines, sorted, without duplicates; empty when there is nothing to offer.
pub fn complete(line: &str) -> Vec<String> {
    let (colon, body) = match line.trim_start().strip_prefix(':') {
        Some(rest) => (":", rest.trim_start()),
        None => ("", line.trim_start()),
    };
    let mut completions: Vec<String> = match body.split_once(char::is_whitespace) {
        None => {
            let typed = body.to_lowercase();
            COMMANDS
                .iter()
                .filter(|c| {
                    c.name.starts_with(&typed) || c.aliases.iter().any(|a| a.starts_with(&typed))
                })
                .map(|c| format!("{colon}{}", c.name))
                .collect()
        }
        Some((word, rest)) => {
            let typed = rest.trim_start().to_lowercase();
            match find(word) {
                Some(command) if !typed.contains(char::is_whitespace) => command
                    .choices
                    .iter()
                    .filter(|choice| choice.starts_with(&typed))
                    .map(|choice| format!("{colon}{word} {choice}"))
                    .collect(),
                _ => Vec::new(),
            }
        }
    };
    completions.sort();
    completions.dedup();
    completions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Command {
        parse_command(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn error(line: &str) -> String {
        match parse_command(line) {
            Ok(command) => panic!("{line} parsed as {command:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn k9s_style_aliases_parse() {
        let cases = [
            (":q", Command::Quit),
            (":quit", Command::Quit),
            ("q!", Command::Quit),
            (":help", Command::Help),
            (":?", Command::Help),
            (":overview", Command::Overview),
            (":conferences", Command::Conferences),
            (":conf", Command::Conferences),
            (":conference 12", Command::Conference(12)),
            (":conf 12", Command::Conference(12)),
            (":person ann@x.org", Command::Person("ann@x.org".into())),
            (":p ann", Command::Person("ann".into())),
            (":p Ann Other", Command::Person("Ann Other".into())),
            (":sel 42", Command::Selection(42)),
            (":failed", Command::Failed),
            (":clear", Command::ClearFilter),
            (":sync failed", Command::Sync(SyncScope::Failed)),
            (":sync marked", Command::Sync(SyncScope::Marked)),
            (":sync ALL", Command::Sync(SyncScope::All)),
            (":refresh", Command::Refresh),
            (":ro", Command::ReadOnly),
            (
                ":f state:failed user:ann",
                Command::Filter("state:failed user:ann".into()),
            ),
            (
                ":filter  error:\"Read timed out\" ",
                Command::Filter("error:\"Read timed out\"".into()),
            ),
        ];
        for (line, command) in cases {
            assert_eq!(parse(line), command, "{line}");
        }
    }

    #[test]
    fn the_colon_case_and_spaces_around_are_optional() {
        assert_eq!(parse("  :  QUIT  "), Command::Quit);
        assert_eq!(parse("Sel\t42"), Command::Selection(42));
    }

    #[test]
    fn export_takes_a_format_and_an_optional_path() {
        assert_eq!(
            parse(":export csv /tmp/x.csv"),
            Command::Export {
                format: ExportFormat::Csv,
                path: Some("/tmp/x.csv".into())
            }
        );
        assert_eq!(
            parse(":save JSON"),
            Command::Export {
                format: ExportFormat::Json,
                path: None
            }
        );
        assert_eq!(
            parse(":export json \"/tmp/my failures.json\""),
            Command::Export {
                format: ExportFormat::Json,
                path: Some("/tmp/my failures.json".into())
            }
        );
        assert_eq!(
            parse(":export csv /tmp/Échecs 会議.csv"),
            Command::Export {
                format: ExportFormat::Csv,
                path: Some("/tmp/Échecs 会議.csv".into())
            }
        );
    }

    #[test]
    fn mistakes_get_one_line_that_says_what_to_type() {
        assert_eq!(error(":"), "type a command, or :help for the list");
        assert_eq!(
            error(":frobnicate"),
            "unknown command ':frobnicate' (:help lists them)"
        );
        assert_eq!(
            error(":conf twelve"),
            ":conf 'twelve' is not a conference id (a number) (usage: :conference [id])"
        );
        assert_eq!(
            error(":sel -4"),
            ":sel '-4' is not a selection id (a number) (usage: :selection <id>)"
        );
        assert_eq!(
            error(":sel"),
            ":sel needs a selection id (usage: :selection <id>)"
        );
        assert_eq!(
            error(":p"),
            ":p needs a user id, username or email (usage: :person <id|username|email>)"
        );
        assert_eq!(
            error(":sync"),
            ":sync needs a scope: failed, unsynced, all, marked (usage: :sync <failed|unsynced|all|marked>)"
        );
        assert_eq!(
            error(":sync everything"),
            ":sync 'everything' is not a scope; use failed, unsynced, all, marked (usage: :sync <failed|unsynced|all|marked>)"
        );
        assert_eq!(
            error(":export xml"),
            ":export 'xml' is not a format; use csv, json (usage: :export <csv|json> [path])"
        );
        assert_eq!(
            error(":q now"),
            ":q takes no arguments, got 'now' (usage: :quit)"
        );
        assert_eq!(
            error(":f"),
            ":f needs a query, e.g. state:failed user:ann (usage: :filter <query>)"
        );
    }

    #[test]
    fn completion_offers_command_names_then_fixed_arguments() {
        assert_eq!(complete(":sy"), vec![":sync"]);
        assert_eq!(complete("con"), vec!["conference", "conferences"]);
        // An alias completes to its command; several aliases of one command give it once.
        assert_eq!(complete(":q"), vec![":quit"]);
        assert_eq!(
            complete(":r"),
            vec![":readonly", ":reconcile", ":refresh", ":retries"]
        );
        assert_eq!(
            complete(":sync "),
            vec![
                ":sync all",
                ":sync failed",
                ":sync marked",
                ":sync unsynced"
            ]
        );
        assert_eq!(complete(":sync f"), vec![":sync failed"]);
        assert_eq!(complete(":save j"), vec![":save json"]);
        assert!(complete(":export csv /tm").is_empty());
        assert!(complete(":sel 4").is_empty());
        assert!(complete(":zz").is_empty());
        assert!(complete(":會").is_empty());
        let all = complete("");
        assert_eq!(all.len(), COMMANDS.len());
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_table_is_consistent() {
        let mut words: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
            .collect();
        let count = words.len();
        words.sort();
        words.dedup();
        assert_eq!(words.len(), count, "a name or alias is used twice");
        for command in COMMANDS {
            assert!(!command.description.is_empty(), "{}", command.name);
            assert_eq!(command.name, command.name.to_lowercase());
            // Every command parses by its name, with its first choice when it needs one.
            let line = match command.choices.first() {
                Some(choice) => format!("{} {choice}", command.name),
                None if command.args.starts_with('<') => format!("{} 1", command.name),
                None => command.name.to_string(),
            };
            assert!(parse_command(&line).is_ok(), "{line}");
        }
        // Completion offers exactly what parses.
        assert_eq!(SyncScope::ALL.map(SyncScope::as_str), SYNC_SCOPES);
        assert_eq!(ExportFormat::ALL.map(ExportFormat::as_str), EXPORT_FORMATS);
    }
}
