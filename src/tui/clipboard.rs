//! Copying a value to the operator's clipboard with OSC 52 (issue 13, item 11): the terminal
//! (xterm, kitty, WezTerm, iTerm2, Windows Terminal, tmux with `set-clipboard on`) puts the text
//! on the clipboard of the machine the operator sits at, also over SSH, with nothing installed.
//!
//! The value is database text: it is cleaned to one line first, so what is pasted into a shell
//! can carry neither an escape sequence nor a newline that would run it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Terminals refuse longer sequences (xterm's default limit, hterm's); a longer value is refused
/// with a message instead of being cut silently.
pub const MOST_BYTES: usize = 74_994;

/// The OSC 52 sequence that puts `value` (cleaned to one line) on the clipboard, and the text
/// that was copied; an error when there is nothing to copy or it is too long.
pub fn osc52(value: &str) -> Result<(String, String), String> {
    let text = crate::text::clean_line(value);
    if text.is_empty() {
        return Err("nothing to copy here".to_string());
    }
    let encoded = STANDARD.encode(text.as_bytes());
    if encoded.len() > MOST_BYTES {
        return Err(format!(
            "too long to copy through the terminal ({} bytes)",
            text.len()
        ));
    }
    Ok((format!("\u{1b}]52;c;{encoded}\u{7}"), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_sent_as_base64_to_the_clipboard_selection() {
        let (sequence, copied) = osc52("ann@example.org").unwrap();
        assert_eq!(sequence, "\u{1b}]52;c;YW5uQGV4YW1wbGUub3Jn\u{7}");
        assert_eq!(copied, "ann@example.org");
    }

    #[test]
    fn escape_sequences_and_newlines_never_reach_the_clipboard() {
        let (sequence, copied) = osc52("rm -rf /\n\u{1b}[31mred\u{1b}[0m").unwrap();
        assert_eq!(copied, "rm -rf / red");
        let encoded = sequence
            .strip_prefix("\u{1b}]52;c;")
            .and_then(|s| s.strip_suffix('\u{7}'))
            .unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap(), b"rm -rf / red");
    }

    #[test]
    fn empty_and_oversized_values_are_refused_with_a_reason() {
        assert_eq!(osc52(" \u{1b}[0m ").unwrap_err(), "nothing to copy here");
        let long = "x".repeat(MOST_BYTES);
        assert!(osc52(&long).unwrap_err().starts_with("too long to copy"));
    }
}
