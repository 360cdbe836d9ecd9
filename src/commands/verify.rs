//! `calsync verify`: checks that each added selection's event still exists in Outlook, reports
//! the missing ones and, with `--recreate`, re-creates them through the sync engine.

use std::io::IsTerminal;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::progress::Bars;
use super::rehearsal::Rehearsal;
use super::{CliError, Output, open_store};
use crate::audit::{AuditTrail, verify_detail, verify_outcome};
use crate::cli::{EXIT_OK, EXIT_SOME_FAILED, GlobalArgs, VerifyArgs};
use crate::domain::Filter;
use crate::domain::audit::AuditOutcome;
use crate::graph::GraphClient;
use crate::sync::verify::{
    Check, CheckStatus, Verifier, VerifyEvent, VerifyOptions, VerifySummary, verifiable,
};
use crate::sync::{Engine, Outcome, SyncEvent, SyncOptions};
use crate::text::{clean_line, truncate};

const RULE: &str = "============================================================";

pub async fn run(global: &GlobalArgs, args: &VerifyArgs) -> Result<i32, CliError> {
    if args.recreate && global.read_only {
        return Err(CliError::unusable(
            "--read-only: refusing to re-create events (run verify without --recreate to only check)",
        ));
    }
    let credentials_override = SyncOptions::credentials_from_env().map_err(CliError::unusable)?;
    let (store, _) = open_store(global).await?;
    let rehearsal = Rehearsal::decide(&store, &args.simulation).await?;
    // A dry run checks but records nothing and re-creates nothing.
    let record = !global.read_only && !rehearsal.dry_run();
    let recreate_asked = args.recreate && !rehearsal.dry_run();
    let mut out = Output::default();
    let human = !args.json;
    let filter = verifiable(Filter {
        conference_id: args.conference_id,
        user_id: args.user_id,
        selection_ids: args.selection_ids.clone(),
        ..Filter::default()
    });
    let ids = store.selection_ids(&filter).await?;
    let target = rehearsal.graph(&store).await?;
    let graph = GraphClient::new(target.config.clone())
        .map_err(|e| CliError::unusable(format!("cannot set up the Graph client: {e}")))?;
    let trail = if !record {
        None
    } else {
        Some(
            AuditTrail::begin(
                &store,
                "verify",
                &rehearsal.audit_scope(&describe_scope(args)),
                "",
                ids.len() as u64,
            )
            .await
            .map_err(CliError::unusable)?,
        )
    };
    if human {
        out.line(&format!(
            "Verifying the events of {} added selections{}",
            ids.len(),
            if target.simulated() {
                " (against the simulated Graph: no real calendar is touched)"
            } else {
                ""
            }
        ))?;
        out.flush()?;
    }

    let cancel = CancellationToken::new();
    super::sync::watch_ctrl_c(cancel.clone());
    let concurrency = args
        .concurrency
        .map_or_else(crate::sync::default_concurrency, |n| n as usize);
    let verifier = Verifier::new(
        store.clone(),
        graph.clone(),
        VerifyOptions {
            concurrency,
            credentials_override: credentials_override.clone(),
            record,
        },
    );
    let to_check = ids.len();
    let (events, mut rx) = mpsc::unbounded_channel();
    let runner = {
        let cancel = cancel.clone();
        tokio::spawn(async move { verifier.run(ids, events, cancel).await })
    };
    // Two stacked bars: the check, then (with --recreate) the re-creates under it.
    let bars = Bars::new(human && std::io::stderr().is_terminal());
    let mut checking = bars.add(to_check, "checked", false);
    let mut found = Vec::new();
    while let Some(event) = rx.recv().await {
        if let VerifyEvent::Checked(check) = event {
            checking.done(check.status == CheckStatus::Present);
            if human {
                bars.suspend(|| print_check(&mut out, &check))?;
            }
            if check.status != CheckStatus::Present {
                found.push(Finding {
                    check,
                    recreated: None,
                });
            }
        }
    }
    let summary = runner
        .await
        .map_err(|e| CliError::failed(format!("the check stopped: {e}")))?
        .map_err(CliError::unusable)?;

    checking.finish();
    let recreate = if recreate_asked && !summary.missing_ids.is_empty() && !cancel.is_cancelled() {
        if human {
            bars.suspend(|| {
                out.line("")?;
                out.line(&format!(
                    "Re-creating {} missing events...",
                    summary.missing_ids.len()
                ))?;
                out.flush()
            })?;
        }
        let mut recreating = bars.add(summary.missing_ids.len(), "re-created", true);
        let engine = Engine::new(
            store.clone(),
            graph,
            SyncOptions {
                concurrency,
                credentials_override,
                ..SyncOptions::default()
            },
        );
        let claims = super::sync::claims(&store, false).await?;
        let (events, mut rx) = mpsc::unbounded_channel();
        let ids = summary.missing_ids.clone();
        let runner = {
            let cancel = cancel.clone();
            // Still added when claimed: a row the LMS reset meanwhile is left to it.
            let scope = verifiable(Filter::default());
            tokio::spawn(async move { engine.run(claims, &scope, ids, events, cancel).await })
        };
        while let Some(event) = rx.recv().await {
            let item = match event {
                SyncEvent::Item(item) => item,
                SyncEvent::Throttled { .. } => {
                    recreating.throttled();
                    continue;
                }
                SyncEvent::Started { .. } | SyncEvent::Finished(_) => continue,
            };
            recreating.record(&item.outcome);
            let result = match &item.outcome {
                Outcome::Synced { .. } => Ok(()),
                Outcome::Failed { error, .. } => Err(clean_line(error)),
                Outcome::Conflict { detail } | Outcome::ClaimedElsewhere { detail } => {
                    Err(detail.clone())
                }
                Outcome::Skipped { reason } => Err(reason.clone()),
            };
            if human {
                bars.suspend(|| match &result {
                    Ok(()) => out.line(&format!("  ✓ Re-created: selection {}", item.selection_id)),
                    Err(e) => out.line(&format!(
                        "  ✗ Not re-created: selection {}: {e}",
                        item.selection_id
                    )),
                })?;
            }
            if let Some(finding) = found
                .iter_mut()
                .find(|f| f.check.selection_id == item.selection_id)
            {
                finding.recreated = Some(result);
            }
        }
        let ran = runner
            .await
            .map_err(|e| CliError::failed(format!("the re-create stopped: {e}")))?;
        match ran {
            Ok(sync) => {
                if let Some(reason) = &sync.stopped {
                    eprintln!("{}", super::sync::stopped_line(reason));
                }
                Some(sync)
            }
            Err(e) => {
                bars.clear();
                // Nothing was re-created: the check itself is still audited.
                if let Some(trail) = trail {
                    let detail = format!("{}; re-create refused: {e}", verify_detail(&summary));
                    let outcome = AuditOutcome::Failed;
                    if let Err(e) = trail.finish(outcome, summary.total as u64, &detail).await {
                        eprintln!("{e}");
                    }
                }
                return Err(CliError::unusable(e.to_string()));
            }
        }
    } else {
        None
    };
    bars.clear();
    target.shutdown().await;

    let recreated = found
        .iter()
        .filter(|f| matches!(f.recreated, Some(Ok(()))))
        .count();
    let left_missing = summary.missing - recreated;
    if let Some(trail) = trail {
        let outcome = verify_outcome(&summary, left_missing);
        let mut detail = verify_detail(&summary);
        if let Some(sync) = &recreate {
            detail.push_str(&format!("; {} re-created", sync.synced));
        }
        if let Err(e) = trail.finish(outcome, summary.total as u64, &detail).await {
            eprintln!("{e}");
        }
    }

    if args.json {
        for finding in &found {
            out.line(&finding_json(finding, recreate_asked))?;
        }
        out.line(&summary_json(
            &summary,
            recreated,
            recreate_asked,
            rehearsal.simulated(),
        ))?;
    } else {
        print_summary(&mut out, &summary, recreate_asked.then_some(recreated))?;
        if left_missing > 0 && !recreate_asked {
            out.line("Re-create them with the same filters and --recreate.")?;
        }
    }
    out.flush()?;
    Ok(
        if left_missing > 0 || summary.unchecked > 0 || summary.not_started > 0 {
            EXIT_SOME_FAILED
        } else {
            EXIT_OK
        },
    )
}

/// A check that did not find the event, and what a re-create did about it.
struct Finding {
    check: Check,
    recreated: Option<Result<(), String>>,
}

fn describe_scope(args: &VerifyArgs) -> String {
    let mut parts = super::scope_flags(args.conference_id, args.user_id, &args.selection_ids);
    if args.recreate {
        parts.push("--recreate".to_string());
    }
    if parts.is_empty() {
        "all added".to_string()
    } else {
        parts.join(" ")
    }
}

fn print_check(out: &mut Output, check: &Check) -> Result<(), CliError> {
    let who = format!(
        "{} - {} - {} {}",
        clean_line(&check.label.username),
        clean_line(&check.label.conference_title),
        check.label.slot_date,
        check.label.slot_start
    );
    match &check.status {
        CheckStatus::Present => Ok(()),
        CheckStatus::Missing if check.event_id.is_empty() => out.line(&format!(
            "✗ Missing: {who} (selection {}: added, but no event id recorded)",
            check.selection_id
        )),
        CheckStatus::Missing => out.line(&format!(
            "✗ Missing: {who} (selection {}, event {})",
            check.selection_id,
            truncate(&check.event_id, 24)
        )),
        CheckStatus::Unchecked(error) => out.line(&format!(
            "? Not checked: {who} (selection {}): {}",
            check.selection_id,
            clean_line(error)
        )),
    }
}

fn print_summary(
    out: &mut Output,
    summary: &VerifySummary,
    recreated: Option<usize>,
) -> Result<(), CliError> {
    out.line("")?;
    out.line(RULE)?;
    out.line("Verify Summary:")?;
    out.line(&format!("Added selections: {}", summary.total))?;
    out.line(&format!("Event present: {}", summary.present))?;
    out.line(&format!("Event missing: {}", summary.missing))?;
    if let Some(n) = recreated {
        out.line(&format!("Re-created: {n}"))?;
    }
    for (n, what) in [
        (summary.unchecked, "Could not check"),
        (summary.skipped, "No longer added"),
        (summary.not_started, "Not started (cancelled)"),
    ] {
        if n > 0 {
            out.line(&format!("{what}: {n}"))?;
        }
    }
    out.line(RULE)?;
    out.line(&format!("{:.1} s", summary.duration.as_secs_f64()))?;
    Ok(())
}

fn finding_json(finding: &Finding, recreate: bool) -> String {
    #[derive(Serialize)]
    struct Json<'a> {
        selection_id: i64,
        user_id: i64,
        conference_id: i64,
        slot_id: i64,
        mailbox: &'a str,
        event_id: Option<&'a str>,
        status: &'a str,
        error: Option<&'a str>,
        recreated: Option<bool>,
    }
    let check = &finding.check;
    let (status, error) = match &check.status {
        CheckStatus::Present => ("present", None),
        CheckStatus::Missing => ("missing", None),
        CheckStatus::Unchecked(e) => ("unchecked", Some(e.as_str())),
    };
    let error = error.or(match &finding.recreated {
        Some(Err(e)) => Some(e.as_str()),
        _ => None,
    });
    serde_json::to_string(&Json {
        selection_id: check.selection_id,
        user_id: check.user_id,
        conference_id: check.conference_id,
        slot_id: check.slot_id,
        mailbox: &check.mailbox,
        event_id: (!check.event_id.is_empty()).then_some(check.event_id.as_str()),
        status,
        error,
        recreated: (recreate && check.status == CheckStatus::Missing)
            .then_some(matches!(finding.recreated, Some(Ok(())))),
    })
    .unwrap_or_default()
}

fn summary_json(
    summary: &VerifySummary,
    recreated: usize,
    recreate: bool,
    simulated: bool,
) -> String {
    #[derive(Serialize)]
    struct Json {
        total: usize,
        present: usize,
        missing: usize,
        unchecked: usize,
        skipped: usize,
        not_started: usize,
        recreated: Option<usize>,
        duration_ms: u128,
        /// Only on runs against the simulated Graph.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        simulated_graph: bool,
    }
    serde_json::to_string(&Json {
        total: summary.total,
        present: summary.present,
        missing: summary.missing,
        unchecked: summary.unchecked,
        skipped: summary.skipped,
        not_started: summary.not_started,
        recreated: recreate.then_some(recreated),
        duration_ms: summary.duration.as_millis(),
        simulated_graph: simulated,
    })
    .unwrap_or_default()
}
