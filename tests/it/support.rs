//! Real databases for tests: a temporary SQLite file, or a scratch database on the real
//! PostgreSQL server (`CALSYNC_TEST_PG`, default postgres://postgres@127.0.0.1:5432/postgres),
//! each created from the LMS's production-shaped schema.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

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

    /// The LMS schema plus the standard fixture rows (see [`FIXTURE`]).
    pub async fn with_fixture(backend: Backend) -> TestDb {
        let db = TestDb::empty(backend).await;
        db.exec(FIXTURE).await;
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

/// Rows in every sync state, valid on both engines (TRUE/FALSE literals, naive-UTC text).
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
pub const FIXTURE: &str = r#"
INSERT INTO branches_branch (id, name, created_at, updated_at, description, is_active,
  sharepoint_integration_enabled, order_management_enabled, business_id, teams_integration_enabled)
VALUES (1, 'North Campus', '2025-11-01 08:00:00', '2025-11-01 08:00:00', NULL, TRUE, FALSE, FALSE, NULL, TRUE),
       (2, 'South Campus', '2025-11-01 08:00:00', '2025-11-01 08:00:00', NULL, TRUE, FALSE, FALSE, NULL, FALSE);

INSERT INTO users_customuser (id, password, last_login, is_superuser, username, first_name, last_name, email,
  is_staff, is_active, date_joined, role, language, timezone, is_non_uk_address,
  initial_assessment_english, initial_assessment_maths, initial_assessment_subject_specific,
  initial_assessment_other, diagnostic_assessment_english, diagnostic_assessment_maths,
  diagnostic_assessment_subject_specific, diagnostic_assessment_other,
  functional_skills_english, functional_skills_maths, functional_skills_other, branch_id)
VALUES
 (1, '!unusable', NULL, FALSE, 'nadmin', 'Nora', 'Admin', 'nora.admin@example.org', FALSE, TRUE, '2025-10-01 09:00:00', 'admin', 'en', 'UTC', FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, 1),
 (2, '!unusable', NULL, FALSE, 'itutor', 'Ines', 'Tutor', 'ines.tutor@example.org', FALSE, TRUE, '2025-10-02 09:00:00', 'instructor', 'en', 'Europe/London', FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, 1),
 (3, '!unusable', NULL, FALSE, 'llearner', 'Lea', 'Learner', 'lea.learner@example.org', FALSE, TRUE, '2025-10-03 09:00:00.250000', 'learner', 'en', 'UTC', FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, 1),
 (4, '!unusable', NULL, FALSE, 'zunal', 'Zoë', 'Ünal', 'zoe.unal@example.org', FALSE, TRUE, '2025-10-04 09:00:00', 'learner', 'en', 'UTC', FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, 2),
 (5, '!unusable', NULL, FALSE, 'aother', 'Ann', 'Other', 'Ann@X.org', FALSE, TRUE, '2025-10-05 09:00:00', 'learner', 'en', 'UTC', FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, 2),
 (6, '!unusable', NULL, FALSE, 'noemail', '', '', '', FALSE, TRUE, '2025-10-06 09:00:00', 'learner', 'en', 'UTC', FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, NULL);

INSERT INTO account_settings_teamsintegration (id, name, is_active, created_at, updated_at, client_id,
  client_secret, tenant_id, access_token, token_expiry, branch_id, user_id, service_account_email)
VALUES (1, 'North Campus Teams', TRUE, '2025-11-01 08:05:00', '2025-11-01 08:05:00',
  '00000000-0000-0000-0000-00000000c1d0', 'fixture-secret-not-real', 'contoso.onmicrosoft.com',
  NULL, NULL, 1, 1, NULL);

INSERT INTO conferences_conference (id, title, description, date, start_time, end_time, timezone,
  meeting_link, meeting_platform, meeting_status, data_sync_status, auto_recording_status, visibility,
  status, default_join_type, join_experience, allowed_join_methods, created_at, updated_at, course_id,
  created_by_id, rubric_id, use_time_slots)
VALUES
 (1, 'Induction Q&A', '<p>Bring your questions.</p>', '2025-12-15', '10:00:00', '11:00:00', 'Europe/London',
  'https://teams.microsoft.com/l/meetup-join/fixture', 'teams', 'scheduled', 'pending', 'pending', 'public',
  'published', 'guest', 'direct', 'auto_registered_only', '2025-11-20 14:30:00', '2025-11-20 14:30:00', NULL, 2, NULL, TRUE),
 (2, 'Zoom Clinic', NULL, '2026-03-29', '01:30:00', NULL, 'Europe/London',
  'https://zoom.us/j/123', 'zoom', 'scheduled', 'pending', 'pending', 'public',
  'published', 'guest', 'direct', 'auto_registered_only', '2025-11-20 14:30:00', '2025-11-20 14:30:00', NULL, 2, NULL, TRUE),
 (3, 'Café numérique 会議', '', '2025-12-31', '23:00:00', NULL, 'Asia/Tokyo',
  '', 'google_meet', 'scheduled', 'pending', 'pending', 'public',
  'published', 'guest', 'direct', 'auto_registered_only', '2025-11-20 14:30:00', '2025-11-20 14:30:00', NULL, 2, NULL, FALSE);

INSERT INTO conferences_conferencetimeslot (id, date, start_time, end_time, timezone, max_participants,
  current_participants, meeting_link, meeting_id, meeting_password, is_available, created_at, updated_at,
  conference_id, online_meeting_id)
VALUES
 (1, '2025-12-15', '10:00:00', '11:00:00', 'Europe/London', 20, 3, 'https://teams.microsoft.com/l/meetup-join/fixture', '', '', TRUE, '2025-11-20 14:35:00', '2025-11-20 14:35:00', 1, NULL),
 (2, '2025-12-16', '14:00:00', '15:00:00', 'Europe/London', 0, 1, '', '', '', TRUE, '2025-11-20 14:35:00', '2025-11-20 14:35:00', 1, NULL),
 (3, '2026-03-29', '01:30:00', '02:30:00', 'Europe/London', 0, 3, NULL, NULL, NULL, TRUE, '2025-11-20 14:35:00', '2025-11-20 14:35:00', 2, NULL),
 (4, '2026-04-01', '10:00:00', '09:00:00', 'Foo/Bar', 0, 2, '', '', '', TRUE, '2025-11-20 14:35:00', '2025-11-20 14:35:00', 2, NULL),
 (5, '2025-12-31', '23:00:00', '01:00:00', 'Asia/Tokyo', 0, 1, '', '', '', FALSE, '2025-11-20 14:35:00', '2025-11-20 14:35:00', 3, NULL);

INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, calendar_added,
  calendar_add_attempted_at, calendar_error, selected_at, ip_address, conference_id, time_slot_id, user_id)
VALUES
 (1, 'AAMkAGFixtureEventId00001=', TRUE, '2025-11-21 09:00:01.250000', NULL, '2025-11-21 09:00:00.812345', '192.0.2.10', 1, 1, 2),
 (2, NULL, FALSE, '2025-12-01 09:15:04', 'API request failed: 404 Client Error: Not Found for url: https://graph.microsoft.com/v1.0/users/lea.learner@example.org/calendar/events', '2025-12-01 09:15:03.036326', '198.51.100.7', 1, 1, 3),
 (3, 'AAMkAGFixtureEventId00003=', TRUE, '2025-12-02 10:00:00', 'API request failed: 429 Client Error: Too Many Requests for url: https://graph.microsoft.com/v1.0/users/ines.tutor@example.org/calendar/events', '2025-12-02 09:59:59', NULL, 1, 2, 2),
 (4, NULL, FALSE, '2025-12-03 08:00:00', '', '2025-12-03 07:59:00', NULL, 2, 3, 4),
 (5, NULL, FALSE, NULL, NULL, '2025-12-04 11:00:00', NULL, 2, 3, 5),
 (6, NULL, FALSE, NULL, '', '2025-12-05 11:00:00', NULL, 2, 4, 6),
 (7, NULL, FALSE, '2025-12-06 08:00:00.000001', 'Échec: ErrorInvalidUser — 会議 ' || REPLACE(REPLACE(REPLACE(REPLACE('xxxxxxxxxx', 'x', 'xxxxxxxxxx'), 'x', 'xxxxxxxxxx'), 'x', 'xxxxx'), 'x', 'y'), '2025-12-06 07:00:00', NULL, 2, 4, 4),
 (8, 'AAMkAGFixtureEventId00008=', TRUE, '2025-12-04 12:00:00.500000', '', '2025-12-04 11:59:00', NULL, 3, 5, 5),
 (9, NULL, FALSE, '2025-12-05 00:00:00', 'No Teams integration available', '2025-12-04 23:59:00', NULL, 2, 3, 3),
 (10, NULL, FALSE, NULL, NULL, '2025-12-07 10:00:00', NULL, 2, 1, 5);
"#;

/// The length in characters of selection 7's error: a 29-character prefix plus 5000 `y`.
pub const LONG_ERROR_LEN: usize = 29 + 5000;
