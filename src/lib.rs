//! calsync: an operator console and sync engine for the LMS's Outlook calendar sync.
//!
//! Layers, each depending only on those above it: `domain` (plain data), `store` (the LMS
//! database), `text` (making database text safe to show), `config` (where things come from),
//! and the commands built on them.

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod domain;
pub mod store;
pub mod text;
