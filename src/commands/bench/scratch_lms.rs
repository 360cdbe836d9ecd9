//! The fresh LMS database each `bench sync` run starts from (the LMS's real SQLite schema), and
//! what the rows say was recorded after the run.

use std::path::Path;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags};

use super::world::Spec;
use crate::commands::{CliError, store_options};
use crate::demo::lms_rows::{
    BranchRow, ConferenceRow, IntegrationRow, SelectionRow, SlotRow, SqliteWriter, UserRow,
};
use crate::domain::{Filter, Scope};
use crate::store::{DatabaseUrl, Store, django_datetime, sqlite_message};

const LMS_SCHEMA: &str = include_str!("../../../assets/schema/sqlite.sql");

pub(super) const TENANT: &str = "bench.onmicrosoft.com";

pub(super) const CLIENT_ID: &str = "00000000-0000-0000-0000-0000000be4c4";

pub(super) const SECRET: &str = "bench-secret-not-real";

pub(super) const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// When the scratch rows say they were made.
const MADE: &str = "2026-11-01 08:00:00";

/// The branch, its admin (who owns the one active Teams integration, so the LMS's lookup finds
/// it for every learner of the branch) and one Teams conference that uses time slots.
fn fixed_rows(conn: &Connection) -> rusqlite::Result<()> {
    SqliteWriter::new(conn)?.write(&BranchRow {
        id: 1,
        name: "Bench Campus".to_string(),
        created_at: MADE.to_string(),
        teams_integration_enabled: true,
    })?;
    SqliteWriter::new(conn)?.write(&person(1, "bench.admin", "admin@bench.example", "admin"))?;
    SqliteWriter::new(conn)?.write(&IntegrationRow {
        id: 1,
        name: "Bench Teams".to_string(),
        is_active: true,
        created_at: MADE.to_string(),
        client_id: CLIENT_ID.to_string(),
        client_secret: SECRET.to_string(),
        tenant_id: TENANT.to_string(),
        branch: Some(1),
        owner: Some(1),
    })?;
    SqliteWriter::new(conn)?.write(&ConferenceRow {
        id: 1,
        title: "Bench office hours".to_string(),
        description: Some("<p>Bring your questions.</p>".to_string()),
        date: "2027-01-04".to_string(),
        start_time: "10:00:00".to_string(),
        end_time: Some("11:00:00".to_string()),
        timezone: "Europe/London".to_string(),
        meeting_link: Some("https://teams.microsoft.com/l/meetup-join/bench".to_string()),
        meeting_platform: "teams".to_string(),
        created_at: MADE.to_string(),
        created_by: 1,
        use_time_slots: true,
    })
}

fn person(id: i64, username: &str, email: &str, role: &str) -> UserRow {
    UserRow {
        id,
        username: username.to_string(),
        first_name: if role == "admin" { "Bench" } else { "Learner" }.to_string(),
        last_name: if role == "admin" {
            "Admin".to_string()
        } else {
            (id - 2).to_string()
        },
        email: email.to_string(),
        is_staff: false,
        date_joined: MADE.to_string(),
        role: role.to_string(),
        timezone: "UTC".to_string(),
        branch: Some(1),
    }
}

/// `k` days after the conference's first day (2027-01-04), at its hour.
fn slot(k: u32) -> SlotRow {
    let first = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap_or_default();
    SlotRow {
        id: i64::from(k) + 1,
        date: (first + Duration::days(i64::from(k))).to_string(),
        start_time: "10:00:00".to_string(),
        end_time: "11:00:00".to_string(),
        timezone: "Europe/London".to_string(),
        max_participants: 0,
        current_participants: 0,
        meeting_link: None,
        meeting_id: None,
        meeting_password: None,
        is_available: true,
        created_at: MADE.to_string(),
        conference: 1,
    }
}

/// Selection `j` of learner `u` on slot `k`, made `j` seconds after the first, never synced.
fn selection(j: u32, k: u32, u: u32) -> SelectionRow {
    let first = Utc
        .with_ymd_and_hms(2026, 11, 2, 8, 0, 0)
        .single()
        .unwrap_or_default();
    SelectionRow {
        id: i64::from(j) + 1,
        outlook_event_id: None,
        calendar_added: false,
        calendar_add_attempted_at: None,
        calendar_error: None,
        selected_at: django_datetime(first + Duration::seconds(i64::from(j))),
        ip_address: None,
        conference: 1,
        slot: i64::from(k) + 1,
        user: i64::from(u) + 2,
    }
}

/// A fresh LMS database (the real schema, default journal and sync settings, as the LMS runs
/// SQLite) with `selections` not-yet-synced rows dealt round-robin over `mailboxes` learners;
/// each learner's selections are on distinct slots, as the LMS's unique index requires.
pub(super) async fn create_lms_db(path: &Path, spec: &Spec) -> Result<(), CliError> {
    let path = path.to_path_buf();
    let (n, m) = (spec.selections, spec.mailboxes);
    tokio::task::spawn_blocking(move || {
        let db = |e: rusqlite::Error| {
            CliError::failed(format!(
                "cannot build the scratch database: {}",
                sqlite_message(&e)
            ))
        };
        let mut conn = Connection::open(&path).map_err(db)?;
        conn.execute_batch(LMS_SCHEMA).map_err(db)?;
        let tx = conn.transaction().map_err(db)?;
        fixed_rows(&tx).map_err(db)?;
        {
            let mut slots = SqliteWriter::new(&tx).map_err(db)?;
            for k in 0..n.div_ceil(m) {
                slots.write(&slot(k)).map_err(db)?;
            }
            let mut users = SqliteWriter::new(&tx).map_err(db)?;
            for u in 0..m {
                let name = format!("learner{u}");
                let email = format!("{name}@bench.example");
                users
                    .write(&person(i64::from(u) + 2, &name, &email, "learner"))
                    .map_err(db)?;
            }
            let mut selections = SqliteWriter::new(&tx).map_err(db)?;
            for j in 0..n {
                selections.write(&selection(j, j / m, j % m)).map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    })
    .await
    .map_err(|e| CliError::failed(format!("the scratch database task failed: {e}")))?
}

pub(super) fn unsynced() -> Filter {
    Filter {
        scope: Some(Scope::Unsynced),
        ..Filter::default()
    }
}

pub(super) async fn open_scratch(path: &Path) -> Result<Store, CliError> {
    Ok(Store::open(&DatabaseUrl::Sqlite(path.to_path_buf()), &store_options()?).await?)
}

/// Every added row's (mailbox, event id), read straight from the file.
pub(super) async fn recorded_events(path: &Path) -> Result<Vec<(String, String)>, CliError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut statement = conn.prepare(
            "SELECT u.email, s.outlook_event_id FROM conferences_conferencetimeslotselection s \
             JOIN users_customuser u ON u.id = s.user_id \
             WHERE s.calendar_added AND s.outlook_event_id IS NOT NULL",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<Result<Vec<(String, String)>, _>>()
    })
    .await
    .map_err(|e| CliError::failed(format!("the database task failed: {e}")))?
    .map_err(|e| CliError::failed(format!("cannot read the results: {}", sqlite_message(&e))))
}
