//! Selections as JSON Lines and CSV, shared by `calsync status --json` and the console's export
//! so both always carry the same keys.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use crate::domain::{Selection, SyncState};
use crate::store::timestamp_text;

#[derive(Serialize)]
struct SelectionJson<'a> {
    id: i64,
    user_id: i64,
    username: &'a str,
    email: &'a str,
    conference_id: i64,
    conference_title: &'a str,
    time_slot_id: i64,
    slot_date: String,
    slot_start: String,
    slot_end: String,
    timezone: &'a str,
    state: SyncState,
    calendar_added: bool,
    outlook_event_id: Option<&'a str>,
    attempted_at: Option<String>,
    error: Option<&'a str>,
    /// Added, but the slot or conference changed after the event was written.
    stale: bool,
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    let mut text = String::with_capacity(30);
    timestamp_text::push_rfc3339(&mut text, t);
    text
}

fn date(d: NaiveDate) -> String {
    let mut text = String::with_capacity(10);
    timestamp_text::push_date(&mut text, d);
    text
}

fn hms(t: NaiveTime) -> String {
    let mut text = String::with_capacity(8);
    timestamp_text::push_hms(&mut text, t);
    text
}

/// One selection as one JSON object on one line.
pub fn json_line(row: &Selection) -> String {
    let json = SelectionJson {
        id: row.id,
        user_id: row.user_id,
        username: &row.username,
        email: &row.email,
        conference_id: row.conference_id,
        conference_title: &row.conference_title,
        time_slot_id: row.time_slot_id,
        slot_date: date(row.slot_date),
        slot_start: hms(row.slot_start),
        slot_end: hms(row.slot_end),
        timezone: &row.timezone,
        state: row.state(),
        calendar_added: row.sync.calendar_added,
        outlook_event_id: row.sync.outlook_event_id.as_deref(),
        attempted_at: row.sync.attempted_at.map(rfc3339),
        error: row.sync.error_text(),
        stale: row.stale,
    };
    serde_json::to_string(&json).unwrap_or_default()
}

pub const CSV_HEADER: &str = "id,user_id,username,email,conference_id,conference_title,time_slot_id,slot_date,slot_start,slot_end,timezone,state,calendar_added,outlook_event_id,attempted_at,error,stale";

/// One selection as one RFC 4180 CSV record (same columns as the JSON keys).
pub fn csv_line(row: &Selection) -> String {
    let fields = [
        row.id.to_string(),
        row.user_id.to_string(),
        row.username.clone(),
        row.email.clone(),
        row.conference_id.to_string(),
        row.conference_title.clone(),
        row.time_slot_id.to_string(),
        date(row.slot_date),
        hms(row.slot_start),
        hms(row.slot_end),
        row.timezone.clone(),
        row.state().as_str().to_string(),
        row.sync.calendar_added.to_string(),
        row.sync.outlook_event_id.clone().unwrap_or_default(),
        row.sync.attempted_at.map(rfc3339).unwrap_or_default(),
        row.sync.error_text().unwrap_or_default().to_string(),
        row.stale.to_string(),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

fn csv_field(value: &str) -> String {
    // A leading =, +, - or @ would be run as a formula by spreadsheet programs.
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
