//! `labctl show CHAPTER`: a chapter's variants, steps and verify checks.

use std::fmt::Write as _;

use crate::chapter::Chapter;
use crate::chapter::schema::{Target, VerifyCheck};
use crate::error::Error;
use crate::template::Located;
use serde_saphyr::Spanned;

/// Prints the chapter called (or stored at) `name`.
pub fn run(shell: &crate::output::shell::Shell, name: &str, json: bool) -> Result<(), Error> {
    let chapter = crate::commands::course().load(name)?;
    match json {
        true => crate::say!(shell, "{}", describe_json(&chapter)),
        false => shell.out(&describe(&chapter)),
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct ShownChapter<'a> {
    chapter: &'a str,
    title: &'a str,
    summary: &'a str,
    /// The variant used for each inventory provider when `--variant` is not given.
    default_variant: std::collections::BTreeMap<&'static str, &'a str>,
    variants: Vec<ShownVariant<'a>>,
}

#[derive(serde::Serialize)]
struct ShownVariant<'a> {
    name: &'a str,
    summary: &'a str,
    steps: Vec<ShownStep<'a>>,
    /// Each verify check in words, as the text shows it.
    verify: Vec<String>,
    /// The footprint's parts `reset --hard` removes.
    footprint: Vec<&'a str>,
}

#[derive(serde::Serialize)]
struct ShownStep<'a> {
    name: &'a str,
    summary: &'a str,
    #[serde(rename = "where")]
    target: &'static str,
    for_each: Option<&'static str>,
    sudo: bool,
}

/// `labctl show --output json` (docs/json.md).
pub fn describe_json(chapter: &Chapter) -> String {
    let spec = &chapter.spec;
    let d = &spec.default_variant;
    let variants = spec
        .variants
        .iter()
        .map(|variant| ShownVariant {
            name: &variant.name.value,
            summary: variant.summary.trim(),
            steps: variant
                .steps
                .iter()
                .map(|s| ShownStep {
                    name: &s.name.value,
                    summary: s.summary.trim(),
                    target: s.target.as_str(),
                    for_each: s.for_each.map(|e| e.as_str()),
                    sudo: s.sudo,
                })
                .collect(),
            verify: checks_in_words(chapter, variant),
            footprint: variant.footprint.iter().map(|p| p.name.value.as_str()).collect(),
        })
        .collect();
    let shown = ShownChapter {
        chapter: chapter.name(),
        title: &spec.title,
        summary: spec.summary.trim(),
        default_variant: [
            ("ssh", d.ssh.value.as_str()),
            ("vagrant", d.vagrant.value.as_str()),
            ("gce", d.gce.value.as_str()),
        ]
        .into_iter()
        .collect(),
        variants,
    };
    serde_json::to_string_pretty(&shown).expect("a chapter serializes")
}

/// The text `labctl show` prints.
pub fn describe(chapter: &Chapter) -> String {
    let spec = &chapter.spec;
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}", chapter.name(), spec.title);
    if !spec.summary.trim().is_empty() {
        let _ = writeln!(out, "{}", spec.summary.trim());
    }
    let d = &spec.default_variant;
    if d.ssh.value == d.vagrant.value && d.ssh.value == d.gce.value {
        let _ = writeln!(out, "default variant: {} (every provider)", d.ssh.value);
    } else {
        let _ = writeln!(
            out,
            "default variant: {} (provider ssh), {} (provider vagrant), {} (provider gce)",
            d.ssh.value, d.vagrant.value, d.gce.value
        );
    }
    for variant in &spec.variants {
        let _ = writeln!(out, "\nvariant {}: {}", variant.name.value, variant.summary.trim());
        for (i, step) in variant.steps.iter().enumerate() {
            let mut place = match step.target {
                Target::Kubectl => {
                    "where kubectl runs (first controller, or this machine with a kubeconfig)"
                        .to_string()
                }
                other => format!("on {}", other.as_str()),
            };
            if let Some(each) = step.for_each {
                let _ =
                    write!(place, ", for each of the {} (as `{}`)", each.as_str(), each.variable());
            }
            if step.sudo {
                place.push_str(", with sudo");
            }
            if let Some(stdin) = &step.stdin {
                let _ = write!(place, ", stdin from {}", stdin.value);
            }
            let _ = writeln!(out, "  {}. {} ({place})", i + 1, step.name.value);
            let _ = writeln!(out, "     {}", step.summary.trim());
            for file in &step.files {
                let source = match (&file.from, &file.template) {
                    (Some(from), _) => format!("{} of the working directory", from.value),
                    (None, Some(template)) => format!("template {}", template.value),
                    (None, None) => String::new(),
                };
                let _ = writeln!(
                    out,
                    "     puts {} ({}) from {source}",
                    file.to.value, file.mode.value
                );
            }
            for file in &step.fetch {
                let _ = writeln!(
                    out,
                    "     fetches {} into the working directory as {}",
                    file.from.value, file.to.value
                );
            }
        }
        if !variant.verify.is_empty() {
            let checks = checks_in_words(chapter, variant);
            let _ = writeln!(out, "  verify: {}", checks.join("; "));
        }
        if !variant.footprint.is_empty() {
            let parts: Vec<String> = variant
                .footprint
                .iter()
                .map(|p| format!("{} (on {})", p.name.value, p.target.as_str()))
                .collect();
            let _ = writeln!(out, "  reset --hard removes: {}", parts.join("; "));
        }
    }
    out
}

/// `variant`'s verify checks in words; names written as templates are shown as they come out
/// for KTHW's own lab.
fn checks_in_words(chapter: &Chapter, variant: &crate::chapter::Variant) -> Vec<String> {
    let renderer = chapter.renderer();
    let inventory = chapter.example_lab();
    let sample = crate::template::context::base_context(
        &inventory,
        chapter.name(),
        &variant.name.value,
        &chapter.spec.vars,
        &chapter.variables(&inventory).unwrap_or_default(),
    );
    let shown = |text: &Spanned<String>| {
        renderer
            .render_command(&chapter.file, Located::from(text), &sample)
            .unwrap_or_else(|_| text.value.clone())
    };
    variant.verify.iter().map(|c| describe_check(chapter, c, &shown)).collect()
}

fn describe_check(
    chapter: &Chapter,
    check: &VerifyCheck,
    shown: &dyn Fn(&Spanned<String>) -> String,
) -> String {
    match check {
        VerifyCheck::RolloutReady { namespace, daemonset } => {
            format!("daemonset {}/{} ready", shown(namespace), shown(daemonset))
        }
        VerifyCheck::Command { name, target, .. } => {
            format!("{} (on {})", name.value, target.as_str())
        }
        VerifyCheck::Provided(p) => match chapter.provided_kind(check) {
            Some(kind) => (kind.describe)(p),
            None => p.kind.value.clone(),
        },
    }
}
