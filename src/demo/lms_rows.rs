//! The LMS's wide rows, written in one place. Django's tables carry dozens of NOT NULL columns
//! calsync never reads (assessment flags, join settings); each row type here names the columns
//! that matter and fills the rest as Django would, so the demo, the benches and the tests write
//! the same rows. Two writers share the column lists: prepared SQLite statements for bulk
//! generation, and portable literal SQL (valid on SQLite and PostgreSQL) for fixtures.

use std::marker::PhantomData;

use rusqlite::types::{ToSql, ToSqlOutput};

/// One value of a row, as both writers understand it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}

impl From<bool> for Cell {
    fn from(b: bool) -> Cell {
        Cell::Bool(b)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_string())
    }
}

impl From<&String> for Cell {
    fn from(text: &String) -> Cell {
        Cell::Text(text.clone())
    }
}

impl<T: Into<Cell> + Clone> From<&Option<T>> for Cell {
    fn from(value: &Option<T>) -> Cell {
        value.clone().map_or(Cell::Null, Into::into)
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Cell::Null => rusqlite::types::Null.to_sql(),
            Cell::Int(n) => n.to_sql(),
            Cell::Bool(b) => b.to_sql(),
            Cell::Text(text) => text.to_sql(),
        }
    }
}

impl Cell {
    /// The value as an SQL literal both engines read the same way.
    fn literal(&self) -> String {
        match self {
            Cell::Null => "NULL".to_string(),
            Cell::Int(n) => n.to_string(),
            Cell::Bool(true) => "TRUE".to_string(),
            Cell::Bool(false) => "FALSE".to_string(),
            Cell::Text(text) => format!("'{}'", text.replace('\'', "''")),
        }
    }
}

/// A row of one of the LMS's tables: its column names and, in that order, its values.
pub trait LmsRow {
    const TABLE: &'static str;
    const COLUMNS: &'static [&'static str];
    fn cells(&self) -> Vec<Cell>;
}

/// A prepared SQLite insert for rows of one table.
pub struct SqliteWriter<'c, R> {
    statement: rusqlite::Statement<'c>,
    row: PhantomData<R>,
}

impl<'c, R: LmsRow> SqliteWriter<'c, R> {
    pub fn new(conn: &'c rusqlite::Connection) -> rusqlite::Result<Self> {
        let placeholders: Vec<String> = (1..=R::COLUMNS.len()).map(|n| format!("?{n}")).collect();
        let text = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            R::TABLE,
            R::COLUMNS.join(", "),
            placeholders.join(", ")
        );
        Ok(SqliteWriter {
            statement: conn.prepare(&text)?,
            row: PhantomData,
        })
    }

    pub fn write(&mut self, row: &R) -> rusqlite::Result<()> {
        let cells = row.cells();
        self.statement
            .execute(rusqlite::params_from_iter(cells.iter()))
            .map(|_| ())
    }
}

/// One `INSERT` of `rows` as literal SQL, valid on SQLite and PostgreSQL; empty for no rows.
pub fn literal_insert<R: LmsRow>(rows: &[R]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let values: Vec<String> = rows
        .iter()
        .map(|row| {
            let cells: Vec<String> = row.cells().iter().map(Cell::literal).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES\n{};\n",
        R::TABLE,
        R::COLUMNS.join(", "),
        values.join(",\n")
    )
}

/// `branches_branch`.
#[derive(Debug, Clone)]
pub struct BranchRow {
    pub id: i64,
    pub name: String,
    /// Django's naive-UTC text, also used as `updated_at`.
    pub created_at: String,
    pub teams_integration_enabled: bool,
}

impl LmsRow for BranchRow {
    const TABLE: &'static str = "branches_branch";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "name",
        "created_at",
        "updated_at",
        "description",
        "is_active",
        "sharepoint_integration_enabled",
        "order_management_enabled",
        "business_id",
        "teams_integration_enabled",
    ];

    fn cells(&self) -> Vec<Cell> {
        vec![
            self.id.into(),
            (&self.name).into(),
            (&self.created_at).into(),
            (&self.created_at).into(),
            Cell::Null,
            true.into(),
            false.into(),
            false.into(),
            Cell::Null,
            self.teams_integration_enabled.into(),
        ]
    }
}

/// `users_customuser`: a person with an unusable password and no assessments.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub is_staff: bool,
    pub date_joined: String,
    /// `admin`, `instructor` or `learner`.
    pub role: String,
    pub timezone: String,
    pub branch: Option<i64>,
}

/// The assessment flags Django requires and the LMS defaults to false.
const USER_FLAGS: [&str; 11] = [
    "initial_assessment_english",
    "initial_assessment_maths",
    "initial_assessment_subject_specific",
    "initial_assessment_other",
    "diagnostic_assessment_english",
    "diagnostic_assessment_maths",
    "diagnostic_assessment_subject_specific",
    "diagnostic_assessment_other",
    "functional_skills_english",
    "functional_skills_maths",
    "functional_skills_other",
];

impl LmsRow for UserRow {
    const TABLE: &'static str = "users_customuser";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "password",
        "last_login",
        "is_superuser",
        "username",
        "first_name",
        "last_name",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
        "role",
        "language",
        "timezone",
        "is_non_uk_address",
        USER_FLAGS[0],
        USER_FLAGS[1],
        USER_FLAGS[2],
        USER_FLAGS[3],
        USER_FLAGS[4],
        USER_FLAGS[5],
        USER_FLAGS[6],
        USER_FLAGS[7],
        USER_FLAGS[8],
        USER_FLAGS[9],
        USER_FLAGS[10],
        "branch_id",
    ];

    fn cells(&self) -> Vec<Cell> {
        let mut cells = vec![
            self.id.into(),
            "!unusable".into(),
            Cell::Null,
            false.into(),
            (&self.username).into(),
            (&self.first_name).into(),
            (&self.last_name).into(),
            (&self.email).into(),
            self.is_staff.into(),
            true.into(),
            (&self.date_joined).into(),
            (&self.role).into(),
            "en".into(),
            (&self.timezone).into(),
            false.into(),
        ];
        cells.extend(USER_FLAGS.iter().map(|_| Cell::Bool(false)));
        cells.push((&self.branch).into());
        cells
    }
}

/// `account_settings_teamsintegration`: an app registration, with no cached token.
#[derive(Debug, Clone)]
pub struct IntegrationRow {
    pub id: i64,
    pub name: String,
    pub is_active: bool,
    pub created_at: String,
    pub client_id: String,
    pub client_secret: String,
    pub tenant_id: String,
    pub branch: Option<i64>,
    /// The user who set it up; the LMS finds an integration through its owner's branch.
    pub owner: Option<i64>,
}

impl LmsRow for IntegrationRow {
    const TABLE: &'static str = "account_settings_teamsintegration";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "name",
        "is_active",
        "created_at",
        "updated_at",
        "client_id",
        "client_secret",
        "tenant_id",
        "access_token",
        "token_expiry",
        "branch_id",
        "user_id",
        "service_account_email",
    ];

    fn cells(&self) -> Vec<Cell> {
        vec![
            self.id.into(),
            (&self.name).into(),
            self.is_active.into(),
            (&self.created_at).into(),
            (&self.created_at).into(),
            (&self.client_id).into(),
            (&self.client_secret).into(),
            (&self.tenant_id).into(),
            Cell::Null,
            Cell::Null,
            (&self.branch).into(),
            (&self.owner).into(),
            Cell::Null,
        ]
    }
}

/// `conferences_conference`: a scheduled, published conference.
#[derive(Debug, Clone)]
pub struct ConferenceRow {
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub date: String,
    pub start_time: String,
    pub end_time: Option<String>,
    pub timezone: String,
    pub meeting_link: Option<String>,
    pub meeting_platform: String,
    pub created_at: String,
    pub created_by: i64,
    pub use_time_slots: bool,
}

impl LmsRow for ConferenceRow {
    const TABLE: &'static str = "conferences_conference";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "title",
        "description",
        "date",
        "start_time",
        "end_time",
        "timezone",
        "meeting_link",
        "meeting_platform",
        "meeting_id",
        "meeting_password",
        "host_url",
        "meeting_status",
        "data_sync_status",
        "last_sync_at",
        "auto_recording_status",
        "auto_recording_enabled_at",
        "visibility",
        "status",
        "default_join_type",
        "join_experience",
        "allowed_join_methods",
        "created_at",
        "updated_at",
        "course_id",
        "created_by_id",
        "rubric_id",
        "use_time_slots",
        "online_meeting_id",
    ];

    fn cells(&self) -> Vec<Cell> {
        vec![
            self.id.into(),
            (&self.title).into(),
            (&self.description).into(),
            (&self.date).into(),
            (&self.start_time).into(),
            (&self.end_time).into(),
            (&self.timezone).into(),
            (&self.meeting_link).into(),
            (&self.meeting_platform).into(),
            Cell::Null,
            Cell::Null,
            Cell::Null,
            "scheduled".into(),
            "pending".into(),
            Cell::Null,
            "pending".into(),
            Cell::Null,
            "public".into(),
            "published".into(),
            "guest".into(),
            "direct".into(),
            "auto_registered_only".into(),
            (&self.created_at).into(),
            (&self.created_at).into(),
            Cell::Null,
            self.created_by.into(),
            Cell::Null,
            self.use_time_slots.into(),
            Cell::Null,
        ]
    }
}

/// `conferences_conferencetimeslot`.
#[derive(Debug, Clone)]
pub struct SlotRow {
    pub id: i64,
    pub date: String,
    pub start_time: String,
    pub end_time: String,
    pub timezone: String,
    pub max_participants: i64,
    /// The LMS's denormalised counter of the slot's selections.
    pub current_participants: i64,
    pub meeting_link: Option<String>,
    pub meeting_id: Option<String>,
    pub meeting_password: Option<String>,
    pub is_available: bool,
    pub created_at: String,
    pub conference: i64,
}

impl LmsRow for SlotRow {
    const TABLE: &'static str = "conferences_conferencetimeslot";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "date",
        "start_time",
        "end_time",
        "timezone",
        "max_participants",
        "current_participants",
        "meeting_link",
        "meeting_id",
        "meeting_password",
        "is_available",
        "created_at",
        "updated_at",
        "conference_id",
        "online_meeting_id",
    ];

    fn cells(&self) -> Vec<Cell> {
        vec![
            self.id.into(),
            (&self.date).into(),
            (&self.start_time).into(),
            (&self.end_time).into(),
            (&self.timezone).into(),
            self.max_participants.into(),
            self.current_participants.into(),
            (&self.meeting_link).into(),
            (&self.meeting_id).into(),
            (&self.meeting_password).into(),
            self.is_available.into(),
            (&self.created_at).into(),
            (&self.created_at).into(),
            self.conference.into(),
            Cell::Null,
        ]
    }
}

/// `conferences_conferencetimeslotselection`: a person's choice of a slot and what the LMS's
/// calendar sync recorded about it.
#[derive(Debug, Clone)]
pub struct SelectionRow {
    pub id: i64,
    pub outlook_event_id: Option<String>,
    pub calendar_added: bool,
    pub calendar_add_attempted_at: Option<String>,
    pub calendar_error: Option<String>,
    pub selected_at: String,
    pub ip_address: Option<String>,
    pub conference: i64,
    pub slot: i64,
    pub user: i64,
}

impl LmsRow for SelectionRow {
    const TABLE: &'static str = "conferences_conferencetimeslotselection";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "outlook_event_id",
        "calendar_added",
        "calendar_add_attempted_at",
        "calendar_error",
        "selected_at",
        "ip_address",
        "conference_id",
        "time_slot_id",
        "user_id",
    ];

    fn cells(&self) -> Vec<Cell> {
        vec![
            self.id.into(),
            (&self.outlook_event_id).into(),
            self.calendar_added.into(),
            (&self.calendar_add_attempted_at).into(),
            (&self.calendar_error).into(),
            (&self.selected_at).into(),
            (&self.ip_address).into(),
            self.conference.into(),
            self.slot.into(),
            self.user.into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch() -> BranchRow {
        BranchRow {
            id: 1,
            name: "O'Brien College".to_string(),
            created_at: "2025-11-01 08:00:00".to_string(),
            teams_integration_enabled: true,
        }
    }

    #[test]
    fn every_row_type_has_a_value_for_each_column() {
        let user = UserRow {
            id: 1,
            username: "u".into(),
            first_name: "f".into(),
            last_name: "l".into(),
            email: "e".into(),
            is_staff: false,
            date_joined: "d".into(),
            role: "learner".into(),
            timezone: "UTC".into(),
            branch: None,
        };
        assert_eq!(user.cells().len(), UserRow::COLUMNS.len());
        assert_eq!(branch().cells().len(), BranchRow::COLUMNS.len());
    }

    #[test]
    fn literal_sql_quotes_text_and_spells_booleans_for_both_engines() {
        let sql = literal_insert(&[branch()]);
        assert!(sql.contains("'O''Brien College'"), "{sql}");
        assert!(
            sql.contains("NULL, TRUE, FALSE, FALSE, NULL, TRUE)"),
            "{sql}"
        );
        assert_eq!(literal_insert::<BranchRow>(&[]), "");
    }

    #[test]
    fn the_sqlite_writer_and_the_literal_sql_write_the_same_row() {
        let schema = include_str!("../../assets/schema/sqlite.sql");
        let read = |conn: &rusqlite::Connection| -> String {
            conn.query_row(
                "SELECT name || '|' || is_active || '|' || teams_integration_enabled || '|' || \
                 quote(description) FROM branches_branch",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        let prepared = rusqlite::Connection::open_in_memory().unwrap();
        prepared.execute_batch(schema).unwrap();
        SqliteWriter::new(&prepared)
            .unwrap()
            .write(&branch())
            .unwrap();
        let literal = rusqlite::Connection::open_in_memory().unwrap();
        literal.execute_batch(schema).unwrap();
        literal.execute_batch(&literal_insert(&[branch()])).unwrap();
        assert_eq!(read(&prepared), "O'Brien College|1|1|NULL");
        assert_eq!(read(&literal), read(&prepared));
    }
}
