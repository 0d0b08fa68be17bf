//! `labctl run CHAPTER`: do the chapter on the lab.

use crate::cli::GlobalArgs;
use crate::commands::lab::{Lab, print_unreachable};
use crate::error::Error;
use crate::output::summary;
use crate::runner::Tally;
use crate::runner::execute::{Context, Mode, Selection, execute, step_names};
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;
use crate::runner::state::now;

/// Runs `chapter` on the lab of the inventory in effect.
pub fn run(
    global: &GlobalArgs,
    chapter: &str,
    variant: Option<&str>,
    selection: Selection,
    json: bool,
) -> Result<(), Error> {
    let (lab, name, plan, iface_facts) = Lab::planned(global, chapter, variant, false)?;
    let variant = lab.variant(Some(&name), false)?;
    for step in selection.only.iter().chain(selection.from.iter()) {
        lab.check_step(&plan, step)?;
    }
    let _lock = lab.state_dir.lock()?;
    let log = RunLog::open(&lab.state_dir.logs(), "run").echoing(&global.shell);
    let recorder = lab.recorder(&variant.name.value)?;
    {
        let mut state = recorder.state.lock().map_err(|_| {
            Error::failed("labctl failed inside: the state lock was poisoned by a panic")
        })?;
        state.last_chapter = Some(lab.chapter.name().to_string());
        // Run by its file, the chapter is read from that file by the commands that follow;
        // run by its name, it is the course's again.
        if crate::course::looks_like_path(chapter) {
            let file = std::path::absolute(chapter).unwrap_or_else(|_| chapter.into());
            state.chapter_files.insert(lab.chapter.name().to_string(), file);
        } else {
            state.chapter_files.remove(lab.chapter.name());
        }
        let entry = state.chapters.entry(lab.chapter.name().to_string()).or_default();
        entry.variant = variant.name.value.clone();
        entry.last_run = Some(now());
        lab.state_dir.save(&state)?;
    }
    let mut hosts = lab.hosts_for(&plan, iface_facts);
    super::reset::add_hosts_of(&recorder.pending(), &mut hosts);
    let work: Vec<(String, u64)> = plan
        .hosts
        .iter()
        .map(|h| (h.host.name().to_string(), h.steps.iter().map(|s| s.actions.len() as u64).sum()))
        .collect();
    let runtime = crate::runner::runtime()?;
    let (results, interrupted) = runtime.block_on(async {
        let interrupt = Interrupt::listen(&global.shell);
        let connections = lab.connect(&hosts, global.concurrency as usize, &log).await?;
        lab.settle(&recorder, &connections, &log).await;
        // flanneld's interface comes from the workers' facts (docs/chapters.md, `flannel.iface_args`).
        let facts_plan;
        let plan = match iface_facts {
            true => {
                let (p, decision) = lab.plan_from_facts(variant, &connections, &log).await?;
                // A status line: on stderr when stdout holds JSON.
                global.shell.status(&decision.summary());
                facts_plan = p;
                &facts_plan
            }
            false => &plan,
        };
        let progress = lab.progress(&work);
        let ctx = Context {
            hosts: &connections,
            progress: &progress,
            log: &log,
            interrupt: &interrupt,
            recorder: Some(&recorder),
            sudo: lab.inventory.ssh.sudo,
            concurrency: global.concurrency as usize,
            command_timeout: lab.command_timeout,
            workdir: &lab.state_dir.work(),
        };
        let results = execute(plan, Mode::Run, &selection, &ctx).await;
        progress.clear();
        print_unreachable(&connections, &global.shell);
        Ok::<_, Error>((results, interrupt.by_user()))
    })?;
    let steps = step_names(&plan);
    if json {
        let out = super::ResultsJson {
            command: "run",
            chapter: lab.chapter.name(),
            variant: &variant.name.value,
            summary: Tally::of(&results),
            hosts: &results,
            log: log.path(),
        };
        crate::say!(global.shell, "{}", out.render());
    } else {
        crate::say!(
            global.shell,
            "{}",
            summary::table(
                &lab.shell.style(),
                &steps,
                &crate::runner::summary_rows(&steps, &results),
                "changed",
            )
        );
    }
    for host in &results {
        for action in host.actions.iter() {
            let label = match &action.item {
                Some(item) => format!("{} ({item})", action.step),
                None => action.step.clone(),
            };
            match action.status {
                summary::Status::Failed => global
                    .shell
                    .error(&format!("{}: {}: {}", host.host, action.step, action.detail)),
                _ if action.unsettled => {
                    global.shell.warn(&format!("{}: {label}: {}", host.host, action.detail))
                }
                summary::Status::Conflict => global
                    .shell
                    .error(&format!("{}: {label}: conflict: {}", host.host, action.detail)),
                _ => {}
            }
        }
    }
    let tally = Tally::of(&results);
    let conflicts = match tally.conflicts {
        0 => String::new(),
        n => format!(", {n} in conflict"),
    };
    if !json {
        crate::say!(
            global.shell,
            "run: {} changed, {} ok, {} failed, {} unreachable, {} skipped{conflicts} (log: {})",
            tally.changed,
            tally.ok,
            tally.failed,
            tally.unreachable,
            tally.skipped,
            log.path().display()
        );
    }
    match tally.exit_code(interrupted) {
        0 => Ok(()),
        code => Err(Error::with_code(code, failure_message(&tally, interrupted))),
    }
}

fn failure_message(tally: &Tally, interrupted: bool) -> String {
    if interrupted {
        return "interrupted; what was applied is recorded (`labctl reset` undoes it, `labctl run` goes on)".into();
    }
    let mut parts = Vec::new();
    if tally.failed > 0 {
        parts.push(format!("{} action(s) failed", tally.failed));
    }
    if tally.unreachable > 0 {
        parts.push(format!("{} action(s) on unreachable hosts", tally.unreachable));
    }
    if tally.conflicts > 0 {
        parts.push(format!(
            "{} action(s) in conflict, left alone (`--replace` replaces what is in the way)",
            tally.conflicts
        ));
    }
    format!("{}; fix the cause and run again: what is done is skipped", parts.join(", "))
}
