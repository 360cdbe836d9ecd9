//! The breadcrumbs above the body. A selection's detail says where its row belongs
//! (Conferences › conference › slot › person), whatever path opened it: a cause, a filter, a
//! person, the retry schedule. Every other screen shows the path of the stack, which is also
//! what Esc walks back.

use super::screen::Screen;
use crate::domain::Selection;
use crate::text::clean_line;

/// The crumbs for the stack, the screen on top last.
pub fn of(stack: &[Screen]) -> Vec<String> {
    match stack.last() {
        Some(Screen::ErrorDetail {
            selection: Some(selection),
            ..
        }) => where_it_belongs(selection),
        _ => stack.iter().map(Screen::crumb).collect(),
    }
}

/// Where a selection lives in the LMS: its conference, its slot, its person.
pub fn where_it_belongs(s: &Selection) -> Vec<String> {
    vec![
        "Conferences".to_string(),
        clean_line(&s.conference_title),
        format!("{} {}", s.slot_date, s.slot_start.format("%H:%M")),
        clean_line(&s.person_name()),
    ]
}
