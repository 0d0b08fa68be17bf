//! The `labctl` binary: parse the command line, run the command, print the one error once,
//! exit with its code.

use clap::Parser;

fn main() {
    let cli = labctl::cli::Cli::parse();
    let style = labctl::output::style::Style::for_stderr(cli.global.color);
    if let Err(error) = labctl::commands::run(cli) {
        if !matches!(error, labctl::error::Error::Exit(_)) {
            eprintln!("{}: {error}", style.red(&style.bold("error")));
        }
        std::process::exit(error.exit_code());
    }
}
