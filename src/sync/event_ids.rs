//! Event ids of unknown format made comparable. The LMS's column holds regular REST ids (its
//! calls send no `Prefer: IdType`), rows calsync wrote before it kept REST ids hold immutable
//! ids, the ledger holds immutable ids, and Graph answers in whatever format it answers in.
//! Ids of one item in the two formats are different strings (concepts/outlook-immutable-id.md),
//! so nothing here compares across formats: each id is translated to the immutable form with
//! `translateExchangeIds` (batched per mailbox) and the translations are compared.

use std::collections::{HashMap, HashSet};

use crate::graph::{Credentials, GraphClient, GraphError, IdFormat};

/// Ids of one mailbox, each with its immutable form when Graph knows the item.
#[derive(Debug, Default)]
pub struct MailboxIds {
    /// Any id as given → the item's immutable id. Absent: no such item (deleted, or an old REST
    /// id of an item that has moved since).
    immutable: HashMap<String, String>,
}

impl MailboxIds {
    /// Asks Graph about `ids` of `mailbox`: first as REST ids, then the rest as immutable ids,
    /// except those the first answer already gave as some REST id's immutable id.
    pub async fn resolve<'a>(
        graph: &GraphClient,
        creds: &Credentials,
        mailbox: &str,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<MailboxIds, GraphError> {
        let mut unique: Vec<String> = ids
            .into_iter()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        unique.sort();
        let mut immutable = HashMap::new();
        if unique.is_empty() {
            return Ok(MailboxIds { immutable });
        }
        let as_rest = graph
            .translate_ids(creds, mailbox, &unique, IdFormat::Rest, IdFormat::Immutable)
            .await?;
        // Graph just named these as the immutable ids of existing items: asking again whether
        // they are would only repeat its answer (a round trip per mailbox saved).
        let named: HashSet<&str> = as_rest.values().map(String::as_str).collect();
        let (known, others): (Vec<String>, Vec<String>) = unique
            .into_iter()
            .filter(|id| !as_rest.contains_key(id))
            .partition(|id| named.contains(id.as_str()));
        immutable.extend(known.into_iter().map(|id| (id.clone(), id)));
        immutable.extend(as_rest);
        if !others.is_empty() {
            // An id Graph can turn into a REST id is an immutable id of an existing item.
            let as_immutable = graph
                .translate_ids(creds, mailbox, &others, IdFormat::Immutable, IdFormat::Rest)
                .await?;
            immutable.extend(as_immutable.into_keys().map(|id| (id.clone(), id)));
        }
        Ok(MailboxIds { immutable })
    }

    /// The item's immutable id, when Graph knows an item by `id`.
    pub fn immutable(&self, id: &str) -> Option<&str> {
        self.immutable.get(id.trim()).map(String::as_str)
    }

    /// Whether Graph knows an item by `id`.
    pub fn exists(&self, id: &str) -> bool {
        self.immutable(id).is_some()
    }

    /// A key equal for every id of one item: its immutable id, else the id itself.
    pub fn key(&self, id: &str) -> String {
        self.immutable(id).unwrap_or(id.trim()).to_string()
    }

    /// Whether `a` and `b` name the same item: the same string, or the same item once
    /// translated.
    pub fn same(&self, a: &str, b: &str) -> bool {
        let (a, b) = (a.trim(), b.trim());
        if a == b {
            return true;
        }
        match (self.immutable(a), self.immutable(b)) {
            (Some(x), Some(y)) => x == y,
            (Some(x), None) => x == b,
            (None, Some(y)) => y == a,
            (None, None) => false,
        }
    }
}

/// A set of ids (of any format) that events are looked up in by [`MailboxIds::same`].
pub struct PointedIds<'a> {
    ids: &'a MailboxIds,
    keys: HashSet<String>,
}

impl<'a> PointedIds<'a> {
    pub fn new<'b>(ids: &'a MailboxIds, pointed: impl IntoIterator<Item = &'b str>) -> Self {
        let mut keys = HashSet::new();
        for id in pointed {
            keys.insert(id.trim().to_string());
            if let Some(immutable) = ids.immutable(id) {
                keys.insert(immutable.to_string());
            }
        }
        PointedIds { ids, keys }
    }

    /// Whether something points to the event Graph calls `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.keys.contains(id.trim())
            || self
                .ids
                .immutable(id)
                .is_some_and(|immutable| self.keys.contains(immutable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(pairs: &[(&str, &str)]) -> MailboxIds {
        MailboxIds {
            immutable: pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    #[test]
    fn ids_of_one_item_in_two_formats_are_the_same_item_only_after_translation() {
        let ids = known(&[("rest-1", "imm-1"), ("imm-1", "imm-1"), ("rest-2", "imm-2")]);
        assert!(ids.same("rest-1", "imm-1"));
        assert!(ids.same("imm-1", "rest-1"));
        assert!(!ids.same("rest-1", "imm-2"));
        assert!(!ids.same("rest-1", "REST-1"), "ids are case-sensitive");
        // Graph may answer in the other format without knowing it: still the same item.
        let partial = known(&[("rest-1", "imm-1")]);
        assert!(partial.same("imm-1", "rest-1"));
        assert!(!partial.same("gone", "imm-1"));
    }

    #[test]
    fn a_pointer_in_either_format_covers_the_event() {
        let ids = known(&[("rest-1", "imm-1"), ("imm-1", "imm-1")]);
        let pointed = PointedIds::new(&ids, ["rest-1"]);
        assert!(pointed.contains("imm-1"));
        assert!(pointed.contains("rest-1"));
        assert!(!pointed.contains("imm-2"));
        let old_calsync = PointedIds::new(&ids, ["imm-1"]);
        assert!(old_calsync.contains("rest-1"));
    }
}
