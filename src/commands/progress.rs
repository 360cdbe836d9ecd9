//! The CLI's progress bars (indicatif), on stderr and only when stderr is a terminal: scripts
//! and logs see exactly the lines they saw before. `verify --recreate` stacks its two phases
//! as two bars of one [`Bars`].

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::sync::Outcome;

/// The bars of one command; hidden when not drawing to a terminal.
pub struct Bars {
    multi: MultiProgress,
}

impl Bars {
    pub fn new(enabled: bool) -> Bars {
        let target = if enabled {
            // At most ten redraws a second, as the hand-written bar did.
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
        }
    }

    /// A bar of `total` items, counting good and bad ones (and throttling, when `throttling`).
    pub fn add(&self, total: usize, label: &str, throttling: bool) -> CountingBar {
        let style =
            ProgressStyle::with_template("{prefix}[{bar:30}] {pos}/{len}  {msg}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("= ");
        let bar = self
            .multi
            .add(ProgressBar::new(total as u64).with_style(style));
        if !label.is_empty() {
            bar.set_prefix(format!("{label} "));
        }
        let mut counting = CountingBar {
            bar,
            good: 0,
            bad: 0,
            throttled: throttling.then_some(0),
        };
        counting.show_counts();
        counting
    }

    /// Runs `print` with the bars cleared, then draws them again: lines printed while a bar
    /// is up never mix with it.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        self.multi.suspend(print)
    }

    /// Takes every bar off the screen.
    pub fn clear(&self) {
        let _ = self.multi.clear();
    }
}

/// One bar with its ✓ and ✗ counts.
pub struct CountingBar {
    bar: ProgressBar,
    good: u64,
    bad: u64,
    throttled: Option<u64>,
}

impl CountingBar {
    /// One item done, counted good or bad.
    pub fn done(&mut self, good: bool) {
        if good {
            self.good += 1;
        } else {
            self.bad += 1;
        }
        self.bar.inc(1);
        self.show_counts();
    }

    /// One sync result: synced is good, a failure or conflict bad, a skip neither.
    pub fn record(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Synced { .. } => self.done(true),
            Outcome::Failed { .. } | Outcome::Conflict { .. } => self.done(false),
            Outcome::Skipped { .. } | Outcome::ClaimedElsewhere { .. } => {
                self.bar.inc(1);
            }
        }
    }

    pub fn throttled(&mut self) {
        if let Some(n) = self.throttled.as_mut() {
            *n += 1;
        }
        self.show_counts();
    }

    /// The bar stays, full, under the next one.
    pub fn finish(&self) {
        self.bar.finish();
    }

    fn show_counts(&mut self) {
        let mut counts = format!("✓ {}  ✗ {}", self.good, self.bad);
        if let Some(n) = self.throttled {
            counts.push_str(&format!("  throttled {n}"));
        }
        counts.push_str(&format!("  {:.0}/s", self.bar.per_sec()));
        self.bar.set_message(counts);
    }
}

/// A one-line percentage of `unit`s done (the demo generator's), hidden when `enabled` is not
/// set; its length is set by the first update.
pub fn percent_line(enabled: bool, what: &str, unit: &str) -> ProgressBar {
    let target = if enabled {
        ProgressDrawTarget::stderr_with_hz(10)
    } else {
        ProgressDrawTarget::hidden()
    };
    let style =
        ProgressStyle::with_template(&format!("{what}: {{percent:>3}}% ({{pos}}/{{len}} {unit})"))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(None, target).with_style(style)
}
