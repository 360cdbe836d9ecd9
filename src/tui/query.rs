//! The `/` quick filter, compiled with the domain's filter language and combined with the
//! view's own narrowing.

use chrono::{DateTime, Utc};

use crate::domain::Filter;
use crate::domain::query::parse_query;

pub fn compile(text: &str, now: DateTime<Utc>) -> Result<Filter, String> {
    parse_query(text, now).map_err(|e| e.to_string())
}

/// A view's own narrowing plus what the operator typed; the view's own wins where both speak.
pub fn combine(base: &Filter, typed: &Filter) -> Filter {
    let mut combined = typed.clone();
    combined.conference_id = base.conference_id.or(typed.conference_id);
    combined.slot_id = base.slot_id.or(typed.slot_id);
    combined.user_id = base.user_id.or(typed.user_id);
    combined
}
