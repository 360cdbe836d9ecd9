//! `calsync` with no command: the console, on the usual database and the real Graph (the
//! simulated one on calsync's demo database).

use std::time::Duration;

use super::rehearsal::Rehearsal;
use super::{CliError, open_store};
use crate::cli::{EXIT_OK, GlobalArgs};
use crate::config::ConfigFile;
use crate::graph::GraphClient;
use crate::store::Store;
use crate::sync::{Engine, SyncOptions};
use crate::tui::keymap::Keymap;
use crate::tui::{self, ColumnChoice, ConsoleOptions, Theme};

pub(super) const DEFAULT_REFRESH: Duration = Duration::from_secs(3);

pub async fn run(global: &GlobalArgs) -> Result<i32, CliError> {
    let (store, _) = open_store(global).await?;
    // The demo database never meets the real Graph: its addresses and secrets are invented.
    let rehearsal = if crate::demo::is_demo(&store).await? {
        Rehearsal::Demo
    } else {
        Rehearsal::Real
    };
    open(store, global, rehearsal).await
}

/// Opens the console on `store`, against the Graph `rehearsal` chooses.
pub async fn open(
    store: Store,
    global: &GlobalArgs,
    rehearsal: Rehearsal,
) -> Result<i32, CliError> {
    let credentials_override = SyncOptions::credentials_from_env().map_err(CliError::unusable)?;
    let graph = rehearsal.graph(&store).await?;
    let simulated_graph = graph.simulated();
    let client = GraphClient::new(graph.config.clone())
        .map_err(|e| CliError::unusable(format!("cannot set up the Graph client: {e}")))?;
    let engine = Engine::new(
        store.clone(),
        client,
        SyncOptions {
            credentials_override,
            ..SyncOptions::default()
        },
    );
    let (config, read_from) =
        ConfigFile::load(global.config.as_deref()).map_err(CliError::unusable)?;
    let columns = match &config.console.columns {
        Some(names) => ColumnChoice::from_names(names).map_err(CliError::unusable)?,
        None => ColumnChoice::default(),
    };
    let options = ConsoleOptions {
        read_only: global.read_only,
        simulated_graph,
        refresh: config
            .refresh_secs
            .map_or(DEFAULT_REFRESH, |s| Duration::from_secs(s.max(1))),
        keymap: Keymap::with_overrides(&config.keymap).map_err(CliError::unusable)?,
        theme: Theme::from_settings(
            config.theme.color.as_deref(),
            config.theme.background.as_deref(),
        )
        .map_err(CliError::unusable)?,
        lms_url: config.lms_url.clone(),
        columns,
        // The chooser writes where the settings were read, else where they would be.
        config_path: read_from
            .or_else(|| global.config.clone())
            .or_else(crate::config::default_config_path),
    };
    let result = tui::run(store, engine, options).await;
    graph.shutdown().await;
    result.map_err(CliError::unusable)?;
    Ok(EXIT_OK)
}
