//! The breadcrumbs above the body. A selection's detail says where its row belongs
//! (Conferences › conference › slot › person), whatever path opened it: a cause, a filter, a
//! person, the retry schedule. Every other screen shows the path of the stack, which is also
//! what Esc walks back.

use super::screen::Screen;
use crate::domain::Selection;
use crate::text::{clean_line, truncate, width};

const SEPARATOR: &str = " › ";

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

/// The crumbs as one title of at most `columns`: the longest crumb gives way first (a long
/// conference title), so the last one, the screen itself, stays readable.
pub fn fit(crumbs: &[String], columns: usize) -> String {
    let mut crumbs = crumbs.to_vec();
    let total = |crumbs: &[String]| {
        crumbs.iter().map(|c| width(c)).sum::<usize>()
            + width(SEPARATOR) * crumbs.len().saturating_sub(1)
    };
    while total(&crumbs) > columns {
        let Some((longest, len)) = crumbs
            .iter()
            .enumerate()
            .map(|(i, c)| (i, width(c)))
            .max_by_key(|(_, len)| *len)
        else {
            break;
        };
        if len <= 8 {
            break;
        }
        let cut = (total(&crumbs) - columns).min(len - 8);
        crumbs[longest] = truncate(&crumbs[longest], len - cut.max(1));
    }
    truncate(&crumbs.join(SEPARATOR), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_crumb_gives_way_so_the_last_stays_whole() {
        let crumbs: Vec<String> = [
            "Conferences",
            "A conference title far longer than the terminal is wide, really",
            "2026-12-15 10:00",
            "Zoë Ünal",
        ]
        .map(String::from)
        .to_vec();
        let title = fit(&crumbs, 70);
        assert!(width(&title) <= 70, "{title}");
        assert!(title.ends_with(" › Zoë Ünal"), "{title}");
        assert!(title.starts_with("Conferences › A conference"), "{title}");
        assert_eq!(fit(&crumbs[..1], 70), "Conferences");
    }
}
