//! Connecting to the hosts of a plan: one connection per host per invocation, all hosts at
//! once (bounded by `-j`), each connection reused for every fact, check and step.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::connector::{ConnectError, Connection, Endpoint};
use crate::inventory::{Inventory, Node};
use crate::plan::HostRef;
use crate::runner::log::RunLog;

/// How often to send keepalives on an idle connection.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// The connections of one invocation.
pub struct Hosts {
    connections: HashMap<String, Arc<Connection>>,
    /// Hosts that could not be reached, with why.
    pub unreachable: BTreeMap<String, ConnectError>,
    /// What the command must tell the user about the connections (a host key let through
    /// because `host_key_checking` is off), in the order of the hosts asked for.
    pub warnings: Vec<String>,
    /// The hosts asked for, in the order asked (the inventory's): what listings follow.
    asked: Vec<String>,
    /// This lab's share of the class's connections, held while the connections are.
    _share: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// The class's limit of SSH connections open at once (`-j` with `--class`): permits and
/// their number. Unset for one lab, where `-j` bounds the handshakes of that lab alone.
static CLASS_LIMIT: std::sync::OnceLock<(Arc<Semaphore>, u32)> = std::sync::OnceLock::new();

/// Sets the class's limit of SSH connections open at once, for every lab of this process.
pub fn limit_class_connections(limit: u32) {
    let _ = CLASS_LIMIT.set((Arc::new(Semaphore::new(limit as usize)), limit.max(1)));
}

impl Hosts {
    /// The hosts that could not be reached, with why, in the order they were asked for (not
    /// by name, not as their handshakes ended).
    pub fn unreachable_in_order(&self) -> Vec<(&str, &ConnectError)> {
        self.asked
            .iter()
            .filter_map(|name| self.unreachable.get(name).map(|e| (name.as_str(), e)))
            .collect()
    }

    /// The connection to `host`, if it was reached.
    pub fn get(&self, host: &HostRef) -> Option<Arc<Connection>> {
        self.connections.get(host.name()).cloned()
    }
}

/// Where and how to reach `node`.
pub fn endpoint(
    node: &Node,
    inventory: &Inventory,
    known_hosts: &Path,
    connect_timeout: Duration,
) -> Endpoint {
    let over = node.ssh.as_ref();
    let identity_files = match over.map(|o| &o.identity_files).filter(|f| !f.is_empty()) {
        Some(files) => files.clone(),
        None if !inventory.ssh.identity_files.is_empty() => inventory.ssh.identity_files.clone(),
        None => default_identity_files(),
    };
    Endpoint {
        name: node.name.clone(),
        host: over.map(|o| o.host.clone()).unwrap_or_else(|| node.address.to_string()),
        port: over.and_then(|o| o.port).unwrap_or(inventory.ssh.port),
        user: over.and_then(|o| o.user.clone()).unwrap_or_else(|| inventory.ssh.user.clone()),
        identity_files,
        host_key_checking: over
            .and_then(|o| o.host_key_checking)
            .unwrap_or(inventory.ssh.host_key_checking),
        known_hosts: over
            .and_then(|o| o.known_hosts_file.clone())
            .unwrap_or_else(|| known_hosts.to_path_buf()),
        connect_timeout,
        keepalive: KEEPALIVE,
    }
}

/// Key files open to others among those the inventory names for the nodes of `wanted`, with
/// the nodes each is for: OpenSSH refuses such a key, and labctl refuses to go on (before
/// connecting anywhere) rather than fail on some hosts only. OpenSSH's default keys are not
/// named by anyone: one open to others is skipped, as OpenSSH skips it.
pub fn unprotected_keys(
    wanted: &[HostRef],
    inventory: &Inventory,
) -> Vec<(PathBuf, u32, Vec<String>)> {
    let mut found: Vec<(PathBuf, u32, Vec<String>)> = Vec::new();
    for node in inventory.nodes.iter().filter(|n| wanted.contains(&HostRef::Node(n.name.clone()))) {
        let named = match node.ssh.as_ref().map(|o| &o.identity_files).filter(|f| !f.is_empty()) {
            Some(files) => files,
            None => &inventory.ssh.identity_files,
        };
        for path in named {
            let Some(mode) = crate::connector::open_to_others(path) else { continue };
            match found.iter_mut().find(|(p, _, _)| p == path) {
                Some((_, _, nodes)) => nodes.push(node.name.clone()),
                None => found.push((path.clone(), mode, vec![node.name.clone()])),
            }
        }
    }
    found
}

/// The nodes among `wanted` none of whose key files named in the inventory can be read, each
/// set of files with its nodes. (OpenSSH goes on past a missing file when another is there, as
/// `vagrant ssh-config` often lists several; with none, no login can work.)
pub fn missing_keys(wanted: &[HostRef], inventory: &Inventory) -> Vec<(Vec<PathBuf>, Vec<String>)> {
    let mut found: Vec<(Vec<PathBuf>, Vec<String>)> = Vec::new();
    for node in inventory.nodes.iter().filter(|n| wanted.contains(&HostRef::Node(n.name.clone()))) {
        let named = match node.ssh.as_ref().map(|o| &o.identity_files).filter(|f| !f.is_empty()) {
            Some(files) => files,
            None => &inventory.ssh.identity_files,
        };
        if named.is_empty() || named.iter().any(|p| std::fs::File::open(p).is_ok()) {
            continue;
        }
        match found.iter_mut().find(|(files, _)| files == named) {
            Some((_, nodes)) => nodes.push(node.name.clone()),
            None => found.push((named.clone(), vec![node.name.clone()])),
        }
    }
    found
}

/// OpenSSH's default keys, those that exist.
fn default_identity_files() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME") else { return Vec::new() };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|k| Path::new(&home).join(".ssh").join(k))
        .filter(|p| p.exists() && crate::connector::open_to_others(p).is_none())
        .collect()
}

/// Connects to every host in `wanted` at once, at most `concurrency` handshakes at a time.
pub async fn connect(
    wanted: &[HostRef],
    inventory: &Inventory,
    known_hosts: &Path,
    concurrency: usize,
    connect_timeout: Duration,
    workdir: Option<&Path>,
    log: &RunLog,
) -> Hosts {
    // A lab of a class takes all the connections it needs at once (`acquire_many` is
    // first come, first served): labs that each held a part and waited for the rest would
    // wait for ever.
    let nodes = wanted.iter().filter(|h| matches!(h, HostRef::Node(_))).count() as u32;
    let share = match CLASS_LIMIT.get() {
        Some((limit, total)) if nodes > 0 => {
            limit.clone().acquire_many_owned(nodes.min(*total)).await.ok()
        }
        _ => None,
    };
    let semaphore = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::new();
    let mut connections = HashMap::new();
    for host in wanted {
        match host {
            HostRef::Local => {
                let workdir = workdir.map(Path::to_path_buf);
                connections.insert("local".to_string(), Arc::new(Connection::Local { workdir }));
            }
            HostRef::Node(name) => {
                let Some(node) = inventory.nodes.iter().find(|n| &n.name == name) else { continue };
                let endpoint = endpoint(node, inventory, known_hosts, connect_timeout);
                let semaphore = semaphore.clone();
                tasks.push(tokio::spawn(async move {
                    let _permit = semaphore.acquire_owned().await;
                    let result = crate::connector::connect(&endpoint).await;
                    (endpoint.name, result)
                }));
            }
        }
    }
    let mut unreachable = BTreeMap::new();
    let mut warnings = Vec::new();
    for task in tasks {
        let Ok((name, result)) = task.await else { continue };
        match result {
            Ok(connection) => {
                log.note(&name, "connected");
                // `host_key_checking: off` lets a changed key through; it is never silent.
                if let Some(warning) = connection.host_key_warning() {
                    log.note(&name, &format!("warning: {warning}"));
                    warnings.push(warning.to_string());
                }
                connections.insert(name, Arc::new(connection));
            }
            Err(e) => {
                log.note(&name, &format!("unreachable: {e}"));
                unreachable.insert(name, e);
            }
        }
    }
    let asked = wanted.iter().map(|h| h.name().to_string()).collect();
    Hosts { connections, unreachable, warnings, asked, _share: share }
}
