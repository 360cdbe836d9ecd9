//! `GraphError`: everything an operator or the sync engine needs about a failed call,
//! with a one-line, secret-free operator text.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// Broad class of a failure; decides retrying and what the operator is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 429 after the retry budget, or a Retry-After longer than the allowed wait.
    Throttled,
    /// 5xx that is worth trying again later.
    Transient,
    /// A create may or may not have happened (timeout, reset or 5xx after sending):
    /// look the event up by its tag before creating it again.
    Ambiguous,
    /// Credentials or token problem (bad/expired secret, wrong tenant or client id).
    Auth,
    /// 403: no admin consent, or the mailbox is outside the application access policy.
    AccessDenied,
    /// 404 `ErrorInvalidUser` / `ResourceNotFound`: no such user.
    InvalidUser,
    /// 404 `MailboxNotEnabledForRESTAPI`: the user has no Exchange Online mailbox.
    NoMailbox,
    /// 404 `ErrorItemNotFound`: the event does not exist.
    NotFound,
    /// 400 `TimeZoneNotSupportedException` / `ErrorPropertyValidationFailure`.
    TimeZone,
    /// Any other 400-class rejection of the request.
    Validation,
    /// Connection failure or timeout (after the retry budget).
    Network,
    Other,
}

/// Which service produced the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Graph,
    /// The Microsoft identity platform token endpoint.
    Login,
    /// Detected by this client before or without a response.
    Client,
}

/// A failed Graph or token call. `Display` is [`GraphError::operator_text`]. The
/// details live behind a box (so `Result<_, GraphError>` stays small) and are read as
/// fields through `Deref`: `err.kind`, `err.status`, `err.request_id`, …
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError(Box<GraphErrorInfo>);

/// The details of a [`GraphError`].
#[derive(Debug, Clone, PartialEq)]
pub struct GraphErrorInfo {
    pub kind: ErrorKind,
    pub service: Service,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Graph `error.code`, or the identity platform's `error` (e.g. `invalid_client`).
    pub code: Option<String>,
    /// Graph `error.message`, or the first line of `error_description`.
    pub message: Option<String>,
    /// `request-id` header, or `innerError.request-id`.
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
    /// `x-ms-ags-diagnostic` header: the data centre and slice that served the request.
    pub ags_diagnostic: Option<String>,
    /// `AADSTS…` code of a token error.
    pub aadsts: Option<String>,
    pub mailbox: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    /// How many times the request was sent.
    pub attempts: u32,
    /// The last Retry-After received, if any.
    pub retry_after: Option<Duration>,
    /// A short clause from this client (network cause, retry budget, …).
    pub detail: Option<String>,
}

/// Longest operator text, in characters.
pub const OPERATOR_TEXT_MAX: usize = 1000;

impl std::ops::Deref for GraphError {
    type Target = GraphErrorInfo;

    fn deref(&self) -> &GraphErrorInfo {
        &self.0
    }
}

impl std::ops::DerefMut for GraphError {
    fn deref_mut(&mut self) -> &mut GraphErrorInfo {
        &mut self.0
    }
}

impl GraphError {
    pub(crate) fn new(kind: ErrorKind, service: Service) -> Self {
        Self(Box::new(GraphErrorInfo {
            kind,
            service,
            status: None,
            code: None,
            message: None,
            request_id: None,
            client_request_id: None,
            ags_diagnostic: None,
            aadsts: None,
            mailbox: None,
            tenant_id: None,
            client_id: None,
            attempts: 0,
            retry_after: None,
            detail: None,
        }))
    }

    /// A client-side rejection (bad input), before anything is sent.
    pub(crate) fn invalid_input(detail: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorKind::Validation, Service::Client);
        e.detail = Some(detail.into());
        e
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub(crate) fn with_mailbox(mut self, mailbox: &str) -> Self {
        self.mailbox = Some(mailbox.to_string());
        self
    }

    /// Builds an error from a Graph error response (status + JSON body).
    pub(crate) fn from_graph_response(
        status: u16,
        body: Option<&Value>,
        header_request_id: Option<String>,
        client_request_id: Option<String>,
    ) -> Self {
        let err = body.and_then(|b| b.get("error"));
        let code = err
            .and_then(|e| e.get("code"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let message = err
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let inner = err.and_then(|e| e.get("innerError").or_else(|| e.get("innererror")));
        let inner_request_id = inner
            .and_then(|i| i.get("request-id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut e = Self::new(classify(status, code.as_deref()), Service::Graph);
        e.status = Some(status);
        e.code = code;
        e.message = message;
        e.request_id = header_request_id.or(inner_request_id);
        e.client_request_id = client_request_id;
        e
    }

    /// Worth trying the whole operation again later (throttling, 5xx, network).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Throttled | ErrorKind::Transient | ErrorKind::Network
        )
    }

    /// Will fail the same way until someone changes something (data, licence, secret…).
    /// `Ambiguous` is neither retryable nor permanent: reconcile first.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Auth
                | ErrorKind::AccessDenied
                | ErrorKind::InvalidUser
                | ErrorKind::NoMailbox
                | ErrorKind::NotFound
                | ErrorKind::TimeZone
                | ErrorKind::Validation
        ) || (self.kind == ErrorKind::Other && self.status.is_some_and(|s| s < 500))
    }

    /// One line (≤ 1000 characters, no control characters, no secrets) telling an
    /// operator what failed and what to do about it.
    pub fn operator_text(&self) -> String {
        let text = match self.service {
            Service::Login => self.login_text(),
            Service::Client => self.client_text(),
            Service::Graph => self.graph_text(),
        };
        one_line(&text, OPERATOR_TEXT_MAX)
    }

    fn mailbox_or_unknown(&self) -> &str {
        self.mailbox.as_deref().unwrap_or("the mailbox")
    }

    fn rid(&self) -> String {
        match &self.request_id {
            Some(r) => format!(" (request-id {r})"),
            None => String::new(),
        }
    }

    fn status_code(&self) -> String {
        match (self.status, &self.code) {
            (Some(s), Some(c)) => format!("Graph {s} {c}"),
            (Some(s), None) => format!("Graph {s}"),
            (None, Some(c)) => format!("Graph {c}"),
            (None, None) => "Graph".to_string(),
        }
    }

    fn status_code_message(&self) -> String {
        match &self.message {
            Some(m) => format!("{}: {}", self.status_code(), clip(m, 400)),
            None => self.status_code(),
        }
    }

    fn graph_text(&self) -> String {
        let rid = self.rid();
        let detail = self
            .detail
            .as_deref()
            .map(|d| format!(" — {d}"))
            .unwrap_or_default();
        match self.kind {
            ErrorKind::NoMailbox => format!(
                "No mailbox for {} ({}) — the user needs an Exchange Online licence (or is a guest/on-premises user){rid}",
                self.mailbox_or_unknown(),
                self.code
                    .as_deref()
                    .unwrap_or("MailboxNotEnabledForRESTAPI"),
            ),
            ErrorKind::InvalidUser => format!("{}{rid}", self.status_code_message()),
            ErrorKind::AccessDenied => {
                let raop = self.message.as_deref().is_some_and(|m| m.contains("RAOP"));
                let hint = if raop {
                    format!(
                        "{} is outside the app's Exchange application access policy",
                        self.mailbox_or_unknown()
                    )
                } else {
                    "the app lacks Calendars.ReadWrite (application) admin consent".to_string()
                };
                format!("{} — {hint}{rid}", self.status_code_message())
            }
            ErrorKind::TimeZone => format!(
                "{} — send a Windows time-zone ID (e.g. 'W. Europe Standard Time') or UTC{rid}",
                self.status_code_message()
            ),
            ErrorKind::NotFound => format!(
                "{} — the event no longer exists in {}'s calendar{rid}",
                self.status_code_message(),
                self.mailbox_or_unknown()
            ),
            ErrorKind::Throttled => {
                let after = self
                    .retry_after
                    .map(|d| format!(" (Retry-After {})", secs(d)))
                    .unwrap_or_default();
                let why = self
                    .detail
                    .clone()
                    .unwrap_or_else(|| format!("still throttled after {} attempts", self.attempts));
                format!(
                    "Throttled by Graph for {}: {why}{after}{rid}",
                    self.mailbox_or_unknown()
                )
            }
            ErrorKind::Ambiguous => format!(
                "Create in {} may or may not have happened ({}) — look the event up by its tag before creating it again{rid}",
                self.mailbox_or_unknown(),
                match (&self.detail, self.status) {
                    (Some(d), Some(_)) => format!("{}; {d}", self.status_code_message()),
                    (Some(d), None) => d.clone(),
                    (None, _) => self.status_code_message(),
                }
            ),
            ErrorKind::Network => format!(
                "Network error talking to Graph: {}{rid}",
                self.detail.as_deref().unwrap_or("the request failed")
            ),
            ErrorKind::Auth => format!(
                "{} — Graph rejected a freshly issued token; check the app registration, its tenant and its Calendars.ReadWrite permission{rid}",
                self.status_code_message()
            ),
            ErrorKind::Transient | ErrorKind::Validation | ErrorKind::Other => {
                format!("{}{detail}{rid}", self.status_code_message())
            }
        }
    }

    fn login_text(&self) -> String {
        let app = self.client_id.as_deref().unwrap_or("?");
        let tenant = self.tenant_id.as_deref().unwrap_or("?");
        if self.kind == ErrorKind::Network {
            return format!(
                "Network error talking to the Microsoft login service: {}",
                self.detail.as_deref().unwrap_or("the request failed")
            );
        }
        let code = self.aadsts.as_deref().unwrap_or("");
        let known = match code {
            "AADSTS7000215" => Some(format!(
                "invalid client secret for app {app} in tenant {tenant} — the integration's client secret is wrong or expired"
            )),
            "AADSTS7000222" => Some(format!(
                "the client secret of app {app} in tenant {tenant} has expired — create a new secret in Entra ID and update the integration"
            )),
            "AADSTS700016" => Some(format!(
                "app {app} was not found in tenant {tenant} — check the integration's client id and tenant id"
            )),
            "AADSTS90002" => Some(format!(
                "tenant {tenant} not found — check the integration's tenant id"
            )),
            "AADSTS7000216" => Some(format!(
                "no client secret was sent for app {app} — the integration has no client secret"
            )),
            "AADSTS1002012" | "AADSTS70011" => Some(
                "the token scope was rejected — CALSYNC_GRAPH_URL (or CALSYNC_GRAPH_CLOUD) and CALSYNC_LOGIN_URL must name the same Microsoft cloud"
                    .to_string(),
            ),
            _ => None,
        };
        let rid = self.rid();
        match known {
            Some(text) => format!("Token acquisition failed: {code} {text}{rid}"),
            None => {
                let what = [
                    self.status.map(|s| format!("HTTP {s}")),
                    self.code.clone(),
                    self.aadsts.clone(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
                let msg = self
                    .message
                    .as_deref()
                    .map(|m| format!(": {}", clip(m, 300)))
                    .unwrap_or_default();
                let detail = self
                    .detail
                    .as_deref()
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default();
                format!(
                    "Token acquisition failed for app {app} in tenant {tenant}: {what}{msg}{detail}{rid}"
                )
            }
        }
    }

    fn client_text(&self) -> String {
        format!(
            "Invalid Graph request: {}",
            self.detail.as_deref().unwrap_or("rejected before sending")
        )
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.operator_text())
    }
}

impl std::error::Error for GraphError {}

/// Maps a Graph status and `error.code` to a kind.
pub(crate) fn classify(status: u16, code: Option<&str>) -> ErrorKind {
    let code = code.unwrap_or("");
    match status {
        401 => ErrorKind::Auth,
        403 => ErrorKind::AccessDenied,
        404 => match code {
            "MailboxNotEnabledForRESTAPI" => ErrorKind::NoMailbox,
            "ErrorInvalidUser" | "ResourceNotFound" | "Request_ResourceNotFound" => {
                ErrorKind::InvalidUser
            }
            _ => ErrorKind::NotFound,
        },
        400 if matches!(
            code,
            "TimeZoneNotSupportedException" | "ErrorPropertyValidationFailure"
        ) =>
        {
            ErrorKind::TimeZone
        }
        400 | 405 | 409 | 412 | 413 | 415 | 422 => ErrorKind::Validation,
        429 => ErrorKind::Throttled,
        500 | 502 | 503 | 504 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// Seconds for humans: `30 s`, `2.128 s`.
pub(crate) fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        let s = format!("{:.3}", d.as_secs_f64());
        format!("{} s", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Control characters (newlines included) become spaces, runs of spaces collapse,
/// and the result is cut to `max` characters.
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut last_space = false;
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
    }
    clip(out.trim(), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_strips_controls_and_caps_length() {
        let s = one_line("a\r\nb\tc", 100);
        assert_eq!(s, "a b c");
        let long = "x".repeat(5000);
        assert_eq!(one_line(&long, 1000).chars().count(), 1000);
    }

    #[test]
    fn classifies_graph_codes() {
        assert_eq!(
            classify(404, Some("MailboxNotEnabledForRESTAPI")),
            ErrorKind::NoMailbox
        );
        assert_eq!(
            classify(404, Some("ErrorInvalidUser")),
            ErrorKind::InvalidUser
        );
        assert_eq!(
            classify(404, Some("ErrorItemNotFound")),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify(400, Some("TimeZoneNotSupportedException")),
            ErrorKind::TimeZone
        );
        assert_eq!(classify(400, Some("BadRequest")), ErrorKind::Validation);
        assert_eq!(classify(503, None), ErrorKind::Transient);
    }

    #[test]
    fn seconds_are_short() {
        assert_eq!(secs(Duration::from_secs(30)), "30 s");
        assert_eq!(secs(Duration::from_millis(2128)), "2.128 s");
        assert_eq!(secs(Duration::from_millis(200)), "0.2 s");
    }
}
