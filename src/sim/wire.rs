//! What reached the simulator, request by request: enough for a test to tell which connection
//! a request came on, what it called itself and which path it used. Bodies and headers that
//! carry secrets are not kept.

use std::collections::VecDeque;
use std::net::SocketAddr;

/// Requests kept; older ones are forgotten so a long demo does not grow without bound.
const KEPT: usize = 10_000;

/// One request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    pub method: String,
    /// Path and query as sent (still percent-encoded).
    pub target: String,
    /// The client's address: one per TCP connection.
    pub peer: Option<SocketAddr>,
    pub user_agent: Option<String>,
}

/// The latest requests, oldest first (the last 10,000).
#[derive(Debug, Default)]
pub(crate) struct WireLog {
    requests: VecDeque<WireRequest>,
}

impl WireLog {
    pub(crate) fn record(&mut self, request: WireRequest) {
        if self.requests.len() >= KEPT {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
    }

    pub(crate) fn requests(&self) -> Vec<WireRequest> {
        self.requests.iter().cloned().collect()
    }
}
