//! What a sandbox is made of, recorded in `state.json` in its directory: written before `up`
//! creates anything (so `down` can undo a half-finished `up`) and again when it is done.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::paths::SandboxPaths;
use super::spec::{NodeRole, SandboxSpec};

/// How far `up` got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// `up` is building it, or stopped half-way.
    Building,
    /// Every node answered SSH.
    Ready,
}

/// One node as built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    pub name: String,
    pub role: NodeRole,
    pub address: Ipv4Addr,
    /// Workers only.
    pub pod_cidr: Option<Ipv4Net>,
    /// The node's network namespace.
    pub netns: String,
    /// The pod's network namespace (workers; on this machine; inside the node it is `pod`).
    pub pod_netns: Option<String>,
    /// The address CNI gave the pod.
    pub pod_address: Option<Ipv4Addr>,
    /// The node's sshd.
    pub sshd_pid: Option<u32>,
}

/// A sandbox: its spec and everything made for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxState {
    pub spec: SandboxSpec,
    pub phase: Phase,
    /// The operator's veth in the root namespace.
    pub host_link: String,
    /// The namespace with the lab network's bridge.
    pub network_netns: String,
    /// The VPC router's namespace (gce shape).
    pub router_netns: Option<String>,
    pub nodes: Vec<NodeState>,
    /// The `/etc/netns/NS/` directories made for the nodes.
    pub etc_dirs: Vec<PathBuf>,
    /// The uid and gid of `vagrant` inside the nodes.
    pub vagrant_uid: u32,
    pub vagrant_gid: u32,
}

impl SandboxState {
    /// Every namespace of the sandbox.
    pub fn namespaces(&self) -> Vec<String> {
        let mut all = vec![self.network_netns.clone()];
        all.extend(self.router_netns.clone());
        for node in &self.nodes {
            all.push(node.netns.clone());
            all.extend(node.pod_netns.clone());
        }
        all
    }

    /// Reads the state of the sandbox at `paths`; `None` when there is none.
    pub fn load(paths: &SandboxPaths) -> Result<Option<SandboxState>, String> {
        let path = paths.state();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("`{}` is not a sandbox state file: {e}", path.display()))
    }

    /// Writes the state atomically (a reader sees the old or the new file, never half of one).
    pub fn save(&self, paths: &SandboxPaths) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| format!("cannot encode the sandbox state: {e}"))?;
        write_atomically(&paths.state(), &format!("{text}\n"), 0o644)
    }
}

/// Writes `content` to `path` through a temporary file in the same directory.
pub fn write_atomically(path: &Path, content: &str, mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let error = |e: &dyn std::fmt::Display| format!("cannot write `{}`: {e}", path.display());
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| error(&e))?;
    file.write_all(content.as_bytes()).map_err(|e| error(&e))?;
    file.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).map_err(|e| error(&e))?;
    file.persist(path).map_err(|e| error(&e))?;
    Ok(())
}
