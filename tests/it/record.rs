//! Nothing is sent that cannot be recorded: a database calsync cannot write (a role without
//! UPDATE, a read-only file) gets no event at all, because the write-probe fails before the
//! first POST; one that stops taking writes mid-run (UPDATE revoked, a full disk) gets at most
//! the events that were in flight, because the first failed write stops the run. Every run
//! here is the real binary against a simulator that does not de-duplicate `transactionId`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use calsync::sim::SimServer;
use calsync::store::{DatabaseUrl, Store, StoreOptions};

use crate::runs::{
    LEARNERS, assert_one_event_per_learner, is_root, learner_events, learners_added, mount,
    run_sync, spawn_sync, umount, wait_until_added, without_dedupe,
};
use crate::support::{Backend, TestDb, pg_admin_url, pg_connect};
use crate::sync::add_learners;

/// Selections in flight at once in the runs that lose their database midway: the most events
/// such a run may leave unrecorded.
const IN_FLIGHT: usize = 4;

/// A login role on the test server with the given privileges on the scratch database's tables.
struct PgRole {
    name: String,
}

impl PgRole {
    async fn create(db: &TestDb, privileges: &str) -> PgRole {
        let name = format!("calsync_role_{}_{}", std::process::id(), db.pg_name());
        let admin = pg_connect(&pg_admin_url()).await;
        admin
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {name}; CREATE ROLE {name} LOGIN"
            ))
            .await
            .expect("create the role");
        db.exec(&format!(
            "GRANT USAGE ON SCHEMA public TO {name}; \
             GRANT {privileges} ON ALL TABLES IN SCHEMA public TO {name}"
        ))
        .await;
        PgRole { name }
    }

    /// The scratch database's URL, as this role.
    fn url(&self, db: &TestDb) -> String {
        db.url_string()
            .replacen("postgres@", &format!("{}@", self.name), 1)
    }

    async fn drop(self, db: &TestDb) {
        db.exec(&format!("DROP OWNED BY {}", self.name)).await;
        let admin = pg_connect(&pg_admin_url()).await;
        let _ = admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {}", self.name))
            .await;
    }
}

fn assert_says_nothing_was_sent(code: i32, stderr: &str, why: &str) {
    assert_eq!(code, 2, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: nothing was sent"), "{stderr}");
    assert!(lines[0].contains(why), "{stderr}");
}

/// Exactly one line says why the run stopped.
fn assert_one_stop_line(stderr: &str, why: &str) {
    let stops: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("the run stopped"))
        .collect();
    assert_eq!(stops.len(), 1, "{stderr}");
    assert!(stops[0].contains(why), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_update_gets_no_event() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    add_learners(&db, LEARNERS, false).await;
    let role = PgRole::create(&db, "SELECT").await;
    let sim = SimServer::start(without_dedupe(0)).await.unwrap();

    let (code, _, stderr) = run_sync(&role.url(&db), &sim, &[], &[]);

    assert_says_nothing_was_sent(code, &stderr, "permission denied");
    // In flight when it stopped: none. The probe's UPDATE is refused before the first POST.
    assert_eq!(learner_events(&sim), 0);
    let created: u64 = sim
        .state()
        .stats()
        .mailboxes
        .values()
        .map(|m| m.events_created)
        .sum();
    assert_eq!(created, 0, "no event in any mailbox");
    role.drop(&db).await;
}

/// A replica, or a database set to read-only transactions: the role's privileges say UPDATE
/// is allowed, and only a real write finds out that it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_transactions_get_no_event_although_privileges_allow_update() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    add_learners(&db, LEARNERS, false).await;
    db.exec(&format!(
        "ALTER DATABASE {} SET default_transaction_read_only = on",
        db.pg_name()
    ))
    .await;
    let sim = SimServer::start(without_dedupe(0)).await.unwrap();

    let (code, _, stderr) = run_sync(&db.url_string(), &sim, &[], &[]);

    assert_says_nothing_was_sent(code, &stderr, "read-only transaction");
    assert_eq!(
        learner_events(&sim),
        0,
        "none in flight: the probe failed first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_revoked_midway_leaves_at_most_the_events_in_flight() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    add_learners(&db, LEARNERS, false).await;
    let role = PgRole::create(&db, "SELECT, UPDATE").await;
    let sim = SimServer::start(without_dedupe(100)).await.unwrap();
    let store = db.store().await;
    let url = role.url(&db);
    let concurrency = IN_FLIGHT.to_string();
    let child = spawn_sync(&url, &sim, &["--concurrency", &concurrency], &[]);
    wait_until_added(&store, 8).await;
    db.exec(&format!(
        "REVOKE UPDATE ON conferences_conferencetimeslotselection FROM {}",
        role.name
    ))
    .await;
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_one_stop_line(&stderr, "permission denied");
    let recorded = learners_added(&store).await;
    let events = learner_events(&sim);
    assert!(recorded < LEARNERS as usize, "stopped before the end");
    // Only creates whose intent was already written can have been sent when UPDATE went: the
    // selections in flight, at most one per concurrency slot.
    assert!(
        events <= recorded + IN_FLIGHT,
        "{events} events for {recorded} recorded rows"
    );

    // Those in flight were stamped as attempted, so the next run finds them by their tag.
    db.exec(&format!(
        "GRANT UPDATE ON conferences_conferencetimeslotselection TO {}",
        role.name
    ))
    .await;
    let (code, _, stderr) = run_sync(&url, &sim, &[], &[]);
    assert_eq!(code, 1, "only the fixture's broken rows fail: {stderr}");
    assert_one_event_per_learner(&sim, &store).await;
    role.drop(&db).await;
}

/// A mount of its own, undone when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        umount(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_sqlite_file_gets_no_event() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    add_learners(&db, LEARNERS, false).await;
    let path = db.sqlite_path();
    set_mode(&path, 0o444);
    // Root ignores file modes: a read-only bind mount of the file does what 0444 does for
    // everybody else. Its directory stays writable (the run lock file lives there).
    let _read_only = is_root().then(|| {
        let shown = path.to_str().unwrap();
        mount(&["--bind", shown, shown]);
        let mounted = Mounted(path.clone());
        mount(&["-o", "remount,ro,bind", shown]);
        mounted
    });
    let sim = SimServer::start(without_dedupe(0)).await.unwrap();

    let (code, _, stderr) = run_sync(&db.url_string(), &sim, &[], &[]);

    assert_says_nothing_was_sent(code, &stderr, "read-only");
    assert_eq!(
        learner_events(&sim),
        0,
        "none in flight: the probe failed first"
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Keeps a file system full: whatever SQLite frees (a deleted journal) is taken again at once,
/// as on a disk that something else keeps filling.
struct Filler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    path: PathBuf,
}

impl Filler {
    fn start(dir: &Path) -> Filler {
        let path = dir.join("filler");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (path, stop) = (path.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut file = std::fs::File::create(&path).expect("filler file");
                let block = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    if file.write_all(&block).is_err() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        };
        // Full before the caller goes on.
        while free_bytes(dir) > 4096 {
            std::thread::sleep(Duration::from_millis(5));
        }
        Filler {
            stop,
            thread: Some(thread),
            path,
        }
    }

    /// Stops filling and frees the space.
    fn free(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        std::fs::remove_file(&self.path).unwrap();
    }
}

fn free_bytes(dir: &Path) -> u64 {
    let output = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .expect("df");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fills_midway_leaves_at_most_the_events_in_flight() {
    assert!(
        is_root(),
        "this test mounts a small tmpfs (a real full disk) and needs root"
    );
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    add_learners(&db, LEARNERS, false).await;
    let disk = tempfile::tempdir().unwrap();
    mount(&[
        "-t",
        "tmpfs",
        "-o",
        "size=8m",
        "tmpfs",
        disk.path().to_str().unwrap(),
    ]);
    let _mounted = Mounted(disk.path().to_path_buf());
    let path = disk.path().join("lms.db");
    std::fs::copy(db.sqlite_path(), &path).unwrap();
    let url = format!("sqlite:///{}", path.display());
    let store = Store::open(&DatabaseUrl::Sqlite(path.clone()), &StoreOptions::default())
        .await
        .unwrap();
    let sim = SimServer::start(without_dedupe(100)).await.unwrap();
    let concurrency = IN_FLIGHT.to_string();

    let child = spawn_sync(&url, &sim, &["--concurrency", &concurrency], &[]);
    wait_until_added(&store, 8).await;
    let filler = Filler::start(disk.path());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_one_stop_line(&stderr, "full");
    let recorded = learners_added(&store).await;
    let events = learner_events(&sim);
    assert!(recorded < LEARNERS as usize, "stopped before the end");
    assert!(
        events <= recorded + IN_FLIGHT,
        "{events} events for {recorded} recorded rows"
    );

    filler.free();
    let (code, _, stderr) = run_sync(&url, &sim, &[], &[]);
    assert_eq!(code, 1, "only the fixture's broken rows fail: {stderr}");
    assert_one_event_per_learner(&sim, &store).await;
}
