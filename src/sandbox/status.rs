//! `labctl sandbox status`: the sandboxes on this machine, their nodes and addresses, and
//! whether each node's sshd answers. Needs no root: it reads the state files and connects.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use comfy_table::{Table, presets};
use ipnet::Ipv4Net;
use serde::Serialize;

use super::args::{StatusArgs, StatusFormat};
use super::paths::{SandboxPaths, sandboxes_root};
use super::spec::NodeRole;
use super::spec::check_name;
use super::state::{Phase, SandboxState};
use super::{bad_input, failed, is_running, sshd};
use crate::error::Problem;

/// How long a node's sshd may take to send its banner.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);
/// Nodes probed at once.
const PROBE_THREADS: usize = 32;

/// One sandbox as `status` reports it (the JSON output).
#[derive(Debug, Serialize)]
pub struct SandboxStatus {
    pub name: String,
    /// Its namespaces exist.
    pub running: bool,
    /// `building` while `up` runs (or if it stopped half-way), then `ready`.
    pub phase: Phase,
    pub shape: &'static str,
    pub network: Ipv4Net,
    pub host_address: Ipv4Addr,
    pub host_link: String,
    pub network_netns: String,
    pub router_netns: Option<String>,
    pub router_address: Option<Ipv4Addr>,
    pub inventory: PathBuf,
    pub identity_file: PathBuf,
    pub known_hosts: PathBuf,
    pub nodes: Vec<NodeStatus>,
}

/// One node as `status` reports it.
#[derive(Debug, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub role: NodeRole,
    pub address: Ipv4Addr,
    pub nic: String,
    pub pod_cidr: Option<Ipv4Net>,
    pub pod_address: Option<Ipv4Addr>,
    pub netns: String,
    pub pod_netns: Option<String>,
    /// sshd sent its banner.
    pub sshd: bool,
}

/// Runs `labctl sandbox status`.
pub fn run(
    args: &StatusArgs,
    shell: &crate::output::shell::Shell,
) -> Result<(), crate::error::Error> {
    let root = sandboxes_root();
    let names = match &args.name {
        Some(name) => {
            check_name(name).map_err(bad_input)?;
            vec![name.clone()]
        }
        None => sandbox_names(&root),
    };
    let mut sandboxes = Vec::new();
    for name in names {
        let paths = SandboxPaths::new(&root, &name);
        match SandboxState::load(&paths).map_err(failed)? {
            Some(state) => sandboxes.push(probe(&state, &paths)),
            None if args.name.is_some() => {
                return Err(failed(
                    Problem::new(format!("there is no sandbox `{name}` on this machine"))
                        .help(format!("start it with `sudo labctl sandbox up --name {name}`")),
                ));
            }
            None => {}
        }
    }
    match args.output {
        StatusFormat::Json => {
            #[derive(Serialize)]
            struct Output<'a> {
                sandboxes: &'a [SandboxStatus],
            }
            let json = serde_json::to_string_pretty(&Output { sandboxes: &sandboxes })
                .map_err(|e| failed(format!("cannot encode the status: {e}")))?;
            crate::say!(shell, "{json}");
        }
        StatusFormat::Text if sandboxes.is_empty() => {
            crate::say!(
                shell,
                "{}",
                Problem::new("no sandbox on this machine")
                    .help("start one with `sudo labctl sandbox up`")
            );
        }
        StatusFormat::Text => {
            let texts: Vec<String> = sandboxes.iter().map(describe).collect();
            crate::say!(shell, "{}", texts.join("\n\n"));
        }
    }
    Ok(())
}

/// The names of the sandboxes with a directory under `root`, sorted.
pub fn sandbox_names(root: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| check_name(n).is_ok())
        .collect();
    names.sort();
    names
}

/// The status of a sandbox, with every node's sshd probed.
pub fn probe(state: &SandboxState, paths: &SandboxPaths) -> SandboxStatus {
    let spec = &state.spec;
    let running = is_running(&spec.name);
    let answers = if running { probe_sshd(state) } else { vec![false; state.nodes.len()] };
    SandboxStatus {
        name: spec.name.clone(),
        running,
        phase: state.phase,
        shape: spec.shape.as_str(),
        network: spec.network,
        host_address: spec.host_address,
        host_link: state.host_link.clone(),
        network_netns: state.network_netns.clone(),
        router_netns: state.router_netns.clone(),
        router_address: spec.router_address,
        inventory: paths.inventory(),
        identity_file: paths.client_key(),
        known_hosts: paths.known_hosts(),
        nodes: state
            .nodes
            .iter()
            .zip(answers)
            .map(|(n, sshd)| NodeStatus {
                name: n.name.clone(),
                role: n.role,
                address: n.address,
                nic: spec.nic.clone(),
                pod_cidr: n.pod_cidr,
                pod_address: n.pod_address,
                netns: n.netns.clone(),
                pod_netns: n.pod_netns.clone(),
                sshd,
            })
            .collect(),
    }
}

fn probe_sshd(state: &SandboxState) -> Vec<bool> {
    let addresses: Vec<Ipv4Addr> = state.nodes.iter().map(|n| n.address).collect();
    let chunk = addresses.len().div_ceil(PROBE_THREADS).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = addresses
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter().map(|a| sshd::answers(*a, PROBE_TIMEOUT)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| Vec::new()))
            .collect::<Vec<bool>>()
    })
}

fn describe(status: &SandboxStatus) -> String {
    let condition = match (status.running, status.phase) {
        (true, Phase::Ready) => "running",
        (true, Phase::Building) => "building (or stopped half-way; `sandbox down` removes it)",
        (false, _) => "not running (its namespaces are gone; `sandbox down` cleans up)",
    };
    let answering = status.nodes.iter().filter(|n| n.sshd).count();
    let mut text = format!(
        "sandbox `{}`: {condition}, {} shape, {} nodes ({answering} answer SSH)\nnetwork:   {}, this machine {} on `{}`",
        status.name,
        status.shape,
        status.nodes.len(),
        status.network,
        status.host_address,
        status.host_link,
    );
    if let (Some(ns), Some(address)) = (&status.router_netns, status.router_address) {
        text.push_str(&format!(", VPC router {address} in `{ns}`"));
    }
    text.push_str(&format!("\ninventory: {}\n", status.inventory.display()));
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.set_header(["NODE", "ROLE", "ADDRESS", "NIC", "POD CIDR", "POD ADDRESS", "SSHD"]);
    for node in &status.nodes {
        table.add_row([
            node.name.clone(),
            node.role.as_str().to_string(),
            node.address.to_string(),
            node.nic.clone(),
            node.pod_cidr.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            node.pod_address.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            if node.sshd { "answers".into() } else { "no answer".into() },
        ]);
    }
    let table = table.trim_fmt();
    let lines: Vec<&str> = table.lines().map(|l| l.strip_prefix(' ').unwrap_or(l)).collect();
    text.push_str(&lines.join("\n"));
    text
}
