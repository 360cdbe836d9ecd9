//! Streaming every row: `calsync status --json` (the real binary, its output thrown away) and
//! the console's CSV export, beside the engine's own shell writing the same rows of the same
//! query as JSON or CSV (`sqlite3 -json` / `-csv`, PostgreSQL's `COPY … TO STDOUT`). Best of
//! two runs each, whole processes for the shells and status. Each side writes where its user's
//! copy goes: `status --json` and the JSON floors to a pipe thrown away, the export and the CSV
//! floors to a file in the same directory (the export's cost includes writing its file).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::floor::{self, ShellTarget};
use crate::commands::{CliError, Output};
use crate::domain::{Filter, PageRequest, Sort};
use crate::store::{Store, sql};

const RUNS: usize = 2;

pub async fn measure(
    out: &mut Output,
    store: &Store,
    url_arg: &str,
    shell: &ShellTarget<'_>,
) -> Result<(), CliError> {
    let exe = std::env::current_exe().map_err(|e| CliError::failed(e.to_string()))?;
    let status =
        best(|| run(Command::new(&exe).args(["--database-url", url_arg, "status", "--json"])))?;
    let scratch =
        ScratchFile(std::env::temp_dir().join(format!("calsync-bench-{}.csv", std::process::id())));
    let file = scratch.0.as_path();
    let path = file.to_string_lossy().into_owned();
    let mut export = Duration::MAX;
    for _ in 0..RUNS {
        let started = Instant::now();
        let written =
            crate::jobs::export::export_rows(store, Filter::default(), "csv", Some(path.clone()))
                .await;
        export = export.min(started.elapsed());
        written.map_err(CliError::failed)?;
    }

    let every_row = sql::selection_page(
        store.dialect(),
        &PageRequest {
            filter: Filter::default(),
            sort: Sort::default(),
            after: None,
            limit: u32::MAX,
        },
    );
    let query = floor::literal_sql(&every_row, store.dialect().engine);
    let (json_floor, csv_floor, name) = match shell {
        ShellTarget::Sqlite(db) => (
            best(|| {
                run(Command::new("sqlite3")
                    .args(["-readonly", "-json"])
                    .arg(db)
                    .arg(&query))
            })?,
            best(|| {
                run_into(
                    Command::new("sqlite3")
                        .args(["-readonly", "-csv"])
                        .arg(db)
                        .arg(&query),
                    file,
                )
            })?,
            ("sqlite3 -json", "sqlite3 -csv"),
        ),
        ShellTarget::Postgres(pg) => {
            let psql = |copy: String| {
                let mut command = Command::new("psql");
                command
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
                    .arg(floor::pg_uri(pg, &pg.dbname))
                    .args(["-c", &copy])
                    .env("PGTZ", "UTC");
                if let Some(password) = &pg.password {
                    command.env("PGPASSWORD", password);
                }
                command
            };
            (
                best(|| {
                    run(&mut psql(format!(
                        "COPY (SELECT row_to_json(q) FROM ({query}) q) TO STDOUT"
                    )))
                })?,
                best(|| {
                    run_into(
                        &mut psql(format!("COPY ({query}) TO STDOUT WITH (FORMAT csv)")),
                        file,
                    )
                })?,
                ("COPY row_to_json", "COPY csv"),
            )
        }
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    out.line("streaming every row (best of 2; ratio = floor time / calsync time, goal ≥ 0.8)")?;
    out.line(&format!(
        "  status --json {:>9.0} ms   {:<18}{:>9.0} ms   ratio {:.2}",
        ms(status),
        name.0,
        ms(json_floor),
        json_floor.as_secs_f64() / status.as_secs_f64()
    ))?;
    out.line(&format!(
        "  export csv    {:>9.0} ms   {:<18}{:>9.0} ms   ratio {:.2}",
        ms(export),
        name.1,
        ms(csv_floor),
        csv_floor.as_secs_f64() / export.as_secs_f64()
    ))?;
    Ok(())
}

/// The CSV file both sides write, removed however the measurement ends.
struct ScratchFile(std::path::PathBuf);

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn best(mut once: impl FnMut() -> Result<Duration, CliError>) -> Result<Duration, CliError> {
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        best = best.min(once()?);
    }
    Ok(best)
}

/// Runs a process to the end with its output thrown away; how long it took.
fn run(command: &mut Command) -> Result<Duration, CliError> {
    finish(command.stdout(Stdio::null()))
}

/// Runs a process to the end with its output written to `file`; how long it took.
fn run_into(command: &mut Command, file: &Path) -> Result<Duration, CliError> {
    let out = std::fs::File::create(file)
        .map_err(|e| CliError::failed(format!("{}: {e}", file.display())))?;
    finish(command.stdout(out))
}

fn finish(command: &mut Command) -> Result<Duration, CliError> {
    let started = Instant::now();
    let output = command
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| CliError::failed(format!("cannot run {command:?}: {e}")))?;
    if !output.status.success() {
        return Err(CliError::failed(format!(
            "{:?} failed: {}",
            command.get_program(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .next()
                .unwrap_or_default()
        )));
    }
    Ok(started.elapsed())
}
