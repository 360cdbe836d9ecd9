//! calsync's migration "teams meetings" and its SQL: two ledger columns, the Teams join URL Graph
//! answered with and a digest of the body calsync sent (see [`crate::domain::meeting`]). Kept in
//! a file of its own so the step can be renumbered without touching the others.

use super::Store;
use super::own::{LEDGER, Migration};
use super::sql::{Builder, Dialect, Engine, Sql, Value};
use crate::domain::meeting::MeetingRecord;

/// This step's place in [`super::own::MIGRATIONS`].
pub const VERSION: u32 = 3;

pub const MIGRATION: Migration = Migration {
    version: VERSION,
    name: "teams meetings",
    enables: "Teams join URLs in the console and `status --json`, updates that leave an unchanged body out",
    up,
    down,
};

fn up(_: Engine) -> Vec<String> {
    vec![
        format!("ALTER TABLE {LEDGER} ADD COLUMN teams_join_url text NULL"),
        format!("ALTER TABLE {LEDGER} ADD COLUMN sent_body_digest varchar(64) NULL"),
    ]
}

fn down() -> Vec<String> {
    vec![
        format!("ALTER TABLE {LEDGER} DROP COLUMN sent_body_digest"),
        format!("ALTER TABLE {LEDGER} DROP COLUMN teams_join_url"),
    ]
}

impl Store {
    /// Whether the ledger has the columns of [`MIGRATION`].
    pub fn has_meeting_records(&self) -> bool {
        self.own_version() >= VERSION
    }
}

/// The two selection columns `teams_join_url, sent_body_digest`, of the ledger row of the event
/// the selection points to (matched as the stale rule matches it: the row holds a REST id, the
/// ledger the immutable id, so the selection's newest live ledger row), or NULLs before the step.
pub fn selection_columns(dialect: Dialect) -> String {
    if !dialect.meetings {
        return "CAST(NULL AS text), CAST(NULL AS text)".to_string();
    }
    let of = |column: &str| {
        format!(
            "(SELECT l.{column} FROM {LEDGER} l WHERE l.selection_id = s.id \
             AND l.deleted_at IS NULL ORDER BY l.last_seen_at DESC, l.id DESC LIMIT 1)"
        )
    };
    format!("{}, {}", of("teams_join_url"), of("sent_body_digest"))
}

/// Records what Graph said of the event's meeting, and the digest of the body sent (an unsent
/// body keeps the digest already there). `None` before the step.
pub fn record(dialect: Dialect, record: &MeetingRecord) -> Option<Sql> {
    if !dialect.meetings {
        return None;
    }
    let mut b = Builder::new(dialect, &format!("UPDATE {LEDGER} SET teams_join_url = "));
    push_text(&mut b, record.teams_join_url.as_deref());
    b.push(", sent_body_digest = COALESCE(");
    push_text(&mut b, record.sent_body_digest.as_deref());
    b.push(", sent_body_digest) WHERE mailbox = ")
        .bind(Value::Text(record.mailbox.to_lowercase()))
        .push(" AND event_id = ")
        .bind(Value::Text(record.event_id.clone()));
    Some(b.finish())
}

fn push_text(b: &mut Builder, value: Option<&str>) {
    match value {
        Some(v) => b.bind(Value::Text(v.to_string())),
        None => b.push("NULL"),
    };
}
