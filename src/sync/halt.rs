//! A run's stop on its first unrecordable write: once a result (or a create's intent) cannot
//! be written, every further event would be one the database cannot know about, so nothing
//! new starts. What is in flight finishes and is reported; the first reason is kept for the
//! one line that says why the run stopped.

use std::sync::OnceLock;

use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub(super) struct Halt {
    stopped: CancellationToken,
    reason: OnceLock<String>,
}

impl Halt {
    /// Stops the run; only the first reason is kept.
    pub(super) fn trip(&self, reason: &str) {
        let _ = self.reason.set(reason.to_string());
        self.stopped.cancel();
    }

    pub(super) async fn tripped(&self) {
        self.stopped.cancelled().await;
    }

    pub(super) fn reason(&self) -> Option<String> {
        self.reason.get().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_is_the_one_kept() {
        let halt = Halt::default();
        assert_eq!(halt.reason(), None);
        halt.trip("disk full");
        halt.trip("connection lost");
        assert_eq!(halt.reason().as_deref(), Some("disk full"));
    }
}
