//! Shared state of a running simulator and the in-process control surface for tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::events::{self, Expand, NewIds, StoredEvent};
use super::ids;
use super::rng::SplitMix64;
use super::wire::{WireLog, WireRequest};
use super::{Latency, MailboxState, SIMULATOR_LABEL, SimConfig};

/// A scripted, one-shot misbehaviour.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The next `count` Graph requests (or batch items) for `mailbox` get `status`
    /// (429 carries Retry-After and throttles the mailbox like a real 429).
    FailNext {
        mailbox: String,
        count: u32,
        status: u16,
    },
    /// The next event create for `mailbox` is committed, and then the reply is bad.
    GhostCommit { mailbox: String, reply: GhostReply },
    /// The next `count` token requests get 503 `temporarily_unavailable`.
    TokenUnavailable { count: u32 },
    /// The next `count` token requests are held this long before they are answered (a login
    /// service that hangs).
    TokenStall { count: u32, duration: Duration },
    /// The next request of `on` is answered `status` (301/302/303/307/308) with
    /// `Location: {location}` and nothing done.
    Redirect {
        on: RedirectOn,
        status: u16,
        location: String,
    },
}

/// Which request a [`Fault::Redirect`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectOn {
    /// A POST to the token endpoint.
    Token,
    /// An event create (`POST …/events`) for this mailbox.
    Create { mailbox: String },
}

/// What a ghost-committed create answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GhostReply {
    /// An error status (e.g. 504) after the event was stored.
    Status(u16),
    /// Hold the response this long (past the client's timeout), then answer 201.
    Stall(Duration),
}

/// Per-mailbox counters.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MailboxStats {
    /// Graph requests and batch items addressed to this mailbox.
    pub requests: u64,
    pub in_flight: usize,
    pub peak_concurrency: usize,
    /// 429 responses issued (all causes).
    pub throttled: u64,
    /// Requests that arrived while the mailbox was still inside a Retry-After window.
    pub early_retries: u64,
    pub events_created: u64,
    pub events_stored: usize,
    pub duplicate_transaction_ids: u64,
    /// Random and scripted faults served.
    pub faults_injected: u64,
}

/// A snapshot of the simulator's counters (also served at `GET /_sim/stats`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SimStats {
    pub simulator: &'static str,
    pub token_requests: u64,
    pub tokens_issued: u64,
    pub token_errors: u64,
    /// Graph 401 responses (missing, invalid or expired token).
    pub unauthorized: u64,
    pub batches: u64,
    /// 429s for the app-wide limit (`SimConfig::app_limit`), over all mailboxes.
    pub app_throttled: u64,
    /// The most Graph requests (batch items counted one by one) in flight at once over every
    /// mailbox.
    pub peak_in_flight: usize,
    /// Requests in flight integrated over time (µs), and the time anything was in flight (µs):
    /// see [`SimStats::mean_in_flight`].
    pub in_flight_area_us: u64,
    pub busy_us: u64,
    pub mailboxes: BTreeMap<String, MailboxStats>,
}

impl SimStats {
    /// Counters of one mailbox (zeros when it was never addressed).
    pub fn mailbox(&self, address: &str) -> MailboxStats {
        self.mailboxes
            .get(&address.to_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// The mean number of requests in flight while any was, between `before` and this
    /// snapshot (`None`: since the start).
    pub fn mean_in_flight(&self, before: Option<&SimStats>) -> f64 {
        let (area, busy) = before.map_or((0, 0), |b| (b.in_flight_area_us, b.busy_us));
        let busy = self.busy_us.saturating_sub(busy);
        if busy == 0 {
            return 0.0;
        }
        self.in_flight_area_us.saturating_sub(area) as f64 / busy as f64
    }

    pub fn total_requests(&self) -> u64 {
        self.mailboxes.values().map(|m| m.requests).sum()
    }

    pub fn total_throttled(&self) -> u64 {
        self.mailboxes.values().map(|m| m.throttled).sum()
    }

    pub fn total_early_retries(&self) -> u64 {
        self.mailboxes.values().map(|m| m.early_retries).sum()
    }

    pub fn peak_concurrency(&self) -> usize {
        self.mailboxes
            .values()
            .map(|m| m.peak_concurrency)
            .max()
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub expires_at: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct MailboxRecord {
    pub stats: MailboxStats,
    /// While set and in the future, requests are early retries (Dev Proxy's penalty).
    pub not_before: Option<Instant>,
    /// The arrival counter when `not_before` was set: only requests that arrived after
    /// the 429 was issued can be early retries (not ones already in flight, nor
    /// siblings in the same `$batch`).
    pub throttle_mark: u64,
    pub events: Vec<StoredEvent>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub token_requests: u64,
    pub tokens_issued: u64,
    pub token_errors: u64,
    pub unauthorized: u64,
    pub batches: u64,
    pub app_throttled: u64,
    /// Graph requests (and batch items) in flight now over every mailbox, and the most seen.
    pub in_flight: usize,
    pub peak_in_flight: usize,
    /// Requests in flight integrated over time, and the time anything was in flight (µs).
    pub in_flight_area_us: u64,
    pub busy_us: u64,
    /// When `in_flight` last changed.
    pub in_flight_since: Option<Instant>,
}

impl Counters {
    /// One request more (`arrived`) or one fewer in flight, at `now`.
    pub(crate) fn in_flight_changed(&mut self, now: Instant, arrived: bool) {
        if let Some(since) = self.in_flight_since {
            let us = u64::try_from(now.duration_since(since).as_micros()).unwrap_or(u64::MAX);
            let area = us.saturating_mul(self.in_flight as u64);
            self.in_flight_area_us = self.in_flight_area_us.saturating_add(area);
            if self.in_flight > 0 {
                self.busy_us = self.busy_us.saturating_add(us);
            }
        }
        self.in_flight_since = Some(now);
        if arrived {
            self.in_flight += 1;
            self.peak_in_flight = self.peak_in_flight.max(self.in_flight);
        } else {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
    }
}

pub(crate) struct Inner {
    pub config: SimConfig,
    pub rng: SplitMix64,
    pub tokens: HashMap<String, IssuedToken>,
    pub mailboxes: BTreeMap<String, MailboxRecord>,
    pub faults: Vec<Fault>,
    pub counters: Counters,
    /// Incremented for every HTTP request as it arrives.
    pub arrivals: u64,
    /// The latest requests as they arrived (see [`SimState::wire_log`]).
    pub wire: WireLog,
    /// The app-wide budget's current window (see [`super::AppLimit`]).
    pub app_window: super::app_limit::AppWindow,
}

impl Inner {
    pub(crate) fn mailbox(&mut self, key: &str) -> &mut MailboxRecord {
        self.mailboxes.entry(key.to_string()).or_default()
    }

    /// The events stored in mailbox `key` (none for a mailbox never written to).
    pub(crate) fn events(&self, key: &str) -> &[StoredEvent] {
        self.mailboxes.get(key).map_or(&[], |m| &m.events)
    }

    /// Removes and returns the first matching one-shot fault.
    pub(crate) fn take_fault(&mut self, pick: impl Fn(&mut Fault) -> bool) -> Option<Fault> {
        let idx = self.faults.iter_mut().position(pick)?;
        Some(self.faults.remove(idx))
    }
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Connections and handshakes when serving TLS (counted outside the lock, per accept).
    pub connections: Arc<super::tls::Counters>,
    /// Served over TLS: links it writes start `https://`.
    pub https: bool,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not wedge the simulator; the data stays usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A cheap, cloneable handle on a simulator's state.
#[derive(Clone)]
pub struct SimState {
    pub(crate) shared: Arc<Shared>,
}

impl SimState {
    pub(crate) fn new(config: SimConfig) -> Self {
        let rng = SplitMix64::new(config.seed);
        let https = config.tls.is_some();
        Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    config,
                    rng,
                    tokens: HashMap::new(),
                    mailboxes: BTreeMap::new(),
                    faults: Vec::new(),
                    counters: Counters::default(),
                    arrivals: 0,
                    wire: Default::default(),
                    app_window: Default::default(),
                }),
                connections: Default::default(),
                https,
            }),
        }
    }

    pub fn stats(&self) -> SimStats {
        snapshot(&self.shared.lock())
    }

    pub fn mailbox_stats(&self, address: &str) -> MailboxStats {
        self.stats().mailbox(address)
    }

    /// The events in a mailbox's calendar as Graph returns them to calsync (immutable ids, UTC,
    /// all extended properties). Events in Deleted Items are not in the calendar.
    pub fn events(&self, address: &str) -> Vec<Value> {
        events_json(&self.shared.lock(), address, "http://simulated-graph/v1.0")
    }

    pub fn event_count(&self, address: &str) -> usize {
        self.shared
            .lock()
            .mailboxes
            .get(&address.to_lowercase())
            .map_or(0, |m| {
                m.events.iter().filter(|e| ids::reaches(e, false)).count()
            })
    }

    /// Queues a one-shot fault.
    pub fn push_fault(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Changes a mailbox's directory state mid-run (user deleted, licence removed, …).
    pub fn set_mailbox_state(&self, address: &str, state: MailboxState) {
        self.shared.lock().config.directory.set_user(address, state);
    }

    /// Deletes an event behind the client's back. Returns whether it existed.
    pub fn delete_event_out_of_band(&self, address: &str, event_id: &str) -> bool {
        let mut inner = self.shared.lock();
        let rec = inner.mailbox(&address.to_lowercase());
        let before = rec.events.len();
        rec.events.retain(|e| !ids::names(e, event_id));
        before != rec.events.len()
    }

    /// Stores `event` in `address`'s calendar as another client created it (the LMS: its
    /// subject, an offset `dateTime` with an IANA zone, no tag, no `transactionId`), past
    /// throttling and faults. Returns the new event's id.
    pub fn plant_event(&self, address: &str, event: &Value) -> Result<String, String> {
        self.plant_event_with_id(address, None, event)
    }

    /// [`SimState::plant_event`] under a given id (the one a database row already holds).
    pub fn plant_event_with_id(
        &self,
        address: &str,
        id: Option<&str>,
        event: &Value,
    ) -> Result<String, String> {
        let mut inner = self.shared.lock();
        let mut ids = NewIds::generate(&mut inner.rng);
        if let Some(id) = id {
            ids.id = id.to_string();
        }
        let stored = events::create(address, event, false, ids, chrono::Utc::now())
            .map_err(|e| format!("{} {}: {}", e.status, e.code, e.message))?;
        let id = stored.id.clone();
        let rec = inner.mailbox(&address.to_lowercase());
        rec.events.push(stored);
        rec.stats.events_created += 1;
        Ok(id)
    }

    /// Gives an app a new secret; the old one now fails with AADSTS7000215.
    pub fn rotate_secret(&self, tenant_id: &str, client_id: &str, new_secret: &str) -> bool {
        let mut inner = self.shared.lock();
        match find_tenant(&mut inner, tenant_id, client_id) {
            Some(t) => {
                t.client_secret = new_secret.to_string();
                t.secret_expired = false;
                true
            }
            None => false,
        }
    }

    /// Marks an app's secret as expired (AADSTS7000222).
    pub fn expire_secret(&self, tenant_id: &str, client_id: &str) -> bool {
        let mut inner = self.shared.lock();
        match find_tenant(&mut inner, tenant_id, client_id) {
            Some(t) => {
                t.secret_expired = true;
                true
            }
            None => false,
        }
    }

    /// Every issued token is expired from now on (forces a 401 mid-run).
    pub fn expire_all_tokens(&self) {
        let now = Instant::now();
        for token in self.shared.lock().tokens.values_mut() {
            token.expires_at = now;
        }
    }

    /// The access tokens issued so far (for asserting they never leak into texts).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().tokens.keys().cloned().collect()
    }

    pub fn set_fault_rate(&self, rate: f64) {
        self.shared.lock().config.fault_rate = rate.clamp(0.0, 1.0);
    }

    pub fn set_latency(&self, latency: Latency) {
        self.shared.lock().config.latency = latency;
    }

    /// The requests that reached the simulator, oldest first (the last 10,000).
    pub fn wire_log(&self) -> Vec<WireRequest> {
        self.shared.lock().wire.requests()
    }

    /// Clears events, counters, throttle windows and queued faults. Issued tokens stay
    /// valid so connected clients keep working.
    pub fn reset(&self) {
        reset(&mut self.shared.lock());
        self.shared.connections.reset();
    }

    /// Connections and handshakes since the start or the last [`SimState::reset`] (zeros over
    /// plain HTTP).
    pub fn connections(&self) -> super::Connections {
        self.shared.connections.snapshot()
    }
}

fn find_tenant<'a>(
    inner: &'a mut Inner,
    tenant_id: &str,
    client_id: &str,
) -> Option<&'a mut super::SimTenant> {
    inner
        .config
        .tenants
        .iter_mut()
        .find(|t| t.tenant_id.eq_ignore_ascii_case(tenant_id) && t.client_id == client_id)
}

pub(crate) fn reset(inner: &mut Inner) {
    inner.mailboxes.clear();
    inner.faults.clear();
    inner.counters = Counters::default();
    inner.app_window = Default::default();
}

pub(crate) fn snapshot(inner: &Inner) -> SimStats {
    SimStats {
        simulator: SIMULATOR_LABEL,
        token_requests: inner.counters.token_requests,
        tokens_issued: inner.counters.tokens_issued,
        token_errors: inner.counters.token_errors,
        unauthorized: inner.counters.unauthorized,
        batches: inner.counters.batches,
        app_throttled: inner.counters.app_throttled,
        peak_in_flight: inner.counters.peak_in_flight,
        in_flight_area_us: inner.counters.in_flight_area_us,
        busy_us: inner.counters.busy_us,
        mailboxes: inner
            .mailboxes
            .iter()
            .map(|(k, m)| {
                let mut stats = m.stats.clone();
                stats.events_stored = m.events.len();
                (k.clone(), stats)
            })
            .collect(),
    }
}

pub(crate) fn events_json(inner: &Inner, address: &str, base: &str) -> Vec<Value> {
    inner
        .mailboxes
        .get(&address.to_lowercase())
        .map(|m| {
            m.events
                .iter()
                .filter(|e| ids::reaches(e, false))
                .map(|e| ids::render(e, ids::IdType::Immutable, None, Expand::All, base))
                .collect()
        })
        .unwrap_or_default()
}
