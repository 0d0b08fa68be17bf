//! Chapter 11's settings in the inventory: `vars.flannel` and `vars.gce` (also written at the
//! top level as `flannel:` and `gce:`). The inventory keeps them as written; they are read and
//! checked here, and [`lint`] runs with the inventory's own lints, before any plan.

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::inventory::{Inventory, Var};
use crate::pod_network::gce::names::{gce_name_problem, gce_route_name};

/// flannel's backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlannelBackend {
    #[default]
    Vxlan,
    HostGw,
}

/// The flannel variant's settings (`vars.flannel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlannelSettings {
    /// flannel release, e.g. `v0.28.9`.
    pub version: String,
    /// flannel-cni-plugin release, e.g. `v1.9.0-flannel1`.
    pub cni_plugin_version: String,
    /// Image repositories (configurable for mirrors).
    pub image: String,
    pub cni_plugin_image: String,
    pub backend: FlannelBackend,
    /// `auto` (decided from facts) or a NIC name.
    pub iface: String,
    /// How long `run` waits for the DaemonSet's rollout, in seconds.
    pub rollout_timeout: u32,
}

impl Default for FlannelSettings {
    fn default() -> Self {
        FlannelSettings {
            version: "v0.28.9".into(),
            cni_plugin_version: "v1.9.0-flannel1".into(),
            image: "ghcr.io/flannel-io/flannel".into(),
            cni_plugin_image: "ghcr.io/flannel-io/flannel-cni-plugin".into(),
            backend: FlannelBackend::Vxlan,
            iface: "auto".into(),
            rollout_timeout: 180,
        }
    }
}

/// The gce variant's settings (`vars.gce`); empty fields come from the user's gcloud
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GceSettings {
    pub project: Option<String>,
    pub network: String,
    pub zone: Option<String>,
}

impl Default for GceSettings {
    /// KTHW's VPC network name, so a `gce:` section may leave `network` out.
    fn default() -> Self {
        GceSettings { project: None, network: "kubernetes-the-hard-way".into(), zone: None }
    }
}

/// Reads `vars.NAME` as a `T`, or `None` when the inventory has no such section.
fn section<T: for<'de> Deserialize<'de>>(
    inventory: &Inventory,
    name: &str,
    help: &str,
) -> Result<Option<T>, Diagnostic> {
    let Some(var) = inventory.vars.get(name) else { return Ok(None) };
    // A section written empty (`gce:`) is no section, as it always was.
    if var.value.is_null() {
        return Ok(None);
    }
    let value = var.value.clone();
    serde_json::from_value(value).map(Some).map_err(|e| {
        Diagnostic::error(&inventory.source, var.line, None, format!("`{name}:` section: {e}"))
            .with_help(help.to_string())
    })
}

/// The inventory's flannel settings: its `flannel:` section over the defaults.
pub fn flannel(inventory: &Inventory) -> Result<FlannelSettings, Diagnostic> {
    let help = "the section takes version, cni_plugin_version, image, cni_plugin_image, \
                backend (vxlan or host-gw), iface (auto or a NIC name) and rollout_timeout \
                (seconds); see examples/labctl.yaml";
    let settings: FlannelSettings = section(inventory, "flannel", help)?.unwrap_or_default();
    if !(1..=3600).contains(&settings.rollout_timeout) {
        let line = inventory.vars.get("flannel").and_then(|v| v.line);
        return Err(Diagnostic::error(
            &inventory.source,
            line,
            None,
            format!(
                "flannel.rollout_timeout {} is not 1 to 3600 seconds",
                settings.rollout_timeout
            ),
        )
        .with_help("the rollout usually takes under a minute; the default is 180"));
    }
    Ok(settings)
}

/// The inventory's `gce:` section, if it has one.
pub fn gce(inventory: &Inventory) -> Result<Option<GceSettings>, Diagnostic> {
    let help = "the section takes project, network and zone, e.g. \
                `gce: { project: PROJECT, network: kubernetes-the-hard-way, zone: ZONE }`";
    section(inventory, "gce", help)
}

/// Writes `settings` into the inventory's `gce:` section (once gcloud's configuration has
/// filled in the project and zone), keeping the section's line for messages.
pub fn set_gce(inventory: &mut Inventory, settings: &GceSettings) {
    let line = inventory.vars.get("gce").and_then(|v| v.line);
    let value = serde_json::to_value(settings).unwrap_or_default();
    inventory.vars.insert("gce".into(), Var { value, line });
}

/// Chapter 11's lints of an inventory: its sections read, and the names GCE would refuse.
/// Errors stop as the inventory's own do ([`Error::Inputs`]).
pub fn lint(inventory: &Inventory) -> Result<(), Error> {
    let mut errors = Vec::new();
    if let Err(d) = flannel(inventory) {
        errors.push(d);
    }
    match gce(inventory) {
        Err(d) => errors.push(d),
        Ok(settings) => {
            if settings.is_some() || inventory.provider == crate::inventory::Provider::Gce {
                gce_names(inventory, settings.as_ref(), &mut errors);
            }
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(Error::Input(errors.remove(0))),
        _ => Err(Error::Inputs(errors)),
    }
}

fn gce_names(inventory: &Inventory, settings: Option<&GceSettings>, out: &mut Vec<Diagnostic>) {
    let rule = "GCE names are 1 to 63 lower-case letters, digits and `-`, starting with a letter \
                and not ending with `-`";
    if let Some(gce) = settings
        && let Some(why) = gce_name_problem(&gce.network)
    {
        let line = inventory.vars.get("gce").and_then(|v| v.line);
        out.push(
            Diagnostic::error(
                &inventory.source,
                line,
                None,
                format!("gce.network `{}` is not a valid GCE name: {why}", gce.network),
            )
            .with_help(format!("{rule}, e.g. `kubernetes-the-hard-way`")),
        );
    }
    // Derived route names of IPv4 CIDRs are always valid today; this guards the derivation.
    for node in &inventory.nodes {
        if let Some(cidr) = node.pod_cidr {
            let route = gce_route_name(&cidr);
            if let Some(why) = gce_name_problem(&route) {
                out.push(
                    Diagnostic::error(
                        &inventory.source,
                        node.line,
                        None,
                        format!(
                            "the GCE route name `{route}` for pod_cidr {cidr} of `{}` is not valid: {why}",
                            node.name
                        ),
                    )
                    .with_help(rule),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const LAB: &str = "\
nodes:
  - { name: server, role: controller, address: 10.240.0.10 }
  - { name: worker-0, role: worker, address: 10.240.0.20, pod_cidr: 10.200.0.0/24 }
  - { name: worker-1, role: worker, address: 10.240.0.21, pod_cidr: 10.200.1.0/24 }
";

    fn inventory(text: &str) -> Inventory {
        crate::inventory::yaml_format::parse_str(Path::new("labctl.yaml"), text).unwrap()
    }

    fn problems(text: &str) -> Vec<String> {
        match lint(&inventory(text)) {
            Ok(()) => Vec::new(),
            Err(Error::Input(d)) => vec![d.to_string()],
            Err(Error::Inputs(ds)) => ds.iter().map(|d| d.to_string()).collect(),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn no_sections_mean_the_defaults() {
        let inv = inventory(LAB);
        assert_eq!(flannel(&inv).unwrap(), FlannelSettings::default());
        assert_eq!(gce(&inv).unwrap(), None);
        assert_eq!(problems(LAB), Vec::<String>::new());
    }

    #[test]
    fn sections_at_the_top_level_and_under_vars_are_the_same() {
        let top = inventory(&format!(
            "{LAB}flannel: {{ backend: host-gw, iface: enp0s8 }}\ngce: {{ project: p }}\n"
        ));
        let under = inventory(&format!(
            "{LAB}vars:\n  flannel: {{ backend: host-gw, iface: enp0s8 }}\n  gce: {{ project: p }}\n"
        ));
        for inv in [&top, &under] {
            let f = flannel(inv).unwrap();
            assert_eq!((f.backend, f.iface.as_str()), (FlannelBackend::HostGw, "enp0s8"));
            assert_eq!(f.version, FlannelSettings::default().version);
            let g = gce(inv).unwrap().unwrap();
            assert_eq!(
                (g.project.as_deref(), g.network.as_str()),
                (Some("p"), "kubernetes-the-hard-way")
            );
        }
    }

    /// A message points at the line where the section's value begins (its first key when it
    /// is written as a block).
    #[test]
    fn bad_settings_name_the_section_and_what_it_takes() {
        assert_eq!(
            problems(&format!("{LAB}flannel:\n  backend: udp\n")),
            [
                "labctl.yaml:6: `flannel:` section: unknown variant `udp`, expected `vxlan` or `host-gw`\n  \
              help: the section takes version, cni_plugin_version, image, cni_plugin_image, backend \
              (vxlan or host-gw), iface (auto or a NIC name) and rollout_timeout (seconds); see \
              examples/labctl.yaml"
            ]
        );
        let found = problems(&format!("{LAB}vars:\n  gce: {{ projekt: p }}\n"));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("labctl.yaml:6: `gce:` section: unknown field `projekt`, expected one of `project`, `network`, `zone`"),
            "{found:?}"
        );
    }

    #[test]
    fn gce_network_name() {
        assert_eq!(problems(&format!("{LAB}gce: {{ network: kthw }}\n")), Vec::<String>::new());
        assert_eq!(
            problems(&format!("{LAB}gce:\n  project: p\n  network: KTHW_net\n")),
            [
                "labctl.yaml:6: gce.network `KTHW_net` is not a valid GCE name: it must start with a \
              lower-case letter\n  help: GCE names are 1 to 63 lower-case letters, digits and `-`, \
              starting with a letter and not ending with `-`, e.g. `kubernetes-the-hard-way`"
            ]
        );
    }

    #[test]
    fn a_section_set_twice_is_refused() {
        let text = format!("{LAB}vars:\n  gce: {{ project: a }}\ngce: {{ project: b }}\n");
        let error =
            crate::inventory::yaml_format::parse_str(Path::new("labctl.yaml"), &text).unwrap_err();
        assert!(error.to_string().starts_with("labctl.yaml:7:6: `gce` is set twice"), "{error}");
    }
}
