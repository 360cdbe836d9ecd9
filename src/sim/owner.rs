//! What a mailbox's owner does in Outlook behind calsync's back, and the id lookups tests
//! need to see an event the way the LMS (REST ids) or calsync (immutable ids) sees it.

use super::events::Folder;
use super::ids::{self, IdType};
use super::state::SimState;

impl SimState {
    /// The owner deletes the event in Outlook: it moves to Deleted Items (a new REST id, the
    /// same immutable id; concepts/outlook-immutable-id.md). Returns whether it was in the
    /// calendar.
    pub fn delete_as_owner(&self, address: &str, event_id: &str) -> bool {
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        let Some(rec) = inner.mailboxes.get_mut(&address.to_lowercase()) else {
            return false;
        };
        match rec
            .events
            .iter_mut()
            .find(|e| ids::names(e, event_id) && e.folder == Folder::Calendar)
        {
            Some(event) => {
                ids::move_to_deleted_items(event, &mut inner.rng);
                true
            }
            None => false,
        }
    }

    /// The regular REST id (what the LMS stores) of the event named by `event_id` in either
    /// format, wherever it is in the mailbox.
    pub fn rest_id_of(&self, address: &str, event_id: &str) -> Option<String> {
        self.id_of(address, event_id, IdType::Rest)
    }

    /// The immutable id (what calsync's requests get back) of the event named by `event_id`.
    pub fn immutable_id_of(&self, address: &str, event_id: &str) -> Option<String> {
        self.id_of(address, event_id, IdType::Immutable)
    }

    /// How many of the mailbox's events are in Deleted Items.
    pub fn deleted_items_count(&self, address: &str) -> usize {
        self.shared
            .lock()
            .mailboxes
            .get(&address.to_lowercase())
            .map_or(0, |m| {
                m.events
                    .iter()
                    .filter(|e| e.folder == Folder::DeletedItems)
                    .count()
            })
    }

    fn id_of(&self, address: &str, event_id: &str, id_type: IdType) -> Option<String> {
        let inner = self.shared.lock();
        let event = inner
            .mailboxes
            .get(&address.to_lowercase())?
            .events
            .iter()
            .find(|e| ids::names(e, event_id))?;
        Some(ids::shown_id(event, id_type).to_string())
    }
}
