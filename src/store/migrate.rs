//! `calsync migrate`: calsync's own tables created up to the newest step or reverted down to an
//! older one, each direction in one transaction, and the version the store found at open.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};

use super::migration::{self, Migration};
use super::sql::{self, Sql};
use super::{Store, StoreError};

/// What `calsync migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub from: u32,
    pub to: u32,
    /// The steps applied (up) or reverted (down), in the order they ran.
    pub steps: Vec<(u32, &'static str)>,
}

/// calsync's schema, oldest step first.
pub const MIGRATIONS: [Migration; 7] = [
    super::ledger::MIGRATION,
    super::audit_log::MIGRATION,
    super::meetings::MIGRATION,
    super::intent::MIGRATION,
    super::worker::MIGRATION,
    super::worker_due::MIGRATION,
    super::web_links::MIGRATION,
];

pub const LATEST: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

impl Store {
    pub(super) async fn read_own_version(&self) -> Result<u32, StoreError> {
        let engine = self.dialect().engine;
        let exists = self
            .query_one(
                Sql::plain(migration::migrations_table_exists(engine)),
                sql::map_count,
            )
            .await?;
        if exists == 0 {
            return Ok(0);
        }
        let version = self
            .query_one(Sql::plain(&migration::current_version()), sql::map_count)
            .await?;
        Ok(u32::try_from(version).unwrap_or(u32::MAX))
    }

    /// The version of calsync's own tables: 0 before `calsync migrate`.
    pub fn own_version(&self) -> u32 {
        self.own_version.load(Ordering::Relaxed)
    }

    pub fn has_ledger(&self) -> bool {
        self.own_version() >= 1
    }

    pub fn has_audit_log(&self) -> bool {
        self.own_version() >= 2
    }

    /// The migrations not applied yet, for "run `calsync migrate` to enable …" hints.
    pub fn pending_migrations(&self) -> Vec<&'static Migration> {
        let current = self.own_version();
        MIGRATIONS.iter().filter(|m| m.version > current).collect()
    }

    /// Creates calsync's tables up to the newest version, in one transaction. Running it again
    /// does nothing.
    pub async fn migrate_up(&self, at: DateTime<Utc>) -> Result<MigrationReport, StoreError> {
        let from = self.read_own_version().await?;
        let dialect = self.dialect();
        let mut statements = vec![Sql::plain(&migration::migrations_table_ddl(dialect.engine))];
        let mut steps = Vec::new();
        for migration in MIGRATIONS.iter().filter(|m| m.version > from) {
            statements.extend(migration.up(dialect.engine).iter().map(|s| Sql::plain(s)));
            statements.push(migration::record_migration(
                dialect,
                migration.version,
                migration.name,
                at,
            ));
            steps.push((migration.version, migration.name));
        }
        if !steps.is_empty() {
            self.execute_all(statements).await?;
        }
        self.own_version.store(LATEST.max(from), Ordering::Relaxed);
        Ok(MigrationReport {
            from,
            to: LATEST.max(from),
            steps,
        })
    }

    /// Reverts calsync's tables down to version `to` (0 removes them all, the migrations table
    /// included), newest first, in one transaction.
    pub async fn migrate_down(&self, to: u32) -> Result<MigrationReport, StoreError> {
        let from = self.read_own_version().await?;
        let dialect = self.dialect();
        let mut statements = Vec::new();
        let mut steps = Vec::new();
        for migration in MIGRATIONS
            .iter()
            .rev()
            .filter(|m| m.version > to && m.version <= from)
        {
            statements.extend(migration.down().iter().map(|s| Sql::plain(s)));
            statements.push(migration::forget_migration(dialect, migration.version));
            steps.push((migration.version, migration.name));
        }
        if to == 0 && from > 0 {
            statements.push(Sql::plain(&format!(
                "DROP TABLE {}",
                migration::MIGRATIONS_TABLE
            )));
        }
        if !statements.is_empty() {
            self.execute_all(statements).await?;
        }
        let now = from.min(to);
        self.own_version.store(now, Ordering::Relaxed);
        Ok(MigrationReport {
            from,
            to: now,
            steps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::SqlEngine;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, i + 1);
        }
        assert_eq!(LATEST as usize, MIGRATIONS.len());
    }

    #[test]
    fn every_table_is_calsyncs_own() {
        for engine in [SqlEngine::Sqlite, SqlEngine::Postgres] {
            for migration in &MIGRATIONS {
                for statement in migration.up(engine).iter().chain(&migration.down()) {
                    assert!(
                        statement.contains("calsync_"),
                        "touches something not calsync's: {statement}"
                    );
                    assert!(!statement.contains("conferences_"), "{statement}");
                }
            }
        }
    }
}
