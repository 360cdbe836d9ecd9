//! PostgreSQL backend: the LMS's production database (RDS, `sslmode=prefer`). One tokio-postgres
//! client, which pipelines the concurrent queries of the console and the sync engine.

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use futures::TryStreamExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

use super::pg_readers::Readers;
use super::pg_tls;
use super::pgpass::{self, PassKey};
use super::sql::{RowMapper, Sql, SqlRow, Value};
use super::url::{PgTarget, SslMode};
use super::{StoreError, StoreOptions};

#[derive(Clone)]
pub struct PgBackend {
    /// Reads and single writes; tokio-postgres pipelines concurrent queries on it. Replaced by a
    /// new session when the server ends this one (a restart, `pg_terminate_backend`).
    client: Arc<std::sync::RwLock<Arc<Client>>>,
    /// One reconnection at a time, however many queries noticed the loss.
    reconnecting: Arc<tokio::sync::Mutex<()>>,
    /// Sessions for plain SELECTs beside `client`, so reads run side by side.
    readers: Arc<Readers>,
    /// A second session for batched writes, whose transactions nothing else may enter.
    writer: Arc<tokio::sync::Mutex<Client>>,
    /// How to open further sessions (a sync run's claims, replacements of lost ones).
    session: Arc<SessionConfig>,
}

struct SessionConfig {
    config: tokio_postgres::Config,
    sslmode: SslMode,
    sslrootcert: Option<PathBuf>,
    options: StoreOptions,
    place: String,
}

impl PgBackend {
    pub async fn connect(
        target: &PgTarget,
        options: &StoreOptions,
    ) -> Result<PgBackend, StoreError> {
        let place = format!("{}:{}/{}", target.host, target.port, target.dbname);
        let mut config = tokio_postgres::Config::new();
        config
            .host(&target.host)
            .port(target.port)
            .dbname(&target.dbname)
            .application_name("calsync")
            .connect_timeout(options.connect_timeout)
            .ssl_mode(match target.sslmode {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                // The verify modes insist on TLS; the certificate checks are in `pg_tls`.
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                    tokio_postgres::config::SslMode::Require
                }
            });
        let user = if target.user.is_empty() {
            std::env::var("USER").unwrap_or_default()
        } else {
            target.user.clone()
        };
        if !user.is_empty() {
            config.user(&user);
        }
        let password = match &target.password {
            Some(password) => Some(password.clone()),
            None => {
                let key = PassKey {
                    host: &target.host,
                    port: target.port,
                    dbname: &target.dbname,
                    user: &user,
                };
                pgpass::password(&key, target.passfile.as_deref(), |name| {
                    std::env::var(name).ok()
                })
                .map_err(StoreError::Connect)?
            }
        };
        if let Some(password) = &password {
            config.password(password);
        }
        let sslrootcert = target.sslrootcert.as_deref();
        let client = open_session(&config, target.sslmode, sslrootcert, options, &place).await?;
        let writer = open_session(&config, target.sslmode, sslrootcert, options, &place).await?;
        Ok(PgBackend {
            client: Arc::new(std::sync::RwLock::new(Arc::new(client))),
            reconnecting: Arc::new(tokio::sync::Mutex::new(())),
            readers: Arc::new(Readers::default()),
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            session: Arc::new(SessionConfig {
                config,
                sslmode: target.sslmode,
                sslrootcert: target.sslrootcert.clone(),
                options: options.clone(),
                place,
            }),
        })
    }

    /// One more session of its own, named so that `pg_stat_activity` shows what it is for.
    pub async fn open_session(&self, purpose: &str) -> Result<Client, StoreError> {
        let s = &self.session;
        let mut config = s.config.clone();
        config.application_name(purpose);
        open_session(
            &config,
            s.sslmode,
            s.sslrootcert.as_deref(),
            &s.options,
            &s.place,
        )
        .await
    }

    /// The reading session as it is now.
    fn reader(&self) -> Arc<Client> {
        let current = self.client.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&current)
    }

    /// A new session in place of `lost`, unless another query has replaced it already.
    async fn replace_reader(&self, lost: &Arc<Client>) {
        let _one = self.reconnecting.lock().await;
        if !Arc::ptr_eq(&self.reader(), lost) {
            return;
        }
        let s = &self.session;
        // If the server is still away, the next query notices and tries again.
        if let Ok(fresh) = open_session(
            &s.config,
            s.sslmode,
            s.sslrootcert.as_deref(),
            &s.options,
            &s.place,
        )
        .await
        {
            let mut current = self.client.write().unwrap_or_else(|p| p.into_inner());
            *current = Arc::new(fresh);
        }
    }

    /// The server's words for a failed statement; a lost session is replaced first and its
    /// error is transient, so that the statement can be tried again.
    async fn failed_read(&self, lost: &Arc<Client>, e: &tokio_postgres::Error) -> StoreError {
        if is_connection_lost(e) || lost.is_closed() {
            self.replace_reader(lost).await;
            StoreError::Transient(format!(
                "the PostgreSQL session was lost ({})",
                pg_message(e)
            ))
        } else {
            StoreError::Query(pg_message(e))
        }
    }

    pub async fn execute_all(&self, statements: Vec<Sql>) -> Result<Vec<u64>, StoreError> {
        let mut writer = self.writer.lock().await;
        if writer.is_closed() {
            let s = &self.session;
            *writer = open_session(
                &s.config,
                s.sslmode,
                s.sslrootcert.as_deref(),
                &s.options,
                &s.place,
            )
            .await
            .map_err(|e| StoreError::Transient(e.to_string()))?;
        }
        let result = write_all(&mut writer, &statements).await;
        result.map_err(|e| {
            if is_connection_lost(&e) || writer.is_closed() {
                // Replaced before the next attempt (above). A COMMIT cut off may still have
                // landed: the guarded writes then report a conflict rather than writing twice.
                StoreError::Transient(format!(
                    "the PostgreSQL session was lost ({})",
                    pg_message(&e)
                ))
            } else {
                StoreError::Query(pg_message(&e))
            }
        })
    }

    pub async fn query<T: Send + 'static>(
        &self,
        sql: Sql,
        map: RowMapper<T>,
    ) -> Result<Vec<T>, StoreError> {
        let params = bind(&sql.params);
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        // Only a plain SELECT may go to another session (an INSERT … RETURNING reads rows too).
        if sql.text.starts_with("SELECT ") {
            let main = self.reader();
            let session = &self.session;
            let reader = self
                .readers
                .lease(&main, || async move {
                    open_session(
                        &session.config,
                        session.sslmode,
                        session.sslrootcert.as_deref(),
                        &session.options,
                        &session.place,
                    )
                    .await
                    .ok()
                })
                .await;
            let client = reader.shared_client();
            let statement = match reader.statement(&sql.text).await {
                Ok(statement) => statement,
                Err(e) => return Err(self.failed_read(&client, &e).await),
            };
            // Mapped as they arrive: a million rows never sit in memory twice.
            let params = refs.iter().map(|p| *p as &dyn ToSql);
            let stream = match client.query_raw(&statement, params).await {
                Ok(stream) => stream,
                Err(e) => return Err(self.failed_read(&client, &e).await),
            };
            let mut stream = std::pin::pin!(stream);
            let mut out = Vec::new();
            loop {
                match stream.try_next().await {
                    Ok(Some(row)) => out.push(map(&PgRow(&row))?),
                    Ok(None) => return Ok(out),
                    Err(e) => return Err(self.failed_read(&client, &e).await),
                }
            }
        }
        let client = self.reader();
        let rows = match client.query(&sql.text, &refs).await {
            Ok(rows) => rows,
            Err(e) => return Err(self.failed_read(&client, &e).await),
        };
        rows.iter().map(|row| map(&PgRow(row))).collect()
    }

    /// Every row of one SELECT, mapped as the server sends them, to `sink` in batches of up to
    /// `batch`; on a session of its own, so a long stream never holds up the console's reads
    /// (a session runs its statements one after the other). Stops early when the receiver of
    /// `sink` is gone.
    pub async fn stream<T: Send + 'static>(
        &self,
        sql: Sql,
        map: RowMapper<T>,
        batch: usize,
        sink: &tokio::sync::mpsc::Sender<Result<Vec<T>, StoreError>>,
    ) -> Result<(), StoreError> {
        let client = self.open_session("calsync stream").await?;
        let params = bind(&sql.params);
        let params = params.iter().map(|p| p.as_ref() as &dyn ToSql);
        let failed = |e: tokio_postgres::Error| StoreError::Query(pg_message(&e));
        let stream = client.query_raw(&sql.text, params).await.map_err(failed)?;
        let mut stream = std::pin::pin!(stream);
        let mut rows = Vec::with_capacity(batch);
        while let Some(row) = stream.try_next().await.map_err(failed)? {
            rows.push(map(&PgRow(&row))?);
            if rows.len() >= batch {
                let full = std::mem::replace(&mut rows, Vec::with_capacity(batch));
                if sink.send(Ok(full)).await.is_err() {
                    return Ok(());
                }
            }
        }
        if !rows.is_empty() {
            let _ = sink.send(Ok(rows)).await;
        }
        Ok(())
    }

    pub async fn execute(&self, sql: Sql) -> Result<u64, StoreError> {
        let params = bind(&sql.params);
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let client = self.reader();
        match client.execute(&sql.text, &refs).await {
            Ok(changed) => Ok(changed),
            Err(e) => Err(self.failed_read(&client, &e).await),
        }
    }

    pub async fn can_write(&self) -> bool {
        let sql = "SELECT has_table_privilege('conferences_conferencetimeslotselection', 'UPDATE') \
                   AND current_setting('transaction_read_only') = 'off'";
        match self.reader().query_one(sql, &[]).await {
            Ok(row) => row.try_get::<_, bool>(0).unwrap_or(false),
            Err(_) => false,
        }
    }

    pub async fn server_version(&self) -> Result<String, StoreError> {
        let row = self
            .reader()
            .query_one("SELECT current_setting('server_version')", &[])
            .await
            .map_err(|e| StoreError::Query(pg_message(&e)))?;
        let version: String = row
            .try_get(0)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        Ok(format!("PostgreSQL {version}"))
    }
}

/// One authenticated session in UTC. `connect_timeout` covers each TCP attempt only; the outer
/// timeout bounds TLS and authentication too.
async fn open_session(
    config: &tokio_postgres::Config,
    sslmode: SslMode,
    sslrootcert: Option<&Path>,
    options: &StoreOptions,
    place: &str,
) -> Result<Client, StoreError> {
    let tls = pg_tls::connector(sslmode, sslrootcert)?;
    let connecting = async {
        if let Some(tls) = tls {
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(connection);
            Ok(client)
        } else {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(connection);
            Ok(client)
        }
    };
    let client = tokio::time::timeout(options.connect_timeout, connecting)
        .await
        .map_err(|_| {
            StoreError::Connect(format!(
                "cannot connect to PostgreSQL at {place}: no answer within {} s",
                options.connect_timeout.as_secs_f64()
            ))
        })?
        .map_err(|e: tokio_postgres::Error| {
            let message = pg_message(&e);
            // Said plainly, because it is the point of the verify modes.
            let unsent = if sslmode.verifies() && message.contains("invalid peer certificate") {
                " (no password was sent)"
            } else {
                ""
            };
            StoreError::Connect(format!(
                "cannot connect to PostgreSQL at {place}: {message}{unsent}"
            ))
        })?;
    // Django's sessions run in UTC; so do ours, whatever the role's default is.
    client
        .batch_execute("SET TIME ZONE 'UTC'")
        .await
        .map_err(|e| StoreError::Connect(pg_message(&e)))?;
    // Statements are prepared once per session (see `pg_readers`); each run is still planned for
    // its own values: a generic plan of a keyset page sorted a million rows (25 ms against 1 ms
    // a page). PostgreSQL before 12 has no such setting and plans each run anyway.
    let _ = client
        .batch_execute("SET plan_cache_mode = force_custom_plan")
        .await;
    Ok(client)
}

/// The statements in one transaction on `writer`.
async fn write_all(
    writer: &mut Client,
    statements: &[Sql],
) -> Result<Vec<u64>, tokio_postgres::Error> {
    let tx = writer.transaction().await?;
    let mut changed = Vec::with_capacity(statements.len());
    for sql in statements {
        let params = bind(&sql.params);
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        changed.push(tx.execute(&sql.text, &refs).await?);
    }
    tx.commit().await?;
    Ok(changed)
}

/// The session is gone (closed, or ended by the server: admin shutdown, a connection failure
/// class 08), as opposed to a statement the server refused.
fn is_connection_lost(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code == &SqlState::ADMIN_SHUTDOWN
                || code == &SqlState::CRASH_SHUTDOWN
                || code == &SqlState::CANNOT_CONNECT_NOW
                || code.code().starts_with("08")
        }
        // No server error at all: the socket itself failed.
        None => e.as_db_error().is_none() && e.source().is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// tokio-postgres shows only "db error" for server errors; the server's words are in the source.
pub(super) fn pg_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = inner.source();
    }
    message
}

fn bind(params: &[Value]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .iter()
        .map(|value| -> Box<dyn ToSql + Sync + Send> {
            match value {
                Value::Int(i) => Box::new(*i),
                Value::Text(s) => Box::new(s.clone()),
                Value::Time(t) => Box::new(*t),
            }
        })
        .collect()
}

struct PgRow<'a>(&'a tokio_postgres::Row);

impl PgRow<'_> {
    fn get<'b, T: tokio_postgres::types::FromSql<'b>>(
        &'b self,
        idx: usize,
    ) -> Result<T, StoreError> {
        self.0
            .try_get(idx)
            .map_err(|e| StoreError::Data(format!("column {idx}: {e}")))
    }
}

impl SqlRow for PgRow<'_> {
    fn int(&self, idx: usize) -> Result<i64, StoreError> {
        self.opt_int(idx)?
            .ok_or_else(|| StoreError::Data(format!("unexpected NULL in column {idx}")))
    }

    fn opt_int(&self, idx: usize) -> Result<Option<i64>, StoreError> {
        // bigint ids and counts, integer capacities and CASE codes.
        self.0
            .try_get::<_, Option<i64>>(idx)
            .or_else(|_| self.get::<Option<i32>>(idx).map(|v| v.map(i64::from)))
    }

    fn opt_text(&self, idx: usize) -> Result<Option<String>, StoreError> {
        self.get(idx)
    }

    fn boolean(&self, idx: usize) -> Result<bool, StoreError> {
        self.get(idx)
    }

    fn opt_timestamp(&self, idx: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.get(idx)
    }

    fn date(&self, idx: usize) -> Result<NaiveDate, StoreError> {
        self.get(idx)
    }

    fn time(&self, idx: usize) -> Result<NaiveTime, StoreError> {
        self.get(idx)
    }
}
