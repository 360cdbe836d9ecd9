//! What the console's background work hands back: plain data, ready to draw.

use chrono::{DateTime, Utc};

use crate::domain::{Cause, Selection, StateCounts};
pub use crate::jobs::{BulkPlan, PersonData};

/// The overview arrives in parts, cheapest first, so a big database shows its newest failures
/// at once (one page through an index) and fills in the counts and the rest as the scans finish.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OverviewData {
    /// The newest failed selections, newest first: the first page of the list of failures.
    pub newest_failures: Option<Vec<RecentFailure>>,
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

/// One of the newest failures, as the overview's panel shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecentFailure {
    pub id: i64,
    pub selected_at: DateTime<Utc>,
    /// The full name, else the username.
    pub person: String,
    pub conference: String,
    pub cause: Option<Cause>,
}

impl RecentFailure {
    pub fn of(selection: &Selection) -> RecentFailure {
        RecentFailure {
            id: selection.id,
            selected_at: selection.selected_at,
            person: selection.person_name(),
            conference: selection.conference_title.clone(),
            cause: crate::domain::diagnosis::failure_cause(selection.sync.error.as_deref()),
        }
    }
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
    NewestFailures(Vec<RecentFailure>),
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
            OverviewPart::NewestFailures(f) => self.newest_failures = Some(f),
            OverviewPart::Counts(c) => self.counts = Some(c),
            OverviewPart::Trend(t) => self.trend = Some(t),
            OverviewPart::WorstConferences(w) => self.worst_conferences = Some(w),
            OverviewPart::Causes(c) => self.causes = Some(c),
            OverviewPart::Workers(w) => self.workers = Some(w),
        }
    }

    /// Puts the parts of `kept` (the last complete overview) where no fresh part has arrived;
    /// true when it put any.
    pub fn fill_missing(&mut self, kept: OverviewData) -> bool {
        fn keep<T>(fresh: &mut Option<T>, kept: Option<T>) -> bool {
            let missing = fresh.is_none() && kept.is_some();
            if missing {
                *fresh = kept;
            }
            missing
        }
        let failures = keep(&mut self.newest_failures, kept.newest_failures);
        let counts = keep(&mut self.counts, kept.counts);
        let trend = keep(&mut self.trend, kept.trend);
        let worst = keep(&mut self.worst_conferences, kept.worst_conferences);
        let causes = keep(&mut self.causes, kept.causes);
        failures || counts || trend || worst || causes
    }

    /// Whether any part of the overview itself (not the workers' line) is here to draw.
    pub fn any_part(&self) -> bool {
        self.newest_failures.is_some()
            || self.counts.is_some()
            || self.trend.is_some()
            || self.worst_conferences.is_some()
            || self.causes.is_some()
    }

    pub fn complete(&self) -> bool {
        self.newest_failures.is_some()
            && self.counts.is_some()
            && self.trend.is_some()
            && self.worst_conferences.is_some()
            && self.causes.is_some()
    }
}
