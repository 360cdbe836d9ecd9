//! Honest rehearsals over the real binary: `--simulated-graph` starts with the mailboxes the
//! database implies, writes only to a demo database calsync created (or the one database named
//! with `--simulated-graph-writes-to`), says so, and leaves a "simulated" audit row; headless
//! commands on the demo database never go to the real Graph.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cli::{Run, assert_one_line_error, calsync};
use crate::on_both_backends;
use crate::support::{Backend, TestDb};

/// A Graph that answers nothing: a command that went to the configured (real) Graph instead of
/// the simulator would find every lookup failing.
const NO_REAL_GRAPH: [(&str, &str); 4] = [
    ("CALSYNC_GRAPH_URL", "http://127.0.0.1:9/v1.0"),
    ("CALSYNC_LOGIN_URL", "http://127.0.0.1:9"),
    ("CALSYNC_GRAPH_MAX_ATTEMPTS", "1"),
    ("CALSYNC_HTTP_TIMEOUT_SECS", "2"),
];

const DEMO_NOTE: &str = "is calsync's demo database: using the simulated Graph";
const DRY_RUN_NOTE: &str = "which calsync did not create as a demo: running as a dry run";

/// A small demo database made by `calsync demo`, as an operator makes it.
fn demo(dir: &Path) -> String {
    let path = dir.join("demo.db");
    let run = calsync(
        &[
            "demo",
            "--db",
            path.to_str().unwrap(),
            "--selections",
            "300",
            "--print-url",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.trim().to_string()
}

fn on(url: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(args);
    calsync(&all, env)
}

/// The last JSON line of the output (the summary object).
fn summary_of(run: &Run) -> Value {
    let line = run.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

fn json_lines(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[track_caller]
fn assert_not_the_configured_graph(error: &Value) {
    let error = error.as_str().unwrap_or_default().to_lowercase();
    assert!(
        !error.contains("127.0.0.1:9") && !error.contains("connect") && !error.contains("network"),
        "this went to the configured Graph, not the simulator: {error}"
    );
}

/// Every selection row's sync columns, in one text (compared before and after a run).
async fn selection_rows(db: &TestDb) -> String {
    let sql = match db.backend {
        Backend::Sqlite => {
            "SELECT group_concat(r, ';') FROM (SELECT id || '|' || quote(outlook_event_id) || '|' \
             || quote(calendar_added) || '|' || quote(calendar_add_attempted_at) || '|' || \
             quote(calendar_error) AS r FROM conferences_conferencetimeslotselection ORDER BY id)"
        }
        Backend::Postgres => {
            "SELECT string_agg(concat_ws('|', id, coalesce(outlook_event_id, 'NULL'), \
             calendar_added, coalesce(calendar_add_attempted_at::text, 'NULL'), \
             coalesce(calendar_error, 'NULL')), ';' ORDER BY id) \
             FROM conferences_conferencetimeslotselection"
        }
    };
    db.scalar_text(sql).await.unwrap_or_default()
}

async fn count(db: &TestDb, table: &str) -> String {
    db.scalar_text(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
        .await
        .unwrap_or_default()
}

/// The demo's own story of its mailboxes: how many events its owners deleted in Outlook, and how
/// many duplicates the LMS left (the same seeding the binary uses, on a throwaway simulator).
async fn demo_story(url: &str) -> calsync::demo::SeedReport {
    let store = calsync::store::Store::open(
        &calsync::store::DatabaseUrl::parse(url).unwrap(),
        &calsync::store::StoreOptions::default(),
    )
    .await
    .unwrap();
    let sim = calsync::demo::start_simulator(calsync::demo::SimulatorSettings::default())
        .await
        .unwrap();
    let story = calsync::demo::seed_simulator(&store, &sim).await.unwrap();
    sim.shutdown().await;
    story
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_on_the_demo_reports_only_the_events_its_owners_deleted_missing() {
    let dir = tempfile::tempdir().unwrap();
    let url = demo(dir.path());
    let story = demo_story(&url).await;
    assert!(
        story.events > 20 && story.deleted_in_outlook > 0,
        "{story:?}"
    );

    for flags in [
        &["verify", "--simulated-graph", "--json"][..],
        &["verify", "--json"],
    ] {
        let run = on(&url, flags, &NO_REAL_GRAPH);
        assert!(run.code == 1, "some events are missing: {}", run.stderr);
        assert!(run.stderr.contains(DEMO_NOTE), "{flags:?}: {}", run.stderr);
        let lines = json_lines(&run);
        let (summary, findings) = lines.split_last().unwrap();
        assert_eq!(summary["simulated_graph"], true, "{summary}");
        // What cannot be checked is the demo's own story (no mailbox, a rotated secret), never
        // the configured Graph being unreachable.
        for finding in findings.iter().filter(|f| f["status"] == "unchecked") {
            assert_not_the_configured_graph(&finding["error"]);
        }
        let [total, present, missing, unchecked] =
            ["total", "present", "missing", "unchecked"].map(|k| summary[k].as_u64().unwrap());
        assert_eq!(present + missing + unchecked, total, "{summary}");
        assert!(
            missing > 0 && missing <= story.deleted_in_outlook as u64,
            "only the events deleted in Outlook are missing, not all of them: {summary} {story:?}"
        );
        assert!(present > 10 * missing, "{summary}");
    }

    let audit = json_lines(&on(&url, &["audit", "--json", "--action", "verify"], &[]));
    assert_eq!(audit.len(), 2);
    for row in &audit {
        assert!(
            row["scope"].as_str().unwrap().contains("simulated Graph"),
            "{row}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_dry_run_on_the_demo_finds_the_lms_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let url = demo(dir.path());
    let story = demo_story(&url).await;
    assert!(story.duplicates > 0, "{story:?}");

    let run = on(
        &url,
        &["reconcile", "--simulated-graph", "--dry-run", "--json"],
        &NO_REAL_GRAPH,
    );
    assert!(run.code < 2, "{}", run.stderr);
    assert!(run.stderr.contains(DEMO_NOTE), "{}", run.stderr);
    let lines = json_lines(&run);
    let (summary, findings) = lines.split_last().unwrap();
    assert_eq!(summary["simulated_graph"], true);
    for failure in summary["mailbox_errors"].as_array().unwrap() {
        assert_not_the_configured_graph(&failure["error"]);
    }
    assert_eq!(summary["deleted"], 0);
    let duplicates = findings
        .iter()
        .filter(|f| f["kind"] == "probable_duplicate")
        .count();
    assert!(
        duplicates >= story.duplicates,
        "{duplicates} duplicates found for {story:?}"
    );
    assert!(
        findings
            .iter()
            .all(|f| f["result"] == "kept" || f["result"] == "would_delete"),
        "a dry run deletes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_sync_on_the_demo_uses_the_simulator_says_so_and_is_audited_as_simulated() {
    let dir = tempfile::tempdir().unwrap();
    let url = demo(dir.path());
    let run = on(&url, &["sync", "--json"], &NO_REAL_GRAPH);
    assert!(run.stderr.contains(DEMO_NOTE), "{}", run.stderr);
    let summary = summary_of(&run);
    assert_eq!(summary["simulated_graph"], true);
    assert_eq!(summary["dry_run"], false);
    assert!(summary["synced"].as_u64().unwrap() > 0, "{summary}");
    for failure in summary["failures"].as_array().unwrap() {
        assert_not_the_configured_graph(&failure["error"]);
    }

    let audit = json_lines(&on(&url, &["audit", "--json", "--action", "sync"], &[]));
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["scope"], "unsynced · simulated Graph");
}

on_both_backends! {
    async fn simulated_graph_on_a_database_calsync_did_not_create_is_a_dry_run(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let url = db.url_string();
        assert_eq!(on(&url, &["migrate"], &[]).code, 0);
        let before = selection_rows(&db).await;
        let audit_before = count(&db, "calsync_audit_log").await;

        let sync = on(&url, &["sync", "--simulated-graph", "--all"], &NO_REAL_GRAPH);
        assert_eq!(sync.code, 0, "{}", sync.stderr);
        assert!(sync.stderr.contains(DRY_RUN_NOTE), "{}", sync.stderr);
        assert_eq!(sync.stderr.lines().count(), 1, "one line says so: {}", sync.stderr);
        assert!(sync.stdout.contains("=== DRY RUN MODE ==="), "{}", sync.stdout);
        let json = on(&url, &["sync", "--simulated-graph", "--json"], &NO_REAL_GRAPH);
        let summary = summary_of(&json);
        assert_eq!((summary["dry_run"].as_bool(), summary["simulated_graph"].as_bool()), (Some(true), Some(true)));

        let verify = on(&url, &["verify", "--simulated-graph", "--recreate", "--json"], &NO_REAL_GRAPH);
        assert!(verify.stderr.contains(DRY_RUN_NOTE), "{}", verify.stderr);
        let summary_of_verify = summary_of(&verify);
        // Selections 1 and 3 (Ines, whose branch has an integration) are found; 8 has no
        // integration, so it cannot be checked, simulated or not.
        assert_eq!(summary_of_verify["present"], 2, "{summary_of_verify}");
        assert_eq!(summary_of_verify["missing"], 0, "every added row's event is planted: {summary_of_verify}");
        assert_eq!(summary_of_verify["recreated"], Value::Null, "a dry run re-creates nothing");

        let reconcile = on(&url, &["reconcile", "--simulated-graph", "--json"], &NO_REAL_GRAPH);
        assert!(reconcile.stderr.contains(DRY_RUN_NOTE), "{}", reconcile.stderr);
        assert_eq!(summary_of(&reconcile)["dry_run"], true);

        assert_eq!(selection_rows(&db).await, before, "every row untouched");
        assert_eq!(count(&db, "calsync_audit_log").await, audit_before, "nothing audited: nothing was done");
        assert_eq!(count(&db, "calsync_event_ledger").await, "0", "nothing recorded in the ledger");
    }
}

on_both_backends! {
    async fn the_database_named_with_simulated_graph_writes_to_is_written_and_audited_as_simulated(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let url = db.url_string();
        assert_eq!(on(&url, &["migrate"], &[]).code, 0);
        let before = selection_rows(&db).await;

        // Another database named: refused in one line, nothing done.
        let other = match backend {
            Backend::Sqlite => format!("sqlite:///{}", db.sqlite_path().with_file_name("other.db").display()),
            Backend::Postgres => url.replace(db.pg_name(), "some_other_database"),
        };
        let wrong = on(&url, &["sync", "--simulated-graph-writes-to", &other], &NO_REAL_GRAPH);
        assert_one_line_error(&wrong, "--simulated-graph-writes-to");
        assert_eq!(selection_rows(&db).await, before);

        // The same database in another form: the bare file path, or the server without sslmode.
        let named = match backend {
            Backend::Sqlite => db.sqlite_path().display().to_string(),
            Backend::Postgres => url.trim_end_matches("?sslmode=disable").to_string(),
        };
        let run = on(&url, &["sync", "--all", "--simulated-graph-writes-to", &named, "--json"], &NO_REAL_GRAPH);
        assert!(run.stderr.contains("as --simulated-graph-writes-to says"), "{}", run.stderr);
        let summary = summary_of(&run);
        assert_eq!((summary["dry_run"].as_bool(), summary["simulated_graph"].as_bool()), (Some(false), Some(true)));
        assert!(summary["synced"].as_u64().unwrap() > 0, "{summary}");
        assert_ne!(selection_rows(&db).await, before, "the named database is written");
        let added = db
            .scalar_text("SELECT outlook_event_id FROM conferences_conferencetimeslotselection WHERE id = 2")
            .await;
        assert!(added.is_some_and(|id| !id.is_empty()), "selection 2 now has its simulated event");

        let audit = json_lines(&on(&url, &["audit", "--json", "--action", "sync"], &[]));
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0]["scope"], "--all · simulated Graph");
    }
}

#[tokio::test]
async fn calsync_demo_neither_opens_nor_removes_a_database_it_did_not_create() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let path: PathBuf = db.sqlite_path();
    let before = selection_rows(&db).await;
    for extra in [&[][..], &["--reset"]] {
        let mut args = vec!["demo", "--db", path.to_str().unwrap(), "--summary"];
        args.extend_from_slice(extra);
        let run = calsync(&args, &[]);
        assert_one_line_error(&run, "is not a demo database calsync created");
        assert!(path.exists());
    }
    assert_eq!(selection_rows(&db).await, before);
}

#[tokio::test]
async fn the_demo_carries_its_marker_and_a_copy_without_it_is_not_a_demo() {
    let dir = tempfile::tempdir().unwrap();
    let url = demo(dir.path());
    let path = dir.path().join("demo.db");
    let marker = |p: &Path| -> i64 {
        rusqlite::Connection::open(p)
            .unwrap()
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(marker(&path), calsync::demo::DEMO_APPLICATION_ID);
    let run = on(&url, &["sync", "--dry-run"], &NO_REAL_GRAPH);
    assert!(run.stderr.contains(DEMO_NOTE), "{}", run.stderr);

    // The same rows without the marker: calsync did not create this one as a demo.
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    rusqlite::Connection::open(&copy)
        .unwrap()
        .pragma_update(None, "application_id", 0)
        .unwrap();
    let copy_url = format!("sqlite:///{}", copy.display());
    let run = on(&copy_url, &["sync", "--simulated-graph"], &NO_REAL_GRAPH);
    assert!(run.stderr.contains(DRY_RUN_NOTE), "{}", run.stderr);
    assert!(run.stdout.contains("=== DRY RUN MODE ==="));
}

#[tokio::test]
async fn an_older_demo_in_calsyncs_data_directory_is_still_the_demo() {
    let data = tempfile::tempdir().unwrap();
    let env = [("XDG_DATA_HOME", data.path().to_str().unwrap())];
    let created = calsync(&["demo", "--selections", "200", "--print-url"], &env);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let url = created.stdout.trim().to_string();
    let path = PathBuf::from(url.trim_start_matches("sqlite://"));
    assert!(path.starts_with(data.path()), "{url}");
    // As an older calsync left it: no marker.
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "application_id", 0)
        .unwrap();
    let mut env = NO_REAL_GRAPH.to_vec();
    env.push(("XDG_DATA_HOME", data.path().to_str().unwrap()));
    let run = on(&url, &["verify", "--json"], &env);
    assert!(run.stderr.contains(DEMO_NOTE), "{}", run.stderr);
    assert_eq!(summary_of(&run)["simulated_graph"], true);
}
