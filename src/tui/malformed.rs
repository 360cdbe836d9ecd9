//! The console's word on rows that cannot be read whole: they are left out of the list (which
//! shows every other row) and named in the message line, so the operator knows to look.

use crate::domain::MalformedSelection;

/// How many ids the message names before "…".
const NAMED: usize = 5;

pub fn malformed_note(rows: &[MalformedSelection]) -> Option<String> {
    let first = rows.first()?;
    let mut ids: Vec<String> = rows
        .iter()
        .take(NAMED)
        .map(|r| format!("#{}", r.id))
        .collect();
    if rows.len() > NAMED {
        ids.push("…".to_string());
    }
    Some(crate::text::clean_line(&format!(
        "{} malformed row{} not listed ({}): {} — `calsync status --json` shows them as stored",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        ids.join(", "),
        first.reason()
    )))
}
