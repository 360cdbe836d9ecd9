//! `calsync migrate`: creates calsync's own tables, reports their version, or removes them.

use super::{CliError, Output, open_store};
use crate::audit::AuditTrail;
use crate::cli::{EXIT_OK, GlobalArgs, MigrateArgs};
use crate::domain::audit::AuditOutcome;
use crate::store::{LATEST, MIGRATIONS};
use crate::store::{MigrationReport, Store};

pub async fn run(global: &GlobalArgs, args: &MigrateArgs) -> Result<i32, CliError> {
    let (store, choice) = open_store(global).await?;
    let mut out = Output::default();
    if args.status {
        print_status(&store, &mut out)?;
        out.flush()?;
        return Ok(EXIT_OK);
    }
    if global.read_only {
        return Err(CliError::unusable(
            "--read-only: refusing to create or drop calsync's tables",
        ));
    }
    if !store.can_write().await {
        return Err(CliError::unusable(format!(
            "{} cannot be written with these credentials: calsync's tables need CREATE rights",
            choice.url.redacted()
        )));
    }
    let report = if args.down {
        let to = args.to.unwrap_or(0);
        if to > LATEST {
            return Err(CliError::unusable(format!(
                "--to {to}: the newest version is {LATEST}"
            )));
        }
        refuse_to_lose_live_events(&store, to, args.force).await?;
        store.migrate_down(to).await?
    } else {
        let report = store.migrate_up(chrono::Utc::now()).await?;
        if !report.steps.is_empty() {
            let scope = format!("calsync tables version {} → {}", report.from, report.to);
            let trail = AuditTrail::begin(&store, "migrate", &scope, "", 0)
                .await
                .map_err(CliError::failed)?;
            trail
                .finish(AuditOutcome::Ok, 0, &applied(&report))
                .await
                .map_err(CliError::failed)?;
        }
        report
    };
    print_report(&report, args.down, &mut out)?;
    out.flush()?;
    Ok(EXIT_OK)
}

/// Dropping the ledger forgets the only record of events whose selections are gone.
async fn refuse_to_lose_live_events(store: &Store, to: u32, force: bool) -> Result<(), CliError> {
    if to >= 1 || force {
        return Ok(());
    }
    let live = store.ledger_live_count().await?;
    if live == 0 {
        return Ok(());
    }
    Err(CliError::unusable(format!(
        "the event ledger still tracks {live} event(s) in Outlook; dropping it loses the only \
         record of them once their selections are gone (run `calsync reconcile` first, or add --force)"
    )))
}

fn applied(report: &MigrationReport) -> String {
    report
        .steps
        .iter()
        .map(|(version, name)| format!("{version} {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_report(report: &MigrationReport, down: bool, out: &mut Output) -> Result<(), CliError> {
    if report.steps.is_empty() {
        out.line(&format!(
            "calsync's tables are already at version {} (nothing to do)",
            report.to
        ))?;
        return Ok(());
    }
    for (version, name) in &report.steps {
        let verb = if down { "reverted" } else { "applied" };
        out.line(&format!("{verb} {version}: {name}"))?;
    }
    out.line(&format!(
        "calsync's tables: version {} → {}",
        report.from, report.to
    ))?;
    if down && report.to == 0 {
        out.line("calsync's tables are gone; the LMS's tables were not touched.")?;
    }
    Ok(())
}

fn print_status(store: &Store, out: &mut Output) -> Result<(), CliError> {
    let current = store.own_version();
    out.line(&format!("calsync's tables: version {current} of {LATEST}"))?;
    for migration in &MIGRATIONS {
        let state = if migration.version <= current {
            "applied"
        } else {
            "pending"
        };
        out.line(&format!(
            "  {} {:<14} {state:<8} enables {}",
            migration.version, migration.name, migration.enables
        ))?;
    }
    if current < LATEST {
        out.line("Run `calsync migrate` to create the pending tables.")?;
    }
    Ok(())
}
