//! The inventory as labctl uses it, whatever file format it was read from.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::str::FromStr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// Where the lab's machines come from; decides the default variant of a chapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[default]
    Ssh,
    Vagrant,
    Gce,
}

impl Provider {
    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Ssh => "ssh",
            Provider::Vagrant => "vagrant",
            Provider::Gce => "gce",
        }
    }
}

/// What a node is in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Controller,
    Worker,
}

/// How to treat a host key labctl has not seen, or one that changed.
/// Maps onto OpenSSH's `StrictHostKeyChecking` yes / accept-new / no.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyChecking {
    /// Only keys already in the known_hosts file are accepted.
    Strict,
    /// New hosts are learnt; a changed key is refused.
    #[default]
    AcceptNew,
    /// No checking at all (a changed key is still reported).
    Off,
}

/// Where to reach a node's sshd when it is not the node's lab address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SshEndpoint {
    pub host: String,
    pub port: Option<u16>,
    /// Overrides of the inventory-wide settings (from `vagrant ssh-config`).
    pub user: Option<String>,
    pub identity_files: Vec<PathBuf>,
    pub host_key_checking: Option<HostKeyChecking>,
    pub known_hosts_file: Option<PathBuf>,
}

/// One machine of the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub name: String,
    pub role: Role,
    /// The node's lab address (private network / VPC IP).
    pub address: Ipv4Addr,
    /// The node's pod CIDR; workers have one, controllers usually not.
    pub pod_cidr: Option<Ipv4Net>,
    /// Where sshd answers, when it differs from `address`.
    pub ssh: Option<SshEndpoint>,
    /// Line of the inventory file that declares this node (for messages).
    #[serde(skip)]
    pub line: Option<u64>,
}

/// Inventory-wide SSH settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshSettings {
    pub user: String,
    pub identity_files: Vec<PathBuf>,
    pub port: u16,
    pub host_key_checking: HostKeyChecking,
    pub sudo: bool,
}

impl Default for SshSettings {
    fn default() -> Self {
        SshSettings {
            user: "vagrant".into(),
            identity_files: Vec::new(),
            port: 22,
            host_key_checking: HostKeyChecking::AcceptNew,
            sudo: true,
        }
    }
}

/// The cluster's address ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSettings {
    pub cluster_cidr: Ipv4Net,
    pub service_cidr: Ipv4Net,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            cluster_cidr: "10.200.0.0/16".parse().expect("constant CIDR"),
            service_cidr: "10.32.0.0/24".parse().expect("constant CIDR"),
        }
    }
}

/// A value under the inventory's `vars:`, for a chapter: labctl's core keeps it as written and
/// hands it to templates as `vars.NAME`; a chapter's own Rust may read and check it
/// (docs/chapters.md, "Variables from the inventory").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Var {
    pub value: serde_json::Value,
    /// The line that holds the name (`None` when built in code).
    #[serde(skip)]
    pub line: Option<u64>,
}

/// Where the Vagrantfile lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VagrantSettings {
    pub dir: PathBuf,
}

/// A Kubernetes `major.minor` version; decides which manifest form is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubernetesVersion {
    pub major: u32,
    pub minor: u32,
}

impl KubernetesVersion {
    /// The version labctl renders for when the inventory names none.
    pub const DEFAULT: KubernetesVersion = KubernetesVersion { major: 1, minor: 34 };
}

impl Default for KubernetesVersion {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for KubernetesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for KubernetesVersion {
    type Err = String;

    /// Accepts `1.32`, `v1.32` and `1.32.4` (the patch level does not matter to labctl).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a Kubernetes version; write it like \"1.32\"");
        let t = s.trim().strip_prefix('v').unwrap_or(s.trim());
        let mut parts = t.split('.');
        let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let minor = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        if let Some(patch) = parts.next() {
            patch.parse::<u32>().map_err(|_| bad())?;
        }
        if parts.next().is_some() || major != 1 {
            return Err(bad());
        }
        Ok(KubernetesVersion { major, minor })
    }
}

impl Serialize for KubernetesVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// The file format an inventory was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InventoryFormat {
    Yaml,
    MachinesTxt,
    VagrantSshConfig,
}

/// A lab: its machines and settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// The file it was read from.
    pub source: PathBuf,
    pub format: InventoryFormat,
    pub provider: Provider,
    pub kubernetes_version: KubernetesVersion,
    pub nodes: Vec<Node>,
    pub ssh: SshSettings,
    pub network: NetworkSettings,
    /// Settings for chapters, by name: `vars:`, and the sections written at the top level
    /// for chapter 11 (see `yaml_format::CHAPTER_SECTIONS`).
    pub vars: std::collections::BTreeMap<String, Var>,
    pub vagrant: Option<VagrantSettings>,
    /// A kubeconfig on the operator's machine: when given, `kubectl` steps run here with it
    /// rather than on the first controller over SSH.
    pub kubeconfig: Option<PathBuf>,
    /// Lines that declare inventory-wide settings, for lint messages (default when built in code).
    #[serde(skip)]
    pub lines: SettingLines,
}

/// Lines of the inventory file that declare inventory-wide settings, so that a lint about
/// them can point at the line to change. `None` where the file does not say (a default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SettingLines {
    pub nodes: Option<u64>,
    pub cluster_cidr: Option<u64>,
    pub service_cidr: Option<u64>,
}

impl Inventory {
    /// The worker nodes, in inventory order.
    pub fn workers(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.role == Role::Worker)
    }

    /// The controller nodes, in inventory order.
    pub fn controllers(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.role == Role::Controller)
    }
}
