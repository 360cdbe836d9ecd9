//! A job's rate and time left, right at both ends of a run (issue 13, item 9).
//!
//! The rate is measured from the first result, not from the start: the time to the first result
//! (a token, a claim, a connection) says nothing about the pace after it, and counting it made a
//! 2-second run's first estimate 113 s. It covers the last [`WINDOW`] of results, so it follows a
//! run that slows down (throttling) or speeds up, and it is measured up to now, so a stall lowers
//! it instead of freezing it. Until enough is seen there is no rate and no estimate (never
//! `0.0/s`); once the run has ended, the rate is the whole run's average.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

/// How far back the rate looks.
pub const WINDOW: chrono::Duration = chrono::Duration::seconds(10);
/// The least span of results a rate is measured over.
const LEAST_SPAN: chrono::Duration = chrono::Duration::milliseconds(500);
/// The least number of results after the first one a rate is measured over.
const LEAST_RESULTS: usize = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct RateMeter {
    started: DateTime<Utc>,
    /// (when, results done by then), oldest first; the oldest may lie before the window.
    samples: VecDeque<(DateTime<Utc>, usize)>,
    first: Option<(DateTime<Utc>, usize)>,
    /// When the run ended, and how many it had done: the rate is then the whole run's.
    ended: Option<(DateTime<Utc>, usize)>,
}

impl RateMeter {
    pub fn starting(started: DateTime<Utc>) -> RateMeter {
        RateMeter {
            started,
            samples: VecDeque::new(),
            first: None,
            ended: None,
        }
    }

    /// `done` results had arrived at `at`.
    pub fn record(&mut self, at: DateTime<Utc>, done: usize) {
        if self.first.is_none() {
            self.first = Some((at, done));
        }
        self.samples.push_back((at, done));
        // Keep one sample older than the window: the rate is measured from it.
        while self.samples.len() > 2 && self.samples[1].0 <= at - WINDOW {
            self.samples.pop_front();
        }
    }

    pub fn end(&mut self, at: DateTime<Utc>, done: usize) {
        self.ended = Some((at, done));
    }

    /// Results per second, or None until it can be told.
    pub fn rate(&self, now: DateTime<Utc>) -> Option<f64> {
        if let Some((to, done)) = self.ended {
            // From the first result when there were several, else over the whole run.
            return match self.first {
                Some((from, first)) if done > first => per_second(done - first, to - from),
                _ => per_second(done, to - self.started),
            };
        }
        let (&(from, since), &(_, done)) = (self.samples.front()?, self.samples.back()?);
        let span = now - from;
        if done.saturating_sub(since) < LEAST_RESULTS || span < LEAST_SPAN {
            return None;
        }
        per_second(done - since, span)
    }

    /// Seconds until `total` results, at the current rate.
    pub fn eta_seconds(&self, now: DateTime<Utc>, total: usize) -> Option<f64> {
        if self.ended.is_some() {
            return None;
        }
        let done = self.samples.back().map_or(0, |&(_, done)| done);
        let rate = self.rate(now)?;
        Some(total.saturating_sub(done) as f64 / rate)
    }
}

fn per_second(results: usize, span: chrono::Duration) -> Option<f64> {
    let seconds = span.num_milliseconds() as f64 / 1000.0;
    (results > 0 && seconds > 0.0).then(|| results as f64 / seconds)
}

/// `12.5/s`, or `–/s` while there is no rate yet.
pub fn rate_text(rate: Option<f64>) -> String {
    match rate {
        Some(rate) if rate >= 10.0 => format!("{rate:.0}/s"),
        Some(rate) => format!("{rate:.1}/s"),
        None => "–/s".to_string(),
    }
}

/// `ETA 1m05s`, `ETA 3s`, or `ETA –`.
pub fn eta_text(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s.is_finite() => {
            let s = s.ceil() as u64;
            if s >= 60 {
                format!("ETA {}m{:02}s", s / 60, s % 60)
            } else {
                format!("ETA {s}s")
            }
        }
        _ => "ETA –".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    /// A run of `n` results: the first after `first_ms` (the token), then one every `step_ms`.
    fn run(meter: &mut RateMeter, n: usize, first_ms: i64, step_ms: i64, until_ms: i64) -> usize {
        let mut done = 0;
        for i in 0..n {
            let when = first_ms + step_ms * i as i64;
            if when > until_ms {
                break;
            }
            done += 1;
            meter.record(at(when), done);
        }
        done
    }

    #[test]
    fn nothing_is_claimed_before_results_arrive() {
        let meter = RateMeter::starting(at(0));
        assert_eq!(meter.rate(at(3_000)), None);
        assert_eq!(meter.eta_seconds(at(3_000), 100), None);
        assert_eq!(rate_text(meter.rate(at(3_000))), "–/s");
        assert_eq!(eta_text(None), "ETA –");
    }

    #[test]
    fn a_slow_first_result_does_not_inflate_the_first_estimate() {
        // A 2-second run: the token takes 0.5 s, then 100 results in 1.5 s.
        let mut meter = RateMeter::starting(at(0));
        let done = run(&mut meter, 100, 500, 15, 1_100);
        let eta = meter.eta_seconds(at(1_100), 100).unwrap();
        let truth = (500 + 15 * 99 - 1_100) as f64 / 1000.0;
        assert!(
            (eta - truth).abs() < truth * 0.25,
            "first ETA {eta:.2}s, truth {truth:.2}s ({done} done)"
        );
    }

    #[test]
    fn the_rate_follows_a_run_that_slows_down() {
        let mut meter = RateMeter::starting(at(0));
        // 20/s for 20 s, then 2/s for 15 s.
        let mut done = 0;
        for i in 0..400 {
            done += 1;
            meter.record(at(i * 50), done);
        }
        for i in 1..=30 {
            done += 1;
            meter.record(at(20_000 + i * 500), done);
        }
        let rate = meter.rate(at(35_000)).unwrap();
        assert!((rate - 2.0).abs() < 0.3, "{rate}");
    }

    #[test]
    fn a_stall_lowers_the_rate_instead_of_freezing_it() {
        let mut meter = RateMeter::starting(at(0));
        run(&mut meter, 50, 0, 100, 5_000);
        let before = meter.rate(at(5_000)).unwrap();
        let stalled = meter.rate(at(14_000)).unwrap();
        assert!(stalled < before / 2.0, "{before} then {stalled}");
    }

    #[test]
    fn an_ended_run_reports_its_whole_average_and_no_estimate() {
        let mut meter = RateMeter::starting(at(0));
        let done = run(&mut meter, 3, 400, 300, 10_000);
        meter.end(at(1_000), done);
        // Two results after the first one in 0.6 s.
        let rate = meter.rate(at(60_000)).unwrap();
        assert!((rate - 2.0 / 0.6).abs() < 1e-6, "{rate}");
        assert_eq!(meter.eta_seconds(at(60_000), 3), None);
    }

    #[test]
    fn a_run_of_one_result_has_the_whole_run_as_its_rate() {
        let mut meter = RateMeter::starting(at(0));
        meter.record(at(800), 1);
        meter.end(at(800), 1);
        let rate = meter.rate(at(900)).unwrap();
        assert!((rate - 1.25).abs() < 1e-6, "{rate}");
    }

    #[test]
    fn texts_are_short_and_rounded_up() {
        assert_eq!(rate_text(Some(2.04)), "2.0/s");
        assert_eq!(rate_text(Some(312.7)), "313/s");
        assert_eq!(eta_text(Some(2.1)), "ETA 3s");
        assert_eq!(eta_text(Some(65.0)), "ETA 1m05s");
    }
}
