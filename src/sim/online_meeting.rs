//! The Teams meeting Exchange adds to an event, as Microsoft documents it:
//!
//! - concepts/outlook-calendar-online-meetings.md: a create with `isOnlineMeeting` true and
//!   `onlineMeetingProvider` `teamsForBusiness` returns `onlineMeeting.joinUrl`, and the body
//!   Exchange stores is an HTML document holding the meeting block (a divider line, the join
//!   link, the conference id, another divider). An update that sets `isOnlineMeeting` true on an
//!   event without a meeting makes it one.
//! - api-reference/v1.0/api/event-update.md, "body property and online meetings": "Inadvertently
//!   removing the meeting blob from the body would disable meeting online". A PATCH whose body
//!   does not carry the block exactly as Exchange wrote it turns the meeting off (the stricter
//!   reading: the simulator does not guess which edits of the block Exchange would forgive).
//! - api-reference/v1.0/resources/event.md, isOnlineMeeting: "After you set isOnlineMeeting to
//!   true, Microsoft Graph initializes onlineMeeting. Subsequently, Outlook ignores any further
//!   changes to isOnlineMeeting, and the meeting remains available online."

use serde_json::{Map, Value, json};

/// The Teams meeting of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OnlineMeeting {
    pub join_url: String,
    pub conference_id: String,
    /// The HTML Exchange put into the body; it must come back unchanged in every new body.
    pub block: String,
}

impl OnlineMeeting {
    /// A new meeting; `token` makes its join URL unique.
    pub(crate) fn new(token: &str) -> OnlineMeeting {
        let join_url = format!(
            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_{token}%40thread.v2/0?context=%7b%22Tid%22%3a%22simulated%22%7d"
        );
        let conference_id = conference_id_of(token);
        let block = block_html(&join_url, &conference_id, token);
        OnlineMeeting {
            join_url,
            conference_id,
            block,
        }
    }

    /// `onlineMeeting` as Graph returns it (resources/onlinemeetinginfo.md).
    pub(crate) fn info(&self) -> Value {
        json!({"joinUrl": self.join_url, "conferenceId": self.conference_id})
    }
}

/// Whether a payload asks for a Teams meeting. Without a provider the calendar's default is
/// used, which in the simulated tenant is Teams.
pub(crate) fn requested(payload: &Map<String, Value>) -> bool {
    let online = payload
        .get("isOnlineMeeting")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let provider = payload
        .get("onlineMeetingProvider")
        .and_then(Value::as_str)
        .unwrap_or("teamsForBusiness");
    online && provider == "teamsForBusiness"
}

/// A create: a meeting when one is asked for, with its block written into `fields`' body.
pub(crate) fn on_create(
    payload: &Map<String, Value>,
    fields: &mut Map<String, Value>,
    token: &str,
) -> Option<OnlineMeeting> {
    if !requested(payload) {
        return None;
    }
    let meeting = OnlineMeeting::new(token);
    let content = body_content(fields).unwrap_or_default();
    set_body(
        fields,
        &document(&format!("{content}\r\n{}", meeting.block)),
    );
    Some(meeting)
}

/// A PATCH. `fields` already holds the patched client properties (the new body, if any);
/// `meeting` is the event's meeting before the PATCH and is updated in place.
pub(crate) fn on_update(
    meeting: &mut Option<OnlineMeeting>,
    patch: &Map<String, Value>,
    fields: &mut Map<String, Value>,
    token: &str,
) {
    let was_online = meeting.is_some();
    if patch.contains_key("body") {
        let content = body_content(fields).unwrap_or_default();
        match meeting {
            Some(m) if content.contains(&m.block) => set_body(fields, &document(&content)),
            Some(_) => {
                // The blob is gone from the body: so is the meeting.
                *meeting = None;
                set_body(fields, &document(&content));
            }
            None => {}
        }
    }
    // isOnlineMeeting only ever turns a meeting on, and only one that was not on already.
    if !was_online && meeting.is_none() && requested(patch) {
        let new = OnlineMeeting::new(token);
        let content = body_content(fields).unwrap_or_default();
        set_body(fields, &document(&format!("{content}\r\n{}", new.block)));
        *meeting = Some(new);
    }
}

fn body_content(fields: &Map<String, Value>) -> Option<String> {
    fields
        .get("body")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn set_body(fields: &mut Map<String, Value>, content: &str) {
    fields.insert(
        "body".into(),
        json!({"contentType": "html", "content": content}),
    );
}

/// The body as Exchange stores HTML: a whole document (the documented responses show it).
fn document(content: &str) -> String {
    if content
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("<html")
    {
        return content.to_string();
    }
    format!(
        "<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n{content}\r\n</body>\r\n</html>\r\n"
    )
}

/// Nine digits from the token, as a conference id looks.
fn conference_id_of(token: &str) -> String {
    let n = token.bytes().fold(0u64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    format!("{:09}", n % 1_000_000_000)
}

const DIVIDER: &str = "<div style=\"width:100%; height:20px\"><span style=\"white-space:nowrap; color:gray; opacity:.36\">________________________________________________________________________________</span>\r\n</div>";

/// The meeting block in the shape of the documented responses: divider, join link, dial-in
/// conference id, links, divider.
fn block_html(join_url: &str, conference_id: &str, token: &str) -> String {
    format!(
        "{DIVIDER}\r\n<div class=\"me-email-text\" style=\"color:#252424; font-family:'Segoe UI','Helvetica Neue',Helvetica,Arial,sans-serif\">\r\n\
         <div style=\"margin-top:24px; margin-bottom:10px\"><a class=\"me-email-headline\" href=\"{join_url}\" target=\"_blank\" rel=\"noreferrer noopener\">Join\r\n Microsoft Teams Meeting</a> </div>\r\n\
         <div style=\"margin-top:10px; margin-bottom:20px\"><span style=\"font-size:12px\">Conference ID:\r\n</span><span style=\"font-size:14px\">{conference_id}# </span></div>\r\n\
         <div style=\"margin-bottom:24px\"><a class=\"me-email-link\" target=\"_blank\" href=\"https://aka.ms/JoinTeamsMeeting\" rel=\"noreferrer noopener\">Learn more about Teams</a> | \
         <a class=\"me-email-link\" target=\"_blank\" href=\"https://teams.microsoft.com/meetingOptions/?threadId=19_meeting_{token}@thread.v2&amp;messageId=0&amp;language=en-US\" rel=\"noreferrer noopener\">\r\nMeeting options</a> </div>\r\n\
         </div>\r\n{DIVIDER}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn content(fields: &Map<String, Value>) -> String {
        body_content(fields).unwrap_or_default()
    }

    #[test]
    fn a_teams_create_gets_a_block_with_its_join_url_in_an_html_document() {
        // Graph docs: concepts/outlook-calendar-online-meetings.md — "The response includes an
        // event with online meeting information specified in the onlineMeeting property".
        let payload = map(json!({
            "body": {"contentType": "HTML", "content": "<p>Welcome</p>"},
            "isOnlineMeeting": true,
            "onlineMeetingProvider": "teamsForBusiness",
        }));
        let mut fields = payload.clone();
        let meeting = on_create(&payload, &mut fields, "tok1").expect("a meeting");
        let body = content(&fields);
        assert!(body.starts_with("<html>") && body.contains("<p>Welcome</p>"));
        assert!(body.contains(&meeting.block));
        assert!(
            meeting
                .block
                .contains(&format!("href=\"{}\"", meeting.join_url))
        );
        assert!(
            meeting
                .join_url
                .starts_with("https://teams.microsoft.com/l/meetup-join/")
        );

        let zoom = map(json!({"isOnlineMeeting": false, "body": {"content": "x"}}));
        let mut fields = zoom.clone();
        assert!(on_create(&zoom, &mut fields, "tok2").is_none());
        assert_eq!(content(&fields), "x", "no meeting, body untouched");
    }

    #[test]
    fn a_body_without_the_block_turns_the_meeting_off() {
        // Graph docs: api-reference/v1.0/api/event-update.md — "Inadvertently removing the
        // meeting blob from the body would disable meeting online."
        let mut meeting = Some(OnlineMeeting::new("tok3"));
        let patch = map(json!({"body": {"contentType": "HTML", "content": "<p>New text</p>"}}));
        let mut fields = patch.clone();
        on_update(&mut meeting, &patch, &mut fields, "tok4");
        assert!(meeting.is_none());
        assert!(content(&fields).contains("<p>New text</p>"));
    }

    #[test]
    fn a_body_keeping_the_block_keeps_the_meeting() {
        let kept = OnlineMeeting::new("tok5");
        let mut meeting = Some(kept.clone());
        let patch = map(json!({"body": {"content": format!("<p>New</p>\r\n{}", kept.block)}}));
        let mut fields = patch.clone();
        on_update(&mut meeting, &patch, &mut fields, "tok6");
        assert_eq!(meeting, Some(kept));
        // A block with one character changed is not the block.
        let mut meeting = Some(OnlineMeeting::new("tok7"));
        let edited = meeting
            .as_ref()
            .map(|m| m.block.replace("Conference ID", "Conference Id"))
            .unwrap_or_default();
        let patch = map(json!({"body": {"content": edited}}));
        let mut fields = patch.clone();
        on_update(&mut meeting, &patch, &mut fields, "tok8");
        assert!(meeting.is_none());
    }

    #[test]
    fn is_online_meeting_changes_after_true_are_ignored() {
        // Graph docs: api-reference/v1.0/resources/event.md — "Subsequently, Outlook ignores
        // any further changes to isOnlineMeeting, and the meeting remains available online."
        let kept = OnlineMeeting::new("tok9");
        let mut meeting = Some(kept.clone());
        let patch = map(json!({"isOnlineMeeting": false, "subject": "x"}));
        let mut fields = patch.clone();
        on_update(&mut meeting, &patch, &mut fields, "tok10");
        assert_eq!(meeting, Some(kept.clone()));
        // Re-sending true with a body that drops the block does not save the meeting either.
        let patch = map(json!({
            "isOnlineMeeting": true,
            "onlineMeetingProvider": "teamsForBusiness",
            "body": {"content": "<p>replaced</p>"},
        }));
        let mut fields = patch.clone();
        on_update(&mut meeting, &patch, &mut fields, "tok11");
        assert!(meeting.is_none());
        assert!(!content(&fields).contains("meetup-join"));
    }

    #[test]
    fn an_update_may_make_an_event_an_online_meeting() {
        // Graph docs: concepts/outlook-calendar-online-meetings.md — "Update a meeting to
        // enable attendees to meet online".
        let mut meeting = None;
        let patch =
            map(json!({"isOnlineMeeting": true, "onlineMeetingProvider": "teamsForBusiness"}));
        let mut fields = map(json!({"body": {"content": "<p>Old</p>"}}));
        on_update(&mut meeting, &patch, &mut fields, "tok12");
        let m = meeting.expect("now online");
        let body = content(&fields);
        assert!(body.contains("<p>Old</p>") && body.contains(&m.block));
    }
}
