//! Reaching the database safely: numeric settings that do not parse are refused, a damaged
//! SQLite file is unusable like a missing one, and PostgreSQL passwords and certificates follow
//! libpq's rules. Always through the real binary: one line, exit 2, never a password.

use crate::cli::{assert_one_line_error, calsync};
use crate::support::{Backend, TestDb};

#[tokio::test]
async fn database_timeouts_that_do_not_parse_are_refused() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let url = db.url_string();
    for name in [
        "CALSYNC_DB_CONNECT_TIMEOUT_SECS",
        "CALSYNC_SQLITE_BUSY_TIMEOUT_SECS",
    ] {
        for bad in ["ten", "-1", "0", "1e400", "NaN", "5s"] {
            let run = calsync(&["--database-url", &url, "status"], &[(name, bad)]);
            assert_one_line_error(&run, &format!("{name}={bad:?} must be a number of seconds"));
        }
        let fine = calsync(&["--database-url", &url, "status"], &[(name, " 2.5 ")]);
        assert_eq!(fine.code, 0, "{name}: {}", fine.stderr);
    }
}

#[tokio::test]
async fn graph_numbers_that_do_not_parse_are_refused() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let url = db.url_string();
    let sync = [
        "--database-url",
        url.as_str(),
        "sync",
        "--selection-id",
        "2",
    ];
    for (name, bad, said) in [
        (
            "CALSYNC_HTTP_TIMEOUT_SECS",
            "thirty",
            "must be a number of seconds",
        ),
        (
            "CALSYNC_GRAPH_MAX_RETRY_WAIT_SECS",
            "-5",
            "must be a number of seconds",
        ),
        (
            "CALSYNC_GRAPH_MAX_ATTEMPTS",
            "3.5",
            "is not a whole number from 1 to 20",
        ),
        (
            "CALSYNC_GRAPH_MAX_ATTEMPTS",
            "many",
            "is not a whole number from 1 to 20",
        ),
    ] {
        let run = calsync(&sync, &[(name, bad)]);
        assert_one_line_error(&run, &format!("{name}={bad:?} {said}"));
    }
    let untouched = db
        .scalar_text("SELECT calendar_add_attempted_at FROM conferences_conferencetimeslotselection WHERE id = 2")
        .await;
    assert_eq!(
        untouched.as_deref(),
        Some("2025-12-01 09:15:04"),
        "refused before any work"
    );
}

/// A real LMS file, then damaged the two ways disks and copies damage files.
#[tokio::test]
async fn a_damaged_sqlite_file_is_unusable_with_one_line() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let good = std::fs::read(db.sqlite_path()).unwrap();
    assert!(good.len() > 8192, "more than one page to damage");
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.db");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    // Garbage after the 100-byte header, and after the whole first page.
    let overwrite = |name: &str, keep: usize| {
        let path = dir.path().join(name);
        let mut bytes = good[..keep].to_vec();
        bytes.extend((0..good.len() - keep).map(|i| (i * 7919 % 251) as u8));
        std::fs::write(&path, &bytes).unwrap();
        path
    };
    let after_header = overwrite("after-header.db", 100);
    let after_first_page = overwrite("after-first-page.db", 4096);
    for path in [&truncated, &after_header, &after_first_page] {
        let url = format!("sqlite:///{}", path.display());
        for command in [
            &["status"][..],
            &["status", "--json"],
            &["doctor"],
            &["sync", "--dry-run"],
        ] {
            let mut args = vec!["--database-url", url.as_str()];
            args.extend_from_slice(command);
            let run = calsync(&args, &[]);
            assert_one_line_error(
                &run,
                "is damaged (SQLite: database disk image is malformed)",
            );
        }
    }
}

/// The LMS fixture on PostgreSQL, readable by `calsync_pw_test`, the role `.ci/postgres-setup`
/// gives scram password authentication on 127.0.0.1 (password `the-right-one`).
async fn fixture_for_password_role() -> (TestDb, String) {
    let admin = crate::support::pg_connect(&crate::support::pg_admin_url()).await;
    admin
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'calsync_pw_test') \
             THEN CREATE ROLE calsync_pw_test LOGIN PASSWORD 'the-right-one'; END IF; END $$;",
        )
        .await
        .unwrap();
    let db = TestDb::with_fixture(Backend::Postgres).await;
    db.exec("GRANT SELECT ON ALL TABLES IN SCHEMA public TO calsync_pw_test")
        .await;
    let url = format!(
        "postgres://calsync_pw_test@127.0.0.1:5432/{}?sslmode=disable",
        db.pg_name()
    );
    (db, url)
}

fn private_file(path: &std::path::Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[track_caller]
fn assert_listed(run: &crate::cli::Run) {
    assert_eq!(run.code, 0, "authenticated and listed: {}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 10, "{}", run.stdout);
}

#[tokio::test]
async fn passwords_come_from_pgpassword_or_a_password_file_not_argv() {
    let (db, url) = fixture_for_password_role().await;
    let status = ["--database-url", url.as_str(), "status", "--json"];

    // No password anywhere: the server's refusal, in one line.
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_str().unwrap();
    let none = calsync(&status, &[("HOME", home_path)]);
    assert_one_line_error(&none, "password");

    assert_listed(&calsync(
        &status,
        &[("HOME", home_path), ("PGPASSWORD", "the-right-one")],
    ));

    // ~/.pgpass: the first matching line wins; `*` matches anything; `\` escapes.
    let pgpass = home.path().join(".pgpass");
    let db_name = db.pg_name().to_string();
    private_file(
        &pgpass,
        &format!(
            "# libpq's format\n\
             127.0.0.1:6543:*:calsync_pw_test:wrong-port\n\
             127.0.0.1:5432:{db_name}:calsync_pw_test:the-right-one\n\
             *:*:*:*:too-late\n"
        ),
        0o600,
    );
    assert_listed(&calsync(&status, &[("HOME", home_path)]));
    // PGPASSWORD comes first, as in libpq.
    let env_first = calsync(
        &status,
        &[("HOME", home_path), ("PGPASSWORD", "Wr0ng-Passw0rd")],
    );
    assert_one_line_error(
        &env_first,
        "password authentication failed for user \"calsync_pw_test\"",
    );
    assert!(!env_first.stderr.contains("Wr0ng-Passw0rd"));

    // A file others can read is refused, naming the fix, never showing what it holds.
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let open = calsync(&status, &[("HOME", home_path)]);
    assert_one_line_error(
        &open,
        "can be read by group or others (mode 0644); make it private: chmod 600",
    );
    assert!(!open.stderr.contains("the-right-one"));

    // PGPASSFILE, and passfile= in the URL (which wins over PGPASSFILE).
    let elsewhere = tempfile::tempdir().unwrap();
    let good = elsewhere.path().join("good.pgpass");
    private_file(&good, "*:*:*:calsync_pw_test:the-right-one\n", 0o600);
    let bad = elsewhere.path().join("bad.pgpass");
    private_file(&bad, "*:*:*:calsync_pw_test:Wr0ng-Passw0rd\n", 0o600);
    let good_path = good.to_str().unwrap();
    assert_listed(&calsync(
        &status,
        &[("HOME", home_path), ("PGPASSFILE", good_path)],
    ));
    let with_param = format!("{url}&passfile={good_path}");
    let param = calsync(
        &["--database-url", &with_param, "status", "--json"],
        &[("HOME", home_path), ("PGPASSFILE", bad.to_str().unwrap())],
    );
    assert_listed(&param);
    // A password file named explicitly must exist.
    let missing = format!("{url}&passfile=/no/such/pgpass");
    let run = calsync(
        &["--database-url", &missing, "status"],
        &[("HOME", home_path)],
    );
    assert_one_line_error(&run, "cannot read password file /no/such/pgpass");
}
