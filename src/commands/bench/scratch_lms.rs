//! The fresh LMS database each `bench sync` run starts from (the LMS's real SQLite schema), and
//! what the rows say was recorded after the run.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};

use super::world::Spec;
use crate::commands::{CliError, store_options};
use crate::domain::{Filter, Scope};
use crate::store::{DatabaseUrl, Store, sqlite_message};

const LMS_SCHEMA: &str = include_str!("../../../assets/schema/sqlite.sql");

pub(super) const TENANT: &str = "bench.onmicrosoft.com";

pub(super) const CLIENT_ID: &str = "00000000-0000-0000-0000-0000000be4c4";

pub(super) const SECRET: &str = "bench-secret-not-real";

pub(super) const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// The branch, its admin (who owns the one active Teams integration, so the LMS's lookup finds
/// it for every learner of the branch) and one Teams conference that uses time slots.
const FIXED_ROWS: &str = "
INSERT INTO branches_branch (id, name, created_at, updated_at, description, is_active,
  sharepoint_integration_enabled, order_management_enabled, business_id, teams_integration_enabled)
VALUES (1, 'Bench Campus', '2026-11-01 08:00:00', '2026-11-01 08:00:00', NULL, TRUE, FALSE, FALSE, NULL, TRUE);
INSERT INTO users_customuser (id, password, last_login, is_superuser, username, first_name, last_name, email,
  is_staff, is_active, date_joined, role, language, timezone, is_non_uk_address,
  initial_assessment_english, initial_assessment_maths, initial_assessment_subject_specific,
  initial_assessment_other, diagnostic_assessment_english, diagnostic_assessment_maths,
  diagnostic_assessment_subject_specific, diagnostic_assessment_other,
  functional_skills_english, functional_skills_maths, functional_skills_other, branch_id)
VALUES (1, '!unusable', NULL, FALSE, 'bench.admin', 'Bench', 'Admin', 'admin@bench.example', FALSE, TRUE,
  '2026-11-01 08:00:00', 'admin', 'en', 'UTC', FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE,
  FALSE, FALSE, FALSE, 1);
INSERT INTO conferences_conference (id, title, description, date, start_time, end_time, timezone,
  meeting_link, meeting_platform, meeting_status, data_sync_status, auto_recording_status, visibility,
  status, default_join_type, join_experience, allowed_join_methods, created_at, updated_at, course_id,
  created_by_id, rubric_id, use_time_slots)
VALUES (1, 'Bench office hours', '<p>Bring your questions.</p>', '2027-01-04', '10:00:00', '11:00:00',
  'Europe/London', 'https://teams.microsoft.com/l/meetup-join/bench', 'teams', 'scheduled', 'pending',
  'pending', 'public', 'published', 'guest', 'direct', 'auto_registered_only', '2026-11-01 08:00:00',
  '2026-11-01 08:00:00', NULL, 1, NULL, TRUE);
";

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
        tx.execute_batch(FIXED_ROWS).map_err(db)?;
        tx.execute(
            "INSERT INTO account_settings_teamsintegration (id, name, is_active, created_at, \
             updated_at, client_id, client_secret, tenant_id, access_token, token_expiry, branch_id, \
             user_id, service_account_email) VALUES (1, 'Bench Teams', TRUE, '2026-11-01 08:00:00', \
             '2026-11-01 08:00:00', ?1, ?2, ?3, NULL, NULL, 1, 1, NULL)",
            params![CLIENT_ID, SECRET, TENANT],
        )
        .map_err(db)?;
        {
            let mut slot = tx
                .prepare(
                    "INSERT INTO conferences_conferencetimeslot (id, date, start_time, end_time, \
                     timezone, max_participants, current_participants, meeting_link, meeting_id, \
                     meeting_password, is_available, created_at, updated_at, conference_id, \
                     online_meeting_id) VALUES (?1 + 1, date('2027-01-04', '+' || ?1 || ' days'), \
                     '10:00:00', '11:00:00', 'Europe/London', 0, 0, NULL, NULL, NULL, TRUE, \
                     '2026-11-01 08:00:00', '2026-11-01 08:00:00', 1, NULL)",
                )
                .map_err(db)?;
            for k in 0..n.div_ceil(m) {
                slot.execute(params![k]).map_err(db)?;
            }
            let mut user = tx
                .prepare(
                    "INSERT INTO users_customuser (id, password, last_login, is_superuser, username, \
                     first_name, last_name, email, is_staff, is_active, date_joined, role, language, \
                     timezone, is_non_uk_address, initial_assessment_english, \
                     initial_assessment_maths, initial_assessment_subject_specific, \
                     initial_assessment_other, diagnostic_assessment_english, \
                     diagnostic_assessment_maths, diagnostic_assessment_subject_specific, \
                     diagnostic_assessment_other, functional_skills_english, functional_skills_maths, \
                     functional_skills_other, branch_id) VALUES (?1 + 2, '!unusable', NULL, FALSE, \
                     'learner' || ?1, 'Learner', ?1, 'learner' || ?1 || '@bench.example', FALSE, TRUE, \
                     '2026-11-01 08:00:00', 'learner', 'en', 'UTC', FALSE, FALSE, FALSE, FALSE, FALSE, \
                     FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, 1)",
                )
                .map_err(db)?;
            for u in 0..m {
                user.execute(params![u]).map_err(db)?;
            }
            let mut selection = tx
                .prepare(
                    "INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, \
                     calendar_added, calendar_add_attempted_at, calendar_error, selected_at, \
                     ip_address, conference_id, time_slot_id, user_id) VALUES (?1 + 1, NULL, FALSE, \
                     NULL, NULL, datetime('2026-11-02 08:00:00', '+' || ?1 || ' seconds'), NULL, 1, \
                     ?2 + 1, ?3 + 2)",
                )
                .map_err(db)?;
            for j in 0..n {
                selection.execute(params![j, j / m, j % m]).map_err(db)?;
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
