//! The probe "pod": a temporary network namespace on a node that stands in for a pod.
//!
//! Verify's data plane check needs a sender and a receiver with addresses in each node's real
//! pod subnet, reached exactly as a pod would be, whatever the variant, and without Kubernetes,
//! images or internet. Several verifies may run on one lab at once (a student checking while an
//! instructor grades), so everything a probe makes carries its run's id (`RUN`, 8 hex digits,
//! new for every verify) and the inode of the node's network namespace (`ID`: hosts sharing one
//! `/run` keep theirs apart). A probe is, on each node:
//!
//! - a claim `/run/labctl/probes/RUN-ID.probe` (owner, time, names, address), written before
//!   anything else and removed last, so that whatever is left has a claim naming its owner;
//! - an address claim, the directory `/run/labctl/probes/ADDRESS-ID.addr`: `mkdir` is atomic,
//!   so two verifies on one node never take the same address;
//! - a network namespace `labctl-probe-RUN-ID` with `eth0`, the peer of the host's `lcpRUN`;
//! - where the node has its pods' bridge (`cni0`) with an address in the pod subnet, the host
//!   end joins that bridge and the probe gets an address of the subnet (the highest free one:
//!   host-local hands out from the bottom, and its lease files are skipped) with the bridge's
//!   address as its default gateway and the pods' MTU: exactly where a real pod sits;
//! - on a node without that bridge, the probe address as a `/32` with a default route via the
//!   link-local next hop `169.254.1.1` (as Calico does) resolved by a permanent neighbour entry,
//!   and a `/32` route on the host via `lcpRUN`.
//!
//! The probe's MAC is derived from its address (`0a:58:` and the four octets, as the CNI
//! bridge plugin once did), so the next probe at an address answers to the neighbour entries the
//! last one left in other hosts' caches.
//!
//! The scripts are POSIX sh, run as root (`sudo sh -c`). [`setup_script`] first removes the
//! leftovers it is told about (probes whose labctl is gone, see [`crate::verify::owner`]), then makes
//! the probe and prints its address and the live pods it found; [`teardown_script`] removes one
//! run's probe, is idempotent, and fails only if something remains. [`check_script`] gathers
//! the route evidence and pings every other probe (also at the pods' MTU with DF set) and one
//! real pod of each node, framed as sections (see [`crate::facts::section`]);
//! [`parse_check`] reads its output.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::facts::section::{self, PRELUDE, fact_line, name_with, quote};
use crate::facts::{FactError, RouteGet, Section, route_get};

/// The probe's next hop without a bridge; never on the wire, resolved by a neighbour entry.
pub const NEXT_HOP: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);
/// Section name prefix of a ping; the section of `ADDR` is `ping ADDR`.
pub const PING: &str = "ping";
/// Section name prefix of a ping with DF set at the pods' MTU.
pub const PING_MTU: &str = "ping_mtu";
/// Section name of the firewall rules.
pub const FIREWALL: &str = "iptables";
/// How many addresses from the top of the subnet a probe may take.
pub const CANDIDATES: u32 = 16;
/// How many leases setup looks at when it looks for a live pod.
const POD_CANDIDATES: usize = 8;

/// A new run id: 8 hex digits, unlike every other verify's.
pub fn new_run_id() -> String {
    format!("{:08x}", crate::connector::stop::unique_number() as u32)
}

/// The host end of run `run`'s probe (≤ 15 characters).
pub fn host_end(run: &str) -> String {
    format!("lcp{run}")
}

/// The shell word of run `run`'s probe namespace (its `ID` is computed on the host).
fn namespace_word(run: &str) -> String {
    format!(
        "{}\"$(readlink /proc/self/ns/net | tr -cd 0-9)\"",
        quote(&format!("labctl-probe-{run}-"))
    )
}

/// The addresses a probe in `cidr` may take, best first: from the last usable host down,
/// without `taken` (the node's own addresses).
pub fn candidates(cidr: Ipv4Net, taken: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
    let top = u32::from(probe_address(cidr));
    let bottom = match cidr.prefix_len() {
        31 | 32 => u32::from(cidr.network()),
        _ => u32::from(cidr.network()) + 1,
    };
    (0..CANDIDATES)
        .filter_map(|i| top.checked_sub(i))
        .filter(|a| *a >= bottom)
        .map(Ipv4Addr::from)
        .filter(|a| !taken.contains(a))
        .collect()
}

/// The probe address of a pod CIDR: its last usable host (`10.200.0.254` for
/// `10.200.0.0/24`); the only address of a `/32`, the upper one of a `/31`.
pub fn probe_address(cidr: Ipv4Net) -> Ipv4Addr {
    match cidr.prefix_len() {
        31 | 32 => cidr.broadcast(),
        _ => Ipv4Addr::from(u32::from(cidr.broadcast()) - 1),
    }
}

/// Where the probe is plugged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Attach {
    /// On the pods' bridge, with the bridge's address as gateway.
    Bridge { name: String, gateway: Ipv4Addr },
    /// Straight on the host (no bridge in the pod subnet).
    Direct,
}

/// What one node's probe is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupSpec<'a> {
    pub run: &'a str,
    /// `MACHINE:PID:START` (see [`crate::verify::owner`]).
    pub owner: &'a str,
    pub cidr: Ipv4Net,
    pub candidates: &'a [Ipv4Addr],
    pub attach: &'a Attach,
    pub mtu: Option<u32>,
    /// host-local's lease directory of the pod network.
    pub leases: Option<&'a str>,
    /// Runs whose probes are leftovers to remove first.
    pub stale: &'a [String],
}

/// Shell function `remove_probe RUN`: removes that run's probe on this host, idempotent.
const REMOVE: &str = r#"id=$(readlink /proc/self/ns/net | tr -cd 0-9)
claims=/run/labctl/probes
remove_probe() {
  a=$(sed -n 's/^address=//p' "$claims/$1-$id.probe" 2>/dev/null || true)
  ip link del "lcp$1" 2>/dev/null || true
  if [ -e "/run/netns/labctl-probe-$1-$id" ]; then ip netns del "labctl-probe-$1-$id" || true; fi
  if [ -n "$a" ]; then
    ip route del "$a/32" dev "lcp$1" 2>/dev/null || true
    rmdir "$claims/$a-$id.addr" 2>/dev/null || true
  fi
  rm -f "$claims/$1-$id.probe"
}
"#;

/// The script that sets up a probe (run as root). It prints `address=ADDRESS` and a line
/// `pod=ADDRESS` for each live pod it found (a lease whose address answers the host).
pub fn setup_script(spec: &SetupSpec) -> String {
    // The first line names the script where `-v` shows only that line.
    let mut s = String::from("# labctl verify: set up this node's probe pod\nset -e\n");
    s.push_str(REMOVE);
    for run in spec.stale {
        s.push_str(&format!("remove_probe {}\n", quote(run)));
    }
    let run = quote(spec.run);
    let candidates: Vec<String> = spec.candidates.iter().map(|a| a.to_string()).collect();
    let leases = spec.leases.map(quote).unwrap_or_default();
    s.push_str(&format!(
        r#"run={run}
ns="labctl-probe-$run-$id"
link="lcp$run"
# Another verify's teardown removes the directory when it is empty: once the claim is in
# it, it stays; until then, try again.
tries=0
until mkdir -p "$claims" && printf 'owner=%s\ncreated=%s\nnetns=%s\nlink=%s\n' {owner} "$(date +%s)" "$ns" "$link" 2>/dev/null >"$claims/$run-$id.probe"; do
  tries=$((tries+1)); [ "$tries" -lt 5 ] || {{ echo "cannot write the probe's claim in $claims" >&2; exit 1; }}
done
leases={leases}
addr=
for a in {candidates}; do
  if [ -n "$leases" ] && [ -e "$leases/$a" ]; then continue; fi
  if mkdir "$claims/$a-$id.addr" 2>/dev/null; then addr=$a; break; fi
done
if [ -z "$addr" ]; then echo "no free address for a probe at the top of {cidr}" >&2; exit 1; fi
printf 'address=%s\n' "$addr" >>"$claims/$run-$id.probe"
mac=$(echo "$addr" | awk -F. '{{printf "0a:58:%02x:%02x:%02x:%02x", $1, $2, $3, $4}}')
ip netns add "$ns"
ip link add "$link" type veth peer name eth0 netns "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link set eth0 address "$mac"
"#,
        owner = quote(spec.owner),
        candidates = candidates.join(" "),
        cidr = spec.cidr,
    ));
    if let Some(mtu) = spec.mtu {
        s.push_str(&format!(
            "ip link set \"$link\" mtu {mtu}\nip -n \"$ns\" link set eth0 mtu {mtu}\n"
        ));
    }
    match spec.attach {
        Attach::Bridge { name, gateway } => s.push_str(&format!(
            r#"ip link set "$link" master {bridge}
ip link set "$link" up
ip -n "$ns" addr add "$addr/{prefix}" dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" route add default via {gateway}
ip neigh del "$addr" dev {bridge} 2>/dev/null || true
"#,
            bridge = quote(name),
            prefix = spec.cidr.prefix_len(),
        )),
        Attach::Direct => s.push_str(&format!(
            r#"ip link set "$link" up
ip -n "$ns" addr add "$addr/32" dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" route add {NEXT_HOP} dev eth0 scope link
ip -n "$ns" route add default via {NEXT_HOP} dev eth0
ip -n "$ns" neigh replace {NEXT_HOP} lladdr "$(ip -br link show "$link" | awk '{{print $3}}')" dev eth0 nud permanent
ip route replace "$addr/32" dev "$link" scope link
"#
        )),
    }
    s.push_str("printf 'address=%s\\n' \"$addr\"\n");
    if spec.leases.is_some() {
        // A lease may outlive its pod: a pod counts when it answers the host.
        s.push_str(&format!(
            r#"n=0
for f in "$leases"/*; do
  p=${{f##*/}}
  case "$p" in *[!0-9.]*|'') continue;; esac
  [ "$p" = "$addr" ] && continue
  n=$((n+1)); [ "$n" -le {POD_CANDIDATES} ] || break
  (ping -c 1 -W 1 -q "$p" >/dev/null 2>&1 && printf 'pod=%s\n' "$p") &
done
wait
"#
        ));
    }
    s
}

/// What setup made: the probe's address and the live pods it found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SetupOutput {
    pub address: Option<Ipv4Addr>,
    pub pods: Vec<Ipv4Addr>,
}

/// Parses the output of [`setup_script`].
pub fn parse_setup(output: &str) -> SetupOutput {
    let mut found = SetupOutput::default();
    for line in output.lines() {
        if let Some(a) = line.strip_prefix("address=").and_then(|a| a.trim().parse().ok()) {
            found.address = Some(a);
        } else if let Some(p) = line.strip_prefix("pod=").and_then(|p| p.trim().parse().ok()) {
            found.pods.push(p);
        }
    }
    found.pods.sort();
    found
}

/// The script that removes run `run`'s probe on this host (run as root; idempotent). It exits
/// 1 with a message naming what is left when something could not be removed.
pub fn teardown_script(run: &str) -> String {
    format!(
        r#"# labctl verify: remove this node's probe pod
{REMOVE}remove_probe {run}
left=
if ip link show "lcp"{run} >/dev/null 2>&1; then left="$left link lcp"{run}; fi
if [ -e "/run/netns/labctl-probe-"{run}"-$id" ]; then left="$left namespace labctl-probe-"{run}"-$id"; fi
if [ -e "$claims/"{run}"-$id.probe" ]; then left="$left claim $claims/"{run}"-$id.probe"; fi
if [ -n "$left" ]; then echo "probe not removed:$left" >&2; exit 1; fi
rmdir "$claims" 2>/dev/null && rmdir /run/labctl 2>/dev/null
exit 0
"#,
        run = quote(run)
    )
}

/// The command that pings `target` `count` times from run `run`'s probe (run as root); with
/// `size`, with DF set and that many bytes of payload.
pub fn ping_command(run: &str, target: Ipv4Addr, count: u32, size: Option<u32>) -> String {
    let df = size.map(|s| format!(" -M do -s {s}")).unwrap_or_default();
    format!("ip netns exec {} ping -c {count} -i 0.05 -W 1 -q{df} {target}", namespace_word(run))
}

/// The section name of a ping to `target`.
pub fn ping_section_name(target: Ipv4Addr) -> String {
    name_with(PING, target)
}

/// What a node checks after every probe is set up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckSpec<'a> {
    pub run: &'a str,
    /// The other nodes' probe addresses: `ip route get`, and pings when `ping_count` is set.
    pub targets: &'a [Ipv4Addr],
    /// Real pods of the other nodes to ping too.
    pub pods: &'a [Ipv4Addr],
    pub ping_count: Option<u32>,
    /// This probe's MTU: the targets are also pinged with DF set and packets of that size.
    pub mtu: Option<u32>,
}

/// The script run on a node after every probe is set up: `ip route get` for each target, then,
/// when pinging, a ping from this node's probe to each target (and again at the MTU with DF
/// set), one to each real pod, and the firewall rules (`iptables -S`). Route gets need no
/// root; the rest does.
pub fn check_script(spec: &CheckSpec) -> String {
    let mut script =
        String::from("# labctl verify: route evidence and the data plane from this node's probe\n");
    script.push_str(PRELUDE);
    for target in spec.targets {
        script.push_str(&route_get::script_line(*target));
    }
    if let Some(count) = spec.ping_count {
        // The pings run at once (a lost one waits a second for its answer): each writes its
        // section to a file of its own, printed in order once all are done.
        script.push_str(PARALLEL);
        let mut ping = |name: String, command: String| {
            script.push_str(&format!("in_background {} {command}\n", quote(&name)));
        };
        for target in spec.targets {
            ping(ping_section_name(*target), ping_command(spec.run, *target, count, None));
            // 20 bytes of IP header and 8 of ICMP: the packet fills the MTU.
            if let Some(mtu) = spec.mtu.filter(|m| *m > 28) {
                ping(
                    name_with(PING_MTU, target),
                    ping_command(spec.run, *target, count, Some(mtu - 28)),
                );
            }
        }
        for pod in spec.pods {
            ping(ping_section_name(*pod), ping_command(spec.run, *pod, count, None));
        }
        script.push_str("wait\ncat \"$sections\"/*\nrm -rf \"$sections\"\n");
        script.push_str(&fact_line(FIREWALL, crate::facts::iptables::COMMAND));
    }
    script.push_str("exit 0\n");
    script
}

/// Shell function `in_background NAME CMD...`: `fact NAME CMD...` in the background, into a
/// numbered file of `$sections` (both of `fact`'s outputs appended, so they keep their order).
const PARALLEL: &str = r#"sections=$(mktemp -d)
n=0
in_background() {
  n=$((n+1)); f="$sections/$(printf %04d "$n")"; : >"$f"
  ( exec 3>>"$f"; fact "$@" >>"$f" ) &
}
"#;

/// What one node's [`check_script`] found, by destination.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CheckOutput {
    pub route_gets: BTreeMap<Ipv4Addr, RouteGet>,
    /// Pings to probes and to real pods.
    pub pings: BTreeMap<Ipv4Addr, PingOutcome>,
    /// Pings with DF set at the probe's MTU.
    pub mtu_pings: BTreeMap<Ipv4Addr, PingOutcome>,
    /// The node's firewall rules; `None` when they could not be read.
    pub firewall: Option<crate::facts::iptables::Firewall>,
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
            PING_MTU => {
                found.mtu_pings.insert(target()?, parse_ping(&s));
            }
            FIREWALL => found.firewall = crate::facts::iptables::parse(&s)?,
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

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn candidates_count_down_from_the_top_without_the_nodes_addresses() {
        let c = candidates(net("10.200.0.0/24"), &[ip("10.200.0.253")]);
        assert_eq!(c[..2], [ip("10.200.0.254"), ip("10.200.0.252")]);
        assert_eq!(c.len(), 15);
        assert_eq!(candidates(net("10.200.0.4/30"), &[]), [ip("10.200.0.6"), ip("10.200.0.5")]);
        assert_eq!(candidates(net("10.200.0.4/32"), &[]), [ip("10.200.0.4")]);
    }

    fn spec<'a>(attach: &'a Attach, stale: &'a [String], addrs: &'a [Ipv4Addr]) -> SetupSpec<'a> {
        SetupSpec {
            run: "0badcafe",
            owner: "m:1:2",
            cidr: net("10.200.0.0/24"),
            candidates: addrs,
            attach,
            mtu: Some(1450),
            leases: Some("/var/lib/cni/networks/bridge"),
            stale,
        }
    }

    #[test]
    fn setup_on_the_bridge_claims_first_and_removes_leftovers_before() {
        let bridge = Attach::Bridge { name: "cni0".into(), gateway: ip("10.200.0.1") };
        let stale = ["deadbeef".to_string()];
        let addrs = [ip("10.200.0.254"), ip("10.200.0.253")];
        let s = setup_script(&spec(&bridge, &stale, &addrs));
        assert!(s.starts_with("# labctl verify: set up this node's probe pod\nset -e\n"));
        let order = [
            "remove_probe deadbeef\n",
            ">\"$claims/$run-$id.probe\"",
            "mkdir \"$claims/$a-$id.addr\"",
            "ip netns add",
        ];
        let at: Vec<usize> =
            order.iter().map(|n| s.find(n).unwrap_or_else(|| panic!("{n}"))).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{s}");
        for needle in [
            "for a in 10.200.0.254 10.200.0.253; do\n",
            "ip link set \"$link\" master cni0\n",
            "ip -n \"$ns\" addr add \"$addr/24\" dev eth0\n",
            "ip -n \"$ns\" route add default via 10.200.0.1\n",
            "ip -n \"$ns\" link set eth0 mtu 1450\n",
            "leases=/var/lib/cni/networks/bridge\n",
        ] {
            assert!(s.contains(needle), "{needle} in {s}");
        }
        let direct = setup_script(&spec(&Attach::Direct, &[], &addrs));
        assert!(direct.contains("ip route replace \"$addr/32\" dev \"$link\" scope link\n"));
        assert!(!direct.contains("remove_probe deadbeef"));
    }

    #[test]
    fn setup_output_and_run_ids() {
        let out = parse_setup("address=10.200.0.254\npod=10.200.0.3\npod=10.200.0.2\n");
        assert_eq!(out.address, Some(ip("10.200.0.254")));
        assert_eq!(out.pods, [ip("10.200.0.2"), ip("10.200.0.3")]);
        let (a, b) = (new_run_id(), new_run_id());
        assert_eq!(a.len(), 8);
        assert_ne!(a, b);
        assert!(host_end(&a).len() <= 15);
    }

    #[test]
    fn pings_name_the_runs_namespace() {
        assert_eq!(
            ping_command("0badcafe", ip("10.200.1.254"), 2, Some(1422)),
            "ip netns exec labctl-probe-0badcafe-\"$(readlink /proc/self/ns/net | tr -cd 0-9)\" ping -c 2 -i 0.05 -W 1 -q -M do -s 1422 10.200.1.254"
        );
    }

    #[test]
    fn check_script_route_gets_then_pings() {
        let targets = [ip("10.200.1.254"), ip("10.200.2.254")];
        let pods = [ip("10.200.1.2")];
        let mut spec = CheckSpec {
            run: "0badcafe",
            targets: &targets,
            pods: &pods,
            ping_count: Some(2),
            mtu: Some(1500),
        };
        let s = check_script(&spec);
        let lines: Vec<&str> = s
            .lines()
            .filter(|l| l.starts_with("fact ") || l.starts_with("in_background "))
            .collect();
        assert_eq!(lines.len(), 8, "{s}");
        assert!(lines[0].starts_with("fact 'route_get 10.200.1.254' ip -j route get 10.200.1.254"));
        assert!(lines[3].starts_with("in_background 'ping_mtu 10.200.1.254' ip netns exec "));
        assert!(lines[3].ends_with("-M do -s 1472 10.200.1.254"));
        assert!(lines[6].starts_with("in_background 'ping 10.200.1.2' "));
        assert_eq!(lines[7], "fact iptables iptables -S");
        assert!(s.find("wait\n").unwrap() < s.find("fact iptables").unwrap());
        spec.ping_count = None;
        assert!(!check_script(&spec).contains("ping"));
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
    fn teardown_removes_one_run_and_reports_leftovers() {
        let s = teardown_script("0badcafe");
        assert!(s.contains("remove_probe 0badcafe\n"));
        assert!(s.contains("echo \"probe not removed:$left\" >&2; exit 1"));
        assert!(!s.contains("labctl-probe-*"));
    }
}
