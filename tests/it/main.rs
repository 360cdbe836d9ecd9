//! One integration-test binary (one link step), with a module per capability.

mod support;

mod audit_cli;
mod bench;
mod claims;
mod cli;
mod config_cli;
mod console;
mod doctor_tokens;
mod graph_client;
mod help;
mod http_client;
mod ics;
mod ids;
mod in_flight;
mod lifecycle;
mod read_only;
mod reconcile;
mod record;
mod rehearsal;
mod runs;
mod signals;
mod sim_ids;
mod sim_server;
mod snapshots;
mod status_cause;
mod store;
mod sync;
mod sync_cli;
mod teams;
mod tmux;
mod verify;
mod worker;
