//! The demo LMS database: production-shaped SQLite (the real Django schema, every NOT NULL column
//! filled), generated deterministically from a seed around the hour it is created. It holds
//! every sync state with error texts in the LMS's real formats, and the awkward cases support
//! staff meet: DST gaps and overlaps, a slot crossing midnight, an unknown zone, a user without
//! email, personal addresses that are no tenant mailbox, an expired client secret, a branch
//! without integration, hostile HTML and terminal escapes in titles and errors.

mod catalogue;
mod generate;
pub mod lms_rows;
mod outcome;
mod policy;
mod seed;
mod simulator;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Timelike, Utc};

pub use policy::{
    DemoIntegration, EXPIRED_SECRET_TENANT, INTEGRATIONS, PERSONAL_DOMAIN, TENANT_DOMAINS,
    demo_client_id, demo_secret, mailbox_state,
};
pub use seed::{Leftovers, SEED_LIMIT, SeedReport, seed_mailboxes, seed_simulator};
pub use simulator::{SimulatorSettings, simulator_config, start_simulator};

#[derive(Debug, Clone)]
pub struct DemoSpec {
    pub selections: u64,
    pub seed: u64,
    /// The moment the data is laid around (attempt times, conference dates).
    pub anchor: DateTime<Utc>,
}

impl DemoSpec {
    pub fn new(selections: u64) -> DemoSpec {
        let now = Utc::now();
        DemoSpec {
            selections,
            seed: 2025,
            anchor: now
                .with_minute(0)
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(now),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DemoReport {
    pub path: PathBuf,
    pub conferences: u64,
    pub slots: u64,
    pub users: u64,
    pub selections: u64,
}

/// Creates the demo database at `path` (replacing nothing: call [`remove`] first to rebuild).
/// The file appears whole or not at all: rows are written to a temporary file that is renamed.
pub fn create(
    path: &Path,
    spec: &DemoSpec,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DemoReport, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let partial = path.with_extension("db.partial");
    let _ = std::fs::remove_file(&partial);
    let result = generate::generate(&partial, spec, progress);
    match result {
        Ok(mut report) => {
            std::fs::rename(&partial, path)
                .map_err(|e| format!("cannot move the demo database into place: {e}"))?;
            report.path = path.to_path_buf();
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// The demo's durable marker: the SQLite header's application id ("cals" in ASCII, as calsync's
/// advisory-lock namespace). It lives in the file header, so it survives copies and needs no
/// table in the LMS's schema; the LMS never sets one.
pub const DEMO_APPLICATION_ID: i64 = 0x6361_6c73;

/// Whether `store` is a demo database calsync created (never true on PostgreSQL).
pub async fn is_demo(store: &crate::store::Store) -> Result<bool, crate::store::StoreError> {
    Ok(store.application_id().await? == Some(DEMO_APPLICATION_ID))
}

/// Where `calsync demo` keeps its database when no --db is given: calsync's own data directory.
pub fn default_path() -> Option<PathBuf> {
    crate::config::data_dir().map(|dir| dir.join("demo.db"))
}

/// Removes a demo database and its SQLite side files.
pub fn remove(path: &Path) -> Result<(), String> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", file.display())),
        }
    }
    Ok(())
}
