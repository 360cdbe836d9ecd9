//! `GraphClient`: event create/update/delete/get/find with the retry policy, the token
//! cache and the per-mailbox gate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::app_limit::{APP_IN_FLIGHT_CEILING, AppLimit, app_wide_scope};
use super::errors::{ErrorKind, GraphError, Service, secs};
use super::http_pool::{HttpPool, tls_config};
use super::ids;
use super::request_log::{self, Sent};
use super::response::{Answer, failure_word, network_detail, read_response, redirect_detail};
use super::retry::{Gates, MailboxGate, RETRY_AFTER_CEILING, backoff};
use super::token::{AccessToken, TokenCache};
use super::{
    ClientStats, Credentials, DeleteOutcome, EventInfo, GraphConfig, MAILBOX_CONCURRENCY, Stats,
    ThrottleNotice, base_url, install_crypto_provider, is_loopback,
};

/// Sent on every request (and batch item): stable ids, and start/end back in UTC.
pub(crate) const PREFER: &str = "IdType=\"ImmutableId\", outlook.timezone=\"UTC\"";
/// Header names sent on every request, named once rather than parsed per request.
pub(crate) const PREFER_HEADER: HeaderName = HeaderName::from_static("prefer");
pub(crate) const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");
/// Upper bound on followed `@odata.nextLink` pages, against a server that loops.
pub(super) const MAX_PAGES: usize = 1000;

/// How safe it is to send a request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// GET/PATCH/DELETE: repeating gives the same end state.
    Safe,
    /// POST create with a `transactionId`: Exchange dedups a repeat.
    CreateWithTxn,
    /// POST create without one: a repeat may duplicate the event.
    CreateNoTxn,
}

impl Replay {
    pub(crate) fn for_create(event: Option<&Value>) -> Self {
        let has_txn = event
            .and_then(|e| e.get("transactionId"))
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty());
        if has_txn {
            Replay::CreateWithTxn
        } else {
            Replay::CreateNoTxn
        }
    }
}

/// What to do after a failed attempt.
pub(crate) enum Decision {
    Retry(Duration),
    Fail(ErrorKind, Option<String>),
}

/// The retry policy for a 429/503/504 response.
pub(crate) fn decide_status(
    config: &GraphConfig,
    replay: Replay,
    status: u16,
    graph_error_body: bool,
    retry_after: Option<Duration>,
    attempt: u32,
) -> Decision {
    let replayable = match replay {
        Replay::Safe => true,
        // 429/503 with Graph's error JSON were answered before the create ran (and a
        // late commit is deduplicated by the transactionId); 504 says nothing.
        Replay::CreateWithTxn => matches!(status, 429 | 503) && graph_error_body,
        Replay::CreateNoTxn => false,
    };
    if !replayable {
        return Decision::Fail(ErrorKind::Ambiguous, None);
    }
    let kind = if status == 429 {
        ErrorKind::Throttled
    } else {
        ErrorKind::Transient
    };
    if let Some(ra) = retry_after
        && ra > config.max_retry_wait
    {
        return Decision::Fail(
            kind,
            Some(format!(
                "Retry-After {} is longer than the {} this client waits; try again later",
                secs(ra),
                secs(config.max_retry_wait)
            )),
        );
    }
    if attempt >= config.max_attempts.max(1) {
        let detail = (status != 429).then(|| format!("still failing after {attempt} attempts"));
        return Decision::Fail(kind, detail);
    }
    Decision::Retry(
        retry_after.unwrap_or_else(|| backoff(config.backoff_base, attempt, config.max_retry_wait)),
    )
}

/// The retry policy for a request that got no response.
pub(crate) fn decide_network(
    config: &GraphConfig,
    replay: Replay,
    maybe_sent: bool,
    attempt: u32,
) -> Decision {
    if maybe_sent && replay != Replay::Safe {
        return Decision::Fail(ErrorKind::Ambiguous, None);
    }
    if attempt >= config.max_attempts.max(1) {
        return Decision::Fail(ErrorKind::Network, None);
    }
    Decision::Retry(backoff(config.backoff_base, attempt, config.max_retry_wait))
}

/// A 2xx response.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub request_id: Option<String>,
}

pub(crate) struct Inner {
    pub http: HttpPool,
    /// Keeps no idle connection: a retry after a 503 goes out on a new one (Graph docs:
    /// concepts/best-practices-concept.md, "always use a new connection" when retrying).
    pub fresh_http: HttpPool,
    /// Cancelled when the run that owns this client is: a login wait then ends at once.
    pub login_cancel: std::sync::Mutex<CancellationToken>,
    pub config: GraphConfig,
    pub tokens: TokenCache,
    pub gates: Gates,
    /// Requests in flight across every mailbox (Graph's app-wide limits, AIMD).
    pub app: Arc<AppLimit>,
    pub stats: Stats,
    pub notices: broadcast::Sender<ThrottleNotice>,
}

/// The Graph client. Cheap to clone; clones share the token cache, the mailbox gates
/// and the counters.
#[derive(Clone)]
pub struct GraphClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("graph_url", &self.inner.config.graph_url)
            .field("login_url", &self.inner.config.login_url)
            .finish_non_exhaustive()
    }
}

/// One line in the request log for one Graph attempt.
pub(crate) fn log_graph_request(
    method: &str,
    url: &str,
    result: &Result<Answer, reqwest::Error>,
    sent_at: Instant,
    attempt: u32,
    client_request_id: &str,
) {
    let answer = result.as_ref().ok();
    request_log::record(&Sent {
        service: request_log::Service::Graph,
        method,
        url,
        status: answer.map(|a| a.status),
        duration: sent_at.elapsed(),
        attempt,
        request_id: answer.and_then(|a| a.request_id.as_deref()),
        client_request_id,
        ags_diagnostic: answer.and_then(|a| a.ags_diagnostic.as_deref()),
        failure: result.as_ref().err().map(failure_word),
    });
}

impl GraphClient {
    /// Builds a client. Installs the rustls crypto provider if none is installed.
    pub fn new(mut config: GraphConfig) -> Result<Self, GraphError> {
        install_crypto_provider();
        config.graph_url =
            base_url("graph_url", &config.graph_url).map_err(GraphError::invalid_input)?;
        config.login_url =
            base_url("login_url", &config.login_url).map_err(GraphError::invalid_input)?;
        config.per_mailbox_concurrency =
            config.per_mailbox_concurrency.clamp(1, MAILBOX_CONCURRENCY);
        config.max_attempts = config.max_attempts.max(1);
        // Bounded waits keep every `Instant + wait` far from overflow.
        config.max_retry_wait = config.max_retry_wait.min(RETRY_AFTER_CEILING);
        config.backoff_base = config.backoff_base.min(config.max_retry_wait);
        let local = [&config.graph_url, &config.login_url]
            .iter()
            .all(|u| reqwest::Url::parse(u).is_ok_and(|u| is_loopback(&u)));
        let tls = tls_config(config.ca_file.as_deref())?;
        let http = HttpPool::new(&config, tls.clone(), local, true)?;
        let fresh_http = HttpPool::new(&config, tls, local, false)?;
        let (notices, _) = broadcast::channel(256);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                fresh_http,
                login_cancel: std::sync::Mutex::new(CancellationToken::new()),
                gates: Gates::new(config.per_mailbox_concurrency),
                app: AppLimit::new(APP_IN_FLIGHT_CEILING),
                config,
                tokens: TokenCache::default(),
                stats: Stats::default(),
                notices,
            }),
        })
    }

    pub fn config(&self) -> &GraphConfig {
        &self.inner.config
    }

    pub fn stats(&self) -> ClientStats {
        self.inner.stats.snapshot()
    }

    /// HTTP clients built so far for requests that may share connections: one more for
    /// every [`super::STREAMS_PER_CONNECTION`] requests in flight at the busiest moment.
    pub fn http_clients(&self) -> usize {
        self.inner.http.clients()
    }

    /// The app-wide ceiling on requests in flight now, and how often a 429 that was not a
    /// mailbox's concurrency limit has halved it.
    pub fn app_ceiling(&self) -> (usize, usize) {
        (self.inner.app.current(), self.inner.app.decreases())
    }

    /// Notices of every Retry-After this client honours (lagging receivers lose old ones).
    pub fn subscribe_throttling(&self) -> broadcast::Receiver<ThrottleNotice> {
        self.inner.notices.subscribe()
    }

    /// Fetches (or reuses) the token for `creds`, e.g. to check an integration's
    /// credentials before a run.
    pub async fn check_credentials(&self, creds: &Credentials) -> Result<(), GraphError> {
        self.token(creds).await.map(|_| ())
    }

    /// Login waits of this client end as soon as `cancel` is cancelled (a run's Ctrl-C), with
    /// an error saying nothing was sent to Graph. Replaces any earlier token.
    pub fn abandon_logins_on(&self, cancel: CancellationToken) {
        *self
            .inner
            .login_cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = cancel;
    }

    pub(crate) async fn token(&self, creds: &Credentials) -> Result<AccessToken, GraphError> {
        let i = &self.inner;
        let cancel = i
            .login_cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // The token first: a cached one is ready at once and is used even after a cancel, so
        // only a real wait for the login service is abandoned.
        tokio::select! {
            biased;
            token = i.tokens.get(&i.http, &i.fresh_http, &i.config, &i.stats, creds) => token,
            _ = cancel.cancelled() => Err(super::token::cancelled(creds)),
        }
    }

    /// Holds back `mailbox` for `wait` and tells subscribers.
    pub(crate) fn hold_mailbox(
        &self,
        gate: &MailboxGate,
        mailbox: &str,
        wait: Duration,
        status: u16,
    ) {
        gate.hold_for(wait);
        // No subscribers is fine.
        let _ = self.inner.notices.send(ThrottleNotice {
            mailbox: mailbox.to_string(),
            wait,
            status,
        });
    }

    /// Error for a mailbox held back longer than this client is willing to wait.
    pub(crate) fn held_too_long(&self, mailbox: &str, remaining: Duration) -> GraphError {
        let mut e = GraphError::new(ErrorKind::Throttled, Service::Graph).with_mailbox(mailbox);
        e.retry_after = Some(remaining);
        e.with_detail(format!(
            "the mailbox is held back for another {}, longer than the {} this client waits; try again later",
            secs(remaining),
            secs(self.inner.config.max_retry_wait)
        ))
    }

    pub(crate) fn user_url(&self, mailbox: &str, rest: &str) -> Result<String, GraphError> {
        if mailbox.trim().is_empty() {
            return Err(GraphError::invalid_input("the mailbox address is empty"));
        }
        Ok(format!(
            "{}/{}{rest}",
            self.inner.config.graph_url,
            ids::user_segment(mailbox)
        ))
    }

    fn event_url(&self, mailbox: &str, event_id: &str) -> Result<String, GraphError> {
        if event_id.is_empty() {
            return Err(GraphError::invalid_input("the event id is empty").with_mailbox(mailbox));
        }
        self.user_url(
            mailbox,
            // The calendar's path, as for creates: `/events/{id}` also reaches an event its
            // owner deleted (in Deleted Items, by its immutable id), which must count as gone.
            &format!("/calendar/events/{}", ids::encode_segment(event_id)),
        )
    }

    /// Sends one request to `mailbox` with the full policy: token, gate, concurrency
    /// slot, Retry-After, bounded retries, one token refresh on 401. Returns only 2xx.
    pub(crate) async fn call(
        &self,
        creds: &Credentials,
        mailbox: &str,
        method: Method,
        url: &str,
        body: Option<&Value>,
        replay: Replay,
    ) -> Result<Reply, GraphError> {
        let cfg = &self.inner.config;
        let stats = &self.inner.stats;
        let gate = self.inner.gates.get(mailbox);
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut fresh_connection = false;
        loop {
            let token = self
                .token(creds)
                .await
                .map_err(|e| e.with_mailbox(mailbox))?;
            if let Some(until) = gate.blocked_until() {
                let remaining = until.saturating_duration_since(Instant::now());
                if remaining > cfg.max_retry_wait {
                    return Err(self.held_too_long(mailbox, remaining));
                }
            }
            let permit = gate.enter(1).await;
            let in_flight = self.inner.app.enter().await;
            attempt += 1;
            if attempt > 1 || refreshed {
                stats.bump(&stats.retries);
            }
            let crid = ids::client_request_id();
            let mut http = if fresh_connection {
                self.inner.fresh_http.lease().await
            } else {
                self.inner.http.lease().await
            };
            let mut request = http
                .request(method.clone(), url)
                .header(AUTHORIZATION, token.authorization())
                .header(PREFER_HEADER, HeaderValue::from_static(PREFER))
                .header(CLIENT_REQUEST_ID, &crid);
            if let Some(b) = body {
                request = request.json(b);
            }
            stats.bump(&stats.requests_sent);
            let sent_at = Instant::now();
            let result = match http.send(request).await {
                Ok(resp) => read_response(resp).await,
                Err(e) => Err(e),
            };
            drop(http);
            drop(in_flight);
            drop(permit);
            log_graph_request(method.as_str(), url, &result, sent_at, attempt, &crid);

            let answer = match result {
                Ok(answer) => answer,
                Err(e) => {
                    let detail = network_detail(&e, cfg.timeout);
                    match decide_network(cfg, replay, !e.is_connect(), attempt) {
                        Decision::Retry(wait) => {
                            fresh_connection = true;
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                        Decision::Fail(kind, _) => {
                            let mut err = GraphError::new(kind, Service::Graph)
                                .with_mailbox(mailbox)
                                .with_detail(if attempt > 1 {
                                    format!("{detail}, gave up after {attempt} attempts")
                                } else {
                                    detail
                                });
                            err.client_request_id = Some(crid);
                            err.attempts = attempt;
                            return Err(err);
                        }
                    }
                }
            };
            let Answer {
                status,
                retry_after,
                request_id,
                ags_diagnostic,
                throttle_scope,
                redirect_host,
                body: json,
            } = answer;
            if (200..300).contains(&status) {
                gate.succeeded();
                self.inner.app.succeeded();
                return Ok(Reply {
                    status,
                    body: json,
                    request_id,
                });
            }
            let graph_body = json.as_ref().is_some_and(|b| b.get("error").is_some());
            let mut err =
                GraphError::from_graph_response(status, json.as_ref(), request_id, Some(crid))
                    .with_mailbox(mailbox);
            err.attempts = attempt;
            err.retry_after = retry_after;
            err.ags_diagnostic = ags_diagnostic;
            if (300..400).contains(&status) {
                err.kind = ErrorKind::Other;
                let what = if body.is_some() {
                    "the request and its body"
                } else {
                    "the request"
                };
                return Err(err.with_detail(format!(
                    "Graph {}",
                    redirect_detail(status, redirect_host.as_deref(), what)
                )));
            }
            match status {
                401 if !refreshed => {
                    // The token may have expired or been revoked early: fetch a new
                    // one and try once more (this send does not count as an attempt).
                    self.inner.tokens.invalidate(creds, &token).await;
                    stats.bump(&stats.refreshes_after_401);
                    refreshed = true;
                    attempt -= 1;
                    continue;
                }
                429 | 503 | 504 => {
                    fresh_connection = status != 429;
                    if status == 429 {
                        stats.bump(&stats.throttled);
                    }
                    let hold = (status == 429).then(|| {
                        retry_after.unwrap_or_else(|| {
                            backoff(cfg.backoff_base, attempt, cfg.max_retry_wait)
                        })
                    });
                    if let Some(wait) = hold {
                        if is_concurrency_limit(&err) {
                            gate.shrink();
                        } else {
                            let app_scope = app_wide_scope(throttle_scope.as_deref());
                            self.inner.app.throttled(mailbox, wait, app_scope);
                        }
                    }
                    let hold = hold.or(retry_after);
                    if let Some(wait) = hold {
                        self.hold_mailbox(&gate, mailbox, wait, status);
                    }
                    match decide_status(cfg, replay, status, graph_body, retry_after, attempt) {
                        Decision::Retry(wait) => {
                            if hold.is_none() {
                                tokio::time::sleep(wait).await;
                            }
                        }
                        Decision::Fail(kind, detail) => {
                            err.kind = kind;
                            err.detail = detail;
                            return Err(err);
                        }
                    }
                }
                s if s >= 500 && replay != Replay::Safe => {
                    err.kind = ErrorKind::Ambiguous;
                    return Err(err);
                }
                _ => return Err(err),
            }
        }
    }

    /// `POST /users/{mailbox}/calendar/events`.
    ///
    /// Put a `transactionId` in `event`: then a 429/503 answered before processing is
    /// retried safely. A timeout, a reset after sending or a 500/502/504 is never
    /// retried and gives `ErrorKind::Ambiguous`: look the event up by its tag
    /// ([`GraphClient::find_events_by_property`]) before creating it again.
    pub async fn create_event(
        &self,
        creds: &Credentials,
        mailbox: &str,
        event: &Value,
    ) -> Result<EventInfo, GraphError> {
        let url = self.user_url(mailbox, "/calendar/events")?;
        let replay = Replay::for_create(Some(event));
        let reply = self
            .call(creds, mailbox, Method::POST, &url, Some(event), replay)
            .await?;
        let status = reply.status;
        let request_id = reply.request_id.clone();
        event_from(reply).ok_or_else(|| {
            let mut e = GraphError::new(ErrorKind::Ambiguous, Service::Graph)
                .with_mailbox(mailbox)
                .with_detail(format!("Graph answered {status} without an event id"));
            e.status = Some(status);
            e.request_id = request_id;
            e
        })
    }

    /// `PATCH /users/{mailbox}/calendar/events/{id}` with only the properties to change.
    pub async fn update_event(
        &self,
        creds: &Credentials,
        mailbox: &str,
        event_id: &str,
        event: &Value,
    ) -> Result<EventInfo, GraphError> {
        let url = self.event_url(mailbox, event_id)?;
        let reply = self
            .call(
                creds,
                mailbox,
                Method::PATCH,
                &url,
                Some(event),
                Replay::Safe,
            )
            .await?;
        unreadable_event(reply, mailbox)
    }

    /// `DELETE /users/{mailbox}/calendar/events/{id}`; 404 `ErrorItemNotFound` (or 410 Gone) is
    /// `AlreadyGone`.
    pub async fn delete_event(
        &self,
        creds: &Credentials,
        mailbox: &str,
        event_id: &str,
    ) -> Result<DeleteOutcome, GraphError> {
        let url = self.event_url(mailbox, event_id)?;
        match self
            .call(creds, mailbox, Method::DELETE, &url, None, Replay::Safe)
            .await
        {
            Ok(reply) => Ok(DeleteOutcome::Deleted {
                request_id: reply.request_id,
            }),
            Err(e) if e.kind == ErrorKind::NotFound || e.status == Some(410) => {
                Ok(DeleteOutcome::AlreadyGone {
                    request_id: e.request_id.clone(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /users/{mailbox}/calendar/events/{id}`; `None` when the event does not exist.
    pub async fn get_event(
        &self,
        creds: &Credentials,
        mailbox: &str,
        event_id: &str,
    ) -> Result<Option<EventInfo>, GraphError> {
        let url = self.event_url(mailbox, event_id)?;
        match self
            .call(creds, mailbox, Method::GET, &url, None, Replay::Safe)
            .await
        {
            Ok(reply) => unreadable_event(reply, mailbox).map(Some),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Events in `mailbox` whose single-value extended property `property_id` equals
    /// `value`, following `@odata.nextLink`. The property is expanded in the results.
    pub async fn find_events_by_property(
        &self,
        creds: &Credentials,
        mailbox: &str,
        property_id: &str,
        value: &str,
    ) -> Result<Vec<EventInfo>, GraphError> {
        let quote = |s: &str| s.replace('\'', "''");
        let filter = format!(
            "singleValueExtendedProperties/Any(ep: ep/id eq '{}' and ep/value eq '{}')",
            quote(property_id),
            quote(value)
        );
        let expand = format!(
            "singleValueExtendedProperties($filter=id eq '{}')",
            quote(property_id)
        );
        let first = self.user_url(
            mailbox,
            &format!(
                "/events?$filter={}&$expand={}&$top=50",
                ids::encode_query_value(&filter),
                ids::encode_query_value(&expand)
            ),
        )?;
        self.all_pages(creds, mailbox, first).await
    }

    /// The events of a collection and of every `@odata.nextLink` page after it.
    pub(super) async fn all_pages(
        &self,
        creds: &Credentials,
        mailbox: &str,
        first: String,
    ) -> Result<Vec<EventInfo>, GraphError> {
        let reply = self
            .call(creds, mailbox, Method::GET, &first, None, Replay::Safe)
            .await?;
        let body = reply.body.unwrap_or(Value::Null);
        self.pages_after(creds, mailbox, body, reply.request_id, MAX_PAGES - 1)
            .await
    }

    /// The events of the page `body` (answered under `request_id`) and of every
    /// `@odata.nextLink` after it, following at most `more` further pages.
    pub(super) async fn pages_after(
        &self,
        creds: &Credentials,
        mailbox: &str,
        body: Value,
        request_id: Option<String>,
        more: usize,
    ) -> Result<Vec<EventInfo>, GraphError> {
        let mut found = Vec::new();
        let mut page = (body, request_id);
        for followed in 0..=more {
            let (body, request_id) = &mut page;
            // Taken, not copied: the page is not needed once its events are read.
            if let Some(Value::Array(items)) = body.get_mut("value").map(Value::take) {
                found.extend(
                    items
                        .into_iter()
                        .filter_map(|v| EventInfo::from_json(v, request_id.clone())),
                );
            }
            let url = match body.get("@odata.nextLink").and_then(Value::as_str) {
                None => return Ok(found),
                Some(next) if next.starts_with(&format!("{}/", self.inner.config.graph_url)) => {
                    next.to_string()
                }
                Some(_) => {
                    // The bearer token must only ever go to the configured Graph host.
                    return Err(GraphError::invalid_input(
                        "Graph returned an @odata.nextLink outside the configured Graph URL; not following it",
                    )
                    .with_mailbox(mailbox));
                }
            };
            if followed == more {
                break;
            }
            let reply = self
                .call(creds, mailbox, Method::GET, &url, None, Replay::Safe)
                .await?;
            page = (reply.body.unwrap_or(Value::Null), reply.request_id);
        }
        Err(GraphError::invalid_input(format!(
            "more than {MAX_PAGES} result pages; the filter is probably wrong"
        ))
        .with_mailbox(mailbox))
    }
}

fn event_from(reply: Reply) -> Option<EventInfo> {
    EventInfo::from_json(reply.body?, reply.request_id)
}

fn unreadable_event(reply: Reply, mailbox: &str) -> Result<EventInfo, GraphError> {
    let status = reply.status;
    let request_id = reply.request_id.clone();
    event_from(reply).ok_or_else(|| {
        let mut e = GraphError::new(ErrorKind::Other, Service::Graph)
            .with_mailbox(mailbox)
            .with_detail(format!("Graph answered {status} without a readable event"));
        e.status = Some(status);
        e.request_id = request_id;
        e
    })
}

/// Exchange's "too many requests at once to this mailbox", as opposed to a rate limit.
pub(super) fn is_concurrency_limit(err: &GraphError) -> bool {
    err.code.as_deref() == Some("ApplicationThrottled")
        || err
            .message
            .as_deref()
            .is_some_and(|m| m.contains("MailboxConcurrency"))
}
