//! `calsync reconcile`: lists the events no selection points to any more, deletes the certain
//! ones (unless `--dry-run`) and the probable ones only with `--delete-probable` and a
//! confirmation.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};

use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::reconcile_progress::ReconcileBars;
use super::rehearsal::Rehearsal;
use super::{CliError, Output, open_store};
use crate::audit::AuditTrail;
use crate::cli::{EXIT_OK, EXIT_SOME_FAILED, GlobalArgs, ReconcileArgs};
use crate::domain::ledger::LedgerScope;
use crate::graph::GraphClient;
use crate::jobs::audited::{audited, reconcile_closing};
use crate::sync::SyncOptions;
use crate::sync::reconcile::{
    Finding, FindingKind, Plan, ReconcileOptions, Reconciler, Resolution, Resolved, short_id,
};
use crate::text::clean_line;

pub async fn run(global: &GlobalArgs, args: &ReconcileArgs) -> Result<i32, CliError> {
    let credentials_override = SyncOptions::credentials_from_env().map_err(CliError::unusable)?;
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if args.delete_probable && !args.yes && !terminal {
        return Err(CliError::unusable(
            "--delete-probable asks for confirmation on a terminal; add --yes to confirm without one",
        ));
    }
    let (store, _) = open_store(global).await?;
    let scope = LedgerScope {
        user_id: args.user_id,
        conference_id: args.conference_id,
    };
    if let Some(id) = args.user_id
        && store.person(id).await?.is_none()
    {
        return Err(CliError::unusable(format!("there is no user with id {id}")));
    }
    if let Some(id) = args.conference_id
        && !store.conferences().await?.iter().any(|c| c.id == id)
    {
        return Err(CliError::unusable(format!(
            "there is no conference with id {id}"
        )));
    }
    let rehearsal = Rehearsal::decide(&store, &args.simulation).await?;
    let dry_run = args.dry_run || rehearsal.dry_run();
    let target = rehearsal.graph(&store).await?;
    let graph = GraphClient::new(target.config.clone())
        .map_err(|e| CliError::unusable(format!("cannot set up the Graph client: {e}")))?;
    let cancel = CancellationToken::new();
    let reconciler = Reconciler::new(
        store.clone(),
        graph,
        ReconcileOptions {
            concurrency: args
                .concurrency
                .map_or_else(crate::sync::default_concurrency, |n| n as usize),
            credentials_override,
        },
    );
    let mut out = Output::default();
    super::sync::watch_ctrl_c(cancel.clone());
    // The command prints the outcome at the end; on a terminal its events draw two bars.
    let (events, mut rx) = mpsc::unbounded_channel();
    let mut bars = ReconcileBars::new(!args.json && std::io::stderr().is_terminal());

    let plan = bars
        .follow(
            &mut rx,
            reconciler.plan(scope, events.clone(), cancel.clone()),
        )
        .await
        .map_err(CliError::unusable)?;
    let probable: Vec<&Finding> = plan
        .findings
        .iter()
        .filter(|f| !f.kind.is_certain())
        .collect();
    let asks = args.delete_probable && !dry_run && !probable.is_empty() && !args.yes;
    if asks {
        bars.clear();
    }
    let delete_probable = args.delete_probable
        && !dry_run
        && !probable.is_empty()
        && (args.yes || confirm(&probable, &mut out)?);
    let chosen: Vec<Finding> = if dry_run {
        Vec::new()
    } else {
        plan.findings
            .iter()
            .filter(|f| f.kind.is_certain() || delete_probable)
            .cloned()
            .collect()
    };

    let mut resolved: HashMap<(String, String), Resolution> = HashMap::new();
    if !chosen.is_empty() {
        let trail = AuditTrail::begin(
            &store,
            "reconcile",
            &rehearsal.audit_scope(&describe_scope(args)),
            "",
            chosen.len() as u64,
        )
        .await
        .map_err(CliError::unusable)?;
        // A failed apply closes its audit row as failed too.
        let work = reconciler.apply(chosen, events, cancel);
        let ran = bars
            .follow(
                &mut rx,
                audited(Some(trail), work, |resolved| reconcile_closing(resolved)),
            )
            .await;
        if let Some(e) = &ran.unclosed {
            eprintln!("{e}");
        }
        let results = ran.result.map_err(CliError::failed)?;
        resolved = results
            .into_iter()
            .map(|Resolved { finding, result }| ((finding.mailbox, finding.event_id), result))
            .collect();
    }
    bars.clear();
    target.shutdown().await;

    let results: Vec<(&Finding, Resolution)> = plan
        .findings
        .iter()
        .map(|f| {
            let result = resolved
                .remove(&(f.mailbox.clone(), f.event_id.clone()))
                .unwrap_or(if dry_run && f.kind.is_certain() {
                    Resolution::WouldDelete
                } else {
                    Resolution::Kept
                });
            (f, result)
        })
        .collect();
    let tally = Tally::of(results.iter().map(|(_, r)| r));
    if args.json {
        for (finding, result) in &results {
            out.line(&finding_json(finding, result))?;
        }
        out.line(&summary_json(&plan, &tally, dry_run, rehearsal.simulated()))?;
        for note in notes(&plan, &tally, args) {
            eprintln!("{note}");
        }
    } else {
        for (finding, result) in &results {
            out.line(&finding_line(finding, result))?;
        }
        for failure in &plan.mailbox_failures {
            out.line(&format!(
                "{:<18}  {}  {}",
                "mailbox_failed",
                who(&failure.mailbox, failure.user_id),
                clean_line(&failure.error)
            ))?;
        }
        print_summary(&mut out, &plan, &tally, dry_run, args)?;
    }
    out.flush()?;
    Ok(
        if tally.failed > 0 || !plan.mailbox_failures.is_empty() || plan.not_scanned > 0 {
            EXIT_SOME_FAILED
        } else {
            EXIT_OK
        },
    )
}

/// Lists the probable findings on stderr and asks for `delete N`.
fn confirm(probable: &[&Finding], out: &mut Output) -> Result<bool, CliError> {
    out.flush()?;
    let mut err = std::io::stderr();
    writeln!(
        err,
        "{} probable orphan(s) or duplicate(s), found by heuristics:",
        probable.len()
    )?;
    for finding in probable {
        writeln!(err, "  {}", finding_line(finding, &Resolution::Kept))?;
    }
    let expected = format!("delete {}", probable.len());
    write!(
        err,
        "Type `{expected}` to delete them (anything else keeps them): "
    )?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let confirmed = answer.trim() == expected;
    if !confirmed {
        writeln!(err, "Not confirmed: the probable findings are kept.")?;
    }
    Ok(confirmed)
}

/// The command line's scope, in the words the audit log keeps.
fn describe_scope(args: &ReconcileArgs) -> String {
    let mut parts = super::scope_flags(args.conference_id, args.user_id, &[]);
    if parts.is_empty() {
        parts.push("all mailboxes".to_string());
    }
    if args.delete_probable {
        parts.push("--delete-probable".to_string());
    }
    parts.join(" ")
}

#[derive(Debug, Default)]
struct Tally {
    deleted: usize,
    already_gone: usize,
    kept: usize,
    would_delete: usize,
    failed: usize,
}

impl Tally {
    fn of<'a>(results: impl Iterator<Item = &'a Resolution>) -> Tally {
        let mut tally = Tally::default();
        for result in results {
            match result {
                Resolution::Deleted => tally.deleted += 1,
                Resolution::AlreadyGone => tally.already_gone += 1,
                Resolution::Kept => tally.kept += 1,
                Resolution::WouldDelete => tally.would_delete += 1,
                Resolution::Failed(_) | Resolution::NotStarted => tally.failed += 1,
            }
        }
        tally
    }
}

fn who(mailbox: &str, user_id: Option<i64>) -> String {
    let mailbox = if mailbox.is_empty() {
        "(no mailbox)".to_string()
    } else {
        clean_line(mailbox)
    };
    match user_id {
        Some(id) => format!("user {id} {mailbox}"),
        None => mailbox,
    }
}

fn finding_line(finding: &Finding, result: &Resolution) -> String {
    let mut place = vec![who(&finding.mailbox, finding.user_id)];
    for (label, value) in [
        ("conference", finding.conference_id),
        ("slot", finding.slot_id),
        ("selection", finding.selection_id),
    ] {
        if let Some(value) = value {
            place.push(format!("{label} {value}"));
        }
    }
    format!(
        "{:<18}  {}  event {}  {} → {}",
        finding.kind.as_str(),
        place.join(" "),
        short_id(&finding.event_id),
        clean_line(&finding.evidence),
        clean_line(&result.as_text())
    )
}

fn finding_json(finding: &Finding, result: &Resolution) -> String {
    json!({
        "kind": finding.kind.as_str(),
        "mailbox": finding.mailbox,
        "user_id": finding.user_id,
        "selection_id": finding.selection_id,
        "conference_id": finding.conference_id,
        "slot_id": finding.slot_id,
        "event_id": finding.event_id,
        "subject": finding.subject,
        "start": finding.start.map(|t| t.to_rfc3339()),
        "end": finding.end.map(|t| t.to_rfc3339()),
        "evidence": finding.evidence,
        "result": result.as_text(),
    })
    .to_string()
}

fn summary_json(plan: &Plan, tally: &Tally, dry_run: bool, simulated: bool) -> String {
    let errors: Vec<_> = plan
        .mailbox_failures
        .iter()
        .map(|f| json!({"mailbox": f.mailbox, "user_id": f.user_id, "error": f.error}))
        .collect();
    let mut summary = json!({
        "findings": plan.findings.len(),
        "deleted": tally.deleted,
        "already_gone": tally.already_gone,
        "kept": tally.kept,
        "would_delete": tally.would_delete,
        "failed": tally.failed,
        "mailboxes_scanned": plan.mailboxes_scanned,
        "mailboxes_failed": plan.mailbox_failures.len(),
        "mailbox_errors": errors,
        "users_without_email": plan.users_without_email,
        "ledger_checked": plan.ledger_checked,
        "dry_run": dry_run,
    });
    // Only on runs against the simulated Graph.
    if simulated {
        summary["simulated_graph"] = json!(true);
    }
    summary.to_string()
}

fn print_summary(
    out: &mut Output,
    plan: &Plan,
    tally: &Tally,
    dry_run: bool,
    args: &ReconcileArgs,
) -> Result<(), CliError> {
    let mut kinds: Vec<String> = Vec::new();
    for kind in [
        FindingKind::LedgerOrphan,
        FindingKind::TaggedOrphan,
        FindingKind::ProbableDuplicate,
        FindingKind::ProbableOrphan,
    ] {
        let n = plan.findings.iter().filter(|f| f.kind == kind).count();
        if n > 0 {
            kinds.push(format!("{n} {}", kind.as_str().replace('_', " ")));
        }
    }
    out.line("")?;
    out.line(&format!(
        "{} finding(s) in {} mailbox(es) scanned, {} failed{}",
        plan.findings.len(),
        plan.mailboxes_scanned,
        plan.mailbox_failures.len(),
        if kinds.is_empty() {
            String::new()
        } else {
            format!(": {}", kinds.join(", "))
        }
    ))?;
    if dry_run {
        out.line(&format!(
            "Dry run: nothing deleted ({} would be deleted, {} kept)",
            tally.would_delete, tally.kept
        ))?;
    } else {
        out.line(&format!(
            "Deleted {}, already gone {}, kept {}, failed {}",
            tally.deleted, tally.already_gone, tally.kept, tally.failed
        ))?;
    }
    for note in notes(plan, tally, args) {
        out.line(&note)?;
    }
    Ok(())
}

fn notes(plan: &Plan, tally: &Tally, args: &ReconcileArgs) -> Vec<String> {
    let mut notes = Vec::new();
    if !plan.ledger_checked {
        notes.push(
            "Ledger orphans need calsync's event ledger: run `calsync migrate` (tags and \
             heuristics were still checked)"
                .to_string(),
        );
    }
    if plan.users_without_email > 0 {
        notes.push(format!(
            "{} user(s) without an email address skipped",
            plan.users_without_email
        ));
    }
    if plan.not_scanned > 0 {
        notes.push(format!(
            "{} user(s) not scanned: cancelled",
            plan.not_scanned
        ));
    }
    if tally.kept > 0 && !args.delete_probable {
        notes.push(
            "Probable findings are only listed: check the evidence, then add --delete-probable \
             to delete them"
                .to_string(),
        );
    }
    notes
}
