//! The sandbox's network: the lab network (a bridge in a namespace of its own), the operator's
//! veth into it, the gce shape's VPC router, and each node's NICs and routes.
//!
//! Nothing leaves the sandbox: no namespace of it has a route to the outside, the root
//! namespace gets only the lab network's route through the operator's veth, and this machine
//! forwards nothing that comes in on that veth.

use std::net::Ipv4Addr;

use super::netns::{Ip, set_root_sysctl};
use super::spec::{NAT_ADDRESS, NAT_GATEWAY, NAT_NIC, NAT_PREFIX, NodeSpec, Shape};
use super::state::SandboxState;

/// The lab network's bridge, inside the network namespace.
const BRIDGE: &str = "br0";
/// The bridge port of the operator's veth, inside the network namespace.
const HOST_PORT: &str = "host";
/// The bridge port of the VPC router, inside the network namespace.
const ROUTER_PORT: &str = "vpc";
/// The VPC router's NIC, inside its namespace.
const ROUTER_NIC: &str = "eth0";

/// Creates the namespaces, all with one `ip -batch`.
pub fn create_namespaces(ip: &Ip, namespaces: &[String]) -> Result<(), String> {
    let lines: Vec<String> = namespaces.iter().map(|ns| format!("netns add {ns}")).collect();
    ip.batch(None, &lines)
}

/// Builds the lab network's bridge, the operator's veth and (gce shape) the VPC router.
pub fn build_lab_network(ip: &Ip, state: &SandboxState) -> Result<(), String> {
    let spec = &state.spec;
    let net = state.network_netns.as_str();
    let prefix = spec.network.prefix_len();
    ip.batch(
        Some(net),
        &[
            "link set lo up".into(),
            format!("link add {BRIDGE} type bridge"),
            format!("link set {BRIDGE} up"),
        ],
    )?;

    let host = state.host_link.as_str();
    ip.batch(None, &[format!("link add {host} type veth peer name {HOST_PORT} netns {net}")])?;
    // This machine forwards nothing that comes from the sandbox, whatever ip_forward says.
    set_root_sysctl(&format!("net/ipv4/conf/{host}/forwarding"), "0")?;
    // Only IPv4 is routed into the lab; no IPv6 path either (absent when IPv6 is off).
    let _ = set_root_sysctl(&format!("net/ipv6/conf/{host}/disable_ipv6"), "1");
    ip.batch(
        None,
        &[
            format!("link set dev {host} alias \"{}\"", state_alias(state)),
            format!("addr add {}/{prefix} dev {host}", spec.host_address),
            format!("link set {host} up"),
        ],
    )?;
    ip.batch(
        Some(net),
        &[format!("link set {HOST_PORT} master {BRIDGE}"), format!("link set {HOST_PORT} up")],
    )?;

    if let (Some(router_ns), Some(router_address)) = (&state.router_netns, spec.router_address) {
        build_router(ip, net, router_ns, router_address, prefix)?;
    }
    Ok(())
}

/// The VPC router of the gce shape: a namespace at the network's .1 that forwards between
/// nodes; the gce variant's routes go here. It has no default route: nothing leaves.
fn build_router(
    ip: &Ip,
    net: &str,
    router_ns: &str,
    address: Ipv4Addr,
    prefix: u8,
) -> Result<(), String> {
    ip.batch(
        Some(net),
        &[
            format!("link add {ROUTER_PORT} type veth peer name {ROUTER_NIC} netns {router_ns}"),
            format!("link set {ROUTER_PORT} master {BRIDGE}"),
            format!("link set {ROUTER_PORT} up"),
        ],
    )?;
    ip.batch(
        Some(router_ns),
        &[
            "link set lo up".into(),
            format!("addr add {address}/{prefix} dev {ROUTER_NIC}"),
            format!("link set {ROUTER_NIC} up"),
        ],
    )?;
    // A GCE VPC forwards and never sends ICMP redirects.
    ip.set_sysctls(
        router_ns,
        &[
            ("net/ipv4/ip_forward", "1"),
            ("net/ipv4/conf/all/send_redirects", "0"),
            (&format!("net/ipv4/conf/{ROUTER_NIC}/send_redirects"), "0"),
        ],
    )
}

/// Gives node `index` its NICs, addresses and default route.
///
/// vagrant shape: `enp0s3` with 10.0.2.15 and the default route, like VirtualBox NAT, but its
/// other end is a veth in the network namespace that is on no bridge and has no address: the
/// NAT gateway never answers (the NAT trap, for real). Then the NIC on the lab network.
/// gce shape: the one NIC, default route via the VPC router.
pub fn configure_node(
    ip: &Ip,
    state: &SandboxState,
    index: usize,
    node: &NodeSpec,
) -> Result<(), String> {
    let spec = &state.spec;
    let net = state.network_netns.as_str();
    let node_ns = state.nodes[index].netns.as_str();
    let nic = spec.nic.as_str();
    let mut in_net = Vec::new();
    if spec.shape == Shape::Vagrant {
        // Created first, so that enp0s3 is the node's first NIC as in a VirtualBox VM.
        in_net.push(format!("link add n{index} type veth peer name {NAT_NIC} netns {node_ns}"));
        in_net.push(format!("link set n{index} up"));
    }
    in_net.push(format!("link add w{index} type veth peer name {nic} netns {node_ns}"));
    in_net.push(format!("link set w{index} master {BRIDGE}"));
    in_net.push(format!("link set w{index} up"));
    ip.batch(Some(net), &in_net)?;

    let mut in_node = vec![
        "link set lo up".to_string(),
        format!("addr add {}/{} dev {nic}", node.address, spec.network.prefix_len()),
        format!("link set {nic} up"),
    ];
    match (spec.shape, spec.router_address) {
        (Shape::Gce, Some(router)) => {
            in_node.push(format!("route add default via {router} dev {nic}"))
        }
        _ => {
            in_node.push(format!("addr add {NAT_ADDRESS}/{NAT_PREFIX} dev {NAT_NIC}"));
            in_node.push(format!("link set {NAT_NIC} up"));
            in_node.push(format!("route add default via {NAT_GATEWAY} dev {NAT_NIC}"));
        }
    }
    ip.batch(Some(node_ns), &in_node)
}

fn state_alias(state: &SandboxState) -> String {
    super::names::SandboxNames::new(&state.spec.name).link_alias()
}
