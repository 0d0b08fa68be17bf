//! Judging a chapter's `command` check from what its run gave back: the exit codes it expects,
//! a pattern its output must match, and evidence in the command's own words (a check script
//! that prints why it fails is the best diagnosis a chapter author can write).

use regex::Regex;
use serde_saphyr::Spanned;

use crate::chapter::schema::{Target, VerifyCheck};
use crate::chapter::{Chapter, Variant};
use crate::connector::{CommandOutput, Completion};
use crate::diagnostic::Diagnostic;
use crate::inventory::Inventory;
use crate::plan::HostRef;
use crate::template::Located;
use crate::template::context::base_context;

/// A check about one host, rendered for a lab and ready to run.
#[derive(Debug, Clone)]
pub struct PlannedCheck {
    pub name: String,
    pub host: HostRef,
    pub command: String,
    pub sudo: bool,
    pub expected: Expected,
    /// What to tell the student if it fails.
    pub hint: Option<String>,
}

/// The hosts of `target`, as the chapter's steps would run there.
pub fn hosts_of(target: Target, inventory: &Inventory) -> Vec<HostRef> {
    crate::plan::targets(target, inventory)
        .into_iter()
        .map(|n| n.map_or(HostRef::Local, |n| HostRef::Node(n.name.clone())))
        .collect()
}

/// The variant's checks about single hosts (`rollout_ready` and `command`), rendered for
/// `inventory`: one per check and host of its `where`. Loading a chapter renders them for an
/// example lab, so that a misspelt variable or a bad pattern is found by `labctl show`.
pub fn planned_checks(
    chapter: &Chapter,
    variant: &Variant,
    inventory: &Inventory,
) -> Result<Vec<PlannedCheck>, Diagnostic> {
    let renderer = chapter.renderer();
    let vars = chapter.variables(inventory)?;
    let base =
        base_context(inventory, chapter.name(), &variant.name.value, &chapter.spec.vars, &vars);
    let command = |s: &Spanned<String>, ctx: &minijinja::Value| {
        renderer.render_command(&chapter.file, Located::from(s), ctx)
    };
    let text = |s: &Spanned<String>, ctx: &minijinja::Value| {
        renderer.render_text(&chapter.file, Located::from(s), ctx)
    };
    let hosts = |target: Target| hosts_of(target, inventory);
    let mut planned = Vec::new();
    for check in &variant.verify {
        match check {
            VerifyCheck::RolloutReady { namespace, daemonset } => {
                let ns = command(namespace, &base)?;
                let ds = command(daemonset, &base)?;
                // Where the chapter's `where: kubectl` steps run, with the same kubeconfig.
                let Some(host) = hosts(Target::Kubectl).into_iter().next() else { continue };
                let kubectl: Vec<String> = crate::template::context::kubectl_words(inventory)
                    .iter()
                    .map(|w| crate::template::shell::quote(w).unwrap_or_default())
                    .collect();
                planned.push(PlannedCheck {
                    name: format!("daemonset {ns}/{ds} ready"),
                    host,
                    command: format!(
                        "{} -n {ns} rollout status daemonset/{ds} --timeout=5s",
                        kubectl.join(" ")
                    ),
                    sudo: false,
                    expected: Expected::default(),
                    hint: None,
                });
            }
            VerifyCheck::Command { name, target, sudo, run, expect, hint } => {
                for host in hosts(*target) {
                    let node = match &host {
                        HostRef::Node(n) => inventory.nodes.iter().find(|x| &x.name == n),
                        HostRef::Local => None,
                    };
                    let ctx = match node {
                        Some(node) => {
                            minijinja::context! { node => vars.node(node), ..base.clone() }
                        }
                        None => base.clone(),
                    };
                    let mut expected = Expected::default();
                    if let Some(codes) = expect.as_ref().and_then(|e| e.exit.as_ref()) {
                        expected.exit = codes.codes();
                    }
                    if let Some(pattern) = expect.as_ref().and_then(|e| e.output.as_ref()) {
                        let rendered = text(pattern, &ctx)?;
                        let regex = Regex::new(&rendered).map_err(|e| {
                            chapter
                                .error_at(
                                    pattern,
                                    format!(
                                        "`expect.output` of verify check `{}` on {} is `{rendered}`, not a regular expression: {e}",
                                        name.value,
                                        host.name()
                                    ),
                                )
                                .with_help("the syntax is Rust's `regex` crate's (https://docs.rs/regex); a value with `.` or brackets may need `\\` before them")
                        })?;
                        expected.output = Some(regex);
                    }
                    planned.push(PlannedCheck {
                        name: name.value.clone(),
                        command: command(run, &ctx)?,
                        hint: hint.as_ref().map(|h| text(h, &ctx)).transpose()?,
                        host,
                        sudo: *sudo,
                        expected,
                    });
                }
            }
            // Judged by the chapter's own Rust (docs/chapters.md, "A chapter's own Rust").
            VerifyCheck::Provided(_) => {}
        }
    }
    Ok(planned)
}

/// What a passing run looks like.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The exit codes that pass (never empty).
    pub exit: Vec<i32>,
    /// A pattern the standard output must match somewhere.
    pub output: Option<Regex>,
}

impl Default for Expected {
    fn default() -> Expected {
        Expected { exit: vec![0], output: None }
    }
}

/// Whether `out` passes, and the evidence: on a pass, the output's last line; on a failure,
/// how it ended against what was expected, and the last thing it said.
pub fn judge(command: &str, out: &CommandOutput, expected: &Expected) -> (bool, String) {
    let stdout = out.stdout_text();
    let exit_ok = match &out.completion {
        Completion::Exited(code) => expected.exit.iter().any(|e| i64::from(*e) == i64::from(*code)),
        _ => false,
    };
    if !exit_ok {
        let how = match &out.completion {
            Completion::Exited(code) => format!("exited with {code}"),
            Completion::Signal(signal) => format!("was killed by signal {signal}"),
            Completion::NoStatus => "ended without an exit status".to_string(),
        };
        let wanted = if expected.exit == [0] {
            String::new()
        } else {
            format!(" (expected {})", or_list(&expected.exit))
        };
        return (false, with_words(format!("{}{how}{wanted}", named(command)), out));
    }
    if let Some(pattern) = &expected.output
        && !pattern.is_match(&stdout)
    {
        let said = last_line(&stdout)
            .map(|l| format!("; its last line: {l}"))
            .unwrap_or_else(|| "; it printed nothing".into());
        return (false, format!("{}output does not match `{pattern}`{said}", named(command)));
    }
    let evidence = last_line(&stdout).unwrap_or_else(|| format!("{}passed", named(command)));
    (true, evidence)
}

/// The command, quoted, when it is short enough to read in a line; else nothing.
fn named(command: &str) -> String {
    let command = command.trim();
    if command.contains('\n') || command.chars().count() > 72 {
        String::new()
    } else {
        format!("`{command}` ")
    }
}

/// `text`, then the last thing the command said: its last line on stderr, else on stdout.
fn with_words(text: String, out: &CommandOutput) -> String {
    let said = last_line(&out.stderr_text()).or_else(|| last_line(&out.stdout_text()));
    match said {
        Some(said) if text.is_empty() => said,
        Some(said) => format!("{text}: {said}"),
        None => text,
    }
}

fn last_line(text: &str) -> Option<String> {
    text.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string())
}

fn or_list(codes: &[i32]) -> String {
    let words: Vec<String> = codes.iter().map(i32::to_string).collect();
    match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: u32, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
            completion: Completion::Exited(code),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn exit_zero_passes_with_the_last_line_as_evidence() {
        let judged = judge("test -f x", &out(0, "a\nfound x\n\n", ""), &Expected::default());
        assert_eq!(judged, (true, "found x".into()));
        let judged = judge("test -f x", &out(0, "", ""), &Expected::default());
        assert_eq!(judged, (true, "`test -f x` passed".into()));
    }

    #[test]
    fn a_failure_is_told_in_the_commands_own_words() {
        let script = "set -e\ncheck_cert worker-1\n";
        let judged = judge(
            script,
            &out(1, "worker-1's kubelet.crt was issued for worker-0\n", ""),
            &Expected::default(),
        );
        assert_eq!(
            judged,
            (false, "exited with 1: worker-1's kubelet.crt was issued for worker-0".into())
        );
        let judged = judge("test -f x", &out(2, "", "no such file\n"), &Expected::default());
        assert_eq!(judged, (false, "`test -f x` exited with 2: no such file".into()));
    }

    #[test]
    fn other_exit_codes_and_an_output_pattern_can_be_expected() {
        let expected = Expected {
            exit: vec![1, 2],
            output: Some(Regex::new("(?m)^CN ?= ?worker-0$").unwrap()),
        };
        let judged = judge("openssl x", &out(0, "CN = worker-0\n", ""), &expected);
        assert_eq!(
            judged,
            (false, "`openssl x` exited with 0 (expected 1 or 2): CN = worker-0".into())
        );
        let judged = judge("openssl x", &out(2, "subject\nCN = worker-0\n", ""), &expected);
        assert_eq!(judged, (true, "CN = worker-0".into()));
        let judged = judge("openssl x", &out(1, "CN = worker-1\n", ""), &expected);
        assert_eq!(
            judged,
            (false, "`openssl x` output does not match `(?m)^CN ?= ?worker-0$`; its last line: CN = worker-1".into())
        );
    }

    #[test]
    fn a_signal_never_passes() {
        let killed = CommandOutput {
            completion: Completion::Signal("KILL".into()),
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let expected = Expected { exit: vec![0, 137], output: None };
        assert_eq!(
            judge("sleep 9", &killed, &expected),
            (false, "`sleep 9` was killed by signal KILL (expected 0 or 137)".into())
        );
    }
}
