//! `POST /users/{mailbox}/translateExchangeIds`: one item's id in Graph's other format
//! (api-reference/v1.0/api/user-translateexchangeids.md). Ids of one item in the two REST
//! formats are different strings, so comparing them needs this (or a property both share).

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{GraphClient, Replay};
use super::{Credentials, GraphError};

/// "Maximum size of this collection is 1000 strings."
pub const MAX_TRANSLATE_IDS: usize = 1000;

/// The two id formats Graph's REST API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdFormat {
    /// `restId`: what Graph answers without `Prefer: IdType="ImmutableId"` (the LMS's ids).
    Rest,
    /// `restImmutableEntryId`: what calsync asks for; it survives moves between folders.
    Immutable,
}

impl IdFormat {
    fn as_str(self) -> &'static str {
        match self {
            IdFormat::Rest => "restId",
            IdFormat::Immutable => "restImmutableEntryId",
        }
    }
}

impl GraphClient {
    /// Translates `ids` of mailbox `mailbox`, all in format `from`, to format `to`, in calls of
    /// at most [`MAX_TRANSLATE_IDS`]. The answer maps each id Graph converted to its target;
    /// an id Graph could not convert (not an id of that format, or no such item) is absent.
    pub async fn translate_ids(
        &self,
        creds: &Credentials,
        mailbox: &str,
        ids: &[String],
        from: IdFormat,
        to: IdFormat,
    ) -> Result<HashMap<String, String>, GraphError> {
        let url = self.user_url(mailbox, "/translateExchangeIds")?;
        let mut translated = HashMap::new();
        for chunk in ids.chunks(MAX_TRANSLATE_IDS) {
            let body = json!({
                "inputIds": chunk,
                "sourceIdType": from.as_str(),
                "targetIdType": to.as_str(),
            });
            // A function that changes nothing: safe to send again.
            let reply = self
                .call(
                    creds,
                    mailbox,
                    Method::POST,
                    &url,
                    Some(&body),
                    Replay::Safe,
                )
                .await?;
            let results = reply
                .body
                .as_ref()
                .and_then(|b| b.get("value"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for result in results {
                let source = result.get("sourceId").and_then(Value::as_str);
                let target = result.get("targetId").and_then(Value::as_str);
                if let (Some(source), Some(target)) = (source, target)
                    && chunk.iter().any(|id| id == source)
                    && !target.is_empty()
                {
                    translated.insert(source.to_string(), target.to_string());
                }
            }
        }
        Ok(translated)
    }
}
