use clap::Parser;

use calsync::cli::Cli;
use calsync::commands;

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(calsync::cli::EXIT_UNUSABLE);
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
