//! The floor of a console query: the identical SQL text, with the bound values written in, run
//! by the engine's own shell (`sqlite3`, `psql`), timed by the shell itself (`.timer on`,
//! `\timing on`), so neither process start nor calsync's code is in the figure.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::commands::CliError;
use crate::store::sql::{Sql, SqlEngine, Value};
use crate::store::{PgTarget, django_datetime};

/// Where the shell connects.
pub enum ShellTarget<'a> {
    Sqlite(&'a Path),
    Postgres(&'a PgTarget),
}

/// The statement with its values written in, exactly as calsync binds them.
pub fn literal_sql(statement: &Sql, engine: SqlEngine) -> String {
    let mut text = statement.text.clone();
    // Highest placeholder first, so ?1 never eats the front of ?12.
    for (i, value) in statement.params.iter().enumerate().rev() {
        let literal = match value {
            Value::Int(n) => n.to_string(),
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Time(t) => match engine {
                SqlEngine::Sqlite => format!("'{}'", django_datetime(*t)),
                SqlEngine::Postgres => format!("'{}'::timestamptz", t.to_rfc3339()),
            },
        };
        let placeholder = match engine {
            SqlEngine::Sqlite => format!("?{}", i + 1),
            SqlEngine::Postgres => format!("${}", i + 1),
        };
        text = text.replace(&placeholder, &literal);
    }
    text
}

/// The median time of each query over `runs` runs in one shell session, after one warm-up run
/// of each.
pub fn shell_medians(
    target: &ShellTarget,
    queries: &[String],
    runs: usize,
) -> Result<Vec<Duration>, CliError> {
    let (mut command, mut script, marker) = match target {
        ShellTarget::Sqlite(path) => {
            let mut command = Command::new("sqlite3");
            command.arg("-readonly").arg(path);
            (
                command,
                ".output /dev/null\n.timer on\n".to_string(),
                "Run Time: real ",
            )
        }
        ShellTarget::Postgres(pg) => {
            let mut command = Command::new("psql");
            command
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
                .arg(pg_uri(pg, &pg.dbname))
                .env("PGTZ", "UTC");
            if let Some(password) = &pg.password {
                command.env("PGPASSWORD", password);
            }
            (
                command,
                "\\o /dev/null\n\\timing on\n".to_string(),
                "Time: ",
            )
        }
    };
    for query in queries {
        for _ in 0..=runs {
            script.push_str(query);
            script.push_str(";\n");
        }
    }
    let shell = match target {
        ShellTarget::Sqlite(_) => "sqlite3",
        ShellTarget::Postgres(_) => "psql",
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::failed(format!("cannot run {shell}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| CliError::failed(format!("cannot feed {shell}: {e}")))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| CliError::failed(format!("{shell} failed: {e}")))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if let Some(line) = stderr.lines().find(|l| !l.trim().is_empty()) {
        return Err(CliError::failed(format!("{shell} refused a query: {line}")));
    }
    let times: Vec<Duration> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix(marker))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map(|n| match target {
            ShellTarget::Sqlite(_) => Duration::from_secs_f64(n),
            ShellTarget::Postgres(_) => Duration::from_secs_f64(n / 1000.0),
        })
        .collect();
    if times.len() != queries.len() * (runs + 1) {
        return Err(CliError::failed(format!(
            "{shell} reported {} timings for {} runs",
            times.len(),
            queries.len() * (runs + 1)
        )));
    }
    Ok(times
        .chunks(runs + 1)
        .map(|chunk| {
            // The first of each is the warm-up run.
            let mut measured = chunk[1..].to_vec();
            measured.sort();
            measured[measured.len() / 2]
        })
        .collect())
}

/// A libpq URI for `dbname` on the target's server (the password goes in PGPASSWORD; libpq's
/// default sslmode, prefer, applies).
pub fn pg_uri(pg: &PgTarget, dbname: &str) -> String {
    let user = if pg.user.is_empty() {
        String::new()
    } else {
        format!("{}@", pg.user)
    };
    format!("postgresql://{user}{}:{}/{dbname}", pg.host, pg.port)
}
