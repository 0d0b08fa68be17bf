//! Fact `ip_forward`: whether the host forwards IPv4 packets between interfaces.
//!
//! A node must forward to pass packets between its pods and the other nodes; with
//! `net.ipv4.ip_forward = 0` every route can be right and pods still cannot talk.

use super::{FactError, Section};

/// Section name.
pub const NAME: &str = "ip_forward";
/// The file read (readable without sudo; per network namespace).
pub const PATH: &str = "/proc/sys/net/ipv4/ip_forward";

/// Parses the section reading [`PATH`]: `true` when forwarding is on.
pub fn parse(section: &Section) -> Result<bool, FactError> {
    match section.success()?.trim() {
        "1" => Ok(true),
        "0" => Ok(false),
        other => {
            Err(FactError::unexpected(&section.name, format!("expected 0 or 1, got `{other}`")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{fixture, section};

    fn from(fixture_name: &str) -> Result<bool, FactError> {
        parse(&section::by_name(section::parse_output(&fixture(fixture_name)).unwrap())[NAME])
    }

    #[test]
    fn on_and_off() {
        assert_eq!(from("gather-static-worker-1.txt"), Ok(true));
        assert_eq!(from("gather-untidy-worker-2.txt"), Ok(false));
    }

    #[test]
    fn garbage_and_absence_are_errors_naming_the_section() {
        assert_eq!(
            parse(&Section::ran(NAME, "yes\n")).unwrap_err().to_string(),
            "fact `ip_forward`: expected 0 or 1, got `yes`"
        );
        let absent = Section { absent: true, ..Section::ran(NAME, "") };
        assert_eq!(
            parse(&absent).unwrap_err().to_string(),
            "fact `ip_forward`: the file it reads does not exist"
        );
    }
}
