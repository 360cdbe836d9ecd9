//! The simulated tenant a `bench sync` run talks to: the run's parameters, the Graph client for
//! the simulator, and the check that a run created exactly one event per selection.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value as Json;

use crate::commands::CliError;
use crate::graph::{GraphClient, GraphConfig, MAILBOX_CONCURRENCY};
use crate::sim::SimHandle;

/// The run's parameters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spec {
    pub(super) selections: u32,
    pub(super) mailboxes: u32,
    pub(super) latency: Duration,
    pub(super) concurrency: usize,
    pub(super) runs: u32,
}

impl Spec {
    /// Selections are dealt round-robin, so no mailbox holds more than this many.
    pub(super) fn most_per_mailbox(&self) -> u32 {
        self.selections.div_ceil(self.mailboxes)
    }

    /// Rounds of 4 concurrent requests the fullest mailbox needs.
    pub(super) fn waves(&self) -> u32 {
        self.most_per_mailbox().div_ceil(MAILBOX_CONCURRENCY as u32)
    }

    /// One token round trip, then the fullest mailbox's waves, each one round trip long.
    pub(super) fn floor(&self) -> Duration {
        self.latency * (1 + self.waves())
    }
}

/// What the simulator shows after one run, with what the client recorded.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Counts {
    pub(super) token_requests: u64,
    /// Graph calls as Graph counts them against its limits (a `$batch` item is one).
    pub(super) graph_calls: u64,
    /// HTTP requests to Graph (a `$batch` envelope is one).
    pub(super) graph_http_requests: u64,
    pub(super) events_created: u64,
    /// Events stored beyond one per selection.
    pub(super) duplicates: u64,
    /// Rows (or, without a database, responses) that name their event.
    pub(super) recorded: u64,
    pub(super) throttled: u64,
    /// Over TLS (`--tls`): connections accepted, and those that chose HTTP/2 by ALPN.
    pub(super) tls_connections: u64,
    pub(super) http2_connections: u64,
}

pub(super) fn graph_client(sim: &SimHandle) -> Result<GraphClient, CliError> {
    GraphClient::new(GraphConfig {
        graph_url: sim.graph_url(),
        login_url: sim.login_url(),
        ca_file: sim.certificate_file().map(std::path::Path::to_path_buf),
        ..GraphConfig::default()
    })
    .map_err(|e| CliError::failed(format!("cannot set up the Graph client: {e}")))
}

/// The simulator's counters and mailboxes against what the client recorded: exactly `n` events,
/// each recorded once, against the mailbox it is in.
pub(super) fn observe(
    sim: &SimHandle,
    mode: &str,
    n: u32,
    recorded: Vec<(String, String)>,
    problems: &mut Vec<String>,
) -> Counts {
    let state = sim.state();
    let stats = state.stats();
    let mut stored = BTreeSet::new();
    for mailbox in stats.mailboxes.keys() {
        for event in state.events(mailbox) {
            if let Some(id) = event.get("id").and_then(Json::as_str) {
                stored.insert((mailbox.clone(), id.to_string()));
            }
        }
    }
    let n = u64::from(n);
    let created: u64 = stats.mailboxes.values().map(|m| m.events_created).sum();
    let recorded_count = recorded.len() as u64;
    // Rows hold REST ids (the LMS's format), the mailboxes are listed by immutable id.
    let recorded: BTreeSet<(String, String)> = recorded
        .into_iter()
        .map(|(mailbox, id)| {
            let mailbox = mailbox.to_lowercase();
            let id = state.immutable_id_of(&mailbox, &id).unwrap_or(id);
            (mailbox, id)
        })
        .collect();
    if created != n || stored.len() as u64 != n {
        problems.push(format!(
            "{mode}: {created} events created and {} stored, not {n}",
            stored.len()
        ));
    }
    if recorded_count != n || recorded.len() as u64 != n {
        problems.push(format!(
            "{mode}: {recorded_count} selections name an event ({} distinct), not {n}",
            recorded.len()
        ));
    } else if recorded != stored {
        problems.push(format!(
            "{mode}: the recorded events are not the events in the mailboxes"
        ));
    }
    let calls = stats.total_requests();
    Counts {
        token_requests: stats.token_requests,
        graph_calls: calls,
        // A mode sends either plain requests or only envelopes.
        graph_http_requests: if stats.batches > 0 {
            stats.batches
        } else {
            calls
        },
        events_created: created,
        duplicates: (stored.len() as u64).saturating_sub(n),
        recorded: recorded_count,
        throttled: stats.total_throttled(),
        tls_connections: state.connections().handshakes,
        http2_connections: state.connections().http2,
    }
}
