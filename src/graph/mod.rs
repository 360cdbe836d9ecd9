//! Microsoft Graph client for app-only calendar sync: token cache, per-mailbox
//! throttling gate and concurrency limit, Retry-After handling, event CRUD, tag lookup
//! and `$batch`.
//!
//! Create policy (see [`GraphClient::create_event`]): a create is never blindly
//! re-sent after it may have reached Exchange. Timeouts, resets after sending and
//! 500/502/504 give [`ErrorKind::Ambiguous`]. A 429 or 503 that carries a Graph error
//! body is retried only when the event has a `transactionId` (Exchange then dedups a
//! create that did go through); without one it is also `Ambiguous`.

mod app_limit;
mod batch;
mod calendar_view;
mod client;
mod cloud;
mod errors;
mod http_pool;
pub(crate) mod ids;
pub mod request_log;
mod response;
mod retry;
mod token;
mod translate;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

pub use app_limit::{APP_IN_FLIGHT_CEILING, APP_WINDOW, APP_WINDOW_REQUESTS};
pub use batch::{BatchRequest, BatchResponse, BatchSuccess, MAX_BATCH_ITEMS};
pub use client::GraphClient;
pub use cloud::Cloud;
pub use errors::{ErrorKind, GraphError, GraphErrorInfo, OPERATOR_TEXT_MAX, Service};
pub use http_pool::{STREAMS_PER_CONNECTION, USER_AGENT};
pub use retry::{RETRY_AFTER_CEILING, parse_retry_after};
pub use translate::{IdFormat, MAX_TRANSLATE_IDS};

/// Never more than this many requests in flight to one mailbox (Graph's limit).
pub const MAILBOX_CONCURRENCY: usize = 4;

/// Installs the ring crypto provider for rustls once per process. reqwest is built with
/// `rustls-no-provider`, so building a client without this panics. Safe to call often.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Endpoints and retry budget.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphConfig {
    /// Default `https://graph.microsoft.com/v1.0`; no trailing slash.
    pub graph_url: String,
    /// Default `https://login.microsoftonline.com`; no trailing slash.
    pub login_url: String,
    /// Whole-request timeout (connect to end of body). Default 30 s.
    pub timeout: Duration,
    /// Sends per request, first one included. Default 6.
    pub max_attempts: u32,
    /// Longest single wait; a longer Retry-After fails with `Throttled`. Default 120 s.
    pub max_retry_wait: Duration,
    /// First backoff step when no Retry-After is given. Default 1 s.
    pub backoff_base: Duration,
    /// Requests in flight per mailbox, 1..=4. Default 4.
    pub per_mailbox_concurrency: usize,
    /// The cloud the token scope is for; `None` follows `graph_url` (global for any host
    /// that is not a Microsoft cloud's, e.g. a loopback simulator).
    pub cloud: Option<Cloud>,
    /// A PEM file of certificates to trust besides the platform's roots (the simulator's
    /// generated one, over TLS). Default none.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            graph_url: "https://graph.microsoft.com/v1.0".into(),
            login_url: "https://login.microsoftonline.com".into(),
            timeout: Duration::from_secs(30),
            max_attempts: 6,
            max_retry_wait: Duration::from_secs(120),
            backoff_base: Duration::from_secs(1),
            per_mailbox_concurrency: MAILBOX_CONCURRENCY,
            cloud: None,
            ca_file: None,
        }
    }
}

/// Environment variables read by [`GraphConfig::from_env`].
pub const ENV_GRAPH_URL: &str = "CALSYNC_GRAPH_URL";
pub const ENV_LOGIN_URL: &str = "CALSYNC_LOGIN_URL";
pub const ENV_HTTP_TIMEOUT_SECS: &str = "CALSYNC_HTTP_TIMEOUT_SECS";
pub const ENV_MAX_ATTEMPTS: &str = "CALSYNC_GRAPH_MAX_ATTEMPTS";
pub const ENV_MAX_RETRY_WAIT_SECS: &str = "CALSYNC_GRAPH_MAX_RETRY_WAIT_SECS";
pub const ENV_GRAPH_CLOUD: &str = "CALSYNC_GRAPH_CLOUD";
pub const ENV_GRAPH_CA_FILE: &str = "CALSYNC_GRAPH_CA_FILE";

impl GraphConfig {
    /// Defaults overridden by `CALSYNC_GRAPH_URL`, `CALSYNC_LOGIN_URL`, `CALSYNC_GRAPH_CLOUD`,
    /// `CALSYNC_HTTP_TIMEOUT_SECS`, `CALSYNC_GRAPH_MAX_ATTEMPTS` and
    /// `CALSYNC_GRAPH_MAX_RETRY_WAIT_SECS`, `CALSYNC_GRAPH_CA_FILE`. Without `CALSYNC_LOGIN_URL` the login host is the
    /// cloud's (see [`Cloud`]). A bad value gives a one-line error.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`GraphConfig::from_env`] with a custom variable source (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut config = Self::default();
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get(ENV_GRAPH_URL) {
            config.graph_url = base_url(ENV_GRAPH_URL, &v)?;
        }
        if let Some(v) = get(ENV_GRAPH_CLOUD) {
            config.cloud = Some(Cloud::from_name(&v).ok_or_else(|| {
                format!("{ENV_GRAPH_CLOUD}={v:?} is not one of global, usgov, usgov-dod, china")
            })?);
        }
        config.login_url = match get(ENV_LOGIN_URL) {
            Some(v) => base_url(ENV_LOGIN_URL, &v)?,
            None => config.cloud().login_url().to_string(),
        };
        if let Some(v) = get(ENV_HTTP_TIMEOUT_SECS) {
            config.timeout = seconds(ENV_HTTP_TIMEOUT_SECS, &v, 600.0)?;
        }
        if let Some(v) = get(ENV_MAX_ATTEMPTS) {
            config.max_attempts = match v.trim().parse::<u32>() {
                Ok(n) if (1..=20).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "{ENV_MAX_ATTEMPTS}={v:?} is not a whole number from 1 to 20"
                    ));
                }
            };
        }
        if let Some(v) = get(ENV_MAX_RETRY_WAIT_SECS) {
            config.max_retry_wait = seconds(ENV_MAX_RETRY_WAIT_SECS, &v, 3600.0)?;
        }
        config.ca_file = get(ENV_GRAPH_CA_FILE).map(std::path::PathBuf::from);
        Ok(config)
    }
}

impl GraphConfig {
    /// The cloud tokens are asked for: the explicit one, else the one `graph_url` names.
    pub fn cloud(&self) -> Cloud {
        self.cloud
            .or_else(|| Cloud::of_graph_url(&self.graph_url))
            .unwrap_or_default()
    }
}

/// A `CALSYNC_*_SECS` value: a number of seconds greater than 0 and at most `max`.
pub(crate) fn seconds(name: &str, value: &str, max: f64) -> Result<Duration, String> {
    match value.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= max => Duration::try_from_secs_f64(s)
            .map_err(|_| format!("{name}={value:?} is not a number of seconds")),
        _ => Err(format!(
            "{name}={value:?} must be a number of seconds greater than 0 and at most {max}"
        )),
    }
}

/// Checks a base URL: https, or http only to a loopback host (tokens and secrets must
/// not cross a network in clear text). Returns it without a trailing slash.
pub(crate) fn base_url(name: &str, value: &str) -> Result<String, String> {
    let trimmed = value.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(trimmed)
        .map_err(|e| format!("{name}={value:?} is not a valid URL ({e})"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{name}={value:?} must not have a query or fragment"
        ));
    }
    let loopback = is_loopback(&url);
    match url.scheme() {
        "https" => Ok(trimmed.to_string()),
        "http" if loopback => Ok(trimmed.to_string()),
        "http" => Err(format!(
            "{name}={value:?} must use https:// (http:// is only allowed for 127.0.0.1, ::1 or localhost)"
        )),
        other => Err(format!(
            "{name}={value:?} has scheme '{other}'; use https://"
        )),
    }
}

pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A secret string (client secret). `Debug` and `Display` print `[redacted]`; the bytes
/// are overwritten when it is dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        // Keep the zeroing from being optimised away as a dead store.
        std::hint::black_box(&bytes);
    }
}

/// App-only credentials of one Teams integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
}

impl Credentials {
    pub fn new(tenant_id: &str, client_id: &str, client_secret: impl Into<Secret>) -> Self {
        Self {
            tenant_id: tenant_id.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.into(),
        }
    }
}

/// Graph's `dateTimeTimeZone`, as returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTimeTimeZone {
    pub date_time: String,
    pub time_zone: String,
}

/// A single-value extended property on an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedProperty {
    pub id: String,
    pub value: String,
}

/// What calsync keeps from an event Graph returned.
#[derive(Debug, Clone, PartialEq)]
pub struct EventInfo {
    pub id: String,
    pub change_key: Option<String>,
    pub web_link: Option<String>,
    pub subject: Option<String>,
    pub start: Option<DateTimeTimeZone>,
    pub end: Option<DateTimeTimeZone>,
    pub transaction_id: Option<String>,
    pub ical_uid: Option<String>,
    /// `onlineMeeting.joinUrl`; `None` means no online meeting was created.
    pub online_meeting_join_url: Option<String>,
    /// Only those Graph returned (they must be asked for with `$expand`).
    pub extended_properties: Vec<ExtendedProperty>,
    /// `request-id` of the response, for support.
    pub request_id: Option<String>,
    /// The whole event JSON.
    pub raw: Value,
}

/// The event returned by a create or update.
pub type CreatedEvent = EventInfo;

fn str_field(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::to_string)
}

fn dt_field(v: &Value, name: &str) -> Option<DateTimeTimeZone> {
    let slot = v.get(name)?;
    Some(DateTimeTimeZone {
        date_time: str_field(slot, "dateTime")?,
        time_zone: str_field(slot, "timeZone").unwrap_or_default(),
    })
}

impl EventInfo {
    /// Reads an event object; `None` when it has no `id`.
    pub fn from_json(raw: Value, request_id: Option<String>) -> Option<Self> {
        let id = str_field(&raw, "id").filter(|s| !s.is_empty())?;
        let extended_properties = raw
            .get("singleValueExtendedProperties")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|p| {
                        Some(ExtendedProperty {
                            id: str_field(p, "id")?,
                            value: str_field(p, "value")?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            change_key: str_field(&raw, "changeKey"),
            web_link: str_field(&raw, "webLink"),
            subject: str_field(&raw, "subject"),
            start: dt_field(&raw, "start"),
            end: dt_field(&raw, "end"),
            transaction_id: str_field(&raw, "transactionId"),
            ical_uid: str_field(&raw, "iCalUId"),
            online_meeting_join_url: raw
                .get("onlineMeeting")
                .and_then(|m| m.get("joinUrl"))
                .and_then(Value::as_str)
                .map(str::to_string),
            extended_properties,
            request_id,
            id,
            raw,
        })
    }

    /// The value of extended property `property_id` (ids compare case-insensitively).
    pub fn property(&self, property_id: &str) -> Option<&str> {
        self.extended_properties
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(property_id))
            .map(|p| p.value.as_str())
    }
}

/// Result of a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted {
        request_id: Option<String>,
    },
    /// 404 `ErrorItemNotFound`: the event was already gone.
    AlreadyGone {
        request_id: Option<String>,
    },
}

/// Counters for progress reporting and benches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests to Graph (a `$batch` counts once).
    pub requests_sent: u64,
    /// Items sent inside `$batch` requests (re-sent items count again).
    pub batch_items_sent: u64,
    /// Re-sends after throttling, 5xx, network failures or a rejected token.
    pub retries: u64,
    /// 429 responses received (batch items included).
    pub throttled_responses: u64,
    /// Requests to the token endpoint.
    pub token_requests: u64,
    /// Tokens obtained.
    pub tokens_fetched: u64,
    pub token_failures: u64,
    /// Graph 401s that made the client fetch a new token.
    pub token_refreshes_after_401: u64,
}

/// Sent to subscribers whenever Graph tells this client to wait on a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleNotice {
    pub mailbox: String,
    /// How long every request to the mailbox is held back.
    pub wait: Duration,
    /// 429 or 503.
    pub status: u16,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub requests_sent: AtomicU64,
    pub batch_items_sent: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    pub token_requests: AtomicU64,
    pub tokens_fetched: AtomicU64,
    pub token_failures: AtomicU64,
    pub refreshes_after_401: AtomicU64,
}

impl Stats {
    pub(crate) fn bump(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientStats {
            requests_sent: get(&self.requests_sent),
            batch_items_sent: get(&self.batch_items_sent),
            retries: get(&self.retries),
            throttled_responses: get(&self.throttled),
            token_requests: get(&self.token_requests),
            tokens_fetched: get(&self.tokens_fetched),
            token_failures: get(&self.token_failures),
            token_refreshes_after_401: get(&self.refreshes_after_401),
        }
    }
}
