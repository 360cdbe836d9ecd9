//! `calsync` with no command: the console, on the usual database and the real Graph.

use std::time::Duration;

use super::{CliError, graph_target, open_store};
use crate::cli::{EXIT_OK, GlobalArgs};
use crate::config::ConfigFile;
use crate::graph::GraphClient;
use crate::store::Store;
use crate::sync::{Engine, SyncOptions};
use crate::tui::keymap::Keymap;
use crate::tui::{self, ConsoleOptions, Theme};

const DEFAULT_REFRESH: Duration = Duration::from_secs(3);

pub async fn run(global: &GlobalArgs) -> Result<i32, CliError> {
    let (store, _) = open_store(global).await?;
    open(store, global, Graph::Real).await
}

/// Which Graph the console talks to.
pub enum Graph {
    Real,
    /// The built-in simulator, with the demo's mailboxes filled the way the LMS left them.
    SimulatedDemo,
}

/// Opens the console on `store`.
pub async fn open(store: Store, global: &GlobalArgs, graph: Graph) -> Result<i32, CliError> {
    let credentials_override = SyncOptions::credentials_from_env().map_err(CliError::unusable)?;
    let (graph_config, simulator) = graph_target(matches!(graph, Graph::SimulatedDemo)).await?;
    if let Some(sim) = &simulator {
        crate::demo::seed_simulator(&store, sim)
            .await
            .map_err(|e| CliError::unusable(format!("cannot fill the simulated mailboxes: {e}")))?;
    }
    let client = GraphClient::new(graph_config)
        .map_err(|e| CliError::unusable(format!("cannot set up the Graph client: {e}")))?;
    let engine = Engine::new(
        store.clone(),
        client,
        SyncOptions {
            credentials_override,
            ..SyncOptions::default()
        },
    );
    let (config, _) = ConfigFile::load(global.config.as_deref()).map_err(CliError::unusable)?;
    let options = ConsoleOptions {
        read_only: global.read_only,
        simulated_graph: simulator.is_some(),
        refresh: config
            .refresh_secs
            .map_or(DEFAULT_REFRESH, |s| Duration::from_secs(s.max(1))),
        keymap: Keymap::with_overrides(&config.keymap).map_err(CliError::unusable)?,
        theme: Theme::from_setting(config.theme.color.as_deref()).map_err(CliError::unusable)?,
    };
    let result = tui::run(store, engine, options).await;
    if let Some(sim) = simulator {
        sim.shutdown().await;
    }
    result.map_err(CliError::unusable)?;
    Ok(EXIT_OK)
}
