//! `labctl plan CHAPTER`: what `run` would do per host, and why the rest is skipped.
//! It connects and runs only the steps' checks; the one thing it may write is the settling of
//! actions an interrupted run left recorded as started (docs/architecture.md).

use std::fmt::Write as _;

use crate::cli::GlobalArgs;
use crate::commands::lab::{Lab, print_unreachable};
use crate::error::Error;
use crate::output::summary::Status;
use crate::plan::Plan;
use crate::runner::Tally;
use crate::runner::execute::{Context, HostResult, Mode, Selection, execute};
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;

/// How `plan` runs and reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Show what `run --replace` would do over conflicts.
    pub replace: bool,
    /// Print the plan as JSON (docs/plan-json.md) instead of text.
    pub json: bool,
    /// Exit 0 when nothing is to do, 2 when changes are pending, 1 on any error.
    pub detailed_exitcode: bool,
}

/// Prints the plan of `chapter` for the lab.
pub fn run(
    global: &GlobalArgs,
    chapter: &str,
    variant: Option<&str>,
    options: Options,
) -> Result<(), Error> {
    let result = plan(global, chapter, variant, options);
    if !options.detailed_exitcode {
        return result;
    }
    match result {
        // Nothing to do.
        Ok(()) => Ok(()),
        Err(Error::Exit(code)) => Err(Error::Exit(code)),
        Err(e @ Error::Interrupted(_)) => Err(e),
        // Every error is 1, so that 2 means only "changes pending" (as terraform does).
        Err(e) => Err(Error::failed(e.to_string())),
    }
}

fn plan(
    global: &GlobalArgs,
    chapter: &str,
    variant: Option<&str>,
    options: Options,
) -> Result<(), Error> {
    let replace = options.replace;
    let (lab, name, plan, iface_facts) = Lab::planned(global, chapter, variant, true)?;
    let variant = lab.variant(Some(&name), true)?;
    let log = RunLog::open(&lab.state_dir.logs(), "plan").echoing(&global.shell);
    let mut hosts = lab.hosts_for(&plan, iface_facts);
    // Actions an earlier run left recorded as started are settled first, so that the plan
    // shows the lab as it is. That writes the state, so it needs the lab's lock; a labctl
    // holding it may be running those very actions, and then they are left to it.
    let any_pending = lab
        .state
        .chapters
        .get(lab.chapter.name())
        .is_some_and(|c| c.applied.iter().any(|a| !a.is_applied()));
    let lock = match any_pending {
        false => None,
        true => {
            match lab.state_dir.lock() {
                Ok(lock) => Some(lock),
                Err(e) => {
                    global.shell.note(&format!("actions recorded as started are left to the labctl that holds the lab ({e})"));
                    None
                }
            }
        }
    };
    let recorder = lab.recorder(&variant.name.value)?;
    if lock.is_some() {
        super::reset::add_hosts_of(&recorder.pending(), &mut hosts);
    }
    let runtime = crate::runner::runtime()?;
    let (results, decision, plan, interrupted) = runtime.block_on(async {
        let interrupt = Interrupt::listen(&global.shell);
        let connections = lab.connect(&hosts, global.concurrency as usize, &log).await?;
        if lock.is_some() {
            lab.settle(&recorder, &connections, &log).await;
        }
        // flanneld's interface comes from the workers' facts (docs/chapters.md, `flannel.iface_args`).
        let (plan, decision) = match iface_facts {
            true => {
                let (p, d) = lab.plan_from_facts(variant, &connections, &log).await?;
                (p, Some(d))
            }
            false => (plan.clone(), None),
        };
        let progress = crate::output::progress::Progress::silent(&lab.shell);
        let ctx = Context {
            hosts: &connections,
            progress: &progress,
            log: &log,
            interrupt: &interrupt,
            recorder: None,
            sudo: lab.inventory.ssh.sudo,
            concurrency: global.concurrency as usize,
            command_timeout: lab.command_timeout,
            workdir: &lab.state_dir.work(),
        };
        let results =
            execute(&plan, Mode::Plan, &Selection { replace, ..Selection::default() }, &ctx).await;
        print_unreachable(&connections, &global.shell);
        Ok::<_, Error>((results, decision, plan, interrupt.by_user()))
    })?;
    if options.json {
        let extra = decision.as_ref().map(|d| d.describe());
        global.shell.out(&json(&plan, &results, extra.as_deref()));
    } else {
        let mut text = describe(&plan.chapter, &plan.variant, &results);
        if let Some(decision) = &decision {
            let at = text.find('\n').map_or(0, |i| i + 1);
            text.insert_str(at, &format!("\n{}", decision.describe()));
        }
        global.shell.out(&text);
    }
    let tally = Tally::of(&results);
    // Not checked (an earlier step failed or conflicted on its host, or Ctrl-C): unknown.
    let unknown = tally.failed + tally.unreachable + tally.skipped;
    if interrupted {
        return Err(Error::with_code(
            crate::error::EXIT_INTERRUPTED,
            "interrupted; the plan is incomplete",
        ));
    }
    if options.detailed_exitcode && unknown == 0 {
        return match tally.changed + tally.conflicts {
            0 => Ok(()),
            _ => Err(Error::Exit(2)),
        };
    }
    if tally.conflicts > 0 && tally.failed + tally.unreachable == 0 {
        return Err(Error::failed(format!(
            "the plan has {} conflict(s): `labctl run` would leave them alone; `--replace` replaces them",
            tally.conflicts
        )));
    }
    match tally.exit_code(false) {
        0 => Ok(()),
        code => Err(Error::with_code(
            code,
            format!(
                "the plan is incomplete: {} check(s) could not be run",
                tally.failed + tally.unreachable
            ),
        )),
    }
}

/// The text `labctl plan` prints.
pub fn describe(chapter: &str, variant: &str, results: &[HostResult]) -> String {
    let mut out = format!("# plan: chapter {chapter}, variant {variant}\n");
    for host in results {
        let _ = writeln!(out, "\n## {}", host.host);
        for a in &host.actions {
            let label = match &a.item {
                Some(item) => format!("{} ({item})", a.step),
                None => a.step.clone(),
            };
            let (word, detail) = match a.status {
                Status::Changed => ("run", a.detail.clone()),
                Status::Ok => ("skip", a.detail.clone()),
                Status::Skipped => ("unknown", format!("not checked: {}", a.detail)),
                Status::Unreachable => ("unknown", format!("host unreachable: {}", a.detail)),
                Status::Failed => ("unknown", format!("check could not run: {}", a.detail)),
                Status::Conflict => ("conflict", a.detail.clone()),
            };
            // One column of words as wide as the widest, `conflict`.
            let line = format!("  {word:<8}  {label}: {detail}");
            let _ = writeln!(out, "{line}");
        }
    }
    let t = Tally::of(results);
    let conflicts = match t.conflicts {
        0 => String::new(),
        n => format!(", {n} in conflict"),
    };
    if t.changed == 0 && t.failed + t.unreachable + t.skipped == 0 && t.conflicts == 0 {
        let _ = writeln!(out, "\nplan: nothing to change ({} already done)", t.ok);
    } else {
        let _ = writeln!(
            out,
            "\nplan: {} to change, {} already done, {} unknown{conflicts}",
            t.changed,
            t.ok,
            t.failed + t.unreachable + t.skipped
        );
    }
    out
}

/// What a planned action will do, in `plan --output json` (docs/plan-json.md).
fn json_status(status: Status) -> &'static str {
    match status {
        Status::Changed => "change",
        Status::Ok => "done",
        Status::Unreachable | Status::Failed | Status::Skipped => "unknown",
        Status::Conflict => "conflict",
    }
}

/// `plan --output json` (docs/plan-json.md).
#[derive(serde::Serialize)]
struct JsonPlan<'a> {
    chapter: &'a str,
    variant: &'a str,
    summary: JsonSummary,
    /// What labctl decided from facts before planning (flanneld's interface), in words.
    decisions: Vec<&'a str>,
    hosts: Vec<JsonHost<'a>>,
}

#[derive(serde::Serialize)]
struct JsonSummary {
    change: usize,
    done: usize,
    unknown: usize,
    conflict: usize,
}

#[derive(serde::Serialize)]
struct JsonHost<'a> {
    host: &'a str,
    address: Option<std::net::Ipv4Addr>,
    actions: Vec<JsonAction<'a>>,
}

#[derive(serde::Serialize)]
struct JsonAction<'a> {
    step: &'a str,
    item: Option<&'a str>,
    status: &'static str,
    detail: &'a str,
    sudo: bool,
    check: Option<&'a str>,
    run: Option<&'a str>,
    replace: Option<&'a str>,
    undo: Option<&'a str>,
}

/// `plan --output json`: per host, every action with what it will do and its exact commands
/// (docs/plan-json.md).
pub fn json(plan: &Plan, results: &[HostResult], decision: Option<&str>) -> String {
    let t = Tally::of(results);
    let hosts = results
        .iter()
        .map(|host| {
            let planned = plan.hosts.iter().find(|h| h.host.name() == host.host);
            let actions = host
                .actions
                .iter()
                .map(|a| {
                    let step = planned.and_then(|h| h.steps.iter().find(|s| s.name == a.step));
                    let action = step.and_then(|s| s.actions.iter().find(|x| x.item == a.item));
                    JsonAction {
                        step: &a.step,
                        item: a.item.as_deref(),
                        status: json_status(a.status),
                        detail: &a.detail,
                        sudo: step.is_some_and(|s| s.sudo),
                        check: action.map(|x| x.check.as_str()),
                        run: action.map(|x| x.run.as_str()),
                        replace: action.and_then(|x| x.replace.as_deref()),
                        undo: action.map(|x| x.undo.as_str()),
                    }
                })
                .collect();
            JsonHost { host: &host.host, address: planned.and_then(|h| h.address), actions }
        })
        .collect();
    let value = JsonPlan {
        chapter: &plan.chapter,
        variant: &plan.variant,
        summary: JsonSummary {
            change: t.changed,
            done: t.ok,
            unknown: t.failed + t.unreachable + t.skipped,
            conflict: t.conflicts,
        },
        decisions: decision.into_iter().collect(),
        hosts,
    };
    serde_json::to_string_pretty(&value).expect("a plan serializes to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::execute::ActionResult;

    /// Every field `plan --output json` writes is in docs/plan-json.md.
    #[test]
    fn every_json_field_is_documented() {
        let chapter = crate::commands::course().load("11-pod-network-routes").unwrap();
        let variant = chapter.variant(Some("static"), crate::inventory::Provider::Ssh).unwrap();
        let plan = crate::plan::render(&chapter, variant, &chapter.example_lab()).unwrap();
        let host = &plan.hosts[0];
        let action = &host.steps[0].actions[0];
        let results = vec![HostResult {
            host: host.host.name().to_string(),
            actions: vec![ActionResult {
                step: host.steps[0].name.clone(),
                item: action.item.clone(),
                status: Status::Changed,
                detail: action.run.clone(),
                unsettled: false,
            }],
        }];
        let value: serde_json::Value =
            serde_json::from_str(&json(&plan, &results, Some("flannel interface: x"))).unwrap();
        assert_eq!(value["hosts"][0]["actions"][0]["run"], action.run.as_str());
        let docs = include_str!("../../docs/plan-json.md");
        let mut missing = Vec::new();
        let mut names = Vec::new();
        for (key, v) in value.as_object().unwrap() {
            match v.as_object() {
                Some(fields) if key == "summary" => {
                    names.extend(fields.keys().map(|k| format!("summary.{k}")))
                }
                _ => names.push(key.clone()),
            }
        }
        names.extend(value["hosts"][0].as_object().unwrap().keys().cloned());
        names.extend(value["hosts"][0]["actions"][0].as_object().unwrap().keys().cloned());
        for name in names {
            if !docs.contains(&format!("`{name}`")) {
                missing.push(name);
            }
        }
        assert!(missing.is_empty(), "not in docs/plan-json.md: {missing:?}");
    }

    /// An action whose check never ran (its host stopped at an earlier failure or conflict)
    /// is unknown, never done.
    #[test]
    fn an_unchecked_action_is_unknown() {
        let chapter = crate::commands::course().load("11-pod-network-routes").unwrap();
        let variant = chapter.variant(Some("static"), crate::inventory::Provider::Ssh).unwrap();
        let plan = crate::plan::render(&chapter, variant, &chapter.example_lab()).unwrap();
        let host = &plan.hosts[0];
        let results = vec![HostResult {
            host: host.host.name().to_string(),
            actions: vec![ActionResult {
                step: host.steps[0].name.clone(),
                item: host.steps[0].actions[0].item.clone(),
                status: Status::Skipped,
                detail: "step `x` failed on this host".into(),
                unsettled: false,
            }],
        }];
        let value: serde_json::Value = serde_json::from_str(&json(&plan, &results, None)).unwrap();
        assert_eq!(value["hosts"][0]["actions"][0]["status"], "unknown");
        assert_eq!(value["summary"]["unknown"], 1);
        assert_eq!(value["summary"]["done"], 0);
        let text = describe(&plan.chapter, &plan.variant, &results);
        assert!(text.contains("  unknown   pod-routes (peer worker-1): not checked: step `x` failed on this host\n"), "{text}");
        assert!(text.ends_with("plan: 0 to change, 0 already done, 1 unknown\n"), "{text}");
    }
}
