//! A sync run's claims: what keeps two calsync processes (two consoles, a console and a cron
//! job) from working on the same selection at the same time.
//!
//! - PostgreSQL: each selection is claimed with a session-level advisory lock,
//!   `pg_try_advisory_lock(CLAIM_NAMESPACE, selection id)`, held by one session dedicated to the
//!   run. A claim is never waited for: a selection claimed elsewhere is left to its holder. The
//!   server drops every claim of a session that ends, so a killed run leaves none behind.
//! - SQLite: one writer at a time. The run holds an exclusive OS lock on `<database>.calsync-lock`
//!   (the holder's pid, user, host and start time written inside); the OS releases it when the
//!   process ends, however it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Local, Utc};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::StoreError;
use crate::domain::lifecycle::Operator;

/// calsync's advisory-lock namespace (the first key of the two-key form): "cals" in ASCII. A DBA
/// finds the claims in `pg_locks` with `locktype = 'advisory' AND classid = 1667329139`, the
/// selection id in `objid`.
pub const CLAIM_NAMESPACE: i32 = 0x6361_6c73;

/// The claims of one run; dropping it gives back every claim still held.
pub struct Claims {
    hold: Hold,
}

enum Hold {
    /// The whole SQLite database, for as long as the lock file stays open.
    RunLock { _open: File },
    /// Advisory locks of one PostgreSQL session; released ids are queued to a task that unlocks
    /// them in batches.
    Session {
        client: Arc<Client>,
        releases: mpsc::UnboundedSender<i64>,
    },
}

impl Claims {
    pub(super) fn run_lock(file: File) -> Claims {
        Claims {
            hold: Hold::RunLock { _open: file },
        }
    }

    pub(super) fn session(client: Client) -> Claims {
        let client = Arc::new(client);
        let (releases, queued) = mpsc::unbounded_channel();
        tokio::spawn(unlock_released(Arc::clone(&client), queued));
        Claims {
            hold: Hold::Session { client, releases },
        }
    }

    /// Claims `ids` in one round trip; `true` where this run now holds the selection, `false`
    /// where another calsync does. Under the SQLite run lock every selection is this run's.
    pub async fn claim(&self, ids: &[i64]) -> Result<Vec<bool>, StoreError> {
        let Hold::Session { client, .. } = &self.hold else {
            return Ok(vec![true; ids.len()]);
        };
        let keys: Vec<i32> = ids.iter().map(|&id| claim_key(id)).collect();
        let rows = client
            .query(
                "SELECT pg_try_advisory_lock($1, key) \
                 FROM unnest($2::int4[]) WITH ORDINALITY AS claim(key, n) ORDER BY n",
                &[&CLAIM_NAMESPACE, &keys],
            )
            .await
            .map_err(|e| StoreError::Query(super::postgres::pg_message(&e)))?;
        rows.iter()
            .map(|row| {
                row.try_get::<_, bool>(0)
                    .map_err(|e| StoreError::Data(e.to_string()))
            })
            .collect()
    }

    /// Gives back the claim on `id` (once its result is written). Does not wait: the unlock
    /// travels with the others released meanwhile.
    pub fn release(&self, id: i64) {
        if let Hold::Session { releases, .. } = &self.hold {
            // The task ends only with the session, which drops every claim anyway.
            let _ = releases.send(id);
        }
    }
}

/// The second advisory-lock key: the selection id itself (ids beyond 2³¹ wrap, which can only
/// make two selections share a claim — a needless skip, never a double sync).
fn claim_key(id: i64) -> i32 {
    id as i32
}

async fn unlock_released(client: Arc<Client>, mut queued: mpsc::UnboundedReceiver<i64>) {
    while let Some(first) = queued.recv().await {
        let mut keys = vec![claim_key(first)];
        while let Ok(id) = queued.try_recv() {
            keys.push(claim_key(id));
        }
        let unlocked = client
            .execute(
                "SELECT pg_advisory_unlock($1, key) FROM unnest($2::int4[]) AS key",
                &[&CLAIM_NAMESPACE, &keys],
            )
            .await;
        if unlocked.is_err() {
            // The session is gone, and with it every claim it held.
            break;
        }
    }
}

/// `<database>.calsync-lock`, beside the database file.
pub(super) fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".calsync-lock");
    PathBuf::from(name)
}

/// Takes the SQLite run lock, or says who holds it. `wait`: block until the holder is done
/// (call on a blocking thread).
pub(super) fn take_run_lock(database: &Path, wait: bool) -> Result<File, StoreError> {
    let path = lock_path(database);
    let shown = path.display();
    // Never truncated before it is locked: the holder's details are in it.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::Connect(format!("cannot open the lock file {shown}: {e}")))?;
    let locked = if wait {
        file.lock().map_err(TryLockError::Error)
    } else {
        file.try_lock()
    };
    match locked {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(StoreError::Busy(busy_message(&path))),
        Err(TryLockError::Error(e)) => {
            return Err(StoreError::Connect(format!("cannot lock {shown}: {e}")));
        }
    }
    let operator = Operator::current();
    let holder = format!(
        "pid={}\nuser={}\nhost={}\nsince={}\n",
        std::process::id(),
        operator.user,
        operator.host,
        Utc::now().to_rfc3339()
    );
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(holder.as_bytes()))
        .and_then(|()| file.flush())
        .map_err(|e| StoreError::Connect(format!("cannot write the lock file {shown}: {e}")))?;
    Ok(file)
}

/// "another calsync is syncing this database (pid 123, ann@host, since 10:42:03)", from what
/// the holder wrote into the lock file (which may still be empty if it has only just locked).
fn busy_message(path: &Path) -> String {
    let mut text = String::new();
    let _ = File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
            .map(crate::text::clean_line)
            .filter(|v| !v.is_empty())
    };
    let mut details = Vec::new();
    if let Some(pid) = field("pid") {
        details.push(format!("pid {pid}"));
    }
    match (field("user"), field("host")) {
        (Some(user), Some(host)) => details.push(format!("{user}@{host}")),
        (Some(who), None) | (None, Some(who)) => details.push(who),
        (None, None) => {}
    }
    if let Some(since) = field("since").and_then(|s| DateTime::parse_from_rfc3339(&s).ok()) {
        details.push(format!("since {}", local_time(since.with_timezone(&Utc))));
    }
    if details.is_empty() {
        "another calsync is syncing this database".to_string()
    } else {
        format!(
            "another calsync is syncing this database ({})",
            details.join(", ")
        )
    }
}

/// The time of day if it is today, else the date too.
fn local_time(at: DateTime<Utc>) -> String {
    let at = at.with_timezone(&Local);
    if at.date_naive() == Local::now().date_naive() {
        at.format("%H:%M:%S").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}
