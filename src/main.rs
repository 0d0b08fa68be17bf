//! The `labctl` binary: parse the command line, run the command, print the one error once,
//! exit with its code.

fn main() {
    // `COMPLETE=bash labctl` prints the shell's hook; the hook asks labctl again for each
    // completion, with the words typed so far (`labctl completions SHELL` prints the same hook).
    clap_complete::CompleteEnv::with_factory(labctl::cli::Cli::command_line).complete();
    let cli = labctl::cli::Cli::parse_args();
    let shell = cli.global.shell.clone();
    if let Err(error) = labctl::commands::run(cli) {
        if !matches!(error, labctl::error::Error::Exit(_)) {
            for message in error.messages() {
                shell.error(&message);
            }
        }
        std::process::exit(error.exit_code());
    }
}
