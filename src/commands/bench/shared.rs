//! What every bench shares: the demo database it measures and the timing of one sample.

use std::time::{Duration, Instant};

use crate::commands::CliError;
use crate::demo::{self, DemoSpec};

/// Each measurement repeats until it has run this long, then reports the mean of one run.
pub(super) const MIN_SAMPLE: Duration = Duration::from_millis(300);

/// The demo database a bench measures: `db` as an absolute path, generated with `selections`
/// rows when missing (and how long that took).
pub(in crate::commands) async fn demo_database(
    db: &std::path::Path,
    selections: u64,
) -> Result<(std::path::PathBuf, Option<Duration>), CliError> {
    let path = std::path::absolute(db)
        .map_err(|e| CliError::unusable(format!("bad path {}: {e}", db.display())))?;
    if path.exists() {
        return Ok((path, None));
    }
    let started = Instant::now();
    let spec = DemoSpec::new(selections);
    let target = path.clone();
    tokio::task::spawn_blocking(move || demo::create(&target, &spec, &mut |_, _| {}))
        .await
        .map_err(|e| CliError::failed(e.to_string()))?
        .map_err(CliError::unusable)?;
    Ok((path, Some(started.elapsed())))
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(super) async fn measure_async<F, Fut>(mut run: F) -> Result<Duration, CliError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), CliError>>,
{
    run().await?; // warm the caches, as the shell's first run does too
    let started = Instant::now();
    let mut runs = 0u32;
    while started.elapsed() < MIN_SAMPLE || runs < 3 {
        run().await?;
        runs += 1;
    }
    Ok(started.elapsed() / runs)
}
