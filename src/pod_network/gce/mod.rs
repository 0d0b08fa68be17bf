//! Google Compute Engine through the real `gcloud` CLI: what labctl itself does for a variant
//! with `cloud: gce` (chapter 11's main text, DESIGN §2) before any of its steps run.
//!
//! - [`gcloud`] finds the CLI (missing: exit 2) and runs it without a shell or a prompt;
//! - [`config`] reads gcloud's configuration: the project and zone when the inventory names
//!   none, and whether gcloud can authenticate at all (not logged in: exit 3);
//! - [`instance`] reads each worker's instance (`networkIP`, `pod-cidr` metadata, network),
//!   as the chapter's `gcloud compute instances describe` does, and cross-checks it with the
//!   inventory: a mismatch is reported (exit 2), never guessed;
//! - [`routes`] is verify's `gce_routes` check, with the chapter's `gcloud compute routes list`.
//!
//! The route commands themselves (check, conflict, run, replace, undo) are data in the chapter.

pub mod config;
pub mod gcloud;
pub mod instance;
pub mod names;
pub mod routes;

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::inventory::{Inventory, Provider};
use crate::pod_network::settings::{GceSettings, set_gce};
use config::GcloudConfig;
use gcloud::{Gcloud, command_line, error_tail, is_auth_failure};

/// The host name gcloud calls go by in logs and checks: they run on this machine.
pub const LOG_HOST: &str = "local";

/// How many gcloud processes run at once (each is a Python interpreter).
const CONCURRENT_CALLS: usize = 8;

/// How much a command needs from GCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// gcloud installed and able to authenticate (`reset`: its undo commands are recorded).
    Cli,
    /// Also the project and zone resolved and every worker's instance read and cross-checked
    /// (`plan`, `run`, `verify`).
    Instances,
}

/// The inventory's GCE settings for `variant`: its `gce:` section, or the defaults (network
/// `kubernetes-the-hard-way`, the rest from gcloud) for `provider: gce`.
pub fn settings(inventory: &Inventory, variant: &str) -> Result<GceSettings, Error> {
    match (super::settings::gce(inventory)?, inventory.provider) {
        (Some(gce), _) => Ok(gce),
        (None, Provider::Gce) => Ok(GceSettings::default()),
        (None, _) => Err(Diagnostic::error(
            &inventory.source,
            None,
            None,
            format!("variant `{variant}` acts on Google Compute Engine, but the inventory has no `gce:` section"),
        )
        .with_help("add `gce: { project: PROJECT, network: kubernetes-the-hard-way, zone: ZONE }`, or `provider: gce` to take project and zone from gcloud's configuration")
        .into()),
    }
}

/// Makes `inventory` ready for a `cloud: gce` variant, as far as `need` says: gcloud found and
/// able to authenticate; then the project and zone resolved and written into the inventory's
/// GCE settings (so every command names them), and each worker's pod CIDR taken from its
/// instance where the inventory gives none.
pub async fn prepare(inventory: &mut Inventory, variant: &str, need: Need) -> Result<(), Error> {
    let mut settings = settings(inventory, variant)?;
    let Some(gcloud) = Gcloud::locate() else {
        return Err(Error::bad_input(format!(
            "`gcloud` is not installed (not found on PATH): variant `{variant}` runs the Google Cloud CLI on this machine"
        ))
        .help("install it (https://cloud.google.com/sdk/docs/install), or choose another variant with `--variant`"));
    };
    let config = read_config(&gcloud).await?;
    if !config.can_authenticate() {
        return Err(Error::unreachable("gcloud is not logged in: it has no active account and no credentials").help("run `gcloud auth login` (or `gcloud auth activate-service-account`), then run labctl again"));
    }
    if need == Need::Cli {
        return Ok(());
    }
    let project = settings.project.clone().or(config.project);
    let zone = settings.zone.clone().or(config.zone);
    let missing = |what: &str, key: &str, property: &str, example: &str| {
        Diagnostic::error(
            &inventory.source,
            None,
            None,
            format!("no GCE {what}: the inventory's `gce:` section names none and gcloud's configuration has no `{property}`"),
        )
        .with_help(format!("add `{key}:` to the `gce:` section, or run `gcloud config set {property} {example}`"))
    };
    let (project, zone) = match (project, zone) {
        (Some(p), Some(z)) => (p, z),
        (None, _) => return Err(missing("project", "project", "core/project", "PROJECT").into()),
        (_, None) => return Err(missing("zone", "zone", "compute/zone", "ZONE").into()),
    };
    settings.project = Some(project.clone());
    settings.zone = Some(zone.clone());
    read_instances(&gcloud, inventory, &settings, &project, &zone).await?;
    set_gce(inventory, &settings);
    Ok(())
}

async fn read_config(gcloud: &Gcloud) -> Result<GcloudConfig, Error> {
    let out = gcloud.run(GcloudConfig::ARGS).await.map_err(failed)?;
    if !out.success() {
        return Err(failed(format!(
            "`{}` failed: {}",
            command_line(GcloudConfig::ARGS),
            error_tail(&out)
        )));
    }
    config::parse(&out.stdout_text()).map_err(failed)
}

/// Reads every worker's instance at once, cross-checks it and fills in missing pod CIDRs.
async fn read_instances(
    gcloud: &Gcloud,
    inventory: &mut Inventory,
    settings: &GceSettings,
    project: &str,
    zone: &str,
) -> Result<(), Error> {
    use futures::StreamExt;
    let names: Vec<String> = inventory.workers().map(|w| w.name.clone()).collect();
    let calls: Vec<Vec<&str>> =
        names.iter().map(|name| instance::describe_args(name, project, zone)).collect();
    let outputs: Vec<_> = futures::stream::iter(calls.iter().map(|args| gcloud.run(args)))
        .buffered(CONCURRENT_CALLS)
        .collect()
        .await;
    let mut problems = Vec::new();
    let mut filled = false;
    for (name, output) in names.iter().zip(outputs) {
        let shown = command_line(&instance::describe_args(name, project, zone));
        let out = output.map_err(failed)?;
        let Some(node) = inventory.nodes.iter_mut().find(|n| &n.name == name) else { continue };
        let at = |message: String| Diagnostic::error(&inventory.source, node.line, None, message);
        if !out.success() {
            let stderr = out.stderr_text();
            if is_auth_failure(&stderr) {
                return Err(Error::unreachable(format!(
                    "gcloud could not authenticate: `{shown}` failed: {}",
                    error_tail(&out)
                ))
                .help("run `gcloud auth login`, then run labctl again"));
            }
            if stderr.contains("was not found") {
                problems.push(at(format!("instance `{name}` was not found in project `{project}`, zone `{zone}`"))
                    .with_help("labctl reads each worker's instance by the node's name: name the nodes as the instances are named, or fix `gce.project`/`gce.zone`"));
                continue;
            }
            return Err(failed(format!("`{shown}` failed: {}", error_tail(&out))));
        }
        let found = instance::parse(&out.stdout_text()).map_err(failed)?;
        match instance::reconcile(node, &found, &settings.network) {
            Ok(cidr) => {
                filled |= node.pod_cidr.is_none();
                node.pod_cidr = Some(cidr);
            }
            Err(found_problems) => {
                for problem in found_problems {
                    problems.push(at(problem).with_help(
                        "fix the inventory or the instance: labctl does not guess which is right",
                    ));
                }
            }
        }
    }
    match problems.len() {
        0 => {}
        1 => return Err(Error::Input(problems.remove(0))),
        _ => return Err(Error::Inputs(problems)),
    }
    if filled {
        // Pod CIDRs from the instances get the checks the inventory's own get (overlaps...).
        crate::inventory::lint::check(inventory)?;
        crate::pod_network::settings::lint(inventory)?;
    }
    Ok(())
}

fn failed(message: String) -> Error {
    Error::failed(message)
}
