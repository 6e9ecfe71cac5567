use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // SAFETY: changing the environment is only sound while nothing reads it concurrently.
    // This is the first thing main does: callscribe has started no thread yet (the tokio
    // runtimes, the whisper pool and the batch threads all start later, from `cli::run`). The
    // only threads that can exist are the worker pool OpenBLAS starts from its library
    // constructor before main; they wait for BLAS jobs and never read the environment.
    unsafe { callscribe::store::keyring::take_master_key_env() };
    let cli = callscribe::cli::Cli::parse();
    callscribe::cli::run(cli)
}
