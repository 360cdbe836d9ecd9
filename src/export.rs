//! Selections as JSON Lines and CSV, shared by `calsync status --json` and the console's export
//! so both always carry the same keys.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use crate::domain::diagnosis::{Cause, failure_cause};
use crate::domain::{MalformedSelection, Selection, SyncState};
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
    /// The Teams meeting's join URL Graph returned for the event, as the ledger recorded it.
    teams_join_url: Option<&'a str>,
    /// Django's `get_full_name()`: first and last name, `""` when the LMS has neither.
    full_name: String,
    /// The cause of `error` (the words of `--cause` and `cause:`), null without an error.
    cause: Option<Cause>,
    /// The event's `webLink` (Outlook on the web) Graph returned, as the ledger recorded it.
    web_link: Option<&'a str>,
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
        teams_join_url: row.recorded.teams_join_url.as_deref(),
        full_name: row.full_name(),
        cause: failure_cause(row.sync.error_text()),
        web_link: row.recorded.web_link.as_deref(),
    };
    serde_json::to_string(&json).unwrap_or_default()
}

/// A row that cannot be read whole, with the same keys: its columns as stored (strings, or
/// null where NULL or unreadable), `state` null when the sync columns cannot be read, and one
/// more key, `malformed`, listing why. Readable rows never carry that key.
pub fn malformed_json_line(row: &MalformedSelection) -> String {
    #[derive(Serialize)]
    struct MalformedJson<'a> {
        id: i64,
        user_id: Option<i64>,
        username: &'a str,
        email: &'a str,
        conference_id: Option<i64>,
        conference_title: &'a str,
        time_slot_id: Option<i64>,
        slot_date: Option<&'a str>,
        slot_start: Option<&'a str>,
        slot_end: Option<&'a str>,
        timezone: &'a str,
        state: Option<SyncState>,
        calendar_added: bool,
        outlook_event_id: Option<&'a str>,
        attempted_at: Option<String>,
        error: Option<&'a str>,
        stale: bool,
        teams_join_url: Option<&'a str>,
        full_name: String,
        cause: Option<Cause>,
        web_link: Option<&'a str>,
        malformed: &'a [String],
    }
    let attempted_at = match row.sync.as_ref() {
        Some(sync) => sync.attempted_at.map(rfc3339),
        None => row.attempted_at_text.clone(),
    };
    let json = MalformedJson {
        id: row.id,
        user_id: row.user_id,
        username: &row.username,
        email: &row.email,
        conference_id: row.conference_id,
        conference_title: &row.conference_title,
        time_slot_id: row.time_slot_id,
        slot_date: row.slot_date.as_deref(),
        slot_start: row.slot_start.as_deref(),
        slot_end: row.slot_end.as_deref(),
        timezone: &row.timezone,
        state: row.state(),
        calendar_added: row.calendar_added,
        outlook_event_id: row.outlook_event_id.as_deref(),
        attempted_at,
        error: row.error.as_deref().filter(|e| !e.is_empty()),
        stale: row.stale,
        teams_join_url: row.teams_join_url.as_deref(),
        full_name: row.full_name(),
        cause: failure_cause(row.error.as_deref()),
        web_link: row.web_link.as_deref(),
        malformed: &row.problems,
    };
    serde_json::to_string(&json).unwrap_or_default()
}

pub const CSV_HEADER: &str = "id,user_id,username,email,conference_id,conference_title,time_slot_id,slot_date,slot_start,slot_end,timezone,state,calendar_added,outlook_event_id,attempted_at,error,stale,teams_join_url,full_name,cause,web_link";

/// Writes one selection as one CSV record (the same columns as the JSON keys), formulas
/// defused; the `csv` crate quotes each field per RFC 4180. Numbers and times are formatted into
/// `scratch`, reused from row to row: a `String` for each of 21 fields of a million rows was most
/// of the export's time.
pub fn write_csv_record<W: std::io::Write>(
    csv: &mut csv::Writer<W>,
    row: &Selection,
    scratch: &mut String,
) -> csv::Result<()> {
    let mut formatted = |csv: &mut csv::Writer<W>, push: &dyn Fn(&mut String)| {
        scratch.clear();
        push(scratch);
        csv_field(csv, scratch)
    };
    let number = |n: i64| {
        move |out: &mut String| {
            let _ = write!(out, "{n}");
        }
    };
    formatted(csv, &number(row.id))?;
    formatted(csv, &number(row.user_id))?;
    csv_field(csv, &row.username)?;
    csv_field(csv, &row.email)?;
    formatted(csv, &number(row.conference_id))?;
    csv_field(csv, &row.conference_title)?;
    formatted(csv, &number(row.time_slot_id))?;
    formatted(csv, &|out| timestamp_text::push_date(out, row.slot_date))?;
    formatted(csv, &|out| timestamp_text::push_hms(out, row.slot_start))?;
    formatted(csv, &|out| timestamp_text::push_hms(out, row.slot_end))?;
    csv_field(csv, &row.timezone)?;
    csv_field(csv, row.state().as_str())?;
    csv_field(csv, bool_text(row.sync.calendar_added))?;
    csv_field(
        csv,
        row.sync.outlook_event_id.as_deref().unwrap_or_default(),
    )?;
    formatted(csv, &|out| {
        if let Some(t) = row.sync.attempted_at {
            timestamp_text::push_rfc3339(out, t);
        }
    })?;
    csv_field(csv, row.sync.error_text().unwrap_or_default())?;
    csv_field(csv, bool_text(row.stale))?;
    csv_field(
        csv,
        row.recorded.teams_join_url.as_deref().unwrap_or_default(),
    )?;
    csv_field(csv, &row.full_name())?;
    csv_field(
        csv,
        failure_cause(row.sync.error_text()).map_or("", Cause::as_str),
    )?;
    csv_field(csv, row.recorded.web_link.as_deref().unwrap_or_default())?;
    csv.write_record(None::<&[u8]>)
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// A leading =, +, - or @ would be run as a formula by spreadsheet programs: such a field
/// starts with a quote mark, which they show as text.
fn csv_field<W: std::io::Write>(csv: &mut csv::Writer<W>, value: &str) -> csv::Result<()> {
    if value.starts_with(['=', '+', '-', '@']) {
        csv.write_field(format!("'{value}"))
    } else {
        csv.write_field(value)
    }
}

/// Where an export goes. A path the operator gave has `~` and `~/` expanded to the home
/// directory (the console's `:export` line is no shell) and is relative to the current
/// directory otherwise. Without one, the file goes to the Downloads directory when there is one,
/// else home: the console may have been started anywhere (the repository, `/`), and a file left
/// there is one nobody finds.
pub fn destination(given: Option<&str>, json: bool, now: DateTime<Utc>) -> Result<PathBuf, String> {
    let dirs = directories::UserDirs::new();
    let home = dirs.as_ref().map(|d| d.home_dir().to_path_buf());
    let downloads = dirs
        .as_ref()
        .and_then(|d| d.download_dir())
        .filter(|d| d.is_dir())
        .map(Path::to_path_buf);
    let path = resolve(given, json, now, home.as_deref(), downloads.as_deref())?;
    std::path::absolute(&path).map_err(|e| format!("{}: {e}", path.display()))
}

fn resolve(
    given: Option<&str>,
    json: bool,
    now: DateTime<Utc>,
    home: Option<&Path>,
    downloads: Option<&Path>,
) -> Result<PathBuf, String> {
    let no_home = || "no home directory to expand ~ into".to_string();
    match given.map(str::trim) {
        Some("~") => Ok(home.ok_or_else(no_home)?.join(default_name(json, now))),
        Some(path) if path.starts_with("~/") => Ok(home.ok_or_else(no_home)?.join(&path[2..])),
        Some(path) => Ok(PathBuf::from(path)),
        None => Ok(downloads
            .or(home)
            .map(|dir| dir.join(default_name(json, now)))
            .unwrap_or_else(|| PathBuf::from(default_name(json, now)))),
    }
}

fn default_name(json: bool, now: DateTime<Utc>) -> String {
    format!(
        "calsync-export-{}.{}",
        now.format("%Y%m%d-%H%M%S"),
        if json { "jsonl" } else { "csv" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-12-01T20:30:05Z".parse().unwrap()
    }

    #[test]
    fn an_export_without_a_path_goes_to_downloads_else_home_never_the_current_directory() {
        let home = Path::new("/home/ann");
        let downloads = Path::new("/home/ann/Downloads");
        assert_eq!(
            resolve(None, false, at(), Some(home), Some(downloads)).unwrap(),
            Path::new("/home/ann/Downloads/calsync-export-20261201-203005.csv")
        );
        assert_eq!(
            resolve(None, true, at(), Some(home), None).unwrap(),
            Path::new("/home/ann/calsync-export-20261201-203005.jsonl")
        );
    }

    #[test]
    fn a_tilde_means_home_as_in_a_shell() {
        let home = Some(Path::new("/home/ann"));
        assert_eq!(
            resolve(Some("~/exports/failed.csv"), false, at(), home, None).unwrap(),
            Path::new("/home/ann/exports/failed.csv")
        );
        assert_eq!(
            resolve(Some("~"), false, at(), home, None).unwrap(),
            Path::new("/home/ann/calsync-export-20261201-203005.csv")
        );
        // Only the operator's own home: `~bob` is a name like any other.
        assert_eq!(
            resolve(Some("~bob/x.csv"), false, at(), home, None).unwrap(),
            Path::new("~bob/x.csv")
        );
        assert_eq!(
            resolve(Some("/tmp/x.csv"), false, at(), home, None).unwrap(),
            Path::new("/tmp/x.csv")
        );
        assert!(resolve(Some("~/x.csv"), false, at(), None, None).is_err());
    }

    /// One field as the export writes it: defused, then quoted by the `csv` crate.
    fn csv_field(value: &str) -> String {
        let mut out = csv::Writer::from_writer(Vec::new());
        super::csv_field(&mut out, value).unwrap();
        out.write_field("").unwrap();
        out.write_record(None::<&[u8]>).unwrap();
        let bytes = out.into_inner().unwrap();
        let line = String::from_utf8(bytes).unwrap();
        line.strip_suffix(",\n").unwrap().to_string()
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
