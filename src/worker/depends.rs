//! What a parked failure depends on: the user's email and branch, the slot's zone, and the
//! active Teams integrations (as one digest). Fixing any of them in the LMS makes the worker try
//! the selection once more by itself; the store compares them in one query per pass.

use sha2::{Digest, Sha256};

use crate::domain::worker::Dependencies;
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

/// What `selection`'s failure depends on now.
pub fn depends_on(selection: &Selection, integrations: &str) -> Dependencies {
    Dependencies {
        email: selection.email.clone(),
        branch_id: selection.branch_id,
        zone: selection.timezone.clone(),
        integrations: integrations.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
