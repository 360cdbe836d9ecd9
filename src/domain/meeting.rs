//! What calsync keeps about an event beyond what the LMS's columns hold, for updates that must
//! not undo what Exchange added: the Teams meeting's join URL Graph answered with, and a digest of
//! the body calsync sent (its own part, never Exchange's meeting block), so an update can leave an
//! unchanged body out of the PATCH. Both live in the event ledger once `calsync migrate` has added
//! them.

use sha2::{Digest, Sha256};

/// The ledger's record of the event a selection points to; empty before the migration, and for
/// events calsync never wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordedEvent {
    /// `onlineMeeting.joinUrl` as Graph last returned it.
    pub teams_join_url: Option<String>,
    /// [`body_digest`] of the body content calsync last sent.
    pub sent_body_digest: Option<String>,
    /// The event's `webLink` (it opens in Outlook on the web), as Graph last returned it.
    pub web_link: Option<String>,
}

/// Written with a sync result, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRecord {
    /// Lower-case, as the ledger's key.
    pub mailbox: String,
    pub event_id: String,
    /// `None`: the event has no online meeting (or Graph did not say).
    pub teams_join_url: Option<String>,
    /// `None`: calsync's body was not sent this time, so the digest already recorded stays.
    pub sent_body_digest: Option<String>,
}

/// SHA-256 of a body's content, in hex: equal digests mean the same content was sent.
pub fn body_digest(content: &str) -> String {
    Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_stable_and_tells_contents_apart() {
        assert_eq!(
            body_digest(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(body_digest("<p>a</p>"), body_digest("<p>b</p>"));
    }
}
