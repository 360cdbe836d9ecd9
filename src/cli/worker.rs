//! The command line of `calsync worker` (part of the contract in [`crate::cli`]).

use std::net::SocketAddr;

use clap::{Args, Subcommand};

use super::simulation::SimulationArgs;
use crate::worker::LogFormat;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct WorkerArgs {
    #[command(subcommand)]
    pub command: Option<WorkerCommand>,
    /// Seconds between passes
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = parse_seconds)]
    pub interval: f64,
    /// Seconds between two sweeps of every row (the passes between look only at new rows, due
    /// retries and changed slots); a sweep also waits until its own database time is at most
    /// 2% of the time since the last one
    #[arg(long, value_name = "SECS", default_value_t = 60.0, value_parser = parse_seconds)]
    pub stale_every: f64,
    /// One pass, then exit (for cron): exit 0 when the pass ran, 1 when it could not
    #[arg(long)]
    pub once: bool,
    /// Print what a pass would do (new, retries, stale, to park) and exit; writes nothing
    #[arg(long)]
    pub dry_run: bool,
    /// SQLite: wait for the worker already running on this database to stop instead of refusing
    #[arg(long)]
    pub wait: bool,
    /// Serve Prometheus text on http://ADDR/metrics and a health check on /healthz
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// The format of the log on stderr
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seconds before a failure of a transient cause is retried the first time (the wait
    /// doubles after each further failure, ±25% jitter)
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = parse_seconds)]
    pub retry_after: f64,
    /// The longest wait between two retries, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 21_600.0, value_parser = parse_seconds)]
    pub retry_max_wait: f64,
    /// Failed attempts after which a failure of a transient cause is parked too
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_attempts: u32,
    /// Selections in flight at once (Graph's limit of 4 per mailbox always applies)
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    #[command(flatten)]
    pub simulation: SimulationArgs,
}

#[derive(Debug, Subcommand)]
pub enum WorkerCommand {
    /// The running workers (host, pid, version, last pass, counts), the retry schedule and the
    /// parked failures by cause
    Status(WorkerStatusArgs),
    /// Make these selections due now, parked ones too: the next pass of any worker tries them
    /// (audited)
    RetryNow(WorkerActionArgs),
    /// Park these selections: no worker touches them until they are retried now (audited)
    Park(WorkerActionArgs),
}

#[derive(Debug, Args)]
pub struct WorkerStatusArgs {
    /// One JSON object: {"workers": [...], "expired": [...], "retries": {...},
    /// "schedule": [...], "parked": [...]}
    #[arg(long)]
    pub json: bool,
    /// Entries listed of the schedule, and of each cause of the parked
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct WorkerActionArgs {
    /// A selection id (repeatable, or comma-separated)
    #[arg(long = "id", value_name = "ID", required = true, value_delimiter = ',')]
    pub ids: Vec<i64>,
    /// One JSON object: {"changed": [...], "unknown": [...]}
    #[arg(long)]
    pub json: bool,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() && s <= 86_400.0 * 30.0 => Ok(s),
        _ => Err(format!(
            "'{text}' is not a number of seconds (more than 0, at most 30 days)"
        )),
    }
}
