//! The LMS database: one [`Store`] over two backends (a SQLite file or PostgreSQL), reading and
//! writing Django's own tables exactly as Django does. Knows nothing of Graph or the terminal.

mod audit_log;
mod claims;
mod intent;
mod ledger;
mod matched;
mod meetings;
mod migrate;
mod migration;
mod pg_readers;
mod pg_tls;
mod pgpass;
mod postgres;
mod probe;
pub mod retry;
mod schema;
pub mod sql;
mod sqlite;
mod sqlite_readers;
mod stream;
pub mod timestamp_text;
mod unicode_match;
pub mod url;
mod web_links;
mod worker;
mod worker_due;
mod worker_views;
mod worker_watch;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub use claims::{CLAIM_NAMESPACE, Claim, Claims};
pub use migrate::{LATEST, MIGRATIONS, MigrationReport};
pub use sql::{Dialect, SqlEngine};
use sql::{RowMapper, Sql};
pub use sqlite::{django_datetime, parse_datetime as parse_django_datetime, sqlite_message};
pub use stream::{Batch, Listing};
pub use unicode_match::FUNCTION as UNICODE_CONTAINS;
pub use url::{DatabaseUrl, PgTarget, SslMode};
pub use worker::{RETRIES as WORKER_RETRIES, ScheduleChange, WorkerLock};

use crate::domain::ledger::LedgerChange;
use crate::domain::{
    Cause, ConferenceSummary, Filter, IntegrationInfo, Listed, MalformedSlot, Page, PageRequest,
    Person, PersonMatch, Selection, SlotSummary, Sort, SortKey, StateCounts, StoredCredentials,
    SyncColumns, SyncState, SyncWrite, WriteOutcome,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or reached.
    #[error("{0}")]
    Connect(String),
    /// It was reached but is not (all of) the LMS database.
    #[error("{0}")]
    Schema(String),
    #[error("database error: {0}")]
    Query(String),
    #[error("unexpected data in the database: {0}")]
    Data(String),
    /// Another calsync holds what this one needs (the SQLite run lock), said in one line.
    #[error("{0}")]
    Busy(String),
    /// The connection was lost or the database is locked: the same statement may succeed in a
    /// moment (see [`retry`]).
    #[error("{0}")]
    Transient(String),
}

impl StoreError {
    /// Connection and schema problems mean nothing could run at all.
    pub fn is_fatal_setup(&self) -> bool {
        matches!(
            self,
            StoreError::Connect(_)
                | StoreError::Schema(_)
                | StoreError::Busy(_)
                | StoreError::Transient(_)
        )
    }

    /// Worth trying again within the run: a lost connection or a lock held elsewhere.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long SQLite waits for a lock held by the LMS before giving up.
    pub sqlite_busy_timeout: Duration,
    /// How long connecting to PostgreSQL may take in all (TCP, TLS, authentication).
    pub connect_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sqlite_busy_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteBackend),
    Postgres(postgres::PgBackend),
}

/// A connection to the LMS database. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    url: DatabaseUrl,
    /// The version of calsync's own tables (0: `calsync migrate` was never run).
    own_version: Arc<AtomicU32>,
    /// The last lookup of a filter's text conditions, shared by its page and counts.
    lookups: Arc<matched::Lookups>,
}

impl Store {
    /// Opens the database and checks that the LMS tables and every column calsync uses exist.
    pub async fn open(url: &DatabaseUrl, options: &StoreOptions) -> Result<Store, StoreError> {
        let backend = match url {
            DatabaseUrl::Sqlite(path) => {
                Backend::Sqlite(sqlite::SqliteBackend::open(path, options).await?)
            }
            DatabaseUrl::Postgres(target) => {
                Backend::Postgres(postgres::PgBackend::connect(target, options).await?)
            }
        };
        let store = Store {
            backend,
            url: url.clone(),
            own_version: Arc::new(AtomicU32::new(0)),
            lookups: Arc::default(),
        };
        schema::check(&store).await?;
        let version = store.read_own_version().await?;
        store.own_version.store(version, Ordering::Relaxed);
        Ok(store)
    }

    /// Where this store points, with any password hidden.
    pub fn describe(&self) -> String {
        self.url.redacted()
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn dialect(&self) -> Dialect {
        let engine = match self.backend {
            Backend::Sqlite(_) => Dialect::SQLITE,
            Backend::Postgres(_) => Dialect::POSTGRES,
        };
        engine
            .with_ledger(self.has_ledger())
            .with_meetings(self.has_meeting_records())
            .with_web_links(self.has_web_links())
    }

    async fn query<T: Send + 'static>(
        &self,
        sql: Sql,
        map: RowMapper<T>,
    ) -> Result<Vec<T>, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.query(sql, map).await,
            Backend::Postgres(b) => b.query(sql, map).await,
        }
    }

    async fn execute(&self, sql: Sql) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.execute(sql).await,
            Backend::Postgres(b) => b.execute(sql).await,
        }
    }

    async fn execute_all(&self, statements: Vec<Sql>) -> Result<Vec<u64>, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.execute_all(statements).await,
            Backend::Postgres(b) => b.execute_all(statements).await,
        }
    }

    async fn query_one<T: Send + 'static>(
        &self,
        sql: Sql,
        map: RowMapper<T>,
    ) -> Result<T, StoreError> {
        self.query(sql, map)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Data("a query that returns one row returned none".into()))
    }

    /// Counts per sync state of the selections matching `filter`.
    pub async fn summary(&self, filter: &Filter) -> Result<StateCounts, StoreError> {
        let sql = self
            .filtered(filter, || sql::state_counts(self.dialect(), filter))
            .await?;
        self.query_one(sql, sql::map_state_counts).await
    }

    /// The failed selections matching `filter`, counted per failure cause: every cause with at
    /// least one failure, most failures first (ties in [`Cause::ALL`] order). The database
    /// counts per distinct error text; each text is classified once, here.
    pub async fn cause_counts(&self, filter: &Filter) -> Result<Vec<(Cause, u64)>, StoreError> {
        let sql = self
            .filtered(filter, || sql::failed_error_counts(self.dialect(), filter))
            .await?;
        let rows = self.query(sql, sql::map_cause_count).await?;
        let mut by_cause: BTreeMap<Cause, u64> = BTreeMap::new();
        for (cause, n) in rows {
            *by_cause.entry(cause).or_default() += n;
        }
        let mut counts: Vec<(Cause, u64)> = by_cause.into_iter().collect();
        counts.sort_by_key(|&(cause, n)| (std::cmp::Reverse(n), cause));
        Ok(counts)
    }

    /// The exact number of selections matching `filter`.
    pub async fn count(&self, filter: &Filter) -> Result<u64, StoreError> {
        let sql = self
            .filtered(filter, || sql::count(self.dialect(), filter))
            .await?;
        self.query_one(sql, sql::map_count).await
    }

    /// How many of the filter's rows a sync run would skip, since their conference no longer
    /// uses time slots (the bulk sheet counts them apart).
    pub async fn count_without_time_slots(&self, filter: &Filter) -> Result<u64, StoreError> {
        let sql = self
            .filtered(filter, || {
                sql::count_without_time_slots(self.dialect(), filter)
            })
            .await?;
        self.query_one(sql, sql::map_count).await
    }

    /// One page of selections, continuing after `request.after`; the rows that cannot be read
    /// whole are in `malformed`, not in `rows`.
    pub async fn page(&self, request: &PageRequest) -> Result<Page, StoreError> {
        let (listed, next) = self.listing(request).await?;
        let mut rows = Vec::with_capacity(listed.len());
        let mut malformed = Vec::new();
        for row in listed {
            match row {
                Listed::Readable(selection) => rows.push(selection),
                Listed::Malformed(row) => malformed.push(row),
            }
        }
        Ok(Page {
            rows,
            malformed,
            next,
        })
    }

    /// One page of selections in order, readable or not, and where the next page starts.
    pub async fn listing(
        &self,
        request: &PageRequest,
    ) -> Result<(Vec<Listed>, Option<crate::domain::Cursor>), StoreError> {
        let sql = self
            .filtered(&request.filter, || {
                sql::selection_page(self.dialect(), request)
            })
            .await?;
        let rows = self.query(sql, sql::map_listed).await?;
        let full = rows.len() as u64 >= u64::from(request.limit) && request.limit > 0;
        let next = if full {
            rows.last()
                .map(|last| crate::domain::Cursor::after_listed(last, request.sort.key))
        } else {
            None
        };
        Ok((rows, next))
    }

    /// The newest failed selections (by when they were selected), at most `limit`: the first
    /// page of the list of failures, read through the index on `selected_at`.
    pub async fn newest_failures(&self, limit: u32) -> Result<Vec<Selection>, StoreError> {
        let request = PageRequest {
            filter: Filter {
                states: vec![SyncState::Failed],
                ..Filter::default()
            },
            sort: Sort::default(),
            after: None,
            limit,
        };
        Ok(self.page(&request).await?.rows)
    }

    /// One selection, if it exists and can be read whole.
    pub async fn selection(&self, id: i64) -> Result<Option<Selection>, StoreError> {
        Ok(self
            .query(sql::selection_by_id(self.dialect(), id), sql::map_listed)
            .await?
            .into_iter()
            .find_map(|row| match row {
                Listed::Readable(selection) => Some(selection),
                Listed::Malformed(_) => None,
            }))
    }

    /// Failed selections per UTC day of their last attempt, since `since`.
    pub async fn failure_trend(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.query(
            sql::failure_trend(self.dialect(), since),
            sql::map_text_count,
        )
        .await
    }

    pub async fn person(&self, user_id: i64) -> Result<Option<Person>, StoreError> {
        Ok(self
            .query(sql::person(self.dialect(), user_id), sql::map_person)
            .await?
            .into_iter()
            .next())
    }

    /// The ids of users whose username or email is exactly `login` (ignoring case).
    pub async fn users_by_login(&self, login: &str) -> Result<Vec<i64>, StoreError> {
        self.query(sql::users_by_login(self.dialect(), login), sql::map_id)
            .await
    }

    /// Users whose username, email or full name contains `text`, exact matches first, at most
    /// `limit` (the candidates of `:person rossi`).
    pub async fn person_matches(
        &self,
        text: &str,
        limit: u32,
    ) -> Result<Vec<PersonMatch>, StoreError> {
        self.query(
            sql::person_matches(self.dialect(), text, limit),
            sql::map_person_match,
        )
        .await
    }

    /// Every conference, newest first, with the sync counts of its selections.
    pub async fn conferences(&self) -> Result<Vec<ConferenceSummary>, StoreError> {
        let mut conferences = self
            .query(sql::conferences(self.dialect()), sql::map_conference)
            .await?;
        let counts = self
            .grouped_counts("s.conference_id", &Filter::default())
            .await?;
        for conference in &mut conferences {
            conference.counts = counts.get(&conference.id).copied().unwrap_or_default();
        }
        Ok(conferences)
    }

    /// (conference id, title, failed, total) of every conference with failed selections, most
    /// failures first: two cheap counts rather than every state of every conference.
    pub async fn failures_by_conference(&self) -> Result<Vec<(i64, String, u64, u64)>, StoreError> {
        let dialect = self.dialect();
        let (conferences, totals, failures) = tokio::join!(
            self.query(sql::conferences(dialect), sql::map_conference),
            self.query(sql::conference_totals(dialect), sql::map_id_count),
            self.query(sql::conference_failures(dialect), sql::map_id_count),
        );
        let totals: BTreeMap<i64, u64> = totals?.into_iter().collect();
        let titles: BTreeMap<i64, String> =
            conferences?.into_iter().map(|c| (c.id, c.title)).collect();
        let mut worst: Vec<(i64, String, u64, u64)> = failures?
            .into_iter()
            .filter(|&(_, failed)| failed > 0)
            .map(|(id, failed)| {
                let title = titles.get(&id).cloned().unwrap_or_default();
                (
                    id,
                    title,
                    failed,
                    totals.get(&id).copied().unwrap_or(failed),
                )
            })
            .collect();
        worst.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        Ok(worst)
    }

    /// The time slots of one conference, in time order, with the sync counts of their selections
    /// (a slot whose date or times cannot be read is left out; `doctor` names it).
    pub async fn slots(&self, conference_id: i64) -> Result<Vec<SlotSummary>, StoreError> {
        let mut slots: Vec<SlotSummary> = self
            .query(
                sql::slots_of(self.dialect(), conference_id),
                sql::map_slot_row,
            )
            .await?
            .into_iter()
            .flatten()
            .collect();
        let filter = Filter {
            conference_id: Some(conference_id),
            ..Filter::default()
        };
        let counts = self.grouped_counts("s.time_slot_id", &filter).await?;
        for slot in &mut slots {
            slot.counts = counts.get(&slot.id).copied().unwrap_or_default();
        }
        Ok(slots)
    }

    /// Every readable slot (without counts), for consistency checks.
    pub async fn all_slots(&self) -> Result<Vec<SlotSummary>, StoreError> {
        Ok(self.slot_rows().await?.into_iter().flatten().collect())
    }

    /// Every slot, readable or not.
    pub async fn slot_rows(&self) -> Result<Vec<Result<SlotSummary, MalformedSlot>>, StoreError> {
        self.query(sql::all_slots(self.dialect()), sql::map_slot_row)
            .await
    }

    async fn grouped_counts(
        &self,
        column: &str,
        filter: &Filter,
    ) -> Result<BTreeMap<i64, StateCounts>, StoreError> {
        let sql = self
            .filtered(filter, || {
                sql::grouped_state_counts(self.dialect(), column, filter)
            })
            .await?;
        let rows = self.query(sql, sql::map_grouped_state_counts).await?;
        Ok(rows.into_iter().collect())
    }

    /// The Teams integrations, with their secrets reduced to a length.
    pub async fn integrations(&self) -> Result<Vec<IntegrationInfo>, StoreError> {
        self.query(sql::integrations(self.dialect()), sql::map_integration)
            .await
    }

    /// Writes one sync result in one statement, guarded by the columns as they were read.
    pub async fn write_sync(
        &self,
        id: i64,
        write: &SyncWrite,
        expected: &SyncColumns,
    ) -> Result<WriteOutcome, StoreError> {
        let changed = self
            .execute(sql::write_sync(self.dialect(), id, write, expected))
            .await?;
        Ok(if changed == 1 {
            WriteOutcome::Written
        } else {
            WriteOutcome::Conflict
        })
    }

    /// Writes many sync results in one transaction (on SQLite each commit is a disk flush, which
    /// would otherwise dominate a bulk run). Each row is still one guarded statement; the ledger
    /// changes that go with it commit with it, whatever the guard decides (an event that exists
    /// must stay findable even when the LMS changed the row meanwhile).
    pub async fn write_sync_many(
        &self,
        writes: &[(i64, SyncWrite, SyncColumns, Vec<LedgerChange>)],
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        let dialect = self.dialect();
        let mut statements = Vec::with_capacity(writes.len());
        let mut guarded = Vec::with_capacity(writes.len());
        for (id, write, expected, ledger) in writes {
            guarded.push(statements.len());
            statements.push(sql::write_sync(dialect, *id, write, expected));
            if dialect.ledger {
                let intents = self.has_intents();
                statements.extend(
                    ledger
                        .iter()
                        .filter(|change| intents || !change.is_intent())
                        .filter_map(|change| ledger::ledger_change(dialect, change)),
                );
            }
        }
        let changed = self.execute_all(statements).await?;
        Ok(guarded
            .into_iter()
            .map(|at| {
                if changed[at] == 1 {
                    WriteOutcome::Written
                } else {
                    WriteOutcome::Conflict
                }
            })
            .collect())
    }

    /// The selections among `ids` that still exist, match `filter` and can be read whole, by id,
    /// in one query.
    pub async fn selections_by_id(
        &self,
        ids: &[i64],
        filter: &Filter,
    ) -> Result<std::collections::HashMap<i64, Selection>, StoreError> {
        Ok(self
            .listed_by_id(ids, filter)
            .await?
            .into_iter()
            .filter_map(|(id, row)| match row {
                Listed::Readable(selection) => Some((id, selection)),
                Listed::Malformed(_) => None,
            })
            .collect())
    }

    /// The selections among `ids` that still exist and match `filter`, readable or not, by id,
    /// in one query.
    pub async fn listed_by_id(
        &self,
        ids: &[i64],
        filter: &Filter,
    ) -> Result<std::collections::HashMap<i64, Listed>, StoreError> {
        // No ids would mean no narrowing by id at all.
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let request = PageRequest {
            filter: Filter {
                selection_ids: ids.to_vec(),
                ..filter.clone()
            },
            sort: Sort::by(SortKey::Id, false),
            after: None,
            limit: u32::try_from(ids.len()).unwrap_or(u32::MAX),
        };
        let (rows, _) = self.listing(&request).await?;
        Ok(rows.into_iter().map(|row| (row.id(), row)).collect())
    }

    /// The ids of the selections matching `filter`, newest selection first (a run's frozen list).
    pub async fn selection_ids(&self, filter: &Filter) -> Result<Vec<i64>, StoreError> {
        let sql = self
            .filtered(filter, || sql::selection_ids(self.dialect(), filter))
            .await?;
        self.query(sql, sql::map_id).await
    }

    /// The active Teams integrations with their credentials (for resolving per user with
    /// [`crate::domain::choose_credentials`]). Few rows: read once per run.
    pub async fn active_credentials(&self) -> Result<Vec<StoredCredentials>, StoreError> {
        self.query(
            sql::active_credentials(self.dialect()),
            sql::map_credentials,
        )
        .await
    }

    /// Each distinct slot time zone with its number of slots.
    pub async fn slot_zones(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.query(sql::slot_zones(self.dialect()), sql::map_text_count)
            .await
    }

    /// `(selection id, selection's conference, slot's conference)` where the two differ.
    pub async fn mismatched_conferences(&self) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        self.query(
            sql::mismatched_conferences(self.dialect()),
            sql::map_id_triple,
        )
        .await
    }

    /// Row counts of the six LMS tables.
    pub async fn row_counts(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let mut counts = Vec::new();
        for table in schema::TABLES.iter().map(|t| t.name) {
            let n = self
                .query_one(sql::row_count(self.dialect(), table), sql::map_count)
                .await?;
            counts.push((table, n));
        }
        Ok(counts)
    }

    /// Whether this connection may update the sync columns (file permissions, read-only
    /// replicas and roles without UPDATE all say no).
    pub async fn can_write(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(b) => b.can_write().await,
            Backend::Postgres(b) => b.can_write().await,
        }
    }

    /// A sync run's claims (see [`Claims`]). On SQLite this takes the database's run lock: if
    /// another calsync holds it, [`StoreError::Busy`] says who, unless `wait`, which blocks until
    /// it is free. On PostgreSQL it opens the run's claiming session (`wait` does not apply: a
    /// selection claimed elsewhere is skipped, never waited for).
    pub async fn claims(&self, wait: bool) -> Result<Claims, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => {
                let path = b.path().to_path_buf();
                let file = tokio::task::spawn_blocking(move || claims::take_run_lock(&path, wait))
                    .await
                    .map_err(|e| StoreError::Connect(format!("lock task failed: {e}")))??;
                Ok(Claims::run_lock(file))
            }
            Backend::Postgres(b) => Ok(Claims::session(
                b.open_session(&claims::session_name()).await?,
            )),
        }
    }

    /// The SQLite file's application id (`PRAGMA application_id`: 0 unless a program stamped
    /// its file); None on PostgreSQL, whose databases carry no such header.
    pub async fn application_id(&self) -> Result<Option<i64>, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => {
                let sql = Sql {
                    text: "PRAGMA application_id".to_string(),
                    params: Vec::new(),
                };
                Ok(b.query(sql, sql::map_id).await?.into_iter().next())
            }
            Backend::Postgres(_) => Ok(None),
        }
    }

    /// The server's version, for `doctor`.
    pub async fn server_version(&self) -> Result<String, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(format!("SQLite {}", rusqlite::version())),
            Backend::Postgres(b) => b.server_version().await,
        }
    }
}
