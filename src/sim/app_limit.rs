//! Graph's limit per app across every mailbox: at most `requests` per `window`.
//!
//! Graph docs: concepts/throttling-limits.md — "Any request can be evaluated against multiple
//! limits … The first limit to be reached triggers throttling behavior"; the global limit is
//! 130,000 requests per 10 seconds per app across all tenants. Over it, the documented 429
//! (concepts/throttling.md, "Sample response": `TooManyRequests`, "Please retry again later.",
//! `Retry-After`). Modelled as fixed windows: the first request opens one, and a request over
//! the budget waits (per Retry-After) until the window ends. Batch items count one by one
//! ("Requests in a batch are evaluated individually against the applicable throttling limits").

use std::time::{Duration, Instant};

/// The budget: `requests` per `window`, per app (the simulator serves one app's view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppLimit {
    pub requests: u64,
    pub window: Duration,
}

impl AppLimit {
    /// Graph's documented global limit.
    pub const GRAPH: AppLimit = AppLimit {
        requests: 130_000,
        window: Duration::from_secs(10),
    };
}

/// The current window and what it has admitted.
#[derive(Debug, Default)]
pub(crate) struct AppWindow {
    opened: Option<Instant>,
    admitted: u64,
}

impl AppWindow {
    /// Admits one request, or says how long until the budget is renewed.
    pub(crate) fn admit(&mut self, limit: AppLimit, now: Instant) -> Result<(), Duration> {
        let opened = match self.opened {
            Some(t) if now.duration_since(t) < limit.window => t,
            _ => {
                self.opened = Some(now);
                self.admitted = 0;
                now
            }
        };
        if self.admitted < limit.requests {
            self.admitted += 1;
            Ok(())
        } else {
            Err((opened + limit.window).saturating_duration_since(now))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_renewed_when_the_window_ends() {
        let limit = AppLimit {
            requests: 2,
            window: Duration::from_secs(1),
        };
        let mut window = AppWindow::default();
        let t0 = Instant::now();
        assert_eq!(window.admit(limit, t0), Ok(()));
        assert_eq!(window.admit(limit, t0), Ok(()));
        let later = t0 + Duration::from_millis(300);
        assert_eq!(window.admit(limit, later), Err(Duration::from_millis(700)));
        assert_eq!(window.admit(limit, t0 + Duration::from_secs(1)), Ok(()));
    }
}
