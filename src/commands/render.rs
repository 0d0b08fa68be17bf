//! `labctl render CHAPTER`: the plan for the inventory, printed or written as scripts.
//! Nothing on any machine is touched.

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::GlobalArgs;
use crate::error::Error;
use crate::plan::{HostPlan, Plan};
use crate::template::shell::quote;

/// Renders `chapter` for the inventory in effect.
pub fn run(
    global: &GlobalArgs,
    chapter: &str,
    variant: Option<&str>,
    out: Option<&Path>,
) -> Result<(), Error> {
    let chapter = crate::commands::course().load(chapter)?;
    let mut inventory = super::load_inventory(global)?;
    let variant = chapter.variant(variant, inventory.provider)?;
    if variant.cloud == Some(crate::chapter::Cloud::Gce) {
        // Offline: gcloud is not asked, so project and zone are what the inventory says.
        let settings = crate::pod_network::gce::settings(&inventory, &variant.name.value)?;
        crate::pod_network::settings::set_gce(&mut inventory, &settings);
    }
    let plan = crate::plan::render(&chapter, variant, &inventory)?;
    match out {
        None => global.shell.out(&describe(&plan, &inventory.source)),
        Some(dir) => {
            let written = write_scripts(&plan, dir)?;
            for path in written {
                global.shell.status(&format!("wrote {}", path.display()));
            }
        }
    }
    Ok(())
}

/// The text `labctl render` prints.
pub fn describe(plan: &Plan, inventory: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# chapter {}, variant {}, inventory {}",
        plan.chapter,
        plan.variant,
        inventory.display()
    );
    let mut inputs = Vec::new();
    for host in &plan.hosts {
        let _ = writeln!(out, "\n## {}", host_title(host));
        for step in &host.steps {
            for action in &step.actions {
                let sudo = if step.sudo { " [sudo]" } else { "" };
                let item = action.item.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
                let _ = writeln!(out, "# {}{item}{sudo}: {}", step.name, step.summary.trim());
                let _ = writeln!(out, "check: {}", action.check);
                let _ = writeln!(out, "run:   {}", action.run);
                let _ = writeln!(out, "undo:  {}", action.undo);
                if let (Some(conflict), Some(replace)) = (&action.conflict, &action.replace) {
                    let _ = writeln!(out, "conflict: {conflict}");
                    let _ = writeln!(out, "replace:  {replace}");
                }
                if let Some(input) = &action.stdin {
                    let _ = writeln!(out, "stdin: {} (below)", input.template);
                    inputs.push((host.host.name().to_string(), step.name.clone(), input));
                }
            }
        }
    }
    for (host, step, input) in inputs {
        let _ = writeln!(
            out,
            "\n## stdin of {step} on {host}: {}\n{}",
            input.template,
            input.text.trim_end()
        );
    }
    out
}

fn host_title(host: &HostPlan) -> String {
    match host.address {
        Some(a) => format!("{} ({a})", host.host.name()),
        None => "local (this machine)".to_string(),
    }
}

/// Writes `<host>.sh` (what `run` does) and `<host>.reset.sh` (what `reset` does) per host,
/// plus every rendered stdin file; returns the paths written.
fn write_scripts(plan: &Plan, dir: &Path) -> Result<Vec<std::path::PathBuf>, Error> {
    std::fs::create_dir_all(dir)
        .map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    let mut written = Vec::new();
    for host in &plan.hosts {
        let name = host.host.name();
        let header = format!(
            "#!/bin/sh\n# Rendered by labctl: chapter {}, variant {}, {}.\n",
            plan.chapter,
            plan.variant,
            host_title(host)
        );
        let mut apply = format!(
            "{header}# Each action runs only when its check fails, as `labctl run` does.\nset -eu\ncd \"$(dirname \"$0\")\"\n"
        );
        let mut reset = format!(
            "{header}# Undoes the chapter's steps in reverse order, as `labctl reset` does.\nset -eu\ncd \"$(dirname \"$0\")\"\n"
        );
        let mut undo_blocks = Vec::new();
        let mut conflicts = false;
        for step in &host.steps {
            for (i, action) in step.actions.iter().enumerate() {
                let input = match &action.stdin {
                    Some(rendered) => {
                        let file = format!(
                            "{name}.{}{}.{}",
                            step.name,
                            suffix(step.actions.len(), i),
                            extension(&rendered.template)
                        );
                        let path = dir.join(&file);
                        crate::atomic_file::write(&path, rendered.text.as_bytes(), false)?;
                        written.push(path);
                        format!(" < {}", quote(&file).unwrap_or_default())
                    }
                    None => String::new(),
                };
                let item = action.item.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
                let run = match &action.conflict {
                    // As `labctl run` without `--replace`: what is in the way is left alone.
                    Some(conflict) => {
                        conflicts = true;
                        format!(
                            "if {}{input}; then\n    echo {} >&2\n    conflicts=$((conflicts + 1))\n  else\n    {}{input}\n  fi",
                            shell(conflict, step.sudo),
                            quote(&format!("^ {}{item}: in conflict, left alone", step.name))
                                .unwrap_or_default(),
                            shell(&action.run, step.sudo)
                        )
                    }
                    None => format!("{}{input}", shell(&action.run, step.sudo)),
                };
                let _ = write!(
                    apply,
                    "\n# {}{item}: {}\nif ! {}{input}; then\n  {run}\nfi\n",
                    step.name,
                    step.summary.trim(),
                    shell(&action.check, step.sudo),
                );
                undo_blocks.push(format!(
                    "\n# undo {}{item}\n{}{input}\n",
                    step.name,
                    shell(&action.undo, step.sudo)
                ));
            }
        }
        if conflicts {
            apply = apply.replacen("set -eu\n", "set -eu\nconflicts=0\n", 1);
            apply.push_str("\ntest \"$conflicts\" -eq 0\n");
        }
        for block in undo_blocks.iter().rev() {
            reset.push_str(block);
        }
        for (file, text) in [(format!("{name}.sh"), apply), (format!("{name}.reset.sh"), reset)] {
            let path = dir.join(file);
            crate::atomic_file::write(&path, text.as_bytes(), true)?;
            written.push(path);
        }
    }
    Ok(written)
}

fn suffix(count: usize, index: usize) -> String {
    if count > 1 { format!("-{}", index + 1) } else { String::new() }
}

/// `kube-flannel.yaml.j2` → `yaml`.
fn extension(template: &str) -> &str {
    let base = template.strip_suffix(".j2").unwrap_or(template);
    base.rsplit('.').next().filter(|e| !e.contains('/')).unwrap_or("txt")
}

/// A command line that runs `command` with `sh -c`, through `sudo -n` if asked.
fn shell(command: &str, sudo: bool) -> String {
    let quoted = quote(command).unwrap_or_default();
    if sudo { format!("sudo -n sh -c {quoted}") } else { format!("sh -c {quoted}") }
}
