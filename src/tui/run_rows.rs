//! The rows of a run that did not sync, with their reasons, kept for the list shown after the
//! run (issue 13, items 3 and 11): Sidekiq's retry page for one run. At most [`KEPT`] rows are
//! kept (the counts stay exact), so a million-row run cannot fill the console's memory.

use crate::sync::{ItemResult, Outcome};

pub const KEPT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Failed,
    Skipped,
    /// Being synced by another calsync.
    Elsewhere,
    /// Changed by the LMS while calsync worked on it.
    Conflict,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Failed => "failed",
            Kind::Skipped => "skipped",
            Kind::Elsewhere => "another calsync",
            Kind::Conflict => "changed meanwhile",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub selection_id: i64,
    pub kind: Kind,
    /// Username and conference, slot: who and what, as the progress lines say it.
    pub who: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRows {
    rows: Vec<RunRow>,
    /// Rows not kept beyond [`KEPT`].
    left_out: usize,
}

impl RunRows {
    /// Keeps `item` when it did not sync.
    pub fn record(&mut self, item: &ItemResult) {
        let (kind, reason) = match &item.outcome {
            Outcome::Synced { .. } => return,
            Outcome::Failed { error, .. } => (Kind::Failed, error),
            Outcome::Skipped { reason } => (Kind::Skipped, reason),
            Outcome::ClaimedElsewhere { detail } => (Kind::Elsewhere, detail),
            Outcome::Conflict { detail } => (Kind::Conflict, detail),
        };
        if self.rows.len() >= KEPT {
            self.left_out += 1;
            return;
        }
        let who = match &item.label {
            Some(label) => format!(
                "{} · {} · {} {}",
                label.username, label.conference_title, label.slot_date, label.slot_start
            ),
            None => "(the selection no longer exists)".to_string(),
        };
        self.rows.push(RunRow {
            selection_id: item.selection_id,
            kind,
            who: crate::text::clean_line(&who),
            reason: crate::text::clean_line(reason),
        });
    }

    /// Skipped rows first (nothing else says why they were skipped), then the others, each in
    /// the order they arrived.
    pub fn rows(&self) -> Vec<&RunRow> {
        let skipped = self.rows.iter().filter(|r| r.kind != Kind::Failed);
        let failed = self.rows.iter().filter(|r| r.kind == Kind::Failed);
        skipped.chain(failed).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn left_out(&self) -> usize {
        self.left_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{ItemLabel, SyncAction};

    fn item(id: i64, outcome: Outcome) -> ItemResult {
        ItemResult {
            selection_id: id,
            label: (id != 99).then(|| ItemLabel {
                username: "ann".into(),
                full_name: "Ann Other".into(),
                conference_title: "Zoom \u{1b}[31mClinic".into(),
                slot_date: "2026-04-01".into(),
                slot_start: "10:00".into(),
            }),
            outcome,
        }
    }

    #[test]
    fn rows_that_did_not_sync_are_kept_with_their_reasons_skipped_first() {
        let mut rows = RunRows::default();
        rows.record(&item(
            1,
            Outcome::Failed {
                error: "404".into(),
                cause: crate::domain::Cause::Other,
            },
        ));
        rows.record(&item(
            2,
            Outcome::Synced {
                event_id: "e".into(),
                action: SyncAction::Created,
            },
        ));
        rows.record(&item(
            3,
            Outcome::Skipped {
                reason: "the conference does not use time slots".into(),
            },
        ));
        rows.record(&item(
            99,
            Outcome::Skipped {
                reason: "the selection no longer exists".into(),
            },
        ));
        let listed: Vec<(i64, Kind)> = rows
            .rows()
            .iter()
            .map(|r| (r.selection_id, r.kind))
            .collect();
        assert_eq!(
            listed,
            [(3, Kind::Skipped), (99, Kind::Skipped), (1, Kind::Failed)]
        );
        assert_eq!(rows.rows()[0].who, "ann · Zoom Clinic · 2026-04-01 10:00");
        assert_eq!(rows.rows()[1].who, "(the selection no longer exists)");
    }

    #[test]
    fn a_huge_run_keeps_a_bounded_list_and_counts_the_rest() {
        let mut rows = RunRows::default();
        for id in 0..(KEPT as i64 + 5) {
            rows.record(&item(
                id,
                Outcome::Failed {
                    error: "x".into(),
                    cause: crate::domain::Cause::Other,
                },
            ));
        }
        assert_eq!(rows.rows().len(), KEPT);
        assert_eq!(rows.left_out(), 5);
    }
}
