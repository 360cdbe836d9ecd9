//! Several operators at once: on PostgreSQL each selection is claimed by one calsync at a time
//! (advisory locks, dropped with the session); on SQLite one sync at a time holds the database.

use std::time::Duration;

use calsync::domain::{Filter, Scope, SyncState};
use calsync::sim::{Latency, SimHandle, SimServer};
use calsync::store::{CLAIM_NAMESPACE, Store};
use calsync::sync::{Outcome, Summary};
use serde_json::Value;

use crate::cli::assert_one_line_error;
use crate::on_both_backends;
use crate::support::{Backend, TestDb, pg_connect};
use crate::sync::{World, add_learners, sim_config};

const LEARNERS: i64 = 200;

/// `calsync sync` as a child process, with a clean environment like [`crate::cli::calsync`].
fn sync_process(db: &TestDb, sim: &SimHandle, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_calsync"));
    command
        .args(["--database-url", &db.url_string(), "sync"])
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("CALSYNC_CONFIG")
        .env_remove("CALSYNC_TENANT_ID")
        .env_remove("CALSYNC_CLIENT_ID")
        .env_remove("CALSYNC_CLIENT_SECRET")
        .env("CALSYNC_GRAPH_URL", sim.graph_url())
        .env("CALSYNC_LOGIN_URL", sim.login_url())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

fn summary_of(output: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "one JSON summary expected ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn count(summary: &Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {summary}"))
}

async fn unsynced_ids(store: &Store) -> Vec<i64> {
    store
        .selection_ids(&Filter {
            scope: Some(Scope::Unsynced),
            conference_id: Some(1),
            ..Filter::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_started_together_make_exactly_one_event_per_selection() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    add_learners(&db, LEARNERS, false).await;
    let mut config = sim_config();
    config.latency = Latency::between(Duration::from_millis(20), Duration::from_millis(50));
    let sim = SimServer::start(config).await.unwrap();
    let store = db.store().await;
    let ids = unsynced_ids(&store).await;
    // The learners, and Lea's failed selection 2 (conference 1, not added).
    assert_eq!(ids.len() as i64, LEARNERS + 1);

    let args = ["--conference-id", "1", "--concurrency", "8", "--json"];
    let first = sync_process(&db, &sim, &args).output();
    let second = sync_process(&db, &sim, &args).output();
    let (first, second) = tokio::join!(first, second);
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    assert_eq!(second.status.code(), Some(0), "{second:?}");

    // Every selection is added and has exactly one event in its mailbox.
    let mut mailboxes: Vec<String> = (100..100 + LEARNERS)
        .map(|user| format!("learner{user}@example.org"))
        .collect();
    mailboxes.push("lea.learner@example.org".to_string());
    for mailbox in &mailboxes {
        let events = sim.state().events(mailbox);
        assert_eq!(
            events.len(),
            1,
            "{mailbox} has exactly one event: {events:?}"
        );
    }
    for &id in &ids {
        let row = store.selection(id).await.unwrap().unwrap();
        assert_eq!(row.state(), SyncState::Added, "selection {id}");
    }

    // Each selection was synced by exactly one of them; the other left it alone.
    let (a, b) = (summary_of(&first), summary_of(&second));
    let total = ids.len() as u64;
    assert_eq!(count(&a, "synced") + count(&b, "synced"), total, "{a} {b}");
    for summary in [&a, &b] {
        assert_eq!(count(summary, "total"), total);
        assert_eq!(count(summary, "failed"), 0, "{summary}");
        assert_eq!(
            count(summary, "synced")
                + count(summary, "skipped")
                + count(summary, "claimed_elsewhere"),
            total,
            "{summary}"
        );
    }
    assert!(
        count(&a, "synced") > 0 && count(&b, "synced") > 0,
        "both runs overlapped and shared the work: {a} {b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_claimed_elsewhere_is_skipped_until_its_holder_is_gone() {
    let world = World::new(Backend::Postgres).await;
    add_learners(&world.db, 2, false).await;
    let (held, free) = (1000, 1002);
    // Another calsync's claim, on a session named as calsync names its claiming sessions.
    let other = pg_connect(&world.db.url_string()).await;
    other
        .batch_execute("SET application_name = 'calsync claims: ann@desk, pid 4242'")
        .await
        .unwrap();
    let row = other
        .query_one(
            "SELECT pg_try_advisory_lock($1, $2)",
            &[&CLAIM_NAMESPACE, &(held as i32)],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));

    let (summary, items) = world.sync(vec![held, free]).await;
    assert_eq!(
        (summary.synced, summary.claimed_elsewhere),
        (1, 1),
        "{summary:?}"
    );
    let outcome = &items
        .iter()
        .find(|i| i.selection_id == held)
        .unwrap()
        .outcome;
    assert!(
        matches!(outcome, Outcome::ClaimedElsewhere { detail }
            if detail.starts_with("being synced by another calsync (ann@desk, pid 4242, since ")),
        "{outcome:?}"
    );
    assert!(world.events("learner100@example.org").is_empty());
    let untouched = world.store.selection(held).await.unwrap().unwrap();
    assert_eq!(untouched.state(), SyncState::NotSynced);
    assert_eq!(world.events("learner101@example.org").len(), 1);

    // The holder's session ends (a crash): the server drops its claim.
    drop(other);
    let summary = wait_until_synced(&world, held).await;
    assert_eq!(summary.synced, 1, "{summary:?}");
    assert_eq!(world.events("learner100@example.org").len(), 1);
    let added = world.store.selection(held).await.unwrap().unwrap();
    assert_eq!(added.state(), SyncState::Added);
}

on_both_backends! {
    async fn a_row_done_meanwhile_is_seen_as_done_once_claimed(backend: Backend) {
        let world = World::new(backend).await;
        add_learners(&world.db, 2, false).await;
        let scope = Filter {
            scope: Some(Scope::Unsynced),
            conference_id: Some(1),
            ..Filter::default()
        };
        let frozen = vec![1000, 1002];
        // Another run finishes 1000 after this run froze its list.
        let (done, _) = world.sync(vec![1000]).await;
        assert_eq!(done.created, 1);

        let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let claims = world.store.claims(false).await.unwrap();
        let summary = world
            .engine
            .run(claims, &scope, frozen, events, tokio_util::sync::CancellationToken::new())
            .await
            .unwrap();
        assert_eq!((summary.created, summary.skipped), (1, 1), "{summary:?}");
        let mut reasons = Vec::new();
        while let Ok(event) = rx.try_recv() {
            if let calsync::sync::SyncEvent::Item(item) = event
                && let Outcome::Skipped { reason } = item.outcome
            {
                reasons.push((item.selection_id, reason));
            }
        }
        assert_eq!(reasons.len(), 1);
        assert_eq!(reasons[0].0, 1000);
        assert!(
            reasons[0].1.starts_with("no longer needs this run: now Added to Outlook"),
            "{}",
            reasons[0].1
        );
        assert_eq!(world.events("learner100@example.org").len(), 1, "not created again");
        assert_eq!(world.events("learner101@example.org").len(), 1);
    }
}

/// The server notices a closed session a moment after the client lets go of it.
async fn wait_until_synced(world: &World, id: i64) -> Summary {
    for _ in 0..50 {
        let (summary, _) = world.sync(vec![id]).await;
        if summary.claimed_elsewhere == 0 {
            return summary;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("selection {id} stayed claimed after its holder's session ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_of_a_sqlite_database_is_refused_or_waits_while_the_first_runs() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    add_learners(&db, 40, false).await;
    let mut config = sim_config();
    config.latency = Latency::fixed(Duration::from_millis(150));
    let sim = SimServer::start(config).await.unwrap();
    let mut first = sync_process(&db, &sim, &["--conference-id", "1", "--concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock_file = format!("{}.calsync-lock", db.sqlite_path().display());
    // The first run holds the lock once it has written who it is.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&lock_file).is_ok_and(|text| text.contains("since=")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never took the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let refused = run_to_end(sync_process(&db, &sim, &["--conference-id", "1"])).await;
    assert_one_line_error(
        &refused,
        &format!(
            "another calsync is syncing this database (pid {}, ",
            first.id().unwrap()
        ),
    );
    assert!(
        refused.stderr.contains(", since ")
            && refused
                .stderr
                .trim_end()
                .ends_with("); wait for it to finish or run with --wait"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);

    // With --wait it runs once the first is done, and chooses its rows only then: none left.
    let waited = run_to_end(sync_process(
        &db,
        &sim,
        &["--conference-id", "1", "--wait", "--json"],
    ))
    .await;
    // That it found no rows left shows it ran after the first's work; the first process may
    // still be exiting (its lock goes when its run ends, before the process does).
    assert_eq!(first.wait().await.unwrap().code(), Some(0));
    assert_eq!(waited.code, 0, "{}", waited.stderr);
    assert!(
        waited
            .stderr
            .contains("another calsync is syncing this database")
            && waited.stderr.contains("waiting for it to finish"),
        "{}",
        waited.stderr
    );
    let summary: Value = serde_json::from_str(waited.stdout.trim()).unwrap();
    assert_eq!(count(&summary, "total"), 0, "{summary}");

    let after = run_to_end(sync_process(
        &db,
        &sim,
        &["--all", "--conference-id", "1", "--json"],
    ))
    .await;
    assert_eq!(after.code, 0, "{}", after.stderr);
    let summary: Value = serde_json::from_str(after.stdout.trim()).unwrap();
    assert_eq!(count(&summary, "synced"), 40 + 3, "{summary}");
    for user in 100..140 {
        let events = sim.state().events(&format!("learner{user}@example.org"));
        assert_eq!(
            events.len(),
            1,
            "learner{user}: updated in place, not duplicated"
        );
    }
}

async fn run_to_end(mut command: tokio::process::Command) -> crate::cli::Run {
    let output = command.output().await.unwrap();
    crate::cli::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
