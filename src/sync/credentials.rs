//! Whose app registration serves a mailbox during one run: read once, chosen per person the
//! LMS's way. Shared by sync, reconcile and verify so the three never disagree.

use super::error::SyncError;
use crate::domain::{StoredCredentials, choose_credentials};
use crate::graph::{Credentials, Secret};
use crate::store::Store;

pub enum RunCredentials {
    /// `CALSYNC_TENANT_ID` & co.: one app registration for everybody.
    Override(StoredCredentials),
    /// The active integrations (few rows), chosen per user the LMS's way.
    Lms(Vec<StoredCredentials>),
}

/// Who a mailbox belongs to, as far as choosing credentials goes.
pub struct Holder<'a> {
    pub user_id: i64,
    pub username: &'a str,
    pub branch_id: Option<i64>,
    pub branch_name: Option<&'a str>,
}

impl RunCredentials {
    pub async fn load(
        store: &Store,
        credentials_override: Option<&StoredCredentials>,
    ) -> Result<RunCredentials, SyncError> {
        Ok(match credentials_override {
            Some(one) => RunCredentials::Override(one.clone()),
            None => RunCredentials::Lms(
                store
                    .active_credentials()
                    .await
                    .map_err(|e| SyncError::Integrations(e.to_string()))?,
            ),
        })
    }

    pub fn for_holder(&self, holder: &Holder<'_>) -> Result<Credentials, SyncError> {
        let chosen = match self {
            RunCredentials::Override(one) => Some(one),
            RunCredentials::Lms(active) => {
                choose_credentials(active, holder.user_id, holder.branch_id).map(|(c, _)| c)
            }
        };
        let chosen = chosen.ok_or_else(|| {
            // The LMS's own words first, so the Django pages read the same; then why.
            let place = holder
                .branch_name
                .map(|b| format!("branch '{b}'"))
                .unwrap_or_else(|| "no branch".to_string());
            SyncError::NoIntegration {
                place,
                username: holder.username.to_string(),
            }
        })?;
        Ok(Credentials {
            tenant_id: chosen.tenant_id.clone(),
            client_id: chosen.client_id.clone(),
            client_secret: Secret::new(chosen.client_secret.clone()),
        })
    }
}
