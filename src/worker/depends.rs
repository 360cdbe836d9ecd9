//! What a parked failure depends on, as one digest: the user's email and branch, the slot's
//! zone, and the active Teams integrations. Fixing any of them in the LMS changes the digest,
//! and the worker then tries the selection once more by itself.

use sha2::{Digest, Sha256};

use crate::domain::{Selection, StoredCredentials};

/// The active integrations as one digest (read once per pass). Secrets go into the hash only,
/// mixed with everything else, so a rotated secret counts as a change.
pub fn integrations_digest(integrations: &[StoredCredentials]) -> String {
    let mut hasher = Sha256::new();
    for i in integrations {
        for part in [
            i.integration_id.to_string(),
            i.tenant_id.clone(),
            i.client_id.clone(),
            i.client_secret.clone(),
            format!("{:?}", i.owner_id),
            format!("{:?}", i.owner_branch_id),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        hasher.update([1]);
    }
    hex(&hasher.finalize())
}

/// The digest of what `selection`'s failure depends on.
pub fn depends_on(selection: &Selection, integrations: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [
        selection.email.trim().to_lowercase(),
        format!("{:?}", selection.branch_id),
        selection.timezone.clone(),
        integrations.to_string(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
