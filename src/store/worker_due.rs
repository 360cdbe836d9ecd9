//! calsync's migration "worker due index": lets a worker's pass find the retries that are due
//! without reading the parked ones (a million-row LMS can hold a hundred thousand of those).
//! A partial index, on calsync's own table only; both engines use it for
//! `parked_at IS NULL AND next_attempt_at <= ?`.

use super::migration::Migration;
use super::sql::SqlEngine;
use super::worker::RETRIES;

pub const VERSION: u32 = 6;

pub const MIGRATION: Migration = Migration {
    version: VERSION,
    name: "worker due index",
    enables: "`calsync worker`: finding due retries without reading the parked ones",
    up,
    down,
};

fn up(_engine: SqlEngine) -> Vec<String> {
    vec![format!(
        "CREATE INDEX {RETRIES}_due ON {RETRIES} (next_attempt_at) WHERE parked_at IS NULL"
    )]
}

fn down() -> Vec<String> {
    vec![format!("DROP INDEX {RETRIES}_due")]
}
