//! `calsync worker status`, `worker retry-now` and `worker park`: the CLI mirror of the
//! console's worker views, drawn from [`crate::worker::views`].

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{CliError, Output, open_store};
use crate::cli::worker::{WorkerActionArgs, WorkerStatusArgs};
use crate::cli::{EXIT_OK, GlobalArgs};
use crate::domain::worker::{RetryListing, ScheduleCounts, WorkerEntry};
use crate::store::Store;
use crate::text::clean_line;
use crate::worker::views::{self, ActionReport, Origin, ParkedGroup, WorkerView};

pub async fn status(global: &GlobalArgs, args: &WorkerStatusArgs) -> Result<i32, CliError> {
    let (store, _) = open_store(global).await?;
    require_tables(&store)?;
    let now = Utc::now();
    let (alive, expired): (Vec<WorkerView>, Vec<WorkerView>) = views::workers(&store, now)
        .await?
        .into_iter()
        .partition(|w| w.alive);
    let workers: Vec<WorkerEntry> = alive.into_iter().map(|w| w.entry).collect();
    let expired: Vec<WorkerEntry> = expired.into_iter().map(|w| w.entry).collect();
    let retries = store.schedule_counts(now).await?;
    let schedule = views::retry_schedule(&store, args.limit).await?;
    let parked = views::parked(&store, args.limit).await?;
    let mut out = Output::default();
    if args.json {
        #[derive(Serialize)]
        struct Json<'a> {
            workers: &'a [WorkerEntry],
            /// Entries whose heartbeat stopped, until a live worker's heartbeat removes them.
            expired: &'a [WorkerEntry],
            retries: ScheduleCounts,
            schedule: &'a [RetryListing],
            parked: &'a [ParkedGroup],
        }
        let json = serde_json::to_string(&Json {
            workers: &workers,
            expired: &expired,
            retries,
            schedule: &schedule,
            parked: &parked,
        })
        .map_err(|e| CliError::failed(format!("cannot write JSON: {e}")))?;
        out.line(&json)?;
    } else {
        print_workers(&mut out, &workers, now)?;
        out.line(&format!(
            "Retry schedule: {} waiting ({} due now), {} parked",
            retries.scheduled, retries.due, retries.parked
        ))?;
        print_schedule(&mut out, &schedule, now)?;
        print_parked(&mut out, &parked)?;
    }
    out.flush()?;
    Ok(EXIT_OK)
}

fn print_workers(
    out: &mut Output,
    workers: &[WorkerEntry],
    now: DateTime<Utc>,
) -> Result<(), CliError> {
    if workers.is_empty() {
        out.line("No worker is running (none sent a heartbeat in the last minute).")?;
    }
    for w in workers {
        let last = w
            .last_pass_at
            .map(|at| format!("last pass {}s ago", (now - at).num_seconds().max(0)))
            .unwrap_or_else(|| "no pass yet".to_string());
        out.line(&format!(
            "worker {} on {} (pid {}, calsync {}), up since {}, {last}: {} passes, \
             {} synced, {} failed, {} retries scheduled, {} parked",
            w.id,
            clean_line(&w.host),
            w.pid,
            clean_line(&w.version),
            w.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            w.counts.passes,
            w.counts.synced,
            w.counts.failed,
            w.counts.retries_scheduled,
            w.counts.parked
        ))?;
    }
    Ok(())
}

/// "selection 12 (Ada Lovelace, Induction Q&A)".
fn who(listing: &RetryListing) -> String {
    if listing.user_id.is_none() {
        return format!(
            "selection {} (gone from the LMS)",
            listing.entry.selection_id
        );
    }
    format!(
        "selection {} ({}, {})",
        listing.entry.selection_id,
        clean_line(&listing.person),
        clean_line(&listing.conference)
    )
}

fn print_schedule(
    out: &mut Output,
    schedule: &[RetryListing],
    now: DateTime<Utc>,
) -> Result<(), CliError> {
    for listing in schedule {
        let next = listing.entry.next_attempt_at.map_or_else(
            || "now".to_string(),
            |at| match (at - now).num_seconds() {
                s if s <= 0 => "now".to_string(),
                s => format!("in {s} s"),
            },
        );
        out.line(&format!(
            "  retry {}: {}, {} failed attempts, next {next}",
            who(listing),
            listing.entry.cause,
            listing.entry.attempts
        ))?;
    }
    Ok(())
}

fn print_parked(out: &mut Output, parked: &[ParkedGroup]) -> Result<(), CliError> {
    for group in parked {
        out.line(&format!(
            "Parked, {} ({}): {}. To fix: {}",
            group.cause,
            group.label,
            group.count,
            clean_line(&group.fix)
        ))?;
        for listing in &group.selections {
            out.line(&format!(
                "  {}: {}",
                who(listing),
                clean_line(&listing.entry.last_error)
            ))?;
        }
    }
    Ok(())
}

/// `worker retry-now` and `worker park`.
pub async fn act(
    global: &GlobalArgs,
    args: &WorkerActionArgs,
    park: bool,
) -> Result<i32, CliError> {
    let verb = if park { "park" } else { "retry-now" };
    if global.read_only {
        return Err(CliError::unusable(format!(
            "--read-only: refusing `worker {verb}` (it writes the retry schedule)"
        )));
    }
    let (store, _) = open_store(global).await?;
    require_tables(&store)?;
    let report: ActionReport = if park {
        views::park(&store, &args.ids, Origin::Cli).await
    } else {
        views::retry_now(&store, &args.ids, Origin::Cli).await
    }
    .map_err(CliError::failed)?;
    if report.changed.is_empty() {
        return Err(CliError::unusable(format!(
            "no selection {} exists: nothing to {verb}",
            crate::worker::describe_ids(&report.unknown)
        )));
    }
    let mut out = Output::default();
    if args.json {
        let json = serde_json::to_string(&report)
            .map_err(|e| CliError::failed(format!("cannot write JSON: {e}")))?;
        out.line(&json)?;
    } else {
        out.line(&format!(
            "{} {} selections ({}){}",
            if park {
                "Parked"
            } else {
                "Due now (the next pass of a worker tries them):"
            },
            report.changed.len(),
            crate::worker::describe_ids(&report.changed),
            if report.unknown.is_empty() {
                String::new()
            } else {
                format!(
                    "; no such selection: {}",
                    crate::worker::describe_ids(&report.unknown)
                )
            }
        ))?;
    }
    out.flush()?;
    Ok(EXIT_OK)
}

/// The worker and its views keep their state in calsync's own tables.
pub(super) fn require_tables(store: &Store) -> Result<(), CliError> {
    if store.has_worker_tables() {
        Ok(())
    } else {
        Err(CliError::unusable(
            "calsync worker keeps its retry schedule and registry in calsync's own tables, \
             which this database does not have yet: run `calsync migrate` first",
        ))
    }
}
