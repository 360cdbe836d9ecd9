//! The one keymap table. Key handling, the `?` help screen and the bottom bar are all generated
//! from it, so help can never drift from what the keys do.

use std::borrow::Cow;
use std::collections::HashMap;

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
    /// The reconcile view's findings.
    Reconcile,
    /// The worker's retry schedule (`:retries`).
    Retries,
    /// The worker's parked set (`:parked`).
    Parked,
    /// The retry schedule and the parked set alike.
    Schedule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
    pub action: Action,
    /// The action in a word or two, for the bottom bar.
    pub short: &'static str,
    /// How the key is written in help and the bottom bar.
    pub keys: Cow<'static, str>,
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
            keys: Cow::Borrowed($keys),
            description: $desc,
            context: Context::$ctx,
            in_bar: $bar,
            writes: $writes,
        }
    };
}

use KeyCode::{BackTab, Char, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up};

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
        "sort by the next column (▲▼ in its header), then newest first",
        Selections,
        false,
        false
    ),
    bind!(
        Char('O'),
        SHIFT,
        ReverseSort,
        "reverse",
        "O",
        "reverse the sort",
        Selections,
        false,
        false
    ),
    bind!(
        Char('<'),
        NONE,
        ScrollLeft,
        "",
        "<",
        "scroll the columns left (when they do not all fit)",
        Selections,
        false,
        false
    ),
    bind!(
        Char('>'),
        NONE,
        ScrollRight,
        "",
        ">",
        "scroll the columns right",
        Selections,
        false,
        false
    ),
    bind!(
        Char('C'),
        SHIFT,
        ChooseColumns,
        "columns",
        "C",
        "choose the columns shown (saved in the config file)",
        Selections,
        false,
        false
    ),
    bind!(
        Char('r'),
        NONE,
        RetryCause,
        "retry cause",
        "r",
        "retry the failures of the cause under the cursor (↑↓ pick)…",
        Overview,
        true,
        true
    ),
    bind!(
        Char('R'),
        SHIFT,
        RetryAllFailed,
        "retry all",
        "R",
        "retry all failed, permanent causes left out unless asked…",
        Overview,
        true,
        true
    ),
    bind!(
        Char('V'),
        SHIFT,
        Verify,
        "verify",
        "V",
        "verify the Outlook events of the marked or listed rows",
        Selections,
        false,
        false
    ),
    bind!(
        Char(' '),
        NONE,
        ToggleMark,
        "choose",
        "space",
        "choose / unchoose a probable finding for deletion",
        Reconcile,
        true,
        true
    ),
    bind!(
        Char('d'),
        NONE,
        DeleteFindings,
        "delete",
        "d",
        "delete the certain findings and the chosen probable ones (asks first)",
        Reconcile,
        true,
        true
    ),
    bind!(
        Char('r'),
        NONE,
        RetryNow,
        "retry now",
        "r",
        "retry now: due at once for the next worker pass (a cause line: its listed selections)",
        Schedule,
        true,
        true
    ),
    bind!(
        Char('P'),
        SHIFT,
        Park,
        "park",
        "P",
        "park: no worker retries it until someone retries it now",
        Retries,
        true,
        true
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
        Char('L'),
        SHIFT,
        RunRows,
        "run rows",
        "L",
        "the last run's rows that did not sync, with their reasons",
        Everywhere,
        false,
        false
    ),
    bind!(
        Char('y'),
        NONE,
        Copy,
        "copy",
        "y",
        "copy the row's email to the clipboard (Y: its error)",
        Selections,
        false,
        false
    ),
    bind!(
        Char('Y'),
        SHIFT,
        CopyError,
        "copy error",
        "Y",
        "copy the row's error to the clipboard",
        Selections,
        false,
        false
    ),
    bind!(
        Char('w'),
        NONE,
        OpenLink,
        "open",
        "w",
        "open the row's event in Outlook on the web (else its LMS admin page or meeting link)",
        Selections,
        false,
        false
    ),
    bind!(
        Char('W'),
        SHIFT,
        OpenAdmin,
        "admin",
        "W",
        "open the row's LMS admin page (lms_url in the config)",
        Selections,
        false,
        false
    ),
    bind!(
        Char('M'),
        SHIFT,
        OnlyMarked,
        "only marked",
        "M",
        "show only the marked rows (M again: every row)",
        Selections,
        false,
        false
    ),
    bind!(
        Tab,
        NONE,
        SwitchPanel,
        "panel",
        "tab/←/→",
        "the next panel: failures by cause, conferences with most failures, newest failures",
        Overview,
        false,
        false
    ),
    bind!(
        BackTab,
        SHIFT,
        SwitchPanel,
        "",
        "shift-tab",
        "the next panel",
        Overview,
        false,
        false
    ),
    bind!(
        Left,
        NONE,
        SwitchPanel,
        "",
        "←",
        "the next panel",
        Overview,
        false,
        false
    ),
    bind!(
        Right,
        NONE,
        SwitchPanel,
        "",
        "→",
        "the next panel",
        Overview,
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
            Context::Schedule => matches!(here, Context::Retries | Context::Parked),
            other => other == here,
        }
    }

    /// Where a key of this context works, for the footer's "not here".
    pub fn where_words(self) -> &'static str {
        match self {
            Context::Everywhere => "everywhere",
            Context::Lists => "on lists",
            Context::Selections => "on lists of selections (2 then enter, s, /)",
            Context::Overview => "on the overview (1)",
            Context::Reconcile => "in the reconcile view (:reconcile)",
            Context::Retries => "on the retry schedule (:retries)",
            Context::Parked => "on the parked set (:parked)",
            Context::Schedule => "on the retry schedule and the parked set (:retries, :parked)",
        }
    }
}

/// The names actions have in the config file's `[keymap]` table.
const ACTION_NAMES: &[(&str, Action)] = &[
    ("quit", Action::Quit),
    ("back", Action::Back),
    ("up", Action::Up),
    ("down", Action::Down),
    ("page_up", Action::PageUp),
    ("page_down", Action::PageDown),
    ("home", Action::Home),
    ("end", Action::End),
    ("enter", Action::Enter),
    ("help", Action::Help),
    ("filter", Action::Filter),
    ("command", Action::Command),
    ("clear_filter", Action::ClearFilter),
    ("mark", Action::ToggleMark),
    ("mark_range", Action::MarkRange),
    ("mark_all_matching", Action::MarkAllMatching),
    ("clear_marks", Action::ClearMarks),
    ("retry", Action::Retry),
    ("bulk_sync", Action::BulkSync),
    ("retry_cause", Action::RetryCause),
    ("retry_all_failed", Action::RetryAllFailed),
    ("cancel_job", Action::CancelJob),
    ("verify", Action::Verify),
    ("delete_findings", Action::DeleteFindings),
    ("error_detail", Action::ErrorDetail),
    ("person", Action::Person),
    ("conference_selections", Action::ConferenceSelections),
    ("refresh", Action::Refresh),
    ("overview", Action::Overview),
    ("conferences", Action::Conferences),
    ("export", Action::Export),
    ("sort", Action::ToggleSort),
    ("reverse_sort", Action::ReverseSort),
    ("scroll_left", Action::ScrollLeft),
    ("scroll_right", Action::ScrollRight),
    ("columns", Action::ChooseColumns),
    ("retry_now", Action::RetryNow),
    ("park", Action::Park),
    ("run_rows", Action::RunRows),
    ("copy", Action::Copy),
    ("copy_error", Action::CopyError),
    ("open_link", Action::OpenLink),
    ("open_admin", Action::OpenAdmin),
    ("switch_panel", Action::SwitchPanel),
    ("only_marked", Action::OnlyMarked),
];

/// Every action name a `[keymap]` key can be bound to, in the table's order.
pub fn action_names() -> impl Iterator<Item = &'static str> {
    ACTION_NAMES.iter().map(|(name, _)| *name)
}

/// The keymap in force: the table above with the config file's overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            bindings: BINDINGS.to_vec(),
        }
    }
}

impl Keymap {
    /// Applies `[keymap]` overrides (`retry = "ctrl-r"`): the action's first key changes, its
    /// other keys stay. A key already used where the action applies is refused.
    pub fn with_overrides(overrides: &HashMap<String, String>) -> Result<Keymap, String> {
        let mut keymap = Keymap::default();
        let mut names: Vec<&String> = overrides.keys().collect();
        names.sort();
        for name in names {
            let text = &overrides[name];
            let action = ACTION_NAMES
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, a)| *a)
                .ok_or_else(|| {
                    let known: Vec<&str> = ACTION_NAMES.iter().map(|(n, _)| *n).collect();
                    format!(
                        "[keymap] has no action '{name}' (known: {})",
                        known.join(", ")
                    )
                })?;
            let (code, modifiers) = parse_key(text).ok_or_else(|| {
                format!("[keymap] {name} = \"{text}\": not a key (try \"r\", \"ctrl-r\", \"f5\")")
            })?;
            let Some(index) = keymap.bindings.iter().position(|b| b.action == action) else {
                continue;
            };
            let context = keymap.bindings[index].context;
            if let Some(taken) = keymap.bindings.iter().find(|b| {
                b.action != action
                    && b.code == code
                    && b.modifiers == modifiers
                    && (b.context.applies(context) || context.applies(b.context))
            }) {
                return Err(format!(
                    "[keymap] {name} = \"{text}\": that key already means \"{}\"",
                    taken.description
                ));
            }
            let binding = &mut keymap.bindings[index];
            binding.code = code;
            binding.modifiers = modifiers;
            binding.keys = Cow::Owned(text.to_string());
        }
        Ok(keymap)
    }

    /// The action a key stands for here, honouring read-only mode.
    pub fn action_for(&self, key: KeyEvent, here: Context, read_only: bool) -> Option<Action> {
        // Shifted letters arrive with SHIFT on some terminals and without on others.
        let modifiers = match key.code {
            KeyCode::Char(c) if c.is_ascii_uppercase() => key.modifiers | KeyModifiers::SHIFT,
            _ => key.modifiers,
        };
        self.bindings
            .iter()
            .filter(|b| b.context.applies(here) && !(read_only && b.writes))
            .find(|b| b.code == key.code && b.modifiers == modifiers)
            .map(|b| b.action)
    }

    /// Why a key does nothing here: it means something elsewhere, or it writes and the
    /// session is read-only. None for a key that means nothing anywhere.
    pub fn why_not(&self, key: KeyEvent, here: Context, read_only: bool) -> Option<String> {
        let modifiers = match key.code {
            KeyCode::Char(c) if c.is_ascii_uppercase() => key.modifiers | KeyModifiers::SHIFT,
            _ => key.modifiers,
        };
        let same = |b: &&Binding| b.code == key.code && b.modifiers == modifiers;
        if let Some(b) = self
            .bindings
            .iter()
            .filter(same)
            .find(|b| read_only && b.writes && b.context.applies(here))
        {
            return Some(format!(
                "{}: read-only, nothing is written ({})",
                b.keys, b.description
            ));
        }
        let elsewhere: Vec<&Binding> = self.bindings.iter().filter(same).collect();
        let first = elsewhere.first()?;
        let places: Vec<&str> = elsewhere.iter().map(|b| b.context.where_words()).collect();
        Some(format!(
            "{} works {} (it {}); not here",
            first.keys,
            places.join(" and "),
            first.description
        ))
    }

    /// The bindings to list in help for this context (one line per action).
    pub fn help_for(&self, here: Context, read_only: bool) -> Vec<&Binding> {
        let mut seen: Vec<Action> = Vec::new();
        self.bindings
            .iter()
            .filter(|b| b.context.applies(here) && !(read_only && b.writes))
            .filter(|b| {
                let first = !seen.contains(&b.action);
                if first {
                    seen.push(b.action);
                }
                first
            })
            .collect()
    }

    /// The short hints of the bottom bar.
    pub fn bar_for(&self, here: Context, read_only: bool) -> Vec<&Binding> {
        self.bindings
            .iter()
            .filter(|b| b.in_bar && b.context.applies(here) && !(read_only && b.writes))
            .collect()
    }
}

/// `r`, `R`, `ctrl-r`, `shift-tab`, `f5`, `enter`, `esc`, `space`, `pgdn`, `up`…
fn parse_key(text: &str) -> Option<(KeyCode, KeyModifiers)> {
    let mut modifiers = KeyModifiers::NONE;
    let mut rest = text.trim();
    loop {
        let lower = rest.to_ascii_lowercase();
        if let Some(r) = lower.strip_prefix("ctrl-") {
            modifiers |= KeyModifiers::CONTROL;
            rest = &rest[rest.len() - r.len()..];
        } else if let Some(r) = lower.strip_prefix("alt-") {
            modifiers |= KeyModifiers::ALT;
            rest = &rest[rest.len() - r.len()..];
        } else if let Some(r) = lower.strip_prefix("shift-") {
            modifiers |= KeyModifiers::SHIFT;
            rest = &rest[rest.len() - r.len()..];
        } else {
            break;
        }
    }
    let code = match rest.to_ascii_lowercase().as_str() {
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "space" => KeyCode::Char(' '),
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "pgup" => KeyCode::PageUp,
        "pgdn" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        f if f.len() > 1 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok()?),
        _ => {
            let mut chars = rest.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            if c.is_ascii_uppercase() {
                modifiers |= KeyModifiers::SHIFT;
            }
            KeyCode::Char(c)
        }
    };
    Some((code, modifiers))
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
        let keymap = Keymap::default();
        let r = key(KeyCode::Char('r'), KeyModifiers::NONE);
        assert_eq!(
            keymap.action_for(r, Context::Selections, false),
            Some(Action::Retry)
        );
        assert_eq!(keymap.action_for(r, Context::Selections, true), None);
        let help = keymap.help_for(Context::Selections, true);
        assert!(help.iter().all(|b| !b.writes));
        let bar = keymap.bar_for(Context::Selections, true);
        assert!(bar.iter().all(|b| !b.writes));
    }

    #[test]
    fn shifted_letters_match_with_or_without_the_shift_flag() {
        let g = key(KeyCode::Char('G'), KeyModifiers::NONE);
        assert_eq!(
            Keymap::default().action_for(g, Context::Lists, false),
            Some(Action::End)
        );
    }

    #[test]
    fn the_config_file_can_rebind_an_action() {
        let overrides = HashMap::from([("retry".to_string(), "ctrl-t".to_string())]);
        let keymap = Keymap::with_overrides(&overrides).unwrap();
        let ctrl_t = key(KeyCode::Char('t'), KeyModifiers::CONTROL);
        assert_eq!(
            keymap.action_for(ctrl_t, Context::Selections, false),
            Some(Action::Retry)
        );
        let r = key(KeyCode::Char('r'), KeyModifiers::NONE);
        assert_eq!(keymap.action_for(r, Context::Selections, false), None);
        // Help and the bar show the new key, because they read the same table.
        assert!(
            keymap
                .help_for(Context::Selections, false)
                .iter()
                .any(|b| b.keys == "ctrl-t")
        );
    }

    #[test]
    fn a_clashing_or_unknown_override_is_refused_with_a_reason() {
        let clash = HashMap::from([("retry".to_string(), "q".to_string())]);
        assert!(
            Keymap::with_overrides(&clash)
                .unwrap_err()
                .contains("already means \"quit\"")
        );
        let unknown = HashMap::from([("launch".to_string(), "l".to_string())]);
        assert!(
            Keymap::with_overrides(&unknown)
                .unwrap_err()
                .contains("no action 'launch'")
        );
        let bad = HashMap::from([("retry".to_string(), "ctrl-".to_string())]);
        assert!(
            Keymap::with_overrides(&bad)
                .unwrap_err()
                .contains("not a key")
        );
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
        assert_eq!(
            Keymap::default().action_for(space, Context::Overview, false),
            None
        );
    }
}
