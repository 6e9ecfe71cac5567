use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = callscribe::cli::Cli::parse();
    callscribe::cli::run(cli)
}
