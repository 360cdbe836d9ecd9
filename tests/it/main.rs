//! One integration-test binary (one link step), with a module per capability.

mod support;

mod bench;
mod claims;
mod cli;
mod console;
mod graph_client;
mod http_client;
mod ics;
mod lifecycle;
mod reconcile;
mod rehearsal;
mod sim_server;
mod snapshots;
mod store;
mod sync;
mod sync_cli;
mod teams;
mod tmux;
mod verify;
mod worker;
