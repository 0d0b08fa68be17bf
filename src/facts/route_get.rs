//! Fact `route_get ADDR`: the path the kernel picks for one destination (`ip route get`).
//!
//! This is verify's route evidence: it consults every routing table and policy rule, so it
//! answers "where would a packet to this pod go?" exactly as the kernel would. When there is no
//! path, `ip` says why on stderr (`RTNETLINK answers: Network is unreachable`), which is
//! evidence too.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::routes::{RouteKind, ipv4};
use super::section::{fact_line, name_with};
use super::{FactError, Section};

/// Section name prefix; the section of `ADDR` is `route_get ADDR`.
pub const NAME: &str = "route_get";

/// The command for one destination.
pub fn command(destination: Ipv4Addr) -> String {
    format!("ip -j route get {destination}")
}

/// The section name for one destination.
pub fn section_name(destination: Ipv4Addr) -> String {
    name_with(NAME, destination)
}

/// The script line (for a script built on [`super::section::PRELUDE`]) that gathers it.
pub fn script_line(destination: Ipv4Addr) -> String {
    fact_line(&section_name(destination), &command(destination))
}

/// The kernel's answer for one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum RouteGet {
    /// A path was found.
    Path(RoutePath),
    /// No path: the message `ip` printed, e.g. `RTNETLINK answers: Network is unreachable`
    /// (no route), `No route to host` (an unreachable route), `Invalid argument` (blackhole).
    NoPath { message: String },
}

/// The path the kernel picks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutePath {
    pub destination: Ipv4Addr,
    /// `unicast` for a path out of the host, `local` for one of its own addresses.
    pub kind: RouteKind,
    pub gateway: Option<Ipv4Addr>,
    pub dev: Option<String>,
    /// The source address the host would use.
    pub prefsrc: Option<Ipv4Addr>,
}

impl RouteGet {
    /// The path, when there is one.
    pub fn path(&self) -> Option<&RoutePath> {
        match self {
            RouteGet::Path(p) => Some(p),
            RouteGet::NoPath { .. } => None,
        }
    }
}

impl fmt::Display for RoutePath {
    /// Like `ip route get` prints it: `10.200.1.254 via 10.240.0.21 dev enp0s8 src 10.240.0.20`.
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
        if let Some(src) = self.prefsrc {
            write!(f, " src {src}")?;
        }
        Ok(())
    }
}

impl fmt::Display for RouteGet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteGet::Path(p) => p.fmt(f),
            RouteGet::NoPath { message } => f.write_str(message),
        }
    }
}

#[derive(Deserialize)]
struct RawPath {
    #[serde(rename = "type")]
    kind: Option<String>,
    dst: String,
    gateway: Option<String>,
    dev: Option<String>,
    prefsrc: Option<String>,
}

/// Parses the section of [`command`].
pub fn parse(section: &Section) -> Result<RouteGet, FactError> {
    if section.code != 0 && !section.absent {
        let message = section.stderr.trim();
        if message.starts_with("RTNETLINK answers:") {
            return Ok(RouteGet::NoPath { message: message.to_string() });
        }
    }
    let raw: Vec<RawPath> = section.json()?;
    let [path] = <[RawPath; 1]>::try_from(raw).map_err(|raw| {
        FactError::unexpected(&section.name, format!("expected one path, got {}", raw.len()))
    })?;
    let destination = path.dst.parse().map_err(|_| {
        FactError::unexpected(&section.name, format!("destination `{}` is not IPv4", path.dst))
    })?;
    Ok(RouteGet::Path(RoutePath {
        destination,
        kind: RouteKind::from_ip(path.kind.as_deref()),
        gateway: ipv4(path.gateway.as_deref()),
        dev: path.dev,
        prefsrc: ipv4(path.prefsrc.as_deref()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{fixture, section};

    fn answers(fixture_name: &str) -> Vec<String> {
        section::parse_output(&fixture(fixture_name))
            .unwrap()
            .iter()
            .map(|s| format!("{}: {}", s.name, parse(s).unwrap()))
            .collect()
    }

    #[test]
    fn via_flannel_via_the_default_route_and_local() {
        assert_eq!(
            answers("route-get-flannel-worker-0.txt"),
            [
                "route_get 10.200.1.254: 10.200.1.254 via 10.200.1.0 dev flannel.1 src 10.200.0.0",
                "route_get 10.200.5.254: 10.200.5.254 via 10.0.2.2 dev enp0s3 src 10.0.2.15",
                "route_get 10.200.0.1: local 10.200.0.1 dev lo src 10.200.0.1",
            ]
        );
    }

    #[test]
    fn via_peers() {
        assert_eq!(
            answers("route-get-static-worker-1.txt"),
            [
                "route_get 10.200.0.254: 10.200.0.254 via 10.240.0.20 dev enp0s8 src 10.240.0.21",
                "route_get 10.200.2.254: 10.200.2.254 via 10.240.0.22 dev enp0s8 src 10.240.0.21",
            ]
        );
    }

    #[test]
    fn via_the_vpc_router() {
        assert_eq!(
            answers("route-get-gce-worker-0.txt"),
            ["route_get 10.200.1.254: 10.200.1.254 via 10.240.0.1 dev ens4 src 10.240.0.20"]
        );
    }

    #[test]
    fn blackhole_unreachable_no_route_onlink() {
        let sections = section::parse_output(&fixture("route-get-untidy-worker-2.txt")).unwrap();
        let got: Vec<RouteGet> = sections.iter().map(|s| parse(s).unwrap()).collect();
        let no_path = |m: &str| RouteGet::NoPath { message: m.into() };
        assert_eq!(got[0], no_path("RTNETLINK answers: Invalid argument"));
        assert_eq!(got[1], no_path("RTNETLINK answers: No route to host"));
        assert_eq!(got[2], no_path("RTNETLINK answers: Network is unreachable"));
        assert_eq!(got[3].to_string(), "10.200.0.254 via 10.240.0.99 dev enp0s8 src 10.240.0.22");
    }

    #[test]
    fn other_failures_are_errors_naming_the_section() {
        let s = Section {
            code: 1,
            stderr: "Error: any valid prefix is expected rather than \"x\".\n".into(),
            ..Section::ran("route_get x", "")
        };
        assert_eq!(
            parse(&s).unwrap_err().to_string(),
            "fact `route_get x`: the command failed with exit code 1: Error: any valid prefix is expected rather than \"x\"."
        );
    }

    #[test]
    fn script_line_quotes_the_section_name() {
        assert_eq!(
            script_line("10.200.1.254".parse().unwrap()),
            "fact 'route_get 10.200.1.254' ip -j route get 10.200.1.254\n"
        );
    }
}
