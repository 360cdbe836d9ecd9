//! The PostgreSQL database `bench console` measures: a copy of the SQLite demo database (the
//! LMS's PostgreSQL schema, every row, then ANALYZE), made once with `psql` and `sqlite3` when
//! the named database does not exist yet.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::floor::pg_uri;
use crate::commands::CliError;
use crate::store::PgTarget;

const POSTGRES_SCHEMA: &str = include_str!("../../../assets/schema/postgres.sql");

/// The LMS tables in an order where every row's references are already there.
const TABLES: [&str; 9] = [
    "business_business",
    "branches_branch",
    "users_customuser",
    "courses_course",
    "lms_rubrics_rubric",
    "conferences_conference",
    "conferences_conferencetimeslot",
    "conferences_conferencetimeslotselection",
    "account_settings_teamsintegration",
];

/// Whether the database exists; when it does not, creates it as a copy of `sqlite` (true when
/// it was created now).
pub fn ensure_copy(pg: &PgTarget, sqlite: &Path) -> Result<bool, CliError> {
    let exists = psql(
        pg,
        "postgres",
        &[
            "-tAc",
            &format!(
                "SELECT 1 FROM pg_database WHERE datname = '{}'",
                pg.dbname.replace('\'', "''")
            ),
        ],
        None,
    )?;
    if exists.trim() == "1" {
        return Ok(false);
    }
    let name = pg.dbname.replace('"', "\"\"");
    psql(
        pg,
        "postgres",
        &["-c", &format!("CREATE DATABASE \"{name}\"")],
        None,
    )?;
    psql(pg, &pg.dbname, &[], Some(POSTGRES_SCHEMA.as_bytes()))?;
    for table in TABLES {
        let columns = sqlite_columns(sqlite, table)?;
        let rows = Command::new("sqlite3")
            .args(["-readonly", "-csv"])
            .arg(sqlite)
            .arg(format!("SELECT {columns} FROM {table}"))
            .output()
            .map_err(|e| CliError::failed(format!("cannot run sqlite3: {e}")))?;
        if !rows.status.success() {
            return Err(CliError::failed(format!(
                "sqlite3 could not read {table}: {}",
                String::from_utf8_lossy(&rows.stderr).trim()
            )));
        }
        // In CSV an unquoted empty field is NULL and "" is the empty text, as sqlite3 writes them.
        psql(
            pg,
            &pg.dbname,
            &[
                "-c",
                &format!("\\copy {table} ({columns}) FROM STDIN WITH (FORMAT csv)"),
            ],
            Some(&rows.stdout),
        )?;
    }
    psql(pg, &pg.dbname, &["-c", "ANALYZE"], None)?;
    Ok(true)
}

fn sqlite_columns(sqlite: &Path, table: &str) -> Result<String, CliError> {
    let output = Command::new("sqlite3")
        .arg("-readonly")
        .arg(sqlite)
        .arg(format!("SELECT name FROM pragma_table_info('{table}')"))
        .output()
        .map_err(|e| CliError::failed(format!("cannot run sqlite3: {e}")))?;
    let names: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|name| format!("\"{name}\""))
        .collect();
    if names.is_empty() {
        return Err(CliError::failed(format!(
            "the demo database has no {table}"
        )));
    }
    Ok(names.join(", "))
}

/// Runs psql on `dbname` of the target's server; its output, or its first error line.
fn psql(
    pg: &PgTarget,
    dbname: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<String, CliError> {
    let mut command = Command::new("psql");
    command
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(pg_uri(pg, dbname))
        .args(args)
        .env("PGTZ", "UTC")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(password) = &pg.password {
        command.env("PGPASSWORD", password);
    }
    let mut child = command
        .spawn()
        .map_err(|e| CliError::failed(format!("cannot run psql: {e}")))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input)
            .map_err(|e| CliError::failed(format!("cannot feed psql: {e}")))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| CliError::failed(format!("psql failed: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(CliError::failed(format!(
            "psql: {}",
            stderr.lines().next().unwrap_or("failed")
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
