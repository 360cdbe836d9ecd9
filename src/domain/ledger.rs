//! calsync's event ledger (created by `calsync migrate`), which keeps every Outlook event calsync
//! touched findable after the LMS deletes the selection that pointed to it; the create intents
//! recorded before a create is sent; and the selection's own pointer to its event.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What calsync last did with (or learnt about) one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerAction {
    Created,
    Updated,
    /// Found by its tag after an ambiguous create or an earlier attempt, and adopted.
    Adopted,
    /// Seen to exist by `verify` or `reconcile`.
    Found,
    /// Deleted by calsync (`reconcile`); a 404 counts as already gone.
    Deleted,
    /// Gone from the mailbox though nobody asked calsync to delete it (`verify`, or an update
    /// that answered 404).
    Missing,
}

impl LedgerAction {
    pub const ALL: [LedgerAction; 6] = [
        LedgerAction::Created,
        LedgerAction::Updated,
        LedgerAction::Adopted,
        LedgerAction::Found,
        LedgerAction::Deleted,
        LedgerAction::Missing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LedgerAction::Created => "created",
            LedgerAction::Updated => "updated",
            LedgerAction::Adopted => "adopted",
            LedgerAction::Found => "found",
            LedgerAction::Deleted => "deleted",
            LedgerAction::Missing => "missing",
        }
    }

    pub fn parse(text: &str) -> Option<LedgerAction> {
        LedgerAction::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// Whether the event is gone after this action.
    pub fn is_gone(self) -> bool {
        matches!(self, LedgerAction::Deleted | LedgerAction::Missing)
    }
}

/// One event as sent to a mailbox, for the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub selection_id: i64,
    pub user_id: i64,
    pub conference_id: i64,
    pub slot_id: i64,
    /// Lower-case: Graph's mailbox addresses ignore case, the ledger's key must too.
    pub mailbox: String,
    pub event_id: String,
    pub subject: String,
    pub sent_start: DateTime<Utc>,
    pub sent_end: DateTime<Utc>,
    /// The slot and conference as read when the event was written (see
    /// [`crate::domain::Selection::fingerprint`]); a different value now means the event is stale.
    pub fingerprint: String,
    pub action: LedgerAction,
    pub at: DateTime<Utc>,
}

/// One row of the ledger as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRecord {
    pub id: i64,
    /// Absent for an event found in a mailbox that no selection ever pointed to.
    pub selection_id: Option<i64>,
    pub user_id: Option<i64>,
    pub conference_id: Option<i64>,
    pub slot_id: Option<i64>,
    pub mailbox: String,
    pub event_id: String,
    pub subject: String,
    pub sent_start: DateTime<Utc>,
    pub sent_end: DateTime<Utc>,
    pub last_action: LedgerAction,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Narrows ledger queries the way `--user-id` and `--conference-id` narrow a command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerScope {
    pub user_id: Option<i64>,
    pub conference_id: Option<i64>,
}

/// A change to the ledger that travels with a sync result and commits in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerChange {
    /// An event written (created, updated, adopted): recorded with what was sent.
    Record(LedgerEntry),
    /// An event learnt to be gone or seen, keeping what was sent.
    Mark {
        mailbox: String,
        event_id: String,
        action: LedgerAction,
        at: DateTime<Utc>,
    },
    /// The Teams meeting and body digest of an event just recorded.
    Meeting(super::meeting::MeetingRecord),
    /// The `webLink` Graph answered for an event just recorded.
    WebLink {
        mailbox: String,
        event_id: String,
        web_link: String,
    },
    /// A create about to be sent, made durable before the POST (calsync's create intents).
    Intent(CreateIntent),
    /// The create of a selection settled with the row's result: `event_id` when it made or
    /// found an event, `None` when it failed.
    Settle {
        selection_id: i64,
        event_id: Option<String>,
        at: DateTime<Utc>,
    },
}

impl LedgerChange {
    /// Whether it goes to the create intents (version 4) rather than the ledger (version 1).
    pub fn is_intent(&self) -> bool {
        matches!(self, LedgerChange::Intent(_) | LedgerChange::Settle { .. })
    }
}

/// One selection's create, as recorded before it is sent: its `transactionId` and the attempt
/// counter that makes each re-creation's `transactionId` differ from the last one's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIntent {
    pub selection_id: i64,
    pub mailbox: String,
    pub transaction_id: String,
    pub attempt: u32,
    /// Sent (or about to be) with no result recorded yet: a run that did not finish left it.
    pub in_flight: bool,
    pub at: DateTime<Utc>,
}

/// Which event one selection row points to, read straight from the LMS's table (no joins, so a
/// row whose slot or user is gone still counts as existing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPointer {
    pub selection_id: i64,
    pub user_id: i64,
    pub conference_id: i64,
    pub slot_id: i64,
    /// `None` also when the LMS left an empty string.
    pub outlook_event_id: Option<String>,
}
