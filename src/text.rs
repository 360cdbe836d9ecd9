//! Text from the database is data, never terminal instructions: titles, names and errors are
//! cleaned of control characters and escape sequences before they are drawn or printed, and cut
//! to a display width (wide and combining characters counted as the terminal counts them).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// One display line: escape sequences removed, control characters (newlines and tabs too)
/// turned into spaces, bidirectional overrides dropped, runs of spaces folded.
pub fn clean_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut last_space = false;
    while let Some(ch) = chars.next() {
        if ch == '\u{1b}' {
            skip_escape(&mut chars);
            continue;
        }
        let replacement = if ch.is_control() {
            Some(' ')
        } else if is_invisible_formatting(ch) {
            None
        } else {
            Some(ch)
        };
        if let Some(c) = replacement {
            if c == ' ' {
                if !last_space {
                    out.push(' ');
                }
                last_space = true;
            } else {
                out.push(c);
                last_space = false;
            }
        }
    }
    out.trim().to_string()
}

/// Bidi overrides and isolates can reorder what the operator sees; zero-width joiners are kept.
fn is_invisible_formatting(ch: char) -> bool {
    matches!(ch, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Skips a CSI (`ESC [ … final`), OSC (`ESC ] … BEL/ST`) or two-character escape.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']') | Some('P') | Some('_') | Some('^') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                    chars.next();
                    break;
                }
            }
        }
        _ => {}
    }
}

/// The display width of already-clean text.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// Cuts clean text to at most `max` columns, ending with `…` when something was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}

/// Clean text padded or cut to exactly `columns` display columns.
pub fn fit(text: &str, columns: usize) -> String {
    let cut = truncate(text, columns);
    let pad = columns.saturating_sub(width(&cut));
    format!("{cut}{}", " ".repeat(pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_never_reach_the_terminal() {
        let hostile =
            "Intro\u{1b}[2J\u{1b}[31mred\u{1b}]0;title\u{7}\r\nnext\tline\u{202e}evil\u{9b}";
        let clean = clean_line(hostile);
        assert_eq!(clean, "Introred next lineevil");
        assert!(!clean.chars().any(|c| c.is_control()));
    }

    #[test]
    fn truncation_counts_wide_characters() {
        assert_eq!(truncate("会議会議会議", 7), "会議会…");
        assert_eq!(width(&truncate("会議会議会議", 7)), 7);
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(fit("ab", 4), "ab  ");
    }

    #[test]
    fn combining_characters_take_no_column() {
        let text = "e\u{301}cole";
        assert_eq!(width(text), 5);
    }
}
