//! The audit log of operator actions that wrote anything (created by `calsync migrate`): who
//! acted, what they asked for and how it ended.

use chrono::{DateTime, Utc};
use serde::Serialize;

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
