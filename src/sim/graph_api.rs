//! Simulated Graph endpoints: events under `/users/{u}/…`, `/me` rejection and `$batch`.
//! A request (or batch item) first passes the mailbox's throttling model, then any
//! scripted or random fault, then the directory, and only then touches the calendar.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{TimeZone, Utc};
use futures::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::events::{self, Expand, NewIds, StoredEvent};
use super::ids::{self, IdType};
use super::reply::{ApiError, Reply};
use super::state::{Fault, GhostReply, Inner, Shared};
use super::user_path;
use super::{MailboxState, RetryAfterMode};

/// Characters left alone when the simulator writes a query value into a nextLink.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Adds Graph's `innerError` block (date, request-id, client-request-id) to an error body.
pub(crate) fn stamp_error(body: &mut Value, request_id: &str, client_request_id: &str) {
    if let Some(err) = body.get_mut("error").and_then(Value::as_object_mut) {
        err.insert(
            "innerError".into(),
            json!({
                "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            }),
        );
    }
}

/// One Graph call, either a direct request or a `$batch` item.
#[derive(Debug, Clone)]
pub(crate) struct ItemRequest {
    pub method: String,
    /// Percent-encoded path relative to `/v1.0`, starting with `/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// From `Prefer: outlook.timezone="…"`.
    pub prefer_tz: Option<String>,
    /// From `Prefer: IdType="…"`: the id format of the response.
    pub id_type: IdType,
    pub body: Option<Value>,
    /// `http://host:port/v1.0`, for nextLinks and `@odata.context`.
    pub base: String,
    /// Arrival number of the HTTP request (a batch's items share the envelope's).
    pub arrival: u64,
}

enum Op {
    Create,
    List,
    CalendarView,
    /// An event by id; `true` when addressed under `/events` (any folder of the mailbox)
    /// rather than `/calendar/events`.
    Get(String, bool),
    Patch(String, bool),
    Delete(String, bool),
    TranslateIds,
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Decrements the mailbox's in-flight count however the request ends (even when the
/// client hangs up and the handler future is dropped).
struct InFlight {
    shared: Arc<Shared>,
    key: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.counters.in_flight_changed(Instant::now(), false);
        let rec = inner.mailbox(&self.key);
        rec.stats.in_flight = rec.stats.in_flight.saturating_sub(1);
    }
}

/// The `Retry-After` header value for `wait` in `mode`, and the instant the simulator
/// will treat as the end of the throttle window.
fn retry_after(mode: RetryAfterMode, wait: Duration) -> (Option<String>, Option<Instant>) {
    let now = Instant::now();
    match mode {
        RetryAfterMode::Integer => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            (
                Some(secs.to_string()),
                Some(now + Duration::from_secs(secs)),
            )
        }
        RetryAfterMode::Decimal => {
            let millis =
                wait.as_millis() + u128::from(!wait.subsec_nanos().is_multiple_of(1_000_000));
            let millis = u64::try_from(millis).unwrap_or(u64::MAX / 2);
            (
                Some(format!("{}.{:03}", millis / 1000, millis % 1000)),
                Some(now + Duration::from_millis(millis)),
            )
        }
        RetryAfterMode::HttpDate => {
            let sys_now = SystemTime::now();
            let target = sys_now + wait;
            let since_epoch = target.duration_since(UNIX_EPOCH).unwrap_or_default();
            // HTTP-dates have whole seconds: round up so the window is never shorter.
            let secs = since_epoch.as_secs() + u64::from(since_epoch.subsec_nanos() > 0);
            let Some(date) = i64::try_from(secs)
                .ok()
                .and_then(|s| Utc.timestamp_opt(s, 0).single())
            else {
                return (None, None);
            };
            let until = (UNIX_EPOCH + Duration::from_secs(secs))
                .duration_since(sys_now)
                .unwrap_or_default();
            (
                Some(date.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
                Some(now + until),
            )
        }
        RetryAfterMode::Absent => (None, None),
    }
}

/// A 429 for mailbox `key` that (unless Retry-After is absent) opens a penalty window.
fn throttle(inner: &mut Inner, key: &str, code: &'static str, message: &str) -> Reply {
    let (value, until) = retry_after(inner.config.retry_after, inner.config.throttle_retry_after);
    let mark = inner.arrivals;
    let rec = inner.mailbox(key);
    rec.stats.throttled += 1;
    rec.not_before = until;
    rec.throttle_mark = mark;
    let reply = Reply::error(ApiError::new(429, code, message));
    match value {
        Some(v) => reply.with_header("Retry-After", v),
        None => reply,
    }
}

/// A 429 for the app-wide limit: the documented sample's body, Retry-After until the window
/// ends, and no penalty window on the mailbox (the limit is not the mailbox's).
fn app_throttle(inner: &mut Inner, key: &str, wait: Duration) -> Reply {
    inner.counters.app_throttled += 1;
    inner.mailbox(key).stats.throttled += 1;
    let (value, _) = retry_after(inner.config.retry_after, wait);
    let reply = Reply::error(ApiError::new(
        429,
        "TooManyRequests",
        "Please retry again later.",
    ));
    match value {
        Some(v) => reply.with_header("Retry-After", v),
        None => reply,
    }
}

fn fault_reply(inner: &mut Inner, key: &str, status: u16) -> Reply {
    inner.mailbox(key).stats.faults_injected += 1;
    match status {
        429 => throttle(inner, key, "TooManyRequests", "Please retry again later."),
        503 => {
            let (value, _) =
                retry_after(inner.config.retry_after, inner.config.throttle_retry_after);
            let reply = Reply::error(ApiError::new(
                503,
                "ServiceUnavailable",
                "The service is temporarily unavailable. Please retry later.",
            ));
            match value {
                Some(v) => reply.with_header("Retry-After", v),
                None => reply,
            }
        }
        504 => Reply::error(ApiError::new(
            504,
            "GatewayTimeout",
            "The gateway did not receive a timely response from the upstream server.",
        )),
        500 => Reply::error(ApiError::new(
            500,
            "ErrorInternalServerError",
            "An internal server error occurred. The operation failed.",
        )),
        502 => Reply::error(ApiError::new(
            502,
            "BadGateway",
            "The upstream service returned an invalid response.",
        )),
        other => Reply::error(ApiError::new(
            other,
            "SimulatedFault",
            format!("Simulated fault with status {other}."),
        )),
    }
}

fn directory_reply(state: MailboxState, user: &str) -> Option<Reply> {
    let err = match state {
        MailboxState::Ok => return None,
        MailboxState::Unknown => ApiError::new(
            404,
            "ErrorInvalidUser",
            format!("The requested user '{user}' is invalid."),
        ),
        MailboxState::NoMailbox => ApiError::new(
            404,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        ),
        MailboxState::AccessDenied => ApiError::new(
            403,
            "ErrorAccessDenied",
            "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
        ),
    };
    Some(Reply::error(err))
}

fn bad_request(message: impl Into<String>) -> Reply {
    Reply::error(ApiError::new(400, "BadRequest", message))
}

fn route(method: &str, rest: &[&str]) -> Result<Op, Reply> {
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    if matches!(
        lower.as_slice(),
        ["calendarview"] | ["calendar", "calendarview"]
    ) {
        return match method {
            "GET" => Ok(Op::CalendarView),
            _ => Err(method_not_allowed(method)),
        };
    }
    if lower.as_slice() == ["translateexchangeids"] {
        return match method {
            "POST" => Ok(Op::TranslateIds),
            _ => Err(method_not_allowed(method)),
        };
    }
    let (collection, id, whole_mailbox) = match lower.as_slice() {
        ["events"] | ["calendar", "events"] => (true, None, false),
        ["events", _] => (false, Some(decode(rest[1])), true),
        ["calendar", "events", _] => (false, Some(decode(rest[2])), false),
        _ => {
            return Err(bad_request(format!(
                "Resource not found for the segment '{}'.",
                rest.first().copied().unwrap_or("")
            )));
        }
    };
    match (method, collection, id) {
        ("POST", true, _) => Ok(Op::Create),
        ("GET", true, _) => Ok(Op::List),
        ("GET", false, Some(id)) => Ok(Op::Get(id, whole_mailbox)),
        ("PATCH", false, Some(id)) => Ok(Op::Patch(id, whole_mailbox)),
        ("DELETE", false, Some(id)) => Ok(Op::Delete(id, whole_mailbox)),
        _ => Err(method_not_allowed(method)),
    }
}

fn method_not_allowed(method: &str) -> Reply {
    Reply::error(ApiError::new(
        405,
        "MethodNotAllowed",
        format!("The method {method} is not supported for this resource."),
    ))
}

/// Handles one Graph call for a mailbox (auth has already been checked).
pub(crate) async fn handle_item(shared: Arc<Shared>, mut req: ItemRequest) -> Reply {
    let path = match user_path::canonical(&req.path) {
        Ok(path) => path,
        Err(reply) => return reply,
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let first = segments.first().copied().unwrap_or("");
    if first.eq_ignore_ascii_case("me") {
        return bad_request("/me request is only valid with delegated authentication flow.");
    }
    if !first.eq_ignore_ascii_case("users") || segments.len() < 3 || segments[1].is_empty() {
        return bad_request(format!("Resource not found for the segment '{first}'."));
    }
    let user = decode(segments[1]);
    let key = user.to_lowercase();
    let op = match route(&req.method, &segments[2..]) {
        Ok(op) => op,
        Err(reply) => return reply,
    };

    // Arrival: count it and decide throttling/faults/directory under one lock. The
    // guard is declared first so it is dropped after the lock below is released.
    let _guard;
    let delay = {
        let mut inner = shared.lock();
        let now = Instant::now();
        let limit = inner.config.per_mailbox_concurrency.max(1);
        let dir_state = inner.config.directory.lookup(&user);
        let counters = &mut inner.counters;
        counters.in_flight_changed(now, true);
        let rec = inner.mailbox(&key);
        rec.stats.requests += 1;
        rec.stats.in_flight += 1;
        rec.stats.peak_concurrency = rec.stats.peak_concurrency.max(rec.stats.in_flight);
        let in_flight = rec.stats.in_flight;
        let held_until = rec.not_before.filter(|t| *t > now);
        let early = held_until.is_some() && rec.throttle_mark < req.arrival;
        _guard = InFlight {
            shared: Arc::clone(&shared),
            key: key.clone(),
        };
        if let Some(limit) = inner.config.app_limit
            && let Err(wait) = inner.app_window.admit(limit, now)
        {
            return app_throttle(&mut inner, &key, wait);
        }
        if early {
            inner.mailbox(&key).stats.early_retries += 1;
            return throttle(
                &mut inner,
                &key,
                "TooManyRequests",
                "Please retry again later.",
            );
        }
        if let Some(until) = held_until {
            // Sent before the 429 was issued: still throttled, but not the client's
            // fault, so no penalty and no early-retry count.
            inner.mailbox(&key).stats.throttled += 1;
            let (value, _) = retry_after(inner.config.retry_after, until - now);
            let reply = Reply::error(ApiError::new(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
            ));
            return match value {
                Some(v) => reply.with_header("Retry-After", v),
                None => reply,
            };
        }
        if in_flight > limit {
            return throttle(
                &mut inner,
                &key,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
            );
        }
        let scripted = inner.take_fault(|f| match f {
            Fault::FailNext {
                mailbox,
                count,
                status: _,
            } if mailbox.eq_ignore_ascii_case(&key) && *count > 0 => {
                *count -= 1;
                true
            }
            _ => false,
        });
        if let Some(Fault::FailNext {
            mailbox,
            count,
            status,
        }) = scripted
        {
            if count > 0 {
                // Put back what is left of a multi-shot fault.
                inner.faults.insert(
                    0,
                    Fault::FailNext {
                        mailbox,
                        count,
                        status,
                    },
                );
            }
            return fault_reply(&mut inner, &key, status);
        }
        let rate = inner.config.fault_rate;
        if rate > 0.0 && inner.rng.next_f64() < rate {
            let status = [429, 503, 504][inner.rng.below(3) as usize];
            return fault_reply(&mut inner, &key, status);
        }
        if let Some(reply) = directory_reply(dir_state, &user) {
            return reply;
        }
        if !inner.config.honour_id_type {
            req.id_type = IdType::Rest;
        }
        let latency = inner.config.latency;
        let span = latency.max.saturating_sub(latency.min).as_micros() as u64;
        latency.min + Duration::from_micros(inner.rng.below(span.saturating_add(1)))
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    match op {
        Op::Create => create(&shared, &key, &user, &req).await,
        Op::List => list(&shared, &key, segments[1], &req),
        Op::CalendarView => calendar_view(&shared, &key, segments[1], &req),
        Op::TranslateIds => ids::translate(shared.lock().events(&key), req.body.as_ref()),
        Op::Get(id, whole_mailbox) => {
            let inner = shared.lock();
            let found = inner.mailboxes.get(&key).and_then(|m| {
                m.events
                    .iter()
                    .find(|e| ids::names(e, &id) && ids::reaches(e, whole_mailbox))
            });
            match found {
                Some(event) => Reply::json(
                    200,
                    ids::render(
                        event,
                        req.id_type,
                        req.prefer_tz.as_deref(),
                        expand_of(&req.query),
                        &req.base,
                    ),
                ),
                None => Reply::error(ApiError::item_not_found()),
            }
        }
        Op::Patch(id, whole_mailbox) => {
            let mut inner = shared.lock();
            let strict = inner.config.strict_datetime;
            let change_key = inner.rng.token_chars(22);
            let join = inner.rng.token_chars(24);
            let rec = inner.mailbox(&key);
            let Some(event) = rec
                .events
                .iter_mut()
                .find(|e| ids::names(e, &id) && ids::reaches(e, whole_mailbox))
            else {
                return Reply::error(ApiError::item_not_found());
            };
            let patch = req.body.clone().unwrap_or(Value::Null);
            match events::update(event, &patch, strict, change_key, join, Utc::now()) {
                Ok(()) => Reply::json(
                    200,
                    ids::render(
                        event,
                        req.id_type,
                        req.prefer_tz.as_deref(),
                        Expand::None,
                        &req.base,
                    ),
                ),
                Err(err) => Reply::error(err),
            }
        }
        Op::Delete(id, whole_mailbox) => {
            let mut inner = shared.lock();
            let rec = inner.mailbox(&key);
            let before = rec.events.len();
            rec.events
                .retain(|e| !(ids::names(e, &id) && ids::reaches(e, whole_mailbox)));
            if rec.events.len() == before {
                Reply::error(ApiError::item_not_found())
            } else {
                Reply::empty(204)
            }
        }
    }
}

async fn create(shared: &Arc<Shared>, key: &str, user: &str, req: &ItemRequest) -> Reply {
    let body = req.body.clone().unwrap_or(Value::Null);
    let (reply, stall) = {
        let mut inner = shared.lock();
        let dedup = inner.config.transaction_id_dedup;
        if dedup && let Some(txn) = events::transaction_id(&body) {
            let rec = inner.mailbox(key);
            if let Some(existing) = rec
                .events
                .iter()
                .find(|e| e.transaction_id.as_deref() == Some(txn.as_str()))
            {
                // Graph answers 201 again and creates nothing new.
                let rendered = ids::render(
                    existing,
                    req.id_type,
                    req.prefer_tz.as_deref(),
                    Expand::None,
                    &req.base,
                );
                rec.stats.duplicate_transaction_ids += 1;
                return Reply::json(201, rendered);
            }
        }
        let ids = NewIds::generate(&mut inner.rng);
        let strict = inner.config.strict_datetime;
        let event = match events::create(user, &body, strict, ids, Utc::now()) {
            Ok(event) => event,
            Err(err) => return Reply::error(err),
        };
        let rendered = ids::render(
            &event,
            req.id_type,
            req.prefer_tz.as_deref(),
            Expand::None,
            &req.base,
        );
        let ghost = inner.take_fault(
            |f| matches!(f, Fault::GhostCommit { mailbox, .. } if mailbox.eq_ignore_ascii_case(key)),
        );
        let rec = inner.mailbox(key);
        rec.events.push(event);
        rec.stats.events_created += 1;
        match ghost {
            Some(Fault::GhostCommit {
                reply: GhostReply::Status(status),
                ..
            }) => {
                return fault_reply(&mut inner, key, status);
            }
            Some(Fault::GhostCommit {
                reply: GhostReply::Stall(d),
                ..
            }) => {
                rec.stats.faults_injected += 1;
                (Reply::json(201, rendered), Some(d))
            }
            _ => (Reply::json(201, rendered), None),
        }
    };
    if let Some(d) = stall {
        tokio::time::sleep(d).await;
    }
    reply
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `$expand=singleValueExtendedProperties($filter=id eq '…')`, or the bare form for all.
fn expand_of(query: &[(String, String)]) -> Expand<'_> {
    let Some(expand) = query_value(query, "$expand") else {
        return Expand::None;
    };
    let lower = expand.to_ascii_lowercase();
    if !lower.starts_with("singlevalueextendedproperties") {
        return Expand::None;
    }
    match (lower.find("id eq '"), expand.rfind('\'')) {
        (Some(start), Some(end)) if start + 7 <= end => Expand::Property(&expand[start + 7..end]),
        _ => Expand::All,
    }
}

fn list(shared: &Arc<Shared>, key: &str, raw_user: &str, req: &ItemRequest) -> Reply {
    let filter = match query_value(&req.query, "$filter") {
        None => None,
        Some(f) => match events::parse_property_filter(f) {
            Some(parsed) => Some(parsed),
            None => {
                return bad_request(format!(
                    "Invalid filter clause: the simulated Graph only supports singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…'), got '{f}'."
                ));
            }
        },
    };
    let inner = shared.lock();
    let (top, skip) = match paging(&req.query, inner.config.default_page_size) {
        Ok(paging) => paging,
        Err(reply) => return reply,
    };
    let matching: Vec<_> = inner
        .mailboxes
        .get(key)
        .map(|m| {
            m.events
                .iter()
                .filter(|e| ids::reaches(e, false))
                .filter(|e| match &filter {
                    None => true,
                    Some((id, value)) => e
                        .extended
                        .iter()
                        .any(|(k, v)| k.eq_ignore_ascii_case(id) && v == value),
                })
                .collect()
        })
        .unwrap_or_default();
    one_page(&matching, top, skip, raw_user, "events", req)
}

/// `GET /users/{u}/calendarView?startDateTime=…&endDateTime=…`: the events overlapping the
/// window, earliest first, paged like a collection.
fn calendar_view(shared: &Arc<Shared>, key: &str, raw_user: &str, req: &ItemRequest) -> Reply {
    let instant = |name: &str| match query_value(&req.query, name).map(events::parse_date_time) {
        // Without an offset Graph reads the value as UTC.
        Some(Some(events::ParsedDateTime::Local(naive))) => Some(Utc.from_utc_datetime(&naive)),
        Some(Some(events::ParsedDateTime::Offset(dt))) => Some(dt.with_timezone(&Utc)),
        _ => None,
    };
    let (Some(start), Some(end)) = (instant("startDateTime"), instant("endDateTime")) else {
        return Reply::error(ApiError::new(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        ));
    };
    let inner = shared.lock();
    let (top, skip) = match paging(&req.query, inner.config.default_page_size) {
        Ok(paging) => paging,
        Err(reply) => return reply,
    };
    let mut matching: Vec<_> = inner
        .mailboxes
        .get(key)
        .map(|m| {
            m.events
                .iter()
                .filter(|e| ids::reaches(e, false) && e.start < end && e.end > start)
                .collect()
        })
        .unwrap_or_default();
    matching.sort_by_key(|e| (e.start, e.end));
    one_page(&matching, top, skip, raw_user, "calendarView", req)
}

/// `$top` (default `page_default`, at most 1000) and `$skip`.
fn paging(query: &[(String, String)], page_default: usize) -> Result<(usize, usize), Reply> {
    let top = match query_value(query, "$top").map(str::parse::<usize>) {
        None => page_default.max(1),
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return Err(bad_request("Invalid value for $top.")),
    };
    let skip = match query_value(query, "$skip").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Err(bad_request("Invalid value for $skip.")),
    };
    Ok((top, skip))
}

/// One page of `matching` as Graph returns a collection, with `$select` applied and an
/// `@odata.nextLink` to `/users/{raw_user}/{collection}` when more follow.
fn one_page(
    matching: &[&StoredEvent],
    top: usize,
    skip: usize,
    raw_user: &str,
    collection: &str,
    req: &ItemRequest,
) -> Reply {
    let expand = expand_of(&req.query);
    let select = query_value(&req.query, "$select");
    let page: Vec<Value> = matching
        .iter()
        .skip(skip)
        .take(top)
        .map(|e| {
            let rendered = ids::render(e, req.id_type, req.prefer_tz.as_deref(), expand, &req.base);
            match select {
                Some(select) => selected(rendered, select),
                None => rendered,
            }
        })
        .collect();
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!(
            "{}/$metadata#users('{}')/{collection}",
            req.base,
            decode(raw_user)
        )),
    );
    out.insert("value".into(), Value::Array(page));
    if skip.saturating_add(top) < matching.len() {
        let mut query: Vec<String> = req
            .query
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("$skip") && !k.eq_ignore_ascii_case("$top"))
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
            .collect();
        query.push(format!("$top={top}"));
        query.push(format!("$skip={}", skip + top));
        out.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/{}/{collection}?{}",
                req.base,
                user_path::link_segment(raw_user),
                query.join("&")
            )),
        );
    }
    Reply::json(200, Value::Object(out))
}

/// `$select`: the listed properties plus what Graph always returns (id, etag, and the
/// extended properties when they were expanded).
fn selected(rendered: Value, select: &str) -> Value {
    let wanted: Vec<&str> = select.split(',').map(str::trim).collect();
    match rendered {
        Value::Object(all) => Value::Object(
            all.into_iter()
                .filter(|(k, _)| {
                    matches!(
                        k.as_str(),
                        "id" | "@odata.etag" | "singleValueExtendedProperties"
                    ) || wanted.iter().any(|w| w.eq_ignore_ascii_case(k))
                })
                .collect(),
        ),
        other => other,
    }
}

/// A parsed `$batch` item.
struct BatchItem {
    id: String,
    depends_on: Vec<String>,
    client_request_id: Option<String>,
    request: Result<ItemRequest, Reply>,
}

fn header_of<'a>(headers: Option<&'a Map<String, Value>>, name: &str) -> Option<&'a str> {
    headers?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

pub(crate) fn prefer_time_zone<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    values
        .flat_map(|v| v.split(','))
        .filter_map(|pref| {
            let (name, value) = pref.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("outlook.timezone")
                .then(|| value.trim().trim_matches('"').to_string())
        })
        .next()
}

pub(crate) fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(&k.replace('+', " "));
            let v = decode(&v.replace('+', " "));
            (k, v)
        })
        .collect()
}

fn parse_batch_item(raw: &Value, base: &str, arrival: u64) -> Result<BatchItem, Reply> {
    let id = match raw.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(bad_request("Each batch request needs a non-empty 'id'.")),
    };
    let depends_on = raw
        .get("dependsOn")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let headers = raw.get("headers").and_then(Value::as_object);
    let client_request_id = header_of(headers, "client-request-id").map(str::to_string);
    let request = (|| {
        let method = raw
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .ok_or_else(|| bad_request(format!("Batch request '{id}' has no method.")))?;
        let url = raw
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_request(format!("Batch request '{id}' has no url.")))?;
        if url.contains("://") {
            return Err(bad_request(format!(
                "Batch request '{id}' must use a URL relative to the version root."
            )));
        }
        let body = raw.get("body").filter(|b| !b.is_null()).cloned();
        if body.is_some() && header_of(headers, "Content-Type").is_none() {
            return Err(bad_request(format!(
                "Write request id : {id} does not contain Content-Type header or body."
            )));
        }
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        Ok(ItemRequest {
            method,
            path: format!("/{}", path.trim_start_matches('/')),
            query: parse_pairs(query),
            prefer_tz: prefer_time_zone(header_of(headers, "Prefer").into_iter()),
            id_type: ids::prefer_id_type(header_of(headers, "Prefer").into_iter()),
            body,
            base: base.to_string(),
            arrival,
        })
    })();
    Ok(BatchItem {
        id,
        depends_on,
        client_request_id,
        request,
    })
}

fn item_json(shared: &Shared, id: &str, reply: Reply, client_request_id: &str) -> Value {
    let request_id = shared.lock().rng.guid();
    let mut headers = Map::new();
    for (k, v) in &reply.headers {
        headers.insert(k.clone(), json!(v));
    }
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("status".into(), json!(reply.status));
    if let Some(mut body) = reply.body {
        headers.insert("Content-Type".into(), json!("application/json"));
        if reply.status >= 400 {
            stamp_error(&mut body, &request_id, client_request_id);
        }
        out.insert("body".into(), body);
    }
    out.insert("headers".into(), Value::Object(headers));
    Value::Object(out)
}

/// `POST /v1.0/$batch`.
pub(crate) async fn handle_batch(
    shared: Arc<Shared>,
    body: Option<Value>,
    base: &str,
    client_request_id: &str,
    arrival: u64,
) -> Reply {
    let Some(requests) = body
        .as_ref()
        .and_then(|b| b.get("requests"))
        .and_then(Value::as_array)
    else {
        return bad_request("Invalid batch payload format.");
    };
    if requests.len() > 20 {
        return bad_request("Number of requests inside batch exceeds the limit.");
    }
    if requests.is_empty() {
        return bad_request("A batch must contain at least one request.");
    }
    let mut items = Vec::with_capacity(requests.len());
    let mut seen = HashSet::new();
    for raw in requests {
        let item = match parse_batch_item(raw, base, arrival) {
            Ok(item) => item,
            Err(reply) => return reply,
        };
        if !seen.insert(item.id.to_lowercase()) {
            return bad_request(format!(
                "Batch request contains duplicate id '{}'.",
                item.id
            ));
        }
        items.push(item);
    }
    let (parallelism, shuffle) = {
        let mut inner = shared.lock();
        inner.counters.batches += 1;
        (
            inner.config.batch_parallelism.max(1),
            inner.config.shuffle_batch_responses,
        )
    };

    let mut responses = Vec::with_capacity(items.len());
    if items.iter().any(|i| !i.depends_on.is_empty()) {
        // With dependsOn Graph runs items one at a time; a failed prerequisite gives 424.
        let mut statuses: HashMap<String, u16> = HashMap::new();
        for item in items {
            let crid = item
                .client_request_id
                .clone()
                .unwrap_or_else(|| client_request_id.to_string());
            let blocked = item
                .depends_on
                .iter()
                .any(|d| statuses.get(&d.to_lowercase()).is_none_or(|s| *s >= 400));
            let reply = if blocked {
                Reply::error(ApiError::new(
                    424,
                    "FailedDependency",
                    "Failed dependency: a request this one depends on failed.",
                ))
            } else {
                match item.request {
                    Ok(req) => handle_item(Arc::clone(&shared), req).await,
                    Err(reply) => reply,
                }
            };
            statuses.insert(item.id.to_lowercase(), reply.status);
            responses.push(item_json(&shared, &item.id, reply, &crid));
        }
    } else {
        let outcomes: Vec<(String, String, Reply)> = futures::stream::iter(items)
            .map(|item| {
                let shared = Arc::clone(&shared);
                let crid = item
                    .client_request_id
                    .clone()
                    .unwrap_or_else(|| client_request_id.to_string());
                async move {
                    let reply = match item.request {
                        Ok(req) => handle_item(shared, req).await,
                        Err(reply) => reply,
                    };
                    (item.id, crid, reply)
                }
            })
            .buffer_unordered(parallelism)
            .collect()
            .await;
        for (id, crid, reply) in outcomes {
            responses.push(item_json(&shared, &id, reply, &crid));
        }
    }
    if shuffle {
        shared.lock().rng.shuffle(&mut responses);
    }
    Reply::json(200, json!({ "responses": responses }))
}
