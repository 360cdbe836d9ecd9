//! The Graph client against the simulated Graph over real HTTP on 127.0.0.1.

use std::time::Duration;

use calsync::graph::{
    BatchRequest, Credentials, DeleteOutcome, ErrorKind, GraphClient, GraphConfig, GraphError,
    Secret,
};
use calsync::sim::{
    Directory, Fault, GhostReply, Latency, MailboxState, RetryAfterMode, SimConfig, SimHandle,
    SimServer, SimTenant,
};
use serde_json::{Value, json};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT: &str = "0b8c1f5e-7d21-4f4a-9a57-3c2e8d6b1a90";
const SECRET: &str = "Xq8~sEcReT.value_that-must.never~leak42";
const PROP: &str = "String {8d9a1c3e-5b7f-4e2a-9c61-0f3b2d4e6a71} Name CalsyncSyncKey";

fn sim_config() -> SimConfig {
    SimConfig {
        tenants: vec![SimTenant::new(TENANT, CLIENT, SECRET)],
        retry_after: RetryAfterMode::Decimal,
        throttle_retry_after: Duration::from_millis(200),
        ..SimConfig::default()
    }
}

async fn start(config: SimConfig) -> SimHandle {
    SimServer::start(config).await.expect("simulator starts")
}

fn client_with(sim: &SimHandle, tweak: impl FnOnce(&mut GraphConfig)) -> GraphClient {
    let mut config = GraphConfig {
        graph_url: sim.graph_url(),
        login_url: sim.login_url(),
        timeout: Duration::from_secs(10),
        max_attempts: 6,
        max_retry_wait: Duration::from_secs(10),
        backoff_base: Duration::from_millis(20),
        ..GraphConfig::default()
    };
    tweak(&mut config);
    GraphClient::new(config).expect("client builds")
}

fn client(sim: &SimHandle) -> GraphClient {
    client_with(sim, |_| {})
}

fn creds() -> Credentials {
    Credentials::new(TENANT, CLIENT, SECRET)
}

fn event(subject: &str) -> Value {
    json!({
        "subject": subject,
        "body": {"contentType": "text", "content": "Conference meeting"},
        "start": {"dateTime": "2026-03-02T10:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-03-02T11:00:00", "timeZone": "W. Europe Standard Time"},
    })
}

/// An event carrying our sync key as extended property and transactionId.
fn tagged(subject: &str, key: &str) -> Value {
    let mut e = event(subject);
    e["transactionId"] = json!(format!("calsync-{key}"));
    e["singleValueExtendedProperties"] = json!([{"id": PROP, "value": key}]);
    e
}

/// Asserts the operator-text contract and returns the text.
fn assert_operator_text(err: &GraphError, forbidden: &[String]) -> String {
    let text = err.operator_text();
    assert_eq!(text, err.to_string(), "Display is the operator text");
    assert!(!text.is_empty());
    assert!(text.chars().count() <= 1000, "too long: {}", text.len());
    assert!(
        !text.chars().any(char::is_control),
        "control character in {text:?}"
    );
    for secret in forbidden {
        assert!(!text.contains(secret.as_str()), "leaked a secret: {text}");
        assert!(
            !format!("{err:?}").contains(secret.as_str()),
            "leaked a secret in Debug"
        );
    }
    text
}

fn secrets_of(sim: &SimHandle, extra: &[&str]) -> Vec<String> {
    let mut all = sim.state().issued_tokens();
    all.push(SECRET.to_string());
    all.extend(extra.iter().map(|s| s.to_string()));
    all
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn fetches_one_token_for_many_concurrent_requests() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let creds = creds();
    let jobs = (0..12).map(|i| {
        let graph = graph.clone();
        let creds = creds.clone();
        async move {
            graph
                .create_event(
                    &creds,
                    &format!("user{}@contoso.com", i % 3),
                    &event("Intro"),
                )
                .await
        }
    });
    for result in futures::future::join_all(jobs).await {
        result.expect("create succeeds");
    }
    assert_eq!(sim.state().stats().tokens_issued, 1);
    assert_eq!(graph.stats().tokens_fetched, 1);
    assert_eq!(graph.stats().requests_sent, 12);
}

#[tokio::test]
async fn keeps_one_token_per_tenant_and_client_pair() {
    let mut config = sim_config();
    config
        .tenants
        .push(SimTenant::new(TENANT, "second-app", "other-secret"));
    config.tenants.push(SimTenant::new(
        "fabrikam.onmicrosoft.com",
        CLIENT,
        "third-secret",
    ));
    let sim = start(config).await;
    let graph = client(&sim);
    let all = [
        creds(),
        Credentials::new(TENANT, "second-app", "other-secret"),
        Credentials::new("fabrikam.onmicrosoft.com", CLIENT, "third-secret"),
    ];
    for _ in 0..2 {
        for c in &all {
            graph
                .get_event(c, "ann@contoso.com", "AAMkAGmissing=")
                .await
                .expect("lookup works");
        }
    }
    assert_eq!(sim.state().stats().tokens_issued, 3);
    assert_eq!(graph.stats().tokens_fetched, 3);
}

#[tokio::test]
async fn refreshes_a_short_lived_token_before_it_expires() {
    let sim = start(SimConfig {
        token_lifetime: Duration::from_secs(2),
        ..sim_config()
    })
    .await;
    let graph = client(&sim);
    graph
        .get_event(&creds(), "ann@contoso.com", "AAMkAGx=")
        .await
        .expect("first call");
    // Past half the lifetime the client refreshes on its own, before the server
    // would refuse the token.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    graph
        .get_event(&creds(), "ann@contoso.com", "AAMkAGx=")
        .await
        .expect("second call");
    let stats = sim.state().stats();
    assert_eq!(stats.tokens_issued, 2);
    assert_eq!(
        stats.unauthorized, 0,
        "no request went out with a stale token"
    );
}

#[tokio::test]
async fn recovers_when_tokens_expire_mid_run() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let created = graph
        .create_event(&creds(), "ann@contoso.com", &event("Before"))
        .await
        .expect("create");
    sim.state().expire_all_tokens();
    let fetched = graph
        .get_event(&creds(), "ann@contoso.com", &created.id)
        .await
        .expect("get after expiry");
    assert_eq!(fetched.map(|e| e.id), Some(created.id));
    let stats = sim.state().stats();
    assert_eq!(stats.unauthorized, 1);
    assert_eq!(stats.tokens_issued, 2);
    assert_eq!(graph.stats().token_refreshes_after_401, 1);
}

#[tokio::test]
async fn rotated_secret_gives_a_clean_auth_error_without_the_secret() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    graph
        .create_event(&creds(), "ann@contoso.com", &event("Works"))
        .await
        .expect("create with the original secret");
    assert!(
        sim.state()
            .rotate_secret(TENANT, CLIENT, "brand-new-secret-value")
    );
    sim.state().expire_all_tokens();

    let err = graph
        .create_event(&creds(), "ann@contoso.com", &event("Fails"))
        .await
        .expect_err("old secret is refused");
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(err.aadsts.as_deref(), Some("AADSTS7000215"));
    assert_eq!(err.code.as_deref(), Some("invalid_client"));
    assert_eq!(err.status, Some(401));
    assert!(err.is_permanent() && !err.is_retryable());
    let text = assert_operator_text(&err, &secrets_of(&sim, &["brand-new-secret-value"]));
    assert!(
        text.starts_with("Token acquisition failed: AADSTS7000215"),
        "{text}"
    );
    assert!(text.contains(CLIENT) && text.contains(TENANT), "{text}");
    assert!(text.contains("client secret is wrong or expired"), "{text}");
    // A configuration error is not retried against the login service.
    assert_eq!(sim.state().stats().token_errors, 1);

    let fixed = Credentials::new(TENANT, CLIENT, "brand-new-secret-value");
    graph
        .create_event(&fixed, "ann@contoso.com", &event("Works again"))
        .await
        .expect("the new secret works at once");
}

#[tokio::test]
async fn expired_secret_is_reported_as_expired() {
    let sim = start(sim_config()).await;
    sim.state().expire_secret(TENANT, CLIENT);
    let err = client(&sim)
        .check_credentials(&creds())
        .await
        .expect_err("expired secret");
    assert_eq!(err.aadsts.as_deref(), Some("AADSTS7000222"));
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(text.contains("has expired"), "{text}");
}

#[tokio::test]
async fn unknown_tenant_is_a_permanent_auth_error() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let wrong = Credentials::new("no-such-tenant.example", CLIENT, SECRET);
    let err = graph
        .create_event(&wrong, "ann@contoso.com", &event("x"))
        .await
        .expect_err("unknown tenant");
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(err.aadsts.as_deref(), Some("AADSTS90002"));
    assert_eq!(err.status, Some(400));
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(
        text.contains("tenant no-such-tenant.example not found"),
        "{text}"
    );

    let unknown_app = Credentials::new(TENANT, "not-registered", SECRET);
    let err = graph
        .check_credentials(&unknown_app)
        .await
        .expect_err("unknown client");
    assert_eq!(err.aadsts.as_deref(), Some("AADSTS700016"));
    assert_eq!(sim.state().stats().event_count_total(), 0);
}

trait EventTotal {
    fn event_count_total(&self) -> u64;
}

impl EventTotal for calsync::sim::SimStats {
    fn event_count_total(&self) -> u64 {
        self.mailboxes.values().map(|m| m.events_created).sum()
    }
}

#[tokio::test]
async fn retries_a_temporarily_unavailable_token_endpoint() {
    let sim = start(sim_config()).await;
    sim.state().push_fault(Fault::TokenUnavailable { count: 2 });
    let graph = client(&sim);
    graph
        .create_event(&creds(), "ann@contoso.com", &event("x"))
        .await
        .expect("succeeds after two 503s from the login service");
    let stats = sim.state().stats();
    assert_eq!(stats.token_errors, 2);
    assert_eq!(stats.tokens_issued, 1);
}

// ---------------------------------------------------------------- throttling

/// Two 429s for a create with a transactionId, then success; returns (client, sim).
async fn throttled_twice_then_created(mode: RetryAfterMode) -> (GraphClient, SimHandle) {
    let sim = start(SimConfig {
        retry_after: mode,
        throttle_retry_after: Duration::from_millis(200),
        ..sim_config()
    })
    .await;
    let graph = client(&sim);
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 2,
        status: 429,
    });
    let created = graph
        .create_event(&creds(), "ann@contoso.com", &tagged("Throttled", "k-1"))
        .await
        .expect("created after the throttling passes");
    // The client asks for immutable ids (Prefer: IdType="ImmutableId").
    assert_eq!(
        sim.state().immutable_id_of("ann@contoso.com", &created.id),
        Some(created.id.clone())
    );
    let mailbox = sim.state().mailbox_stats("ann@contoso.com");
    assert_eq!(mailbox.throttled, 2);
    assert_eq!(mailbox.early_retries, 0, "the client never retried early");
    assert_eq!(mailbox.requests, 3);
    assert_eq!(sim.state().event_count("ann@contoso.com"), 1);
    assert_eq!(graph.stats().throttled_responses, 2);
    assert_eq!(graph.stats().retries, 2);
    (graph, sim)
}

#[tokio::test]
async fn honours_integer_retry_after() {
    throttled_twice_then_created(RetryAfterMode::Integer).await;
}

#[tokio::test]
async fn honours_decimal_retry_after() {
    throttled_twice_then_created(RetryAfterMode::Decimal).await;
}

#[tokio::test]
async fn honours_http_date_retry_after() {
    throttled_twice_then_created(RetryAfterMode::HttpDate).await;
}

#[tokio::test]
async fn backs_off_and_reports_throttling_without_retry_after() {
    let sim = start(SimConfig {
        retry_after: RetryAfterMode::Absent,
        ..sim_config()
    })
    .await;
    let graph = client(&sim);
    let mut notices = graph.subscribe_throttling();
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 2,
        status: 429,
    });
    graph
        .create_event(&creds(), "ann@contoso.com", &tagged("Backoff", "k-2"))
        .await
        .expect("created after backing off");
    for _ in 0..2 {
        let notice = notices.try_recv().expect("a throttle notice per 429");
        assert_eq!(notice.mailbox, "ann@contoso.com");
        assert_eq!(notice.status, 429);
        assert!(notice.wait > Duration::ZERO);
    }
    assert_eq!(sim.state().mailbox_stats("ann@contoso.com").throttled, 2);
}

#[tokio::test]
async fn a_429_holds_back_its_mailbox_but_not_other_mailboxes() {
    let sim = start(SimConfig {
        throttle_retry_after: Duration::from_secs(2),
        ..sim_config()
    })
    .await;
    let graph = client(&sim);
    let mut notices = graph.subscribe_throttling();
    let creds = creds();
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 1,
        status: 429,
    });
    let first = tokio::spawn({
        let (graph, creds) = (graph.clone(), creds.clone());
        async move { graph.get_event(&creds, "ann@contoso.com", "AAMkAGa=").await }
    });
    let notice = tokio::time::timeout(Duration::from_secs(10), notices.recv())
        .await
        .expect("throttle notice arrives")
        .expect("channel open");
    assert_eq!(notice.mailbox, "ann@contoso.com");

    // Another request to the same mailbox waits for the Retry-After…
    let same_mailbox = tokio::spawn({
        let (graph, creds) = (graph.clone(), creds.clone());
        async move { graph.get_event(&creds, "ANN@contoso.com", "AAMkAGb=").await }
    });
    // …while a different mailbox is served at once.
    graph
        .get_event(&creds, "bob@contoso.com", "AAMkAGc=")
        .await
        .expect("other mailbox unaffected");
    assert!(
        !same_mailbox.is_finished(),
        "the same mailbox must still be held back"
    );
    assert_eq!(sim.state().mailbox_stats("ann@contoso.com").requests, 1);

    first.await.expect("join").expect("first request succeeds");
    same_mailbox
        .await
        .expect("join")
        .expect("held request succeeds");
    let ann = sim.state().mailbox_stats("ann@contoso.com");
    assert_eq!(ann.early_retries, 0);
    assert_eq!(ann.throttled, 1);
    assert_eq!(ann.requests, 3);
}

#[tokio::test]
async fn retries_a_503_then_succeeds() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let created = graph
        .create_event(&creds(), "ann@contoso.com", &event("x"))
        .await
        .expect("create");
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 2,
        status: 503,
    });
    let got = graph
        .get_event(&creds(), "ann@contoso.com", &created.id)
        .await
        .expect("get succeeds after two 503s");
    assert_eq!(got.map(|e| e.id), Some(created.id));
    assert_eq!(sim.state().mailbox_stats("ann@contoso.com").requests, 4);
}

#[tokio::test]
async fn retries_a_504_on_update() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let created = graph
        .create_event(&creds(), "ann@contoso.com", &event("Old"))
        .await
        .expect("create");
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 1,
        status: 504,
    });
    let updated = graph
        .update_event(
            &creds(),
            "ann@contoso.com",
            &created.id,
            &json!({"subject": "New"}),
        )
        .await
        .expect("PATCH is retried after a 504");
    assert_eq!(updated.subject.as_deref(), Some("New"));
}

#[tokio::test]
async fn gives_up_after_max_attempts_on_a_persistent_503() {
    let sim = start(sim_config()).await;
    let graph = client_with(&sim, |c| c.max_attempts = 3);
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 100,
        status: 503,
    });
    let err = graph
        .get_event(&creds(), "ann@contoso.com", "AAMkAGz=")
        .await
        .expect_err("never recovers");
    assert_eq!(err.kind, ErrorKind::Transient);
    assert_eq!(err.attempts, 3);
    assert!(err.is_retryable());
    assert_eq!(sim.state().mailbox_stats("ann@contoso.com").requests, 3);
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(text.contains("Graph 503 ServiceUnavailable"), "{text}");
    assert!(text.contains("still failing after 3 attempts"), "{text}");
    assert!(text.contains(err.request_id.as_deref().expect("request id")));
}

#[tokio::test]
async fn reports_throttling_that_outlasts_the_attempts() {
    let sim = start(SimConfig {
        throttle_retry_after: Duration::from_millis(50),
        ..sim_config()
    })
    .await;
    let graph = client_with(&sim, |c| c.max_attempts = 3);
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 100,
        status: 429,
    });
    let err = graph
        .get_event(&creds(), "ann@contoso.com", "AAMkAGz=")
        .await
        .expect_err("still throttled");
    assert_eq!(err.kind, ErrorKind::Throttled);
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(
        text.starts_with(
            "Throttled by Graph for ann@contoso.com: still throttled after 3 attempts (Retry-After 0.05 s)"
        ),
        "{text}"
    );
    assert_eq!(
        sim.state().mailbox_stats("ann@contoso.com").early_retries,
        0
    );
}

#[tokio::test]
async fn fails_fast_when_retry_after_exceeds_the_cap() {
    let sim = start(SimConfig {
        throttle_retry_after: Duration::from_secs(30),
        retry_after: RetryAfterMode::Integer,
        ..sim_config()
    })
    .await;
    let graph = client_with(&sim, |c| c.max_retry_wait = Duration::from_secs(1));
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 1,
        status: 429,
    });
    let err = graph
        .get_event(&creds(), "ann@contoso.com", "AAMkAGz=")
        .await
        .expect_err("will not sleep 30 s");
    assert_eq!(err.kind, ErrorKind::Throttled);
    assert_eq!(err.retry_after, Some(Duration::from_secs(30)));
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(
        text.contains("Retry-After 30 s is longer than the 1 s"),
        "{text}"
    );

    // The hold applies to the whole mailbox: the next request fails fast too,
    // without reaching the server.
    let again = graph
        .get_event(&creds(), "ann@contoso.com", "AAMkAGy=")
        .await
        .expect_err("mailbox still held");
    assert_eq!(again.kind, ErrorKind::Throttled);
    assert_eq!(sim.state().mailbox_stats("ann@contoso.com").requests, 1);
}

#[tokio::test]
async fn never_exceeds_four_in_flight_per_mailbox() {
    let sim = start(SimConfig {
        latency: Latency::fixed(Duration::from_millis(40)),
        ..sim_config()
    })
    .await;
    let graph = client(&sim);
    let creds = creds();
    let jobs = (0..20).map(|i| {
        let (graph, creds) = (graph.clone(), creds.clone());
        async move {
            graph
                .create_event(
                    &creds,
                    "busy@contoso.com",
                    &tagged("Slot", &format!("c{i}")),
                )
                .await
        }
    });
    for result in futures::future::join_all(jobs).await {
        result.expect("every create succeeds");
    }
    let busy = sim.state().mailbox_stats("busy@contoso.com");
    assert!(busy.peak_concurrency <= 4, "peak {}", busy.peak_concurrency);
    assert!(busy.peak_concurrency >= 2, "requests did run in parallel");
    assert_eq!(busy.throttled, 0);
    assert_eq!(sim.state().event_count("busy@contoso.com"), 20);
}

#[tokio::test]
async fn idempotent_requests_ride_out_random_faults() {
    let sim = start(SimConfig {
        throttle_retry_after: Duration::from_millis(50),
        seed: 42,
        ..sim_config()
    })
    .await;
    let graph = client_with(&sim, |c| c.max_attempts = 10);
    let creds = creds();
    let mut ids = Vec::new();
    for i in 0..12 {
        let mailbox = format!("user{}@contoso.com", i % 3);
        let created = graph
            .create_event(&creds, &mailbox, &tagged("Before", &format!("f{i}")))
            .await
            .expect("create before faults");
        ids.push((mailbox, created.id));
    }
    sim.state().set_fault_rate(0.3);
    let jobs = ids.iter().map(|(mailbox, id)| {
        let (graph, creds) = (graph.clone(), creds.clone());
        async move {
            graph
                .update_event(&creds, mailbox, id, &json!({"subject": "After"}))
                .await
        }
    });
    for result in futures::future::join_all(jobs).await {
        let updated = result.expect("PATCH survives 429/503/504 faults");
        assert_eq!(updated.subject.as_deref(), Some("After"));
    }
    let stats = sim.state().stats();
    assert!(
        stats
            .mailboxes
            .values()
            .map(|m| m.faults_injected)
            .sum::<u64>()
            > 0
    );
    assert!(stats.peak_concurrency() <= 4);
    assert!(graph.stats().retries > 0);
}

// ---------------------------------------------------------------- permanent errors

async fn permanent_error(
    directory: Directory,
    mailbox: &str,
    body: Value,
) -> (GraphError, SimHandle) {
    let sim = start(SimConfig {
        directory,
        ..sim_config()
    })
    .await;
    let err = client(&sim)
        .create_event(&creds(), mailbox, &body)
        .await
        .expect_err("permanent failure");
    assert!(err.is_permanent(), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(err.attempts, 1);
    assert_eq!(
        sim.state().mailbox_stats(mailbox).requests,
        1,
        "not retried"
    );
    assert!(err.request_id.is_some());
    (err, sim)
}

#[tokio::test]
async fn unknown_user_is_invalid_user_and_not_retried() {
    let (err, sim) = permanent_error(
        Directory::all_ok().with_user("ghost@contoso.com", MailboxState::Unknown),
        "ghost@contoso.com",
        event("x"),
    )
    .await;
    assert_eq!(err.kind, ErrorKind::InvalidUser);
    assert_eq!(err.code.as_deref(), Some("ErrorInvalidUser"));
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    let rid = err.request_id.clone().unwrap_or_default();
    assert_eq!(
        text,
        format!(
            "Graph 404 ErrorInvalidUser: The requested user 'ghost@contoso.com' is invalid. (request-id {rid})"
        )
    );
}

#[tokio::test]
async fn mailbox_without_exchange_licence_is_no_mailbox() {
    let (err, sim) = permanent_error(
        Directory::all_ok().with_domain("guests.example", MailboxState::NoMailbox),
        "visitor@guests.example",
        event("x"),
    )
    .await;
    assert_eq!(err.kind, ErrorKind::NoMailbox);
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(
        text.starts_with(
            "No mailbox for visitor@guests.example (MailboxNotEnabledForRESTAPI) — the user needs an Exchange Online licence"
        ),
        "{text}"
    );
    assert!(text.contains(err.request_id.as_deref().unwrap_or("?")));
}

#[tokio::test]
async fn access_policy_denial_is_access_denied() {
    let (err, sim) = permanent_error(
        Directory::all_ok().with_user("ceo@contoso.com", MailboxState::AccessDenied),
        "ceo@contoso.com",
        event("x"),
    )
    .await;
    assert_eq!(err.kind, ErrorKind::AccessDenied);
    assert_eq!(err.status, Some(403));
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(
        text.contains("ceo@contoso.com is outside the app's Exchange application access policy"),
        "{text}"
    );
}

#[tokio::test]
async fn unsupported_time_zone_is_a_time_zone_error() {
    let mut body = event("x");
    body["start"]["timeZone"] = json!("Greenwich Mean Time");
    body["end"]["timeZone"] = json!("Greenwich Mean Time");
    let (err, sim) = permanent_error(Directory::all_ok(), "ann@contoso.com", body).await;
    assert_eq!(err.kind, ErrorKind::TimeZone);
    assert_eq!(err.code.as_deref(), Some("TimeZoneNotSupportedException"));
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(
        text.contains("The following TimeZone value is not supported: 'Greenwich Mean Time'."),
        "{text}"
    );
    assert!(text.contains("Windows time-zone ID"), "{text}");
    assert_eq!(sim.state().event_count("ann@contoso.com"), 0);
}

// ---------------------------------------------------------------- events

#[tokio::test]
async fn percent_encodes_awkward_mailbox_addresses() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    for mailbox in [
        "a#b+c%d@contoso.com",
        "o'brien?x=1@contoso.com",
        "first last/dept@contoso.com",
    ] {
        let created = graph
            .create_event(&creds(), mailbox, &tagged("Encoded", mailbox))
            .await
            .unwrap_or_else(|e| panic!("create for {mailbox}: {e}"));
        assert_eq!(sim.state().event_count(mailbox), 1, "{mailbox}");
        let got = graph
            .get_event(&creds(), mailbox, &created.id)
            .await
            .expect("get");
        assert_eq!(got.map(|e| e.id), Some(created.id.clone()));
        let found = graph
            .find_events_by_property(&creds(), mailbox, PROP, mailbox)
            .await
            .expect("find");
        assert_eq!(found.len(), 1, "{mailbox}");
        assert_eq!(found[0].property(PROP), Some(mailbox));
    }
}

#[tokio::test]
async fn create_get_update_delete_and_delete_again() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let creds = creds();
    let mut body = tagged("Induction", "sel-1");
    body["isOnlineMeeting"] = json!(true);
    body["onlineMeetingProvider"] = json!("teamsForBusiness");
    let created = graph
        .create_event(&creds, "ann@contoso.com", &body)
        .await
        .expect("create");
    assert!(created.change_key.is_some());
    assert!(created.request_id.is_some());
    assert!(
        created
            .web_link
            .as_deref()
            .is_some_and(|l| l.contains("itemid="))
    );
    assert_eq!(created.subject.as_deref(), Some("Induction"));
    assert_eq!(created.transaction_id.as_deref(), Some("calsync-sel-1"));
    let start = created.start.clone().expect("start");
    assert_eq!(start.date_time, "2026-03-02T09:00:00.0000000");
    assert_eq!(start.time_zone, "UTC");
    assert!(
        created
            .online_meeting_join_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://teams.microsoft.com/l/meetup-join/"))
    );

    let got = graph
        .get_event(&creds, "ann@contoso.com", &created.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(got.id, created.id);

    let updated = graph
        .update_event(
            &creds,
            "ann@contoso.com",
            &created.id,
            &json!({
                "subject": "Induction (moved)",
                "start": {"dateTime": "2026-03-03T14:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-03-03T15:00:00", "timeZone": "UTC"},
            }),
        )
        .await
        .expect("update");
    assert_eq!(updated.id, created.id);
    assert_ne!(updated.change_key, created.change_key);
    assert_eq!(updated.subject.as_deref(), Some("Induction (moved)"));
    assert_eq!(
        updated.start.map(|s| s.date_time).as_deref(),
        Some("2026-03-03T14:00:00.0000000")
    );

    let deleted = graph
        .delete_event(&creds, "ann@contoso.com", &created.id)
        .await
        .expect("delete");
    assert!(matches!(deleted, DeleteOutcome::Deleted { .. }));
    let again = graph
        .delete_event(&creds, "ann@contoso.com", &created.id)
        .await
        .expect("second delete is not an error");
    assert!(matches!(
        again,
        DeleteOutcome::AlreadyGone {
            request_id: Some(_)
        }
    ));
    assert_eq!(
        graph
            .get_event(&creds, "ann@contoso.com", &created.id)
            .await
            .expect("get"),
        None
    );
    let err = graph
        .update_event(
            &creds,
            "ann@contoso.com",
            &created.id,
            &json!({"subject": "x"}),
        )
        .await
        .expect_err("PATCH of a deleted event");
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(sim.state().event_count("ann@contoso.com"), 0);
}

#[tokio::test]
async fn finds_tagged_events_across_pages() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let creds = creds();
    let jobs = (0..55).map(|i| {
        let (graph, creds) = (graph.clone(), creds.clone());
        async move {
            let mut body = tagged("Same key", "shared-key");
            body["transactionId"] = json!(format!("txn-{i}"));
            graph.create_event(&creds, "ann@contoso.com", &body).await
        }
    });
    for r in futures::future::join_all(jobs).await {
        r.expect("create");
    }
    graph
        .create_event(&creds, "ann@contoso.com", &tagged("Other", "other-key"))
        .await
        .expect("create");
    let found = graph
        .find_events_by_property(&creds, "ann@contoso.com", PROP, "shared-key")
        .await
        .expect("find");
    assert_eq!(found.len(), 55, "followed @odata.nextLink");
    assert!(found.iter().all(|e| e.property(PROP) == Some("shared-key")));
    let none = graph
        .find_events_by_property(&creds, "ann@contoso.com", PROP, "it's-missing")
        .await
        .expect("find nothing");
    assert!(none.is_empty());
}

#[tokio::test]
async fn transaction_id_dedup_returns_the_same_event() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let body = tagged("Once", "sel-7");
    let first = graph
        .create_event(&creds(), "ann@contoso.com", &body)
        .await
        .expect("first");
    let second = graph
        .create_event(&creds(), "ann@contoso.com", &body)
        .await
        .expect("second");
    assert_eq!(first.id, second.id);
    assert_eq!(sim.state().event_count("ann@contoso.com"), 1);
    assert_eq!(
        sim.state()
            .mailbox_stats("ann@contoso.com")
            .duplicate_transaction_ids,
        1
    );
}

#[tokio::test]
async fn ghost_committed_create_with_504_is_ambiguous_and_stored_once() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    sim.state().push_fault(Fault::GhostCommit {
        mailbox: "ann@contoso.com".into(),
        reply: GhostReply::Status(504),
    });
    let err = graph
        .create_event(&creds(), "ann@contoso.com", &tagged("Ghost", "sel-9"))
        .await
        .expect_err("504 after commit");
    assert_eq!(err.kind, ErrorKind::Ambiguous);
    assert!(!err.is_retryable() && !err.is_permanent());
    assert_eq!(err.status, Some(504));
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(text.contains("may or may not have happened"), "{text}");
    assert!(
        text.contains(err.request_id.as_deref().unwrap_or("?")),
        "{text}"
    );
    assert_eq!(
        sim.state().mailbox_stats("ann@contoso.com").requests,
        1,
        "a create is never blindly re-sent"
    );
    // The engine's reconciliation: look the event up by its tag.
    let found = graph
        .find_events_by_property(&creds(), "ann@contoso.com", PROP, "sel-9")
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
    assert_eq!(sim.state().event_count("ann@contoso.com"), 1);
}

#[tokio::test]
async fn stalled_create_past_the_timeout_is_ambiguous_and_stored_once() {
    let sim = start(sim_config()).await;
    let graph = client_with(&sim, |c| c.timeout = Duration::from_millis(400));
    sim.state().push_fault(Fault::GhostCommit {
        mailbox: "ann@contoso.com".into(),
        reply: GhostReply::Stall(Duration::from_secs(2)),
    });
    let err = graph
        .create_event(&creds(), "ann@contoso.com", &tagged("Stalled", "sel-10"))
        .await
        .expect_err("timed out");
    assert_eq!(err.kind, ErrorKind::Ambiguous);
    assert_eq!(err.status, None);
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(text.contains("timed out after 0.4 s"), "{text}");
    assert_eq!(sim.state().event_count("ann@contoso.com"), 1);
    let found = graph
        .find_events_by_property(&creds(), "ann@contoso.com", PROP, "sel-10")
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn create_without_transaction_id_is_not_retried_on_503() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 1,
        status: 503,
    });
    let err = graph
        .create_event(&creds(), "ann@contoso.com", &event("No txn"))
        .await
        .expect_err("not retried");
    assert_eq!(err.kind, ErrorKind::Ambiguous);
    assert_eq!(sim.state().mailbox_stats("ann@contoso.com").requests, 1);
}

#[tokio::test]
async fn network_failures_to_graph_are_retried_then_reported() {
    let sim = start(sim_config()).await;
    // A port with nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let graph = client_with(&sim, |c| {
        c.graph_url = format!("http://{closed}/v1.0");
        c.max_attempts = 2;
    });
    let err = graph
        .get_event(&creds(), "ann@contoso.com", "AAMkAGx=")
        .await
        .expect_err("nothing listens there");
    assert_eq!(err.kind, ErrorKind::Network);
    assert_eq!(err.attempts, 2);
    let text = assert_operator_text(&err, &secrets_of(&sim, &[]));
    assert!(
        text.starts_with("Network error talking to Graph: could not connect"),
        "{text}"
    );
    assert!(!text.contains(&closed.port().to_string()), "{text}");
}

// ---------------------------------------------------------------- $batch

#[tokio::test]
async fn batch_with_mixed_results_retries_only_the_throttled_item() {
    let sim = start(SimConfig {
        directory: Directory::all_ok().with_user("ghost@contoso.com", MailboxState::Unknown),
        ..sim_config()
    })
    .await;
    let graph = client(&sim);
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 1,
        status: 429,
    });
    let requests = vec![
        BatchRequest::create_event("1", "ann@contoso.com", tagged("A", "b-1")),
        BatchRequest::create_event("2", "bob@contoso.com", tagged("B", "b-2")),
        BatchRequest::create_event("3", "ghost@contoso.com", tagged("C", "b-3")),
        BatchRequest::delete_event("4", "bob@contoso.com", "AAMkAGnothere="),
        BatchRequest {
            id: "5".into(),
            method: reqwest::Method::GET,
            url: "/me/events".into(),
            mailbox: "me".into(),
            body: None,
        },
    ];
    let responses = graph.batch(&creds(), requests).await.expect("batch runs");
    let ids: Vec<&str> = responses.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"], "input order");

    let a = responses[0]
        .outcome
        .as_ref()
        .expect("throttled item retried");
    assert_eq!(a.status, 201);
    assert!(a.event().is_some_and(|e| e.subject.as_deref() == Some("A")));
    assert_eq!(responses[0].attempts, 2);
    assert_eq!(responses[1].attempts, 1);
    assert!(responses[1].is_success());

    let c = responses[2].outcome.as_ref().expect_err("unknown user");
    assert_eq!(c.kind, ErrorKind::InvalidUser);
    assert!(c.request_id.is_some());
    let d = responses[3].outcome.as_ref().expect_err("missing event");
    assert_eq!(d.kind, ErrorKind::NotFound);
    let e = responses[4].outcome.as_ref().expect_err("/me");
    assert_eq!(e.kind, ErrorKind::Validation);
    assert_eq!(e.code.as_deref(), Some("BadRequest"));
    assert_eq!(
        e.message.as_deref(),
        Some("/me request is only valid with delegated authentication flow.")
    );

    let ann = sim.state().mailbox_stats("ann@contoso.com");
    assert_eq!(ann.throttled, 1);
    assert_eq!(ann.early_retries, 0);
    assert_eq!(sim.state().event_count("ann@contoso.com"), 1);
    assert_eq!(sim.state().event_count("bob@contoso.com"), 1);
    assert_eq!(sim.state().stats().batches, 2);
}

#[tokio::test]
async fn batch_splits_large_input_and_keeps_four_per_mailbox() {
    let sim = start(SimConfig {
        latency: Latency::fixed(Duration::from_millis(20)),
        ..sim_config()
    })
    .await;
    let graph = client(&sim);
    let requests: Vec<BatchRequest> = (0..30)
        .map(|i| {
            let mailbox = if i % 2 == 0 {
                "ann@contoso.com"
            } else {
                "bob@contoso.com"
            };
            BatchRequest::create_event(
                format!("r{i}"),
                mailbox,
                tagged("Bulk", &format!("bulk-{i}")),
            )
        })
        .collect();
    let responses = graph.batch(&creds(), requests).await.expect("batch");
    assert_eq!(responses.len(), 30);
    assert!(responses.iter().all(|r| r.is_success()), "{responses:?}");
    let stats = sim.state().stats();
    assert!(
        stats.peak_concurrency() <= 4,
        "peak {}",
        stats.peak_concurrency()
    );
    assert_eq!(stats.total_throttled(), 0);
    // 15 items per mailbox, 4 per mailbox per envelope: 4 envelopes of ≤ 8 items.
    assert_eq!(stats.batches, 4);
    assert_eq!(graph.stats().batch_items_sent, 30);
    assert_eq!(sim.state().event_count("ann@contoso.com"), 15);
}

#[tokio::test]
async fn batch_rejects_duplicate_ids_before_sending() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let err = graph
        .batch(
            &creds(),
            vec![
                BatchRequest::delete_event("x", "ann@contoso.com", "AAMkAG1="),
                BatchRequest::delete_event("X", "ann@contoso.com", "AAMkAG2="),
            ],
        )
        .await
        .expect_err("duplicate ids");
    assert_eq!(err.kind, ErrorKind::Validation);
    assert_eq!(graph.stats().requests_sent, 0);
}

#[tokio::test]
async fn batch_create_without_transaction_id_is_ambiguous_on_504() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    sim.state().push_fault(Fault::FailNext {
        mailbox: "ann@contoso.com".into(),
        count: 2,
        status: 504,
    });
    let responses = graph
        .batch(
            &creds(),
            vec![
                BatchRequest::create_event("c", "ann@contoso.com", event("No txn")),
                BatchRequest::get_event("g", "ann@contoso.com", "AAMkAGmissing="),
            ],
        )
        .await
        .expect("batch");
    let c = responses[0].outcome.as_ref().expect_err("ambiguous");
    assert_eq!(c.kind, ErrorKind::Ambiguous);
    assert_eq!(responses[0].attempts, 1);
    // The GET was retried after its 504 and then found nothing.
    let g = responses[1].outcome.as_ref().expect_err("not found");
    assert_eq!(g.kind, ErrorKind::NotFound);
    assert_eq!(responses[1].attempts, 2);
}

// ---------------------------------------------------------------- texts, config, secrets

#[tokio::test]
async fn operator_texts_are_one_line_bounded_and_secret_free() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let mut errors = Vec::new();
    // A huge time-zone name makes Graph's message huge.
    let mut body = event("x");
    let zone = format!("Zone\r\n{}", "Z".repeat(5000));
    body["start"]["timeZone"] = json!(zone);
    errors.push(
        graph
            .create_event(&creds(), "ann@contoso.com", &body)
            .await
            .expect_err("bad zone"),
    );
    sim.state().push_fault(Fault::GhostCommit {
        mailbox: "ann@contoso.com".into(),
        reply: GhostReply::Status(504),
    });
    errors.push(
        graph
            .create_event(&creds(), "ann@contoso.com", &tagged("g", "g"))
            .await
            .expect_err("ambiguous"),
    );
    // A fresh client: the first one holds a cached token for this tenant and app.
    let wrong = Credentials::new(TENANT, CLIENT, "wrong-secret-value-123");
    errors.push(
        client(&sim)
            .create_event(&wrong, "ann@contoso.com", &event("x"))
            .await
            .expect_err("wrong secret"),
    );
    for err in &errors {
        let text = assert_operator_text(err, &secrets_of(&sim, &["wrong-secret-value-123"]));
        if let Some(rid) = &err.request_id {
            assert!(text.contains(rid.as_str()), "{text}");
        }
    }
    assert_eq!(errors[0].kind, ErrorKind::TimeZone);
    assert_eq!(errors[1].kind, ErrorKind::Ambiguous);
    assert_eq!(errors[2].kind, ErrorKind::Auth);
    assert!(!sim.state().issued_tokens().is_empty());
}

#[test]
fn config_comes_from_the_environment_with_clear_errors() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let defaults = GraphConfig::from_lookup(env(&[])).expect("defaults");
    assert_eq!(defaults.graph_url, "https://graph.microsoft.com/v1.0");
    assert_eq!(defaults.login_url, "https://login.microsoftonline.com");
    assert_eq!(defaults.timeout, Duration::from_secs(30));

    let custom = GraphConfig::from_lookup(env(&[
        ("CALSYNC_GRAPH_URL", "http://127.0.0.1:8080/v1.0/"),
        ("CALSYNC_LOGIN_URL", "http://localhost:8080"),
        ("CALSYNC_HTTP_TIMEOUT_SECS", "2.5"),
        ("CALSYNC_GRAPH_MAX_ATTEMPTS", "3"),
    ]))
    .expect("custom");
    assert_eq!(custom.graph_url, "http://127.0.0.1:8080/v1.0");
    assert_eq!(custom.timeout, Duration::from_millis(2500));
    assert_eq!(custom.max_attempts, 3);

    for bad in [
        &[("CALSYNC_HTTP_TIMEOUT_SECS", "soon")][..],
        &[("CALSYNC_HTTP_TIMEOUT_SECS", "0")][..],
        &[("CALSYNC_GRAPH_URL", "http://graph.example.com/v1.0")][..],
        &[("CALSYNC_LOGIN_URL", "not a url")][..],
        &[("CALSYNC_GRAPH_MAX_ATTEMPTS", "0")][..],
    ] {
        let pairs: &'static [(&'static str, &'static str)] = bad;
        let err = GraphConfig::from_lookup(env(pairs)).expect_err("rejected");
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains(pairs[0].0), "names the variable: {err}");
    }
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let secret = Secret::new(SECRET);
    assert_eq!(format!("{secret:?}"), "[redacted]");
    assert_eq!(format!("{secret}"), "[redacted]");
    let shown = format!("{:?}", creds());
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains(CLIENT));
    let tenant = SimTenant::new(TENANT, CLIENT, SECRET);
    assert!(!format!("{tenant:?}").contains(SECRET));
}
