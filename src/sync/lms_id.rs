//! What calsync writes into the LMS's `outlook_event_id`: the regular REST id, the format the
//! LMS itself stores (its Graph calls send no `Prefer: IdType`), so the LMS's own code reads a
//! row calsync wrote as it reads its own. Graph answers calsync with immutable ids, which the
//! ledger keeps because they survive moves; the REST id is asked for with
//! `translateExchangeIds` (concepts/outlook-immutable-id.md).

use super::rest_ids::Attempting;
use crate::graph::{Credentials, GraphClient};

/// The id to write into the row for the event Graph answered with `immutable`. `updated_by`:
/// the row's id when the write was an update of that very id, which then already names the
/// event in the LMS's format and stays.
pub(super) async fn column_id(
    attempting: Option<Attempting>,
    immutable: &str,
    updated_by: Option<&str>,
) -> String {
    if let Some(current) = updated_by.map(str::trim).filter(|id| !id.is_empty())
        && current != immutable
    {
        return current.to_string();
    }
    let Some(attempting) = attempting else {
        return immutable.to_string();
    };
    // Untranslated, the event still exists and must be recorded: an immutable id still names
    // it in every Graph path, and reconcile and verify translate whatever format a row holds.
    attempting
        .rest_id(immutable)
        .await
        .unwrap_or_else(|| immutable.to_string())
}

/// The ledger's ids (immutable) of `selection_id`'s live events in `mailbox` that Graph no
/// longer knows. Called when the row's own id answered 404: the ledger names that event in the
/// other format, and a gone event cannot be translated, so what is gone is asked instead. An
/// event that still exists is left alone (it is another one, for reconcile to judge).
pub(super) async fn gone_in_ledger(
    store: &crate::store::Store,
    graph: &GraphClient,
    credentials: &Credentials,
    mailbox: &str,
    selection_id: i64,
) -> Vec<String> {
    let Ok(rows) = store.ledger_of_selection(selection_id).await else {
        return Vec::new();
    };
    let alive: Vec<String> = rows
        .into_iter()
        .filter(|r| r.deleted_at.is_none() && r.mailbox.eq_ignore_ascii_case(mailbox))
        .map(|r| r.event_id)
        .collect();
    if alive.is_empty() {
        return Vec::new();
    }
    match super::event_ids::MailboxIds::resolve(
        graph,
        credentials,
        mailbox,
        alive.iter().map(String::as_str),
    )
    .await
    {
        Ok(known) => alive.into_iter().filter(|id| !known.exists(id)).collect(),
        // Unknown is not gone: the next verify or reconcile finds out.
        Err(_) => Vec::new(),
    }
}
