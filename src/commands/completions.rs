//! `labctl completions SHELL`: completion scripts generated from the same clap definition as `--help`.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;

/// Prints the completion script for `shell` to stdout.
pub fn run(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "labctl", &mut std::io::stdout());
    Ok(())
}
