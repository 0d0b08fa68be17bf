//! Checks on an inventory as a whole, run before any plan: the mistakes that parse fine but
//! break a cluster later (two workers claiming one pod CIDR, a node address inside the pod
//! range, a name Kubernetes refuses; a chapter's own settings are its own to check). Each diagnostic names the file and the node's
//! line and says what to change. CIDR math is ipnet's; two CIDRs overlap exactly when one
//! contains the other.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::hostname::is_dns_label;
use super::model::{Inventory, Node, Provider, Role};
use crate::diagnostic::{Diagnostic, Severity};
use crate::error::Error;

/// Every problem found in `inv`, errors and warnings, in inventory order.
pub fn lint(inv: &Inventory) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    names(inv, &mut out);
    addresses(inv, &mut out);
    pod_cidrs(inv, &mut out);
    network(inv, &mut out);
    counts(inv, &mut out);
    out
}

/// Lints `inv`: the warnings when there are only warnings, else all errors as [`Error::Inputs`].
pub fn check(inv: &Inventory) -> Result<Vec<Diagnostic>, Error> {
    let (errors, warnings): (Vec<_>, Vec<_>) =
        lint(inv).into_iter().partition(|d| d.severity == Severity::Error);
    if errors.is_empty() { Ok(warnings) } else { Err(Error::Inputs(errors)) }
}

fn error(inv: &Inventory, node: &Node, message: String, help: String) -> Diagnostic {
    Diagnostic::error(&inv.source, node.line, None, message).with_help(help)
}

/// `` `worker-0` (line 7)``, to name the other node of a clash.
fn other(node: &Node) -> String {
    match node.line {
        Some(line) => format!("`{}` (line {line})", node.name),
        None => format!("`{}`", node.name),
    }
}

fn names(inv: &Inventory, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, &Node> = HashMap::new();
    for node in &inv.nodes {
        if !is_dns_label(&node.name) {
            out.push(error(
                inv,
                node,
                format!("node name `{}` is not a valid host name", node.name),
                "use 1 to 63 lower-case letters, digits and `-`, starting and ending with a letter \
                 or digit, e.g. `worker-0`"
                    .into(),
            ));
        }
        if let Some(first) = seen.get(node.name.as_str()) {
            out.push(error(
                inv,
                node,
                format!("node name `{}` is already used by {}", node.name, other(first)),
                "give every node its own name".into(),
            ));
        } else {
            seen.insert(&node.name, node);
        }
    }
}

fn addresses(inv: &Inventory, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<Ipv4Addr, &Node> = HashMap::new();
    let net = &inv.network;
    for node in &inv.nodes {
        if let Some(first) = seen.get(&node.address) {
            out.push(error(
                inv,
                node,
                format!(
                    "address {} of `{}` is also the address of {}",
                    node.address,
                    node.name,
                    other(first)
                ),
                "give every node its own lab address".into(),
            ));
        } else {
            seen.insert(node.address, node);
        }
        let ranges = [
            (net.cluster_cidr, "cluster_cidr", "pod addresses"),
            (net.service_cidr, "service_cidr", "service IPs"),
        ];
        for (range, name, what) in ranges {
            if range.contains(&node.address) {
                out.push(error(
                    inv,
                    node,
                    format!("address {} of `{}` is inside network.{name} {range}", node.address, node.name),
                    format!("{what} come from network.{name}, so node addresses must be outside it: change the node's address or network.{name}"),
                ));
            }
        }
    }
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(b) || b.contains(a)
}

fn pod_cidrs(inv: &Inventory, out: &mut Vec<Diagnostic>) {
    let cluster = inv.network.cluster_cidr;
    let mut taken: Vec<(Ipv4Net, &Node)> = Vec::new();
    // Suggestions already made, so two workers without a pod CIDR get different ones.
    let mut suggested: Vec<Ipv4Net> = Vec::new();
    for node in &inv.nodes {
        let Some(cidr) = node.pod_cidr else {
            // A GCE worker's pod CIDR may come from its instance's `pod-cidr` metadata, which
            // labctl reads (and lints again) before planning; see `crate::pod_network::gce`.
            if node.role == Role::Worker && inv.provider != Provider::Gce {
                let free = free_subnet(inv, &suggested);
                let help = match free {
                    Some(free) => {
                        suggested.push(free);
                        format!(
                            "add `pod_cidr: {free}`: each worker needs its own subnet inside network.cluster_cidr {cluster}"
                        )
                    }
                    None => format!(
                        "add a pod_cidr inside network.cluster_cidr {cluster}, different for each worker"
                    ),
                };
                out.push(error(inv, node, format!("worker `{}` has no pod_cidr", node.name), help));
            }
            continue;
        };
        if !cluster.contains(&cidr) {
            out.push(error(
                inv,
                node,
                format!("pod_cidr {cidr} of `{}` is outside network.cluster_cidr {cluster}", node.name),
                format!("choose a subnet inside {cluster}, or change network.cluster_cidr to a range that holds every pod_cidr"),
            ));
        }
        if let Some((theirs, first)) = taken.iter().find(|(theirs, _)| overlaps(theirs, &cidr)) {
            let help = match free_subnet(inv, &suggested) {
                Some(free) => format!("give every node its own pod_cidr, e.g. `{free}`"),
                None => "give every node its own pod_cidr".into(),
            };
            out.push(error(
                inv,
                node,
                format!(
                    "pod_cidr {cidr} of `{}` overlaps pod_cidr {theirs} of {}",
                    node.name,
                    other(first)
                ),
                help,
            ));
        }
        taken.push((cidr, node));
    }
}

/// The first /24 of the cluster CIDR (or the cluster CIDR itself, if smaller) that no node
/// uses and that was not suggested yet.
fn free_subnet(inv: &Inventory, suggested: &[Ipv4Net]) -> Option<Ipv4Net> {
    let cluster = inv.network.cluster_cidr;
    let prefix = cluster.prefix_len().max(24);
    let used = inv.nodes.iter().filter_map(|n| n.pod_cidr).chain(suggested.iter().copied());
    let used: Vec<Ipv4Net> = used.collect();
    cluster.subnets(prefix).ok()?.find(|s| !used.iter().any(|u| overlaps(u, s)))
}

fn network(inv: &Inventory, out: &mut Vec<Diagnostic>) {
    let net = &inv.network;
    if overlaps(&net.cluster_cidr, &net.service_cidr) {
        let line = inv.lines.service_cidr.or(inv.lines.cluster_cidr);
        out.push(
            Diagnostic::error(
                &inv.source,
                line,
                None,
                format!("network.cluster_cidr {} overlaps network.service_cidr {}", net.cluster_cidr, net.service_cidr),
            )
            .with_help("pod and service addresses must not collide: choose ranges that do not overlap, e.g. cluster_cidr 10.200.0.0/16 and service_cidr 10.32.0.0/24"),
        );
    }
}

/// A lab has nodes. How many controllers and workers it needs is the chapter's to say: see
/// `crate::plan::lab_warnings`, once the variant is known.
fn counts(inv: &Inventory, out: &mut Vec<Diagnostic>) {
    if inv.nodes.is_empty() {
        out.push(
            Diagnostic::error(&inv.source, inv.lines.nodes, None, "the inventory has no nodes")
                .with_help("list the lab's machines under `nodes:` (see examples/labctl.yaml)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use pretty_assertions::assert_eq;

    use super::*;

    /// The KTHW lab, which must lint clean; each test breaks one thing.
    const LAB: &str = "\
nodes:
  - { name: server, role: controller, address: 10.240.0.10 }
  - { name: worker-0, role: worker, address: 10.240.0.20, pod_cidr: 10.200.0.0/24 }
  - { name: worker-1, role: worker, address: 10.240.0.21, pod_cidr: 10.200.1.0/24 }
network:
  cluster_cidr: 10.200.0.0/16
  service_cidr: 10.32.0.0/24
";

    fn inventory(text: &str) -> Inventory {
        super::super::yaml_format::parse_str(Path::new("labctl.yaml"), text).unwrap()
    }

    fn messages(text: &str) -> Vec<String> {
        lint(&inventory(text)).iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn kthw_lab_is_clean() {
        assert_eq!(messages(LAB), Vec::<String>::new());
        assert_eq!(check(&inventory(LAB)).unwrap(), vec![]);
    }

    #[test]
    fn example_inventories_are_clean() {
        for name in ["labctl.yaml", "vagrant-labctl.yaml", "machines.txt"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name);
            let inv = super::super::load(&path).unwrap();
            assert_eq!(lint(&inv), vec![], "{name}");
        }
    }

    #[test]
    fn worker_without_pod_cidr() {
        let text = LAB.replace(", pod_cidr: 10.200.1.0/24", "");
        assert_eq!(
            messages(&text),
            [
                "labctl.yaml:4: worker `worker-1` has no pod_cidr\n  help: add `pod_cidr: 10.200.1.0/24`: \
              each worker needs its own subnet inside network.cluster_cidr 10.200.0.0/16"
            ]
        );
    }

    #[test]
    fn gce_workers_may_leave_their_pod_cidr_to_the_instance_metadata() {
        let text = format!("provider: gce\n{}", LAB.replace(", pod_cidr: 10.200.1.0/24", ""));
        assert_eq!(messages(&text), Vec::<String>::new());
    }

    #[test]
    fn two_workers_without_pod_cidr_get_different_suggestions() {
        let text =
            LAB.replace(", pod_cidr: 10.200.1.0/24", "").replace(", pod_cidr: 10.200.0.0/24", "");
        let helps: Vec<_> = lint(&inventory(&text)).into_iter().filter_map(|d| d.help).collect();
        assert_eq!(helps.len(), 2);
        assert!(helps[0].starts_with("add `pod_cidr: 10.200.0.0/24`"), "{helps:?}");
        assert!(helps[1].starts_with("add `pod_cidr: 10.200.1.0/24`"), "{helps:?}");
    }

    #[test]
    fn overlapping_pod_cidrs_name_both_nodes() {
        let text = LAB.replace("10.200.1.0/24", "10.200.0.0/23");
        assert_eq!(
            messages(&text),
            [
                "labctl.yaml:4: pod_cidr 10.200.0.0/23 of `worker-1` overlaps pod_cidr 10.200.0.0/24 of \
              `worker-0` (line 3)\n  help: give every node its own pod_cidr, e.g. `10.200.2.0/24`"
            ]
        );
    }

    #[test]
    fn pod_cidr_outside_cluster() {
        let text = LAB.replace("10.200.1.0/24", "10.201.1.0/24");
        assert_eq!(
            messages(&text),
            [
                "labctl.yaml:4: pod_cidr 10.201.1.0/24 of `worker-1` is outside network.cluster_cidr \
              10.200.0.0/16\n  help: choose a subnet inside 10.200.0.0/16, or change \
              network.cluster_cidr to a range that holds every pod_cidr"
            ]
        );
    }

    #[test]
    fn node_address_inside_cluster_or_service_cidr() {
        let text = LAB.replace("10.240.0.20", "10.200.9.20").replace("10.240.0.21", "10.32.0.21");
        assert_eq!(
            messages(&text),
            [
                "labctl.yaml:3: address 10.200.9.20 of `worker-0` is inside network.cluster_cidr \
                 10.200.0.0/16\n  help: pod addresses come from network.cluster_cidr, so node \
                 addresses must be outside it: change the node's address or network.cluster_cidr",
                "labctl.yaml:4: address 10.32.0.21 of `worker-1` is inside network.service_cidr \
                 10.32.0.0/24\n  help: service IPs come from network.service_cidr, so node addresses \
                 must be outside it: change the node's address or network.service_cidr",
            ]
        );
    }

    #[test]
    fn cluster_and_service_cidr_overlap() {
        let text = LAB.replace("10.32.0.0/24", "10.200.255.0/24");
        assert_eq!(
            messages(&text),
            ["labctl.yaml:7: network.cluster_cidr 10.200.0.0/16 overlaps network.service_cidr \
              10.200.255.0/24\n  help: pod and service addresses must not collide: choose ranges \
              that do not overlap, e.g. cluster_cidr 10.200.0.0/16 and service_cidr 10.32.0.0/24"]
        );
    }

    #[test]
    fn duplicate_names_and_addresses_name_both_lines() {
        let text = LAB.replace(
            "name: worker-1, role: worker, address: 10.240.0.21",
            "name: worker-0, role: worker, address: 10.240.0.20",
        );
        assert_eq!(
            messages(&text),
            [
                "labctl.yaml:4: node name `worker-0` is already used by `worker-0` (line 3)\n  help: \
                 give every node its own name",
                "labctl.yaml:4: address 10.240.0.20 of `worker-0` is also the address of `worker-0` \
                 (line 3)\n  help: give every node its own lab address",
            ]
        );
    }

    #[test]
    fn invalid_node_name() {
        let text = LAB.replace("worker-1", "Worker_1");
        assert_eq!(
            messages(&text),
            ["labctl.yaml:4: node name `Worker_1` is not a valid host name\n  help: use 1 to 63 \
              lower-case letters, digits and `-`, starting and ending with a letter or digit, e.g. \
              `worker-0`"]
        );
    }

    #[test]
    fn the_labs_size_is_the_chapters_concern() {
        // No controller and one worker: what a lab needs depends on the chapter (see
        // `crate::plan::lab_warnings`), not on the inventory.
        let text = LAB
            .replace("role: controller", "role: worker, pod_cidr: 10.200.2.0/24")
            .replace(
                "  - { name: worker-1, role: worker, address: 10.240.0.21, pod_cidr: 10.200.1.0/24 }\n",
                "",
            );
        assert_eq!(messages(&text), Vec::<String>::new());
        assert_eq!(check(&inventory(&text)).unwrap(), Vec::new());
    }

    #[test]
    fn check_returns_errors_as_inputs() {
        let text = LAB.replace("worker-1", "worker-0");
        match check(&inventory(&text)) {
            Err(Error::Inputs(errors)) => assert_eq!(errors.len(), 1),
            other => panic!("expected Error::Inputs, got {other:?}"),
        }
    }
}
