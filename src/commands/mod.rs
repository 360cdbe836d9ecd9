//! The headless commands. Each is a thin caller of the store (and later the sync engine): it
//! parses nothing itself and never holds a second implementation of the logic.

mod audit;
mod bench;
mod config;
mod console;
mod demo;
mod doctor;
mod doctor_tokens;
mod ics;
mod migrate;
mod progress;
mod read_only;
mod reconcile;
mod reconcile_progress;
mod rehearsal;
mod status;
mod sync;
mod verify;
mod worker;
mod worker_status;

use std::io::Write;
use std::path::PathBuf;

use crate::cli::{BenchCommand, Cli, Command, EXIT_SOME_FAILED, EXIT_UNUSABLE, GlobalArgs};
use crate::config::{ConfigFile, DatabaseChoice, Environment, choose_database};
use crate::store::{Store, StoreError, StoreOptions};

/// An error that ends the command: one line for the operator, an exit code, and the error it
/// came from (shown as a chain of causes by `--verbose`, in `report.rs`).
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    /// None when there is nothing to say (the reader of our output went away).
    pub message: Option<String>,
    /// The error underneath the message, when there is one.
    pub cause: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl CliError {
    pub fn unusable(message: impl Into<String>) -> CliError {
        CliError {
            code: EXIT_UNUSABLE,
            message: Some(message.into()),
            cause: None,
        }
    }

    pub fn failed(message: impl Into<String>) -> CliError {
        CliError {
            code: EXIT_SOME_FAILED,
            message: Some(message.into()),
            cause: None,
        }
    }

    /// Keeps the error underneath, for `--verbose`; the one line stays as it is.
    pub fn because(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> CliError {
        self.cause = Some(Box::new(cause));
        self
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        if e.is_fatal_setup() {
            CliError::unusable(e.to_string())
        } else {
            CliError::failed(e.to_string())
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // `calsync status | head`: the reader has all it wanted.
            CliError {
                code: 0,
                message: None,
                cause: None,
            }
        } else {
            CliError::failed(format!("cannot write output: {e}")).because(e)
        }
    }
}

/// Buffered standard output whose write errors are handled, never panicked on.
pub struct Output {
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }
}

impl Output {
    pub fn line(&mut self, text: &str) -> Result<(), CliError> {
        writeln!(self.out, "{text}")?;
        Ok(())
    }

    /// Text that carries its own line endings (an iCalendar file's CRLFs).
    pub fn text(&mut self, text: &str) -> Result<(), CliError> {
        self.out.write_all(text.as_bytes())?;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), CliError> {
        self.out.flush()?;
        Ok(())
    }
}

pub async fn run(cli: Cli) -> Result<i32, CliError> {
    // The worker sets up its own log, the request log included.
    if let Some(path) = &cli.global.log_file
        && !matches!(cli.command, Some(Command::Worker(_)))
    {
        crate::graph::request_log::install(path)
            .map_err(|e| CliError::unusable(e.to_string()).because(e))?;
    }
    match cli.command {
        Some(Command::Status(args)) => status::run(&cli.global, &args).await,
        Some(Command::Doctor(args)) => doctor::run(&cli.global, &args).await,
        Some(Command::Sync(args)) => {
            sync::run(&cli.global, &read_only::sync_args(&cli.global, &args)).await
        }
        Some(Command::Ics(args)) => ics::run(&cli.global, &args).await,
        Some(Command::Migrate(args)) => migrate::run(&cli.global, &args).await,
        Some(Command::Audit(args)) => audit::run(&cli.global, &args).await,
        Some(Command::Reconcile(args)) => {
            let args = read_only::reconcile_args(&cli.global, &args);
            reconcile::run(&cli.global, &args).await
        }
        Some(Command::Verify(args)) => verify::run(&cli.global, &args).await,
        Some(Command::GraphSim(args)) => demo::graph_sim(&args).await,
        Some(Command::Demo(args)) => demo::run(&cli.global, &args).await,
        Some(Command::Config(args)) => config::run(&cli.global, &args),
        Some(Command::Bench(_)) if cli.global.read_only => Err(CliError::unusable(
            "--read-only: refusing to run a benchmark (it writes its own databases)",
        )),
        Some(Command::Bench(BenchCommand::Store(args))) => bench::store(&args).await,
        Some(Command::Bench(BenchCommand::Console(args))) => bench::console::run(&args).await,
        Some(Command::Bench(BenchCommand::Sync(args))) => bench::sync(&args).await,
        Some(Command::Bench(BenchCommand::Verify(args))) => bench::verify::run(&args).await,
        Some(Command::Bench(BenchCommand::Reconcile(args))) => bench::reconcile::run(&args).await,
        Some(Command::Bench(BenchCommand::Worker(args))) => bench::worker::run(&args).await,
        Some(Command::Worker(args)) => worker::run(&cli.global, &args).await,
        None => console::run(&cli.global).await,
    }
}

/// The narrowing flags of a command line, in the words the audit log keeps.
pub fn scope_flags(
    conference_id: Option<i64>,
    user_id: Option<i64>,
    selection_ids: &[i64],
) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(id) = conference_id {
        parts.push(format!("--conference-id {id}"));
    }
    if let Some(id) = user_id {
        parts.push(format!("--user-id {id}"));
    }
    parts.extend(
        selection_ids
            .iter()
            .map(|id| format!("--selection-id {id}")),
    );
    parts
}

/// Resolves which database to use from flags, environment and config.
pub fn database_choice(global: &GlobalArgs) -> Result<DatabaseChoice, CliError> {
    let env = Environment::from_process(global.env_file.as_deref()).map_err(CliError::unusable)?;
    let (config, config_path): (ConfigFile, Option<PathBuf>) =
        ConfigFile::load(global.config.as_deref()).map_err(CliError::unusable)?;
    choose_database(
        global.database_url.as_deref(),
        &env,
        &config,
        config_path.as_deref(),
        global.profile.as_deref(),
    )
    .map_err(CliError::unusable)
}

/// Opens the chosen database and checks its schema.
pub async fn open_store(global: &GlobalArgs) -> Result<(Store, DatabaseChoice), CliError> {
    let choice = database_choice(global)?;
    let store = Store::open(&choice.url, &store_options()?).await?;
    Ok((store, choice))
}

/// Timeouts can be changed for scripts and tests through the environment; a value that is not
/// a number of seconds is refused (one line, exit 2), never silently replaced by the default.
pub fn store_options() -> Result<StoreOptions, CliError> {
    let mut options = StoreOptions::default();
    let seconds = |name: &str| -> Result<Option<std::time::Duration>, CliError> {
        match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => {
                crate::graph::seconds(name, &value, MAX_DB_TIMEOUT_SECS)
                    .map(Some)
                    .map_err(CliError::unusable)
            }
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(CliError::unusable(format!(
                "{name} is not valid UTF-8 text"
            ))),
        }
    };
    if let Some(timeout) = seconds("CALSYNC_DB_CONNECT_TIMEOUT_SECS")? {
        options.connect_timeout = timeout;
    }
    if let Some(timeout) = seconds("CALSYNC_SQLITE_BUSY_TIMEOUT_SECS")? {
        options.sqlite_busy_timeout = timeout;
    }
    Ok(options)
}

/// The longest database timeout the environment may ask for.
const MAX_DB_TIMEOUT_SECS: f64 = 3600.0;
