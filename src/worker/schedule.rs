//! When a failed selection is tried again: exponential backoff with jitter per selection, a cap
//! on attempts, and parking (Sidekiq's dead set) for failures no retry can fix.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::Cause;
use crate::domain::worker::{Dependencies, RetryEntry};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; each further failure doubles it.
    pub first_wait: Duration,
    /// No wait is longer than this.
    pub longest_wait: Duration,
    /// After this many failed attempts a transient failure is parked too.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_wait: Duration::from_secs(30),
            longest_wait: Duration::from_secs(6 * 3600),
            max_attempts: 10,
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failures, before jitter.
    pub fn base_wait(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first_wait
            .saturating_mul(1 << doublings)
            .min(self.longest_wait)
    }

    /// The wait after `attempts` failures: the base wait scaled by a factor in [0.75, 1.25)
    /// (`jitter` in [0, 1)), so selections that failed together do not return together.
    pub fn wait(&self, attempts: u32, jitter: f64) -> Duration {
        self.base_wait(attempts)
            .mul_f64(0.75 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// The schedule entry after a failed attempt with `error`, whose kind is `cause`.
    /// `previous` is the entry before it (None: the first failure the worker sees);
    /// `depends_on` what a parked failure depends on.
    pub fn after_failure(
        &self,
        previous: Option<&RetryEntry>,
        selection_id: i64,
        (error, cause): (&str, Cause),
        depends_on: Option<Dependencies>,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> RetryEntry {
        let attempts = previous.map_or(0, |p| p.attempts).saturating_add(1);
        let park = cause.is_permanent() || attempts >= self.max_attempts;
        let next_attempt_at = (!park).then(|| {
            now + chrono::Duration::from_std(self.wait(attempts, jitter))
                .unwrap_or(chrono::Duration::MAX)
        });
        RetryEntry {
            selection_id,
            cause,
            attempts,
            next_attempt_at,
            parked_at: park.then_some(now),
            last_error: error.to_string(),
            depends_on,
            updated_at: now,
        }
    }
}

impl RetryPolicy {
    /// The entry of a selection the engine leaves alone on purpose (its conference no longer
    /// uses time slots): looked at again later and later, never parked, since no failure is
    /// involved and the LMS may turn time slots back on.
    pub fn after_skip(
        &self,
        previous: Option<&RetryEntry>,
        selection_id: i64,
        reason: &str,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> RetryEntry {
        let attempts = previous.map_or(0, |p| p.attempts).saturating_add(1);
        RetryEntry {
            selection_id,
            cause: crate::domain::Cause::Other,
            attempts,
            next_attempt_at: Some(
                now + chrono::Duration::from_std(self.wait(attempts, jitter))
                    .unwrap_or(chrono::Duration::MAX),
            ),
            parked_at: None,
            last_error: format!("skipped: {reason}"),
            depends_on: None,
            updated_at: now,
        }
    }
}

/// A number in [0, 1) that differs per selection, attempt and process.
pub fn jitter(selection_id: i64, attempts: u32) -> f64 {
    let bits = RandomState::new().hash_one((selection_id, attempts));
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            first_wait: Duration::from_secs(10),
            longest_wait: Duration::from_secs(100),
            max_attempts: 4,
        }
    }

    #[test]
    fn waits_double_after_each_failure_up_to_the_longest() {
        let waits: Vec<u64> = (1..=6).map(|n| policy().base_wait(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 100, 100]);
    }

    #[test]
    fn jitter_spreads_a_wait_by_a_quarter_either_way() {
        let p = policy();
        assert_eq!(p.wait(2, 0.0), Duration::from_secs(15));
        assert_eq!(p.wait(2, 0.5), Duration::from_secs(20));
        assert!(p.wait(2, 0.999_999) < Duration::from_secs(25));
        for id in 0..200 {
            let j = jitter(id, 1);
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    /// A failure text and the cause the LMS's text table reads in it.
    fn failure(text: &str) -> (&str, Cause) {
        (text, crate::domain::diagnosis::cause_of(text))
    }

    #[test]
    fn a_transient_failure_is_scheduled_and_the_cap_parks_it() {
        let now = Utc::now();
        let p = policy();
        let first = p.after_failure(
            None,
            7,
            failure("Graph 503 serviceNotAvailable: try again later"),
            None,
            now,
            0.5,
        );
        assert_eq!(first.cause, Cause::Network);
        assert_eq!(first.attempts, 1);
        assert_eq!(
            first.next_attempt_at,
            Some(now + chrono::Duration::seconds(10))
        );
        assert!(!first.is_parked());
        assert!(!first.is_due(now) && first.is_due(now + chrono::Duration::seconds(10)));
        let mut entry = first;
        for _ in 0..3 {
            entry = p.after_failure(Some(&entry), 7, failure("Graph 503"), None, now, 0.5);
        }
        assert_eq!(entry.attempts, 4);
        assert!(entry.is_parked(), "the fourth failure reaches the cap");
        assert_eq!(entry.next_attempt_at, None);
    }

    #[test]
    fn a_permanent_cause_is_parked_at_once() {
        let now = Utc::now();
        let entry = policy().after_failure(
            None,
            8,
            failure("User email address is required for calendar integration"),
            None,
            now,
            0.1,
        );
        assert!(entry.cause.is_permanent(), "{:?}", entry.cause);
        assert_eq!(entry.parked_at, Some(now));
        assert!(!entry.is_due(now + chrono::Duration::days(365)));
    }
}
