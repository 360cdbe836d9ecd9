//! Why a worker pass could not run: shared by the pass and the cleanup it ends with.

use crate::store::StoreError;

/// Why a pass could not run (the worker waits and tries again; it never exits on these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassError {
    /// The database did not answer or refused.
    Database(String),
    /// SQLite: another calsync (a `calsync sync`, a console) holds the database's run lock.
    Busy(String),
    /// The run could not start (credentials unreadable, nothing recordable).
    Sync(String),
}

impl From<StoreError> for PassError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy(holder) => PassError::Busy(holder),
            other => PassError::Database(other.to_string()),
        }
    }
}

impl std::fmt::Display for PassError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassError::Database(e) => write!(f, "the database: {e}"),
            PassError::Busy(holder) => write!(f, "{holder}"),
            PassError::Sync(e) => write!(f, "{e}"),
        }
    }
}
