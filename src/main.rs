use clap::error::ErrorKind;

use calsync::cli::{self, EXIT_UNUSABLE};
use calsync::commands;

fn main() {
    let cli = match cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            // clap's first line says what is wrong; the usage hint after it is noise in scripts.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("error: bad arguments");
            eprintln!("{first} (see calsync --help)");
            std::process::exit(EXIT_UNUSABLE);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(EXIT_UNUSABLE);
        }
    };
    // Errors are one line, whatever RUST_BACKTRACE says: operators read them, not developers.
    let code = match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            if let Some(message) = e.message {
                eprintln!("error: {message}");
            }
            e.code
        }
    };
    drop(runtime);
    std::process::exit(code);
}
