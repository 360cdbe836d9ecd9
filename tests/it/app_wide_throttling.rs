//! Whose limit a 429 is: one mailbox's 429 stays that mailbox's (its own hold, for its
//! Retry-After), and only evidence of an app-wide limit lowers the client's ceiling on requests
//! in flight. Against the simulated Graph over real HTTP, the Graph client sending every
//! request of a run at once.
//!
//! Graph docs: concepts/throttling-limits.md, "Outlook service limits" — evaluated "for each app
//! ID and mailbox combination … If an application exceeds the limit in one mailbox, it does not
//! affect the ability to access another mailbox" (four concurrent requests per mailbox); and
//! "Any request can be evaluated against multiple limits … per app across all tenants"
//! (130,000 requests per 10 seconds). concepts/throttling.md, "Best practices to handle
//! throttling": wait the Retry-After before retrying.

use std::time::Duration;

use calsync::graph::{Credentials, GraphClient};
use calsync::sim::{AppLimit, Latency, SimConfig, SimServer, SimStats};

use crate::sync::{CLIENT_ID, SECRET, TENANT, graph_config, sim_config};

/// `per_mailbox` lookups in each of `mailboxes` mailboxes, all handed to the client at once.
/// Returns how many succeeded, the simulator's counters and the client's ceiling.
async fn look_up_everywhere(
    sim: SimConfig,
    mailboxes: usize,
    per_mailbox: usize,
) -> (usize, SimStats, (usize, usize)) {
    let sim = SimServer::start(sim)
        .await
        .expect("start the simulated Graph");
    let graph = GraphClient::new(graph_config(&sim)).expect("graph client");
    let creds = Credentials::new(TENANT, CLIENT_ID, SECRET);
    let lookups = (0..mailboxes).flat_map(|m| {
        let (graph, creds) = (graph.clone(), creds.clone());
        (0..per_mailbox).map(move |_| {
            let (graph, creds) = (graph.clone(), creds.clone());
            async move {
                graph
                    .get_event(&creds, &format!("person{m}@example.org"), "AAMkAGone=")
                    .await
            }
        })
    });
    let results = futures::future::join_all(lookups).await;
    let ok = results.iter().filter(|r| matches!(r, Ok(None))).count();
    (ok, sim.state().stats(), graph.app_ceiling())
}

#[tokio::test]
async fn random_429s_spread_over_many_mailboxes_keep_every_mailbox_at_four_in_flight() {
    // 3 % of requests fail at random (a third each 429, 503, 504), each in one mailbox.
    let sim = SimConfig {
        latency: Latency::fixed(Duration::from_millis(100)),
        fault_rate: 0.03,
        seed: 7,
        ..sim_config()
    };
    let (ok, stats, (ceiling, decreases)) = look_up_everywhere(sim, 100, 40).await;
    assert_eq!(ok, 4_000, "{stats:?}");
    let random_429s = stats.total_throttled();
    assert!(
        random_429s >= 10,
        "too few 429s to mean anything: {random_429s}"
    );
    assert_eq!(decreases, 0, "a mailbox's 429 lowered the app-wide ceiling");
    assert_eq!(ceiling, calsync::graph::APP_IN_FLIGHT_CEILING);
    // 100 mailboxes with work at 4 each: 400 in flight at best. Before, the ceiling halved on
    // these 429s and held the run near 16.
    assert!(stats.peak_in_flight >= 300, "peak {}", stats.peak_in_flight);
    let mean = stats.mean_in_flight(None);
    assert!(
        mean >= 100.0,
        "mean in flight {mean:.1}, peak {}",
        stats.peak_in_flight
    );
    assert!(stats.peak_concurrency() <= 4);
}

#[tokio::test]
async fn graphs_app_wide_limit_lowers_the_ceiling_and_is_not_exceeded_persistently() {
    // Graph's 130,000 per 10 s scaled down: 100 requests per 250 ms for 1,000 lookups that
    // would otherwise take 100 ms.
    let sim = SimConfig {
        latency: Latency::fixed(Duration::from_millis(40)),
        app_limit: Some(AppLimit {
            requests: 100,
            window: Duration::from_millis(250),
        }),
        ..sim_config()
    };
    let (ok, stats, (ceiling, decreases)) = look_up_everywhere(sim, 50, 20).await;
    assert_eq!(ok, 1_000, "{stats:?}");
    assert!(
        stats.app_throttled > 0,
        "the app-wide limit was never reached"
    );
    assert!(decreases >= 1, "the ceiling was never lowered");
    assert!(ceiling < calsync::graph::APP_IN_FLIGHT_CEILING);
    // Over the budget the client waits out the Retry-After instead of pressing on: fewer
    // requests are refused than admitted.
    assert!(
        stats.app_throttled < 1_000,
        "{} refused for 1,000 admitted",
        stats.app_throttled
    );
    assert!(stats.peak_concurrency() <= 4);
}
