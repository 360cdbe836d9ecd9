//! A create's intent, made durable before the create is sent. Graph's `transactionId` alone
//! cannot keep a selection to one event: Microsoft documents no window in which it
//! de-duplicates (api-reference/v1.0/resources/event.md), and a run killed after its POST, or
//! one whose result write was lost, would otherwise leave a row that looks never attempted.
//!
//! So before every create, one guarded write stamps the row's `calendar_add_attempted_at` (the
//! row then reads as attempted, and the engine's rule "attempted before → look up the tag
//! first" applies to it, also on a database without calsync's tables) and, once migrated,
//! records the intent (`calsync_create_intent`: the `transactionId` and its attempt counter) in
//! the same transaction. Only when that commits is the create sent.

use super::error::SyncError;
use chrono::{SubsecRound, Utc};

use super::writer::ResultWriter;
use crate::domain::ledger::{CreateIntent, LedgerChange};
use crate::domain::{Selection, SyncColumns, SyncWrite, WriteOutcome};
use crate::store::Store;
use crate::store::retry::retrying;

/// Why a create was not sent.
pub(super) enum Refusal {
    /// The LMS changed the row since it was read.
    Conflict,
    /// The intent could not be written: nothing that follows could be recorded either.
    Unrecordable(SyncError),
}

/// The selection's last create intent and whether that create made an event (none before
/// `calsync migrate`).
pub(super) async fn prior(
    store: &Store,
    selection_id: i64,
) -> Result<Option<(CreateIntent, bool)>, SyncError> {
    retrying(|| store.create_intent(selection_id))
        .await
        .map_err(|e| SyncError::Store(format!("cannot read the selection's create intent: {e}")))
}

/// The attempt counter of the next create, which picks its `transactionId`: the same as the
/// last intent's while that create never made an event (a re-send of the same create, which
/// Graph may recognise), one more once it did (a re-creation must not be matched to the event
/// it replaces). Without an intent it is 0 for a first create, and for a re-creation a number
/// derived from the event that vanished, so two re-creations still differ.
pub(super) fn attempt(prior: Option<&(CreateIntent, bool)>, replaced: Option<&str>) -> u32 {
    match prior {
        Some((intent, true)) => intent.attempt.saturating_add(1),
        Some((intent, false)) => intent.attempt,
        None => replaced.map_or(0, attempt_from_event),
    }
}

/// FNV-1a of the vanished event's id, never 0 (the first create's).
fn attempt_from_event(event_id: &str) -> u32 {
    let hash = event_id.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash.max(1)
}

/// Stamps the row as attempted and records the intent, committed before the create is sent.
/// On success `expected` holds the row as now written, for the result's guard.
pub(super) async fn make_durable(
    writer: &ResultWriter,
    selection: &Selection,
    expected: &mut SyncColumns,
    transaction_id: &str,
    attempt: u32,
) -> Result<(), Refusal> {
    // Both databases keep microseconds: the guard of the result compares this exact value.
    let at = Utc::now().trunc_subsecs(6);
    let intent = CreateIntent {
        selection_id: selection.id,
        mailbox: selection.email.trim().to_lowercase(),
        transaction_id: transaction_id.to_string(),
        attempt,
        in_flight: true,
        at,
    };
    match writer
        .write(
            selection.id,
            SyncWrite::Attempt { at },
            expected.clone(),
            vec![LedgerChange::Intent(intent)],
        )
        .await
    {
        Ok(WriteOutcome::Written) => {
            expected.attempted_at = Some(at);
            Ok(())
        }
        Ok(WriteOutcome::Conflict) => Err(Refusal::Conflict),
        Err(e) => Err(Refusal::Unrecordable(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(attempt: u32) -> CreateIntent {
        CreateIntent {
            selection_id: 7,
            mailbox: "ann@x.org".into(),
            transaction_id: "t".into(),
            attempt,
            in_flight: false,
            at: Utc::now(),
        }
    }

    #[test]
    fn a_resend_keeps_the_attempt_and_a_recreation_moves_on() {
        assert_eq!(attempt(None, None), 0, "a first create");
        assert_eq!(attempt(Some(&(intent(3), false)), None), 3, "never made");
        assert_eq!(attempt(Some(&(intent(3), true)), Some("AAMk1")), 4);
    }

    #[test]
    fn recreations_without_intents_differ_per_vanished_event() {
        let first = attempt(None, Some("AAMkAGevent-one="));
        let second = attempt(None, Some("AAMkAGevent-two="));
        assert_ne!(first, 0);
        assert_ne!(second, 0);
        assert_ne!(first, second);
        assert_eq!(first, attempt(None, Some("AAMkAGevent-one=")), "stable");
    }
}
