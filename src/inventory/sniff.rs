//! Telling the inventory formats apart by content, not by file name: students name their
//! files anything (`hosts`, `lab.txt`), and the three formats look nothing alike at the
//! first line that is not blank or a comment.

use super::model::InventoryFormat;
use super::ssh_config::says_not_ready;

/// The format `text` is written in, or `None` when it looks like none of them.
///
/// - `vagrant ssh-config` output starts with `Host NAME` (or is vagrant saying the machines
///   are not up, which that parser turns into "run `vagrant up` first");
/// - YAML has `key:` on its first line, or starts a document, list or flow mapping;
/// - a `machines.txt` line starts with an address: letters, digits and dots, at least one dot
///   (letters too, so that KTHW's unfilled `XXX.XXX.XXX.XXX` gets a message about the address).
pub fn sniff(text: &str) -> Option<InventoryFormat> {
    if says_not_ready(text) {
        return Some(InventoryFormat::VagrantSshConfig);
    }
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'))?;
    let keyword = first.split(|c: char| c.is_whitespace() || c == '=').next().unwrap_or_default();
    if keyword.eq_ignore_ascii_case("host") {
        return Some(InventoryFormat::VagrantSshConfig);
    }
    if first.contains(':') || first.starts_with(['-', '{', '[', '%', '"', '\'']) {
        return Some(InventoryFormat::Yaml);
    }
    let token = first.split_whitespace().next().unwrap_or_default();
    let address_like =
        token.contains('.') && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    address_like.then_some(InventoryFormat::MachinesTxt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let cases = [
            ("provider: ssh\nnodes: []\n", Some(InventoryFormat::Yaml)),
            ("# lab\n\n---\nnodes: []\n", Some(InventoryFormat::Yaml)),
            ("{ nodes: [] }", Some(InventoryFormat::Yaml)),
            ("10.240.0.10 server.kubernetes.local server\n", Some(InventoryFormat::MachinesTxt)),
            (
                "XXX.XXX.XXX.XXX server.kubernetes.local server\n",
                Some(InventoryFormat::MachinesTxt),
            ),
            ("10.240.0.10 server\n", Some(InventoryFormat::MachinesTxt)),
            ("Host server\n  HostName 127.0.0.1\n", Some(InventoryFormat::VagrantSshConfig)),
            ("host=server\n", Some(InventoryFormat::VagrantSshConfig)),
            (
                "The provider for this Vagrant-managed machine is reporting that it\nis not yet ready for SSH.",
                Some(InventoryFormat::VagrantSshConfig),
            ),
            ("Vagrant.configure(\"2\") do |config|\n", None),
            ("hello world again\n", None),
            ("server.kubernetes.local server\n", Some(InventoryFormat::MachinesTxt)),
            ("\n# only comments\n", None),
        ];
        for (text, expected) in cases {
            assert_eq!(sniff(text), expected, "{text:?}");
        }
    }
}
