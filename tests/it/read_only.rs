//! `--read-only` is absolute: every command that would write Graph or the database runs as its
//! dry run or is refused with exit code 2, says which, and leaves the database and the
//! mailboxes exactly as they were.

use calsync::sim::{SimHandle, SimServer};

use crate::cli::{Run, calsync};
use crate::support::{Backend, TestDb};

/// Everything a write could change: the sync columns and calsync's own tables.
fn snapshot(db: &TestDb) -> String {
    let conn = rusqlite::Connection::open(db.sqlite_path()).unwrap();
    let mut out = String::new();
    for sql in [
        "SELECT id || '|' || COALESCE(outlook_event_id, '-') || '|' || calendar_added || '|' || \
         COALESCE(calendar_add_attempted_at, '-') || '|' || COALESCE(calendar_error, '-') \
         FROM conferences_conferencetimeslotselection ORDER BY id",
        "SELECT COUNT(*) || ' ledger rows, last ' || COALESCE(MAX(last_seen_at), '-') \
         FROM calsync_event_ledger",
        "SELECT COUNT(*) || ' audit rows' FROM calsync_audit_log",
        "SELECT COUNT(*) || ' intents' FROM calsync_create_intent",
        "SELECT COALESCE(MAX(version), 0) || ' schema' FROM calsync_schema_migrations",
    ] {
        let mut statement = conn.prepare(sql).unwrap();
        let rows = statement
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap);
        for row in rows {
            out.push_str(&row);
            out.push('\n');
        }
    }
    out
}

fn created_anywhere(sim: &SimHandle) -> u64 {
    sim.state()
        .stats()
        .mailboxes
        .values()
        .map(|m| m.events_created)
        .sum()
}

/// What `--read-only` must make of a writing command.
enum Expect {
    /// Runs as its dry run and says so on stderr.
    DryRun(&'static str),
    /// Refused with exit code 2 and one line.
    Refused,
    /// Runs: it writes nothing anyway under `--read-only`.
    Runs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_writing_command_refuses_or_runs_dry() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    db.store()
        .await
        .migrate_up(chrono::Utc::now())
        .await
        .unwrap();
    let sim = SimServer::start(crate::sync::sim_config()).await.unwrap();
    let url = db.url_string();
    let new_demo = tempfile::tempdir().unwrap();
    let demo_path = new_demo.path().join("demo.db");
    let demo = demo_path.to_str().unwrap();
    let graph = [
        ("CALSYNC_GRAPH_URL", sim.graph_url()),
        ("CALSYNC_LOGIN_URL", sim.login_url()),
    ];
    let env: Vec<(&str, &str)> = graph.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let before = snapshot(&db);

    let table: Vec<(Vec<&str>, Expect)> = vec![
        (vec!["sync"], Expect::DryRun("running as --dry-run")),
        (
            vec!["sync", "--all", "--json"],
            Expect::DryRun("running as --dry-run"),
        ),
        (
            vec!["sync", "--retry-failed", "--selection-id", "2"],
            Expect::DryRun("running as --dry-run"),
        ),
        (
            vec!["reconcile", "--json"],
            Expect::DryRun("running as --dry-run"),
        ),
        (
            vec!["reconcile", "--delete-probable", "--yes", "--json"],
            Expect::DryRun("running as --dry-run"),
        ),
        (vec!["verify", "--recreate"], Expect::Refused),
        (vec!["verify", "--json"], Expect::Runs),
        (vec!["migrate"], Expect::Refused),
        (vec!["migrate", "--down", "--force"], Expect::Refused),
        (vec!["demo", "--db", demo, "--summary"], Expect::Refused),
        (vec!["demo", "--db", demo, "--reset"], Expect::Refused),
        (vec!["bench", "store", "--db", demo], Expect::Refused),
    ];
    for (command, expect) in table {
        let mut args = vec!["--database-url", url.as_str(), "--read-only"];
        args.extend(&command);
        let run: Run = calsync(&args, &env);
        let said = format!("{command:?}: {} / {}", run.stdout, run.stderr);
        match expect {
            Expect::DryRun(note) => {
                assert_ne!(run.code, 2, "{said}");
                assert!(run.stderr.contains("--read-only"), "{said}");
                assert!(run.stderr.contains(note), "{said}");
                if command.contains(&"--json") {
                    let last = run.stdout.lines().last().unwrap_or_default();
                    let summary: serde_json::Value = serde_json::from_str(last).unwrap();
                    assert_eq!(summary["dry_run"], true, "{said}");
                }
            }
            Expect::Refused => {
                assert_eq!(run.code, 2, "{said}");
                let lines: Vec<&str> = run.stderr.lines().collect();
                assert_eq!(lines.len(), 1, "{said}");
                assert!(
                    lines[0].starts_with("error: --read-only: refusing"),
                    "{said}"
                );
            }
            Expect::Runs => assert_ne!(run.code, 2, "{said}"),
        }
        assert_eq!(snapshot(&db), before, "{command:?} wrote to the database");
        assert_eq!(created_anywhere(&sim), 0, "{command:?} created an event");
    }
    assert!(!demo_path.exists(), "no demo database was made");
    // Without --read-only the same sync does write: the table above is not vacuous.
    let run = calsync(
        &["--database-url", &url, "sync", "--selection-id", "2"],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_ne!(snapshot(&db), before);
}

#[test]
fn the_help_says_what_read_only_does_for_each_command() {
    let help = |args: &[&str]| calsync(args, &[]).stdout;
    let top = help(&["--help"]);
    assert!(
        top.contains("the console: hide every action that writes"),
        "{top}"
    );
    for (command, says) in [
        ("sync", "Run as --dry-run"),
        ("reconcile", "Run as --dry-run"),
        ("verify", "--recreate is refused"),
        ("migrate", "Refuse to create or drop"),
        ("status", "status only reads"),
        ("bench", "Refused (exit 2)"),
    ] {
        let text = help(&[command, "--help"]);
        let line = text
            .lines()
            .skip_while(|l| !l.contains("--read-only"))
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(line.contains(says), "{command}: {line}");
        assert!(!line.contains("console"), "{command}: {line}");
    }
}
