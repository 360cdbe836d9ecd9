//! What calsync records in its own tables (created by `calsync migrate`): the event ledger, which
//! keeps every Outlook event calsync touched findable after the LMS deletes the selection that
//! pointed to it, and the audit log of operator actions that wrote anything.

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

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// Still running, or the process died before it could say.
    Running,
    Ok,
    /// Finished, but some rows failed.
    Partial,
    Failed,
    Cancelled,
    /// The console that ran it was closed (or stopped) before the run could end by itself:
    /// what was in flight was finished and recorded, the rest not started.
    Interrupted,
}

impl AuditOutcome {
    pub const ALL: [AuditOutcome; 6] = [
        AuditOutcome::Running,
        AuditOutcome::Ok,
        AuditOutcome::Partial,
        AuditOutcome::Failed,
        AuditOutcome::Cancelled,
        AuditOutcome::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Running => "running",
            AuditOutcome::Ok => "ok",
            AuditOutcome::Partial => "partial",
            AuditOutcome::Failed => "failed",
            AuditOutcome::Cancelled => "cancelled",
            AuditOutcome::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> Option<AuditOutcome> {
        AuditOutcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// Who is acting: the OS user and host, as the audit log records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    pub user: String,
    pub host: String,
}

impl Operator {
    /// The OS user (`USER`, `USERNAME` on Windows, else the account of the process's uid) and
    /// the host name.
    pub fn current() -> Operator {
        let user = ["USER", "USERNAME", "LOGNAME"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
            .or_else(account_of_this_process)
            .unwrap_or_else(|| "unknown".to_string());
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
            })
            .unwrap_or_else(|| "unknown".to_string());
        Operator { user, host }
    }
}

/// Cron jobs and services often run without `USER`: the uid's name from `/etc/passwd`, or the
/// uid itself.
#[cfg(unix)]
fn account_of_this_process() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse::<u32>().ok()? == uid).then(|| name.to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

#[cfg(not(unix))]
fn account_of_this_process() -> Option<String> {
    None
}

/// The start of an audited action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditStart {
    pub operator: Operator,
    /// `sync`, `console sync`, `reconcile`, `verify`, `migrate`…
    pub action: String,
    /// Which rows, in words (`--retry-failed --conference-id 3`, `12 marked rows`…).
    pub scope: String,
    /// The console filter or the command line's filter flags; empty when none.
    pub filter: String,
    pub rows: u64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub os_user: String,
    pub host: String,
    pub action: String,
    pub scope: String,
    pub filter: String,
    pub rows: u64,
    pub outcome: AuditOutcome,
    /// What happened, in one line (`598 synced, 2 failed`).
    pub detail: String,
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
