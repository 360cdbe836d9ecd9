use clap::error::ErrorKind;

use calsync::cli::{self, EXIT_UNUSABLE};
use calsync::{commands, report};

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
    report::install_hooks();
    let verbose = cli.global.verbose;
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
            let code = e.code;
            if let Some(text) = report::error_text(e, verbose) {
                eprintln!("{text}");
            }
            code
        }
    };
    drop(runtime);
    std::process::exit(code);
}
