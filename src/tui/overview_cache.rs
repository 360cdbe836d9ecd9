//! The last complete overview of each database, kept in calsync's data directory, so that a
//! console opened on a million rows shows counts at once (with their age) while the fresh ones
//! are counted. It holds counts, days, conference titles and cause names: nothing secret, and
//! nothing that is ever written back.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::data::OverviewData;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedOverview {
    /// The database it was read from (redacted), so a hash collision never shows another's.
    pub database: String,
    pub read_at: DateTime<Utc>,
    pub data: OverviewData,
}

/// The cache file of `database` (its redacted description) under `dir`.
pub fn file_for(dir: &Path, database: &str) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    database.hash(&mut hasher);
    dir.join(format!("overview-{:016x}.json", hasher.finish()))
}

/// The cached overview, if there is a readable one for this database.
pub fn load(file: &Path, database: &str) -> Option<CachedOverview> {
    let text = std::fs::read_to_string(file).ok()?;
    let cached: CachedOverview = serde_json::from_str(&text).ok()?;
    (cached.database == database && cached.data.complete()).then_some(cached)
}

/// Replaces the cached overview (written aside, then renamed, so a reader never sees half).
pub fn store(file: &Path, cached: &CachedOverview) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string(cached).map_err(std::io::Error::other)?;
    let aside = file.with_extension(format!("json.{}", std::process::id()));
    std::fs::write(&aside, text)?;
    std::fs::rename(&aside, file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Cause, StateCounts};

    #[test]
    fn a_stored_overview_is_read_back_for_its_database_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_for(dir.path(), "sqlite:////tmp/lms.db");
        let cached = CachedOverview {
            database: "sqlite:////tmp/lms.db".into(),
            read_at: Utc::now(),
            data: OverviewData {
                newest_failures: Some(vec![]),
                counts: Some(StateCounts {
                    failed: 3,
                    ..StateCounts::default()
                }),
                trend: Some(vec![("2026-11-24".into(), 3)]),
                worst_conferences: Some(vec![(1, "Induction".into(), 3, 9)]),
                causes: Some(vec![(Cause::UnknownUser, 3)]),
                workers: None,
            },
        };
        assert_eq!(load(&file, "sqlite:////tmp/lms.db"), None);
        store(&file, &cached).unwrap();
        assert_eq!(load(&file, "sqlite:////tmp/lms.db"), Some(cached));
        assert_eq!(load(&file, "sqlite:////tmp/other.db"), None);
        std::fs::write(&file, "{ not json").unwrap();
        assert_eq!(load(&file, "sqlite:////tmp/lms.db"), None);
    }
}
