//! The app-wide ceiling on requests in flight, across every mailbox, with AIMD back-off.
//!
//! Graph's limits that are not per mailbox (concepts/throttling-limits.md: "Any request can be
//! evaluated against multiple limits … per app across all tenants, per tenant for all apps";
//! the global one is 130,000 requests per 10 seconds per app across all tenants) answer 429
//! like the per-mailbox ones. A 429 that is not the mailbox's concurrency limit may be one of
//! them: it halves the requests in flight (multiplicative decrease, at most once per [`CALM`]),
//! and a run of successes as long as the ceiling takes back one request (additive increase) up
//! to the configured ceiling. When two mailboxes report such a 429 within [`CALM`], the limit is
//! taken to be the app's: every request waits out the Retry-After, not only the two mailboxes'.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Graph's global limit: requests per [`APP_WINDOW`] per app across all tenants
/// (concepts/throttling-limits.md, current page).
pub const APP_WINDOW_REQUESTS: usize = 130_000;
pub const APP_WINDOW: Duration = Duration::from_secs(10);

/// The default ceiling on requests in flight for one client. A run holds at most this many
/// requests at Graph, which at any latency Graph shows (≥ 40 ms) starts at most a fifth of the
/// global window's budget within its first 10 s wave; and 20,000 in flight stays well inside
/// this machine's memory (see BENCHMARKS.md, "memory per request in flight").
pub const APP_IN_FLIGHT_CEILING: usize = 20_000;

/// The ceiling never goes below this many requests.
const FLOOR: usize = 4;
/// After a decrease, 429s of requests that were already in flight do not decrease again.
const CALM: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(crate) struct AppLimit {
    semaphore: Arc<Semaphore>,
    /// The ceiling now; permits given back while `debt` > 0 are forgotten instead.
    limit: AtomicUsize,
    max: usize,
    debt: AtomicUsize,
    last_decrease: Mutex<Option<Instant>>,
    decreases: AtomicUsize,
    successes: AtomicUsize,
    /// The last mailbox that got a 429 which may be the app's, and when.
    last_throttled: Mutex<Option<(String, Instant)>>,
    /// No request is sent before this instant (an app-wide Retry-After).
    not_before: Mutex<Option<Instant>>,
}

/// One request in flight; dropping it gives its place back (or pays the debt of a decrease).
pub(crate) struct AppPermit {
    permit: Option<OwnedSemaphorePermit>,
    limit: Arc<AppLimit>,
}

impl Drop for AppPermit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let paid = self
            .limit
            .debt
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1))
            .is_ok();
        if paid {
            permit.forget();
        }
    }
}

impl AppLimit {
    pub(crate) fn new(max: usize) -> Arc<AppLimit> {
        let max = max.max(FLOOR);
        Arc::new(AppLimit {
            semaphore: Arc::new(Semaphore::new(max)),
            limit: AtomicUsize::new(max),
            max,
            debt: AtomicUsize::new(0),
            last_decrease: Mutex::new(None),
            decreases: AtomicUsize::new(0),
            successes: AtomicUsize::new(0),
            last_throttled: Mutex::new(None),
            not_before: Mutex::new(None),
        })
    }

    /// Waits for a place among the requests in flight, then for an app-wide hold to pass.
    pub(crate) async fn enter(self: &Arc<Self>) -> AppPermit {
        // Never closed, so acquiring cannot fail; without a permit the request still goes.
        let permit = Arc::clone(&self.semaphore).acquire_owned().await.ok();
        while let Some(until) = self.held_until() {
            tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
        }
        AppPermit {
            permit,
            limit: Arc::clone(self),
        }
    }

    fn held_until(&self) -> Option<Instant> {
        let held = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        held.filter(|t| *t > Instant::now())
    }

    /// A 429 for `mailbox` that may be an app-wide limit, with the wait Graph asked for.
    pub(crate) fn throttled(&self, mailbox: &str, wait: Duration) {
        let now = Instant::now();
        {
            let mut last = self
                .last_throttled
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let another = last
                .as_ref()
                .is_some_and(|(m, t)| m != mailbox && now.duration_since(*t) < CALM);
            if another && let Some(until) = now.checked_add(wait) {
                let mut held = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
                if held.is_none_or(|t| t < until) {
                    *held = Some(until);
                }
            }
            *last = Some((mailbox.to_string(), now));
        }
        {
            let mut last = self.last_decrease.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| now.duration_since(t) < CALM) {
                return;
            }
            *last = Some(now);
        }
        self.successes.store(0, Ordering::Relaxed);
        let current = self.limit.load(Ordering::Relaxed);
        // Half of what is in flight now (this request's place included), not of a ceiling
        // the run may never have reached.
        let in_flight = current.saturating_sub(self.semaphore.available_permits());
        let target = (in_flight.min(current) / 2).max(FLOOR);
        let cut = current.saturating_sub(target);
        if cut == 0 {
            return;
        }
        self.limit.store(target, Ordering::Relaxed);
        self.decreases.fetch_add(1, Ordering::Relaxed);
        let forgotten = self.semaphore.forget_permits(cut);
        self.debt.fetch_add(cut - forgotten, Ordering::Relaxed);
    }

    /// A success: after as many as the ceiling, one more request may be in flight, up to the
    /// configured ceiling.
    pub(crate) fn succeeded(&self) {
        let current = self.limit.load(Ordering::Relaxed);
        if current >= self.max {
            return;
        }
        if self.successes.fetch_add(1, Ordering::Relaxed) + 1 < current {
            return;
        }
        self.successes.store(0, Ordering::Relaxed);
        let grown = self
            .limit
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
                (l < self.max).then_some(l + 1)
            })
            .is_ok();
        if !grown {
            return;
        }
        // Growing first cancels what a decrease still owes.
        let cancelled = self
            .debt
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1))
            .is_ok();
        if !cancelled {
            self.semaphore.add_permits(1);
        }
    }

    /// The ceiling now.
    pub(crate) fn current(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// How many times the ceiling was halved.
    pub(crate) fn decreases(&self) -> usize {
        self.decreases.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_throttle_halves_the_ceiling_and_successes_take_it_back() {
        let limit = AppLimit::new(16);
        let held: Vec<AppPermit> = futures::future::join_all((0..16).map(|_| limit.enter())).await;
        limit.throttled("a@example.org", Duration::ZERO);
        assert_eq!(limit.current(), 8);
        // A second 429 from a request already in flight does not halve again.
        limit.throttled("a@example.org", Duration::ZERO);
        assert_eq!(limit.current(), 8);
        drop(held);
        // Half of the places given back were forgotten: only 8 may be in flight now.
        assert_eq!(limit.semaphore.available_permits(), 8);
        // One place back per run of successes as long as the ceiling (8, 9, …, 15).
        for _ in 0..(8..16).sum::<usize>() {
            limit.succeeded();
        }
        assert_eq!(limit.current(), 16);
        assert_eq!(limit.semaphore.available_permits(), 16);
    }

    #[tokio::test]
    async fn the_decrease_halves_what_is_in_flight_not_an_unreached_ceiling() {
        let limit = AppLimit::new(20_000);
        let held: Vec<AppPermit> = futures::future::join_all((0..100).map(|_| limit.enter())).await;
        limit.throttled("a@example.org", Duration::ZERO);
        assert_eq!(limit.current(), 50);
        drop(held);
        assert_eq!(limit.semaphore.available_permits(), 50);
    }

    #[tokio::test]
    async fn two_mailboxes_throttled_at_once_hold_every_request() {
        let limit = AppLimit::new(16);
        limit.throttled("a@example.org", Duration::from_millis(300));
        assert!(
            limit.held_until().is_none(),
            "one mailbox is the mailbox's own limit"
        );
        limit.throttled("b@example.org", Duration::from_millis(300));
        let started = Instant::now();
        drop(limit.enter().await);
        assert!(started.elapsed() >= Duration::from_millis(290));
    }

    #[tokio::test]
    async fn the_ceiling_never_falls_below_the_floor() {
        let limit = AppLimit::new(8);
        for _ in 0..10 {
            *limit.last_decrease.lock().unwrap() = None;
            limit.throttled("a@example.org", Duration::ZERO);
        }
        assert_eq!(limit.current(), FLOOR);
        assert_eq!(limit.semaphore.available_permits(), FLOOR);
    }
}
