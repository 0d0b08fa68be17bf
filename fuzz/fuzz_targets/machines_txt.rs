//! KTHW's `machines.txt`: `IP FQDN HOST [SUBNET]` lines.
#![no_main]

use std::path::Path;

use labctl::inventory::{InventoryFormat, Role, machines_txt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = Path::new("lab/machines.txt");
    let inv = match machines_txt::parse_str(file, text) {
        Err(d) => return labctl_fuzz::check_diagnostic(&d, file, text),
        Ok(inv) => inv,
    };
    assert_eq!(inv.format, InventoryFormat::MachinesTxt);
    labctl_fuzz::check_inventory(&inv, file, text);
    // One node per line that has fields, and each node's line starts with its address.
    let listed =
        text.lines().filter(|l| !l.split('#').next().unwrap_or_default().trim().is_empty()).count();
    assert_eq!(inv.nodes.len(), listed);
    let mut written = String::new();
    for node in &inv.nodes {
        assert_eq!(node.role == Role::Worker, node.pod_cidr.is_some(), "{node:?}");
        let line = node.line.expect("machines.txt nodes have lines");
        let source = text.lines().nth(line as usize - 1).unwrap_or_default();
        let first = source.split_whitespace().next().unwrap_or_default();
        assert_eq!(first, node.address.to_string(), "line {line} is not {node:?}");
        written.push_str(&format!("{} {}.fqdn {}", node.address, node.name, node.name));
        if let Some(cidr) = node.pod_cidr {
            written.push_str(&format!(" {cidr}"));
        }
        written.push('\n');
    }
    // Written back as machines.txt, the nodes read the same.
    let again = machines_txt::parse_str(file, &written).expect("a written machines.txt reads");
    let key = |inv: &labctl::inventory::Inventory| -> Vec<_> {
        inv.nodes.iter().map(|n| (n.name.clone(), n.address, n.pod_cidr, n.role)).collect()
    };
    assert_eq!(key(&inv), key(&again), "{written}");
});
