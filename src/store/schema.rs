//! The LMS tables and the columns calsync relies on. Checked by name on every connect, so a
//! database Django migrated (with extra columns, in any order) passes and anything else is
//! refused with one line that says what is missing.

use super::sql::{self, BRANCH, CONFERENCE, INTEGRATION, SELECTION, SLOT, USER};
use super::{Store, StoreError};

pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
}

pub const TABLES: [Table; 6] = [
    Table {
        name: SELECTION,
        columns: &[
            "id",
            "conference_id",
            "time_slot_id",
            "user_id",
            "outlook_event_id",
            "calendar_added",
            "calendar_add_attempted_at",
            "calendar_error",
            "selected_at",
        ],
    },
    Table {
        name: SLOT,
        columns: &[
            "id",
            "conference_id",
            "date",
            "start_time",
            "end_time",
            "timezone",
            "meeting_link",
            "is_available",
            "max_participants",
            "current_participants",
            "updated_at",
        ],
    },
    Table {
        name: CONFERENCE,
        columns: &[
            "id",
            "title",
            "description",
            "meeting_platform",
            "meeting_link",
            "use_time_slots",
            "created_by_id",
            "status",
            "meeting_status",
            "date",
            "start_time",
            "timezone",
        ],
    },
    Table {
        name: USER,
        columns: &[
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "role",
            "branch_id",
            "is_active",
            "timezone",
        ],
    },
    Table {
        name: BRANCH,
        columns: &["id", "name", "is_active", "teams_integration_enabled"],
    },
    Table {
        name: INTEGRATION,
        columns: &[
            "id",
            "name",
            "is_active",
            "client_id",
            "client_secret",
            "tenant_id",
            "user_id",
            "branch_id",
        ],
    },
];

pub async fn check(store: &Store) -> Result<(), StoreError> {
    for table in &TABLES {
        let present = store
            .query(
                sql::table_columns(store.dialect(), table.name),
                sql::map_text,
            )
            .await?;
        if present.is_empty() {
            return Err(StoreError::Schema(format!(
                "database has no table {} — is this the LMS database?",
                table.name
            )));
        }
        let missing: Vec<&str> = table
            .columns
            .iter()
            .copied()
            .filter(|column| !present.iter().any(|p| p == column))
            .collect();
        if !missing.is_empty() {
            let noun = if missing.len() == 1 {
                "column"
            } else {
                "columns"
            };
            return Err(StoreError::Schema(format!(
                "table {} has no {noun} {} — is this the LMS database (migrated to 2025-11 or later)?",
                table.name,
                missing.join(", ")
            )));
        }
    }
    Ok(())
}
