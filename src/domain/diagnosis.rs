//! Why a selection failed to sync, read from its `calendar_error` text: the LMS's own formats
//! (`API request failed: 404 Client Error: …`, `Token acquisition error: … AADSTS…`, a bare
//! quoted zone `'Foo/Bar'`, …) and the ones calsync writes (`Graph 404 ErrorInvalidUser: …`,
//! `No mailbox for …`, `Throttled by Graph for …`, …).
//!
//! [`CAUSE_PATTERNS`] is the one place a text is mapped to a [`Cause`]. Rust reads it in
//! [`cause_of`]; the store compiles the same table into SQL, so a filter or a count by cause in
//! the database always agrees with what the console shows for a row.

use serde::{Deserialize, Serialize};

/// The broad reason a sync failed, chosen so that each one has a single kind of remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The user exists but has no Exchange Online mailbox (licence, guest, on-premises).
    NoMailbox,
    /// Graph does not know the address, or the LMS user has none.
    UnknownUser,
    /// The Teams integration is missing, or its secret, tenant, client id or permissions are wrong.
    Credentials,
    /// Graph asked calsync or the LMS to slow down.
    Throttled,
    /// The slot's time zone (or its times) cannot be turned into an event.
    TimeZone,
    /// Microsoft could not be reached, or its service failed for a while.
    Network,
    /// Anything the table does not recognise.
    Other,
}

impl Cause {
    /// Every cause, in display order. [`CAUSE_PATTERNS`] has its own (matching) order.
    pub const ALL: [Cause; 7] = [
        Cause::NoMailbox,
        Cause::UnknownUser,
        Cause::Credentials,
        Cause::Throttled,
        Cause::TimeZone,
        Cause::Network,
        Cause::Other,
    ];

    /// The machine name used by filter tokens, JSON and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::NoMailbox => "no_mailbox",
            Cause::UnknownUser => "unknown_user",
            Cause::Credentials => "credentials",
            Cause::Throttled => "throttled",
            Cause::TimeZone => "time_zone",
            Cause::Network => "network",
            Cause::Other => "other",
        }
    }

    /// Plain words for the overview and the detail pane.
    pub fn label(self) -> &'static str {
        match self {
            Cause::NoMailbox => "No Exchange Online mailbox",
            Cause::UnknownUser => "User or email address unknown",
            Cause::Credentials => "Teams integration or credentials",
            Cause::Throttled => "Throttled by Graph",
            Cause::TimeZone => "Slot time zone or times",
            Cause::Network => "Network or Graph outage",
            Cause::Other => "Other error",
        }
    }

    /// Accepts the names of [`Cause::as_str`], in any case, with `-` for `_`.
    pub fn parse(name: &str) -> Option<Cause> {
        let normalized = name.trim().to_ascii_lowercase().replace('-', "_");
        Cause::ALL.into_iter().find(|c| c.as_str() == normalized)
    }

    /// Retrying will fail the same way until someone fixes something (a licence, an address,
    /// a secret, a slot). Unknown errors count as transient: a retry is cheap and may work.
    pub fn is_permanent(self) -> bool {
        match self {
            Cause::NoMailbox | Cause::UnknownUser | Cause::Credentials | Cause::TimeZone => true,
            Cause::Throttled | Cause::Network | Cause::Other => false,
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way of recognising an error text. Texts are compared after ASCII lower-casing only
/// (what SQLite's `LIKE` and PostgreSQL's `ILIKE` under `COLLATE "C"` do), so Rust and SQL agree
/// even on non-ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// The text contains this fragment (lower-case ASCII, no LIKE wildcards needed).
    Contains(&'static str),
    /// The whole text is one single-quoted value, e.g. `'Foo/Bar'`: the LMS writes pytz's
    /// `UnknownTimeZoneError`, whose text is just the quoted zone name.
    WhollyQuoted,
}

impl Pattern {
    /// `lowered` must be the text after `to_ascii_lowercase`.
    pub fn matches(self, lowered: &str) -> bool {
        match self {
            Pattern::Contains(fragment) => lowered.contains(fragment),
            Pattern::WhollyQuoted => {
                lowered.len() >= 2 && lowered.starts_with('\'') && lowered.ends_with('\'')
            }
        }
    }
}

use Pattern::{Contains, WhollyQuoted};

/// Causes in the order they are tried; the first cause with a matching pattern wins, and a text
/// nothing matches is [`Cause::Other`]. The order matters where texts overlap:
/// - `No mailbox for x (MailboxNotEnabledForRESTAPI)` comes before anything that reads as an
///   unknown user;
/// - the LMS's `404 Client Error: Not Found for url: …/users/x/calendar/events` (and its older
///   `… does not exist in Azure AD or doesn't have a mailbox`) cannot tell an unknown user from
///   a missing mailbox; it counts as an unknown user (see [`diagnose`]'s hint);
/// - throttling and network failures come before credentials, so that a timeout while fetching
///   a token (`Token acquisition error: …Read timed out.`) counts as the network problem it is.
///
/// Fragments contain spaces or punctuation where they could otherwise occur inside the email
/// address that LMS texts carry in their URL.
pub const CAUSE_PATTERNS: &[(Cause, &[Pattern])] = &[
    (
        Cause::NoMailbox,
        &[
            Contains("mailboxnotenabledforrestapi"),
            Contains("no mailbox for "),
            Contains("rest api is not yet supported for this mailbox"),
            Contains("mailbox is either inactive, soft-deleted, or is hosted on-premise"),
        ],
    ),
    (
        Cause::UnknownUser,
        &[
            Contains("errorinvaliduser"),
            Contains("resourcenotfound"),
            Contains("the requested user "),
            Contains("does not exist in azure ad"),
            Contains("404 client error"),
            Contains("user email address is required"),
        ],
    ),
    (
        Cause::Throttled,
        &[
            Contains("throttled by graph"),
            Contains("applicationthrottled"),
            Contains("toomanyrequests"),
            Contains("too many requests"),
            Contains("429 client error"),
            Contains("graph 429"),
        ],
    ),
    (
        Cause::Network,
        &[
            Contains("network error"),
            Contains("timed out"),
            Contains("max retries exceeded"),
            Contains("connection aborted"),
            Contains("connection reset"),
            Contains("connection refused"),
            Contains("newconnectionerror"),
            Contains("name or service not known"),
            Contains("temporary failure in name resolution"),
            Contains("may or may not have happened"),
            Contains("temporarily_unavailable"),
            Contains("500 server error"),
            Contains("502 server error"),
            Contains("503 server error"),
            Contains("504 server error"),
            Contains("graph 500"),
            Contains("graph 502"),
            Contains("graph 503"),
            Contains("graph 504"),
        ],
    ),
    (
        Cause::Credentials,
        &[
            Contains("aadsts"),
            Contains("token acquisition"),
            Contains("unable to get authority configuration"),
            Contains("no teams integration"),
            Contains("protected api required"),
            Contains("invalidauthenticationtoken"),
            Contains("erroraccessdenied"),
            Contains("authorization_requestdenied"),
            Contains("401 client error"),
            Contains("403 client error"),
            Contains("graph 401"),
            Contains("graph 403"),
        ],
    ),
    (
        Cause::TimeZone,
        &[
            Contains("timezonenotsupportedexception"),
            Contains("errorpropertyvalidationfailure"),
            Contains("unknown time zone"),
            Contains("fix the slot in the lms"),
            WhollyQuoted,
        ],
    ),
];

/// The cause of a failure text: the first cause in [`CAUSE_PATTERNS`] with a matching pattern,
/// else [`Cause::Other`].
///
/// An empty text is not a failure (the LMS writes `''` for "no error"): it matches no pattern
/// and so reads as `Other`, but callers should not ask. [`failure_cause`] and the store never
/// give a row without error text a cause.
pub fn cause_of(error: &str) -> Cause {
    let lowered = error.to_ascii_lowercase();
    CAUSE_PATTERNS
        .iter()
        .find(|(_, patterns)| patterns.iter().any(|p| p.matches(&lowered)))
        .map_or(Cause::Other, |(cause, _)| *cause)
}

/// The cause of a row's `calendar_error`, or `None` when it holds no error (NULL or `''`), the
/// same rule the store's cause filter applies.
pub fn failure_cause(error: Option<&str>) -> Option<Cause> {
    error.filter(|e| !e.is_empty()).map(cause_of)
}

/// Everything an operator can learn from one error text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub cause: Cause,
    /// The HTTP status the text reports (`Graph 404 …`, `404 Client Error`, `HTTP 401 …`).
    pub http_status: Option<u16>,
    /// Graph's `error.code`, e.g. `ErrorInvalidUser` (the LMS's texts since 2025-11-24 have none).
    pub graph_code: Option<String>,
    /// Graph's `request-id`, which Microsoft support asks for.
    pub request_id: Option<String>,
    /// The identity platform's error code, e.g. `AADSTS7000215`.
    pub aadsts: Option<String>,
    /// Whether syncing again, unchanged, can be expected to work.
    pub retry_worthwhile: bool,
    /// What to do about it, in plain words.
    pub hint: String,
}

/// Reads an error text in any of the LMS's or calsync's formats.
pub fn diagnose(error: &str) -> Diagnosis {
    let found = Found {
        http_status: http_status(error),
        graph_code: graph_code(error),
        aadsts: aadsts(error),
        lowered: error.to_ascii_lowercase(),
    };
    let cause = cause_of(error);
    let hint = if error.is_empty() {
        "There is no error text: this selection has not failed.".to_string()
    } else {
        hint(cause, error, &found)
    };
    Diagnosis {
        cause,
        retry_worthwhile: !error.is_empty() && !cause.is_permanent(),
        http_status: found.http_status,
        graph_code: found.graph_code,
        request_id: request_id(error),
        aadsts: found.aadsts,
        hint,
    }
}

/// What the parsers found, for choosing the hint.
struct Found {
    http_status: Option<u16>,
    graph_code: Option<String>,
    aadsts: Option<String>,
    lowered: String,
}

impl Found {
    fn says(&self, fragment: &str) -> bool {
        self.lowered.contains(fragment)
    }

    fn code_is(&self, code: &str) -> bool {
        self.graph_code.as_deref() == Some(code)
    }
}

fn hint(cause: Cause, error: &str, found: &Found) -> String {
    let text = match cause {
        Cause::NoMailbox => {
            "The user has no Exchange Online mailbox: the user needs an Exchange Online licence, \
             or is a guest / on-premises user; retrying will not help until that changes."
        }
        Cause::UnknownUser => unknown_user_hint(found),
        Cause::Credentials => return credentials_hint(found),
        Cause::Throttled => {
            "Graph asked to slow down (too many requests for this mailbox or app); retrying later \
             normally works."
        }
        Cause::TimeZone => return time_zone_hint(error, found),
        Cause::Network => network_hint(found),
        Cause::Other => other_hint(found),
    };
    text.to_string()
}

fn unknown_user_hint(found: &Found) -> &'static str {
    if found.says("user email address is required") {
        "The LMS account has no email address, so there is no calendar to write to: add the \
         user's work email in the LMS, then retry."
    } else if found.graph_code.is_none() {
        // The LMS's 404 texts lost Graph's error code: both causes fit.
        "Graph answered 404 for this address, and the LMS's text does not say why: either no \
         Microsoft 365 user has this email, or the user has no Exchange Online mailbox. Check the \
         address in the LMS against Entra ID and the user's licence; retrying will not help until \
         that changes (a retry with calsync records the exact reason)."
    } else {
        "No Microsoft 365 user has this email address: check the address in the LMS against \
         Entra ID; retrying will not help until it is fixed (only a user licensed in the last \
         15 minutes may still appear by itself)."
    }
}

fn credentials_hint(found: &Found) -> String {
    let code = found.aadsts.as_deref().unwrap_or("");
    let text = match code {
        "AADSTS7000215" => {
            "The Teams integration's client secret is wrong or has expired (the secret's value is \
             needed, not its ID): update it in the LMS's account settings, then retry."
        }
        "AADSTS7000222" => {
            "The Teams integration's client secret has expired: create a new secret for the app \
             in Entra ID, update it in the LMS's account settings, then retry."
        }
        "AADSTS7000216" => {
            "The Teams integration has no client secret: add it in the LMS's account settings, \
             then retry."
        }
        "AADSTS700016" => {
            "The Teams integration's client id is not an app in its tenant: check the client id \
             and tenant id in the LMS's account settings, then retry."
        }
        "AADSTS90002" => {
            "The Teams integration's tenant does not exist: check the tenant id in the LMS's \
             account settings, then retry."
        }
        _ if found.says("unable to get authority configuration") => {
            "Microsoft's login service does not know the Teams integration's tenant: check the \
             tenant id in the LMS's account settings, then retry."
        }
        _ if found.says("no teams integration") => {
            "The LMS found no active Teams integration for this user. It looks for one whose \
             owner is in the user's branch (the integration's own branch is not used), then one \
             the user owns: put the user in a branch whose admin owns an active integration, or \
             activate one, then retry."
        }
        _ if found.http_status == Some(401) || found.code_is("InvalidAuthenticationToken") => {
            "Graph rejected the Teams integration's token: check the app registration, its tenant \
             and its Calendars.ReadWrite application permission, then retry."
        }
        _ if found.http_status == Some(403)
            || found.says("protected api required")
            || found.says("accessdenied")
            || found.says("requestdenied") =>
        {
            "Graph refused access to this mailbox: the integration's app lacks the \
             Calendars.ReadWrite application permission with admin consent, or an Exchange \
             application access policy leaves this mailbox out. Fix it in Entra ID or Exchange, \
             then retry."
        }
        _ => {
            return format!(
                "Microsoft's login service refused the Teams integration's credentials{}: check \
                 its tenant id, client id and secret in the LMS's account settings, then retry.",
                if code.is_empty() {
                    String::new()
                } else {
                    format!(" ({code})")
                }
            );
        }
    };
    text.to_string()
}

fn time_zone_hint(error: &str, found: &Found) -> String {
    if found.says("slot ends") {
        return "The slot's times are wrong (it ends before or when it starts): fix the slot's \
                times in the LMS, then retry."
            .to_string();
    }
    if found.code_is("ErrorPropertyValidationFailure") {
        return "Graph rejected a property of the event, usually its time zone: check the slot's \
                time zone in the LMS, then retry."
            .to_string();
    }
    let zone = first_quoted(error)
        .map(|zone| {
            format!(
                " ({})",
                crate::text::truncate(&crate::text::clean_line(zone), 60)
            )
        })
        .unwrap_or_default();
    format!(
        "The slot's time zone{zone} is not one Outlook accepts: set an IANA zone such as \
         Europe/London on the slot in the LMS, then retry."
    )
}

fn network_hint(found: &Found) -> &'static str {
    if found.says("may or may not have happened") {
        "The event may or may not have reached the mailbox: a retry with calsync looks the event \
         up by its tag before creating it, so retrying is safe."
    } else if found.http_status.is_some_and(|s| s >= 500) {
        "Graph had a temporary service problem; retrying later normally works."
    } else {
        "Microsoft could not be reached (a timeout or a failed connection); retrying later \
         normally works. If it keeps happening, check that the server can reach \
         graph.microsoft.com and login.microsoftonline.com."
    }
}

fn other_hint(found: &Found) -> &'static str {
    if found.says("failed to create calendar event") {
        "Graph answered without an event id. Retrying normally works; check the user's calendar \
         for a duplicate afterwards, because the LMS does not tag its events."
    } else if found.http_status == Some(400) && found.graph_code.is_none() {
        "Graph rejected the event (400), and the LMS's text does not say why; the slot's time \
         zone is a common reason. A retry with calsync records Graph's exact reason."
    } else {
        "calsync does not recognise this error; read the full text. Retrying may help."
    }
}

// ----- parsing ---------------------------------------------------------------------------------

/// The HTTP status from `Graph 404 …`, `HTTP 401 …`, `API request failed: 404 …` or
/// `… 503 Server Error …`.
fn http_status(error: &str) -> Option<u16> {
    let lowered = error.to_ascii_lowercase();
    let after_prefix = ["graph ", "http ", "api request failed: "]
        .iter()
        .flat_map(|prefix| {
            lowered
                .match_indices(prefix)
                .map(move |(at, _)| at + prefix.len())
        })
        .find_map(|at| status_at(&lowered, at));
    after_prefix.or_else(|| {
        [" client error", " server error"]
            .iter()
            .flat_map(|suffix| lowered.match_indices(suffix).map(|(at, _)| at))
            .find_map(|end| end.checked_sub(3).and_then(|at| status_at(&lowered, at)))
    })
}

/// Three digits at `at` that stand alone and read as an HTTP status.
fn status_at(text: &str, at: usize) -> Option<u16> {
    let bytes = text.as_bytes();
    let digits = bytes.get(at..at + 3)?;
    let alone = |i: Option<usize>| {
        i.and_then(|i| bytes.get(i))
            .is_none_or(|b| !b.is_ascii_digit())
    };
    if !digits.iter().all(u8::is_ascii_digit) || !alone(at.checked_sub(1)) || !alone(Some(at + 3)) {
        return None;
    }
    let status = std::str::from_utf8(digits).ok()?.parse::<u16>().ok()?;
    (100..=599).contains(&status).then_some(status)
}

/// Graph codes worth recognising anywhere in a text (the calendar-relevant ones).
const KNOWN_GRAPH_CODES: &[&str] = &[
    "MailboxNotEnabledForRESTAPI",
    "ErrorInvalidUser",
    "ResourceNotFound",
    "Request_ResourceNotFound",
    "ErrorItemNotFound",
    "TimeZoneNotSupportedException",
    "ErrorPropertyValidationFailure",
    "InvalidAuthenticationToken",
    "ErrorAccessDenied",
    "Authorization_RequestDenied",
    "ExtensionError",
    "TooManyRequests",
    "ApplicationThrottled",
    "ErrorInternalServerError",
    "ErrorInternalServerTransientError",
    "ServiceUnavailable",
];

/// The code after calsync's `Graph 404 `, else a known code anywhere (`… (MailboxNotEnabledForRESTAPI)`).
fn graph_code(error: &str) -> Option<String> {
    let after_status = error.match_indices("Graph ").find_map(|(at, prefix)| {
        let rest = error[at + prefix.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        let word = rest
            .strip_prefix(' ')?
            .split(|c: char| !is_code_char(c))
            .next()?;
        looks_like_code(word).then(|| word.to_string())
    });
    after_status.or_else(|| {
        error
            .split(|c: char| !is_code_char(c))
            .find_map(|word| {
                KNOWN_GRAPH_CODES
                    .iter()
                    .find(|code| code.eq_ignore_ascii_case(word))
            })
            .map(|code| code.to_string())
    })
}

fn is_code_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `ErrorInvalidUser`, `itemNotFound`, `Request_ResourceNotFound`, but not an English word.
fn looks_like_code(word: &str) -> bool {
    let mut chars = word.chars();
    word.len() >= 4
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.any(|c| c.is_ascii_uppercase() || c == '_')
}

/// The value after `request-id` (calsync's `(request-id …)`, Graph's `"request-id": "…"`),
/// never a `client-request-id`.
fn request_id(error: &str) -> Option<String> {
    let lowered = error.to_ascii_lowercase();
    lowered
        .match_indices("request-id")
        .filter(|(at, _)| !lowered[..*at].ends_with("client-"))
        .find_map(|(at, key)| {
            let value: String = error[at + key.len()..]
                .trim_start_matches([' ', ':', '"', '='])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (!value.is_empty()).then_some(value)
        })
}

/// `AADSTS` and its digits.
fn aadsts(error: &str) -> Option<String> {
    error.match_indices("AADSTS").find_map(|(at, prefix)| {
        let digits: String = error[at + prefix.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (!digits.is_empty()).then(|| format!("{prefix}{digits}"))
    })
}

/// The first `'…'` in the text (the zone in `'Foo/Bar'` or `unknown time zone 'Foo/Bar'`).
fn first_quoted(error: &str) -> Option<&str> {
    let (_, rest) = error.split_once('\'')?;
    let (inside, _) = rest.split_once('\'')?;
    (!inside.is_empty()).then_some(inside)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real texts, as the LMS and calsync write them, with the cause each must read as.
    const REAL_TEXTS: &[(&str, Cause)] = &[
        // The LMS, since 2025-11-24 (Graph's body is lost).
        (
            "API request failed: 404 Client Error: Not Found for url: https://graph.microsoft.com/v1.0/users/jane@example.org/calendar/events",
            Cause::UnknownUser,
        ),
        (
            "API request failed: 429 Client Error: Too Many Requests for url: https://graph.microsoft.com/v1.0/users/jane@example.org/calendar/events",
            Cause::Throttled,
        ),
        (
            "API request failed: 503 Server Error: Service Unavailable for url: https://graph.microsoft.com/v1.0/users/jane@example.org/calendar/events",
            Cause::Network,
        ),
        (
            "API request failed: HTTPSConnectionPool(host='graph.microsoft.com', port=443): Read timed out. (read timeout=30)",
            Cause::Network,
        ),
        (
            "API request failed: 401 Client Error: Unauthorized for url: https://graph.microsoft.com/v1.0/users/jane@example.org/calendar/events",
            Cause::Credentials,
        ),
        (
            "API request failed: 403 - PROTECTED API REQUIRED for endpoint users/jane@example.org/calendar/events",
            Cause::Credentials,
        ),
        (
            "API request failed: 400 Client Error: Bad Request for url: https://graph.microsoft.com/v1.0/users/jane@example.org/calendar/events",
            Cause::Other,
        ),
        (
            "Token acquisition error: Token acquisition failed: AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '00000000-0000-4000-8000-000000001003'. Trace ID: 1a2b3c4d-demo Correlation ID: 5e6f7a8b-demo Timestamp: 2025-12-01 09:15:04Z",
            Cause::Credentials,
        ),
        (
            "Token acquisition error: HTTPSConnectionPool(host='login.microsoftonline.com', port=443): Read timed out. (read timeout=None)",
            Cause::Network,
        ),
        (
            "Unable to get authority configuration for https://login.microsoftonline.com/contoso.onmicrosft.com. Authority would typically be in a format of https://login.microsoftonline.com/your_tenant Also please double check your tenant name or GUID is correct.",
            Cause::Credentials,
        ),
        ("No Teams integration available", Cause::Credentials),
        (
            "User email address is required for calendar integration",
            Cause::UnknownUser,
        ),
        ("'Foo/Bar'", Cause::TimeZone),
        ("'Eastern Standard Time'", Cause::TimeZone),
        ("Failed to create calendar event", Cause::Other),
        // The LMS, before 2025-11-24.
        (
            "The user 'jane@example.org' does not exist in Azure AD or doesn't have a mailbox",
            Cause::UnknownUser,
        ),
        // calsync.
        (
            "Graph 404 ErrorInvalidUser: The requested user 'ghost@contoso.com' is invalid. (request-id 6d2f1c3e-0b1a-4c5d-9e8f-7a6b5c4d3e2f)",
            Cause::UnknownUser,
        ),
        (
            "No mailbox for visitor@guests.example (MailboxNotEnabledForRESTAPI) — the user needs an Exchange Online licence (or is a guest/on-premises user) (request-id 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0)",
            Cause::NoMailbox,
        ),
        (
            "Token acquisition failed: AADSTS7000215 invalid client secret for app 00000000-0000-0000-0000-00000000c1d0 in tenant contoso.onmicrosoft.com — the integration's client secret is wrong or expired",
            Cause::Credentials,
        ),
        (
            "Token acquisition failed for app c1d0 in tenant contoso: HTTP 400 invalid_request AADSTS90002: Tenant 'contoso' not found.",
            Cause::Credentials,
        ),
        (
            "Throttled by Graph for ann@contoso.com: still throttled after 3 attempts (Retry-After 0.05 s)",
            Cause::Throttled,
        ),
        (
            "Throttled by Graph for ann@contoso.com: the mailbox is held back for another 300 s, longer than the 120 s this client waits; try again later",
            Cause::Throttled,
        ),
        (
            "Network error talking to Graph: could not connect (connection refused)",
            Cause::Network,
        ),
        (
            "Network error talking to the Microsoft login service: timed out after 30 s",
            Cause::Network,
        ),
        (
            "Create in ann@contoso.com may or may not have happened (Graph 504 GatewayTimeout: upstream) — look the event up by its tag before creating it again",
            Cause::Network,
        ),
        (
            "Graph 503 ServiceUnavailable: try later (request-id abc-123)",
            Cause::Network,
        ),
        (
            "Graph 403 ErrorAccessDenied: Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings. — ann@contoso.com is outside the app's Exchange application access policy",
            Cause::Credentials,
        ),
        (
            "Graph 401 InvalidAuthenticationToken: Access token validation failure. — Graph rejected a freshly issued token; check the app registration, its tenant and its Calendars.ReadWrite permission",
            Cause::Credentials,
        ),
        (
            "Graph 400 TimeZoneNotSupportedException: A valid TimeZone value must be specified. The following TimeZone value is not supported: 'Foo/Bar'. — send a Windows time-zone ID (e.g. 'W. Europe Standard Time') or UTC",
            Cause::TimeZone,
        ),
        (
            "No Teams integration available (none active is owned by someone in branch 'South Campus' or by zunal)",
            Cause::Credentials,
        ),
        (
            "Slot 4: unknown time zone 'Foo/Bar' (not an IANA zone name) — fix the slot in the LMS",
            Cause::TimeZone,
        ),
        (
            "Slot 4: slot ends at 09:00:00 before it starts at 10:00:00 — fix the slot in the LMS",
            Cause::TimeZone,
        ),
        (
            "Graph 404 ErrorItemNotFound: The specified object was not found in the store. — the event no longer exists in ann@contoso.com's calendar",
            Cause::Other,
        ),
        ("internal error: task panicked", Cause::Other),
    ];

    #[test]
    fn every_real_format_reads_as_its_cause() {
        for (text, cause) in REAL_TEXTS {
            assert_eq!(cause_of(text), *cause, "{text}");
        }
    }

    #[test]
    fn matching_ignores_ascii_case_only() {
        assert_eq!(cause_of("NO MAILBOX FOR ANN@X.ORG"), Cause::NoMailbox);
        assert_eq!(cause_of("graph 404 errorinvaliduser"), Cause::UnknownUser);
        // The Kelvin sign folds to `k` in Unicode, but not in SQLite's LIKE: it must not match.
        assert_eq!(
            cause_of("Networ\u{212a} error talking to Graph"),
            Cause::Other
        );
    }

    #[test]
    fn a_text_that_fits_two_causes_takes_the_first_in_table_order() {
        // A mailbox address that looks like another cause does not change the reading.
        assert_eq!(
            cause_of("No mailbox for throttled.by.graph@x.org (MailboxNotEnabledForRESTAPI)"),
            Cause::NoMailbox
        );
        assert_eq!(
            cause_of(
                "API request failed: 404 Client Error: Not Found for url: https://graph.microsoft.com/v1.0/users/timed.out@x.org/calendar/events"
            ),
            Cause::UnknownUser
        );
    }

    #[test]
    fn unicode_and_very_long_texts_are_read() {
        let long = format!("Échec: ErrorInvalidUser — 会議 {}", "y".repeat(5000));
        assert_eq!(cause_of(&long), Cause::UnknownUser);
        assert_eq!(
            diagnose(&long).graph_code.as_deref(),
            Some("ErrorInvalidUser")
        );
        let buried = format!("{} 'Zoë' {}", "é".repeat(20_000), "Read timed out.");
        assert_eq!(cause_of(&buried), Cause::Network);
        assert_eq!(cause_of("'会議/時間'"), Cause::TimeZone);
        assert_eq!(cause_of("会議"), Cause::Other);
    }

    #[test]
    fn only_a_wholly_quoted_text_is_a_bare_zone() {
        assert_eq!(cause_of("'"), Cause::Other);
        assert_eq!(cause_of("''"), Cause::TimeZone);
        assert_eq!(cause_of("'Foo/Bar' "), Cause::Other);
        assert_eq!(cause_of("the value 'x' is wrong"), Cause::Other);
    }

    #[test]
    fn an_empty_text_is_no_failure() {
        assert_eq!(failure_cause(None), None);
        assert_eq!(failure_cause(Some("")), None);
        assert_eq!(failure_cause(Some(" ")), Some(Cause::Other));
        assert_eq!(cause_of(""), Cause::Other);
        let nothing = diagnose("");
        assert!(!nothing.retry_worthwhile);
        assert!(nothing.hint.contains("not failed"), "{}", nothing.hint);
    }

    #[test]
    fn causes_have_names_labels_and_permanence() {
        for cause in Cause::ALL {
            assert_eq!(Cause::parse(cause.as_str()), Some(cause));
            assert_eq!(cause.to_string(), cause.as_str());
            assert!(!cause.label().is_empty());
        }
        assert_eq!(Cause::parse(" No-Mailbox "), Some(Cause::NoMailbox));
        assert_eq!(Cause::parse("mailbox"), None);
        let permanent: Vec<Cause> = Cause::ALL
            .into_iter()
            .filter(|c| c.is_permanent())
            .collect();
        assert_eq!(
            permanent,
            [
                Cause::NoMailbox,
                Cause::UnknownUser,
                Cause::Credentials,
                Cause::TimeZone
            ]
        );
        assert_eq!(
            serde_json::to_string(&Cause::TimeZone).unwrap(),
            "\"time_zone\""
        );
    }

    #[test]
    fn the_table_names_every_cause_but_other_exactly_once() {
        for cause in Cause::ALL {
            let entries = CAUSE_PATTERNS.iter().filter(|(c, _)| *c == cause).count();
            assert_eq!(entries, usize::from(cause != Cause::Other), "{cause}");
        }
        for (_, patterns) in CAUSE_PATTERNS {
            for pattern in *patterns {
                if let Pattern::Contains(fragment) = pattern {
                    assert_eq!(*fragment, fragment.to_ascii_lowercase());
                }
            }
        }
    }

    struct Expected {
        text: &'static str,
        status: Option<u16>,
        code: Option<&'static str>,
        request_id: Option<&'static str>,
        aadsts: Option<&'static str>,
        retry: bool,
        hint: &'static str,
    }

    #[test]
    fn diagnosis_parses_details_and_gives_an_actionable_hint() {
        let cases = [
            Expected {
                text: "Graph 404 ErrorInvalidUser: The requested user 'ghost@contoso.com' is invalid. (request-id 6d2f1c3e-0b1a-4c5d-9e8f-7a6b5c4d3e2f)",
                status: Some(404),
                code: Some("ErrorInvalidUser"),
                request_id: Some("6d2f1c3e-0b1a-4c5d-9e8f-7a6b5c4d3e2f"),
                aadsts: None,
                retry: false,
                hint: "No Microsoft 365 user has this email address",
            },
            Expected {
                text: "No mailbox for visitor@guests.example (MailboxNotEnabledForRESTAPI) — the user needs an Exchange Online licence (or is a guest/on-premises user) (request-id 0f1e2d3c)",
                status: None,
                code: Some("MailboxNotEnabledForRESTAPI"),
                request_id: Some("0f1e2d3c"),
                aadsts: None,
                retry: false,
                hint: "needs an Exchange Online licence, or is a guest / on-premises user; retrying will not help until that changes",
            },
            Expected {
                text: "API request failed: 404 Client Error: Not Found for url: https://graph.microsoft.com/v1.0/users/jane@example.org/calendar/events",
                status: Some(404),
                code: None,
                request_id: None,
                aadsts: None,
                retry: false,
                hint: "either no Microsoft 365 user has this email, or the user has no Exchange Online mailbox",
            },
            Expected {
                text: "The user 'jane@example.org' does not exist in Azure AD or doesn't have a mailbox",
                status: None,
                code: None,
                request_id: None,
                aadsts: None,
                retry: false,
                hint: "does not say why",
            },
            Expected {
                text: "Token acquisition error: Token acquisition failed: AADSTS7000215: Invalid client secret provided. Trace ID: 1a2b Correlation ID: 5e6f Timestamp: 2025-12-01 09:15:04Z",
                status: None,
                code: None,
                request_id: None,
                aadsts: Some("AADSTS7000215"),
                retry: false,
                hint: "the Teams integration's client secret is wrong or has expired",
            },
            Expected {
                text: "Token acquisition failed for app c1d0 in tenant contoso: HTTP 401 invalid_client AADSTS7000222: The provided client secret keys are expired.",
                status: Some(401),
                code: None,
                request_id: None,
                aadsts: Some("AADSTS7000222"),
                retry: false,
                hint: "create a new secret",
            },
            Expected {
                text: "Unable to get authority configuration for https://login.microsoftonline.com/nope. Authority would typically be in a format of https://login.microsoftonline.com/your_tenant",
                status: None,
                code: None,
                request_id: None,
                aadsts: None,
                retry: false,
                hint: "check the tenant id",
            },
            Expected {
                text: "No Teams integration available",
                status: None,
                code: None,
                request_id: None,
                aadsts: None,
                retry: false,
                hint: "whose owner is in the user's branch",
            },
            Expected {
                text: "Graph 403 ErrorAccessDenied: Access is denied. Check credentials and try again. — the app lacks Calendars.ReadWrite (application) admin consent (request-id r-403)",
                status: Some(403),
                code: Some("ErrorAccessDenied"),
                request_id: Some("r-403"),
                aadsts: None,
                retry: false,
                hint: "application access policy",
            },
            Expected {
                text: "'Foo/Bar'",
                status: None,
                code: None,
                request_id: None,
                aadsts: None,
                retry: false,
                hint: "The slot's time zone (Foo/Bar) is not one Outlook accepts",
            },
            Expected {
                text: "Slot 4: unknown time zone 'Foo/Bar' (not an IANA zone name) — fix the slot in the LMS",
                status: None,
                code: None,
                request_id: None,
                aadsts: None,
                retry: false,
                hint: "set an IANA zone such as Europe/London on the slot",
            },
            Expected {
                text: "Slot 9: slot ends at 09:00:00 before it starts at 10:00:00 — fix the slot in the LMS",
                status: None,
                code: None,
                request_id: None,
                aadsts: None,
                retry: false,
                hint: "fix the slot's times",
            },
            Expected {
                text: "Throttled by Graph for ann@contoso.com: still throttled after 6 attempts (Retry-After 30 s) (request-id t-1)",
                status: None,
                code: None,
                request_id: Some("t-1"),
                aadsts: None,
                retry: true,
                hint: "Graph asked to slow down",
            },
            Expected {
                text: "API request failed: 429 Client Error: Too Many Requests for url: https://graph.microsoft.com/v1.0/users/a@b.org/calendar/events",
                status: Some(429),
                code: None,
                request_id: None,
                aadsts: None,
                retry: true,
                hint: "retrying later normally works",
            },
            Expected {
                text: "API request failed: HTTPSConnectionPool(host='graph.microsoft.com', port=443): Read timed out. (read timeout=30)",
                status: None,
                code: None,
                request_id: None,
                aadsts: None,
                retry: true,
                hint: "could not be reached",
            },
            Expected {
                text: "API request failed: 503 Server Error: Service Unavailable for url: https://graph.microsoft.com/v1.0/users/a@b.org/calendar/events",
                status: Some(503),
                code: None,
                request_id: None,
                aadsts: None,
                retry: true,
                hint: "temporary service problem",
            },
            Expected {
                text: "Create in ann@contoso.com may or may not have happened (Graph 504 GatewayTimeout: upstream) — look the event up by its tag before creating it again",
                status: Some(504),
                code: Some("GatewayTimeout"),
                request_id: None,
                aadsts: None,
                retry: true,
                hint: "retrying is safe",
            },
            Expected {
                text: "{\"error\":{\"code\":\"ErrorItemNotFound\",\"innerError\":{\"client-request-id\":\"c-1\",\"request-id\":\"93b6f17e-1\"}}}",
                status: None,
                code: Some("ErrorItemNotFound"),
                request_id: Some("93b6f17e-1"),
                aadsts: None,
                retry: true,
                hint: "does not recognise",
            },
            Expected {
                text: "API request failed: 400 Client Error: Bad Request for url: https://graph.microsoft.com/v1.0/users/a@b.org/calendar/events",
                status: Some(400),
                code: None,
                request_id: None,
                aadsts: None,
                retry: true,
                hint: "time zone is a common reason",
            },
            Expected {
                text: "Failed to create calendar event",
                status: None,
                code: None,
                request_id: None,
                aadsts: None,
                retry: true,
                hint: "without an event id",
            },
            Expected {
                text: "User email address is required for calendar integration",
                status: None,
                code: None,
                request_id: None,
                aadsts: None,
                retry: false,
                hint: "add the user's work email in the LMS",
            },
        ];
        for case in cases {
            let d = diagnose(case.text);
            assert_eq!(d.cause, cause_of(case.text), "{}", case.text);
            assert_eq!(d.http_status, case.status, "status of {}", case.text);
            assert_eq!(d.graph_code.as_deref(), case.code, "code of {}", case.text);
            assert_eq!(
                d.request_id.as_deref(),
                case.request_id,
                "request id of {}",
                case.text
            );
            assert_eq!(d.aadsts.as_deref(), case.aadsts, "AADSTS of {}", case.text);
            assert_eq!(d.retry_worthwhile, case.retry, "retry of {}", case.text);
            assert!(
                d.hint.to_lowercase().contains(&case.hint.to_lowercase()),
                "hint for {}: {}",
                case.text,
                d.hint
            );
        }
    }

    #[test]
    fn numbers_that_are_not_statuses_are_ignored() {
        assert_eq!(http_status("read timeout=30 port=443"), None);
        assert_eq!(http_status("Graph 4040 something"), None);
        assert_eq!(http_status("HTTP 999 nonsense"), None);
        assert_eq!(http_status("1404 Client Error"), None);
        assert_eq!(graph_code("Graph rejected a freshly issued token"), None);
    }

    #[test]
    fn details_from_database_text_never_carry_control_characters() {
        let hostile = "Graph 404 Error\u{1b}[31mInvalidUser (request-id ab\u{1b}]0;x\u{7})";
        let d = diagnose(hostile);
        assert_eq!(d.request_id.as_deref(), Some("ab"));
        assert!(d.graph_code.iter().all(|c| c.chars().all(is_code_char)));
        let zone = diagnose("'\u{1b}[2JFoo/Bar\u{7}'");
        assert_eq!(zone.cause, Cause::TimeZone);
        assert!(zone.hint.contains("(Foo/Bar)"), "{}", zone.hint);
    }
}
