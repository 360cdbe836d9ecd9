//! The app-wide ceiling on requests in flight, across every mailbox, with AIMD back-off on
//! evidence that the app (not one mailbox) is throttled.
//!
//! Graph docs, concepts/throttling-limits.md, "Outlook service limits": the limits "are
//! evaluated for each app ID and mailbox combination … If an application exceeds the limit in
//! one mailbox, it does not affect the ability to access another mailbox" (10,000 requests per
//! 10 minutes, 4 concurrent, 150 MB upload per 5 minutes). So a 429 from one mailbox is that
//! mailbox's: the client holds that mailbox for its Retry-After (concepts/throttling.md,
//! "Best practices to handle throttling") and leaves the ceiling alone.
//!
//! The same page: "Any request can be evaluated against multiple limits … per app across all
//! tenants, per tenant for all apps" (the global one is 130,000 requests per 10 seconds per app),
//! answered by the same 429 `TooManyRequests`. Such a limit is taken to be reached when
//! - a 429 states its scope as the app's or the tenant's (`x-ms-throttle-scope`
//!   `Application/…`, `Tenant/…` or `Tenant_Application/…`, documented on the same page under
//!   "Identity and access service limits"), or
//! - within one [`EVIDENCE_WINDOW`], at least [`SEVERAL`] distinct mailboxes got such a 429 and
//!   429s are at least a [`SHARE`]th of the requests exposed to the window (in flight when it
//!   opened or sent since): an app-wide limit refuses nearly everything, whereas mailboxes'
//!   own 429s, however many mailboxes a run spreads them over, are a small share. (Not a
//!   share of answers: a 429 comes back at once, the answers to the requests beside it only
//!   after Graph's latency.)
//!
//! On that evidence the ceiling halves what is in flight (multiplicative decrease, at most once
//! per [`CALM`]) and every request waits out the Retry-After; a run of successes as long as the
//! ceiling takes back one request (additive increase) up to the configured ceiling.

use std::collections::HashSet;
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
/// How long 429s are gathered as evidence of an app-wide limit.
const EVIDENCE_WINDOW: Duration = Duration::from_secs(1);
/// Distinct mailboxes throttled within the window that an app-wide limit needs.
const SEVERAL: usize = 3;
/// At least one request in this many exposed to the window is a 429 under an app-wide limit.
const SHARE: usize = 4;

/// Whether an `x-ms-throttle-scope` value (`<Scope>/<Limit>/<ApplicationId>/<TenantId|…>`,
/// concepts/throttling-limits.md) names a scope wider than one mailbox.
pub(crate) fn app_wide_scope(header: Option<&str>) -> bool {
    header
        .and_then(|h| h.split('/').next())
        .is_some_and(|scope| {
            ["Application", "Tenant", "Tenant_Application"]
                .iter()
                .any(|s| scope.trim().eq_ignore_ascii_case(s))
        })
}

/// 429s gathered since the window opened (at the first 429 after the last window ended).
#[derive(Debug)]
struct Evidence {
    opened: Instant,
    /// Requests in flight when the window opened.
    in_flight_at_open: usize,
    /// `AppLimit::sent` when the window opened.
    sent_at_open: usize,
    throttled: usize,
    mailboxes: HashSet<String>,
}

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
    /// Requests (`$batch` items one by one) sent so far, and in flight now.
    sent: AtomicUsize,
    in_flight: AtomicUsize,
    evidence: Mutex<Option<Evidence>>,
    /// No request is sent before this instant (an app-wide Retry-After).
    not_before: Mutex<Option<Instant>>,
}

/// One request in flight; dropping it gives its place back (or pays the debt of a decrease).
pub(crate) struct AppPermit {
    permit: Option<OwnedSemaphorePermit>,
    limit: Arc<AppLimit>,
    /// Graph requests it carries (a `$batch` envelope's items).
    requests: usize,
}

impl Drop for AppPermit {
    fn drop(&mut self) {
        self.limit
            .in_flight
            .fetch_sub(self.requests, Ordering::Relaxed);
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
            sent: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            evidence: Mutex::new(None),
            not_before: Mutex::new(None),
        })
    }

    /// Waits for a place among the requests in flight, then for an app-wide hold to pass.
    pub(crate) async fn enter(self: &Arc<Self>) -> AppPermit {
        self.enter_with(1).await
    }

    /// As [`AppLimit::enter`], for one HTTP request carrying `requests` Graph requests (a
    /// `$batch` envelope's items, which Graph throttles one by one).
    pub(crate) async fn enter_with(self: &Arc<Self>, requests: usize) -> AppPermit {
        // Never closed, so acquiring cannot fail; without a permit the request still goes.
        let permit = Arc::clone(&self.semaphore).acquire_owned().await.ok();
        while let Some(until) = self.held_until() {
            tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
        }
        self.sent.fetch_add(requests, Ordering::Relaxed);
        self.in_flight.fetch_add(requests, Ordering::Relaxed);
        AppPermit {
            permit,
            limit: Arc::clone(self),
            requests,
        }
    }

    fn held_until(&self) -> Option<Instant> {
        let held = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        held.filter(|t| *t > Instant::now())
    }

    /// A 429 for `mailbox` that is not its concurrency limit, with the wait Graph asked for;
    /// `app_scope`: the response stated an app or tenant scope ([`app_wide_scope`]). Lowers the
    /// ceiling and holds every request only on evidence that the limit is the app's; otherwise
    /// the mailbox's own hold is all that happens.
    pub(crate) fn throttled(&self, mailbox: &str, wait: Duration, app_scope: bool) {
        let now = Instant::now();
        if !self.app_wide(mailbox, now) && !app_scope {
            return;
        }
        if let Some(until) = now.checked_add(wait) {
            let mut held = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
            if held.is_none_or(|t| t < until) {
                *held = Some(until);
            }
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

    /// Adds this 429 to the evidence window and says whether the window now shows an
    /// app-wide limit.
    fn app_wide(&self, mailbox: &str, now: Instant) -> bool {
        let sent = self.sent.load(Ordering::Relaxed);
        let mut evidence = self.evidence.lock().unwrap_or_else(|e| e.into_inner());
        let window = match evidence.as_mut() {
            Some(w) if now.duration_since(w.opened) < EVIDENCE_WINDOW => w,
            _ => evidence.insert(Evidence {
                opened: now,
                // This 429's own request has already left the count.
                in_flight_at_open: self.in_flight.load(Ordering::Relaxed) + 1,
                sent_at_open: sent,
                throttled: 0,
                mailboxes: HashSet::new(),
            }),
        };
        window.throttled += 1;
        if window.mailboxes.len() < SEVERAL {
            window.mailboxes.insert(mailbox.to_string());
        }
        let exposed = window.in_flight_at_open + sent.saturating_sub(window.sent_at_open);
        window.mailboxes.len() >= SEVERAL && window.throttled * SHARE >= exposed
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

    /// 429s from 30 distinct mailboxes, as an app-wide limit refuses every request in flight.
    fn throttle_several(limit: &AppLimit, wait: Duration) {
        for m in 0..30 {
            limit.throttled(&format!("m{m}@example.org"), wait, false);
        }
    }

    /// concepts/throttling-limits.md, "Outlook service limits": exceeding the limit in one
    /// mailbox "does not affect the ability to access another mailbox".
    #[tokio::test]
    async fn one_mailboxs_429s_leave_the_ceiling_and_other_mailboxes_alone() {
        let limit = AppLimit::new(16);
        let _held: Vec<AppPermit> = futures::future::join_all((0..16).map(|_| limit.enter())).await;
        for _ in 0..10 {
            limit.throttled("a@example.org", Duration::from_secs(5), false);
        }
        assert_eq!(limit.current(), 16);
        assert_eq!(limit.decreases(), 0);
        assert!(limit.held_until().is_none());
    }

    #[tokio::test]
    async fn scattered_429s_among_many_successes_are_not_an_app_wide_limit() {
        let limit = AppLimit::new(1_000);
        let _held: Vec<AppPermit> =
            futures::future::join_all((0..500).map(|_| limit.enter())).await;
        // 2 % of answers are 429s, each from another mailbox (as random per-mailbox 429s).
        for i in 0..500 {
            if i % 50 == 0 {
                limit.throttled(&format!("m{i}@example.org"), Duration::from_secs(1), false);
            } else {
                limit.succeeded();
            }
        }
        assert_eq!(limit.current(), 1_000);
        assert!(limit.held_until().is_none());
    }

    #[tokio::test]
    async fn several_mailboxes_throttled_at_once_halve_the_ceiling_and_successes_take_it_back() {
        let limit = AppLimit::new(16);
        let held: Vec<AppPermit> = futures::future::join_all((0..16).map(|_| limit.enter())).await;
        throttle_several(&limit, Duration::ZERO);
        assert_eq!(limit.current(), 8);
        // More 429s from requests already in flight do not halve again.
        throttle_several(&limit, Duration::ZERO);
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
        throttle_several(&limit, Duration::ZERO);
        assert_eq!(limit.current(), 50);
        drop(held);
        assert_eq!(limit.semaphore.available_permits(), 50);
    }

    #[tokio::test]
    async fn an_app_wide_limit_holds_every_request_for_its_retry_after() {
        let limit = AppLimit::new(16);
        limit.throttled("a@example.org", Duration::from_millis(300), false);
        limit.throttled("b@example.org", Duration::from_millis(300), false);
        assert!(
            limit.held_until().is_none(),
            "two mailboxes are not yet several"
        );
        limit.throttled("c@example.org", Duration::from_millis(300), false);
        let started = Instant::now();
        drop(limit.enter().await);
        assert!(started.elapsed() >= Duration::from_millis(290));
    }

    /// concepts/throttling-limits.md, "Identity and access service limits": a throttled
    /// response's `x-ms-throttle-scope` is `<Scope>/<Limit>/<ApplicationId>/<TenantId|…>`, the
    /// scope `Tenant_Application`, `Tenant` or `Application`.
    #[tokio::test]
    async fn a_429_that_states_an_app_or_tenant_scope_is_app_wide_at_once() {
        for scope in [
            "Tenant_Application/ReadWrite/9a3d526c-b3c1-4479-ba74-197b5c5751ae/0785ef7c",
            "Tenant/Read/9a3d526c/0785ef7c",
            "Application/Write/9a3d526c/0785ef7c",
        ] {
            assert!(app_wide_scope(Some(scope)), "{scope}");
        }
        assert!(!app_wide_scope(None));
        assert!(!app_wide_scope(Some("User/Read/9a3d526c/0785ef7c")));
        let limit = AppLimit::new(16);
        let _held: Vec<AppPermit> = futures::future::join_all((0..16).map(|_| limit.enter())).await;
        limit.throttled("a@example.org", Duration::ZERO, true);
        assert_eq!(limit.current(), 8);
    }

    #[tokio::test]
    async fn the_ceiling_never_falls_below_the_floor() {
        let limit = AppLimit::new(8);
        for _ in 0..10 {
            *limit.last_decrease.lock().unwrap() = None;
            throttle_several(&limit, Duration::ZERO);
        }
        assert_eq!(limit.current(), FLOOR);
        assert_eq!(limit.semaphore.available_permits(), FLOOR);
    }
}
