//! The command-line contract. Flags, JSON keys and exit codes here are relied on by operators'
//! scripts: change them only on purpose.

pub mod simulation;
pub mod worker;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::{Filter, SortKey, SyncState, parse_when};

use simulation::SimulationArgs;

/// What `--read-only` does, per command: it is global, so each command's help says it in its
/// own terms (`calsync <command> --help`).
pub const READ_ONLY_HELP: [(&str, &str); 13] = [
    ("status", "Nothing changes: status only reads"),
    ("doctor", "Nothing changes: doctor only reads"),
    (
        "sync",
        "Run as --dry-run: list what would be synced; nothing is sent to Graph or written",
    ),
    (
        "ics",
        "Nothing changes: ics only reads the database and writes the file",
    ),
    (
        "migrate",
        "Refuse to create or drop calsync's tables (exit 2); --status still reports",
    ),
    ("audit", "Nothing changes: audit only reads"),
    (
        "reconcile",
        "Run as --dry-run: scan and list; nothing is deleted or written",
    ),
    (
        "verify",
        "Check only: nothing is written (no ledger marks, no audit row); --recreate is refused (exit 2)",
    ),
    (
        "graph-sim",
        "Nothing changes: the simulated Graph holds no database",
    ),
    (
        "demo",
        "Open the demo console read-only; refuse to create or rebuild the demo database (exit 2)",
    ),
    ("config", "Nothing changes: config only prints"),
    (
        "bench",
        "Refused (exit 2): benchmarks generate and write their own databases",
    ),
    (
        "worker",
        "Refused (exit 2) unless --dry-run, which only prints what a pass would do; \
         `worker status` only reads",
    ),
];

/// The command line with `--read-only`'s help in each command's own terms.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let Some(read_only) = command
        .get_arguments()
        .find(|a| a.get_id() == "read_only")
        .cloned()
    else {
        return command;
    };
    for (name, help) in READ_ONLY_HELP {
        // The same global argument (same id), so its value still reaches the top level.
        let arg = read_only.clone().help(help);
        command = command.mut_subcommand(name, |sub| sub.arg(arg));
    }
    command
}

/// Parses the process's arguments with [`command`].
pub fn try_parse() -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let matches = command().try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// Exit codes.
pub const EXIT_OK: i32 = 0;
/// Some selections failed (sync) or a check found problems.
pub const EXIT_SOME_FAILED: i32 = 1;
/// Nothing could run: bad arguments, no database, wrong schema.
pub const EXIT_UNUSABLE: i32 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "calsync",
    version,
    about = "Outlook calendar sync console for the LMS's conference time slots",
    long_about = "calsync shows every conference time-slot selection of the LMS with its Outlook \
                  sync state and error, and syncs them through Microsoft Graph.\n\n\
                  The database comes from --database-url, DATABASE_URL, the LMS's AWS_DB_* \
                  variables (or --env-file), or a profile in the config file."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The LMS database: sqlite:///relative.db, sqlite:////absolute.db, a path to a SQLite file,
    /// or postgres://user:pass@host:port/db?sslmode=disable|prefer|require|verify-ca|verify-full
    /// (with &sslrootcert=PATH; &passfile=PATH)
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Read AWS_DB_* from the LMS's .env file
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Use this database profile from the config file
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// The config file (default: the platform's config directory, calsync/config.toml)
    #[arg(long, global = true, value_name = "PATH", env = "CALSYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Write nothing to Graph or the database; each command says what it does instead (the
    /// console: hide every action that writes)
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Append one JSON line per Graph and login request to this file, for Microsoft support
    /// (ids and timings; never a token, secret, body or mailbox address)
    #[arg(long, global = true, value_name = "PATH", env = "CALSYNC_LOG")]
    pub log_file: Option<PathBuf>,
    /// When a command fails, show the chain of causes under its one-line error
    #[arg(long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List selections with their sync state (headless; JSON Lines with --json)
    Status(StatusArgs),
    /// Check the connection, the schema, integrations, time zones and data consistency
    Doctor(DoctorArgs),
    /// Sync selections to Outlook (a drop-in for `manage.py sync_calendar_events`)
    Sync(SyncArgs),
    /// Export selections as an iCalendar (.ics) file that any calendar application imports
    Ics(IcsArgs),
    /// Create calsync's own tables (event ledger, audit log) in the LMS database, or remove
    /// them with --down; never touches the LMS's tables
    Migrate(MigrateArgs),
    /// Show the audit log: every operator action that wrote (who, when, what, outcome)
    Audit(AuditArgs),
    /// Delete events no selection points to any more (from the ledger) and list probable
    /// orphans and duplicates found in mailboxes (deleted only when asked and confirmed)
    Reconcile(ReconcileArgs),
    /// Check that the events of added selections still exist in Outlook
    Verify(VerifyArgs),
    /// Run the simulated Graph (token endpoint, events, $batch, throttling) on a loopback port
    GraphSim(GraphSimArgs),
    /// Open the console on a demo LMS database with the simulated Graph (created when missing)
    Demo(DemoArgs),
    /// Show the configuration
    Config(ConfigArgs),
    /// Measure calsync against a baseline taken in the same run
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Keep Outlook in step with the LMS until stopped: sync new selections, retry failures on
    /// a schedule, park permanent ones, update stale events (needs `calsync migrate`)
    Worker(worker::WorkerArgs),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The store's queries on a demo database against the sqlite3 shell running the same SQL
    Store(BenchStoreArgs),
    /// The console on a large database: first frame, filter, end, paging, memory, idle CPU
    Console(BenchConsoleArgs),
    /// A bulk sync against the simulated Graph: calsync's engine, the LMS's sequential command
    /// re-enacted, the floor, and individual requests against $batch
    Sync(BenchSyncArgs),
    /// The drift check on a demo database: calsync's $batch lookups against one GET per event
    Verify(BenchVerifyArgs),
    /// `calsync reconcile --dry-run` as a user runs it, against the floor Graph's limits allow
    /// for the same requests
    Reconcile(BenchReconcileArgs),
    /// `calsync worker` on a copy of a large demo database: a quiet pass's database time and
    /// the lag from a new row to its event while rows arrive at a steady rate
    Worker(BenchWorkerArgs),
}

#[derive(Debug, Args)]
pub struct BenchWorkerArgs {
    /// The demo database to copy (generated when missing; the copy is what the worker changes)
    #[arg(long, value_name = "PATH", default_value = "bench-1m.db")]
    pub db: PathBuf,
    /// Selections to generate when the database is missing
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub selections: u64,
    /// Also measure on PostgreSQL: this database (created as a copy of the demo database when
    /// missing, needs psql and sqlite3) is copied again for the worker to change
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// New selections that arrive while the worker runs
    #[arg(long, value_name = "N", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rows: u32,
    /// New selections per second
    #[arg(long, value_name = "R", default_value_t = 10.0, value_parser = parse_rate)]
    pub rate: f64,
    /// The worker's --interval, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_rate)]
    pub interval: f64,
    /// Latency the simulated Graph adds to every request, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 40,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub latency_ms: u64,
    /// Quiet passes measured; the median is reported
    #[arg(long, value_name = "R", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
    /// Print one JSON array (one object per backend) instead of the report
    #[arg(long)]
    pub json: bool,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 10_000.0 => Ok(r),
        _ => Err(format!("'{text}' is not a number above 0 (at most 10000)")),
    }
}

#[derive(Debug, Args)]
pub struct BenchVerifyArgs {
    /// The demo database to check (generated when missing)
    #[arg(long, value_name = "PATH", default_value = "bench-verify.db")]
    pub db: PathBuf,
    /// Selections to generate when the database is missing
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub selections: u64,
    /// Latency the simulated Graph adds to every request, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub latency_ms: u64,
    /// Runs of each mode; the median is reported
    #[arg(long, value_name = "R", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
}

#[derive(Debug, Args)]
pub struct BenchReconcileArgs {
    /// The demo database to copy and reconcile (generated when missing)
    #[arg(long, value_name = "PATH", default_value = "bench-verify.db")]
    pub db: PathBuf,
    /// Selections to generate when the database is missing
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub selections: u64,
    /// Latency the simulated Graph adds to every request, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 40,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub latency_ms: u64,
    /// Share of requests the simulated Graph fails at random (429, 503 or 504), 0 to 0.5
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_fault_rate)]
    pub fault_rate: f64,
    /// Runs of the command; the median is reported
    #[arg(long, value_name = "R", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
}

fn parse_fault_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=0.5).contains(&p) => Ok(p),
        _ => Err(format!("'{text}' is not a share from 0 to 0.5")),
    }
}

#[derive(Debug, Args)]
pub struct BenchConsoleArgs {
    /// The demo database to measure (generated when missing)
    #[arg(long, value_name = "PATH", default_value = "bench-1m.db")]
    pub db: PathBuf,
    /// Selections to generate when the database is missing
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub selections: u64,
    /// Also measure on this PostgreSQL database, created as a copy of the demo database when it
    /// does not exist (needs psql and sqlite3)
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchStoreArgs {
    /// The demo database to measure (generated when missing)
    #[arg(long, value_name = "PATH", default_value = "bench-1m.db")]
    pub db: PathBuf,
    /// Selections to generate when the database is missing
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub selections: u64,
}

#[derive(Debug, Args)]
pub struct BenchSyncArgs {
    /// Not-yet-synced selections in the scratch database
    #[arg(long, value_name = "N", default_value_t = 600,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub selections: u32,
    /// Users (one mailbox each) the selections are dealt over
    #[arg(long, value_name = "M", default_value_t = 150,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub mailboxes: u32,
    /// Latency the simulated Graph adds to every Graph and token request, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 40,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub latency_ms: u64,
    /// The engine mode's selections in flight at once (default: as `calsync sync` with no
    /// --concurrency)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: Option<u32>,
    /// Skip the LMS re-enactment when its estimate (a token and a create round trip per
    /// selection, one at a time) is longer than this
    #[arg(long, value_name = "SECS", default_value_t = 900)]
    pub reenactment_max_secs: u64,
    /// Runs of the fast modes (calsync, individual requests, $batch); the median is reported
    #[arg(long, value_name = "R", default_value_t = 11,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
    /// Serve the simulated Graph over TLS (a certificate generated at start), so handshakes
    /// count: h2 offers HTTP/2 and HTTP/1.1 by ALPN, h1 only HTTP/1.1 (default: plain HTTP)
    #[arg(long, value_name = "PROTOCOL")]
    pub tls: Option<BenchTls>,
    /// Print one JSON object instead of the report
    #[arg(long)]
    pub json: bool,
}

/// What the TLS simulator of `bench sync --tls` offers by ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchTls {
    /// ALPN offers only http/1.1: a connection per request in flight
    H1,
    /// ALPN offers h2, then http/1.1: requests share connections
    H2,
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Only selections of this conference
    #[arg(long, value_name = "ID")]
    pub conference_id: Option<i64>,
    /// Only selections of this user
    #[arg(long, value_name = "ID")]
    pub user_id: Option<i64>,
    /// Only selections that were attempted and are not added (wins over --all)
    #[arg(long)]
    pub retry_failed: bool,
    /// Every selection, including added ones (their events are updated in place, never duplicated)
    #[arg(long)]
    pub all: bool,
    /// List what would be synced and stop
    #[arg(long)]
    pub dry_run: bool,
    /// Only this selection, whatever its state (repeatable)
    #[arg(long = "selection-id", value_name = "ID")]
    pub selection_ids: Vec<i64>,
    /// Only failures of this cause (repeatable or comma-separated): no_mailbox, unknown_user,
    /// credentials, throttled, time_zone, network, other
    #[arg(long = "cause", value_name = "CAUSE", value_delimiter = ',', value_parser = parse_cause)]
    pub causes: Vec<crate::domain::Cause>,
    /// With --retry-failed: also retry failures whose cause is permanent (no_mailbox,
    /// unknown_user, credentials, time_zone), which are skipped otherwise
    #[arg(long)]
    pub include_permanent: bool,
    /// Only added selections whose event is stale (slot or conference changed since): their
    /// events are updated in place
    #[arg(long, conflicts_with_all = ["retry_failed", "all"])]
    pub stale: bool,
    /// At most N selections in flight at once (default: every mailbox of the run at Graph's 4,
    /// within Graph's app-wide limits and memory; Graph's 4 per mailbox always applies)
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Print one JSON object at the end instead of the progress lines
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub simulation: SimulationArgs,
    /// SQLite: wait for another calsync's sync of this database to finish instead of refusing
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Remove calsync's tables instead (down to version 0, or to --to)
    #[arg(long)]
    pub down: bool,
    /// With --down: the version to go down to
    #[arg(long, value_name = "VERSION", requires = "down")]
    pub to: Option<u32>,
    /// With --down: drop the ledger even though it still tracks live events
    #[arg(long, requires = "down")]
    pub force: bool,
    /// Only print the current version and what each version enables
    #[arg(long, conflicts_with = "down")]
    pub status: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// At most this many entries, newest first
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: u32,
    /// Only this action: sync, console sync, reconcile, console reconcile, verify,
    /// console verify, migrate, worker, worker retry now, worker park, console retry now,
    /// console park
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    /// One JSON object per entry per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// Only this user's mailbox and events
    #[arg(long, value_name = "ID", conflicts_with = "conference_id")]
    pub user_id: Option<i64>,
    /// Only events of this conference (and the mailboxes of its participants)
    #[arg(long, value_name = "ID")]
    pub conference_id: Option<i64>,
    /// Only report: delete nothing, not even the orphans the ledger proves
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete the probable orphans and duplicates found by heuristics (asks to confirm)
    #[arg(long, conflicts_with = "dry_run")]
    pub delete_probable: bool,
    /// Confirm --delete-probable without asking (for scripts)
    #[arg(long, requires = "delete_probable")]
    pub yes: bool,
    /// At most N mailboxes scanned at once (default: every mailbox of the run, within Graph's
    /// app-wide limits and memory)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: Option<u32>,
    /// One JSON object per finding per line, then a summary object
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub simulation: SimulationArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only selections of this conference
    #[arg(long, value_name = "ID")]
    pub conference_id: Option<i64>,
    /// Only selections of this user
    #[arg(long, value_name = "ID")]
    pub user_id: Option<i64>,
    /// Only this selection (repeatable)
    #[arg(long = "selection-id", value_name = "ID")]
    pub selection_ids: Vec<i64>,
    /// Re-create the events found missing (each one once, never twice)
    #[arg(long)]
    pub recreate: bool,
    /// At most N events looked up at once, in $batch envelopes of 4 (default: every event of
    /// the run, within Graph's app-wide limits and memory)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: Option<u32>,
    /// One JSON object per missing event per line, then a summary object
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub simulation: SimulationArgs,
}

#[derive(Debug, Args)]
pub struct IcsArgs {
    /// Export this selection (repeatable)
    #[arg(long = "selection-id", value_name = "ID",
          conflicts_with_all = ["user_id", "user", "conference_id"])]
    pub selection_ids: Vec<i64>,
    /// Export every selection of this user
    #[arg(long, value_name = "ID", conflicts_with = "user")]
    pub user_id: Option<i64>,
    /// Export every selection of the user with this email or username (exact, ignoring case)
    #[arg(long, value_name = "EMAIL")]
    pub user: Option<String>,
    /// Export every selection of this conference (with --user or --user-id: only theirs)
    #[arg(long, value_name = "ID")]
    pub conference_id: Option<i64>,
    /// Write the calendar to this file instead of standard output
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GraphSimArgs {
    /// The loopback port to listen on (0 picks a free one)
    #[arg(long, value_name = "PORT", default_value_t = 8787)]
    pub port: u16,
    /// Added to every request, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests that fail with a random 429/503/504 (0 to 1)
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Make a new event for every create, even one repeating an earlier create's transactionId
    /// (Microsoft documents no window in which Graph de-duplicates, so calsync must not rely
    /// on it)
    #[arg(long)]
    pub no_dedupe: bool,
    /// Serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with a certificate generated at start; the
    /// client trusts it through the CALSYNC_GRAPH_CA_FILE printed at start
    #[arg(long)]
    pub tls: bool,
}

/// The selection filters shared by every command that picks selections.
#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Only these states (repeatable or comma-separated): added, added_stale_error, failed,
    /// interrupted, not_synced
    #[arg(long = "state", value_name = "STATE", value_delimiter = ',', value_parser = parse_state)]
    pub states: Vec<SyncState>,
    /// Only selections of this conference
    #[arg(long, value_name = "ID")]
    pub conference_id: Option<i64>,
    /// Only selections of this time slot
    #[arg(long, value_name = "ID")]
    pub slot_id: Option<i64>,
    /// Only selections of this user
    #[arg(long, value_name = "ID")]
    pub user_id: Option<i64>,
    /// Case-insensitive text in the username, full name or email
    #[arg(long, value_name = "TEXT")]
    pub user: Option<String>,
    /// Meeting platform: teams, zoom, google_meet, webex, other
    #[arg(long, value_name = "NAME")]
    pub platform: Option<String>,
    /// User role: learner, instructor, admin, superadmin, globaladmin
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// Case-insensitive text in calendar_error
    #[arg(long, value_name = "TEXT")]
    pub error: Option<String>,
    /// Only selections whose calendar_error has this cause (repeatable or comma-separated; the
    /// words of `sync --cause`): no_mailbox, unknown_user, credentials, throttled, time_zone,
    /// network, other
    #[arg(long = "cause", value_name = "CAUSE", value_delimiter = ',', value_parser = parse_cause)]
    pub causes: Vec<crate::domain::Cause>,
    /// Attempted at or after: an age (30m, 24h, 7d, 2w), a date or an RFC 3339 time
    #[arg(long, value_name = "WHEN", value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Attempted before: an age, a date or an RFC 3339 time
    #[arg(long, value_name = "WHEN", value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,
    /// Only added selections whose event is stale (slot or conference changed since)
    #[arg(long)]
    pub stale: bool,
}

impl FilterArgs {
    pub fn to_filter(&self) -> Filter {
        Filter {
            states: self.states.clone(),
            conference_id: self.conference_id,
            slot_id: self.slot_id,
            user_id: self.user_id,
            person: self.user.clone(),
            platform: self.platform.clone(),
            role: self.role.clone(),
            error: self.error.clone(),
            attempted_since: self.since,
            attempted_until: self.until,
            stale: self.stale,
            causes: self.causes.clone(),
            ..Filter::default()
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SortArg {
    /// Newest selection first (like the LMS's command)
    Selected,
    /// Most recent attempt first
    Attempted,
    /// By selection id, highest first
    Id,
}

impl From<SortArg> for SortKey {
    fn from(value: SortArg) -> Self {
        match value {
            SortArg::Selected => SortKey::SelectedAt,
            SortArg::Attempted => SortKey::AttemptedAt,
            SortArg::Id => SortKey::Id,
        }
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// At most this many rows (default: 50 for the table, all for --json)
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Print JSON (one object per selection per line; one object with --summary)
    #[arg(long)]
    pub json: bool,
    /// Print the counts per state instead of rows
    #[arg(long)]
    pub summary: bool,
    /// The order of the rows
    #[arg(long, value_enum, default_value_t = SortArg::Selected)]
    pub sort: SortArg,
    /// Oldest first
    #[arg(long)]
    pub ascending: bool,
}

#[derive(Debug, Args, Default)]
pub struct DoctorArgs {
    /// Also ask the identity platform for a token with each active integration's secret (one
    /// request each), to find a rotated or expired secret; the secret is never shown
    #[arg(long)]
    pub check_tokens: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print a commented default config file
    #[arg(long)]
    pub print_default: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo database lives (default: calsync's data directory)
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Rebuild the demo database from scratch
    #[arg(long)]
    pub reset: bool,
    /// How many selections to generate (when creating)
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub selections: u64,
    /// Print the database URL and exit (creating the database if needed)
    #[arg(long)]
    pub print_url: bool,
    /// Describe the demo database instead of opening the console
    #[arg(long)]
    pub summary: bool,
}

fn parse_state(text: &str) -> Result<SyncState, String> {
    SyncState::parse(text).ok_or_else(|| {
        format!(
            "unknown state '{text}' (added, added_stale_error, failed, interrupted, not_synced)"
        )
    })
}

fn parse_cause(text: &str) -> Result<crate::domain::Cause, String> {
    crate::domain::Cause::parse(text).ok_or_else(|| {
        format!(
            "unknown cause '{text}' (no_mailbox, unknown_user, credentials, throttled, time_zone, network, other)"
        )
    })
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    parse_when(text, Utc::now())
}
