//! PostgreSQL backend: the LMS's production database (RDS, `sslmode=prefer`). One tokio-postgres
//! client, which pipelines the concurrent queries of the console and the sync engine.

use std::error::Error as _;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use futures::TryStreamExt;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

use super::pg_readers::Readers;
use super::sql::{RowMapper, Sql, SqlRow, Value};
use super::url::{PgTarget, SslMode};
use super::{StoreError, StoreOptions};

#[derive(Clone)]
pub struct PgBackend {
    /// Reads and single writes; tokio-postgres pipelines concurrent queries on it.
    client: Arc<Client>,
    /// Sessions for plain SELECTs (the first is `client`), so reads run side by side.
    readers: Arc<Readers>,
    /// A second session for batched writes, whose transactions nothing else may enter.
    writer: Arc<tokio::sync::Mutex<Client>>,
    /// How to open further sessions (a sync run's claims).
    session: Arc<SessionConfig>,
}

struct SessionConfig {
    config: tokio_postgres::Config,
    sslmode: SslMode,
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
                SslMode::Require => tokio_postgres::config::SslMode::Require,
            });
        if !target.user.is_empty() {
            config.user(&target.user);
        } else if let Ok(user) = std::env::var("USER") {
            config.user(&user);
        }
        if let Some(password) = &target.password {
            config.password(password);
        }
        let client = Arc::new(open_session(&config, target.sslmode, options, &place).await?);
        let writer = open_session(&config, target.sslmode, options, &place).await?;
        Ok(PgBackend {
            readers: Arc::new(Readers::new(Arc::clone(&client))),
            client,
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            session: Arc::new(SessionConfig {
                config,
                sslmode: target.sslmode,
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
        open_session(&config, s.sslmode, &s.options, &s.place).await
    }

    pub async fn execute_all(&self, statements: Vec<Sql>) -> Result<Vec<u64>, StoreError> {
        let mut writer = self.writer.lock().await;
        let tx = writer
            .transaction()
            .await
            .map_err(|e| StoreError::Query(pg_message(&e)))?;
        let mut changed = Vec::with_capacity(statements.len());
        for sql in &statements {
            let params = bind(&sql.params);
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            changed.push(
                tx.execute(&sql.text, &refs)
                    .await
                    .map_err(|e| StoreError::Query(pg_message(&e)))?,
            );
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::Query(pg_message(&e)))?;
        Ok(changed)
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
        let query_error = |e: tokio_postgres::Error| StoreError::Query(pg_message(&e));
        // Only a plain SELECT may go to another session (an INSERT … RETURNING reads rows too).
        if sql.text.starts_with("SELECT ") {
            let session = &self.session;
            let reader = self
                .readers
                .lease(|| async move {
                    open_session(
                        &session.config,
                        session.sslmode,
                        &session.options,
                        &session.place,
                    )
                    .await
                    .ok()
                })
                .await;
            let statement = reader.statement(&sql.text).await.map_err(query_error)?;
            // Mapped as they arrive: a million rows never sit in memory twice.
            let params = refs.iter().map(|p| *p as &dyn ToSql);
            let stream = reader
                .client()
                .query_raw(&statement, params)
                .await
                .map_err(query_error)?;
            let mut stream = std::pin::pin!(stream);
            let mut out = Vec::new();
            while let Some(row) = stream.try_next().await.map_err(query_error)? {
                out.push(map(&PgRow(&row))?);
            }
            return Ok(out);
        }
        let rows = self
            .client
            .query(&sql.text, &refs)
            .await
            .map_err(query_error)?;
        rows.iter().map(|row| map(&PgRow(row))).collect()
    }

    pub async fn execute(&self, sql: Sql) -> Result<u64, StoreError> {
        let params = bind(&sql.params);
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        self.client
            .execute(&sql.text, &refs)
            .await
            .map_err(|e| StoreError::Query(pg_message(&e)))
    }

    pub async fn can_write(&self) -> bool {
        let sql = "SELECT has_table_privilege('conferences_conferencetimeslotselection', 'UPDATE') \
                   AND current_setting('transaction_read_only') = 'off'";
        match self.client.query_one(sql, &[]).await {
            Ok(row) => row.try_get::<_, bool>(0).unwrap_or(false),
            Err(_) => false,
        }
    }

    pub async fn server_version(&self) -> Result<String, StoreError> {
        let row = self
            .client
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
    options: &StoreOptions,
    place: &str,
) -> Result<Client, StoreError> {
    let tls = match sslmode {
        SslMode::Disable => None,
        _ => Some(tls_connector()?),
    };
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
            StoreError::Connect(format!(
                "cannot connect to PostgreSQL at {place}: {}",
                pg_message(&e)
            ))
        })?;
    // Django's sessions run in UTC; so do ours, whatever the role's default is.
    client
        .batch_execute("SET TIME ZONE 'UTC'")
        .await
        .map_err(|e| StoreError::Connect(pg_message(&e)))?;
    Ok(client)
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

/// `prefer` and `require` encrypt without checking the certificate, exactly like libpq (and so
/// like Django on RDS); verify-ca/verify-full are refused when the URL is parsed.
fn tls_connector() -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Connect(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(LibpqRequireVerifier(provider)))
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[derive(Debug)]
struct LibpqRequireVerifier(Arc<CryptoProvider>);

impl ServerCertVerifier for LibpqRequireVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
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
