//! `labctl plan CHAPTER`: what `run` would do per host, and why the rest is skipped.
//! It connects and runs only the steps' checks; the one thing it may write is the settling of
//! actions an interrupted run left recorded as started (docs/architecture.md).

use std::fmt::Write as _;

use crate::cli::GlobalArgs;
use crate::commands::lab::{Lab, print_unreachable};
use crate::error::Error;
use crate::output::summary::Status;
use crate::runner::Tally;
use crate::runner::execute::{Context, HostResult, Mode, Selection, execute};
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;

/// Prints the plan of `chapter` for the lab.
/// With `replace`, shows what `run --replace` would do over conflicts.
pub fn run(
    global: &GlobalArgs,
    chapter: &str,
    variant: Option<&str>,
    replace: bool,
) -> Result<(), Error> {
    let mut lab = Lab::open(global, Some(chapter))?;
    let variant = lab.prepare(variant, true, crate::pod_network::gce::Need::Instances)?;
    let variant = lab.variant(Some(&variant), true)?;
    let plan = lab.plan(variant)?;
    let iface_facts = lab.needs_iface_facts(variant)?;
    let log = RunLog::open(&lab.state_dir.logs(), "plan");
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
        true => match lab.state_dir.lock() {
            Ok(lock) => Some(lock),
            Err(e) => {
                crate::complain!(
                    global.sink,
                    "note: actions recorded as started are left to the labctl that holds the lab ({e})"
                );
                None
            }
        },
    };
    let recorder = lab.recorder(&variant.name.value)?;
    if lock.is_some() {
        super::reset::add_hosts_of(&recorder.pending(), &mut hosts);
    }
    let runtime = crate::runner::runtime()?;
    let (results, decision) = runtime.block_on(async {
        let interrupt = Interrupt::listen();
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
        let progress = crate::output::progress::Progress::silent(lab.style);
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
        print_unreachable(&connections, &global.sink);
        Ok::<_, Error>((results, decision))
    })?;
    let mut text = describe(&plan.chapter, &plan.variant, &results);
    if let Some(decision) = &decision {
        let at = text.find('\n').map_or(0, |i| i + 1);
        text.insert_str(at, &format!("\n{}", decision.describe()));
    }
    global.sink.out(&text);
    let tally = Tally::of(&results);
    if tally.conflicts > 0 && tally.failed + tally.unreachable == 0 {
        return Err(Error::Other {
            message: format!(
                "the plan has {} conflict(s): `labctl run` would leave them alone; `--replace` replaces them",
                tally.conflicts
            ),
            code: crate::error::EXIT_FAILED,
        });
    }
    match tally.exit_code(false) {
        0 => Ok(()),
        code => Err(Error::Other {
            message: format!(
                "the plan is incomplete: {} check(s) could not be run",
                tally.failed + tally.unreachable
            ),
            code,
        }),
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
            let line = match a.status {
                Status::Changed => format!("  run   {label}: {}", a.detail),
                Status::Ok => format!("  skip  {label}: {}", a.detail),
                Status::Unreachable => format!("  ????  {label}: host unreachable: {}", a.detail),
                Status::Failed => format!("  ????  {label}: check could not run: {}", a.detail),
                Status::Skipped => format!("  skip  {label}: {}", a.detail),
                Status::Conflict => format!("  conflict  {label}: {}", a.detail),
            };
            let _ = writeln!(out, "{line}");
        }
    }
    let t = Tally::of(results);
    let conflicts = match t.conflicts {
        0 => String::new(),
        n => format!(", {n} in conflict"),
    };
    if t.changed == 0 && t.failed == 0 && t.unreachable == 0 && t.conflicts == 0 {
        let _ = writeln!(out, "\nplan: nothing to change ({} already done)", t.ok);
    } else {
        let _ = writeln!(
            out,
            "\nplan: {} to change, {} already done, {} unknown{conflicts}",
            t.changed,
            t.ok,
            t.failed + t.unreachable
        );
    }
    out
}
