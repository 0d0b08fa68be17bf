//! The variables a chapter's templates can use, built from the inventory.
//!
//! Chapter authors see these names (documented in docs/chapters.md); nothing else from the
//! inventory reaches a template, and no secret ever does (only key *paths* exist in labctl).

use std::collections::BTreeMap;

use minijinja::Value;
use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::inventory::{Inventory, Node, Role};

/// Variables that a chapter's own Rust adds to its templates (docs/chapters.md, "Variables
/// from a chapter's Rust"): top-level ones, and fields added to each node's view, by node name.
/// The core renders them as given; what they mean is the chapter's.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    pub globals: BTreeMap<String, Value>,
    pub nodes: BTreeMap<String, BTreeMap<String, Value>>,
}

/// How a chapter's Rust makes its [`Variables`] for a lab, from the inventory alone (what
/// `show`, `render` and the chapter lint use). Facts gathered later can make other variables,
/// handed to the renders that take [`Variables`]. An error is the inventory's: a setting the
/// chapter reads is malformed.
pub type VariablesFn = fn(&Inventory) -> Result<Variables, Diagnostic>;

impl Variables {
    /// The template view of `node`, with its added fields.
    pub fn node(&self, node: &Node) -> Value {
        let mut view = NodeView::of(node);
        if let Some(extra) = self.nodes.get(&node.name) {
            view.extra = extra.clone();
        }
        crate::template::to_value(view)
    }
}

/// A node as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub name: String,
    pub role: &'static str,
    pub address: String,
    pub pod_cidr: Option<String>,
    /// Fields the chapter's Rust adds (see [`Variables`]).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl NodeView {
    /// The template view of `node`, without added fields.
    pub fn of(node: &Node) -> Self {
        NodeView {
            name: node.name.clone(),
            role: match node.role {
                Role::Controller => "controller",
                Role::Worker => "worker",
            },
            address: node.address.to_string(),
            pod_cidr: node.pod_cidr.map(|c| c.to_string()),
            extra: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Serialize)]
struct KubernetesView {
    version: String,
    major: u32,
    minor: u32,
}

/// The `kubectl` command words: `kubectl`, plus `--kubeconfig FILE` when the inventory gives
/// a kubeconfig (then `where: kubectl` steps run on the operator's machine).
pub fn kubectl_words(inventory: &Inventory) -> Vec<String> {
    let mut words = vec!["kubectl".to_string()];
    if let Some(file) = &inventory.kubeconfig {
        words.push("--kubeconfig".into());
        words.push(file.display().to_string());
    }
    words
}

/// The variables common to every template of a chapter run against `inventory`, with the
/// variables of the chapter's Rust (`vars`, which never replace these). `vars` in templates is
/// the inventory's `vars:` over the chapter's own defaults (`defaults`, its `vars:`).
pub fn base_context(
    inventory: &Inventory,
    chapter: &str,
    variant: &str,
    defaults: &BTreeMap<String, serde_json::Value>,
    vars: &Variables,
) -> Value {
    let mut settings = defaults.clone();
    for (name, var) in &inventory.vars {
        settings.insert(name.clone(), var.value.clone());
    }
    let nodes: Vec<Value> = inventory.nodes.iter().map(|n| vars.node(n)).collect();
    let workers: Vec<Value> = inventory.workers().map(|n| vars.node(n)).collect();
    let controllers: Vec<Value> = inventory.controllers().map(|n| vars.node(n)).collect();
    let kubernetes = KubernetesView {
        version: inventory.kubernetes_version.to_string(),
        major: inventory.kubernetes_version.major,
        minor: inventory.kubernetes_version.minor,
    };
    let core = minijinja::context! {
        chapter => chapter,
        variant => variant,
        provider => inventory.provider.as_str(),
        kubectl => kubectl_words(inventory),
        kubernetes => crate::template::to_value(&kubernetes),
        nodes => Value::from(nodes),
        workers => Value::from(workers),
        controllers => Value::from(controllers),
        network => minijinja::context! {
            cluster_cidr => inventory.network.cluster_cidr.to_string(),
            service_cidr => inventory.network.service_cidr.to_string(),
        },
        vars => crate::template::to_value(&settings),
    };
    if vars.globals.is_empty() {
        return core;
    }
    // The first map that has a key wins: the core's names stay the core's.
    minijinja::context! { ..core, ..Value::from_object(vars.globals.clone()) }
}
