//! Which network interface flanneld must use, decided from each worker's facts (docs/chapters.md, "Templates and quoting").
//!
//! flanneld left to itself binds to the NIC of the default route. On Vagrant that is the NAT
//! NIC (`enp0s3`), whose address `10.0.2.15` every VM has: VXLAN packets then go nowhere.
//! The right NIC is the one that holds the node's lab address. From the facts of every
//! worker this module finds that NIC, names the NAT trap (an address that every node has),
//! and chooses flanneld's flags:
//!
//! - `--iface=NAME` when the NIC has the same name on every node;
//! - otherwise a flag that works per node: `--iface-can-reach=ADDRESS` (flannel v0.19.0 and
//!   later) when every node's route to the first controller leaves through its lab NIC, else
//!   `--iface-regex=^(ADDRESSES)$` over the nodes' lab addresses (flanneld matches addresses
//!   before names), which every flannel since v0.8.0 understands.
//!
//! Everything here is pure: facts in, a choice with its evidence out.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::facts::HostFacts;
use crate::inventory::Node;
use crate::pod_network::settings::FlannelSettings;

/// The first flannel release with `--iface-can-reach` (flannel-io/flannel#1545).
pub const CAN_REACH_SINCE: (u32, u32, u32) = (0, 19, 0);

/// One worker's interface facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeInterface {
    pub node: String,
    /// The node's lab address (from the inventory).
    pub address: Ipv4Addr,
    /// The NIC that holds it.
    pub nic: String,
    /// The NIC of the default route: where flanneld binds without flags.
    pub default_nic: Option<String>,
    /// The NIC the route to the `--iface-can-reach` target leaves through, if it was asked.
    pub reach_nic: Option<String>,
}

/// An address every node has on one of its NICs (Vagrant's NAT address `10.0.2.15`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatTrap {
    pub address: Ipv4Addr,
    /// (node, NIC) that hold it, in inventory order.
    pub nics: Vec<(String, String)>,
}

/// The form of flanneld's interface flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IfaceForm {
    /// `--iface=NAME`: the same NIC name on every node.
    Name,
    /// `--iface-can-reach=ADDRESS`: per node, the NIC of the route to ADDRESS.
    CanReach,
    /// `--iface-regex=^(...)$` over the lab addresses: per node, the NIC with its address.
    Regex,
}

/// flanneld's interface flags and the evidence they were chosen from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IfaceChoice {
    pub nodes: Vec<NodeInterface>,
    pub nat_trap: Option<NatTrap>,
    pub form: IfaceForm,
    /// The flags, e.g. `["--iface=enp0s8"]`.
    pub args: Vec<String>,
    /// Why this form, in words.
    pub why: String,
}

/// Why no interface could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IfaceError {
    #[error(
        "cannot choose flannel's interface: no NIC of {node} holds its lab address {address} (its addresses: {})",
        if .held.is_empty() { "none".to_string() } else { .held.join(", ") }
    )]
    NoNic { node: String, address: Ipv4Addr, held: Vec<String> },

    #[error("cannot choose flannel's interface: the inventory has no workers")]
    NoWorkers,
}

impl From<IfaceError> for crate::error::Error {
    fn from(e: IfaceError) -> Self {
        let error = crate::error::Error::bad_input(e.to_string());
        match e {
            IfaceError::NoNic { .. } => error.help(
                "check the node's `address` in the inventory: it must be the address on the lab network",
            ),
            IfaceError::NoWorkers => error,
        }
    }
}

/// Chooses flanneld's interface flags for `workers` (each with its facts). `can_reach` is the
/// address for `--iface-can-reach` (the first controller's), if any; the facts must then hold
/// an `ip route get` answer for it.
pub fn choose(
    workers: &[(&Node, &HostFacts)],
    settings: &FlannelSettings,
    can_reach: Option<Ipv4Addr>,
) -> Result<IfaceChoice, IfaceError> {
    if workers.is_empty() {
        return Err(IfaceError::NoWorkers);
    }
    let mut nodes = Vec::with_capacity(workers.len());
    for (node, facts) in workers {
        let Some(link) = facts.address_owner(node.address) else {
            let held = facts
                .links
                .iter()
                .flat_map(|l| l.addresses.iter().map(move |a| format!("{} {}", l.name, a.address)))
                .filter(|a| !a.ends_with(" 127.0.0.1"))
                .collect();
            return Err(IfaceError::NoNic { node: node.name.clone(), address: node.address, held });
        };
        nodes.push(NodeInterface {
            node: node.name.clone(),
            address: node.address,
            nic: link.name.clone(),
            default_nic: facts.default_route().and_then(|r| r.dev.clone()),
            reach_nic: can_reach
                .and_then(|t| facts.route_get(t))
                .and_then(|g| g.path())
                .and_then(|p| p.dev.clone()),
        });
    }
    let nat_trap = nat_trap(workers);
    let first = &nodes[0].nic;
    let (form, args, why) = if nodes.iter().all(|n| &n.nic == first) {
        (
            IfaceForm::Name,
            vec![format!("--iface={first}")],
            format!("every worker holds its lab address on {first}"),
        )
    } else {
        let names: Vec<String> = nodes.iter().map(|n| format!("{} {}", n.node, n.nic)).collect();
        let differ =
            format!("the NICs with the lab addresses are named differently ({})", names.join(", "));
        let supports_can_reach =
            parse_version(&settings.version).is_some_and(|v| v >= CAN_REACH_SINCE);
        let reachable = nodes.iter().all(|n| n.reach_nic.as_deref() == Some(n.nic.as_str()));
        match can_reach {
            Some(target) if supports_can_reach && reachable => (
                IfaceForm::CanReach,
                vec![format!("--iface-can-reach={target}")],
                format!(
                    "{differ}; on every worker the route to the first controller ({target}) leaves through that NIC, and flannel {} has --iface-can-reach",
                    settings.version
                ),
            ),
            _ => {
                let addresses: Vec<String> =
                    nodes.iter().map(|n| n.address.to_string().replace('.', "\\.")).collect();
                let how = if supports_can_reach {
                    "not every worker's route to the first controller leaves through that NIC"
                        .to_string()
                } else {
                    format!("flannel {} has no --iface-can-reach", settings.version)
                };
                (
                    IfaceForm::Regex,
                    vec![format!("--iface-regex=^({})$", addresses.join("|"))],
                    format!("{differ}; {how}, so each worker matches its own lab address"),
                )
            }
        }
    };
    Ok(IfaceChoice { nodes, nat_trap, form, args, why })
}

/// The address every worker has (two workers at least), preferring one on the NIC of the
/// default route: that is where flanneld would bind without flags.
pub fn nat_trap(workers: &[(&Node, &HostFacts)]) -> Option<NatTrap> {
    let [(_, first), rest @ ..] = workers else { return None };
    if rest.is_empty() {
        return None;
    }
    let shared: Vec<Ipv4Addr> = first
        .routable_addresses()
        .filter(|a| workers.iter().all(|(_, f)| f.address_owner(*a).is_some()))
        .collect();
    let on_default = |a: &Ipv4Addr| {
        let owner = first.address_owner(*a).map(|l| l.name.as_str());
        owner.is_some() && owner == first.default_route().and_then(|r| r.dev.as_deref())
    };
    let address = shared.iter().find(|a| on_default(a)).or(shared.first()).copied()?;
    let nics = workers
        .iter()
        .filter_map(|(n, f)| f.address_owner(address).map(|l| (n.name.clone(), l.name.clone())))
        .collect();
    Some(NatTrap { address, nics })
}

/// `v0.28.9` → (0, 28, 9); `None` when it is not a version.
pub fn parse_version(version: &str) -> Option<(u32, u32, u32)> {
    let v = version.trim().strip_prefix('v').unwrap_or(version.trim());
    let v = v.split(['-', '+']).next()?;
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

impl IfaceChoice {
    /// The evidence, one line each, as `labctl plan` prints it.
    pub fn describe(&self) -> String {
        let mut out = String::from("flannel interface, from the workers' facts:\n");
        let width = self.nodes.iter().map(|n| n.node.len()).max().unwrap_or(0);
        for n in &self.nodes {
            let default = match &n.default_nic {
                Some(nic) if nic != &n.nic => format!("; default route via {nic}"),
                Some(_) => "; default route via it too".to_string(),
                None => "; no default route".to_string(),
            };
            let _ = writeln!(
                out,
                "  {:width$}  lab address {} on {}{default}",
                n.node, n.address, n.nic
            );
        }
        match &self.nat_trap {
            Some(trap) => {
                let nics: Vec<&str> = trap.nics.iter().map(|(_, nic)| nic.as_str()).collect();
                let mut names = nics.clone();
                names.dedup();
                let _ = writeln!(
                    out,
                    "  NAT trap: {} is on {} of every worker; flannel without --iface would bind to the default route's NIC",
                    trap.address,
                    names.join("/")
                );
            }
            None => {
                let _ = writeln!(out, "  no NAT trap: no address is on every worker");
            }
        }
        let _ = writeln!(out, "  choice: {} ({})", self.args.join(" "), self.why);
        out
    }

    /// One line for `labctl run`.
    pub fn summary(&self) -> String {
        let trap = match &self.nat_trap {
            Some(t) => {
                let nic = t.nics.first().map(|(_, n)| n.as_str()).unwrap_or("?");
                format!("; the NAT trap {} on {nic} is avoided", t.address)
            }
            None => String::new(),
        };
        format!("flannel interface: {} ({}{trap})", self.args.join(" "), self.why)
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::facts::fixture;
    use crate::inventory::Role;

    fn worker(i: u8) -> Node {
        Node {
            name: format!("worker-{i}"),
            role: Role::Worker,
            address: Ipv4Addr::new(10, 240, 0, 20 + i),
            pod_cidr: None,
            ssh: None,
            line: None,
        }
    }

    /// The facts of a Vagrant worker (fixture of worker-0) moved to worker `i` with its lab NIC
    /// called `nic`.
    fn vagrant_facts(i: u8, nic: &str) -> HostFacts {
        let text = fixture("gather-flannel-worker-0.txt")
            .replace("10.240.0.20", &format!("10.240.0.{}", 20 + i))
            .replace("enp0s8", nic);
        crate::pod_network::flannel::facts::parse(&text).unwrap()
    }

    fn choice(nics: &[&str], settings: &FlannelSettings) -> Result<IfaceChoice, IfaceError> {
        let nodes: Vec<Node> = (0..nics.len() as u8).map(worker).collect();
        let facts: Vec<HostFacts> =
            nics.iter().enumerate().map(|(i, nic)| vagrant_facts(i as u8, nic)).collect();
        let pairs: Vec<(&Node, &HostFacts)> = nodes.iter().zip(&facts).collect();
        choose(&pairs, settings, None)
    }

    #[test]
    fn one_nic_name_gives_iface() {
        let c = choice(&["enp0s8", "enp0s8", "enp0s8"], &FlannelSettings::default()).unwrap();
        assert_eq!(c.form, IfaceForm::Name);
        assert_eq!(c.args, ["--iface=enp0s8"]);
        let trap = c.nat_trap.clone().unwrap();
        assert_eq!(trap.address, Ipv4Addr::new(10, 0, 2, 15));
        assert_eq!(trap.nics[2], ("worker-2".to_string(), "enp0s3".to_string()));
        assert_eq!(
            c.describe(),
            "flannel interface, from the workers' facts:\n  \
             worker-0  lab address 10.240.0.20 on enp0s8; default route via enp0s3\n  \
             worker-1  lab address 10.240.0.21 on enp0s8; default route via enp0s3\n  \
             worker-2  lab address 10.240.0.22 on enp0s8; default route via enp0s3\n  \
             NAT trap: 10.0.2.15 is on enp0s3 of every worker; flannel without --iface would bind to the default route's NIC\n  \
             choice: --iface=enp0s8 (every worker holds its lab address on enp0s8)\n"
        );
    }

    #[test]
    fn another_nic_name_is_followed() {
        let c = choice(&["eth1", "eth1"], &FlannelSettings::default()).unwrap();
        assert_eq!(c.args, ["--iface=eth1"]);
    }

    #[test]
    fn different_names_give_a_per_node_form() {
        let c = choice(&["enp0s8", "eth1"], &FlannelSettings::default()).unwrap();
        assert_eq!(c.form, IfaceForm::Regex);
        assert_eq!(c.args, [r"--iface-regex=^(10\.240\.0\.20|10\.240\.0\.21)$"]);
        assert!(c.why.starts_with("the NICs with the lab addresses are named differently (worker-0 enp0s8, worker-1 eth1)"), "{}", c.why);
    }

    #[test]
    fn can_reach_when_the_version_has_it_and_routes_agree() {
        let nodes: Vec<Node> = (0..2).map(worker).collect();
        let target: Ipv4Addr = "10.240.0.10".parse().unwrap();
        let facts: Vec<HostFacts> = ["enp0s8", "eth1"]
            .iter()
            .enumerate()
            .map(|(i, nic)| {
                let mut text = fixture("gather-flannel-worker-0.txt")
                    .replace("10.240.0.20", &format!("10.240.0.{}", 20 + i))
                    .replace("enp0s8", nic);
                let answer = format!(
                    r#"[{{"dst":"10.240.0.10","dev":"{nic}","prefsrc":"10.240.0.{}","flags":[],"uid":1000,"cache":[]}}]"#,
                    20 + i
                );
                text.push_str(&section_text("route_get 10.240.0.10", &answer));
                crate::pod_network::flannel::facts::parse(&text).unwrap()
            })
            .collect();
        let pairs: Vec<(&Node, &HostFacts)> = nodes.iter().zip(&facts).collect();
        let c = choose(&pairs, &FlannelSettings::default(), Some(target)).unwrap();
        assert_eq!(c.form, IfaceForm::CanReach);
        assert_eq!(c.args, ["--iface-can-reach=10.240.0.10"]);
        let old = FlannelSettings { version: "v0.18.1".into(), ..FlannelSettings::default() };
        let c = choose(&pairs, &old, Some(target)).unwrap();
        assert_eq!(c.form, IfaceForm::Regex);
        assert!(c.why.contains("flannel v0.18.1 has no --iface-can-reach"), "{}", c.why);
    }

    /// A section as the gather script prints it.
    fn section_text(name: &str, stdout: &str) -> String {
        format!("::labctl:: begin {name}\n{stdout}\n::labctl:: rc 0\n::labctl:: end\n")
    }

    #[test]
    fn a_node_without_its_lab_address_is_named() {
        let nodes = [worker(0), worker(5)];
        let facts = [vagrant_facts(0, "enp0s8"), vagrant_facts(1, "enp0s8")];
        let pairs: Vec<(&Node, &HostFacts)> = nodes.iter().zip(&facts).collect();
        let e = choose(&pairs, &FlannelSettings::default(), None).unwrap_err();
        assert_eq!(
            e.to_string().lines().next().unwrap(),
            "cannot choose flannel's interface: no NIC of worker-5 holds its lab address 10.240.0.25 (its addresses: enp0s8 10.240.0.21, enp0s3 10.0.2.15, flannel.1 10.200.0.0, cni0 10.200.0.1)"
        );
    }

    #[test]
    fn one_worker_has_no_trap() {
        let c = choice(&["enp0s8"], &FlannelSettings::default()).unwrap();
        assert_eq!(c.nat_trap, None);
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("v0.28.9"), Some((0, 28, 9)));
        assert_eq!(parse_version("v0.10.0-amd64"), Some((0, 10, 0)));
        assert_eq!(parse_version("0.19"), Some((0, 19, 0)));
        assert_eq!(parse_version("latest"), None);
    }
}
