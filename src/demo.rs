//! The demo LMS database: production-shaped SQLite (the real Django schema, every NOT NULL column
//! filled), generated deterministically from a seed around the hour it is created. It holds
//! every sync state with error texts in the LMS's real formats, and the awkward cases support
//! staff meet: DST gaps and overlaps, a slot crossing midnight, an unknown zone, a user without
//! email, personal addresses that are no tenant mailbox, an expired client secret, a branch
//! without integration, hostile HTML and terminal escapes in titles and errors.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use rusqlite::{Connection, params};

use crate::sim::{Directory, Latency, MailboxState, SimConfig, SimHandle, SimServer, SimTenant};
use crate::store::{django_datetime, sqlite_message};

const SCHEMA: &str = include_str!("../assets/schema/sqlite.sql");
/// Indexes are built after the rows: several times faster than maintaining them per insert.
const INDEX_MARKER: &str = "\n-- Indexes";

/// The tenant domains of the demo's branches; any other domain is not a mailbox in the tenant.
pub const TENANT_DOMAINS: [&str; 5] = [
    "north.example",
    "south.example",
    "online.example",
    "city.example",
    "evening.example",
];
/// Learners who signed up with a personal address: no such user in the tenant.
pub const PERSONAL_DOMAIN: &str = "mail.example";
/// The tenant whose client secret has expired (its syncs fail at the token endpoint).
pub const EXPIRED_SECRET_TENANT: &str = "online.example";

/// How Graph sees an address in the demo tenant; the generator and the simulated Graph's
/// directory share this one rule.
pub fn mailbox_state(email: &str) -> MailboxState {
    let email = email.to_ascii_lowercase();
    let Some((_, domain)) = email.rsplit_once('@') else {
        return MailboxState::Unknown;
    };
    if !TENANT_DOMAINS.contains(&domain) {
        return MailboxState::Unknown;
    }
    // About one tenant user in forty has no Exchange licence.
    if fnv1a(email.as_bytes()) % 40 == 7 {
        MailboxState::NoMailbox
    } else {
        MailboxState::Ok
    }
}

/// How the simulated Graph for the demo behaves.
#[derive(Debug, Clone)]
pub struct SimulatorSettings {
    pub port: u16,
    pub latency: Latency,
    pub fault_rate: f64,
}

impl Default for SimulatorSettings {
    fn default() -> Self {
        SimulatorSettings {
            port: 0,
            latency: Latency::between(
                std::time::Duration::from_millis(20),
                std::time::Duration::from_millis(120),
            ),
            fault_rate: 0.02,
        }
    }
}

/// The simulated tenant that matches the demo database: its app registrations, its
/// directory, and one rotated secret (Online Academy's), as support staff meet them.
pub fn simulator_config(settings: &SimulatorSettings) -> SimConfig {
    let tenants = INTEGRATIONS
        .iter()
        .map(|i| {
            let secret = if i.tenant == EXPIRED_SECRET_TENANT {
                "rotated-in-azure-but-not-in-the-lms".to_string()
            } else {
                demo_secret(i.id)
            };
            SimTenant::new(i.tenant, &demo_client_id(i.id), &secret)
        })
        .collect();
    SimConfig {
        latency: settings.latency,
        fault_rate: settings.fault_rate,
        directory: Directory::new(MailboxState::Unknown).with_rule(mailbox_state),
        tenants,
        ..SimConfig::default()
    }
}

/// Starts the demo's simulated Graph on a loopback port.
pub async fn start_simulator(settings: SimulatorSettings) -> std::io::Result<SimHandle> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], settings.port));
    SimServer::start_on(addr, simulator_config(&settings)).await
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Debug, Clone)]
pub struct DemoSpec {
    pub selections: u64,
    pub seed: u64,
    /// The moment the data is laid around (attempt times, conference dates).
    pub anchor: DateTime<Utc>,
}

impl DemoSpec {
    pub fn new(selections: u64) -> DemoSpec {
        let now = Utc::now();
        DemoSpec {
            selections,
            seed: 2025,
            anchor: now
                .with_minute(0)
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(now),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DemoReport {
    pub path: PathBuf,
    pub conferences: u64,
    pub slots: u64,
    pub users: u64,
    pub selections: u64,
}

/// splitmix64: small, fast and the same everywhere, so a seed always gives the same database.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Creates the demo database at `path` (replacing nothing: call [`remove`] first to rebuild).
/// The file appears whole or not at all: rows are written to a temporary file that is renamed.
pub fn create(
    path: &Path,
    spec: &DemoSpec,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DemoReport, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let partial = path.with_extension("db.partial");
    let _ = std::fs::remove_file(&partial);
    let result = generate(&partial, spec, progress);
    match result {
        Ok(mut report) => {
            std::fs::rename(&partial, path)
                .map_err(|e| format!("cannot move the demo database into place: {e}"))?;
            report.path = path.to_path_buf();
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// The demo's durable marker: the SQLite header's application id ("cals" in ASCII, as calsync's
/// advisory-lock namespace). It lives in the file header, so it survives copies and needs no
/// table in the LMS's schema; the LMS never sets one.
pub const DEMO_APPLICATION_ID: i64 = 0x6361_6c73;

/// Whether `store` is a demo database calsync created (never true on PostgreSQL).
pub async fn is_demo(store: &crate::store::Store) -> Result<bool, crate::store::StoreError> {
    Ok(store.application_id().await? == Some(DEMO_APPLICATION_ID))
}

/// Removes a demo database and its SQLite side files.
pub fn remove(path: &Path) -> Result<(), String> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", file.display())),
        }
    }
    Ok(())
}

fn sql_error(e: rusqlite::Error) -> String {
    format!("demo generation failed: {}", sqlite_message(&e))
}

struct Branch {
    id: i64,
    name: &'static str,
    domain: &'static str,
    teams_enabled: bool,
    /// The integration the LMS would use for users of this branch, if any.
    integration: Option<&'static str>,
}

const BRANCHES: [Branch; 5] = [
    Branch {
        id: 1,
        name: "North Campus",
        domain: "north.example",
        teams_enabled: true,
        integration: Some("north"),
    },
    Branch {
        id: 2,
        name: "South Campus",
        domain: "south.example",
        teams_enabled: true,
        integration: Some("south"),
    },
    Branch {
        id: 3,
        name: "Online Academy",
        domain: "online.example",
        teams_enabled: true,
        integration: Some("online"),
    },
    Branch {
        id: 4,
        name: "City Partners College",
        domain: "city.example",
        teams_enabled: false,
        integration: None,
    },
    Branch {
        id: 5,
        name: "Evening School",
        domain: "evening.example",
        teams_enabled: true,
        integration: None,
    },
];

/// A Teams integration row of the demo (owners are the branch admins, user ids 1 to 5).
pub struct DemoIntegration {
    pub id: i64,
    pub name: &'static str,
    pub active: bool,
    pub tenant: &'static str,
    pub owner: Option<i64>,
    pub branch: Option<i64>,
}

pub const INTEGRATIONS: [DemoIntegration; 6] = [
    DemoIntegration {
        id: 1,
        name: "North Campus Teams",
        active: true,
        tenant: "north.example",
        owner: Some(1),
        branch: Some(1),
    },
    DemoIntegration {
        id: 2,
        name: "South Campus Teams",
        active: true,
        tenant: "south.example",
        owner: Some(2),
        branch: Some(2),
    },
    DemoIntegration {
        id: 3,
        name: "Online Academy Teams",
        active: true,
        tenant: EXPIRED_SECRET_TENANT,
        owner: Some(3),
        branch: Some(3),
    },
    // Nobody owns it, so the LMS's lookup (through the owner's branch) never finds it.
    DemoIntegration {
        id: 4,
        name: "Production",
        active: true,
        tenant: "lms.example",
        owner: None,
        branch: None,
    },
    // Set up for Evening School by North's admin: Evening School's learners never find it either.
    DemoIntegration {
        id: 5,
        name: "Evening School Teams",
        active: true,
        tenant: "evening.example",
        owner: Some(1),
        branch: Some(5),
    },
    DemoIntegration {
        id: 6,
        name: "Old pilot (retired)",
        active: false,
        tenant: "north.example",
        owner: Some(1),
        branch: Some(1),
    },
];

/// The demo's (fake) app registration of an integration.
pub fn demo_client_id(integration: i64) -> String {
    format!("00000000-0000-4000-8000-{:012}", 1000 + integration)
}

/// The demo's (fake) client secret of an integration, as stored in the LMS database.
pub fn demo_secret(integration: i64) -> String {
    format!("demo-secret-{integration}-not-real")
}

const FIRST_NAMES: [&str; 32] = [
    "Ann", "Ben", "Chloé", "Dmitri", "Eve", "Farah", "Gareth", "Hana", "Ines", "José", "Kofi",
    "Lea", "Mateusz", "Nia", "Owen", "Priya", "Quentin", "Rosa", "Siobhán", "Tomás", "Uma",
    "Vikram", "Wen", "Xavier", "Yusuf", "Zoë", "Åsa", "Łukasz", "Noémie", "Ngozi", "Ravi", "Sven",
];
const LAST_NAMES: [&str; 24] = [
    "Adams", "Baker", "Castillo", "Dubois", "Evans", "Fischer", "García", "Hughes", "Ito", "Jones",
    "Kowalski", "Lefèvre", "Müller", "Nakamura", "O'Brien", "Patel", "Quinn", "Rossi", "Singh",
    "Taylor", "Ünal", "Virtanen", "Wright", "Zhang",
];

const TITLES: [&str; 40] = [
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

const PLATFORMS: [(&str, u64); 5] = [
    ("teams", 40),
    ("zoom", 25),
    ("google_meet", 15),
    ("webex", 10),
    ("other", 10),
];

/// Ordinary zones, then the awkward ones the slot form offers.
const ZONES: [&str; 10] = [
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

fn description(rng: &mut Rng, title: &str) -> Option<String> {
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

fn meeting_link(platform: &str, n: u64) -> String {
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

#[derive(Clone)]
struct PlannedSlot {
    id: i64,
    zone: &'static str,
}

struct PlannedConference {
    id: i64,
    instructors: Vec<i64>,
    slots: Vec<PlannedSlot>,
}

struct Writer<'c> {
    user: rusqlite::Statement<'c>,
    selection: rusqlite::Statement<'c>,
}

fn generate(
    path: &Path,
    spec: &DemoSpec,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DemoReport, String> {
    let mut conn = Connection::open(path).map_err(sql_error)?;
    // The demo file is ours alone while it is built: no journal, no fsync.
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = ON;",
    )
    .map_err(sql_error)?;
    conn.pragma_update(None, "application_id", DEMO_APPLICATION_ID)
        .map_err(sql_error)?;
    let (tables, indexes) = SCHEMA
        .split_once(INDEX_MARKER)
        .and_then(|(tables, rest)| Some((tables, rest.split_once('\n')?.1)))
        .ok_or("the bundled schema has no index section")?;
    conn.execute_batch(tables).map_err(sql_error)?;

    let mut rng = Rng(spec.seed);
    let anchor = spec.anchor;
    let ts = |t: DateTime<Utc>| django_datetime(t);
    let tx = conn.transaction().map_err(sql_error)?;

    for b in &BRANCHES {
        tx.execute(
            "INSERT INTO branches_branch (id, name, created_at, updated_at, description, is_active, \
             sharepoint_integration_enabled, order_management_enabled, business_id, \
             teams_integration_enabled) VALUES (?1, ?2, ?3, ?3, NULL, 1, 0, 0, NULL, ?4)",
            params![b.id, b.name, ts(anchor - Duration::days(400)), b.teams_enabled],
        )
        .map_err(sql_error)?;
    }

    let mut writer = Writer {
        user: tx
            .prepare(
                "INSERT INTO users_customuser (id, password, last_login, is_superuser, username, \
                 first_name, last_name, email, is_staff, is_active, date_joined, role, language, \
                 timezone, is_non_uk_address, initial_assessment_english, initial_assessment_maths, \
                 initial_assessment_subject_specific, initial_assessment_other, \
                 diagnostic_assessment_english, diagnostic_assessment_maths, \
                 diagnostic_assessment_subject_specific, diagnostic_assessment_other, \
                 functional_skills_english, functional_skills_maths, functional_skills_other, branch_id) \
                 VALUES (?1, '!unusable', NULL, 0, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, 'en', ?9, 0, \
                 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ?10)",
            )
            .map_err(sql_error)?,
        selection: tx
            .prepare(
                "INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, \
                 calendar_added, calendar_add_attempted_at, calendar_error, selected_at, ip_address, \
                 conference_id, time_slot_id, user_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(sql_error)?,
    };

    // Staff: an admin per branch (the integration owners), then instructors.
    let mut next_user = 1i64;
    let mut user_email: Vec<(i64, String, i64)> = Vec::new(); // (id, email, branch)
    for b in &BRANCHES {
        let username = format!("admin.{}", b.domain.split('.').next().unwrap_or("x"));
        let email = format!("{username}@{}", b.domain);
        insert_user(
            &mut writer,
            next_user,
            &username,
            "Branch",
            "Admin",
            &email,
            "admin",
            b.id,
            anchor,
        )?;
        user_email.push((next_user, email, b.id));
        next_user += 1;
    }
    let mut instructors = Vec::new();
    for i in 0..16u64 {
        // Most tutors work at the two big campuses; one at each of the others.
        let branch = &BRANCHES[match i {
            13 => 2,
            14 => 3,
            15 => 4,
            _ => (i % 2) as usize,
        }];
        let first = FIRST_NAMES[(i * 7 % 32) as usize];
        let last = LAST_NAMES[(i * 5 % 24) as usize];
        let username = format!("tutor{:02}", i + 1);
        let email = format!("{}.{}@{}", ascii(first), ascii(last), branch.domain);
        insert_user(
            &mut writer,
            next_user,
            &username,
            first,
            last,
            &email,
            "instructor",
            branch.id,
            anchor,
        )?;
        instructors.push((next_user, branch.id));
        user_email.push((next_user, email, branch.id));
        next_user += 1;
    }

    for i in &INTEGRATIONS {
        tx.execute(
            "INSERT INTO account_settings_teamsintegration (id, name, is_active, created_at, \
             updated_at, client_id, client_secret, tenant_id, access_token, token_expiry, \
             branch_id, user_id, service_account_email) \
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, NULL, NULL, ?8, ?9, NULL)",
            params![
                i.id,
                i.name,
                i.active,
                ts(anchor - Duration::days(200)),
                demo_client_id(i.id),
                demo_secret(i.id),
                i.tenant,
                i.branch,
                i.owner
            ],
        )
        .map_err(sql_error)?;
    }

    // Conferences and their slots.
    let mut conferences: Vec<PlannedConference> = Vec::new();
    let mut next_slot = 1i64;
    let mut slot_counts: Vec<i64> = vec![0; 1];
    for (n, title) in TITLES.iter().enumerate() {
        let id = n as i64 + 1;
        let platform = weighted(&mut rng, &PLATFORMS);
        let (creator, _) = instructors[n % instructors.len()];
        let mut conference_instructors = vec![creator];
        if n % 3 == 0 {
            conference_instructors.push(instructors[(n + 5) % instructors.len()].0);
        }
        let day = anchor.date_naive() + Duration::days(n as i64 * 3 - 45);
        let zone = *rng.pick(&ZONES);
        let use_time_slots = !(n == 12 || n == 31);
        let link = meeting_link(platform, n as u64);
        tx.execute(
            "INSERT INTO conferences_conference (id, title, description, date, start_time, end_time, \
             timezone, meeting_link, meeting_platform, meeting_id, meeting_password, host_url, \
             meeting_status, data_sync_status, last_sync_at, auto_recording_status, \
             auto_recording_enabled_at, visibility, status, default_join_type, join_experience, \
             allowed_join_methods, created_at, updated_at, course_id, created_by_id, rubric_id, \
             use_time_slots, online_meeting_id) VALUES (?1, ?2, ?3, ?4, '10:00:00', '11:00:00', ?5, \
             ?6, ?7, NULL, NULL, NULL, 'scheduled', 'pending', NULL, 'pending', NULL, 'public', \
             'published', 'guest', 'direct', 'auto_registered_only', ?8, ?8, NULL, ?9, NULL, ?10, NULL)",
            params![
                id,
                title,
                description(&mut rng, title),
                day.to_string(),
                zone,
                link,
                platform,
                ts(anchor - Duration::days(60)),
                creator,
                use_time_slots
            ],
        )
        .map_err(sql_error)?;

        let mut slots = Vec::new();
        let count = 3 + rng.below(4);
        for k in 0..count {
            let (date, start, end, slot_zone, slot_link) = special_slot(n, k as usize)
                .unwrap_or_else(|| {
                    let hour = 9 + (k as u32 * 2) % 8;
                    (
                        day + Duration::days(k as i64 / 2),
                        NaiveTime::from_hms_opt(hour, if k % 2 == 0 { 0 } else { 30 }, 0)
                            .unwrap_or_default(),
                        NaiveTime::from_hms_opt(hour + 1, if k % 2 == 0 { 0 } else { 30 }, 0)
                            .unwrap_or_default(),
                        zone,
                        if k == 1 {
                            Some(meeting_link(platform, 1000 + n as u64))
                        } else {
                            Some(String::new())
                        },
                    )
                });
            tx.execute(
                "INSERT INTO conferences_conferencetimeslot (id, date, start_time, end_time, timezone, \
                 max_participants, current_participants, meeting_link, meeting_id, meeting_password, \
                 is_available, created_at, updated_at, conference_id, online_meeting_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6, '', '', ?7, ?8, ?8, ?9, NULL)",
                params![
                    next_slot,
                    date.to_string(),
                    start.format("%H:%M:%S").to_string(),
                    end.format("%H:%M:%S").to_string(),
                    slot_zone,
                    slot_link,
                    k != 3,
                    ts(anchor - Duration::days(50)),
                    id
                ],
            )
            .map_err(sql_error)?;
            slots.push(PlannedSlot {
                id: next_slot,
                zone: slot_zone,
            });
            slot_counts.push(0);
            next_slot += 1;
        }
        conferences.push(PlannedConference {
            id,
            instructors: conference_instructors,
            slots,
        });
    }

    let total = spec.selections;
    let mut next_selection = 1i64;
    let mut emit = |writer: &mut Writer,
                    rng: &mut Rng,
                    conference: &PlannedConference,
                    slot: &PlannedSlot,
                    user: i64,
                    email: &str,
                    branch: i64,
                    slot_counts: &mut Vec<i64>|
     -> Result<(), String> {
        let outcome = sync_outcome(rng, email, branch, slot.zone, anchor);
        let selected = outcome.selected_at;
        writer
            .selection
            .execute(params![
                next_selection,
                outcome.event_id,
                outcome.added,
                outcome.attempted.map(ts),
                outcome.error,
                ts(selected),
                format!("198.51.100.{}", next_selection % 250 + 1),
                conference.id,
                slot.id,
                user
            ])
            .map_err(sql_error)?;
        slot_counts[slot.id as usize] += 1;
        next_selection += 1;
        Ok(())
    };

    // Instructors are auto-registered for every available slot of their conferences.
    let mut written = 0u64;
    'instructors: for conference in &conferences {
        for &instructor in &conference.instructors {
            let (_, email, branch) = user_email[(instructor - 1) as usize].clone();
            for slot in &conference.slots {
                if written >= total {
                    break 'instructors;
                }
                emit(
                    &mut writer,
                    &mut rng,
                    conference,
                    slot,
                    instructor,
                    &email,
                    branch,
                    &mut slot_counts,
                )?;
                written += 1;
            }
        }
    }

    // Learners hold one slot in each of one to three conferences.
    let mut learner = 0u64;
    while written < total {
        learner += 1;
        let branch = &BRANCHES[match rng.below(100) {
            0..=44 => 0,
            45..=85 => 1,
            86..=91 => 2,
            92..=95 => 3,
            _ => 4,
        }];
        let first = *rng.pick(&FIRST_NAMES);
        let last = *rng.pick(&LAST_NAMES);
        let username = format!("{}.{}{}", ascii(first), ascii(last), learner);
        let email = match learner {
            3 => String::new(),
            5 => format!("Mixed.Case{learner}@North.Example"),
            8 => format!("o'brien+lms{learner}@south.example"),
            _ if rng.chance(4) => format!("{username}@{PERSONAL_DOMAIN}"),
            _ => format!("{username}@{}", branch.domain),
        };
        insert_user(
            &mut writer,
            next_user,
            &username,
            first,
            last,
            &email,
            "learner",
            branch.id,
            anchor,
        )?;
        let user = next_user;
        next_user += 1;
        let first_conference = rng.below(conferences.len() as u64) as usize;
        let wanted = (1 + rng.below(3)).min(total - written);
        for j in 0..wanted as usize {
            let conference = &conferences[(first_conference + j * 13) % conferences.len()];
            let slot = rng.pick(&conference.slots).clone();
            emit(
                &mut writer,
                &mut rng,
                conference,
                &slot,
                user,
                &email,
                branch.id,
                &mut slot_counts,
            )?;
            written += 1;
        }
        if learner.is_multiple_of(4096) {
            progress(written, total);
        }
    }
    drop(writer);

    // The LMS's denormalised counter, drifting on a few slots as it does in production.
    {
        let mut update = tx
            .prepare("UPDATE conferences_conferencetimeslot SET current_participants = ?1, max_participants = ?2 WHERE id = ?3")
            .map_err(sql_error)?;
        for (id, count) in slot_counts.iter().enumerate().skip(1) {
            let drift = i64::from(id % 17 == 0);
            let max = if id % 4 == 0 { count + 5 } else { 0 };
            update
                .execute(params![count + drift, max, id as i64])
                .map_err(sql_error)?;
        }
    }
    tx.commit().map_err(sql_error)?;
    progress(total, total);
    conn.execute_batch(indexes).map_err(sql_error)?;
    conn.execute_batch("ANALYZE;").map_err(sql_error)?;
    Ok(DemoReport {
        path: path.to_path_buf(),
        conferences: conferences.len() as u64,
        slots: (next_slot - 1) as u64,
        users: (next_user - 1) as u64,
        selections: written,
    })
}

#[allow(clippy::too_many_arguments)]
fn insert_user(
    writer: &mut Writer,
    id: i64,
    username: &str,
    first: &str,
    last: &str,
    email: &str,
    role: &str,
    branch: i64,
    anchor: DateTime<Utc>,
) -> Result<(), String> {
    let timezone = if branch == 3 {
        "America/New_York"
    } else {
        "Europe/London"
    };
    writer
        .user
        .execute(params![
            id,
            username,
            first,
            last,
            email,
            role != "learner",
            django_datetime(anchor - Duration::days(300) + Duration::seconds(id)),
            role,
            timezone,
            branch
        ])
        .map(|_| ())
        .map_err(sql_error)
}

/// The awkward slots: DST edges, a midnight crossing, a zone Graph would never accept, and
/// hostile links. (conference index, slot index) → (date, start, end, zone, link)
#[allow(clippy::type_complexity)]
fn special_slot(
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

struct Outcome {
    selected_at: DateTime<Utc>,
    added: bool,
    event_id: Option<String>,
    attempted: Option<DateTime<Utc>>,
    error: Option<String>,
}

fn graph_url(email: &str) -> String {
    format!("https://graph.microsoft.com/v1.0/users/{email}/calendar/events")
}

/// What the LMS would have written for this person, in its real text formats.
fn sync_outcome(
    rng: &mut Rng,
    email: &str,
    branch: i64,
    zone: &str,
    anchor: DateTime<Utc>,
) -> Outcome {
    // Recent selections are denser: a quadratic skew towards the anchor.
    let age_minutes = {
        let r = rng.below(1000) as i64;
        r * r * 30 * 24 * 60 / 1_000_000
    };
    let selected_at = anchor
        - Duration::minutes(age_minutes)
        - Duration::seconds(rng.below(60) as i64)
        - Duration::microseconds(if rng.chance(70) {
            rng.below(1_000_000) as i64
        } else {
            0
        });
    let attempted_at = selected_at + Duration::milliseconds(400 + rng.below(3_000) as i64);
    let event_id = || format!("AAMkAGDemo{:016x}=", rng_id(email, selected_at));
    let failed = |error: String| Outcome {
        selected_at,
        added: false,
        event_id: None,
        attempted: Some(attempted_at),
        error: Some(error),
    };
    // Never attempted: the newest selections (the LMS's page failed before the call) and some
    // older ones made before calendar sync existed.
    if age_minutes < 90 && rng.chance(60) || rng.chance(6) {
        return Outcome {
            selected_at,
            added: false,
            event_id: None,
            attempted: None,
            error: if rng.chance(10) {
                Some(String::new())
            } else {
                None
            },
        };
    }
    let integration = BRANCHES
        .iter()
        .find(|b| b.id == branch)
        .and_then(|b| b.integration);
    if integration.is_none() {
        return failed("No Teams integration available".to_string());
    }
    if zone == "Foo/Bar" {
        return failed("'Foo/Bar'".to_string());
    }
    if email.is_empty() {
        return failed("User email address is required for calendar integration".to_string());
    }
    if integration == Some("online") {
        return failed(format!(
            "Token acquisition error: Token acquisition failed: AADSTS7000215: Invalid client secret provided. \
             Ensure the secret being sent in the request is the client secret value, not the client secret ID, \
             for a secret added to app '00000000-0000-4000-8000-000000001003'. Trace ID: {:08x}-demo \
             Correlation ID: {:08x}-demo Timestamp: {}",
            rng.next() as u32,
            rng.next() as u32,
            attempted_at.format("%Y-%m-%d %H:%M:%SZ")
        ));
    }
    match mailbox_state(email) {
        MailboxState::Unknown | MailboxState::NoMailbox | MailboxState::AccessDenied => {
            return failed(if rng.chance(15) {
                // The wording of rows written before the LMS's 2025-11-24 change.
                format!("The user '{email}' does not exist in Azure AD or doesn't have a mailbox")
            } else {
                format!(
                    "API request failed: 404 Client Error: Not Found for url: {}",
                    graph_url(email)
                )
            });
        }
        MailboxState::Ok => {}
    }
    let roll = rng.below(1000);
    match roll {
        0..=19 => failed(format!(
            "API request failed: 429 Client Error: Too Many Requests for url: {}",
            graph_url(email)
        )),
        20..=29 => failed(
            "API request failed: HTTPSConnectionPool(host='graph.microsoft.com', port=443): Read timed out. (read timeout=30)"
                .to_string(),
        ),
        30..=34 => failed(format!(
            "API request failed: 503 Server Error: Service Unavailable for url: {}",
            graph_url(email)
        )),
        35 => failed(format!(
            "API request failed: 400 Client Error: Bad Request \u{1b}[31mfor url\u{1b}[0m: {} — {}",
            graph_url(email),
            "détails: ".to_string() + &"x".repeat(2600)
        )),
        36..=54 => Outcome {
            selected_at,
            added: false,
            event_id: None,
            attempted: Some(attempted_at),
            error: None,
        },
        55..=84 => Outcome {
            selected_at,
            added: true,
            event_id: Some(event_id()),
            attempted: Some(attempted_at),
            error: Some(format!(
                "API request failed: 429 Client Error: Too Many Requests for url: {}",
                graph_url(email)
            )),
        },
        _ => Outcome {
            selected_at,
            added: true,
            event_id: Some(event_id()),
            attempted: Some(attempted_at),
            error: if rng.chance(20) { Some(String::new()) } else { None },
        },
    }
}

fn rng_id(email: &str, at: DateTime<Utc>) -> u64 {
    fnv1a(email.as_bytes()) ^ at.timestamp_micros() as u64
}

fn weighted(rng: &mut Rng, items: &[(&'static str, u64)]) -> &'static str {
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
fn ascii(name: &str) -> String {
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

/// What [`seed_simulator`] put into the simulated mailboxes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Events of added selections, under the ids the rows hold.
    pub events: usize,
    /// Added selections whose event is left out, as if deleted in Outlook (`verify` finds them).
    pub deleted_in_outlook: usize,
    /// A second event for an added selection's slot (the LMS's re-runs).
    pub duplicates: usize,
    /// An event for another slot of the conference: an orphan of a changed selection, or a
    /// duplicate for instructors, who hold every slot.
    pub other_slot: usize,
}

/// At most this many added selections get events (the demo has 2 000 selections by default).
pub const SEED_LIMIT: u32 = 20_000;

/// What the simulated mailboxes hold besides the event of each added selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    /// The demo's story: a few events deleted by their owners, the LMS's duplicates and the
    /// events of changed selections.
    AsTheLmsLeftThem,
    /// Nothing invented: a database calsync did not generate says nothing about deletions or
    /// duplicates, so a rehearsal on it must not report any.
    None,
}

/// Fills the simulated mailboxes with what the LMS would have left there: an event for each added
/// selection, a few deleted by their owners, and the LMS's duplicates and orphans, so `verify`
/// and `reconcile` have something to find in the demo. Deterministic, like the database.
pub async fn seed_simulator(
    store: &crate::store::Store,
    sim: &SimHandle,
) -> Result<SeedReport, String> {
    seed_mailboxes(store, sim, Leftovers::AsTheLmsLeftThem).await
}

/// Fills the simulated mailboxes with the events the database implies: one under the id each
/// added selection holds, plus the `leftovers` asked for.
pub async fn seed_mailboxes(
    store: &crate::store::Store,
    sim: &SimHandle,
    leftovers: Leftovers,
) -> Result<SeedReport, String> {
    let leftovers = leftovers == Leftovers::AsTheLmsLeftThem;
    use crate::domain::{Filter, PageRequest, Sort, SortKey, SyncState};
    let page = store
        .page(&PageRequest {
            filter: Filter {
                states: vec![SyncState::Added, SyncState::AddedStaleError],
                ..Filter::default()
            },
            sort: Sort {
                key: SortKey::Id,
                descending: false,
            },
            after: None,
            limit: SEED_LIMIT,
        })
        .await
        .map_err(|e| e.to_string())?;
    let slots = store.all_slots().await.map_err(|e| e.to_string())?;
    let state = sim.state();
    let mut report = SeedReport::default();
    for (n, row) in page.rows.iter().enumerate() {
        let Some(event_id) = row.sync.outlook_event_id.as_deref() else {
            continue;
        };
        let mailbox = row.email.trim();
        if mailbox.is_empty() {
            continue;
        }
        let Some(event) = lms_event(
            &row.conference_title,
            &row.platform,
            row.slot_date,
            row.slot_start,
            row.slot_end,
            &row.timezone,
        ) else {
            continue;
        };
        // The row holds the REST id the LMS got back (its calls send no `Prefer: IdType`).
        state.plant_event_with_id(mailbox, Some(event_id), &event)?;
        if leftovers && n % 40 == 7 {
            // Deleted by its owner: now in Deleted Items, its immutable id unchanged.
            state.delete_as_owner(mailbox, event_id);
            report.deleted_in_outlook += 1;
            continue;
        }
        report.events += 1;
        if leftovers && n % 30 == 11 {
            state.plant_event(mailbox, &event)?;
            report.duplicates += 1;
        }
        // Another slot of the same conference: the one the person held before changing.
        let other = slots
            .iter()
            .find(|s| s.conference_id == row.conference_id && s.id != row.time_slot_id);
        if leftovers
            && n % 50 == 23
            && let Some(slot) = other
            && let Some(event) = lms_event(
                &row.conference_title,
                &row.platform,
                slot.date,
                slot.start_time,
                slot.end_time,
                &slot.timezone,
            )
        {
            state.plant_event(mailbox, &event)?;
            report.other_slot += 1;
        }
    }
    Ok(report)
}

/// An event as the LMS sends it: the conference title as subject, wall-clock times in the slot's
/// IANA zone, no calsync tag, and a Teams meeting asked for on Teams conferences (so Exchange adds
/// its meeting block). None when the slot's zone is unusable (the LMS's call failed too).
fn lms_event(
    title: &str,
    platform: &str,
    date: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
    zone: &str,
) -> Option<serde_json::Value> {
    let window = crate::domain::resolve_slot_window(date, start, end, zone).ok()?;
    let local = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    // A zone Exchange refuses (an alias like America/Buenos_Aires) is kept the way Exchange
    // keeps every event: in a Windows zone.
    let times = if crate::sim::accepts_time_zone(zone) {
        crate::sync::zones::GraphTimes {
            time_zone: zone.to_string(),
            start: local(window.start_local),
            end: local(window.end_local),
        }
    } else {
        crate::sync::zones::graph_times(&window)
    };
    let mut event = serde_json::json!({
        "subject": crate::sync::payload::subject(title),
        "body": {"contentType": "HTML", "content": "<p>Added by the LMS.</p>"},
        "start": {"dateTime": times.start, "timeZone": times.time_zone},
        "end": {"dateTime": times.end, "timeZone": times.time_zone},
    });
    if platform == "teams" {
        event["isOnlineMeeting"] = serde_json::json!(true);
        event["onlineMeetingProvider"] = serde_json::json!("teamsForBusiness");
    }
    Some(event)
}
