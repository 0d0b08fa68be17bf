//! Inventories: which machines make up a lab, read from labctl YAML, a KTHW `machines.txt`,
//! or the output of `vagrant ssh-config`; and the lints run on them before any plan.
//!
//! - [`locate`] finds the inventory (`-i`, else `./labctl.yaml`, a running sandbox, a
//!   Vagrantfile) and [`load`] reads one file, sniffing its format from its content;
//! - [`load_checked`] also lints it: errors stop, warnings are returned for printing;
//! - [`resolve_vagrant_endpoints`] asks Vagrant where each node's sshd is, for a labctl YAML
//!   with `provider: vagrant`; call it before connecting.

mod address;
pub mod class;
mod hostname;
pub mod lint;
pub mod lookup;
pub mod machines_txt;
pub mod model;
pub mod paths;
pub mod sniff;
pub mod ssh_config;
pub mod vagrant;
pub mod yaml_format;

use std::path::Path;

pub use hostname::is_dns_label;
pub use lint::lint;
pub use lookup::{Located, LookupError, Origin, load, load_str, locate, resolve_vagrant_endpoints};
pub use model::*;

use crate::diagnostic::Diagnostic;
use crate::error::Error;

/// Reads an inventory file and lints it: the inventory and its warnings, or every error found.
pub fn load_checked(path: &Path) -> Result<(Inventory, Vec<Diagnostic>), Error> {
    let inventory = load(path)?;
    let warnings = lint::check(&inventory)?;
    Ok((inventory, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_checked_reads_a_one_worker_lab_without_a_word() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lab.txt");
        std::fs::write(&file, "10.240.0.10 s.k server\n10.240.0.20 w.k worker-0 10.200.0.0/24\n")
            .unwrap();
        let (inv, warnings) = load_checked(&file).unwrap();
        assert_eq!(inv.nodes.len(), 2);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn load_checked_returns_all_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lab.txt");
        std::fs::write(&file, "10.240.0.10 s.k Server\n10.240.0.10 w.k w0 10.200.0.0/24\n10.240.0.21 w.k w1 10.200.0.0/24\n").unwrap();
        let Err(Error::Inputs(errors)) = load_checked(&file) else {
            panic!("expected lint errors");
        };
        let lines: Vec<_> = errors.iter().map(|e| (e.line, e.message.as_str())).collect();
        assert_eq!(
            lines,
            [
                (Some(1), "node name `Server` is not a valid host name"),
                (Some(2), "address 10.240.0.10 of `w0` is also the address of `Server` (line 1)"),
                (
                    Some(3),
                    "pod_cidr 10.200.0.0/24 of `w1` overlaps pod_cidr 10.200.0.0/24 of `w0` (line 2)"
                ),
            ]
        );
    }

    #[test]
    fn odd_inputs_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: [&[u8]; 12] = [
            b"",
            b"\xef\xbb\xbfHost a\n  HostName 127.0.0.1\n",
            b"Host a\n  Port=\n",
            b"Host \"a\n",
            b"=\n",
            b"\0\0\0",
            b"\xff\xfe",
            b"- - -\n",
            b"nodes: *x\n",
            b"nodes:\n  - { name: \xc3\xa9, role: worker, address: 1.2.3.4 }\n",
            b"1.2.3.4 \xc3\xa9 \xc3\xbc 10.0.0.0/24 10.0.0.0/24\n",
            b"Host a b\nHost c\n  HostName ::1\n",
        ];
        for (i, input) in inputs.iter().enumerate() {
            let file = dir.path().join(format!("input-{i}"));
            std::fs::write(&file, input).unwrap();
            assert!(load_checked(&file).is_err(), "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn load_checked_passes_parse_errors_on() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lab.txt");
        std::fs::write(&file, "10.240.0.300 s.k server\n").unwrap();
        assert!(matches!(load_checked(&file), Err(Error::Input(d)) if d.line == Some(1)));
    }
}
