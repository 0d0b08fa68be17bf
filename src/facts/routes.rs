//! Fact `routes`: the host's main IPv4 routing table.
//!
//! Verify uses it to say *why* a pod CIDR is not reachable: no route at all, a route via the
//! wrong next hop, a blackhole; and to find the default gateway (the VPC router on GCE).

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize, Serializer};

use super::{FactError, Section};

/// Section name.
pub const NAME: &str = "routes";
/// The command (the main table; `ip route get` consults every table).
pub const COMMAND: &str = "ip -j route show";

/// One route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub destination: Destination,
    pub kind: RouteKind,
    pub gateway: Option<Ipv4Addr>,
    pub dev: Option<String>,
    /// Who made it: `kernel`, `dhcp`, `static`, ... (absent for routes added by hand).
    pub protocol: Option<String>,
    pub scope: Option<String>,
    pub prefsrc: Option<Ipv4Addr>,
    pub metric: Option<u32>,
    /// The gateway is used as if on-link even though no address of `dev` covers it
    /// (flannel's VXLAN routes: `via 10.200.1.0 dev flannel.1 onlink`).
    pub onlink: bool,
    /// Multipath routes: one entry per next hop (then `gateway` and `dev` are empty).
    pub nexthops: Vec<NextHop>,
}

/// Where a route leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// `default`, i.e. `0.0.0.0/0`.
    Default,
    Net(Ipv4Net),
}

/// One next hop of a multipath route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextHop {
    pub gateway: Option<Ipv4Addr>,
    pub dev: Option<String>,
}

/// A route's type. Packets matching a blackhole, unreachable or prohibit route go nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKind {
    Unicast,
    Local,
    Broadcast,
    Blackhole,
    Unreachable,
    Prohibit,
    Other(String),
}

impl RouteKind {
    /// The kind `ip -j` names with `"type"` (absent means unicast).
    pub fn from_ip(kind: Option<&str>) -> RouteKind {
        match kind.unwrap_or("unicast") {
            "unicast" => RouteKind::Unicast,
            "local" => RouteKind::Local,
            "broadcast" => RouteKind::Broadcast,
            "blackhole" => RouteKind::Blackhole,
            "unreachable" => RouteKind::Unreachable,
            "prohibit" => RouteKind::Prohibit,
            other => RouteKind::Other(other.to_string()),
        }
    }

    /// The name `ip` uses.
    pub fn as_str(&self) -> &str {
        match self {
            RouteKind::Unicast => "unicast",
            RouteKind::Local => "local",
            RouteKind::Broadcast => "broadcast",
            RouteKind::Blackhole => "blackhole",
            RouteKind::Unreachable => "unreachable",
            RouteKind::Prohibit => "prohibit",
            RouteKind::Other(s) => s,
        }
    }

    /// True for the kinds that drop what they match.
    pub fn drops(&self) -> bool {
        matches!(self, RouteKind::Blackhole | RouteKind::Unreachable | RouteKind::Prohibit)
    }
}

impl Serialize for RouteKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Destination {
    /// Parses `default`, `10.200.1.0/24` or a host address as `ip -j` prints them.
    pub fn parse(text: &str) -> Option<Destination> {
        if text == "default" {
            return Some(Destination::Default);
        }
        if let Ok(net) = text.parse::<Ipv4Net>() {
            return Some(Destination::Net(net));
        }
        text.parse::<Ipv4Addr>().ok().map(|a| Destination::Net(Ipv4Net::from(a)))
    }

    /// True when every address of `cidr` is in this destination.
    pub fn covers(&self, cidr: Ipv4Net) -> bool {
        match self {
            Destination::Default => true,
            Destination::Net(net) => net.contains(&cidr),
        }
    }

    /// The prefix length (0 for default).
    pub fn prefix_len(&self) -> u8 {
        match self {
            Destination::Default => 0,
            Destination::Net(net) => net.prefix_len(),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Default => f.write_str("default"),
            Destination::Net(net) if net.prefix_len() == 32 => write!(f, "{}", net.addr()),
            Destination::Net(net) => write!(f, "{net}"),
        }
    }
}

impl Serialize for Destination {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Route {
    /// Like `ip route show` prints it: `10.200.1.0/24 via 10.240.0.21 dev enp0s8 onlink`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind != RouteKind::Unicast {
            write!(f, "{} ", self.kind.as_str())?;
        }
        write!(f, "{}", self.destination)?;
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        if let Some(dev) = &self.dev {
            write!(f, " dev {dev}")?;
        }
        for hop in &self.nexthops {
            f.write_str(" nexthop")?;
            if let Some(gw) = hop.gateway {
                write!(f, " via {gw}")?;
            }
            if let Some(dev) = &hop.dev {
                write!(f, " dev {dev}")?;
            }
        }
        if self.onlink {
            f.write_str(" onlink")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct RawRoute {
    #[serde(rename = "type")]
    kind: Option<String>,
    dst: String,
    gateway: Option<String>,
    dev: Option<String>,
    protocol: Option<String>,
    scope: Option<String>,
    prefsrc: Option<String>,
    metric: Option<u32>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    nexthops: Vec<RawNextHop>,
}

#[derive(Deserialize)]
struct RawNextHop {
    gateway: Option<String>,
    dev: Option<String>,
}

/// Parses an optional IPv4 address field; other families (an IPv6 `via`) count as absent.
pub(crate) fn ipv4(field: Option<&str>) -> Option<Ipv4Addr> {
    field.and_then(|a| a.parse().ok())
}

/// Parses the output of [`COMMAND`].
pub fn parse(section: &Section) -> Result<Vec<Route>, FactError> {
    let raw: Vec<RawRoute> = section.json()?;
    raw.into_iter()
        .map(|r| {
            let destination = Destination::parse(&r.dst).ok_or_else(|| {
                FactError::unexpected(
                    &section.name,
                    format!("route destination `{}` is not IPv4", r.dst),
                )
            })?;
            Ok(Route {
                destination,
                kind: RouteKind::from_ip(r.kind.as_deref()),
                gateway: ipv4(r.gateway.as_deref()),
                onlink: r.flags.iter().any(|f| f == "onlink"),
                dev: r.dev,
                protocol: r.protocol,
                scope: r.scope,
                prefsrc: ipv4(r.prefsrc.as_deref()),
                metric: r.metric,
                nexthops: r
                    .nexthops
                    .into_iter()
                    .map(|h| NextHop { gateway: ipv4(h.gateway.as_deref()), dev: h.dev })
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{fixture, section};

    fn routes(fixture_name: &str) -> Vec<Route> {
        let sections = section::by_name(section::parse_output(&fixture(fixture_name)).unwrap());
        parse(&sections[NAME]).unwrap()
    }

    fn shown(routes: &[Route]) -> Vec<String> {
        routes.iter().map(|r| r.to_string()).collect()
    }

    #[test]
    fn flannel_routes_are_onlink_via_flannel_1() {
        let routes = routes("gather-flannel-worker-0.txt");
        assert_eq!(
            shown(&routes),
            [
                "default via 10.0.2.2 dev enp0s3",
                "10.0.2.0/24 dev enp0s3",
                "10.200.0.0/24 dev cni0",
                "10.200.1.0/24 via 10.200.1.0 dev flannel.1 onlink",
                "10.200.2.0/24 via 10.200.2.0 dev flannel.1 onlink",
                "10.240.0.0/24 dev enp0s8",
            ]
        );
        assert_eq!(routes[0].protocol.as_deref(), Some("dhcp"));
        assert_eq!(routes[0].metric, Some(100));
        assert_eq!(routes[1].prefsrc, Some("10.0.2.15".parse().unwrap()));
        assert_eq!(routes[1].scope.as_deref(), Some("link"));
    }

    #[test]
    fn static_routes_via_peers() {
        let routes = routes("gather-static-worker-1.txt");
        assert!(shown(&routes).contains(&"10.200.0.0/24 via 10.240.0.20 dev enp0s8".to_string()));
        assert!(shown(&routes).contains(&"10.200.2.0/24 via 10.240.0.22 dev enp0s8".to_string()));
    }

    #[test]
    fn blackhole_unreachable_and_onlink() {
        let routes = routes("gather-untidy-worker-2.txt");
        assert_eq!(
            shown(&routes),
            [
                "10.200.0.0/24 via 10.240.0.99 dev enp0s8 onlink",
                "unreachable 10.200.8.0/24",
                "blackhole 10.200.9.0/24",
                "10.240.0.0/24 dev enp0s8",
            ]
        );
        assert!(routes[1].kind.drops() && routes[2].kind.drops() && !routes[0].kind.drops());
    }

    #[test]
    fn gce_host_route_to_the_router_is_a_slash_32() {
        let routes = routes("gather-gce-worker-0.txt");
        assert_eq!(
            shown(&routes),
            ["default via 10.240.0.1 dev ens4", "10.200.0.0/24 dev cni0", "10.240.0.1 dev ens4"]
        );
        assert_eq!(routes[2].destination, Destination::Net("10.240.0.1/32".parse().unwrap()));
    }

    #[test]
    fn multipath_and_ipv6_next_hops() {
        // Shapes from iproute2's JSON printer (ECMP default route; RFC 5549 IPv6 next hop).
        let json = r#"[{"dst":"default","flags":[],"nexthops":[{"gateway":"10.0.0.1","dev":"eth0","weight":1,"flags":[]},{"gateway":"10.0.1.1","dev":"eth1","weight":1,"flags":[]}]},
            {"dst":"10.9.0.0/16","via":{"family":"inet6","host":"fe80::1"},"dev":"eth0","flags":[]}]"#;
        let routes = parse(&Section::ran(NAME, json)).unwrap();
        assert_eq!(
            shown(&routes),
            [
                "default nexthop via 10.0.0.1 dev eth0 nexthop via 10.0.1.1 dev eth1",
                "10.9.0.0/16 dev eth0"
            ]
        );
    }

    #[test]
    fn destination_covers() {
        let d = Destination::parse("10.200.0.0/16").unwrap();
        assert!(d.covers("10.200.1.0/24".parse().unwrap()));
        assert!(!d.covers("10.0.0.0/8".parse().unwrap()));
        assert!(Destination::Default.covers("10.0.0.0/8".parse().unwrap()));
        assert_eq!(Destination::parse("ff00::/8"), None);
    }

    #[test]
    fn an_ipv6_destination_is_an_error_naming_the_section() {
        let err = parse(&Section::ran(NAME, r#"[{"dst":"fe80::/64","dev":"eth0","flags":[]}]"#))
            .unwrap_err();
        assert_eq!(err.to_string(), "fact `routes`: route destination `fe80::/64` is not IPv4");
    }
}
