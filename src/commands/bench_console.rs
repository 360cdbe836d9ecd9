//! `calsync bench console`: the console's speed on a large database, measured with the real
//! app, runtime and store (frames drawn into an off-screen 160×48 buffer), plus the idle CPU of
//! the real binary in a real terminal (tmux).

use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

use super::{CliError, Output, store_options};
use crate::cli::{BenchConsoleArgs, EXIT_OK};
use crate::domain::{Page, StateCounts};
use crate::graph::{GraphClient, GraphConfig};
use crate::store::{DatabaseUrl, Store};
use crate::sync::{Engine, SyncOptions};
use crate::tui::app::{Screen, Session};
use crate::tui::runtime::Runtime;
use crate::tui::{App, Effect, Report, Theme, render};

type Screen160 = Terminal<TestBackend>;

pub async fn run(args: &BenchConsoleArgs) -> Result<i32, CliError> {
    let mut out = Output::default();
    let (path, _) = super::bench::demo_database(&args.db, args.selections).await?;
    let url = DatabaseUrl::Sqlite(path.clone());
    let store = Store::open(&url, &store_options()?).await?;
    let graph =
        GraphClient::new(GraphConfig::default()).map_err(|e| CliError::unusable(e.to_string()))?;
    let engine = Engine::new(store.clone(), graph, SyncOptions::default());
    let (reports, mut incoming) = mpsc::unbounded_channel();
    let mut runtime = Runtime::new(store.clone(), engine, reports);
    let mut terminal =
        Terminal::new(TestBackend::new(160, 48)).map_err(|e| CliError::failed(e.to_string()))?;
    let theme = Theme { color: true };
    let total = store.count(&Default::default()).await?;
    out.line(&format!(
        "calsync bench console: {total} selections, SQLite, {} build, 160×48 frames",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    ))?;

    // Start: the first frame is drawn before any data arrives (it never waits on the store).
    let started = Instant::now();
    let session = Session {
        database: url.redacted(),
        simulated_graph: false,
        read_only: false,
        read_only_reason: None,
        missing_tables: None,
        keymap: Default::default(),
    };
    let (mut app, effects) = App::new(session, chrono::Utc::now());
    app.height = 48;
    draw(&mut terminal, &app, theme)?;
    let first_frame = started.elapsed();
    effects.into_iter().for_each(|e| runtime.run(e));
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
        "overview: state counts drawn          {}",
        ms(overview_counts)
    ))?;
    out.line(&format!(
        "overview: every part drawn            {}",
        ms(overview)
    ))?;
    out.line(&format!(
        "filter keystroke → redrawn first page {}",
        ms(filter_frame)
    ))?;
    out.line(&format!(
        "filter keystroke → exact count shown  {}",
        ms(filter_count)
    ))?;
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
    match idle_cpu(&path).await {
        Ok(percent) => out.line(&format!(
            "idle CPU of the real console in tmux  {percent:.2} % of one core over 10 s"
        ))?,
        Err(e) => out.line(&format!("idle CPU: not measured ({e})"))?,
    }
    out.flush()?;
    Ok(EXIT_OK)
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
