//! The labctl YAML inventory (DESIGN §5), the canonical format.
//!
//! The file is read into raw structs that mirror it exactly (unknown keys are errors) and keep
//! the position of every value a later check may complain about; then it is converted into an
//! [`Inventory`], parsing addresses and CIDRs and resolving paths, each with a located message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::address::{Field, parse_address, parse_cidr};
use super::model::{
    HostKeyChecking, Inventory, InventoryFormat, KubernetesVersion, NetworkSettings, Node,
    Provider, Role, SettingLines, SshEndpoint, SshSettings, VagrantSettings, Var,
};
use super::paths;
use crate::diagnostic::Diagnostic;

/// The `vars:` entries that may also be written at the top level of the file.
pub const TOP_LEVEL_VARS: &[&str] = &["flannel", "gce"];

/// A whole labctl YAML inventory file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    #[serde(default)]
    provider: Provider,
    kubernetes_version: Option<Spanned<String>>,
    nodes: Spanned<Vec<Spanned<RawNode>>>,
    ssh: Option<RawSsh>,
    network: Option<RawNetwork>,
    /// Settings for chapters, each kept as written (see [`Var`]).
    vars: Option<BTreeMap<String, Spanned<serde_json::Value>>>,
    /// Chapter 11's sections, written at the top level before there was `vars:`; the same as
    /// under `vars:` (the names are [`TOP_LEVEL_VARS`]).
    flannel: Option<Spanned<serde_json::Value>>,
    gce: Option<Spanned<serde_json::Value>>,
    vagrant: Option<RawVagrant>,
    kubeconfig: Option<Spanned<String>>,
}

/// One entry of `nodes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: String,
    role: Role,
    address: Spanned<String>,
    pod_cidr: Option<Spanned<String>>,
    ssh: Option<RawEndpoint>,
}

/// A node's `ssh: { host, port }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    host: Spanned<String>,
    port: Option<u16>,
}

/// The `ssh` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSsh {
    user: Option<String>,
    identity_file: Option<Spanned<String>>,
    port: Option<u16>,
    host_key_checking: Option<HostKeyChecking>,
    sudo: Option<bool>,
}

/// The `network` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    cluster_cidr: Option<Spanned<String>>,
    service_cidr: Option<Spanned<String>>,
}

/// The `vagrant` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVagrant {
    dir: Spanned<String>,
}

/// Reads a labctl YAML inventory file.
pub fn parse_file(path: &Path) -> Result<Inventory, Diagnostic> {
    let text = crate::yaml::read_input(path)?;
    parse_str(path, &text)
}

/// Parses labctl YAML inventory text read from `path` (used for messages and relative paths).
pub fn parse_str(path: &Path, text: &str) -> Result<Inventory, Diagnostic> {
    parse_with_home(path, text, paths::home_dir().as_deref())
}

/// [`parse_str`] with the home directory given, so that tests do not depend on `$HOME`.
fn parse_with_home(path: &Path, text: &str, home: Option<&Path>) -> Result<Inventory, Diagnostic> {
    let raw: RawInventory = crate::yaml::parse_str(path, text)?;
    Convert { file: path, base: paths::inventory_dir(path), home }.inventory(raw)
}

/// What converting raw values needs: where the file is (messages, relative paths) and `~`.
struct Convert<'a> {
    file: &'a Path,
    base: PathBuf,
    home: Option<&'a Path>,
}

impl Convert<'_> {
    fn inventory(&self, raw: RawInventory) -> Result<Inventory, Diagnostic> {
        let kubernetes_version = match &raw.kubernetes_version {
            None => KubernetesVersion::default(),
            Some(v) => v.value.parse().map_err(|e: String| self.error_at(v, e))?,
        };
        let nodes = raw
            .nodes
            .value
            .iter()
            .enumerate()
            .map(|(i, node)| self.node(i, node))
            .collect::<Result<Vec<_>, _>>()?;
        let mut lines =
            SettingLines { nodes: Some(raw.nodes.referenced.line()), ..SettingLines::default() };
        let ssh = match &raw.ssh {
            None => SshSettings::default(),
            Some(s) => self.ssh(s)?,
        };
        let network = match &raw.network {
            None => NetworkSettings::default(),
            Some(n) => self.network(n, &mut lines)?,
        };
        let vars = self.vars(&raw)?;
        let vagrant = match (&raw.vagrant, raw.provider) {
            (Some(v), _) => Some(VagrantSettings { dir: self.path(&v.dir, "vagrant.dir")? }),
            // A vagrant inventory usually sits next to its Vagrantfile.
            (None, Provider::Vagrant) => Some(VagrantSettings { dir: self.base.clone() }),
            (None, _) => None,
        };
        let kubeconfig = match &raw.kubeconfig {
            None => None,
            Some(k) => Some(self.path(k, "kubeconfig")?),
        };
        Ok(Inventory {
            source: self.file.to_path_buf(),
            format: InventoryFormat::Yaml,
            provider: raw.provider,
            kubernetes_version,
            nodes,
            ssh,
            network,
            vars,
            vagrant,
            kubeconfig,
            lines,
        })
    }

    /// `vars:`, with the top-level sections of [`TOP_LEVEL_VARS`] among them.
    fn vars(&self, raw: &RawInventory) -> Result<BTreeMap<String, Var>, Diagnostic> {
        let var = |v: &Spanned<serde_json::Value>| Var {
            value: v.value.clone(),
            line: Some(v.referenced.line()),
        };
        let mut vars: BTreeMap<String, Var> = BTreeMap::new();
        for (name, value) in raw.vars.iter().flatten() {
            vars.insert(name.clone(), var(value));
        }
        for (name, value) in TOP_LEVEL_VARS.iter().zip([&raw.flannel, &raw.gce]) {
            let Some(value) = value else { continue };
            if vars.contains_key(*name) {
                return Err(self
                    .error_at(value, format!("`{name}` is set twice: here and under `vars:`"))
                    .with_help(format!("keep one: `{name}:` at the top level and `vars: {{ {name}: ... }}` mean the same")));
            }
            vars.insert(name.to_string(), var(value));
        }
        Ok(vars)
    }

    fn node(&self, index: usize, raw: &Spanned<RawNode>) -> Result<Node, Diagnostic> {
        let node = &raw.value;
        let address = parse_address(
            &node.address.value,
            &self.field(&node.address, &format!("nodes[{index}].address")),
        )?;
        let pod_cidr = match &node.pod_cidr {
            None => None,
            Some(c) => {
                Some(parse_cidr(&c.value, &self.field(c, &format!("nodes[{index}].pod_cidr")))?)
            }
        };
        let ssh = match &node.ssh {
            None => None,
            Some(e) if e.host.value.trim().is_empty() => {
                return Err(self
                    .error_at(&e.host, format!("the ssh host is empty (nodes[{index}].ssh.host)"))
                    .with_help("write the address or name sshd answers on, or leave `ssh` out"));
            }
            Some(e) => Some(SshEndpoint {
                host: e.host.value.trim().to_string(),
                port: e.port,
                ..SshEndpoint::default()
            }),
        };
        Ok(Node {
            name: node.name.clone(),
            role: node.role,
            address,
            pod_cidr,
            ssh,
            line: Some(raw.referenced.line()),
        })
    }

    fn ssh(&self, raw: &RawSsh) -> Result<SshSettings, Diagnostic> {
        let defaults = SshSettings::default();
        let identity_files = match &raw.identity_file {
            None => Vec::new(),
            Some(f) => vec![self.path(f, "ssh.identity_file")?],
        };
        Ok(SshSettings {
            user: raw.user.clone().unwrap_or(defaults.user),
            identity_files,
            port: raw.port.unwrap_or(defaults.port),
            host_key_checking: raw.host_key_checking.unwrap_or(defaults.host_key_checking),
            sudo: raw.sudo.unwrap_or(defaults.sudo),
        })
    }

    fn network(
        &self,
        raw: &RawNetwork,
        lines: &mut SettingLines,
    ) -> Result<NetworkSettings, Diagnostic> {
        let mut network = NetworkSettings::default();
        if let Some(c) = &raw.cluster_cidr {
            network.cluster_cidr = parse_cidr(&c.value, &self.field(c, "network.cluster_cidr"))?;
            lines.cluster_cidr = Some(c.referenced.line());
        }
        if let Some(c) = &raw.service_cidr {
            network.service_cidr = parse_cidr(&c.value, &self.field(c, "network.service_cidr"))?;
            lines.service_cidr = Some(c.referenced.line());
        }
        Ok(network)
    }

    fn path(&self, raw: &Spanned<String>, name: &str) -> Result<PathBuf, Diagnostic> {
        paths::resolve(&raw.value, &self.base, self.home)
            .map_err(|why| self.error_at(raw, format!("{why} ({name})")))
    }

    fn field<'a, T>(&'a self, at: &Spanned<T>, name: &'a str) -> Field<'a> {
        Field {
            file: self.file,
            line: Some(at.referenced.line()),
            column: Some(at.referenced.column()),
            name,
        }
    }

    fn error_at<T>(&self, at: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(
            self.file,
            Some(at.referenced.line()),
            Some(at.referenced.column()),
            message,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use pretty_assertions::assert_eq;

    use super::*;

    fn home() -> Option<&'static Path> {
        Some(Path::new("/home/u"))
    }

    fn parse(text: &str) -> Result<Inventory, Diagnostic> {
        parse_with_home(Path::new("/lab/labctl.yaml"), text, home())
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(inv) => panic!("expected an error, got {inv:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn full_inventory() {
        let text = "\
provider: vagrant
kubernetes_version: \"1.32\"
nodes:
  - name: server
    role: controller
    address: 10.240.0.10
  - name: worker-0
    role: worker
    address: 10.240.0.20
    pod_cidr: 10.200.0.0/24
    ssh: { host: 127.0.0.1, port: 2222 }
ssh:
  user: vagrant
  identity_file: ~/.vagrant.d/insecure_private_key
  port: 2200
  host_key_checking: off
  sudo: false
network:
  cluster_cidr: 10.200.0.0/16
  service_cidr: 10.32.0.0/24
flannel: { version: v0.27.0, backend: host-gw, iface: enp0s8, image: mirror/flannel }
gce: { project: my-project, network: kthw, zone: us-west1-c }
vagrant: { dir: ./vm }
kubeconfig: ~/.kube/kthw
";
        let inv = parse(text).unwrap();
        let expected = Inventory {
            source: PathBuf::from("/lab/labctl.yaml"),
            format: InventoryFormat::Yaml,
            provider: Provider::Vagrant,
            kubernetes_version: KubernetesVersion { major: 1, minor: 32 },
            nodes: vec![
                Node {
                    name: "server".into(),
                    role: Role::Controller,
                    address: Ipv4Addr::new(10, 240, 0, 10),
                    pod_cidr: None,
                    ssh: None,
                    line: Some(4),
                },
                Node {
                    name: "worker-0".into(),
                    role: Role::Worker,
                    address: Ipv4Addr::new(10, 240, 0, 20),
                    pod_cidr: Some("10.200.0.0/24".parse().unwrap()),
                    ssh: Some(SshEndpoint {
                        host: "127.0.0.1".into(),
                        port: Some(2222),
                        ..SshEndpoint::default()
                    }),
                    line: Some(7),
                },
            ],
            ssh: SshSettings {
                user: "vagrant".into(),
                identity_files: vec![PathBuf::from("/home/u/.vagrant.d/insecure_private_key")],
                port: 2200,
                host_key_checking: HostKeyChecking::Off,
                sudo: false,
            },
            network: NetworkSettings {
                cluster_cidr: "10.200.0.0/16".parse().unwrap(),
                service_cidr: "10.32.0.0/24".parse().unwrap(),
            },
            // Kept as written, for the chapter that reads them.
            vars: [
                (
                    "flannel".to_string(),
                    Var {
                        value: serde_json::json!({
                            "version": "v0.27.0", "backend": "host-gw",
                            "iface": "enp0s8", "image": "mirror/flannel",
                        }),
                        line: Some(21),
                    },
                ),
                (
                    "gce".to_string(),
                    Var {
                        value: serde_json::json!({
                            "project": "my-project", "network": "kthw", "zone": "us-west1-c",
                        }),
                        line: Some(22),
                    },
                ),
            ]
            .into(),
            vagrant: Some(VagrantSettings { dir: PathBuf::from("/lab/vm") }),
            kubeconfig: Some(PathBuf::from("/home/u/.kube/kthw")),
            lines: SettingLines { nodes: Some(4), cluster_cidr: Some(19), service_cidr: Some(20) },
        };
        assert_eq!(inv, expected);
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let inv = parse("nodes:\n  - { name: server, role: controller, address: 10.240.0.10 }\n")
            .unwrap();
        assert_eq!(inv.provider, Provider::Ssh);
        assert_eq!(inv.kubernetes_version, KubernetesVersion::DEFAULT);
        assert_eq!(inv.ssh, SshSettings::default());
        assert_eq!(inv.network, NetworkSettings::default());
        assert!(inv.vars.is_empty());
        assert_eq!(inv.vagrant, None);
        assert_eq!(inv.nodes[0].line, Some(2));
    }

    #[test]
    fn unquoted_version_and_relative_identity() {
        let inv =
            parse("kubernetes_version: 1.30\nnodes: []\nssh: { identity_file: keys/id_ed25519 }\n")
                .unwrap();
        assert_eq!(inv.kubernetes_version, KubernetesVersion { major: 1, minor: 30 });
        assert_eq!(inv.ssh.identity_files, vec![PathBuf::from("/lab/keys/id_ed25519")]);
    }

    #[test]
    fn vagrant_provider_defaults_to_the_inventory_dir() {
        let inv = parse("provider: vagrant\nnodes: []\n").unwrap();
        assert_eq!(inv.vagrant, Some(VagrantSettings { dir: PathBuf::from("/lab") }));
    }

    #[test]
    fn vars_are_kept_as_written_with_their_lines() {
        let inv = parse("nodes: []\nvars:\n  greeting: hello\n  ports: [80, 443]\n").unwrap();
        assert_eq!(inv.vars["greeting"].value, serde_json::json!("hello"));
        assert_eq!(inv.vars["ports"].value, serde_json::json!([80, 443]));
        assert_eq!(inv.vars["ports"].line, Some(4));
    }

    #[test]
    fn bad_pod_cidr_is_located() {
        let text = "\
nodes:
  - name: worker-0
    role: worker
    address: 10.240.0.20
    pod_cidr: 10.200.0.0/33
";
        assert_eq!(
            error(text),
            "/lab/labctl.yaml:5:15: `10.200.0.0/33` is not a valid CIDR (nodes[0].pod_cidr)\n  \
             help: write it as ADDRESS/PREFIX with a prefix from 0 to 32, e.g. `10.200.0.0/24`"
        );
    }

    #[test]
    fn host_bits_are_located() {
        let text = "nodes:\n  - { name: a, role: worker, address: 10.240.0.20, pod_cidr: 10.200.0.5/24 }\n";
        assert_eq!(
            error(text),
            "/lab/labctl.yaml:2:62: `10.200.0.5/24` has host bits set (nodes[0].pod_cidr)\n  \
             help: write the network it belongs to: `10.200.0.0/24`"
        );
    }

    #[test]
    fn bad_address_is_located() {
        let text = "nodes:\n  - name: a\n    role: worker\n    address: 10.240.0.256\n";
        assert_eq!(
            error(text),
            "/lab/labctl.yaml:4:14: `10.240.0.256` is not a valid IPv4 address (nodes[0].address)\n  \
             help: write four numbers from 0 to 255 separated by dots, e.g. `10.240.0.20`"
        );
    }

    #[test]
    fn bad_cluster_cidr_is_located() {
        let text =
            "nodes: []\nnetwork:\n  cluster_cidr: 10.200.0.0/16\n  service_cidr: 10.32.0.1/24\n";
        assert_eq!(
            error(text),
            "/lab/labctl.yaml:4:17: `10.32.0.1/24` has host bits set (network.service_cidr)\n  \
             help: write the network it belongs to: `10.32.0.0/24`"
        );
    }

    #[test]
    fn unknown_key_is_located() {
        let text = "nodes:\n  - name: a\n    role: worker\n    adress: 10.240.0.20\n";
        assert_eq!(
            error(text),
            "/lab/labctl.yaml:4:5: unknown field `adress`, expected one of name, role, address, \
             pod_cidr, ssh"
        );
    }

    #[test]
    fn bad_enum_values_are_located() {
        let text = "nodes: []\nssh: { host_key_checking: sometimes }\n";
        assert_eq!(
            error(text),
            "/lab/labctl.yaml:2:27: unknown variant `sometimes`, expected one of strict, \
             accept-new, off"
        );
        assert_eq!(
            error("provider: aws\nnodes: []\n"),
            "/lab/labctl.yaml:1:11: unknown variant `aws`, expected one of ssh, vagrant, gce"
        );
    }

    #[test]
    fn bad_version_is_located() {
        assert_eq!(
            error("kubernetes_version: \"2.1\"\nnodes: []\n"),
            "/lab/labctl.yaml:1:21: `2.1` is not a Kubernetes version; write it like \"1.32\""
        );
    }

    #[test]
    fn unusable_identity_file_is_located() {
        assert_eq!(
            error("nodes: []\nssh:\n  identity_file: ~bob/id\n"),
            "/lab/labctl.yaml:3:18: `~bob/id`: `~user` paths are not supported; write the full \
             path (ssh.identity_file)"
        );
    }

    #[test]
    fn empty_ssh_host_is_located() {
        let text =
            "nodes:\n  - { name: a, role: worker, address: 10.0.0.1, ssh: { host: \"\" } }\n";
        assert_eq!(
            error(text),
            "/lab/labctl.yaml:2:62: the ssh host is empty (nodes[0].ssh.host)\n  help: write the \
             address or name sshd answers on, or leave `ssh` out"
        );
    }

    #[test]
    fn missing_nodes_is_an_error() {
        assert_eq!(error("provider: ssh\n"), "/lab/labctl.yaml:1:1: missing field `nodes`");
    }
}
