//! How a run ends badly: color-eyre's panic hook for every command, and the report of the error
//! that ends a command. Operators read one line (`error: …`) whatever `RUST_BACKTRACE` says;
//! `--verbose` adds the chain of causes, one per line. That chain is not color-eyre's report:
//! its backtrace would be captured where `main` builds the report (every frame is `main`'s) and
//! it cannot be turned off while `RUST_BACKTRACE=1` is set, as it is on the support machines.

use std::io::IsTerminal;

use color_eyre::config::{HookBuilder, Theme};

use crate::commands::CliError;

/// Installs color-eyre's panic and error hooks, once, before any command runs. The console
/// installs ratatui's panic hook on top, so the terminal is restored before the panic is printed.
pub fn install_hooks() {
    let theme = if std::io::stderr().is_terminal() {
        Theme::dark()
    } else {
        // Logs and scripts get plain text.
        Theme::new()
    };
    // The location is always main's and the environment hint is for developers: both are noise.
    let hooks = HookBuilder::default()
        .theme(theme)
        .display_location_section(false)
        .display_env_section(false)
        .capture_span_trace_by_default(false);
    // Only fails when hooks are already set, and then they are.
    let _ = hooks.install();
}

/// The text written to stderr for an error that ends a command, or None when there is nothing
/// to say. With `verbose`, each error underneath follows on its own line.
pub fn error_text(error: CliError, verbose: bool) -> Option<String> {
    let message = error.message?;
    let mut text = format!("error: {message}");
    if !verbose {
        return Some(text);
    }
    let mut causes = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = match &error.cause {
        Some(cause) => Some(cause.as_ref()),
        None => None,
    };
    while let Some(cause) = next {
        let shown = cause.to_string();
        // The first cause is often the message itself (an error whose text is the one line).
        if shown != message {
            causes.push(shown);
        }
        next = cause.source();
    }
    if !causes.is_empty() {
        text.push_str("\ncaused by:");
        for (n, cause) in causes.iter().enumerate() {
            text.push_str(&format!("\n  {n}: {cause}"));
        }
    }
    Some(text)
}
