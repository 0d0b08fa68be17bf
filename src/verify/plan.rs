//! Which probe each worker gets, decided from the inventory and the gathered facts.
//!
//! A probe's address lies in the node's pod CIDR: the inventory's `pod_cidr`, except with
//! flannel, where flannel hands out the subnets itself (from the node's `spec.podCIDR`, in
//! whatever order the controller manager assigned them) and writes the node's one to
//! `/run/flannel/subnet.env`: the routes lead there, so the probe must be there too.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::probe;
use crate::chapter::schema::RouteExpectation;
use crate::facts::HostFacts;
use crate::inventory::Node;

/// The probes of one verify run, in inventory order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ProbePlan {
    pub probes: Vec<Probe>,
}

/// One node's probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub node: String,
    /// The pod CIDR the probe stands in.
    pub cidr: Ipv4Net,
    pub cidr_source: CidrSource,
    pub address: Ipv4Addr,
}

/// Where a probe's pod CIDR comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CidrSource {
    /// The inventory's `pod_cidr`.
    Inventory,
    /// `FLANNEL_SUBNET` in the node's `/run/flannel/subnet.env`.
    Flannel,
}

impl ProbePlan {
    /// The probes of `workers`; `facts` holds the facts of the workers that could be read.
    /// A worker with no pod CIDR known gets no probe.
    pub fn new(
        workers: &[&Node],
        facts: &BTreeMap<String, &HostFacts>,
        expectation: Option<RouteExpectation>,
    ) -> ProbePlan {
        let probes = workers
            .iter()
            .filter_map(|node| {
                let flannel = (expectation == Some(RouteExpectation::ViaFlannel))
                    .then(|| facts.get(&node.name))
                    .flatten()
                    .and_then(|f| f.flannel.subnet_env.as_ref())
                    .and_then(|env| env.pod_cidr());
                let (cidr, cidr_source) = match (flannel, node.pod_cidr) {
                    (Some(cidr), _) => (cidr, CidrSource::Flannel),
                    (None, Some(cidr)) => (cidr.trunc(), CidrSource::Inventory),
                    (None, None) => return None,
                };
                Some(Probe {
                    node: node.name.clone(),
                    cidr,
                    cidr_source,
                    address: probe::probe_address(cidr),
                })
            })
            .collect();
        ProbePlan { probes }
    }

    /// The probe of `node`.
    pub fn probe(&self, node: &str) -> Option<&Probe> {
        self.probes.iter().find(|p| p.node == node)
    }

    /// The addresses `node` checks: every other probe's, except one equal to its own (two
    /// nodes claiming one pod CIDR; pinging it would answer locally and prove nothing).
    pub fn targets(&self, node: &str) -> Vec<Ipv4Addr> {
        let own = self.probe(node).map(|p| p.address);
        let mut targets: Vec<Ipv4Addr> = Vec::new();
        for p in self.probes.iter().filter(|p| p.node != node && Some(p.address) != own) {
            if !targets.contains(&p.address) {
                targets.push(p.address);
            }
        }
        targets
    }

    /// The script that sets up `node`'s probe (root), if it has one.
    pub fn setup_script(&self, node: &str) -> Option<String> {
        self.probe(node).map(|p| probe::setup_script(node, p.address))
    }

    /// The script that gathers `node`'s route evidence and, with `ping_count`, pings the other
    /// probes (root when pinging).
    pub fn check_script(&self, node: &str, ping_count: Option<u32>) -> String {
        probe::check_script(node, &self.targets(node), ping_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::fixture;
    use crate::inventory::Role;

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
        let facts = crate::facts::host::parse(&fixture("gather-flannel-worker-0.txt")).unwrap();
        let nodes = [worker(0, Some("10.200.5.0/24"))];
        let map = BTreeMap::from([("worker-0".to_string(), &facts)]);
        let flannel = ProbePlan::new(&[&nodes[0]], &map, Some(RouteExpectation::ViaFlannel));
        assert_eq!(flannel.probes[0].address.to_string(), "10.200.0.254");
        assert_eq!(flannel.probes[0].cidr_source, CidrSource::Flannel);
        let peer = ProbePlan::new(&[&nodes[0]], &map, Some(RouteExpectation::ViaPeer));
        assert_eq!(peer.probes[0].address.to_string(), "10.200.5.254");
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
}
