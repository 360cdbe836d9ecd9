//! Updates that keep what Exchange added. Graph (api-reference/v1.0/api/event-update.md, "body
//! property and online meetings"): before updating the body of an online meeting, get the body,
//! change the content and preserve the meeting blob, since "inadvertently removing the meeting
//! blob from the body would disable meeting online". And after `isOnlineMeeting` is true Outlook
//! ignores further changes to it (resources/event.md), so it goes only on creates.
//!
//! So an update sends no `body` when calsync's content is the one it recorded sending; otherwise
//! it reads the event first and sends its new content followed by the meeting block as Exchange
//! wrote it. An online meeting whose block cannot be found keeps its body untouched.

use serde_json::Value;

use crate::domain::meeting::body_digest;
use crate::graph::{Credentials, EventInfo, GraphClient, GraphError};

/// Properties Graph honours on a create only.
const CREATE_ONLY: [&str; 3] = ["isOnlineMeeting", "onlineMeetingProvider", "transactionId"];

/// Exchange's divider above and below the meeting block (80 underscores; a shorter run is
/// enough to recognise it).
const DIVIDER_RUN: &str = "______________________________";

/// An event as written (created or updated) and answered by Graph.
pub struct Sent {
    pub event: EventInfo,
    /// Digest of calsync's body content when it was sent (or is known unchanged); `None` when
    /// the body was left alone because its meeting block could not be kept.
    pub body_digest: Option<String>,
}

/// The body content of a payload.
pub fn body_content(payload: &Value) -> Option<&str> {
    payload.get("body")?.get("content")?.as_str()
}

/// Updates `event_id` with `payload` (an event as for a create) without touching its Teams
/// meeting. `recorded` is the digest of the body calsync last sent to this event, if known.
/// `Ok(None)`: the event no longer exists.
pub async fn update_in_place(
    graph: &GraphClient,
    credentials: &Credentials,
    mailbox: &str,
    event_id: &str,
    payload: &Value,
    recorded: Option<&str>,
) -> Result<Option<Sent>, GraphError> {
    let mut patch = payload.clone();
    if let Some(object) = patch.as_object_mut() {
        for key in CREATE_ONLY {
            object.remove(key);
        }
    }
    let ours = body_content(payload).map(str::to_string);
    let digest = ours.as_deref().map(body_digest);
    let body_digest = match (&ours, &digest) {
        (Some(_), Some(d)) if recorded == Some(d.as_str()) => {
            // Unchanged since calsync sent it: whatever Exchange added stays as it is.
            remove_body(&mut patch);
            digest
        }
        (Some(ours), _) => {
            let Some(current) = graph.get_event(credentials, mailbox, event_id).await? else {
                return Ok(None);
            };
            match kept_body(&current, ours) {
                Kept::Ours => digest,
                Kept::Spliced(content) => {
                    set_body_content(&mut patch, content);
                    digest
                }
                Kept::Untouched => {
                    remove_body(&mut patch);
                    None
                }
            }
        }
        (None, _) => None,
    };
    match graph
        .update_event(credentials, mailbox, event_id, &patch)
        .await
    {
        Ok(event) => Ok(Some(Sent { event, body_digest })),
        Err(e) if e.kind == crate::graph::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// What body an update of `current` may send.
enum Kept {
    /// Not an online meeting: calsync's content as it is.
    Ours,
    /// calsync's content followed by the event's meeting block.
    Spliced(String),
    /// An online meeting whose block is not recognisable: the body is left out.
    Untouched,
}

fn kept_body(current: &EventInfo, ours: &str) -> Kept {
    let online = current.raw.get("isOnlineMeeting").and_then(Value::as_bool) == Some(true)
        || current.online_meeting_join_url.is_some();
    if !online {
        return Kept::Ours;
    }
    let body = body_content(&current.raw).unwrap_or_default();
    match meeting_block(body, current.online_meeting_join_url.as_deref()) {
        Some(block) => Kept::Spliced(format!("{ours}\r\n{block}")),
        None => Kept::Untouched,
    }
}

fn remove_body(patch: &mut Value) {
    if let Some(object) = patch.as_object_mut() {
        object.remove("body");
    }
}

fn set_body_content(patch: &mut Value, content: String) {
    if let Some(body) = patch.get_mut("body").and_then(Value::as_object_mut) {
        body.insert("content".into(), Value::String(content));
    }
}

/// The meeting block of an HTML body: from the divider above the join link (or, without a known
/// join URL, above Exchange's `me-email-text` part) to the end of the divider below it, or to
/// the end of the body when there is no lower divider.
pub fn meeting_block<'a>(body: &'a str, join_url: Option<&str>) -> Option<&'a str> {
    let anchor = join_url
        .into_iter()
        .flat_map(|url| [url.to_string(), url.replace('&', "&amp;")])
        .find_map(|url| body.find(&url))
        .or_else(|| body.find("me-email-text"))?;
    let above = body[..anchor].rfind(DIVIDER_RUN)?;
    let start = body[..above].rfind("<div")?;
    let end = match body[anchor..].find(DIVIDER_RUN) {
        Some(below) => {
            let below = anchor + below;
            let close = body[below..].find("</div>")?;
            below + close + "</div>".len()
        }
        None => body[anchor..]
            .to_ascii_lowercase()
            .find("</body>")
            .map_or(body.len(), |at| anchor + at),
    };
    Some(&body[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of the documented create response, shortened (concepts/
    /// outlook-calendar-online-meetings.md, "Create and make meeting available as an online
    /// meeting").
    const DOCUMENTED: &str = "<html>\r\n<head>\r\n</head>\r\n<body>\r\nDoes this time work for you?\r\n\
        <div style=\"width:100%; height:20px\"><span style=\"white-space:nowrap; color:gray; opacity:.36\">________________________________________________________________________________</span>\r\n</div>\r\n\
        <div class=\"me-email-text\" style=\"color:#252424\">\r\n\
        <div style=\"margin-top:24px; margin-bottom:10px\"><a class=\"me-email-headline\" href=\"https://teams.microsoft.com/l/meetup-join/19%3ameeting_ODky%40thread.v2/0?context=%7b%7d\">Join\r\n Microsoft Teams Meeting</a> </div>\r\n\
        </div>\r\n\
        <div style=\"width:100%; height:20px\"><span style=\"white-space:nowrap; color:gray; opacity:.36\">________________________________________________________________________________</span>\r\n</div>\r\n\
        </body>\r\n</html>\r\n";
    const JOIN: &str =
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_ODky%40thread.v2/0?context=%7b%7d";

    #[test]
    fn the_block_runs_from_divider_to_divider() {
        let block = meeting_block(DOCUMENTED, Some(JOIN)).expect("a block");
        assert!(block.starts_with("<div style=\"width:100%; height:20px\">"));
        assert!(block.ends_with("</span>\r\n</div>"));
        assert!(block.contains(JOIN));
        assert!(!block.contains("Does this time work"));
        assert_eq!(block.matches(DIVIDER_RUN).count(), 2 * 2, "both dividers");
        // Without the join URL Exchange's own class finds it too.
        assert_eq!(meeting_block(DOCUMENTED, None), Some(block));
    }

    #[test]
    fn a_description_with_a_line_of_underscores_stays_outside_the_block() {
        let body = DOCUMENTED.replace(
            "Does this time work for you?",
            "<div>Name: ______________________________________</div>",
        );
        let block = meeting_block(&body, Some(JOIN)).expect("a block");
        assert!(!block.contains("Name:"), "{block}");
    }

    #[test]
    fn a_body_without_a_meeting_has_no_block() {
        assert_eq!(meeting_block("<p>Welcome</p>", Some(JOIN)), None);
        assert_eq!(meeting_block("<p>Welcome</p>", None), None);
    }

    fn event(raw: Value) -> EventInfo {
        EventInfo::from_json(raw, None).expect("an event")
    }

    #[test]
    fn an_online_meeting_gets_calsyncs_content_and_keeps_its_block() {
        let current = event(serde_json::json!({
            "id": "AAMk1",
            "isOnlineMeeting": true,
            "onlineMeeting": {"joinUrl": JOIN},
            "body": {"contentType": "html", "content": DOCUMENTED},
        }));
        let Kept::Spliced(content) = kept_body(&current, "<p>New</p>") else {
            panic!("spliced")
        };
        let block = meeting_block(DOCUMENTED, Some(JOIN)).unwrap_or_default();
        assert!(content.starts_with("<p>New</p>") && content.ends_with(block));
        assert!(!content.contains("Does this time work"));

        let unrecognisable = event(serde_json::json!({
            "id": "AAMk2",
            "isOnlineMeeting": true,
            "onlineMeeting": {"joinUrl": JOIN},
            "body": {"contentType": "html", "content": "<p>edited by hand</p>"},
        }));
        assert!(matches!(
            kept_body(&unrecognisable, "<p>New</p>"),
            Kept::Untouched
        ));
        let plain = event(serde_json::json!({
            "id": "AAMk3",
            "isOnlineMeeting": false,
            "onlineMeeting": null,
            "body": {"contentType": "html", "content": "<p>Old</p>"},
        }));
        assert!(matches!(kept_body(&plain, "<p>New</p>"), Kept::Ours));
    }
}
