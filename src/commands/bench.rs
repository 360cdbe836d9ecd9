//! `calsync bench`: speed measured against a baseline taken in the same run, on the same
//! machine, so the ratios mean something on a shared, noisy host.
//!
//! `bench store` times calsync's store (the code `status` and the console use) against the
//! `sqlite3` shell running the very same SQL text with the values written in, which is the floor
//! for what any SQLite client can do.
//!
//! `bench sync` times a bulk sync against the simulated Graph (real HTTP on 127.0.0.1, a real
//! SQLite file): calsync's engine, the LMS's `sync_calendar_events` re-enacted request by
//! request, the floor any client could reach under Graph's 4-per-mailbox limit, and individual
//! requests against `$batch`. Every mode must create exactly one event per selection.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use rusqlite::{Connection, OpenFlags, params};
use serde::Serialize;
use serde_json::Value as Json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{CliError, Output, store_options};
use crate::cli::{BenchStoreArgs, BenchSyncArgs, EXIT_OK};
use crate::demo::{self, DemoSpec};
use crate::domain::{
    Cursor, Filter, PageRequest, Scope, Selection, Sort, StoredCredentials, SyncState, SyncWrite,
    choose_credentials, resolve_slot_window,
};
use crate::graph::{
    BatchRequest, Credentials, GraphClient, GraphConfig, MAILBOX_CONCURRENCY, MAX_BATCH_ITEMS,
};
use crate::sim::{Directory, Latency, SimConfig, SimHandle, SimServer, SimTenant};
use crate::store::sql::{self, Dialect, Sql, Value};
use crate::store::{DatabaseUrl, Store, django_datetime, sqlite_message};
use crate::sync::payload::{PayloadOptions, event_payload, transaction_id};
use crate::sync::{Engine, SyncOptions};

/// Each measurement repeats until it has run this long, then reports the mean of one run.
const MIN_SAMPLE: Duration = Duration::from_millis(300);
const PAGE_SIZE: u32 = 50;

/// The demo database a bench measures: `db` as an absolute path, generated with `selections`
/// rows when missing (and how long that took).
pub(super) async fn demo_database(
    db: &std::path::Path,
    selections: u64,
) -> Result<(std::path::PathBuf, Option<Duration>), CliError> {
    let path = std::path::absolute(db)
        .map_err(|e| CliError::unusable(format!("bad path {}: {e}", db.display())))?;
    if path.exists() {
        return Ok((path, None));
    }
    let started = Instant::now();
    let spec = DemoSpec::new(selections);
    let target = path.clone();
    tokio::task::spawn_blocking(move || demo::create(&target, &spec, &mut |_, _| {}))
        .await
        .map_err(|e| CliError::failed(e.to_string()))?
        .map_err(CliError::unusable)?;
    Ok((path, Some(started.elapsed())))
}

pub async fn store(args: &BenchStoreArgs) -> Result<i32, CliError> {
    let mut out = Output::default();
    let (path, generated) = demo_database(&args.db, args.selections).await?;
    if let Some(took) = generated {
        out.line(&format!(
            "generated the demo database with {} selections in {:.1} s ({})",
            args.selections,
            took.as_secs_f64(),
            path.display()
        ))?;
    }
    let store = Store::open(&DatabaseUrl::Sqlite(path.clone()), &store_options()?).await?;
    let total = store.count(&Filter::default()).await?;
    let shell = which_sqlite3();
    out.line(&format!(
        "calsync bench store: {total} selections, SQLite, {} build; floor = sqlite3 shell{}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        if shell.is_none() {
            " (not installed: floor skipped)"
        } else {
            ""
        }
    ))?;
    out.line(&format!(
        "{:<44} {:>14} {:>16} {:>8}",
        "query", "calsync (ms)", "sqlite3 (ms)", "ratio"
    ))?;
    out.flush()?;

    let failed = Filter {
        states: vec![SyncState::Failed],
        ..Filter::default()
    };
    let person = Filter {
        person: Some("singh".to_string()),
        ..Filter::default()
    };
    let far = |filter: &Filter| far_cursor(&store, filter.clone(), 999);
    let cases: Vec<(String, Case)> = vec![
        ("status --summary".into(), Case::Summary(Filter::default())),
        (
            "status --summary --state failed".into(),
            Case::Summary(failed.clone()),
        ),
        (
            "first page".into(),
            Case::Page(page(Filter::default(), None)),
        ),
        (
            "first page, state failed".into(),
            Case::Page(page(failed.clone(), None)),
        ),
        (
            "first page, user 'singh'".into(),
            Case::Page(page(person.clone(), None)),
        ),
        (
            "page 1000".into(),
            Case::Page(page(Filter::default(), far(&Filter::default()).await?)),
        ),
        (
            "page 1000, state failed".into(),
            Case::Page(page(failed.clone(), far(&failed).await?)),
        ),
        ("exact count, state failed".into(), Case::Count(failed)),
    ];
    for (name, case) in cases {
        let ours = measure_async(|| case.run(&store)).await?;
        let sql = case.sql();
        // The shell lacks calsync's Unicode matching function, so it has no floor to offer.
        let floor = match &shell {
            Some(shell) if !sql.text.contains(crate::store::UNICODE_CONTAINS) => {
                Some(measure_shell(shell, &path, &sql)?)
            }
            _ => None,
        };
        let (floor_text, ratio) = match floor {
            Some(f) => (
                format!("{:.2}", ms(f)),
                format!("{:.2}", ours.as_secs_f64() / f.as_secs_f64().max(1e-9)),
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        out.line(&format!(
            "{name:<44} {:>14.2} {floor_text:>16} {ratio:>8}",
            ms(ours)
        ))?;
        out.flush()?;
    }
    Ok(EXIT_OK)
}

enum Case {
    Summary(Filter),
    Page(PageRequest),
    Count(Filter),
}

impl Case {
    async fn run(&self, store: &Store) -> Result<(), CliError> {
        match self {
            Case::Summary(f) => drop(store.summary(f).await?),
            Case::Page(p) => drop(store.page(p).await?),
            Case::Count(f) => drop(store.count(f).await?),
        }
        Ok(())
    }

    fn sql(&self) -> Sql {
        match self {
            Case::Summary(f) => sql::state_counts(Dialect::SQLITE, f),
            Case::Page(p) => sql::selection_page(Dialect::SQLITE, p),
            Case::Count(f) => sql::count(Dialect::SQLITE, f),
        }
    }
}

fn page(filter: Filter, after: Option<Cursor>) -> PageRequest {
    PageRequest {
        filter,
        sort: Sort::default(),
        after,
        limit: PAGE_SIZE,
    }
}

/// The cursor after `pages` pages, found the way the console finds it: page by page.
async fn far_cursor(store: &Store, filter: Filter, pages: u32) -> Result<Option<Cursor>, CliError> {
    let mut request = page(filter, None);
    for _ in 0..pages {
        match store.page(&request).await?.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    Ok(request.after)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn measure_async<F, Fut>(mut run: F) -> Result<Duration, CliError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), CliError>>,
{
    run().await?; // warm the caches, as the shell's first run does too
    let started = Instant::now();
    let mut runs = 0u32;
    while started.elapsed() < MIN_SAMPLE || runs < 3 {
        run().await?;
        runs += 1;
    }
    Ok(started.elapsed() / runs)
}

fn which_sqlite3() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("sqlite3"))
            .find(|candidate| candidate.is_file())
    })
}

/// The statement with its values written in, exactly as calsync binds them.
fn literal_sql(statement: &Sql) -> String {
    let mut text = statement.text.clone();
    // Highest placeholder first, so ?1 never eats the front of ?12.
    for (i, value) in statement.params.iter().enumerate().rev() {
        let literal = match value {
            Value::Int(n) => n.to_string(),
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Time(t) => format!("'{}'", django_datetime(*t)),
        };
        text = text.replace(&format!("?{}", i + 1), &literal);
    }
    text
}

/// Mean time of the query in one `sqlite3` session: a session running it N times, less a
/// session running it not at all (process start, opening, the warm-up run), divided by N.
fn measure_shell(shell: &Path, db: &Path, statement: &Sql) -> Result<Duration, CliError> {
    let query = literal_sql(statement);
    let session = |runs: u32| -> Result<Duration, CliError> {
        let mut script = format!(".output /dev/null\n{query};\n");
        for _ in 0..runs {
            script.push_str(&query);
            script.push_str(";\n");
        }
        let started = Instant::now();
        let mut child = Command::new(shell)
            .arg("-readonly")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| CliError::failed(format!("cannot run sqlite3: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin
                .write_all(script.as_bytes())
                .map_err(|e| CliError::failed(format!("cannot feed sqlite3: {e}")))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|e| CliError::failed(format!("sqlite3 failed: {e}")))?;
        if !output.stderr.is_empty() {
            let text = String::from_utf8_lossy(&output.stderr);
            return Err(CliError::failed(format!(
                "sqlite3 refused the query: {}",
                text.lines().next().unwrap_or_default()
            )));
        }
        Ok(started.elapsed())
    };
    let base = session(0)?;
    let estimate = session(3)?.saturating_sub(base) / 3;
    let runs = (MIN_SAMPLE.as_secs_f64() / estimate.as_secs_f64().max(0.000_05)).ceil() as u32;
    let runs = runs.clamp(3, 5000);
    Ok(session(runs)?.saturating_sub(base) / runs)
}

// ---------------------------------------------------------------------------------------------
// bench sync

const LMS_SCHEMA: &str = include_str!("../../assets/schema/sqlite.sql");
const TENANT: &str = "bench.onmicrosoft.com";
const CLIENT_ID: &str = "00000000-0000-0000-0000-0000000be4c4";
const SECRET: &str = "bench-secret-not-real";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// The branch, its admin (who owns the one active Teams integration, so the LMS's lookup finds
/// it for every learner of the branch) and one Teams conference that uses time slots.
const FIXED_ROWS: &str = "
INSERT INTO branches_branch (id, name, created_at, updated_at, description, is_active,
  sharepoint_integration_enabled, order_management_enabled, business_id, teams_integration_enabled)
VALUES (1, 'Bench Campus', '2026-11-01 08:00:00', '2026-11-01 08:00:00', NULL, TRUE, FALSE, FALSE, NULL, TRUE);
INSERT INTO users_customuser (id, password, last_login, is_superuser, username, first_name, last_name, email,
  is_staff, is_active, date_joined, role, language, timezone, is_non_uk_address,
  initial_assessment_english, initial_assessment_maths, initial_assessment_subject_specific,
  initial_assessment_other, diagnostic_assessment_english, diagnostic_assessment_maths,
  diagnostic_assessment_subject_specific, diagnostic_assessment_other,
  functional_skills_english, functional_skills_maths, functional_skills_other, branch_id)
VALUES (1, '!unusable', NULL, FALSE, 'bench.admin', 'Bench', 'Admin', 'admin@bench.example', FALSE, TRUE,
  '2026-11-01 08:00:00', 'admin', 'en', 'UTC', FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE,
  FALSE, FALSE, FALSE, 1);
INSERT INTO conferences_conference (id, title, description, date, start_time, end_time, timezone,
  meeting_link, meeting_platform, meeting_status, data_sync_status, auto_recording_status, visibility,
  status, default_join_type, join_experience, allowed_join_methods, created_at, updated_at, course_id,
  created_by_id, rubric_id, use_time_slots)
VALUES (1, 'Bench office hours', '<p>Bring your questions.</p>', '2027-01-04', '10:00:00', '11:00:00',
  'Europe/London', 'https://teams.microsoft.com/l/meetup-join/bench', 'teams', 'scheduled', 'pending',
  'pending', 'public', 'published', 'guest', 'direct', 'auto_registered_only', '2026-11-01 08:00:00',
  '2026-11-01 08:00:00', NULL, 1, NULL, TRUE);
";

/// The run's parameters.
#[derive(Debug, Clone, Copy)]
struct Spec {
    selections: u32,
    mailboxes: u32,
    latency: Duration,
    concurrency: usize,
    runs: u32,
}

impl Spec {
    /// Selections are dealt round-robin, so no mailbox holds more than this many.
    fn most_per_mailbox(&self) -> u32 {
        self.selections.div_ceil(self.mailboxes)
    }

    /// Rounds of 4 concurrent requests the fullest mailbox needs.
    fn waves(&self) -> u32 {
        self.most_per_mailbox().div_ceil(MAILBOX_CONCURRENCY as u32)
    }

    /// One token round trip, then the fullest mailbox's waves, each one round trip long.
    fn floor(&self) -> Duration {
        self.latency * (1 + self.waves())
    }
}

/// What the simulator shows after one run, with what the client recorded.
#[derive(Debug, Clone, Default, Serialize)]
struct Counts {
    token_requests: u64,
    /// Graph calls as Graph counts them against its limits (a `$batch` item is one).
    graph_calls: u64,
    /// HTTP requests to Graph (a `$batch` envelope is one).
    graph_http_requests: u64,
    events_created: u64,
    /// Events stored beyond one per selection.
    duplicates: u64,
    /// Rows (or, without a database, responses) that name their event.
    recorded: u64,
    throttled: u64,
}

#[derive(Debug, Clone, Serialize)]
struct Measured {
    mode: String,
    runs_ms: Vec<f64>,
    median_ms: f64,
    /// From the last run (every run is checked).
    counts: Counts,
}

impl Measured {
    fn new(mode: impl Into<String>) -> Measured {
        Measured {
            mode: mode.into(),
            runs_ms: Vec::new(),
            median_ms: 0.0,
            counts: Counts::default(),
        }
    }

    fn add(&mut self, took: Duration, counts: Counts) {
        self.runs_ms.push(ms(took));
        self.counts = counts;
        let mut sorted = self.runs_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        self.median_ms = if sorted.len() % 2 == 1 {
            sorted[mid]
        } else {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        };
    }
}

/// What the re-enactment counted itself, next to what the simulator saw.
#[derive(Debug, Clone, Default, Serialize)]
struct LmsWork {
    token_posts: u64,
    create_posts: u64,
    commits: u64,
    database_ms: f64,
}

#[derive(Debug, Serialize)]
struct SyncReport {
    selections: u32,
    mailboxes: u32,
    latency_ms: u64,
    concurrency: usize,
    runs: u32,
    build: &'static str,
    floor_ms: f64,
    calsync: Measured,
    lms: Measured,
    lms_work: LmsWork,
    lms_over_calsync: f64,
    calsync_over_floor: Option<f64>,
    /// Against the same creates sent by the Graph client alone: what the database work costs.
    calsync_over_graph_only: f64,
    transports: Vec<Measured>,
    batch_wins: bool,
    problems: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    Individual,
    Batch(usize),
}

impl Transport {
    fn label(self) -> String {
        match self {
            Transport::Individual => "individual requests (as the engine)".to_string(),
            Transport::Batch(n) => format!("$batch, {n} per envelope"),
        }
    }
}

pub async fn sync(args: &BenchSyncArgs) -> Result<i32, CliError> {
    if args.mailboxes > args.selections {
        return Err(CliError::unusable(format!(
            "--mailboxes ({}) must not exceed --selections ({}): every mailbox gets at least one selection",
            args.mailboxes, args.selections
        )));
    }
    let spec = Spec {
        selections: args.selections,
        mailboxes: args.mailboxes,
        latency: Duration::from_millis(args.latency_ms),
        concurrency: args
            .concurrency
            .map_or(args.mailboxes as usize * MAILBOX_CONCURRENCY, |c| {
                c as usize
            }),
        runs: args.runs,
    };
    let human = !args.json;
    let mut out = Output::default();
    let scratch = ScratchDir::new()?;
    let sim = SimServer::start(SimConfig {
        latency: Latency::fixed(spec.latency),
        per_mailbox_concurrency: MAILBOX_CONCURRENCY,
        tenants: vec![SimTenant::new(TENANT, CLIENT_ID, SECRET)],
        directory: Directory::all_ok(),
        transaction_id_dedup: true,
        batch_parallelism: MAILBOX_CONCURRENCY,
        ..SimConfig::default()
    })
    .await
    .map_err(|e| CliError::unusable(format!("cannot start the simulated Graph: {e}")))?;
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let mut problems = Vec::new();
    if human {
        out.line(&format!(
            "calsync bench sync: {} selections over {} mailboxes (at most {} each), simulated Graph \
             with {} ms on every Graph and token request, {MAILBOX_CONCURRENCY} in flight per \
             mailbox; {build} build, median of {} runs (the re-enactment runs once)",
            spec.selections,
            spec.mailboxes,
            spec.most_per_mailbox(),
            args.latency_ms,
            spec.runs
        ))?;
        out.line("")?;
        out.flush()?;
    }

    let payloads = scratch.0.join("payloads.db");
    create_lms_db(&payloads, &spec).await?;
    let creates = creates_of(&payloads).await?;
    let mut calsync = Measured::new(format!("calsync engine (concurrency {})", spec.concurrency));
    let transports = [
        Transport::Individual,
        Transport::Batch(MAX_BATCH_ITEMS),
        Transport::Batch(MAILBOX_CONCURRENCY),
    ];
    let mut measured: Vec<Measured> = transports
        .iter()
        .map(|t| Measured::new(t.label()))
        .collect();
    // Interleaved, so a slow patch of the shared machine does not land on one mode.
    for run in 0..spec.runs {
        let db = scratch.0.join(format!("calsync-{run}.db"));
        let (took, counts) = calsync_run(&sim, &db, &spec, &mut problems).await?;
        calsync.add(took, counts);
        for (transport, measured) in transports.iter().zip(measured.iter_mut()) {
            let (took, counts) = graph_run(&sim, &creates, *transport, &mut problems).await?;
            measured.add(took, counts);
        }
    }

    if human {
        out.line(&format!(
            "running the LMS re-enactment: {} selections one at a time (about {:.1} s)…",
            spec.selections,
            (spec.latency * 2 * spec.selections).as_secs_f64()
        ))?;
        out.line("")?;
        out.flush()?;
    }
    let mut lms = Measured::new("LMS re-enactment (one at a time)");
    let (took, counts, lms_work) =
        lms_run(&sim, &scratch.0.join("lms.db"), &spec, &mut problems).await?;
    lms.add(took, counts);
    if lms_work.token_posts != lms.counts.token_requests
        || lms_work.create_posts != lms.counts.graph_calls
    {
        problems.push(format!(
            "LMS re-enactment: sent {} token and {} create requests, the simulator saw {} and {}",
            lms_work.token_posts,
            lms_work.create_posts,
            lms.counts.token_requests,
            lms.counts.graph_calls
        ));
    }
    sim.shutdown().await;

    let floor = spec.floor();
    let individual = measured[0].median_ms;
    let best_batch = measured[1..]
        .iter()
        .map(|m| m.median_ms)
        .fold(f64::INFINITY, f64::min);
    let report = SyncReport {
        selections: spec.selections,
        mailboxes: spec.mailboxes,
        latency_ms: args.latency_ms,
        concurrency: spec.concurrency,
        runs: spec.runs,
        build,
        floor_ms: ms(floor),
        lms_over_calsync: lms.median_ms / calsync.median_ms.max(1e-9),
        calsync_over_floor: (!floor.is_zero()).then(|| calsync.median_ms / ms(floor)),
        calsync_over_graph_only: calsync.median_ms / individual.max(1e-9),
        calsync,
        lms,
        lms_work,
        // Only a clear win would justify batching in the engine: 10% is within the noise.
        batch_wins: best_batch * 1.1 < individual,
        transports: measured,
        problems,
    };
    if human {
        print_sync_report(&mut out, &report, &spec)?;
    } else {
        let json = serde_json::to_string(&report)
            .map_err(|e| CliError::failed(format!("cannot write the report: {e}")))?;
        out.line(&json)?;
    }
    out.flush()?;
    match report.problems.first() {
        None => Ok(EXIT_OK),
        Some(first) => Err(CliError::failed(format!(
            "{} correctness problem(s), the first: {first}",
            report.problems.len()
        ))),
    }
}

fn print_sync_report(out: &mut Output, r: &SyncReport, spec: &Spec) -> Result<(), CliError> {
    let row = |m: &Measured| {
        let c = &m.counts;
        format!(
            "{:<40} {:>10.1} {:>9} {:>9} {:>9} {:>7} {:>9}",
            m.mode,
            m.median_ms,
            c.token_requests,
            c.graph_calls,
            c.token_requests + c.graph_http_requests,
            c.events_created,
            c.recorded
        )
    };
    out.line(&format!(
        "{:<40} {:>10} {:>9} {:>9} {:>9} {:>7} {:>9}",
        "mode", "time (ms)", "token req", "Graph req", "HTTP req", "events", "rows added"
    ))?;
    out.line(&row(&r.calsync))?;
    out.line(&row(&r.lms))?;
    out.line(&format!("{:<40} {:>10.1}", "floor", r.floor_ms))?;
    out.line("")?;
    out.line(&format!(
        "calsync runs (ms): {}",
        r.calsync
            .runs_ms
            .iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join("  ")
    ))?;
    let latency = ms(spec.latency);
    out.line(&format!(
        "floor = {latency:.0} ms (one token round trip) + ceil({} per mailbox / {MAILBOX_CONCURRENCY} in \
         flight) = {} wave(s) × {latency:.0} ms = {:.0} ms",
        spec.most_per_mailbox(),
        spec.waves(),
        r.floor_ms
    ))?;
    // The goals are stated for 600 selections, 150 mailboxes and 40 ms.
    out.line(&format!(
        "re-enactment / calsync = {:.0}×   (goal at the defaults: ≥ 50×)",
        r.lms_over_calsync
    ))?;
    match r.calsync_over_floor {
        Some(ratio) => out.line(&format!(
            "calsync / floor        = {ratio:.2}×  (goal at the defaults: ≤ 2×)"
        ))?,
        None => out.line("calsync / floor        = - (the floor is 0 ms without latency)")?,
    }
    out.line(&format!(
        "calsync / the same creates without a database (individual requests below) = {:.2}×",
        r.calsync_over_graph_only
    ))?;
    let w = &r.lms_work;
    out.line(&format!(
        "re-enactment sent {} token POSTs and {} create POSTs, each on a new connection, and made {} \
         commits (the token written back to the integration row, then the status row); {:.0} ms of \
         its time was in the database",
        w.token_posts, w.create_posts, w.commits, w.database_ms
    ))?;
    out.line("")?;
    out.line(&format!(
        "$batch or not: the same {} creates without a database, a fresh client (and token) per run",
        spec.selections
    ))?;
    out.line(&format!(
        "{:<40} {:>10} {:>9} {:>9} {:>7}",
        "transport", "time (ms)", "HTTP req", "Graph req", "events"
    ))?;
    for m in &r.transports {
        let c = &m.counts;
        out.line(&format!(
            "{:<40} {:>10.1} {:>9} {:>9} {:>7}",
            m.mode,
            m.median_ms,
            c.token_requests + c.graph_http_requests,
            c.graph_calls,
            c.events_created
        ))?;
    }
    out.line(if r.batch_wins {
        "verdict: $batch is clearly faster at these parameters; the engine still sends individual \
         requests (see BENCHMARKS.md before changing that)"
    } else {
        "verdict: individual requests. Graph runs a batch's items 4 at a time, so a 20-item envelope \
         takes 5 round trips where 20 requests to 5 mailboxes take one; 4-item envelopes only tie, \
         saving HTTP requests but no Graph calls (each item counts against Graph's limits)"
    })?;
    out.line("")?;
    match r.problems.first() {
        None => out.line(&format!(
            "checked in every run of every mode: exactly {} events, one per selection, each recorded \
             against its mailbox; no duplicates",
            spec.selections
        ))?,
        Some(_) => {
            for problem in &r.problems {
                out.line(&format!("PROBLEM: {problem}"))?;
            }
        }
    }
    Ok(())
}

/// A private directory under the system's temp directory, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<ScratchDir, CliError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("calsync-bench-sync-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path)
            .map_err(|e| CliError::unusable(format!("cannot create {}: {e}", path.display())))?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh LMS database (the real schema, default journal and sync settings, as the LMS runs
/// SQLite) with `selections` not-yet-synced rows dealt round-robin over `mailboxes` learners;
/// each learner's selections are on distinct slots, as the LMS's unique index requires.
async fn create_lms_db(path: &Path, spec: &Spec) -> Result<(), CliError> {
    let path = path.to_path_buf();
    let (n, m) = (spec.selections, spec.mailboxes);
    tokio::task::spawn_blocking(move || {
        let db = |e: rusqlite::Error| {
            CliError::failed(format!(
                "cannot build the scratch database: {}",
                sqlite_message(&e)
            ))
        };
        let mut conn = Connection::open(&path).map_err(db)?;
        conn.execute_batch(LMS_SCHEMA).map_err(db)?;
        let tx = conn.transaction().map_err(db)?;
        tx.execute_batch(FIXED_ROWS).map_err(db)?;
        tx.execute(
            "INSERT INTO account_settings_teamsintegration (id, name, is_active, created_at, \
             updated_at, client_id, client_secret, tenant_id, access_token, token_expiry, branch_id, \
             user_id, service_account_email) VALUES (1, 'Bench Teams', TRUE, '2026-11-01 08:00:00', \
             '2026-11-01 08:00:00', ?1, ?2, ?3, NULL, NULL, 1, 1, NULL)",
            params![CLIENT_ID, SECRET, TENANT],
        )
        .map_err(db)?;
        {
            let mut slot = tx
                .prepare(
                    "INSERT INTO conferences_conferencetimeslot (id, date, start_time, end_time, \
                     timezone, max_participants, current_participants, meeting_link, meeting_id, \
                     meeting_password, is_available, created_at, updated_at, conference_id, \
                     online_meeting_id) VALUES (?1 + 1, date('2027-01-04', '+' || ?1 || ' days'), \
                     '10:00:00', '11:00:00', 'Europe/London', 0, 0, NULL, NULL, NULL, TRUE, \
                     '2026-11-01 08:00:00', '2026-11-01 08:00:00', 1, NULL)",
                )
                .map_err(db)?;
            for k in 0..n.div_ceil(m) {
                slot.execute(params![k]).map_err(db)?;
            }
            let mut user = tx
                .prepare(
                    "INSERT INTO users_customuser (id, password, last_login, is_superuser, username, \
                     first_name, last_name, email, is_staff, is_active, date_joined, role, language, \
                     timezone, is_non_uk_address, initial_assessment_english, \
                     initial_assessment_maths, initial_assessment_subject_specific, \
                     initial_assessment_other, diagnostic_assessment_english, \
                     diagnostic_assessment_maths, diagnostic_assessment_subject_specific, \
                     diagnostic_assessment_other, functional_skills_english, functional_skills_maths, \
                     functional_skills_other, branch_id) VALUES (?1 + 2, '!unusable', NULL, FALSE, \
                     'learner' || ?1, 'Learner', ?1, 'learner' || ?1 || '@bench.example', FALSE, TRUE, \
                     '2026-11-01 08:00:00', 'learner', 'en', 'UTC', FALSE, FALSE, FALSE, FALSE, FALSE, \
                     FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, 1)",
                )
                .map_err(db)?;
            for u in 0..m {
                user.execute(params![u]).map_err(db)?;
            }
            let mut selection = tx
                .prepare(
                    "INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, \
                     calendar_added, calendar_add_attempted_at, calendar_error, selected_at, \
                     ip_address, conference_id, time_slot_id, user_id) VALUES (?1 + 1, NULL, FALSE, \
                     NULL, NULL, datetime('2026-11-02 08:00:00', '+' || ?1 || ' seconds'), NULL, 1, \
                     ?2 + 1, ?3 + 2)",
                )
                .map_err(db)?;
            for j in 0..n {
                selection.execute(params![j, j / m, j % m]).map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    })
    .await
    .map_err(|e| CliError::failed(format!("the scratch database task failed: {e}")))?
}

fn unsynced() -> Filter {
    Filter {
        scope: Some(Scope::Unsynced),
        ..Filter::default()
    }
}

fn graph_client(sim: &SimHandle) -> Result<GraphClient, CliError> {
    GraphClient::new(GraphConfig {
        graph_url: sim.graph_url(),
        login_url: sim.login_url(),
        ..GraphConfig::default()
    })
    .map_err(|e| CliError::failed(format!("cannot set up the Graph client: {e}")))
}

async fn open_scratch(path: &Path) -> Result<Store, CliError> {
    Ok(Store::open(&DatabaseUrl::Sqlite(path.to_path_buf()), &store_options()?).await?)
}

/// calsync: the real engine over every selection, timed from the start of the run until every
/// result is committed.
async fn calsync_run(
    sim: &SimHandle,
    path: &Path,
    spec: &Spec,
    problems: &mut Vec<String>,
) -> Result<(Duration, Counts), CliError> {
    sim.state().reset();
    create_lms_db(path, spec).await?;
    let store = open_scratch(path).await?;
    let ids = store.selection_ids(&unsynced()).await?;
    let options = SyncOptions {
        concurrency: spec.concurrency,
        ..SyncOptions::default()
    };
    let engine = Engine::new(store.clone(), graph_client(sim)?, options);
    let (events, _progress) = mpsc::unbounded_channel();
    let started = Instant::now();
    let claims = store.claims(false).await?;
    let summary = engine
        .run(claims, &unsynced(), ids, events, CancellationToken::new())
        .await
        .map_err(CliError::failed)?;
    let took = started.elapsed();
    if let Some(failure) = summary.failures.first() {
        problems.push(format!(
            "calsync: {} selections failed, e.g. {}: {}",
            summary.failed, failure.selection_id, failure.error
        ));
    }
    let recorded = recorded_events(path).await?;
    Ok((
        took,
        observe(sim, "calsync", spec.selections, recorded, problems),
    ))
}

/// The LMS's `manage.py sync_calendar_events`, one selection after the other, as it does it
/// (seed-system §3.3–3.6, §5): the integration looked up, a new client (so an empty token cache
/// and a token request), the token written back to the integration row, the create, and the
/// status row saved, each write in its own commit. Nothing is retried and nothing overlaps.
/// Left out, which only flatters the LMS: MSAL's tenant discovery GET on every new client.
async fn lms_run(
    sim: &SimHandle,
    path: &Path,
    spec: &Spec,
    problems: &mut Vec<String>,
) -> Result<(Duration, Counts, LmsWork), CliError> {
    sim.state().reset();
    create_lms_db(path, spec).await?;
    let store = open_scratch(path).await?;
    let ids = store.selection_ids(&unsynced()).await?;
    let integration_db = open_rw(path).await?;
    crate::graph::install_crypto_provider();
    // `requests.post` opens a connection per call: keep no idle connections either.
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| CliError::failed(format!("cannot build the HTTP client: {e}")))?;
    let urls = (sim.login_url(), sim.graph_url());
    let mut work = LmsWork::default();
    let mut database = Duration::ZERO;
    let mut failures = Vec::new();
    let started = Instant::now();
    for id in ids {
        let Some(selection) = store.selection(id).await? else {
            failures.push(format!("selection {id} vanished"));
            continue;
        };
        let active = store.active_credentials().await?;
        let at = Utc::now();
        let result = match choose_credentials(&active, selection.user_id, selection.branch_id) {
            Some((credentials, _)) => {
                let step = LmsStep {
                    http: &http,
                    urls: &urls,
                    integration_db: &integration_db,
                };
                step.add_to_outlook(credentials, &selection, &mut work, &mut database)
                    .await
            }
            None => Err("No Teams integration available".to_string()),
        };
        let write = match result {
            Ok(outlook_event_id) => SyncWrite::Success {
                outlook_event_id,
                at,
            },
            Err(error) => {
                failures.push(format!("selection {id}: {error}"));
                SyncWrite::Failure { error, at }
            }
        };
        let writing = Instant::now();
        store.write_sync(id, &write, &selection.sync).await?;
        database += writing.elapsed();
        work.commits += 1;
    }
    let took = started.elapsed();
    work.database_ms = ms(database);
    if let Some(first) = failures.first() {
        problems.push(format!(
            "LMS re-enactment: {} selections failed, e.g. {first}",
            failures.len()
        ));
    }
    let recorded = recorded_events(path).await?;
    let counts = observe(sim, "LMS re-enactment", spec.selections, recorded, problems);
    Ok((took, counts, work))
}

/// A plain read-write connection, as the LMS's own.
async fn open_rw(path: &Path) -> Result<Arc<Mutex<Connection>>, CliError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    })
    .await
    .map_err(|e| CliError::failed(format!("the database task failed: {e}")))?
    .map(|conn| Arc::new(Mutex::new(conn)))
    .map_err(|e| {
        CliError::failed(format!(
            "cannot open the scratch database: {}",
            sqlite_message(&e)
        ))
    })
}

struct LmsStep<'a> {
    http: &'a reqwest::Client,
    /// (login, Graph)
    urls: &'a (String, String),
    integration_db: &'a Arc<Mutex<Connection>>,
}

impl LmsStep<'_> {
    /// `add_to_outlook_calendar` from the token on: Ok is the event id, Err the error text.
    async fn add_to_outlook(
        &self,
        credentials: &StoredCredentials,
        selection: &Selection,
        work: &mut LmsWork,
        database: &mut Duration,
    ) -> Result<String, String> {
        work.token_posts += 1;
        let response = self
            .http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                self.urls.0, credentials.tenant_id
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", credentials.client_id.as_str()),
                ("client_secret", credentials.client_secret.as_str()),
                ("scope", GRAPH_SCOPE),
            ])
            .send()
            .await
            .map_err(|e| format!("Token acquisition error: {e}"))?;
        let body: Json = response
            .json()
            .await
            .map_err(|e| format!("Token acquisition error: {e}"))?;
        let token = body
            .get("access_token")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("Token acquisition error: {}", body["error_description"]))?
            .to_string();
        let lifetime = body
            .get("expires_in")
            .and_then(Json::as_i64)
            .unwrap_or(3599);
        let writing = Instant::now();
        self.save_token(credentials.integration_id, &token, lifetime)
            .await?;
        *database += writing.elapsed();
        work.commits += 1;

        let window = resolve_slot_window(
            selection.slot_date,
            selection.slot_start,
            selection.slot_end,
            &selection.timezone,
        )
        .map_err(|e| e.to_string())?;
        let mut event = event_payload(selection, &window, PayloadOptions::default(), None);
        if let Some(fields) = event.as_object_mut() {
            // The LMS sends no tag of its own.
            fields.remove("singleValueExtendedProperties");
        }
        work.create_posts += 1;
        // The address goes into the path raw, as the LMS does.
        let response = self
            .http
            .post(format!(
                "{}/users/{}/calendar/events",
                self.urls.1, selection.email
            ))
            .bearer_auth(&token)
            .json(&event)
            .send()
            .await
            .map_err(|e| format!("API request failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("API request failed: {status}"));
        }
        let body: Json = response
            .json()
            .await
            .map_err(|e| format!("API request failed: {e}"))?;
        body.get("id")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| "Failed to create calendar event".to_string())
    }

    /// `TeamsAPIClient.get_access_token` saves every new token on the integration row.
    async fn save_token(&self, integration: i64, token: &str, lifetime: i64) -> Result<(), String> {
        let conn = Arc::clone(self.integration_db);
        let token = token.to_string();
        let expiry = django_datetime(Utc::now() + chrono::Duration::seconds(lifetime - 300));
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            conn.execute(
                "UPDATE account_settings_teamsintegration SET access_token = ?1, token_expiry = ?2 \
                 WHERE id = ?3",
                params![token, expiry, integration],
            )
            .map(drop)
            .map_err(|e| sqlite_message(&e))
        })
        .await
        .map_err(|e| format!("the database task failed: {e}"))?
    }
}

/// Each selection's (mailbox, create body), read from a scratch database before any timing.
async fn creates_of(path: &Path) -> Result<Vec<(String, Json)>, CliError> {
    let store = open_scratch(path).await?;
    let mut creates = Vec::new();
    for id in store.selection_ids(&Filter::default()).await? {
        let Some(selection) = store.selection(id).await? else {
            continue;
        };
        let window = resolve_slot_window(
            selection.slot_date,
            selection.slot_start,
            selection.slot_end,
            &selection.timezone,
        )
        .map_err(|e| CliError::failed(format!("selection {id}: {e}")))?;
        let transaction = transaction_id(&selection, 0);
        let event = event_payload(
            &selection,
            &window,
            PayloadOptions::default(),
            Some(&transaction),
        );
        creates.push((selection.email.clone(), event));
    }
    Ok(creates)
}

/// The same creates through the Graph client alone: every one at once as individual requests
/// (the client keeps each mailbox at 4 in flight), or as `$batch` envelopes all sent at once.
async fn graph_run(
    sim: &SimHandle,
    creates: &[(String, Json)],
    transport: Transport,
    problems: &mut Vec<String>,
) -> Result<(Duration, Counts), CliError> {
    sim.state().reset();
    let graph = graph_client(sim)?;
    let credentials = Credentials::new(TENANT, CLIENT_ID, SECRET);
    let mut tasks: JoinSet<Vec<(String, Result<String, String>)>> = JoinSet::new();
    let started;
    match transport {
        Transport::Individual => {
            let inputs = creates.to_vec();
            started = Instant::now();
            for (mailbox, event) in inputs {
                let (graph, credentials) = (graph.clone(), credentials.clone());
                tasks.spawn(async move {
                    let created = graph
                        .create_event(&credentials, &mailbox, &event)
                        .await
                        .map(|event| event.id)
                        .map_err(|e| e.operator_text());
                    vec![(mailbox, created)]
                });
            }
        }
        Transport::Batch(size) => {
            let envelopes = envelopes(creates, size);
            started = Instant::now();
            for envelope in envelopes {
                let (graph, credentials) = (graph.clone(), credentials.clone());
                tasks.spawn(async move {
                    let mailboxes: Vec<String> =
                        envelope.iter().map(|r| r.mailbox.clone()).collect();
                    match graph.batch(&credentials, envelope).await {
                        Ok(responses) => mailboxes
                            .into_iter()
                            .zip(responses)
                            .map(|(mailbox, response)| {
                                let created = response
                                    .outcome
                                    .map_err(|e| e.operator_text())
                                    .and_then(|ok| {
                                        ok.event()
                                            .map(|event| event.id)
                                            .ok_or_else(|| "no event in the response".to_string())
                                    });
                                (mailbox, created)
                            })
                            .collect(),
                        Err(e) => mailboxes
                            .into_iter()
                            .map(|mailbox| (mailbox, Err(e.operator_text())))
                            .collect(),
                    }
                });
            }
        }
    }
    let mut recorded = Vec::new();
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let results = done.map_err(|e| CliError::failed(format!("a create task failed: {e}")))?;
        for (mailbox, created) in results {
            match created {
                Ok(id) => recorded.push((mailbox, id)),
                Err(error) => failures.push(error),
            }
        }
    }
    let took = started.elapsed();
    let mode = transport.label();
    if let Some(first) = failures.first() {
        problems.push(format!(
            "{mode}: {} creates failed, e.g. {first}",
            failures.len()
        ));
    }
    let n = u32::try_from(creates.len()).unwrap_or(u32::MAX);
    Ok((took, observe(sim, &mode, n, recorded, problems)))
}

/// `$batch` envelopes of up to `size` creates, at most 4 per mailbox (more would wait for the
/// mailbox's slots anyway): every mailbox's first four creates come first, then its next four.
fn envelopes(creates: &[(String, Json)], size: usize) -> Vec<Vec<BatchRequest>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut ordered: Vec<(usize, &str, usize, &Json)> = creates
        .iter()
        .map(|(mailbox, event)| {
            let rank = seen.entry(mailbox.as_str()).or_default();
            *rank += 1;
            (
                (*rank - 1) / MAILBOX_CONCURRENCY,
                mailbox.as_str(),
                *rank,
                event,
            )
        })
        .collect();
    ordered.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    ordered
        .chunks(size.max(1))
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .map(|(i, (_, mailbox, _, event))| {
                    BatchRequest::create_event(i.to_string(), mailbox, (*event).clone())
                })
                .collect()
        })
        .collect()
}

/// Every added row's (mailbox, event id), read straight from the file.
async fn recorded_events(path: &Path) -> Result<Vec<(String, String)>, CliError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut statement = conn.prepare(
            "SELECT u.email, s.outlook_event_id FROM conferences_conferencetimeslotselection s \
             JOIN users_customuser u ON u.id = s.user_id \
             WHERE s.calendar_added AND s.outlook_event_id IS NOT NULL",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<Result<Vec<(String, String)>, _>>()
    })
    .await
    .map_err(|e| CliError::failed(format!("the database task failed: {e}")))?
    .map_err(|e| CliError::failed(format!("cannot read the results: {}", sqlite_message(&e))))
}

/// The simulator's counters and mailboxes against what the client recorded: exactly `n` events,
/// each recorded once, against the mailbox it is in.
fn observe(
    sim: &SimHandle,
    mode: &str,
    n: u32,
    recorded: Vec<(String, String)>,
    problems: &mut Vec<String>,
) -> Counts {
    let state = sim.state();
    let stats = state.stats();
    let mut stored = BTreeSet::new();
    for mailbox in stats.mailboxes.keys() {
        for event in state.events(mailbox) {
            if let Some(id) = event.get("id").and_then(Json::as_str) {
                stored.insert((mailbox.clone(), id.to_string()));
            }
        }
    }
    let n = u64::from(n);
    let created: u64 = stats.mailboxes.values().map(|m| m.events_created).sum();
    let recorded_count = recorded.len() as u64;
    // Rows hold REST ids (the LMS's format), the mailboxes are listed by immutable id.
    let recorded: BTreeSet<(String, String)> = recorded
        .into_iter()
        .map(|(mailbox, id)| {
            let mailbox = mailbox.to_lowercase();
            let id = state.immutable_id_of(&mailbox, &id).unwrap_or(id);
            (mailbox, id)
        })
        .collect();
    if created != n || stored.len() as u64 != n {
        problems.push(format!(
            "{mode}: {created} events created and {} stored, not {n}",
            stored.len()
        ));
    }
    if recorded_count != n || recorded.len() as u64 != n {
        problems.push(format!(
            "{mode}: {recorded_count} selections name an event ({} distinct), not {n}",
            recorded.len()
        ));
    } else if recorded != stored {
        problems.push(format!(
            "{mode}: the recorded events are not the events in the mailboxes"
        ));
    }
    let calls = stats.total_requests();
    Counts {
        token_requests: stats.token_requests,
        graph_calls: calls,
        // A mode sends either plain requests or only envelopes.
        graph_http_requests: if stats.batches > 0 {
            stats.batches
        } else {
            calls
        },
        events_created: created,
        duplicates: (stored.len() as u64).saturating_sub(n),
        recorded: recorded_count,
        throttled: stats.total_throttled(),
    }
}
