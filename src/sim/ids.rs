//! Graph's two id formats for one Outlook item, the Deleted Items folder, and
//! `translateExchangeIds`, as Microsoft documents them:
//! - concepts/outlook-immutable-id.md: without `Prefer: IdType="ImmutableId"` ids are regular
//!   REST ids, which change when the item moves to another folder; the immutable id does not
//!   change while the item stays in the mailbox; the header applies only to the request it is
//!   sent with; ids are case-sensitive.
//! - api-reference/v1.0/api/user-translateexchangeids.md and resources/convertidresult.md: the
//!   request and response shapes, at most 1000 ids per call, all from one mailbox and of one
//!   source type, a per-id `errorDetails` when an id cannot be converted.

use serde_json::{Map, Value, json};

use super::events::{self, Expand, Folder, StoredEvent};
use super::reply::{ApiError, Reply};
use super::rng::SplitMix64;

/// translateExchangeIds: "Maximum size of this collection is 1000 strings."
pub(crate) const MAX_TRANSLATE_IDS: usize = 1000;

/// The id format a request asks responses in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum IdType {
    /// The default: "The default ID format used by Microsoft Graph".
    #[default]
    Rest,
    Immutable,
}

/// `Prefer: IdType="ImmutableId"` among the request's Prefer values (several may be
/// comma-separated in one header); anything else is the default REST format.
pub(crate) fn prefer_id_type<'a>(values: impl Iterator<Item = &'a str>) -> IdType {
    let immutable = values.flat_map(|v| v.split(',')).any(|pref| {
        pref.trim().split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("IdType")
                && value.trim().trim_matches('"') == "ImmutableId"
        })
    });
    if immutable {
        IdType::Immutable
    } else {
        IdType::Rest
    }
}

/// Whether `id` names `event` in either format. Exact comparison: ids are case-sensitive.
pub(crate) fn names(event: &StoredEvent, id: &str) -> bool {
    event.id == id || event.immutable_id == id
}

/// Whether a path reaches `event`: `/users/{u}/events/{id}` addresses the item wherever it is
/// in the mailbox; `/users/{u}/calendar/events/{id}` and the calendar's collections
/// (`calendarView`, `events`) only what is in the calendar.
pub(crate) fn reaches(event: &StoredEvent, whole_mailbox: bool) -> bool {
    whole_mailbox || event.folder == Folder::Calendar
}

/// The event as Graph returns it, with its id in the format the request asked for.
pub(crate) fn render(
    event: &StoredEvent,
    id_type: IdType,
    display_tz: Option<&str>,
    expand: Expand<'_>,
    base: &str,
) -> Value {
    let mut out = events::render(event, display_tz, expand, base);
    if let Some(obj) = out.as_object_mut() {
        obj.insert("id".into(), json!(shown_id(event, id_type)));
    }
    out
}

pub(crate) fn shown_id(event: &StoredEvent, id_type: IdType) -> &str {
    match id_type {
        IdType::Rest => &event.id,
        IdType::Immutable => &event.immutable_id,
    }
}

/// What the owner's delete in Outlook does: the item moves to Deleted Items, so its REST id
/// changes and its immutable id stays.
pub(crate) fn move_to_deleted_items(event: &mut StoredEvent, rng: &mut SplitMix64) {
    event.id = format!("AAMkAG{}=", rng.token_chars(80));
    event.folder = Folder::DeletedItems;
}

/// The `exchangeIdFormat` values; only the two REST formats are modelled.
fn id_format(value: Option<&Value>) -> Result<IdType, ApiError> {
    match value.and_then(Value::as_str) {
        Some("restId") => Ok(IdType::Rest),
        Some("restImmutableEntryId") => Ok(IdType::Immutable),
        Some(other @ ("entryId" | "ewsId" | "immutableEntryId")) => Err(ApiError::new(
            400,
            "BadRequest",
            format!(
                "The simulated Graph translates only restId and restImmutableEntryId, not '{other}'."
            ),
        )),
        Some(other) => Err(ApiError::new(
            400,
            "BadRequest",
            format!("The value '{other}' is not a valid exchangeIdFormat."),
        )),
        None => Err(ApiError::new(
            400,
            "BadRequest",
            "sourceIdType and targetIdType are required.",
        )),
    }
}

/// `POST /users/{u}/translateExchangeIds` over the events `stored` in the caller's mailbox
/// (throttling and the directory have already been applied).
pub(crate) fn translate(stored: &[StoredEvent], body: Option<&Value>) -> Reply {
    match translated(stored, body) {
        Ok(value) => Reply::json(
            200,
            json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.convertIdResult)",
                "value": value,
            }),
        ),
        Err(err) => Reply::error(err),
    }
}

fn translated(stored: &[StoredEvent], body: Option<&Value>) -> Result<Vec<Value>, ApiError> {
    let body = body
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    let inputs = body
        .get("inputIds")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::new(400, "BadRequest", "inputIds is required."))?;
    if inputs.len() > MAX_TRANSLATE_IDS {
        return Err(ApiError::new(
            400,
            "BadRequest",
            format!(
                "inputIds holds {} ids; at most {MAX_TRANSLATE_IDS} are allowed.",
                inputs.len()
            ),
        ));
    }
    let source = id_format(body.get("sourceIdType"))?;
    let target = id_format(body.get("targetIdType"))?;
    inputs
        .iter()
        .map(|input| {
            let id = input
                .as_str()
                .ok_or_else(|| ApiError::new(400, "BadRequest", "inputIds must be strings."))?;
            let found = stored.iter().find(|e| shown_id(e, source) == id);
            let mut result = Map::new();
            result.insert("sourceId".into(), json!(id));
            match found {
                Some(event) => {
                    result.insert("targetId".into(), json!(shown_id(event, target)));
                }
                None => {
                    result.insert(
                        "errorDetails".into(),
                        json!({
                            "code": "ErrorItemNotFound",
                            "message": "The specified object was not found in the store.",
                        }),
                    );
                }
            }
            Ok(Value::Object(result))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_header_value_asks_for_immutable_ids() {
        // Graph docs: concepts/outlook-immutable-id.md — `Prefer: IdType="ImmutableId"`.
        let asked = |v: &str| prefer_id_type(std::iter::once(v));
        assert_eq!(asked("IdType=\"ImmutableId\""), IdType::Immutable);
        assert_eq!(
            asked("outlook.timezone=\"UTC\", IdType=\"ImmutableId\""),
            IdType::Immutable
        );
        assert_eq!(asked("outlook.timezone=\"UTC\""), IdType::Rest);
        assert_eq!(prefer_id_type(std::iter::empty()), IdType::Rest);
    }
}
