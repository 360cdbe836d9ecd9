//! What the console's background work hands back: plain data, ready to draw.

use super::app::SyncTarget;
use crate::domain::{Cause, CredentialSource, Person, Scope, StateCounts};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OverviewData {
    pub counts: StateCounts,
    /// Failed selections per UTC day of their last attempt, oldest first.
    pub trend: Vec<(String, u64)>,
    /// (conference id, title, failed, total), most failures first.
    pub worst_conferences: Vec<(i64, String, u64, u64)>,
    /// Failed selections by cause, most first.
    pub causes: Vec<(Cause, u64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PersonData {
    pub person: Person,
    /// The integration the LMS would use, and why; never the secret.
    pub integration: Option<(String, String, String, CredentialSource)>,
    /// Why there is none, in plain words.
    pub no_integration_reason: Option<String>,
}

/// A bulk run as it will happen, shown before anything is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkPlan {
    pub scope: Scope,
    pub target: SyncTarget,
    pub count: u64,
    pub counts: StateCounts,
    /// The failed ones among them, by cause.
    pub causes: Vec<(Cause, u64)>,
}
