//! Reading the IPv4 addresses and CIDRs written in an inventory, with messages that say what
//! to write instead. Shared by the YAML and `machines.txt` readers so both say the same thing.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ipnet::Ipv4Net;

use crate::diagnostic::Diagnostic;

/// Where a value was written and what it is called, for the message when it is wrong.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub file: &'a Path,
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// How the user finds the value, e.g. `nodes[0].pod_cidr` or `SUBNET`.
    pub name: &'a str,
}

impl Field<'_> {
    /// An error about this field.
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.file, self.line, self.column, message)
    }
}

/// Parses a node address: a plain IPv4 address.
pub(crate) fn parse_address(text: &str, at: &Field) -> Result<Ipv4Addr, Diagnostic> {
    let t = text.trim();
    t.parse::<Ipv4Addr>().map_err(|_| {
        let help = if t.parse::<Ipv6Addr>().is_ok() {
            "labctl labs use IPv4: write the node's IPv4 address, e.g. `10.240.0.20`"
        } else if t.contains('/') {
            "write the address without a prefix length, e.g. `10.240.0.20`"
        } else {
            "write four numbers from 0 to 255 separated by dots, e.g. `10.240.0.20`"
        };
        at.error(format!("`{t}` is not a valid IPv4 address ({})", at.name)).with_help(help)
    })
}

/// Parses a CIDR; host bits must be zero, since a route or pod range is a network.
pub(crate) fn parse_cidr(text: &str, at: &Field) -> Result<Ipv4Net, Diagnostic> {
    let t = text.trim();
    let net = t.parse::<Ipv4Net>().map_err(|_| {
        let help = if t.parse::<Ipv4Addr>().is_ok() {
            format!("add the prefix length, e.g. `{t}/24`")
        } else {
            "write it as ADDRESS/PREFIX with a prefix from 0 to 32, e.g. `10.200.0.0/24`".into()
        };
        at.error(format!("`{t}` is not a valid CIDR ({})", at.name)).with_help(help)
    })?;
    if net.addr() != net.network() {
        return Err(at
            .error(format!("`{t}` has host bits set ({})", at.name))
            .with_help(format!("write the network it belongs to: `{}`", net.trunc())));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Field<'static> {
        Field { file: Path::new("labctl.yaml"), line: Some(7), column: Some(15), name: "x" }
    }

    #[test]
    fn address_parses() {
        assert_eq!(parse_address(" 10.240.0.20 ", &at()), Ok(Ipv4Addr::new(10, 240, 0, 20)));
    }

    #[test]
    fn bad_addresses_say_what_to_write() {
        let cases = [
            ("10.240.0.300", "four numbers from 0 to 255 separated by dots, e.g. `10.240.0.20`"),
            ("10.240.0.20/24", "write the address without a prefix length, e.g. `10.240.0.20`"),
            ("fd00::1", "labctl labs use IPv4: write the node's IPv4 address, e.g. `10.240.0.20`"),
        ];
        for (text, help) in cases {
            let e = parse_address(text, &at()).unwrap_err();
            assert_eq!(e.message, format!("`{text}` is not a valid IPv4 address (x)"));
            assert!(e.help.as_deref().is_some_and(|h| h.ends_with(help)), "{e}");
            assert_eq!(e.place(), "labctl.yaml:7:15");
        }
    }

    #[test]
    fn cidr_parses() {
        assert_eq!(parse_cidr("10.200.1.0/24", &at()), Ok("10.200.1.0/24".parse().unwrap()));
    }

    #[test]
    fn bad_cidrs_say_what_to_write() {
        let e = parse_cidr("10.200.0.0/33", &at()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "labctl.yaml:7:15: `10.200.0.0/33` is not a valid CIDR (x)\n  help: write it as \
             ADDRESS/PREFIX with a prefix from 0 to 32, e.g. `10.200.0.0/24`"
        );
        let e = parse_cidr("10.200.0.0", &at()).unwrap_err();
        assert_eq!(e.help.as_deref(), Some("add the prefix length, e.g. `10.200.0.0/24`"));
    }

    #[test]
    fn host_bits_suggest_the_network() {
        let e = parse_cidr("10.200.0.5/24", &at()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "labctl.yaml:7:15: `10.200.0.5/24` has host bits set (x)\n  help: write the network \
             it belongs to: `10.200.0.0/24`"
        );
    }
}
