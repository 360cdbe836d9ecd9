//! Why the sync engine could not sync a selection, or could not start a run. `Display` is the
//! operator's text, exactly what `calendar_error` and the CLI have always shown; [`SyncError::cause`]
//! is known from the variant, so nothing downstream reads the cause back out of the text.

use crate::domain::{Cause, SlotProblem};
use crate::graph::{ErrorKind, GraphError};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncError {
    /// The LMS user has no address to hold the event (the LMS's own words).
    #[error("User email address is required for calendar integration")]
    NoEmail,
    /// The slot's date, times or zone cannot make an event.
    #[error("Slot {slot_id}: {problem} — fix the slot in the LMS")]
    Slot { slot_id: i64, problem: SlotProblem },
    /// No active Teams integration serves this person: the LMS's words first, then why.
    #[error(
        "No Teams integration available (none active is owned by someone in {place} or by {username})"
    )]
    NoIntegration { place: String, username: String },
    /// The LMS's integrations could not be read.
    #[error("cannot read the Teams integrations: {0}")]
    Integrations(String),
    /// Graph (or its login service) refused, or could not be reached.
    #[error("{0}")]
    Graph(#[from] GraphError),
    /// The LMS database failed while the engine read or wrote what it needs.
    #[error("{0}")]
    Store(String),
    /// Nothing can be recorded: the result writer is gone.
    #[error("the result writer has stopped")]
    WriterStopped,
    /// The run could not start or continue; the text says why.
    #[error("{0}")]
    Run(String),
}

impl SyncError {
    /// What kind of problem this is, for the worker's retry schedule and the cause filters.
    pub fn cause(&self) -> Cause {
        match self {
            SyncError::NoEmail => Cause::UnknownUser,
            SyncError::Slot { .. } => Cause::TimeZone,
            SyncError::NoIntegration { .. } => Cause::Credentials,
            SyncError::Graph(e) => cause_of_graph(e.kind),
            SyncError::Integrations(_)
            | SyncError::Store(_)
            | SyncError::WriterStopped
            | SyncError::Run(_) => Cause::Other,
        }
    }
}

fn cause_of_graph(kind: ErrorKind) -> Cause {
    match kind {
        ErrorKind::Throttled => Cause::Throttled,
        ErrorKind::Transient | ErrorKind::Ambiguous | ErrorKind::Network => Cause::Network,
        ErrorKind::Auth | ErrorKind::AccessDenied => Cause::Credentials,
        ErrorKind::InvalidUser => Cause::UnknownUser,
        ErrorKind::NoMailbox => Cause::NoMailbox,
        ErrorKind::TimeZone => Cause::TimeZone,
        ErrorKind::NotFound | ErrorKind::Validation | ErrorKind::Other => Cause::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::diagnosis::cause_of;

    /// What the client makes of Graph's error answer (`status`, `error.code`).
    fn answered(status: u16, code: &str) -> GraphError {
        let body = serde_json::json!({"error": {"code": code, "message": "as Graph says"}});
        GraphError::from_graph_response(status, Some(&body), Some("rid-1".to_string()), None)
    }

    /// The known cause agrees with what the LMS's text table reads from the same words, so a row
    /// written by calsync filters and schedules the way it did when the cause was re-read.
    #[test]
    fn the_known_cause_is_the_one_the_text_table_reads() {
        let mut errors = vec![
            SyncError::NoEmail,
            SyncError::Slot {
                slot_id: 4,
                problem: SlotProblem::UnknownZone("Foo/Bar".to_string()),
            },
            SyncError::NoIntegration {
                place: "branch 'North'".to_string(),
                username: "lea".to_string(),
            },
            SyncError::WriterStopped,
        ];
        for (status, code) in [
            (429, "TooManyRequests"),
            (503, "ServiceUnavailable"),
            (401, "InvalidAuthenticationToken"),
            (403, "ErrorAccessDenied"),
            (404, "ErrorInvalidUser"),
            (404, "MailboxNotEnabledForRESTAPI"),
            (400, "TimeZoneNotSupportedException"),
        ] {
            errors.push(SyncError::Graph(answered(status, code)));
        }
        for error in errors {
            assert_eq!(error.cause(), cause_of(&error.to_string()), "{error}");
        }
    }

    #[test]
    fn the_operator_text_is_unchanged() {
        let slot = SyncError::Slot {
            slot_id: 4,
            problem: SlotProblem::UnknownZone("Foo/Bar".to_string()),
        };
        assert_eq!(
            slot.to_string(),
            "Slot 4: unknown time zone 'Foo/Bar' (not an IANA zone name) — fix the slot in the LMS"
        );
        let none = SyncError::NoIntegration {
            place: "no branch".to_string(),
            username: "lea".to_string(),
        };
        assert_eq!(
            none.to_string(),
            "No Teams integration available (none active is owned by someone in no branch or by lea)"
        );
    }
}
