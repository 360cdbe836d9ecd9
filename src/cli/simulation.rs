//! The flags of the commands that can meet the built-in simulated Graph (`sync`, `verify`,
//! `reconcile`, `worker`), in a file of their own so `worker`'s arguments can share them.

use clap::Args;

/// The built-in simulated Graph, for the commands that talk to Graph. Its mailboxes start as the
/// database implies; it writes only to calsync's demo databases, or to the one database named.
#[derive(Debug, Args, Clone, Default)]
pub struct SimulationArgs {
    /// Against the built-in simulated Graph instead of Microsoft's (demos, rehearsals); on a
    /// database calsync did not create as a demo, the command runs as its dry run
    #[arg(long)]
    pub simulated_graph: bool,
    /// Let the simulated Graph's results be written to this database although calsync did not
    /// create it as a demo (the URL or path of the database in use); implies --simulated-graph
    #[arg(long, value_name = "DATABASE")]
    pub simulated_graph_writes_to: Option<String>,
}
