//! `reset`: the undo of every action labctl applied, in reverse order, on the hosts where it
//! was applied. Only what the state records is undone, so a route a user added by hand stays.

use std::time::Duration;

use crate::connector::CommandSpec;
use crate::output::progress::Progress;
use crate::output::summary::Status;
use crate::plan::HostRef;
use crate::runner::execute::{
    ActionResult, COMMAND_TIMEOUT, HostResult, Recorder, describe_failure, run_logged,
};
use crate::runner::hosts::Hosts;
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;
use crate::runner::state::AppliedAction;

/// Undoes `applied` (in the order applied), newest step first: each step on all its hosts in
/// parallel (newest first on each host) before the step applied before it, so that e.g.
/// flannel's objects are deleted from the cluster before the nodes are cleaned. Each undone
/// action leaves the state at once; a host whose undo fails is left alone from then on.
pub async fn undo_all(applied: &[AppliedAction], ctx: &UndoContext<'_>) -> Vec<HostResult> {
    let mut order: Vec<String> = Vec::new();
    let mut steps: Vec<String> = Vec::new();
    for a in applied {
        if !order.contains(&a.host) {
            order.push(a.host.clone());
        }
        if !steps.contains(&a.step) {
            steps.push(a.step.clone());
        }
    }
    let mut results: Vec<HostResult> =
        order.iter().map(|h| HostResult { host: h.clone(), actions: Vec::new() }).collect();
    let mut stopped: Vec<Option<String>> = order.iter().map(|_| None).collect();
    for step in steps.iter().rev() {
        let futures = order.iter().zip(&stopped).map(|(host, stop)| {
            let mine: Vec<&AppliedAction> =
                applied.iter().rev().filter(|a| &a.host == host && &a.step == step).collect();
            undo_on_host(host, mine, stop.clone(), ctx)
        });
        let done = super::join_bounded(futures, ctx.concurrency).await;
        for ((result, stop), (actions, now_stopped)) in
            results.iter_mut().zip(stopped.iter_mut()).zip(done)
        {
            result.actions.extend(actions);
            *stop = now_stopped;
        }
    }
    for host in &order {
        ctx.progress.finish(host, "done");
    }
    results
}

/// What every host's undo shares.
pub struct UndoContext<'a> {
    pub hosts: &'a Hosts,
    pub progress: &'a Progress,
    pub log: &'a RunLog,
    pub interrupt: &'a Interrupt,
    pub recorder: &'a Recorder,
    /// Hosts at once (`-j`).
    pub concurrency: usize,
    /// `--command-timeout`, else [`COMMAND_TIMEOUT`].
    pub command_timeout: Option<Duration>,
}

/// Undoes `mine` on `host` in order; the results, and why the host stopped, if it did.
async fn undo_on_host(
    host: &str,
    mine: Vec<&AppliedAction>,
    mut stopped: Option<String>,
    ctx: &UndoContext<'_>,
) -> (Vec<ActionResult>, Option<String>) {
    let UndoContext { hosts, progress, log, interrupt, recorder, .. } = *ctx;
    let timeout = ctx.command_timeout.unwrap_or(COMMAND_TIMEOUT);
    let mut actions = Vec::new();
    if mine.is_empty() {
        return (actions, stopped);
    }
    let host_ref = HostRef::named(host);
    let Some(connection) = hosts.get(&host_ref) else {
        let why = hosts.unreachable.get(host).map(|e| e.to_string()).unwrap_or_default();
        progress.event(host, "unreachable", &why, false);
        for a in mine {
            actions.push(result(a, Status::Unreachable, why.clone()));
        }
        return (actions, Some(why));
    };
    for a in mine {
        if let Some(why) = &stopped {
            actions.push(result(a, Status::Skipped, why.clone()));
            continue;
        }
        if interrupt.requested() {
            stopped = Some("interrupted".into());
            actions.push(result(a, Status::Skipped, "interrupted".into()));
            continue;
        }
        let spec = CommandSpec {
            command: a.undo.clone(),
            sudo: a.sudo,
            stdin: a.stdin.as_ref().map(|s| s.as_bytes().to_vec()),
            timeout,
        };
        let outcome = match run_logged(&connection, &host_ref, &spec, log).await {
            Ok(out) if out.success() => match recorder.forget(a) {
                Ok(()) => result(a, Status::Changed, a.undo.clone()),
                Err(e) => result(
                    a,
                    Status::Failed,
                    format!("undone, but the state could not be saved: {e}"),
                ),
            },
            Ok(out) => result(a, Status::Failed, describe_failure(&a.undo, &out)),
            Err(e) => result(a, Status::Unreachable, e.to_string()),
        };
        let label = match &a.item {
            Some(item) => format!("{} ({item})", a.step),
            None => a.step.clone(),
        };
        let word = match outcome.status {
            Status::Changed => "undone",
            other => other.as_str(),
        };
        progress.event(host, word, &label, true);
        if matches!(outcome.status, Status::Failed | Status::Unreachable) {
            stopped = Some(format!("undo of `{}` failed on this host", a.step));
        }
        actions.push(outcome);
    }
    (actions, stopped)
}

fn result(a: &AppliedAction, status: Status, detail: String) -> ActionResult {
    ActionResult { step: a.step.clone(), item: a.item.clone(), status, detail, unsettled: false }
}
