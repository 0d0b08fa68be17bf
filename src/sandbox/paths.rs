//! Where a sandbox keeps its files: `/run/labctl/sandboxes/NAME/` (or under
//! `$LABCTL_SANDBOX_ROOT`), and the private `/etc` files of its nodes in `/etc/netns/`.
//!
//! `/run` is a tmpfs: like the namespaces themselves, a sandbox does not survive a reboot.

use std::path::{Path, PathBuf};

/// The directory all sandboxes live in unless `LABCTL_SANDBOX_ROOT` says otherwise.
pub const DEFAULT_ROOT: &str = "/run/labctl/sandboxes";
/// Environment variable that moves the sandboxes' directory (tests use a temporary one).
pub const ROOT_ENV: &str = "LABCTL_SANDBOX_ROOT";
/// `ip netns exec NS` bind-mounts every file of `/etc/netns/NS/` over the one in `/etc/`.
pub const ETC_NETNS: &str = "/etc/netns";
/// Where `ip netns` keeps its namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// The directory all sandboxes live in.
pub fn sandboxes_root() -> PathBuf {
    match std::env::var_os(ROOT_ENV) {
        // sshd wants absolute paths in its config.
        Some(root) if !root.is_empty() => {
            std::path::absolute(&root).unwrap_or_else(|_| PathBuf::from(root))
        }
        _ => PathBuf::from(DEFAULT_ROOT),
    }
}

/// The files of one sandbox.
#[derive(Debug, Clone)]
pub struct SandboxPaths {
    dir: PathBuf,
}

impl SandboxPaths {
    /// The files of sandbox `name` under `root`.
    pub fn new(root: &Path, name: &str) -> SandboxPaths {
        SandboxPaths { dir: root.join(name) }
    }

    /// The sandbox's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What `up` made, for `down` and `status` (JSON).
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The labctl inventory of the sandbox.
    pub fn inventory(&self) -> PathBuf {
        self.dir.join("labctl.yaml")
    }

    /// The private key the operator logs in with as `vagrant`.
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// Its public half, copied into every node's `authorized_keys`.
    pub fn client_public_key(&self) -> PathBuf {
        self.dir.join("id_ed25519.pub")
    }

    /// A known_hosts file with every node's host key (for `ssh -o UserKnownHostsFile=`).
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// A node's own directory: sshd config, host key, pid file and log.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.dir.join("nodes").join(node)
    }

    /// A node's own storage: one directory per entry of [`super::sshd::NODE_STORAGE`], bound
    /// over that path in the node (docs/architecture.md, "Sandbox nodes"). It lives as long as
    /// the sandbox's directory, so a node's sshd started again finds its files; `down` removes
    /// it with the directory.
    pub fn node_storage(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("fs")
    }

    /// Where the node's own `path` (an absolute path like `/var/lib/kubelet`) is kept.
    pub fn node_storage_dir(&self, node: &str, path: &str) -> PathBuf {
        self.node_storage(node).join(path.trim_start_matches('/'))
    }

    /// A node's sshd config.
    pub fn sshd_config(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("sshd_config")
    }

    /// A node's host key (its `.pub` is next to it).
    pub fn host_key(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("ssh_host_ed25519_key")
    }

    /// A node's sshd pid file.
    pub fn sshd_pid(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("sshd.pid")
    }

    /// A node's sshd log.
    pub fn sshd_log(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("sshd.log")
    }

    /// The CNI `host-local` data directory of a node (its address leases).
    pub fn cni_data_dir(&self, node: &str) -> PathBuf {
        self.dir.join("cni").join(node)
    }

    /// The CNI network config a node's pod was made with (KTHW's `10-bridge.conf`).
    pub fn cni_config(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("10-bridge.conf")
    }
}

/// The private `/etc` directory of a namespace.
pub fn etc_netns_dir(ns: &str) -> PathBuf {
    Path::new(ETC_NETNS).join(ns)
}

/// The file `ip netns` keeps a namespace alive with.
pub fn netns_file(ns: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(ns)
}
