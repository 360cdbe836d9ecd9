//! A selection row that cannot be read whole: SQLite stores whatever text it is given, so a slot
//! date `2026-13-45`, a NULL start time (in a table made without Django's NOT NULL) or an
//! unparsable `selected_at` can sit in an LMS database. Such a row is an error of that row only:
//! it is listed with its columns as stored and the reasons, and a sync fails it alone.
//! (PostgreSQL's typed columns cannot hold such values.)

use chrono::{DateTime, Utc};

use super::{Selection, SyncColumns, SyncState};

#[derive(Debug, Clone, PartialEq)]
pub struct MalformedSelection {
    pub id: i64,
    pub user_id: Option<i64>,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub conference_id: Option<i64>,
    pub conference_title: String,
    pub use_time_slots: bool,
    pub time_slot_id: Option<i64>,
    /// The slot's date and times as stored (None: NULL).
    pub slot_date: Option<String>,
    pub slot_start: Option<String>,
    pub slot_end: Option<String>,
    pub timezone: String,
    /// `selected_at` as stored, and as an instant when it is one (for paging).
    pub selected_at_text: Option<String>,
    pub selected_at: Option<DateTime<Utc>>,
    pub calendar_added: bool,
    pub outlook_event_id: Option<String>,
    pub error: Option<String>,
    /// `calendar_add_attempted_at` as stored.
    pub attempted_at_text: Option<String>,
    /// The four sync columns when all of them can be read: only then can a result be written
    /// under the usual guard.
    pub sync: Option<SyncColumns>,
    pub stale: bool,
    /// The Teams meeting's join URL, as the ledger recorded it.
    pub teams_join_url: Option<String>,
    pub web_link: Option<String>,
    /// One reason per unreadable column, e.g. "slot date '2026-13-45' is not a valid date".
    pub problems: Vec<String>,
}

impl MalformedSelection {
    /// The sync state, when the sync columns can be read.
    pub fn state(&self) -> Option<SyncState> {
        self.sync.as_ref().map(SyncColumns::state)
    }

    /// Every reason in one line.
    pub fn reason(&self) -> String {
        self.problems.join("; ")
    }

    /// Django's `get_full_name()` as is (may be empty).
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }

    /// The full name, else the username.
    pub fn person_name(&self) -> String {
        let name = self.full_name();
        if name.is_empty() {
            self.username.clone()
        } else {
            name
        }
    }
}

/// A slot whose date or times cannot be read (SQLite only): left out of slot lists and named by
/// `doctor`; its selections are malformed rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedSlot {
    pub id: i64,
    pub problems: Vec<String>,
}

/// A row of a listing: readable, or readable only in part.
#[derive(Debug, Clone, PartialEq)]
pub enum Listed {
    Readable(Selection),
    Malformed(MalformedSelection),
}

impl Listed {
    pub fn id(&self) -> i64 {
        match self {
            Listed::Readable(s) => s.id,
            Listed::Malformed(m) => m.id,
        }
    }
}
