//! KTHW's `machines.txt`: one machine per line, `IP FQDN HOST [SUBNET]`.
//!
//! The line without SUBNET is the controller (KTHW's `server`); lines with SUBNET are workers
//! with that pod CIDR. Blank lines and `#` comments are ignored. KTHW drives its machines as
//! `root` over SSH (`ssh root@server`), so that is the SSH user, and no `sudo` is needed — its
//! Debian machines may not even have sudo installed.

use std::path::Path;

use super::address::{Field, parse_address, parse_cidr};
use super::model::{
    Inventory, InventoryFormat, KubernetesVersion, NetworkSettings, Node, Provider, Role,
    SettingLines, SshSettings,
};
use crate::diagnostic::Diagnostic;

/// The SSH user KTHW uses on its machines.
const KTHW_USER: &str = "root";

/// An example of a good line, for messages.
const EXAMPLE: &str = "`10.240.0.20 worker-0.kubernetes.local worker-0 10.200.0.0/24`";

/// Reads a `machines.txt` file.
pub fn parse_file(path: &Path) -> Result<Inventory, Diagnostic> {
    let text = crate::yaml::read_input(path)?;
    parse_str(path, &text)
}

/// Parses `machines.txt` text read from `path` (used for messages).
pub fn parse_str(path: &Path, text: &str) -> Result<Inventory, Diagnostic> {
    let mut nodes = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = index as u64 + 1;
        let content = raw_line.split('#').next().unwrap_or_default();
        let fields = fields(content);
        if fields.is_empty() {
            continue;
        }
        let [(ip_col, ip), _fqdn, (_, host), subnet @ ..] = fields.as_slice() else {
            return Err(field_count(path, line, fields.len()));
        };
        if subnet.len() > 1 {
            return Err(field_count(path, line, fields.len()));
        }
        let at =
            |column: u64, name| Field { file: path, line: Some(line), column: Some(column), name };
        let address = parse_address(ip, &at(*ip_col, "IP"))?;
        let pod_cidr = match subnet.first() {
            None => None,
            Some((col, cidr)) => Some(parse_cidr(cidr, &at(*col, "SUBNET"))?),
        };
        nodes.push(Node {
            name: host.to_string(),
            role: if pod_cidr.is_some() { Role::Worker } else { Role::Controller },
            address,
            pod_cidr,
            ssh: None,
            line: Some(line),
        });
    }
    if nodes.is_empty() {
        return Err(Diagnostic::error(path, None, None, "no machines listed")
            .with_help(format!("write one machine per line, e.g. {EXAMPLE}")));
    }
    Ok(Inventory {
        source: path.to_path_buf(),
        format: InventoryFormat::MachinesTxt,
        provider: Provider::Ssh,
        kubernetes_version: KubernetesVersion::default(),
        nodes,
        ssh: SshSettings { user: KTHW_USER.into(), sudo: false, ..SshSettings::default() },
        network: NetworkSettings::default(),
        vars: Default::default(),
        vagrant: None,
        kubeconfig: None,
        lines: SettingLines::default(),
    })
}

/// The whitespace-separated fields of a line with their 1-based columns.
fn fields(line: &str) -> Vec<(u64, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices().chain([(line.len(), ' ')]) {
        match (start, c.is_whitespace()) {
            (None, false) => start = Some(i),
            (Some(s), true) => {
                out.push((line[..s].chars().count() as u64 + 1, &line[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn field_count(path: &Path, line: u64, found: usize) -> Diagnostic {
    Diagnostic::error(
        path,
        Some(line),
        None,
        format!(
            "expected `IP FQDN HOST [SUBNET]`, found {found} field{}",
            if found == 1 { "" } else { "s" }
        ),
    )
    .with_help(format!(
        "each line names one machine: its IPv4 address, full name, host name and, for a \
         worker, its pod subnet, e.g. {EXAMPLE}"
    ))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use pretty_assertions::assert_eq;

    use super::*;

    fn error(text: &str) -> String {
        match parse_str(Path::new("machines.txt"), text) {
            Ok(inv) => panic!("expected an error, got {inv:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn kthw_file() {
        let text = "\
# the KTHW lab
10.240.0.10 server.kubernetes.local server

10.240.0.20 worker-0.kubernetes.local worker-0 10.200.0.0/24
\t10.240.0.21  worker-1.kubernetes.local\tworker-1 10.200.1.0/24   # second worker
";
        let inv = parse_str(Path::new("machines.txt"), text).unwrap();
        assert_eq!(inv.format, InventoryFormat::MachinesTxt);
        assert_eq!(inv.provider, Provider::Ssh);
        assert_eq!(inv.ssh.user, "root");
        assert!(!inv.ssh.sudo);
        assert_eq!(
            inv.nodes,
            vec![
                Node {
                    name: "server".into(),
                    role: Role::Controller,
                    address: Ipv4Addr::new(10, 240, 0, 10),
                    pod_cidr: None,
                    ssh: None,
                    line: Some(2),
                },
                Node {
                    name: "worker-0".into(),
                    role: Role::Worker,
                    address: Ipv4Addr::new(10, 240, 0, 20),
                    pod_cidr: Some("10.200.0.0/24".parse().unwrap()),
                    ssh: None,
                    line: Some(4),
                },
                Node {
                    name: "worker-1".into(),
                    role: Role::Worker,
                    address: Ipv4Addr::new(10, 240, 0, 21),
                    pod_cidr: Some("10.200.1.0/24".parse().unwrap()),
                    ssh: None,
                    line: Some(5),
                },
            ]
        );
    }

    #[test]
    fn example_file_is_the_kthw_lab() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/machines.txt"));
        let inv = parse_file(path).unwrap();
        let names: Vec<_> = inv.nodes.iter().map(|n| (n.name.as_str(), n.role)).collect();
        assert_eq!(
            names,
            [
                ("server", Role::Controller),
                ("worker-0", Role::Worker),
                ("worker-1", Role::Worker),
                ("worker-2", Role::Worker)
            ]
        );
        assert_eq!(inv.nodes[3].address, Ipv4Addr::new(10, 240, 0, 22));
        assert_eq!(inv.nodes[3].pod_cidr, Some("10.200.2.0/24".parse().unwrap()));
    }

    #[test]
    fn wrong_field_count() {
        assert_eq!(
            error("10.240.0.10 server\n"),
            "machines.txt:1: expected `IP FQDN HOST [SUBNET]`, found 2 fields\n  help: each line \
             names one machine: its IPv4 address, full name, host name and, for a worker, its pod \
             subnet, e.g. `10.240.0.20 worker-0.kubernetes.local worker-0 10.200.0.0/24`"
        );
        assert!(
            error("\n\n1.2.3.4 a.b a 10.0.0.0/24 extra\n")
                .starts_with("machines.txt:3: expected `IP FQDN HOST [SUBNET]`, found 5 fields\n")
        );
    }

    #[test]
    fn unfilled_kthw_template_names_the_ip() {
        assert_eq!(
            error("XXX.XXX.XXX.XXX server.kubernetes.local server\n"),
            "machines.txt:1:1: `XXX.XXX.XXX.XXX` is not a valid IPv4 address (IP)\n  help: write \
             four numbers from 0 to 255 separated by dots, e.g. `10.240.0.20`"
        );
    }

    #[test]
    fn bad_subnet_is_located() {
        assert_eq!(
            error("10.240.0.10 server.kubernetes.local server\n10.240.0.20 w.k w  10.200.0.1/24\n"),
            "machines.txt:2:20: `10.200.0.1/24` has host bits set (SUBNET)\n  help: write the \
             network it belongs to: `10.200.0.0/24`"
        );
        assert!(
            error("10.240.0.20 w.k w 10.200.0.0/40\n")
                .starts_with("machines.txt:1:19: `10.200.0.0/40` is not a valid CIDR (SUBNET)\n")
        );
    }

    #[test]
    fn empty_file() {
        assert_eq!(
            error("# nothing yet\n\n"),
            "machines.txt: no machines listed\n  help: write one machine per line, e.g. \
             `10.240.0.20 worker-0.kubernetes.local worker-0 10.200.0.0/24`"
        );
    }
}
