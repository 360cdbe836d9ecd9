//! calsync's migration "event web links": one ledger column, the event's `webLink` (the URL
//! that opens it in Outlook on the web) as Graph last returned it on a create, an update or a
//! verify's GET (`resources/event.md`: "webLink … The URL to open the event in Outlook on the
//! web"). Only calsync's own ledger changes; the LMS's tables never do.

use super::Store;
use super::migration::Migration;
use super::sql::LEDGER;
use super::sql::{Builder, Dialect, Sql, SqlEngine, Value};

/// This step's place in `store::migrate::MIGRATIONS`.
pub const VERSION: u32 = 7;

pub const MIGRATION: Migration = Migration {
    version: VERSION,
    name: "event web links",
    enables: "the event's Outlook link in the console (w) and `status --json`",
    up,
    down,
};

fn up(_: SqlEngine) -> Vec<String> {
    vec![format!(
        "ALTER TABLE {LEDGER} ADD COLUMN web_link text NULL"
    )]
}

fn down() -> Vec<String> {
    vec![format!("ALTER TABLE {LEDGER} DROP COLUMN web_link")]
}

impl Store {
    /// Whether the ledger has the column of `MIGRATION`.
    pub fn has_web_links(&self) -> bool {
        self.own_version() >= VERSION
    }
}

/// Records the `webLink` Graph answered for an event the ledger holds. `None` before the step.
pub fn record(dialect: Dialect, mailbox: &str, event_id: &str, web_link: &str) -> Option<Sql> {
    if !dialect.web_links {
        return None;
    }
    let mut b = Builder::new(dialect, &format!("UPDATE {LEDGER} SET web_link = "));
    b.bind(Value::Text(web_link.to_string()))
        .push(" WHERE mailbox = ")
        .bind(Value::Text(mailbox.to_lowercase()))
        .push(" AND event_id = ")
        .bind(Value::Text(event_id.to_string()));
    Some(b.finish())
}
