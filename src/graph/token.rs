//! App-only (client credentials) tokens: one cached token per (tenant, client id),
//! fetched by one task while concurrent callers wait, refreshed before it expires.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use serde_json::Value;

use super::errors::{ErrorKind, GraphError, Service};
use super::http_pool::HttpPool;
use super::ids;
use super::request_log::{self, Sent};
use super::response::{failure_word, network_detail, read_response, redirect_detail};
use super::retry::backoff;
use super::{Credentials, GraphConfig, Stats};

/// Refresh this long before expiry (or at half the lifetime when that is shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// A permanent token failure is remembered this long for the same secret, so a wrong
/// secret does not send one login request per queued item.
const FAILURE_MEMORY: Duration = Duration::from_secs(5);
/// A login outage that outlasted its retries is remembered this long for the same secret: the
/// rest of a run fails at once with that error instead of every selection waiting through its
/// own round of retries (16 selections took over 3 minutes that way).
const OUTAGE_MEMORY: Duration = Duration::from_secs(120);

/// A bearer token. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AccessToken {
    /// `Bearer {token}`, marked sensitive: built once, sent on every Graph request.
    authorization: HeaderValue,
}

impl AccessToken {
    /// `None` for a token no HTTP header can carry.
    fn new(token: &str) -> Option<Self> {
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
        authorization.set_sensitive(true);
        Some(Self { authorization })
    }

    /// The `Authorization` header's value.
    pub(crate) fn authorization(&self) -> HeaderValue {
        self.authorization.clone()
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
    /// The failure, until when it stands, and the secret it was for.
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
        http: &HttpPool,
        fresh_http: &HttpPool,
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
        if let Some((err, until, fp)) = &slot.failure
            && *fp == fingerprint
            && now < *until
        {
            return Err(err.clone());
        }
        match fetch([http, fresh_http], config, stats, creds).await {
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
                let memory = if err.is_permanent() {
                    Some(FAILURE_MEMORY)
                } else if err.is_retryable() {
                    Some(OUTAGE_MEMORY)
                } else {
                    None
                };
                if let Some(memory) = memory {
                    slot.failure = Some((err.clone(), Instant::now() + memory, fingerprint));
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

/// A login abandoned because the run was cancelled.
pub(crate) fn cancelled(creds: &Credentials) -> GraphError {
    token_error(ErrorKind::Network, creds)
        .with_detail("cancelled while waiting for the login service; nothing was sent to Graph")
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
    Some((AccessToken::new(token)?, Duration::from_secs(expires_in)))
}

/// One token request, retried only for `temporarily_unavailable`/5xx/429 and network
/// failures (the request is idempotent); a retry goes out on a new connection (`clients[1]`
/// keeps none idle), as Graph's best practices ask after a 503.
async fn fetch(
    clients: [&HttpPool; 2],
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
    let scope = config.cloud().scope();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.expose()),
            ("scope", scope.as_str()),
        ];
        let crid = ids::client_request_id();
        stats.bump(&stats.token_requests);
        let sent_at = Instant::now();
        let mut http = clients[usize::from(attempt > 1)].lease().await;
        let request = http
            .post(&url)
            .header("client-request-id", &crid)
            .form(&form);
        let sent = http.send(request).await;
        let result = match sent {
            Ok(resp) => {
                let login_request_id = resp
                    .headers()
                    .get("x-ms-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                read_response(resp).await.map(|mut answer| {
                    answer.request_id = login_request_id.or(answer.request_id);
                    answer
                })
            }
            Err(e) => Err(e),
        };
        drop(http);
        let answer = result.as_ref().ok();
        request_log::record(&Sent {
            service: request_log::Service::Login,
            method: "POST",
            url: &url,
            status: answer.map(|a| a.status),
            duration: sent_at.elapsed(),
            attempt,
            request_id: answer.and_then(|a| a.request_id.as_deref()),
            client_request_id: &crid,
            ags_diagnostic: answer.and_then(|a| a.ags_diagnostic.as_deref()),
            failure: result.as_ref().err().map(failure_word),
        });
        let answer = match result {
            Ok(answer) => answer,
            Err(e) => {
                let detail = network_detail(&e, config.timeout);
                if attempt >= max {
                    stats.bump(&stats.token_failures);
                    let mut err = token_error(ErrorKind::Network, creds).with_detail(detail);
                    err.attempts = attempt;
                    return Err(err);
                }
                tokio::time::sleep(backoff(config.backoff_base, attempt, config.max_retry_wait))
                    .await;
                continue;
            }
        };
        let status = answer.status;
        let retry_after = answer.retry_after;
        let request_id = answer.request_id;
        let body = answer.body.unwrap_or(Value::Null);
        if (300..400).contains(&status) {
            // The form holds the client secret: it is never re-posted to another origin.
            stats.bump(&stats.token_failures);
            let mut err = token_error(ErrorKind::Auth, creds).with_detail(format!(
                "the login service {}",
                redirect_detail(status, answer.redirect_host.as_deref(), "the client secret")
            ));
            err.status = Some(status);
            err.attempts = attempt;
            err.request_id = request_id;
            err.ags_diagnostic = answer.ags_diagnostic;
            return Err(err);
        }
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
