//! Turning a slot's wall-clock date, times and IANA zone into real instants, deliberately:
//! DST gaps and overlaps are resolved by rule and noted, a slot that crosses midnight ends the
//! next day, and anything that cannot be a meeting is a [`SlotProblem`] before any Graph call.

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

/// The longest slot that `end < start` is read as "crossing midnight" for; anything longer is
/// far more likely a typo in the slot form than a 13-hour meeting.
const MAX_MIDNIGHT_CROSSING: Duration = Duration::hours(12);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotWindow {
    pub zone: Tz,
    /// The local start and end as they should be shown and sent (after DST-gap adjustment).
    pub start_local: NaiveDateTime,
    pub end_local: NaiveDateTime,
    pub start_utc: DateTime<Utc>,
    pub end_utc: DateTime<Utc>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotProblem {
    #[error("unknown time zone '{0}' (not an IANA zone name)")]
    UnknownZone(String),
    #[error("slot ends when it starts ({0})")]
    Empty(NaiveTime),
    #[error("slot ends at {end} before it starts at {start}")]
    EndBeforeStart { start: NaiveTime, end: NaiveTime },
}

pub fn resolve_slot_window(
    date: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
    zone_name: &str,
) -> Result<SlotWindow, SlotProblem> {
    let zone: Tz = zone_name
        .trim()
        .parse()
        .map_err(|_| SlotProblem::UnknownZone(zone_name.to_string()))?;
    let start_naive = date.and_time(start);
    let mut notes = Vec::new();
    let end_naive = match end.cmp(&start) {
        std::cmp::Ordering::Greater => date.and_time(end),
        std::cmp::Ordering::Equal => return Err(SlotProblem::Empty(start)),
        std::cmp::Ordering::Less => {
            let next_day = date.succ_opt().unwrap_or(date).and_time(end);
            if next_day - start_naive > MAX_MIDNIGHT_CROSSING {
                return Err(SlotProblem::EndBeforeStart { start, end });
            }
            notes.push("crosses midnight: ends the next day".to_string());
            next_day
        }
    };
    let (start_utc, start_local) = resolve_local(&zone, start_naive, "start", &mut notes);
    let (mut end_utc, mut end_local) = resolve_local(&zone, end_naive, "end", &mut notes);
    if end_utc <= start_utc {
        // The spring-forward gap swallowed the slot: it keeps the length it was written with.
        let length = end_naive - start_naive;
        end_utc = start_utc + length;
        end_local = end_utc.with_timezone(&zone).naive_local();
        notes.push(format!(
            "the slot falls in the clocks-forward gap; it keeps its {} minutes: {}–{}",
            length.num_minutes(),
            start_local.format("%H:%M"),
            end_local.format("%H:%M")
        ));
    }
    Ok(SlotWindow {
        zone,
        start_local,
        end_local,
        start_utc,
        end_utc,
        notes,
    })
}

/// A wall-clock time in a gap (spring forward) moves forward by the gap, as the clocks do; an
/// ambiguous one (fall back) takes its first occurrence. Both are noted for the operator.
fn resolve_local(
    zone: &Tz,
    local: NaiveDateTime,
    which: &str,
    notes: &mut Vec<String>,
) -> (DateTime<Utc>, NaiveDateTime) {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => (t.with_timezone(&Utc), local),
        LocalResult::Ambiguous(first, _) => {
            notes.push(format!(
                "{which} {} happens twice in {zone} (clocks go back); using the first",
                local.format("%H:%M")
            ));
            (first.with_timezone(&Utc), local)
        }
        LocalResult::None => {
            // The offset in force just before the gap maps the missing time past the gap.
            let before = zone
                .from_local_datetime(&(local - Duration::hours(3)))
                .earliest()
                .map(|t| t.offset().fix())
                .unwrap_or_else(|| zone.offset_from_utc_datetime(&local).fix());
            let utc = (local - before).and_utc();
            let shifted = utc.with_timezone(zone).naive_local();
            notes.push(format!(
                "{which} {} does not exist in {zone} (clocks go forward); using {}",
                local.format("%H:%M"),
                shifted.format("%H:%M")
            ));
            (utc, shifted)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn t(s: &str) -> NaiveTime {
        s.parse().unwrap()
    }

    #[test]
    fn an_ordinary_slot_converts_to_utc() {
        let w = resolve_slot_window(
            d("2026-07-15"),
            t("10:00:00"),
            t("11:00:00"),
            "America/New_York",
        )
        .unwrap();
        assert_eq!(w.start_utc.to_rfc3339(), "2026-07-15T14:00:00+00:00");
        assert_eq!(w.end_utc.to_rfc3339(), "2026-07-15T15:00:00+00:00");
        assert!(w.notes.is_empty());
    }

    #[test]
    fn a_slot_crossing_midnight_ends_the_next_day() {
        let w = resolve_slot_window(d("2026-05-01"), t("23:00:00"), t("01:00:00"), "UTC").unwrap();
        assert_eq!(w.end_local.to_string(), "2026-05-02 01:00:00");
        assert_eq!(w.end_utc - w.start_utc, Duration::hours(2));
    }

    #[test]
    fn an_end_long_before_the_start_is_a_problem() {
        let err =
            resolve_slot_window(d("2026-05-01"), t("14:00:00"), t("10:00:00"), "UTC").unwrap_err();
        assert!(matches!(err, SlotProblem::EndBeforeStart { .. }));
        let err =
            resolve_slot_window(d("2026-05-01"), t("10:00:00"), t("10:00:00"), "UTC").unwrap_err();
        assert!(matches!(err, SlotProblem::Empty(_)));
    }

    #[test]
    fn a_start_in_the_spring_gap_moves_forward() {
        let w = resolve_slot_window(
            d("2026-03-29"),
            t("01:30:00"),
            t("03:00:00"),
            "Europe/London",
        )
        .unwrap();
        assert_eq!(w.start_local.to_string(), "2026-03-29 02:30:00");
        assert_eq!(w.start_utc.to_rfc3339(), "2026-03-29T01:30:00+00:00");
        assert!(w.notes[0].contains("does not exist"));
    }

    #[test]
    fn a_slot_swallowed_by_the_spring_gap_keeps_its_length() {
        let w = resolve_slot_window(
            d("2026-03-29"),
            t("01:30:00"),
            t("02:30:00"),
            "Europe/London",
        )
        .unwrap();
        assert_eq!(w.start_local.to_string(), "2026-03-29 02:30:00");
        assert_eq!(w.end_local.to_string(), "2026-03-29 03:30:00");
        assert_eq!(w.end_utc - w.start_utc, Duration::hours(1));
        assert!(w.notes.iter().any(|n| n.contains("keeps its 60 minutes")));
    }

    #[test]
    fn an_ambiguous_autumn_time_takes_the_first_occurrence() {
        let w = resolve_slot_window(
            d("2026-10-25"),
            t("01:30:00"),
            t("02:30:00"),
            "Europe/London",
        )
        .unwrap();
        assert_eq!(w.start_utc.to_rfc3339(), "2026-10-25T00:30:00+00:00");
        assert!(w.notes[0].contains("twice"));
    }

    #[test]
    fn an_unknown_zone_is_named() {
        let err = resolve_slot_window(d("2026-05-01"), t("10:00:00"), t("11:00:00"), "Foo/Bar")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown time zone 'Foo/Bar' (not an IANA zone name)"
        );
    }
}
