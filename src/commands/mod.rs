//! The subcommands: each takes parsed arguments, does its work, and returns an [`Error`]
//! for `main` to print once.

mod completions;
mod list;
mod render;
mod show;

use crate::cli::{Cli, Command};
use crate::error::Error;

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> Result<(), Error> {
    match &cli.command {
        Command::List => list::run(),
        Command::Show { chapter } => show::run(chapter),
        Command::Render { chapter, variant, out } => {
            render::run(&cli.global, chapter, variant.as_deref(), out.as_deref())
        }
        Command::Plan { .. } | Command::Run { .. } | Command::Reset { .. } => {
            Err(Error::Usage("not wired yet".into()))
        }
        Command::Verify { .. } => Err(Error::Usage("verify is not wired yet".into())),
        Command::Sandbox(cmd) => crate::sandbox::execute(cmd, &cli.global),
        Command::Completions { shell } => completions::run(*shell),
    }
}

/// The inventory in effect (`-i`, else the lookup order), loaded and linted; warnings are printed.
fn load_inventory(global: &crate::cli::GlobalArgs) -> Result<crate::inventory::Inventory, Error> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Usage(format!("cannot read the current directory: {e}")))?;
    let located = crate::inventory::locate(global.inventory.as_deref(), &cwd)?;
    let warnings = crate::inventory::lint::check(&located.inventory)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    Ok(located.inventory)
}
