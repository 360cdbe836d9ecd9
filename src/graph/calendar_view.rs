//! `GET /users/{mailbox}/calendarView` over one or several windows of one mailbox.
//!
//! Several windows go as one `$batch` (graph docs: json-batching.md, up to 20 requests in one
//! POST; each item still counts against the mailbox's limits, and Graph runs up to four at a
//! time, throttling-limits.md "Outlook service limits"), so a mailbox's windows cost one HTTP
//! round trip instead of one each. Pages after an item's first follow its `@odata.nextLink`
//! one request at a time, as for a single window.

use chrono::{DateTime, Utc};

use super::batch::BatchRequest;
use super::client::MAX_PAGES;
use super::{Credentials, EventInfo, GraphClient, GraphError, ids};

/// Events per calendarView page (Graph's default is 10).
const CALENDAR_VIEW_PAGE: usize = 100;

impl GraphClient {
    /// [`calendar_views`](Self::calendar_views) of one window.
    pub async fn calendar_view(
        &self,
        creds: &Credentials,
        mailbox: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        property_id: &str,
    ) -> Result<Vec<EventInfo>, GraphError> {
        let first = self.user_url(mailbox, &view_path(start, end, property_id))?;
        self.all_pages(creds, mailbox, first).await
    }

    /// Every event of `mailbox` overlapping each window (`start`, `end`), per window in the
    /// order given, with `subject`, `start` and `end` (in UTC) and the extended property
    /// `property_id` expanded, every `@odata.nextLink` followed. The first failure of any
    /// window is the answer.
    pub async fn calendar_views(
        &self,
        creds: &Credentials,
        mailbox: &str,
        windows: &[(DateTime<Utc>, DateTime<Utc>)],
        property_id: &str,
    ) -> Result<Vec<Vec<EventInfo>>, GraphError> {
        if let [(start, end)] = windows {
            return Ok(vec![
                self.calendar_view(creds, mailbox, *start, *end, property_id)
                    .await?,
            ]);
        }
        if mailbox.trim().is_empty() {
            return Err(GraphError::invalid_input("the mailbox address is empty"));
        }
        let requests = windows
            .iter()
            .enumerate()
            .map(|(n, (start, end))| BatchRequest {
                id: (n + 1).to_string(),
                method: reqwest::Method::GET,
                url: format!(
                    "/{}{}",
                    ids::user_segment(mailbox),
                    view_path(*start, *end, property_id)
                ),
                mailbox: mailbox.to_string(),
                body: None,
            })
            .collect();
        let mut found = Vec::with_capacity(windows.len());
        for response in self.batch(creds, requests).await? {
            let first = response.outcome?;
            let body = first.body.unwrap_or(serde_json::Value::Null);
            found.push(
                self.pages_after(creds, mailbox, body, first.request_id, MAX_PAGES - 1)
                    .await?,
            );
        }
        Ok(found)
    }
}

/// The first page's path under `/users/{mailbox}`.
fn view_path(start: DateTime<Utc>, end: DateTime<Utc>, property_id: &str) -> String {
    let instant = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let expand = format!(
        "singleValueExtendedProperties($filter=id eq '{}')",
        property_id.replace('\'', "''")
    );
    format!(
        "/calendarView?startDateTime={}&endDateTime={}&$select=subject,start,end&$expand={}&$top={CALENDAR_VIEW_PAGE}",
        ids::encode_query_value(&instant(start)),
        ids::encode_query_value(&instant(end)),
        ids::encode_query_value(&expand)
    )
}
