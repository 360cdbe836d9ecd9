//! Retrying a statement within the run when the database was only briefly unavailable: a
//! PostgreSQL session that was terminated (the backend reconnects before the error comes back)
//! or a SQLite lock another program held for longer than the busy timeout. A result that reached
//! Graph must reach the row too, so a sync's writes wait out such a moment instead of dropping
//! the result. Bounded: a database that stays away fails the write, and the run stops.

use std::future::Future;
use std::time::Duration;

use super::StoreError;

/// How often a statement is tried in all.
pub const MAX_ATTEMPTS: u32 = 8;
const FIRST_WAIT: Duration = Duration::from_millis(100);
const LONGEST_WAIT: Duration = Duration::from_secs(3);

/// Runs `work` until it succeeds, fails for a reason that is not transient, or has been tried
/// [`MAX_ATTEMPTS`] times, waiting longer after each transient failure (about 15 s in all, on
/// top of SQLite's busy timeout per attempt).
pub async fn retrying<T, F, Fut>(work: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    retrying_after(FIRST_WAIT, work).await
}

async fn retrying_after<T, F, Fut>(first_wait: Duration, mut work: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut wait = first_wait;
    let mut attempt = 1;
    loop {
        match work().await {
            Err(e) if e.is_transient() && attempt < MAX_ATTEMPTS => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LONGEST_WAIT);
                attempt += 1;
            }
            Err(StoreError::Transient(message)) => {
                return Err(StoreError::Transient(format!(
                    "{message} (still so after {MAX_ATTEMPTS} attempts)"
                )));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_transient_failure_is_tried_again_until_it_passes() {
        let tries = AtomicU32::new(0);
        let result = retrying_after(Duration::from_millis(1), || async {
            if tries.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(StoreError::Transient("locked".into()))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result.ok(), Some(7));
        assert_eq!(tries.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn other_failures_and_lasting_ones_end_it() {
        let tries = AtomicU32::new(0);
        let result: Result<(), _> = retrying_after(Duration::from_millis(1), || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Query("permission denied".into()))
        })
        .await;
        assert!(matches!(result, Err(StoreError::Query(_))));
        assert_eq!(tries.load(Ordering::SeqCst), 1, "not transient: tried once");

        let tries = AtomicU32::new(0);
        let result: Result<(), _> = retrying_after(Duration::from_millis(1), || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Transient("locked".into()))
        })
        .await;
        assert_eq!(tries.load(Ordering::SeqCst), MAX_ATTEMPTS);
        assert!(result.is_err_and(|e| e.to_string().contains("after 8 attempts")));
    }
}
