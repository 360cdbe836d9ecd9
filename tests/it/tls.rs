//! The Graph client over real TLS to the simulated Graph (a certificate generated at its start):
//! HTTP/2 chosen by ALPN so many requests share few connections, HTTP/1.1 when that is all the
//! server offers, and a certificate nobody named refused. Graph serves HTTP/2 on
//! graph.microsoft.com; Microsoft documents no `SETTINGS_MAX_CONCURRENT_STREAMS` for it, so the
//! client plans for 100 per connection, the least RFC 9113 §6.5.2 recommends.

use std::time::Duration;

use calsync::graph::{
    Credentials, ErrorKind, GraphClient, GraphConfig, GraphError, STREAMS_PER_CONNECTION,
};
use calsync::sim::{Connections, Fault, Latency, SimConfig, SimHandle, SimServer, SimTls};
use serde_json::{Value, json};

use crate::sync::{CLIENT_ID, SECRET, TENANT};

async fn start(tls: SimTls, latency: Duration) -> SimHandle {
    SimServer::start(SimConfig {
        tls: Some(tls),
        latency: Latency::fixed(latency),
        ..crate::sync::sim_config()
    })
    .await
    .expect("simulator starts over TLS")
}

/// A client that trusts exactly the platform's roots plus `sim`'s certificate.
fn client(sim: &SimHandle) -> GraphClient {
    GraphClient::new(GraphConfig {
        graph_url: sim.graph_url(),
        login_url: sim.login_url(),
        timeout: Duration::from_secs(20),
        backoff_base: Duration::from_millis(20),
        ca_file: sim.certificate_file().map(std::path::Path::to_path_buf),
        ..GraphConfig::default()
    })
    .expect("client builds")
}

fn creds() -> Credentials {
    Credentials::new(TENANT, CLIENT_ID, SECRET)
}

fn event(subject: &str) -> Value {
    json!({
        "subject": subject,
        "start": {"dateTime": "2026-03-02T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-02T11:00:00", "timeZone": "UTC"},
        "transactionId": format!("calsync-tls-{subject}"),
    })
}

/// `n` reads of one event in each of `n / 4` mailboxes (4 at a time each, Graph's limit), all
/// started at once; the connections they opened.
async fn concurrent_reads(sim: &SimHandle, graph: &GraphClient, n: usize) -> Connections {
    let mailboxes: Vec<String> = (0..n / 4).map(|i| format!("u{i}@contoso.com")).collect();
    let creds = creds();
    let created = futures::future::join_all(mailboxes.iter().map(|m| {
        let creds = &creds;
        async move { graph.create_event(creds, m, &event(m)).await }
    }))
    .await;
    let ids: Vec<(String, String)> = mailboxes
        .iter()
        .zip(created)
        .map(|(m, c)| (m.clone(), c.expect("create").id))
        .collect();
    let before = sim.connections();
    let reads = futures::future::join_all(
        ids.iter()
            .cycle()
            .take(n)
            .map(|(m, id)| graph.get_event(&creds, m, id)),
    )
    .await;
    for read in reads {
        assert!(read.expect("read").is_some(), "every event is found");
    }
    let after = sim.connections();
    Connections {
        accepted: after.accepted - before.accepted,
        handshakes: after.handshakes - before.handshakes,
        failed_handshakes: after.failed_handshakes - before.failed_handshakes,
        http2: after.http2 - before.http2,
    }
}

#[tokio::test]
async fn http2_is_chosen_by_alpn_and_sequential_requests_share_one_connection() {
    let sim = start(SimTls::H2, Duration::ZERO).await;
    let graph = client(&sim);
    let created = graph
        .create_event(&creds(), "ann@contoso.com", &event("one"))
        .await
        .expect("create over HTTPS");
    for _ in 0..5 {
        graph
            .get_event(&creds(), "ann@contoso.com", &created.id)
            .await
            .expect("read over HTTPS");
    }
    let connections = sim.connections();
    assert_eq!(
        connections.handshakes, 2,
        "one connection to learn what ALPN chooses (the token), then one that the create and \
         five reads share: {connections:?}"
    );
    assert_eq!(connections.http2, 2, "both are HTTP/2: {connections:?}");
}

#[tokio::test]
async fn many_requests_in_flight_share_about_one_connection_per_stream_limit() {
    let sim = start(SimTls::H2, Duration::from_millis(300)).await;
    let graph = client(&sim);
    let n = 1_000;
    let connections = concurrent_reads(&sim, &graph, n).await;
    let most = n.div_ceil(STREAMS_PER_CONNECTION) as u64 + 2;
    assert!(
        connections.handshakes <= most,
        "{n} reads in flight at once opened {} connections, more than ceil({n} / \
         {STREAMS_PER_CONNECTION}) + 2 = {most}: {connections:?}",
        connections.handshakes
    );
    assert_eq!(connections.http2, connections.handshakes, "{connections:?}");
    let peak = sim.state().stats().peak_in_flight;
    assert!(
        peak > STREAMS_PER_CONNECTION * 2,
        "{peak} in flight at once at most"
    );
}

#[tokio::test]
async fn against_a_server_that_offers_only_http1_the_client_falls_back_to_it() {
    let sim = start(SimTls::HTTP1, Duration::from_millis(100)).await;
    let graph = client(&sim);
    let connections = concurrent_reads(&sim, &graph, 40).await;
    assert_eq!(
        connections.http2, 0,
        "nothing spoke HTTP/2: {connections:?}"
    );
    assert!(
        connections.handshakes >= 20,
        "HTTP/1.1 carries one request at a time, so 40 in flight need many connections (some \
         left idle by the creates): {connections:?}"
    );
}

/// A refused certificate reaches the operator as one line naming what failed.
fn assert_refused(error: &GraphError) {
    let text = error.to_string();
    assert_eq!(error.kind, ErrorKind::Network, "{text}");
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(
        text.to_lowercase().contains("certificate"),
        "says why: {text}"
    );
}

#[tokio::test]
async fn a_certificate_the_client_was_not_told_to_trust_is_refused() {
    let sim = start(SimTls::H2, Duration::ZERO).await;
    let other = start(SimTls::H2, Duration::ZERO).await;
    for ca_file in [None, other.certificate_file()] {
        let graph = GraphClient::new(GraphConfig {
            graph_url: sim.graph_url(),
            login_url: sim.login_url(),
            max_attempts: 1,
            ca_file: ca_file.map(std::path::Path::to_path_buf),
            ..GraphConfig::default()
        })
        .expect("client builds");
        let error = graph
            .check_credentials(&creds())
            .await
            .expect_err("the handshake fails");
        assert_refused(&error);
    }
    // The simulator counts a failed handshake after the client has given up on it.
    let mut connections = sim.connections();
    for _ in 0..100 {
        if connections.failed_handshakes >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        connections = sim.connections();
    }
    assert_eq!(connections.handshakes, 0, "{connections:?}");
    assert_eq!(connections.failed_handshakes, 2, "{connections:?}");
    assert_eq!(
        sim.state().stats().token_requests,
        0,
        "no request got through"
    );
}

#[tokio::test]
async fn a_ca_file_that_is_not_a_certificate_is_refused_at_start_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    for path in [missing, empty] {
        let error = GraphClient::new(GraphConfig {
            ca_file: Some(path.clone()),
            ..GraphConfig::default()
        })
        .expect_err("refused");
        let text = error.to_string();
        assert!(
            text.contains("CALSYNC_GRAPH_CA_FILE") && !text.contains('\n'),
            "{text}"
        );
    }
}

// Graph docs: concepts/best-practices-concept.md — retry a 503 on a new connection; over HTTP/2
// too, although the other requests keep sharing theirs.
#[tokio::test]
async fn over_http2_a_retry_after_a_503_still_goes_out_on_a_new_connection() {
    let sim = start(SimTls::H2, Duration::ZERO).await;
    let graph = client(&sim);
    let created = graph
        .create_event(&creds(), "ann@contoso.com", &event("retry"))
        .await
        .expect("create");
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 1,
        status: 503,
    });
    graph
        .get_event(&creds(), "ann@contoso.com", &created.id)
        .await
        .expect("retried after the 503");
    let reads: Vec<_> = sim
        .state()
        .wire_log()
        .into_iter()
        .filter(|r| r.method == "GET" && r.target.contains("/events/"))
        .map(|r| r.peer.expect("peer address"))
        .collect();
    assert_eq!(reads.len(), 2, "the 503 and its retry");
    assert_ne!(
        reads[0], reads[1],
        "the retry reused the connection of the 503"
    );
    assert_eq!(
        sim.connections().handshakes,
        3,
        "the token's, the one the create and the 503 shared, and the retry's own"
    );
}
