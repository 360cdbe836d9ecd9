//! The request log an operator hands to Microsoft support: one JSON line per HTTP request to
//! Graph or the login service (`--log-file PATH` or `CALSYNC_LOG`), written through `tracing`.
//! A line holds when, what (method and a path with the people taken out), how it went (status,
//! duration, attempt) and the ids support asks for (`request-id`, `client-request-id`,
//! `x-ms-ags-diagnostic`). Never a token, a secret, a body or a mailbox address.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use percent_encoding::percent_decode_str;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// The `tracing` target of request lines; the log file takes only these.
pub const TARGET: &str = "calsync::request";

/// Query parameters whose values can name people (a filter on a tag or an address) or hide
/// them (opaque paging tokens).
const REDACTED_QUERY: [&str; 4] = ["$filter", "$search", "$skiptoken", "$deltatoken"];
const REDACTED: &str = "{redacted}";

/// Sends the request lines to `path` (appended; created when missing) for the rest of the
/// process.
pub fn install(path: &Path) -> Result<(), InstallError> {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(file_layer(path)?))
        .map_err(|_| InstallError::AlreadySetUp)
}

/// The request lines as a layer, for a process that logs more than them (`calsync worker`).
pub fn file_layer<S>(path: &Path) -> Result<impl Layer<S> + Send + Sync + 'static, InstallError>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| InstallError::Open {
            path: path.display().to_string(),
            source,
        })?;
    Ok(tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_target(false)
        .with_level(false)
        .without_time()
        .with_writer(Mutex::new(file))
        .with_filter(filter_fn(|meta| meta.target() == TARGET)))
}

/// Why the request log could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The one-line text names the OS error too: operators see only this line by default.
    #[error("cannot open the request log {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("the request log is already set up")]
    AlreadySetUp,
}

/// Which service a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Graph,
    Login,
}

/// One sent request, as logged.
pub(crate) struct Sent<'a> {
    pub service: Service,
    pub method: &'a str,
    pub url: &'a str,
    /// None when no response arrived.
    pub status: Option<u16>,
    pub duration: Duration,
    pub attempt: u32,
    pub request_id: Option<&'a str>,
    pub client_request_id: &'a str,
    pub ags_diagnostic: Option<&'a str>,
    /// Why no response arrived (`timeout`, `connect`, `connection`, `cancelled`).
    pub failure: Option<&'static str>,
}

/// Writes one line for `sent` (nothing when no request log is set up).
pub(crate) fn record(sent: &Sent<'_>) {
    let service = match sent.service {
        Service::Graph => "graph",
        Service::Login => "login",
    };
    tracing::info!(
        target: TARGET,
        time = %Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        service,
        method = sent.method,
        path = %loggable_path(sent.url),
        status = sent.status,
        duration_ms = sent.duration.as_millis() as u64,
        attempt = sent.attempt,
        "request-id" = sent.request_id,
        "client-request-id" = sent.client_request_id,
        "x-ms-ags-diagnostic" = sent.ags_diagnostic,
        failure = sent.failure,
    );
}

/// The path and query of `url` with every mailbox segment (`/users/{id}`, `/users('{id}')`)
/// and the values of [`REDACTED_QUERY`] parameters replaced by placeholders.
pub(crate) fn loggable_path(url: &str) -> String {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return REDACTED.to_string();
    };
    let mut after_users = false;
    let segments: Vec<String> = parsed
        .path()
        .split('/')
        .map(|segment| {
            let out = if after_users {
                "{user}".to_string()
            } else if segment.len() > 6 && segment[..6].eq_ignore_ascii_case("users(") {
                "users({user})".to_string()
            } else {
                segment.to_string()
            };
            after_users = segment.eq_ignore_ascii_case("users");
            out
        })
        .collect();
    let mut path = segments.join("/");
    if let Some(query) = parsed.query() {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| {
                let (key, _) = pair.split_once('=').unwrap_or((pair, ""));
                let name = percent_decode_str(key).decode_utf8_lossy();
                if REDACTED_QUERY.iter().any(|r| r.eq_ignore_ascii_case(&name)) {
                    format!("{key}={REDACTED}")
                } else {
                    pair.to_string()
                }
            })
            .collect();
        path.push('?');
        path.push_str(&pairs.join("&"));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_and_filter_values_are_left_out_of_logged_paths() {
        assert_eq!(
            loggable_path(
                "https://graph.microsoft.com/v1.0/users/ann%40contoso.com/events/AAMk%3D?$filter=singleValueExtendedProperties%2FAny(ep%3A%20ep%2Fvalue%20eq%20%27calsync-selection-1%27)&$top=50"
            ),
            "/v1.0/users/{user}/events/AAMk%3D?$filter={redacted}&$top=50"
        );
        assert_eq!(
            loggable_path(
                "https://graph.microsoft.us/v1.0/users('%24adele@contoso.com')/calendar/events"
            ),
            "/v1.0/users({user})/calendar/events"
        );
        assert_eq!(
            loggable_path("http://127.0.0.1:9/tenant-1/oauth2/v2.0/token"),
            "/tenant-1/oauth2/v2.0/token"
        );
        assert_eq!(
            loggable_path("http://127.0.0.1:9/v1.0/users/bob@x.org/events?%24skiptoken=abc"),
            "/v1.0/users/{user}/events?%24skiptoken={redacted}"
        );
    }
}
