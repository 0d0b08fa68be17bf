//! A plan: a chapter variant turned into concrete commands per host for one inventory.
//!
//! Rendering a plan touches nothing. `labctl render` prints it; the runner (later) executes it,
//! asking each action's `check` first.

pub mod files;
pub mod footprint;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use minijinja::Value;

use crate::chapter::Chapter;
use crate::chapter::schema::{ForEach, Step, Target, Variant};
use crate::diagnostic::Diagnostic;
use crate::inventory::{Inventory, Node};
use crate::template::context::{Variables, base_context};
use crate::template::{Located, Renderer};

/// Where a step runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum HostRef {
    /// The operator's machine.
    Local,
    /// A node of the inventory, by name.
    Node(String),
}

impl HostRef {
    /// The host a name stands for, as [`HostRef::name`] writes it (in the state, the logs).
    pub fn named(name: &str) -> HostRef {
        match name {
            "local" => HostRef::Local,
            node => HostRef::Node(node.to_string()),
        }
    }

    /// The host's name for messages and file names (`local` for the operator's machine).
    pub fn name(&self) -> &str {
        match self {
            HostRef::Local => "local",
            HostRef::Node(n) => n,
        }
    }
}

/// A rendered template that is fed to a command on stdin.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RenderedInput {
    /// The template's path under `templates/`.
    pub template: String,
    pub text: String,
}

/// One concrete instance of a step on a host (one per `for_each` item).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Action {
    /// What the instance is for, e.g. `peer worker-1`; `None` without `for_each`.
    pub item: Option<String>,
    pub check: String,
    pub run: String,
    pub undo: String,
    /// Exit 0 means something else is in the way (only asked when `check` fails).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
    /// Run instead of `run` over a conflict, with `--replace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace: Option<String>,
    pub stdin: Option<RenderedInput>,
    /// The file this action puts (its check, run and undo are labctl's; see [`files`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub put: Option<files::PutFile>,
    /// The file this action fetches into the working directory (see [`files`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch: Option<files::FetchFile>,
    /// The footprint items this action leaves (see the step's `leaves`), words joined by one space.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leaves: Vec<String>,
}

/// A step as planned on one host.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedStep {
    pub name: String,
    pub summary: String,
    pub sudo: bool,
    /// How long each of its commands may take (the step's `timeout`, else the default).
    #[serde(serialize_with = "as_seconds")]
    pub timeout: std::time::Duration,
    pub actions: Vec<Action>,
}

fn as_seconds<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Everything one host will do, in order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostPlan {
    pub host: HostRef,
    /// The node's lab address (none for the operator's machine).
    pub address: Option<Ipv4Addr>,
    pub steps: Vec<PlannedStep>,
}

/// A chapter variant rendered for an inventory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    pub chapter: String,
    pub variant: String,
    pub hosts: Vec<HostPlan>,
}

/// Renders `variant` of `chapter` for `inventory`: every command of every step on every host.
pub fn render(
    chapter: &Chapter,
    variant: &Variant,
    inventory: &Inventory,
) -> Result<Plan, Diagnostic> {
    render_with(chapter, variant, inventory, &chapter.variables(inventory)?)
}

/// [`render`] with the chapter's variables given, e.g. made from facts gathered on the lab.
pub fn render_with(
    chapter: &Chapter,
    variant: &Variant,
    inventory: &Inventory,
    vars: &Variables,
) -> Result<Plan, Diagnostic> {
    let renderer = chapter.renderer();
    let base =
        base_context(inventory, chapter.name(), &variant.name.value, &chapter.spec.vars, vars);
    let mut hosts: Vec<HostPlan> = Vec::new();
    for step in &variant.steps {
        let on = targets(step.target, inventory);
        if on.is_empty() && needs_controller(step.target) {
            return Err(no_controller(
                inventory,
                format!(
                    "step `{}` of variant `{}` runs on a controller",
                    step.name.value, variant.name.value
                ),
            ));
        }
        for node in on {
            let host = match node {
                Some(n) => HostRef::Node(n.name.clone()),
                None => HostRef::Local,
            };
            let planned = plan_step(&renderer, &chapter.file, step, node, inventory, vars, &base)?;
            match hosts.iter_mut().find(|h| h.host == host) {
                Some(existing) => existing.steps.push(planned),
                None => hosts.push(HostPlan {
                    host,
                    address: node.map(|n| n.address),
                    steps: vec![planned],
                }),
            }
        }
    }
    Ok(Plan { chapter: chapter.name().to_string(), variant: variant.name.value.clone(), hosts })
}

/// What the inventory lacks for `variant`, as warnings: no controller where the variant
/// runs steps or checks on one, fewer than two workers where it compares workers in pairs.
pub fn lab_warnings(
    chapter: &Chapter,
    variant: &Variant,
    inventory: &Inventory,
) -> Vec<Diagnostic> {
    use crate::chapter::schema::VerifyCheck;
    let mut warnings = Vec::new();
    let named = format!("variant `{}` of {}", variant.name.value, chapter.name());
    let on_controller = variant.steps.iter().any(|s| needs_controller(s.target))
        || variant.verify.iter().any(|c| match c {
            VerifyCheck::Command { target, .. } => needs_controller(*target),
            VerifyCheck::RolloutReady { .. } => true,
            VerifyCheck::Provided(_) => false,
        });
    if on_controller && inventory.controllers().next().is_none() && inventory.kubeconfig.is_none() {
        warnings.push(
            Diagnostic::warning(
                &inventory.source,
                inventory.lines.nodes,
                format!("the inventory has no controller node, and {named} works on one"),
            )
            .with_help("add a node with `role: controller` (KTHW calls it `server`)"),
        );
    }
    let pairwise = chapter.pairwise(variant)
        || variant.steps.iter().any(|s| s.for_each == Some(ForEach::Peers));
    let workers = inventory.workers().count();
    if pairwise && workers < 2 {
        let count = if workers == 0 { "no workers" } else { "only one worker" };
        warnings.push(
            Diagnostic::warning(
                &inventory.source,
                inventory.lines.nodes,
                format!("the inventory has {count}, and {named} works between pairs of workers"),
            )
            .with_help("add worker nodes to see it at work"),
        );
    }
    warnings
}

/// True when `target` names controllers (so an inventory without one cannot do it).
pub fn needs_controller(target: Target) -> bool {
    matches!(target, Target::Controllers | Target::FirstController | Target::Kubectl)
}

/// `what` (a step or footprint part) cannot be planned: the inventory has no controller.
pub fn no_controller(inventory: &Inventory, what: String) -> Diagnostic {
    Diagnostic::error(
        &inventory.source,
        inventory.lines.nodes,
        None,
        format!("{what}, but the inventory has no controller node"),
    )
    .with_help("add a node with `role: controller`, or choose another variant with `--variant`")
}

/// The hosts a step runs on; `None` is the operator's machine.
pub fn targets(target: Target, inventory: &Inventory) -> Vec<Option<&Node>> {
    match target {
        Target::Local => vec![None],
        Target::Workers => inventory.workers().map(Some).collect(),
        Target::Controllers => inventory.controllers().map(Some).collect(),
        Target::FirstController => inventory.controllers().take(1).map(Some).collect(),
        Target::All => inventory.nodes.iter().map(Some).collect(),
        Target::Kubectl if inventory.kubeconfig.is_some() => vec![None],
        Target::Kubectl => inventory.controllers().take(1).map(Some).collect(),
    }
}

fn plan_step(
    renderer: &Renderer,
    file: &Path,
    step: &Step,
    node: Option<&Node>,
    inventory: &Inventory,
    vars: &Variables,
    base: &Value,
) -> Result<PlannedStep, Diagnostic> {
    let host_ctx = match node {
        Some(n) => single("node", vars.node(n)),
        None => Value::from(BTreeMap::<String, Value>::new()),
    };
    let items: Vec<Option<(&'static str, &Node)>> = match step.for_each {
        None => vec![None],
        Some(each) => inventory
            .workers()
            .filter(|w| each != ForEach::Peers || node.is_none_or(|n| n.name != w.name))
            .map(|w| Some((each.variable(), w)))
            .collect(),
    };
    let mut actions = Vec::with_capacity(items.len());
    for item in items {
        let item_ctx = match item {
            Some((var, w)) => single(var, vars.node(w)),
            None => Value::from(BTreeMap::<String, Value>::new()),
        };
        let ctx = minijinja::context! { ..item_ctx, ..host_ctx.clone(), ..base.clone() };
        let command = |s: &serde_saphyr::Spanned<String>| {
            let located = Located::from(s);
            renderer.render_command(file, located, &ctx)
        };
        // Paths and names of files are text, not shell: rendered without quoting.
        let text = |s: &serde_saphyr::Spanned<String>| {
            let located = Located::from(s);
            renderer.render_text(file, located, &ctx)
        };
        if !step.files.is_empty() {
            // A file put leaves its file when the step says so (its footprint lists the paths).
            let leaves = rendered_leaves(step, &text)?;
            for put in &step.files {
                let mut action = put_action(renderer, file, put, &ctx, &text)?;
                if let Some(put) = &action.put {
                    let own = footprint::normalize(&put.to);
                    action.leaves = leaves.iter().filter(|l| **l == own).cloned().collect();
                }
                actions.push(action);
            }
            continue;
        }
        if !step.fetch.is_empty() {
            for fetch in &step.fetch {
                actions.push(fetch_action(file, fetch, &text)?);
            }
            continue;
        }
        let stdin = match &step.stdin {
            Some(name) => Some(RenderedInput {
                template: name.value.clone(),
                text: renderer.render_manifest(&name.value, &ctx)?,
            }),
            None => None,
        };
        actions.push(Action {
            item: item.map(|(var, w)| format!("{var} {}", w.name)),
            check: required(&step.check, &command)?,
            run: required(&step.run, &command)?,
            undo: required(&step.undo, &command)?,
            put: None,
            fetch: None,
            conflict: step.conflict.as_ref().map(&command).transpose()?,
            replace: step.replace.as_ref().map(&command).transpose()?,
            stdin,
            leaves: rendered_leaves(step, &command)?,
        });
    }
    Ok(PlannedStep {
        name: step.name.value.clone(),
        summary: step.summary.clone(),
        sudo: step.sudo,
        timeout: step.timeout().unwrap_or(crate::chapter::schema::DEFAULT_TIMEOUT),
        actions,
    })
}

/// A command the chapter's validation made sure the step has.
fn required(
    field: &Option<serde_saphyr::Spanned<String>>,
    command: &dyn Fn(&serde_saphyr::Spanned<String>) -> Result<String, Diagnostic>,
) -> Result<String, Diagnostic> {
    field.as_ref().map(command).unwrap_or_else(|| Ok(String::new()))
}

/// The action that puts `file`, its paths and source rendered with `ctx`.
fn put_action(
    renderer: &Renderer,
    chapter_file: &Path,
    file: &crate::chapter::schema::PutFile,
    ctx: &Value,
    text: &dyn Fn(&serde_saphyr::Spanned<String>) -> Result<String, Diagnostic>,
) -> Result<Action, Diagnostic> {
    let bad = |at: &serde_saphyr::Spanned<String>, why: String| {
        Diagnostic::error(
            chapter_file,
            Some(at.referenced.line()),
            Some(at.referenced.column()),
            why,
        )
    };
    let to = text(&file.to)?;
    if !to.starts_with('/') {
        return Err(bad(
            &file.to,
            format!("`to` renders to `{to}`, which is not an absolute path"),
        ));
    }
    let source = match (&file.from, &file.template) {
        (Some(from), _) => {
            let name = text(from)?;
            if name.starts_with('/') || name.split('/').any(|p| p == "..") || name.is_empty() {
                return Err(bad(
                    from,
                    format!(
                        "`from` renders to `{name}`, which is not a file of the lab's working directory"
                    ),
                ));
            }
            files::Source::WorkFile { name }
        }
        (None, Some(template)) => files::Source::Template {
            name: template.value.clone(),
            text: renderer.render_manifest(&template.value, ctx)?,
        },
        (None, None) => return Err(bad(&file.to, "a file needs `from` or `template`".into())),
    };
    let owner = match &file.owner {
        Some(owner) => {
            let owner_text = text(owner)?;
            crate::chapter::schema::parse_owner(&owner_text).map_err(|why| bad(owner, why))?;
            Some(owner_text)
        }
        None => None,
    };
    let mode =
        crate::chapter::schema::parse_mode(&file.mode.value).map_err(|why| bad(&file.mode, why))?;
    let put = files::PutFile { to, mode, owner, source };
    let commands = put.commands(put.known_content()).map_err(|why| bad(&file.to, why))?;
    Ok(Action {
        item: Some(put.item()),
        check: commands.check,
        run: commands.run,
        undo: commands.undo,
        conflict: None,
        replace: None,
        stdin: None,
        put: Some(put),
        fetch: None,
        leaves: Vec::new(),
    })
}

/// The action that fetches `fetch` into the working directory.
fn fetch_action(
    chapter_file: &Path,
    fetch: &crate::chapter::schema::FetchFile,
    text: &dyn Fn(&serde_saphyr::Spanned<String>) -> Result<String, Diagnostic>,
) -> Result<Action, Diagnostic> {
    let bad = |at: &serde_saphyr::Spanned<String>, why: String| {
        Diagnostic::error(
            chapter_file,
            Some(at.referenced.line()),
            Some(at.referenced.column()),
            why,
        )
    };
    let from = text(&fetch.from)?;
    if !from.starts_with('/') {
        return Err(bad(
            &fetch.from,
            format!("`from` renders to `{from}`, which is not an absolute path"),
        ));
    }
    let to = text(&fetch.to)?;
    if !crate::chapter::is_work_file(&to) {
        return Err(bad(
            &fetch.to,
            format!("`to` renders to `{to}`, which is not a file of the lab's working directory"),
        ));
    }
    let mode = match &fetch.mode {
        Some(mode) => {
            crate::chapter::schema::parse_mode(&mode.value).map_err(|why| bad(mode, why))?
        }
        None => 0o600,
    };
    let planned = files::FetchFile { from, to, mode };
    let commands = planned.commands(None).map_err(|why| bad(&fetch.from, why))?;
    let fetch = planned;
    Ok(Action {
        item: Some(fetch.item()),
        check: commands.check,
        run: commands.run,
        undo: commands.local_undo,
        conflict: None,
        replace: None,
        stdin: None,
        put: None,
        fetch: Some(fetch),
        leaves: Vec::new(),
    })
}

/// The items `step`'s `leaves` name, each rendered by `render`: an entry may render to several
/// lines (a loop), one item each.
fn rendered_leaves(
    step: &crate::chapter::Step,
    render: &dyn Fn(&serde_saphyr::Spanned<String>) -> Result<String, Diagnostic>,
) -> Result<Vec<String>, Diagnostic> {
    let mut items = Vec::new();
    for entry in &step.leaves {
        let text = render(entry)?;
        items.extend(text.lines().map(footprint::normalize).filter(|item| !item.is_empty()));
    }
    Ok(items)
}

/// A template context with one variable.
fn single(name: &str, value: Value) -> Value {
    Value::from(BTreeMap::from([(name.to_string(), value)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(chapter: &str, variant: &str, edit: impl Fn(&mut Inventory)) -> Vec<String> {
        let chapter = crate::commands::course().load(chapter).unwrap();
        let variant = chapter.spec.variants.iter().find(|v| v.name.value == variant).unwrap();
        let mut inventory = crate::chapter::sample::sample_inventory();
        edit(&mut inventory);
        lab_warnings(&chapter, variant, &inventory).iter().map(|d| d.message.clone()).collect()
    }

    #[test]
    fn a_lab_is_short_of_what_its_variant_works_on_only() {
        let one_worker = |inv: &mut Inventory| {
            inv.nodes.retain(|n| n.role != crate::inventory::Role::Worker || n.name == "worker-0")
        };
        let no_controller = |inv: &mut Inventory| {
            inv.nodes.retain(|n| n.role != crate::inventory::Role::Controller)
        };
        assert_eq!(
            warnings("11-pod-network-routes", "static", one_worker),
            [
                "the inventory has only one worker, and variant `static` of 11-pod-network-routes works between pairs of workers"
            ]
        );
        assert_eq!(
            warnings("11-pod-network-routes", "static", no_controller),
            Vec::<String>::new()
        );
        assert_eq!(
            warnings("11-pod-network-routes", "flannel", no_controller),
            [
                "the inventory has no controller node, and variant `flannel` of 11-pod-network-routes works on one"
            ]
        );
        assert_eq!(
            warnings("04-certificate-authority", "jumpbox", one_worker),
            Vec::<String>::new()
        );
        assert_eq!(
            warnings("04-certificate-authority", "jumpbox", no_controller),
            [
                "the inventory has no controller node, and variant `jumpbox` of 04-certificate-authority works on one"
            ]
        );
    }
}
