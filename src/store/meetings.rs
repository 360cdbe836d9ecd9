//! calsync's migration "teams meetings" and its SQL: two ledger columns, the Teams join URL Graph
//! answered with and a digest of the body calsync sent (see [`crate::domain::meeting`]). Kept in
//! a file of its own so the step can be renumbered without touching the others.

use super::Store;
use super::migration::Migration;
use super::sql::LEDGER;
use super::sql::{Builder, Dialect, Sql, SqlEngine, Value};
use crate::domain::meeting::MeetingRecord;

/// This step's place in `store::migrate::MIGRATIONS`.
pub const VERSION: u32 = 3;

pub const MIGRATION: Migration = Migration {
    version: VERSION,
    name: "teams meetings",
    enables: "Teams join URLs in the console and `status --json`, updates that leave an unchanged body out",
    up,
    down,
};

fn up(_: SqlEngine) -> Vec<String> {
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
    /// Whether the ledger has the columns of `MIGRATION`.
    pub fn has_meeting_records(&self) -> bool {
        self.own_version() >= VERSION
    }
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
