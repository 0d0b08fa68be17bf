//! What a sandbox should look like: the `sandbox up` flags, checked and turned into a
//! [`SandboxSpec`] before anything on the machine is touched.
//!
//! Every check here is pure, so bad flags are reported with exit code 2 and nothing built.

use std::net::Ipv4Addr;

use clap::ValueEnum;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::args::UpArgs;
use crate::error::Problem;

/// The most workers one sandbox may have.
pub const MAX_WORKERS: usize = 250;
/// The longest sandbox name (namespace and link names are built from it).
pub const MAX_NAME_LEN: usize = 24;
/// The Vagrant NAT NIC every node of the vagrant shape has: the NAT trap.
pub const NAT_NIC: &str = "enp0s3";
/// The address VirtualBox's NAT gives every VM, the same on all of them.
pub const NAT_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// VirtualBox's NAT gateway; in the sandbox the default route leads there and nowhere else.
pub const NAT_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The lab network when `--network` is not given: KTHW's.
pub const DEFAULT_NETWORK: Ipv4Net =
    Ipv4Net::new_assert(std::net::Ipv4Addr::new(10, 240, 0, 0), 24);

/// The lab network when `--network` is not given and [`DEFAULT_NETWORK`] is taken: the first
/// of these that nothing on this machine overlaps.
pub fn fallback_networks() -> impl Iterator<Item = Ipv4Net> {
    (241u8..=254).map(|b| Ipv4Net::new_assert(std::net::Ipv4Addr::new(10, b, 0, 0), 24))
}

/// The NAT network's prefix length.
pub const NAT_PREFIX: u8 = 24;

/// Which course VMs the sandbox imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Vagrant/VirtualBox: node NIC `enp0s8`, plus `enp0s3` with 10.0.2.15 and the default route.
    Vagrant,
    /// Google Compute Engine: one NIC `ens4`, default route via a VPC router at the network's .1.
    Gce,
}

impl Shape {
    /// The name used on the command line and in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Vagrant => "vagrant",
            Shape::Gce => "gce",
        }
    }

    /// The node NIC on the lab network when `--nic` is not given.
    pub fn default_nic(self) -> &'static str {
        match self {
            Shape::Vagrant => "enp0s8",
            Shape::Gce => "ens4",
        }
    }
}

/// What a node is in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Runs the control plane; no pod (as in KTHW).
    Controller,
    /// Runs the workload: a pod CIDR and a CNI pod.
    Worker,
}

impl NodeRole {
    /// The name used in the inventory.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Controller => "controller",
            NodeRole::Worker => "worker",
        }
    }
}

/// One node of the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub name: String,
    pub role: NodeRole,
    pub address: Ipv4Addr,
    /// Workers only.
    pub pod_cidr: Option<Ipv4Net>,
}

/// A checked description of a sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSpec {
    pub name: String,
    pub shape: Shape,
    /// The lab network the nodes' NICs are on.
    pub network: Ipv4Net,
    /// The node NIC's name on that network.
    pub nic: String,
    /// This machine's address on the lab network (the operator's veth).
    pub host_address: Ipv4Addr,
    /// The VPC router's address (gce shape only): the nodes' default gateway.
    pub router_address: Option<Ipv4Addr>,
    pub cluster_cidr: Ipv4Net,
    pub service_cidr: Ipv4Net,
    /// Controllers first, then workers (KTHW's order).
    pub nodes: Vec<NodeSpec>,
}

impl SandboxSpec {
    /// Checks the `sandbox up` flags; the error is a message for the user.
    pub fn from_args(args: &UpArgs) -> Result<SandboxSpec, Problem> {
        check_name(&args.name)?;
        let shape = args.shape;
        let network = args.network.unwrap_or(DEFAULT_NETWORK);
        check_network(network)?;
        let count = worker_count(args)?;
        let nic = args.nic.clone().unwrap_or_else(|| shape.default_nic().to_string());
        check_nic(&nic, shape)?;
        let router_address = match shape {
            Shape::Vagrant => None,
            Shape::Gce => Some(nth_address(network, 1).ok_or_else(|| too_small(network))?),
        };
        let host_address = match args.host_address {
            Some(a) => a,
            None => default_host_address(shape, network).ok_or_else(|| too_small(network))?,
        };
        check_in_network("--host-address", host_address, network)?;
        if Some(host_address) == router_address {
            return Err(Problem::new(format!(
                "`--host-address {host_address}` is the VPC router's address in the gce shape"
            ))
            .help(format!(
                "leave it out to use {}",
                default_host_address(shape, network).unwrap_or(host_address)
            )));
        }
        let mut addresses = controller_addresses(args, network)?;
        let controllers = addresses.len();
        addresses.extend(node_addresses(args, network, count)?);
        for (i, address) in addresses.iter().enumerate() {
            let flag = if i < controllers { "--controller-addresses" } else { "--addresses" };
            check_in_network(flag, *address, network)?;
            if *address == host_address {
                return Err(format!(
                    "node address {address} is also this machine's address (`--host-address`)"
                )
                .into());
            }
            if Some(*address) == router_address {
                return Err(format!(
                    "node address {address} is the VPC router's address in the gce shape"
                )
                .into());
            }
        }
        if let Some(dup) = first_duplicate(&addresses) {
            return Err(format!(
                "node address {dup} is given twice (controllers are at the network's .10 onwards unless `--controller-addresses` says otherwise)"
            ).into());
        }
        let pod_cidrs = pod_cidrs(args, count)?;
        check_disjoint(shape, network, args.cluster_cidr, args.service_cidr)?;
        let controller_nodes =
            addresses[..controllers].iter().enumerate().map(|(i, address)| NodeSpec {
                name: format!("controller-{i}"),
                role: NodeRole::Controller,
                address: *address,
                pod_cidr: None,
            });
        let worker_nodes = addresses[controllers..].iter().zip(pod_cidrs).enumerate().map(
            |(i, (address, pod_cidr))| NodeSpec {
                name: format!("worker-{i}"),
                role: NodeRole::Worker,
                address: *address,
                pod_cidr: Some(pod_cidr),
            },
        );
        let nodes = controller_nodes.chain(worker_nodes).collect();
        Ok(SandboxSpec {
            name: args.name.clone(),
            shape,
            network,
            nic,
            host_address,
            router_address,
            cluster_cidr: args.cluster_cidr,
            service_cidr: args.service_cidr,
            nodes,
        })
    }
}

impl SandboxSpec {
    /// "1 controller and 3 workers".
    pub fn describe_nodes(&self) -> String {
        let count = |role| self.nodes.iter().filter(|n| n.role == role).count();
        let plural = |n: usize, what: &str| {
            if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
        };
        let workers = plural(count(NodeRole::Worker), "worker");
        match count(NodeRole::Controller) {
            0 => workers,
            n => format!("{} and {workers}", plural(n, "controller")),
        }
    }
}

/// Parses a network in CIDR form, refusing host bits (`10.240.0.5/24`).
pub fn parse_network(s: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net = s
        .parse()
        .map_err(|_| format!("`{s}` is not an IPv4 network in CIDR form, like 10.240.0.0/24"))?;
    if net.trunc() != net {
        return Err(format!("`{s}` has host bits set; did you mean {}?", net.trunc()));
    }
    Ok(net)
}

/// Checks a sandbox name: it becomes part of namespace, link and directory names.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid_chars =
        name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let valid_ends = !name.starts_with('-') && !name.ends_with('-');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !valid_chars || !valid_ends {
        return Err(format!(
            "`{name}` is not a sandbox name: use 1 to {MAX_NAME_LEN} lower-case letters, digits and inner dashes, like `lab-2`"
        ));
    }
    Ok(())
}

/// True when two networks share any address.
pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The network the NAT trap's `enp0s3` is on.
pub fn nat_network() -> Ipv4Net {
    Ipv4Net::new(NAT_ADDRESS, NAT_PREFIX).map(|n| n.trunc()).unwrap_or_default()
}

fn check_network(network: Ipv4Net) -> Result<(), Problem> {
    // A public range would shadow real machines for this host; keep the lab in private space.
    if !network.network().is_private() {
        return Err(Problem::new(format!(
            "the lab network {network} is not a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"
        ))
        .help("the sandbox routes it on this machine, which would hide real hosts with those addresses"));
    }
    if network.prefix_len() > 29 {
        return Err(format!("the lab network {network} is too small; use a /29 or larger").into());
    }
    Ok(())
}

fn worker_count(args: &UpArgs) -> Result<usize, String> {
    let from_lists =
        args.addresses.as_ref().map(Vec::len).or(args.pod_cidrs.as_ref().map(Vec::len));
    let count = args.workers.map(usize::from).or(from_lists).unwrap_or(3);
    if let Some(list) = &args.addresses
        && list.len() != count
    {
        return Err(format!(
            "{count} workers but `--addresses` lists {} addresses; give one address per worker",
            list.len()
        ));
    }
    if let Some(list) = &args.pod_cidrs
        && list.len() != count
    {
        return Err(format!(
            "{count} workers but `--pod-cidrs` lists {} networks; give one pod CIDR per worker",
            list.len()
        ));
    }
    if count == 0 || count > MAX_WORKERS {
        return Err(format!("a sandbox has 1 to {MAX_WORKERS} workers, not {count}"));
    }
    Ok(count)
}

fn check_nic(nic: &str, shape: Shape) -> Result<(), String> {
    let valid = !nic.is_empty()
        && nic.len() <= 15
        && nic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !valid {
        return Err(format!(
            "`{nic}` is not a NIC name: use 1 to 15 letters, digits, `-`, `_` or `.`"
        ));
    }
    let taken = ["lo", "cni0"].contains(&nic) || (shape == Shape::Vagrant && nic == NAT_NIC);
    if taken {
        return Err(format!("the node NIC cannot be called `{nic}`: the sandbox uses that name"));
    }
    Ok(())
}

/// The n-th address of the network (0 is the network address itself).
fn nth_address(network: Ipv4Net, n: u32) -> Option<Ipv4Addr> {
    let address = u32::from(network.network()).checked_add(n)?;
    let address = Ipv4Addr::from(address);
    (network.contains(&address) && address != network.broadcast()).then_some(address)
}

fn default_host_address(shape: Shape, network: Ipv4Net) -> Option<Ipv4Addr> {
    match shape {
        // Vagrant's host-only network gives the host .1.
        Shape::Vagrant => nth_address(network, 1),
        // In the gce shape .1 is the VPC router; the host takes the last address.
        Shape::Gce => {
            let last = u32::from(network.broadcast()).checked_sub(1)?;
            nth_address(network, last.checked_sub(u32::from(network.network()))?)
        }
    }
}

fn too_small(network: Ipv4Net) -> String {
    format!("the lab network {network} is too small")
}

fn check_in_network(flag: &str, address: Ipv4Addr, network: Ipv4Net) -> Result<(), String> {
    if !network.contains(&address) || address == network.network() || address == network.broadcast()
    {
        return Err(format!(
            "{address} (`{flag}`) is not a host address of the lab network {network}"
        ));
    }
    Ok(())
}

fn node_addresses(args: &UpArgs, network: Ipv4Net, count: usize) -> Result<Vec<Ipv4Addr>, Problem> {
    if let Some(list) = &args.addresses {
        return Ok(list.clone());
    }
    // KTHW's workers are 10.240.0.20, .21, .22: the network's .20 onwards.
    let first = match args.first_address {
        Some(a) => a,
        None => nth_address(network, 20).ok_or_else(|| {
            Problem::new(format!("the lab network {network} has no .20 for the first worker"))
                .help("give `--first-address` or `--addresses`")
        })?,
    };
    check_in_network("--first-address", first, network)?;
    let mut addresses = Vec::with_capacity(count);
    for i in 0..count {
        let address = u32::from(first).checked_add(i as u32).map(Ipv4Addr::from);
        match address {
            Some(a) if network.contains(&a) && a != network.broadcast() => addresses.push(a),
            _ => {
                return Err(Problem::new(format!(
                    "{count} workers from {first} do not fit in the lab network {network}"
                ))
                .help(
                    "use a larger `--network`, a lower `--first-address`, or fewer `--workers`",
                ));
            }
        }
    }
    Ok(addresses)
}

fn controller_addresses(args: &UpArgs, network: Ipv4Net) -> Result<Vec<Ipv4Addr>, Problem> {
    let listed = args.controller_addresses.as_ref().map(Vec::len);
    let count = args.controllers.map(usize::from).or(listed).unwrap_or(1);
    if let Some(list) = &args.controller_addresses {
        if list.len() != count {
            return Err(format!(
                "{count} controllers but `--controller-addresses` lists {} addresses",
                list.len()
            )
            .into());
        }
        return Ok(list.clone());
    }
    // KTHW's controllers are 10.240.0.10, .11, .12: the network's .10 onwards.
    (0..count as u32)
        .map(|i| {
            nth_address(network, 10 + i).ok_or_else(|| {
                Problem::new(format!(
                    "the lab network {network} has no .{} for controller-{i}",
                    10 + i
                ))
                .help("give `--controller-addresses`, or `--controllers 0`")
            })
        })
        .collect()
}

fn first_duplicate<T: PartialEq + Copy>(items: &[T]) -> Option<T> {
    items.iter().enumerate().find(|(i, a)| items[..*i].contains(a)).map(|(_, a)| *a)
}

fn pod_cidrs(args: &UpArgs, count: usize) -> Result<Vec<Ipv4Net>, Problem> {
    let cluster = args.cluster_cidr;
    if let Some(list) = &args.pod_cidrs {
        for (i, cidr) in list.iter().enumerate() {
            if !cluster.contains(cidr) {
                return Err(format!(
                    "pod CIDR {cidr} is not inside the cluster CIDR {cluster} (`--cluster-cidr`)"
                )
                .into());
            }
            if let Some(other) = list[..i].iter().find(|o| overlaps(**o, *cidr)) {
                return Err(format!("pod CIDRs {other} and {cidr} overlap").into());
            }
        }
        return Ok(list.clone());
    }
    // KTHW: worker i gets 10.200.i.0/24, the i-th /24 of the cluster CIDR.
    let subnets: Vec<Ipv4Net> =
        cluster.subnets(24).map(|s| s.take(count).collect()).unwrap_or_default();
    if subnets.len() < count {
        return Err(Problem::new(format!(
            "the cluster CIDR {cluster} has room for {} pod CIDRs of size /24, not {count}",
            subnets.len()
        ))
        .help("use a larger `--cluster-cidr` (like 10.200.0.0/16) or give `--pod-cidrs`"));
    }
    Ok(subnets)
}

fn check_disjoint(
    shape: Shape,
    network: Ipv4Net,
    cluster: Ipv4Net,
    service: Ipv4Net,
) -> Result<(), String> {
    let mut ranges = vec![
        ("the lab network", network),
        ("the cluster CIDR", cluster),
        ("the service CIDR", service),
    ];
    if shape == Shape::Vagrant {
        ranges.push(("the Vagrant NAT network", nat_network()));
    }
    for (i, (a_name, a)) in ranges.iter().enumerate() {
        for (b_name, b) in &ranges[i + 1..] {
            if overlaps(*a, *b) {
                return Err(format!("{a_name} {a} overlaps {b_name} {b}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Harness {
        #[command(flatten)]
        up: UpArgs,
    }

    fn spec(args: &[&str]) -> Result<SandboxSpec, Problem> {
        let all = std::iter::once("up").chain(args.iter().copied());
        let harness = Harness::try_parse_from(all).map_err(|e| e.to_string())?;
        SandboxSpec::from_args(&harness.up)
    }

    #[test]
    fn default_is_the_kthw_lab() {
        let spec = spec(&[]).unwrap();
        assert_eq!(spec.name, "default");
        let controller = &spec.nodes[0];
        assert_eq!(
            (controller.name.as_str(), controller.role),
            ("controller-0", NodeRole::Controller)
        );
        assert_eq!(
            (controller.address, controller.pod_cidr),
            (Ipv4Addr::new(10, 240, 0, 10), None)
        );
        assert_eq!(spec.shape, Shape::Vagrant);
        assert_eq!(spec.nic, "enp0s8");
        assert_eq!(spec.host_address, Ipv4Addr::new(10, 240, 0, 1));
        assert_eq!(spec.router_address, None);
        let workers = spec.nodes.iter().filter(|n| n.role == NodeRole::Worker);
        let nodes: Vec<(String, String, String)> = workers
            .map(|n| (n.name.clone(), n.address.to_string(), n.pod_cidr.unwrap().to_string()))
            .collect();
        assert_eq!(
            nodes,
            [
                ("worker-0".into(), "10.240.0.20".into(), "10.200.0.0/24".into()),
                ("worker-1".into(), "10.240.0.21".into(), "10.200.1.0/24".into()),
                ("worker-2".into(), "10.240.0.22".into(), "10.200.2.0/24".into()),
            ]
        );
    }

    #[test]
    fn gce_shape_has_a_router_at_dot_one_and_the_host_at_the_end() {
        let spec = spec(&["--shape", "gce"]).unwrap();
        assert_eq!(spec.nic, "ens4");
        assert_eq!(spec.router_address, Some(Ipv4Addr::new(10, 240, 0, 1)));
        assert_eq!(spec.host_address, Ipv4Addr::new(10, 240, 0, 254));
    }

    #[test]
    fn flags_change_addresses_nics_and_cidrs() {
        let spec = spec(&[
            "--network",
            "192.168.50.0/24",
            "--addresses",
            "192.168.50.5,192.168.50.9",
            "--nic",
            "eth1",
            "--cluster-cidr",
            "10.44.0.0/16",
            "--host-address",
            "192.168.50.2",
        ])
        .unwrap();
        assert_eq!(spec.nodes.len(), 3);
        assert_eq!(spec.nodes[0].address, Ipv4Addr::new(192, 168, 50, 10));
        assert_eq!(spec.nodes[2].address, Ipv4Addr::new(192, 168, 50, 9));
        assert_eq!(spec.nodes[2].pod_cidr.unwrap().to_string(), "10.44.1.0/24");
        assert_eq!(spec.nic, "eth1");
        assert_eq!(spec.host_address, Ipv4Addr::new(192, 168, 50, 2));
    }

    #[test]
    fn two_hundred_workers_fit_from_a_lower_first_address() {
        let spec =
            spec(&["--workers", "250", "--first-address", "10.240.0.2", "--controllers", "0"])
                .unwrap();
        assert_eq!(spec.nodes[249].address, Ipv4Addr::new(10, 240, 0, 251));
        assert_eq!(spec.nodes[249].pod_cidr.unwrap().to_string(), "10.200.249.0/24");
    }

    #[test]
    fn bad_flags_are_explained() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--workers", "240"],
                "240 workers from 10.240.0.20 do not fit in the lab network 10.240.0.0/24",
            ),
            (&["--name", "Bad_Name"], "`Bad_Name` is not a sandbox name"),
            (&["--network", "10.240.0.5/24"], "has host bits set; did you mean 10.240.0.0/24?"),
            (&["--network", "8.8.8.0/24"], "is not a private range"),
            (
                &["--network", "10.0.0.0/8"],
                "the lab network 10.0.0.0/8 overlaps the cluster CIDR 10.200.0.0/16",
            ),
            (
                &["--network", "10.0.2.0/24", "--first-address", "10.0.2.20"],
                "overlaps the Vagrant NAT network 10.0.2.0/24",
            ),
            (
                &["--workers", "2", "--addresses", "10.240.0.20"],
                "2 workers but `--addresses` lists 1 addresses",
            ),
            (
                &["--addresses", "10.240.0.20,10.240.0.20"],
                "node address 10.240.0.20 is given twice",
            ),
            (
                &["--addresses", "10.241.0.20"],
                "10.241.0.20 (`--addresses`) is not a host address of the lab network",
            ),
            (&["--shape", "gce", "--host-address", "10.240.0.1"], "is the VPC router's address"),
            (&["--nic", "enp0s3"], "the node NIC cannot be called `enp0s3`"),
            (
                &["--first-address", "10.240.0.9"],
                "node address 10.240.0.10 is given twice (controllers are at",
            ),
            (
                &["--controllers", "2", "--controller-addresses", "10.240.0.5"],
                "2 controllers but `--controller-addresses` lists 1",
            ),
            (&["--cluster-cidr", "10.200.0.0/25"], "has room for 0 pod CIDRs"),
            (&["--workers", "251"], "251 is not in 1..=250"),
        ];
        for (args, expected) in cases {
            let error = spec(args).unwrap_err().to_string();
            assert!(error.contains(expected), "{args:?}: {error}");
        }
    }
}
