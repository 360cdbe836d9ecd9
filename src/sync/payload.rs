//! A selection turned into the Outlook event the LMS means to create: the same subject, body,
//! online-meeting and location semantics per platform, with the LMS's bugs fixed. The
//! description is sanitised and the link escaped, so only http(s) links become anchors. Start and
//! end are a local `dateTime` without offset, plus a zone Graph accepts. Every event carries a
//! stable `transactionId` and a tag that finds it again.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde_json::{Value, json};

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

/// Windows zone ids (from CLDR) are what every Exchange mailbox accepts; a zone CLDR does not
/// map is sent under its IANA name, which Graph also documents.
pub fn graph_time_zone(window: &SlotWindow) -> String {
    let name = window.zone.name();
    if name == "UTC" || name == "Etc/UTC" {
        return "UTC".to_string();
    }
    localzone::iana_to_win_zone(name)
        .map(|(windows, _)| windows.to_string())
        .unwrap_or_else(|| name.to_string())
}

/// Builds the event body for a create (and, without `transactionId`, for an update).
pub fn event_payload(
    selection: &Selection,
    window: &SlotWindow,
    options: PayloadOptions,
    transaction: Option<&str>,
) -> Value {
    let zone = graph_time_zone(window);
    let link = selection.meeting_link();
    let label = platform_label(&selection.platform);
    let mut event = json!({
        "subject": subject(&selection.conference_title),
        "body": {"contentType": "HTML", "content": body_html(selection.conference_description.as_deref(), link, &label)},
        "start": {"dateTime": window.start_local.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": zone},
        "end": {"dateTime": window.end_local.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": zone},
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

fn subject(title: &str) -> String {
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

/// The description (sanitised) or the LMS's fallback, then the "Join {platform}:" block.
pub fn body_html(description: Option<&str>, link: Option<&str>, label: &str) -> String {
    let description = description
        .map(|d| SANITIZER.clean(d).to_string())
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| "Conference meeting".to_string());
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

fn is_web_link(link: &str) -> bool {
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
