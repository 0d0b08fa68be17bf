//! Fact `flannel`: the node's `flannel.1` VXLAN device and flanneld's `/run/flannel/subnet.env`,
//! gathered in the same round trip as the core's facts ([`FACT`], kept in
//! [`HostFacts::extra`] and read back with [`Flannel::flannel`]; docs/architecture.md, "Layers
//! (folders)").
//!
//! The device's `local` address is the one flannel bound to. On Vagrant, flannel without
//! `--iface` binds to the default-route NIC `enp0s3` and its address `10.0.2.15`, which every
//! VM has: VXLAN packets then go nowhere. `subnet.env` says which pod subnet flannel gave the
//! node, which need not be the inventory's pod CIDR.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::facts::host::{ExtraFact, HostFacts};
use crate::facts::section::{fact_line, file_fact_line};
use crate::facts::{FactError, Section};

/// The VXLAN device flannel's vxlan backend creates (VNI 1).
pub const DEVICE: &str = "flannel.1";
/// Section name of the device.
pub const LINK_NAME: &str = "flannel_link";
/// The command for the device (details `-d` show the VXLAN settings).
pub const LINK_COMMAND: &str = "ip -d -j link show flannel.1";
/// Section name of the subnet file.
pub const SUBNET_ENV_NAME: &str = "flannel_subnet_env";
/// The file flanneld writes when it has a lease.
pub const SUBNET_ENV_PATH: &str = "/run/flannel/subnet.env";

/// What flannel left on a node; both parts are absent where flannel never ran.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FlannelFacts {
    pub link: Option<VxlanLink>,
    pub subnet_env: Option<SubnetEnv>,
}

/// The `flannel.1` device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VxlanLink {
    pub name: String,
    /// The link kind (`vxlan`; anything else is a misconfiguration).
    pub kind: Option<String>,
    pub vni: Option<u32>,
    /// The address VXLAN packets are sent from: the one flannel bound to.
    pub local: Option<Ipv4Addr>,
    /// The NIC VXLAN packets go out of (`dev` when it was created).
    pub underlying: Option<String>,
    /// The UDP port (flannel: 8472).
    pub port: Option<u16>,
    pub up: bool,
    pub mtu: Option<u32>,
}

/// `/run/flannel/subnet.env`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubnetEnv {
    /// `FLANNEL_NETWORK`: the cluster CIDR flannel hands subnets out of.
    pub network: Option<Ipv4Net>,
    /// `FLANNEL_SUBNET`: this node's subnet, written as its gateway address, e.g. `10.200.0.1/24`.
    pub subnet: Option<Ipv4Net>,
    /// `FLANNEL_MTU`.
    pub mtu: Option<u32>,
    /// `FLANNEL_IPMASQ`.
    pub ipmasq: Option<bool>,
}

impl SubnetEnv {
    /// The node's pod subnet as a network, e.g. `10.200.0.0/24`.
    pub fn pod_cidr(&self) -> Option<Ipv4Net> {
        self.subnet.map(|s| s.trunc())
    }
}

/// The name of the fact in [`HostFacts::extra`].
pub const NAME: &str = "flannel";

/// The fact as the gather script gathers it.
pub static FACT: ExtraFact = ExtraFact { name: NAME, script, parse: parse_fact };

fn script() -> String {
    format!(
        "{}{}",
        fact_line(LINK_NAME, LINK_COMMAND),
        file_fact_line(SUBNET_ENV_NAME, SUBNET_ENV_PATH)
    )
}

fn parse_fact(
    sections: &std::collections::BTreeMap<String, Section>,
) -> Result<serde_json::Value, FactError> {
    let get = |name: &str| crate::facts::section::named(sections, name);
    let facts = FlannelFacts {
        link: parse_link(get(LINK_NAME)?)?,
        subnet_env: parse_subnet_env(get(SUBNET_ENV_NAME)?)?,
    };
    serde_json::to_value(facts)
        .map_err(|e| FactError::unexpected(NAME, format!("cannot keep the fact: {e}")))
}

/// The core's facts and flannel's, in one script.
pub fn gather_script(route_targets: &[Ipv4Addr]) -> String {
    crate::facts::host::gather_script(route_targets, &[&FACT])
}

/// Parses the output of [`gather_script`].
pub fn parse(output: &str) -> Result<HostFacts, FactError> {
    crate::facts::host::parse(output, &[&FACT])
}

/// Flannel's facts of a host.
pub trait Flannel {
    /// What flannel left on the host (nothing when the fact was not gathered).
    fn flannel(&self) -> FlannelFacts;
    /// Replaces them (tests make labs this way).
    fn set_flannel(&mut self, facts: FlannelFacts);
}

impl Flannel for HostFacts {
    fn flannel(&self) -> FlannelFacts {
        // Only `parse_fact` and `set_flannel` write the value, both from a `FlannelFacts`, so it
        // reads back; a fact not gathered is no flannel at all.
        let read = self.extra.get(NAME).map(|v| serde_json::from_value(v.clone()));
        debug_assert!(read.as_ref().is_none_or(|r| r.is_ok()), "flannel facts read back: {read:?}");
        read.and_then(Result::ok).unwrap_or_default()
    }

    fn set_flannel(&mut self, facts: FlannelFacts) {
        if let Ok(value) = serde_json::to_value(facts) {
            self.extra.insert(NAME.to_string(), value);
        }
    }
}

#[derive(Deserialize)]
struct RawLink {
    ifname: String,
    #[serde(default)]
    flags: Vec<String>,
    mtu: Option<u32>,
    linkinfo: Option<RawLinkInfo>,
}

#[derive(Deserialize)]
struct RawLinkInfo {
    info_kind: Option<String>,
    info_data: Option<RawVxlan>,
}

#[derive(Deserialize)]
struct RawVxlan {
    id: Option<u32>,
    local: Option<String>,
    link: Option<String>,
    port: Option<u16>,
}

/// Parses the section of [`LINK_COMMAND`]; `None` when the device does not exist.
pub fn parse_link(section: &Section) -> Result<Option<VxlanLink>, FactError> {
    if section.code != 0 && section.stderr.contains("does not exist") {
        return Ok(None);
    }
    let raw: Vec<RawLink> = section.json()?;
    let [link] = <[RawLink; 1]>::try_from(raw).map_err(|raw| {
        FactError::unexpected(&section.name, format!("expected one device, got {}", raw.len()))
    })?;
    let info = link.linkinfo;
    let kind = info.as_ref().and_then(|i| i.info_kind.clone());
    let data = info.and_then(|i| i.info_data);
    let data = data.as_ref();
    let local = match data.and_then(|d| d.local.as_deref()) {
        None => None,
        Some(text) => Some(text.parse().map_err(|_| {
            FactError::unexpected(&section.name, format!("local address `{text}` is not IPv4"))
        })?),
    };
    Ok(Some(VxlanLink {
        up: link.flags.iter().any(|f| f == "UP"),
        name: link.ifname,
        kind,
        vni: data.and_then(|d| d.id),
        local,
        underlying: data.and_then(|d| d.link.clone()),
        port: data.and_then(|d| d.port),
        mtu: link.mtu,
    }))
}

/// Parses the section reading [`SUBNET_ENV_PATH`]; `None` when the file does not exist.
pub fn parse_subnet_env(section: &Section) -> Result<Option<SubnetEnv>, FactError> {
    if section.absent {
        return Ok(None);
    }
    let text = section.success()?;
    let mut env = SubnetEnv::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| {
            FactError::unexpected(&section.name, format!("line {}: {what}: `{line}`", n + 1))
        };
        let (key, value) = line.split_once('=').ok_or_else(|| bad("expected KEY=VALUE"))?;
        let value = value.trim_matches('"');
        match key {
            "FLANNEL_NETWORK" => {
                env.network = Some(value.parse().map_err(|_| bad("not an IPv4 CIDR"))?)
            }
            "FLANNEL_SUBNET" => {
                env.subnet = Some(value.parse().map_err(|_| bad("not an IPv4 CIDR"))?)
            }
            "FLANNEL_MTU" => env.mtu = Some(value.parse().map_err(|_| bad("not a number"))?),
            "FLANNEL_IPMASQ" => {
                env.ipmasq = Some(value.parse().map_err(|_| bad("not true or false"))?)
            }
            // FLANNEL_IPV6_NETWORK, FLANNEL_IPV6_SUBNET, ...: not used by labctl.
            _ => {}
        }
    }
    Ok(Some(env))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{fixture, section};

    fn sections(fixture_name: &str) -> std::collections::BTreeMap<String, Section> {
        section::by_name(section::parse_output(&fixture(fixture_name)).unwrap())
    }

    #[test]
    fn gathered_in_the_same_round_trip_as_the_core_facts() {
        let script = gather_script(&[]);
        for needle in [
            "fact addresses ip -j addr show\n",
            "fact flannel_link ip -d -j link show flannel.1\n",
            "file_fact flannel_subnet_env /run/flannel/subnet.env\n",
        ] {
            assert!(script.contains(needle), "{needle}");
        }
        let worker = parse(&fixture("gather-flannel-worker-0.txt")).unwrap();
        let flannel = worker.flannel();
        assert_eq!(flannel.link.unwrap().local, Some("10.240.0.20".parse().unwrap()));
        assert_eq!(flannel.subnet_env.unwrap().pod_cidr(), Some("10.200.0.0/24".parse().unwrap()));
        // Where flannel never ran, both parts are absent; where the fact was not asked for too.
        let untidy = parse(&fixture("gather-untidy-worker-2.txt")).unwrap();
        assert_eq!(untidy.flannel(), FlannelFacts::default());
        let core_only =
            crate::facts::host::parse(&fixture("gather-flannel-worker-0.txt"), &[]).unwrap();
        assert_eq!(core_only.flannel(), FlannelFacts::default());
        // A section of its own that is missing is named, as a core fact's is.
        let out = fixture("gather-static-worker-1.txt")
            .replace("begin flannel_subnet_env", "begin flannel_subnet");
        assert_eq!(
            parse(&out).unwrap_err().to_string(),
            "fact `flannel_subnet_env`: missing from the host's output"
        );
    }

    #[test]
    fn bound_to_the_lab_nic() {
        let s = sections("gather-flannel-worker-0.txt");
        let link = parse_link(&s[LINK_NAME]).unwrap().unwrap();
        assert_eq!(
            link,
            VxlanLink {
                name: "flannel.1".into(),
                kind: Some("vxlan".into()),
                vni: Some(1),
                local: Some("10.240.0.20".parse().unwrap()),
                underlying: Some("enp0s8".into()),
                port: Some(8472),
                up: true,
                mtu: Some(1450),
            }
        );
        let env = parse_subnet_env(&s[SUBNET_ENV_NAME]).unwrap().unwrap();
        assert_eq!(env.network, Some("10.200.0.0/16".parse().unwrap()));
        assert_eq!(env.subnet, Some("10.200.0.1/24".parse().unwrap()));
        assert_eq!(env.pod_cidr(), Some("10.200.0.0/24".parse().unwrap()));
        assert_eq!((env.mtu, env.ipmasq), (Some(1450), Some(true)));
    }

    #[test]
    fn bound_to_the_nat_nic() {
        let link =
            parse_link(&sections("gather-flannel-nat-worker-1.txt")[LINK_NAME]).unwrap().unwrap();
        assert_eq!(link.local, Some("10.0.2.15".parse().unwrap()));
        assert_eq!(link.underlying.as_deref(), Some("enp0s3"));
    }

    #[test]
    fn absent_device_and_file() {
        let s = sections("gather-static-worker-1.txt");
        assert_eq!(parse_link(&s[LINK_NAME]), Ok(None));
        assert_eq!(parse_subnet_env(&s[SUBNET_ENV_NAME]), Ok(None));
    }

    #[test]
    fn a_bad_line_in_subnet_env_names_the_section_and_line() {
        let s = Section::ran(
            SUBNET_ENV_NAME,
            "FLANNEL_NETWORK=10.200.0.0/16\nFLANNEL_SUBNET=10.200.0.1\n",
        );
        assert_eq!(
            parse_subnet_env(&s).unwrap_err().to_string(),
            "fact `flannel_subnet_env`: line 2: not an IPv4 CIDR: `FLANNEL_SUBNET=10.200.0.1`"
        );
    }
}
