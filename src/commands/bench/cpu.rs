//! CPU time, which the machine's load does not change (wall time does): the bench's own process
//! (the simulator, while a spawned command runs) and the children it has reaped (the spawned
//! `calsync` command), read from `/proc/self/stat` (utime, stime, cutime, cstime).

use std::time::Duration;

use serde::Serialize;

/// Linux reports the times in `/proc` in clock ticks of `USER_HZ`, 100 a second on every
/// architecture (proc(5)).
const TICKS_PER_SECOND: u64 = 100;

/// User + system CPU time, since the process started.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CpuClock {
    own: Duration,
    children: Duration,
}

impl CpuClock {
    /// Now; zero on a system without `/proc` (the figures then read 0, the bench still runs).
    pub(super) fn now() -> CpuClock {
        std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| parse_stat(&stat))
            .unwrap_or_default()
    }

    /// The CPU spent since `earlier`: by this process, and by the children reaped since.
    pub(super) fn since(self, earlier: CpuClock) -> CpuSpent {
        CpuSpent {
            command_ms: (self.children.saturating_sub(earlier.children)).as_secs_f64() * 1000.0,
            bench_ms: (self.own.saturating_sub(earlier.own)).as_secs_f64() * 1000.0,
        }
    }
}

/// CPU milliseconds (user + system) of one spawned command and of the bench's process (the
/// simulator) meanwhile.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(super) struct CpuSpent {
    pub(super) command_ms: f64,
    pub(super) bench_ms: f64,
}

impl CpuSpent {
    /// The command's CPU microseconds per Graph request.
    pub(super) fn command_us_per(self, graph_requests: u64) -> f64 {
        self.command_ms * 1000.0 / graph_requests.max(1) as f64
    }

    /// The simulator's CPU microseconds per Graph request.
    pub(super) fn bench_us_per(self, graph_requests: u64) -> f64 {
        self.bench_ms * 1000.0 / graph_requests.max(1) as f64
    }
}

fn parse_stat(stat: &str) -> Option<CpuClock> {
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0], so utime (14) … cstime (17) are fields[11..15].
    let tick = |i: usize| -> Option<u64> { fields.get(i)?.parse().ok() };
    let ticks = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SECOND);
    Some(CpuClock {
        own: ticks(tick(11)? + tick(12)?),
        children: ticks(tick(13)? + tick(14)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_and_reaped_children_times_after_a_name_with_spaces() {
        let stat = "4242 (calsync (x) y) S 1 2 3 4 5 6 7 8 9 10 150 50 30 20 20 0 1 0 100";
        let clock = parse_stat(stat).unwrap();
        assert_eq!(clock.own, Duration::from_millis(2000));
        assert_eq!(clock.children, Duration::from_millis(500));
    }
}
