//! What reached the simulator, request by request: enough for a test to tell which connection
//! a request came on, what it called itself and which path it used. Bodies and headers that
//! carry secrets are not kept.

use std::net::SocketAddr;

use super::state::{Inner, SimState};

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

pub(crate) fn record(inner: &mut Inner, request: WireRequest) {
    if inner.wire.len() >= KEPT {
        inner.wire.pop_front();
    }
    inner.wire.push_back(request);
}

impl SimState {
    /// The requests that reached the simulator, oldest first (the last 10,000).
    pub fn wire_log(&self) -> Vec<WireRequest> {
        self.shared.lock().wire.iter().cloned().collect()
    }
}
