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

mod as_a_user;
mod graph_only;
mod lms;
mod scratch_lms;
mod shared;
mod store;
mod sync;
pub mod verify;
mod world;

pub(super) use shared::demo_database;
pub use store::store;
pub use sync::sync;
