//! Why a person's calendar sync can work or not: the Teams integration the LMS would choose
//! for them (by the LMS's own rules), or the reason there is none.

use super::text;
use crate::domain::{CredentialSource, Person, choose_credentials};
use crate::store::Store;

#[derive(Debug, Clone, PartialEq)]
pub struct PersonData {
    pub person: Person,
    /// The integration the LMS would use, and why; never the secret.
    pub integration: Option<(String, String, String, CredentialSource)>,
    /// Why there is none, in plain words.
    pub no_integration_reason: Option<String>,
}

/// The person and their integration, or None when there is no such user.
pub async fn person(store: &Store, user_id: i64) -> Result<Option<PersonData>, String> {
    let Some(person) = text(store.person(user_id).await)? else {
        return Ok(None);
    };
    let active = text(store.active_credentials().await)?;
    let chosen = choose_credentials(&active, person.id, person.branch_id);
    let integration = chosen.map(|(c, why)| {
        (
            c.integration_name.clone(),
            c.tenant_id.clone(),
            c.client_id.clone(),
            why,
        )
    });
    let no_integration_reason = match (&integration, &person.branch_name) {
        (Some(_), _) => None,
        (None, Some(branch)) => Some(format!(
            "No active Teams integration is owned by anyone in branch '{branch}', and {} owns none. \
             The LMS looks integrations up through their owner's branch, not the integration's own branch.",
            person.username
        )),
        (None, None) => Some(format!(
            "{} has no branch and owns no active Teams integration.",
            person.username
        )),
    };
    Ok(Some(PersonData {
        person,
        integration,
        no_integration_reason,
    }))
}
