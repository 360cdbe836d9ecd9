//! One integration-test binary (one link step), with a module per capability.

// A test that unwraps fails where its assumption broke; the crate's lints deny these outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod app_wide_throttling;
mod audit_cli;
mod bench;
mod claims;
mod cli;
mod concurrency;
mod config_cli;
mod connecting;
mod console;
mod console_columns;
mod console_newest_failures;
mod console_operator;
mod console_overview;
mod console_queries;
mod console_viewport;
mod console_workers;
mod doctor_tokens;
mod filter_lookups;
mod graph_client;
mod help;
mod http_client;
mod ics;
mod ids;
mod in_flight;
mod malformed_rows;
mod module_graph;
mod own_tables;
mod pg_tls;
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
mod tls;
mod tmux;
mod unicode_match;
mod verify;
mod web_links;
mod worker;
