//! Helpers for the sandbox tests: run the real `labctl` binary (through the harness) with its
//! own sandbox root, bring a sandbox up behind a guard whose `Drop` runs `sandbox down` (also
//! when a test fails), and talk to its nodes with the real OpenSSH client.
//!
//! Tests only ever send traffic (ssh, ping) to addresses of sandboxes they made themselves.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use crate::harness::Test;

/// The labctl binary under test.
pub fn labctl_bin() -> &'static str {
    env!("CARGO_BIN_EXE_labctl")
}

/// True when the tests run as root.
pub fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid =
        status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2));
    uid == Some("0")
}

/// Fails the test unless it runs as root: the sandbox needs namespaces (CI runs as root).
pub fn require_root() {
    assert!(
        is_root(),
        "the sandbox tests need root (network namespaces, sshd); run them with sudo, as CI does"
    );
}

/// A sandbox name unique to this call: the process id keeps runs on one machine apart, the
/// counter the tests of this process (all of `tests/` share one process, and two files may use
/// the same tag). At most 24 characters with a tag of up to 10 (`t32768-12-certs-hard`).
pub fn unique_name(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!("t{}-{}-{tag}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A sandbox root directory for one test.
pub struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    /// A fresh, empty sandbox root.
    pub fn new() -> Root {
        Root { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `labctl ARGS...` with `LABCTL_SANDBOX_ROOT` pointing here.
    pub fn labctl<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(&self, args: I) -> Test {
        Test::new().sandbox_root(self.path()).args(args)
    }
}

/// A running sandbox; dropping it runs `labctl sandbox down`.
pub struct Lab<'r> {
    pub root: &'r Root,
    pub name: String,
    /// The output of `sandbox up`.
    pub up: Output,
    known_hosts: tempfile::NamedTempFile,
}

impl<'r> Lab<'r> {
    /// Runs `labctl sandbox up --name NAME ARGS...` and panics with its output if it fails.
    pub fn up(root: &'r Root, name: &str, args: &[&str]) -> Lab<'r> {
        let lab = Lab::try_up(root, name, args);
        assert!(lab.up.status.success(), "sandbox up failed:\n{}", text(&lab.up));
        lab
    }

    /// Runs `labctl sandbox up` and keeps the guard whatever happened.
    pub fn try_up(root: &'r Root, name: &str, args: &[&str]) -> Lab<'r> {
        Lab::start(root, name, args, None, &[])
    }

    /// [`Lab::up`] with these environment variables set (e.g. `SUDO_UID`, as sudo sets it).
    pub fn up_with_env(root: &'r Root, name: &str, args: &[&str], env: &[(&str, &str)]) -> Lab<'r> {
        let lab = Lab::start(root, name, args, None, env);
        assert!(lab.up.status.success(), "sandbox up failed:\n{}", text(&lab.up));
        lab
    }

    /// [`Lab::try_up`] with `PATH` set to `path` (to hide or fake programs).
    pub fn try_up_with_path(root: &'r Root, name: &str, args: &[&str], path: &Path) -> Lab<'r> {
        Lab::start(root, name, args, Some(path), &[])
    }

    fn start(
        root: &'r Root,
        name: &str,
        args: &[&str],
        path: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Lab<'r> {
        let mut up = root.labctl(["sandbox", "up", "--name", name]).args(args);
        if let Some(path) = path {
            up = up.env("PATH", path);
        }
        for (key, value) in env {
            up = up.env(key, value);
        }
        let up = up.output();
        Lab {
            root,
            name: name.to_string(),
            up,
            known_hosts: tempfile::NamedTempFile::new().expect("a temporary file"),
        }
    }

    /// The sandbox's directory.
    pub fn dir(&self) -> PathBuf {
        self.root.path().join(&self.name)
    }

    /// The inventory `sandbox up` wrote.
    pub fn inventory(&self) -> PathBuf {
        self.dir().join("labctl.yaml")
    }

    /// `labctl -i INVENTORY ARGS...` on this sandbox (the harness's lab settings).
    pub fn labctl<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(&self, args: I) -> Test {
        self.root.labctl(args).inventory(&self.inventory())
    }

    /// `sandbox status --name NAME --output json`, parsed; the one sandbox's object.
    #[track_caller]
    pub fn status(&self) -> serde_json::Value {
        let out = self
            .root
            .labctl(["sandbox", "status", "--name", &self.name, "--output", "json"])
            .any_stderr()
            .run();
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("status prints JSON");
        json["sandboxes"][0].clone()
    }

    /// The nodes of the status, as (name, address).
    pub fn nodes(&self) -> Vec<(String, String)> {
        let status = self.status();
        let nodes = status["nodes"].as_array().cloned().unwrap_or_default();
        nodes.iter().map(|n| (str_of(&n["name"]), str_of(&n["address"]))).collect()
    }

    /// Runs `command` on the node at `address` as `vagrant` with the real ssh client.
    pub fn ssh(&self, address: &str, command: &str) -> Output {
        Command::new("/usr/bin/ssh")
            .args(["-F", "/dev/null", "-i"])
            .arg(self.dir().join("id_ed25519"))
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.path().display()))
            .args([
                "-o",
                "StrictHostKeyChecking=accept-new",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("vagrant@{address}"))
            .arg(command)
            .output()
            .expect("ssh runs")
    }

    /// Like [`Lab::ssh`], but panics unless the command succeeds; its stdout, trimmed.
    pub fn ssh_ok(&self, address: &str, command: &str) -> String {
        let out = self.ssh(address, command);
        assert!(out.status.success(), "ssh {address} {command:?} failed:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The host key the ssh client learnt for `address` (`type base64`).
    pub fn learnt_host_key(&self, address: &str) -> String {
        let out = Command::new("ssh-keygen")
            .args(["-F", address, "-f"])
            .arg(self.known_hosts.path())
            .output()
            .expect("ssh-keygen runs");
        let found = String::from_utf8_lossy(&out.stdout);
        let line = found.lines().find(|l| !l.starts_with('#')).unwrap_or_default();
        line.split_whitespace().skip(1).take(2).collect::<Vec<_>>().join(" ")
    }

    /// Runs `labctl sandbox down --name NAME`.
    pub fn down(&self) -> Output {
        self.root.labctl(["sandbox", "down", "--name", &self.name]).output()
    }
}

impl Drop for Lab<'_> {
    fn drop(&mut self) {
        let _ = self.down();
    }
}

/// Pings `address` once from inside namespace `netns` (a namespace the test's sandbox made).
pub fn ping_from(netns: &str, address: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", netns, "ping", "-c", "1", "-W", "1", address])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Pings until it answers or `timeout` passes (the first packet may wait for ARP).
pub fn ping_until(netns: &str, address: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ping_from(netns, address) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
    }
}

/// The namespaces `ip netns` lists whose names start with `prefix`.
pub fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    let entries = std::fs::read_dir("/run/netns").map(|d| d.flatten().collect::<Vec<_>>());
    entries
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// The root namespace's links, as `ip -j link` shows them.
pub fn root_links() -> Vec<serde_json::Value> {
    let out = Command::new("ip").args(["-j", "link", "show"]).output().expect("ip runs");
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// Live (not zombie) processes whose command line contains `needle`.
pub fn live_processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next());
            String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(needle)
                && !matches!(state, Some("Z") | None)
        })
        .collect()
}

/// Live processes whose command line contains `needle` and that run in network namespace
/// `netns` (a sandbox node's: the test's own, whatever other tests run at the same time).
pub fn processes_in_netns(needle: &str, netns: &str) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(format!("/run/netns/{netns}")) else { return Vec::new() };
    let link = format!("net:[{}]", meta.ino());
    live_processes_mentioning(needle)
        .into_iter()
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|l| l.to_string_lossy() == link)
        })
        .collect()
}

/// A JSON string value as a Rust string ("" when it is not one).
pub fn str_of(value: &serde_json::Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// Exit status, stdout and stderr of a run, for assertion messages.
pub fn text(out: &Output) -> String {
    crate::harness::describe(out)
}

/// The stderr of a run as a string.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
