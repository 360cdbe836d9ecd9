//! The SQL calsync runs, written once. What differs between SQLite and PostgreSQL (placeholders,
//! case-insensitive matching, null-safe equality, how a timestamp is bound and compared) is
//! decided by [`Dialect`]; everything else is shared text. Every value from the operator is
//! bound, never spliced into the statement.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::StoreError;
use crate::domain::diagnosis::{CAUSE_PATTERNS, Pattern};
use crate::domain::ledger::EventPointer;
use crate::domain::{
    Cause, ConferenceSummary, Cursor, CursorKey, Filter, IntegrationInfo, Listed,
    MalformedSelection, MalformedSlot, PageRequest, Person, PersonMatch, Scope, Selection,
    SlotSummary, Sort, SortKey, StateCounts, StoredCredentials, SyncColumns, SyncState, SyncWrite,
};

pub const SELECTION: &str = "conferences_conferencetimeslotselection";
pub const SLOT: &str = "conferences_conferencetimeslot";
pub const CONFERENCE: &str = "conferences_conference";
pub const USER: &str = "users_customuser";
pub const BRANCH: &str = "branches_branch";
pub const INTEGRATION: &str = "account_settings_teamsintegration";
/// calsync's own ledger of the events it created (its schema is in `own.rs`); here with the
/// LMS's tables because the selection queries read it too.
pub const LEDGER: &str = "calsync_event_ledger";

/// Which SQL database a statement is written for (the sync engine is `sync::Engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlEngine {
    Sqlite,
    Postgres,
}

/// What a statement may say: the engine's syntax, and whether calsync's own tables (created by
/// `calsync migrate`) exist to be consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub engine: SqlEngine,
    pub ledger: bool,
    /// The ledger has the Teams meeting columns (see `store::meetings`).
    pub meetings: bool,
    /// The ledger has the events' `webLink` column (see `store::web_links`).
    pub web_links: bool,
}

impl Dialect {
    pub const SQLITE: Dialect = Dialect {
        engine: SqlEngine::Sqlite,
        ledger: false,
        meetings: false,
        web_links: false,
    };
    pub const POSTGRES: Dialect = Dialect {
        engine: SqlEngine::Postgres,
        ledger: false,
        meetings: false,
        web_links: false,
    };

    pub fn with_ledger(self, ledger: bool) -> Dialect {
        Dialect { ledger, ..self }
    }

    pub fn with_meetings(self, meetings: bool) -> Dialect {
        Dialect { meetings, ..self }
    }

    pub fn with_web_links(self, web_links: bool) -> Dialect {
        Dialect { web_links, ..self }
    }

    fn placeholder(self, n: usize) -> String {
        match self.engine {
            SqlEngine::Sqlite => format!("?{n}"),
            SqlEngine::Postgres => format!("${n}"),
        }
    }

    /// `column LIKE` ignoring the case of ASCII letters only, the folding `cause_of` uses.
    /// (Under a UTF-8 collation PostgreSQL's ILIKE also folds e.g. the Kelvin sign to `k`.)
    fn ascii_ilike(self, column: &str) -> String {
        match self.engine {
            SqlEngine::Sqlite => format!("{column} LIKE"),
            SqlEngine::Postgres => format!("{column} COLLATE \"C\" ILIKE"),
        }
    }

    fn same_text(self) -> &'static str {
        match self.engine {
            SqlEngine::Sqlite => "IS",
            SqlEngine::Postgres => "IS NOT DISTINCT FROM",
        }
    }
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Text(String),
    /// Bound as Django's naive-UTC text on SQLite and as `timestamptz` on PostgreSQL.
    Time(DateTime<Utc>),
}

#[derive(Debug, Clone)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Value>,
}

impl Sql {
    /// A statement with nothing to bind.
    pub fn plain(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            params: Vec::new(),
        }
    }
}

pub(super) struct Builder {
    dialect: Dialect,
    text: String,
    params: Vec<Value>,
}

impl Builder {
    pub(super) fn new(dialect: Dialect, text: &str) -> Builder {
        Builder {
            dialect,
            text: text.to_string(),
            params: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, text: &str) -> &mut Builder {
        self.text.push_str(text);
        self
    }

    pub(super) fn bind(&mut self, value: Value) -> &mut Builder {
        self.params.push(value);
        let placeholder = self.dialect.placeholder(self.params.len());
        self.text.push_str(&placeholder);
        self
    }

    /// Binds `value` for a statement run once per user or mailbox with a new value each time,
    /// whose plan the value does not change (`indexed_column = ?`). On SQLite with STAT4
    /// statistics (a database after `ANALYZE`, as the demo's), a bare `?` compared with an
    /// indexed column makes every new value re-prepare the statement on its first step
    /// (`stat4ValueFromExpr` in sqlite3.c): a parse and a plan per call, 8 % of a
    /// `reconcile --dry-run`'s CPU. A unary `+` on the value hides it from that and keeps the
    /// index (only a `+` on the column turns the index off).
    pub(super) fn bind_same_plan(&mut self, value: Value) -> &mut Builder {
        if self.dialect.engine == SqlEngine::Sqlite {
            self.text.push('+');
        }
        self.bind(value)
    }

    /// `ids` as one bound value each, comma-separated (the inside of an `IN (…)`).
    pub(super) fn bind_ids(&mut self, ids: &[i64]) -> &mut Builder {
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(Value::Int(*id));
        }
        self
    }

    pub(super) fn finish(self) -> Sql {
        Sql {
            text: self.text,
            params: self.params,
        }
    }
}

/// Reads typed values out of one result row, whichever driver produced it.
pub trait SqlRow {
    fn int(&self, idx: usize) -> Result<i64, StoreError>;
    fn opt_int(&self, idx: usize) -> Result<Option<i64>, StoreError>;
    fn opt_text(&self, idx: usize) -> Result<Option<String>, StoreError>;
    fn boolean(&self, idx: usize) -> Result<bool, StoreError>;
    fn opt_timestamp(&self, idx: usize) -> Result<Option<DateTime<Utc>>, StoreError>;
    fn date(&self, idx: usize) -> Result<NaiveDate, StoreError>;
    fn time(&self, idx: usize) -> Result<NaiveTime, StoreError>;

    fn text(&self, idx: usize) -> Result<String, StoreError> {
        Ok(self.opt_text(idx)?.unwrap_or_default())
    }

    fn timestamp(&self, idx: usize) -> Result<DateTime<Utc>, StoreError> {
        self.opt_timestamp(idx)?
            .ok_or_else(|| StoreError::Data(format!("unexpected NULL timestamp in column {idx}")))
    }
}

pub type RowMapper<T> = fn(&dyn SqlRow) -> Result<T, StoreError>;

// ----- selections ------------------------------------------------------------------------------

pub(super) const HAS_ERROR: &str = "(s.calendar_error IS NOT NULL AND s.calendar_error <> '')";

/// One count per sync state, in the order of [`SyncState::ALL`]. Filtered aggregates count
/// in one pass; grouping by a state expression would sort every row first (SQLite).
fn state_count_columns() -> String {
    SyncState::ALL
        .iter()
        .map(|state| format!("COUNT(*) FILTER (WHERE {})", state_predicate(*state)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn state_predicate(state: SyncState) -> String {
    match state {
        SyncState::Added => format!("(s.calendar_added AND NOT {HAS_ERROR})"),
        SyncState::AddedStaleError => format!("(s.calendar_added AND {HAS_ERROR})"),
        SyncState::Failed => format!("(NOT s.calendar_added AND {HAS_ERROR})"),
        SyncState::Interrupted => format!(
            "(NOT s.calendar_added AND NOT {HAS_ERROR} AND s.calendar_add_attempted_at IS NOT NULL)"
        ),
        SyncState::NotSynced => format!(
            "(NOT s.calendar_added AND NOT {HAS_ERROR} AND s.calendar_add_attempted_at IS NULL)"
        ),
    }
}

fn scope_predicate(scope: Scope) -> Option<&'static str> {
    match scope {
        Scope::Unsynced => Some("NOT s.calendar_added"),
        Scope::Failed => Some("(NOT s.calendar_added AND s.calendar_add_attempted_at IS NOT NULL)"),
        Scope::All => None,
    }
}

const SELECTION_COLUMNS: &str = "s.id, s.user_id, u.username, u.first_name, u.last_name, u.email, \
    u.role, u.branch_id, b.name, s.conference_id, c.title, c.description, c.meeting_link, \
    c.meeting_platform, c.use_time_slots, s.time_slot_id, t.conference_id, t.date, t.start_time, \
    t.end_time, t.timezone, t.meeting_link, t.updated_at, s.selected_at, s.outlook_event_id, \
    s.calendar_added, s.calendar_add_attempted_at, s.calendar_error";

/// What an event is made from, rendered by the database itself: the same expression read at
/// sync time (and stored in the ledger) and now, so storage formats never cause a difference.
pub(super) const FINGERPRINT: &str = "(t.date || '|' || t.start_time || '|' || t.end_time || '|' || \
    t.timezone || '|' || COALESCE(t.meeting_link, '') || '|' || c.title || '|' || \
    COALESCE(c.meeting_link, ''))";

/// An added selection whose event no longer matches its slot or conference. With the ledger, the
/// fingerprint sent is compared exactly; without it (or for events written before calsync
/// kept one) the slot's `updated_at` after the attempt is the evidence. The ledger is preferred
/// because the LMS bumps `updated_at` on every change of the slot's participant counter.
pub(super) fn stale_predicate(dialect: Dialect) -> String {
    let by_time = "t.updated_at > s.calendar_add_attempted_at";
    if dialect.ledger {
        format!(
            // The row holds a REST id, the ledger the immutable id of the same event: the
            // selection's newest live ledger row with a fingerprint is what was last sent.
            "(s.calendar_added AND COALESCE((SELECT l.sent_fingerprint <> {FINGERPRINT} \
             FROM {ledger} l WHERE l.selection_id = s.id AND l.deleted_at IS NULL \
             AND l.sent_fingerprint IS NOT NULL ORDER BY l.last_seen_at DESC, l.id DESC \
             LIMIT 1), {by_time}, 1 = 0))",
            ledger = LEDGER
        )
    } else {
        format!("(s.calendar_added AND COALESCE({by_time}, 1 = 0))")
    }
}

fn selection_columns(dialect: Dialect) -> String {
    format!(
        "{SELECTION_COLUMNS}, {FINGERPRINT}, CASE WHEN {} THEN 1 ELSE 0 END, {}",
        stale_predicate(dialect),
        meeting_columns(dialect)
    )
}

/// The three selection columns `teams_join_url, sent_body_digest, web_link`, of the ledger row
/// of the event the selection points to (matched as the stale rule matches it: the row holds a
/// REST id, the ledger the immutable id, so the selection's newest live ledger row), or NULLs
/// before the "teams meetings" step (`store::meetings`) and the "event web links" step
/// (`store::web_links`).
fn meeting_columns(dialect: Dialect) -> String {
    let null = "CAST(NULL AS text)";
    let of = |column: &str| {
        format!(
            "(SELECT l.{column} FROM {LEDGER} l WHERE l.selection_id = s.id \
             AND l.deleted_at IS NULL ORDER BY l.last_seen_at DESC, l.id DESC LIMIT 1)"
        )
    };
    let web_link = if dialect.web_links {
        of("web_link")
    } else {
        null.to_string()
    };
    if !dialect.meetings {
        return format!("{null}, {null}, {web_link}");
    }
    format!(
        "{}, {}, {web_link}",
        of("teams_join_url"),
        of("sent_body_digest")
    )
}

/// The selection with its user, conference, slot and branch. On SQLite a unary `+` on the
/// selection's side of each join keeps the selection the outer table: otherwise the planner
/// may walk slots or users and fetch a million selections through their index, out of order.
fn selection_from(dialect: Dialect) -> String {
    let key = if dialect.engine == SqlEngine::Sqlite {
        "+"
    } else {
        ""
    };
    format!(
        " FROM {SELECTION} s \
         JOIN {USER} u ON u.id = {key}s.user_id \
         JOIN {CONFERENCE} c ON c.id = {key}s.conference_id \
         JOIN {SLOT} t ON t.id = {key}s.time_slot_id \
         LEFT JOIN {BRANCH} b ON b.id = u.branch_id"
    )
}

pub fn map_selection(row: &dyn SqlRow) -> Result<Selection, StoreError> {
    Ok(Selection {
        id: row.int(0)?,
        user_id: row.int(1)?,
        username: row.text(2)?,
        first_name: row.text(3)?,
        last_name: row.text(4)?,
        email: row.text(5)?,
        role: row.text(6)?,
        branch_id: row.opt_int(7)?,
        branch_name: row.opt_text(8)?,
        conference_id: row.int(9)?,
        conference_title: row.text(10)?,
        conference_description: row.opt_text(11)?,
        conference_link: row.opt_text(12)?,
        platform: row.text(13)?,
        use_time_slots: row.boolean(14)?,
        time_slot_id: row.int(15)?,
        slot_conference_id: row.int(16)?,
        slot_date: row.date(17)?,
        slot_start: row.time(18)?,
        slot_end: row.time(19)?,
        timezone: row.text(20)?,
        slot_link: row.opt_text(21)?,
        slot_updated_at: row.timestamp(22)?,
        selected_at: row.timestamp(23)?,
        sync: SyncColumns {
            outlook_event_id: row.opt_text(24)?,
            calendar_added: row.boolean(25)?,
            attempted_at: row.opt_timestamp(26)?,
            error: row.opt_text(27)?,
        },
        fingerprint: row.text(28)?,
        stale: row.int(29)? == 1,
        recorded: crate::domain::meeting::RecordedEvent {
            teams_join_url: row.opt_text(30)?,
            sent_body_digest: row.opt_text(31)?,
            web_link: row.opt_text(32)?,
        },
    })
}

/// A selection row as listed: whole, or (when a column holds what its type cannot) with its
/// columns as stored and one reason per unreadable column.
pub fn map_listed(row: &dyn SqlRow) -> Result<Listed, StoreError> {
    match map_selection(row) {
        Ok(selection) => Ok(Listed::Readable(selection)),
        Err(StoreError::Data(whole)) => map_malformed(row, whole).map(Listed::Malformed),
        Err(e) => Err(e),
    }
}

/// The typed columns of a selection row that can hold unreadable text on SQLite.
const TYPED_COLUMNS: [(usize, &str, TypedColumn); 6] = [
    (17, "slot date", TypedColumn::Date),
    (18, "slot start time", TypedColumn::Time),
    (19, "slot end time", TypedColumn::Time),
    (22, "slot updated_at", TypedColumn::Timestamp),
    (23, "selected_at", TypedColumn::Timestamp),
    (26, "calendar_add_attempted_at", TypedColumn::OptTimestamp),
];

#[derive(Clone, Copy)]
enum TypedColumn {
    Date,
    Time,
    Timestamp,
    OptTimestamp,
}

impl TypedColumn {
    fn readable(self, row: &dyn SqlRow, idx: usize) -> bool {
        match self {
            TypedColumn::Date => row.date(idx).is_ok(),
            TypedColumn::Time => row.time(idx).is_ok(),
            TypedColumn::Timestamp => row.timestamp(idx).is_ok(),
            TypedColumn::OptTimestamp => row.opt_timestamp(idx).is_ok(),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            TypedColumn::Date => "date",
            TypedColumn::Time => "time",
            TypedColumn::Timestamp | TypedColumn::OptTimestamp => "datetime",
        }
    }
}

/// One reason per column of `columns` that cannot be read; `whole` (the mapper's own error)
/// when none of them is the culprit.
fn unreadable_columns(
    row: &dyn SqlRow,
    columns: &[(usize, &str, TypedColumn)],
    whole: String,
) -> Vec<String> {
    let mut problems: Vec<String> = columns
        .iter()
        .filter(|(idx, _, column)| !column.readable(row, *idx))
        .map(
            |(idx, label, column)| match row.opt_text(*idx).ok().flatten() {
                None => format!("{label} is NULL"),
                Some(text) => format!(
                    "{label} '{}' is not a valid {}",
                    crate::text::clean_line(&text),
                    column.noun()
                ),
            },
        )
        .collect();
    if problems.is_empty() {
        problems.push(whole);
    }
    problems
}

fn map_malformed(row: &dyn SqlRow, whole: String) -> Result<MalformedSelection, StoreError> {
    // As stored; a column that cannot be read even as text (a typed PostgreSQL column) is None.
    let stored = |idx: usize| row.opt_text(idx).ok().flatten();
    let problems = unreadable_columns(row, &TYPED_COLUMNS, whole);
    let attempted_at = row.opt_timestamp(26).ok();
    let calendar_added = row.boolean(25).unwrap_or(false);
    let outlook_event_id = stored(24);
    let error = stored(27);
    Ok(MalformedSelection {
        id: row.int(0)?,
        user_id: row.opt_int(1).ok().flatten(),
        username: stored(2).unwrap_or_default(),
        first_name: stored(3).unwrap_or_default(),
        last_name: stored(4).unwrap_or_default(),
        email: stored(5).unwrap_or_default(),
        conference_id: row.opt_int(9).ok().flatten(),
        conference_title: stored(10).unwrap_or_default(),
        use_time_slots: row.boolean(14).unwrap_or(true),
        time_slot_id: row.opt_int(15).ok().flatten(),
        slot_date: stored(17),
        slot_start: stored(18),
        slot_end: stored(19),
        timezone: stored(20).unwrap_or_default(),
        selected_at_text: stored(23),
        selected_at: row.opt_timestamp(23).ok().flatten(),
        calendar_added,
        attempted_at_text: stored(26),
        sync: attempted_at.map(|attempted_at| SyncColumns {
            outlook_event_id: outlook_event_id.clone(),
            calendar_added,
            attempted_at,
            error: error.clone(),
        }),
        outlook_event_id,
        error,
        stale: row.int(29).map(|stale| stale == 1).unwrap_or(false),
        teams_join_url: stored(30),
        web_link: stored(32),
        problems,
    })
}

/// `%`, `_` and the escape character itself are literal in the operator's text.
fn like_pattern(text: &str) -> Value {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped.push('%');
    Value::Text(escaped)
}

/// Any of `columns` contains `text`, ignoring case beyond ASCII on both engines: PostgreSQL's
/// `lower` (ILIKE's own folding) folds every letter; SQLite's LIKE folds ASCII only, so there
/// calsync's own function does (see `unicode_match`).
fn push_contains(b: &mut Builder, columns: &[&str], text: &str) {
    match b.dialect.engine {
        SqlEngine::Sqlite => push_any(b, columns, |b, column| {
            b.push(&format!("{}({column}, ", super::unicode_match::FUNCTION))
                .bind(Value::Text(super::unicode_match::fold(text)))
                .push(")");
        }),
        SqlEngine::Postgres if text.is_ascii() => push_contains_ascii_pg(b, columns, text),
        // What ILIKE does under a UTF-8 encoding (lowers both sides, then LIKE), with the
        // pattern lowered once per statement instead of once per row: 40 % less time over
        // half a million users.
        SqlEngine::Postgres => push_any(b, columns, |b, column| {
            b.push(&format!("lower({column}) LIKE lower("))
                .bind(like_pattern(text))
                .push(") ESCAPE '\\'");
        }),
    }
}

/// `(term(c1) OR term(c2) …)` over `columns`.
fn push_any(b: &mut Builder, columns: &[&str], mut term: impl FnMut(&mut Builder, &str)) {
    b.push("(");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            b.push(" OR ");
        }
        term(b, column);
    }
    b.push(")");
}

/// Letters beyond ASCII that `lower` folds into ASCII ones, with what they become: the only two
/// in Unicode (`İ` → `i`, the Kelvin sign → `k`).
const FOLDED_INTO_ASCII: [(char, char); 2] = [('\u{130}', 'i'), ('\u{212A}', 'k')];

/// [`push_contains`] on PostgreSQL for ASCII text, with the same answer at a third less time:
/// an ASCII needle can only meet ASCII letters or the two letters that fold into them, so the
/// columns are lowered under the "C" collation (ASCII letters only, no locale lookup per
/// character), and the whole-Unicode `lower` runs only for the rare rows holding one of those
/// two letters, when the needle has the letter they fold into. Several columns are lowered
/// and searched as one text, joined by a character no needle holds: one `lower` and one LIKE
/// a row instead of one per column. A needle's [`literal_stretch`] is looked for first, so
/// most rows are dropped before any is lowered.
fn push_contains_ascii_pg(b: &mut Builder, columns: &[&str], text: &str) {
    const SEPARATOR: char = '\u{1}';
    let needle = text.to_ascii_lowercase();
    // What the "C"-collation LIKE reads: the columns joined into one text, or each alone.
    let searched = if columns.len() > 1 && !needle.contains(SEPARATOR) {
        let parts: Vec<String> = columns
            .iter()
            .map(|column| format!("coalesce(({column}), '')"))
            .collect();
        let separator = format!(" || chr({}) || ", u32::from(SEPARATOR));
        vec![format!("({})", parts.join(&separator))]
    } else {
        columns.iter().map(|column| (*column).to_string()).collect()
    };
    let searched: Vec<&str> = searched.iter().map(String::as_str).collect();
    let folding: Vec<char> = FOLDED_INTO_ASCII
        .iter()
        .filter(|(_, into)| needle.contains(*into))
        .map(|(letter, _)| *letter)
        .collect();
    let lowered = |collate: &'static str| {
        let needle = &needle;
        move |b: &mut Builder, column: &str| {
            b.push(&format!("lower(({column}){collate}) LIKE "))
                .bind(like_pattern(needle))
                .push(" ESCAPE '\\'");
        }
    };
    b.push("(");
    if let Some(literal) = literal_stretch(&needle) {
        push_any(b, &literal_columns(columns, literal), |b, column| {
            b.push(&format!("strpos(({column}) COLLATE \"C\", "))
                .bind(Value::Text(literal.to_string()))
                .push(") > 0");
        });
        // Without a letter the needle is its own literal stretch: that match is the answer.
        if literal.len() == needle.len() {
            b.push(")");
            return;
        }
        b.push(" AND ");
    }
    b.push("(");
    push_any(b, &searched, lowered(" COLLATE \"C\""));
    if !folding.is_empty() {
        b.push(" OR (");
        push_any(b, &searched, |b, column| {
            for (i, letter) in folding.iter().enumerate() {
                if i > 0 {
                    b.push(" OR ");
                }
                b.push(&format!("({column}) LIKE "))
                    .bind(Value::Text(format!("%{letter}%")));
            }
        });
        b.push(" AND ");
        push_any(b, columns, lowered(""));
        b.push(")");
    }
    b.push("))");
}

/// Shorter stretches (`.`, `@`) are in most rows, where the extra search costs more than it
/// saves: a fifth more time over half a million users for `@` (287 against 238 ms).
const LITERAL_STRETCH_LEAST: usize = 3;

/// The longest stretch of an ASCII `needle` without a letter, when it narrows a scan: no case
/// folding changes those characters (nothing lowers into an ASCII digit, space or sign), so
/// every row the needle matches holds the stretch as it is, found by a byte-wise `strpos`
/// that lowers and allocates nothing (and skips through long texts where LIKE steps a
/// character at a time: a third less time over the error texts). `chloe.rossi493703` matches
/// only rows holding `493703`.
fn literal_stretch(needle: &str) -> Option<&str> {
    let longest = needle
        .split(|c: char| c.is_ascii_alphabetic())
        .max_by_key(|stretch| stretch.len())?;
    let whole = longest.len() == needle.len();
    (!longest.is_empty() && (whole || longest.len() >= LITERAL_STRETCH_LEAST)).then_some(longest)
}

/// The columns a literal stretch is looked for in: a full name `(a || ' ' || b)` is looked
/// into part by part when the stretch has no space (then it lies within one part), which
/// spares joining the two for every row.
fn literal_columns<'a>(columns: &[&'a str], literal: &str) -> Vec<&'a str> {
    const JOINED_BY_SPACE: &str = " || ' ' || ";
    columns
        .iter()
        .flat_map(|column| {
            let parts = column
                .strip_prefix('(')
                .and_then(|c| c.strip_suffix(')'))
                .filter(|inner| !literal.contains(' ') && inner.contains(JOINED_BY_SPACE));
            match parts {
                Some(inner) => inner.split(JOINED_BY_SPACE).collect(),
                None => vec![*column],
            }
        })
        .collect()
}

/// A pattern of the shared cause table as a bound LIKE pattern (escape character `\`).
fn cause_pattern(pattern: Pattern) -> Value {
    match pattern {
        Pattern::Contains(fragment) => like_pattern(fragment),
        // A quote, anything, a quote: at least two characters, like `Pattern::matches`.
        Pattern::WhollyQuoted => Value::Text("'%'".to_string()),
    }
}

/// The failure cause of `s.calendar_error` by name, compiled from the table `cause_of` reads:
/// the first cause with a matching pattern, else `other`. Only meaningful with an error text.
fn push_cause_expr(b: &mut Builder) {
    let like = b.dialect.ascii_ilike("s.calendar_error");
    b.push("(CASE");
    for (cause, patterns) in CAUSE_PATTERNS {
        b.push(" WHEN ");
        for (i, pattern) in patterns.iter().enumerate() {
            if i > 0 {
                b.push(" OR ");
            }
            b.push(&format!("{like} "))
                .bind(cause_pattern(*pattern))
                .push(" ESCAPE '\\'");
        }
        b.push(&format!(" THEN '{}'", cause.as_str()));
    }
    b.push(&format!(" ELSE '{}' END)", Cause::Other.as_str()));
}

const PERSON_COLUMNS: [&str; 3] = [
    "u.username",
    "u.email",
    "(u.first_name || ' ' || u.last_name)",
];

/// `s.user_id IN (users whose username, email or full name contains text)`: the ids looked up
/// beforehand when there are some (see [`Matched`]), else the users scanned by the statement.
fn push_users_matching(b: &mut Builder, text: &str) {
    if let Some(ids) = matched(|m| m.users.get(text).cloned()) {
        push_id_set(b, "s.user_id", &ids);
        return;
    }
    b.push(&format!("s.user_id IN (SELECT u.id FROM {USER} u WHERE "));
    push_contains(b, &PERSON_COLUMNS, text);
    b.push(")");
}

/// `s.conference_id IN (conferences whose title contains text)`, like [`push_users_matching`].
fn push_conferences_matching(b: &mut Builder, text: &str) {
    if let Some(ids) = matched(|m| m.conferences.get(text).cloned()) {
        push_id_set(b, "s.conference_id", &ids);
        return;
    }
    b.push(&format!(
        "s.conference_id IN (SELECT c.id FROM {CONFERENCE} c WHERE "
    ));
    push_contains(b, &["c.title"], text);
    b.push(")");
}

/// `s.calendar_error` contains text: the matching selections' ids when they were looked up
/// beforehand, else every error text read by the statement.
fn push_errors_matching(b: &mut Builder, text: &str) {
    if let Some(ids) = matched(|m| m.errors.get(text).cloned()) {
        push_id_set(b, "s.id", &ids);
        return;
    }
    push_contains(b, &["s.calendar_error"], text);
}

/// A person, a conference title or an error text contains `text`. The parts looked up with no
/// match are left out, so every part left can use its index (SQLite's OR of indexed terms).
fn push_text_matching(b: &mut Builder, text: &str) {
    let found_none = |found: Option<usize>| found == Some(0);
    let mut parts: Vec<fn(&mut Builder, &str)> = Vec::with_capacity(3);
    if !found_none(matched(|m| m.users.get(text).map(Vec::len))) {
        parts.push(push_users_matching);
    }
    if !found_none(matched(|m| m.conferences.get(text).map(Vec::len))) {
        parts.push(push_conferences_matching);
    }
    if !found_none(matched(|m| m.errors.get(text).map(Vec::len))) {
        parts.push(push_errors_matching);
    }
    b.push("(");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            b.push(" OR ");
        }
        part(b, text);
    }
    if parts.is_empty() {
        b.push("1 = 0");
    }
    b.push(")");
}

/// `column IN (ids)`; false for no ids (an empty `IN ()` is not SQL).
fn push_id_set(b: &mut Builder, column: &str, ids: &[i64]) {
    if ids.is_empty() {
        b.push("1 = 0");
    } else {
        b.push(&format!("{column} IN (")).bind_ids(ids).push(")");
    }
}

/// What a filter's text conditions match, looked up once before its statements are built, per
/// text: users (person and free text), conferences and selections by error text (free text).
/// A page and its counts then find their rows through the selection table's indexes instead of
/// each scanning every user and error text again. A text missing here (too many matches to
/// bind) is matched by the statement itself, as before.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matched {
    pub users: std::collections::HashMap<String, Vec<i64>>,
    pub conferences: std::collections::HashMap<String, Vec<i64>>,
    pub errors: std::collections::HashMap<String, Vec<i64>>,
}

thread_local! {
    /// The [`Matched`] of the statement being built on this thread (see [`with_matched`]).
    static MATCHED: std::cell::RefCell<Option<Matched>> = const { std::cell::RefCell::new(None) };
}

/// Builds statements (`build`, which must not await) with `matched` standing in for the
/// subqueries of the texts it holds. Scoped to the call, so no other statement sees it.
pub fn with_matched<T>(matched: Matched, build: impl FnOnce() -> T) -> T {
    let before = MATCHED.with(|m| m.replace(Some(matched)));
    let built = build();
    MATCHED.with(|m| *m.borrow_mut() = before);
    built
}

fn matched<T>(look: impl FnOnce(&Matched) -> Option<T>) -> Option<T> {
    MATCHED.with(|m| m.borrow().as_ref().and_then(look))
}

/// The users whose username, email or full name contains `text` (as `user:` matches), at most
/// `limit` ids.
pub fn users_matching(dialect: Dialect, text: &str, limit: u32) -> Sql {
    let mut b = Builder::new(dialect, &format!("SELECT u.id FROM {USER} u WHERE "));
    push_contains(&mut b, &PERSON_COLUMNS, text);
    b.push(" LIMIT ").bind(Value::Int(i64::from(limit)));
    b.finish()
}

/// The conferences whose title contains `text`, at most `limit` ids.
pub fn conferences_matching(dialect: Dialect, text: &str, limit: u32) -> Sql {
    let mut b = Builder::new(dialect, &format!("SELECT c.id FROM {CONFERENCE} c WHERE "));
    push_contains(&mut b, &["c.title"], text);
    b.push(" LIMIT ").bind(Value::Int(i64::from(limit)));
    b.finish()
}

/// The selections whose error text contains `text`, at most `limit` ids.
pub fn errors_matching(dialect: Dialect, text: &str, limit: u32) -> Sql {
    let mut b = Builder::new(dialect, &format!("SELECT s.id FROM {SELECTION} s WHERE "));
    push_contains(&mut b, &["s.calendar_error"], text);
    b.push(" LIMIT ").bind(Value::Int(i64::from(limit)));
    b.finish()
}

/// `(has an error AND its cause is one of causes)`.
fn push_cause_in(b: &mut Builder, causes: &[Cause]) {
    b.push(&format!("({HAS_ERROR} AND "));
    push_cause_expr(b);
    b.push(" IN (");
    for (i, cause) in causes.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.bind(Value::Text(cause.as_str().to_string()));
    }
    b.push("))");
}

/// Appends ` WHERE …` (or nothing) for the filter. Needs `s`, and `c`/`t` when the filter asks
/// for stale events (see [`filtered_from`]).
fn push_where(b: &mut Builder, filter: &Filter, extra: Option<&dyn Fn(&mut Builder)>) {
    let mut first = true;
    let mut and = |b: &mut Builder| {
        b.push(if first { " WHERE " } else { " AND " });
        first = false;
    };
    if !filter.states.is_empty() {
        and(b);
        let parts: Vec<String> = filter.states.iter().map(|s| state_predicate(*s)).collect();
        b.push(&format!("({})", parts.join(" OR ")));
    }
    if let Some(predicate) = filter.scope.and_then(scope_predicate) {
        and(b);
        b.push(predicate);
    }
    for (column, value) in [
        ("s.conference_id", filter.conference_id),
        ("s.time_slot_id", filter.slot_id),
        ("s.user_id", filter.user_id),
    ] {
        if let Some(value) = value {
            and(b);
            b.push(&format!("{column} = ")).bind(Value::Int(value));
        }
    }
    if !filter.selection_ids.is_empty() {
        and(b);
        b.push("s.id IN (")
            .bind_ids(&filter.selection_ids)
            .push(")");
    }
    // Conditions on users and conferences are semi-joins (one small table scanned once, then a
    // lookup per selection): ORed across a join, the planner would join every row first.
    if let Some(person) = filter.person.as_deref() {
        and(b);
        push_users_matching(b, person);
    }
    if let Some(text) = filter.text.as_deref() {
        and(b);
        push_text_matching(b, text);
    }
    if let Some(role) = filter.role.as_deref() {
        and(b);
        b.push(&format!(
            "s.user_id IN (SELECT u.id FROM {USER} u WHERE u.role = "
        ))
        .bind(Value::Text(role.to_ascii_lowercase()))
        .push(")");
    }
    if let Some(platform) = filter.platform.as_deref() {
        and(b);
        b.push(&format!(
            "s.conference_id IN (SELECT c.id FROM {CONFERENCE} c WHERE c.meeting_platform = "
        ))
        .bind(Value::Text(platform.to_ascii_lowercase()))
        .push(")");
    }
    if let Some(error) = filter.error.as_deref() {
        and(b);
        push_contains(b, &["s.calendar_error"], error);
    }
    if !filter.causes.is_empty() {
        and(b);
        push_cause_in(b, &filter.causes);
    }
    if !filter.exclude_causes.is_empty() {
        and(b);
        b.push("NOT ");
        push_cause_in(b, &filter.exclude_causes);
    }
    if let Some(since) = filter.attempted_since {
        and(b);
        b.push("s.calendar_add_attempted_at >= ")
            .bind(Value::Time(since));
    }
    if let Some(until) = filter.attempted_until {
        and(b);
        b.push("s.calendar_add_attempted_at < ")
            .bind(Value::Time(until));
    }
    if filter.stale {
        and(b);
        let predicate = stale_predicate(b.dialect);
        b.push(&predicate);
    }
    if let Some(extra) = extra {
        and(b);
        extra(b);
    }
}

/// The selection table, with the slot and conference when the filter compares an event with
/// them (staleness); every other condition on another table is a semi-join.
fn filtered_from(filter: &Filter) -> String {
    let mut from = format!(" FROM {SELECTION} s");
    if filter.stale {
        from.push_str(&format!(
            " JOIN {CONFERENCE} c ON c.id = s.conference_id JOIN {SLOT} t ON t.id = s.time_slot_id"
        ));
    }
    from
}

/// What a sort key orders by. Text keys are expressions over the joined user and conference,
/// equal to what [`Cursor::after`] takes from a row, so the keyset compares like with like.
fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::Id => "s.id",
        SortKey::SelectedAt => "s.selected_at",
        SortKey::AttemptedAt => "s.calendar_add_attempted_at",
        SortKey::Email => "u.email",
        SortKey::Person => {
            "COALESCE(NULLIF(TRIM(u.first_name || ' ' || u.last_name), ''), u.username)"
        }
        SortKey::Conference => "c.title",
        SortKey::Error => "NULLIF(s.calendar_error, '')",
    }
}

/// Keys whose value can be NULL (never attempted, no error).
fn nullable(key: SortKey) -> bool {
    matches!(key, SortKey::AttemptedAt | SortKey::Error)
}

/// The keyset condition "comes after `cursor`" in the requested order, NULLs where
/// `sort.nulls_first` puts them, on both engines.
fn push_after(b: &mut Builder, cursor: &Cursor, sort: Sort) {
    let lt = if sort.descending { "<" } else { ">" };
    let key = sort.key;
    let column = sort_column(key);
    let value = match &cursor.key {
        CursorKey::Time(Some(at)) => Some(Value::Time(*at)),
        CursorKey::Stored(text) | CursorKey::Text(Some(text)) => Some(Value::Text(text.clone())),
        CursorKey::Id | CursorKey::Time(None) | CursorKey::Text(None) => None,
    };
    match (&cursor.key, key, value) {
        (CursorKey::Id, _, _) | (_, SortKey::Id, _) => {
            b.push(&format!("s.id {lt} ")).bind(Value::Int(cursor.id));
        }
        // A row value is one index range on both engines (the index carries the id).
        (_, SortKey::SelectedAt, Some(value)) => {
            b.push(&format!("({column}, s.id) {lt} ("))
                .bind(value)
                .push(", ")
                .bind(Value::Int(cursor.id))
                .push(")");
        }
        (_, _, Some(value)) => {
            b.push(&format!("({column} {lt} "))
                .bind(value.clone())
                .push(&format!(" OR ({column} = "))
                .bind(value)
                .push(&format!(" AND s.id {lt} "))
                .bind(Value::Int(cursor.id))
                .push(")");
            if !sort.nulls_first {
                b.push(&format!(" OR {column} IS NULL"));
            }
            b.push(")");
        }
        (_, _, None) => {
            b.push(&format!("(({column} IS NULL AND s.id {lt} "))
                .bind(Value::Int(cursor.id))
                .push(")");
            if sort.nulls_first {
                b.push(&format!(" OR {column} IS NOT NULL"));
            }
            b.push(")");
        }
    }
}

pub fn selection_page(dialect: Dialect, request: &PageRequest) -> Sql {
    let mut b = Builder::new(dialect, &format!("SELECT {}", selection_columns(dialect)));
    b.push(&selection_from(dialect));
    let sort = request.sort;
    let after = request.after.clone();
    let extra = after
        .as_ref()
        .map(|cursor| move |b: &mut Builder| push_after(b, cursor, sort));
    let extra = extra.as_ref().map(|f| f as &dyn Fn(&mut Builder));
    // A filter that reads every row's text anyway (free text, error text) is fastest as one
    // scan in table order and a sort of the matches: walking the date index instead fetches
    // every row out of order (both planners guess that many rows match). Ordering by an
    // expression equal to the column keeps the index out of the ORDER BY.
    let scan = request.filter.text.is_some() || request.filter.error.is_some();
    let limit = Value::Int(i64::from(request.limit));
    if sort.key.is_text() {
        // No index serves a text order, so every matching row is sorted. Sorting the ids alone
        // and reading the page's rows after is several times faster on a million rows than
        // sorting whole rows (each with its joins, ledger lookups and staleness test).
        b.push(" WHERE s.id IN (SELECT s.id");
        b.push(&sorted_from(dialect, &request.filter, sort.key));
        push_where(&mut b, &request.filter, extra);
        b.push(&order_by(sort, scan));
        b.push(" LIMIT ").bind(limit);
        b.push(")");
        b.push(&order_by(sort, false));
        return b.finish();
    }
    push_where(&mut b, &request.filter, extra);
    b.push(&order_by(sort, scan));
    b.push(" LIMIT ").bind(limit);
    b.finish()
}

/// The selection with the one table a text sort key reads (the user's, the conference's, or
/// none for the error), and the conference and slot when the filter compares an event with
/// them (staleness). One join, not two: a million lookups in an order the scan gives (the
/// user or conference index) take a tenth of the time of lookups in random order.
fn sorted_from(dialect: Dialect, filter: &Filter, key: SortKey) -> String {
    let plus = if dialect.engine == SqlEngine::Sqlite {
        "+"
    } else {
        ""
    };
    let mut from = format!(" FROM {SELECTION} s");
    if matches!(key, SortKey::Email | SortKey::Person) {
        from.push_str(&format!(" JOIN {USER} u ON u.id = {plus}s.user_id"));
    }
    if key == SortKey::Conference || filter.stale {
        from.push_str(&format!(
            " JOIN {CONFERENCE} c ON c.id = {plus}s.conference_id"
        ));
    }
    if filter.stale {
        from.push_str(&format!(" JOIN {SLOT} t ON t.id = {plus}s.time_slot_id"));
    }
    from
}

/// ` ORDER BY` the sort's key and the id; `scan` keeps an index out of it (see above).
fn order_by(sort: Sort, scan: bool) -> String {
    let dir = if sort.descending { "DESC" } else { "ASC" };
    if sort.key == SortKey::Id {
        return format!(" ORDER BY s.id {dir}");
    }
    let nulls = match (nullable(sort.key), sort.nulls_first) {
        (false, _) => "",
        (true, true) => " NULLS FIRST",
        (true, false) => " NULLS LAST",
    };
    let column = sort_column(sort.key);
    let order = if scan {
        format!("COALESCE({column}, {column})")
    } else {
        column.to_string()
    };
    format!(" ORDER BY {order} {dir}{nulls}, s.id {dir}")
}

/// The ids a run works on, frozen when it starts: newest selection first, like the LMS command.
pub fn selection_ids(dialect: Dialect, filter: &Filter) -> Sql {
    let mut b = Builder::new(dialect, "SELECT s.id");
    b.push(&filtered_from(filter));
    push_where(&mut b, filter, None);
    b.push(" ORDER BY s.selected_at DESC, s.id DESC");
    b.finish()
}

/// The users holding selections (of one conference, or of any), for reconcile's mailboxes.
pub fn selection_user_ids(dialect: Dialect, conference_id: Option<i64>) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!("SELECT DISTINCT s.user_id FROM {SELECTION} s"),
    );
    if let Some(id) = conference_id {
        b.push(" WHERE s.conference_id = ").bind(Value::Int(id));
    }
    b.push(" ORDER BY s.user_id");
    b.finish()
}

const POINTER_COLUMNS: &str =
    "s.id, s.user_id, s.conference_id, s.time_slot_id, s.outlook_event_id";

/// What every selection of one user points to.
pub fn event_pointers_of_user(dialect: Dialect, user_id: i64) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!("SELECT {POINTER_COLUMNS} FROM {SELECTION} s WHERE s.user_id = "),
    );
    b.bind_same_plan(Value::Int(user_id)).push(" ORDER BY s.id");
    b.finish()
}

/// What the selections among `ids` point to (those that no longer exist are not returned).
pub fn event_pointers(dialect: Dialect, ids: &[i64]) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!("SELECT {POINTER_COLUMNS} FROM {SELECTION} s WHERE s.id IN ("),
    );
    b.bind_ids(ids).push(") ORDER BY s.id");
    b.finish()
}

pub fn map_event_pointer(row: &dyn SqlRow) -> Result<EventPointer, StoreError> {
    Ok(EventPointer {
        selection_id: row.int(0)?,
        user_id: row.int(1)?,
        conference_id: row.int(2)?,
        slot_id: row.int(3)?,
        outlook_event_id: row.opt_text(4)?.filter(|id| !id.trim().is_empty()),
    })
}

pub fn map_id(row: &dyn SqlRow) -> Result<i64, StoreError> {
    row.int(0)
}

/// Failed selections per day of their last attempt (UTC), since `since`.
pub fn failure_trend(dialect: Dialect, since: DateTime<Utc>) -> Sql {
    // The day of a timestamp is the one expression that differs per engine.
    let day = match dialect.engine {
        SqlEngine::Sqlite => "substr(s.calendar_add_attempted_at, 1, 10)",
        SqlEngine::Postgres => {
            "to_char(s.calendar_add_attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        }
    };
    let mut b = Builder::new(
        dialect,
        &format!("SELECT {day} AS day, COUNT(*) FROM {SELECTION} s WHERE "),
    );
    b.push(&state_predicate(SyncState::Failed))
        .push(" AND s.calendar_add_attempted_at >= ")
        .bind(Value::Time(since))
        .push(" GROUP BY 1 ORDER BY 1");
    b.finish()
}

pub fn person(dialect: Dialect, user_id: i64) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!(
            "SELECT u.id, u.username, u.first_name, u.last_name, u.email, u.role, u.branch_id, \
             b.name, u.is_active, b.teams_integration_enabled FROM {USER} u \
             LEFT JOIN {BRANCH} b ON b.id = u.branch_id WHERE u.id = "
        ),
    );
    b.bind(Value::Int(user_id));
    b.finish()
}

pub fn map_person(row: &dyn SqlRow) -> Result<Person, StoreError> {
    Ok(Person {
        id: row.int(0)?,
        username: row.text(1)?,
        first_name: row.text(2)?,
        last_name: row.text(3)?,
        email: row.text(4)?,
        role: row.text(5)?,
        branch_id: row.opt_int(6)?,
        branch_name: row.opt_text(7)?,
        is_active: row.boolean(8)?,
        branch_teams_enabled: match row.opt_int(6)? {
            Some(_) => Some(row.boolean(9)?),
            None => None,
        },
    })
}

/// Users whose username or email is exactly `login`, ignoring case.
pub fn users_by_login(dialect: Dialect, login: &str) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!("SELECT u.id FROM {USER} u WHERE lower(u.username) = lower("),
    );
    b.bind(Value::Text(login.to_string()))
        .push(") OR lower(u.email) = lower(")
        .bind(Value::Text(login.to_string()))
        .push(") ORDER BY u.id LIMIT 5");
    b.finish()
}

/// Users whose username, email or full name contains `text` (ignoring case, as the `user:`
/// filter does): exact usernames and emails first, then by username, at most `limit`.
pub fn person_matches(dialect: Dialect, text: &str, limit: u32) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!(
            "SELECT u.id, u.username, u.email, u.first_name, u.last_name FROM {USER} u WHERE "
        ),
    );
    push_contains(&mut b, &PERSON_COLUMNS, text);
    b.push(" ORDER BY CASE WHEN lower(u.username) = lower(")
        .bind(Value::Text(text.to_string()))
        .push(") OR lower(u.email) = lower(")
        .bind(Value::Text(text.to_string()))
        .push(") THEN 0 ELSE 1 END, u.username, u.id LIMIT ")
        .bind(Value::Int(i64::from(limit)));
    b.finish()
}

pub fn map_person_match(row: &dyn SqlRow) -> Result<PersonMatch, StoreError> {
    Ok(PersonMatch {
        id: row.int(0)?,
        username: row.text(1)?,
        email: row.text(2)?,
        name: crate::domain::full_name(&row.text(3)?, &row.text(4)?).unwrap_or_default(),
    })
}

pub fn selection_by_id(dialect: Dialect, id: i64) -> Sql {
    let mut b = Builder::new(dialect, &format!("SELECT {}", selection_columns(dialect)));
    b.push(&selection_from(dialect))
        .push(" WHERE s.id = ")
        .bind(Value::Int(id));
    b.finish()
}

pub fn count(dialect: Dialect, filter: &Filter) -> Sql {
    let mut b = Builder::new(dialect, "SELECT COUNT(*)");
    b.push(&filtered_from(filter));
    push_where(&mut b, filter, None);
    b.finish()
}

/// How many of the filter's rows a run would skip by the LMS command's rule: their conference
/// no longer uses time slots.
pub fn count_without_time_slots(dialect: Dialect, filter: &Filter) -> Sql {
    let mut b = Builder::new(dialect, "SELECT COUNT(*)");
    b.push(&filtered_from(filter));
    let off = |b: &mut Builder| {
        b.push(&format!(
            "s.conference_id IN (SELECT k.id FROM {CONFERENCE} k WHERE NOT k.use_time_slots)"
        ));
    };
    push_where(&mut b, filter, Some(&off));
    b.finish()
}

pub fn map_count(row: &dyn SqlRow) -> Result<u64, StoreError> {
    Ok(row.int(0)?.max(0) as u64)
}

/// Counts per state for the filter: one row of the counts in [`SyncState::ALL`] order.
pub fn state_counts(dialect: Dialect, filter: &Filter) -> Sql {
    let mut b = Builder::new(dialect, &format!("SELECT {}", state_count_columns()));
    b.push(&filtered_from(filter));
    push_where(&mut b, filter, None);
    b.finish()
}

/// The failed selections matching the filter counted per distinct error text: rows of (text,
/// count). The causes are classified from these few texts in Rust ([`cause_of`]), which is much
/// cheaper than matching every failed row against every pattern in SQL.
///
/// [`cause_of`]: crate::domain::diagnosis::cause_of
pub fn failed_error_counts(dialect: Dialect, filter: &Filter) -> Sql {
    let mut b = Builder::new(dialect, "SELECT s.calendar_error, COUNT(*)");
    b.push(&filtered_from(filter));
    let failed = state_predicate(SyncState::Failed);
    push_where(
        &mut b,
        filter,
        Some(&|b: &mut Builder| {
            b.push(&failed);
        }),
    );
    b.push(" GROUP BY 1");
    b.finish()
}

/// Counts per group and state: rows of (group id, the counts in [`SyncState::ALL`] order);
/// `group_column` is `s.conference_id` or `s.time_slot_id`. The unary `+` keeps SQLite from
/// walking the group's index, which would fetch every row out of order.
pub fn grouped_state_counts(dialect: Dialect, group_column: &str, filter: &Filter) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!("SELECT +{group_column}, {}", state_count_columns()),
    );
    b.push(&filtered_from(filter));
    push_where(&mut b, filter, None);
    b.push(" GROUP BY 1");
    b.finish()
}

/// Selections per conference: (conference id, count). An index of the LMS's covers it.
pub fn conference_totals(dialect: Dialect) -> Sql {
    Builder::new(
        dialect,
        &format!("SELECT s.conference_id, COUNT(*) FROM {SELECTION} s GROUP BY 1"),
    )
    .finish()
}

/// Failed selections per conference: (conference id, count), from one scan (see
/// [`grouped_state_counts`] for the `+`).
pub fn conference_failures(dialect: Dialect) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!("SELECT +s.conference_id, COUNT(*) FROM {SELECTION} s WHERE "),
    );
    b.push(&state_predicate(SyncState::Failed))
        .push(" GROUP BY 1");
    b.finish()
}

pub fn map_id_count(row: &dyn SqlRow) -> Result<(i64, u64), StoreError> {
    Ok((row.int(0)?, row.int(1)?.max(0) as u64))
}

/// The counts of one row of [`state_counts`], starting at column `first`.
fn read_state_counts(row: &dyn SqlRow, first: usize) -> Result<StateCounts, StoreError> {
    let n = |i: usize| -> Result<u64, StoreError> { Ok(row.int(first + i)?.max(0) as u64) };
    Ok(StateCounts {
        added: n(0)?,
        added_stale_error: n(1)?,
        failed: n(2)?,
        interrupted: n(3)?,
        not_synced: n(4)?,
    })
}

pub fn map_state_counts(row: &dyn SqlRow) -> Result<StateCounts, StoreError> {
    read_state_counts(row, 0)
}

pub fn map_grouped_state_counts(row: &dyn SqlRow) -> Result<(i64, StateCounts), StoreError> {
    Ok((row.int(0)?, read_state_counts(row, 1)?))
}

// ----- conferences and slots -------------------------------------------------------------------

pub fn conferences(dialect: Dialect) -> Sql {
    Builder::new(
        dialect,
        &format!(
            "SELECT c.id, c.title, c.meeting_platform, c.date, c.use_time_slots, c.status, \
             (SELECT COUNT(*) FROM {SLOT} t WHERE t.conference_id = c.id) \
             FROM {CONFERENCE} c ORDER BY c.date DESC, c.start_time DESC, c.id DESC"
        ),
    )
    .finish()
}

pub fn map_conference(row: &dyn SqlRow) -> Result<ConferenceSummary, StoreError> {
    Ok(ConferenceSummary {
        id: row.int(0)?,
        title: row.text(1)?,
        platform: row.text(2)?,
        date: row.date(3)?,
        use_time_slots: row.boolean(4)?,
        status: row.text(5)?,
        slot_count: row.int(6)?.max(0) as u64,
        counts: StateCounts::default(),
    })
}

const SLOT_COLUMNS: &str = "t.id, t.conference_id, t.date, t.start_time, t.end_time, \
    t.timezone, t.meeting_link, t.max_participants, t.current_participants, t.is_available";

pub fn slots_of(dialect: Dialect, conference_id: i64) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!("SELECT {SLOT_COLUMNS} FROM {SLOT} t WHERE t.conference_id = "),
    );
    b.bind(Value::Int(conference_id))
        .push(" ORDER BY t.date, t.start_time, t.id");
    b.finish()
}

pub fn all_slots(dialect: Dialect) -> Sql {
    Builder::new(
        dialect,
        &format!("SELECT {SLOT_COLUMNS} FROM {SLOT} t ORDER BY t.id"),
    )
    .finish()
}

pub fn map_slot(row: &dyn SqlRow) -> Result<SlotSummary, StoreError> {
    Ok(SlotSummary {
        id: row.int(0)?,
        conference_id: row.int(1)?,
        date: row.date(2)?,
        start_time: row.time(3)?,
        end_time: row.time(4)?,
        timezone: row.text(5)?,
        meeting_link: row.opt_text(6)?,
        max_participants: row.int(7)?,
        current_participants: row.int(8)?,
        is_available: row.boolean(9)?,
        counts: StateCounts::default(),
    })
}

/// A slot as read, or (SQLite only) its id and why its date or times cannot be read.
pub fn map_slot_row(row: &dyn SqlRow) -> Result<Result<SlotSummary, MalformedSlot>, StoreError> {
    match map_slot(row) {
        Ok(slot) => Ok(Ok(slot)),
        Err(StoreError::Data(whole)) => {
            let columns = [
                (2, "date", TypedColumn::Date),
                (3, "start time", TypedColumn::Time),
                (4, "end time", TypedColumn::Time),
            ];
            Ok(Err(MalformedSlot {
                id: row.int(0)?,
                problems: unreadable_columns(row, &columns, whole),
            }))
        }
        Err(e) => Err(e),
    }
}

/// Every distinct slot zone with how many slots use it (for `doctor`).
pub fn slot_zones(dialect: Dialect) -> Sql {
    Builder::new(
        dialect,
        &format!("SELECT timezone, COUNT(*) FROM {SLOT} GROUP BY timezone ORDER BY timezone"),
    )
    .finish()
}

/// A (text, count) row as (the text's failure cause, count): classified as it is read, so the
/// distinct error texts of a million rows never sit in memory together.
pub fn map_cause_count(row: &dyn SqlRow) -> Result<(Cause, u64), StoreError> {
    Ok((
        crate::domain::diagnosis::cause_of(&row.text(0)?),
        row.int(1)?.max(0) as u64,
    ))
}

pub fn map_text_count(row: &dyn SqlRow) -> Result<(String, u64), StoreError> {
    Ok((row.text(0)?, row.int(1)?.max(0) as u64))
}

/// Selections whose own conference is not their slot's (the database does not prevent it).
pub fn mismatched_conferences(dialect: Dialect) -> Sql {
    Builder::new(
        dialect,
        &format!(
            "SELECT s.id, s.conference_id, t.conference_id FROM {SELECTION} s \
             JOIN {SLOT} t ON t.id = s.time_slot_id WHERE s.conference_id <> t.conference_id \
             ORDER BY s.id"
        ),
    )
    .finish()
}

pub fn map_id_triple(row: &dyn SqlRow) -> Result<(i64, i64, i64), StoreError> {
    Ok((row.int(0)?, row.int(1)?, row.int(2)?))
}

pub fn row_count(dialect: Dialect, table: &str) -> Sql {
    Builder::new(dialect, &format!("SELECT COUNT(*) FROM {table}")).finish()
}

// ----- integrations ----------------------------------------------------------------------------

const INTEGRATION_COLUMNS: &str = "ti.id, ti.name, ti.is_active, ti.tenant_id, ti.client_id, \
    CASE WHEN COALESCE(ti.client_secret, '') <> '' THEN 1 ELSE 0 END, ti.user_id, o.username, o.branch_id, ob.name, ti.branch_id";

pub fn integrations(dialect: Dialect) -> Sql {
    Builder::new(
        dialect,
        &format!(
            "SELECT {INTEGRATION_COLUMNS} FROM {INTEGRATION} ti \
             LEFT JOIN {USER} o ON o.id = ti.user_id \
             LEFT JOIN {BRANCH} ob ON ob.id = o.branch_id ORDER BY ti.id"
        ),
    )
    .finish()
}

pub fn map_integration(row: &dyn SqlRow) -> Result<IntegrationInfo, StoreError> {
    Ok(IntegrationInfo {
        id: row.int(0)?,
        name: row.text(1)?,
        is_active: row.boolean(2)?,
        tenant_id: row.text(3)?,
        client_id: row.text(4)?,
        has_secret: row.int(5)? == 1,
        owner_id: row.opt_int(6)?,
        owner_username: row.opt_text(7)?,
        owner_branch_id: row.opt_int(8)?,
        owner_branch_name: row.opt_text(9)?,
        branch_id: row.opt_int(10)?,
    })
}

// ----- schema ----------------------------------------------------------------------------------

/// The column names of `table` (no rows when the table does not exist).
pub fn table_columns(dialect: Dialect, table: &str) -> Sql {
    let text = match dialect.engine {
        SqlEngine::Sqlite => "SELECT name FROM pragma_table_info(",
        SqlEngine::Postgres => {
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = ANY (current_schemas(false)) AND table_name = "
        }
    };
    let mut b = Builder::new(dialect, text);
    b.bind(Value::Text(table.to_string()));
    if dialect.engine == SqlEngine::Sqlite {
        b.push(")");
    }
    b.finish()
}

pub fn map_text(row: &dyn SqlRow) -> Result<String, StoreError> {
    row.text(0)
}

/// Every active integration with what the LMS's lookup needs (owner and owner's branch).
pub fn active_credentials(dialect: Dialect) -> Sql {
    Builder::new(
        dialect,
        &format!(
            "SELECT ti.id, ti.name, ti.tenant_id, ti.client_id, ti.client_secret, ti.user_id, \
             o.branch_id FROM {INTEGRATION} ti LEFT JOIN {USER} o ON o.id = ti.user_id \
             WHERE ti.is_active ORDER BY ti.id"
        ),
    )
    .finish()
}

pub fn map_credentials(row: &dyn SqlRow) -> Result<StoredCredentials, StoreError> {
    Ok(StoredCredentials {
        integration_id: row.int(0)?,
        integration_name: row.text(1)?,
        tenant_id: row.text(2)?,
        client_id: row.text(3)?,
        client_secret: row.text(4)?,
        owner_id: row.opt_int(5)?,
        owner_branch_id: row.opt_int(6)?,
    })
}

// ----- writes ----------------------------------------------------------------------------------

/// One statement that writes a sync result, landing only while the four sync columns still hold
/// what calsync read (`expected`), so a concurrent change by the LMS is never overwritten.
pub fn write_sync(dialect: Dialect, id: i64, write: &SyncWrite, expected: &SyncColumns) -> Sql {
    let mut b = Builder::new(dialect, &format!("UPDATE {SELECTION} SET "));
    match write {
        SyncWrite::Success {
            outlook_event_id,
            at,
        } => {
            b.push("outlook_event_id = ")
                .bind(Value::Text(outlook_event_id.clone()))
                .push(", calendar_added = TRUE, calendar_add_attempted_at = ")
                .bind(Value::Time(*at))
                .push(", calendar_error = NULL");
        }
        SyncWrite::Failure { error, at } => {
            b.push("calendar_add_attempted_at = ")
                .bind(Value::Time(*at))
                .push(", calendar_error = ")
                .bind(Value::Text(error.clone()));
        }
        SyncWrite::Attempt { at } => {
            b.push("calendar_add_attempted_at = ")
                .bind(Value::Time(*at));
        }
    }
    b.push(" WHERE id = ").bind(Value::Int(id));
    push_guard(&mut b, expected);
    b.finish()
}

fn push_guard(b: &mut Builder, expected: &SyncColumns) {
    let same = b.dialect.same_text();
    b.push(if expected.calendar_added {
        " AND calendar_added"
    } else {
        " AND NOT calendar_added"
    });
    for (column, value) in [
        ("outlook_event_id", &expected.outlook_event_id),
        ("calendar_error", &expected.error),
    ] {
        match value {
            Some(v) => {
                b.push(&format!(" AND {column} {same} "))
                    .bind(Value::Text(v.clone()));
            }
            None => {
                b.push(&format!(" AND {column} IS NULL"));
            }
        }
    }
    match (expected.attempted_at, b.dialect.engine) {
        (None, _) => {
            b.push(" AND calendar_add_attempted_at IS NULL");
        }
        // Compared as instants, so a value stored in another valid text form still matches.
        (Some(at), SqlEngine::Sqlite) => {
            b.push(" AND julianday(calendar_add_attempted_at) = julianday(")
                .bind(Value::Time(at))
                .push(")");
        }
        (Some(at), SqlEngine::Postgres) => {
            b.push(" AND calendar_add_attempted_at = ")
                .bind(Value::Time(at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_text_is_bound_never_spliced() {
        let filter = Filter {
            text: Some("x'; DROP TABLE users_customuser; --".to_string()),
            ..Filter::default()
        };
        let sql = count(Dialect::POSTGRES, &filter);
        assert!(!sql.text.contains("DROP TABLE"));
        // The needle's letter-free stretch, then the needle: parameters, never SQL text.
        assert!(sql.text.contains("\"C\", $1) > 0"));
        assert!(sql.params.contains(&Value::Text("; --".to_string())));
        assert!(sql.text.contains(" LIKE $"));
        assert!(sql.params.contains(&Value::Text(
            "%x'; drop table users\\_customuser; --%".to_string()
        )));
    }

    #[test]
    fn like_wildcards_in_operator_text_are_literal() {
        assert_eq!(
            like_pattern("50%_a\\b"),
            Value::Text("%50\\%\\_a\\\\b%".to_string())
        );
    }

    #[test]
    fn causes_compile_to_bound_patterns_from_the_shared_table() {
        let filter = Filter {
            causes: vec![Cause::NoMailbox, Cause::Other],
            ..Filter::default()
        };
        let patterns: usize = CAUSE_PATTERNS.iter().map(|(_, p)| p.len()).sum();
        for dialect in [Dialect::SQLITE, Dialect::POSTGRES] {
            let sql = count(dialect, &filter);
            assert_eq!(sql.params.len(), patterns + 2);
            assert!(!sql.text.contains("mailboxnotenabledforrestapi"));
            assert_eq!(
                sql.params[0],
                Value::Text("%mailboxnotenabledforrestapi%".into())
            );
            assert_eq!(sql.params[patterns + 1], Value::Text("other".into()));
        }
        assert!(
            count(Dialect::POSTGRES, &filter)
                .text
                .contains("s.calendar_error COLLATE \"C\" ILIKE $1 ESCAPE")
        );
    }

    #[test]
    fn placeholders_follow_the_dialect() {
        let filter = Filter {
            conference_id: Some(3),
            user_id: Some(4),
            ..Filter::default()
        };
        assert!(count(Dialect::SQLITE, &filter).text.contains("?2"));
        assert!(count(Dialect::POSTGRES, &filter).text.contains("$2"));
    }
}
