//! The variables a chapter's templates can use, built from the inventory.
//!
//! Chapter authors see these names (documented in docs/chapters.md); nothing else from the
//! inventory reaches a template, and no secret ever does (only key *paths* exist in labctl).

use ipnet::Ipv4Net;
use minijinja::Value;
use serde::Serialize;

use crate::inventory::{Inventory, Node, Role};

/// A node as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub name: String,
    pub role: &'static str,
    pub address: String,
    pub pod_cidr: Option<String>,
    /// The chapter's GCE route name for this node's pod CIDR (`kubernetes-route-10-200-0-0-24`).
    pub gce_route_name: Option<String>,
}

impl NodeView {
    /// The template view of `node`.
    pub fn of(node: &Node) -> Self {
        NodeView {
            name: node.name.clone(),
            role: match node.role {
                Role::Controller => "controller",
                Role::Worker => "worker",
            },
            address: node.address.to_string(),
            pod_cidr: node.pod_cidr.map(|c| c.to_string()),
            gce_route_name: node.pod_cidr.as_ref().map(gce_route_name),
        }
    }
}

/// The GCE route name the chapter gives a pod CIDR: `10.200.0.0/24` → `kubernetes-route-10-200-0-0-24`.
pub fn gce_route_name(cidr: &Ipv4Net) -> String {
    format!("kubernetes-route-{}", cidr.to_string().replace(['.', '/'], "-"))
}

#[derive(Debug, Serialize)]
struct KubernetesView {
    version: String,
    major: u32,
    minor: u32,
}

#[derive(Debug, Serialize)]
struct FlannelView<'a> {
    version: &'a str,
    cni_plugin_version: &'a str,
    image: &'a str,
    cni_plugin_image: &'a str,
    backend: &'a str,
    iface: &'a str,
    /// `run`'s wait for the rollout, as kubectl takes it (`180s`).
    rollout_timeout: String,
    /// The flanneld arguments that choose the interface (see [`flannel_iface_args`]).
    iface_args: Vec<String>,
    /// Render the seed's old form (Kubernetes before 1.16: `extensions/v1beta1`, `kube-system`).
    legacy: bool,
    namespace: &'static str,
    daemonset: &'static str,
}

#[derive(Debug, Serialize)]
struct GceView<'a> {
    project: Option<&'a str>,
    network: &'a str,
    zone: Option<&'a str>,
    /// `--project P` when a project is set, else nothing (gcloud's configuration decides).
    project_args: Vec<String>,
}

/// The flanneld flags that choose the network interface.
///
/// A NIC name from the inventory gives `--iface=NAME`. With `iface: auto` and no facts (`labctl
/// render`, which touches no machine; `plan` and `run` decide from facts instead),
/// `--iface-regex` matches the nodes' own lab addresses: flanneld accepts an IP there, so each
/// node picks the NIC that holds its lab address and never the NAT NIC with `10.0.2.15`.
pub fn flannel_iface_args(inventory: &Inventory) -> Vec<String> {
    if inventory.flannel.iface != "auto" {
        return vec![format!("--iface={}", inventory.flannel.iface)];
    }
    let addresses: Vec<String> =
        inventory.nodes.iter().map(|n| n.address.to_string().replace('.', "\\.")).collect();
    vec![format!("--iface-regex=^({})$", addresses.join("|"))]
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

/// The variables common to every template of a chapter run against `inventory`, with
/// flanneld's interface flags from [`flannel_iface_args`] (no facts).
pub fn base_context(inventory: &Inventory, chapter: &str, variant: &str) -> Value {
    base_context_with(inventory, chapter, variant, None)
}

/// [`base_context`] with flanneld's interface flags decided from facts, when given
/// (see [`crate::pod_network::flannel::iface`]).
pub fn base_context_with(
    inventory: &Inventory,
    chapter: &str,
    variant: &str,
    iface_args: Option<&[String]>,
) -> Value {
    let nodes: Vec<NodeView> = inventory.nodes.iter().map(NodeView::of).collect();
    let workers: Vec<NodeView> = inventory.workers().map(NodeView::of).collect();
    let controllers: Vec<NodeView> = inventory.controllers().map(NodeView::of).collect();
    let f = &inventory.flannel;
    // apps/v1 DaemonSets exist from Kubernetes 1.9, but extensions/v1beta1 ones are gone in 1.16.
    let legacy =
        inventory.kubernetes_version < crate::inventory::KubernetesVersion { major: 1, minor: 16 };
    let flannel = FlannelView {
        version: &f.version,
        cni_plugin_version: &f.cni_plugin_version,
        image: &f.image,
        cni_plugin_image: &f.cni_plugin_image,
        backend: match f.backend {
            crate::inventory::FlannelBackend::Vxlan => "vxlan",
            crate::inventory::FlannelBackend::HostGw => "host-gw",
        },
        iface: &f.iface,
        rollout_timeout: format!("{}s", f.rollout_timeout),
        iface_args: match iface_args {
            Some(args) => args.to_vec(),
            None => flannel_iface_args(inventory),
        },
        legacy,
        namespace: if legacy { "kube-system" } else { "kube-flannel" },
        daemonset: if legacy { "kube-flannel-ds-amd64" } else { "kube-flannel-ds" },
    };
    let gce = inventory.gce.as_ref().map(|g| GceView {
        project: g.project.as_deref(),
        network: &g.network,
        zone: g.zone.as_deref(),
        project_args: match &g.project {
            Some(p) => vec!["--project".to_string(), p.clone()],
            None => Vec::new(),
        },
    });
    let kubernetes = KubernetesView {
        version: inventory.kubernetes_version.to_string(),
        major: inventory.kubernetes_version.major,
        minor: inventory.kubernetes_version.minor,
    };
    minijinja::context! {
        chapter => chapter,
        variant => variant,
        provider => inventory.provider.as_str(),
        kubectl => kubectl_words(inventory),
        kubernetes => crate::template::to_value(&kubernetes),
        nodes => crate::template::to_value(&nodes),
        workers => crate::template::to_value(&workers),
        controllers => crate::template::to_value(&controllers),
        network => minijinja::context! {
            cluster_cidr => inventory.network.cluster_cidr.to_string(),
            service_cidr => inventory.network.service_cidr.to_string(),
        },
        flannel => crate::template::to_value(&flannel),
        gce => crate::template::to_value(&gce),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variable a chapter can use, and every field of one, is in docs/chapters.md's
    /// table of variables (on the row of the variable it belongs to).
    #[test]
    fn every_template_variable_is_documented() {
        let docs = include_str!("../../docs/chapters.md");
        let table = docs.split("Variables:").nth(1).expect("docs/chapters.md has `Variables:`");
        let table: Vec<&str> =
            table.lines().take_while(|l| l.is_empty() || l.starts_with('|')).collect();
        let row = |name: &str| {
            table
                .iter()
                .find(|l| l.split('|').nth(1).is_some_and(|c| c.contains(&format!("`{name}`"))))
                .copied()
        };
        let mut inventory = crate::chapter::sample::sample_inventory();
        inventory.gce = Some(crate::inventory::GceSettings::default());
        let context = base_context(&inventory, "04-certificate-authority", "jumpbox");
        let json = serde_json::to_value(&context).unwrap();
        let mut missing = Vec::new();
        for (name, value) in json.as_object().unwrap() {
            let Some(line) = row(name) else {
                missing.push(name.clone());
                continue;
            };
            let fields = match value {
                serde_json::Value::Object(fields) => fields.keys().cloned().collect(),
                serde_json::Value::Array(items) => match items.first() {
                    // Lists of nodes: their fields are on the row of "a node".
                    Some(serde_json::Value::Object(node)) => {
                        let node_row = row("a node")
                            .or_else(|| table.iter().find(|l| l.contains("| a node |")).copied())
                            .unwrap_or_default();
                        for field in node.keys() {
                            if !node_row.contains(&format!("`{field}`")) {
                                missing.push(format!("(a node).{field}"));
                            }
                        }
                        Vec::new()
                    }
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            for field in fields {
                if !line.contains(&format!("`{field}`")) {
                    missing.push(format!("{name}.{field}"));
                }
            }
        }
        assert!(missing.is_empty(), "not in docs/chapters.md's table of variables: {missing:?}");
    }

    #[test]
    fn route_names_follow_the_chapter() {
        let cidr: Ipv4Net = "10.200.2.0/24".parse().unwrap();
        assert_eq!(gce_route_name(&cidr), "kubernetes-route-10-200-2-0-24");
    }
}
