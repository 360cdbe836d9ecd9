//! `calsync doctor --check-tokens`: one token request per active Teams integration, so a secret
//! rotated in Entra ID but not in the LMS shows up before thousands of failures name it. Only
//! the outcome is printed (ok, or the AADSTS code with what to do), never the secret.

use super::rehearsal::Rehearsal;
use super::{CliError, Output};
use crate::cli::simulation::SimulationArgs;
use crate::domain::StoredCredentials;
use crate::graph::{Credentials, GraphClient, Secret};
use crate::store::Store;
use crate::sync::SyncOptions;
use crate::text::clean_line;

/// Prints one line per active integration (and the `CALSYNC_*` override when set) and returns
/// how many could not get a token.
pub async fn check(store: &Store, out: &mut Output) -> Result<usize, CliError> {
    let mut registrations = store.active_credentials().await?;
    if let Some(single) = SyncOptions::credentials_from_env().map_err(CliError::unusable)? {
        registrations.push(single);
    }
    // The demo's integrations belong to the simulated tenant: the real login could only fail.
    let rehearsal = Rehearsal::decide(store, &SimulationArgs::default()).await?;
    let target = rehearsal.graph(store).await?;
    out.line("")?;
    out.line(&format!(
        "Token check  {} app registration{} at {}{}",
        registrations.len(),
        if registrations.len() == 1 { "" } else { "s" },
        target.config.login_url,
        if target.simulated() {
            " (simulated Graph)"
        } else {
            ""
        }
    ))?;
    out.flush()?;
    let mut failures = 0;
    for registration in &registrations {
        // A client of its own for each: the token cache is keyed by tenant and client id, and two
        // integrations with the same app but different secrets must each be asked about.
        let client = GraphClient::new(target.config.clone())
            .map_err(|e| CliError::unusable(format!("cannot set up the Graph client: {e}")))?;
        let outcome = match client.check_credentials(&credentials(registration)).await {
            Ok(()) => "ok: token issued".to_string(),
            Err(e) => {
                failures += 1;
                format!("! {}", e.operator_text())
            }
        };
        // Each part cleaned alone: clean_line collapses the spacing between them.
        out.line(&format!(
            "  {}  {}",
            clean_line(&label(registration)),
            clean_line(&outcome)
        ))?;
        out.flush()?;
    }
    target.shutdown().await;
    Ok(failures)
}

fn credentials(registration: &StoredCredentials) -> Credentials {
    Credentials {
        tenant_id: registration.tenant_id.clone(),
        client_id: registration.client_id.clone(),
        client_secret: Secret::new(registration.client_secret.clone()),
    }
}

fn label(registration: &StoredCredentials) -> String {
    if registration.integration_id == 0 {
        registration.integration_name.clone()
    } else {
        format!(
            "#{} {}",
            registration.integration_id, registration.integration_name
        )
    }
}
