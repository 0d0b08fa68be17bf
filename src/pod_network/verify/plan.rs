//! Which probe each worker gets, decided from the gathered facts: the node's real pod subnet
//! (what the machine says, not the inventory), where a pod is plugged in there, its MTU, the
//! addresses the probe may take, and the leftovers of other verifies to remove.
//!
//! The pod subnet of a node is, in this order: with flannel, `FLANNEL_SUBNET` of
//! `/run/flannel/subnet.env` (flannel hands out the subnets itself and the routes lead there);
//! the subnet the first CNI configuration in `/etc/cni/net.d` hands out; the address of the
//! pods' bridge; only then the inventory's `pod_cidr`. When the node's differs from the
//! inventory's, verify says so (a route built from a wrong inventory leads nowhere).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::probe::{self, Attach, CheckSpec, SetupOutput, SetupSpec};
use crate::facts::HostFacts;
use crate::inventory::Node;
use crate::pod_network::checks::RouteExpectation;
use crate::pod_network::flannel::facts::Flannel;
use crate::verify::owner::Owner;

/// The probes of one verify run, in inventory order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbePlan {
    /// This run's id: in every name its probes use.
    pub run: String,
    /// This process, written into the probes' claims.
    pub owner: String,
    pub probes: Vec<Probe>,
}

/// One node's probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub node: String,
    /// The node's pod subnet, which the probe stands in.
    pub cidr: Ipv4Net,
    pub cidr_source: CidrSource,
    /// The inventory's `pod_cidr`, when it has one.
    pub inventory_cidr: Option<Ipv4Net>,
    /// The probe's address: the first candidate until setup says which one it took.
    pub address: Ipv4Addr,
    pub candidates: Vec<Ipv4Addr>,
    pub attach: Attach,
    /// The pods' MTU, when the node tells.
    pub mtu: Option<u32>,
    /// host-local's lease directory of the pod network.
    pub leases: Option<String>,
    /// Live pods on the node (from setup).
    pub pods: Vec<Ipv4Addr>,
    /// Runs whose probes on the node are leftovers: their labctl is gone.
    pub stale: Vec<String>,
}

/// Where a node's pod subnet was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CidrSource {
    /// The inventory's `pod_cidr` (the node tells nothing).
    Inventory,
    /// `FLANNEL_SUBNET` in the node's `/run/flannel/subnet.env`.
    Flannel,
    /// The subnet the node's CNI configuration hands out.
    CniConfig { path: String },
    /// The address of the pods' bridge.
    Bridge { name: String },
}

impl CidrSource {
    /// Where it was read, for people: `its CNI config /etc/cni/net.d/10-bridge.conf`.
    pub fn describe(&self) -> String {
        match self {
            CidrSource::Inventory => "the inventory".into(),
            CidrSource::Flannel => "flannel's /run/flannel/subnet.env".into(),
            CidrSource::CniConfig { path } => format!("its CNI config {path}"),
            CidrSource::Bridge { name } => format!("the address of its bridge {name}"),
        }
    }

    /// True when the node itself said it.
    pub fn from_node(&self) -> bool {
        *self != CidrSource::Inventory
    }
}

impl Probe {
    /// The inventory's pod CIDR when the node's own differs from it.
    pub fn mismatch(&self) -> Option<Ipv4Net> {
        let inventory = self.inventory_cidr?.trunc();
        (self.cidr_source.from_node()
            && self.cidr_source != CidrSource::Flannel
            && inventory != self.cidr)
            .then_some(inventory)
    }
}

/// The node's pod subnet and where it was read.
fn pod_subnet(
    node: &Node,
    facts: Option<&HostFacts>,
    flannel: bool,
) -> Option<(Ipv4Net, CidrSource)> {
    if let Some(f) = facts {
        if flannel && let Some(cidr) = f.flannel().subnet_env.as_ref().and_then(|e| e.pod_cidr()) {
            return Some((cidr, CidrSource::Flannel));
        }
        let config = f.cni_configs.iter().find(|c| c.problem.is_none() && !c.subnets.is_empty());
        if let Some(c) = config {
            return Some((c.subnets[0].trunc(), CidrSource::CniConfig { path: c.path.clone() }));
        }
        let bridge = bridge_name(f);
        if let Some(a) = f.link(&bridge).and_then(|l| l.addresses.first()) {
            return Some((a.with_prefix().trunc(), CidrSource::Bridge { name: bridge }));
        }
    }
    node.pod_cidr.map(|c| (c.trunc(), CidrSource::Inventory))
}

/// The first readable CNI configuration that plugs pods into a bridge (`bridge`, or flannel's).
fn bridge_config(f: &HostFacts) -> Option<&crate::facts::CniConfig> {
    f.cni_configs.iter().find(|c| c.problem.is_none() && c.bridge.is_some())
}

/// The pods' bridge: the first CNI configuration's, else the bridge plugin's default.
fn bridge_name(f: &HostFacts) -> String {
    bridge_config(f)
        .and_then(|c| c.bridge.clone())
        .unwrap_or_else(|| crate::facts::cni_config::DEFAULT_BRIDGE.into())
}

impl ProbePlan {
    /// The probes of `workers`; `facts` holds the facts of the workers that could be read.
    /// A worker with no pod subnet known gets no probe.
    pub fn new(
        workers: &[&Node],
        facts: &BTreeMap<String, &HostFacts>,
        expectation: Option<RouteExpectation>,
    ) -> ProbePlan {
        let flannel = expectation == Some(RouteExpectation::ViaFlannel);
        let now = std::time::SystemTime::now();
        let probes = workers
            .iter()
            .filter_map(|node| {
                let f = facts.get(&node.name).copied();
                let (cidr, cidr_source) = pod_subnet(node, f, flannel)?;
                let taken: Vec<Ipv4Addr> =
                    f.map(|f| f.routable_addresses().collect()).unwrap_or_default();
                let candidates = probe::candidates(cidr, &taken);
                let bridge = f.map(bridge_name);
                let attach = f
                    .zip(bridge.as_deref())
                    .and_then(|(f, b)| f.link(b))
                    .filter(|l| l.up)
                    .and_then(|l| l.addresses.iter().find(|a| cidr.contains(&a.address)))
                    .map(|a| Attach::Bridge {
                        name: bridge.clone().unwrap_or_default(),
                        gateway: a.address,
                    })
                    .unwrap_or(Attach::Direct);
                let config = f.and_then(bridge_config);
                let mtu = f
                    .and_then(|f| f.flannel().subnet_env)
                    .filter(|_| flannel)
                    .and_then(|e| e.mtu)
                    .or_else(|| config.and_then(|c| c.mtu))
                    .or_else(|| match &attach {
                        Attach::Bridge { name, .. } => f.and_then(|f| f.link(name)?.mtu),
                        Attach::Direct => None,
                    });
                let stale = f
                    .map(|f| {
                        f.probe_claims
                            .iter()
                            .filter(|c| match c.owner.as_deref().and_then(Owner::parse) {
                                Some(owner) => owner.is_gone(c.created, now),
                                None => true,
                            })
                            .map(|c| c.run.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                Some(Probe {
                    node: node.name.clone(),
                    cidr,
                    cidr_source,
                    inventory_cidr: node.pod_cidr,
                    address: candidates.first().copied().unwrap_or(probe::probe_address(cidr)),
                    candidates,
                    attach,
                    mtu,
                    leases: config.and_then(|c| c.leases_dir()),
                    pods: Vec::new(),
                    stale,
                })
            })
            .collect();
        ProbePlan { run: probe::new_run_id(), owner: Owner::current().to_string(), probes }
    }

    /// The probe of `node`.
    pub fn probe(&self, node: &str) -> Option<&Probe> {
        self.probes.iter().find(|p| p.node == node)
    }

    /// Records what setup made on `node`.
    pub fn set_up(&mut self, node: &str, output: &SetupOutput) {
        if let Some(p) = self.probes.iter_mut().find(|p| p.node == node) {
            if let Some(address) = output.address {
                p.address = address;
            }
            p.pods = output.pods.clone();
        }
    }

    /// The addresses `node` checks: every other probe's, except one equal to its own (two
    /// nodes claiming one pod CIDR; pinging it would answer locally and prove nothing).
    pub fn targets(&self, node: &str) -> Vec<Ipv4Addr> {
        let own = self.probe(node);
        let mut targets: Vec<Ipv4Addr> = Vec::new();
        for p in self.probes.iter().filter(|p| p.node != node) {
            let overlaps =
                own.is_some_and(|o| o.cidr.contains(&p.address) || o.address == p.address);
            if !overlaps && !targets.contains(&p.address) {
                targets.push(p.address);
            }
        }
        targets
    }

    /// The real pod of each other node that `node` pings (one per node, outside its own subnet).
    pub fn pod_targets(&self, node: &str) -> Vec<Ipv4Addr> {
        let own = self.probe(node).map(|p| p.cidr);
        self.probes
            .iter()
            .filter(|p| p.node != node)
            .filter_map(|p| p.pods.first().copied())
            .filter(|a| !own.is_some_and(|c| c.contains(a)))
            .collect()
    }

    /// The script that sets up `node`'s probe (root), if it has one.
    pub fn setup_script(&self, node: &str) -> Option<String> {
        let p = self.probe(node)?;
        Some(probe::setup_script(&SetupSpec {
            run: &self.run,
            owner: &self.owner,
            cidr: p.cidr,
            candidates: &p.candidates,
            attach: &p.attach,
            mtu: p.mtu,
            leases: p.leases.as_deref(),
            stale: &p.stale,
        }))
    }

    /// The script that gathers `node`'s route evidence and, with `ping_count`, pings the other
    /// probes and pods (root when pinging).
    pub fn check_script(&self, node: &str, ping_count: Option<u32>) -> String {
        let targets = self.targets(node);
        let pods = self.pod_targets(node);
        probe::check_script(&CheckSpec {
            run: &self.run,
            targets: &targets,
            pods: &pods,
            ping_count,
            mtu: self.probe(node).and_then(|p| p.mtu),
        })
    }

    /// The script that removes this run's probe on a node (root).
    pub fn teardown_script(&self) -> String {
        probe::teardown_script(&self.run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::fixture;
    use crate::inventory::Role;
    use crate::verify::owner::Owner;

    pub(crate) fn worker(i: u8, cidr: Option<&str>) -> Node {
        Node {
            name: format!("worker-{i}"),
            role: Role::Worker,
            address: Ipv4Addr::new(10, 240, 0, 20 + i),
            pod_cidr: cidr.map(|c| c.parse().unwrap()),
            ssh: None,
            line: None,
        }
    }

    #[test]
    fn inventory_cidrs_and_a_worker_without_one() {
        let nodes =
            [worker(0, Some("10.200.0.0/24")), worker(1, Some("10.200.1.0/24")), worker(2, None)];
        let refs: Vec<&Node> = nodes.iter().collect();
        let plan = ProbePlan::new(&refs, &BTreeMap::new(), Some(RouteExpectation::ViaPeer));
        let addrs: Vec<String> =
            plan.probes.iter().map(|p| format!("{} {}", p.node, p.address)).collect();
        assert_eq!(addrs, ["worker-0 10.200.0.254", "worker-1 10.200.1.254"]);
        assert_eq!(plan.targets("worker-0"), ["10.200.1.254".parse::<Ipv4Addr>().unwrap()]);
        assert_eq!(plan.targets("worker-2").len(), 2);
        assert!(plan.setup_script("worker-2").is_none());
    }

    #[test]
    fn flannel_subnet_wins_over_the_inventory() {
        // flannel gave worker-0 10.200.0.0/24, but the inventory says 10.200.5.0/24.
        let facts =
            crate::pod_network::flannel::facts::parse(&fixture("gather-flannel-worker-0.txt"))
                .unwrap();
        let nodes = [worker(0, Some("10.200.5.0/24"))];
        let map = BTreeMap::from([("worker-0".to_string(), &facts)]);
        let flannel = ProbePlan::new(&[&nodes[0]], &map, Some(RouteExpectation::ViaFlannel));
        assert_eq!(flannel.probes[0].address.to_string(), "10.200.0.254");
        assert_eq!(flannel.probes[0].cidr_source, CidrSource::Flannel);
        assert_eq!(flannel.probes[0].mismatch(), None, "flannel hands out its own subnets");
        // Without flannel, the node's bridge cni0 (10.200.0.1/24) says where its pods are, and
        // the inventory's 10.200.5.0/24 is wrong.
        let peer = ProbePlan::new(&[&nodes[0]], &map, Some(RouteExpectation::ViaPeer));
        let p = &peer.probes[0];
        assert_eq!(p.address.to_string(), "10.200.0.254");
        assert_eq!(p.cidr_source, CidrSource::Bridge { name: "cni0".into() });
        assert_eq!(p.mismatch(), Some("10.200.5.0/24".parse().unwrap()));
        assert_eq!(
            p.attach,
            Attach::Bridge { name: "cni0".into(), gateway: "10.200.0.1".parse().unwrap() }
        );
    }

    #[test]
    fn a_duplicate_address_is_not_a_target() {
        let nodes = [
            worker(0, Some("10.200.0.0/24")),
            worker(1, Some("10.200.0.0/24")),
            worker(2, Some("10.200.2.0/24")),
        ];
        let refs: Vec<&Node> = nodes.iter().collect();
        let plan = ProbePlan::new(&refs, &BTreeMap::new(), None);
        assert_eq!(plan.targets("worker-0"), ["10.200.2.254".parse::<Ipv4Addr>().unwrap()]);
    }

    #[test]
    fn the_cni_config_says_where_the_pods_are_and_leftovers_of_gone_runs_are_named() {
        let mut facts =
            crate::pod_network::flannel::facts::parse(&fixture("gather-static-worker-1.txt"))
                .unwrap();
        facts.probe_claims = vec![
            crate::facts::ProbeClaim {
                path: "/run/labctl/probes/aaaaaaaa-1.probe".into(),
                run: "aaaaaaaa".into(),
                owner: Some(Owner { pid: u32::MAX, ..Owner::current() }.to_string()),
                created: None,
                address: None,
            },
            crate::facts::ProbeClaim {
                path: "/run/labctl/probes/bbbbbbbb-1.probe".into(),
                run: "bbbbbbbb".into(),
                owner: Some(Owner::current().to_string()),
                created: None,
                address: None,
            },
        ];
        let nodes = [worker(1, Some("10.200.10.0/24"))];
        let map = BTreeMap::from([("worker-1".to_string(), &facts)]);
        let plan = ProbePlan::new(&[&nodes[0]], &map, Some(RouteExpectation::ViaPeer));
        let p = &plan.probes[0];
        assert_eq!(p.cidr.to_string(), "10.200.1.0/24");
        assert_eq!(
            p.cidr_source,
            CidrSource::CniConfig { path: "/etc/cni/net.d/10-bridge.conf".into() }
        );
        assert_eq!(p.mismatch(), Some("10.200.10.0/24".parse().unwrap()));
        assert_eq!(p.leases.as_deref(), Some("/var/lib/cni/networks/bridge"));
        assert_eq!(p.stale, ["aaaaaaaa"], "only the claim whose process is gone");
        assert_eq!(p.mtu, Some(1500));
    }
}
