//! Crafted labs for the unit tests of verify: three workers whose facts and observations are
//! right for a variant, which a test then breaks in one way.
//!
//! The facts mirror the fixtures captured from real commands (`tests/fixtures/facts/`), in
//! the short text form of `ip route` / `ip route get`.

use std::net::Ipv4Addr;

use crate::facts::routes::{Destination, RouteKind};
use crate::facts::{HostFacts, InterfaceAddress, Link, Route, RouteGet, RoutePath};
use crate::inventory::{Node, Role};
use crate::pod_network::checks::RouteExpectation;
use crate::pod_network::flannel::facts::{Flannel, FlannelFacts, SubnetEnv, VxlanLink};

use super::diagnosis::{VerifyInput, WorkerRun, diagnose};
use super::plan::ProbePlan;
use super::probe::{CheckOutput, PingOutcome};
use crate::facts::NodeFacts;
use crate::verify::report::Report;

/// A lab under test.
pub struct Lab {
    pub expectation: Option<RouteExpectation>,
    pub data_plane: bool,
    pub nodes: Vec<Node>,
    pub facts: Vec<NodeFacts>,
    pub probe_errors: Vec<Option<String>>,
    pub checks: Vec<Result<CheckOutput, String>>,
    /// Live pods setup found on each worker.
    pub pods: Vec<Vec<Ipv4Addr>>,
}

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// `[kind] DST [via GW] [dev DEV] [onlink]`.
pub fn route(text: &str) -> Route {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let kind = match words[0] {
        "blackhole" | "unreachable" | "prohibit" => RouteKind::from_ip(Some(words.remove(0))),
        _ => RouteKind::Unicast,
    };
    let after = |key: &str| words.iter().position(|w| *w == key).map(|i| words[i + 1].to_string());
    Route {
        destination: Destination::parse(words[0]).unwrap(),
        kind,
        gateway: after("via").map(|g| ip(&g)),
        dev: after("dev"),
        protocol: None,
        scope: None,
        prefsrc: None,
        metric: None,
        onlink: words.contains(&"onlink"),
        nexthops: Vec::new(),
    }
}

/// `DST [via GW] dev DEV src SRC`.
pub fn path(text: &str) -> RouteGet {
    let words: Vec<&str> = text.split_whitespace().collect();
    let after = |key: &str| words.iter().position(|w| *w == key).map(|i| words[i + 1].to_string());
    RouteGet::Path(RoutePath {
        destination: ip(words[0]),
        kind: RouteKind::Unicast,
        gateway: after("via").map(|g| ip(&g)),
        dev: after("dev"),
        prefsrc: after("src").map(|s| ip(&s)),
    })
}

pub fn link(name: &str, addresses: &[&str]) -> Link {
    Link {
        name: name.into(),
        index: 1,
        up: true,
        operstate: "UP".into(),
        mtu: Some(1500),
        addresses: addresses
            .iter()
            .map(|a| {
                let net: ipnet::Ipv4Net = a.parse().unwrap();
                InterfaceAddress {
                    address: net.addr(),
                    prefix_len: net.prefix_len(),
                    scope: "global".into(),
                }
            })
            .collect(),
    }
}

fn node(i: usize) -> Node {
    Node {
        name: format!("worker-{i}"),
        role: Role::Worker,
        address: ip(&format!("10.240.0.2{i}")),
        pod_cidr: Some(format!("10.200.{i}.0/24").parse().unwrap()),
        ssh: None,
        line: None,
    }
}

fn host(links: Vec<Link>, routes: Vec<Route>) -> HostFacts {
    HostFacts {
        links,
        routes,
        ip_forward: true,
        cni_configs: Vec::new(),
        extra: Default::default(),
        route_gets: Default::default(),
        probe_claims: Vec::new(),
    }
}

fn all_pass(
    n: usize,
    answer: impl Fn(usize, usize) -> RouteGet,
) -> Vec<Result<CheckOutput, String>> {
    (0..n)
        .map(|i| {
            let mut c = CheckOutput::default();
            for j in (0..n).filter(|j| *j != i) {
                let dest = ip(&format!("10.200.{j}.254"));
                c.route_gets.insert(dest, answer(i, j));
                c.pings.insert(dest, PingOutcome::Summary { transmitted: 2, received: 2 });
            }
            Ok(c)
        })
        .collect()
}

impl Lab {
    /// Static routes on Vagrant VMs (enp0s3 with the shared NAT address, enp0s8 lab NIC).
    pub fn static_routes(n: usize) -> Lab {
        let facts = (0..n)
            .map(|i| {
                let mut routes =
                    vec![route("default via 10.0.2.2 dev enp0s3"), route("10.0.2.0/24 dev enp0s3")];
                for j in (0..n).filter(|j| *j != i) {
                    routes.push(route(&format!("10.200.{j}.0/24 via 10.240.0.2{j} dev enp0s8")));
                }
                routes.push(route(&format!("10.200.{i}.0/24 dev cni0")));
                routes.push(route("10.240.0.0/24 dev enp0s8"));
                let links = vec![
                    link("lo", &[]),
                    link("enp0s3", &["10.0.2.15/24"]),
                    link("enp0s8", &[&format!("10.240.0.2{i}/24")]),
                    link("cni0", &[&format!("10.200.{i}.1/24")]),
                ];
                NodeFacts::Known(host(links, routes))
            })
            .collect();
        let checks = all_pass(n, |i, j| {
            path(&format!("10.200.{j}.254 via 10.240.0.2{j} dev enp0s8 src 10.240.0.2{i}"))
        });
        Lab::new(RouteExpectation::ViaPeer, n, facts, checks)
    }

    /// flannel (vxlan) bound to enp0s8 on Vagrant VMs.
    pub fn flannel(n: usize) -> Lab {
        let facts = (0..n)
            .map(|i| {
                let mut routes =
                    vec![route("default via 10.0.2.2 dev enp0s3"), route("10.0.2.0/24 dev enp0s3")];
                for j in (0..n).filter(|j| *j != i) {
                    routes.push(route(&format!(
                        "10.200.{j}.0/24 via 10.200.{j}.0 dev flannel.1 onlink"
                    )));
                }
                routes.push(route(&format!("10.200.{i}.0/24 dev cni0")));
                let links = vec![
                    link("enp0s3", &["10.0.2.15/24"]),
                    link("enp0s8", &[&format!("10.240.0.2{i}/24")]),
                    link("flannel.1", &[&format!("10.200.{i}.0/32")]),
                    link("cni0", &[&format!("10.200.{i}.1/24")]),
                ];
                let mut f = host(links, routes);
                f.set_flannel(FlannelFacts {
                    link: Some(VxlanLink {
                        name: "flannel.1".into(),
                        kind: Some("vxlan".into()),
                        vni: Some(1),
                        local: Some(ip(&format!("10.240.0.2{i}"))),
                        underlying: Some("enp0s8".into()),
                        port: Some(8472),
                        up: true,
                        mtu: Some(1450),
                    }),
                    subnet_env: Some(SubnetEnv {
                        network: Some("10.200.0.0/16".parse().unwrap()),
                        subnet: Some(format!("10.200.{i}.1/24").parse().unwrap()),
                        mtu: Some(1450),
                        ipmasq: Some(true),
                    }),
                });
                NodeFacts::Known(f)
            })
            .collect();
        let checks = all_pass(n, |i, j| {
            path(&format!("10.200.{j}.254 via 10.200.{j}.0 dev flannel.1 src 10.200.{i}.0"))
        });
        Lab::new(RouteExpectation::ViaFlannel, n, facts, checks)
    }

    /// GCE routes: one NIC ens4 with a /32, default via the VPC router 10.240.0.1.
    pub fn gce(n: usize) -> Lab {
        let facts = (0..n)
            .map(|i| {
                let routes = vec![
                    route("default via 10.240.0.1 dev ens4"),
                    route(&format!("10.200.{i}.0/24 dev cni0")),
                    route("10.240.0.1 dev ens4"),
                ];
                let links = vec![
                    link("ens4", &[&format!("10.240.0.2{i}/32")]),
                    link("cni0", &[&format!("10.200.{i}.1/24")]),
                ];
                NodeFacts::Known(host(links, routes))
            })
            .collect();
        let checks = all_pass(n, |i, j| {
            path(&format!("10.200.{j}.254 via 10.240.0.1 dev ens4 src 10.240.0.2{i}"))
        });
        Lab::new(RouteExpectation::ViaGateway, n, facts, checks)
    }

    fn new(
        exp: RouteExpectation,
        n: usize,
        facts: Vec<NodeFacts>,
        checks: Vec<Result<CheckOutput, String>>,
    ) -> Lab {
        Lab {
            expectation: Some(exp),
            data_plane: true,
            nodes: (0..n).map(node).collect(),
            facts,
            probe_errors: vec![None; n],
            checks,
            pods: vec![Vec::new(); n],
        }
    }

    /// The facts of worker `i`.
    /// Changes worker `i`'s `flannel.1` device.
    pub fn edit_vxlan(&mut self, i: usize, edit: impl FnOnce(&mut VxlanLink)) {
        let host = self.host(i);
        let mut flannel = host.flannel();
        if let Some(link) = flannel.link.as_mut() {
            edit(link);
        }
        host.set_flannel(flannel);
    }

    pub fn host(&mut self, i: usize) -> &mut HostFacts {
        match &mut self.facts[i] {
            NodeFacts::Known(f) => f,
            _ => panic!("worker-{i} has no facts"),
        }
    }

    /// What worker `i` observed.
    pub fn checks(&mut self, i: usize) -> &mut CheckOutput {
        self.checks[i].as_mut().unwrap()
    }

    /// `ip route get` of worker `j`'s probe on worker `i` answers `answer`.
    pub fn answer(&mut self, i: usize, j: usize, answer: RouteGet) {
        self.checks(i).route_gets.insert(ip(&format!("10.200.{j}.254")), answer);
    }

    /// No ping from worker `i`'s probe to worker `j`'s got an answer.
    pub fn ping_fails(&mut self, i: usize, j: usize) {
        self.checks(i).pings.insert(
            ip(&format!("10.200.{j}.254")),
            PingOutcome::Summary { transmitted: 2, received: 0 },
        );
    }

    /// Replaces worker `i`'s route for `cidr` (`None`: removes it).
    pub fn set_route(&mut self, i: usize, cidr: &str, replacement: Option<&str>) {
        let dest = Destination::parse(cidr).unwrap();
        let routes = &mut self.host(i).routes;
        routes.retain(|r| r.destination != dest);
        if let Some(text) = replacement {
            routes.push(route(text));
        }
    }

    pub fn report(&self) -> Report {
        let facts: std::collections::BTreeMap<String, &HostFacts> = self
            .nodes
            .iter()
            .zip(&self.facts)
            .filter_map(|(n, f)| match f {
                NodeFacts::Known(f) => Some((n.name.clone(), f)),
                _ => None,
            })
            .collect();
        let refs: Vec<&Node> = self.nodes.iter().collect();
        let mut plan = ProbePlan::new(&refs, &facts, self.expectation);
        for (node, pods) in self.nodes.iter().zip(&self.pods) {
            let address = plan.probe(&node.name).map(|p| p.address);
            plan.set_up(&node.name, &super::probe::SetupOutput { address, pods: pods.clone() });
        }
        let workers = (0..self.nodes.len())
            .map(|i| WorkerRun {
                node: &self.nodes[i],
                facts: self.facts[i].clone(),
                probe_error: self.probe_errors[i].clone(),
                checks: self.checks[i].clone(),
            })
            .collect();
        diagnose(&VerifyInput {
            chapter: "11-pod-network-routes",
            expectation: self.expectation,
            data_plane: self.data_plane,
            plan: &plan,
            workers,
        })
    }
}
