//! The `calsync` binary as operators and scripts use it: exit codes, JSON keys, and one clear
//! line for every kind of bad input (never a panic, a backtrace or a password).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::{Backend, TestDb, pg_admin_url, pg_connect};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the real binary with a clean environment: no database variables, and private config
/// and data directories.
pub fn calsync(args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = tempfile::tempdir().expect("temp home");
    let mut command = Command::new(env!("CARGO_BIN_EXE_calsync"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("CALSYNC_CONFIG")
        // libpq's variables, which calsync honours, must come from the test alone.
        .env_remove("PGPASSWORD")
        .env_remove("PGPASSFILE")
        .env_remove("PGSSLMODE")
        .env_remove("PGSSLROOTCERT")
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("HOME", home.path())
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null());
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_DB_")) {
        command.env_remove(key);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run calsync");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Exit code 2 and exactly one line on stderr that says `expected`.
#[track_caller]
pub fn assert_one_line_error(run: &Run, expected: &str) {
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {:?}", run.stderr);
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    assert!(
        lines[0].contains(expected),
        "{:?} should contain {expected:?}",
        lines[0]
    );
    let lower = run.stderr.to_lowercase();
    assert!(
        !lower.contains("panicked") && !lower.contains("backtrace"),
        "{}",
        run.stderr
    );
}

fn status_json(url: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["--database-url", url, "status", "--json"];
    args.extend_from_slice(extra);
    let run = calsync(&args, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

#[tokio::test]
async fn status_json_lines_carry_exactly_the_documented_keys() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let rows = status_json(&db.url_string(), &[]);
    assert_eq!(rows.len(), 10);
    let expected: BTreeSet<&str> = [
        "id",
        "user_id",
        "username",
        "email",
        "conference_id",
        "conference_title",
        "time_slot_id",
        "slot_date",
        "slot_start",
        "slot_end",
        "timezone",
        "state",
        "calendar_added",
        "outlook_event_id",
        "attempted_at",
        "error",
        "stale",
        "teams_join_url",
        "full_name",
        "cause",
        "web_link",
    ]
    .into_iter()
    .collect();
    for row in &rows {
        let keys: BTreeSet<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, expected);
    }
    // Newest selection first, like the LMS's command.
    assert_eq!(rows[0]["id"], 10);
    let two = rows.iter().find(|r| r["id"] == 2).unwrap();
    assert_eq!(two["state"], "failed");
    assert_eq!(two["attempted_at"], "2025-12-01T09:15:04Z");
    assert_eq!(two["slot_date"], "2025-12-15");
    assert_eq!(two["slot_start"], "10:00:00");
    assert_eq!(two["calendar_added"], false);
    let five = rows.iter().find(|r| r["id"] == 5).unwrap();
    assert!(five["attempted_at"].is_null() && five["error"].is_null());
    let four = rows.iter().find(|r| r["id"] == 4).unwrap();
    assert!(four["error"].is_null(), "'' is no error");
    // The person's name as Django's get_full_name() gives it, and the cause of the error in the
    // words of `--cause`; neither when there is none.
    assert_eq!(two["full_name"], "Lea Learner");
    assert_eq!(two["cause"], "unknown_user");
    assert!(four["cause"].is_null());
    let six = rows.iter().find(|r| r["id"] == 6).unwrap();
    assert_eq!(six["full_name"], "");
}

#[tokio::test]
async fn status_filters_reach_the_database_on_postgres_too() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    let rows = status_json(
        &db.url_string(),
        &["--state", "failed,interrupted", "--user", "ZOË"],
    );
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![7, 4]);
    assert_eq!(rows[0]["full_name"], "Zoë Ünal");
    assert_eq!(rows[0]["cause"], "unknown_user");
    assert!(
        rows[1]["cause"].is_null(),
        "an interrupted row has no error"
    );
    let rows = status_json(
        &db.url_string(),
        &["--conference-id", "1", "--error", "404", "--limit", "5"],
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["attempted_at"], "2025-12-01T09:15:04Z");
}

#[tokio::test]
async fn status_summary_counts_every_state() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let run = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "status",
            "--summary",
            "--json",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        summary,
        serde_json::json!({"added": 2, "added_stale_error": 1, "failed": 3, "interrupted": 1, "not_synced": 3, "total": 10})
    );
    let table = calsync(
        &["--database-url", &db.url_string(), "status", "--summary"],
        &[],
    );
    assert!(table.stdout.contains("Added to Outlook"));
    assert!(table.stdout.contains("Calendar sync failed"));
}

#[tokio::test]
async fn the_status_table_shows_lms_wording_and_never_terminal_escapes() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    db.exec(
        "UPDATE conferences_conferencetimeslotselection SET calendar_error = \
         'bad' || char(27) || '[2J' || char(27) || ']0;pwned' || char(7) || ' text' WHERE id = 9",
    )
    .await;
    let run = calsync(
        &["--database-url", &db.url_string(), "status", "--limit", "5"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("✗ Calendar sync failed"));
    assert!(run.stdout.contains("bad text"));
    assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'));
    assert!(run.stdout.contains("5 of 10 selections shown"));
}

#[tokio::test]
async fn status_json_lists_every_selection_once_in_order_across_pages_read_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    let created = calsync(
        &[
            "demo",
            "--db",
            path.to_str().unwrap(),
            "--selections",
            "1234",
        ],
        &[],
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    let url = path.to_str().unwrap();
    let summary = calsync(
        &["--database-url", url, "status", "--summary", "--json"],
        &[],
    );
    let total = serde_json::from_str::<serde_json::Value>(summary.stdout.trim()).unwrap()["total"]
        .as_u64()
        .unwrap();
    // Pages are 500 rows, and the next is read while one is written: three pages here.
    let all = status_json(url, &[]);
    assert_eq!(all.len() as u64, total);
    let ids: BTreeSet<i64> = all.iter().map(|row| row["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "no selection twice");
    // A limit across a page boundary stops exactly there, in the same order.
    let limited = status_json(url, &["--limit", "700"]);
    assert_eq!(limited.len(), 700);
    assert_eq!(limited[..], all[..700]);
}

#[tokio::test]
async fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    let created = calsync(
        &[
            "demo",
            "--db",
            path.to_str().unwrap(),
            "--selections",
            "3000",
        ],
        &[],
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    let mut child = Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args(["--database-url", path.to_str().unwrap(), "status", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (like `| head -1`); the rest of the output hits a closed pipe.
    let output = child.wait_with_output().unwrap();
    assert!(first.starts_with('{'));
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_demo_is_created_once_and_rebuilt_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("demo.db");
    let db = path.to_str().unwrap();
    let url = calsync(
        &["demo", "--db", db, "--selections", "600", "--print-url"],
        &[],
    );
    assert_eq!(url.code, 0, "{}", url.stderr);
    assert_eq!(url.stdout.trim(), format!("sqlite:///{db}"));
    let summary = calsync(
        &[
            "--database-url",
            url.stdout.trim(),
            "status",
            "--summary",
            "--json",
        ],
        &[],
    );
    let counts: serde_json::Value = serde_json::from_str(summary.stdout.trim()).unwrap();
    assert_eq!(counts["total"], 600);
    for state in [
        "added",
        "added_stale_error",
        "failed",
        "interrupted",
        "not_synced",
    ] {
        assert!(
            counts[state].as_u64().unwrap() > 0,
            "the demo has {state} rows"
        );
    }
    let again = calsync(&["demo", "--db", db], &[]);
    assert!(again.stdout.contains("already present"));
    assert!(again.stdout.contains("600 selections"));
    let rebuilt = calsync(&["demo", "--db", db, "--reset", "--selections", "250"], &[]);
    assert_eq!(rebuilt.code, 0, "{}", rebuilt.stderr);
    assert!(rebuilt.stdout.contains("250 selections"));
}

#[tokio::test]
async fn doctor_reports_integrations_masked_and_flags_bad_slots() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    let run = calsync(&["--database-url", &db.url_string(), "doctor"], &[]);
    assert_eq!(
        run.code, 1,
        "problems found → exit 1: {}{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.contains("North Campus Teams"));
    // The mask does not reveal the secret's length: a longer secret shows the same line.
    let integration_line = |out: &str| {
        out.lines()
            .find(|l| l.contains("North Campus Teams"))
            .map(str::to_string)
            .expect("the integration's line")
    };
    let before = integration_line(&run.stdout);
    assert!(before.contains("secret •••••••• owner"), "{before}");
    db.exec(
        "UPDATE account_settings_teamsintegration SET client_secret = 'a-much-longer-secret-of-sixty-characters-0123456789abcdefghi'",
    )
    .await;
    let longer = calsync(&["--database-url", &db.url_string(), "doctor"], &[]);
    assert_eq!(integration_line(&longer.stdout), before);
    assert!(!run.stdout.contains("fixture-secret-not-real"));
    assert!(run.stdout.contains("'Foo/Bar' (1 slot)"));
    assert!(run.stdout.contains("slot 5: crosses midnight"));
    assert!(
        run.stdout
            .contains("selection 10: conference 2, slot's conference 1")
    );
    assert!(run.stdout.contains("PostgreSQL"));
}

#[tokio::test]
async fn a_slot_ending_before_it_starts_is_flagged_not_fatal() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    db.exec("UPDATE conferences_conferencetimeslot SET timezone = 'UTC', start_time = '15:00:00', end_time = '09:00:00' WHERE id = 4").await;
    let run = calsync(&["--database-url", &db.url_string(), "doctor"], &[]);
    assert!(
        run.stdout
            .contains("slot 4: slot ends at 09:00:00 before it starts at 15:00:00"),
        "{}",
        run.stdout
    );
    let status = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "status",
            "--slot-id",
            "4",
        ],
        &[],
    );
    assert_eq!(status.code, 0);
}

#[tokio::test]
async fn the_lms_aws_db_variables_and_env_file_are_understood() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    let url = db.url_string();
    let name = db.pg_name().to_string();
    let env_dir = tempfile::tempdir().unwrap();
    let env_file = env_dir.path().join(".env");
    std::fs::write(
        &env_file,
        format!("# LMS settings\nAWS_DB_HOST=127.0.0.1\nAWS_DB_NAME={name}\nAWS_DB_USER=postgres\nAWS_DB_PASSWORD='not-needed-trust'\nAWS_DB_PORT=5432\n"),
    )
    .unwrap();
    let run = calsync(
        &[
            "--env-file",
            env_file.to_str().unwrap(),
            "status",
            "--summary",
            "--json",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"total\":10"));
    let doctor = calsync(
        &["doctor"],
        &[
            ("AWS_DB_HOST", "127.0.0.1"),
            ("AWS_DB_NAME", &name),
            ("AWS_DB_USER", "postgres"),
            ("AWS_DB_PASSWORD", "hunter2-secret"),
        ],
    );
    assert!(
        doctor.stdout.contains("from AWS_DB_* variables"),
        "{}",
        doctor.stdout
    );
    assert!(doctor.stdout.contains("postgres:***@127.0.0.1:5432"));
    assert!(!doctor.stdout.contains("hunter2-secret") && !doctor.stderr.contains("hunter2-secret"));
    let via_env = calsync(
        &["status", "--summary", "--json"],
        &[("DATABASE_URL", &url)],
    );
    assert_eq!(via_env.code, 0, "{}", via_env.stderr);
}

// ----- bad input: one line, exit code 2 ---------------------------------------------------------

#[tokio::test]
async fn no_database_at_all_explains_where_one_comes_from() {
    let run = calsync(&["status"], &[]);
    assert_one_line_error(&run, "no database given: use --database-url, DATABASE_URL");
}

#[tokio::test]
async fn a_database_without_the_lms_tables_is_refused() {
    let db = TestDb::blank(Backend::Sqlite).await;
    db.exec("CREATE TABLE something_else (id integer)").await;
    let run = calsync(&["--database-url", &db.url_string(), "status"], &[]);
    assert_one_line_error(
        &run,
        "database has no table conferences_conferencetimeslotselection — is this the LMS database?",
    );
}

#[tokio::test]
async fn a_missing_column_is_refused_on_postgres() {
    let db = TestDb::empty(Backend::Postgres).await;
    db.exec("ALTER TABLE users_customuser DROP COLUMN email")
        .await;
    let run = calsync(&["--database-url", &db.url_string(), "status"], &[]);
    assert_one_line_error(&run, "table users_customuser has no column email");
}

#[test]
fn an_empty_file_is_not_the_lms_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let run = calsync(&["--database-url", path.to_str().unwrap(), "status"], &[]);
    assert_one_line_error(&run, "is an empty file, not the LMS database");
}

#[test]
fn a_file_that_is_not_a_database_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "these are meeting notes, not a database\n".repeat(200),
    )
    .unwrap();
    let run = calsync(&["--database-url", path.to_str().unwrap(), "status"], &[]);
    assert_one_line_error(&run, "is not a SQLite database");
}

#[test]
fn a_path_that_does_not_exist_is_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.db");
    let shown = path.to_str().unwrap();
    assert_one_line_error(
        &calsync(&["--database-url", shown, "status"], &[]),
        "no such database file",
    );
    let url = format!("sqlite:///{shown}");
    assert_one_line_error(
        &calsync(&["--database-url", &url, "status"], &[]),
        "no such database file",
    );
    assert!(!path.exists());
}

#[test]
fn malformed_urls_are_explained() {
    for (url, expected) in [
        (
            "postgres://u:pw-in-url@localhost:notaport/db",
            "bad port 'notaport'",
        ),
        (
            "postgresql://u:pw-in-url@localhost:5432",
            "no database name",
        ),
        ("mysql://u@h/db", "unsupported database URL scheme 'mysql'"),
        ("sqlite://relative.db", "malformed SQLite URL"),
        (
            "postgres://u:pw-in-url@h/db?sslmode=verify-full",
            "sslmode=verify-full needs the server's CA certificates: add sslrootcert=PATH",
        ),
        (
            "postgres://u:pw-in-url@h/db?sslmode=sometimes",
            "unknown sslmode 'sometimes'",
        ),
    ] {
        let run = calsync(&["--database-url", url, "status"], &[]);
        assert_one_line_error(&run, expected);
        assert!(!run.stderr.contains("pw-in-url"));
    }
}

#[tokio::test]
async fn a_wrong_password_is_reported_without_the_password() {
    // .ci/postgres-setup gives this role password authentication on 127.0.0.1.
    let admin = pg_connect(&pg_admin_url()).await;
    admin
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'calsync_pw_test') \
             THEN CREATE ROLE calsync_pw_test LOGIN PASSWORD 'the-right-one'; END IF; END $$;",
        )
        .await
        .unwrap();
    let url = "postgres://calsync_pw_test:Wr0ng-Passw0rd@127.0.0.1:5432/postgres?sslmode=disable";
    let run = calsync(&["--database-url", url, "status"], &[]);
    assert_one_line_error(
        &run,
        "password authentication failed for user \"calsync_pw_test\"",
    );
    assert!(!run.stderr.contains("Wr0ng-Passw0rd"));
}

#[test]
fn an_unreachable_server_fails_fast() {
    // Nothing listens on port 1: refused at once.
    let refused = calsync(
        &[
            "--database-url",
            "postgres://postgres:pw@127.0.0.1:1/lms?sslmode=disable",
            "status",
        ],
        &[],
    );
    assert_one_line_error(&refused, "cannot connect to PostgreSQL at 127.0.0.1:1/lms");
    // A server that accepts but never answers: bounded by the connect timeout, not hung.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/lms?sslmode=disable");
    let run = calsync(
        &["--database-url", &url, "status"],
        &[("CALSYNC_DB_CONNECT_TIMEOUT_SECS", "1")],
    );
    assert_one_line_error(&run, "no answer within 1 s");
    drop(silent);
}

#[tokio::test]
async fn a_locked_sqlite_database_is_reported_after_the_busy_timeout() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let holder = rusqlite::Connection::open(db.sqlite_path()).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let run = calsync(
        &["--database-url", &db.url_string(), "status"],
        &[("CALSYNC_SQLITE_BUSY_TIMEOUT_SECS", "0.3")],
    );
    assert_one_line_error(&run, "is locked by another program");
    holder.execute_batch("ROLLBACK").unwrap();
    let after = calsync(&["--database-url", &db.url_string(), "status"], &[]);
    assert_eq!(after.code, 0);
}

#[test]
fn bad_arguments_are_one_line_too() {
    let run = calsync(&["status", "--since", "yesterday"], &[]);
    assert_one_line_error(&run, "'yesterday' is not a time");
    let run = calsync(&["status", "--state", "happy"], &[]);
    assert_one_line_error(&run, "unknown state 'happy'");
}

/// A request log in a folder that does not exist: an error with an OS error underneath.
fn unopenable_log(home: &std::path::Path) -> String {
    home.join("no-such-folder")
        .join("requests.jsonl")
        .display()
        .to_string()
}

#[test]
fn an_error_that_ends_a_run_is_one_line_even_where_rust_backtrace_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let log = unopenable_log(dir.path());
    // `calsync` sets RUST_BACKTRACE=1, as it is on the support machines; say so here too.
    let run = calsync(
        &["--log-file", &log, "status"],
        &[("RUST_BACKTRACE", "1"), ("RUST_LIB_BACKTRACE", "1")],
    );
    assert_one_line_error(&run, "cannot open the request log");
    assert!(!run.stderr.contains("caused by"), "{}", run.stderr);
}

#[test]
fn verbose_shows_the_chain_of_causes_under_the_one_line_and_no_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let log = unopenable_log(dir.path());
    let run = calsync(
        &["--verbose", "--log-file", &log, "status"],
        &[("RUST_BACKTRACE", "1")],
    );
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines[0].starts_with("error: cannot open the request log"),
        "{}",
        run.stderr
    );
    assert_eq!(lines.get(1), Some(&"caused by:"), "{}", run.stderr);
    // The OS error underneath, on a line of its own.
    assert!(
        lines
            .get(2)
            .is_some_and(|l| l.contains("No such file or directory")),
        "{}",
        run.stderr
    );
    assert_eq!(lines.len(), 3, "{}", run.stderr);
    assert!(
        !run.stderr.to_lowercase().contains("backtrace"),
        "{}",
        run.stderr
    );
}

#[test]
fn verbose_keeps_an_error_without_causes_to_its_one_line() {
    let run = calsync(
        &[
            "--verbose",
            "--database-url",
            "sqlite:///no/such/calsync.db",
            "status",
        ],
        &[],
    );
    assert_one_line_error(&run, "no such database file");
}
