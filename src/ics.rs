//! Selections as an iCalendar file (RFC 5545) that any calendar application can import: one
//! VEVENT per selection carrying the title, text and join link of the Outlook event the LMS means
//! (see [`crate::sync::payload`]), its times from [`resolve_slot_window`] in the slot's own zone,
//! and a VTIMEZONE for every zone used, built from chrono-tz's real transitions. A selection that
//! cannot be an event is left out and named, so one bad slot never costs the whole file.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use chrono::{Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use crate::domain::{Selection, SlotProblem, SlotWindow, resolve_slot_window};
use crate::sync::payload::{
    DESCRIPTION_FALLBACK, description_html, is_web_link, platform_label, subject, tag_for,
};

const PRODID: &str = "-//calsync//calsync//EN";

/// RFC 5545 §3.1: a content line is at most 75 octets, not counting its CRLF.
const MAX_LINE_OCTETS: usize = 75;

/// How often a zone's offset is sampled when looking for its transitions. No zone changes its
/// offset twice within this step in the years slots fall in, so sampling misses none.
const TRANSITION_SEARCH_STEP: Duration = Duration::hours(6);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsExport {
    /// The whole calendar, every line ending in CRLF.
    pub text: String,
    /// The selections that became events, in the order they appear (by start time).
    pub exported: Vec<i64>,
    /// The selections left out, and why.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub selection_id: i64,
    pub problem: SlotProblem,
}

/// One VCALENDAR with a VEVENT for every selection whose slot is a real time span. `now` is the
/// DTSTAMP of every event; everything else depends only on the selections, so two exports of
/// the same rows differ in DTSTAMP alone. RFC 5545 wants at least one component in a calendar,
/// so a caller with nothing in `exported` has no file to write.
pub fn calendar(selections: &[Selection], now: DateTime<Utc>) -> IcsExport {
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    for selection in selections {
        match resolve_slot_window(
            selection.slot_date,
            selection.slot_start,
            selection.slot_end,
            &selection.timezone,
        ) {
            Ok(window) => events.push((selection, window)),
            Err(problem) => skipped.push(Skipped {
                selection_id: selection.id,
                problem,
            }),
        }
    }
    events.sort_by_key(|(selection, window)| (window.start_utc, selection.id));

    let mut lines = Lines::default();
    lines.property("BEGIN", "VCALENDAR");
    lines.property("PRODID", PRODID);
    lines.property("VERSION", "2.0");
    lines.property("CALSCALE", "GREGORIAN");
    lines.property("METHOD", "PUBLISH");
    for (zone, first, last) in zone_spans(&events) {
        write_timezone(&mut lines, zone, first, last);
    }
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    for (selection, window) in &events {
        write_event(&mut lines, selection, window, &stamp);
    }
    lines.property("END", "VCALENDAR");
    IcsExport {
        text: lines.text,
        exported: events.iter().map(|(selection, _)| selection.id).collect(),
        skipped,
    }
}

/// The UID of a selection's event: the sync tag, plus the moment of the selection so that ids
/// reused by another LMS database (the demo, a restored copy) never collide in one calendar.
fn uid(selection: &Selection) -> String {
    format!(
        "{}-{:x}@calsync",
        tag_for(selection.id),
        selection.selected_at.timestamp_micros()
    )
}

fn write_event(lines: &mut Lines, selection: &Selection, window: &SlotWindow, stamp: &str) {
    let zone = window.zone.name();
    let link = selection.meeting_link().map(str::trim);
    lines.property("BEGIN", "VEVENT");
    lines.property("UID", &uid(selection));
    lines.property("DTSTAMP", stamp);
    lines.property(
        &format!("DTSTART;TZID={zone}"),
        &local_time(window.start_local),
    );
    lines.property(&format!("DTEND;TZID={zone}"), &local_time(window.end_local));
    lines.text("SUMMARY", &subject(&selection.conference_title));
    lines.text("DESCRIPTION", &description(selection, link));
    if let Some(link) = link.filter(|link| is_web_link(link)) {
        // LOCATION is what most calendars show and make clickable; URL is the typed form, and
        // a URI value is ASCII, so it is the parsed (percent-encoded) link.
        lines.text("LOCATION", link);
        if let Ok(url) = reqwest::Url::parse(link) {
            lines.property("URL", url.as_str());
        }
    }
    lines.property("X-CALSYNC-SELECTION", &selection.id.to_string());
    lines.property("END", "VEVENT");
}

/// The event body the LMS sends, as plain text: the description, then "Join {platform}: link".
fn description(selection: &Selection, link: Option<&str>) -> String {
    let mut text = html_to_text(&description_html(
        selection.conference_description.as_deref(),
    ));
    if text.is_empty() {
        text = DESCRIPTION_FALLBACK.to_string();
    }
    if let Some(link) = link {
        let label = platform_label(&selection.platform);
        text.push_str(&format!("\n\nJoin {label}: {link}"));
    }
    text
}

fn local_time(time: NaiveDateTime) -> String {
    time.format("%Y%m%dT%H%M%S").to_string()
}

/// Each zone the events use (by name, so the file's order is stable), with the first start and
/// the last end in it.
fn zone_spans(events: &[(&Selection, SlotWindow)]) -> Vec<(Tz, DateTime<Utc>, DateTime<Utc>)> {
    let mut spans: BTreeMap<&str, (Tz, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for (_, window) in events {
        let span = spans.entry(window.zone.name()).or_insert((
            window.zone,
            window.start_utc,
            window.end_utc,
        ));
        span.1 = span.1.min(window.start_utc);
        span.2 = span.2.max(window.end_utc);
    }
    spans.into_values().collect()
}

/// A VTIMEZONE covering the whole (local) calendar years of the events, so a reader sees those
/// years' rules as the tz database has them, not a rule guessed from today's.
fn write_timezone(lines: &mut Lines, zone: Tz, first: DateTime<Utc>, last: DateTime<Utc>) {
    let local_year = |instant: DateTime<Utc>| instant.with_timezone(&zone).year();
    let from = new_year(zone, local_year(first)).unwrap_or(first);
    let until = new_year(zone, local_year(last) + 1).unwrap_or(last);
    lines.property("BEGIN", "VTIMEZONE");
    lines.property("TZID", zone.name());
    for observance in observances(zone, from, until) {
        let kind = if observance.daylight {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        lines.property("BEGIN", kind);
        // An onset is written in the local time that was in force just before it.
        let onset = observance.onset.with_timezone(&observance.from);
        lines.property("DTSTART", &local_time(onset.naive_local()));
        lines.property("TZOFFSETFROM", &utc_offset(observance.from));
        lines.property("TZOFFSETTO", &utc_offset(observance.to));
        if let Some(name) = &observance.name {
            lines.text("TZNAME", name);
        }
        lines.property("END", kind);
    }
    lines.property("END", "VTIMEZONE");
}

/// The instant the year begins in `zone`. Should midnight not exist there, a day earlier in UTC
/// is still before it, whatever the offset.
fn new_year(zone: Tz, year: i32) -> Option<DateTime<Utc>> {
    let midnight = NaiveDate::from_yo_opt(year, 1)?.and_time(NaiveTime::MIN);
    Some(
        zone.from_local_datetime(&midnight)
            .earliest()
            .map_or((midnight - Duration::days(1)).and_utc(), |t| {
                t.with_timezone(&Utc)
            }),
    )
}

/// One STANDARD or DAYLIGHT sub-component: from `onset` on, the zone is `to` ahead of UTC.
struct Observance {
    onset: DateTime<Utc>,
    from: FixedOffset,
    to: FixedOffset,
    daylight: bool,
    name: Option<String>,
}

/// What is in force at `from`, then every offset change before `until`. chrono-tz does not list
/// transitions, so they are found by sampling the offset and narrowing each change to the second.
fn observances(zone: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Observance> {
    let offset_at = |instant: DateTime<Utc>| zone.offset_from_utc_datetime(&instant.naive_utc());
    let observance_at = |onset: DateTime<Utc>, previous: FixedOffset| {
        let offset = offset_at(onset);
        let to = offset.fix();
        // Clocks going forward start daylight time. Deciding by direction rather than by the
        // tz database's DST flag reads Irish time (whose "DST" is winter, negative) and
        // Morocco's Ramadan shifts (no DST flag at all) the way calendar applications expect.
        let daylight = if to == previous {
            offset.dst_offset() > Duration::zero()
        } else {
            to.local_minus_utc() > previous.local_minus_utc()
        };
        Observance {
            onset,
            from: previous,
            to,
            daylight,
            name: offset.abbreviation().map(str::to_string),
        }
    };
    let mut list = vec![observance_at(from, offset_at(from).fix())];
    let mut sampled = from;
    while sampled < until {
        let next = (sampled + TRANSITION_SEARCH_STEP).min(until);
        let before = offset_at(sampled).fix();
        if offset_at(next).fix() != before {
            let (mut unchanged, mut changed) = (sampled, next);
            while (changed - unchanged).num_seconds() > 1 {
                let middle = unchanged + Duration::seconds((changed - unchanged).num_seconds() / 2);
                if offset_at(middle).fix() == before {
                    unchanged = middle;
                } else {
                    changed = middle;
                }
            }
            list.push(observance_at(changed, before));
        }
        sampled = next;
    }
    list
}

/// `±hhmm`, or `±hhmmss` for the odd historical offset with seconds.
fn utc_offset(offset: FixedOffset) -> String {
    let seconds = offset.local_minus_utc();
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.unsigned_abs();
    let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if rest == 0 {
        format!("{sign}{hours:02}{minutes:02}")
    } else {
        format!("{sign}{hours:02}{minutes:02}{rest:02}")
    }
}

/// Content lines, folded and CRLF-terminated as they are added.
#[derive(Default)]
struct Lines {
    text: String,
}

impl Lines {
    /// A property whose value is already in iCalendar form (a date, an offset, a URI, a name).
    fn property(&mut self, name: &str, value: &str) {
        let mut octets = 0;
        for ch in name.chars().chain([':']).chain(value.chars()) {
            // Folding happens between characters, so a UTF-8 sequence is never split.
            if octets + ch.len_utf8() > MAX_LINE_OCTETS {
                self.text.push_str("\r\n ");
                octets = 1;
            }
            self.text.push(ch);
            octets += ch.len_utf8();
        }
        self.text.push_str("\r\n");
    }

    /// A TEXT property (RFC 5545 §3.3.11).
    fn text(&mut self, name: &str, text: &str) {
        self.property(name, &escape_text(text));
    }
}

/// Backslash, semicolon and comma escaped, every line break as `\n`, control characters dropped
/// (a tab reads as a space).
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.replace("\r\n", "\n").chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' | '\r' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Plain text from the sanitiser's HTML. That HTML is html5ever's serialisation, which is
/// regular: a `<` always starts a tag, attribute values are double-quoted with their own quotes
/// escaped, and text escapes only `& < > "` and no-break spaces. Blocks end in line breaks, list
/// items get a dash, and a link keeps its address after its text.
fn html_to_text(html: &str) -> String {
    let mut text = PlainText::default();
    let mut rest = html;
    loop {
        let Some(open) = rest.find('<') else {
            text.push_html_text(rest);
            break;
        };
        text.push_html_text(&rest[..open]);
        let Some(length) = tag_length(&rest[open..]) else {
            // Cannot happen with serialised HTML; dropping the rest never leaks markup.
            break;
        };
        text.tag(&rest[open + 1..open + length - 1]);
        rest = &rest[open + length..];
    }
    text.finish()
}

/// The length of the tag at the start of `html`, up to and including its `>`.
fn tag_length(html: &str) -> Option<usize> {
    let mut quoted = false;
    for (at, ch) in html.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(at + 1),
            _ => {}
        }
    }
    None
}

#[derive(Default)]
struct PlainText {
    out: String,
    /// Inside `<pre>`, whitespace is kept as written.
    preformatted: usize,
    /// Each open `<a>`: its address and where its text began.
    links: Vec<(Option<String>, usize)>,
}

impl PlainText {
    fn push_html_text(&mut self, html: &str) {
        for ch in decode_entities(html).chars() {
            if self.preformatted > 0 {
                self.out.push(ch);
            } else if ch.is_whitespace() {
                // HTML collapses runs of whitespace, line breaks in the source included.
                if !(self.out.is_empty() || self.out.ends_with([' ', '\n'])) {
                    self.out.push(' ');
                }
            } else {
                self.out.push(ch);
            }
        }
    }

    fn tag(&mut self, tag: &str) {
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match (name.as_str(), closing) {
            ("br", _) => self.line_break(false),
            ("li", false) => {
                self.line_break(false);
                self.out.push_str("- ");
            }
            ("li", true) => self.line_break(false),
            ("pre", _) => {
                self.line_break(true);
                self.preformatted = if closing {
                    self.preformatted.saturating_sub(1)
                } else {
                    self.preformatted + 1
                };
            }
            ("p" | "h1" | "h2" | "h3" | "h4" | "blockquote" | "ul" | "ol" | "hr", _) => {
                self.line_break(true)
            }
            ("a", false) => self.links.push((href(tag), self.out.len())),
            ("a", true) => {
                if let Some((Some(address), start)) = self.links.pop()
                    && self.out.get(start..).map(str::trim) != Some(address.as_str())
                {
                    self.out.push_str(&format!(" ({address})"));
                }
            }
            _ => {}
        }
    }

    /// Ends the current line (or paragraph, with a blank line), never at the very start.
    fn line_break(&mut self, blank_line: bool) {
        let kept = self.out.trim_end_matches(' ').len();
        self.out.truncate(kept);
        if self.out.is_empty() {
            return;
        }
        let wanted = if blank_line { 2 } else { 1 };
        let present = self.out.len() - self.out.trim_end_matches('\n').len();
        for _ in present..wanted {
            self.out.push('\n');
        }
    }

    fn finish(self) -> String {
        self.out.trim().to_string()
    }
}

/// The value of a tag's `href` attribute, unescaped.
fn href(tag: &str) -> Option<String> {
    let start = tag.find(" href=\"")? + " href=\"".len();
    let length = tag[start..].find('"')?;
    Some(decode_entities(&tag[start..start + length]))
}

/// The escapes html5ever writes, and only those: anything else stays as it is.
fn decode_entities(html: &str) -> String {
    const ENTITIES: [(&str, char); 5] = [
        ("&amp;", '&'),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&quot;", '"'),
        ("&nbsp;", ' '),
    ];
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (ch, length) = ENTITIES
            .iter()
            .find(|(entity, _)| rest.starts_with(entity))
            .map_or(('&', 1), |(entity, ch)| (*ch, entity.len()));
        out.push(ch);
        rest = &rest[length..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_plain_text_with_paragraphs_lists_and_link_addresses() {
        let html = description_html(Some(
            "<h2>Agenda</h2>\n<p>Bring   your <b>questions</b> &amp; notes.</p>\
             <ul><li>One</li><li>Two</li></ul>\
             <p>See <a href=\"https://x.example/a?b=1&amp;c=2\">the slides</a>.<br>Thanks</p>",
        ));
        assert_eq!(
            html_to_text(&html),
            "Agenda\n\nBring your questions & notes.\n\n- One\n- Two\n\n\
             See the slides (https://x.example/a?b=1&c=2).\nThanks"
        );
    }

    #[test]
    fn escaped_angle_brackets_are_text_and_scripts_are_gone() {
        let html = description_html(Some("a &lt; b<script>alert(1)</script><style>p{}</style>"));
        assert_eq!(html_to_text(&html), "a < b");
    }

    #[test]
    fn preformatted_text_keeps_its_spacing() {
        let html = description_html(Some("<pre>x  =  1\n  y</pre>"));
        assert_eq!(html_to_text(&html), "x  =  1\n  y");
    }

    #[test]
    fn text_values_escape_separators_and_drop_control_characters() {
        assert_eq!(
            escape_text("a\\b;c,d\r\ne\nf\u{7}\u{1b}g\th"),
            "a\\\\b\\;c\\,d\\ne\\nfg h"
        );
    }

    #[test]
    fn offsets_are_written_with_sign_and_seconds_only_when_needed() {
        let offset = |seconds| FixedOffset::east_opt(seconds).map(utc_offset);
        assert_eq!(offset(0).as_deref(), Some("+0000"));
        assert_eq!(offset(19_800).as_deref(), Some("+0530"));
        assert_eq!(offset(-12_600).as_deref(), Some("-0330"));
        assert_eq!(offset(-1_125).as_deref(), Some("-001845"));
    }
}
