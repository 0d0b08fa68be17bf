//! The programs a sandbox is built from, looked up before anything is touched, and the root
//! check. A missing program gives one message naming every missing one and its package.
//!
//! Programs are looked up in `PATH` (`sudo` puts /usr/sbin there) and CNI plugins in
//! `LABCTL_CNI_PATH` (default `/usr/lib/cni:/opt/cni/bin`: Debian's and upstream's places), so
//! that tests can hide them.

use std::path::{Path, PathBuf};

use crate::error::Problem;

/// Environment variable with the directories to look for CNI plugins in, colon-separated.
pub const CNI_PATH_ENV: &str = "LABCTL_CNI_PATH";
/// Where Debian/Ubuntu and upstream put the CNI plugins.
pub const DEFAULT_CNI_PATH: &str = "/usr/lib/cni:/opt/cni/bin";

/// A program the sandbox needs and the Debian/Ubuntu package that provides it.
struct Needed {
    program: &'static str,
    package: &'static str,
}

const PROGRAMS: &[Needed] = &[
    Needed { program: "ip", package: "iproute2" },
    Needed { program: "sshd", package: "openssh-server" },
    Needed { program: "ssh-keygen", package: "openssh-client" },
    Needed { program: "ping", package: "iputils-ping" },
    Needed { program: "sudo", package: "sudo" },
    Needed { program: "unshare", package: "util-linux" },
    Needed { program: "mount", package: "mount" },
];

const CNI_PLUGINS: &[&str] = &["bridge", "host-local", "loopback"];
const CNI_PACKAGE: &str = "containernetworking-plugins";

/// The programs found, by absolute path.
#[derive(Debug, Clone)]
pub struct Programs {
    pub ip: PathBuf,
    pub sshd: PathBuf,
    pub ssh_keygen: PathBuf,
    pub unshare: PathBuf,
    pub cni_bridge: PathBuf,
    pub cni_loopback: PathBuf,
    /// `CNI_PATH` for the plugins (the bridge plugin finds `host-local` there).
    pub cni_path: String,
}

impl Programs {
    /// Finds every program `sandbox up` needs, or says which are missing and how to install them.
    pub fn find() -> Result<Programs, Problem> {
        let mut missing = Vec::new();
        let mut packages = Vec::new();
        let mut found = std::collections::HashMap::new();
        for need in PROGRAMS {
            match find_in_path(need.program) {
                Some(path) => {
                    found.insert(need.program, path);
                }
                None => {
                    missing.push(format!("`{}`", need.program));
                    packages.push(need.package);
                }
            }
        }
        let cni_path = cni_search_path();
        let mut missing_plugins = Vec::new();
        for plugin in CNI_PLUGINS {
            match find_in(&cni_path, plugin) {
                Some(path) => {
                    found.insert(plugin, path);
                }
                None => missing_plugins.push(format!("`{plugin}`")),
            }
        }
        if !missing_plugins.is_empty() {
            let noun = if missing_plugins.len() == 1 { "plugin" } else { "plugins" };
            missing.push(format!("CNI {noun} {}", missing_plugins.join(", ")));
            packages.push(CNI_PACKAGE);
        }
        if !missing.is_empty() {
            return Err(Problem::new(format!(
                "the sandbox needs programs that are not installed: {} (looked in PATH and in {cni_path})",
                missing.join(", "),
            ))
            .help(format!(
                "on Debian/Ubuntu install them with `sudo apt-get install {}`",
                packages.join(" ")
            )));
        }
        let mut take = |name: &str| found.remove(name).unwrap_or_default();
        Ok(Programs {
            ip: take("ip"),
            sshd: take("sshd"),
            ssh_keygen: take("ssh-keygen"),
            unshare: take("unshare"),
            cni_bridge: take("bridge"),
            cni_loopback: take("loopback"),
            cni_path,
        })
    }
}

/// Finds `ip`, all `down` needs.
pub fn find_ip() -> Result<PathBuf, Problem> {
    find_in_path("ip").ok_or_else(|| {
        Problem::new("the sandbox needs `ip`, which is not installed (looked in PATH)")
            .help("on Debian/Ubuntu install it with `sudo apt-get install iproute2`")
    })
}

/// Fails unless labctl runs as root; `action` is the subcommand, for the message.
pub fn require_root(action: &str) -> Result<(), Problem> {
    if effective_uid() == Some(0) {
        return Ok(());
    }
    let why = match action {
        "down" => "it stops sshd and removes network namespaces",
        _ => "it creates network namespaces and starts sshd",
    };
    Err(Problem::new(format!("`labctl sandbox {action}` needs root: {why}"))
        .help(format!("run it with sudo: `sudo labctl sandbox {action}`")))
}

/// The effective user id of this process, from `/proc/self/status`.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn cni_search_path() -> String {
    match std::env::var(CNI_PATH_ENV) {
        Ok(path) if !path.is_empty() => path,
        _ => DEFAULT_CNI_PATH.to_string(),
    }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    find_in(&path, program)
}

fn find_in(dirs: &str, program: &str) -> Option<PathBuf> {
    dirs.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| is_executable(p))
        // sshd re-executes itself and insists on an absolute path.
        .map(|p| std::path::absolute(&p).unwrap_or(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
