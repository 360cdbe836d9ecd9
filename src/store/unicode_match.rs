//! Case-insensitive substring matching beyond ASCII on SQLite, whose LIKE folds ASCII letters
//! only (`RÉUNION` would not find `réunion`). Registered on each calsync connection as the
//! function `calsync_contains(text, folded_needle)`: nothing in the LMS's file changes (no
//! schema, no journal mode), and PostgreSQL's ILIKE already folds this way.

use rusqlite::Connection;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;

/// The name the SQL calls.
pub const FUNCTION: &str = "calsync_contains";

/// The needle as the function wants it: folded once when the statement is built, not per row.
pub fn fold(needle: &str) -> String {
    needle.to_lowercase()
}

pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        FUNCTION,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| contains_in_row(ctx),
    )
}

/// NULL text matches nothing (as `NULL LIKE …` is not true). Called once per row and column,
/// so the common case (ASCII text) reads SQLite's bytes in place: no copy, no UTF-8 pass.
fn contains_in_row(ctx: &Context<'_>) -> rusqlite::Result<Option<bool>> {
    let ValueRef::Text(folded) = ctx.get_raw(1) else {
        return Ok(None);
    };
    Ok(match ctx.get_raw(0) {
        ValueRef::Null => None,
        ValueRef::Text(text) | ValueRef::Blob(text) => Some(contains_folded_bytes(text, folded)),
        ValueRef::Integer(i) => Some(contains_folded(
            &i.to_string(),
            &String::from_utf8_lossy(folded),
        )),
        ValueRef::Real(f) => Some(contains_folded(
            &f.to_string(),
            &String::from_utf8_lossy(folded),
        )),
    })
}

/// Whether `text`, lowercased, contains `folded` (already lowercased).
pub fn contains_folded(text: &str, folded: &str) -> bool {
    contains_folded_bytes(text.as_bytes(), folded.as_bytes())
}

fn contains_folded_bytes(text: &[u8], folded: &[u8]) -> bool {
    let Some((&first, rest)) = folded.split_first() else {
        return true;
    };
    if text.is_ascii() {
        // Lowercasing ASCII never makes a non-ASCII character.
        if !folded.is_ascii() {
            return false;
        }
        let upper = first.to_ascii_uppercase();
        return text.windows(folded.len()).any(|window| {
            (window[0] == first || window[0] == upper) && window[1..].eq_ignore_ascii_case(rest)
        });
    }
    String::from_utf8_lossy(text)
        .to_lowercase()
        .contains(&*String::from_utf8_lossy(folded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_beyond_ascii() {
        assert!(contains_folded("Réunion d'équipe", &fold("RÉUNION")));
        assert!(contains_folded("ZOË ÜNAL", &fold("zoë ü")));
        // Simple case mapping only, like PostgreSQL's ILIKE: ß is not ss.
        assert!(!contains_folded("Straße", &fold("STRASSE")));
        assert!(!contains_folded("reunion", &fold("RÉUNION")));
    }

    #[test]
    fn ascii_text_is_matched_in_place() {
        assert!(contains_folded("Ann Other", "ann o"));
        assert!(contains_folded("anything", ""));
        assert!(!contains_folded("Ann", "anna"));
        // The Kelvin sign folds to an ASCII k.
        assert!(contains_folded("Kate", &fold("\u{212A}ate")));
    }
}
