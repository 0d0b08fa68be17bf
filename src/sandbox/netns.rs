//! Network namespaces, links, addresses and sysctls, through iproute2's `ip`: `ip -batch` to
//! change many things with one process, `ip -j` (JSON) to read state.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use ipnet::Ipv4Net;
use serde::Deserialize;

use super::command::{run, run_quietly};
use super::paths::{NETNS_RUN_DIR, netns_file};

/// iproute2's `ip`, found by [`super::programs`].
#[derive(Debug, Clone)]
pub struct Ip {
    path: PathBuf,
}

/// A link of the root namespace, as `ip -j link` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Link {
    pub ifname: String,
    #[serde(default)]
    pub ifalias: Option<String>,
}

/// An IPv4 address of a link, as `ip -j -4 addr` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAddress {
    pub ifname: String,
    pub network: Ipv4Net,
}

/// A route of the main table, as `ip -j -4 route` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: Ipv4Net,
    pub dev: Option<String>,
}

impl Ip {
    /// `ip` at `path`.
    pub fn new(path: PathBuf) -> Ip {
        Ip { path }
    }

    /// A bare `ip` command.
    pub fn command(&self) -> Command {
        Command::new(&self.path)
    }

    /// Runs `lines` with `ip [-n NS] -batch -`; stops at the first line that fails.
    pub fn batch(&self, ns: Option<&str>, lines: &[String]) -> Result<(), String> {
        run(&mut self.batch_command(ns, false), Some(&batch_input(lines))).map(|_| ())
    }

    /// Runs every line of `lines`, ignoring failures (teardown: things may be gone already).
    pub fn batch_force(&self, ns: Option<&str>, lines: &[String]) {
        if !lines.is_empty() {
            run_quietly(&mut self.batch_command(ns, true), Some(&batch_input(lines)));
        }
    }

    /// `ip netns exec NS PROGRAM`: the program runs in the namespace, with `/etc/netns/NS/`.
    pub fn exec_in(&self, ns: &str, program: &Path) -> Command {
        let mut cmd = self.command();
        cmd.args(["netns", "exec", ns]).arg(program);
        cmd
    }

    /// Writes `/proc/sys` values inside a namespace (each namespace has its own `net.*`).
    pub fn set_sysctls(&self, ns: &str, values: &[(&str, &str)]) -> Result<(), String> {
        let script: Vec<String> =
            values.iter().map(|(key, value)| format!("echo {value} > /proc/sys/{key}")).collect();
        let mut cmd = self.exec_in(ns, Path::new("/bin/sh"));
        cmd.args(["-ec", &script.join("\n")]);
        run(&mut cmd, None).map(|_| ())
    }

    /// The processes whose network namespace is `ns`.
    pub fn pids(&self, ns: &str) -> Vec<u32> {
        let mut cmd = self.command();
        cmd.args(["netns", "pids", ns]);
        run(&mut cmd, None)
            .map(|out| out.split_whitespace().filter_map(|p| p.parse().ok()).collect())
            .unwrap_or_default()
    }

    /// The links of the root namespace.
    pub fn links(&self) -> Result<Vec<Link>, String> {
        let mut cmd = self.command();
        cmd.args(["-j", "link", "show"]);
        parse_links(&run(&mut cmd, None)?)
    }

    /// The IPv4 addresses of the root namespace.
    pub fn addresses(&self) -> Result<Vec<LinkAddress>, String> {
        let mut cmd = self.command();
        cmd.args(["-j", "-4", "addr", "show"]);
        parse_addresses(&run(&mut cmd, None)?)
    }

    /// The IPv4 routes of the root namespace's main table.
    pub fn routes(&self) -> Result<Vec<Route>, String> {
        let mut cmd = self.command();
        cmd.args(["-j", "-4", "route", "show"]);
        parse_routes(&run(&mut cmd, None)?)
    }

    fn batch_command(&self, ns: Option<&str>, force: bool) -> Command {
        let mut cmd = self.command();
        if let Some(ns) = ns {
            cmd.args(["-n", ns]);
        }
        if force {
            cmd.arg("-force");
        }
        cmd.args(["-batch", "-"]);
        cmd
    }
}

/// True when the namespace exists.
pub fn netns_exists(ns: &str) -> bool {
    netns_file(ns).exists()
}

/// The names of all namespaces `ip netns` knows.
pub fn netns_names() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(NETNS_RUN_DIR) else {
        return Vec::new();
    };
    entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect()
}

/// Writes a `/proc/sys` value of the root namespace, e.g. `net/ipv4/conf/X/forwarding`.
pub fn set_root_sysctl(key: &str, value: &str) -> Result<(), String> {
    let path = Path::new("/proc/sys").join(key);
    std::fs::write(&path, value).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

fn batch_input(lines: &[String]) -> String {
    let mut input = lines.join("\n");
    input.push('\n');
    input
}

fn parse_links(json: &str) -> Result<Vec<Link>, String> {
    serde_json::from_str(json).map_err(|e| format!("cannot read the output of `ip -j link`: {e}"))
}

fn parse_addresses(json: &str) -> Result<Vec<LinkAddress>, String> {
    #[derive(Deserialize)]
    struct AddrInfo {
        family: String,
        local: Ipv4Addr,
        prefixlen: u8,
    }
    #[derive(Deserialize)]
    struct LinkAddrs {
        ifname: String,
        #[serde(default)]
        addr_info: Vec<serde_json::Value>,
    }
    let links: Vec<LinkAddrs> = serde_json::from_str(json)
        .map_err(|e| format!("cannot read the output of `ip -j addr`: {e}"))?;
    let mut addresses = Vec::new();
    for link in links {
        for info in link.addr_info {
            // IPv6 entries (if any) do not parse as Ipv4Addr; only IPv4 matters here.
            let Ok(info) = serde_json::from_value::<AddrInfo>(info) else { continue };
            if info.family != "inet" {
                continue;
            }
            if let Ok(net) = Ipv4Net::new(info.local, info.prefixlen) {
                addresses.push(LinkAddress { ifname: link.ifname.clone(), network: net.trunc() });
            }
        }
    }
    Ok(addresses)
}

fn parse_routes(json: &str) -> Result<Vec<Route>, String> {
    #[derive(Deserialize)]
    struct RawRoute {
        dst: String,
        #[serde(default)]
        dev: Option<String>,
    }
    let raw: Vec<RawRoute> = serde_json::from_str(json)
        .map_err(|e| format!("cannot read the output of `ip -j route`: {e}"))?;
    let routes = raw
        .into_iter()
        .filter_map(|r| {
            let destination = match r.dst.as_str() {
                "default" => Ipv4Net::default(),
                d if d.contains('/') => d.parse().ok()?,
                d => Ipv4Net::from(d.parse::<Ipv4Addr>().ok()?),
            };
            Some(Route { destination, dev: r.dev })
        })
        .collect();
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_with_and_without_alias() {
        let json = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"]},
            {"ifindex":9,"link":"host","ifname":"lc-default","ifalias":"labctl-sandbox default"}]"#;
        let links = parse_links(json).unwrap();
        assert_eq!(links[0], Link { ifname: "lo".into(), ifalias: None });
        assert_eq!(links[1].ifalias.as_deref(), Some("labctl-sandbox default"));
    }

    #[test]
    fn addresses_are_networks_per_link() {
        let json = r#"[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
            {"ifindex":6,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.0.2.2","prefixlen":24},
            {"family":"inet6","local":"fe80::1","prefixlen":64}]}, {"ifindex":7,"ifname":"down"}]"#;
        let addresses = parse_addresses(json).unwrap();
        let pairs: Vec<_> =
            addresses.iter().map(|a| (a.ifname.as_str(), a.network.to_string())).collect();
        assert_eq!(
            pairs,
            [("lo", "127.0.0.0/8".to_string()), ("eth0", "192.0.2.0/24".to_string())]
        );
    }

    #[test]
    fn routes_include_default_and_host_routes() {
        let json = r#"[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},
            {"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel"},{"dst":"10.9.9.9","dev":"tun0"}]"#;
        let routes = parse_routes(json).unwrap();
        let dsts: Vec<_> = routes.iter().map(|r| r.destination.to_string()).collect();
        assert_eq!(dsts, ["0.0.0.0/0", "192.0.2.0/24", "10.9.9.9/32"]);
    }
}
