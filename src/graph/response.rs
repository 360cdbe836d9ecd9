//! What calsync reads from one HTTP exchange, to Graph or to the login service: the response
//! it keeps and the one-line, secret-free words for a failure or a redirect. The Graph client,
//! the token cache and `$batch` all use it, so it belongs to none of them.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::errors::secs;
use super::retry::parse_retry_after;

/// A short, secret-free description of a transport failure (reqwest's own text
/// contains the URL, which we leave out).
pub(crate) fn network_detail(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {}", secs(timeout));
    }
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let cause = super::errors::one_line(&root.to_string(), 200);
    let what = if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read"
    } else {
        "the connection failed before a complete response arrived"
    };
    if cause.is_empty() || e.is_body() && cause == what {
        what.to_string()
    } else {
        format!("{what} ({cause})")
    }
}

/// What calsync keeps of any response.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub request_id: Option<String>,
    /// `x-ms-ags-diagnostic`: where Graph served the request, for Microsoft support.
    pub ags_diagnostic: Option<String>,
    /// `x-ms-throttle-scope` of a 429: whose limit it was (concepts/throttling-limits.md).
    pub throttle_scope: Option<String>,
    /// The host a 3xx `Location` points to.
    pub redirect_host: Option<String>,
    pub body: Option<Value>,
}

impl Answer {
    pub(crate) fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    /// Retry-After and `x-ms-throttle-scope`: what the retry policy weighs a 429 by.
    pub(crate) fn throttle(&self) -> (Option<Duration>, Option<&str>) {
        (self.retry_after, self.throttle_scope.as_deref())
    }
}

/// Reads the body of a response, with its status and ids.
pub(crate) async fn read_response(resp: reqwest::Response) -> Result<Answer, reqwest::Error> {
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
    let request_id = header("request-id");
    let ags_diagnostic = header("x-ms-ags-diagnostic");
    let throttle_scope = header("x-ms-throttle-scope");
    let redirect_host = header("location").map(|location| {
        resp.url()
            .join(&location)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}")))
            })
            .unwrap_or_else(|| "an unreadable Location".to_string())
    });
    let bytes = resp.bytes().await?;
    let body = if bytes.is_empty() {
        None
    } else {
        serde_json::from_slice::<Value>(&bytes).ok()
    };
    Ok(Answer {
        status,
        retry_after,
        request_id,
        ags_diagnostic,
        throttle_scope,
        redirect_host,
        body,
    })
}

/// The one-line reason a redirect was not followed.
pub(crate) fn redirect_detail(status: u16, host: Option<&str>, what: &str) -> String {
    format!(
        "answered {status} redirecting to {}; calsync follows no redirects, so {what} went nowhere else",
        host.unwrap_or("no Location")
    )
}

/// Why a request got no response, for the request log.
pub(crate) fn failure_word(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "connection"
    }
}
