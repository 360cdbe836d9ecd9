//! The sessions plain SELECTs run on. A PostgreSQL session runs one statement at a time, so the
//! console's page and its counts (or the overview's parts) would wait for each other on one;
//! a read goes to an idle session, and a new one is opened (up to [`MAX_READERS`]) when all are
//! busy. Each session keeps its prepared statements, so a query run page after page (`status`,
//! exports) is parsed and planned once, not once a page.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio_postgres::{Client, Statement};

/// Sessions for reads, the backend's main session among them.
const MAX_READERS: usize = 3;
/// Prepared statements kept per session (id lists of every length would otherwise pile up).
const MAX_STATEMENTS: usize = 64;

pub struct Reader {
    client: Arc<Client>,
    statements: Mutex<HashMap<String, Statement>>,
    in_flight: AtomicUsize,
}

impl Reader {
    fn new(client: Arc<Client>) -> Reader {
        Reader {
            client,
            statements: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The session, to run on and to name in a failure (a lost main session is replaced).
    pub fn shared_client(&self) -> Arc<Client> {
        Arc::clone(&self.client)
    }

    /// The statement for `text`, prepared on this session once.
    pub async fn statement(&self, text: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.cache().get(text) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(text).await?;
        let mut cache = self.cache();
        if cache.len() >= MAX_STATEMENTS {
            cache.clear();
        }
        cache.insert(text.to_string(), statement.clone());
        Ok(statement)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Statement>> {
        self.statements
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A reader in use; it counts as busy until dropped.
pub struct Lease(Arc<Reader>);

impl std::ops::Deref for Lease {
    type Target = Reader;
    fn deref(&self) -> &Reader {
        &self.0
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub struct Readers {
    /// The backend's main session with its statements, renewed when the backend replaces it.
    main: Mutex<Option<Arc<Reader>>>,
    extra: Mutex<Vec<Arc<Reader>>>,
    /// One session is opened at a time.
    opening: tokio::sync::Mutex<()>,
}

impl Readers {
    /// The least busy session of `main` (the backend's main session as it is now) and the
    /// others; a new one from `open` when every session is busy and fewer than
    /// [`MAX_READERS`] exist. A session that cannot be opened is simply not added.
    pub async fn lease<F, Fut>(&self, main: &Arc<Client>, open: F) -> Lease
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Option<Client>>,
    {
        let (least, room) = self.least_busy(main);
        if least.in_flight.load(Ordering::Relaxed) > 0
            && room
            && let Ok(_opening) = self.opening.try_lock()
            && let Some(client) = open().await
        {
            let reader = Arc::new(Reader::new(Arc::new(client)));
            lock(&self.extra).push(Arc::clone(&reader));
            return Self::take(reader);
        }
        Self::take(least)
    }

    fn least_busy(&self, main: &Arc<Client>) -> (Arc<Reader>, bool) {
        let main = {
            let mut current = lock(&self.main);
            match current.as_ref() {
                Some(reader) if Arc::ptr_eq(&reader.client, main) => Arc::clone(reader),
                _ => {
                    let reader = Arc::new(Reader::new(Arc::clone(main)));
                    *current = Some(Arc::clone(&reader));
                    reader
                }
            }
        };
        let mut extra = lock(&self.extra);
        // A session the server closed is dropped; the next lease may open another.
        extra.retain(|reader| !reader.client.is_closed());
        let least = std::iter::once(&main)
            .chain(extra.iter())
            .min_by_key(|r| r.in_flight.load(Ordering::Relaxed))
            .map_or_else(|| Arc::clone(&main), Arc::clone);
        (least, extra.len() + 1 < MAX_READERS)
    }

    fn take(reader: Arc<Reader>) -> Lease {
        reader.in_flight.fetch_add(1, Ordering::Relaxed);
        Lease(reader)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
