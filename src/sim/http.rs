//! HTTP front of the simulator: one fallback handler routes by path to the token
//! endpoint, Graph (`/v1.0/…`) and the control endpoints (`/_sim/…`).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::graph_api::{self, ItemRequest};
use super::reply::{ApiError, Reply};
use super::state::{self, Fault, IssuedToken, Shared};
use super::{SIMULATOR_LABEL, detours, wire};

const MAX_BODY: usize = 8 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

/// Which family a response belongs to (decides the error-body stamping).
enum Family {
    Graph,
    Login,
    Control,
}

async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let (request_id, arrival) = {
        let mut inner = shared.lock();
        inner.arrivals += 1;
        inner.wire.record(wire::WireRequest {
            method: parts.method.to_string(),
            target: parts
                .uri
                .path_and_query()
                .map_or_else(String::new, |p| p.to_string()),
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        });
        (inner.rng.guid(), inner.arrivals)
    };
    let client_request_id = parts
        .headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(|| request_id.clone(), str::to_string);
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let reply = Reply::error(ApiError::new(
                413,
                "RequestEntityTooLarge",
                "The request body is too large.",
            ));
            return respond(reply, Family::Graph, &request_id, &client_request_id);
        }
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    // HTTP/2 carries the host in the request's `:authority`, HTTP/1.1 in `Host`.
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("127.0.0.1")
        .to_string();
    let scheme = if shared.https { "https" } else { "http" };
    let origin = format!("{scheme}://{host}");
    let base = format!("{origin}/v1.0");

    let token_path = token_tenant(&path);
    if let Some(reply) = detours::redirect(&shared, &parts.method, &path, token_path.is_some()) {
        return respond(reply, Family::Control, &request_id, &client_request_id);
    }
    let (reply, family) = if path == "/_sim" || path.starts_with("/_sim/") {
        (
            control(&shared, &parts.method, &path, &query, &origin),
            Family::Control,
        )
    } else if let Some(tenant) = token_path {
        (
            token(&shared, &parts.method, &tenant, &bytes).await,
            Family::Login,
        )
    } else if path == "/v1.0" || path.starts_with("/v1.0/") {
        let reply = graph(
            &shared,
            &parts.method,
            &parts.headers,
            &path,
            &query,
            &bytes,
            &base,
            &client_request_id,
            arrival,
        )
        .await;
        (reply, Family::Graph)
    } else {
        (
            Reply::error(ApiError::new(
                404,
                "NotFound",
                format!("The {SIMULATOR_LABEL} has nothing at '{path}'."),
            )),
            Family::Graph,
        )
    };
    respond(reply, family, &request_id, &client_request_id)
}

fn respond(reply: Reply, family: Family, request_id: &str, client_request_id: &str) -> Response {
    let mut body = reply.body;
    let has_body = body.is_some();
    if reply.status >= 400
        && matches!(family, Family::Graph)
        && let Some(b) = body.as_mut()
    {
        graph_api::stamp_error(b, request_id, client_request_id);
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Some(b) => Response::new(Body::from(b.to_string())),
        None => Response::new(Body::empty()),
    };
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let mut put_text = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.append(name, v);
        }
    };
    put_text(REQUEST_ID, request_id);
    put_text(CLIENT_REQUEST_ID, client_request_id);
    if matches!(family, Family::Login) {
        put_text(X_MS_REQUEST_ID, request_id);
    }
    headers.append(header::DATE, http_date());
    headers.append(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    headers.append(X_CALSYNC_SIMULATOR, HeaderValue::from_static("1"));
    headers.append(X_MS_AGS_DIAGNOSTIC, AGS_DIAGNOSTIC.clone());
    if has_body {
        let ct = if status.is_success() && matches!(family, Family::Graph) {
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
        } else {
            "application/json; charset=utf-8"
        };
        headers.append(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    for (k, v) in &reply.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.append(n, v);
        }
    }
    response
}

// The headers every response carries, named once rather than parsed per response.
const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");
const X_MS_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");
const X_CALSYNC_SIMULATOR: HeaderName = HeaderName::from_static("x-calsync-simulator");
const X_MS_AGS_DIAGNOSTIC: HeaderName = HeaderName::from_static("x-ms-ags-diagnostic");

/// Where Graph says it served a request: the same for every response, so built once.
static AGS_DIAGNOSTIC: LazyLock<HeaderValue> = LazyLock::new(|| {
    let text = json!({"ServerInfo": {"DataCenter": SIMULATOR_LABEL, "Slice": "E", "Ring": "sim"}})
        .to_string();
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("{}"))
});

/// The `Date` header, formatted once a second per thread rather than once a response.
fn http_date() -> HeaderValue {
    thread_local! {
        static LAST: RefCell<(i64, HeaderValue)> =
            const { RefCell::new((i64::MIN, HeaderValue::from_static(""))) };
    }
    let now = Utc::now();
    LAST.with_borrow_mut(|(second, value)| {
        if *second != now.timestamp() {
            let text = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            if let Ok(v) = HeaderValue::from_str(&text) {
                *second = now.timestamp();
                *value = v;
            }
        }
        value.clone()
    })
}

/// `/{tenant}/oauth2/v2.0/token` → the (decoded) tenant.
fn token_tenant(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [tenant, oauth, version, tok]
            if oauth.eq_ignore_ascii_case("oauth2")
                && version.eq_ignore_ascii_case("v2.0")
                && tok.eq_ignore_ascii_case("token")
                && !tenant.is_empty() =>
        {
            Some(percent_decode_str(tenant).decode_utf8_lossy().into_owned())
        }
        _ => None,
    }
}

fn aad_error(status: u16, error: &str, code: u32, text: &str, trace_id: &str) -> Reply {
    let now = Utc::now();
    let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
    let description = format!(
        "AADSTS{code}: {text}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {trace_id}\r\nTimestamp: {timestamp}"
    );
    Reply::json(
        status,
        json!({
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": trace_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

async fn token(shared: &Arc<Shared>, method: &Method, tenant: &str, body: &[u8]) -> Reply {
    let latency = shared.lock().config.latency.min;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(stall) = detours::login_stall(shared) {
        tokio::time::sleep(stall).await;
    }
    let mut inner = shared.lock();
    inner.counters.token_requests += 1;
    let trace = inner.rng.guid();
    let reply = token_decision(&mut inner, method, tenant, body, &trace);
    if reply.status == 200 {
        inner.counters.tokens_issued += 1;
    } else {
        inner.counters.token_errors += 1;
    }
    reply
}

fn token_decision(
    inner: &mut state::Inner,
    method: &Method,
    tenant: &str,
    body: &[u8],
    trace: &str,
) -> Reply {
    if method != Method::POST {
        return aad_error(
            405,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests.",
            trace,
        );
    }
    let unavailable = inner.take_fault(|f| match f {
        Fault::TokenUnavailable { count } if *count > 0 => {
            *count -= 1;
            true
        }
        _ => false,
    });
    if let Some(Fault::TokenUnavailable { count }) = unavailable {
        if count > 0 {
            inner.faults.insert(0, Fault::TokenUnavailable { count });
        }
        return aad_error(
            503,
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
            trace,
        );
    }
    let form = graph_api::parse_pairs(&String::from_utf8_lossy(body));
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if field("grant_type") != "client_credentials" {
        return aad_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
            trace,
        );
    }
    let client_id = field("client_id");
    let secret = field("client_secret");
    let assertion = field("client_assertion_type")
        == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        && !field("client_assertion").is_empty();
    let any = inner.config.accept_any_credentials;
    if !any
        && !inner
            .config
            .tenants
            .iter()
            .any(|t| t.tenant_id.eq_ignore_ascii_case(tenant))
    {
        return aad_error(
            400,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
            trace,
        );
    }
    let app = inner
        .config
        .tenants
        .iter()
        .find(|t| t.tenant_id.eq_ignore_ascii_case(tenant) && t.client_id == client_id)
        .cloned();
    if !any && app.is_none() {
        return aad_error(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
            trace,
        );
    }
    if secret.is_empty() && !assertion {
        return aad_error(
            400,
            "invalid_request",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            trace,
        );
    }
    let scope = field("scope");
    if !scope.ends_with("/.default") {
        return aad_error(
            400,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
            trace,
        );
    }
    // Each cloud's token service issues tokens only for its own Graph (Graph docs:
    // concepts/deployments.md).
    if scope != inner.config.cloud.scope() {
        return aad_error(
            400,
            "invalid_scope",
            70011,
            &format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
            trace,
        );
    }
    if let (false, Some(app)) = (any, app.as_ref())
        && !assertion
    {
        if secret != app.client_secret {
            return aad_error(
                401,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
                trace,
            );
        }
        if app.secret_expired {
            return aad_error(
                401,
                "invalid_client",
                7000222,
                &format!(
                    "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds"
                ),
                trace,
            );
        }
    }
    let lifetime = inner.config.token_lifetime;
    let access_token = format!("simtok.{}", inner.rng.token_chars(48));
    inner.tokens.insert(
        access_token.clone(),
        IssuedToken {
            expires_at: Instant::now() + lifetime,
        },
    );
    let secs = lifetime.as_secs();
    Reply::json(
        200,
        json!({
            "token_type": "Bearer",
            "expires_in": secs,
            "ext_expires_in": secs,
            "access_token": access_token,
        }),
    )
}

fn unauthorized(message: &str) -> Reply {
    let mut reply = Reply::error(ApiError::new(401, "InvalidAuthenticationToken", message));
    reply.headers.push((
        "WWW-Authenticate".into(),
        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"".into(),
    ));
    reply
}

#[allow(clippy::too_many_arguments)]
async fn graph(
    shared: &Arc<Shared>,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    query: &str,
    body: &[u8],
    base: &str,
    client_request_id: &str,
    arrival: u64,
) -> Reply {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        })
        .filter(|t| !t.is_empty());
    {
        let mut inner = shared.lock();
        let verdict = match &bearer {
            None => Some("Access token is empty."),
            Some(token) => match inner.tokens.get(token) {
                None => Some("Access token validation failure."),
                Some(issued) if issued.expires_at <= Instant::now() => {
                    Some("Access token has expired or is not yet valid.")
                }
                Some(_) => None,
            },
        };
        if let Some(message) = verdict {
            inner.counters.unauthorized += 1;
            return unauthorized(message);
        }
    }
    let json_body = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => Some(v),
            Err(_) => {
                return Reply::error(ApiError::new(
                    400,
                    "BadRequest",
                    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
                ));
            }
        }
    };
    let rel = &path["/v1.0".len()..];
    if rel.eq_ignore_ascii_case("/$batch") || rel.eq_ignore_ascii_case("/%24batch") {
        if method != Method::POST {
            return Reply::error(ApiError::new(
                405,
                "MethodNotAllowed",
                "$batch only accepts POST.",
            ));
        }
        return graph_api::handle_batch(
            Arc::clone(shared),
            json_body,
            base,
            client_request_id,
            arrival,
        )
        .await;
    }
    let prefer_tz = graph_api::prefer_time_zone(
        headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let id_type = super::ids::prefer_id_type(
        headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let req = ItemRequest {
        method: method.as_str().to_ascii_uppercase(),
        path: if rel.is_empty() {
            "/".into()
        } else {
            rel.into()
        },
        query: graph_api::parse_pairs(query),
        prefer_tz,
        id_type,
        body: json_body,
        base: base.to_string(),
        arrival,
    };
    graph_api::handle_item(Arc::clone(shared), req).await
}

fn control(shared: &Arc<Shared>, method: &Method, path: &str, query: &str, origin: &str) -> Reply {
    let what = path.trim_start_matches("/_sim").trim_matches('/');
    match (method.as_str(), what) {
        ("GET", "") => Reply::json(
            200,
            json!({
                "simulator": SIMULATOR_LABEL,
                "graph_url": format!("{origin}/v1.0"),
                "login_url": origin,
            }),
        ),
        ("GET", "stats") => {
            let stats = state::snapshot(&shared.lock());
            match serde_json::to_value(stats) {
                Ok(v) => Reply::json(200, v),
                Err(e) => Reply::json(500, json!({"error": e.to_string()})),
            }
        }
        ("GET", "events") => {
            let pairs = graph_api::parse_pairs(query);
            let Some((_, user)) = pairs.iter().find(|(k, _)| k == "user") else {
                return Reply::json(400, json!({"error": "pass ?user=ADDRESS"}));
            };
            let events = state::events_json(&shared.lock(), user, &format!("{origin}/v1.0"));
            Reply::json(
                200,
                json!({"simulator": SIMULATOR_LABEL, "user": user, "value": events}),
            )
        }
        ("POST", "reset") => {
            state::reset(&mut shared.lock());
            Reply::json(200, json!({"simulator": SIMULATOR_LABEL, "reset": true}))
        }
        ("POST", "expire-tokens") => {
            let now = Instant::now();
            for t in shared.lock().tokens.values_mut() {
                t.expires_at = now;
            }
            Reply::json(
                200,
                json!({"simulator": SIMULATOR_LABEL, "tokens_expired": true}),
            )
        }
        _ => Reply::json(
            404,
            json!({"simulator": SIMULATOR_LABEL, "error": format!("no control endpoint {method} /_sim/{what}")}),
        ),
    }
}
