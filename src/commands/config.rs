//! `calsync config`: which config file is read (after `--config` and `CALSYNC_CONFIG`), which
//! profile applies, and which database the other commands would open, with its password hidden.

use super::console::DEFAULT_REFRESH;
use super::{CliError, Output};
use crate::cli::{ConfigArgs, EXIT_OK, GlobalArgs};
use crate::config::{
    ConfigFile, DEFAULT_CONFIG, Environment, choose_database, chosen_profile, default_config_path,
};
use crate::tui::Theme;
use crate::tui::keymap::Keymap;

pub fn run(global: &GlobalArgs, args: &ConfigArgs) -> Result<i32, CliError> {
    let mut out = Output::default();
    if args.print_default {
        out.line(DEFAULT_CONFIG.trim_end())?;
        out.flush()?;
        return Ok(EXIT_OK);
    }
    // An unreadable or invalid file is the same one-line error every command gives.
    let (config, read_from) =
        ConfigFile::load(global.config.as_deref()).map_err(CliError::unusable)?;
    let file = match (&read_from, &global.config) {
        (Some(path), Some(_)) => format!("{} (from --config or CALSYNC_CONFIG)", path.display()),
        (Some(path), None) => format!("{} (the default location)", path.display()),
        (None, _) => match default_config_path() {
            Some(path) => format!(
                "{} (not there: every setting is at its default)",
                path.display()
            ),
            None => "(no config directory on this system)".to_string(),
        },
    };
    out.line(&format!("config file  {file}"))?;

    let env = Environment::from_process(global.env_file.as_deref()).map_err(CliError::unusable)?;
    let choice = choose_database(
        global.database_url.as_deref(),
        &env,
        &config,
        read_from.as_deref(),
        global.profile.as_deref(),
    );
    let profile = match chosen_profile(&config, global.profile.as_deref()) {
        Some((name, why)) => {
            let used = matches!(&choice, Ok(c) if c.origin.starts_with("profile "));
            if used || choice.is_err() {
                format!("{name} ({why})")
            } else {
                format!("{name} ({why}; not used: the database is given elsewhere)")
            }
        }
        None => "none".to_string(),
    };
    out.line(&format!("profile      {profile}"))?;
    match &choice {
        Ok(choice) => out.line(&format!(
            "database     {} (from {})",
            choice.url.redacted(),
            choice.origin
        ))?,
        Err(why) => out.line(&format!("database     none: {why}"))?,
    }
    // The console's settings, refused here exactly as the console would refuse them.
    Keymap::with_overrides(&config.keymap).map_err(CliError::unusable)?;
    Theme::from_settings(
        config.theme.color.as_deref(),
        config.theme.background.as_deref(),
    )
    .map_err(CliError::unusable)?;
    let refresh = config
        .refresh_secs
        .map_or(DEFAULT_REFRESH.as_secs(), |s| s.max(1));
    out.line(&format!(
        "console      re-reads every {refresh} s; {} key override{}; colour {}{}",
        config.keymap.len(),
        if config.keymap.len() == 1 { "" } else { "s" },
        config.theme.color.as_deref().unwrap_or("auto"),
        // Said only when chosen, so the line stays what scripts read without a [theme].
        config
            .theme
            .background
            .as_deref()
            .map(|b| format!("; background {b}"))
            .unwrap_or_default()
    ))?;
    out.line("calsync config --print-default prints a commented default.")?;
    out.flush()?;
    Ok(EXIT_OK)
}
