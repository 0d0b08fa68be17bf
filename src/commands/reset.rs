//! `labctl reset [CHAPTER]`: undo what labctl applied, in reverse order.

use std::io::{BufRead, IsTerminal};

use crate::cli::GlobalArgs;
use crate::commands::lab::{Lab, print_unreachable};
use crate::error::Error;
use crate::output::summary;
use crate::plan::HostRef;
use crate::runner::Tally;
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;

/// Undoes `chapter` (default: the last one run) on the lab.
pub fn run(
    global: &GlobalArgs,
    chapter: Option<&str>,
    variant: Option<&str>,
    yes: bool,
    dry_run: bool,
    json: bool,
) -> Result<(), Error> {
    let mut lab = Lab::open(global, chapter)?;
    // The variant only matters for messages: reset undoes what the state records.
    let variant = lab.variant(variant, true)?.name.value.clone();
    let _lock = if dry_run { None } else { Some(lab.state_dir.lock()?) };
    let state = lab.state_dir.load()?;
    let applied =
        state.chapters.get(lab.chapter.name()).map(|c| c.applied.clone()).unwrap_or_default();
    if dry_run && json {
        let out = preview(&lab, &variant, &applied);
        crate::say!(global.shell, "{}", out.render());
        return Ok(());
    }
    if applied.is_empty() {
        if json {
            let out = super::ResultsJson {
                command: "reset",
                chapter: lab.chapter.name(),
                variant: &variant,
                summary: Tally::default(),
                hosts: &[],
                log: std::path::Path::new(""),
            };
            crate::say!(global.shell, "{}", out.render());
            return Ok(());
        }
        crate::say!(
            global.shell,
            "reset: nothing to undo: labctl has applied nothing of {} on this lab",
            lab.chapter.name()
        );
        return Ok(());
    }
    if dry_run {
        // Host by host in the inventory's order, as the JSON lists them; on each, newest first,
        // the order they would be undone in.
        let mut hosts: Vec<HostRef> = Vec::new();
        add_hosts_of(&applied, &mut hosts);
        lab.inventory_order(&mut hosts);
        let by_host =
            hosts.iter().flat_map(|h| applied.iter().rev().filter(move |a| a.host == h.name()));
        for a in by_host {
            let item = a.item.as_ref().map(|i| format!(" ({i})")).unwrap_or_default();
            let when = match a.is_applied() {
                true => format!("applied at {}", a.at),
                false => {
                    format!("started at {} and interrupted (undone only if its check passes)", a.at)
                }
            };
            crate::say!(
                global.shell,
                "{}: would undo {}{item}, {when}: {}",
                a.host,
                a.step,
                a.undo
            );
        }
        crate::say!(
            global.shell,
            "reset --dry-run: {} action(s) would be undone; nothing was changed",
            applied.len()
        );
        return Ok(());
    }
    if applied.iter().any(|a| a.host == crate::pod_network::gce::LOG_HOST) {
        // Undo commands for this machine (gcloud) need their CLI before anything is undone.
        lab.prepare(Some(&variant), false, crate::pod_network::gce::Need::Cli)?;
    }
    let mut hosts: Vec<HostRef> = Vec::new();
    add_hosts_of(&applied, &mut hosts);
    lab.inventory_order(&mut hosts);
    if !yes
        && !confirm(
            &global.shell,
            &format!(
                "reset will undo {} action(s) of {} (variant {variant}) on {} host(s). Go on? [y/N] ",
                applied.len(),
                lab.chapter.name(),
                hosts.len()
            ),
        )?
    {
        return Err(Error::Cancelled { what: "reset".into() });
    }
    let log = RunLog::open(&lab.state_dir.logs(), "reset").echoing(&global.shell);
    let recorder = lab.recorder(&variant)?;
    *recorder.state.lock().map_err(|_| {
        Error::failed("labctl failed inside: the state lock was poisoned by a panic")
    })? = state;
    let work: Vec<(String, u64)> = hosts
        .iter()
        .map(|h| {
            (h.name().to_string(), applied.iter().filter(|a| a.host == h.name()).count() as u64)
        })
        .collect();
    let runtime = crate::runner::runtime()?;
    let (results, interrupted, out_of_reach) = runtime.block_on(async {
        let interrupt = Interrupt::listen(&global.shell);
        let connections = lab.connect(&hosts, global.concurrency as usize, &log).await?;
        lab.settle(&recorder, &connections, &log).await;
        let applied: Vec<_> = recorder.actions().into_iter().filter(|a| a.is_applied()).collect();
        let progress = lab.progress(&work);
        let mut results = crate::runner::reset::undo_all(
            &applied,
            &crate::runner::reset::UndoContext {
                hosts: &connections,
                progress: &progress,
                log: &log,
                interrupt: &interrupt,
                recorder: &recorder,
                concurrency: global.concurrency as usize,
                command_timeout: lab.command_timeout,
            },
        )
        .await;
        lab.results_in_inventory_order(&mut results);
        progress.clear();
        print_unreachable(&connections, &global.shell);
        let out_of_reach: Vec<String> =
            connections.unreachable_in_order().iter().map(|(h, _)| h.to_string()).collect();
        Ok::<_, Error>((results, interrupt.by_user(), out_of_reach))
    })?;
    let mut steps: Vec<String> = Vec::new();
    for a in applied.iter().rev() {
        if !steps.contains(&a.step) {
            steps.push(a.step.clone());
        }
    }
    if json {
        let out = super::ResultsJson {
            command: "reset",
            chapter: lab.chapter.name(),
            variant: &variant,
            summary: Tally::of(&results),
            hosts: &results,
            log: log.path(),
        };
        crate::say!(global.shell, "{}", out.render());
    }
    // Settling may leave nothing to undo: then there is no table to show.
    if !json && results.iter().any(|h| !h.actions.is_empty()) {
        crate::say!(
            global.shell,
            "{}",
            summary::table(
                &lab.shell.style(),
                &steps,
                &crate::runner::summary_rows(&steps, &results),
                "undone",
            )
        );
    }
    for host in &results {
        for action in host.actions.iter().filter(|a| a.status == summary::Status::Failed) {
            global.shell.error(&format!("{}: undo {}: {}", host.host, action.step, action.detail));
        }
    }
    let tally = Tally::of(&results);
    let unsettled = recorder.pending();
    let not_settled = match unsettled.len() {
        0 => String::new(),
        n => format!(", {n} not settled"),
    };
    if !json {
        crate::say!(
            global.shell,
            "reset: {} undone, {} failed, {} unreachable, {} skipped{not_settled} (log: {})",
            tally.changed,
            tally.failed,
            tally.unreachable,
            tally.skipped,
            log.path().display()
        );
    }
    let code = match tally.exit_code(interrupted) {
        // An interrupted action could not be settled: its host is out of reach, or its check
        // could not be run there.
        0 if unsettled.iter().any(|a| out_of_reach.contains(&a.host)) => {
            crate::error::EXIT_UNREACHABLE
        }
        0 if !unsettled.is_empty() => crate::error::EXIT_FAILED,
        code => code,
    };
    match code {
        0 => Ok(()),
        code => Err(Error::with_code(
            code,
            "reset is incomplete; what was not undone stays recorded: run `labctl reset` again",
        )),
    }
}

/// `reset --dry-run --output json` (docs/json.md, "reset --dry-run"): per host, in the
/// inventory's order, the actions that would be undone, in the order they would be.
#[derive(serde::Serialize)]
struct PreviewJson<'a> {
    command: &'static str,
    chapter: &'a str,
    variant: &'a str,
    dry_run: bool,
    summary: PreviewSummary,
    hosts: Vec<PreviewHost<'a>>,
}

#[derive(serde::Serialize)]
struct PreviewSummary {
    would_undo: usize,
}

#[derive(serde::Serialize)]
struct PreviewHost<'a> {
    host: &'a str,
    actions: Vec<PreviewAction<'a>>,
}

#[derive(serde::Serialize)]
struct PreviewAction<'a> {
    step: &'a str,
    item: Option<&'a str>,
    undo: &'a str,
    /// When it was applied (or started).
    at: &'a str,
    /// Started and interrupted: undone only if its check passes.
    interrupted: bool,
}

impl PreviewJson<'_> {
    fn render(&self) -> String {
        serde_json::to_string_pretty(self).expect("reset's preview serializes to JSON")
    }
}

fn preview<'a>(
    lab: &'a Lab,
    variant: &'a str,
    applied: &'a [crate::runner::state::AppliedAction],
) -> PreviewJson<'a> {
    let mut hosts: Vec<HostRef> = Vec::new();
    add_hosts_of(applied, &mut hosts);
    lab.inventory_order(&mut hosts);
    let hosts = hosts
        .iter()
        .map(|h| PreviewHost {
            host: applied.iter().find(|a| a.host == h.name()).map_or("", |a| a.host.as_str()),
            actions: applied
                .iter()
                .rev()
                .filter(|a| a.host == h.name())
                .map(|a| PreviewAction {
                    step: &a.step,
                    item: a.item.as_deref(),
                    undo: &a.undo,
                    at: &a.at,
                    interrupted: !a.is_applied(),
                })
                .collect(),
        })
        .collect();
    PreviewJson {
        command: "reset",
        chapter: lab.chapter.name(),
        variant,
        dry_run: true,
        summary: PreviewSummary { would_undo: applied.len() },
        hosts,
    }
}

/// Adds the hosts `applied` was applied on to `hosts`, each once, in first-seen order.
pub(super) fn add_hosts_of(
    applied: &[crate::runner::state::AppliedAction],
    hosts: &mut Vec<HostRef>,
) {
    for a in applied {
        let h = HostRef::named(&a.host);
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
}

/// Asks on the terminal (the question on `shell`'s stderr); refuses to guess when there is none.
pub(super) fn confirm(shell: &crate::output::shell::Shell, question: &str) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::bad_input(
            "reset changes the lab and there is no terminal to ask on; pass `--yes` to confirm",
        ));
    }
    shell.err(question);
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::Usage(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
