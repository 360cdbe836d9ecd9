//! A claimed selection whose row cannot be read whole fails on its own, before any Graph call,
//! like a slot with an unknown time zone: the reason is written to `calendar_error` under the
//! usual guard when the four sync columns can be read, and only reported when they cannot
//! (no guard, no write).

use chrono::Utc;

use super::{Engine, RunContext, one_line};
use crate::domain::{Cause, MalformedSelection, SyncWrite, WriteOutcome};
use crate::sync::{ItemLabel, ItemResult, Outcome};

/// The slot columns, whose problems the LMS's slot form can fix.
const SLOT_PROBLEMS: [&str; 4] = [
    "slot date",
    "slot start time",
    "slot end time",
    "slot updated_at",
];

/// The slot, when every problem of the row is its slot's.
fn slot_at_fault(row: &MalformedSelection) -> Option<i64> {
    let slot_only = row
        .problems
        .iter()
        .all(|p| SLOT_PROBLEMS.iter().any(|prefix| p.starts_with(prefix)));
    row.time_slot_id.filter(|_| slot_only)
}

/// A slot's problem is the slot's zone or times; anything else in a row is no known cause.
fn malformed_cause(row: &MalformedSelection) -> Cause {
    if slot_at_fault(row).is_some() {
        Cause::TimeZone
    } else {
        Cause::Other
    }
}

/// What is written and reported: "Slot N: …" ends like every other slot problem ("fix the slot in
/// the LMS"), so it counts as a permanent slot failure that "retry failed" leaves out.
pub(super) fn failure_text(row: &MalformedSelection) -> String {
    match slot_at_fault(row) {
        Some(slot) => {
            format!("Slot {slot}: {} — fix the slot in the LMS", row.reason())
        }
        _ => format!(
            "Selection {} cannot be read: {} — fix the row in the LMS",
            row.id,
            row.reason()
        ),
    }
}

fn label_of(row: &MalformedSelection) -> ItemLabel {
    ItemLabel {
        username: row.username.clone(),
        full_name: row.full_name(),
        conference_title: row.conference_title.clone(),
        slot_date: row.slot_date.clone().unwrap_or_default(),
        slot_start: row.slot_start.clone().unwrap_or_default(),
    }
}

impl Engine {
    pub(super) async fn fail_malformed(
        &self,
        row: MalformedSelection,
        run: &RunContext,
    ) -> ItemResult {
        let result = |outcome| ItemResult {
            selection_id: row.id,
            label: Some(label_of(&row)),
            outcome,
        };
        // The LMS command's skip rule comes first, as for every row.
        if !row.use_time_slots {
            return result(Outcome::Skipped {
                reason: "the conference does not use time slots".to_string(),
            });
        }
        let error = one_line(&failure_text(&row));
        let Some(expected) = row.sync.clone() else {
            return result(Outcome::Failed {
                error: format!("{error} (not written: its sync columns cannot be read either)"),
                cause: malformed_cause(&row),
            });
        };
        let write = SyncWrite::Failure {
            error: error.clone(),
            at: Utc::now(),
        };
        let outcome = match self
            .inner
            .writer
            .write(row.id, write, expected, Vec::new())
            .await
        {
            Ok(WriteOutcome::Written) => Outcome::Failed {
                error,
                cause: malformed_cause(&row),
            },
            Ok(WriteOutcome::Conflict) => Outcome::Conflict {
                detail: "the LMS changed this selection meanwhile; nothing was written".to_string(),
            },
            // Like any other result that cannot be written, it stops the run.
            Err(e) => {
                run.halt.trip(&e.to_string());
                Outcome::failed(&e)
            }
        };
        result(outcome)
    }
}
