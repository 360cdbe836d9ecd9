//! Colours and emphasis. Every badge also carries a symbol and words, so nothing depends on colour;
//! with `NO_COLOR` set, only bold/reverse/dim remain.
//!
//! Two palettes, one per terminal background, each drawn only from the 16 ANSI colours (which the
//! terminal, not calsync, turns into RGB). Every foreground a palette uses reaches WCAG AA (4.5:1)
//! against its background under the common defaults of those colours: xterm's, GNOME Terminal's
//! Tango, Windows Terminal's Campbell and the VGA text mode (the tests compute the ratios). Text
//! that only has to be read, such as "Not synced" or an error, keeps the terminal's own foreground,
//! which is readable on its own background by construction.

use ratatui::style::{Color, Modifier, Style};

use crate::domain::SyncState;

/// Which background the colours are chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Background {
    #[default]
    Dark,
    Light,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub background: Background,
}

/// What each role is drawn in on one background.
struct Palette {
    added: Color,
    added_stale: Color,
    failed: Color,
    interrupted: Color,
    warning: Color,
    danger: Color,
    marked: Color,
    accent: Color,
}

const DARK: Palette = Palette {
    added: Color::Green,
    added_stale: Color::LightGreen,
    failed: Color::LightRed,
    interrupted: Color::LightYellow,
    warning: Color::LightYellow,
    danger: Color::LightRed,
    marked: Color::LightCyan,
    accent: Color::Cyan,
};

const LIGHT: Palette = Palette {
    added: Color::Blue,
    added_stale: Color::Blue,
    failed: Color::Red,
    interrupted: Color::Magenta,
    warning: Color::Magenta,
    danger: Color::Red,
    marked: Color::Magenta,
    accent: Color::Blue,
};

/// The header bar: black on light cyan reads on both backgrounds (it brings its own).
const HEADER_FG: Color = Color::Black;
const HEADER_BG: Color = Color::LightCyan;

impl Theme {
    /// No colour at all: what `NO_COLOR` gives, and what the layout snapshots draw.
    pub const MONOCHROME: Theme = Theme {
        color: false,
        background: Background::Dark,
    };

    /// The config file's `[theme]`. `color`: `auto` (the default) follows `NO_COLOR` (any
    /// non-empty value turns colour off, as <https://no-color.org> asks); `always`, `never`.
    /// `background`: `auto` (the default) reads `COLORFGBG` where the terminal sets it, else
    /// dark; `dark`, `light`.
    pub fn from_settings(color: Option<&str>, background: Option<&str>) -> Result<Theme, String> {
        let color = match color.unwrap_or("auto") {
            "auto" => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            "always" => true,
            "never" => false,
            other => {
                return Err(format!(
                    "[theme] color = \"{other}\": use \"auto\", \"always\" or \"never\""
                ));
            }
        };
        let background = match background.unwrap_or("auto") {
            "auto" => std::env::var("COLORFGBG")
                .ok()
                .and_then(|v| background_of_colorfgbg(&v))
                .unwrap_or_default(),
            "dark" => Background::Dark,
            "light" => Background::Light,
            other => {
                return Err(format!(
                    "[theme] background = \"{other}\": use \"auto\", \"dark\" or \"light\""
                ));
            }
        };
        Ok(Theme { color, background })
    }

    fn palette(&self) -> &'static Palette {
        match self.background {
            Background::Dark => &DARK,
            Background::Light => &LIGHT,
        }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    pub fn state(&self, state: SyncState) -> Style {
        let palette = self.palette();
        match state {
            SyncState::Added => self.fg(palette.added),
            SyncState::AddedStaleError => self.fg(palette.added_stale),
            SyncState::Failed => self.fg(palette.failed).add_modifier(Modifier::BOLD),
            SyncState::Interrupted => self.fg(palette.interrupted).add_modifier(Modifier::BOLD),
            // The terminal's own foreground: readable on whatever background it has.
            SyncState::NotSynced => Style::default(),
        }
    }

    pub fn header(&self) -> Style {
        if self.color {
            Style::default().fg(HEADER_FG).bg(HEADER_BG)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn warning(&self) -> Style {
        self.fg(self.palette().warning).add_modifier(Modifier::BOLD)
    }

    pub fn danger(&self) -> Style {
        self.fg(self.palette().danger).add_modifier(Modifier::BOLD)
    }

    /// Hints and placeholders only: never for data the operator has to read.
    pub fn dim(&self) -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }

    /// An error text in a table: the terminal's own foreground, never dimmed.
    pub fn error_text(&self) -> Style {
        Style::default()
    }

    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// A table row: highlighted under the cursor, plain otherwise.
    pub fn row(&self, current: bool) -> Style {
        if current {
            self.selected()
        } else {
            Style::default()
        }
    }

    pub fn marked(&self) -> Style {
        self.fg(self.palette().marked).add_modifier(Modifier::BOLD)
    }

    pub fn changed(&self) -> Style {
        self.fg(self.palette().accent)
            .add_modifier(Modifier::ITALIC)
    }

    pub fn title(&self) -> Style {
        self.fg(self.palette().accent).add_modifier(Modifier::BOLD)
    }

    pub fn key(&self) -> Style {
        self.fg(self.palette().accent).add_modifier(Modifier::BOLD)
    }
}

/// `COLORFGBG` is `fg;bg` (rxvt, Konsole, some others; sometimes `fg;default;bg`): background
/// 7 (light grey) or 9–15 (the bright colours but black) means a light terminal.
fn background_of_colorfgbg(value: &str) -> Option<Background> {
    let bg: u8 = value.rsplit(';').next()?.trim().parse().ok()?;
    Some(if bg == 7 || (9..=15).contains(&bg) {
        Background::Light
    } else {
        Background::Dark
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Common defaults of the 16 ANSI colours, in ANSI order (black, red, …, bright white), with
    /// the dark and light backgrounds of that terminal.
    struct Defaults {
        name: &'static str,
        colours: [u32; 16],
        dark: u32,
        light: u32,
    }

    const TERMINALS: [Defaults; 4] = [
        Defaults {
            name: "xterm",
            colours: [
                0x000000, 0xcd0000, 0x00cd00, 0xcdcd00, 0x0000ee, 0xcd00cd, 0x00cdcd, 0xe5e5e5,
                0x7f7f7f, 0xff0000, 0x00ff00, 0xffff00, 0x5c5cff, 0xff00ff, 0x00ffff, 0xffffff,
            ],
            dark: 0x000000,
            light: 0xffffff,
        },
        Defaults {
            name: "Tango (GNOME Terminal)",
            colours: [
                0x2e3436, 0xcc0000, 0x4e9a06, 0xc4a000, 0x3465a4, 0x75507b, 0x06989a, 0xd3d7cf,
                0x555753, 0xef2929, 0x8ae234, 0xfce94f, 0x729fcf, 0xad7fa8, 0x34e2e2, 0xeeeeec,
            ],
            dark: 0x000000,
            light: 0xffffff,
        },
        Defaults {
            name: "Campbell (Windows Terminal)",
            colours: [
                0x0c0c0c, 0xc50f1f, 0x13a10e, 0xc19c00, 0x0037da, 0x881798, 0x3a96dd, 0xcccccc,
                0x767676, 0xe74856, 0x16c60c, 0xf9f1a5, 0x3b78ff, 0xb4009e, 0x61d6d6, 0xf2f2f2,
            ],
            dark: 0x0c0c0c,
            light: 0xffffff,
        },
        Defaults {
            name: "VGA",
            colours: [
                0x000000, 0xaa0000, 0x00aa00, 0xaa5500, 0x0000aa, 0xaa00aa, 0x00aaaa, 0xaaaaaa,
                0x555555, 0xff5555, 0x55ff55, 0xffff55, 0x5555ff, 0xff55ff, 0x55ffff, 0xffffff,
            ],
            dark: 0x000000,
            light: 0xffffff,
        },
    ];

    fn ansi_index(color: Color) -> usize {
        match color {
            Color::Black => 0,
            Color::Red => 1,
            Color::Green => 2,
            Color::Yellow => 3,
            Color::Blue => 4,
            Color::Magenta => 5,
            Color::Cyan => 6,
            Color::Gray => 7,
            Color::DarkGray => 8,
            Color::LightRed => 9,
            Color::LightGreen => 10,
            Color::LightYellow => 11,
            Color::LightBlue => 12,
            Color::LightMagenta => 13,
            Color::LightCyan => 14,
            Color::White => 15,
            other => panic!("{other:?} is not one of the 16 ANSI colours"),
        }
    }

    /// WCAG 2.x relative luminance of an sRGB colour.
    fn luminance(rgb: u32) -> f64 {
        let channel = |shift: u32| {
            let c = f64::from((rgb >> shift) & 0xff) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(16) + 0.7152 * channel(8) + 0.0722 * channel(0)
    }

    fn contrast(a: u32, b: u32) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    fn foregrounds(palette: &Palette) -> [(&'static str, Color); 8] {
        [
            ("added", palette.added),
            ("added, stale", palette.added_stale),
            ("failed", palette.failed),
            ("interrupted", palette.interrupted),
            ("warning", palette.warning),
            ("danger", palette.danger),
            ("marked", palette.marked),
            ("accent (titles, keys)", palette.accent),
        ]
    }

    fn failures_below_aa(palette: &Palette, background: Background) -> Vec<String> {
        let mut failures = Vec::new();
        for terminal in &TERMINALS {
            let bg = match background {
                Background::Dark => terminal.dark,
                Background::Light => terminal.light,
            };
            for (role, color) in foregrounds(palette) {
                let ratio = contrast(terminal.colours[ansi_index(color)], bg);
                if ratio < 4.5 {
                    failures.push(format!("{role} {color:?} on {}: {ratio:.2}", terminal.name));
                }
            }
        }
        failures
    }

    #[test]
    fn the_contrast_formula_matches_wcag_reference_values() {
        assert!((contrast(0x000000, 0xffffff) - 21.0).abs() < 1e-9);
        assert!((contrast(0x777777, 0xffffff) - 4.48).abs() < 0.01);
        assert!((contrast(0xffffff, 0xffffff) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn every_dark_palette_colour_reaches_wcag_aa_on_black_in_every_common_terminal() {
        assert_eq!(
            failures_below_aa(&DARK, Background::Dark),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_light_palette_colour_reaches_wcag_aa_on_white_in_every_common_terminal() {
        assert_eq!(
            failures_below_aa(&LIGHT, Background::Light),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_old_single_palette_failed_the_check_it_is_replaced_by() {
        // Yellow "Interrupted" on white, and red failures on black: what issue 13 reported.
        let xterm = &TERMINALS[0];
        assert!(contrast(xterm.colours[3], xterm.light) < 4.5);
        assert!(contrast(xterm.colours[1], xterm.dark) < 4.5);
    }

    #[test]
    fn the_header_bar_reads_in_every_common_terminal() {
        for terminal in &TERMINALS {
            let ratio = contrast(
                terminal.colours[ansi_index(HEADER_FG)],
                terminal.colours[ansi_index(HEADER_BG)],
            );
            assert!(ratio >= 4.5, "{}: {ratio:.2}", terminal.name);
        }
    }

    #[test]
    fn not_synced_and_errors_keep_the_terminal_foreground_and_errors_are_never_dim() {
        for background in [Background::Dark, Background::Light] {
            let theme = Theme {
                color: true,
                background,
            };
            assert_eq!(theme.state(SyncState::NotSynced).fg, None);
            assert_eq!(theme.error_text().fg, None);
            assert!(!theme.error_text().add_modifier.contains(Modifier::DIM));
        }
    }

    #[test]
    fn without_colour_no_style_carries_a_colour() {
        let theme = Theme::MONOCHROME;
        for state in SyncState::ALL {
            assert_eq!(theme.state(state).fg, None);
        }
        for style in [
            theme.warning(),
            theme.danger(),
            theme.marked(),
            theme.title(),
            theme.header(),
        ] {
            assert_eq!((style.fg, style.bg), (None, None));
        }
    }

    #[test]
    fn the_background_settings_are_read_and_a_wrong_one_is_named() {
        let light = Theme::from_settings(Some("always"), Some("light")).unwrap();
        assert_eq!(light.background, Background::Light);
        assert_eq!(light.state(SyncState::Interrupted).fg, Some(Color::Magenta));
        let dark = Theme::from_settings(Some("always"), Some("dark")).unwrap();
        assert_eq!(
            dark.state(SyncState::Interrupted).fg,
            Some(Color::LightYellow)
        );
        let wrong = Theme::from_settings(None, Some("pink")).unwrap_err();
        assert!(wrong.contains("background = \"pink\""), "{wrong}");
        let wrong = Theme::from_settings(Some("sometimes"), None).unwrap_err();
        assert!(wrong.contains("color = \"sometimes\""), "{wrong}");
    }

    #[test]
    fn colorfgbg_names_a_light_or_dark_background() {
        assert_eq!(background_of_colorfgbg("0;15"), Some(Background::Light));
        assert_eq!(
            background_of_colorfgbg("0;default;7"),
            Some(Background::Light)
        );
        assert_eq!(background_of_colorfgbg("15;0"), Some(Background::Dark));
        assert_eq!(background_of_colorfgbg("15;8"), Some(Background::Dark));
        assert_eq!(background_of_colorfgbg("garbage"), None);
    }
}
