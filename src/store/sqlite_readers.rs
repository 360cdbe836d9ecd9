//! Read-only SQLite connections beside the one that writes, so the console's page and its
//! counts (or the overview's parts) run side by side: SQLite readers do not block each other
//! in any journal mode. The LMS's journal mode is left as it is; these connections only read.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// At most this many readers besides the writing connection (the machines calsync runs on have
/// few cores; more would only queue on them).
pub const MAX_READERS: usize = 3;
/// Each reader's page cache. Its reads are whole-table scans and index walks that the
/// operating system's file cache serves as well; SQLite's default of 2,000 KiB a connection made
/// the console on 1M rows 9 MB larger (`calsync bench console`: 43.9 → 34.3–35.5 MB resident,
/// the overview and filters as fast).
const READER_CACHE_KIB: i64 = 512;

pub struct Readers {
    path: PathBuf,
    busy: Duration,
    state: Mutex<Pool>,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Connection>,
    opened: usize,
}

impl Readers {
    pub fn new(path: &Path, busy: Duration) -> Readers {
        Readers {
            path: path.to_path_buf(),
            busy,
            state: Mutex::new(Pool::default()),
        }
    }

    /// An idle reader, a new one while fewer than [`MAX_READERS`] exist, else `None` (the
    /// caller then reads on the writing connection, as it did before readers existed).
    pub fn take(&self) -> Option<Connection> {
        {
            let mut pool = self.lock();
            if let Some(conn) = pool.idle.pop() {
                return Some(conn);
            }
            if pool.opened >= MAX_READERS {
                return None;
            }
            pool.opened += 1;
        }
        match self.open() {
            Ok(conn) => Some(conn),
            Err(_) => {
                // The writing connection still works; reads go there instead.
                self.lock().opened -= 1;
                None
            }
        }
    }

    pub fn give_back(&self, conn: Connection) {
        self.lock().idle.push(conn);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy)?;
        conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
        // The same matching as the writing connection (free text beyond ASCII).
        super::unicode_match::register(&conn)?;
        Ok(conn)
    }
}
