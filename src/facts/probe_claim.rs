//! Fact `probe_claim PATH`: the claims of verify's probe pods on this host.
//!
//! Every verify run writes, before it makes anything, a claim file
//! `/run/labctl/probes/RUN-NETNS.probe` (`key=value` lines: `owner`, `created`, `netns`, `link`,
//! `address`), and removes it last. A claim left behind is a probe left behind; its `owner`
//! says whether the labctl that made it still runs (see `crate::verify::owner`). `NETNS` is the
//! inode of the host's network namespace, so hosts that share one `/run` keep theirs apart.

use serde::Serialize;

use super::{FactError, Section};

/// Section name prefix; the section of a claim is `probe_claim PATH`.
pub const NAME: &str = "probe_claim";
/// Where claims live (tmpfs: a reboot, which also removes every probe, clears them).
pub const DIR: &str = "/run/labctl/probes";

/// The gather script's loop over this host's claims.
pub const SCRIPT: &str = r#"probe_id=$(readlink /proc/self/ns/net | tr -cd 0-9)
for f in /run/labctl/probes/*-"$probe_id".probe; do
  if [ -e "$f" ]; then fact "probe_claim $f" cat "$f"; fi
done
"#;

/// One claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeClaim {
    pub path: String,
    /// The verify run's id (the file name's first part).
    pub run: String,
    /// `MACHINE:PID:START` of the labctl that made it.
    pub owner: Option<String>,
    /// Seconds since the epoch, on the host's clock.
    pub created: Option<u64>,
    pub address: Option<String>,
}

/// Parses one claim's section; `None` when the file went away while it was read.
pub fn parse(section: &Section) -> Result<Option<ProbeClaim>, FactError> {
    let path = section
        .name
        .strip_prefix(NAME)
        .and_then(|p| p.strip_prefix(' '))
        .ok_or_else(|| FactError::unexpected(&section.name, "not a probe claim section"))?;
    if section.absent || section.code != 0 {
        return Ok(None);
    }
    let file = path.rsplit('/').next().unwrap_or(path);
    let run = file.split('-').next().unwrap_or_default().to_string();
    let value = |key: &str| {
        section.stdout.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=')).map(str::trim)
    };
    Ok(Some(ProbeClaim {
        path: path.to_string(),
        run,
        owner: value("owner").map(str::to_string),
        created: value("created").and_then(|c| c.parse().ok()),
        address: value("address").map(str::to_string),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_and_one_that_went_away() {
        let s = Section::ran(
            "probe_claim /run/labctl/probes/1a2b3c4d-4026531840.probe",
            "owner=abc:42:7\ncreated=1700000000\nnetns=labctl-probe-1a2b3c4d-4026531840\nlink=lcp1a2b3c4d\naddress=10.200.1.254\n",
        );
        let claim = parse(&s).unwrap().unwrap();
        assert_eq!(claim.run, "1a2b3c4d");
        assert_eq!(claim.owner.as_deref(), Some("abc:42:7"));
        assert_eq!(claim.created, Some(1_700_000_000));
        assert_eq!(claim.address.as_deref(), Some("10.200.1.254"));
        let gone =
            Section { code: 1, ..Section::ran("probe_claim /run/labctl/probes/x-1.probe", "") };
        assert_eq!(parse(&gone).unwrap(), None);
    }
}
