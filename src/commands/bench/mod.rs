//! `calsync bench`: speed measured against a baseline taken in the same run, on the same
//! machine, so the ratios mean something on a shared, noisy host.
//!
//! `bench store` ([`store`]) times calsync's store (the code `status` and the console use)
//! against the `sqlite3` shell running the very same SQL text with the values written in, which
//! is the floor for what any SQLite client can do.
//!
//! `bench sync` ([`sync`]) times a bulk sync against the simulated Graph (real HTTP on
//! 127.0.0.1, a real SQLite file): calsync's engine, the LMS's `sync_calendar_events`
//! re-enacted request by request ([`lms`]), the floor any client could reach under Graph's
//! 4-per-mailbox limit, and individual requests against `$batch` ([`graph_only`]). Every mode
//! must create exactly one event per selection ([`world`]), in a fresh LMS database each run
//! ([`scratch_lms`]).
//!
//! `bench verify` ([`verify`]) times the drift check against one GET per event.
//!
//! `bench reconcile` ([`reconcile`]) times `calsync reconcile --dry-run` as a user runs it
//! against the floor Graph's limits allow for the same requests.
//!
//! `bench worker` ([`worker`]) times a quiet pass of `calsync worker` on a settled copy of the
//! 1M-row demo database against the pass before the watch, and the lag from a new row to its
//! event with the worker a real process.

mod as_a_user;
pub mod console;
mod cpu;
mod floor;
mod graph_only;
mod lms;
mod pg;
pub mod reconcile;
mod scratch_lms;
mod shared;
mod store;
mod stream;
mod sync;
pub mod verify;
pub mod worker;
mod worker_db;
mod worker_lag;
mod world;

pub(super) use shared::demo_database;
pub use store::store;
pub use sync::sync;
