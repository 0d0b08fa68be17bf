//! The probe "pod": a temporary network namespace on a node that stands in for a pod.
//!
//! Verify's data plane check needs a sender and a receiver with addresses in each node's pod
//! CIDR, reached exactly as a pod would be, whatever the variant, and without Kubernetes,
//! images or internet. A probe is, on each node:
//!
//! - a network namespace `labctl-probe-<node>-<id>`, where `<id>` is the inode of the node's own
//!   network namespace: several sandboxes (whose nodes are all called `worker-0`) share one
//!   `/run/netns`, and each sandbox node has its own network namespace;
//! - one veth pair: `lcprobe0` on the host, `eth0` in the probe;
//! - the probe address ([`probe_address`]: the last usable host of the pod CIDR, which
//!   host-local, counting up from `.2`, is the last to hand out) as a `/32` on `eth0`, with a
//!   default route via the link-local next hop `169.254.1.1` (as Calico does);
//! - a permanent neighbour entry for `169.254.1.1` with the host end's fixed MAC. Proxy ARP on
//!   the host end would answer only if the host had a route to `169.254.1.1` (a default route)
//!   and forwarding on; the static entry works on any host, so a failure always means the pod
//!   network, never the probe;
//! - on the host, a `/32` route to the probe address via `lcprobe0`, more specific than the
//!   node's own pod CIDR route (`cni0`), so other nodes reach the probe as they reach a pod.
//!
//! The scripts are POSIX sh, run as root (`sudo sh -c`). [`setup_script`] first removes what an
//! interrupted run left; [`teardown_script`] is idempotent and fails only if something remains.
//! [`check_script`] gathers the route evidence and pings every other probe, framed as sections
//! (see [`crate::facts::section`]); [`parse_check`] reads its output.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::facts::section::{self, PRELUDE, fact_line, name_with, quote};
use crate::facts::{FactError, RouteGet, Section, route_get};

/// The host end of the probe's veth (≤ 15 characters).
pub const HOST_END: &str = "lcprobe0";
/// The host end's MAC: fixed, locally administered, unicast.
pub const HOST_END_MAC: &str = "ee:ee:ee:ee:ee:ee";
/// The probe's next hop; never on the wire, resolved by the permanent neighbour entry.
pub const NEXT_HOP: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);
/// Section name prefix of a ping; the section of `ADDR` is `ping ADDR`.
pub const PING: &str = "ping";

/// The probe address of a pod CIDR: its last usable host (`10.200.0.254` for
/// `10.200.0.0/24`); the only address of a `/32`, the upper one of a `/31`.
pub fn probe_address(cidr: Ipv4Net) -> Ipv4Addr {
    match cidr.prefix_len() {
        31 | 32 => cidr.broadcast(),
        _ => Ipv4Addr::from(u32::from(cidr.broadcast()) - 1),
    }
}

/// The shell word for the probe's namespace name on `node` (computed on the host).
fn namespace_word(node: &str) -> String {
    format!(
        "{}\"$(readlink /proc/self/ns/net | tr -cd 0-9)\"",
        quote(&format!("labctl-probe-{node}-"))
    )
}

/// Shell lines that remove every probe of this host: the veth (which takes the `/32` route
/// with it) and every probe namespace made from this host's network namespace.
const REMOVE: &str = r#"ip link del lcprobe0 2>/dev/null || true
for f in /run/netns/labctl-probe-*-"$id"; do
  if [ -e "$f" ]; then ip netns del "${f##*/}"; fi
done
"#;

/// The script that sets up the probe of `node` with `address` (run as root).
pub fn setup_script(node: &str, address: Ipv4Addr) -> String {
    format!(
        r#"set -e
id=$(readlink /proc/self/ns/net | tr -cd 0-9)
ns={prefix}"$id"
{REMOVE}ip netns add "$ns"
ip link add {HOST_END} address {HOST_END_MAC} type veth peer name eth0 netns "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" addr add {address}/32 dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" route add {NEXT_HOP} dev eth0 scope link
ip -n "$ns" route add default via {NEXT_HOP} dev eth0
ip -n "$ns" neigh replace {NEXT_HOP} lladdr {HOST_END_MAC} dev eth0 nud permanent
ip link set {HOST_END} up
ip route replace {address}/32 dev {HOST_END} scope link
"#,
        prefix = quote(&format!("labctl-probe-{node}-")),
    )
}

/// The script that removes the probe of this host (run as root; idempotent). It exits 1 with a
/// message naming what is left when something could not be removed.
pub fn teardown_script() -> String {
    format!(
        r#"id=$(readlink /proc/self/ns/net | tr -cd 0-9)
{REMOVE}left=
if ip link show {HOST_END} >/dev/null 2>&1; then left="$left link {HOST_END}"; fi
for f in /run/netns/labctl-probe-*-"$id"; do
  if [ -e "$f" ]; then left="$left namespace ${{f##*/}}"; fi
done
if [ -n "$left" ]; then echo "probe not removed:$left" >&2; exit 1; fi
"#
    )
}

/// The command that pings `target` `count` times from the probe of `node` (run as root).
pub fn ping_command(node: &str, target: Ipv4Addr, count: u32) -> String {
    format!("ip netns exec {} ping -c {count} -i 0.05 -W 1 -q {target}", namespace_word(node))
}

/// The section name of a ping to `target`.
pub fn ping_section_name(target: Ipv4Addr) -> String {
    name_with(PING, target)
}

/// The script run on `node` after every probe is set up: `ip route get` for each of
/// `targets` (the other nodes' probe addresses), then, when `ping_count` is given, a ping from
/// this node's probe to each. Route gets need no root; pings do.
pub fn check_script(node: &str, targets: &[Ipv4Addr], ping_count: Option<u32>) -> String {
    let mut script = String::from(PRELUDE);
    for target in targets {
        script.push_str(&route_get::script_line(*target));
    }
    if let Some(count) = ping_count {
        for target in targets {
            script.push_str(&fact_line(
                &ping_section_name(*target),
                &ping_command(node, *target, count),
            ));
        }
    }
    script.push_str("exit 0\n");
    script
}

/// What one node's [`check_script`] found, by destination.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CheckOutput {
    pub route_gets: BTreeMap<Ipv4Addr, RouteGet>,
    pub pings: BTreeMap<Ipv4Addr, PingOutcome>,
}

/// How a ping went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum PingOutcome {
    /// ping ran and printed its statistics.
    Summary { transmitted: u32, received: u32 },
    /// ping (or `ip netns exec`) could not send at all: its message.
    Failed { message: String },
}

impl PingOutcome {
    /// True when at least one reply came back.
    pub fn passed(&self) -> bool {
        matches!(self, PingOutcome::Summary { received, .. } if *received > 0)
    }
}

impl std::fmt::Display for PingOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PingOutcome::Summary { transmitted, received } => {
                write!(f, "{received} of {transmitted} pings answered")
            }
            PingOutcome::Failed { message } => f.write_str(message),
        }
    }
}

/// Parses a ping section: iputils' `3 packets transmitted, 3 received, ...` or busybox's
/// `3 packets transmitted, 3 packets received, ...`; without it, the error ping printed.
pub fn parse_ping(section: &Section) -> PingOutcome {
    let summary = section.stdout.lines().find_map(|line| {
        let (sent, rest) = line.split_once(" packets transmitted, ")?;
        let received = rest.split(' ').next()?;
        Some(PingOutcome::Summary {
            transmitted: sent.trim().parse().ok()?,
            received: received.parse().ok()?,
        })
    });
    summary.unwrap_or_else(|| {
        let text = if section.stderr.trim().is_empty() { &section.stdout } else { &section.stderr };
        let message = text.trim().lines().last().unwrap_or_default().trim();
        PingOutcome::Failed {
            message: if message.is_empty() {
                format!("ping exited with code {}", section.code)
            } else {
                message.into()
            },
        }
    })
}

/// Parses the output of [`check_script`].
pub fn parse_check(output: &str) -> Result<CheckOutput, FactError> {
    let mut found = CheckOutput::default();
    for s in section::parse_output(output)? {
        let (kind, arg) = s.name.split_once(' ').unwrap_or((&s.name, ""));
        let target = || -> Result<Ipv4Addr, FactError> {
            arg.parse().map_err(|_| {
                FactError::unexpected(&s.name, "the destination is not an IPv4 address")
            })
        };
        match kind {
            route_get::NAME => {
                found.route_gets.insert(target()?, route_get::parse(&s)?);
            }
            PING => {
                found.pings.insert(target()?, parse_ping(&s));
            }
            _ => return Err(FactError::unexpected(&s.name, "not a section of the check script")),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::fixture;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn probe_address_is_the_last_usable_host() {
        assert_eq!(probe_address(net("10.200.0.0/24")).to_string(), "10.200.0.254");
        assert_eq!(probe_address(net("10.200.0.1/24")).to_string(), "10.200.0.254");
        assert_eq!(probe_address(net("10.244.0.0/16")).to_string(), "10.244.255.254");
        assert_eq!(probe_address(net("10.200.0.4/30")).to_string(), "10.200.0.6");
        assert_eq!(probe_address(net("10.200.0.4/31")).to_string(), "10.200.0.5");
        assert_eq!(probe_address(net("10.200.0.4/32")).to_string(), "10.200.0.4");
    }

    #[test]
    fn setup_script_removes_leftovers_first() {
        let s = setup_script("worker-0", "10.200.0.254".parse().unwrap());
        let remove = s.find("ip link del lcprobe0").unwrap();
        let add = s.find("ip netns add").unwrap();
        assert!(remove < add);
        assert!(s.contains("ns=labctl-probe-worker-0-\"$id\"\n"));
        assert!(s.contains("ip -n \"$ns\" addr add 10.200.0.254/32 dev eth0\n"));
        assert!(s.contains("ip route replace 10.200.0.254/32 dev lcprobe0 scope link\n"));
        assert!(s.starts_with("set -e\n"));
    }

    #[test]
    fn node_names_are_quoted() {
        let s = setup_script("it's", "10.200.0.254".parse().unwrap());
        assert!(s.contains("ns=\"labctl-probe-it's-\"\"$id\"\n"), "{s}");
        assert_eq!(
            ping_command("worker-0", "10.200.1.254".parse().unwrap(), 2),
            "ip netns exec labctl-probe-worker-0-\"$(readlink /proc/self/ns/net | tr -cd 0-9)\" ping -c 2 -i 0.05 -W 1 -q 10.200.1.254"
        );
    }

    #[test]
    fn check_script_route_gets_then_pings() {
        let targets = ["10.200.1.254".parse().unwrap(), "10.200.2.254".parse().unwrap()];
        let s = check_script("worker-0", &targets, Some(2));
        let lines: Vec<&str> = s.lines().filter(|l| l.starts_with("fact '")).collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("fact 'route_get 10.200.1.254' ip -j route get 10.200.1.254"));
        assert!(lines[3].starts_with("fact 'ping 10.200.2.254' ip netns exec "));
        assert!(!check_script("worker-0", &targets, None).contains("ping"));
    }

    fn ping(stdout: &str, stderr: &str, code: i32) -> PingOutcome {
        parse_ping(&Section {
            code,
            stderr: stderr.into(),
            ..Section::ran("ping 10.200.1.254", stdout)
        })
    }

    #[test]
    fn ping_summaries() {
        let ok = ping(&fixture("ping-ok.txt"), "", 0);
        assert_eq!(ok, PingOutcome::Summary { transmitted: 3, received: 3 });
        assert!(ok.passed());
        let lost = ping(&fixture("ping-lost.txt"), "", 1);
        assert_eq!(lost, PingOutcome::Summary { transmitted: 3, received: 0 });
        assert!(!lost.passed());
        let errors = ping(&fixture("ping-errors.txt"), "", 1);
        assert_eq!(errors.to_string(), "0 of 5 pings answered");
        let busybox = ping("3 packets transmitted, 2 packets received, 33% packet loss\n", "", 0);
        assert_eq!(busybox, PingOutcome::Summary { transmitted: 3, received: 2 });
    }

    #[test]
    fn ping_failures_keep_the_message() {
        let unreachable = ping("", &fixture("ping-unreachable.txt"), 2);
        assert_eq!(
            unreachable,
            PingOutcome::Failed { message: "ping: connect: Network is unreachable".into() }
        );
        let no_ns = ping(
            "",
            "Cannot open network namespace \"labctl-probe-worker-0-1\": No such file or directory\n",
            1,
        );
        assert_eq!(
            no_ns.to_string(),
            "Cannot open network namespace \"labctl-probe-worker-0-1\": No such file or directory"
        );
        assert_eq!(ping("", "", 1).to_string(), "ping exited with code 1");
    }

    #[test]
    fn check_output_before_and_after_the_routes() {
        let dest: Ipv4Addr = "10.200.1.254".parse().unwrap();
        let before = parse_check(&fixture("check-before-routes.txt")).unwrap();
        assert_eq!(
            before.route_gets[&dest],
            RouteGet::NoPath { message: "RTNETLINK answers: Network is unreachable".into() }
        );
        assert_eq!(before.pings[&dest], PingOutcome::Summary { transmitted: 2, received: 0 });
        let after = parse_check(&fixture("check-after-routes.txt")).unwrap();
        assert_eq!(
            after.route_gets[&dest].to_string(),
            "10.200.1.254 via 10.240.0.21 dev lab0 src 10.240.0.20"
        );
        assert!(after.pings[&dest].passed());
    }

    #[test]
    fn check_output_with_a_foreign_section_is_an_error() {
        let out = "::labctl:: begin routes\n[]\n::labctl:: rc 0\n::labctl:: end\n";
        assert_eq!(
            parse_check(out).unwrap_err().to_string(),
            "fact `routes`: not a section of the check script"
        );
    }

    #[test]
    fn teardown_reports_leftovers() {
        let s = teardown_script();
        assert!(s.contains("echo \"probe not removed:$left\" >&2; exit 1"));
        assert!(s.contains("${f##*/}"));
    }
}
