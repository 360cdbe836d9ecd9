//! JSON batching (`POST /$batch`).
//!
//! Policy: any number of requests may be passed; they are sent in envelopes of at most
//! [`MAX_BATCH_ITEMS`], with at most the per-mailbox concurrency limit (4) of items per
//! mailbox in one envelope, each item holding one of its mailbox's slots while the
//! envelope is in flight. Items answered 429/503/504 are re-queued on their own, after
//! their Retry-After (which holds back their whole mailbox), under the same create
//! policy as single requests. Responses are returned in input order, one per request;
//! only invalid input (empty or duplicate ids, absolute URLs) fails the whole call.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Map, Value, json};

use super::client::{
    CLIENT_REQUEST_ID, Decision, GraphClient, PREFER, PREFER_HEADER, Replay, decide_network,
    decide_status, log_graph_request,
};
use super::errors::{ErrorKind, GraphError, Service};
use super::response::{Answer, network_detail, read_response, redirect_detail};
use super::retry::backoff;
use super::{Credentials, EventInfo, ids};

/// Graph's limit on requests per `$batch`.
pub const MAX_BATCH_ITEMS: usize = 20;

/// One request inside a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRequest {
    /// Unique (case-insensitively) within one `batch` call.
    pub id: String,
    pub method: Method,
    /// Relative to the version root, e.g. `/users/{mailbox}/calendar/events`, with the
    /// mailbox already percent-encoded (the constructors below do that).
    pub url: String,
    /// The mailbox the request addresses, for the gate and the concurrency limit.
    pub mailbox: String,
    pub body: Option<Value>,
}

impl BatchRequest {
    pub fn create_event(id: impl Into<String>, mailbox: &str, event: Value) -> Self {
        Self {
            id: id.into(),
            method: Method::POST,
            url: format!("/{}/calendar/events", ids::user_segment(mailbox)),
            mailbox: mailbox.to_string(),
            body: Some(event),
        }
    }

    pub fn update_event(
        id: impl Into<String>,
        mailbox: &str,
        event_id: &str,
        patch: Value,
    ) -> Self {
        Self {
            id: id.into(),
            method: Method::PATCH,
            url: event_path(mailbox, event_id),
            mailbox: mailbox.to_string(),
            body: Some(patch),
        }
    }

    pub fn delete_event(id: impl Into<String>, mailbox: &str, event_id: &str) -> Self {
        Self {
            id: id.into(),
            method: Method::DELETE,
            url: event_path(mailbox, event_id),
            mailbox: mailbox.to_string(),
            body: None,
        }
    }

    pub fn get_event(id: impl Into<String>, mailbox: &str, event_id: &str) -> Self {
        Self {
            id: id.into(),
            method: Method::GET,
            url: event_path(mailbox, event_id),
            mailbox: mailbox.to_string(),
            body: None,
        }
    }

    fn replay(&self) -> Replay {
        if self.method == Method::POST {
            Replay::for_create(self.body.as_ref())
        } else {
            Replay::Safe
        }
    }
}

/// Under the calendar, like the create: an event its owner deleted sits in Deleted Items,
/// where `/events/{id}` still reaches it by its immutable id, and it must count as gone.
fn event_path(mailbox: &str, event_id: &str) -> String {
    format!(
        "/{}/calendar/events/{}",
        ids::user_segment(mailbox),
        ids::encode_segment(event_id)
    )
}

/// A 2xx item response.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSuccess {
    pub status: u16,
    pub body: Option<Value>,
    /// The envelope's `request-id` (items carry none of their own on success).
    pub request_id: Option<String>,
}

impl BatchSuccess {
    /// The event in the body (create, update, get).
    pub fn event(&self) -> Option<EventInfo> {
        EventInfo::from_json(self.body.clone()?, self.request_id.clone())
    }
}

/// The final result of one [`BatchRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResponse {
    pub id: String,
    /// How many envelopes carried this item.
    pub attempts: u32,
    pub outcome: Result<BatchSuccess, GraphError>,
}

impl BatchResponse {
    pub fn is_success(&self) -> bool {
        self.outcome.is_ok()
    }
}

struct Pending {
    index: usize,
    attempts: u32,
    ready_at: Instant,
}

fn validate(requests: &[BatchRequest]) -> Result<(), GraphError> {
    let mut seen = HashSet::new();
    for r in requests {
        if r.id.trim().is_empty() {
            return Err(GraphError::invalid_input("a batch request has an empty id"));
        }
        if !seen.insert(r.id.to_lowercase()) {
            return Err(GraphError::invalid_input(format!(
                "duplicate batch request id '{}'",
                r.id
            )));
        }
        if !r.url.starts_with('/') || r.url.contains("://") {
            return Err(GraphError::invalid_input(format!(
                "batch request '{}' must use a URL relative to the version root, starting with '/'",
                r.id
            )));
        }
        if r.mailbox.trim().is_empty() {
            return Err(GraphError::invalid_input(format!(
                "batch request '{}' names no mailbox",
                r.id
            )));
        }
    }
    Ok(())
}

fn item_json(r: &BatchRequest) -> Value {
    let mut headers = Map::new();
    headers.insert("Prefer".into(), json!(PREFER));
    headers.insert("client-request-id".into(), json!(ids::client_request_id()));
    let mut item = Map::new();
    item.insert("id".into(), json!(r.id));
    item.insert("method".into(), json!(r.method.as_str()));
    item.insert("url".into(), json!(r.url));
    if let Some(body) = &r.body {
        headers.insert("Content-Type".into(), json!("application/json"));
        item.insert("body".into(), body.clone());
    }
    item.insert("headers".into(), Value::Object(headers));
    Value::Object(item)
}

/// What happened to one item of an envelope.
enum ItemResult {
    Done(Result<BatchSuccess, GraphError>),
    /// Send again, not before this instant.
    Again(Instant),
}

impl GraphClient {
    /// Sends `requests` through `$batch` (see the module docs for the policy). The
    /// result has one response per request, in input order.
    pub async fn batch(
        &self,
        creds: &Credentials,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        validate(&requests)?;
        let cfg = &self.inner.config;
        let stats = &self.inner.stats;
        let limit = self.inner.gates.limit();
        let url = format!("{}/$batch", cfg.graph_url);
        let now = Instant::now();
        let mut pending: Vec<Pending> = (0..requests.len())
            .map(|index| Pending {
                index,
                attempts: 0,
                ready_at: now,
            })
            .collect();
        let mut done: Vec<Option<BatchResponse>> = vec![None; requests.len()];
        let mut refreshed = false;

        while !pending.is_empty() {
            // Items whose mailbox is held back longer than we wait fail now.
            let now = Instant::now();
            pending.retain(|p| {
                let r = &requests[p.index];
                let held = self
                    .inner
                    .gates
                    .get(&r.mailbox)
                    .blocked_until()
                    .map(|t| t.saturating_duration_since(now));
                match held {
                    Some(remaining) if remaining > cfg.max_retry_wait => {
                        let mut err = self.held_too_long(&r.mailbox, remaining);
                        err.attempts = p.attempts;
                        done[p.index] = Some(BatchResponse {
                            id: r.id.clone(),
                            attempts: p.attempts,
                            outcome: Err(err),
                        });
                        false
                    }
                    _ => true,
                }
            });
            if pending.is_empty() {
                break;
            }

            // Pick an envelope: ready items, ≤ 20, ≤ `limit` per mailbox.
            let mut per_mailbox: HashMap<String, u32> = HashMap::new();
            let mut chunk: Vec<usize> = Vec::new();
            let mut next_wake: Option<Instant> = None;
            for (pos, p) in pending.iter().enumerate() {
                let r = &requests[p.index];
                let gate = self.inner.gates.get(&r.mailbox);
                let gate_at = gate.blocked_until();
                let ready = gate_at.map_or(p.ready_at, |g| g.max(p.ready_at));
                if ready > now {
                    next_wake = Some(next_wake.map_or(ready, |w| w.min(ready)));
                    continue;
                }
                if chunk.len() >= MAX_BATCH_ITEMS {
                    continue;
                }
                let count = per_mailbox.entry(r.mailbox.to_lowercase()).or_default();
                if (*count as usize) < limit.min(gate.limit()) {
                    *count += 1;
                    chunk.push(pos);
                }
            }
            if chunk.is_empty() {
                let wake = next_wake.unwrap_or(now + Duration::from_millis(10));
                tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
                continue;
            }

            // Mailbox slots, taken in a fixed (sorted) order so concurrent batch calls
            // cannot deadlock on each other.
            let groups: BTreeMap<String, u32> = per_mailbox.into_iter().collect();
            let mut permits = Vec::with_capacity(groups.len());
            let mut gates = Vec::with_capacity(groups.len());
            for (mailbox, n) in &groups {
                let gate = self.inner.gates.get(mailbox);
                if let Some(permit) = gate.slots(*n).await {
                    permits.push(permit);
                }
                gates.push(gate);
            }
            if gates.iter().any(|g| g.blocked_until().is_some()) {
                // A 429 arrived while we waited for slots: choose again.
                continue;
            }
            let in_flight = self.inner.app.enter_with(chunk.len()).await;

            let token = match self.token(creds).await {
                Ok(t) => t,
                Err(err) => {
                    for p in pending.drain(..) {
                        let r = &requests[p.index];
                        done[p.index] = Some(BatchResponse {
                            id: r.id.clone(),
                            attempts: p.attempts,
                            outcome: Err(err.clone().with_mailbox(&r.mailbox)),
                        });
                    }
                    break;
                }
            };

            // Take the chunk out of `pending` (highest position first keeps indices valid).
            let mut sent: Vec<Pending> = Vec::with_capacity(chunk.len());
            for pos in chunk.iter().rev() {
                sent.push(pending.remove(*pos));
            }
            sent.reverse();
            for p in &mut sent {
                p.attempts += 1;
                if p.attempts > 1 {
                    stats.bump(&stats.retries);
                }
            }
            let body = json!({
                "requests": sent.iter().map(|p| item_json(&requests[p.index])).collect::<Vec<_>>()
            });
            let crid = ids::client_request_id();
            stats.bump(&stats.requests_sent);
            stats.add(&stats.batch_items_sent, sent.len() as u64);
            let sent_at = Instant::now();
            let envelope_attempt = sent.iter().map(|p| p.attempts).max().unwrap_or(1);
            let mut http = self.inner.http.lease().await;
            let request = http
                .post(&url)
                .header(AUTHORIZATION, token.authorization())
                .header(PREFER_HEADER, HeaderValue::from_static(PREFER))
                .header(CLIENT_REQUEST_ID, &crid)
                .json(&body);
            let result = match http.send(request).await {
                Ok(resp) => read_response(resp).await,
                Err(e) => Err(e),
            };
            drop(http);
            drop(in_flight);
            drop(permits);
            if matches!(&result, Ok(answer) if answer.status == 200) {
                self.inner.app.succeeded();
            }
            log_graph_request("POST", &url, &result, sent_at, envelope_attempt, &crid);

            let mut outcomes: Vec<(Pending, ItemResult)> = Vec::with_capacity(sent.len());
            match result {
                Err(e) => {
                    let detail = network_detail(&e, cfg.timeout);
                    for p in sent {
                        let r = &requests[p.index];
                        let res = match decide_network(cfg, r.replay(), !e.is_connect(), p.attempts)
                        {
                            Decision::Retry(wait) => ItemResult::Again(Instant::now() + wait),
                            Decision::Fail(kind, _) => {
                                let mut err = GraphError::new(kind, Service::Graph)
                                    .with_mailbox(&r.mailbox)
                                    .with_detail(detail.clone());
                                err.attempts = p.attempts;
                                err.client_request_id = Some(crid.clone());
                                ItemResult::Done(Err(err))
                            }
                        };
                        outcomes.push((p, res));
                    }
                }
                Ok(Answer { status: 401, .. }) if !refreshed => {
                    self.inner.tokens.invalidate(creds, &token).await;
                    stats.bump(&stats.refreshes_after_401);
                    refreshed = true;
                    for mut p in sent {
                        p.attempts -= 1;
                        outcomes.push((p, ItemResult::Again(Instant::now())));
                    }
                }
                Ok(Answer {
                    status: 200,
                    request_id,
                    body: Some(json),
                    ..
                }) if json.get("responses").and_then(Value::as_array).is_some() => {
                    // Taken apart, not copied: each item's body goes to its caller as it is.
                    let items = match json {
                        Value::Object(mut envelope) => match envelope.remove("responses") {
                            Some(Value::Array(items)) => items,
                            _ => Vec::new(),
                        },
                        _ => Vec::new(),
                    };
                    let mut by_id: HashMap<String, Value> = items
                        .into_iter()
                        .filter_map(|i| {
                            let id = match i.get("id")? {
                                Value::String(s) => s.to_lowercase(),
                                Value::Number(n) => n.to_string(),
                                _ => return None,
                            };
                            Some((id, i))
                        })
                        .collect();
                    for p in sent {
                        let r = &requests[p.index];
                        let res = match by_id.remove(&r.id.to_lowercase()) {
                            Some(item) => {
                                self.item_result(
                                    creds,
                                    r,
                                    &p,
                                    item,
                                    request_id.clone(),
                                    &mut refreshed,
                                    &token,
                                )
                                .await
                            }
                            None => self.missing_item(r, &p, request_id.clone()),
                        };
                        outcomes.push((p, res));
                    }
                }
                Ok(answer) => {
                    // The envelope itself failed: every item shares its fate.
                    let status = answer.status;
                    let json = answer.body.as_ref();
                    let graph_body = json.is_some_and(|b| b.get("error").is_some());
                    for p in sent {
                        let r = &requests[p.index];
                        let mut err = GraphError::from_graph_response(
                            status,
                            json,
                            answer.request_id.clone(),
                            Some(crid.clone()),
                        )
                        .with_mailbox(&r.mailbox);
                        err.attempts = p.attempts;
                        err.retry_after = answer.retry_after;
                        err.ags_diagnostic = answer.ags_diagnostic.clone();
                        let res = if answer.is_redirect() {
                            err.kind = ErrorKind::Other;
                            ItemResult::Done(Err(err.with_detail(format!(
                                "Graph {}",
                                redirect_detail(
                                    status,
                                    answer.redirect_host.as_deref(),
                                    "the batch"
                                )
                            ))))
                        } else {
                            self.retry_or_fail(r, &p, status, graph_body, answer.throttle(), err)
                        };
                        outcomes.push((p, res));
                    }
                }
            }
            for (p, res) in outcomes {
                match res {
                    ItemResult::Done(outcome) => {
                        done[p.index] = Some(BatchResponse {
                            id: requests[p.index].id.clone(),
                            attempts: p.attempts,
                            outcome,
                        });
                    }
                    ItemResult::Again(at) => pending.push(Pending { ready_at: at, ..p }),
                }
            }
            pending.sort_by_key(|p| p.index);
        }

        Ok(done
            .into_iter()
            .zip(&requests)
            .map(|(resp, r)| {
                resp.unwrap_or_else(|| BatchResponse {
                    id: r.id.clone(),
                    attempts: 0,
                    outcome: Err(GraphError::invalid_input("the item was never sent")
                        .with_mailbox(&r.mailbox)),
                })
            })
            .collect())
    }

    /// Retry policy for a failed item (or envelope) status, shared with single requests.
    fn retry_or_fail(
        &self,
        r: &BatchRequest,
        p: &Pending,
        status: u16,
        graph_body: bool,
        (retry_after, throttle_scope): (Option<Duration>, Option<&str>),
        mut err: GraphError,
    ) -> ItemResult {
        let cfg = &self.inner.config;
        let replay = r.replay();
        if !matches!(status, 429 | 503 | 504) {
            if status >= 500 && replay != Replay::Safe {
                err.kind = ErrorKind::Ambiguous;
            }
            return ItemResult::Done(Err(err));
        }
        if status == 429 {
            self.inner.stats.bump(&self.inner.stats.throttled);
        }
        let hold = (status == 429)
            .then(|| {
                retry_after
                    .unwrap_or_else(|| backoff(cfg.backoff_base, p.attempts, cfg.max_retry_wait))
            })
            .or(retry_after);
        if let Some(wait) = hold {
            if status == 429 && !super::client::is_concurrency_limit(&err) {
                let app_scope = super::app_limit::app_wide_scope(throttle_scope);
                self.inner.app.throttled(&r.mailbox, wait, app_scope);
            }
            let gate = self.inner.gates.get(&r.mailbox);
            self.hold_mailbox(&gate, &r.mailbox, wait, status);
        }
        match decide_status(cfg, replay, status, graph_body, retry_after, p.attempts) {
            Decision::Retry(wait) => ItemResult::Again(Instant::now() + hold.unwrap_or(wait)),
            Decision::Fail(kind, detail) => {
                err.kind = kind;
                err.detail = detail;
                ItemResult::Done(Err(err))
            }
        }
    }

    /// An item the envelope did not answer: like a lost response.
    fn missing_item(
        &self,
        r: &BatchRequest,
        p: &Pending,
        request_id: Option<String>,
    ) -> ItemResult {
        let cfg = &self.inner.config;
        match decide_network(cfg, r.replay(), true, p.attempts) {
            Decision::Retry(wait) => ItemResult::Again(Instant::now() + wait),
            Decision::Fail(kind, _) => {
                let mut err = GraphError::new(kind, Service::Graph)
                    .with_mailbox(&r.mailbox)
                    .with_detail("the $batch response had no answer for this item");
                err.request_id = request_id;
                err.attempts = p.attempts;
                ItemResult::Done(Err(err))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn item_result(
        &self,
        creds: &Credentials,
        r: &BatchRequest,
        p: &Pending,
        mut item: Value,
        envelope_request_id: Option<String>,
        refreshed: &mut bool,
        token: &super::token::AccessToken,
    ) -> ItemResult {
        let status = item
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0);
        let body = item
            .get_mut("body")
            .map(Value::take)
            .filter(|b| !b.is_null());
        let header = |name: &str| {
            item.get("headers")
                .and_then(Value::as_object)
                .and_then(|h| {
                    h.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .and_then(|(_, v)| v.as_str())
                })
                .map(str::to_string)
        };
        if (200..300).contains(&status) {
            return ItemResult::Done(Ok(BatchSuccess {
                status,
                body,
                request_id: envelope_request_id,
            }));
        }
        if status == 0 {
            return self.missing_item(r, p, envelope_request_id);
        }
        let retry_after = header("Retry-After")
            .and_then(|v| super::parse_retry_after(&v, std::time::SystemTime::now()));
        let graph_body = body.as_ref().is_some_and(|b| b.get("error").is_some());
        let mut err = GraphError::from_graph_response(status, body.as_ref(), None, None)
            .with_mailbox(&r.mailbox);
        if err.request_id.is_none() {
            err.request_id = envelope_request_id;
        }
        err.client_request_id = body
            .as_ref()
            .and_then(|b| b.pointer("/error/innerError/client-request-id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        err.attempts = p.attempts;
        err.retry_after = retry_after;
        if status == 401 && !*refreshed {
            self.inner.tokens.invalidate(creds, token).await;
            self.inner.stats.bump(&self.inner.stats.refreshes_after_401);
            *refreshed = true;
            return ItemResult::Again(Instant::now());
        }
        let scope = header("x-ms-throttle-scope");
        self.retry_or_fail(
            r,
            p,
            status,
            graph_body,
            (retry_after, scope.as_deref()),
            err,
        )
    }
}
