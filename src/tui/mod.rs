//! The console: a ratatui front end over the store and the sync engine.
//!
//! The loop only draws state. Keys become actions (through the one keymap table), `App::update`
//! changes state and returns effects, the runtime runs them on tokio tasks, and their reports
//! come back through a channel. It redraws only after something changed, so an idle console
//! costs nothing.

mod action;
pub mod app;
pub mod breadcrumbs;
pub mod browser;
pub mod clipboard;
pub mod columns;
pub mod command;
pub mod complete;
pub mod data;
pub mod debounce;
pub mod fit;
pub mod history;
pub mod job;
mod job_control;
pub mod keymap;
mod layout;
pub mod list;
mod malformed;
mod mouse;
pub mod opens;
pub mod overview_cache;
mod overview_refresh;
pub mod popup;
pub mod popups;
pub use malformed::malformed_note;
mod query;
pub mod rate;
pub mod reconcile;
pub mod reference;
mod row_actions;
pub mod run_choice;
pub mod run_rows;
pub mod runtime;
pub mod screen;
mod screens;
pub mod table;
mod theme;
mod view;
mod widgets;
pub mod widths;
mod worker_actions;
pub mod worker_views;

use std::io::IsTerminal;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::sync::mpsc;

pub use action::{Action, Report};
pub use app::{App, Effect, Session};
pub use columns::ColumnChoice;
use runtime::Runtime;
pub use theme::{Background, Theme};
pub use view::render;

use crate::store::Store;
use crate::sync::Engine;

pub struct ConsoleOptions {
    pub read_only: bool,
    pub simulated_graph: bool,
    /// How often the visible rows and counts are re-read.
    pub refresh: Duration,
    pub keymap: keymap::Keymap,
    pub theme: Theme,
    /// Where `w` opens a selection's LMS admin page (config `lms_url`).
    pub lms_url: Option<String>,
    /// The columns lists show (config `[console] columns`).
    pub columns: ColumnChoice,
    /// Where the chooser saves the columns (the config file read, else the default path).
    pub config_path: Option<std::path::PathBuf>,
}

/// Runs the console until the operator quits. The terminal is restored on every way out,
/// including a panic (ratatui's hook, installed after color-eyre's).
pub async fn run(store: Store, engine: Engine, options: ConsoleOptions) -> Result<(), String> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(
            "the console needs a terminal; for scripts use calsync status or calsync sync"
                .to_string(),
        );
    }
    let writable = store.can_write().await;
    let session = Session {
        database: store.describe(),
        simulated_graph: options.simulated_graph,
        read_only: options.read_only || !writable,
        read_only_reason: if options.read_only {
            Some("--read-only".to_string())
        } else if !writable {
            Some("this database connection cannot update selections".to_string())
        } else {
            None
        },
        missing_tables: missing_tables_notice(&store),
        keymap: options.keymap,
    };
    let _ = color_eyre::install();
    let mut terminal = ratatui::try_init().map_err(|e| format!("cannot open the terminal: {e}"))?;
    // Clicks and the wheel (a terminal without mouse support just sends none).
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
    let settings = Settings {
        refresh: options.refresh,
        theme: options.theme,
        lms_url: options.lms_url,
        columns: options.columns,
        config_path: options.config_path,
    };
    let result = event_loop(&mut terminal, store, engine, session, settings).await;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    ratatui::restore();
    result
}

/// What the event loop needs of the console's options once the session is made.
struct Settings {
    refresh: Duration,
    theme: Theme,
    lms_url: Option<String>,
    columns: ColumnChoice,
    config_path: Option<std::path::PathBuf>,
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    store: Store,
    engine: Engine,
    session: Session,
    settings: Settings,
) -> Result<(), String> {
    let Settings {
        refresh,
        theme,
        lms_url,
        columns,
        config_path,
    } = settings;
    let (reports, mut incoming) = mpsc::unbounded_channel();
    let cache = crate::config::data_dir()
        .map(|dir| overview_cache::file_for(&dir.join("cache"), &session.database));
    let mut runtime = Runtime::new(store, engine, reports)
        .with_simulated_graph(session.simulated_graph)
        .with_overview_cache(cache);
    let (mut app, effects) = App::new(session, Utc::now());
    app.lms_url = lms_url;
    app.columns = columns;
    let data_dir = crate::config::data_dir();
    if let Some(dir) = &data_dir {
        app.histories = history::Histories::load(dir);
    }
    if let Ok(size) = terminal.size() {
        app.width = size.width;
        app.height = size.height;
    }
    effects.into_iter().for_each(|e| runtime.run(e));
    let result = drive(
        terminal,
        &mut app,
        &mut runtime,
        &mut incoming,
        refresh,
        theme,
        config_path.as_deref(),
    )
    .await;
    // However the console ends, a job still running is drained and its audit row closed as
    // interrupted, never left `running`.
    if app.job.as_ref().is_some_and(app::Job::running) {
        app.message = Some("closing: finishing what is in flight…".to_string());
        let _ = terminal.draw(|frame| render(frame, &app, theme));
    }
    let closed = runtime.interrupt().await;
    // The prompts' history only costs convenience when it cannot be written.
    if let Some(dir) = data_dir {
        let _ = app.histories.save(&dir);
    }
    result.and(closed)
}

/// The chooser's columns into the config file; a failure is said, the choice still holds.
fn save_columns(app: &mut App, config_path: Option<&std::path::Path>, choice: &ColumnChoice) {
    let Some(path) = config_path else {
        app.message = Some("columns not saved: no config file location on this system".into());
        return;
    };
    if let Err(why) = crate::config_edit::set_console_columns(path, &choice.names()) {
        app.message = Some(why);
    }
}

async fn drive(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    runtime: &mut Runtime,
    incoming: &mut mpsc::UnboundedReceiver<Report>,
    refresh: Duration,
    theme: Theme,
    config_path: Option<&std::path::Path>,
) -> Result<(), String> {
    let mut keys = EventStream::new();
    let mut live = tokio::time::interval(refresh.max(Duration::from_millis(500)));
    // The jobs panel's rate and ETA move at most four times a second, and only while a job runs.
    let mut progress = tokio::time::interval(Duration::from_millis(250));
    let mut dirty = true;
    let mut search = debounce::Debounce::default();
    // SIGTERM (systemd, Kubernetes) drains the running job like `x`, then the console closes.
    let stop = crate::signals::stop_requested();
    tokio::pin!(stop);
    loop {
        if let Some(typed) = app.take_search_typed() {
            search.typed(std::time::Instant::now(), &typed);
        }
        if app.popup.is_none() {
            search.settle();
        }
        if let Some(choice) = app.take_columns_changed() {
            save_columns(app, config_path, &choice);
        }
        if dirty {
            terminal
                .draw(|frame| render(frame, app, theme))
                .map_err(|e| format!("cannot draw: {e}"))?;
            dirty = false;
        }
        // A copy (OSC 52) goes to the terminal between frames, never inside one.
        if let Some(sequence) = app.to_terminal.take() {
            use std::io::Write;
            let out = terminal.backend_mut();
            let _ = out
                .write_all(sequence.as_bytes())
                .and_then(|()| out.flush());
        }
        let effects = tokio::select! {
            event = keys.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => {
                    dirty = true;
                    app.now = Utc::now();
                    app.key(key)
                }
                Some(Ok(Event::Mouse(mouse))) => {
                    dirty = true;
                    app.now = Utc::now();
                    app.mouse(mouse)
                }
                Some(Ok(Event::Resize(width, height))) => {
                    app.width = width;
                    app.height = height;
                    dirty = true;
                    Vec::new()
                }
                Some(Ok(_)) => Vec::new(),
                Some(Err(e)) => return Err(format!("cannot read the keyboard: {e}")),
                None => return Ok(()),
            },
            Some(report) = incoming.recv() => {
                dirty = true;
                // Results are stamped with the time they arrive, not the last tick's.
                app.now = Utc::now();
                let mut effects = app.report(report);
                // Coalesce: everything already waiting is applied before the next frame.
                while let Ok(report) = incoming.try_recv() {
                    effects.extend(app.report(report));
                }
                effects
            }
            _ = &mut stop => return Ok(()),
            _ = sleep_until(search.due()), if search.due().is_some() => {
                dirty = true;
                match search.take_due(std::time::Instant::now()) {
                    Some(_) => app.search_as_typed(),
                    None => Vec::new(),
                }
            }
            _ = live.tick() => {
                // The header's "data read … ago" moves on every screen, not only where a
                // re-read answers.
                dirty = app.last_refresh.is_some();
                app.report(Report::Tick(Utc::now()))
            }
            _ = progress.tick(), if app.job.as_ref().is_some_and(app::Job::running) => {
                dirty = true;
                app.now = Utc::now();
                if let Some(job) = app.job.as_mut() {
                    job.now = app.now;
                }
                Vec::new()
            }
        };
        effects.into_iter().for_each(|e| runtime.run(e));
        if app.should_quit {
            return Ok(());
        }
    }
}

/// Sleeps until `at` (forever without one: the branch is disabled then anyway).
async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// What the operator misses until `calsync migrate` has run (the console works without it).
fn missing_tables_notice(store: &crate::store::Store) -> Option<String> {
    let pending = store.pending_migrations();
    if pending.is_empty() {
        return None;
    }
    let missing: Vec<String> = pending
        .iter()
        .map(|m| format!("{} ({})", m.name, m.enables))
        .collect();
    Some(format!(
        "`calsync migrate` has not run here: no {}.",
        missing.join(" or ")
    ))
}
