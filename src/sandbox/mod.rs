//! The built-in sandbox lab (placeholder until the sandbox lands).

use clap::Subcommand;

/// `labctl sandbox ...`
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Show the sandbox labs on this machine.
    Status,
}

/// The inventory of the running sandbox labctl should use when no `-i` is given, if any.
pub fn running_inventory() -> Option<std::path::PathBuf> {
    None
}

/// Runs a `labctl sandbox` subcommand.
pub fn execute(
    _cmd: &SandboxCommand,
    _global: &crate::cli::GlobalArgs,
) -> Result<(), crate::error::Error> {
    Ok(())
}
