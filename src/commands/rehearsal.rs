//! Which Graph a command talks to, and whether a run on the simulated Graph may write the
//! database. A rehearsal is honest: the simulator starts with the mailboxes the database implies,
//! its results are written only to a demo database calsync created or to the one database the
//! operator names for it, and the run says on stderr (and in its audit row) that it is simulated.

use super::CliError;
use crate::cli::simulation::SimulationArgs;
use crate::demo::{self, Leftovers, SimulatorSettings};
use crate::domain::{Filter, SyncState};
use crate::graph::GraphConfig;
use crate::sim::{Directory, SimConfig, SimHandle, SimServer};
use crate::store::{DatabaseUrl, Store};

/// How a command's run meets Graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rehearsal {
    /// Microsoft's Graph, as the environment configures it.
    Real,
    /// calsync's demo database: always the demo's simulated tenant, whatever the flags, with its
    /// mailboxes as the LMS left them.
    Demo,
    /// The simulated Graph on a database the operator named with `--simulated-graph-writes-to`.
    Named,
    /// The simulated Graph on a database calsync did not create as a demo: the command runs as
    /// its dry run, so the simulator's invented answers never reach real rows.
    DryRun,
}

impl Rehearsal {
    /// Decides from the database's demo marker and the command's flags, and says on stderr what
    /// a simulated run will do.
    pub async fn decide(store: &Store, args: &SimulationArgs) -> Result<Rehearsal, CliError> {
        if let Some(named) = &args.simulated_graph_writes_to {
            ensure_names(named, store.url())?;
        }
        let rehearsal = if demo::is_demo(store).await? || is_default_demo(store.url()) {
            Rehearsal::Demo
        } else if args.simulated_graph_writes_to.is_some() {
            Rehearsal::Named
        } else if args.simulated_graph {
            Rehearsal::DryRun
        } else {
            Rehearsal::Real
        };
        if let Some(line) = rehearsal.announcement(&store.describe()) {
            eprintln!("{line}");
        }
        Ok(rehearsal)
    }

    pub fn simulated(self) -> bool {
        self != Rehearsal::Real
    }

    /// Whether the command must run as its dry run (write neither Graph nor the database).
    pub fn dry_run(self) -> bool {
        self == Rehearsal::DryRun
    }

    /// The audit row's scope: a simulated run says so, so nobody reads it as real work.
    pub fn audit_scope(self, scope: &str) -> String {
        crate::audit::run_scope(scope, self.simulated())
    }

    fn announcement(self, database: &str) -> Option<String> {
        match self {
            Rehearsal::Real => None,
            Rehearsal::Demo => Some(format!(
                "note: {database} is calsync's demo database: using the simulated Graph, its \
                 mailboxes as the LMS left them (no real calendar is touched)"
            )),
            Rehearsal::Named => Some(format!(
                "note: simulated Graph, its results written to {database} as \
                 --simulated-graph-writes-to says (mailboxes as the database implies; no real \
                 calendar is touched)"
            )),
            Rehearsal::DryRun => Some(format!(
                "note: simulated Graph on {database}, which calsync did not create as a demo: \
                 running as a dry run, nothing is written (name it with \
                 --simulated-graph-writes-to to let a rehearsal write)"
            )),
        }
    }

    /// Microsoft's Graph, or the simulator started on a loopback port and filled with the
    /// mailboxes the database implies.
    pub async fn graph(self, store: &Store) -> Result<GraphTarget, CliError> {
        let mut config = GraphConfig::from_env().map_err(CliError::unusable)?;
        let (simulator, leftovers) = match self {
            Rehearsal::Real => {
                return Ok(GraphTarget {
                    config,
                    simulator: None,
                });
            }
            Rehearsal::Demo => (
                demo::start_simulator(SimulatorSettings::default()).await,
                Leftovers::AsTheLmsLeftThem,
            ),
            // Not the demo's tenant: this database's integrations and addresses are its own, so
            // any app registration gets a token and every address is a mailbox.
            Rehearsal::Named | Rehearsal::DryRun => (
                SimServer::start(SimConfig {
                    accept_any_credentials: true,
                    directory: Directory::all_ok(),
                    ..SimConfig::default()
                })
                .await,
                Leftovers::None,
            ),
        };
        let simulator = simulator
            .map_err(|e| CliError::unusable(format!("cannot start the simulated Graph: {e}")))?;
        demo::seed_mailboxes(store, &simulator, leftovers)
            .await
            .map_err(|e| CliError::unusable(format!("cannot fill the simulated mailboxes: {e}")))?;
        let added = store
            .count(&Filter {
                states: vec![SyncState::Added, SyncState::AddedStaleError],
                ..Filter::default()
            })
            .await?;
        if added > u64::from(demo::SEED_LIMIT) {
            eprintln!(
                "note: the simulated mailboxes hold the events of the first {} added selections \
                 only; the others look missing to it",
                demo::SEED_LIMIT
            );
        }
        config.graph_url = simulator.graph_url();
        config.login_url = simulator.login_url();
        Ok(GraphTarget {
            config,
            simulator: Some(simulator),
        })
    }
}

/// The Graph a run talks to; a simulator lives as long as this does.
pub struct GraphTarget {
    pub config: GraphConfig,
    simulator: Option<SimHandle>,
}

impl GraphTarget {
    pub fn simulated(&self) -> bool {
        self.simulator.is_some()
    }

    pub async fn shutdown(self) {
        if let Some(sim) = self.simulator {
            sim.shutdown().await;
        }
    }
}

/// The file `calsync demo` keeps in calsync's data directory is calsync's own, even when an
/// older calsync made it before demos carried their marker.
fn is_default_demo(url: &DatabaseUrl) -> bool {
    let (DatabaseUrl::Sqlite(path), Some(default)) = (url, demo::default_path()) else {
        return false;
    };
    matches!(
        (std::fs::canonicalize(path), std::fs::canonicalize(default)),
        (Ok(a), Ok(b)) if a == b
    )
}

/// `--simulated-graph-writes-to` must name the database in use: the same SQLite file, or the same
/// PostgreSQL server and database (user, password and sslmode aside).
fn ensure_names(named: &str, in_use: &DatabaseUrl) -> Result<(), CliError> {
    let parsed = DatabaseUrl::parse(named)
        .map_err(|e| CliError::unusable(format!("--simulated-graph-writes-to: {e}")))?;
    let same = match (&parsed, in_use) {
        (DatabaseUrl::Sqlite(a), DatabaseUrl::Sqlite(b)) => {
            match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
        }
        (DatabaseUrl::Postgres(a), DatabaseUrl::Postgres(b)) => {
            a.host.eq_ignore_ascii_case(&b.host) && a.port == b.port && a.dbname == b.dbname
        }
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(CliError::unusable(format!(
            "--simulated-graph-writes-to names {}, not the database in use ({}): nothing was done",
            parsed.redacted(),
            in_use.redacted()
        )))
    }
}
