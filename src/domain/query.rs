//! The console's quick filter language: `state:failed conf:12 user:ann since:24h timeout`.
//!
//! A query is words separated by spaces. `key:value` narrows one field of [`Filter`]; any other
//! word is free text (all of them joined with single spaces, matched as one substring). Double
//! quotes group spaces into one word or value (`error:"Read timed out"`, `"Ann Other"`), and a
//! quoted word is never a key, so `"state:failed"` searches for that text. Inside quotes, `\"`
//! is a quote and `\\` a backslash. [`describe`] writes a filter back in the same syntax.

use chrono::{DateTime, SecondsFormat, Timelike, Utc};

use super::{Cause, Filter, Scope, SyncState, parse_when};

/// What a key sets, for the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    State,
    Scope,
    Conference,
    Slot,
    User,
    Id,
    Platform,
    Role,
    Cause,
    Error,
    Since,
    Until,
    Is,
}

/// One key of the language, as the help screen lists it.
#[derive(Debug, Clone, Copy)]
pub struct QueryKey {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub example: &'static str,
    pub description: &'static str,
    field: Field,
}

/// Every key, in the order [`describe`] writes them.
pub const KEYS: &[QueryKey] = &[
    QueryKey {
        name: "state",
        aliases: &[],
        example: "state:failed,interrupted",
        description: "any of these sync states",
        field: Field::State,
    },
    QueryKey {
        name: "scope",
        aliases: &[],
        example: "scope:failed",
        description: "a scope of the LMS's sync command: failed, unsynced or all",
        field: Field::Scope,
    },
    QueryKey {
        name: "conf",
        aliases: &["conference"],
        example: "conf:12",
        description: "the conference with this id",
        field: Field::Conference,
    },
    QueryKey {
        name: "slot",
        aliases: &[],
        example: "slot:7",
        description: "the time slot with this id",
        field: Field::Slot,
    },
    QueryKey {
        name: "user",
        aliases: &[],
        example: "user:ann",
        description: "a user id, or text in the username, full name or email (quote digits to \
                      search them as text)",
        field: Field::User,
    },
    QueryKey {
        name: "id",
        aliases: &[],
        example: "id:42,43",
        description: "these selection ids",
        field: Field::Id,
    },
    QueryKey {
        name: "platform",
        aliases: &[],
        example: "platform:zoom",
        description: "the conference's meeting platform",
        field: Field::Platform,
    },
    QueryKey {
        name: "role",
        aliases: &[],
        example: "role:learner",
        description: "the user's role",
        field: Field::Role,
    },
    QueryKey {
        name: "cause",
        aliases: &[],
        example: "cause:no_mailbox,credentials",
        description: "any of these failure causes",
        field: Field::Cause,
    },
    QueryKey {
        name: "error",
        aliases: &[],
        example: "error:\"ErrorInvalidUser\"",
        description: "text in the error",
        field: Field::Error,
    },
    QueryKey {
        name: "since",
        aliases: &[],
        example: "since:24h",
        description: "attempted at or after: an age (30m, 24h, 7d, 2w), a date or an RFC 3339 time",
        field: Field::Since,
    },
    QueryKey {
        name: "until",
        aliases: &[],
        example: "until:2026-01-01",
        description: "attempted before: an age, a date or an RFC 3339 time",
        field: Field::Until,
    },
    QueryKey {
        name: "is",
        aliases: &[],
        example: "is:stale",
        description: "stale: added, but the slot or conference changed after the event was written",
        field: Field::Is,
    },
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(
        "unknown filter key '{key}:' (valid keys: {}); to search for text with ':' in it, put \
         it in double quotes",
        key_names()
    )]
    UnknownKey { key: String },
    #[error("'{key}:' needs a value, e.g. {example}")]
    MissingValue { key: String, example: &'static str },
    #[error("'{key}:{value}': {problem}")]
    BadValue {
        key: String,
        value: String,
        problem: String,
    },
    #[error("'{key}:' is given twice with different values ('{first}' and '{second}')")]
    Conflict {
        key: String,
        first: String,
        second: String,
    },
    #[error("a double quote is not closed")]
    UnclosedQuote,
}

fn key_names() -> String {
    KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// One word of a query: an optional key and its value (or a free-text word).
#[derive(Debug, Default)]
struct Word {
    key: Option<String>,
    value: String,
    /// Some part of the value was in quotes (so `user:"42"` is text, not an id).
    quoted: bool,
}

fn words(text: &str) -> Result<Vec<Word>, QueryError> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = Word::default();
        // Only an unquoted `name:` at the start of a word is a key; later colons are text.
        let mut may_be_key = true;
        while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
            match c {
                '"' => {
                    may_be_key = false;
                    word.quoted = true;
                    read_quoted(&mut chars, &mut word.value)?;
                }
                ':' if may_be_key && is_key_shaped(&word.value) => {
                    may_be_key = false;
                    word.key = Some(std::mem::take(&mut word.value));
                }
                _ => {
                    may_be_key &= c != ':';
                    word.value.push(c);
                }
            }
        }
        words.push(word);
    }
}

/// Reads up to the closing quote (the opening one is consumed).
fn read_quoted(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    into: &mut String,
) -> Result<(), QueryError> {
    while let Some(c) = chars.next() {
        match c {
            '"' => return Ok(()),
            '\\' if matches!(chars.peek(), Some('"' | '\\')) => {
                into.extend(chars.next());
            }
            _ => into.push(c),
        }
    }
    Err(QueryError::UnclosedQuote)
}

fn is_key_shaped(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
}

/// Parses a quick-filter query; `now` anchors ages such as `since:24h`. Empty text is the
/// empty filter.
pub fn parse_query(text: &str, now: DateTime<Utc>) -> Result<Filter, QueryError> {
    let mut filter = Filter::default();
    let mut free_text = Vec::new();
    for word in words(text)? {
        let Some(key) = word.key.as_deref() else {
            if !word.value.is_empty() {
                free_text.push(word.value);
            }
            continue;
        };
        let lowered = key.to_ascii_lowercase();
        let spec = KEYS
            .iter()
            .find(|k| k.name == lowered || k.aliases.contains(&lowered.as_str()))
            .ok_or_else(|| QueryError::UnknownKey {
                key: key.to_string(),
            })?;
        if word.value.is_empty() {
            return Err(QueryError::MissingValue {
                key: key.to_string(),
                example: spec.example,
            });
        }
        apply(&mut filter, spec.field, key, &word, now)?;
    }
    if !free_text.is_empty() {
        filter.text = Some(free_text.join(" "));
    }
    Ok(filter)
}

fn apply(
    filter: &mut Filter,
    field: Field,
    key: &str,
    word: &Word,
    now: DateTime<Utc>,
) -> Result<(), QueryError> {
    let value = word.value.as_str();
    let bad = |problem: String| QueryError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
        problem,
    };
    match field {
        Field::State => {
            let states = list(value, SyncState::parse).map_err(|name| {
                bad(format!(
                    "'{name}' is not a state; states are {}",
                    names(SyncState::ALL.map(SyncState::as_str))
                ))
            })?;
            extend_unique(&mut filter.states, states);
        }
        Field::Scope => {
            let scope = Scope::parse(value).ok_or_else(|| {
                bad(format!(
                    "scopes are {}",
                    names(Scope::ALL.map(Scope::as_str))
                ))
            })?;
            set_once(&mut filter.scope, scope, key, |s| s.as_str().to_string())?;
        }
        Field::Conference => {
            let id = parse_id(value).ok_or_else(|| bad("a conference id is a number".into()))?;
            set_once(&mut filter.conference_id, id, key, i64::to_string)?;
        }
        Field::Slot => {
            let id = parse_id(value).ok_or_else(|| bad("a slot id is a number".into()))?;
            set_once(&mut filter.slot_id, id, key, i64::to_string)?;
        }
        Field::User => match parse_id(value).filter(|_| !word.quoted) {
            Some(id) => set_once(&mut filter.user_id, id, key, i64::to_string)?,
            None => set_once(&mut filter.person, value.to_string(), key, String::clone)?,
        },
        Field::Id => {
            let ids = list(value, parse_id)
                .map_err(|id| bad(format!("'{id}' is not a selection id (a number)")))?;
            extend_unique(&mut filter.selection_ids, ids);
        }
        Field::Platform => {
            set_once(&mut filter.platform, value.to_string(), key, String::clone)?;
        }
        Field::Role => set_once(&mut filter.role, value.to_string(), key, String::clone)?,
        Field::Error => set_once(&mut filter.error, value.to_string(), key, String::clone)?,
        Field::Cause => {
            let causes = list(value, Cause::parse).map_err(|name| {
                bad(format!(
                    "'{name}' is not a cause; causes are {}",
                    names(Cause::ALL.map(Cause::as_str))
                ))
            })?;
            extend_unique(&mut filter.causes, causes);
        }
        Field::Since => {
            let at = parse_when(value, now).map_err(bad)?;
            set_once(&mut filter.attempted_since, at, key, format_time)?;
        }
        Field::Until => {
            let at = parse_when(value, now).map_err(bad)?;
            set_once(&mut filter.attempted_until, at, key, format_time)?;
        }
        Field::Is => {
            if value.trim().eq_ignore_ascii_case("stale") {
                filter.stale = true;
            } else {
                return Err(bad(format!(
                    "'{value}' is not something a selection is; try is:stale"
                )));
            }
        }
    }
    Ok(())
}

/// Parses `a,b,c` (empty items skipped); the first item that does not parse is the error.
fn list<T>(value: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| parse(item).ok_or_else(|| item.to_string()))
        .collect()
}

fn parse_id(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn names<const N: usize>(names: [&str; N]) -> String {
    names.join(", ")
}

fn extend_unique<T: PartialEq>(into: &mut Vec<T>, items: Vec<T>) {
    for item in items {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

/// A key given twice must agree with itself: one filter has one conference, one `since`, ….
fn set_once<T: PartialEq>(
    slot: &mut Option<T>,
    value: T,
    key: &str,
    show: impl Fn(&T) -> String,
) -> Result<(), QueryError> {
    match slot {
        Some(existing) if *existing != value => Err(QueryError::Conflict {
            key: key.to_string(),
            first: show(existing),
            second: show(&value),
        }),
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// A date alone at midnight UTC, else RFC 3339 in UTC with as many fractional digits as needed;
/// both read back to the same instant.
fn format_time(at: &DateTime<Utc>) -> String {
    if at.time().num_seconds_from_midnight() == 0 && at.time().nanosecond() == 0 {
        at.format("%Y-%m-%d").to_string()
    } else {
        at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

/// Writes a filter in the query syntax, keys in [`KEYS`] order and free text last, so that
/// `parse_query(&describe(f), now) == Ok(f)` for any filter the language can express (it cannot
/// express empty strings or repeated list items). The empty filter is `""`.
pub fn describe(filter: &Filter) -> String {
    let mut tokens = Vec::new();
    let mut push = |key: &str, value: String| tokens.push(format!("{key}:{value}"));
    if !filter.states.is_empty() {
        push("state", join(filter.states.iter().map(|s| s.as_str())));
    }
    if let Some(scope) = filter.scope {
        push("scope", scope.as_str().to_string());
    }
    if let Some(id) = filter.conference_id {
        push("conf", id.to_string());
    }
    if let Some(id) = filter.slot_id {
        push("slot", id.to_string());
    }
    if let Some(id) = filter.user_id {
        push("user", id.to_string());
    }
    if let Some(person) = &filter.person {
        // Digits alone would read back as a user id.
        let digits = parse_id(person).is_some();
        push("user", quote_if_needed(person, digits));
    }
    if !filter.selection_ids.is_empty() {
        push("id", join(filter.selection_ids.iter().map(i64::to_string)));
    }
    for (key, value) in [("platform", &filter.platform), ("role", &filter.role)] {
        if let Some(value) = value {
            push(key, quote_if_needed(value, false));
        }
    }
    if !filter.causes.is_empty() {
        push("cause", join(filter.causes.iter().map(|c| c.as_str())));
    }
    if let Some(error) = &filter.error {
        push("error", quote_if_needed(error, false));
    }
    if let Some(at) = &filter.attempted_since {
        push("since", format_time(at));
    }
    if let Some(at) = &filter.attempted_until {
        push("until", format_time(at));
    }
    if filter.stale {
        push("is", "stale".to_string());
    }
    if let Some(text) = &filter.text {
        tokens.push(free_text(text));
    }
    tokens.join(" ")
}

fn join<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    items
        .map(|item| item.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn quote_if_needed(value: &str, always: bool) -> String {
    let plain = !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c == '"');
    if plain && !always {
        value.to_string()
    } else {
        quote(value)
    }
}

/// Free text stays bare when it reads back as the same words; else it is one quoted phrase.
fn free_text(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let bare = words.join(" ") == text && !text.contains([':', '"']);
    if bare { text.to_string() } else { quote(text) }
}

fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap()
    }

    fn parse(text: &str) -> Filter {
        parse_query(text, now()).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn error(text: &str) -> String {
        match parse_query(text, now()) {
            Ok(filter) => panic!("{text} parsed as {filter:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_input_is_the_empty_filter() {
        assert!(parse("").is_empty());
        assert!(parse("   \t ").is_empty());
        assert_eq!(describe(&Filter::default()), "");
    }

    #[test]
    fn every_key_sets_its_field() {
        let f = parse(
            "state:failed,interrupted conf:12 slot:7 user:ann id:42,43 platform:zoom \
             role:learner error:\"ErrorInvalidUser\" cause:no_mailbox,throttled since:24h \
             until:2026-01-01 scope:unsynced",
        );
        assert_eq!(
            f,
            Filter {
                states: vec![SyncState::Failed, SyncState::Interrupted],
                scope: Some(Scope::Unsynced),
                conference_id: Some(12),
                slot_id: Some(7),
                person: Some("ann".into()),
                selection_ids: vec![42, 43],
                platform: Some("zoom".into()),
                role: Some("learner".into()),
                error: Some("ErrorInvalidUser".into()),
                causes: vec![Cause::NoMailbox, Cause::Throttled],
                attempted_since: Some(now() - Duration::hours(24)),
                attempted_until: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
                ..Filter::default()
            }
        );
    }

    #[test]
    fn keys_and_names_are_case_insensitive_and_have_aliases() {
        assert_eq!(parse("conference:12"), parse("conf:12"));
        assert_eq!(parse("STATE:Failed"), parse("state:failed"));
        assert_eq!(
            parse("state:stale_error").states,
            vec![SyncState::AddedStaleError]
        );
        assert_eq!(parse("cause:Time-Zone").causes, vec![Cause::TimeZone]);
    }

    #[test]
    fn a_numeric_user_is_an_id_and_a_quoted_one_is_text() {
        assert_eq!(parse("user:5").user_id, Some(5));
        assert_eq!(parse("user:5").person, None);
        assert_eq!(parse("user:\"5\"").person.as_deref(), Some("5"));
        assert_eq!(parse("user:ann@x.org").person.as_deref(), Some("ann@x.org"));
        let both = parse("user:5 user:ann");
        assert_eq!(
            (both.user_id, both.person.as_deref()),
            (Some(5), Some("ann"))
        );
    }

    #[test]
    fn other_words_are_free_text_joined_by_single_spaces() {
        assert_eq!(
            parse("read  timed\tout").text.as_deref(),
            Some("read timed out")
        );
        assert_eq!(
            parse("state:failed Zoom clinic").text.as_deref(),
            Some("Zoom clinic")
        );
        assert_eq!(parse("10:00").text.as_deref(), Some("10:00"));
        assert_eq!(parse("Échec: x").text.as_deref(), Some("Échec: x"));
    }

    #[test]
    fn quotes_group_spaces_and_are_never_keys() {
        assert_eq!(
            parse("error:\"Read timed out\"").error.as_deref(),
            Some("Read timed out")
        );
        assert_eq!(
            parse("\"state:failed\"").text.as_deref(),
            Some("state:failed")
        );
        assert_eq!(parse("\"Ann  Other\"").text.as_deref(), Some("Ann  Other"));
        assert_eq!(
            parse(r#"error:"say \"hi\" \\o/""#).error.as_deref(),
            Some(r#"say "hi" \o/"#)
        );
        assert_eq!(parse(r"error:C:\temp").error.as_deref(), Some(r"C:\temp"));
        assert_eq!(parse("error:a\"b c\"d").error.as_deref(), Some("ab cd"));
        assert_eq!(parse("error:404 \"\"").text, None);
    }

    #[test]
    fn unicode_survives_in_values_and_text() {
        let f = parse("user:zoë error:\"会議 — Échec\" café 会議");
        assert_eq!(f.person.as_deref(), Some("zoë"));
        assert_eq!(f.error.as_deref(), Some("会議 — Échec"));
        assert_eq!(f.text.as_deref(), Some("café 会議"));
        // An ideographic space separates words like any other space.
        assert_eq!(parse("state:failed\u{3000}x").text.as_deref(), Some("x"));
    }

    #[test]
    fn repeated_keys_add_to_lists_and_must_agree_otherwise() {
        assert_eq!(
            parse("state:failed state:added,failed").states,
            vec![SyncState::Failed, SyncState::Added]
        );
        assert_eq!(parse("id:1,2 id:2,3").selection_ids, vec![1, 2, 3]);
        assert_eq!(parse("conf:3 conf:3").conference_id, Some(3));
        assert_eq!(
            error("conf:3 conference:4"),
            "'conference:' is given twice with different values ('3' and '4')"
        );
    }

    #[test]
    fn errors_are_one_clear_line() {
        assert_eq!(
            error("foo:bar"),
            "unknown filter key 'foo:' (valid keys: state, scope, conf, slot, user, id, \
             platform, role, cause, error, since, until, is); to search for text with ':' in it, \
             put it in double quotes"
        );
        assert_eq!(error("conf:"), "'conf:' needs a value, e.g. conf:12");
        assert_eq!(error("user:\"\""), "'user:' needs a value, e.g. user:ann");
        assert_eq!(
            error("conf:twelve"),
            "'conf:twelve': a conference id is a number"
        );
        assert_eq!(error("slot:-1"), "'slot:-1': a slot id is a number");
        assert_eq!(
            error("state:failed,broken"),
            "'state:failed,broken': 'broken' is not a state; states are added, \
             added_stale_error, failed, interrupted, not_synced"
        );
        assert_eq!(
            error("cause:mailbox"),
            "'cause:mailbox': 'mailbox' is not a cause; causes are no_mailbox, unknown_user, \
             credentials, throttled, time_zone, network, other"
        );
        assert_eq!(
            error("id:4,x"),
            "'id:4,x': 'x' is not a selection id (a number)"
        );
        assert_eq!(
            error("scope:some"),
            "'scope:some': scopes are unsynced, failed, all"
        );
        assert!(
            error("since:yesterday").starts_with("'since:yesterday': 'yesterday' is not a time")
        );
        assert_eq!(error("error:\"open"), "a double quote is not closed");
        assert_eq!(
            error("id:99999999999999999999"),
            "'id:99999999999999999999': '99999999999999999999' is not a selection id (a number)"
        );
        for e in [error("foo:bar"), error("since:x")] {
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn describe_writes_the_same_syntax() {
        let f = parse("cause:network user:\"Ann Other\" until:2026-01-01 state:failed hello");
        assert_eq!(
            describe(&f),
            "state:failed user:\"Ann Other\" cause:network until:2026-01-01 hello"
        );
        let at = Utc.with_ymd_and_hms(2026, 1, 9, 12, 30, 0).unwrap();
        let f = Filter {
            attempted_since: Some(at + Duration::microseconds(250)),
            ..Filter::default()
        };
        assert_eq!(describe(&f), "since:2026-01-09T12:30:00.000250Z");
    }

    #[test]
    fn parse_after_describe_gives_the_filter_back() {
        let at = Utc.with_ymd_and_hms(2025, 12, 1, 9, 15, 4).unwrap() + Duration::nanoseconds(7);
        let filters = [
            Filter::default(),
            parse(
                "state:failed,interrupted conf:12 slot:7 user:5 user:ann id:42,43 platform:zoom role:learner error:404 cause:no_mailbox since:24h until:2026-01-01 scope:all read timed out",
            ),
            Filter {
                person: Some("42".into()),
                text: Some("state:failed".into()),
                ..Filter::default()
            },
            Filter {
                error: Some(r#"say "hi" \o/ 'Foo/Bar'"#.into()),
                text: Some("  two  spaces ".into()),
                platform: Some("google meet".into()),
                ..Filter::default()
            },
            Filter {
                person: Some("Zoë Ünal".into()),
                text: Some("会議\u{3000}café".into()),
                attempted_since: Some(at),
                attempted_until: Some(at),
                ..Filter::default()
            },
            Filter {
                causes: Cause::ALL.to_vec(),
                states: SyncState::ALL.to_vec(),
                selection_ids: vec![0, i64::MAX],
                ..Filter::default()
            },
        ];
        for filter in filters {
            let text = describe(&filter);
            assert_eq!(parse_query(&text, now()), Ok(filter), "{text}");
        }
    }
}
