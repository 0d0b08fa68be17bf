//! Fact `addresses`: the host's network interfaces and their IPv4 addresses.
//!
//! Verify uses it to tell which NIC holds a node's lab address, and to find the address every
//! Vagrant VM shares (`10.0.2.15` on `enp0s3`, the NAT trap).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::{FactError, Section};

/// Section name.
pub const NAME: &str = "addresses";
/// The command (iproute2 ≥ 4.13 for JSON output).
pub const COMMAND: &str = "ip -j addr show";

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub name: String,
    pub index: u32,
    /// Administratively up (`UP` among the flags).
    pub up: bool,
    /// The kernel's operational state: `UP`, `DOWN`, `UNKNOWN` (usual for virtual devices), ...
    pub operstate: String,
    pub mtu: Option<u32>,
    /// Its IPv4 addresses, in the kernel's order.
    pub addresses: Vec<InterfaceAddress>,
}

/// An IPv4 address on an interface, with its prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceAddress {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// `global`, `link` or `host` (loopback).
    pub scope: String,
}

impl InterfaceAddress {
    /// The address with its prefix, e.g. `10.240.0.20/24`.
    pub fn with_prefix(&self) -> Ipv4Net {
        Ipv4Net::new(self.address, self.prefix_len).unwrap_or_else(|_| Ipv4Net::from(self.address))
    }

    /// True for an address that can identify a host on a network: not loopback, not
    /// link-local (those repeat on every machine by design).
    pub fn is_routable(&self) -> bool {
        self.scope != "host" && !self.address.is_loopback() && !self.address.is_link_local()
    }
}

impl Link {
    /// True when `address` is one of this interface's addresses.
    pub fn holds(&self, address: Ipv4Addr) -> bool {
        self.addresses.iter().any(|a| a.address == address)
    }
}

#[derive(Deserialize)]
struct RawLink {
    ifname: String,
    ifindex: u32,
    #[serde(default)]
    flags: Vec<String>,
    mtu: Option<u32>,
    operstate: Option<String>,
    #[serde(default)]
    addr_info: Vec<RawAddress>,
}

#[derive(Deserialize)]
struct RawAddress {
    family: Option<String>,
    local: Option<String>,
    prefixlen: Option<u8>,
    scope: Option<String>,
}

/// Parses the output of [`COMMAND`].
pub fn parse(section: &Section) -> Result<Vec<Link>, FactError> {
    let raw: Vec<RawLink> = section.json()?;
    raw.into_iter()
        .map(|link| {
            let mut addresses = Vec::new();
            for a in link.addr_info.iter().filter(|a| a.family.as_deref() == Some("inet")) {
                let local = a.local.as_deref().unwrap_or_default();
                let address = local.parse().map_err(|_| {
                    FactError::unexpected(
                        &section.name,
                        format!("`{}` has address `{local}`, which is not IPv4", link.ifname),
                    )
                })?;
                let prefix_len = a.prefixlen.filter(|p| *p <= 32).ok_or_else(|| {
                    FactError::unexpected(
                        &section.name,
                        format!("`{}`: address `{local}` has no valid prefix", link.ifname),
                    )
                })?;
                addresses.push(InterfaceAddress {
                    address,
                    prefix_len,
                    scope: a.scope.clone().unwrap_or_else(|| "global".into()),
                });
            }
            Ok(Link {
                up: link.flags.iter().any(|f| f == "UP"),
                operstate: link.operstate.unwrap_or_else(|| "UNKNOWN".into()),
                mtu: link.mtu,
                index: link.ifindex,
                name: link.ifname,
                addresses,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{fixture, section};

    fn links(fixture_name: &str) -> Vec<Link> {
        let sections = section::by_name(section::parse_output(&fixture(fixture_name)).unwrap());
        parse(&sections[NAME]).unwrap()
    }

    #[test]
    fn vagrant_worker_with_the_shared_nat_address() {
        let links = links("gather-flannel-nat-worker-1.txt");
        let summary: Vec<(String, bool, Vec<String>)> = links
            .iter()
            .map(|l| {
                (
                    l.name.clone(),
                    l.up,
                    l.addresses.iter().map(|a| a.with_prefix().to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("lo".to_string(), true, vec!["127.0.0.1/8".to_string()]),
                ("enp0s8".into(), true, vec!["10.240.0.21/24".into()]),
                ("enp0s3".into(), true, vec!["10.0.2.15/24".into()]),
                ("flannel.1".into(), true, vec!["10.200.1.0/32".into()]),
                ("cni0".into(), true, vec!["10.200.1.1/24".into()]),
            ]
        );
        assert_eq!(links[1].operstate, "UP");
        assert_eq!(links[3].mtu, Some(1450));
        assert!(!links[0].addresses[0].is_routable());
        assert!(links[2].holds("10.0.2.15".parse().unwrap()));
    }

    #[test]
    fn gce_worker_has_a_slash_32_on_ens4() {
        let links = links("gather-gce-worker-0.txt");
        let ens4 = links.iter().find(|l| l.name == "ens4").unwrap();
        assert_eq!(ens4.addresses[0].with_prefix().to_string(), "10.240.0.20/32");
    }

    #[test]
    fn a_pod_veth_without_ipv4_has_no_addresses() {
        let links = links("gather-static-worker-1.txt");
        let veth = links.iter().find(|l| l.name.starts_with("veth")).unwrap();
        assert!(veth.addresses.is_empty());
    }

    #[test]
    fn text_output_of_an_old_iproute2_is_an_error_naming_the_section() {
        let s = Section::ran(NAME, "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\n");
        let err = parse(&s).unwrap_err().to_string();
        assert!(err.starts_with("fact `addresses`: expected the JSON of `ip -j`"), "{err}");
    }
}
