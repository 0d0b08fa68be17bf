//! The throwaway sandbox of one `labctl test` cycle: a name no other sandbox has, a lab
//! network no other sandbox or interface of this machine uses, and a guard that always runs
//! `labctl sandbox down` (docs/chapters.md, "Testing a chapter: labctl test").

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ipnet::Ipv4Net;

use crate::error::{EXIT_BAD_INPUT, Error};
use crate::sandbox::paths::{SandboxPaths, sandboxes_root};
use crate::sandbox::spec::{Shape, overlaps};
use crate::sandbox::state::SandboxState;

/// The range the test sandboxes' lab networks are taken from, one /24 each: away from the
/// sandbox's default (10.240.0.0/24) and from what its own help suggests (10.241–10.254).
pub const TEST_NETWORKS: &str = "10.239.0.0/16";
/// How many networks `sandbox up` may refuse (taken by something this machine has) before
/// labctl test gives up.
const MAX_REFUSALS: usize = 32;

/// A sandbox brought up for a test; dropping it brings it down.
pub struct TestSandbox {
    exe: PathBuf,
    pub name: String,
    pub network: Option<Ipv4Net>,
    /// The inventory `sandbox up` wrote.
    pub inventory: PathBuf,
    down: bool,
    /// Where its `sandbox up` output (with `-v`) and a failed `down` on drop are shown.
    shell: crate::output::shell::Shell,
}

/// What bringing a sandbox down found.
pub struct Down {
    pub ok: bool,
    pub message: String,
}

impl TestSandbox {
    /// A sandbox name for the `index`-th variant this process tests, unique on this machine
    /// while this process lives.
    pub fn name_for(index: usize) -> String {
        format!("test-{}-{index}", std::process::id())
    }

    /// Brings up sandbox `name` of `shape` on a free /24 of [`TEST_NETWORKS`]. Whatever
    /// happens, the returned guard or the error path has run `sandbox down`.
    pub fn up(
        exe: &Path,
        name: &str,
        shape: Shape,
        shell: &crate::output::shell::Shell,
    ) -> Result<TestSandbox, Error> {
        let root = sandboxes_root();
        let mut sandbox = TestSandbox {
            exe: exe.to_path_buf(),
            name: name.to_string(),
            network: None,
            inventory: SandboxPaths::new(&root, name).inventory(),
            down: false,
            shell: shell.clone(),
        };
        // Two `labctl test` at once would otherwise pick the same free network before either
        // has made it; the lock on the sandboxes' directory makes them take turns, and goes
        // with this process.
        std::fs::create_dir_all(&root)
            .map_err(|e| Error::failed(format!("cannot create `{}`: {e}", root.display())))?;
        let lock = std::fs::File::open(&root).and_then(|f| f.lock().map(|()| f));
        let taken = networks_of_sandboxes(&root);
        let mut refused = Vec::new();
        for network in candidates(std::process::id()) {
            if taken.iter().any(|t| overlaps(*t, network)) {
                continue;
            }
            sandbox.network = Some(network);
            let out = sandbox.labctl(&[
                "sandbox",
                "up",
                "--name",
                name,
                "--shape",
                shape.as_str(),
                "--network",
                &network.to_string(),
            ])?;
            if shell.verbosity() > 0 {
                shell.err(&super::both(&out));
            }
            if out.status.success() {
                drop(lock);
                return Ok(sandbox);
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            // `sandbox up` refuses a network this machine already uses (exit 2, "overlaps").
            if out.status.code() == Some(EXIT_BAD_INPUT) && stderr.contains("overlaps") {
                refused.push(network.to_string());
                if refused.len() < MAX_REFUSALS {
                    continue;
                }
            }
            return Err(Error::failed(format!(
                "the test sandbox `{name}` could not be brought up: {}",
                super::outputs::last_line(&stderr)
            )));
        }
        Err(Error::failed(format!(
            "no free /24 for a test sandbox in {TEST_NETWORKS} (this machine uses {})",
            refused.join(", ")
        )))
    }

    /// Runs this labctl with `args`, output captured.
    pub fn labctl(&self, args: &[&str]) -> Result<Output, Error> {
        Command::new(&self.exe)
            .args(args)
            .env_remove("LABCTL_INVENTORY")
            .output()
            .map_err(|e| Error::failed(format!("cannot run `{}`: {e}", self.exe.display())))
    }

    /// Runs `sandbox down` and checks that nothing of the sandbox is left.
    pub fn down(&mut self) -> Down {
        self.down = true;
        let out = match self.labctl(&["sandbox", "down", "--name", &self.name]) {
            Ok(out) => out,
            Err(e) => return Down { ok: false, message: e.to_string() },
        };
        let dir = SandboxPaths::new(&sandboxes_root(), &self.name).dir().to_path_buf();
        let left = crate::sandbox::is_running(&self.name) || dir.exists();
        if out.status.success() && !left {
            return Down { ok: true, message: format!("sandbox `{}` removed", self.name) };
        }
        let why = match out.status.success() {
            true => format!("its namespaces or `{}` are still there", dir.display()),
            false => super::outputs::last_line(&super::both(&out)),
        };
        Down {
            ok: false,
            message: crate::error::with_help(
                format!("sandbox `{}` is not fully removed: {why}", self.name),
                format!("`sudo labctl sandbox down --name {}`", self.name),
            ),
        }
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        if !self.down {
            let result = self.down();
            if !result.ok {
                self.shell.error(&result.message);
            }
        }
    }
}

/// The /24s of [`TEST_NETWORKS`], starting at one chosen by `seed` (so that tests at once start
/// at different places), wrapping around.
pub fn candidates(seed: u32) -> impl Iterator<Item = Ipv4Net> {
    let start = (seed % 256) as u8;
    (0..=255u8).filter_map(move |i| {
        let third = start.wrapping_add(i);
        Ipv4Net::new(std::net::Ipv4Addr::new(10, 239, third, 0), 24).ok()
    })
}

/// The lab networks of the sandboxes under `root` (running or half-built).
fn networks_of_sandboxes(root: &Path) -> Vec<Ipv4Net> {
    crate::sandbox::status::sandbox_names(root)
        .iter()
        .filter_map(|name| SandboxState::load(&SandboxPaths::new(root, name)).ok().flatten())
        .map(|state| state.spec.network)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_the_range_once_from_the_seed() {
        let all: Vec<Ipv4Net> = candidates(300).collect();
        assert_eq!(all.len(), 256);
        assert_eq!(all[0].to_string(), "10.239.44.0/24");
        assert_eq!(all[255].to_string(), "10.239.43.0/24");
        let range: Ipv4Net = TEST_NETWORKS.parse().unwrap();
        assert!(all.iter().all(|n| range.contains(n)));
    }

    #[test]
    fn names_are_sandbox_names() {
        assert!(crate::sandbox::spec::check_name(&TestSandbox::name_for(12)).is_ok());
    }
}
