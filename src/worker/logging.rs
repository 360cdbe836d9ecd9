//! The worker's log: structured lines on stderr (text, or JSON with `--log-format json`), the
//! request log to `--log-file` as every command writes it, and the request counter of the
//! metrics, all through one `tracing` subscriber.

use std::path::Path;
use std::sync::Arc;

use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

use super::metrics::{Metrics, RequestCounter};
use crate::graph::request_log;

/// The `tracing` target of the worker's own lines.
pub const TARGET: &str = "calsync::worker";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event
    #[default]
    Text,
    /// One JSON object per event (for journald, Loki, CloudWatch…)
    Json,
}

pub fn install(
    format: LogFormat,
    request_log: Option<&Path>,
    metrics: Arc<Metrics>,
) -> Result<(), String> {
    let own_lines = filter_fn(|meta| meta.target() == TARGET);
    let stderr = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_filter(own_lines)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_filter(own_lines)
            .boxed(),
    };
    let file = request_log
        .map(request_log::file_layer)
        .transpose()
        .map_err(|e| e.to_string())?;
    let subscriber = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .with(RequestCounter(metrics));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| "the log is already set up".to_string())
}
