//! App-only (client credentials) tokens: one cached token per (tenant, client id),
//! fetched by one task while concurrent callers wait, refreshed before it expires.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::errors::{ErrorKind, GraphError, Service};
use super::ids;
use super::retry::{backoff, parse_retry_after};
use super::{Credentials, GraphConfig, Stats};

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Refresh this long before expiry (or at half the lifetime when that is shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// A permanent token failure is remembered this long for the same secret, so a wrong
/// secret does not send one login request per queued item.
const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// A bearer token. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AccessToken(Arc<str>);

impl AccessToken {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

#[derive(Default)]
struct Slot {
    token: Option<Cached>,
    failure: Option<(GraphError, Instant, u64)>,
}

/// (lowercased tenant, client id) → that app's token slot.
type Slots = HashMap<(String, String), Arc<tokio::sync::Mutex<Slot>>>;

#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<Slots>,
}

fn secret_fingerprint(creds: &Credentials) -> u64 {
    let mut h = DefaultHasher::new();
    creds.client_secret.expose().hash(&mut h);
    h.finish()
}

impl TokenCache {
    fn slot(&self, creds: &Credentials) -> Arc<tokio::sync::Mutex<Slot>> {
        let key = (creds.tenant_id.to_lowercase(), creds.client_id.clone());
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(slots.entry(key).or_default())
    }

    /// A valid token for `creds`. Holding the slot's async mutex during the fetch makes
    /// concurrent callers wait for that one fetch instead of starting their own.
    pub(crate) async fn get(
        &self,
        http: &reqwest::Client,
        config: &GraphConfig,
        stats: &Stats,
        creds: &Credentials,
    ) -> Result<AccessToken, GraphError> {
        let slot = self.slot(creds);
        let mut slot = slot.lock().await;
        let now = Instant::now();
        if let Some(cached) = &slot.token
            && cached.refresh_at > now
        {
            return Ok(cached.token.clone());
        }
        let fingerprint = secret_fingerprint(creds);
        if let Some((err, at, fp)) = &slot.failure
            && *fp == fingerprint
            && now.duration_since(*at) < FAILURE_MEMORY
        {
            return Err(err.clone());
        }
        match fetch(http, config, stats, creds).await {
            Ok((token, lifetime)) => {
                let margin = REFRESH_MARGIN.min(lifetime / 2);
                slot.token = Some(Cached {
                    token: token.clone(),
                    refresh_at: Instant::now() + lifetime.saturating_sub(margin),
                });
                slot.failure = None;
                Ok(token)
            }
            Err(err) => {
                if err.is_permanent() {
                    slot.failure = Some((err.clone(), Instant::now(), fingerprint));
                }
                Err(err)
            }
        }
    }

    /// Drops the cached token if it is still `used` (Graph said it is no longer valid).
    pub(crate) async fn invalidate(&self, creds: &Credentials, used: &AccessToken) {
        let slot = self.slot(creds);
        let mut slot = slot.lock().await;
        if slot.token.as_ref().is_some_and(|c| &c.token == used) {
            slot.token = None;
        }
    }
}

fn token_error(kind: ErrorKind, creds: &Credentials) -> GraphError {
    let mut e = GraphError::new(kind, Service::Login);
    e.tenant_id = Some(creds.tenant_id.clone());
    e.client_id = Some(creds.client_id.clone());
    e
}

/// `AADSTS7000215` from `error_codes`, or from the start of the description.
fn aadsts_code(body: &Value, description: &str) -> Option<String> {
    if let Some(code) = body
        .get("error_codes")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_u64)
    {
        return Some(format!("AADSTS{code}"));
    }
    let start = description.find("AADSTS")?;
    let digits: String = description[start + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then(|| format!("AADSTS{digits}"))
}

/// The first line of an `error_description`, without the `AADSTSnnn:` prefix, and with
/// the secret scrubbed in case the service ever echoes it.
fn short_description(description: &str, creds: &Credentials) -> String {
    let first = description.split(['\r', '\n']).next().unwrap_or("").trim();
    let first = match first.split_once(": ") {
        Some((head, rest)) if head.starts_with("AADSTS") => rest,
        _ => first,
    };
    let secret = creds.client_secret.expose();
    let cleaned = if secret.is_empty() {
        first.to_string()
    } else {
        first.replace(secret, "[redacted]")
    };
    cleaned.chars().take(300).collect()
}

fn parse_success(body: &Value) -> Option<(AccessToken, Duration)> {
    let token = body.get("access_token")?.as_str()?;
    if token.is_empty() {
        return None;
    }
    let expires_in = match body.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64()?,
        Some(Value::String(s)) => s.parse().ok()?,
        _ => 3599,
    };
    Some((
        AccessToken(Arc::from(token)),
        Duration::from_secs(expires_in),
    ))
}

/// One token request, retried only for `temporarily_unavailable`/5xx/429 and network
/// failures (the request is idempotent).
async fn fetch(
    http: &reqwest::Client,
    config: &GraphConfig,
    stats: &Stats,
    creds: &Credentials,
) -> Result<(AccessToken, Duration), GraphError> {
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        config.login_url,
        ids::encode_segment(&creds.tenant_id)
    );
    let max = config.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.expose()),
            ("scope", GRAPH_SCOPE),
        ];
        let crid = ids::client_request_id();
        stats.bump(&stats.token_requests);
        let sent = http
            .post(&url)
            .header("client-request-id", &crid)
            .form(&form)
            .send()
            .await;
        let (status, retry_after, body, request_id) = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let request_id = resp
                    .headers()
                    .get("x-ms-request-id")
                    .or_else(|| resp.headers().get("request-id"))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match resp.bytes().await {
                    Ok(bytes) => (
                        status,
                        retry_after,
                        serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
                        request_id,
                    ),
                    Err(e) => {
                        let detail = super::client::network_detail(&e, config.timeout);
                        if attempt >= max {
                            stats.bump(&stats.token_failures);
                            let mut err =
                                token_error(ErrorKind::Network, creds).with_detail(detail);
                            err.attempts = attempt;
                            return Err(err);
                        }
                        tokio::time::sleep(backoff(
                            config.backoff_base,
                            attempt,
                            config.max_retry_wait,
                        ))
                        .await;
                        continue;
                    }
                }
            }
            Err(e) => {
                if attempt >= max {
                    stats.bump(&stats.token_failures);
                    let mut err = token_error(ErrorKind::Network, creds)
                        .with_detail(super::client::network_detail(&e, config.timeout));
                    err.attempts = attempt;
                    return Err(err);
                }
                tokio::time::sleep(backoff(config.backoff_base, attempt, config.max_retry_wait))
                    .await;
                continue;
            }
        };
        if (200..300).contains(&status) {
            return match parse_success(&body) {
                Some(ok) => {
                    stats.bump(&stats.tokens_fetched);
                    Ok(ok)
                }
                None => {
                    stats.bump(&stats.token_failures);
                    let mut err = token_error(ErrorKind::Auth, creds)
                        .with_detail("the token response had no access_token");
                    err.status = Some(status);
                    err.attempts = attempt;
                    err.request_id = request_id;
                    Err(err)
                }
            };
        }
        let error = body.get("error").and_then(Value::as_str).unwrap_or("");
        let description = body
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("");
        let transient = error == "temporarily_unavailable" || status >= 500 || status == 429;
        let kind = if transient {
            ErrorKind::Transient
        } else {
            ErrorKind::Auth
        };
        let mut err = token_error(kind, creds);
        err.status = Some(status);
        err.code = (!error.is_empty()).then(|| error.to_string());
        err.aadsts = aadsts_code(&body, description);
        err.message = (!description.is_empty()).then(|| short_description(description, creds));
        err.request_id = request_id.or_else(|| {
            body.get("trace_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        err.attempts = attempt;
        err.retry_after = retry_after;
        if !transient {
            stats.bump(&stats.token_failures);
            return Err(err);
        }
        let wait = retry_after
            .unwrap_or_else(|| backoff(config.backoff_base, attempt, config.max_retry_wait));
        if attempt >= max || wait > config.max_retry_wait {
            stats.bump(&stats.token_failures);
            return Err(err.with_detail(format!(
                "login service still unavailable after {attempt} attempts"
            )));
        }
        stats.bump(&stats.retries);
        tokio::time::sleep(wait).await;
    }
}
