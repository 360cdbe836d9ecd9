//! The signals that ask calsync to stop: Ctrl-C (SIGINT) and SIGTERM, which cron, systemd and
//! Kubernetes send to stop a job. Both mean the same: drain what is in flight, record it, and
//! close the audit row.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Interrupt,
    Terminate,
}

impl StopSignal {
    /// The shell's convention: 128 + the signal's number.
    pub fn exit_code(self) -> i32 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }
}

impl fmt::Display for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopSignal::Interrupt => "Ctrl-C",
            StopSignal::Terminate => "SIGTERM",
        })
    }
}

/// Waits for the next Ctrl-C or SIGTERM; `None` if neither can be listened for.
pub async fn stop_requested() -> Option<StopSignal> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).ok();
    let term = async {
        match terminate.as_mut() {
            Some(stream) => stream.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.ok().map(|()| StopSignal::Interrupt),
        _ = term => Some(StopSignal::Terminate),
    }
}
