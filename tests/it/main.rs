//! One integration-test binary (one link step), with a module per capability.

mod support;

mod bench;
mod cli;
mod graph_client;
mod sim_server;
mod store;
mod sync;
