//! Event validation, storage and rendering for the simulated mailbox.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use super::online_meeting::{self, OnlineMeeting};
use super::reply::ApiError;
use super::rng::SplitMix64;
use super::timezones;

#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    /// The regular REST id (`restId`): changes when the item moves to another folder.
    pub id: String,
    /// The `restImmutableEntryId`: stays for the item's lifetime in this mailbox.
    pub immutable_id: String,
    /// Where the item is (a user's delete moves it to Deleted Items).
    pub folder: Folder,
    pub change_key: String,
    pub ical_uid: String,
    pub transaction_id: Option<String>,
    pub extended: Vec<(String, String)>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub start_tz: String,
    pub end_tz: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    /// The Teams meeting Exchange added, while it is on.
    pub meeting: Option<OnlineMeeting>,
    /// Client-supplied properties kept as sent (subject, body, location, …).
    pub fields: Map<String, Value>,
    pub owner: String,
}

/// Server-generated values for a new event.
pub(crate) struct NewIds {
    pub id: String,
    pub immutable_id: String,
    pub change_key: String,
    pub ical_uid: String,
    pub join_token: String,
}

impl NewIds {
    pub(crate) fn generate(rng: &mut SplitMix64) -> NewIds {
        NewIds {
            id: format!("AAMkAG{}=", rng.token_chars(80)),
            change_key: rng.token_chars(22),
            ical_uid: format!("040000008200E00074C5B7101A82E00800000000{}", rng.hex(72)),
            join_token: rng.token_chars(24),
            immutable_id: new_immutable_id(rng),
        }
    }
}

/// The folder an event is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Folder {
    /// The user's default calendar, where `POST /users/{u}/events` puts it.
    Calendar,
    /// Where Outlook moves an item its owner deletes.
    DeletedItems,
}

/// An immutable id: shaped like Graph's (`AAkALg…`, the docs' example), never equal to the
/// REST id of the same item.
fn new_immutable_id(rng: &mut SplitMix64) -> String {
    format!("AAkALg{}=", rng.token_chars(80))
}

/// Properties the server owns; a client value for them is ignored.
const SERVER_OWNED: &[&str] = &[
    "id",
    "changeKey",
    "createdDateTime",
    "lastModifiedDateTime",
    "iCalUId",
    "webLink",
    "onlineMeeting",
    "onlineMeetingUrl",
    // Decided by the server from the request (see `online_meeting`), not kept as sent.
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "organizer",
    "@odata.etag",
    "@odata.context",
    "start",
    "end",
    "transactionId",
    "singleValueExtendedProperties",
];

struct Slot {
    instant: DateTime<Utc>,
    tz: String,
}

fn parse_slot(event: &Value, key: &str, strict: bool) -> Result<Option<Slot>, ApiError> {
    let Some(slot) = event.get(key) else {
        return Ok(None);
    };
    let tz = slot.get("timeZone").and_then(Value::as_str).unwrap_or("");
    let Some(zone) = timezones::resolve(tz) else {
        return Err(ApiError::time_zone(tz));
    };
    let raw = slot.get("dateTime").and_then(Value::as_str).unwrap_or("");
    let instant = match parse_date_time(raw) {
        Some(ParsedDateTime::Local(naive)) => local_to_utc(zone, naive),
        Some(ParsedDateTime::Offset(dt)) if !strict => dt.with_timezone(&Utc),
        Some(ParsedDateTime::Offset(_)) => {
            return Err(ApiError::new(
                400,
                "ErrorInvalidRequest",
                format!(
                    "The dateTime value '{raw}' carries a UTC offset; send a local date and time with a timeZone."
                ),
            ));
        }
        None => {
            return Err(ApiError::new(
                400,
                "ErrorInvalidRequest",
                format!(
                    "Cannot convert the literal '{raw}' to the expected type 'Edm.DateTimeOffset'."
                ),
            ));
        }
    };
    Ok(Some(Slot {
        instant,
        tz: tz.to_string(),
    }))
}

pub(crate) enum ParsedDateTime {
    Local(NaiveDateTime),
    Offset(DateTime<FixedOffset>),
}

/// `YYYY-MM-DDTHH:MM:SS(.f{1,7})?`, optionally followed by `Z` or `±HH:MM`.
pub(crate) fn parse_date_time(s: &str) -> Option<ParsedDateTime> {
    let bytes = s.as_bytes();
    if bytes.len() < 19 || !s.is_char_boundary(19) {
        return None;
    }
    let shape_ok = bytes[..19].iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        10 => *b == b'T',
        13 | 16 => *b == b':',
        _ => b.is_ascii_digit(),
    });
    if !shape_ok {
        return None;
    }
    let mut naive = NaiveDateTime::parse_from_str(&s[..19], "%Y-%m-%dT%H:%M:%S").ok()?;
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=7).contains(&digits) {
            return None;
        }
        let padded = format!("{:0<9}", &frac[..digits]);
        let nanos: u32 = padded.parse().ok()?;
        naive = naive.with_nanosecond(nanos)?;
        rest = &frac[digits..];
    }
    if rest.is_empty() {
        return Some(ParsedDateTime::Local(naive));
    }
    let offset = if rest == "Z" {
        FixedOffset::east_opt(0)?
    } else {
        let (sign, hm) = match rest.as_bytes().first() {
            Some(b'+') => (1, &rest[1..]),
            Some(b'-') => (-1, &rest[1..]),
            _ => return None,
        };
        let (h, m) = hm.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
        FixedOffset::east_opt(sign * secs)?
    };
    Some(ParsedDateTime::Offset(
        offset.from_local_datetime(&naive).single()?,
    ))
}

fn local_to_utc(zone: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(dt) => dt.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        // A wall time inside a DST gap: move it forward by the gap, as Exchange does.
        chrono::LocalResult::None => {
            let later = naive + chrono::Duration::hours(1);
            zone.from_local_datetime(&later)
                .earliest()
                .map(|dt| dt.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
        }
    }
}

fn check_order(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), ApiError> {
    if end <= start {
        return Err(ApiError::new(
            400,
            "ErrorInvalidRequest",
            "The end time of the event must be later than its start time.",
        ));
    }
    Ok(())
}

fn extended_from(event: &Value) -> Result<Vec<(String, String)>, ApiError> {
    let Some(list) = event.get("singleValueExtendedProperties") else {
        return Ok(Vec::new());
    };
    let Some(items) = list.as_array() else {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "singleValueExtendedProperties must be an array.",
        ));
    };
    items
        .iter()
        .map(|p| {
            let id = p.get("id").and_then(Value::as_str);
            let value = p.get("value").and_then(Value::as_str);
            match (id, value) {
                (Some(id), Some(value)) => Ok((id.to_string(), value.to_string())),
                _ => Err(ApiError::new(
                    400,
                    "ErrorInvalidExtendedPropertyValue",
                    "Each extended property needs a string id and value.",
                )),
            }
        })
        .collect()
}

fn client_fields(event: &Map<String, Value>) -> Map<String, Value> {
    event
        .iter()
        .filter(|(k, _)| !SERVER_OWNED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The create payload's `transactionId`, if any.
pub(crate) fn transaction_id(event: &Value) -> Option<String> {
    event
        .get("transactionId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub(crate) fn create(
    owner: &str,
    event: &Value,
    strict: bool,
    ids: NewIds,
    now: DateTime<Utc>,
) -> Result<StoredEvent, ApiError> {
    let Some(obj) = event.as_object() else {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "Empty Payload. JSON content expected.",
        ));
    };
    let start = parse_slot(event, "start", strict)?;
    let end = parse_slot(event, "end", strict)?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(ApiError::new(
            400,
            "ErrorInvalidRequest",
            "Your request can't be completed. An event needs both a start and an end.",
        ));
    };
    check_order(start.instant, end.instant)?;
    let extended = extended_from(event)?;
    let mut fields = client_fields(obj);
    let meeting = online_meeting::on_create(obj, &mut fields, &ids.join_token);
    Ok(StoredEvent {
        id: ids.id,
        immutable_id: ids.immutable_id,
        folder: Folder::Calendar,
        change_key: ids.change_key,
        ical_uid: ids.ical_uid,
        transaction_id: transaction_id(event),
        extended,
        start: start.instant,
        end: end.instant,
        start_tz: start.tz,
        end_tz: end.tz,
        created: now,
        modified: now,
        meeting,
        fields,
        owner: owner.to_string(),
    })
}

/// Applies a PATCH; on error the stored event is left untouched.
pub(crate) fn update(
    stored: &mut StoredEvent,
    patch: &Value,
    strict: bool,
    change_key: String,
    join_token: String,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(obj) = patch.as_object() else {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "Empty Payload. JSON content expected.",
        ));
    };
    if let Some(txn) = obj.get("transactionId")
        && txn.as_str() != stored.transaction_id.as_deref()
    {
        return Err(ApiError::new(
            400,
            "ErrorInvalidRequest",
            "The transactionId of an event can't be changed.",
        ));
    }
    let start = parse_slot(patch, "start", strict)?;
    let end = parse_slot(patch, "end", strict)?;
    let new_start = start.as_ref().map_or(stored.start, |s| s.instant);
    let new_end = end.as_ref().map_or(stored.end, |s| s.instant);
    check_order(new_start, new_end)?;
    let extended = extended_from(patch)?;

    if let Some(s) = start {
        stored.start = s.instant;
        stored.start_tz = s.tz;
    }
    if let Some(e) = end {
        stored.end = e.instant;
        stored.end_tz = e.tz;
    }
    for (id, value) in extended {
        match stored
            .extended
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&id))
        {
            Some(slot) => slot.1 = value,
            None => stored.extended.push((id, value)),
        }
    }
    for (k, v) in client_fields(obj) {
        stored.fields.insert(k, v);
    }
    online_meeting::on_update(&mut stored.meeting, obj, &mut stored.fields, &join_token);
    stored.change_key = change_key;
    stored.modified = now;
    Ok(())
}

/// Seven fractional digits, as Graph writes them.
fn graph_time(dt: &DateTime<Tz>) -> String {
    format!(
        "{}.{:07}",
        dt.format("%Y-%m-%dT%H:%M:%S"),
        dt.nanosecond() / 100
    )
}

fn stamp(dt: &DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        dt.format("%Y-%m-%dT%H:%M:%S"),
        dt.nanosecond() / 100
    )
}

/// Which extended properties a response includes (Graph returns them only when expanded).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expand<'a> {
    None,
    Property(&'a str),
    All,
}

/// The event as Graph returns it. `display_tz` is the `Prefer: outlook.timezone` value
/// (UTC when absent or unknown).
pub(crate) fn render(
    event: &StoredEvent,
    display_tz: Option<&str>,
    expand: Expand<'_>,
    context_base: &str,
) -> Value {
    let (zone, zone_name) = display_tz
        .and_then(|name| timezones::resolve(name).map(|z| (z, name.to_string())))
        .unwrap_or((Tz::UTC, "UTC".to_string()));
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!(
            "{context_base}/$metadata#users('{}')/events/$entity",
            event.owner
        )),
    );
    out.insert(
        "@odata.etag".into(),
        json!(format!("W/\"{}\"", event.change_key)),
    );
    out.insert("id".into(), json!(event.id));
    out.insert("createdDateTime".into(), json!(stamp(&event.created)));
    out.insert("lastModifiedDateTime".into(), json!(stamp(&event.modified)));
    out.insert("changeKey".into(), json!(event.change_key));
    out.insert("categories".into(), json!([]));
    out.insert("transactionId".into(), json!(event.transaction_id));
    out.insert("originalStartTimeZone".into(), json!(event.start_tz));
    out.insert("originalEndTimeZone".into(), json!(event.end_tz));
    out.insert("iCalUId".into(), json!(event.ical_uid));
    out.insert("reminderMinutesBeforeStart".into(), json!(15));
    out.insert("isReminderOn".into(), json!(true));
    out.insert("hasAttachments".into(), json!(false));
    out.insert("subject".into(), json!(""));
    out.insert("importance".into(), json!("normal"));
    out.insert("sensitivity".into(), json!("normal"));
    out.insert("isAllDay".into(), json!(false));
    out.insert("isCancelled".into(), json!(false));
    out.insert("isOrganizer".into(), json!(true));
    out.insert("responseRequested".into(), json!(true));
    out.insert("showAs".into(), json!("busy"));
    out.insert("type".into(), json!("singleInstance"));
    out.insert(
        "webLink".into(),
        json!(format!(
            "https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item",
            percent_encoding::utf8_percent_encode(&event.id, percent_encoding::NON_ALPHANUMERIC)
        )),
    );
    out.insert("isOnlineMeeting".into(), json!(false));
    out.insert("onlineMeetingProvider".into(), json!("unknown"));
    out.insert("onlineMeeting".into(), Value::Null);
    out.insert("location".into(), json!({"displayName": ""}));
    out.insert("attendees".into(), json!([]));
    for (k, v) in &event.fields {
        out.insert(k.clone(), v.clone());
    }
    let preview: String = event
        .fields
        .get("body")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(255)
        .collect();
    out.insert("bodyPreview".into(), json!(preview));
    if let Some(meeting) = &event.meeting {
        out.insert("isOnlineMeeting".into(), json!(true));
        out.insert("onlineMeeting".into(), meeting.info());
        out.insert("onlineMeetingProvider".into(), json!("teamsForBusiness"));
    }
    out.insert(
        "start".into(),
        json!({"dateTime": graph_time(&event.start.with_timezone(&zone)), "timeZone": zone_name}),
    );
    out.insert(
        "end".into(),
        json!({"dateTime": graph_time(&event.end.with_timezone(&zone)), "timeZone": zone_name}),
    );
    out.insert(
        "organizer".into(),
        json!({"emailAddress": {"name": event.owner, "address": event.owner}}),
    );
    let props: Vec<Value> = event
        .extended
        .iter()
        .filter(|(id, _)| match expand {
            Expand::None => false,
            Expand::All => true,
            Expand::Property(want) => id.eq_ignore_ascii_case(want),
        })
        .map(|(id, value)| json!({"id": id, "value": value}))
        .collect();
    if !matches!(expand, Expand::None) {
        out.insert("singleValueExtendedProperties".into(), Value::Array(props));
    }
    Value::Object(out)
}

/// The one `$filter` form the simulator understands:
/// `singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')`.
pub(crate) fn parse_property_filter(filter: &str) -> Option<(String, String)> {
    let f = filter.trim();
    let prefix = "singlevalueextendedproperties/any(";
    if f.len() < prefix.len() || !f[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return None;
    }
    let inner = f[prefix.len()..].strip_suffix(')')?;
    let (var, cond) = inner.split_once(':')?;
    let var = var.trim();
    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let mut rest = cond.trim_start();
    let id = take_comparison(&mut rest, var, "id")?;
    rest = rest.trim_start();
    let and = rest.get(..4)?;
    if !and.eq_ignore_ascii_case("and ") {
        return None;
    }
    rest = rest[4..].trim_start();
    let value = take_comparison(&mut rest, var, "value")?;
    if !rest.trim().is_empty() {
        return None;
    }
    Some((id, value))
}

/// Parses `{var}/{field} eq '…'` (with `''` for a quote) from the front of `rest`.
fn take_comparison(rest: &mut &str, var: &str, field: &str) -> Option<String> {
    let lhs = format!("{var}/{field}");
    let head = rest.get(..lhs.len())?;
    if !head.eq_ignore_ascii_case(&lhs) {
        return None;
    }
    let after = rest[lhs.len()..].trim_start();
    let after = after.strip_prefix("eq")?.trim_start();
    let mut chars = after.strip_prefix('\'')?.char_indices().peekable();
    let body = after.strip_prefix('\'')?;
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if matches!(chars.peek(), Some((_, '\''))) {
                chars.next();
                out.push('\'');
            } else {
                *rest = &body[i + 1..];
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_filter_form() {
        let f = "singleValueExtendedProperties/Any(ep: ep/id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name CalsyncKey' and ep/value eq 'it''s-42')";
        let (id, value) = parse_property_filter(f).expect("filter");
        assert_eq!(
            id,
            "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name CalsyncKey"
        );
        assert_eq!(value, "it's-42");
        assert!(parse_property_filter("subject eq 'x'").is_none());
    }

    #[test]
    fn date_time_shapes() {
        assert!(matches!(
            parse_date_time("2025-07-15T10:00:00"),
            Some(ParsedDateTime::Local(_))
        ));
        assert!(matches!(
            parse_date_time("2025-07-15T10:00:00.0000000"),
            Some(ParsedDateTime::Local(_))
        ));
        assert!(matches!(
            parse_date_time("2025-07-15T10:00:00-04:00"),
            Some(ParsedDateTime::Offset(_))
        ));
        assert!(parse_date_time("2025-07-15T10:00:00.12345678").is_none());
        assert!(parse_date_time("2025-07-15 10:00:00").is_none());
        assert!(parse_date_time("2025-07-15").is_none());
    }
}
