//! calsync: an operator console and sync engine for the LMS's Outlook calendar sync.
//!
//! Layers: `domain` (plain data) and `text` (database text made safe to show) underpin
//! everything; `store` (the LMS database) and `graph` (Microsoft Graph) know nothing of each
//! other; `sync` is the engine between them; `sim` is a simulated Graph that speaks the same
//! HTTP; `commands` are thin callers of all of them.

pub mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod config_edit;
pub mod demo;
pub mod domain;
pub mod export;
pub mod graph;
pub mod ics;
pub mod jobs;
pub mod report;
pub mod signals;
pub mod sim;
pub mod store;
pub mod sync;
pub mod text;
pub mod tui;
pub mod worker;
