//! `calsync doctor`: is this the LMS database, can calsync use it, and what in it will make
//! syncs fail before any Graph call is made.

use super::{CliError, Output, database_choice, store_options};
use crate::cli::{DoctorArgs, EXIT_OK, EXIT_SOME_FAILED, GlobalArgs};
use crate::domain::{Filter, SyncState, resolve_slot_window};
use crate::store::Store;
use crate::text::clean_line;

/// How many example ids a finding lists before summarising.
const EXAMPLES: usize = 10;

pub async fn run(global: &GlobalArgs, args: &DoctorArgs) -> Result<i32, CliError> {
    let choice = database_choice(global)?;
    let mut out = Output::default();
    out.line(&format!(
        "Database     {} (from {})",
        choice.url.redacted(),
        choice.origin
    ))?;
    out.flush()?;
    let store = Store::open(&choice.url, &store_options()?).await?;
    out.line(&format!("Server       {}", store.server_version().await?))?;
    out.line("Schema       ok: the six LMS tables have every column calsync uses")?;
    let writable = store.can_write().await;
    out.line(&format!(
        "Writable     {}",
        if writable {
            "yes"
        } else {
            "no — calsync can only read (syncs are disabled)"
        }
    ))?;

    out.line("")?;
    out.line("Rows")?;
    for (table, n) in store.row_counts().await? {
        out.line(&format!("  {table:<42} {n:>10}"))?;
    }
    let counts = store.summary(&Filter::default()).await?;
    out.line("")?;
    out.line("Sync states")?;
    for state in SyncState::ALL {
        out.line(&format!(
            "  {} {:<40} {:>10}",
            state.symbol(),
            state.label(),
            counts.get(state)
        ))?;
    }

    let mut findings = 0usize;
    findings += integrations(&store, &mut out).await?;
    findings += slots(&store, &mut out).await?;
    findings += mismatches(&store, &mut out).await?;
    if args.check_tokens {
        findings += super::doctor_tokens::check(&store, &mut out).await?;
    }

    out.line("")?;
    if findings == 0 {
        out.line("No problems found.")?;
    } else {
        out.line(&format!(
            "{findings} problem{} found (see above).",
            if findings == 1 { "" } else { "s" }
        ))?;
    }
    out.flush()?;
    Ok(if findings == 0 {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

async fn integrations(store: &Store, out: &mut Output) -> Result<usize, CliError> {
    let integrations = store.integrations().await?;
    out.line("")?;
    out.line(&format!("Teams integrations ({})", integrations.len()))?;
    let mut findings = 0;
    if integrations.is_empty() {
        out.line("  none — every sync will fail with \"No Teams integration available\"")?;
        findings += 1;
    }
    for i in &integrations {
        let owner = match (&i.owner_username, &i.owner_branch_name) {
            (Some(user), Some(branch)) => format!("owner {user} (branch {branch})"),
            (Some(user), None) => format!("owner {user} (no branch)"),
            _ => "no owner".to_string(),
        };
        out.line(&clean_line(&format!(
            "  #{} {}  {}  tenant {}  client {}  secret {}  {owner}",
            i.id,
            i.name,
            if i.is_active { "active" } else { "inactive" },
            i.tenant_id,
            i.client_id,
            i.masked_secret()
        )))?;
        if i.is_active && i.owner_id.is_none() {
            findings += 1;
            out.line(
                "    ! never used for calendar sync: the LMS finds integrations through their \
                 owner's branch, and this one has no owner",
            )?;
        }
    }
    Ok(findings)
}

async fn slots(store: &Store, out: &mut Output) -> Result<usize, CliError> {
    let zones = store.slot_zones().await?;
    let unknown: Vec<String> = zones
        .iter()
        .filter(|(zone, _)| zone.trim().parse::<chrono_tz::Tz>().is_err())
        .map(|(zone, n)| format!("'{}' ({n} slot{})", clean_line(zone), plural(*n)))
        .collect();
    out.line("")?;
    out.line(&format!("Time zones   {} used by slots", zones.len()))?;
    let mut findings = 0;
    if !unknown.is_empty() {
        findings += 1;
        out.line(&format!(
            "  ! unknown to calsync (syncs of these slots will fail): {}",
            unknown.join(", ")
        ))?;
    }
    let mut crossing = Vec::new();
    let mut broken = Vec::new();
    for slot in store.slot_rows().await? {
        let slot = match slot {
            Ok(slot) => slot,
            Err(malformed) => {
                broken.push(clean_line(&format!(
                    "slot {}: {}",
                    malformed.id,
                    malformed.problems.join("; ")
                )));
                continue;
            }
        };
        if slot.timezone.trim().parse::<chrono_tz::Tz>().is_err() {
            continue;
        }
        match resolve_slot_window(slot.date, slot.start_time, slot.end_time, &slot.timezone) {
            Ok(window) if !window.notes.is_empty() => {
                crossing.push(format!("slot {}: {}", slot.id, window.notes.join("; ")))
            }
            Ok(_) => {}
            Err(problem) => broken.push(format!("slot {}: {problem}", slot.id)),
        }
    }
    for note in crossing.iter().take(EXAMPLES) {
        out.line(&format!("  note: {note}"))?;
    }
    if !broken.is_empty() {
        findings += 1;
        out.line(&format!(
            "  ! {} slot{} cannot become an event:",
            broken.len(),
            plural(broken.len() as u64)
        ))?;
        for line in broken.iter().take(EXAMPLES) {
            out.line(&format!("    {line}"))?;
        }
    }
    Ok(findings)
}

async fn mismatches(store: &Store, out: &mut Output) -> Result<usize, CliError> {
    let mismatched = store.mismatched_conferences().await?;
    if mismatched.is_empty() {
        return Ok(0);
    }
    out.line("")?;
    out.line(&format!(
        "! {} selection{} whose conference differs from their slot's (the LMS syncs the slot's):",
        mismatched.len(),
        plural(mismatched.len() as u64)
    ))?;
    for (id, own, slots) in mismatched.iter().take(EXAMPLES) {
        out.line(&format!(
            "    selection {id}: conference {own}, slot's conference {slots}"
        ))?;
    }
    Ok(1)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
