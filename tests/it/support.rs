//! Real databases for tests: a temporary SQLite file, or a scratch database on the real
//! PostgreSQL server (`CALSYNC_TEST_PG`, default postgres://postgres@127.0.0.1:5432/postgres),
//! each created from the LMS's production-shaped schema.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use calsync::demo::lms_rows::{
    BranchRow, ConferenceRow, IntegrationRow, SelectionRow, SlotRow, UserRow, literal_insert,
};
use calsync::domain::Selection;
use calsync::store::{DatabaseUrl, Store, StoreOptions};

const SQLITE_SCHEMA: &str = include_str!("../../assets/schema/sqlite.sql");
pub const POSTGRES_SCHEMA: &str = include_str!("../../assets/schema/postgres.sql");

pub fn pg_admin_url() -> String {
    std::env::var("CALSYNC_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    sqlite_path: Option<PathBuf>,
    pg_name: Option<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// An empty LMS schema (no rows).
    pub async fn empty(backend: Backend) -> TestDb {
        let db = TestDb::blank(backend).await;
        db.exec(match backend {
            Backend::Sqlite => SQLITE_SCHEMA,
            Backend::Postgres => POSTGRES_SCHEMA,
        })
        .await;
        db
    }

    /// A database with no tables at all.
    pub async fn blank(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("lms.db");
                // Writing the header makes it a real (table-less) database, not an empty file.
                rusqlite::Connection::open(&path)
                    .and_then(|c| c.execute_batch("PRAGMA user_version = 1"))
                    .expect("create sqlite file");
                TestDb {
                    backend,
                    _dir: Some(dir),
                    sqlite_path: Some(path),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "calsync_test_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst)
                );
                let admin = pg_connect(&pg_admin_url()).await;
                for statement in [
                    format!("DROP DATABASE IF EXISTS {name}"),
                    format!("CREATE DATABASE {name}"),
                ] {
                    admin
                        .batch_execute(&statement)
                        .await
                        .expect("create scratch database (is PostgreSQL running? see .ci/run)");
                }
                TestDb {
                    backend,
                    _dir: None,
                    sqlite_path: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// The LMS schema plus the standard fixture rows (see [`fixture_sql`]).
    pub async fn with_fixture(backend: Backend) -> TestDb {
        let db = TestDb::empty(backend).await;
        db.exec(&fixture_sql()).await;
        db
    }

    pub fn url(&self) -> DatabaseUrl {
        match self.backend {
            Backend::Sqlite => DatabaseUrl::Sqlite(self.sqlite_path.clone().expect("sqlite path")),
            Backend::Postgres => DatabaseUrl::parse(&self.url_string()).expect("pg url"),
        }
    }

    pub fn url_string(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!(
                "sqlite:///{}",
                self.sqlite_path.as_ref().expect("sqlite path").display()
            ),
            Backend::Postgres => {
                let admin = pg_admin_url();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                format!(
                    "{base}/{}?sslmode=disable",
                    self.pg_name.as_ref().expect("pg name")
                )
            }
        }
    }

    /// The scratch PostgreSQL database's name.
    pub fn pg_name(&self) -> &str {
        self.pg_name.as_deref().expect("a PostgreSQL test database")
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.sqlite_path.clone().expect("a SQLite test database")
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.url(), &StoreOptions::default())
            .await
            .expect("open the test database")
    }

    /// Runs raw SQL (several statements) directly, bypassing calsync.
    pub async fn exec(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(self.sqlite_path()).expect("open sqlite");
                conn.execute_batch(sql).expect("fixture SQL on SQLite");
            }
            Backend::Postgres => {
                let client = pg_connect(&self.url_string()).await;
                client
                    .batch_execute(&format!("SET TIME ZONE 'UTC'; {sql}"))
                    .await
                    .expect("fixture SQL on PostgreSQL");
            }
        }
    }

    /// One text value from raw SQL, as the engine stores it (timestamps as text).
    pub async fn scalar_text(&self, sql: &str) -> Option<String> {
        match self.backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(self.sqlite_path()).expect("open sqlite");
                conn.query_row(sql, [], |r| r.get::<_, Option<String>>(0))
                    .expect("scalar query")
            }
            Backend::Postgres => {
                let client = pg_connect(&self.url_string()).await;
                client
                    .batch_execute("SET TIME ZONE 'UTC'")
                    .await
                    .expect("set tz");
                let row = client.query_one(sql, &[]).await.expect("scalar query");
                row.get::<_, Option<String>>(0)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop is synchronous; a short-lived thread with its own runtime does the async work.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    let admin = pg_connect(&pg_admin_url()).await;
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                });
            })
            .join();
        }
    }
}

pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e} (is PostgreSQL running? see .ci/run)"));
    tokio::spawn(connection);
    client
}

/// Runs one async test body against both backends, as `<name>_sqlite` and `<name>_postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($db:ident: Backend) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body($db: $crate::support::Backend) $body

            // Several tests block on child processes while an in-process server must keep serving.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body($crate::support::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                body($crate::support::Backend::Postgres).await
            }
        }
    };
}

/// Rows in every sync state, as SQL valid on both engines (TRUE/FALSE literals, naive-UTC text).
///
/// | id | user | slot | state             | notes                                        |
/// |----|------|------|-------------------|----------------------------------------------|
/// | 1  | 2    | 1    | added             | microseconds in both timestamps              |
/// | 2  | 3    | 1    | failed            | the LMS's 404 text, no microseconds          |
/// | 3  | 2    | 2    | added_stale_error | an old 429 error kept after success          |
/// | 4  | 4    | 3    | interrupted       | error is '' (means no error)                 |
/// | 5  | 5    | 3    | not_synced        |                                              |
/// | 6  | 6    | 4    | not_synced        | error '' and never attempted; slot zone bad  |
/// | 7  | 4    | 4    | failed            | unicode, 5000+ characters                    |
/// | 8  | 5    | 5    | added             | error ''; conference 3 has no time slots now |
/// | 9  | 3    | 3    | failed            | No Teams integration available               |
/// | 10 | 5    | 1    | not_synced        | selection's conference (2) ≠ slot's (1)      |
pub fn fixture_sql() -> String {
    [
        fixture_people(),
        fixture_conferences(),
        fixture_selections(),
    ]
    .concat()
}

/// The fixture's branches, users and Teams integration.
fn fixture_people() -> String {
    let made = "2025-11-01 08:00:00";
    let branches =
        [(1, "North Campus", true), (2, "South Campus", false)].map(|(id, name, teams)| {
            BranchRow {
                id,
                name: name.to_string(),
                created_at: made.to_string(),
                teams_integration_enabled: teams,
            }
        });
    #[rustfmt::skip]
    let users = [
        (1, "nadmin", "Nora", "Admin", "nora.admin@example.org", "2025-10-01 09:00:00", "admin", "UTC", Some(1)),
        (2, "itutor", "Ines", "Tutor", "ines.tutor@example.org", "2025-10-02 09:00:00", "instructor", "Europe/London", Some(1)),
        (3, "llearner", "Lea", "Learner", "lea.learner@example.org", "2025-10-03 09:00:00.250000", "learner", "UTC", Some(1)),
        (4, "zunal", "Zoë", "Ünal", "zoe.unal@example.org", "2025-10-04 09:00:00", "learner", "UTC", Some(2)),
        (5, "aother", "Ann", "Other", "Ann@X.org", "2025-10-05 09:00:00", "learner", "UTC", Some(2)),
        (6, "noemail", "", "", "", "2025-10-06 09:00:00", "learner", "UTC", None),
    ];
    let users = users.map(
        |(id, username, first, last, email, joined, role, timezone, branch)| UserRow {
            id,
            username: username.to_string(),
            first_name: first.to_string(),
            last_name: last.to_string(),
            email: email.to_string(),
            is_staff: false,
            date_joined: joined.to_string(),
            role: role.to_string(),
            timezone: timezone.to_string(),
            branch,
        },
    );
    let integration = IntegrationRow {
        id: 1,
        name: "North Campus Teams".to_string(),
        is_active: true,
        created_at: "2025-11-01 08:05:00".to_string(),
        client_id: "00000000-0000-0000-0000-00000000c1d0".to_string(),
        client_secret: "fixture-secret-not-real".to_string(),
        tenant_id: "contoso.onmicrosoft.com".to_string(),
        branch: Some(1),
        owner: Some(1),
    };
    [
        literal_insert(&branches),
        literal_insert(&users),
        literal_insert(&[integration]),
    ]
    .concat()
}

/// The fixture's conferences and their slots.
fn fixture_conferences() -> String {
    #[rustfmt::skip]
    let conferences = [
        (1, "Induction Q&A", Some("<p>Bring your questions.</p>"), "2025-12-15", "10:00:00", Some("11:00:00"), "Europe/London", "https://teams.microsoft.com/l/meetup-join/fixture", "teams", true),
        (2, "Zoom Clinic", None, "2026-03-29", "01:30:00", None, "Europe/London", "https://zoom.us/j/123", "zoom", true),
        (3, "Café numérique 会議", Some(""), "2025-12-31", "23:00:00", None, "Asia/Tokyo", "", "google_meet", false),
    ];
    let conferences = conferences.map(
        |(id, title, description, date, start, end, timezone, link, platform, slots)| {
            ConferenceRow {
                id,
                title: title.to_string(),
                description: description.map(str::to_string),
                date: date.to_string(),
                start_time: start.to_string(),
                end_time: end.map(str::to_string),
                timezone: timezone.to_string(),
                meeting_link: Some(link.to_string()),
                meeting_platform: platform.to_string(),
                created_at: "2025-11-20 14:30:00".to_string(),
                created_by: 2,
                use_time_slots: slots,
            }
        },
    );
    let teams_link = "https://teams.microsoft.com/l/meetup-join/fixture";
    #[rustfmt::skip]
    let slots = [
        (1, "2025-12-15", "10:00:00", "11:00:00", "Europe/London", 20, 3, Some(teams_link), Some(""), true, 1),
        (2, "2025-12-16", "14:00:00", "15:00:00", "Europe/London", 0, 1, Some(""), Some(""), true, 1),
        (3, "2026-03-29", "01:30:00", "02:30:00", "Europe/London", 0, 3, None, None, true, 2),
        (4, "2026-04-01", "10:00:00", "09:00:00", "Foo/Bar", 0, 2, Some(""), Some(""), true, 2),
        (5, "2025-12-31", "23:00:00", "01:00:00", "Asia/Tokyo", 0, 1, Some(""), Some(""), false, 3),
    ];
    let slots = slots.map(
        |(id, date, start, end, timezone, max, current, link, meeting, available, conference)| {
            SlotRow {
                id,
                date: date.to_string(),
                start_time: start.to_string(),
                end_time: end.to_string(),
                timezone: timezone.to_string(),
                max_participants: max,
                current_participants: current,
                meeting_link: link.map(str::to_string),
                meeting_id: meeting.map(str::to_string),
                meeting_password: meeting.map(str::to_string),
                is_available: available,
                created_at: "2025-11-20 14:35:00".to_string(),
                conference,
            }
        },
    );
    literal_insert(&conferences) + &literal_insert(&slots)
}

/// The fixture's selections, in every sync state.
fn fixture_selections() -> String {
    let not_found = "API request failed: 404 Client Error: Not Found for url: \
                     https://graph.microsoft.com/v1.0/users/lea.learner@example.org/calendar/events";
    let throttled = "API request failed: 429 Client Error: Too Many Requests for url: \
                     https://graph.microsoft.com/v1.0/users/ines.tutor@example.org/calendar/events";
    let long_error = format!("Échec: ErrorInvalidUser — 会議 {}", "y".repeat(5000));
    #[rustfmt::skip]
    let selections = [
        (1, Some("AAMkAGFixtureEventId00001="), true, Some("2025-11-21 09:00:01.250000"), None, "2025-11-21 09:00:00.812345", Some("192.0.2.10"), 1, 1, 2),
        (2, None, false, Some("2025-12-01 09:15:04"), Some(not_found), "2025-12-01 09:15:03.036326", Some("198.51.100.7"), 1, 1, 3),
        (3, Some("AAMkAGFixtureEventId00003="), true, Some("2025-12-02 10:00:00"), Some(throttled), "2025-12-02 09:59:59", None, 1, 2, 2),
        (4, None, false, Some("2025-12-03 08:00:00"), Some(""), "2025-12-03 07:59:00", None, 2, 3, 4),
        (5, None, false, None, None, "2025-12-04 11:00:00", None, 2, 3, 5),
        (6, None, false, None, Some(""), "2025-12-05 11:00:00", None, 2, 4, 6),
        (7, None, false, Some("2025-12-06 08:00:00.000001"), Some(long_error.as_str()), "2025-12-06 07:00:00", None, 2, 4, 4),
        (8, Some("AAMkAGFixtureEventId00008="), true, Some("2025-12-04 12:00:00.500000"), Some(""), "2025-12-04 11:59:00", None, 3, 5, 5),
        (9, None, false, Some("2025-12-05 00:00:00"), Some("No Teams integration available"), "2025-12-04 23:59:00", None, 2, 3, 3),
        (10, None, false, None, None, "2025-12-07 10:00:00", None, 2, 1, 5),
    ];
    let selections = selections.map(
        |(id, event, added, attempted, error, selected, ip, conference, slot, user)| SelectionRow {
            id,
            outlook_event_id: event.map(str::to_string),
            calendar_added: added,
            calendar_add_attempted_at: attempted.map(str::to_string),
            calendar_error: error.map(str::to_string),
            selected_at: selected.to_string(),
            ip_address: ip.map(str::to_string),
            conference,
            slot,
            user,
        },
    );
    literal_insert(&selections)
}

/// A learner named "Learner <id>", joined 2025-10-01, with the given login and address.
pub fn learner_row(id: i64, username: &str, email: &str, branch: Option<i64>) -> UserRow {
    UserRow {
        id,
        username: username.to_string(),
        first_name: "Learner".to_string(),
        last_name: id.to_string(),
        email: email.to_string(),
        is_staff: false,
        date_joined: "2025-10-01 00:00:00".to_string(),
        role: "learner".to_string(),
        timezone: "UTC".to_string(),
        branch,
    }
}

/// The length in characters of selection 7's error: a 29-character prefix plus 5000 `y`.
pub const LONG_ERROR_LEN: usize = 29 + 5000;

/// What a person filter matches, decided in Rust from a row: containment ignoring case (Unicode
/// letters folded as `str::to_lowercase` folds them) in the username, email or full name.
pub fn is_person(s: &Selection, text: &str) -> bool {
    contains_folded(&s.username, text)
        || contains_folded(&s.email, text)
        || contains_folded(&format!("{} {}", s.first_name, s.last_name), text)
}

/// What a free-text filter matches, decided in Rust: the person, the conference's title or the
/// error text.
pub fn is_text(s: &Selection, text: &str) -> bool {
    is_person(s, text)
        || contains_folded(&s.conference_title, text)
        || s.sync
            .error
            .as_deref()
            .is_some_and(|e| contains_folded(e, text))
}

fn contains_folded(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}
