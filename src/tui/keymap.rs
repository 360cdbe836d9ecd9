//! The one keymap table. Key handling, the `?` help screen and the bottom bar are all generated
//! from it, so help can never drift from what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Everywhere,
    /// Any list (conferences, slots, selections, person).
    Lists,
    /// Lists of selections (selections, person).
    Selections,
    Overview,
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
    pub action: Action,
    /// The action in a word or two, for the bottom bar.
    pub short: &'static str,
    /// How the key is written in help and the bottom bar.
    pub keys: &'static str,
    pub description: &'static str,
    pub context: Context,
    /// Shown in the bottom bar (the rest only in `?`).
    pub in_bar: bool,
    /// Writes to the database or calendars: hidden and disabled in read-only mode.
    pub writes: bool,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

macro_rules! bind {
    ($code:expr, $mods:expr, $action:ident, $short:literal, $keys:literal, $desc:literal, $ctx:ident, $bar:literal, $writes:literal) => {
        Binding {
            code: $code,
            modifiers: $mods,
            action: Action::$action,
            short: $short,
            keys: $keys,
            description: $desc,
            context: Context::$ctx,
            in_bar: $bar,
            writes: $writes,
        }
    };
}

use KeyCode::{Char, Down, End, Enter, Esc, Home, PageDown, PageUp, Up};

pub const BINDINGS: &[Binding] = &[
    bind!(
        Enter,
        NONE,
        Enter,
        "open",
        "enter",
        "open / drill down",
        Everywhere,
        true,
        false
    ),
    bind!(
        Esc,
        NONE,
        Back,
        "back",
        "esc",
        "back / close",
        Everywhere,
        true,
        false
    ),
    bind!(
        Char('/'),
        NONE,
        Filter,
        "filter",
        "/",
        "filter (text and state:, conf:, user:, error:, since:…)",
        Everywhere,
        true,
        false
    ),
    bind!(
        Char(':'),
        NONE,
        Command,
        "command",
        ":",
        "command (:failed, :person, :conference, :sync, :quit…)",
        Everywhere,
        false,
        false
    ),
    bind!(
        Char('c'),
        NONE,
        ClearFilter,
        "clear",
        "c",
        "clear this view's filter",
        Lists,
        false,
        false
    ),
    bind!(
        Char('r'),
        NONE,
        Retry,
        "retry",
        "r",
        "retry the current or marked selections",
        Selections,
        true,
        true
    ),
    bind!(
        Char('R'),
        SHIFT,
        BulkSync,
        "bulk sync",
        "R",
        "bulk sync of everything matching the filter…",
        Selections,
        true,
        true
    ),
    bind!(
        Char(' '),
        NONE,
        ToggleMark,
        "mark",
        "space",
        "mark / unmark the row",
        Selections,
        true,
        true
    ),
    bind!(
        Char('v'),
        NONE,
        MarkRange,
        "range",
        "v",
        "mark a range (press at both ends)",
        Selections,
        false,
        true
    ),
    bind!(
        Char('A'),
        SHIFT,
        MarkAllMatching,
        "mark all",
        "A",
        "mark all rows matching the filter",
        Selections,
        false,
        true
    ),
    bind!(
        Char('u'),
        NONE,
        ClearMarks,
        "unmark",
        "u",
        "clear the marks",
        Selections,
        false,
        true
    ),
    bind!(
        Char('e'),
        NONE,
        ErrorDetail,
        "error",
        "e",
        "the selection's full error and advice",
        Selections,
        true,
        false
    ),
    bind!(
        Char('p'),
        NONE,
        Person,
        "person",
        "p",
        "the person's calendar status",
        Selections,
        false,
        false
    ),
    bind!(
        Char('s'),
        NONE,
        ConferenceSelections,
        "selections",
        "s",
        "all selections of this conference",
        Lists,
        false,
        false
    ),
    bind!(
        Char('o'),
        NONE,
        ToggleSort,
        "sort",
        "o",
        "sort: newest selection / latest attempt",
        Selections,
        false,
        false
    ),
    bind!(
        Char('x'),
        NONE,
        CancelJob,
        "cancel",
        "x",
        "cancel the running sync",
        Everywhere,
        false,
        true
    ),
    bind!(
        Char('E'),
        SHIFT,
        Export,
        "export",
        "E",
        "export the filtered rows (CSV; :export json)",
        Selections,
        false,
        false
    ),
    bind!(
        Char('1'),
        NONE,
        Overview,
        "overview",
        "1",
        "overview",
        Everywhere,
        false,
        false
    ),
    bind!(
        Char('2'),
        NONE,
        Conferences,
        "conferences",
        "2",
        "conferences",
        Everywhere,
        false,
        false
    ),
    bind!(
        Char('l'),
        CTRL,
        Refresh,
        "",
        "ctrl-l",
        "reload now",
        Everywhere,
        false,
        false
    ),
    bind!(
        Char('j'),
        NONE,
        Down,
        "",
        "j/↓",
        "down",
        Everywhere,
        false,
        false
    ),
    bind!(Down, NONE, Down, "", "↓", "down", Everywhere, false, false),
    bind!(
        Char('k'),
        NONE,
        Up,
        "",
        "k/↑",
        "up",
        Everywhere,
        false,
        false
    ),
    bind!(Up, NONE, Up, "", "↑", "up", Everywhere, false, false),
    bind!(
        PageDown,
        NONE,
        PageDown,
        "",
        "pgdn/ctrl-d",
        "page down",
        Everywhere,
        false,
        false
    ),
    bind!(
        Char('d'),
        CTRL,
        PageDown,
        "",
        "ctrl-d",
        "page down",
        Everywhere,
        false,
        false
    ),
    bind!(
        PageUp,
        NONE,
        PageUp,
        "",
        "pgup/ctrl-u",
        "page up",
        Everywhere,
        false,
        false
    ),
    bind!(
        Char('u'),
        CTRL,
        PageUp,
        "",
        "ctrl-u",
        "page up",
        Everywhere,
        false,
        false
    ),
    bind!(
        Char('g'),
        NONE,
        Home,
        "",
        "g/home",
        "first row",
        Everywhere,
        false,
        false
    ),
    bind!(
        Home,
        NONE,
        Home,
        "",
        "home",
        "first row",
        Everywhere,
        false,
        false
    ),
    bind!(
        Char('G'),
        SHIFT,
        End,
        "",
        "G/end",
        "last row",
        Everywhere,
        false,
        false
    ),
    bind!(
        End, NONE, End, "", "end", "last row", Everywhere, false, false
    ),
    bind!(
        Char('?'),
        NONE,
        Help,
        "help",
        "?",
        "help",
        Everywhere,
        true,
        false
    ),
    bind!(
        Char('q'),
        NONE,
        Quit,
        "quit",
        "q",
        "quit",
        Everywhere,
        true,
        false
    ),
    bind!(
        Char('c'),
        CTRL,
        Quit,
        "",
        "ctrl-c",
        "quit",
        Everywhere,
        false,
        false
    ),
];

impl Context {
    pub fn applies(self, here: Context) -> bool {
        match self {
            Context::Everywhere => true,
            Context::Lists => matches!(here, Context::Lists | Context::Selections),
            other => other == here,
        }
    }
}

/// The action a key stands for here, honouring read-only mode.
pub fn action_for(key: KeyEvent, here: Context, read_only: bool) -> Option<Action> {
    // Shifted letters arrive with SHIFT on some terminals and without on others.
    let modifiers = match key.code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => key.modifiers | KeyModifiers::SHIFT,
        _ => key.modifiers,
    };
    BINDINGS
        .iter()
        .filter(|b| b.context.applies(here) && !(read_only && b.writes))
        .find(|b| b.code == key.code && b.modifiers == modifiers)
        .map(|b| b.action)
}

/// The bindings to list in help for this context (one line per action and key text).
pub fn help_for(here: Context, read_only: bool) -> Vec<&'static Binding> {
    let mut seen: Vec<(&str, Action)> = Vec::new();
    BINDINGS
        .iter()
        .filter(|b| b.context.applies(here) && !(read_only && b.writes))
        .filter(|b| {
            let first = !seen.iter().any(|(_, a)| *a == b.action);
            if first {
                seen.push((b.keys, b.action));
            }
            first
        })
        .collect()
}

/// The short hints of the bottom bar.
pub fn bar_for(here: Context, read_only: bool) -> Vec<&'static Binding> {
    BINDINGS
        .iter()
        .filter(|b| b.in_bar && b.context.applies(here) && !(read_only && b.writes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn every_action_in_the_table_is_reachable_and_unambiguous() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                let overlap = a.context.applies(b.context) || b.context.applies(a.context);
                assert!(
                    !(a.code == b.code && a.modifiers == b.modifiers && overlap),
                    "{} is bound twice",
                    a.keys
                );
            }
        }
    }

    #[test]
    fn read_only_mode_hides_and_disables_writes() {
        let r = key(KeyCode::Char('r'), KeyModifiers::NONE);
        assert_eq!(
            action_for(r, Context::Selections, false),
            Some(Action::Retry)
        );
        assert_eq!(action_for(r, Context::Selections, true), None);
        assert!(
            help_for(Context::Selections, true)
                .iter()
                .all(|b| !b.writes)
        );
        assert!(bar_for(Context::Selections, true).iter().all(|b| !b.writes));
    }

    #[test]
    fn shifted_letters_match_with_or_without_the_shift_flag() {
        let g = action_for(
            key(KeyCode::Char('G'), KeyModifiers::NONE),
            Context::Lists,
            false,
        );
        assert_eq!(g, Some(Action::End));
    }

    #[test]
    fn bar_entries_have_short_labels() {
        assert!(
            BINDINGS
                .iter()
                .filter(|b| b.in_bar)
                .all(|b| !b.short.is_empty())
        );
    }

    #[test]
    fn list_keys_do_not_apply_on_the_overview() {
        let space = key(KeyCode::Char(' '), KeyModifiers::NONE);
        assert_eq!(action_for(space, Context::Overview, false), None);
    }
}
