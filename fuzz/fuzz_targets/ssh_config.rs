//! The output of `vagrant ssh-config` (an OpenSSH client config), and the inventory made
//! from it.
#![no_main]

use std::path::Path;

use labctl::inventory::ssh_config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = Path::new("lab/ssh-config");
    let hosts = match ssh_config::parse(file, text) {
        Err(d) => return labctl_fuzz::check_diagnostic(&d, file, text),
        Ok(hosts) => hosts,
    };
    for host in &hosts {
        assert!(!host.name.is_empty(), "{host:?}");
        assert!((1..=text.lines().count() as u64).contains(&host.line), "{host:?}");
        let _ = host.endpoint();
    }
    match ssh_config::to_inventory(file, &hosts, Path::new("/lab")) {
        Err(d) => labctl_fuzz::check_diagnostic(&d, file, text),
        Ok(inv) => {
            assert_eq!(inv.nodes.len(), hosts.len());
            labctl_fuzz::check_inventory(&inv, file, text);
        }
    }
});
