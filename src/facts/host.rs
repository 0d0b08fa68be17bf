//! All facts of one host, gathered in one SSH round trip.
//!
//! [`gather_script`] is one POSIX sh script that prints every fact's output as a section (see
//! [`super::section`]). It is read-only, needs no sudo (`ip` shows, `/proc` and the files it
//! reads are world-readable), and tolerates what may be missing: no `flannel.1`, no
//! `subnet.env`, no `/etc/cni/net.d`. [`parse`] turns its output into [`HostFacts`].
//!
//! The runner runs the script with `sh -c` (the login shell may not be POSIX) and gives the
//! whole stdout to [`parse`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::routes::Destination;
use super::section::{self, PRELUDE, fact_line, file_fact_line};
use super::{
    CniConfig, FactError, Link, ProbeClaim, Route, RouteGet, Section, addresses, cni_config,
    ip_forward, probe_claim, route_get, routes,
};

/// Everything labctl knows about one host's network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostFacts {
    /// Interfaces and their IPv4 addresses.
    pub links: Vec<Link>,
    /// The main routing table.
    pub routes: Vec<Route>,
    /// `net.ipv4.ip_forward`.
    pub ip_forward: bool,
    /// `/etc/cni/net.d`, in name order.
    pub cni_configs: Vec<CniConfig>,
    /// The facts a chapter's own Rust gathered with these, by name, as it keeps them.
    pub extra: BTreeMap<String, serde_json::Value>,
    /// `ip route get` answers for the destinations the script was asked about.
    pub route_gets: BTreeMap<Ipv4Addr, RouteGet>,
    /// verify's probe claims on this host (its own network namespace's).
    pub probe_claims: Vec<ProbeClaim>,
}

/// A fact that a chapter's own Rust gathers in the same round trip as the core's.
#[derive(Debug)]
pub struct ExtraFact {
    /// Its name in [`HostFacts::extra`].
    pub name: &'static str,
    /// Its lines of the gather script (read-only, one section each: [`fact_line`],
    /// [`file_fact_line`]).
    pub script: fn() -> String,
    /// Reads it from the output's sections, by name ([`section::named`]).
    pub parse: fn(&BTreeMap<String, Section>) -> Result<serde_json::Value, FactError>,
}

/// The gather script: every fact and `extra`, plus `ip route get` for each of `route_targets`.
pub fn gather_script(route_targets: &[Ipv4Addr], extra: &[&ExtraFact]) -> String {
    // The first line names the script where `-v` shows only that line.
    let mut script = String::from("# labctl: read this host's network facts (read-only)\n");
    script.push_str(PRELUDE);
    script.push_str(&fact_line(addresses::NAME, addresses::COMMAND));
    script.push_str(&fact_line(routes::NAME, routes::COMMAND));
    script.push_str(&file_fact_line(ip_forward::NAME, ip_forward::PATH));
    for fact in extra {
        script.push_str(&(fact.script)());
    }
    script.push_str(cni_config::SCRIPT);
    script.push_str(probe_claim::SCRIPT);
    for target in route_targets {
        script.push_str(&route_get::script_line(*target));
    }
    // The script's exit code is not a fact: `[ -e ]` of the last glob may be false.
    script.push_str("exit 0\n");
    script
}

/// Parses the output of [`gather_script`] made with the same `extra`.
pub fn parse(output: &str, extra: &[&ExtraFact]) -> Result<HostFacts, FactError> {
    let sections = section::parse_output(output)?;
    let mut cni_configs = Vec::new();
    let mut route_gets = BTreeMap::new();
    let mut probe_claims = Vec::new();
    for s in &sections {
        if s.name.starts_with(probe_claim::NAME) {
            probe_claims.extend(probe_claim::parse(s)?);
        } else if cni_config::path_of(&s.name).is_some() {
            cni_configs.push(cni_config::parse(s)?);
        } else if let Some(target) = s.name.strip_prefix("route_get ") {
            let target = target.parse().map_err(|_| {
                FactError::unexpected(&s.name, "the destination is not an IPv4 address")
            })?;
            route_gets.insert(target, route_get::parse(s)?);
        }
    }
    let named = section::by_name(sections);
    let get = |name: &str| section::named(&named, name);
    Ok(HostFacts {
        links: addresses::parse(get(addresses::NAME)?)?,
        routes: routes::parse(get(routes::NAME)?)?,
        ip_forward: ip_forward::parse(get(ip_forward::NAME)?)?,
        extra: extra
            .iter()
            .map(|fact| Ok((fact.name.to_string(), (fact.parse)(&named)?)))
            .collect::<Result<_, FactError>>()?,
        cni_configs,
        route_gets,
        probe_claims,
    })
}

impl HostFacts {
    /// The interface that holds `address`.
    pub fn address_owner(&self, address: Ipv4Addr) -> Option<&Link> {
        self.links.iter().find(|l| l.holds(address))
    }

    /// The interface called `name`.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The most specific route other than the default route whose destination covers all of
    /// `cidr`, whatever its kind (a blackhole route counts: it is what decides).
    pub fn has_route_to(&self, cidr: Ipv4Net) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.destination != Destination::Default && r.destination.covers(cidr))
            .max_by_key(|r| (r.destination.prefix_len(), std::cmp::Reverse(r.metric.unwrap_or(0))))
    }

    /// The default route with the lowest metric.
    pub fn default_route(&self) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.destination == Destination::Default)
            .min_by_key(|r| r.metric.unwrap_or(0))
    }

    /// Every IPv4 address that can identify a host (no loopback, no link-local).
    pub fn routable_addresses(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.links
            .iter()
            .flat_map(|l| l.addresses.iter())
            .filter(|a| a.is_routable())
            .map(|a| a.address)
    }

    /// The `ip route get` answer for `destination`, if the script asked.
    pub fn route_get(&self, destination: Ipv4Addr) -> Option<&RouteGet> {
        self.route_gets.get(&destination)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::fixture;

    fn facts(name: &str) -> HostFacts {
        parse(&fixture(name), &[]).unwrap()
    }

    #[test]
    fn the_script_gathers_every_fact_and_only_reads() {
        let script = gather_script(&["10.200.1.254".parse().unwrap()], &[]);
        for needle in [
            "fact addresses ip -j addr show\n",
            "fact routes ip -j route show\n",
            "file_fact ip_forward /proc/sys/net/ipv4/ip_forward\n",
            "for f in /etc/cni/net.d/*; do\n",
            "fact 'route_get 10.200.1.254' ip -j route get 10.200.1.254\n",
        ] {
            assert!(script.contains(needle), "{needle}");
        }
        for word in ["sudo", " add ", " del ", " replace ", "rm ", "mkdir", ">/", "> /"] {
            assert!(!script.contains(word), "the gather script must only read: `{word}`");
        }
    }

    #[test]
    fn flannel_worker() {
        let f = facts("gather-flannel-worker-0.txt");
        assert!(f.ip_forward);
        assert_eq!(f.address_owner("10.240.0.20".parse().unwrap()).unwrap().name, "enp0s8");
        assert_eq!(f.address_owner("10.0.2.15".parse().unwrap()).unwrap().name, "enp0s3");
        assert_eq!(f.address_owner("10.9.9.9".parse().unwrap()), None);
        let r = f.has_route_to("10.200.1.0/24".parse().unwrap()).unwrap();
        assert_eq!(r.to_string(), "10.200.1.0/24 via 10.200.1.0 dev flannel.1 onlink");
        assert_eq!(f.has_route_to("10.200.7.0/24".parse().unwrap()), None);
        assert_eq!(f.default_route().unwrap().gateway, Some("10.0.2.2".parse().unwrap()));
        assert_eq!(f.cni_configs[0].plugin_types, ["flannel", "portmap"]);
        assert!(f.route_gets.is_empty());
        let mut addrs: Vec<String> = f.routable_addresses().map(|a| a.to_string()).collect();
        addrs.sort();
        assert_eq!(addrs, ["10.0.2.15", "10.200.0.0", "10.200.0.1", "10.240.0.20"]);
    }

    #[test]
    fn untidy_worker() {
        let f = facts("gather-untidy-worker-2.txt");
        assert!(!f.ip_forward);
        assert_eq!(f.default_route(), None);
        assert!(f.has_route_to("10.200.9.0/24".parse().unwrap()).unwrap().kind.drops());
        assert_eq!(f.cni_configs.len(), 2);
    }

    #[test]
    fn gce_worker() {
        let f = facts("gather-gce-worker-0.txt");
        let default = f.default_route().unwrap();
        assert_eq!(
            (default.gateway, default.dev.as_deref()),
            (Some("10.240.0.1".parse().unwrap()), Some("ens4"))
        );
        assert!(f.cni_configs.is_empty());
    }

    #[test]
    fn route_gets_are_collected_by_destination() {
        let mut out = fixture("gather-static-worker-1.txt");
        out.push_str(&fixture("route-get-static-worker-1.txt"));
        let f = parse(&out, &[]).unwrap();
        let got = f.route_get("10.200.0.254".parse().unwrap()).unwrap();
        assert_eq!(got.to_string(), "10.200.0.254 via 10.240.0.20 dev enp0s8 src 10.240.0.21");
        assert_eq!(f.route_gets.len(), 2);
    }

    #[test]
    fn the_most_specific_route_wins() {
        let mut f = facts("gather-static-worker-1.txt");
        f.routes.extend(
            routes::parse(&Section::ran(
                "routes",
                r#"[{"dst":"10.200.0.0/16","dev":"flannel.1","flags":[]}]"#,
            ))
            .unwrap(),
        );
        let r = f.has_route_to("10.200.0.0/24".parse().unwrap()).unwrap();
        assert_eq!(r.to_string(), "10.200.0.0/24 via 10.240.0.20 dev enp0s8");
        let r = f.has_route_to("10.200.7.0/24".parse().unwrap()).unwrap();
        assert_eq!(r.to_string(), "10.200.0.0/16 dev flannel.1");
    }

    #[test]
    fn a_missing_section_is_named() {
        let out = fixture("gather-static-worker-1.txt")
            .replace("begin ip_forward", "begin ip_forwarding");
        assert_eq!(
            parse(&out, &[]).unwrap_err().to_string(),
            "fact `ip_forward`: missing from the host's output"
        );
    }

    #[test]
    fn a_bad_section_is_named() {
        let out = fixture("gather-static-worker-1.txt")
            .replace("\"dst\":\"10.200.0.0/24\"", "\"dst\":\"banana\"");
        assert_eq!(
            parse(&out, &[]).unwrap_err().to_string(),
            "fact `routes`: route destination `banana` is not IPv4"
        );
    }
}
