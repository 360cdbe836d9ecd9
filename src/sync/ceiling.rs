//! How much work a run keeps in flight when the operator names no `--concurrency`: every
//! selection (or mailbox) of the frozen run at once, so each mailbox is at Graph's 4 in flight
//! (the Graph client holds each mailbox to 4 and the whole app to its own AIMD ceiling), bounded
//! by Graph's app-wide limits and by memory.

use crate::graph::APP_IN_FLIGHT_CEILING;

/// What one selection in flight may cost in memory, at most: its row, its payload, its
/// request and response (measured in BENCHMARKS.md, "memory per request in flight").
pub const BYTES_PER_TASK: u64 = 64 * 1024;

/// A run never takes more than this share of the memory available when it starts.
const MEMORY_SHARE: u64 = 4;

/// The default ceiling on work in flight: Graph's app-wide ceiling, or less when memory is
/// short.
pub fn default_concurrency() -> usize {
    let by_memory = available_memory()
        .map(|bytes| bytes / MEMORY_SHARE / BYTES_PER_TASK)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(APP_IN_FLIGHT_CEILING);
    APP_IN_FLIGHT_CEILING.min(by_memory).max(4)
}

/// `MemAvailable` of /proc/meminfo (Linux); `None` elsewhere.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_graphs_ceiling_when_memory_allows() {
        let n = default_concurrency();
        assert!((4..=APP_IN_FLIGHT_CEILING).contains(&n));
        if available_memory().is_some_and(|b| b / MEMORY_SHARE / BYTES_PER_TASK > 20_000) {
            assert_eq!(n, APP_IN_FLIGHT_CEILING);
        }
    }
}
