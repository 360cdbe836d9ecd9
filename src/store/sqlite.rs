//! SQLite backend: a local LMS database file (demos, fixtures, small installs). rusqlite is
//! synchronous, so every statement runs on tokio's blocking pool and never on the UI's thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use super::sql::{RowMapper, Sql, SqlRow, Value};
use super::sqlite_readers::{MAX_READERS, Readers};
use super::timestamp_text;
use super::{StoreError, StoreOptions};

#[derive(Clone)]
pub struct SqliteBackend {
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections for plain SELECTs, so reads run side by side.
    readers: Arc<Readers>,
    /// One permit per connection (the readers and the writing one): a statement waits for a
    /// free connection here, holding no thread. Each thread that allocates keeps a glibc arena
    /// of its own; statements waiting on a busy connection, each on a thread of its own, left
    /// 11–12 threads and 47–48 MB resident after the console's bench (41 MB with 8 arenas).
    connections: Arc<Semaphore>,
    path: PathBuf,
}

impl SqliteBackend {
    pub async fn open(path: &Path, options: &StoreOptions) -> Result<SqliteBackend, StoreError> {
        let path = path.to_path_buf();
        let busy = options.sqlite_busy_timeout;
        let opened =
            tokio::task::spawn_blocking(move || open_blocking(&path, busy).map(|c| (c, path)))
                .await
                .map_err(|e| StoreError::Connect(format!("could not open the database: {e}")))??;
        Ok(SqliteBackend {
            conn: Arc::new(Mutex::new(opened.0)),
            readers: Arc::new(Readers::new(&opened.1, busy)),
            connections: Arc::new(Semaphore::new(MAX_READERS + 1)),
            path: opened.1,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on tokio's blocking pool once a connection is free.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let permit = Arc::clone(&self.connections)
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Query(format!("database task failed: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| StoreError::Query(format!("database task failed: {e}")))
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        let path = self.path.clone();
        self.blocking(move || {
            // A panic elsewhere cannot leave the connection half-used: every statement is atomic.
            let guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&guard).map_err(|e| explain(e, &path))
        })
        .await?
    }

    pub async fn query<T: Send + 'static>(
        &self,
        sql: Sql,
        map: RowMapper<T>,
    ) -> Result<Vec<T>, StoreError> {
        // Only a plain SELECT may go to a reader (an INSERT … RETURNING reads rows too).
        let sql = if sql.text.starts_with("SELECT ") {
            let readers = Arc::clone(&self.readers);
            let path = self.path.clone();
            let read = self
                .blocking(move || match readers.take() {
                    Some(conn) => {
                        let result = read_rows(&conn, &sql, map).map_err(|e| explain(e, &path));
                        readers.give_back(conn);
                        Ok(result)
                    }
                    // Every reader is busy: this one reads on the writing connection.
                    None => Err(sql),
                })
                .await?;
            match read {
                Ok(result) => return result,
                Err(sql) => sql,
            }
        } else {
            sql
        };
        self.with_conn(move |conn| read_rows(conn, &sql, map)).await
    }

    pub async fn execute(&self, sql: Sql) -> Result<u64, StoreError> {
        self.with_conn(move |conn| {
            let mut statement = conn.prepare_cached(&sql.text).map_err(query_error)?;
            let params = bind(&sql.params);
            let changed = statement
                .execute(rusqlite::params_from_iter(params.iter()))
                .map_err(query_error)?;
            Ok(changed as u64)
        })
        .await
    }

    pub async fn execute_all(&self, statements: Vec<Sql>) -> Result<Vec<u64>, StoreError> {
        let conn = Arc::clone(&self.conn);
        let path = self.path.clone();
        self.blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let run = |conn: &mut Connection| -> Result<Vec<u64>, StoreError> {
                let tx = conn.transaction().map_err(query_error)?;
                let mut changed = Vec::with_capacity(statements.len());
                for sql in &statements {
                    let mut statement = tx.prepare_cached(&sql.text).map_err(query_error)?;
                    let params = bind(&sql.params);
                    changed.push(
                        statement
                            .execute(rusqlite::params_from_iter(params.iter()))
                            .map_err(query_error)? as u64,
                    );
                }
                tx.commit().map_err(query_error)?;
                Ok(changed)
            };
            run(&mut guard).map_err(|e| explain(e, &path))
        })
        .await?
    }

    pub async fn can_write(&self) -> bool {
        self.with_conn(|conn| Ok(!conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true)))
            .await
            .unwrap_or(false)
    }
}

fn read_rows<T>(conn: &Connection, sql: &Sql, map: RowMapper<T>) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(&sql.text).map_err(query_error)?;
    let params = bind(&sql.params);
    let mut rows = statement
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(query_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(query_error)? {
        out.push(map(&SqliteRow(row))?);
    }
    Ok(out)
}

fn open_blocking(path: &Path, busy: std::time::Duration) -> Result<Connection, StoreError> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|_| StoreError::Connect(format!("no such database file: {shown}")))?;
    if meta.is_dir() {
        return Err(StoreError::Connect(format!(
            "{shown} is a directory, not a SQLite database file"
        )));
    }
    if meta.len() == 0 {
        return Err(StoreError::Schema(format!(
            "{shown} is an empty file, not the LMS database"
        )));
    }
    // Never create a file: a typo must not silently become a new, empty database.
    let read_write = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, read_write)
        .or_else(|_| {
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        })
        .map_err(|e| StoreError::Connect(format!("cannot open {shown}: {}", sqlite_message(&e))))?;
    conn.busy_timeout(busy)
        .and_then(|_| conn.pragma_update(None, "foreign_keys", "ON"))
        .and_then(|_| super::unicode_match::register(&conn))
        .map_err(|e| explain(query_error(e), path))?;
    // Reading the header proves it is a database before anything else is attempted.
    conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| explain(query_error(e), path))?;
    Ok(conn)
}

/// SQLite's own words, without the statement text rusqlite appends to some errors.
pub fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

fn query_error(e: rusqlite::Error) -> StoreError {
    StoreError::Query(sqlite_message(&e))
}

/// Turns SQLite's terse codes into what the operator should know.
fn explain(e: StoreError, path: &Path) -> StoreError {
    let StoreError::Query(message) = &e else {
        return e;
    };
    let shown = path.display();
    if message.contains("file is not a database") || message.contains("file is encrypted") {
        StoreError::Connect(format!("{shown} is not a SQLite database"))
    } else if message.contains("disk image is malformed")
        || message.contains("malformed database schema")
    {
        // Damaged (truncated, overwritten): unusable like a missing file, whichever query found it.
        StoreError::Connect(format!(
            "{shown} is damaged (SQLite: {message}) — restore it from a backup"
        ))
    } else if message.contains("database is locked") || message.contains("database is busy") {
        StoreError::Transient(format!(
            "{shown} is locked by another program (the LMS or a backup?) — try again in a moment"
        ))
    } else if message.contains("readonly database") {
        StoreError::Query(format!(
            "{shown} is read-only for this user — run with --read-only or fix the file permissions"
        ))
    } else {
        e
    }
}

fn bind(params: &[Value]) -> Vec<BoundValue<'_>> {
    params.iter().map(BoundValue).collect()
}

struct BoundValue<'a>(&'a Value);

impl ToSql for BoundValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Int(i) => ToSqlOutput::from(*i),
            Value::Text(s) => ToSqlOutput::from(s.as_str()),
            Value::Time(t) => ToSqlOutput::from(django_datetime(*t)),
        })
    }
}

/// Django's SQLite storage for an aware UTC datetime: naive text, space separator, the fraction
/// only when there are microseconds.
pub fn django_datetime(t: DateTime<Utc>) -> String {
    let mut text = String::with_capacity(26);
    timestamp_text::push_django(&mut text, t);
    text
}

/// Reads Django's form and the other forms SQLite's own date functions accept.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(t) = timestamp_text::utc_datetime(text) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = text.trim_end_matches('Z').trim_end_matches("+00:00");
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(naive, format).ok())
    .map(|n| n.and_utc())
}

struct SqliteRow<'a>(&'a rusqlite::Row<'a>);

impl SqliteRow<'_> {
    fn raw(&self, idx: usize) -> Result<ValueRef<'_>, StoreError> {
        self.0
            .get_ref(idx)
            .map_err(|e| StoreError::Data(e.to_string()))
    }

    fn raw_text(&self, idx: usize) -> Result<Option<String>, StoreError> {
        Ok(match self.raw(idx)? {
            ValueRef::Null => None,
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
            ValueRef::Integer(i) => Some(i.to_string()),
            ValueRef::Real(f) => Some(f.to_string()),
        })
    }

    fn parsed<T>(
        &self,
        idx: usize,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, StoreError> {
        let text = self.raw_text(idx)?.unwrap_or_default();
        parse(&text).ok_or_else(|| StoreError::Data(format!("'{text}' is not a valid {what}")))
    }
}

impl SqlRow for SqliteRow<'_> {
    fn int(&self, idx: usize) -> Result<i64, StoreError> {
        self.opt_int(idx)?
            .ok_or_else(|| StoreError::Data(format!("unexpected NULL in column {idx}")))
    }

    fn opt_int(&self, idx: usize) -> Result<Option<i64>, StoreError> {
        match self.raw(idx)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i)),
            ValueRef::Real(f) => Ok(Some(f as i64)),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .map(Some)
                .ok_or_else(|| StoreError::Data(format!("column {idx} is not a number"))),
            ValueRef::Blob(_) => Err(StoreError::Data(format!("column {idx} is not a number"))),
        }
    }

    fn opt_text(&self, idx: usize) -> Result<Option<String>, StoreError> {
        self.raw_text(idx)
    }

    fn boolean(&self, idx: usize) -> Result<bool, StoreError> {
        Ok(match self.raw(idx)? {
            ValueRef::Integer(i) => i != 0,
            ValueRef::Text(t) => matches!(t, b"1" | b"t" | b"true" | b"True" | b"TRUE"),
            _ => false,
        })
    }

    fn opt_timestamp(&self, idx: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self.raw_text(idx)? {
            None => Ok(None),
            Some(text) if text.is_empty() => Ok(None),
            Some(text) => parse_datetime(&text)
                .map(Some)
                .ok_or_else(|| StoreError::Data(format!("'{text}' is not a valid datetime"))),
        }
    }

    fn date(&self, idx: usize) -> Result<NaiveDate, StoreError> {
        self.parsed(idx, "date", |t| {
            let day = t.get(..10).unwrap_or(t);
            timestamp_text::date(day).or_else(|| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
        })
    }

    fn time(&self, idx: usize) -> Result<NaiveTime, StoreError> {
        self.parsed(idx, "time", |t| {
            timestamp_text::time(t)
                .map(Ok)
                .unwrap_or_else(|| NaiveTime::parse_from_str(t, "%H:%M:%S%.f"))
                .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                .ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn writes_djangos_datetime_form() {
        let whole = Utc.with_ymd_and_hms(2025, 12, 1, 9, 15, 4).unwrap();
        assert_eq!(django_datetime(whole), "2025-12-01 09:15:04");
        let fraction = whole + chrono::Duration::microseconds(36326);
        assert_eq!(django_datetime(fraction), "2025-12-01 09:15:04.036326");
    }

    #[test]
    fn reads_django_and_iso_forms() {
        for text in [
            "2025-12-01 09:15:04",
            "2025-12-01 09:15:04.000000",
            "2025-12-01T09:15:04Z",
            "2025-12-01T09:15:04+00:00",
        ] {
            assert_eq!(
                parse_datetime(text).map(|t| t.to_rfc3339()),
                Some("2025-12-01T09:15:04+00:00".to_string()),
                "{text}"
            );
        }
    }
}
