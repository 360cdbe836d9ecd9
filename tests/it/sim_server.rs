//! The simulated Graph, spoken to over raw HTTP: what a client sees on the wire.

use std::collections::HashSet;
use std::time::Duration;

use calsync::sim::{
    Directory, Fault, GhostReply, Latency, MailboxState, RetryAfterMode, SimConfig, SimHandle,
    SimServer, SimTenant,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT: &str = "0b8c1f5e-7d21-4f4a-9a57-3c2e8d6b1a90";
const SECRET: &str = "sim-secret~42";
const SCOPE: &str = "https://graph.microsoft.com/.default";
const PROP: &str = "String {8d9a1c3e-5b7f-4e2a-9c61-0f3b2d4e6a71} Name CalsyncSyncKey";

fn config() -> SimConfig {
    SimConfig {
        tenants: vec![SimTenant::new(TENANT, CLIENT, SECRET)],
        ..SimConfig::default()
    }
}

async fn start(config: SimConfig) -> SimHandle {
    SimServer::start(config).await.expect("simulator starts")
}

fn http() -> reqwest::Client {
    calsync::graph::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

struct Wire {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Wire {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

async fn wire(req: reqwest::RequestBuilder) -> Wire {
    let resp = req.send().await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Wire {
        status,
        headers,
        body,
    }
}

async fn token_request(sim: &SimHandle, tenant: &str, form: &[(&str, &str)]) -> Wire {
    wire(
        http()
            .post(format!("{}/{tenant}/oauth2/v2.0/token", sim.login_url()))
            .form(form),
    )
    .await
}

async fn token(sim: &SimHandle) -> String {
    let w = token_request(
        sim,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ],
    )
    .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.body);
    w.body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

fn event(start: &str, end: &str, tz: &str) -> Value {
    json!({
        "subject": "Conference",
        "body": {"contentType": "text", "content": "hello"},
        "start": {"dateTime": start, "timeZone": tz},
        "end": {"dateTime": end, "timeZone": tz},
    })
}

async fn post_event(sim: &SimHandle, token: &str, user: &str, body: &Value) -> Wire {
    wire(
        http()
            .post(format!("{}/users/{user}/calendar/events", sim.graph_url()))
            .bearer_auth(token)
            .json(body),
    )
    .await
}

#[tokio::test]
async fn token_endpoint_issues_bearer_tokens() {
    let sim = start(SimConfig {
        token_lifetime: Duration::from_secs(600),
        ..config()
    })
    .await;
    let w = token_request(
        &sim,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ],
    )
    .await;
    assert_eq!(w.status, StatusCode::OK);
    assert_eq!(w.body["token_type"], "Bearer");
    assert_eq!(w.body["expires_in"], 600);
    assert_eq!(w.body["ext_expires_in"], 600);
    assert!(
        w.body["access_token"]
            .as_str()
            .is_some_and(|t| t.len() > 20)
    );
    assert_eq!(sim.state().stats().tokens_issued, 1);
}

#[tokio::test]
async fn token_endpoint_errors_match_the_identity_platform() {
    let sim = start(config()).await;
    sim.state().push_fault(Fault::TokenUnavailable { count: 1 });
    let ok_form = |secret: &'static str, scope: &'static str, client: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", secret),
            ("scope", scope),
        ]
    };
    let unavailable = token_request(&sim, TENANT, &ok_form(SECRET, SCOPE, CLIENT)).await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unavailable.body["error"], "temporarily_unavailable");

    // (tenant, form, status, error, AADSTS code)
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        u16,
        &'static str,
        u64,
    );
    let cases: Vec<Case> = vec![
        (
            "nowhere.example",
            ok_form(SECRET, SCOPE, CLIENT),
            400,
            "invalid_request",
            90002,
        ),
        (
            TENANT,
            ok_form(SECRET, SCOPE, "unknown-app"),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            TENANT,
            ok_form("wrong", SCOPE, CLIENT),
            401,
            "invalid_client",
            7000215,
        ),
        (
            TENANT,
            ok_form("", SCOPE, CLIENT),
            400,
            "invalid_request",
            7000216,
        ),
        (
            TENANT,
            ok_form(
                SECRET,
                "https://graph.microsoft.com/Calendars.ReadWrite",
                CLIENT,
            ),
            400,
            "invalid_scope",
            1002012,
        ),
    ];
    for (tenant, form, status, error, code) in cases {
        let w = token_request(&sim, tenant, &form).await;
        assert_eq!(w.status.as_u16(), status, "{error} {code}: {}", w.body);
        assert_eq!(w.body["error"], error);
        assert_eq!(w.body["error_codes"], json!([code]));
        let description = w.body["error_description"].as_str().expect("description");
        assert!(
            description.starts_with(&format!("AADSTS{code}: ")),
            "{description}"
        );
        assert!(description.contains("\r\nTrace ID: "));
        for field in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
            assert!(w.body[field].is_string(), "{field} in {}", w.body);
        }
        assert!(!w.body.to_string().contains(SECRET));
    }
    sim.state().expire_secret(TENANT, CLIENT);
    let expired = token_request(&sim, TENANT, &ok_form(SECRET, SCOPE, CLIENT)).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.body["error_codes"], json!([7000222]));
}

#[tokio::test]
async fn graph_rejects_missing_invalid_and_expired_tokens() {
    let sim = start(config()).await;
    let url = format!("{}/users/ann@contoso.com/events/AAMkAGx=", sim.graph_url());
    let missing = wire(http().get(&url)).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.code(), "InvalidAuthenticationToken");
    assert!(
        missing
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer realm=\"\""))
    );
    let bogus = wire(http().get(&url).bearer_auth("not-a-token")).await;
    assert_eq!(bogus.message(), "Access token validation failure.");

    let token = token(&sim).await;
    let fine = wire(http().get(&url).bearer_auth(&token)).await;
    assert_eq!(
        fine.status,
        StatusCode::NOT_FOUND,
        "valid token, no such event"
    );
    sim.state().expire_all_tokens();
    let expired = wire(http().get(&url).bearer_auth(&token)).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        expired.message(),
        "Access token has expired or is not yet valid."
    );
    assert_eq!(sim.state().stats().unauthorized, 3);
}

#[tokio::test]
async fn every_response_carries_ids_a_date_and_the_simulator_label() {
    let sim = start(config()).await;
    let token = token(&sim).await;
    let w = wire(
        http()
            .get(format!(
                "{}/users/ann@contoso.com/events/nope",
                sim.graph_url()
            ))
            .bearer_auth(&token)
            .header("client-request-id", "my-correlation-id"),
    )
    .await;
    assert_eq!(w.status, StatusCode::NOT_FOUND);
    assert_eq!(w.code(), "ErrorItemNotFound");
    assert_eq!(
        w.message(),
        "The specified object was not found in the store."
    );
    let rid = w.header("request-id").expect("request-id").to_string();
    assert_eq!(w.header("client-request-id"), Some("my-correlation-id"));
    assert!(w.header("date").is_some_and(|d| d.ends_with(" GMT")));
    assert_eq!(w.header("x-calsync-simulator"), Some("1"));
    assert!(
        w.header("x-ms-ags-diagnostic")
            .is_some_and(|d| d.contains("simulated Graph"))
    );
    let inner = &w.body["error"]["innerError"];
    assert_eq!(inner["request-id"], json!(rid));
    assert_eq!(inner["client-request-id"], "my-correlation-id");
    assert!(inner["date"].is_string());

    // Without a client-request-id, it equals the request-id.
    let w = wire(
        http()
            .get(format!("{}/users/a@b.c/events/x", sim.graph_url()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(w.header("client-request-id"), w.header("request-id"));
}

#[tokio::test]
async fn me_is_rejected_for_app_only_tokens() {
    let sim = start(config()).await;
    let token = token(&sim).await;
    let w = wire(
        http()
            .get(format!("{}/me/events", sim.graph_url()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(w.status, StatusCode::BAD_REQUEST);
    assert_eq!(w.code(), "BadRequest");
    assert_eq!(
        w.message(),
        "/me request is only valid with delegated authentication flow."
    );
}

#[tokio::test]
async fn converts_windows_and_iana_zones_to_utc() {
    let sim = start(config()).await;
    let token = token(&sim).await;
    let berlin = post_event(
        &sim,
        &token,
        "ann@contoso.com",
        &event(
            "2026-07-15T10:00:00",
            "2026-07-15T11:30:00.5",
            "W. Europe Standard Time",
        ),
    )
    .await;
    assert_eq!(berlin.status, StatusCode::CREATED, "{}", berlin.body);
    assert_eq!(
        berlin.body["start"]["dateTime"],
        "2026-07-15T08:00:00.0000000"
    );
    assert_eq!(
        berlin.body["end"]["dateTime"],
        "2026-07-15T09:30:00.5000000"
    );
    assert_eq!(berlin.body["start"]["timeZone"], "UTC");
    assert_eq!(
        berlin.body["originalStartTimeZone"],
        "W. Europe Standard Time"
    );
    assert!(
        berlin.body["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("AAMkAG"))
    );
    assert_eq!(
        berlin.body["@odata.etag"],
        json!(format!(
            "W/\"{}\"",
            berlin.body["changeKey"].as_str().unwrap_or("")
        ))
    );
    assert!(
        berlin.body["iCalUId"]
            .as_str()
            .is_some_and(|u| u.starts_with("040000008200E00074C5B7101A82E008"))
    );

    let ny = wire(
        http()
            .post(format!("{}/users/ann@contoso.com/events", sim.graph_url()))
            .bearer_auth(&token)
            .header("Prefer", "outlook.timezone=\"Tokyo Standard Time\"")
            .json(&event(
                "2026-01-15T10:00:00",
                "2026-01-15T11:00:00",
                "America/New_York",
            )),
    )
    .await;
    assert_eq!(ny.status, StatusCode::CREATED);
    assert_eq!(ny.body["start"]["dateTime"], "2026-01-16T00:00:00.0000000");
    assert_eq!(ny.body["start"]["timeZone"], "Tokyo Standard Time");
    assert_eq!(sim.state().event_count("ann@contoso.com"), 2);
}

#[tokio::test]
async fn rejects_unknown_zones_bad_order_and_strict_offsets() {
    let sim = start(SimConfig {
        strict_datetime: true,
        ..config()
    })
    .await;
    let token = token(&sim).await;
    let gmt = post_event(
        &sim,
        &token,
        "ann@contoso.com",
        &event(
            "2026-07-15T10:00:00",
            "2026-07-15T11:00:00",
            "Greenwich Mean Time",
        ),
    )
    .await;
    assert_eq!(gmt.status, StatusCode::BAD_REQUEST);
    assert_eq!(gmt.code(), "TimeZoneNotSupportedException");
    assert_eq!(
        gmt.message(),
        "A valid TimeZone value must be specified. The following TimeZone value is not supported: 'Greenwich Mean Time'."
    );

    let backwards = post_event(
        &sim,
        &token,
        "ann@contoso.com",
        &event("2026-07-15T23:00:00", "2026-07-15T01:00:00", "UTC"),
    )
    .await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST);
    assert_eq!(backwards.code(), "ErrorInvalidRequest");

    let offset = post_event(
        &sim,
        &token,
        "ann@contoso.com",
        &event(
            "2026-07-15T10:00:00-04:00",
            "2026-07-15T11:00:00-04:00",
            "America/New_York",
        ),
    )
    .await;
    assert_eq!(offset.status, StatusCode::BAD_REQUEST);
    assert!(
        offset.message().contains("UTC offset"),
        "{}",
        offset.message()
    );

    let missing = post_event(&sim, &token, "ann@contoso.com", &json!({"subject": "x"})).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(sim.state().event_count("ann@contoso.com"), 0);

    // Lenient mode honours the offset, as the LMS's payloads need.
    let lenient = start(config()).await;
    let token = self::token(&lenient).await;
    let ok = post_event(
        &lenient,
        &token,
        "ann@contoso.com",
        &event(
            "2026-07-15T10:00:00-04:00",
            "2026-07-15T11:00:00-04:00",
            "America/New_York",
        ),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(ok.body["start"]["dateTime"], "2026-07-15T14:00:00.0000000");
}

#[tokio::test]
async fn teams_meetings_get_a_join_url() {
    let sim = start(config()).await;
    let token = token(&sim).await;
    let mut body = event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC");
    body["isOnlineMeeting"] = json!(true);
    body["onlineMeetingProvider"] = json!("teamsForBusiness");
    let w = post_event(&sim, &token, "ann@contoso.com", &body).await;
    assert!(
        w.body["onlineMeeting"]["joinUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://teams.microsoft.com/l/meetup-join/"))
    );
    let plain = post_event(
        &sim,
        &token,
        "ann@contoso.com",
        &event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC"),
    )
    .await;
    assert!(plain.body["onlineMeeting"].is_null());
}

#[tokio::test]
async fn over_the_mailbox_limit_gets_429_and_early_retries_are_penalised() {
    let sim = start(SimConfig {
        latency: Latency::fixed(Duration::from_millis(300)),
        throttle_retry_after: Duration::from_secs(5),
        ..config()
    })
    .await;
    let token = token(&sim).await;
    let url = format!("{}/users/busy@contoso.com/events/x", sim.graph_url());
    let jobs = (0..5).map(|_| wire(http().get(&url).bearer_auth(&token)));
    let results = futures::future::join_all(jobs).await;
    let throttled: Vec<&Wire> = results
        .iter()
        .filter(|w| w.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(throttled.len(), 1);
    assert_eq!(throttled[0].code(), "ApplicationThrottled");
    assert_eq!(
        throttled[0].message(),
        "Application is over its MailboxConcurrency limit."
    );
    assert_eq!(throttled[0].header("retry-after"), Some("5"));

    let early = wire(http().get(&url).bearer_auth(&token)).await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    let other = wire(
        http()
            .get(format!(
                "{}/users/calm@contoso.com/events/x",
                sim.graph_url()
            ))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(
        other.status,
        StatusCode::NOT_FOUND,
        "other mailboxes unaffected"
    );
    let busy = sim.state().mailbox_stats("busy@contoso.com");
    assert_eq!(busy.peak_concurrency, 5);
    assert_eq!(busy.throttled, 2);
    assert_eq!(busy.early_retries, 1);
}

#[tokio::test]
async fn retry_after_comes_in_every_configured_form() {
    let cases = [
        (RetryAfterMode::Integer, Some("1")),
        (RetryAfterMode::Decimal, Some("0.250")),
        (RetryAfterMode::HttpDate, None),
        (RetryAfterMode::Absent, None),
    ];
    for (mode, expected) in cases {
        let sim = start(SimConfig {
            retry_after: mode,
            throttle_retry_after: Duration::from_millis(250),
            ..config()
        })
        .await;
        let token = token(&sim).await;
        sim.state().push_fault(Fault::FailNext {
            mailbox: "ann@contoso.com".into(),
            count: 1,
            status: 429,
        });
        let w = wire(
            http()
                .get(format!(
                    "{}/users/ann@contoso.com/events/x",
                    sim.graph_url()
                ))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(w.status, StatusCode::TOO_MANY_REQUESTS);
        let header = w.header("retry-after");
        match mode {
            RetryAfterMode::HttpDate => {
                let date = header.expect("date");
                let parsed = calsync::graph::parse_retry_after(date, std::time::SystemTime::now())
                    .expect("an HTTP-date");
                assert!(parsed <= Duration::from_secs(2), "{date}");
            }
            _ => assert_eq!(header, expected, "{mode:?}"),
        }
    }
}

#[tokio::test]
async fn batch_is_validated_and_answered_out_of_order() {
    let sim = start(config()).await;
    let token = token(&sim).await;
    let batch_url = format!("{}/$batch", sim.graph_url());
    let get = |id: usize| json!({"id": id.to_string(), "method": "GET", "url": format!("/users/ann@contoso.com/events/e{id}")});

    let too_many: Vec<Value> = (0..21).map(get).collect();
    let w = wire(
        http()
            .post(&batch_url)
            .bearer_auth(&token)
            .json(&json!({"requests": too_many})),
    )
    .await;
    assert_eq!(w.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        w.message(),
        "Number of requests inside batch exceeds the limit."
    );

    let dup = json!({"requests": [get(1), {"id": "1", "method": "GET", "url": "users/ann@contoso.com/events/x"}]});
    let w = wire(http().post(&batch_url).bearer_auth(&token).json(&dup)).await;
    assert_eq!(w.status, StatusCode::BAD_REQUEST);

    let mut items: Vec<Value> = (0..10).map(get).collect();
    items.push(json!({
        "id": "no-content-type", "method": "POST", "url": "/users/ann@contoso.com/events",
        "body": event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC")
    }));
    items.push(json!({
        "id": "create", "method": "POST", "url": "users/ann@contoso.com/calendar/events",
        "headers": {"Content-Type": "application/json"},
        "body": event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC")
    }));
    let w = wire(
        http()
            .post(&batch_url)
            .bearer_auth(&token)
            .json(&json!({"requests": items})),
    )
    .await;
    assert_eq!(w.status, StatusCode::OK);
    let responses = w.body["responses"].as_array().expect("responses");
    let order: Vec<&str> = responses.iter().filter_map(|r| r["id"].as_str()).collect();
    let expected: HashSet<String> = (0..10)
        .map(|i| i.to_string())
        .chain(["no-content-type".to_string(), "create".to_string()])
        .collect();
    assert_eq!(
        order.iter().map(|s| s.to_string()).collect::<HashSet<_>>(),
        expected
    );
    let in_request_order: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_ne!(
        order[..10]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        in_request_order,
        "shuffled"
    );
    let by_id = |id: &str| responses.iter().find(|r| r["id"] == id).expect("item");
    assert_eq!(by_id("3")["status"], 404);
    assert_eq!(by_id("3")["body"]["error"]["code"], "ErrorItemNotFound");
    assert!(by_id("3")["body"]["error"]["innerError"]["request-id"].is_string());
    assert_eq!(by_id("no-content-type")["status"], 400);
    assert_eq!(by_id("create")["status"], 201);
    assert_eq!(sim.state().event_count("ann@contoso.com"), 1);
}

#[tokio::test]
async fn batch_items_count_against_mailbox_concurrency() {
    let sim = start(SimConfig {
        per_mailbox_concurrency: 2,
        latency: Latency::fixed(Duration::from_millis(200)),
        ..config()
    })
    .await;
    let token = token(&sim).await;
    let items: Vec<Value> = (0..6)
        .map(|i| {
            json!({
                "id": format!("c{i}"), "method": "POST", "url": "/users/busy@contoso.com/events",
                "headers": {"Content-Type": "application/json"},
                "body": event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC"),
            })
        })
        .collect();
    let w = wire(
        http()
            .post(format!("{}/$batch", sim.graph_url()))
            .bearer_auth(&token)
            .json(&json!({ "requests": items })),
    )
    .await;
    assert_eq!(w.status, StatusCode::OK);
    let responses = w.body["responses"].as_array().expect("responses");
    let throttled: Vec<&Value> = responses.iter().filter(|r| r["status"] == 429).collect();
    let created = responses.iter().filter(|r| r["status"] == 201).count();
    assert!(!throttled.is_empty(), "{responses:?}");
    assert!(created >= 2);
    assert_eq!(created + throttled.len(), 6);
    for item in &throttled {
        assert!(item["headers"]["Retry-After"].is_string());
        assert_eq!(
            item["body"]["error"]["message"],
            "Application is over its MailboxConcurrency limit."
        );
    }
    assert_eq!(sim.state().event_count("busy@contoso.com"), created);
    let busy = sim.state().mailbox_stats("busy@contoso.com");
    assert_eq!(
        busy.early_retries, 0,
        "siblings in one batch are not early retries"
    );
}

// Graph docs: api-reference/v1.0/resources/event.md — `transactionId` lets the server "avoid
// redundant POST operations in case of client retries", and no window for it is documented:
// calsync must be right with the de-duplication off (`calsync graph-sim --no-dedupe`).
#[tokio::test]
async fn transaction_id_dedup_can_be_switched_off() {
    for (dedup, expected_events) in [(true, 1), (false, 2)] {
        let sim = start(SimConfig {
            transaction_id_dedup: dedup,
            ..config()
        })
        .await;
        let token = token(&sim).await;
        let mut body = event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC");
        body["transactionId"] = json!("calsync-42");
        let a = post_event(&sim, &token, "ann@contoso.com", &body).await;
        let b = post_event(&sim, &token, "ann@contoso.com", &body).await;
        assert_eq!(a.status, StatusCode::CREATED);
        assert_eq!(b.status, StatusCode::CREATED);
        assert_eq!(a.body["id"] == b.body["id"], dedup);
        assert_eq!(a.body["transactionId"], "calsync-42");
        assert_eq!(sim.state().event_count("ann@contoso.com"), expected_events);
        assert_eq!(
            sim.state()
                .mailbox_stats("ann@contoso.com")
                .duplicate_transaction_ids,
            u64::from(dedup)
        );
    }
}

#[tokio::test]
async fn extended_property_filter_pages_with_next_link() {
    let sim = start(config()).await;
    let token = token(&sim).await;
    for i in 0..25 {
        let mut body = event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC");
        let value = if i < 23 { "wanted" } else { "other" };
        body["singleValueExtendedProperties"] = json!([{"id": PROP, "value": value}]);
        assert_eq!(
            post_event(&sim, &token, "ann@contoso.com", &body)
                .await
                .status,
            StatusCode::CREATED
        );
    }
    let filter = format!(
        "singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq 'wanted')"
    );
    let expand = format!("singleValueExtendedProperties($filter=id eq '{PROP}')");
    let first = reqwest::Url::parse_with_params(
        &format!("{}/users/ann@contoso.com/events", sim.graph_url()),
        &[
            ("$filter", filter.as_str()),
            ("$expand", expand.as_str()),
            ("$top", "10"),
        ],
    )
    .expect("url");
    let mut next = Some(first.to_string());
    let mut pages = 0;
    let mut seen = 0;
    while let Some(url) = next {
        let w = wire(http().get(&url).bearer_auth(&token)).await;
        assert_eq!(w.status, StatusCode::OK, "{}", w.body);
        let values = w.body["value"].as_array().expect("value");
        assert!(
            values
                .iter()
                .all(|e| e["singleValueExtendedProperties"][0]["value"] == "wanted")
        );
        seen += values.len();
        pages += 1;
        next = w.body["@odata.nextLink"].as_str().map(str::to_string);
    }
    assert_eq!((pages, seen), (3, 23));

    let bad = wire(
        http()
            .get(format!(
                "{}/users/ann@contoso.com/events?$filter=subject%20eq%20'x'",
                sim.graph_url()
            ))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn patch_and_delete_follow_graph_semantics() {
    let sim = start(config()).await;
    let token = token(&sim).await;
    let mut body = event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC");
    body["transactionId"] = json!("t-1");
    let created = post_event(&sim, &token, "ann@contoso.com", &body).await;
    let id = created.body["id"].as_str().expect("id").to_string();
    let url = format!(
        "{}/users/ann@contoso.com/events/{}",
        sim.graph_url(),
        percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC)
    );
    let patched = wire(
        http()
            .patch(&url)
            .bearer_auth(&token)
            .json(&json!({"subject": "Moved"})),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["subject"], "Moved");
    assert_ne!(patched.body["changeKey"], created.body["changeKey"]);
    let txn = wire(
        http()
            .patch(&url)
            .bearer_auth(&token)
            .json(&json!({"transactionId": "t-2"})),
    )
    .await;
    assert_eq!(txn.status, StatusCode::BAD_REQUEST);
    let deleted = wire(http().delete(&url).bearer_auth(&token)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again = wire(http().delete(&url).bearer_auth(&token)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.code(), "ErrorItemNotFound");
}

#[tokio::test]
async fn directory_rules_and_mid_run_changes() {
    let sim = start(SimConfig {
        directory: Directory::new(MailboxState::Unknown)
            .with_domain("contoso.com", MailboxState::Ok)
            .with_domain("guests.example", MailboxState::NoMailbox)
            .with_user("vip@guests.example", MailboxState::Ok)
            .with_rule(|address| {
                if address.to_lowercase().ends_with("@fabrikam.com") {
                    MailboxState::AccessDenied
                } else {
                    MailboxState::Unknown
                }
            }),
        ..config()
    })
    .await;
    let token = token(&sim).await;
    let body = event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC");
    let status = |w: Wire| (w.status.as_u16(), w.code().to_string());
    assert_eq!(
        status(post_event(&sim, &token, "Ann@Contoso.com", &body).await).0,
        201
    );
    assert_eq!(
        status(post_event(&sim, &token, "x@guests.example", &body).await),
        (404, "MailboxNotEnabledForRESTAPI".into())
    );
    assert_eq!(
        status(post_event(&sim, &token, "vip@guests.example", &body).await).0,
        201
    );
    assert_eq!(
        status(post_event(&sim, &token, "someone@gmail.com", &body).await),
        (404, "ErrorInvalidUser".into())
    );
    assert_eq!(
        status(post_event(&sim, &token, "Eve@Fabrikam.com", &body).await),
        (403, "ErrorAccessDenied".into())
    );
    sim.state()
        .set_mailbox_state("ann@contoso.com", MailboxState::AccessDenied);
    assert_eq!(
        status(post_event(&sim, &token, "ann@contoso.com", &body).await),
        (403, "ErrorAccessDenied".into())
    );
}

#[tokio::test]
async fn ghost_commit_stores_the_event_then_fails() {
    let sim = start(config()).await;
    let token = token(&sim).await;
    sim.state().push_fault(Fault::GhostCommit {
        mailbox: "ann@contoso.com".into(),
        reply: GhostReply::Status(504),
    });
    let w = post_event(
        &sim,
        &token,
        "ann@contoso.com",
        &event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC"),
    )
    .await;
    assert_eq!(w.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(sim.state().event_count("ann@contoso.com"), 1);
}

#[tokio::test]
async fn random_faults_are_reproducible_for_a_seed() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = start(SimConfig {
            fault_rate: 0.5,
            seed: 7,
            retry_after: RetryAfterMode::Absent,
            ..config()
        })
        .await;
        let token = token(&sim).await;
        let mut statuses = Vec::new();
        for i in 0..20 {
            let w = wire(
                http()
                    .get(format!(
                        "{}/users/u{i}@contoso.com/events/x",
                        sim.graph_url()
                    ))
                    .bearer_auth(&token),
            )
            .await;
            statuses.push(w.status.as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].iter().any(|s| [429, 503, 504].contains(s)));
    assert!(runs[0].contains(&404));
}

#[tokio::test]
async fn control_endpoints_report_and_reset_over_http() {
    let sim = start(config()).await;
    let token = token(&sim).await;
    post_event(
        &sim,
        &token,
        "ann@contoso.com",
        &event("2026-07-15T10:00:00", "2026-07-15T11:00:00", "UTC"),
    )
    .await;
    let stats = wire(http().get(format!("{}/_sim/stats", sim.login_url()))).await;
    assert_eq!(stats.body["simulator"], "simulated Graph");
    assert_eq!(
        stats.body["mailboxes"]["ann@contoso.com"]["events_created"],
        1
    );
    assert_eq!(
        stats.body["mailboxes"]["ann@contoso.com"]["peak_concurrency"],
        1
    );
    let events = wire(http().get(format!(
        "{}/_sim/events?user=ANN@contoso.com",
        sim.login_url()
    )))
    .await;
    assert_eq!(events.body["value"].as_array().map(Vec::len), Some(1));
    let reset = wire(http().post(format!("{}/_sim/reset", sim.login_url()))).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(sim.state().event_count("ann@contoso.com"), 0);
    let info = wire(http().get(format!("{}/_sim", sim.login_url()))).await;
    assert_eq!(info.body["graph_url"], json!(sim.graph_url()));
    sim.shutdown().await;
}
