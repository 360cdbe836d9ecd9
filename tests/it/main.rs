//! One integration-test binary (one link step), with a module per capability.

mod support;

mod bench;
mod claims;
mod cli;
mod connecting;
mod console;
mod graph_client;
mod http_client;
mod ics;
mod ids;
mod lifecycle;
mod malformed_rows;
mod pg_tls;
mod reconcile;
mod rehearsal;
mod sim_ids;
mod sim_server;
mod snapshots;
mod store;
mod sync;
mod sync_cli;
mod teams;
mod tmux;
mod unicode_match;
mod verify;
