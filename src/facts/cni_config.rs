//! Fact `cni_config PATH`: the CNI network configurations in `/etc/cni/net.d`.
//!
//! The container runtime uses the first file in name order. Verify and plan use it to see
//! which network plugin a node runs (`bridge` with `host-local` in KTHW, `flannel` after the
//! flannel variant) and which pod subnets its IPAM hands out.
//!
//! A file that is not valid JSON is a finding about the node, not a failure to gather facts:
//! it is kept with its [`CniConfig::problem`].

use ipnet::Ipv4Net;
use serde::Serialize;
use serde_json::Value;

use super::{FactError, Section};

/// Section name prefix; the section of a file is `cni_config PATH`.
pub const NAME: &str = "cni_config";
/// Where CNI configurations live.
pub const DIR: &str = "/etc/cni/net.d";

/// The gather script's loop over the directory: one section per file libcni would read
/// (`.conf`, `.conflist`, `.json`), in name order, which is the order libcni tries them in.
pub const SCRIPT: &str = r#"for f in /etc/cni/net.d/*; do
  case "$f" in *.conf|*.conflist|*.json) fact "cni_config $f" cat "$f";; esac
done
"#;

/// One CNI configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CniConfig {
    /// Its full path.
    pub path: String,
    /// The network's `name`.
    pub network: Option<String>,
    pub cni_version: Option<String>,
    /// The plugin types in order: one for a `.conf`, the `plugins` of a `.conflist`.
    pub plugin_types: Vec<String>,
    /// IPv4 subnets found in any plugin's `ipam` (`subnet`, or `ranges[][].subnet`).
    pub subnets: Vec<Ipv4Net>,
    /// The Linux bridge pods are attached to: the `bridge` plugin's `bridge` (default `cni0`),
    /// or flannel's, which delegates to that plugin (`delegate.bridge`, default `cni0`).
    pub bridge: Option<String>,
    /// The MTU the bridge plugin gives pods (`mtu`), when the file sets one.
    pub mtu: Option<u32>,
    /// Where `host-local` keeps its leases: `ipam.dataDir`, default `/var/lib/cni/networks`.
    /// A lease is a file named after the address in `DATA_DIR/NETWORK/`.
    pub data_dir: Option<String>,
    /// Why the file could not be read or understood.
    pub problem: Option<String>,
}

impl CniConfig {
    /// The file's name without its directory.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The directory of this network's `host-local` leases, if it uses host-local.
    pub fn leases_dir(&self) -> Option<String> {
        Some(format!("{}/{}", self.data_dir.as_deref()?, self.network.as_deref()?))
    }
}

/// host-local's default `dataDir`.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";
/// The bridge plugin's default bridge.
pub const DEFAULT_BRIDGE: &str = "cni0";

/// The path a section of this fact reads, if `name` is one.
pub fn path_of(section_name: &str) -> Option<&str> {
    section_name.strip_prefix(NAME)?.strip_prefix(' ')
}

/// Parses one file's section.
pub fn parse(section: &Section) -> Result<CniConfig, FactError> {
    let path = path_of(&section.name)
        .ok_or_else(|| FactError::unexpected(&section.name, "not a CNI config section"))?
        .to_string();
    let mut config = CniConfig {
        path,
        network: None,
        cni_version: None,
        plugin_types: Vec::new(),
        subnets: Vec::new(),
        bridge: None,
        mtu: None,
        data_dir: None,
        problem: None,
    };
    if section.code != 0 || section.absent {
        config.problem = Some(format!("cannot be read: {}", section.stderr.trim()));
        return Ok(config);
    }
    let doc: Value = match serde_json::from_str(&section.stdout) {
        Ok(doc) => doc,
        Err(e) => {
            config.problem = Some(format!("is not valid JSON: {e}"));
            return Ok(config);
        }
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    config.network = text(&doc, "name");
    config.cni_version = text(&doc, "cniVersion");
    let plugins: Vec<&Value> = match doc.get("plugins").and_then(Value::as_array) {
        Some(list) => list.iter().collect(),
        None => vec![&doc],
    };
    for plugin in plugins {
        let kind = text(plugin, "type");
        // flannel writes a bridge plugin config of its own (with host-local) from `delegate`.
        let bridge_plugin = match kind.as_deref() {
            Some("bridge") => Some(plugin),
            Some("flannel") => Some(plugin.get("delegate").unwrap_or(&Value::Null)),
            _ => None,
        };
        if let Some(b) = bridge_plugin
            && config.bridge.is_none()
        {
            config.bridge = Some(text(b, "bridge").unwrap_or_else(|| DEFAULT_BRIDGE.into()));
            config.mtu = b.get("mtu").and_then(Value::as_u64).and_then(|m| u32::try_from(m).ok());
            let ipam = b.get("ipam");
            let host_local = ipam.and_then(|i| text(i, "type")).is_none_or(|t| t == "host-local");
            if host_local {
                config.data_dir = Some(
                    ipam.and_then(|i| text(i, "dataDir"))
                        .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
                );
            }
        }
        if let Some(t) = kind {
            config.plugin_types.push(t);
        }
        if let Some(ipam) = plugin.get("ipam") {
            collect_subnets(ipam, &mut config.subnets);
        }
    }
    if config.plugin_types.is_empty() {
        config.problem = Some("names no plugin `type`".into());
    }
    Ok(config)
}

/// host-local's two forms: `"subnet": "10.200.0.0/24"` (old) and
/// `"ranges": [[{"subnet": "10.200.0.0/24"}]]`. IPv6 subnets are skipped.
fn collect_subnets(ipam: &Value, into: &mut Vec<Ipv4Net>) {
    let mut add = |v: Option<&Value>| {
        if let Some(net) = v.and_then(Value::as_str).and_then(|s| s.parse::<Ipv4Net>().ok()) {
            into.push(net);
        }
    };
    add(ipam.get("subnet"));
    for set in ipam.get("ranges").and_then(Value::as_array).into_iter().flatten() {
        for range in set.as_array().into_iter().flatten() {
            add(range.get("subnet"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{fixture, section};

    fn configs(fixture_name: &str) -> Vec<CniConfig> {
        section::parse_output(&fixture(fixture_name))
            .unwrap()
            .iter()
            .filter(|s| path_of(&s.name).is_some())
            .map(|s| parse(s).unwrap())
            .collect()
    }

    #[test]
    fn flannel_conflist() {
        let c = &configs("gather-flannel-worker-0.txt")[0];
        assert_eq!(c.path, "/etc/cni/net.d/10-flannel.conflist");
        assert_eq!(c.file_name(), "10-flannel.conflist");
        assert_eq!(c.network.as_deref(), Some("cbr0"));
        assert_eq!(c.plugin_types, ["flannel", "portmap"]);
        assert!(c.subnets.is_empty());
        assert_eq!(c.bridge.as_deref(), Some("cni0"));
        assert_eq!(c.leases_dir().as_deref(), Some("/var/lib/cni/networks/cbr0"));
        assert_eq!(c.problem, None);
    }

    #[test]
    fn kthw_bridge_and_loopback() {
        let c = configs("gather-static-worker-1.txt");
        let summary: Vec<String> = c
            .iter()
            .map(|c| {
                let subnets: Vec<String> = c.subnets.iter().map(|s| s.to_string()).collect();
                format!("{} {:?} {:?} {:?}", c.file_name(), c.network, c.plugin_types, subnets)
            })
            .collect();
        assert_eq!(
            summary,
            [
                r#"10-bridge.conf Some("bridge") ["bridge"] ["10.200.1.0/24"]"#,
                r#"99-loopback.conf Some("lo") ["loopback"] []"#,
            ]
        );
        assert_eq!(c[0].bridge.as_deref(), Some("cni0"));
        assert_eq!(c[0].leases_dir().as_deref(), Some("/var/lib/cni/networks/bridge"));
        assert_eq!(c[1].bridge, None);
        assert_eq!(c[1].leases_dir(), None);
    }

    #[test]
    fn broken_json_is_kept_as_a_problem_and_old_host_local_subnet_is_read() {
        let c = configs("gather-untidy-worker-2.txt");
        assert_eq!(c[0].file_name(), "10-bridge.conf");
        assert_eq!(
            c[0].problem.as_deref(),
            Some("is not valid JSON: EOF while parsing an object at line 14 column 0")
        );
        assert_eq!(c[1].network.as_deref(), Some("mynet"));
        assert_eq!(c[1].subnets, ["10.22.0.0/16".parse::<Ipv4Net>().unwrap()]);
    }

    #[test]
    fn an_unreadable_file_is_kept_as_a_problem() {
        let s = Section {
            code: 1,
            stderr: "cat: /etc/cni/net.d/10-x.conf: Permission denied\n".into(),
            ..Section::ran("cni_config /etc/cni/net.d/10-x.conf", "")
        };
        assert_eq!(
            parse(&s).unwrap().problem.as_deref(),
            Some("cannot be read: cat: /etc/cni/net.d/10-x.conf: Permission denied")
        );
    }
}
