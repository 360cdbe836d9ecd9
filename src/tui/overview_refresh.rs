//! When the overview re-reads its counts: after every run the console started, and on the live
//! timer at a cadence tied to what the last read cost, so that on a million rows the
//! background reads stay a small share of one core.

use chrono::{DateTime, Duration, Utc};

use super::data::{OverviewData, OverviewPart};

/// Never more often than this on the timer.
const MIN_INTERVAL_SECS: i64 = 60;
/// The timer waits at least this many times the last read's cost (≤ 5 % of one core).
const COST_FACTOR: i32 = 20;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OverviewRefresh {
    /// When the read in flight (or the last one) was asked for.
    pub asked: Option<DateTime<Utc>>,
    /// When the last complete read finished: the age the overview shows.
    pub read: Option<DateTime<Utc>>,
    /// What the last complete read took, at the resolution of the console's clock.
    pub cost: Option<Duration>,
    /// The parts of the read in flight that have arrived (the screen shows them at once).
    fresh: OverviewData,
}

impl OverviewRefresh {
    pub fn asked_at(now: DateTime<Utc>) -> OverviewRefresh {
        OverviewRefresh {
            asked: Some(now),
            ..OverviewRefresh::default()
        }
    }

    /// A new read starts; what is on screen stays until its parts replace it.
    pub fn start(&mut self, now: DateTime<Utc>) {
        self.asked = Some(now);
        self.fresh = OverviewData::default();
    }

    /// Records a part of the read in flight; true when that read is complete.
    pub fn arrived(&mut self, part: &OverviewPart, now: DateTime<Utc>) -> bool {
        self.fresh.add(part.clone());
        if !self.fresh.complete() {
            return false;
        }
        self.read = Some(now);
        self.cost = self.asked.map(|asked| now - asked);
        true
    }

    /// How long the timer waits after a complete read before the next one.
    pub fn interval(&self) -> Duration {
        let floor = Duration::seconds(MIN_INTERVAL_SECS);
        self.cost
            .map_or(floor, |cost| (cost * COST_FACTOR).max(floor))
    }

    /// Whether the timer should start a read now (never before the first one completed).
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.read.is_some_and(|read| now - read >= self.interval())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StateCounts;
    use chrono::TimeZone;

    fn parts() -> Vec<OverviewPart> {
        vec![
            OverviewPart::NewestFailures(vec![]),
            OverviewPart::Counts(StateCounts::default()),
            OverviewPart::Trend(vec![]),
            OverviewPart::WorstConferences(vec![]),
            OverviewPart::Causes(vec![]),
        ]
    }

    #[test]
    fn the_cadence_follows_the_cost_of_the_last_read() {
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let mut refresh = OverviewRefresh::asked_at(start);
        assert!(!refresh.due(start + Duration::hours(1)), "nothing read yet");
        let done = start + Duration::seconds(6);
        let mut complete = false;
        for part in parts() {
            complete = refresh.arrived(&part, done);
        }
        assert!(complete);
        assert_eq!(refresh.cost, Some(Duration::seconds(6)));
        // 20 × 6 s, more than the one-minute floor.
        assert_eq!(refresh.interval(), Duration::seconds(120));
        assert!(!refresh.due(done + Duration::seconds(119)));
        assert!(refresh.due(done + Duration::seconds(120)));

        refresh.start(done + Duration::seconds(120));
        assert!(!refresh.arrived(&parts()[0], done + Duration::seconds(120)));
    }
}
