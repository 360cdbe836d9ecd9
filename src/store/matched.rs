//! A filter's text conditions looked up once: the users a `user:` or free text matches, and for
//! free text the conferences and the selections by error text, as id lists the statements bind
//! (see [`sql::Matched`]). Without this a page and its counts each scan every user (and every
//! error text) again; with it they find their rows through the selection table's indexes.
//!
//! The lookups of one filter run side by side, each on a read connection of its own, and a
//! lookup is shared by the statements that ask for it within [`FRESH`] (the console asks for a
//! page and its counts at the same moment).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::sql::{self, Matched, Sql};
use super::{Store, StoreError};
use crate::domain::Filter;

/// How long a lookup serves further statements of the same filter.
const FRESH: Duration = Duration::from_secs(2);
/// More matches than this are matched by the statements themselves (a list that long would
/// cost more to bind than the scan it saves).
const MOST_IDS: u32 = 2000;

/// The last lookup, for the statements asked for together.
#[derive(Default)]
pub struct Lookups {
    last: tokio::sync::Mutex<Option<(Key, Instant, Arc<Matched>)>>,
}

type Key = (Option<String>, Option<String>);

impl Store {
    /// A statement for `filter` built by `build`, with its text conditions looked up first.
    pub(super) async fn filtered(
        &self,
        filter: &Filter,
        build: impl FnOnce() -> Sql,
    ) -> Result<Sql, StoreError> {
        if filter.person.is_none() && filter.text.is_none() {
            return Ok(build());
        }
        let matched = self.lookup(filter).await?;
        Ok(sql::with_matched(matched.as_ref().clone(), build))
    }

    async fn lookup(&self, filter: &Filter) -> Result<Arc<Matched>, StoreError> {
        let key: Key = (filter.person.clone(), filter.text.clone());
        // Held while looking up: a statement asked for meanwhile waits and shares the answer.
        let mut last = self.lookups.last.lock().await;
        if let Some((k, at, matched)) = last.as_ref()
            && *k == key
            && at.elapsed() < FRESH
        {
            return Ok(Arc::clone(matched));
        }
        let dialect = self.dialect();
        let ids = |sql: Option<Sql>| async move {
            match sql {
                Some(sql) => self.query(sql, sql::map_id).await.map(Some),
                None => Ok(None),
            }
        };
        let text = filter.text.as_deref();
        let (person_users, text_users, conferences, errors) = tokio::join!(
            ids(filter
                .person
                .as_deref()
                .map(|p| sql::users_matching(dialect, p, MOST_IDS + 1))),
            ids(text.map(|t| sql::users_matching(dialect, t, MOST_IDS + 1))),
            ids(text.map(|t| sql::conferences_matching(dialect, t, MOST_IDS + 1))),
            ids(text.map(|t| sql::errors_matching(dialect, t, MOST_IDS + 1))),
        );
        let mut matched = Matched::default();
        let few = |found: Option<Vec<i64>>| found.filter(|ids| ids.len() <= MOST_IDS as usize);
        if let (Some(p), Some(ids)) = (&filter.person, few(person_users?)) {
            matched.users.insert(p.clone(), ids);
        }
        if let Some(t) = text {
            if let Some(ids) = few(text_users?) {
                matched.users.insert(t.to_string(), ids);
            }
            if let Some(ids) = few(conferences?) {
                matched.conferences.insert(t.to_string(), ids);
            }
            if let Some(ids) = few(errors?) {
                matched.errors.insert(t.to_string(), ids);
            }
        }
        let matched = Arc::new(matched);
        *last = Some((key, Instant::now(), Arc::clone(&matched)));
        Ok(matched)
    }
}
