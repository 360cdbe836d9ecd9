//! A selection turned into the Outlook event the LMS means to create: the same subject, body,
//! online-meeting and location semantics per platform, with the LMS's bugs fixed. The
//! description is sanitised and the link escaped, so only http(s) links become anchors. Start and
//! end are a local `dateTime` without offset, plus a zone Graph accepts. Every event carries a
//! stable `transactionId` and a tag that finds it again.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde_json::{Value, json};

use super::zones::graph_times;
use crate::domain::{Selection, SlotWindow};
use crate::text::clean_line;

/// The single-value extended property holding calsync's tag: one fixed named property per
/// mailbox (named properties are a finite per-mailbox quota, so never a dynamic name).
pub const TAG_PROPERTY_ID: &str =
    "String {8c4a3d1e-5b7f-4e2a-9c6d-0f1e2d3c4b5a} Name calsyncSelection";

/// Graph's `subject` is a single line; 255 characters is Outlook's display limit.
const SUBJECT_MAX: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadOptions {
    /// Ask Exchange for a Teams meeting on Teams conferences, as the LMS does. It creates a new
    /// meeting owned by the attendee; the slot's real link is always in the body.
    pub teams_online_meeting: bool,
}

impl Default for PayloadOptions {
    fn default() -> Self {
        PayloadOptions {
            teams_online_meeting: true,
        }
    }
}

/// The tag that identifies the event of one selection in its owner's mailbox.
pub fn tag_for(selection_id: i64) -> String {
    format!("calsync-selection-{selection_id}")
}

/// The `transactionId` of one logical create: the same for every retry of that create, in this
/// run or a later one, so Graph itself refuses to make a second event. `generation` changes only
/// when an earlier event is confirmed gone and a new one must be created.
pub fn transaction_id(selection: &Selection, generation: u32) -> String {
    let base = format!(
        "calsync-{}-{:x}",
        selection.id,
        selection.selected_at.timestamp_micros()
    );
    if generation == 0 {
        base
    } else {
        format!("{base}-r{generation}")
    }
}

pub fn platform_label(platform: &str) -> String {
    match platform {
        "teams" => "Microsoft Teams".to_string(),
        "zoom" => "Zoom".to_string(),
        "google_meet" => "Google Meet".to_string(),
        "webex" => "Webex".to_string(),
        "other" => "Other Platform".to_string(),
        other => clean_line(other),
    }
}

/// Builds the event body for a create (and, without `transactionId`, for an update).
pub fn event_payload(
    selection: &Selection,
    window: &SlotWindow,
    options: PayloadOptions,
    transaction: Option<&str>,
) -> Value {
    let times = graph_times(window);
    let link = selection.meeting_link();
    let label = platform_label(&selection.platform);
    let mut event = json!({
        "subject": subject(&selection.conference_title),
        "body": {"contentType": "HTML", "content": body_html(selection.conference_description.as_deref(), link, &label)},
        "start": {"dateTime": times.start, "timeZone": times.time_zone},
        "end": {"dateTime": times.end, "timeZone": times.time_zone},
        "singleValueExtendedProperties": [{"id": TAG_PROPERTY_ID, "value": tag_for(selection.id)}],
    });
    let object = event.as_object_mut();
    if let Some(object) = object {
        if selection.platform == "teams" {
            if options.teams_online_meeting {
                object.insert("isOnlineMeeting".into(), json!(true));
                object.insert("onlineMeetingProvider".into(), json!("teamsForBusiness"));
            }
        } else if link.is_some() {
            object.insert("isOnlineMeeting".into(), json!(false));
            object.insert(
                "location".into(),
                json!({"displayName": "Online Meeting", "locationType": "default"}),
            );
        }
        if let Some(id) = transaction {
            object.insert("transactionId".into(), json!(id));
        }
    }
    event
}

/// The event's title: the conference title on one line, or the LMS's fallback.
pub fn subject(title: &str) -> String {
    let line = clean_line(title);
    let line = if line.is_empty() {
        "Conference".to_string()
    } else {
        line
    };
    line.chars().take(SUBJECT_MAX).collect()
}

/// Tags a TinyMCE description may keep; everything else (scripts, handlers, styles) goes.
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let tags: HashSet<&str> = [
        "a",
        "b",
        "blockquote",
        "br",
        "code",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "hr",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "sub",
        "sup",
        "u",
        "ul",
    ]
    .into_iter()
    .collect();
    let schemes: HashSet<&str> = ["http", "https"].into_iter().collect();
    let mut builder = ammonia::Builder::default();
    builder
        .tags(tags)
        .url_schemes(schemes)
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true);
    builder
});

/// What the LMS writes when a conference has no description.
pub const DESCRIPTION_FALLBACK: &str = "Conference meeting";

/// The description as sanitised HTML, or the LMS's fallback when there is none.
pub fn description_html(description: Option<&str>) -> String {
    description
        .map(|d| SANITIZER.clean(d).to_string())
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| DESCRIPTION_FALLBACK.to_string())
}

/// The description (sanitised) or the LMS's fallback, then the "Join {platform}:" block.
pub fn body_html(description: Option<&str>, link: Option<&str>, label: &str) -> String {
    let description = description_html(description);
    let Some(link) = link else {
        return description;
    };
    let label = html_escape(label);
    let link_text = html_escape(link.trim());
    let shown = if is_web_link(link) {
        format!("<a href=\"{link_text}\">{link_text}</a>")
    } else {
        // Not a web link (javascript:, a bare id…): shown as text, never as an anchor.
        link_text
    };
    format!("{description}<br><br><strong>Join {label}:</strong><br>{shown}")
}

/// An http(s) URL without spaces or control characters: the only links made clickable.
pub fn is_web_link(link: &str) -> bool {
    let link = link.trim();
    let lower = link.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !link.chars().any(|c| c.is_whitespace() || c.is_control())
        && reqwest::Url::parse(link).is_ok()
}

/// Text and attribute escaping for HTML.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SyncColumns, resolve_slot_window};
    use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};

    fn selection(
        platform: &str,
        slot_link: Option<&str>,
        conference_link: Option<&str>,
    ) -> Selection {
        Selection {
            id: 42,
            user_id: 7,
            username: "ann".into(),
            first_name: "Ann".into(),
            last_name: "Other".into(),
            email: "ann@x.org".into(),
            role: "learner".into(),
            branch_id: Some(1),
            branch_name: Some("North".into()),
            conference_id: 3,
            conference_title: "Induction".into(),
            conference_description: Some("<p>Welcome</p>".into()),
            conference_link: conference_link.map(str::to_string),
            platform: platform.into(),
            use_time_slots: true,
            time_slot_id: 9,
            slot_conference_id: 3,
            slot_date: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            slot_start: NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
            slot_end: NaiveTime::from_hms_opt(1, 0, 0).unwrap(),
            timezone: "Europe/London".into(),
            slot_link: slot_link.map(str::to_string),
            slot_updated_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            selected_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            sync: SyncColumns::default(),
            fingerprint: String::new(),
            stale: false,
            recorded: Default::default(),
        }
    }

    fn payload(s: &Selection) -> Value {
        let window =
            resolve_slot_window(s.slot_date, s.slot_start, s.slot_end, &s.timezone).unwrap();
        event_payload(
            s,
            &window,
            PayloadOptions::default(),
            Some(&transaction_id(s, 0)),
        )
    }

    #[test]
    fn every_platform_gets_its_label_and_location_semantics() {
        for (platform, label) in [
            ("teams", "Microsoft Teams"),
            ("zoom", "Zoom"),
            ("google_meet", "Google Meet"),
            ("webex", "Webex"),
            ("other", "Other Platform"),
        ] {
            let event = payload(&selection(platform, Some("https://meet.example/1"), None));
            let body = event["body"]["content"].as_str().unwrap();
            assert!(
                body.contains(&format!("<strong>Join {label}:</strong>")),
                "{platform}"
            );
            if platform == "teams" {
                assert_eq!(event["isOnlineMeeting"], true);
                assert_eq!(event["onlineMeetingProvider"], "teamsForBusiness");
                assert!(event.get("location").is_none());
            } else {
                assert_eq!(event["isOnlineMeeting"], false);
                assert_eq!(event["location"]["displayName"], "Online Meeting");
            }
        }
    }

    #[test]
    fn without_any_link_there_is_no_join_block_and_no_location() {
        let event = payload(&selection("zoom", Some(""), None));
        assert_eq!(event["body"]["content"], "<p>Welcome</p>");
        assert!(event.get("location").is_none() && event.get("isOnlineMeeting").is_none());
    }

    #[test]
    fn the_slot_link_wins_over_the_conference_link() {
        let event = payload(&selection(
            "zoom",
            Some("https://slot.example/"),
            Some("https://conf.example/"),
        ));
        let body = event["body"]["content"].as_str().unwrap();
        assert!(body.contains("https://slot.example/") && !body.contains("conf.example"));
        let event = payload(&selection(
            "zoom",
            Some("  "),
            Some("https://conf.example/"),
        ));
        assert!(
            event["body"]["content"]
                .as_str()
                .unwrap()
                .contains("https://conf.example/")
        );
    }

    #[test]
    fn only_web_links_become_anchors() {
        let event = payload(&selection("other", Some("javascript:alert(1)"), None));
        let body = event["body"]["content"].as_str().unwrap();
        assert!(!body.contains("<a "), "{body}");
        assert!(body.contains("javascript:alert(1)"));
        let event = payload(&selection(
            "other",
            Some("https://x.example/a'onmouseover='alert(1)"),
            None,
        ));
        let body = event["body"]["content"].as_str().unwrap();
        assert!(
            body.contains("href=\"https://x.example/a&#39;onmouseover=&#39;alert(1)\""),
            "{body}"
        );
    }

    #[test]
    fn a_slot_crossing_midnight_ends_the_next_day_in_a_windows_zone() {
        let event = payload(&selection("teams", None, None));
        assert_eq!(event["start"]["dateTime"], "2026-12-31T23:00:00");
        assert_eq!(event["end"]["dateTime"], "2027-01-01T01:00:00");
        assert_eq!(event["start"]["timeZone"], "GMT Standard Time");
        assert_eq!(
            event["singleValueExtendedProperties"][0]["value"],
            "calsync-selection-42"
        );
        // Stable: every retry of this create, in any run, carries the same id.
        let s = selection("teams", None, None);
        assert_eq!(event["transactionId"], transaction_id(&s, 0));
        assert_ne!(transaction_id(&s, 0), transaction_id(&s, 1));
    }
}
