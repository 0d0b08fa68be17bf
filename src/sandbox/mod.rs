//! The sandbox: a KTHW lab on this Linux machine, built from network namespaces (DESIGN.md §7).
//!
//! Each worker is a namespace with Debian's real OpenSSH `sshd` (user `vagrant`, key auth,
//! passwordless sudo, own host key and hostname, its own `/root`, `/etc/kubernetes`,
//! `/var/lib/kubelet` and the other directories KTHW writes to) and one pod made by the real CNI
//! `bridge` and `host-local` plugins; docs/architecture.md, "Sandbox nodes", says what a node
//! has of its own. The nodes share a lab network (a bridge in a namespace of its own) that
//! this machine reaches through one veth. The sandbox is a provider of machines, not a
//! connector: labctl reaches it over real SSH like any other lab, through the inventory
//! `up` writes.
//!
//! - [`args`]: the subcommands and flags; [`spec`]: the flags checked into a [`spec::SandboxSpec`];
//! - [`up`] builds it with [`network`], [`node_etc`], [`pod`] and [`sshd`], recording
//!   everything in [`state`] first, so that [`down`] can remove it even after a failed `up`;
//! - [`status`] shows it; [`inventory_file`] is the inventory it writes.

pub mod args;
pub mod command;
pub mod down;
pub mod inventory_file;
pub mod names;
pub mod netns;
pub mod network;
pub mod node_etc;
pub mod paths;
pub mod pod;
pub mod programs;
pub mod spec;
pub mod sshd;
pub mod state;
pub mod status;
pub mod up;

use std::path::{Path, PathBuf};

pub use args::SandboxCommand;

use crate::error::{Error, Problem};

/// Runs a `labctl sandbox` subcommand.
pub fn execute(cmd: &SandboxCommand, shell: &crate::output::shell::Shell) -> Result<(), Error> {
    match cmd {
        SandboxCommand::Up(args) => up::run(args, shell),
        SandboxCommand::Down(args) => down::run(args, shell),
        SandboxCommand::Status(args) => status::run(args, shell),
    }
}

/// The inventory of the running sandbox labctl should use when no `-i` is given, if any:
/// the sandbox `default` if it runs, else the only running one.
pub fn running_inventory() -> Result<Option<PathBuf>, Problem> {
    running_inventory_in(&paths::sandboxes_root())
}

/// [`running_inventory`] for the sandboxes under `root`.
/// Several running, none called `default`: which is meant cannot be told, and the error
/// lists them.
pub fn running_inventory_in(root: &Path) -> Result<Option<PathBuf>, Problem> {
    let running: Vec<(String, PathBuf)> = status::sandbox_names(root)
        .into_iter()
        .map(|name| {
            let inventory = paths::SandboxPaths::new(root, &name).inventory();
            (name, inventory)
        })
        .filter(|(name, inventory)| inventory.is_file() && is_running(name))
        .collect();
    if let Some((_, inventory)) = running.iter().find(|(name, _)| name == "default") {
        return Ok(Some(inventory.clone()));
    }
    match running.as_slice() {
        [] => Ok(None),
        [(_, inventory)] => Ok(Some(inventory.clone())),
        several => {
            let list: Vec<String> = several
                .iter()
                .map(|(name, inventory)| format!("  {name}  (inventory {})", inventory.display()))
                .collect();
            Err(Problem::new(format!(
                "no inventory given, and {} sandboxes are running, none called `default`:\n{}",
                several.len(),
                list.join("\n")
            ))
            .help("choose one with `--sandbox NAME` or `-i FILE`"))
        }
    }
}

/// The names of the sandboxes running on this machine.
pub fn running_names() -> Vec<String> {
    status::sandbox_names(&paths::sandboxes_root()).into_iter().filter(|n| is_running(n)).collect()
}

/// The inventory of the running sandbox called `name` (`--sandbox NAME`).
pub fn inventory_of(name: &str) -> Result<PathBuf, Error> {
    let root = paths::sandboxes_root();
    let inventory = paths::SandboxPaths::new(&root, name).inventory();
    if inventory.is_file() && is_running(name) {
        return Ok(inventory);
    }
    let running: Vec<String> =
        status::sandbox_names(&root).into_iter().filter(|n| is_running(n)).collect();
    let help = match running.as_slice() {
        [] => "start one with `sudo labctl sandbox up`".to_string(),
        names => format!("running: {}", names.join(", ")),
    };
    Err(bad_input(Problem::new(format!("sandbox `{name}` is not running")).help(help)))
}

/// True when the sandbox called `name` has its namespaces (it is up, or half-built).
pub fn is_running(name: &str) -> bool {
    netns::netns_exists(&names::SandboxNames::new(name).network_ns())
}

/// An error in what the user asked for (flags, missing root or programs): exit code 2.
fn bad_input(problem: impl Into<Problem>) -> Error {
    Error::BadInput(problem.into())
}

/// A failure while doing what was asked: exit code 1.
fn failed(problem: impl Into<Problem>) -> Error {
    Error::Failed(problem.into())
}
