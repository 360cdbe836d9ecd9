//! A commit whose answer was lost (the PostgreSQL session ended during COMMIT) may still have
//! landed. The batch is then written again, and its guards, which compare the row with what
//! was read before the first try, find the row already changed and call it a conflict. Such a
//! row is read back: when it holds exactly what this result wrote, the write landed.

use chrono::{DateTime, SubsecRound, Utc};

use crate::domain::{SyncColumns, SyncWrite};

/// Whether `now` is `expected` with `write` applied (timestamps as both databases keep them,
/// to the microsecond).
pub(super) fn landed(write: &SyncWrite, expected: &SyncColumns, now: &SyncColumns) -> bool {
    let stored = |at: &DateTime<Utc>| Some(at.trunc_subsecs(6));
    match write {
        SyncWrite::Success {
            outlook_event_id,
            at,
        } => {
            now.calendar_added
                && now.outlook_event_id.as_deref() == Some(outlook_event_id.as_str())
                && now.error.is_none()
                && now.attempted_at == stored(at)
        }
        SyncWrite::Failure { error, at } => {
            now.calendar_added == expected.calendar_added
                && now.outlook_event_id == expected.outlook_event_id
                && now.error.as_deref() == Some(error.as_str())
                && now.attempted_at == stored(at)
        }
        SyncWrite::Attempt { at } => {
            now.calendar_added == expected.calendar_added
                && now.outlook_event_id == expected.outlook_event_id
                && now.error == expected.error
                && now.attempted_at == stored(at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_before() -> SyncColumns {
        SyncColumns {
            outlook_event_id: None,
            calendar_added: false,
            attempted_at: None,
            error: None,
        }
    }

    #[test]
    fn a_row_holding_exactly_the_result_is_a_landed_write() {
        let at = Utc::now();
        let write = SyncWrite::Success {
            outlook_event_id: "AAMk1".into(),
            at,
        };
        let mut now = SyncColumns {
            outlook_event_id: Some("AAMk1".into()),
            calendar_added: true,
            attempted_at: Some(at.trunc_subsecs(6)),
            error: None,
        };
        assert!(landed(&write, &read_before(), &now));
        // The LMS wrote something else meanwhile: a real conflict.
        now.outlook_event_id = Some("AAMk2".into());
        assert!(!landed(&write, &read_before(), &now));
        let failure = SyncWrite::Failure {
            error: "Graph 404".into(),
            at,
        };
        assert!(!landed(&failure, &read_before(), &read_before()));
    }
}
