//! Retry-After parsing, backoff, and the per-mailbox gate (a "not before" instant plus a
//! concurrency semaphore): Graph throttles per app and mailbox, so a Retry-After for a
//! mailbox holds back every request to it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ids;

/// Longest Retry-After taken literally; anything longer is cut to this (it exceeds any
/// sane `max_retry_wait` anyway) so instant arithmetic can never overflow.
pub const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 3600);

/// Parses `Retry-After` as seconds (`30`, `2.128`) or an HTTP-date (relative to `now`).
/// A date in the past means "now"; garbage means `None`; at most a day.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    let wait = if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = v.parse().ok()?;
        Duration::try_from_secs_f64(secs.min(RETRY_AFTER_CEILING.as_secs_f64())).ok()?
    } else {
        let target = SystemTime::from(parse_http_date(v)?);
        target.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(RETRY_AFTER_CEILING))
}

/// IMF-fixdate (via RFC 2822), RFC 850 and asctime forms.
fn parse_http_date(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc2822(v) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(v, fmt) {
            return Some(naive.and_utc());
        }
    }
    None
}

/// Exponential backoff with jitter: attempt 1 waits about `base`, then doubling, each
/// value drawn from [half, full] and never above `cap`.
pub(crate) fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let full = exp.min(cap);
    let jitter = 0.5 + ids::random_unit() * 0.5;
    full.mul_f64(jitter)
}

/// Successes in a row after which a mailbox gets back one slot it gave up.
const SUCCESSES_TO_GROW: usize = 20;

/// Per-mailbox state shared by every request to that mailbox from this client.
#[derive(Debug)]
pub(crate) struct MailboxGate {
    semaphore: Arc<Semaphore>,
    not_before: Mutex<Option<Instant>>,
    /// Slots this mailbox has now: Graph's 4, fewer while something else (another process
    /// with the same app, the LMS itself) uses part of the mailbox's concurrency.
    limit: AtomicUsize,
    max: usize,
    successes: AtomicUsize,
    /// Slots given up while every one was taken: the next slot returned is forgotten instead,
    /// so a shrink holds however busy the mailbox is.
    owed: Arc<AtomicUsize>,
}

/// Slots of one mailbox taken by a request in flight; returned when dropped, unless the
/// mailbox gave up a slot meanwhile and is owed it.
#[derive(Debug)]
pub(crate) struct Slots {
    permit: Option<OwnedSemaphorePermit>,
    owed: Arc<AtomicUsize>,
}

impl Drop for Slots {
    fn drop(&mut self) {
        let Some(mut permit) = self.permit.take() else {
            return;
        };
        let held = permit.num_permits();
        let paid = take_up_to(&self.owed, held);
        match permit.split(paid) {
            Some(forgotten) => forgotten.forget(),
            None => drop(permit),
        }
    }
}

/// Takes up to `n` from `counter`; returns how much it took.
fn take_up_to(counter: &AtomicUsize, n: usize) -> usize {
    let mut taken = 0;
    let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |owed| {
        taken = owed.min(n);
        Some(owed - taken)
    });
    taken
}

impl MailboxGate {
    fn new(limit: usize) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(limit)),
            not_before: Mutex::new(None),
            limit: AtomicUsize::new(limit),
            max: limit,
            successes: AtomicUsize::new(0),
            owed: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A MailboxConcurrency 429: give up one slot (never the last), so the waiting requests
    /// stop racing each other into the same limit after every Retry-After. A free slot goes at
    /// once; when all are taken (or handed straight to a waiting request), the next returned.
    pub(crate) fn shrink(&self) {
        self.successes.store(0, Ordering::Relaxed);
        let shrunk = self
            .limit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |limit| {
                (limit > 1).then(|| limit - 1)
            });
        if shrunk.is_ok() && self.semaphore.forget_permits(1) == 0 {
            self.owed.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// A success: after a run of them, take back one slot given up earlier.
    pub(crate) fn succeeded(&self) {
        if self.limit.load(Ordering::Relaxed) >= self.max {
            return;
        }
        if self.successes.fetch_add(1, Ordering::Relaxed) + 1 >= SUCCESSES_TO_GROW {
            self.successes.store(0, Ordering::Relaxed);
            self.limit.fetch_add(1, Ordering::AcqRel);
            // A slot still owed is simply not taken; otherwise one comes back.
            if take_up_to(&self.owed, 1) == 0 {
                self.semaphore.add_permits(1);
            }
        }
    }

    /// Holds back every request to this mailbox for `wait` (never shortens a hold).
    pub(crate) fn hold_for(&self, wait: Duration) {
        let Some(until) = Instant::now().checked_add(wait.min(RETRY_AFTER_CEILING)) else {
            return;
        };
        let mut nb = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        if nb.is_none_or(|t| t < until) {
            *nb = Some(until);
        }
    }

    /// When the mailbox may next be addressed, if that is in the future.
    pub(crate) fn blocked_until(&self) -> Option<Instant> {
        let nb = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        nb.filter(|t| *t > Instant::now())
    }

    /// Waits for the hold to pass and for `n` of the mailbox's slots. The hold is checked
    /// again after the slots are granted, since a 429 may have arrived meanwhile.
    pub(crate) async fn enter(&self, n: u32) -> Slots {
        loop {
            while let Some(t) = self.blocked_until() {
                tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await;
            }
            // The semaphore is never closed, so acquiring cannot fail; if it somehow
            // did, waiting a moment and trying again is the safe reaction.
            let Ok(permit) = Arc::clone(&self.semaphore).acquire_many_owned(n).await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let slots = self.slots_of(permit);
            if self.blocked_until().is_none() {
                return slots;
            }
        }
    }

    /// Takes `n` slots without waiting for a hold (the caller has checked it). Never asks for
    /// more than the mailbox has now, or a shrink in between would make it wait forever.
    pub(crate) async fn slots(&self, n: u32) -> Option<Slots> {
        let n = n.min(self.limit() as u32).max(1);
        let permit = Arc::clone(&self.semaphore)
            .acquire_many_owned(n)
            .await
            .ok()?;
        Some(self.slots_of(permit))
    }

    fn slots_of(&self, permit: OwnedSemaphorePermit) -> Slots {
        Slots {
            permit: Some(permit),
            owed: Arc::clone(&self.owed),
        }
    }

    /// The slots this mailbox has now.
    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    fn idle(&self) -> bool {
        self.semaphore.available_permits()
            == self.limit.load(Ordering::Relaxed) + self.owed.load(Ordering::Acquire)
            && self.blocked_until().is_none()
    }
}

/// All mailbox gates of one client, keyed by lowercased address.
#[derive(Debug)]
pub(crate) struct Gates {
    limit: usize,
    map: Mutex<HashMap<String, Arc<MailboxGate>>>,
}

impl Gates {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn get(&self, mailbox: &str) -> Arc<MailboxGate> {
        let key = mailbox.to_lowercase();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 4096 && !map.contains_key(&key) {
            // Forget idle mailboxes so a run over many users does not grow this forever.
            map.retain(|_, g| Arc::strong_count(g) > 1 || !g.idle());
        }
        Arc::clone(
            map.entry(key)
                .or_insert_with(|| Arc::new(MailboxGate::new(self.limit))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_retry_after_form() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("2.128", now),
            Some(Duration::from_millis(2128))
        );
        let in_ten = DateTime::<Utc>::from(now + Duration::from_secs(10));
        let header = in_ten.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let parsed = parse_retry_after(&header, now).expect("date");
        assert!(parsed <= Duration::from_secs(10) && parsed >= Duration::from_secs(9));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999", now),
            Some(RETRY_AFTER_CEILING)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1e999", now), None);
    }

    #[tokio::test]
    async fn a_shrink_while_every_slot_is_taken_and_more_wait_still_takes_effect() {
        let gate = Arc::new(MailboxGate::new(4));
        let held: Vec<Slots> = futures::future::join_all((0..4).map(|_| gate.enter(1))).await;
        let waiting = tokio::spawn({
            let gate = Arc::clone(&gate);
            async move { gate.enter(1).await }
        });
        tokio::task::yield_now().await;
        for _ in 0..3 {
            gate.shrink();
        }
        assert_eq!(gate.limit(), 1);
        let mut held = held.into_iter();
        // Three of the four returned slots are forgotten: the waiting request is still waiting.
        for slots in held.by_ref().take(3) {
            drop(slots);
        }
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a forgotten slot was handed on");
        drop(held);
        let last = waiting.await.unwrap();
        assert_eq!(gate.semaphore.available_permits(), 0);
        drop(last);
        assert_eq!(gate.semaphore.available_permits(), 1);
        assert!(gate.idle());
    }

    #[test]
    fn a_shrink_never_gives_up_the_last_slot_and_successes_win_slots_back() {
        let gate = MailboxGate::new(2);
        gate.shrink();
        gate.shrink();
        assert_eq!((gate.limit(), gate.semaphore.available_permits()), (1, 1));
        for _ in 0..SUCCESSES_TO_GROW {
            gate.succeeded();
        }
        assert_eq!((gate.limit(), gate.semaphore.available_permits()), (2, 2));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(1);
        let first = backoff(base, 1, cap);
        assert!(first >= Duration::from_millis(50) && first <= base);
        let big = backoff(base, 30, cap);
        assert!(big <= cap && big >= cap / 2);
    }
}
