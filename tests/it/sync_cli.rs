//! `calsync sync` as operators and cron jobs run it: the LMS command's lines, the JSON contract,
//! exit codes, and what a killed or cancelled run leaves behind.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calsync::domain::{Filter, SyncState};
use calsync::sim::{Latency, SimServer};

use crate::cli::{assert_one_line_error, calsync};
use crate::on_both_backends;
use crate::support::{Backend, TestDb};
use crate::sync::{add_learners, sim_config};

fn graph_env(sim: &calsync::sim::SimHandle) -> Vec<(&'static str, String)> {
    vec![
        ("CALSYNC_GRAPH_URL", sim.graph_url()),
        ("CALSYNC_LOGIN_URL", sim.login_url()),
    ]
}

fn run_sync(db: &TestDb, sim: &calsync::sim::SimHandle, args: &[&str]) -> crate::cli::Run {
    let url = db.url_string();
    let mut all = vec!["--database-url", url.as_str(), "sync"];
    all.extend_from_slice(args);
    let env = graph_env(sim);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    calsync(&all, &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_prints_the_lms_commands_lines() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let run = calsync(
        &["--database-url", &db.url_string(), "sync", "--dry-run"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "Syncing only unsynced selections",
            "",
            "Found 7 selections to sync",
            "",
            "=== DRY RUN MODE ===",
            "Would sync: Ann Other - Zoom Clinic - 2025-12-15 10:00:00",
        ]
    );
    assert_eq!(
        lines.len(),
        5 + 7,
        "seven 'Would sync' lines, no '... and K more'"
    );
    // The LMS prints Django's get_full_name(), which may be empty.
    assert!(lines.contains(&"Would sync:  - Zoom Clinic - 2026-04-01 10:00:00"));

    let filtered = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "sync",
            "--dry-run",
            "--conference-id",
            "1",
            "--user-id",
            "3",
            "--retry-failed",
            "--include-permanent",
            "--all",
        ],
        &[],
    );
    let lines: Vec<&str> = filtered.stdout.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "Filtering by conference ID: 1",
            "Filtering by user ID: 3",
            "Retrying only failed calendar additions",
            "",
        ]
    );
    assert!(filtered.stdout.contains("Found 1 selections to sync"));
    let all = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "sync",
            "--dry-run",
            "--all",
        ],
        &[],
    );
    assert!(
        all.stdout
            .starts_with("Syncing ALL selections (including already synced)")
    );
    assert!(all.stdout.contains("Found 10 selections to sync"));
    assert!(!all.stdout.contains("... and"));
    assert_eq!(all.stdout.lines().count(), 5 + 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_reports_one_object_and_the_exit_code_says_whether_anything_failed() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let sim = SimServer::start(sim_config()).await.unwrap();
    let ok = run_sync(&db, &sim, &["--selection-id", "2", "--json"]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    let summary: serde_json::Value = serde_json::from_str(ok.stdout.trim()).unwrap();
    let keys: Vec<&str> = summary
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "claimed_elsewhere",
            "dry_run",
            "duration_ms",
            "failed",
            "failures",
            "skipped",
            "synced",
            "total"
        ]
    );
    assert_eq!(
        (summary["total"].as_u64(), summary["synced"].as_u64()),
        (Some(1), Some(1))
    );

    let mixed = run_sync(&db, &sim, &["--json"]);
    assert_eq!(mixed.code, 1, "some selections failed");
    let summary: serde_json::Value = serde_json::from_str(mixed.stdout.trim()).unwrap();
    assert_eq!(
        summary["total"], 6,
        "unsynced rows once selection 2 is added"
    );
    let failures = summary["failures"].as_array().unwrap();
    assert!(failures.iter().any(|f| f["selection_id"] == 6
        && f["error"] == "User email address is required for calendar integration"));
    assert_eq!(summary["skipped"], 0);

    let nothing = run_sync(&db, &sim, &["--concurrency", "0"]);
    assert_one_line_error(&nothing, "--concurrency must be at least 1");
    let bad_env = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "sync",
            "--selection-id",
            "2",
        ],
        &[("CALSYNC_GRAPH_URL", "http://graph.example.org/v1.0")],
    );
    assert_one_line_error(&bad_env, "CALSYNC_GRAPH_URL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_human_output_mirrors_the_lms_command() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let sim = SimServer::start(sim_config()).await.unwrap();
    let run = run_sync(&db, &sim, &["--selection-id", "2", "--selection-id", "6"]);
    assert_eq!(run.code, 1);
    let out = &run.stdout;
    assert!(out.contains(
        "Syncing ALL selections (including already synced)\n\nFound 2 selections to sync\n"
    ));
    assert!(out.contains("Starting calendar sync..."));
    assert!(out.contains("Syncing: llearner - Induction Q&A - 2025-12-15 10:00:00\n  ✓ Success\n"));
    assert!(out.contains("Syncing: noemail - Zoom Clinic - 2026-04-01 10:00:00\n  ✗ Failed: User email address is required for calendar integration\n"));
    let rule = "=".repeat(60);
    assert!(out.contains(&format!("{rule}\nSync Summary:\nTotal selections: 2\nSuccessfully synced: 1\nFailed: 1\n{rule}\n")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_has_its_numbered_line_and_a_skipped_row_says_why() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let sim = SimServer::start(sim_config()).await.unwrap();
    // Selection 8 belongs to a conference that no longer uses time slots.
    let ids = [
        "--selection-id",
        "2",
        "--selection-id",
        "8",
        "--selection-id",
        "6",
    ];
    let run = run_sync(&db, &sim, &ids);
    let out = &run.stdout;
    let numbered: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once(']').map(|(n, _)| n))
        .filter(|n| n.starts_with('['))
        .collect();
    assert_eq!(numbered, ["[1/3", "[2/3", "[3/3"], "{out}");
    assert!(
        out.contains(
            "Syncing: aother - Café numérique 会議 - 2025-12-31 23:00:00\n  - Skipped: the conference does not use time slots\n"
        ),
        "{out}"
    );
    assert!(out.contains("Skipped: 1\n"), "{out}");
}

on_both_backends! {
    async fn a_run_killed_midway_loses_nothing_and_a_rerun_makes_no_duplicates(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        add_learners(&db, 60, false).await;
        let mut config = sim_config();
        config.latency = Latency::fixed(Duration::from_millis(120));
        let sim = SimServer::start(config).await.unwrap();
        let url = db.url_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_calsync"))
            .args(["--database-url", &url, "sync", "--concurrency", "6"])
            .envs(graph_env(&sim))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let store = db.store().await;
        let added = || async {
            store
                .count(&Filter { states: vec![SyncState::Added], ..Filter::default() })
                .await
                .unwrap()
        };
        let before = added().await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while added().await < before + 6 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        let _ = child.wait();
        let killed_at = added().await;
        assert!(killed_at < before + 60, "killed before the end ({killed_at})");

        // Every learner row is untouched, fully written, or stamped as attempted before its
        // create was sent (the LMS's "interrupted"; the re-run looks its event up by tag).
        for id in (1000..1120).step_by(2) {
            let s = store.selection(id).await.unwrap().unwrap();
            let untouched = !s.sync.calendar_added && s.sync.attempted_at.is_none() && s.sync.error.is_none() && s.sync.outlook_event_id.is_none();
            let in_flight = !s.sync.calendar_added && s.sync.attempted_at.is_some() && s.sync.error.is_none() && s.sync.outlook_event_id.is_none();
            let written = s.sync.calendar_added && s.sync.attempted_at.is_some() && s.sync.error.is_none() && s.sync.outlook_event_id.is_some();
            assert!(untouched || in_flight || written, "selection {id} is half-written: {:?}", s.sync);
        }

        let rerun = Command::new(env!("CARGO_BIN_EXE_calsync"))
            .args(["--database-url", &url, "sync", "--json"])
            .envs(graph_env(&sim))
            .output()
            .unwrap();
        assert!(rerun.status.code().is_some(), "{}", String::from_utf8_lossy(&rerun.stderr));
        for user in 100..160 {
            let events = sim.state().events(&format!("learner{user}@example.org"));
            assert_eq!(events.len(), 1, "learner{user} has exactly one event");
            let row = store.selection(1000 + (user - 100) * 2).await.unwrap().unwrap();
            assert_eq!(row.state(), SyncState::Added);
            let mailbox = format!("learner{user}@example.org");
            let rest = sim.state().rest_id_of(&mailbox, events[0]["id"].as_str().unwrap());
            assert_eq!(row.sync.outlook_event_id, rest, "the row holds the LMS's format of its id");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_finishes_what_is_in_flight_and_says_what_was_not_started() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    add_learners(&db, 40, false).await;
    let mut config = sim_config();
    config.latency = Latency::fixed(Duration::from_millis(150));
    let sim = SimServer::start(config).await.unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args([
            "--database-url",
            &db.url_string(),
            "sync",
            "--concurrency",
            "2",
        ])
        .envs(graph_env(&sim))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a cancelled run is not a complete one"
    );
    assert!(stdout.contains("Not started (cancelled): "), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("Cancelling"));
    let store = db.store().await;
    let synced = stdout.matches("✓ Success").count() as u64;
    let added = store
        .count(&Filter {
            states: vec![SyncState::Added],
            ..Filter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        added,
        2 + synced,
        "every reported success is recorded (2 were added before)"
    );
}

#[tokio::test]
async fn a_run_can_take_one_cause_of_failure_at_a_time() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let run = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "sync",
            "--dry-run",
            "--retry-failed",
            "--cause",
            "credentials",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Filtering by cause: credentials"));
    // Of the failed rows only 9 ("No Teams integration available") is a credentials problem.
    assert!(
        run.stdout.contains("Found 1 selections to sync"),
        "{}",
        run.stdout
    );
    let both = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "sync",
            "--dry-run",
            "--cause",
            "credentials,unknown_user",
        ],
        &[],
    );
    assert!(
        both.stdout.contains("Found 3 selections to sync"),
        "{}",
        both.stdout
    );
    let bad = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "sync",
            "--cause",
            "gremlins",
        ],
        &[],
    );
    assert_one_line_error(&bad, "unknown cause 'gremlins'");
}
