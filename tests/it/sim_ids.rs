//! The simulated Graph's two id formats, `translateExchangeIds` and Deleted Items, spoken to over
//! raw HTTP. Each test names the Microsoft documentation it follows.

use std::time::Duration;

use calsync::sim::{SimConfig, SimHandle, SimServer, SimTenant};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT: &str = "0b8c1f5e-7d21-4f4a-9a57-3c2e8d6b1a90";
const SECRET: &str = "sim-secret~42";
const ANN: &str = "ann@contoso.com";
const IMMUTABLE: &str = "IdType=\"ImmutableId\"";

async fn start() -> SimHandle {
    SimServer::start(SimConfig {
        tenants: vec![SimTenant::new(TENANT, CLIENT, SECRET)],
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn http() -> reqwest::Client {
    calsync::graph::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

async fn token(sim: &SimHandle) -> String {
    let reply: Value = http()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", sim.login_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .expect("token response")
        .json()
        .await
        .expect("token JSON");
    reply["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// One Graph call; `prefer` is the `Prefer` header, if any.
async fn call(
    sim: &SimHandle,
    token: &str,
    method: reqwest::Method,
    path: &str,
    prefer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http()
        .request(method, format!("{}{path}", sim.graph_url()))
        .bearer_auth(token);
    if let Some(prefer) = prefer {
        request = request.header("Prefer", prefer);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("response");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn event_path(collection: &str, id: &str) -> String {
    format!(
        "/users/{ANN}/{collection}/{}",
        utf8_percent_encode(id, NON_ALPHANUMERIC)
    )
}

fn meeting() -> Value {
    json!({
        "subject": "Induction Q&A",
        "start": {"dateTime": "2026-07-15T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-07-15T11:00:00", "timeZone": "UTC"},
    })
}

/// Creates an event as the LMS does (no `Prefer: IdType`): returns its REST id.
async fn create_as_the_lms(sim: &SimHandle, token: &str) -> String {
    let (status, body) = call(
        sim,
        token,
        reqwest::Method::POST,
        &format!("/users/{ANN}/calendar/events"),
        None,
        Some(meeting()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("id").to_string()
}

async fn translate(
    sim: &SimHandle,
    token: &str,
    ids: &[&str],
    source: &str,
    target: &str,
) -> (StatusCode, Value) {
    call(
        sim,
        token,
        reqwest::Method::POST,
        &format!("/users/{ANN}/translateExchangeIds"),
        None,
        Some(json!({"inputIds": ids, "sourceIdType": source, "targetIdType": target})),
    )
    .await
}

// Graph docs: concepts/outlook-immutable-id.md — "To opt in, your application needs to send
// an additional HTTP header", "This header only applies to the request it is included with",
// and "Immutable identifiers, like all identifiers in Microsoft Graph, are case-sensitive".
#[tokio::test]
async fn responses_use_the_id_format_prefer_asks_for_and_paths_take_either() {
    let sim = start().await;
    let token = token(&sim).await;
    let rest = create_as_the_lms(&sim, &token).await;

    let (status, by_rest) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &event_path("events", &rest),
        Some(IMMUTABLE),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let immutable = by_rest["id"].as_str().expect("id").to_string();
    assert_ne!(
        immutable, rest,
        "the two formats of one item are different strings"
    );

    // Without the header the next request is answered in the default format again.
    let (_, plain) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &event_path("calendar/events", &immutable),
        None,
        None,
    )
    .await;
    assert_eq!(plain["id"], rest.as_str());
    let (status, patched) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &event_path("events", &immutable),
        Some("outlook.timezone=\"UTC\", IdType=\"ImmutableId\""),
        Some(json!({"subject": "Moved"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (patched["id"].as_str(), patched["subject"].as_str()),
        (Some(immutable.as_str()), Some("Moved"))
    );

    // Case-sensitive: the same letters in another case name nothing.
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &event_path("events", &rest.to_lowercase()),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Collections answer in the asked format too, and $batch items carry their own header.
    let (_, view) = call(
        &sim, &token, reqwest::Method::GET,
        &format!("/users/{ANN}/calendarView?startDateTime=2026-07-15T00:00:00Z&endDateTime=2026-07-16T00:00:00Z"),
        Some(IMMUTABLE), None,
    ).await;
    assert_eq!(view["value"][0]["id"], immutable.as_str());
    let (status, batch) = call(
        &sim, &token, reqwest::Method::POST, "/$batch", None,
        Some(json!({"requests": [
            {"id": "1", "method": "GET", "url": event_path("events", &rest), "headers": {"Prefer": IMMUTABLE}},
            {"id": "2", "method": "GET", "url": event_path("events", &immutable)},
        ]})),
    ).await;
    assert_eq!(status, StatusCode::OK);
    let responses = batch["responses"].as_array().expect("responses");
    let item = |id: &str| {
        responses
            .iter()
            .find(|r| r["id"] == id)
            .expect("item")
            .clone()
    };
    assert_eq!(item("1")["body"]["id"], immutable.as_str());
    assert_eq!(item("2")["body"]["id"], rest.as_str());

    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::DELETE,
        &event_path("events", &immutable),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &event_path("events", &rest),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// Graph docs: api-reference/v1.0/api/user-translateexchangeids.md (request and response shape,
// "Maximum size of this collection is 1000 strings") and resources/convertidresult.md
// (`errorDetails` for an id that could not be converted, `targetId` absent then).
#[tokio::test]
async fn translate_exchange_ids_converts_both_ways_within_the_documented_limit() {
    let sim = start().await;
    let token = token(&sim).await;
    let first = create_as_the_lms(&sim, &token).await;
    let second = create_as_the_lms(&sim, &token).await;

    let (status, body) = translate(
        &sim,
        &token,
        &[&first, &second, "AAMkAGnothing="],
        "restId",
        "restImmutableEntryId",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let value = body["value"].as_array().expect("value");
    assert_eq!(value.len(), 3);
    assert_eq!(value[0]["sourceId"], first.as_str());
    let immutable = value[0]["targetId"].as_str().expect("targetId").to_string();
    assert_ne!(immutable, first);
    assert_ne!(value[1]["targetId"], value[0]["targetId"]);
    assert!(value[2].get("targetId").is_none());
    assert_eq!(value[2]["errorDetails"]["code"], "ErrorItemNotFound");

    let (_, back) = translate(
        &sim,
        &token,
        &[&immutable],
        "restImmutableEntryId",
        "restId",
    )
    .await;
    assert_eq!(back["value"][0]["targetId"], first.as_str());
    // An id of the other format is not an id of the declared source format.
    let (_, wrong) = translate(
        &sim,
        &token,
        &[&immutable],
        "restId",
        "restImmutableEntryId",
    )
    .await;
    assert!(wrong["value"][0]["errorDetails"].is_object(), "{wrong}");

    let too_many: Vec<String> = (0..1001).map(|i| format!("AAMkAG{i}=")).collect();
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let (status, _) = translate(&sim, &token, &refs, "restId", "restImmutableEntryId").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = translate(
        &sim,
        &token,
        &refs[..1000],
        "restId",
        "restImmutableEntryId",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = translate(&sim, &token, &[&first], "restId", "immutableId").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "not an exchangeIdFormat value"
    );
}

// Graph docs: concepts/outlook-immutable-id.md — ids change "if the item is moved", and an
// item's "immutable ID will NOT change if the item is moved to a different folder in the
// mailbox"; a delete in Outlook moves the event to Deleted Items. The calendar's own paths
// (`/calendar/events/{id}`, calendarView, the events list) no longer reach it; `/events/{id}`
// addresses the item wherever it is in the mailbox.
#[tokio::test]
async fn an_event_its_owner_deleted_moves_to_deleted_items_keeping_only_its_immutable_id() {
    let sim = start().await;
    let token = token(&sim).await;
    let rest = create_as_the_lms(&sim, &token).await;
    let immutable = sim
        .state()
        .immutable_id_of(ANN, &rest)
        .expect("immutable id");

    assert!(sim.state().delete_as_owner(ANN, &rest));
    assert_eq!(sim.state().deleted_items_count(ANN), 1);
    assert_eq!(sim.state().event_count(ANN), 0, "no longer in the calendar");

    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &event_path("events", &rest),
        None,
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the old REST id names nothing now"
    );
    let (status, moved) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &event_path("events", &immutable),
        None,
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the immutable id still reaches the item"
    );
    let new_rest = moved["id"].as_str().expect("id").to_string();
    assert_ne!(new_rest, rest, "moving changed its REST id");
    for id in [&immutable, &new_rest] {
        let (status, _) = call(
            &sim,
            &token,
            reqwest::Method::GET,
            &event_path("calendar/events", id),
            Some(IMMUTABLE),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "not in the calendar");
    }
    let (_, view) = call(
        &sim, &token, reqwest::Method::GET,
        &format!("/users/{ANN}/calendarView?startDateTime=2026-07-15T00:00:00Z&endDateTime=2026-07-16T00:00:00Z"),
        None, None,
    ).await;
    assert_eq!(view["value"], json!([]));
    let (_, list) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &format!("/users/{ANN}/events"),
        None,
        None,
    )
    .await;
    assert_eq!(list["value"], json!([]));

    let (_, old) = translate(&sim, &token, &[&rest], "restId", "restImmutableEntryId").await;
    assert!(old["value"][0]["errorDetails"].is_object());
    let (_, now) = translate(
        &sim,
        &token,
        &[&immutable],
        "restImmutableEntryId",
        "restId",
    )
    .await;
    assert_eq!(now["value"][0]["targetId"], new_rest.as_str());
}
