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
    let overwritten = dir.path().join("overwritten.db");
    let mut garbage = good[..4096].to_vec();
    garbage.extend((0..good.len() - 4096).map(|i| (i * 7919 % 251) as u8));
    std::fs::write(&overwritten, &garbage).unwrap();
    for path in [&truncated, &overwritten] {
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
