//! `calsync bench console`: the console's speed on a large database, measured with the real
//! app, runtime and store (frames drawn into an off-screen 160×48 buffer), plus the idle CPU of
//! the real binary in a real terminal (tmux).

use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

use super::floor::{self, ShellTarget};
use crate::cli::{BenchConsoleArgs, EXIT_OK};
use crate::commands::{CliError, Output, store_options};
use crate::domain::{Filter, Page, PageRequest, Sort, StateCounts};
use crate::graph::{GraphClient, GraphConfig};
use crate::store::sql::SqlEngine;
use crate::store::{DatabaseUrl, Store, sql};
use crate::sync::{Engine, SyncOptions};
use crate::tui::app::{Screen, Session};
use crate::tui::overview_cache;
use crate::tui::runtime::Runtime;
use crate::tui::{App, Effect, Report, Theme, render};

type Screen160 = Terminal<TestBackend>;

/// The newest failures the console's overview reads.
const NEWEST_FAILURES: u32 = crate::tui::runtime::NEWEST_FAILURES;

pub async fn run(args: &BenchConsoleArgs) -> Result<i32, CliError> {
    let mut out = Output::default();
    let (path, generated) = super::demo_database(&args.db, args.selections).await?;
    if let Some(took) = generated {
        out.line(&format!(
            "generated the demo database with {} selections in {:.1} s",
            args.selections,
            took.as_secs_f64()
        ))?;
    }
    let sqlite = DatabaseUrl::Sqlite(path.clone());
    let shell = ShellTarget::Sqlite(&path);
    let store = measure(&mut out, &sqlite, &shell).await?;
    super::stream::measure(&mut out, &store, &path.to_string_lossy(), &shell).await?;
    match idle_cpu(&path).await {
        Ok(percent) => out.line(&format!(
            "idle CPU of the real console in tmux  {percent:.2} % of one core over 10 s"
        ))?,
        Err(e) => out.line(&format!("idle CPU: not measured ({e})"))?,
    }
    out.flush()?;
    if let Some(text) = &args.postgres {
        let url = DatabaseUrl::parse(text).map_err(CliError::unusable)?;
        let DatabaseUrl::Postgres(target) = &url else {
            return Err(CliError::unusable("--postgres takes a postgres:// URL"));
        };
        let started = Instant::now();
        if super::pg::ensure_copy(target, &path)? {
            out.line(&format!(
                "copied the demo database to {} in {:.1} s",
                url.redacted(),
                started.elapsed().as_secs_f64()
            ))?;
        }
        out.line("")?;
        let shell = ShellTarget::Postgres(target);
        let store = measure(&mut out, &url, &shell).await?;
        super::stream::measure(&mut out, &store, text, &shell).await?;
    }
    Ok(EXIT_OK)
}

/// The console on one database: keystrokes to frames, then the shell's floor of its queries.
/// Returns the store it measured, for the streaming figures.
async fn measure(
    out: &mut Output,
    url: &DatabaseUrl,
    shell: &ShellTarget<'_>,
) -> Result<Store, CliError> {
    let store = Store::open(url, &store_options()?).await?;
    let graph =
        GraphClient::new(GraphConfig::default()).map_err(|e| CliError::unusable(e.to_string()))?;
    let engine = Engine::new(store.clone(), graph, SyncOptions::default());
    let (reports, mut incoming) = mpsc::unbounded_channel();
    let mut runtime = Runtime::new(store.clone(), engine, reports);
    let mut terminal =
        Terminal::new(TestBackend::new(160, 48)).map_err(|e| CliError::failed(e.to_string()))?;
    let theme = Theme {
        color: true,
        background: crate::tui::Background::Dark,
    };
    let total = store.count(&Default::default()).await?;
    let backend = match url {
        DatabaseUrl::Sqlite(_) => "SQLite",
        DatabaseUrl::Postgres(_) => "PostgreSQL",
    };
    out.line(&format!(
        "calsync bench console: {total} selections, {backend}, {} build, 160×48 frames",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    ))?;

    // Start: the first frame is drawn before any data arrives (it never waits on the store).
    let started = Instant::now();
    let (mut app, effects) = App::new(bench_session(url), chrono::Utc::now());
    app.height = 48;
    draw(&mut terminal, &app, theme)?;
    let first_frame = started.elapsed();
    effects.into_iter().for_each(|e| runtime.run(e));
    // The first part of any kind drawn (the newest failures, read through an index, come
    // first), then the state counts.
    pump(
        &mut app,
        &mut incoming,
        &mut runtime,
        |app| matches!(app.screen(), Some(Screen::Overview { data: Some(d), .. }) if d.any_part()),
    )
    .await?;
    draw(&mut terminal, &app, theme)?;
    let first_data = started.elapsed();
    let first_part = first_part_name(&app);
    pump(&mut app, &mut incoming, &mut runtime, |app| {
        matches!(app.screen(), Some(Screen::Overview { data: Some(d), .. }) if d.counts.is_some())
    })
    .await?;
    draw(&mut terminal, &app, theme)?;
    let overview_counts = started.elapsed();
    pump(
        &mut app,
        &mut incoming,
        &mut runtime,
        |app| matches!(app.screen(), Some(Screen::Overview { data: Some(d), .. }) if d.complete()),
    )
    .await?;
    draw(&mut terminal, &app, theme)?;
    let overview = started.elapsed();
    let (warm_counts, warm_fresh) = warm_start(&store, url).await?;

    // A filter keystroke: from Enter to the redrawn frame with the first page of matches.
    for key in "/state:failed".chars() {
        app.key(KeyEvent::new(KeyCode::Char(key), KeyModifiers::NONE));
    }
    let typed = Instant::now();
    app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
        .into_iter()
        .for_each(|e| runtime.run(e));
    pump(&mut app, &mut incoming, &mut runtime, |app| {
        app.screen()
            .and_then(Screen::list)
            .is_some_and(|l| !l.rows.is_empty())
    })
    .await?;
    draw(&mut terminal, &app, theme)?;
    let filter_frame = typed.elapsed();
    pump(&mut app, &mut incoming, &mut runtime, |app| {
        app.screen()
            .and_then(Screen::list)
            .is_some_and(|l| l.total.is_some())
    })
    .await?;
    let filter_count = typed.elapsed();
    // One person, by the user filter and as free text: the newest selection's user.
    let person = store
        .page(&PageRequest {
            filter: Filter::default(),
            sort: Sort::default(),
            after: None,
            limit: 1,
        })
        .await?
        .rows
        .into_iter()
        .next()
        .map(|s| s.username)
        .unwrap_or_default();
    let by_user = filter_timings(
        &mut app,
        &mut incoming,
        &mut runtime,
        &mut terminal,
        theme,
        &format!("user:{person}"),
    )
    .await?;
    let by_text = filter_timings(
        &mut app,
        &mut incoming,
        &mut runtime,
        &mut terminal,
        theme,
        &person,
    )
    .await?;
    filter_timings(
        &mut app,
        &mut incoming,
        &mut runtime,
        &mut terminal,
        theme,
        "state:failed",
    )
    .await?;

    // Scrolling to the end of all matches (read backwards by key, no OFFSET).
    let pressed = Instant::now();
    app.key(KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT))
        .into_iter()
        .for_each(|e| runtime.run(e));
    pump(&mut app, &mut incoming, &mut runtime, |app| {
        app.screen()
            .and_then(Screen::list)
            .is_some_and(|l| l.at_end && l.total.is_some_and(|t| l.cursor + 1 == t))
    })
    .await?;
    draw(&mut terminal, &app, theme)?;
    let end = pressed.elapsed();

    // Paging down a full screen 200 times, each with its redraw (fetches by key on the way).
    app.key(KeyEvent::new(KeyCode::Char('g'), KeyModifiers::NONE))
        .into_iter()
        .for_each(|e| runtime.run(e));
    pump(&mut app, &mut incoming, &mut runtime, |app| {
        app.screen()
            .and_then(Screen::list)
            .is_some_and(|l| l.cursor == 0 && !l.rows.is_empty())
    })
    .await?;
    let paging = Instant::now();
    for _ in 0..200 {
        let effects = app.key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE));
        let waiting = !effects.is_empty();
        effects.into_iter().for_each(|e| runtime.run(e));
        if waiting {
            pump(&mut app, &mut incoming, &mut runtime, |app| {
                app.screen()
                    .and_then(Screen::list)
                    .is_some_and(|l| l.loading.is_none())
            })
            .await?;
        }
        draw(&mut terminal, &app, theme)?;
    }
    let per_page = paging.elapsed() / 200;

    let frame = frame_cost(&mut terminal, theme)?;
    let memory = resident_memory();

    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    out.line(&format!(
        "first frame (before any data)        {}",
        ms(first_frame)
    ))?;
    out.line(&format!(
        "overview: first data drawn            {}  ({first_part})",
        ms(first_data)
    ))?;
    out.line(&format!(
        "overview: state counts drawn          {}",
        ms(overview_counts)
    ))?;
    out.line(&format!(
        "overview: every part drawn            {}",
        ms(overview)
    ))?;
    out.line(&format!(
        "second start, last overview kept: counts drawn {} (fresh ones {})",
        ms(warm_counts),
        ms(warm_fresh)
    ))?;
    out.line(&format!(
        "filter keystroke → redrawn first page {}",
        ms(filter_frame)
    ))?;
    out.line(&format!(
        "filter keystroke → exact count shown  {}",
        ms(filter_count)
    ))?;
    for (what, (page, count)) in [("user:", by_user), ("text ", by_text)] {
        out.line(&format!(
            "filter {what} → redrawn first page    {}  (user {person})",
            ms(page)
        ))?;
        out.line(&format!(
            "filter {what} → its counts shown      {}",
            ms(count)
        ))?;
    }
    out.line(&format!(
        "end key → last row drawn              {}",
        ms(end)
    ))?;
    out.line(&format!(
        "page down + redraw (mean of 200)      {}",
        ms(per_page)
    ))?;
    out.line(&format!(
        "one frame of a 1,000,000-row list     {:.0} µs",
        frame.as_secs_f64() * 1e6
    ))?;
    out.line(&format!(
        "resident memory after all of it       {}",
        memory.map_or("unknown".to_string(), |kb| format!(
            "{:.1} MB",
            kb as f64 / 1024.0
        ))
    ))?;
    out.flush()?;
    floors(out, &store, shell, &person)?;
    out.flush()?;
    Ok(store)
}

/// Two more starts of the console keeping the last overview, as the real console does: the
/// first fills the cache, the second shows it. How soon its counts are drawn, and how soon the
/// fresh read is complete.
async fn warm_start(store: &Store, url: &DatabaseUrl) -> Result<(Duration, Duration), CliError> {
    let dir = std::env::temp_dir().join(format!("calsync-bench-cache-{}", std::process::id()));
    let file = overview_cache::file_for(&dir, &url.redacted());
    let mut times = (Duration::ZERO, Duration::ZERO);
    for round in 0..2 {
        let graph = GraphClient::new(GraphConfig::default())
            .map_err(|e| CliError::unusable(e.to_string()))?;
        let engine = Engine::new(store.clone(), graph, SyncOptions::default());
        let (reports, mut incoming) = mpsc::unbounded_channel();
        let mut runtime =
            Runtime::new(store.clone(), engine, reports).with_overview_cache(Some(file.clone()));
        let started = Instant::now();
        let (mut app, effects) = App::new(bench_session(url), chrono::Utc::now());
        effects.into_iter().for_each(|e| runtime.run(e));
        pump(&mut app, &mut incoming, &mut runtime, |app| {
            matches!(app.screen(), Some(Screen::Overview { data: Some(d), .. }) if d.counts.is_some())
        })
        .await?;
        let shown = started.elapsed();
        pump(&mut app, &mut incoming, &mut runtime, |app| {
            matches!(app.screen(), Some(Screen::Overview { pending: None, .. }))
        })
        .await?;
        times = (shown, started.elapsed());
        // The cache is written just after the last part is sent.
        let deadline = Instant::now() + Duration::from_secs(5);
        while round == 0 && !file.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(times)
}

/// Which parts of the overview are drawn (the first data: what arrived first).
fn first_part_name(app: &App) -> String {
    let Some(Screen::Overview { data: Some(d), .. }) = app.screen() else {
        return "nothing".to_string();
    };
    let parts = [
        ("newest failures", d.newest_failures.is_some()),
        ("state counts", d.counts.is_some()),
        ("failures per day", d.trend.is_some()),
        ("worst conferences", d.worst_conferences.is_some()),
        ("failures by cause", d.causes.is_some()),
    ];
    let drawn: Vec<&str> = parts
        .iter()
        .filter(|(_, here)| *here)
        .map(|(name, _)| *name)
        .collect();
    drawn.join(", ")
}

fn bench_session(url: &DatabaseUrl) -> Session {
    Session {
        database: url.redacted(),
        simulated_graph: false,
        read_only: false,
        read_only_reason: None,
        missing_tables: None,
        keymap: Default::default(),
    }
}

/// Enter on `/query` (replacing the list's filter): the first page drawn, then its counts.
async fn filter_timings(
    app: &mut App,
    incoming: &mut mpsc::UnboundedReceiver<Report>,
    runtime: &mut Runtime,
    terminal: &mut Screen160,
    theme: Theme,
    query: &str,
) -> Result<(Duration, Duration), CliError> {
    app.key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
    // Clear what the filter line holds, then type the new query.
    for _ in 0..200 {
        app.key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
    }
    for key in query.chars() {
        app.key(KeyEvent::new(KeyCode::Char(key), KeyModifiers::NONE));
    }
    let typed = Instant::now();
    app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
        .into_iter()
        .for_each(|e| runtime.run(e));
    pump(app, incoming, runtime, |app| {
        app.screen()
            .and_then(Screen::list)
            .is_some_and(|l| l.loading.is_none() && l.query == query)
    })
    .await?;
    draw(terminal, app, theme)?;
    let page = typed.elapsed();
    pump(app, incoming, runtime, |app| {
        app.screen()
            .and_then(Screen::list)
            .is_some_and(|l| l.total.is_some() && l.counting.is_none())
    })
    .await?;
    Ok((page, typed.elapsed()))
}

/// The same SQL the console runs, by the engine's own shell: the floor of each answer.
fn floors(
    out: &mut Output,
    store: &Store,
    shell: &ShellTarget<'_>,
    person: &str,
) -> Result<(), CliError> {
    let dialect = store.dialect();
    let engine = dialect.engine;
    let user = Filter {
        person: Some(person.to_string()),
        ..Filter::default()
    };
    let text = Filter {
        text: Some(person.to_string()),
        ..Filter::default()
    };
    let first_page = |filter: &Filter| {
        sql::selection_page(
            dialect,
            &PageRequest {
                filter: filter.clone(),
                sort: Sort::default(),
                after: None,
                limit: 100,
            },
        )
    };
    let since = chrono::Utc::now() - chrono::Duration::days(14);
    let newest_failures = sql::selection_page(
        dialect,
        &PageRequest {
            filter: Filter {
                states: vec![crate::domain::SyncState::Failed],
                ..Filter::default()
            },
            sort: Sort::default(),
            after: None,
            limit: NEWEST_FAILURES,
        },
    );
    let mut queries = vec![
        ("overview: newest failures", newest_failures),
        (
            "overview: state counts",
            sql::state_counts(dialect, &Filter::default()),
        ),
        (
            "overview: failures per day",
            sql::failure_trend(dialect, since),
        ),
        (
            "overview: selections per conference",
            sql::conference_totals(dialect),
        ),
        (
            "overview: failures per conference",
            sql::conference_failures(dialect),
        ),
        (
            "overview: failures per error text",
            sql::failed_error_counts(dialect, &Filter::default()),
        ),
    ];
    // The sqlite3 shell lacks the Unicode matching function calsync registers on SQLite.
    if engine == SqlEngine::Postgres {
        queries.extend([
            ("user: first page", first_page(&user)),
            ("user: counts", sql::state_counts(dialect, &user)),
            ("text: first page", first_page(&text)),
            ("text: counts", sql::state_counts(dialect, &text)),
        ]);
    }
    let texts: Vec<String> = queries
        .iter()
        .map(|(_, q)| floor::literal_sql(q, engine))
        .collect();
    let medians = floor::shell_medians(shell, &texts, 3)?;
    let name = match shell {
        ShellTarget::Sqlite(_) => "sqlite3",
        ShellTarget::Postgres(_) => "psql",
    };
    out.line(&format!(
        "floor: the same SQL in {name} (median of 3, after a warm-up)"
    ))?;
    for ((what, _), took) in queries.iter().zip(&medians) {
        out.line(&format!(
            "  {what:<36}{:>9.1} ms",
            took.as_secs_f64() * 1000.0
        ))?;
    }
    let overview: Duration = medians[..6].iter().sum();
    out.line(&format!(
        "  {:<36}{:>9.1} ms",
        "overview, one query after the other",
        overview.as_secs_f64() * 1000.0
    ))?;
    Ok(())
}

fn draw(terminal: &mut Screen160, app: &App, theme: Theme) -> Result<(), CliError> {
    terminal
        .draw(|frame| render(frame, app, theme))
        .map(|_| ())
        .map_err(|e| CliError::failed(e.to_string()))
}

/// Applies reports (running their follow-up effects) until `done` holds.
async fn pump(
    app: &mut App,
    incoming: &mut mpsc::UnboundedReceiver<Report>,
    runtime: &mut Runtime,
    done: impl Fn(&App) -> bool,
) -> Result<(), CliError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(app) {
        let report = tokio::time::timeout_at(deadline.into(), incoming.recv())
            .await
            .map_err(|_| CliError::failed("the console did not get its data within 2 minutes"))?
            .ok_or_else(|| CliError::failed("the runtime stopped"))?;
        let effects: Vec<Effect> = app.report(report);
        effects.into_iter().for_each(|e| runtime.run(e));
    }
    Ok(())
}

/// The cost of drawing a list whose result has a million rows (only the window is held).
fn frame_cost(terminal: &mut Screen160, theme: Theme) -> Result<Duration, CliError> {
    let session = Session {
        database: "synthetic".to_string(),
        simulated_graph: false,
        read_only: false,
        read_only_reason: None,
        missing_tables: None,
        keymap: Default::default(),
    };
    let (mut app, _) = App::new(session, chrono::Utc::now());
    app.height = 48;
    app.key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
    let effects = app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let rows: Vec<_> = (0..100).map(synthetic_selection).collect();
    for effect in effects {
        match effect {
            Effect::Page(generation, _) => {
                app.report(Report::Page(
                    generation,
                    Ok(Page {
                        rows: rows.clone(),
                        malformed: Vec::new(),
                        next: None,
                    }),
                ));
            }
            Effect::Counts(generation, _) => {
                let counts = StateCounts {
                    added: 700_000,
                    failed: 300_000,
                    ..StateCounts::default()
                };
                app.report(Report::Counts(generation, Ok((1_000_000, counts))));
            }
            _ => {}
        }
    }
    let runs = 500;
    let started = Instant::now();
    for _ in 0..runs {
        draw(terminal, &app, theme)?;
    }
    Ok(started.elapsed() / runs)
}

fn synthetic_selection(i: i64) -> crate::domain::Selection {
    use chrono::{NaiveDate, NaiveTime, Utc};
    crate::domain::Selection {
        id: 1_000_000 - i,
        user_id: i,
        username: format!("learner{i}"),
        first_name: "Zoë".into(),
        last_name: format!("Ünal {i}"),
        email: format!("learner{i}@north.example"),
        role: "learner".into(),
        branch_id: Some(1),
        branch_name: Some("North Campus".into()),
        conference_id: 1,
        conference_title: "会議: Japanese Partners Briefing".into(),
        conference_description: None,
        conference_link: None,
        platform: "teams".into(),
        use_time_slots: true,
        time_slot_id: 1,
        slot_conference_id: 1,
        slot_date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap_or_default(),
        slot_start: NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default(),
        slot_end: NaiveTime::from_hms_opt(11, 0, 0).unwrap_or_default(),
        timezone: "Europe/London".into(),
        slot_link: None,
        slot_updated_at: Utc::now(),
        selected_at: Utc::now(),
        sync: crate::domain::SyncColumns {
            outlook_event_id: None,
            calendar_added: false,
            attempted_at: Some(Utc::now()),
            error: Some(format!(
                "Graph 404 ErrorInvalidUser: The requested user 'learner{i}@north.example' is invalid."
            )),
        },
        fingerprint: String::new(),
        stale: false,
        recorded: Default::default(),
    }
}

fn resident_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Runs the real console in a private tmux server and samples its CPU time while idle.
async fn idle_cpu(db: &Path) -> Result<f64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("calsync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let socket = format!("calsync-bench-{}", std::process::id());
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .env("TMUX_TMPDIR", &dir)
            .env_remove("TMUX")
            .args(["-L", &socket])
            .args(args)
            .output()
            .map_err(|e| format!("tmux: {e}"))
    };
    let command = format!("exec {} --database-url {}", exe.display(), db.display());
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "idle",
        "-x",
        "160",
        "-y",
        "48",
        &command,
    ])?;
    // Let it load its first screen completely, then leave it alone.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let pid = String::from_utf8_lossy(
        &tmux(&["display-message", "-p", "-t", "idle", "#{pane_pid}"])?.stdout,
    )
    .trim()
    .to_string();
    let ticks = || -> Result<u64, String> {
        let stat =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let user: u64 = fields
            .get(11)
            .and_then(|v| v.parse().ok())
            .ok_or("bad stat")?;
        let system: u64 = fields
            .get(12)
            .and_then(|v| v.parse().ok())
            .ok_or("bad stat")?;
        Ok(user + system)
    };
    let before = ticks();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = ticks();
    let _ = tmux(&["kill-server"]);
    let _ = std::fs::remove_dir_all(&dir);
    let (before, after) = (before?, after?);
    // Linux counts CPU time in ticks of 1/100 s.
    Ok((after - before) as f64 / 100.0 / 10.0 * 100.0)
}
