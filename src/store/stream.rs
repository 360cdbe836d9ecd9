//! Every row a filter matches, in order, in batches through a bounded channel: `status --json`
//! and the exports hold a batch or two in memory whatever the number of rows, and the database
//! reads the next batch while the caller writes the last one.
//!
//! On PostgreSQL the whole answer is one statement on a session of its own, its rows mapped as
//! the server sends them (the session stops reading while the channel is full): one plan and one
//! join, where pages were each planned and joined anew. On SQLite it is keyset pages, one
//! statement each, so no read is held open for the whole export: in the LMS's rollback-journal
//! mode a long read keeps its writers from committing.

use tokio::sync::mpsc;

use super::{Backend, Store, StoreError, sql};
use crate::domain::{Filter, Listed, PageRequest, Sort};

/// Batches waiting for the reader of the stream (the one being written is a third).
const BATCHES_AHEAD: usize = 2;

/// What one stream reads: every row of `filter` in `sort` order, at most `limit`.
#[derive(Debug, Clone)]
pub struct Listing {
    pub filter: Filter,
    pub sort: Sort,
    pub limit: u64,
}

pub type Batch = Result<Vec<Listed>, StoreError>;

impl Store {
    /// The rows of `listing` in batches of up to `batch` rows; after an error, nothing more.
    pub fn stream_listing(&self, listing: Listing, batch: u32) -> mpsc::Receiver<Batch> {
        let (sink, batches) = mpsc::channel(BATCHES_AHEAD);
        let store = self.clone();
        tokio::spawn(async move {
            let read = match &store.backend {
                // One page needs no session of its own.
                Backend::Postgres(pg) if listing.limit > u64::from(batch) => {
                    let request = PageRequest {
                        filter: listing.filter.clone(),
                        sort: listing.sort,
                        after: None,
                        limit: u32::try_from(listing.limit).unwrap_or(u32::MAX),
                    };
                    match store
                        .filtered(&request.filter, || {
                            sql::selection_page(store.dialect(), &request)
                        })
                        .await
                    {
                        Ok(statement) => {
                            pg.stream(statement, sql::map_listed, batch as usize, &sink)
                                .await
                        }
                        Err(e) => Err(e),
                    }
                }
                _ => store.page_by_page(&listing, batch, &sink).await,
            };
            if let Err(e) = read {
                let _ = sink.send(Err(e)).await;
            }
        });
        batches
    }

    async fn page_by_page(
        &self,
        listing: &Listing,
        batch: u32,
        sink: &mpsc::Sender<Batch>,
    ) -> Result<(), StoreError> {
        let mut request = PageRequest {
            filter: listing.filter.clone(),
            sort: listing.sort,
            after: None,
            limit: 0,
        };
        let mut read = 0u64;
        while read < listing.limit {
            request.limit = (listing.limit - read).min(u64::from(batch)) as u32;
            let (rows, next) = self.listing(&request).await?;
            read += rows.len() as u64;
            // The reader went away: nothing more is wanted.
            if sink.send(Ok(rows)).await.is_err() {
                return Ok(());
            }
            match next {
                Some(next) => request.after = Some(next),
                None => break,
            }
        }
        Ok(())
    }
}
