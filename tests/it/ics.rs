//! `.ics` export, read back with an independent iCalendar parser (the `icalendar` crate), never
//! with calsync's own rules: stable UIDs, zoned times with a VTIMEZONE that reproduces the tz
//! database, slots at DST edges and across midnight, escaping, folding, hostile descriptions,
//! and `calsync ics` through the real binary on both backends.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use calsync::demo::lms_rows::{UserRow, literal_insert};
use calsync::domain::{Selection, SyncColumns, resolve_slot_window};
use calsync::ics::{IcsExport, calendar};

use crate::cli::{assert_one_line_error, calsync};
use crate::on_both_backends;
use crate::support::{Backend, TestDb, learner_row};

/// A conference whose texts carry every TEXT separator, unicode and hostile markup, and a slot
/// in the hour that happens twice when London's clocks go back.
///
/// | id | user | slot | notes                                                  |
/// |----|------|------|--------------------------------------------------------|
/// | 11 | 3    | 6    | 2026-10-25 01:30–02:30 Europe/London (DST overlap)     |
const EXTRA_ROWS: &str = r#"
INSERT INTO conferences_conference (id, title, description, date, start_time, end_time, timezone,
  meeting_link, meeting_platform, meeting_status, data_sync_status, auto_recording_status, visibility,
  status, default_join_type, join_experience, allowed_join_methods, created_at, updated_at, course_id,
  created_by_id, rubric_id, use_time_slots)
VALUES
 (4, 'Zoë''s review, part 1; "会議"',
  '<p>Notes, part 1; bring a pen \ paper.</p><pre>line 1
line 2</pre><p>会議😀 会議😀 会議😀 会議😀 会議😀 会議😀 会議😀 会議😀 会議😀 会議😀 会議😀 会議😀</p><script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)" onclick="alert(4)">click</a>',
  '2026-10-25', '01:30:00', NULL, 'Europe/London',
  'https://meet.example/r?a=1,b=2;c', 'webex', 'scheduled', 'pending', 'pending', 'public',
  'published', 'guest', 'direct', 'auto_registered_only', '2025-11-20 14:30:00', '2025-11-20 14:30:00', NULL, 2, NULL, TRUE);

INSERT INTO conferences_conferencetimeslot (id, date, start_time, end_time, timezone, max_participants,
  current_participants, meeting_link, meeting_id, meeting_password, is_available, created_at, updated_at,
  conference_id, online_meeting_id)
VALUES
 (6, '2026-10-25', '01:30:00', '02:30:00', 'Europe/London', 0, 1, NULL, NULL, NULL, TRUE, '2025-11-20 14:35:00', '2025-11-20 14:35:00', 4, NULL);

INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, calendar_added,
  calendar_add_attempted_at, calendar_error, selected_at, ip_address, conference_id, time_slot_id, user_id)
VALUES
 (11, NULL, FALSE, NULL, NULL, '2025-12-08 10:00:00', NULL, 4, 6, 3);
"#;

async fn lms(backend: Backend) -> TestDb {
    let db = TestDb::with_fixture(backend).await;
    db.exec(EXTRA_ROWS).await;
    db
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

async fn export(db: &TestDb, ids: &[i64], now: DateTime<Utc>) -> IcsExport {
    let store = db.store().await;
    let mut selections = Vec::new();
    for id in ids {
        selections.push(store.selection(*id).await.unwrap().expect("a fixture row"));
    }
    calendar(&selections, now)
}

/// A component as the independent parser read it, with owned text.
#[derive(Debug)]
struct Component {
    name: String,
    properties: Vec<Property>,
    components: Vec<Component>,
}

#[derive(Debug)]
struct Property {
    name: String,
    params: Vec<(String, Option<String>)>,
    value: String,
}

fn parse(text: &str) -> Component {
    let unfolded = icalendar::parser::unfold(text);
    let mut roots = icalendar::parser::read_components(&unfolded)
        .unwrap_or_else(|e| panic!("the icalendar crate cannot read the export: {e}\n{text}"));
    assert_eq!(roots.len(), 1, "exactly one VCALENDAR");
    let root = owned(roots.remove(0));
    assert_eq!(root.name, "VCALENDAR");
    root
}

fn owned(component: icalendar::parser::Component<'_>) -> Component {
    Component {
        name: component.name.as_str().to_string(),
        properties: component
            .properties
            .into_iter()
            .map(|p| Property {
                name: p.name.as_str().to_string(),
                params: p
                    .params
                    .into_iter()
                    .map(|param| {
                        (
                            param.key.as_str().to_string(),
                            param.val.map(|v| v.as_str().to_string()),
                        )
                    })
                    .collect(),
                value: p.val.as_str().to_string(),
            })
            .collect(),
        components: component.components.into_iter().map(owned).collect(),
    }
}

impl Component {
    fn all(&self, name: &str) -> Vec<&Property> {
        self.properties.iter().filter(|p| p.name == name).collect()
    }

    #[track_caller]
    fn one(&self, name: &str) -> &Property {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "one {name} in {}", self.name);
        found[0]
    }

    fn value(&self, name: &str) -> &str {
        &self.one(name).value
    }

    fn children(&self, name: &str) -> Vec<&Component> {
        self.components.iter().filter(|c| c.name == name).collect()
    }

    fn events(&self) -> Vec<&Component> {
        self.children("VEVENT")
    }

    #[track_caller]
    fn event_of(&self, selection_id: i64) -> &Component {
        self.events()
            .into_iter()
            .find(|e| e.value("X-CALSYNC-SELECTION") == selection_id.to_string())
            .unwrap_or_else(|| panic!("no event for selection {selection_id}"))
    }

    #[track_caller]
    fn timezone(&self, tzid: &str) -> &Component {
        let zones: Vec<&Component> = self
            .children("VTIMEZONE")
            .into_iter()
            .filter(|z| z.value("TZID") == tzid)
            .collect();
        assert_eq!(zones.len(), 1, "one VTIMEZONE for {tzid}");
        zones[0]
    }

    /// `(UTC, local time, TZID)` of DTSTART or DTEND, read through the file's own VTIMEZONE
    /// with RFC 5545's rules.
    fn instant(&self, calendar: &Component, name: &str) -> (DateTime<Utc>, String, String) {
        let property = self.one(name);
        let tzid = param(property, "TZID").expect("a TZID on every date-time");
        let local = local_time(&property.value);
        let utc = utc_of(calendar.timezone(&tzid), local);
        (utc, property.value.clone(), tzid)
    }
}

fn param(property: &Property, key: &str) -> Option<String> {
    property
        .params
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.clone())
}

fn local_time(value: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
        .unwrap_or_else(|e| panic!("{value:?} is not a local date-time: {e}"))
}

fn offset_seconds(value: &str) -> i64 {
    let (sign, digits) = value.split_at(1);
    let number = |range: std::ops::Range<usize>| -> i64 {
        digits.get(range).map_or(0, |d| d.parse().expect("digits"))
    };
    let seconds = number(0..2) * 3600 + number(2..4) * 60 + number(4..6);
    if sign == "-" { -seconds } else { seconds }
}

/// RFC 5545 §3.6.5: a local time is in the observance with the latest onset at or before it.
/// An onset is written in the local time in force before it, so a time in the spring gap reads
/// with the offset before the gap, and a time that happens twice reads as its first occurrence.
fn utc_of(timezone: &Component, local: NaiveDateTime) -> DateTime<Utc> {
    let offset = timezone
        .components
        .iter()
        .map(|o| (local_time(o.value("DTSTART")), o.value("TZOFFSETTO")))
        .filter(|(onset, _)| *onset <= local)
        .max_by_key(|(onset, _)| *onset)
        .map(|(_, to)| offset_seconds(to))
        .unwrap_or_else(|| panic!("the VTIMEZONE does not cover {local}"));
    (local - Duration::seconds(offset)).and_utc()
}

#[tokio::test]
async fn the_calendar_has_the_required_headers_and_one_event_per_selection() {
    let db = lms(Backend::Sqlite).await;
    let result = export(&db, &[11, 2, 9], at("2026-01-05T08:00:00.123Z")).await;
    let parsed = parse(&result.text);
    assert_eq!(parsed.value("PRODID"), "-//calsync//calsync//EN");
    assert_eq!(parsed.value("VERSION"), "2.0");
    assert_eq!(parsed.value("CALSCALE"), "GREGORIAN");
    assert_eq!(parsed.value("METHOD"), "PUBLISH");
    assert_eq!(parsed.events().len(), 3);
    // In time order, whatever order they were asked for.
    assert_eq!(result.exported, vec![2, 9, 11]);
    assert!(result.skipped.is_empty());
}

#[tokio::test]
async fn every_export_gives_a_selection_the_same_uid_and_a_fresh_utc_dtstamp() {
    let db = lms(Backend::Sqlite).await;
    let first = parse(
        &export(&db, &[1, 8, 11], at("2026-01-05T08:00:00.123Z"))
            .await
            .text,
    );
    let second = parse(
        &export(&db, &[11, 1, 8], at("2026-02-01T17:30:45Z"))
            .await
            .text,
    );
    for id in [1, 8, 11] {
        let (a, b) = (first.event_of(id), second.event_of(id));
        assert_eq!(a.value("UID"), b.value("UID"));
        assert!(
            a.value("UID")
                .starts_with(&format!("calsync-selection-{id}-"))
        );
        assert!(a.value("UID").ends_with("@calsync"));
    }
    let uids: BTreeSet<&str> = first.events().iter().map(|e| e.value("UID")).collect();
    assert_eq!(uids.len(), 3, "UIDs are unique");
    assert_eq!(first.event_of(1).value("DTSTAMP"), "20260105T080000Z");
    assert_eq!(second.event_of(1).value("DTSTAMP"), "20260201T173045Z");
}

#[tokio::test]
async fn every_tzid_used_has_one_vtimezone_with_the_real_transitions() {
    let db = lms(Backend::Sqlite).await;
    let parsed = parse(&export(&db, &[1, 4, 8, 11], Utc::now()).await.text);
    let used: BTreeSet<String> = parsed
        .events()
        .iter()
        .flat_map(|e| [e.one("DTSTART"), e.one("DTEND")])
        .map(|p| param(p, "TZID").expect("every DTSTART and DTEND has a TZID"))
        .collect();
    let defined: BTreeSet<String> = parsed
        .children("VTIMEZONE")
        .iter()
        .map(|z| z.value("TZID").to_string())
        .collect();
    assert_eq!(used, defined);
    assert_eq!(
        used,
        BTreeSet::from(["Asia/Tokyo".to_string(), "Europe/London".to_string()])
    );
    for zone in parsed.children("VTIMEZONE") {
        assert!(!zone.components.is_empty());
        for observance in &zone.components {
            assert!(["STANDARD", "DAYLIGHT"].contains(&observance.name.as_str()));
            for required in ["DTSTART", "TZOFFSETFROM", "TZOFFSETTO"] {
                observance.one(required);
            }
        }
    }

    let london = parsed.timezone("Europe/London");
    let onsets: Vec<(&str, &str, &str, &str)> = london
        .components
        .iter()
        .map(|o| {
            (
                o.name.as_str(),
                o.value("DTSTART"),
                o.value("TZOFFSETFROM"),
                o.value("TZOFFSETTO"),
            )
        })
        .collect();
    for transition in [
        ("DAYLIGHT", "20260329T010000", "+0000", "+0100"),
        ("STANDARD", "20261025T020000", "+0100", "+0000"),
        ("DAYLIGHT", "20250330T010000", "+0000", "+0100"),
    ] {
        assert!(onsets.contains(&transition), "{transition:?} in {onsets:?}");
    }

    // No DST in Japan: one STANDARD, whose offset never changes.
    let tokyo = parsed.timezone("Asia/Tokyo");
    assert_eq!(tokyo.components.len(), 1);
    assert_eq!(tokyo.components[0].name, "STANDARD");
    assert_eq!(tokyo.components[0].value("TZOFFSETFROM"), "+0900");
    assert_eq!(tokyo.components[0].value("TZOFFSETTO"), "+0900");
}

#[tokio::test]
async fn dst_edges_and_midnight_mean_the_instants_the_sync_engine_resolves() {
    let db = lms(Backend::Sqlite).await;
    let parsed = parse(&export(&db, &[4, 8, 11], Utc::now()).await.text);
    let window = |id: i64| {
        let event = parsed.event_of(id);
        (
            event.instant(&parsed, "DTSTART"),
            event.instant(&parsed, "DTEND"),
        )
    };

    // 01:30–02:30 on 2026-03-29 falls in London's clocks-forward gap: it keeps its hour.
    let ((start, start_local, zone), (end, end_local, _)) = window(4);
    assert_eq!(zone, "Europe/London");
    assert_eq!(
        (start_local.as_str(), end_local.as_str()),
        ("20260329T023000", "20260329T033000")
    );
    assert_eq!(
        (start, end),
        (at("2026-03-29T01:30:00Z"), at("2026-03-29T02:30:00Z"))
    );

    // 01:30 on 2026-10-25 happens twice in London: the first (BST) one.
    let ((start, start_local, _), (end, end_local, _)) = window(11);
    assert_eq!(
        (start_local.as_str(), end_local.as_str()),
        ("20261025T013000", "20261025T023000")
    );
    assert_eq!(
        (start, end),
        (at("2026-10-25T00:30:00Z"), at("2026-10-25T02:30:00Z"))
    );

    // 23:00–01:00 in Tokyo ends the next day, in the next year.
    let ((start, start_local, zone), (end, end_local, _)) = window(8);
    assert_eq!(zone, "Asia/Tokyo");
    assert_eq!(
        (start_local.as_str(), end_local.as_str()),
        ("20251231T230000", "20260101T010000")
    );
    assert_eq!(
        (start, end),
        (at("2025-12-31T14:00:00Z"), at("2025-12-31T16:00:00Z"))
    );

    // The same instants resolve_slot_window gives the sync engine.
    let store = db.store().await;
    for id in [4, 8, 11] {
        let s = store.selection(id).await.unwrap().unwrap();
        let resolved =
            resolve_slot_window(s.slot_date, s.slot_start, s.slot_end, &s.timezone).unwrap();
        let ((start, ..), (end, ..)) = window(id);
        assert_eq!(
            (start, end),
            (resolved.start_utc, resolved.end_utc),
            "selection {id}"
        );
    }
}

fn synthetic_selection(id: i64, zone: &str, date: NaiveDate, start: &str, end: &str) -> Selection {
    let time = |t: &str| NaiveTime::parse_from_str(t, "%H:%M").unwrap();
    Selection {
        id,
        user_id: 1,
        username: "ann".into(),
        first_name: "Ann".into(),
        last_name: "Other".into(),
        email: "ann@x.org".into(),
        role: "learner".into(),
        branch_id: None,
        branch_name: None,
        conference_id: 1,
        conference_title: "Tutorial".into(),
        conference_description: None,
        conference_link: None,
        platform: "zoom".into(),
        use_time_slots: true,
        time_slot_id: id,
        slot_conference_id: 1,
        slot_date: date,
        slot_start: time(start),
        slot_end: time(end),
        timezone: zone.into(),
        slot_link: None,
        slot_updated_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        selected_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(id),
        sync: SyncColumns::default(),
        fingerprint: String::new(),
        stale: false,
        recorded: Default::default(),
    }
}

#[test]
fn vtimezones_reproduce_the_tz_database_for_every_event_in_odd_zones_too() {
    // Southern hemisphere, half-hour DST, negative DST (Ireland), Ramadan shifts (Morocco),
    // 45-minute offsets, no DST, and UTC itself.
    let zones = [
        "Europe/London",
        "America/New_York",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "America/St_Johns",
        "Europe/Dublin",
        "Africa/Casablanca",
        "Pacific/Chatham",
        "Asia/Kolkata",
        "UTC",
    ];
    let mut selections = Vec::new();
    for zone in zones {
        let mut slots = vec![
            // The first and last minutes of the covered years, in local time.
            (
                NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
                "00:00",
                "00:30",
            ),
            (
                NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
                "23:00",
                "23:59",
            ),
        ];
        let mut date = NaiveDate::from_ymd_opt(2025, 1, 3).unwrap();
        while date.year() < 2027 {
            slots.push((date, "12:00", "13:00"));
            date += Duration::days(9);
        }
        for (date, start, end) in slots {
            let id = selections.len() as i64 + 1;
            selections.push(synthetic_selection(id, zone, date, start, end));
        }
    }
    let result = calendar(&selections, Utc::now());
    assert_eq!(result.exported.len(), selections.len());
    let parsed = parse(&result.text);
    for selection in &selections {
        let resolved = resolve_slot_window(
            selection.slot_date,
            selection.slot_start,
            selection.slot_end,
            &selection.timezone,
        )
        .unwrap();
        let event = parsed.event_of(selection.id);
        let (start, _, tzid) = event.instant(&parsed, "DTSTART");
        assert_eq!(tzid, selection.timezone);
        assert_eq!(
            start, resolved.start_utc,
            "{} on {}",
            tzid, selection.slot_date
        );
    }
    let dublin = parsed.timezone("Europe/Dublin");
    let summer_starts = dublin
        .children("DAYLIGHT")
        .iter()
        .any(|o| o.value("TZOFFSETTO") == "+0100");
    assert!(summer_starts, "Irish summer time reads as daylight time");
}

#[tokio::test]
async fn text_with_separators_and_unicode_round_trips_through_the_parser() {
    let db = lms(Backend::Sqlite).await;
    let result = export(&db, &[4, 8, 11], Utc::now()).await;
    let parsed = parse(&result.text);

    let review = parsed.event_of(11);
    assert_eq!(review.value("SUMMARY"), "Zoë's review, part 1; \"会議\"");
    let meeting = "会議😀 ".repeat(12);
    assert_eq!(
        review.value("DESCRIPTION"),
        format!(
            "Notes, part 1; bring a pen \\ paper.\n\nline 1\nline 2\n\n{}\n\nclick\n\n\
             Join Webex: https://meet.example/r?a=1,b=2;c",
            meeting.trim_end()
        )
    );
    assert_eq!(review.value("LOCATION"), "https://meet.example/r?a=1,b=2;c");
    assert_eq!(review.value("URL"), "https://meet.example/r?a=1,b=2;c");

    let cafe = parsed.event_of(8);
    assert_eq!(cafe.value("SUMMARY"), "Café numérique 会議");
    // No description and no link: the LMS's fallback text, and nothing to click.
    assert_eq!(cafe.value("DESCRIPTION"), "Conference meeting");
    assert!(cafe.all("URL").is_empty() && cafe.all("LOCATION").is_empty());

    let clinic = parsed.event_of(4);
    assert_eq!(
        clinic.value("DESCRIPTION"),
        "Conference meeting\n\nJoin Zoom: https://zoom.us/j/123"
    );

    // The escapes themselves, as written in the file.
    let unfolded = icalendar::parser::unfold(&result.text);
    assert!(unfolded.contains(r#"SUMMARY:Zoë's review\, part 1\; "会議""#));
    assert!(unfolded.contains(r"pen \\ paper.\n\nline 1\nline 2"));
}

#[tokio::test]
async fn hostile_markup_in_a_description_never_reaches_the_file() {
    let db = lms(Backend::Sqlite).await;
    let result = export(&db, &[11], Utc::now()).await;
    let lower = result.text.to_lowercase();
    for markup in [
        "<",
        "script>",
        "alert(",
        "onerror",
        "onclick",
        "javascript:",
    ] {
        assert!(
            !lower.contains(markup),
            "{markup:?} survived:\n{}",
            result.text
        );
    }
    let description = parse(&result.text)
        .event_of(11)
        .value("DESCRIPTION")
        .to_string();
    assert!(
        description.contains("\n\nclick\n\n"),
        "the link's text stays, as text"
    );
}

#[tokio::test]
async fn lines_end_in_crlf_and_fold_within_75_octets_between_characters() {
    let db = lms(Backend::Sqlite).await;
    let text = export(&db, &[1, 4, 8, 11], Utc::now()).await.text;
    let mut continuation_starting_in_unicode = false;
    for line in text.as_bytes().split_inclusive(|b| *b == b'\n') {
        let line = line
            .strip_suffix(b"\r\n")
            .unwrap_or_else(|| panic!("a line without CRLF: {:?}", String::from_utf8_lossy(line)));
        assert!(!line.contains(&b'\r'), "a bare CR");
        assert!(
            line.len() <= 75,
            "{} octets: {:?}",
            line.len(),
            String::from_utf8_lossy(line)
        );
        let line = std::str::from_utf8(line).expect("no line splits a UTF-8 sequence");
        if let Some(rest) = line.strip_prefix(' ') {
            continuation_starting_in_unicode |= rest.chars().next().is_some_and(|c| !c.is_ascii());
        }
    }
    assert!(
        continuation_starting_in_unicode,
        "the long unicode description is folded next to multi-byte characters"
    );
}

#[tokio::test]
async fn slots_that_cannot_be_events_are_left_out_with_their_reason() {
    let db = lms(Backend::Sqlite).await;
    let result = export(&db, &[4, 7], Utc::now()).await;
    assert_eq!(result.exported, vec![4]);
    assert_eq!(result.skipped.len(), 1);
    assert_eq!(result.skipped[0].selection_id, 7);
    assert_eq!(
        result.skipped[0].problem.to_string(),
        "unknown time zone 'Foo/Bar' (not an IANA zone name)"
    );
    assert_eq!(parse(&result.text).events().len(), 1);
}

on_both_backends! {
    async fn calsync_ics_exports_a_users_selections_through_the_real_binary(backend: Backend) {
        let db = lms(backend).await;
        let url = db.url_string();

        let run = calsync(&["--database-url", &url, "ics", "--user-id", "5"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stderr.trim(), "exported 3 of 3 selections to standard output");
        let parsed = parse(&run.stdout);
        let ids: BTreeSet<&str> = parsed.events().iter().map(|e| e.value("X-CALSYNC-SELECTION")).collect();
        assert_eq!(ids, BTreeSet::from(["5", "8", "10"]));

        // One slot in an unknown zone: the rest is written, the operator is told, exit 1.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoe.ics");
        let path_text = path.to_str().unwrap();
        let run = calsync(&["--database-url", &url, "ics", "--user-id", "4", "--output", path_text], &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stdout.is_empty());
        let lines: Vec<&str> = run.stderr.lines().collect();
        let summary = format!("exported 1 of 2 selections to {path_text} (1 skipped)");
        assert_eq!(lines, [
            "skipped selection 7: unknown time zone 'Foo/Bar' (not an IANA zone name)",
            summary.as_str(),
        ]);
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(parse(&written).event_of(4).value("SUMMARY"), "Zoom Clinic");

        let run = calsync(&["--database-url", &url, "ics", "--selection-id", "11", "--selection-id", "1"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(parse(&run.stdout).events().len(), 2);
    }
}

on_both_backends! {
    async fn nothing_to_export_is_one_line_and_exit_2(backend: Backend) {
        let db = lms(backend).await;
        let url = db.url_string();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.ics");
        let path_text = path.to_str().unwrap();

        let run = calsync(&["--database-url", &url, "ics", "--selection-id", "999", "--output", path_text], &[]);
        assert_one_line_error(&run, "nothing to export: selection 999: no such selection");
        assert!(!path.exists(), "no file for nothing");
        let run = calsync(&["--database-url", &url, "ics", "--user-id", "999"], &[]);
        assert_one_line_error(&run, "no user with id 999");
        let run = calsync(&["--database-url", &url, "ics", "--user-id", "6"], &[]);
        assert_one_line_error(&run, "nothing to export: selection 6: unknown time zone 'Foo/Bar'");
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn ics_without_a_choice_of_selections_is_one_line_and_exit_2() {
    let run = calsync(&["--database-url", "/nonexistent.db", "ics"], &[]);
    assert_one_line_error(&run, "--selection-id ID (repeatable) or --user-id ID");
    let run = calsync(&["ics", "--selection-id", "1", "--user-id", "2"], &[]);
    assert_one_line_error(&run, "cannot be used with");
    let run = calsync(&["ics", "--selection-id", "x"], &[]);
    assert_one_line_error(&run, "invalid value 'x'");
}

on_both_backends! {
    async fn calsync_ics_finds_a_user_by_email_and_narrows_to_a_conference(backend: Backend) {
        let db = lms(backend).await;
        let url = db.url_string();
        let exported = |args: &[&str]| {
            let mut all = vec!["--database-url", url.as_str(), "ics"];
            all.extend_from_slice(args);
            let run = calsync(&all, &[]);
            assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
            parse(&run.stdout)
                .events()
                .iter()
                .map(|e| e.value("X-CALSYNC-SELECTION").to_string())
                .collect::<BTreeSet<String>>()
        };
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();

        // The email as the LMS stores it is `Ann@X.org`: matched whole, ignoring case, as `:person`.
        assert_eq!(exported(&["--user", "ann@x.org"]), ids(&["5", "8", "10"]));
        assert_eq!(exported(&["--user", "aother"]), ids(&["5", "8", "10"]));
        assert_eq!(exported(&["--conference-id", "1"]), ids(&["1", "2", "3"]));
        assert_eq!(exported(&["--user", "lea.learner@example.org", "--conference-id", "1"]), ids(&["2"]));
        assert_eq!(exported(&["--user-id", "3", "--conference-id", "4"]), ids(&["11"]));

        // Part of an address is not an address.
        let run = calsync(&["--database-url", &url, "ics", "--user", "ann"], &[]);
        assert_one_line_error(&run, "no user with the email or username 'ann'");
        let run = calsync(&["--database-url", &url, "ics", "--user", "aother", "--conference-id", "1"], &[]);
        assert_one_line_error(&run, "user 5 has no selections in conference 1 to export");
        let run = calsync(&["--database-url", &url, "ics", "--conference-id", "99"], &[]);
        assert_one_line_error(&run, "conference 99 has no selections to export");
        assert!(run.stdout.is_empty());

        // An address that is one user's email and another's username names nobody for sure.
        db.exec(&second_ann()).await;
        let run = calsync(&["--database-url", &url, "ics", "--user", "ANN@x.org"], &[]);
        assert_one_line_error(&run, "'ANN@x.org' is the email or username of several users (5, 7): use --user-id");
    }
}

/// A user whose username is Ann Other's email address.
fn second_ann() -> String {
    literal_insert(&[UserRow {
        first_name: "Ann".to_string(),
        last_name: "Second".to_string(),
        date_joined: "2025-10-07 09:00:00".to_string(),
        ..learner_row(7, "ann@x.org", "ann.second@example.org", Some(2))
    }])
}

#[test]
fn ics_takes_one_way_of_naming_a_user() {
    let run = calsync(&["ics", "--user", "ann@x.org", "--user-id", "5"], &[]);
    assert_one_line_error(&run, "cannot be used with");
    let run = calsync(&["ics", "--selection-id", "1", "--conference-id", "2"], &[]);
    assert_one_line_error(&run, "cannot be used with");
}
