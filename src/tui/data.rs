//! What the console's background work hands back: plain data, ready to draw.

use chrono::{DateTime, Utc};

use crate::domain::{Cause, StateCounts};
pub use crate::jobs::{BulkPlan, PersonData};

/// The overview arrives in parts, cheapest first, so a big database shows its counts at once
/// and fills in the rest as the heavier queries finish.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OverviewData {
    pub counts: Option<StateCounts>,
    /// Failed selections per UTC day of their last attempt, oldest first.
    pub trend: Option<Vec<(String, u64)>>,
    /// (conference id, title, failed, total), most failures first.
    pub worst_conferences: Option<Vec<(i64, String, u64, u64)>>,
    /// Failed selections by cause, most first.
    pub causes: Option<Vec<(Cause, u64)>>,
    /// Whether workers run: never kept in the cache (an old "running" would mislead).
    #[serde(skip)]
    pub workers: Option<WorkersLine>,
}

/// The overview's line about `calsync worker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkersLine {
    /// `calsync migrate` has not created the worker's tables.
    NoTables,
    Seen {
        /// Workers whose heartbeat is recent.
        running: usize,
        /// The latest pass of any registered worker.
        last_pass: Option<DateTime<Utc>>,
    },
    Unreadable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum OverviewPart {
    Counts(StateCounts),
    Trend(Vec<(String, u64)>),
    WorstConferences(Vec<(i64, String, u64, u64)>),
    Causes(Vec<(Cause, u64)>),
    /// Not one of the parts [`OverviewData::complete`] waits for.
    Workers(WorkersLine),
}

impl OverviewData {
    pub fn add(&mut self, part: OverviewPart) {
        match part {
            OverviewPart::Counts(c) => self.counts = Some(c),
            OverviewPart::Trend(t) => self.trend = Some(t),
            OverviewPart::WorstConferences(w) => self.worst_conferences = Some(w),
            OverviewPart::Causes(c) => self.causes = Some(c),
            OverviewPart::Workers(w) => self.workers = Some(w),
        }
    }

    pub fn complete(&self) -> bool {
        self.counts.is_some()
            && self.trend.is_some()
            && self.worst_conferences.is_some()
            && self.causes.is_some()
    }
}
