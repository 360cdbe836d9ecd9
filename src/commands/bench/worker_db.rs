//! The database `bench worker` may change: a copy of the 1M-row demo database (a copied file on
//! SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL), migrated, and settled into the state a
//! worker that has run for a while leaves: the backlog synced, transient failures cleared,
//! permanent ones parked with what they depend on. Rows are written with plain SQL, as the LMS
//! writes them.

use std::path::PathBuf;

use chrono::Utc;

use crate::commands::{CliError, store_options};
use crate::domain::Cause;
use crate::domain::worker::Candidate;
use crate::store::{DatabaseUrl, PgTarget, Store, WORKER_RETRIES, django_datetime, sql};
use crate::worker::depends::integrations_digest;

/// Ids per statement when the bench settles rows.
const IDS_PER_STATEMENT: usize = 5000;

pub(super) enum Scratch {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        server: Box<PgTarget>,
        client: tokio_postgres::Client,
    },
}

impl Scratch {
    /// A copy of the demo file, no longer marked as a demo (so the worker talks to the
    /// bench's simulator, not one of its own).
    pub(super) async fn sqlite(base: &std::path::Path) -> Result<Scratch, CliError> {
        let dir = tempfile::tempdir().map_err(|e| CliError::failed(e.to_string()))?;
        let path = dir.path().join("bench-worker.db");
        std::fs::copy(base, &path)
            .map_err(|e| CliError::failed(format!("cannot copy {}: {e}", base.display())))?;
        let scratch = Scratch::Sqlite { _dir: dir, path };
        scratch.exec("PRAGMA application_id = 0").await?;
        Ok(scratch)
    }

    /// A copy of `base` on its server, named after it.
    pub(super) async fn postgres(base: &PgTarget) -> Result<Scratch, CliError> {
        let copy = format!("{}_worker_scratch", base.dbname);
        let admin = connect(base, "postgres").await?;
        for statement in [
            format!("DROP DATABASE IF EXISTS \"{copy}\""),
            format!("CREATE DATABASE \"{copy}\" TEMPLATE \"{}\"", base.dbname),
        ] {
            admin
                .batch_execute(&statement)
                .await
                .map_err(|e| CliError::failed(format!("PostgreSQL: {e}")))?;
        }
        let server = Box::new(PgTarget {
            dbname: copy.clone(),
            ..base.clone()
        });
        let client = connect(&server, &copy).await?;
        Ok(Scratch::Postgres { server, client })
    }

    pub(super) fn url(&self) -> DatabaseUrl {
        match self {
            Scratch::Sqlite { path, .. } => DatabaseUrl::Sqlite(path.clone()),
            Scratch::Postgres { server, .. } => DatabaseUrl::Postgres((**server).clone()),
        }
    }

    pub(super) fn url_text(&self) -> String {
        match self {
            Scratch::Sqlite { path, .. } => format!("sqlite:///{}", path.display()),
            Scratch::Postgres { server, .. } => super::floor::pg_uri(server, &server.dbname),
        }
    }

    /// Runs one statement (committed when it returns).
    pub(super) async fn exec(&self, statement: &str) -> Result<(), CliError> {
        match self {
            Scratch::Sqlite { path, .. } => {
                let path = path.clone();
                let statement = statement.to_string();
                tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(&path)?;
                    conn.busy_timeout(std::time::Duration::from_secs(30))?;
                    conn.execute_batch(&statement)
                })
                .await
                .map_err(|e| CliError::failed(e.to_string()))?
                .map_err(|e| CliError::failed(format!("SQLite: {e}")))
            }
            Scratch::Postgres { client, .. } => client
                .batch_execute(statement)
                .await
                .map_err(|e| CliError::failed(format!("PostgreSQL: {e}"))),
        }
    }

    /// Drops the PostgreSQL copy (the SQLite one goes with its directory).
    pub(super) async fn remove(self) {
        if let Scratch::Postgres { server, client } = self {
            drop(client);
            if let Ok(admin) = connect(&server, "postgres").await {
                let _ = admin
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                        server.dbname
                    ))
                    .await;
            }
        }
    }

    /// Opens the store on the copy, migrated.
    pub(super) async fn migrated_store(&self) -> Result<Store, CliError> {
        let store = Store::open(&self.url(), &store_options()?).await?;
        store.migrate_up(Utc::now()).await?;
        // Opened again so the store knows the tables it now has.
        Ok(Store::open(&self.url(), &store_options()?).await?)
    }

    /// Settles the copy (see the module's comment); returns the number of parked entries.
    pub(super) async fn settle(&self, store: &Store) -> Result<u64, CliError> {
        let now = django_datetime(Utc::now());
        let candidates = store.worker_candidates(None).await?;
        let (permanent, rest): (Vec<&Candidate>, Vec<&Candidate>) = candidates
            .iter()
            .partition(|c| c.cause.is_some_and(Cause::is_permanent));
        let rest: Vec<i64> = rest.iter().map(|c| c.id).collect();
        for chunk in rest.chunks(IDS_PER_STATEMENT) {
            self.exec(&format!(
                "UPDATE {} SET calendar_added = TRUE, calendar_add_attempted_at = '{now}', \
                 calendar_error = NULL, outlook_event_id = 'bench-settled-' || id \
                 WHERE id IN ({})",
                sql::SELECTION,
                id_list(chunk)
            ))
            .await?;
        }
        let stale = store
            .selection_ids(&crate::worker::Plan::stale_filter())
            .await?;
        for chunk in stale.chunks(IDS_PER_STATEMENT) {
            self.exec(&format!(
                "UPDATE {} SET calendar_add_attempted_at = '{now}' WHERE id IN ({})",
                sql::SELECTION,
                id_list(chunk)
            ))
            .await?;
        }
        let digest = integrations_digest(&store.active_credentials().await?);
        let mut parked = 0;
        for cause in Cause::ALL.into_iter().filter(|c| c.is_permanent()) {
            let ids: Vec<i64> = permanent
                .iter()
                .filter(|c| c.cause == Some(cause))
                .map(|c| c.id)
                .collect();
            parked += ids.len() as u64;
            for chunk in ids.chunks(IDS_PER_STATEMENT) {
                self.exec(&park_statement(cause, chunk, &digest, &now))
                    .await?;
            }
        }
        if let Scratch::Postgres { .. } = self {
            self.exec("ANALYZE").await?;
        }
        Ok(parked)
    }
}

/// What the worker writes when it parks a permanent failure, for many selections at once.
fn park_statement(cause: Cause, ids: &[i64], digest: &str, now: &str) -> String {
    format!(
        "INSERT INTO {WORKER_RETRIES} (selection_id, cause, attempts, next_attempt_at, \
         parked_at, last_error, dep_email, dep_branch_id, dep_zone, dep_integrations, \
         updated_at) SELECT s.id, '{cause}', 1, NULL, '{now}', s.calendar_error, u.email, \
         u.branch_id, t.timezone, '{digest}', '{now}' FROM {selection} s \
         JOIN {user} u ON u.id = s.user_id JOIN {slot} t ON t.id = s.time_slot_id \
         WHERE s.id IN ({ids})",
        cause = cause.as_str(),
        selection = sql::SELECTION,
        user = sql::USER,
        slot = sql::SLOT,
        ids = id_list(ids)
    )
}

pub(super) fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

async fn connect(target: &PgTarget, dbname: &str) -> Result<tokio_postgres::Client, CliError> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .user(&target.user)
        .dbname(dbname);
    if let Some(password) = &target.password {
        config.password(password);
    }
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| CliError::failed(format!("cannot connect to PostgreSQL: {e}")))?;
    tokio::spawn(connection);
    client
        .batch_execute("SET TIME ZONE 'UTC'")
        .await
        .map_err(|e| CliError::failed(format!("PostgreSQL: {e}")))?;
    Ok(client)
}
