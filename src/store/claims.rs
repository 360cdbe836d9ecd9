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

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Local, Utc};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::StoreError;
use crate::domain::audit::Operator;

/// calsync's advisory-lock namespace (the first key of the two-key form): "cals" in ASCII. A DBA
/// finds the claims in `pg_locks` with `locktype = 'advisory' AND classid = 1667329139`, the
/// selection id in `objid`.
pub const CLAIM_NAMESPACE: i32 = 0x6361_6c73;

/// A run's claims take at most 1 / this of PostgreSQL's shared lock table.
const CLAIM_SHARE: usize = 4;

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

    /// Claims `ids` in one round trip (a second one only to name the holders of those claimed
    /// elsewhere). Under the SQLite run lock every selection is this run's.
    pub async fn claim(&self, ids: &[i64]) -> Result<Vec<Claim>, StoreError> {
        let Hold::Session { client, .. } = &self.hold else {
            return Ok(vec![Claim::Taken; ids.len()]);
        };
        let keys: Vec<i32> = ids.iter().map(|&id| claim_key(id)).collect();
        let rows = client
            .query(
                "SELECT pg_try_advisory_lock($1, key) \
                 FROM unnest($2::int4[]) WITH ORDINALITY AS claim(key, n) ORDER BY n",
                &[&CLAIM_NAMESPACE, &keys],
            )
            .await
            .map_err(query_error)?;
        let taken = rows
            .iter()
            .map(|row| row.try_get::<_, bool>(0))
            .collect::<Result<Vec<bool>, _>>()
            .map_err(|e| StoreError::Data(e.to_string()))?;
        let elsewhere: Vec<i32> = keys
            .iter()
            .zip(&taken)
            .filter(|(_, taken)| !**taken)
            .map(|(&key, _)| key)
            .collect();
        // Naming the holders is a courtesy: without it the claims still stand.
        let holders = if elsewhere.is_empty() {
            HashMap::new()
        } else {
            holders(client, &elsewhere).await.unwrap_or_default()
        };
        Ok(keys
            .iter()
            .zip(taken)
            .map(|(key, taken)| {
                if taken {
                    Claim::Taken
                } else {
                    Claim::Elsewhere {
                        holder: holders.get(key).cloned(),
                    }
                }
            })
            .collect())
    }

    /// How many claims one run may hold at once, if the backend bounds it. PostgreSQL keeps
    /// advisory locks in its shared lock table, `max_locks_per_transaction × (max_connections +
    /// max_prepared_transactions)` entries for every session of the server; past it a claim
    /// fails with "out of shared memory". A run takes at most a quarter of the table.
    pub async fn budget(&self) -> Option<usize> {
        let Hold::Session { client, .. } = &self.hold else {
            return None;
        };
        let row = client
            .query_one(
                "SELECT current_setting('max_locks_per_transaction')::int8 *                  (current_setting('max_connections')::int8                   + current_setting('max_prepared_transactions')::int8)",
                &[],
            )
            .await
            .ok()?;
        let entries: i64 = row.try_get(0).ok()?;
        // Unreadable settings: the server's defaults (64 × 100).
        let entries = usize::try_from(entries).unwrap_or(6_400);
        Some((entries / CLAIM_SHARE).max(1))
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

/// One selection's claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This run holds it.
    Taken,
    /// Another calsync does: its user, host, pid and start as its session tells them, when the
    /// server shows them.
    Elsewhere { holder: Option<String> },
}

/// The application name of a claiming session, which other runs show when they skip a selection
/// it holds (`pg_stat_activity` shows it to every role; the server cuts it at 63 bytes).
pub(super) fn session_name() -> String {
    let operator = Operator::current();
    format!(
        "{SESSION_PREFIX}{}@{}, pid {}",
        operator.user,
        operator.host,
        std::process::id()
    )
}

const SESSION_PREFIX: &str = "calsync claims: ";

/// Who holds each of `keys`: "ann@host, pid 123, since 10:42:03".
async fn holders(client: &Client, keys: &[i32]) -> Result<HashMap<i32, String>, StoreError> {
    let rows = client
        .query(
            "SELECT l.objid::int8, a.application_name, a.backend_start \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
               AND l.classid = $1::int4::oid AND l.objid = ANY($2::int4[]::oid[])",
            &[&CLAIM_NAMESPACE, &keys],
        )
        .await
        .map_err(query_error)?;
    let mut holders = HashMap::new();
    for row in &rows {
        let objid: i64 = row
            .try_get(0)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        // An oid is unsigned: back to the key's 32 bits as they were sent.
        let key = objid as u32 as i32;
        let name: Option<String> = row
            .try_get(1)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        let since: Option<DateTime<Utc>> = row
            .try_get(2)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        let who = name
            .as_deref()
            .and_then(|n| n.strip_prefix(SESSION_PREFIX))
            .map(crate::text::clean_line)
            .filter(|w| !w.is_empty());
        let holder = match (who, since) {
            (Some(who), Some(since)) => format!("{who}, since {}", local_time(since)),
            (Some(who), None) => who,
            (None, Some(since)) => format!("since {}", local_time(since)),
            (None, None) => continue,
        };
        holders.insert(key, holder);
    }
    Ok(holders)
}

fn query_error(e: tokio_postgres::Error) -> StoreError {
    StoreError::Query(super::postgres::pg_message(&e))
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
