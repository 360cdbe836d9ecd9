//! `calsync sync`: a drop-in for the LMS's `manage.py sync_calendar_events`, with the same
//! selection semantics and output lines, but concurrent, throttling-aware and duplicate-free.

use std::io::{IsTerminal, Write};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::progress::Bars;
use super::rehearsal::Rehearsal;
use super::{CliError, Output, open_store};
use crate::audit::AuditTrail;
use crate::cli::{EXIT_OK, EXIT_SOME_FAILED, GlobalArgs, SyncArgs};
use crate::domain::{Filter, Scope};
use crate::graph::GraphClient;
use crate::jobs::audited::{audited, sync_closing};
use crate::store::{Claims, Store, StoreError};
use crate::sync::{Engine, Failure, ItemResult, Outcome, Summary, SyncEvent, SyncOptions};
use crate::text::clean_line;

const RULE: &str = "============================================================";
const DRY_RUN_SHOWN: usize = 10;

pub async fn run(global: &GlobalArgs, args: &SyncArgs) -> Result<i32, CliError> {
    if args.concurrency == Some(0) {
        return Err(CliError::unusable("--concurrency must be at least 1"));
    }
    let credentials_override = SyncOptions::credentials_from_env().map_err(CliError::unusable)?;
    let (store, _) = open_store(global).await?;
    let rehearsal = Rehearsal::decide(&store, &args.simulation).await?;
    // Taken before the run's rows are chosen, so a run that waited chooses after the other.
    let claims = if args.dry_run || rehearsal.dry_run() {
        None
    } else {
        Some(claims(&store, args.wait).await?)
    };
    let mut out = Output::default();
    let human = !args.json;
    let scope = scope_of(args);
    if human {
        if let Some(id) = args.conference_id {
            out.line(&format!("Filtering by conference ID: {id}"))?;
        }
        if let Some(id) = args.user_id {
            out.line(&format!("Filtering by user ID: {id}"))?;
        }
        if !args.causes.is_empty() {
            let names: Vec<&str> = args.causes.iter().map(|c| c.as_str()).collect();
            out.line(&format!("Filtering by cause: {}", names.join(", ")))?;
        }
        out.line(match scope {
            _ if args.stale => "Updating only stale events (slot or conference changed since)",
            Scope::Failed => "Retrying only failed calendar additions",
            Scope::Unsynced => "Syncing only unsynced selections",
            Scope::All => "Syncing ALL selections (including already synced)",
        })?;
    }
    let filter = filter_of(args, scope);
    if human && !filter.exclude_causes.is_empty() {
        let skipped = store.count(&filter.permanent_failures()).await?;
        if skipped > 0 {
            out.line(&format!(
                "Skipping {skipped} failures with a permanent cause (no mailbox, unknown user, \
                 credentials, time zone): fix them first, or add --include-permanent"
            ))?;
        }
    }
    // The run's list is decided now: rows that fail back into the scope meanwhile are not
    // picked up again (Sidekiq's endless "retry all" loop).
    let ids = store.selection_ids(&filter).await?;
    if human {
        out.line("")?;
        out.line(&format!("Found {} selections to sync", ids.len()))?;
    }
    let Some(claims) = claims else {
        return dry_run(&store, &ids, args.json, rehearsal.simulated(), &mut out).await;
    };

    let target = rehearsal.graph(&store).await?;
    let graph = GraphClient::new(target.config.clone())
        .map_err(|e| CliError::unusable(format!("cannot set up the Graph client: {e}")))?;
    let options = SyncOptions {
        concurrency: args
            .concurrency
            .unwrap_or_else(crate::sync::default_concurrency),
        credentials_override,
        ..SyncOptions::default()
    };
    let trail = AuditTrail::begin(
        &store,
        "sync",
        &rehearsal.audit_scope(&describe_scope(args, scope)),
        "",
        ids.len() as u64,
    )
    .await
    .map_err(CliError::unusable)?;
    let cancel = CancellationToken::new();
    let engine = Engine::new(store, graph, options);
    if human {
        out.line("")?;
        out.line(if target.simulated() {
            "Starting calendar sync... (against the simulated Graph: no real calendar is touched)"
        } else {
            "Starting calendar sync..."
        })?;
        out.flush()?;
    }

    watch_ctrl_c(cancel.clone());
    let (events, mut rx) = mpsc::unbounded_channel();
    let total = ids.len();
    let runner = {
        let engine = engine.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            // The operator's words of the engine's error: the audit row and the exit line say them.
            let work = async move {
                let ran = engine.run(claims, &filter, ids, events, cancel).await;
                ran.map_err(|e| e.to_string())
            };
            audited(Some(trail), work, sync_closing).await
        })
    };
    let bars = Bars::new(human && std::io::stderr().is_terminal());
    let mut progress = bars.add(total, "", true);
    let mut done = 0usize;
    while let Some(event) = rx.recv().await {
        match event {
            SyncEvent::Item(result) => {
                done += 1;
                progress.record(&result.outcome);
                if human {
                    bars.suspend(|| {
                        print_item(&mut out, done, total, &result)?;
                        out.flush()
                    })?;
                }
            }
            SyncEvent::Throttled { .. } => progress.throttled(),
            SyncEvent::Started { .. } | SyncEvent::Finished(_) => {}
        }
    }
    bars.clear();
    let ran = runner
        .await
        .map_err(|e| CliError::failed(format!("the sync stopped: {e}")))?;
    target.shutdown().await;
    if let Some(e) = &ran.unclosed {
        eprintln!("{e}");
    }
    let summary = ran.result.map_err(CliError::unusable)?;
    if let Some(reason) = &summary.stopped {
        eprintln!("{}", stopped_line(reason));
    }
    if args.json {
        out.line(&summary_json(&summary, false, rehearsal.simulated()))?;
    } else {
        print_summary(&mut out, &summary)?;
    }
    out.flush()?;
    // A cancelled run did not do everything it was asked to: scripts must not read it as done.
    Ok(
        if summary.failed > 0
            || summary.conflicts > 0
            || summary.not_started > 0
            || summary.stopped.is_some()
        {
            EXIT_SOME_FAILED
        } else {
            EXIT_OK
        },
    )
}

/// The one line that says why a run stopped before its end.
pub(super) fn stopped_line(reason: &str) -> String {
    format!(
        "error: the run stopped: {reason} — the selections in flight finished and are reported; \
         nothing new was started"
    )
}

/// The run's claims; on SQLite the database's run lock, refused in one line if another calsync
/// holds it, or waited for with `--wait`.
pub(super) async fn claims(store: &Store, wait: bool) -> Result<Claims, CliError> {
    match store.claims(false).await {
        Ok(claims) => Ok(claims),
        Err(StoreError::Busy(holder)) if wait => {
            eprintln!("{holder}; waiting for it to finish…");
            Ok(store.claims(true).await?)
        }
        Err(StoreError::Busy(holder)) => Err(CliError::unusable(format!(
            "{holder}; wait for it to finish or run with --wait"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `--retry-failed` retries what might now succeed: failures of a permanent cause stay out
/// unless asked for by `--include-permanent` or named with `--cause`.
fn filter_of(args: &SyncArgs, scope: Scope) -> Filter {
    Filter {
        scope: Some(scope),
        conference_id: args.conference_id,
        user_id: args.user_id,
        selection_ids: args.selection_ids.clone(),
        causes: args.causes.clone(),
        stale: args.stale,
        ..Filter::default()
    }
    .without_permanent_failures(args.include_permanent)
}

/// The command line's choice of rows, in the words the audit log keeps.
fn describe_scope(args: &SyncArgs, scope: Scope) -> String {
    let mut parts = vec![match scope {
        _ if args.stale => "--stale".to_string(),
        Scope::Failed if args.include_permanent => "--retry-failed --include-permanent".to_string(),
        Scope::Failed => "--retry-failed".to_string(),
        Scope::All if args.selection_ids.is_empty() => "--all".to_string(),
        Scope::All => String::new(),
        Scope::Unsynced => "unsynced".to_string(),
    }];
    parts.extend(super::scope_flags(
        args.conference_id,
        args.user_id,
        &args.selection_ids,
    ));
    for cause in &args.causes {
        parts.push(format!("--cause {}", cause.as_str()));
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

/// `--retry-failed` wins over `--all`, as in the LMS command; naming selections means "these,
/// whatever their state" unless `--retry-failed` narrows it.
fn scope_of(args: &SyncArgs) -> Scope {
    if args.retry_failed {
        Scope::Failed
    } else if args.all || args.stale || !args.selection_ids.is_empty() {
        Scope::All
    } else {
        Scope::Unsynced
    }
}

async fn dry_run(
    store: &Store,
    ids: &[i64],
    json: bool,
    simulated: bool,
    out: &mut Output,
) -> Result<i32, CliError> {
    if json {
        let summary = Summary {
            total: ids.len(),
            ..Summary::default()
        };
        out.line(&summary_json(&summary, true, simulated))?;
        out.flush()?;
        return Ok(EXIT_OK);
    }
    out.line("")?;
    out.line("=== DRY RUN MODE ===")?;
    for id in ids.iter().take(DRY_RUN_SHOWN) {
        if let Some(s) = store.selection(*id).await? {
            out.line(&format!(
                "Would sync: {} - {} - {} {}",
                clean_line(&s.full_name()),
                clean_line(&s.conference_title),
                s.slot_date,
                s.slot_start.format("%H:%M:%S")
            ))?;
        }
    }
    if ids.len() > DRY_RUN_SHOWN {
        out.line(&format!("... and {} more", ids.len() - DRY_RUN_SHOWN))?;
    }
    out.flush()?;
    Ok(EXIT_OK)
}

fn print_item(
    out: &mut Output,
    i: usize,
    total: usize,
    result: &ItemResult,
) -> Result<(), CliError> {
    // Every row gets its `[i/N]` line, so the numbers never jump and a skip says why.
    let heading = match &result.label {
        Some(label) => format!(
            "[{i}/{total}] Syncing: {} - {} - {} {}",
            clean_line(&label.username),
            clean_line(&label.conference_title),
            label.slot_date,
            label.slot_start
        ),
        None => format!("[{i}/{total}] Selection {}", result.selection_id),
    };
    out.line(&heading)?;
    match &result.outcome {
        Outcome::Synced { .. } => out.line("  ✓ Success")?,
        Outcome::Failed { error, .. } => out.line(&format!("  ✗ Failed: {}", clean_line(error)))?,
        Outcome::Conflict { detail } => out.line(&format!("  ✗ Failed: {detail}"))?,
        Outcome::ClaimedElsewhere { detail } => out.line(&format!("  - Skipped: {detail}"))?,
        Outcome::Skipped { reason } => out.line(&format!("  - Skipped: {}", clean_line(reason)))?,
    }
    Ok(())
}

fn print_summary(out: &mut Output, summary: &Summary) -> Result<(), CliError> {
    out.line("")?;
    out.line(RULE)?;
    out.line("Sync Summary:")?;
    out.line(&format!("Total selections: {}", summary.total))?;
    out.line(&format!("Successfully synced: {}", summary.synced))?;
    let failed = summary.failed + summary.conflicts;
    if failed > 0 {
        out.line(&format!("Failed: {failed}"))?;
    }
    if summary.skipped > 0 {
        out.line(&format!("Skipped: {}", summary.skipped))?;
    }
    if summary.claimed_elsewhere > 0 {
        out.line(&format!(
            "Being synced by another calsync: {}",
            summary.claimed_elsewhere
        ))?;
    }
    if summary.not_started > 0 {
        out.line(&format!("Not started (cancelled): {}", summary.not_started))?;
    }
    out.line(RULE)?;
    out.line(&format!(
        "{} created, {} updated in place, {} adopted; {} throttling waits; {:.1} s",
        summary.created,
        summary.updated,
        summary.adopted,
        summary.throttled,
        summary.duration.as_secs_f64()
    ))?;
    Ok(())
}

fn summary_json(summary: &Summary, dry_run: bool, simulated: bool) -> String {
    #[derive(Serialize)]
    struct Json<'a> {
        total: usize,
        synced: usize,
        failed: usize,
        skipped: usize,
        claimed_elsewhere: usize,
        dry_run: bool,
        duration_ms: u128,
        failures: &'a [Failure],
        /// Only on runs against the simulated Graph.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        simulated_graph: bool,
    }
    serde_json::to_string(&Json {
        total: summary.total,
        synced: summary.synced,
        failed: summary.failed + summary.conflicts,
        skipped: summary.skipped,
        claimed_elsewhere: summary.claimed_elsewhere,
        dry_run,
        duration_ms: summary.duration.as_millis(),
        failures: &summary.failures,
        simulated_graph: simulated,
    })
    .unwrap_or_default()
}

/// First Ctrl-C or SIGTERM (how cron, systemd and Kubernetes stop a job): stop starting work,
/// let the work in flight finish and be recorded, and close the audit row. A second one leaves
/// at once (rows in flight stay untouched, never half-written).
pub(super) fn watch_ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        if let Some(signal) = crate::signals::stop_requested().await {
            let _ = writeln!(
                std::io::stderr(),
                "\nCancelling ({signal}): finishing the work in flight (Ctrl-C again to quit now)…"
            );
            cancel.cancel();
            if let Some(again) = crate::signals::stop_requested().await {
                std::process::exit(again.exit_code());
            }
        }
    });
}
