//! A variant's footprint (`footprint:` in a chapter file): what in a lab belongs to the
//! variant, found by reading the machines rather than labctl's records, so that `labctl reset
//! --hard` can bring a lab done by hand back to the chapter's start (docs/chapters.md).
//!
//! Rendering touches nothing: each part becomes one read-only `list` command per host. Its
//! `remove` command is rendered later, once per item the `list` printed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use minijinja::Value;
use serde_saphyr::Spanned;

use crate::chapter::Chapter;
use crate::chapter::schema::Variant;
use crate::diagnostic::Diagnostic;
use crate::inventory::Inventory;
use crate::plan::{HostRef, needs_controller, no_controller, targets};
use crate::template::context::base_context;
use crate::template::{Located, Renderer};

/// A variant's footprint rendered for one inventory.
pub struct Footprint {
    pub parts: Vec<PlannedPart>,
    renderer: Renderer,
    file: PathBuf,
}

/// One part of the footprint, on every host it is read on.
pub struct PlannedPart {
    pub name: String,
    pub summary: String,
    pub sudo: bool,
    pub hosts: Vec<PartOnHost>,
    remove: Spanned<String>,
}

/// One part on one host: its rendered `list` command, and what its `remove` is rendered with.
pub struct PartOnHost {
    pub host: HostRef,
    pub list: String,
    context: Value,
}

impl Footprint {
    /// The `remove` command of `part` for `item`, one line its `list` printed on `on`'s host.
    pub fn remove_command(
        &self,
        part: &PlannedPart,
        on: &PartOnHost,
        item: &str,
    ) -> Result<String, Diagnostic> {
        let ctx = minijinja::context! { ..item_context(item), ..on.context.clone() };
        self.renderer.render_command(&self.file, Located::from(&part.remove), &ctx)
    }

    /// Every host the footprint is read on, in first-seen order.
    pub fn hosts(&self) -> Vec<HostRef> {
        let mut hosts: Vec<HostRef> = Vec::new();
        for on in self.parts.iter().flat_map(|p| &p.hosts) {
            if !hosts.contains(&on.host) {
                hosts.push(on.host.clone());
            }
        }
        hosts
    }
}

/// Renders the footprint of `variant` for `inventory`.
pub fn render(
    chapter: &Chapter,
    variant: &Variant,
    inventory: &Inventory,
) -> Result<Footprint, Diagnostic> {
    let renderer = chapter.renderer();
    let vars = chapter.variables(inventory)?;
    let base =
        base_context(inventory, chapter.name(), &variant.name.value, &chapter.spec.vars, &vars);
    let mut parts = Vec::with_capacity(variant.footprint.len());
    for part in &variant.footprint {
        let on = targets(part.target, inventory);
        if on.is_empty() && needs_controller(part.target) {
            return Err(no_controller(
                inventory,
                format!(
                    "footprint `{}` of variant `{}` is read on a controller",
                    part.name.value, variant.name.value
                ),
            ));
        }
        let mut hosts = Vec::with_capacity(on.len());
        for node in on {
            let context = match node {
                Some(n) => {
                    let view = BTreeMap::from([("node".to_string(), vars.node(n))]);
                    minijinja::context! { ..Value::from(view), ..base.clone() }
                }
                None => base.clone(),
            };
            let list =
                renderer.render_command(&chapter.file, Located::from(&part.list), &context)?;
            let host = match node {
                Some(n) => HostRef::Node(n.name.clone()),
                None => HostRef::Local,
            };
            hosts.push(PartOnHost { host, list, context });
        }
        parts.push(PlannedPart {
            name: part.name.value.clone(),
            summary: part.summary.clone(),
            sudo: part.sudo,
            hosts,
            remove: part.remove.clone(),
        });
    }
    Ok(Footprint { parts, renderer, file: chapter.file.clone() })
}

/// The variables a `remove` command gets for one item: `item`, the line as `list` printed it,
/// and `words`, its whitespace-separated words (each quoted on its own in a command).
pub fn item_context(item: &str) -> Value {
    minijinja::context! {
        item => item.trim().to_string(),
        words => item.split_whitespace().map(str::to_string).collect::<Vec<_>>(),
    }
}

/// A rendered `leaves` entry as words joined by one space: the shell quoting the command
/// renderer added is taken off again, so it compares with what `list` prints.
pub fn normalize(rendered: &str) -> String {
    match shlex::split(rendered) {
        Some(words) => words.join(" "),
        None => rendered.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// True when `item`, a line a footprint `list` printed, is what `leaves` (see [`normalize`])
/// names: its first words are exactly the words of `leaves`.
pub fn is_left_by(item: &str, leaves: &str) -> bool {
    let want: Vec<&str> = leaves.split_whitespace().collect();
    let got: Vec<&str> = item.split_whitespace().collect();
    !want.is_empty() && got.len() >= want.len() && got[..want.len()] == want[..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_is_left_by_its_first_words() {
        let leaves = normalize("10.200.1.0/24 via 10.240.0.21");
        assert!(is_left_by("10.200.1.0/24 via 10.240.0.21", &leaves));
        assert!(is_left_by("10.200.1.0/24  via 10.240.0.21 dev enp0s8", &leaves));
        assert!(!is_left_by("10.200.1.0/24 via 10.240.0.29 dev enp0s8", &leaves));
        assert!(!is_left_by("10.200.1.0/24", &leaves));
        assert!(!is_left_by("blackhole 10.200.1.0/24", &leaves));
        assert!(!is_left_by("anything", ""));
    }

    #[test]
    fn normalize_takes_the_quoting_off() {
        assert_eq!(normalize("'a b' c"), "a b c");
        assert_eq!(normalize("route  x"), "route x");
        assert_eq!(normalize("unbalanced 'quote"), "unbalanced 'quote");
    }

    #[test]
    fn remove_gets_the_item_and_its_words_quoted() {
        let renderer = Renderer::new(crate::template::TemplateSource::Builtin);
        let ctx = item_context("10.200.0.0/16 via 10.240.0.21 dev 'x;rm'");
        let text = "ip route del {{ words }} # {{ item }}";
        let out = renderer
            .render_command(
                std::path::Path::new("c.yaml"),
                Located { text, line: 1, column: 1 },
                &ctx,
            )
            .unwrap();
        assert_eq!(
            out,
            r#"ip route del 10.200.0.0/16 via 10.240.0.21 dev "'x;rm'" # "10.200.0.0/16 via 10.240.0.21 dev 'x;rm'""#
        );
    }
}
