//! The HTTP side of the Graph client against the simulated Graph: requests go only where they
//! were sent, tokens are for the cloud the Graph URL names, zones and user names take the forms
//! Graph documents, every request says who sent it, and a run survives a login outage and Ctrl-C.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calsync::domain::resolve_slot_window;
use calsync::graph::{
    BatchRequest, Cloud, Credentials, ErrorKind, GraphClient, GraphConfig, USER_AGENT,
};
use calsync::sim::{Fault, RedirectOn, SimConfig, SimHandle, SimServer};
use calsync::sync::zones::graph_times;
use chrono::{NaiveDate, NaiveTime};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::TestDb;
use crate::sync::{CLIENT_ID, SECRET, TENANT, World, add_learners};

const ANN: &str = "ann@contoso.com";

fn sim_config() -> SimConfig {
    crate::sync::sim_config()
}

async fn start(config: SimConfig) -> SimHandle {
    SimServer::start(config).await.expect("simulator starts")
}

fn client_with(sim: &SimHandle, tweak: impl FnOnce(&mut GraphConfig)) -> GraphClient {
    let mut config = GraphConfig {
        graph_url: sim.graph_url(),
        login_url: sim.login_url(),
        timeout: Duration::from_secs(10),
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
    Credentials::new(TENANT, CLIENT_ID, SECRET)
}

fn event(subject: &str) -> Value {
    json!({
        "subject": subject,
        "body": {"contentType": "text", "content": "Conference meeting"},
        "start": {"dateTime": "2026-03-02T10:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-03-02T11:00:00", "timeZone": "W. Europe Standard Time"},
        "transactionId": format!("calsync-test-{subject}"),
    })
}

fn host_of(sim: &SimHandle) -> String {
    sim.addr().to_string()
}

fn events_in(sim: &SimHandle, mailbox: &str) -> usize {
    sim.state().stats().mailbox(mailbox).events_stored
}

// ---------------------------------------------------------------- only to where it was sent

#[tokio::test]
async fn a_307_or_308_from_the_token_endpoint_sends_nothing_to_the_other_origin() {
    for status in [307, 308] {
        let sim = start(sim_config()).await;
        let elsewhere = start(sim_config()).await;
        sim.state().push_fault(Fault::Redirect {
            on: RedirectOn::Token,
            status,
            location: format!("{}/{TENANT}/oauth2/v2.0/token", elsewhere.login_url()),
        });
        let err = client(&sim)
            .create_event(&creds(), ANN, &event("redirected-login"))
            .await
            .expect_err("a redirected login is an error");
        let text = err.operator_text();
        assert_eq!(err.kind, ErrorKind::Auth, "{text}");
        assert!(
            text.contains(&format!("redirecting to {}", host_of(&elsewhere))),
            "names the host: {text}"
        );
        assert!(!text.contains(SECRET), "{text}");
        assert!(
            elsewhere.state().wire_log().is_empty(),
            "the form with the secret reached the other origin: {:?}",
            elsewhere.state().wire_log()
        );
        assert_eq!(events_in(&sim, ANN), 0);
    }
}

#[tokio::test]
async fn a_307_on_a_create_reposts_nothing() {
    let sim = start(sim_config()).await;
    let elsewhere = start(sim_config()).await;
    let graph = client(&sim);
    graph.check_credentials(&creds()).await.expect("token");
    sim.state().push_fault(Fault::Redirect {
        on: RedirectOn::Create {
            mailbox: ANN.into(),
        },
        status: 307,
        location: format!("{}/users/{ANN}/calendar/events", elsewhere.graph_url()),
    });
    let err = graph
        .create_event(&creds(), ANN, &event("redirected-create"))
        .await
        .expect_err("a redirected create is an error");
    let text = err.operator_text();
    assert!(
        text.contains(&format!("redirecting to {}", host_of(&elsewhere))),
        "{text}"
    );
    assert!(err.is_permanent(), "not retried: {text}");
    assert!(elsewhere.state().wire_log().is_empty());
    let creates = sim
        .state()
        .wire_log()
        .iter()
        .filter(|r| r.method == "POST" && r.target.ends_with("/calendar/events"))
        .count();
    assert_eq!(creates, 1, "sent once, not re-posted");
    assert_eq!(events_in(&sim, ANN), 0);
}

// ---------------------------------------------------------------- sovereign clouds

// Graph docs: concepts/deployments.md — "Access tokens acquired for a national cloud deployment
// are not interchangeable with those acquired for the global service or any other national cloud".
#[tokio::test]
async fn each_cloud_gets_a_token_for_its_own_graph_and_no_other() {
    for cloud in Cloud::ALL {
        let sim = start(SimConfig {
            cloud,
            ..sim_config()
        })
        .await;
        client_with(&sim, |c| c.cloud = Some(cloud))
            .check_credentials(&creds())
            .await
            .unwrap_or_else(|e| panic!("{cloud}: {e}"));
        for other in Cloud::ALL.into_iter().filter(|c| *c != cloud) {
            let err = client_with(&sim, |c| c.cloud = Some(other))
                .check_credentials(&creds())
                .await
                .expect_err("a token for another cloud's Graph");
            assert_eq!(
                err.aadsts.as_deref(),
                Some("AADSTS70011"),
                "{cloud}/{other}"
            );
            assert!(
                err.operator_text().contains("same Microsoft cloud"),
                "{}",
                err.operator_text()
            );
        }
    }
}

#[test]
fn the_graph_url_chooses_the_scope_and_the_default_login_host() {
    let env = |graph: &'static str| {
        move |name: &str| (name == "CALSYNC_GRAPH_URL").then(|| graph.to_string())
    };
    for (graph, cloud, login) in [
        (
            "https://graph.microsoft.com/v1.0",
            Cloud::Global,
            "https://login.microsoftonline.com",
        ),
        (
            "https://graph.microsoft.us/v1.0",
            Cloud::UsGovernment,
            "https://login.microsoftonline.us",
        ),
        (
            "https://dod-graph.microsoft.us/v1.0",
            Cloud::UsGovernmentDod,
            "https://login.microsoftonline.us",
        ),
        (
            "https://microsoftgraph.chinacloudapi.cn/v1.0",
            Cloud::China,
            "https://login.chinacloudapi.cn",
        ),
        (
            "http://127.0.0.1:8080/v1.0",
            Cloud::Global,
            "https://login.microsoftonline.com",
        ),
    ] {
        let config = GraphConfig::from_lookup(env(graph)).expect(graph);
        assert_eq!(config.cloud(), cloud, "{graph}");
        assert_eq!(config.login_url, login, "{graph}");
    }
    let rehearsal = GraphConfig::from_lookup(|name| match name {
        "CALSYNC_GRAPH_URL" => Some("http://127.0.0.1:8080/v1.0".into()),
        "CALSYNC_LOGIN_URL" => Some("http://127.0.0.1:8080".into()),
        "CALSYNC_GRAPH_CLOUD" => Some("usgov-dod".into()),
        _ => None,
    })
    .expect("a simulator rehearsing DoD");
    assert_eq!(rehearsal.cloud(), Cloud::UsGovernmentDod);
    assert_eq!(rehearsal.login_url, "http://127.0.0.1:8080");
    let bad = GraphConfig::from_lookup(|name| {
        (name == "CALSYNC_GRAPH_CLOUD").then(|| "mars".to_string())
    })
    .expect_err("an unknown cloud");
    assert!(bad.contains("CALSYNC_GRAPH_CLOUD"), "{bad}");
}

// ---------------------------------------------------------------- zones

fn window_event(zone: &str) -> Value {
    let window = resolve_slot_window(
        NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        NaiveTime::from_hms_opt(9, 30, 0).unwrap(),
        NaiveTime::from_hms_opt(10, 30, 0).unwrap(),
        zone,
    )
    .unwrap();
    let times = graph_times(&window);
    json!({
        "subject": zone,
        "start": {"dateTime": times.start, "timeZone": times.time_zone},
        "end": {"dateTime": times.end, "timeZone": times.time_zone},
    })
}

// Graph docs: resources/datetimetimezone.md — Windows zones and the listed IANA names only.
#[tokio::test]
async fn every_zone_chrono_tz_knows_is_accepted_by_exchange_at_the_right_instant() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let requests: Vec<BatchRequest> = chrono_tz::TZ_VARIANTS
        .iter()
        .enumerate()
        .map(|(i, zone)| {
            BatchRequest::create_event(
                format!("z{i}"),
                &format!("zones{}@contoso.com", i % 16),
                window_event(zone.name()),
            )
        })
        .collect();
    let responses = graph.batch(&creds(), requests).await.expect("batch");
    for (response, zone) in responses.iter().zip(chrono_tz::TZ_VARIANTS.iter()) {
        let created = response
            .outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", zone.name()))
            .event()
            .expect("an event");
        // Responses come in UTC (Prefer outlook.timezone="UTC"): the instant the slot means.
        let window = resolve_slot_window(
            NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
            NaiveTime::from_hms_opt(9, 30, 0).unwrap(),
            NaiveTime::from_hms_opt(10, 30, 0).unwrap(),
            zone.name(),
        )
        .unwrap();
        let start = created.start.expect("start");
        assert!(
            start
                .date_time
                .starts_with(&window.start_utc.format("%Y-%m-%dT%H:%M:%S").to_string()),
            "{}: {} is not {}",
            zone.name(),
            start.date_time,
            window.start_utc
        );
    }
    for alias in ["US/Eastern", "Asia/Istanbul", "Canada/Central", "Etc/UCT"] {
        let mut raw = event(alias);
        raw["start"]["timeZone"] = json!(alias);
        raw["end"]["timeZone"] = json!(alias);
        let err = graph
            .create_event(&creds(), ANN, &raw)
            .await
            .expect_err("Exchange refuses an unlisted IANA name");
        assert_eq!(err.kind, ErrorKind::TimeZone, "{alias}");
        assert_eq!(err.code.as_deref(), Some("TimeZoneNotSupportedException"));
    }
}

// ---------------------------------------------------------------- identities

// Graph docs: api-reference/v1.0/api/user-get.md — a userPrincipalName that begins with `$`
// is addressed as `/users('$x@y.com')`; `/users/$x@y.com` fails with 400.
#[tokio::test]
async fn a_upn_beginning_with_a_dollar_is_addressed_in_parentheses() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let upn = "$adele@contoso.com";
    let created = graph
        .create_event(&creds(), upn, &event("dollar"))
        .await
        .expect("create");
    let read = graph
        .get_event(&creds(), upn, &created.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(read.id, created.id);
    let batch = graph
        .batch(
            &creds(),
            vec![BatchRequest::get_event("g", upn, &created.id)],
        )
        .await
        .expect("batch");
    assert!(batch[0].is_success(), "{:?}", batch[0].outcome);
    assert_eq!(events_in(&sim, upn), 1);
    let paths: Vec<String> = sim
        .state()
        .wire_log()
        .into_iter()
        .map(|r| r.target)
        .filter(|t| t.contains("adele"))
        .collect();
    assert!(
        paths
            .iter()
            .all(|t| t.contains("/users('%24adele@contoso.com')/")),
        "{paths:?}"
    );
    let token = sim.state().issued_tokens().pop().expect("a token");
    let plain = reqwest::Client::new()
        .get(format!(
            "{}/users/$adele@contoso.com/events/{}",
            sim.graph_url(),
            created.id
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(plain.status().as_u16(), 400, "the form Graph refuses");
}

// ---------------------------------------------------------------- diagnostics

#[tokio::test]
async fn every_request_says_it_is_calsync_and_its_version() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let created = graph
        .create_event(&creds(), ANN, &event("ua"))
        .await
        .expect("create");
    graph
        .batch(
            &creds(),
            vec![BatchRequest::get_event("g", ANN, &created.id)],
        )
        .await
        .expect("batch");
    let log = sim.state().wire_log();
    assert!(log.len() >= 3, "token, create, batch: {log:?}");
    assert_eq!(USER_AGENT, concat!("calsync/", env!("CARGO_PKG_VERSION")));
    for request in log {
        assert_eq!(
            request.user_agent.as_deref(),
            Some(USER_AGENT),
            "{}",
            request.target
        );
    }
}

// Graph docs: concepts/best-practices-concept.md — retry a 503 on a new connection.
#[tokio::test]
async fn a_retry_after_a_503_goes_out_on_a_new_connection() {
    let sim = start(sim_config()).await;
    let graph = client(&sim);
    let created = graph
        .create_event(&creds(), ANN, &event("conn"))
        .await
        .expect("create");
    for _ in 0..2 {
        graph
            .get_event(&creds(), ANN, &created.id)
            .await
            .expect("get");
    }
    sim.state().push_fault(Fault::FailNext {
        mailbox: ANN.into(),
        count: 1,
        status: 503,
    });
    graph
        .get_event(&creds(), ANN, &created.id)
        .await
        .expect("retried after the 503");
    let reads: Vec<_> = sim
        .state()
        .wire_log()
        .into_iter()
        .filter(|r| r.method == "GET" && r.target.contains("/events/"))
        .map(|r| r.peer.expect("peer address"))
        .collect();
    assert_eq!(reads.len(), 4, "two reads, the 503 and its retry");
    assert_eq!(
        reads[0], reads[1],
        "without a 503 the pooled connection is reused"
    );
    assert_ne!(
        reads[2], reads[3],
        "the retry after the 503 used the same connection"
    );
}

#[tokio::test]
async fn a_login_retry_after_a_503_goes_out_on_a_new_connection() {
    let sim = start(sim_config()).await;
    sim.state().push_fault(Fault::TokenUnavailable { count: 1 });
    client(&sim)
        .check_credentials(&creds())
        .await
        .expect("the second attempt gets a token");
    let logins: Vec<_> = sim
        .state()
        .wire_log()
        .into_iter()
        .filter(|r| r.target.ends_with("/oauth2/v2.0/token"))
        .map(|r| r.peer.expect("peer address"))
        .collect();
    assert_eq!(logins.len(), 2, "the 503 and its retry");
    assert_ne!(
        logins[0], logins[1],
        "the retry reused the connection of the 503"
    );
}

#[tokio::test]
async fn x_ms_ags_diagnostic_is_kept_with_the_request_id() {
    let sim = start(sim_config()).await;
    let err = client(&sim)
        .create_event(&creds(), ANN, &{
            let mut e = event("diag");
            e["start"]["timeZone"] = json!("Mars/Olympus_Mons");
            e
        })
        .await
        .expect_err("refused");
    assert!(err.request_id.is_some());
    let diagnostic = err.ags_diagnostic.as_deref().expect("x-ms-ags-diagnostic");
    let parsed: Value = serde_json::from_str(diagnostic).expect("the header's JSON");
    assert!(
        parsed["ServerInfo"]["DataCenter"].is_string(),
        "{diagnostic}"
    );
}

// ---------------------------------------------------------------- login outages

fn learner_ids(n: i64) -> Vec<i64> {
    (0..n).map(|i| 1000 + i * 2).collect()
}

on_both_backends! {
    async fn a_login_outage_is_retried_once_per_run_not_once_per_selection(backend: Backend) {
        let world = World::with(backend, sim_config(), |c| {
            c.max_attempts = 3;
            c.backoff_base = Duration::from_millis(50);
        })
        .await;
        add_learners(&world.db, 16, false).await;
        world.sim.state().push_fault(Fault::TokenUnavailable { count: 1000 });
        let started = Instant::now();
        let (summary, items) = world.sync(learner_ids(16)).await;
        assert_eq!(summary.failed, 16, "{:?}", summary.failures);
        assert_eq!(
            world.sim.state().stats().token_requests,
            3,
            "one round of retries for the run, not one per selection"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        for item in items {
            let calsync::sync::Outcome::Failed { error, .. } = &item.outcome else {
                panic!("{:?}", item.outcome);
            };
            assert!(error.contains("temporarily_unavailable"), "{error}");
        }
    }
}

on_both_backends! {
    // The console's jobs call the engine directly, with only their own cancellation token:
    // the engine itself must make that token end a hanging login.
    async fn cancelling_an_engine_run_ends_its_wait_for_a_hanging_login(backend: Backend) {
        let world = World::new(backend).await;
        add_learners(&world.db, 8, false).await;
        world.sim.state().push_fault(Fault::TokenStall { count: 1000, duration: Duration::from_secs(120) });
        let ids = learner_ids(8);
        let cancel = tokio_util::sync::CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(800)).await;
            stop.cancel();
        });
        let started = Instant::now();
        let (summary, _) = world.sync_with(ids, cancel).await;
        assert!(started.elapsed() < Duration::from_secs(5), "the run took {:?}", started.elapsed());
        assert_eq!(summary.synced, 0);
        assert_eq!(events_in(&world.sim, "learner100@example.org"), 0, "nothing reached Graph");
    }
}

on_both_backends! {
    async fn ctrl_c_ends_a_run_within_seconds_while_the_login_service_hangs(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        add_learners(&db, 16, false).await;
        let sim = start(sim_config()).await;
        sim.state().push_fault(Fault::TokenStall { count: 1000, duration: Duration::from_secs(120) });
        let child = Command::new(env!("CARGO_BIN_EXE_calsync"))
            .args(["--database-url", &db.url_string(), "sync", "--concurrency", "4"])
            .env("CALSYNC_GRAPH_URL", sim.graph_url())
            .env("CALSYNC_LOGIN_URL", sim.login_url())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let logins = || sim.state().wire_log().iter().filter(|r| r.target.ends_with("/oauth2/v2.0/token")).count();
        assert_eq!(logins(), 1, "one login is hanging, the other selections wait for it");
        let interrupted = Instant::now();
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(
            interrupted.elapsed() < Duration::from_secs(5),
            "Ctrl-C took {:?}",
            interrupted.elapsed()
        );
        assert_eq!(output.status.code(), Some(1), "a cancelled run is not a complete one");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("Not started (cancelled): "), "{stdout}");
        assert_eq!(events_in(&sim, "learner100@example.org"), 0);
        let abandoned = db
            .scalar_text(
                "SELECT CAST(COUNT(*) AS TEXT) FROM conferences_conferencetimeslotselection \
                 WHERE calendar_error LIKE '%cancelled while waiting for the login service%'",
            )
            .await
            .unwrap_or_default();
        let abandoned: usize = abandoned.parse().unwrap_or(usize::MAX);
        assert!((1..=4).contains(&abandoned), "the rows in flight, and only they, say why: {abandoned}");
    }
}

// ---------------------------------------------------------------- the request log

const LOG_KEYS: [&str; 11] = [
    "time",
    "service",
    "method",
    "path",
    "status",
    "duration_ms",
    "attempt",
    "request-id",
    "client-request-id",
    "x-ms-ags-diagnostic",
    "failure",
];

fn read_log(path: &std::path::Path) -> Vec<(String, Value)> {
    std::fs::read_to_string(path)
        .expect("the log file")
        .lines()
        .map(|line| {
            (
                line.to_string(),
                serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}")),
            )
        })
        .collect()
}

on_both_backends! {
    async fn the_request_log_has_one_line_per_request_and_no_secret_token_or_address(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        add_learners(&db, 3, false).await;
        let sim = start(sim_config()).await;
        let dir = tempfile::tempdir().unwrap();
        let by_flag = dir.path().join("requests.jsonl");
        let by_env = dir.path().join("env.jsonl");
        let url = db.url_string();
        let flag_path = by_flag.display().to_string();
        let graph_url = sim.graph_url();
        let login_url = sim.login_url();
        let run = crate::cli::calsync(
            &["--database-url", &url, "--log-file", &flag_path, "sync"],
            &[("CALSYNC_GRAPH_URL", &graph_url), ("CALSYNC_LOGIN_URL", &login_url)],
        );
        assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
        let lines = read_log(&by_flag);
        let wire = sim.state().wire_log();
        assert_eq!(lines.len(), wire.len(), "one line per request that reached Graph or login");
        assert!(lines.iter().any(|(_, l)| l["service"] == "login"));
        assert!(lines.iter().any(|(_, l)| l["service"] == "graph" && l["method"] == "POST"));
        let mut forbidden = sim.state().issued_tokens();
        forbidden.push(SECRET.to_string());
        for (raw, line) in &lines {
            let keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
            for key in &keys {
                assert!(LOG_KEYS.contains(key), "unexpected key {key} in {raw}");
            }
            for key in ["time", "service", "method", "path", "status", "duration_ms", "attempt", "request-id", "client-request-id", "x-ms-ags-diagnostic"] {
                assert!(keys.contains(&key), "{key} missing in {raw}");
            }
            assert!(!raw.contains('@') && !raw.contains("%40"), "an address in {raw}");
            for secret in &forbidden {
                assert!(!raw.contains(secret.as_str()), "a secret or token in {raw}");
            }
            assert!(!raw.contains("calsync-selection-"), "a filter value in {raw}");
        }
        assert!(
            lines.iter().any(|(_, l)| l["path"].as_str().unwrap().contains("/users/{user}/")),
            "mailboxes are placeholders"
        );

        // The same through CALSYNC_LOG, on a run that looks events up by their tags.
        let env_path = by_env.display().to_string();
        let run = crate::cli::calsync(
            &["--database-url", &url, "sync", "--all"],
            &[
                ("CALSYNC_GRAPH_URL", &graph_url),
                ("CALSYNC_LOGIN_URL", &login_url),
                ("CALSYNC_LOG", &env_path),
            ],
        );
        assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
        let lines = read_log(&by_env);
        assert!(!lines.is_empty());
        for (raw, _) in &lines {
            assert!(!raw.contains('@') && !raw.contains("%40"), "an address in {raw}");
            assert!(!raw.contains(SECRET));
        }
    }
}

#[test]
fn an_unwritable_request_log_is_one_line_and_exit_2() {
    let run = crate::cli::calsync(
        &["--log-file", "/nonexistent-dir/requests.jsonl", "status"],
        &[],
    );
    crate::cli::assert_one_line_error(&run, "cannot open the request log");
}
