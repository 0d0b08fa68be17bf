//! Gathering the workers' facts before a flannel plan is rendered, over the connections of
//! the invocation (one SSH round trip per worker, read-only), and deciding flanneld's
//! interface flags from them.

use std::time::Duration;

use futures::future::join_all;

use super::iface::{IfaceChoice, IfaceError, choose};
use crate::connector::CommandSpec;
use crate::facts::HostFacts;
use crate::inventory::{Inventory, Node};
use crate::plan::HostRef;
use crate::pod_network::settings::FlannelSettings;
use crate::pod_network::variables::flannel_iface_args;
use crate::runner::execute::run_logged;
use crate::runner::hosts::Hosts;
use crate::runner::log::RunLog;

/// How long the gather script may take on one worker.
const GATHER_TIMEOUT: Duration = Duration::from_secs(120);

/// What the facts decided about flanneld's interface flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfaceDecision {
    /// Chosen from every worker's facts.
    Chosen(IfaceChoice),
    /// Some worker's facts could not be read: the offline per-node form, which is right on
    /// every node whatever its NIC is called.
    Fallback { args: Vec<String>, why: String },
}

impl IfaceDecision {
    /// flanneld's flags.
    pub fn args(&self) -> &[String] {
        match self {
            IfaceDecision::Chosen(c) => &c.args,
            IfaceDecision::Fallback { args, .. } => args,
        }
    }

    /// The evidence for `labctl plan`.
    pub fn describe(&self) -> String {
        match self {
            IfaceDecision::Chosen(c) => c.describe(),
            IfaceDecision::Fallback { args, why } => format!(
                "flannel interface, without facts:\n  {why}\n  choice: {} (each worker matches its own lab address)\n",
                args.join(" ")
            ),
        }
    }

    /// One line for `labctl run`.
    pub fn summary(&self) -> String {
        match self {
            IfaceDecision::Chosen(c) => c.summary(),
            IfaceDecision::Fallback { args, why } => {
                format!("flannel interface: {} ({why})", args.join(" "))
            }
        }
    }
}

/// Reads every worker's facts over `hosts` and decides flanneld's interface flags.
pub async fn decide(
    inventory: &Inventory,
    flannel: &FlannelSettings,
    hosts: &Hosts,
    log: &RunLog,
) -> Result<IfaceDecision, IfaceError> {
    let workers: Vec<&Node> = inventory.workers().collect();
    // The first controller's address, for `--iface-can-reach`.
    let target = inventory.controllers().next().map(|c| c.address);
    let targets: Vec<_> = target.into_iter().collect();
    let script = crate::pod_network::flannel::facts::gather_script(&targets);
    let gathered: Vec<Result<HostFacts, String>> =
        join_all(workers.iter().map(|node| gather_one(node, &script, hosts, log))).await;
    let mut facts = Vec::new();
    let mut problems = Vec::new();
    for (node, result) in workers.iter().zip(gathered) {
        match result {
            Ok(f) => facts.push((*node, f)),
            Err(why) => problems.push(format!("{}: {why}", node.name)),
        }
    }
    if !problems.is_empty() {
        return Ok(IfaceDecision::Fallback {
            args: flannel_iface_args(inventory, flannel),
            why: format!("the facts of some workers could not be read ({})", problems.join("; ")),
        });
    }
    let pairs: Vec<(&Node, &HostFacts)> = facts.iter().map(|(n, f)| (*n, f)).collect();
    choose(&pairs, flannel, target).map(IfaceDecision::Chosen)
}

async fn gather_one(
    node: &Node,
    script: &str,
    hosts: &Hosts,
    log: &RunLog,
) -> Result<HostFacts, String> {
    let host = HostRef::Node(node.name.clone());
    let Some(connection) = hosts.get(&host) else {
        let why = hosts.unreachable.get(&node.name).map(|e| e.to_string());
        return Err(why.unwrap_or_else(|| "not connected".into()));
    };
    let spec = CommandSpec {
        command: script.to_string(),
        sudo: false,
        stdin: None,
        timeout: GATHER_TIMEOUT,
    };
    let out = run_logged(&connection, &host, &spec, log).await.map_err(|e| e.to_string())?;
    crate::pod_network::flannel::facts::parse(&out.stdout_text()).map_err(|e| e.to_string())
}
