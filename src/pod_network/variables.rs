//! Chapter 11's template variables: `flannel`, `gce`, and each node's `gce_route_name`,
//! handed to the core's renders as [`Variables`] (docs/chapters.md, "Variables from a
//! chapter's Rust"). They come from the inventory's `flannel:` and `gce:` settings; with
//! facts, flanneld's interface flags come from the workers' NICs instead
//! ([`crate::pod_network::flannel::gather`]).

use serde::Serialize;

use crate::chapter::{Chapter, Variant};
use crate::diagnostic::Diagnostic;
use crate::inventory::{Inventory, KubernetesVersion};
use crate::pod_network::gce::names::gce_route_name;
use crate::pod_network::settings::{self, FlannelBackend, FlannelSettings};
use crate::template::context::Variables;
use crate::template::to_value;

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

/// The flanneld flags that choose the network interface, without facts.
///
/// A NIC name from the inventory gives `--iface=NAME`. With `iface: auto` and no facts (`labctl
/// render`, which touches no machine; `plan` and `run` decide from facts instead),
/// `--iface-regex` matches the nodes' own lab addresses: flanneld accepts an IP there, so each
/// node picks the NIC that holds its lab address and never the NAT NIC with `10.0.2.15`.
pub fn flannel_iface_args(inventory: &Inventory, flannel: &FlannelSettings) -> Vec<String> {
    if flannel.iface != "auto" {
        return vec![format!("--iface={}", flannel.iface)];
    }
    let addresses: Vec<String> =
        inventory.nodes.iter().map(|n| n.address.to_string().replace('.', "\\.")).collect();
    vec![format!("--iface-regex=^({})$", addresses.join("|"))]
}

/// Chapter 11's variables for `inventory`, without facts.
pub fn template_variables(inventory: &Inventory) -> Result<Variables, Diagnostic> {
    with_iface_args(inventory, None)
}

/// Chapter 11's variables with flanneld's interface flags decided from facts, when given.
pub fn with_iface_args(
    inventory: &Inventory,
    iface_args: Option<&[String]>,
) -> Result<Variables, Diagnostic> {
    let f = &settings::flannel(inventory)?;
    let gce_settings = settings::gce(inventory)?;
    // apps/v1 DaemonSets exist from Kubernetes 1.9, but extensions/v1beta1 ones are gone in 1.16.
    let legacy = inventory.kubernetes_version < KubernetesVersion { major: 1, minor: 16 };
    let flannel = FlannelView {
        version: &f.version,
        cni_plugin_version: &f.cni_plugin_version,
        image: &f.image,
        cni_plugin_image: &f.cni_plugin_image,
        backend: match f.backend {
            FlannelBackend::Vxlan => "vxlan",
            FlannelBackend::HostGw => "host-gw",
        },
        iface: &f.iface,
        rollout_timeout: format!("{}s", f.rollout_timeout),
        iface_args: match iface_args {
            Some(args) => args.to_vec(),
            None => flannel_iface_args(inventory, f),
        },
        legacy,
        namespace: if legacy { "kube-system" } else { "kube-flannel" },
        daemonset: if legacy { "kube-flannel-ds-amd64" } else { "kube-flannel-ds" },
    };
    let gce = gce_settings.as_ref().map(|g| GceView {
        project: g.project.as_deref(),
        network: &g.network,
        zone: g.zone.as_deref(),
        project_args: match &g.project {
            Some(p) => vec!["--project".to_string(), p.clone()],
            None => Vec::new(),
        },
    });
    let mut vars = Variables::default();
    vars.globals.insert("flannel".into(), to_value(&flannel));
    vars.globals.insert("gce".into(), to_value(&gce));
    for node in &inventory.nodes {
        let route = node.pod_cidr.as_ref().map(gce_route_name);
        vars.nodes
            .entry(node.name.clone())
            .or_default()
            .insert("gce_route_name".into(), to_value(route));
    }
    Ok(vars)
}

/// Whether the plan of `variant` depends on flanneld's interface flags, i.e. whether facts
/// must decide them before it is run: it is rendered with two different flags and compared.
/// (Chapters stay data: no list of "flannel steps" in Rust.)
pub fn uses_iface_args(
    chapter: &Chapter,
    variant: &Variant,
    inventory: &Inventory,
) -> Result<bool, Diagnostic> {
    let with = |flag: &str| with_iface_args(inventory, Some(&[flag.to_string()]));
    let a = crate::plan::render_with(chapter, variant, inventory, &with("--iface=labctl-a")?)?;
    let b = crate::plan::render_with(chapter, variant, inventory, &with("--iface=labctl-b")?)?;
    Ok(serde_json::to_string(&a).ok() != serde_json::to_string(&b).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::context::base_context;

    /// Every variable a chapter can use, the core's and chapter 11's, and every field of one,
    /// is in docs/chapters.md's table of variables (on the row of the variable it belongs to).
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
        let inventory = crate::pod_network::example_lab();
        let vars = template_variables(&inventory).unwrap();
        let context =
            base_context(&inventory, "11-pod-network-routes", "gce", &Default::default(), &vars);
        let json = serde_json::to_value(&context).unwrap();
        let mut missing = Vec::new();
        for (name, value) in json.as_object().unwrap() {
            let Some(line) = row(name) else {
                missing.push(name.clone());
                continue;
            };
            let fields = match value {
                // The inventory's vars are named by whoever writes them.
                serde_json::Value::Object(_) if name == "vars" => Vec::new(),
                serde_json::Value::Object(fields) => fields.keys().cloned().collect(),
                serde_json::Value::Array(items) => match items.first() {
                    // Lists of nodes: their fields are on the row of "a node".
                    Some(serde_json::Value::Object(node)) => {
                        let node_row = table
                            .iter()
                            .find(|l| l.contains("| a node |"))
                            .copied()
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
        assert!(
            json["flannel"]["iface_args"].is_array()
                && json["workers"][0]["gce_route_name"].is_string()
        );
    }

    #[test]
    fn route_names_follow_the_chapter() {
        let inventory = crate::pod_network::example_lab();
        let vars = template_variables(&inventory).unwrap();
        let worker = inventory.workers().next().unwrap();
        let view = serde_json::to_value(vars.node(worker)).unwrap();
        let cidr = worker.pod_cidr.unwrap().to_string().replace(['.', '/'], "-");
        assert_eq!(view["gce_route_name"], format!("kubernetes-route-{cidr}"));
        assert_eq!(view["name"], worker.name.as_str());
    }
}
