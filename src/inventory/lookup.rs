//! Finding the inventory when `-i` is not given (DESIGN §4): `./labctl.yaml`, then a running
//! sandbox, then a `Vagrantfile` in the current directory (asked with `vagrant ssh-config`).
//! Also: reading an inventory file whatever its format, and filling a vagrant inventory's SSH
//! endpoints from `vagrant ssh-config`.

use std::path::{Path, PathBuf};

use super::model::{Inventory, InventoryFormat, Provider};
use super::sniff::sniff;
use super::vagrant::{VagrantCli, VagrantError};
use super::{machines_txt, paths, ssh_config, yaml_format};
use crate::diagnostic::Diagnostic;
use crate::error::Error;

/// The file labctl looks for in the current directory.
pub const INVENTORY_FILE: &str = "labctl.yaml";

/// Where a located inventory came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The file given with `-i`.
    Explicit(PathBuf),
    /// `./labctl.yaml`.
    WorkingDir(PathBuf),
    /// The inventory a running sandbox wrote.
    Sandbox(PathBuf),
    /// `vagrant ssh-config` run next to this Vagrantfile.
    Vagrantfile(PathBuf),
}

/// The inventory found, where it came from, and what was looked at to find it.
#[derive(Debug, Clone)]
pub struct Located {
    pub inventory: Inventory,
    pub origin: Origin,
    /// What was tried, in order, e.g. `./labctl.yaml` and `a running sandbox`.
    pub searched: Vec<String>,
}

/// Why no inventory could be had.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Nothing to read; `searched` lists what was tried, for "no inventory found: looked for …".
    #[error("no inventory found: looked for {}", .searched.join(", "))]
    NotFound { searched: Vec<String> },

    /// An inventory was found but is not valid.
    #[error("{0}")]
    Input(Diagnostic),

    /// Which inventory is meant cannot be told (several running sandboxes); the message
    /// lists the choices.
    #[error("{0}")]
    Ambiguous(crate::error::Problem),

    /// The Vagrant machines could not be asked for their SSH configuration.
    #[error(transparent)]
    Vagrant(#[from] VagrantError),
}

impl From<Diagnostic> for LookupError {
    fn from(d: Diagnostic) -> Self {
        LookupError::Input(d)
    }
}

impl From<LookupError> for Error {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::NotFound { searched } => Error::NoInventory { searched },
            LookupError::Input(d) => Error::Input(d),
            LookupError::Ambiguous(problem) => Error::BadInput(problem),
            LookupError::Vagrant(v) => v.into(),
        }
    }
}

/// Reads an inventory file in whichever format it is written (sniffed from its content).
pub fn load(path: &Path) -> Result<Inventory, Diagnostic> {
    let text = crate::yaml::read_input(path)?;
    load_str(path, &text)
}

/// Parses inventory text read from `path` in whichever format it is written.
pub fn load_str(path: &Path, text: &str) -> Result<Inventory, Diagnostic> {
    // Editors on Windows may start a text file with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match sniff(text) {
        Some(InventoryFormat::Yaml) => yaml_format::parse_str(path, text),
        Some(InventoryFormat::MachinesTxt) => machines_txt::parse_str(path, text),
        Some(InventoryFormat::VagrantSshConfig) => {
            let hosts = ssh_config::parse(path, text)?;
            ssh_config::to_inventory(path, &hosts, &paths::inventory_dir(path))
        }
        None => {
            let mut help =
                "labctl reads a labctl YAML inventory (a mapping with `nodes:`), a KTHW \
                            machines.txt (`IP FQDN HOST [SUBNET]` lines) or the output of `vagrant \
                            ssh-config` (`Host NAME` blocks)"
                    .to_string();
            if path.file_name().is_some_and(|n| n == "Vagrantfile") {
                help.push_str("; for a Vagrantfile, run labctl in its directory without `-i`");
            }
            let line =
                text.lines().position(|l| !l.trim().is_empty() && !l.trim().starts_with('#'));
            Err(Diagnostic::error(
                path,
                line.map(|l| l as u64 + 1),
                None,
                "cannot tell which inventory format this is",
            )
            .with_help(help))
        }
    }
}

/// Finds and reads the inventory: `explicit` (from `-i`) if given, else the lookup of
/// DESIGN §4 in `cwd`. `running_sandbox` names the inventory of a running sandbox (or says why
/// none can be chosen): the caller
/// hands it in, as the sandbox is a provider of machines built on top of the inventory
/// (docs/architecture.md, "Layers (folders)").
pub fn locate(
    explicit: Option<&Path>,
    cwd: &Path,
    running_sandbox: impl FnOnce() -> Result<Option<PathBuf>, crate::error::Problem>,
) -> Result<Located, LookupError> {
    locate_with(explicit, cwd, running_sandbox, &VagrantCli::default())
}

/// [`locate`] with the sandbox lookup and the `vagrant` command given (for tests).
fn locate_with(
    explicit: Option<&Path>,
    cwd: &Path,
    running_sandbox: impl FnOnce() -> Result<Option<PathBuf>, crate::error::Problem>,
    vagrant: &VagrantCli,
) -> Result<Located, LookupError> {
    if let Some(path) = explicit {
        let path = path.to_path_buf();
        return Ok(Located {
            inventory: load(&path)?,
            origin: Origin::Explicit(path),
            searched: vec![],
        });
    }
    let mut searched = Vec::new();

    searched.push(format!("./{INVENTORY_FILE}"));
    let file = cwd.join(INVENTORY_FILE);
    if file.exists() {
        return Ok(Located { inventory: load(&file)?, origin: Origin::WorkingDir(file), searched });
    }

    searched.push("a running sandbox".into());
    if let Some(file) = running_sandbox().map_err(LookupError::Ambiguous)? {
        return Ok(Located { inventory: load(&file)?, origin: Origin::Sandbox(file), searched });
    }

    searched.push("./Vagrantfile".into());
    let vagrantfile = cwd.join("Vagrantfile");
    if vagrantfile.is_file() {
        let inventory = from_vagrant(cwd, &vagrantfile, vagrant)?;
        return Ok(Located { inventory, origin: Origin::Vagrantfile(vagrantfile), searched });
    }
    Err(LookupError::NotFound { searched })
}

/// The label `vagrant ssh-config` output is reported under, as it is not a file.
fn output_label() -> PathBuf {
    PathBuf::from("vagrant ssh-config")
}

/// An inventory from the output of `vagrant ssh-config` in `dir`.
fn from_vagrant(
    dir: &Path,
    vagrantfile: &Path,
    vagrant: &VagrantCli,
) -> Result<Inventory, LookupError> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let output = vagrant.ssh_config(&dir)?;
    let hosts = ssh_config::parse(&output_label(), &output)?;
    let mut inventory = ssh_config::to_inventory(&output_label(), &hosts, &dir)?;
    // Lines of a command's output mean nothing once it is gone; lints name the Vagrantfile.
    inventory.source = vagrantfile.to_path_buf();
    for node in &mut inventory.nodes {
        node.line = None;
    }
    Ok(inventory)
}

/// For a labctl YAML inventory with `provider: vagrant`: runs `vagrant ssh-config` in its
/// `vagrant.dir` and fills each node's SSH endpoint from it (see
/// [`ssh_config::apply_ssh_config`]). Other inventories are left as they are. Call it before
/// connecting, not for `render` or `lint`, which need no running machines.
pub fn resolve_vagrant_endpoints(inventory: &mut Inventory) -> Result<(), LookupError> {
    resolve_vagrant_endpoints_with(inventory, &VagrantCli::default())
}

fn resolve_vagrant_endpoints_with(
    inventory: &mut Inventory,
    vagrant: &VagrantCli,
) -> Result<(), LookupError> {
    if inventory.provider != Provider::Vagrant || inventory.format != InventoryFormat::Yaml {
        return Ok(());
    }
    let dir = match &inventory.vagrant {
        Some(v) => v.dir.clone(),
        None => paths::inventory_dir(&inventory.source),
    };
    let output = vagrant.ssh_config_of(&dir, Some(&inventory.source))?;
    let hosts = ssh_config::parse(&output_label(), &output)?;
    ssh_config::apply_ssh_config(inventory, &hosts)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use pretty_assertions::assert_eq;

    use super::super::vagrant::tests::fake_vagrant;
    use super::*;

    const LAB: &str = "nodes:\n  - { name: server, role: controller, address: 10.240.0.10 }\n";
    const LIBVIRT: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/inventory/vagrant-ssh-config-libvirt.txt"
    );
    const VIRTUALBOX: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/inventory/vagrant-ssh-config-virtualbox.txt"
    );

    fn no_vagrant() -> VagrantCli {
        VagrantCli { program: "/nonexistent/vagrant".into(), ..VagrantCli::default() }
    }

    #[test]
    fn explicit_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(INVENTORY_FILE), LAB).unwrap();
        let mine = dir.path().join("machines");
        std::fs::write(&mine, "10.240.0.10 server.kubernetes.local server\n").unwrap();
        let found = locate_with(Some(&mine), dir.path(), || Ok(None), &no_vagrant()).unwrap();
        assert_eq!(found.origin, Origin::Explicit(mine));
        assert_eq!(found.inventory.format, InventoryFormat::MachinesTxt);
        assert_eq!(found.searched, Vec::<String>::new());
    }

    #[test]
    fn labctl_yaml_in_cwd_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(INVENTORY_FILE);
        std::fs::write(&file, LAB).unwrap();
        std::fs::write(dir.path().join("Vagrantfile"), "").unwrap();
        let sandbox = || panic!("the sandbox must not be asked when ./labctl.yaml exists");
        let found = locate_with(None, dir.path(), sandbox, &no_vagrant()).unwrap();
        assert_eq!(found.origin, Origin::WorkingDir(file));
        assert_eq!(found.inventory.nodes[0].address, Ipv4Addr::new(10, 240, 0, 10));
        assert_eq!(found.searched, ["./labctl.yaml"]);
    }

    #[test]
    fn running_sandbox_comes_second() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox_file = dir.path().join("sandbox.yaml");
        std::fs::write(&sandbox_file, LAB).unwrap();
        std::fs::write(dir.path().join("Vagrantfile"), "").unwrap();
        let found = locate_with(None, dir.path(), || Ok(Some(sandbox_file.clone())), &no_vagrant())
            .unwrap();
        assert_eq!(found.origin, Origin::Sandbox(sandbox_file));
        assert_eq!(found.searched, ["./labctl.yaml", "a running sandbox"]);
    }

    #[test]
    fn nothing_found_lists_what_was_searched() {
        let dir = tempfile::tempdir().unwrap();
        let e = locate_with(None, dir.path(), || Ok(None), &no_vagrant()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no inventory found: looked for ./labctl.yaml, a running sandbox, ./Vagrantfile"
        );
        let e = Error::from(e);
        assert!(matches!(&e, Error::NoInventory { searched } if searched.len() == 3), "{e:?}");
    }

    #[test]
    fn vagrantfile_runs_vagrant_ssh_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Vagrantfile"), "").unwrap();
        let vagrant = fake_vagrant(dir.path(), &format!("cat '{LIBVIRT}'"));
        let found = locate_with(None, dir.path(), || Ok(None), &vagrant).unwrap();
        assert_eq!(found.origin, Origin::Vagrantfile(dir.path().join("Vagrantfile")));
        assert_eq!(found.searched, ["./labctl.yaml", "a running sandbox", "./Vagrantfile"]);
        let inv = found.inventory;
        assert_eq!(inv.source, dir.path().join("Vagrantfile"));
        assert_eq!(inv.provider, Provider::Vagrant);
        assert_eq!(inv.nodes.len(), 3);
        assert_eq!(inv.nodes[2].address, Ipv4Addr::new(192, 168, 121, 21));
        assert_eq!(inv.nodes[2].line, None);
    }

    #[test]
    fn vagrantfile_with_port_forwards_asks_for_a_labctl_yaml() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Vagrantfile"), "").unwrap();
        let vagrant = fake_vagrant(dir.path(), &format!("cat '{VIRTUALBOX}'"));
        let e = locate_with(None, dir.path(), || Ok(None), &vagrant).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "vagrant ssh-config:1: `server` is reached through a port forward (127.0.0.1:2222)"
            ),
            "{e}"
        );
    }

    #[test]
    fn vagrantfile_without_vagrant_says_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Vagrantfile"), "").unwrap();
        let e = locate_with(None, dir.path(), || Ok(None), &no_vagrant()).unwrap_err();
        assert!(matches!(e, LookupError::Vagrant(VagrantError::NotInstalled { .. })), "{e}");
        assert!(e.to_string().contains("the `vagrant` program is not installed"), "{e}");
    }

    #[test]
    fn load_sniffs_every_format() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let cases = [
            ("labctl.yaml", InventoryFormat::Yaml),
            ("machines.txt", InventoryFormat::MachinesTxt),
            ("vagrant-labctl.yaml", InventoryFormat::Yaml),
        ];
        for (name, format) in cases {
            assert_eq!(load(&fixtures.join(name)).unwrap().format, format, "{name}");
        }
        let inv = load(Path::new(LIBVIRT)).unwrap();
        assert_eq!(inv.format, InventoryFormat::VagrantSshConfig);
    }

    #[test]
    fn load_refuses_what_fits_no_format() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Vagrantfile");
        std::fs::write(&file, "# -*- mode: ruby -*-\nVagrant.configure(\"2\") do |config|\nend\n")
            .unwrap();
        let e = load(&file).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:2: cannot tell which inventory format this is\n  help: labctl reads a labctl \
                 YAML inventory (a mapping with `nodes:`), a KTHW machines.txt (`IP FQDN HOST \
                 [SUBNET]` lines) or the output of `vagrant ssh-config` (`Host NAME` blocks); for a \
                 Vagrantfile, run labctl in its directory without `-i`",
                file.display()
            )
        );
    }

    #[test]
    fn vagrant_endpoints_fill_a_yaml_inventory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(INVENTORY_FILE);
        let text = "provider: vagrant\nnodes:\n  - { name: server, role: controller, address: 10.240.0.10 }\n";
        std::fs::write(&file, text).unwrap();
        let mut inv = load(&file).unwrap();
        let vagrant = fake_vagrant(dir.path(), &format!("cat '{VIRTUALBOX}'"));
        resolve_vagrant_endpoints_with(&mut inv, &vagrant).unwrap();
        let ssh = inv.nodes[0].ssh.clone().unwrap();
        assert_eq!((ssh.host.as_str(), ssh.port), ("127.0.0.1", Some(2222)));
        assert_eq!(inv.nodes[0].address, Ipv4Addr::new(10, 240, 0, 10));
    }

    #[test]
    fn vagrant_endpoints_leave_other_inventories_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(INVENTORY_FILE);
        std::fs::write(&file, LAB).unwrap();
        let mut inv = load(&file).unwrap();
        let before = inv.clone();
        resolve_vagrant_endpoints_with(&mut inv, &no_vagrant()).unwrap();
        assert_eq!(inv, before);
    }
}
