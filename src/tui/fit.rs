//! Fitting the header and the key bar into the terminal's width by priority (issue 13, item 5):
//! the safety flags (DEMO, SIMULATED, READ-ONLY) and `? help` never disappear; the database URL
//! shortens first, then the other parts step down to their shorter forms, least important first.

use crate::text::{truncate, width};

/// One part of a line: its forms, longest first. The last form is what the part keeps when
/// space is short; an empty last form lets the part disappear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub forms: Vec<String>,
    /// Gives way before the others by being cut (with `…`) down to `least` columns.
    pub stretch: Option<usize>,
}

impl Part {
    /// A part that is always shown whole.
    pub fn fixed(text: impl Into<String>) -> Part {
        Part {
            forms: vec![text.into()],
            stretch: None,
        }
    }

    /// A part with shorter forms to fall back on, longest first.
    pub fn forms(forms: impl IntoIterator<Item = impl Into<String>>) -> Part {
        Part {
            forms: forms.into_iter().map(Into::into).collect(),
            stretch: None,
        }
    }

    /// A part cut to fit, never below `least` columns (then it is left out).
    pub fn stretching(text: impl Into<String>, least: usize) -> Part {
        Part {
            forms: vec![text.into(), String::new()],
            stretch: Some(least),
        }
    }
}

/// The parts joined by `separator` in at most `columns`. `give_way` lists the parts in the
/// order they step down (least important first); a stretching part is cut before any steps
/// down, and is left out only when the others have nothing shorter left.
pub fn fit_line(parts: &[Part], give_way: &[usize], separator: &str, columns: usize) -> String {
    let mut chosen = vec![0usize; parts.len()];
    loop {
        if assemble(parts, &chosen, separator, columns).is_some() {
            // Give back what still fits, most important first.
            for &i in give_way.iter().rev() {
                while chosen[i] > 0 {
                    chosen[i] -= 1;
                    if assemble(parts, &chosen, separator, columns).is_none() {
                        chosen[i] += 1;
                        break;
                    }
                }
            }
            return assemble(parts, &chosen, separator, columns).unwrap_or_default();
        }
        let step = give_way
            .iter()
            .copied()
            .find(|&i| parts[i].stretch.is_none() && chosen[i] + 1 < parts[i].forms.len())
            .or_else(|| {
                give_way
                    .iter()
                    .copied()
                    .find(|&i| chosen[i] + 1 < parts[i].forms.len())
            });
        match step {
            Some(i) => chosen[i] += 1,
            // Nothing gives way any more: what must stay is cut at the edge.
            None => {
                let line = join(parts, &chosen, separator, |_, text| text.to_string());
                return truncate(&line, columns);
            }
        }
    }
}

/// The line with stretching parts cut to what is left, or None when even their least is too
/// much.
fn assemble(parts: &[Part], chosen: &[usize], separator: &str, columns: usize) -> Option<String> {
    let fixed: usize = join_width(parts, chosen, separator, |i, text| match parts[i].stretch {
        Some(_) => 0,
        None => width(text),
    });
    let stretching: Vec<usize> = (0..parts.len())
        .filter(|&i| parts[i].stretch.is_some() && !parts[i].forms[chosen[i]].is_empty())
        .collect();
    let least: usize = stretching
        .iter()
        .map(|&i| {
            parts[i]
                .stretch
                .unwrap_or(0)
                .min(width(&parts[i].forms[chosen[i]]))
        })
        .sum();
    if fixed + least > columns {
        return None;
    }
    // What is left goes to the stretching parts in order.
    let mut left = columns - fixed;
    let mut budget = vec![0usize; parts.len()];
    for (n, &i) in stretching.iter().enumerate() {
        let still_owed: usize = stretching[n + 1..]
            .iter()
            .map(|&j| {
                parts[j]
                    .stretch
                    .unwrap_or(0)
                    .min(width(&parts[j].forms[chosen[j]]))
            })
            .sum();
        budget[i] = width(&parts[i].forms[chosen[i]]).min(left - still_owed);
        left -= budget[i];
    }
    Some(join(parts, chosen, separator, |i, text| {
        match parts[i].stretch {
            Some(_) => truncate(text, budget[i]),
            None => text.to_string(),
        }
    }))
}

fn join(
    parts: &[Part],
    chosen: &[usize],
    separator: &str,
    shown: impl Fn(usize, &str) -> String,
) -> String {
    parts
        .iter()
        .zip(chosen)
        .enumerate()
        .map(|(i, (part, &form))| shown(i, &part.forms[form]))
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join(separator)
}

/// The width of the joined line, each part measured by `measure` (separators between the
/// parts that are shown).
fn join_width(
    parts: &[Part],
    chosen: &[usize],
    separator: &str,
    measure: impl Fn(usize, &str) -> usize,
) -> usize {
    let shown: Vec<usize> = parts
        .iter()
        .zip(chosen)
        .enumerate()
        .filter(|(_, (part, form))| !part.forms[**form].is_empty())
        .map(|(i, (part, &form))| measure(i, &part.forms[form]))
        .collect();
    shown.iter().sum::<usize>() + width(separator) * shown.len().saturating_sub(1)
}

/// The key bar: every item that fits, in order, but the `kept` ones (help, quit) always, at
/// the end. Items are `(keys, words)`; the result is the items shown, in order.
pub fn fit_bar<'a>(
    items: &'a [(String, String)],
    kept: &[usize],
    columns: usize,
) -> Vec<&'a (String, String)> {
    let item_width = |(keys, words): &(String, String)| width(keys) + width(words) + 3;
    let reserved: usize = kept.iter().map(|&i| item_width(&items[i])).sum();
    let mut used = reserved;
    let mut shown = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if kept.contains(&i) {
            continue;
        }
        if used + item_width(item) > columns {
            break;
        }
        used += item_width(item);
        shown.push(item);
    }
    shown.extend(kept.iter().map(|&i| &items[i]));
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> (Vec<Part>, Vec<usize>) {
        let parts = vec![
            Part::fixed(" calsync"),
            Part::stretching("sqlite:////home/support/.local/share/calsync/demo.db", 12),
            Part::forms([
                "DEMO · SIMULATED GRAPH (no real calendar is touched)",
                "DEMO · SIMULATED GRAPH",
            ]),
            Part::forms(["READ-ONLY (--read-only)", "READ-ONLY"]),
            Part::forms(["data read 10:42:03 (2s ago)", "2s ago", ""]),
        ];
        // The data age gives way first, then the reasons; the flags keep their short forms.
        (parts, vec![4, 3, 2, 1])
    }

    #[test]
    fn everything_shows_whole_when_there_is_room() {
        let (parts, order) = header();
        let line = fit_line(&parts, &order, " │ ", 220);
        assert_eq!(
            line,
            " calsync │ sqlite:////home/support/.local/share/calsync/demo.db │ DEMO · SIMULATED GRAPH \
             (no real calendar is touched) │ READ-ONLY (--read-only) │ data read 10:42:03 (2s ago)"
        );
    }

    #[test]
    fn the_url_shortens_before_anything_else_gives_way() {
        let (parts, order) = header();
        let full = fit_line(&parts, &order, " │ ", 220);
        let line = fit_line(&parts, &order, " │ ", width(&full) - 20);
        assert_eq!(width(&line), width(&full) - 20);
        assert!(
            line.contains(" │ sqlite:////home/support/.local/… │ "),
            "{line}"
        );
        assert!(line.contains("(no real calendar is touched)"), "{line}");
        assert!(line.ends_with("data read 10:42:03 (2s ago)"), "{line}");
    }

    #[test]
    fn at_80_columns_the_safety_flags_stay_and_the_url_is_cut() {
        let (parts, order) = header();
        let line = fit_line(&parts, &order, " │ ", 80);
        assert!(width(&line) <= 80, "{line}");
        assert!(line.contains("DEMO · SIMULATED GRAPH"), "{line}");
        assert!(line.contains("READ-ONLY"), "{line}");
        assert!(line.contains("sqlite:"), "the URL keeps its least: {line}");
    }

    #[test]
    fn at_40_columns_the_url_goes_and_the_flags_still_show() {
        let (parts, order) = header();
        let line = fit_line(&parts, &order, " │ ", 40);
        assert!(width(&line) <= 40, "{line}");
        assert!(!line.contains("sqlite"), "{line}");
        assert!(line.contains("DEMO · SIMULATED GRAPH"), "{line}");
    }

    #[test]
    fn the_key_bar_always_ends_with_help_and_quit() {
        let items: Vec<(String, String)> = [
            ("j/k", "move"),
            ("enter", "open"),
            ("/", "filter"),
            (":", "command"),
            ("r", "retry"),
            ("?", "help"),
            ("q", "quit"),
        ]
        .iter()
        .map(|(k, w)| (k.to_string(), w.to_string()))
        .collect();
        let shown = fit_bar(&items, &[5, 6], 40);
        let keys: Vec<&str> = shown.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["j/k", "enter", "?", "q"]);
        let all = fit_bar(&items, &[5, 6], 200);
        assert_eq!(all.len(), items.len());
        let tiny = fit_bar(&items, &[5, 6], 10);
        let keys: Vec<&str> = tiny.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["?", "q"]);
    }
}
