//! The REST ids of a run's new events, asked for per mailbox rather than per event: the events a
//! mailbox's creates return at about the same moment (Graph runs 4 of a mailbox at a time) share
//! one `translateExchangeIds` call (up to 1,000 ids in one, api/user-translateexchangeids.md).
//! A run of 4 selections a mailbox sends 5 requests a mailbox instead of 8: less of the
//! mailbox's request budget, and less CPU on both ends.
//!
//! A translation waits until no other attempt of its mailbox is still under way, until
//! [`MAILBOX_CONCURRENCY`] ids wait (a wave of the mailbox), or for [`MOST_WAIT`], whichever
//! comes first. An untranslated id is no loss: the row keeps the immutable id, which every
//! Graph path accepts, and reconcile and verify translate whatever format a row holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::graph::{Credentials, GraphClient, IdFormat, MAILBOX_CONCURRENCY};

/// The longest an id waits for others of its mailbox: on a busy machine a mailbox's creates
/// answer up to a few hundred milliseconds apart (`calsync bench sync` at 20,000).
const MOST_WAIT: Duration = Duration::from_millis(500);

/// One app registration's view of one mailbox.
type Key = (String, String, String);

/// An immutable id waiting for its REST id, and where the answer goes (`None`: not translated).
type Waiting = (String, oneshot::Sender<Option<String>>);

#[derive(Default)]
struct Mailbox {
    /// Attempts of this mailbox under way (each may yet add an id).
    attempting: usize,
    waiting: Vec<Waiting>,
    /// Counts the batches sent, so a timer flushes only the batch it was started for.
    sent: u64,
}

/// Shared by the attempts of one run.
#[derive(Clone)]
pub(super) struct RestIds {
    graph: GraphClient,
    mailboxes: Arc<Mutex<HashMap<Key, Mailbox>>>,
}

/// Held while an attempt of a mailbox is under way; dropping it lets that mailbox's waiting ids
/// go when it was the last.
pub(super) struct Attempting {
    ids: RestIds,
    key: Key,
    mailbox: String,
    credentials: Credentials,
    /// Counted as over already (by [`Attempting::rest_id`]).
    ended: bool,
}

impl RestIds {
    pub(super) fn new(graph: GraphClient) -> RestIds {
        RestIds {
            graph,
            mailboxes: Arc::default(),
        }
    }

    /// Marks an attempt of `mailbox` as under way until the returned guard is dropped.
    pub(super) fn attempting(&self, credentials: &Credentials, mailbox: &str) -> Attempting {
        let key = key(credentials, mailbox);
        self.lock().entry(key.clone()).or_default().attempting += 1;
        Attempting {
            ids: self.clone(),
            key,
            mailbox: mailbox.to_string(),
            credentials: credentials.clone(),
            ended: false,
        }
    }

    /// Sends the ids waiting in `state` as one call; each waiter gets its answer.
    fn send(&self, state: &mut Mailbox, credentials: &Credentials, mailbox: &str) {
        let waiting = std::mem::take(&mut state.waiting);
        state.sent += 1;
        let graph = self.graph.clone();
        let credentials = credentials.clone();
        let mailbox = mailbox.to_string();
        tokio::spawn(async move {
            let asked: Vec<String> = waiting.iter().map(|(id, _)| id.clone()).collect();
            let mut translated = graph
                .translate_ids(
                    &credentials,
                    &mailbox,
                    &asked,
                    IdFormat::Immutable,
                    IdFormat::Rest,
                )
                .await
                .unwrap_or_default();
            for (id, answer) in waiting {
                let _ = answer.send(translated.remove(&id));
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Mailbox>> {
        self.mailboxes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Attempting {
    /// Ends the attempt with its new event `immutable`: the event's REST id, `None` when Graph
    /// did not translate it (the caller keeps the immutable id, which every Graph path accepts
    /// too). Ending and adding the id are one step, so the mailbox's last attempt joins its batch.
    pub(super) async fn rest_id(mut self, immutable: &str) -> Option<String> {
        let (answer, answered) = oneshot::channel();
        if let Some(batch) = self.end(Some((immutable.to_string(), answer))) {
            let (ids, key) = (self.ids.clone(), self.key.clone());
            let (credentials, mailbox) = (self.credentials.clone(), self.mailbox.clone());
            tokio::spawn(async move {
                tokio::time::sleep(MOST_WAIT).await;
                let mut mailboxes = ids.lock();
                if let Some(state) = mailboxes.get_mut(&key)
                    && state.sent == batch
                    && !state.waiting.is_empty()
                {
                    ids.send(state, &credentials, &mailbox);
                }
            });
        }
        drop(self);
        answered.await.ok().flatten()
    }

    /// Counts the attempt as over, adding its id to the mailbox's batch when it has one, and
    /// sends the batch when nothing else of the mailbox is under way or a wave's worth waits.
    /// The batch a timer must flush when this id opened it and it was not sent at once.
    fn end(&mut self, id: Option<Waiting>) -> Option<u64> {
        if self.ended {
            return None;
        }
        self.ended = true;
        let mut mailboxes = self.ids.lock();
        let state = mailboxes.entry(self.key.clone()).or_default();
        state.attempting = state.attempting.saturating_sub(1);
        let added = id.is_some();
        state.waiting.extend(id);
        if state.waiting.is_empty() {
            if state.attempting == 0 {
                mailboxes.remove(&self.key);
            }
            return None;
        }
        if state.attempting == 0 || state.waiting.len() >= MAILBOX_CONCURRENCY {
            self.ids.send(state, &self.credentials, &self.mailbox);
            if state.attempting == 0 {
                // Kept only while attempts are under way or ids wait.
                mailboxes.remove(&self.key);
            }
            return None;
        }
        (added && state.waiting.len() == 1).then_some(state.sent)
    }
}

impl Drop for Attempting {
    fn drop(&mut self) {
        self.end(None);
    }
}

fn key(credentials: &Credentials, mailbox: &str) -> Key {
    (
        credentials.tenant_id.clone(),
        credentials.client_id.clone(),
        mailbox.trim().to_lowercase(),
    )
}
