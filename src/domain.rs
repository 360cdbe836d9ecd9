//! Plain data shared by every layer: what a selection is, how its sync state is derived from the
//! LMS's four sync columns, and what an operator can filter and sort by.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

pub mod audit;
pub mod diagnosis;
pub mod ledger;
mod malformed;
pub mod meeting;
pub mod query;
mod slot_time;
mod when;
pub mod worker;
pub use diagnosis::Cause;
pub use malformed::{Listed, MalformedSelection, MalformedSlot};
pub use slot_time::{SlotProblem, SlotWindow, resolve_slot_window};
pub use when::parse_when;

/// The sync state of one selection, derived from `calendar_added`, `calendar_add_attempted_at` and
/// `calendar_error` exactly the way the LMS's pages read them (`''` and NULL both mean "no error").
/// The states are exclusive; `added` wins over everything, then an error text, then an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    Added,
    AddedStaleError,
    Failed,
    Interrupted,
    NotSynced,
}

impl SyncState {
    pub const ALL: [SyncState; 5] = [
        SyncState::Added,
        SyncState::AddedStaleError,
        SyncState::Failed,
        SyncState::Interrupted,
        SyncState::NotSynced,
    ];

    pub fn derive(calendar_added: bool, attempted: bool, error: Option<&str>) -> SyncState {
        let has_error = error.is_some_and(|e| !e.is_empty());
        match (calendar_added, has_error, attempted) {
            (true, false, _) => SyncState::Added,
            (true, true, _) => SyncState::AddedStaleError,
            (false, true, _) => SyncState::Failed,
            (false, false, true) => SyncState::Interrupted,
            (false, false, false) => SyncState::NotSynced,
        }
    }

    /// The machine name used by `--state`, filter tokens and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Added => "added",
            SyncState::AddedStaleError => "added_stale_error",
            SyncState::Failed => "failed",
            SyncState::Interrupted => "interrupted",
            SyncState::NotSynced => "not_synced",
        }
    }

    /// Wording that mirrors the LMS's badges, so operators and learners describe rows alike.
    pub fn label(self) -> &'static str {
        match self {
            SyncState::Added => "Added to Outlook",
            SyncState::AddedStaleError => "Added (stale error)",
            SyncState::Failed => "Calendar sync failed",
            SyncState::Interrupted => "Interrupted",
            SyncState::NotSynced => "Not synced",
        }
    }

    /// A symbol that carries the state without colour (`NO_COLOR`, copy-paste, screen readers).
    pub fn symbol(self) -> &'static str {
        match self {
            SyncState::Added => "✓",
            SyncState::AddedStaleError => "✓!",
            SyncState::Failed => "✗",
            SyncState::Interrupted => "…",
            SyncState::NotSynced => "·",
        }
    }

    pub fn parse(name: &str) -> Option<SyncState> {
        let normalized = name.trim().to_ascii_lowercase().replace('-', "_");
        let aliases: &[(&str, SyncState)] = &[
            ("added", SyncState::Added),
            ("synced", SyncState::Added),
            ("added_stale_error", SyncState::AddedStaleError),
            ("stale_error", SyncState::AddedStaleError),
            ("failed", SyncState::Failed),
            ("interrupted", SyncState::Interrupted),
            ("not_synced", SyncState::NotSynced),
            ("unsynced_never", SyncState::NotSynced),
            ("pending", SyncState::NotSynced),
        ];
        aliases
            .iter()
            .find(|(alias, _)| *alias == normalized)
            .map(|(_, state)| *state)
    }
}

impl std::fmt::Display for SyncState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The selection scopes of the LMS's `sync_calendar_events` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `calendar_added = false` (the command's default).
    Unsynced,
    /// `calendar_added = false AND calendar_add_attempted_at IS NOT NULL` (`--retry-failed`).
    Failed,
    /// Every selection (`--all`).
    All,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Unsynced, Scope::Failed, Scope::All];

    /// The machine name used by filter tokens (the command's flags without `--`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Unsynced => "unsynced",
            Scope::Failed => "failed",
            Scope::All => "all",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        let normalized = name.trim().to_ascii_lowercase();
        Scope::ALL.into_iter().find(|s| s.as_str() == normalized)
    }
}

/// Counts of selections per sync state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub added: u64,
    pub added_stale_error: u64,
    pub failed: u64,
    pub interrupted: u64,
    pub not_synced: u64,
}

impl StateCounts {
    pub fn total(&self) -> u64 {
        self.added + self.added_stale_error + self.failed + self.interrupted + self.not_synced
    }

    pub fn get(&self, state: SyncState) -> u64 {
        match state {
            SyncState::Added => self.added,
            SyncState::AddedStaleError => self.added_stale_error,
            SyncState::Failed => self.failed,
            SyncState::Interrupted => self.interrupted,
            SyncState::NotSynced => self.not_synced,
        }
    }
}

/// A conference with the sync counts of its selections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConferenceSummary {
    pub id: i64,
    pub title: String,
    pub platform: String,
    pub date: NaiveDate,
    pub use_time_slots: bool,
    pub status: String,
    pub slot_count: u64,
    pub counts: StateCounts,
}

/// A time slot with the sync counts of its selections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotSummary {
    pub id: i64,
    pub conference_id: i64,
    pub date: NaiveDate,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub timezone: String,
    pub meeting_link: Option<String>,
    pub max_participants: i64,
    pub current_participants: i64,
    pub is_available: bool,
    pub counts: StateCounts,
}

/// One `conferences_conferencetimeslotselection` row joined with its user, conference and slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: String,
    pub branch_id: Option<i64>,
    pub branch_name: Option<String>,
    pub conference_id: i64,
    pub conference_title: String,
    pub conference_description: Option<String>,
    pub conference_link: Option<String>,
    pub platform: String,
    pub use_time_slots: bool,
    pub time_slot_id: i64,
    /// The slot's own conference; the database does not force it to equal `conference_id`.
    pub slot_conference_id: i64,
    pub slot_date: NaiveDate,
    pub slot_start: NaiveTime,
    pub slot_end: NaiveTime,
    pub timezone: String,
    pub slot_link: Option<String>,
    pub slot_updated_at: DateTime<Utc>,
    pub selected_at: DateTime<Utc>,
    pub sync: SyncColumns,
    /// What the event is made from (slot date, times, zone, link; conference title), as the
    /// database renders it: recorded in the ledger when an event is written, so a later
    /// difference shows the event is stale.
    pub fingerprint: String,
    /// Added, but the slot or conference changed after the event was written (see
    /// `store::sql` for the rule).
    pub stale: bool,
    /// What the ledger recorded about the event `outlook_event_id` points to.
    pub recorded: meeting::RecordedEvent,
}

/// The four sync columns as read. Also the write guard: a write only lands while the row still
/// holds exactly these values, so a change made by the LMS in between is never clobbered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncColumns {
    pub outlook_event_id: Option<String>,
    pub calendar_added: bool,
    pub attempted_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl SyncColumns {
    pub fn state(&self) -> SyncState {
        SyncState::derive(
            self.calendar_added,
            self.attempted_at.is_some(),
            self.error.as_deref(),
        )
    }

    /// The error text, with `''` read as "no error" like the LMS does.
    pub fn error_text(&self) -> Option<&str> {
        self.error.as_deref().filter(|e| !e.is_empty())
    }
}

impl Selection {
    pub fn state(&self) -> SyncState {
        self.sync.state()
    }

    /// Django's `get_full_name()`, falling back to the username when it is empty.
    pub fn person_name(&self) -> String {
        full_name(&self.first_name, &self.last_name).unwrap_or_else(|| self.username.clone())
    }

    /// Django's `get_full_name()` as is (may be empty).
    pub fn full_name(&self) -> String {
        full_name(&self.first_name, &self.last_name).unwrap_or_default()
    }

    /// The link the event carries: the slot's own, else the conference's (`''` counts as none).
    pub fn meeting_link(&self) -> Option<&str> {
        non_empty(self.slot_link.as_deref()).or_else(|| non_empty(self.conference_link.as_deref()))
    }
}

pub(crate) fn full_name(first: &str, last: &str) -> Option<String> {
    let name = format!("{first} {last}");
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

pub fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// What the operator asked for. Every field narrows the set; all are compiled to bound SQL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Any of these states (empty = all states).
    pub states: Vec<SyncState>,
    pub scope: Option<Scope>,
    pub conference_id: Option<i64>,
    pub slot_id: Option<i64>,
    pub user_id: Option<i64>,
    pub selection_ids: Vec<i64>,
    /// Case-insensitive substring of username, full name or email.
    pub person: Option<String>,
    /// Case-insensitive substring of username, full name, email, conference title or error.
    pub text: Option<String>,
    pub role: Option<String>,
    pub platform: Option<String>,
    /// Case-insensitive substring of `calendar_error`.
    pub error: Option<String>,
    /// Only added selections whose event is stale.
    pub stale: bool,
    /// Any of these failure causes (see [`diagnosis::cause_of`]); rows without an error text
    /// never match. Empty = no condition.
    pub causes: Vec<Cause>,
    /// None of these failure causes; rows without an error text always pass.
    pub exclude_causes: Vec<Cause>,
    pub attempted_since: Option<DateTime<Utc>>,
    pub attempted_until: Option<DateTime<Utc>>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// "Retry failed" leaves out failures that cannot succeed until someone fixes their cause
    /// (no mailbox, unknown user, credentials, time zone), unless asked to include them or the
    /// causes are named.
    pub fn without_permanent_failures(mut self, include_permanent: bool) -> Filter {
        if self.scope == Some(Scope::Failed) && !include_permanent && self.causes.is_empty() {
            self.exclude_causes = Cause::ALL
                .into_iter()
                .filter(|c| c.is_permanent())
                .collect();
        }
        self
    }

    /// The failures [`Filter::without_permanent_failures`] leaves out.
    pub fn permanent_failures(&self) -> Filter {
        Filter {
            exclude_causes: Vec::new(),
            causes: self.exclude_causes.clone(),
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Newest selections first, like the LMS's command (`selected_at`, then id).
    #[default]
    SelectedAt,
    Id,
    /// Most recent attempt first; never-attempted rows sort last.
    AttemptedAt,
    /// The columns the console sorts by (not backed by an index: a sort of the matches per page).
    Email,
    /// The name shown (the full name, else the username).
    Person,
    Conference,
    /// The error text; rows without one are NULL.
    Error,
}

impl SortKey {
    /// Whether the key is text (compared as the database collates it) rather than a time or id.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            SortKey::Email | SortKey::Person | SortKey::Conference | SortKey::Error
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
    /// Rows without a value (never attempted, no error) come first. Reading a list backwards
    /// flips it along with the direction, so the operator's order stays exactly reversed.
    pub nulls_first: bool,
}

impl Sort {
    /// `key` in `descending` order, rows without a value last.
    pub const fn by(key: SortKey, descending: bool) -> Sort {
        Sort {
            key,
            descending,
            nulls_first: false,
        }
    }

    /// The same order read from the other end.
    pub const fn reversed(self) -> Sort {
        Sort {
            key: self.key,
            descending: !self.descending,
            nulls_first: !self.nulls_first,
        }
    }
}

impl Default for Sort {
    fn default() -> Self {
        Sort::by(SortKey::SelectedAt, true)
    }
}

/// Where a page ends: the sort value and id of its last row. The next page starts after it, so
/// page N costs what page 1 costs (no deep OFFSET).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: CursorKey,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorKey {
    Id,
    Time(Option<DateTime<Utc>>),
    /// A text sort key's value (None: NULL).
    Text(Option<String>),
    /// The sort column's text as stored, when it is not a readable time (SQLite only).
    Stored(String),
}

impl Cursor {
    pub fn after(selection: &Selection, key: SortKey) -> Cursor {
        let key = match key {
            SortKey::Id => CursorKey::Id,
            SortKey::SelectedAt => CursorKey::Time(Some(selection.selected_at)),
            SortKey::AttemptedAt => CursorKey::Time(selection.sync.attempted_at),
            SortKey::Email => CursorKey::Text(Some(selection.email.clone())),
            SortKey::Person => CursorKey::Text(Some(selection.person_name())),
            SortKey::Conference => CursorKey::Text(Some(selection.conference_title.clone())),
            SortKey::Error => CursorKey::Text(selection.sync.error_text().map(str::to_string)),
        };
        Cursor {
            key,
            id: selection.id,
        }
    }

    /// After a row of a listing, readable or not.
    pub fn after_listed(row: &Listed, key: SortKey) -> Cursor {
        let row = match row {
            Listed::Readable(selection) => return Cursor::after(selection, key),
            Listed::Malformed(row) => row,
        };
        let stored = |parsed: Option<DateTime<Utc>>, text: &Option<String>| match (parsed, text) {
            (Some(at), _) => CursorKey::Time(Some(at)),
            (None, Some(text)) => CursorKey::Stored(text.clone()),
            (None, None) => CursorKey::Time(None),
        };
        let key = match key {
            SortKey::Id => CursorKey::Id,
            SortKey::SelectedAt => stored(row.selected_at, &row.selected_at_text),
            SortKey::AttemptedAt => stored(
                row.sync.as_ref().and_then(|s| s.attempted_at),
                &row.attempted_at_text,
            ),
            SortKey::Email => CursorKey::Text(Some(row.email.clone())),
            SortKey::Person => CursorKey::Text(Some(row.person_name())),
            SortKey::Conference => CursorKey::Text(Some(row.conference_title.clone())),
            SortKey::Error => CursorKey::Text(row.error.clone().filter(|e| !e.is_empty())),
        };
        Cursor { key, id: row.id }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    pub filter: Filter,
    pub sort: Sort,
    pub after: Option<Cursor>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<Selection>,
    /// The rows of this page that cannot be read whole (left out of `rows`).
    pub malformed: Vec<MalformedSelection>,
    /// Present when more rows may follow.
    pub next: Option<Cursor>,
}

/// One LMS user, as the person view shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: String,
    pub branch_id: Option<i64>,
    pub branch_name: Option<String>,
    pub is_active: bool,
    /// The branch's Teams switch (the LMS's calendar sync ignores it; calsync warns).
    pub branch_teams_enabled: Option<bool>,
}

/// A user found by any part of their username, email or full name (`:person rossi`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonMatch {
    pub id: i64,
    pub username: String,
    pub email: String,
    /// The full name, empty when the LMS has none.
    pub name: String,
}

impl Person {
    pub fn display_name(&self) -> String {
        full_name(&self.first_name, &self.last_name).unwrap_or_else(|| self.username.clone())
    }
}

/// A Teams integration as calsync may show it: neither the secret nor its length is ever read
/// into this type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegrationInfo {
    pub id: i64,
    pub name: String,
    pub is_active: bool,
    pub tenant_id: String,
    pub client_id: String,
    /// Whether a secret is set; its length is never read (it would narrow a guess).
    pub has_secret: bool,
    pub owner_id: Option<i64>,
    pub owner_username: Option<String>,
    pub owner_branch_id: Option<i64>,
    pub owner_branch_name: Option<String>,
    pub branch_id: Option<i64>,
}

impl IntegrationInfo {
    pub fn masked_secret(&self) -> String {
        if self.has_secret {
            "••••••••".to_string()
        } else {
            "(empty)".to_string()
        }
    }
}

/// An active Teams integration with its credentials. The secret leaves the store only in this
/// type, whose Debug output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCredentials {
    pub integration_id: i64,
    pub integration_name: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub owner_id: Option<i64>,
    pub owner_branch_id: Option<i64>,
}

impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredentials")
            .field("integration_id", &self.integration_id)
            .field("integration_name", &self.integration_name)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("owner_id", &self.owner_id)
            .field("owner_branch_id", &self.owner_branch_id)
            .finish()
    }
}

/// Why an integration serves a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialSource {
    /// Its owner is in the user's branch (the LMS's first rule).
    OwnerInUsersBranch,
    /// The user owns it (the LMS's fallback).
    OwnedByUser,
}

/// The LMS's lookup (`add_to_outlook_calendar`): the first active integration (lowest id) whose
/// owner is in the user's branch, else the first the user owns. The integration's own
/// `branch_id` is not consulted, exactly as in the LMS. `active` must be ordered by id.
pub fn choose_credentials(
    active: &[StoredCredentials],
    user_id: i64,
    branch_id: Option<i64>,
) -> Option<(&StoredCredentials, CredentialSource)> {
    let by_branch = branch_id.and_then(|branch| {
        active
            .iter()
            .find(|c| c.owner_id.is_some() && c.owner_branch_id == Some(branch))
    });
    by_branch
        .map(|c| (c, CredentialSource::OwnerInUsersBranch))
        .or_else(|| {
            active
                .iter()
                .find(|c| c.owner_id == Some(user_id))
                .map(|c| (c, CredentialSource::OwnedByUser))
        })
}

/// The outcome of a guarded write of the sync columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// The row changed since calsync read it (or was deleted); nothing was written.
    Conflict,
}

/// What a sync attempt writes, in one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncWrite {
    Success {
        outlook_event_id: String,
        at: DateTime<Utc>,
    },
    Failure {
        error: String,
        at: DateTime<Utc>,
    },
    /// Only the attempt time, written before a create is sent: the row then reads as attempted
    /// (the LMS's "interrupted" until its result is written), so a run that dies after the
    /// POST leaves a row that the next run looks up by its tag before creating anything.
    Attempt {
        at: DateTime<Utc>,
    },
}
