//! What the demo's rows are made of: names, conference titles (some hostile), platforms, zones,
//! descriptions and links, and the awkward slots support staff meet.

use chrono::{NaiveDate, NaiveTime};

use crate::sim::rng::SplitMix64;

pub(super) const FIRST_NAMES: [&str; 32] = [
    "Ann", "Ben", "Chloé", "Dmitri", "Eve", "Farah", "Gareth", "Hana", "Ines", "José", "Kofi",
    "Lea", "Mateusz", "Nia", "Owen", "Priya", "Quentin", "Rosa", "Siobhán", "Tomás", "Uma",
    "Vikram", "Wen", "Xavier", "Yusuf", "Zoë", "Åsa", "Łukasz", "Noémie", "Ngozi", "Ravi", "Sven",
];
pub(super) const LAST_NAMES: [&str; 24] = [
    "Adams", "Baker", "Castillo", "Dubois", "Evans", "Fischer", "García", "Hughes", "Ito", "Jones",
    "Kowalski", "Lefèvre", "Müller", "Nakamura", "O'Brien", "Patel", "Quinn", "Rossi", "Singh",
    "Taylor", "Ünal", "Virtanen", "Wright", "Zhang",
];

pub(super) const TITLES: [&str; 40] = [
    "Induction Q&A",
    "Assessment Feedback Clinic",
    "Maths Functional Skills Drop-in",
    "English Level 2 Tutorial",
    "Portfolio Review",
    "Apprenticeship Progress Review",
    "Safeguarding Refresher",
    "Digital Skills Workshop",
    "End-Point Assessment Prep",
    "Careers Guidance Session",
    "Team Leader Coaching",
    "Data Analysis Lab",
    "Customer Service Masterclass",
    "Health & Safety Briefing",
    "Project Management Basics",
    "Café numérique — atelier",
    "Wellbeing Check-in",
    "Study Skills Surgery",
    "Employer Tripartite Review",
    "Coding Bootcamp Office Hours",
    "Leadership Roundtable",
    "Quarterly Review <script>alert('x')</script>",
    "ESOL Conversation Club",
    "Business Admin Catch-up",
    "Accounting Fundamentals",
    "会議: Japanese Partners Briefing",
    "Cyber Security Awareness",
    "Retail Operations Review",
    "Mentor Matching Session",
    "Report Writing Clinic",
    "Functional Skills Mock Exam Debrief",
    "Learner Voice Forum",
    "Quality Improvement Panel",
    "Equality & Diversity Workshop",
    "Very long title for a conference that somebody typed into the LMS without any thought for how narrow a terminal column can be",
    "Exam Board Briefing\u{1b}[2J\u{1b}[31m (escape codes in a title)",
    "Mock Interview Practice",
    "Digital Marketing Clinic",
    "Supervisor Sign-off Session",
    "Graduation Rehearsal",
];

pub(super) const PLATFORMS: [(&str, u64); 5] = [
    ("teams", 40),
    ("zoom", 25),
    ("google_meet", 15),
    ("webex", 10),
    ("other", 10),
];

/// Ordinary zones, then the awkward ones the slot form offers.
pub(super) const ZONES: [&str; 10] = [
    "Europe/London",
    "Europe/London",
    "UTC",
    "America/New_York",
    "Europe/Paris",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "America/Buenos_Aires",
];

pub(super) fn description(rng: &mut SplitMix64, title: &str) -> Option<String> {
    match rng.below(6) {
        0 => None,
        1 => Some(String::new()),
        2 => Some(format!(
            "<p>Bring your questions about <strong>{title}</strong>.</p><img src=x onerror=\"alert(1)\">"
        )),
        _ => Some(format!(
            "<p>Session for <em>{title}</em>. Please join five minutes early.</p><ul><li>Agenda</li><li>Q&amp;A</li></ul>"
        )),
    }
}

pub(super) fn meeting_link(platform: &str, n: u64) -> String {
    match platform {
        "teams" => {
            format!("https://teams.microsoft.com/l/meetup-join/19%3ameeting_demo{n}%40thread.v2/0")
        }
        "zoom" => format!("https://zoom.us/j/9{n:09}?pwd=demo"),
        "google_meet" => format!("https://meet.google.com/abc-demo-{n:03}"),
        "webex" => format!("https://example.webex.com/meet/demo{n}"),
        _ => format!("https://video.example.org/room/{n}"),
    }
}

/// The awkward slots: DST edges, a midnight crossing, a zone Graph would never accept, and
/// hostile links. (conference index, slot index) → (date, start, end, zone, link)
#[allow(clippy::type_complexity)]
pub(super) fn special_slot(
    conference: usize,
    slot: usize,
) -> Option<(
    NaiveDate,
    NaiveTime,
    NaiveTime,
    &'static str,
    Option<String>,
)> {
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
    let time = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default();
    match (conference, slot) {
        (2, 0) => Some((
            date("2026-03-29"),
            time(1, 30),
            time(2, 30),
            "Europe/London",
            None,
        )),
        (2, 1) => Some((
            date("2026-10-25"),
            time(1, 30),
            time(2, 30),
            "Europe/London",
            None,
        )),
        (5, 0) => Some((
            date("2026-03-08"),
            time(2, 30),
            time(3, 30),
            "America/New_York",
            None,
        )),
        (7, 0) => Some((
            date("2026-12-31"),
            time(23, 0),
            time(1, 0),
            "Asia/Tokyo",
            None,
        )),
        (9, 0) => Some((
            date("2026-12-10"),
            time(10, 0),
            time(11, 0),
            "Foo/Bar",
            None,
        )),
        (11, 0) => Some((
            date("2026-12-11"),
            time(14, 0),
            time(15, 0),
            "UTC",
            Some("javascript:alert('slot link')".to_string()),
        )),
        (13, 0) => Some((
            date("2026-12-12"),
            time(9, 0),
            time(10, 0),
            "Europe/Paris",
            Some("https://video.example.org/r'onmouseover='alert(1)".to_string()),
        )),
        _ => None,
    }
}

/// One of `items`, chosen in proportion to its weight.
pub(super) fn weighted(rng: &mut SplitMix64, items: &[(&'static str, u64)]) -> &'static str {
    let total: u64 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (item, weight) in items {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    items[0].0
}

/// Usernames and addresses are ASCII even when names are not.
pub(super) fn ascii(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'é' | 'è' | 'ê' => Some('e'),
            'á' | 'à' | 'å' | 'Å' => Some('a'),
            'í' => Some('i'),
            'ó' | 'ö' => Some('o'),
            'ú' | 'ü' | 'Ü' => Some('u'),
            'ë' => Some('e'),
            'ç' => Some('c'),
            'Ł' | 'ł' => Some('l'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}
