//! `labctl show CHAPTER`: a chapter's variants, steps and verify checks.

use std::fmt::Write as _;

use crate::chapter::schema::{RouteExpectation, Target, VerifyCheck};
use crate::chapter::{Catalog, Chapter};
use crate::error::Error;

/// Prints the chapter called (or stored at) `name`.
pub fn run(name: &str) -> Result<(), Error> {
    let chapter = Catalog::from_env().load(name)?;
    print!("{}", describe(&chapter));
    Ok(())
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
    let _ = writeln!(
        out,
        "default variant: {} (provider ssh), {} (provider vagrant), {} (provider gce)",
        d.ssh.value, d.vagrant.value, d.gce.value
    );
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
        }
        if !variant.verify.is_empty() {
            let checks: Vec<String> = variant.verify.iter().map(describe_check).collect();
            let _ = writeln!(out, "  verify: {}", checks.join("; "));
        }
    }
    out
}

fn describe_check(check: &VerifyCheck) -> String {
    match check {
        VerifyCheck::RouteEvidence { expect } => format!(
            "route evidence ({})",
            match expect {
                RouteExpectation::ViaPeer => "via the other worker",
                RouteExpectation::ViaGateway => "via the VPC gateway",
                RouteExpectation::ViaFlannel => "via flannel.1",
            }
        ),
        VerifyCheck::PodMatrix { count } => format!("pod-to-pod matrix ({count} pings per pair)"),
        VerifyCheck::RolloutReady { namespace, daemonset } => {
            format!("daemonset {}/{} ready", namespace.value, daemonset.value)
        }
        VerifyCheck::GceRoutes {} => "GCE routes present".to_string(),
        VerifyCheck::FlannelState {} => {
            "flannel.1 on the lab address, subnet in the cluster CIDR".to_string()
        }
        VerifyCheck::Command { name, target, .. } => {
            format!("{} (on {})", name.value, target.as_str())
        }
    }
}
