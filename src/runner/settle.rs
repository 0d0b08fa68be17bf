//! Settling actions whose end is not known.
//!
//! `run` records an action as `started` before it sends the command (see `state.rs`). When the
//! command's end is lost — the connection dropped, labctl was stopped at once, the state could
//! not be saved afterwards — the record stays `started`. The next `run`, `plan` or `reset`
//! settles it before anything else: it stops whatever still runs of the command on its host
//! (by its tag, see `connector/stop.rs`), then runs the step's check there. If the check
//! passes the action is labctl's, recorded as applied, and `reset` undoes it; if it fails the
//! action was not applied and its record goes. See docs/architecture.md ("Write-ahead state").

use std::time::Duration;

use crate::connector::{CommandSpec, Connection};
use crate::plan::HostRef;
use crate::runner::execute::{Recorder, run_logged};
use crate::runner::hosts::Hosts;
use crate::runner::log::RunLog;
use crate::runner::state::AppliedAction;

/// What the check said of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its check passes: recorded as applied.
    Applied,
    /// Its check fails: its record is gone.
    NotApplied,
}

/// One settled action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub outcome: Outcome,
    /// Processes of its command that were still running and were stopped first.
    pub stopped: usize,
}

/// What settling one recorded action came to, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub host: String,
    /// `step (item)`.
    pub action: String,
    /// Settled, or why it could not be (it stays recorded as started).
    pub result: Result<Settled, String>,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.result {
            Ok(settled) => {
                let stopped = match settled.stopped {
                    0 => String::new(),
                    1 => " (its command was still running there: stopped it first)".to_string(),
                    n => format!(
                        " (its command was still running there: stopped {n} processes first)"
                    ),
                };
                let verdict = match settled.outcome {
                    Outcome::Applied => {
                        "its check passes, so it is recorded as labctl's (`labctl reset` undoes it)"
                    }
                    Outcome::NotApplied => "its check fails, so it was not applied",
                };
                write!(
                    f,
                    "{}: settled an interrupted action, {}{stopped}: {verdict}",
                    self.host, self.action
                )
            }
            Err(why) => write!(
                f,
                "{}: an interrupted action, {}, is not settled ({why}); it stays recorded as started until a run or reset can reach the host",
                self.host, self.action
            ),
        }
    }
}

/// Settles `record` on its host through `connection`: first, with `stop_first`, stops what
/// still runs of its command; then runs its check and records the result.
pub async fn one(
    connection: &Connection,
    host: &HostRef,
    record: &AppliedAction,
    recorder: &Recorder,
    log: &RunLog,
    stop_first: bool,
    timeout: Duration,
) -> Result<Settled, String> {
    let mut stopped = 0;
    if stop_first && !record.tag.is_empty() {
        stopped = connection
            .stop(&record.tag, record.sudo)
            .await
            .map_err(|e| format!("cannot stop what may still run of it: {e}"))?;
        log.note(
            host.name(),
            &format!("stopped {stopped} process(es) left running by `{}`", record.step),
        );
    }
    if record.check.is_empty() {
        return Err("its record has no check".into());
    }
    let spec = CommandSpec {
        command: record.check.clone(),
        sudo: record.sudo,
        stdin: record.stdin.as_ref().map(|s| s.as_bytes().to_vec()),
        timeout,
    };
    let out = run_logged(connection, host, &spec, log).await.map_err(|e| e.to_string())?;
    let outcome = if out.success() {
        recorder.applied(record).map_err(|e| format!("the state could not be saved: {e}"))?;
        Outcome::Applied
    } else {
        recorder.not_applied(record).map_err(|e| format!("the state could not be saved: {e}"))?;
        Outcome::NotApplied
    };
    log.note(host.name(), &format!("settled `{}`: {outcome:?}", record.step));
    Ok(Settled { outcome, stopped })
}

/// What to add to the message of an action that failed or timed out, once settled.
pub fn after_failure(settled: &Result<Settled, String>) -> String {
    match settled {
        Ok(Settled { outcome: Outcome::Applied, .. }) => {
            "; its check passes all the same, so it is recorded as labctl's (`labctl reset` undoes it)".into()
        }
        Ok(Settled { outcome: Outcome::NotApplied, .. }) => String::new(),
        // Its record stays `started`: the caller says so.
        Err(why) => format!(
            "; whether it changed anything is not known ({why}): the next `labctl run` or `labctl reset` settles it"
        ),
    }
}

/// Settles every action of the recorder's chapter still recorded as started, each host's in
/// order, the hosts at once. Actions on hosts that are not connected stay as they are.
pub async fn all(recorder: &Recorder, hosts: &Hosts, log: &RunLog, timeout: Duration) -> Vec<Note> {
    let pending = recorder.pending();
    let mut names: Vec<&str> = Vec::new();
    for a in &pending {
        if !names.contains(&a.host.as_str()) {
            names.push(&a.host);
        }
    }
    let per_host = names.iter().map(|name| {
        let pending = &pending;
        async move {
            let host = HostRef::named(name);
            let mut notes = Vec::new();
            let connection = hosts.get(&host);
            for record in pending.iter().filter(|a| a.host == *name) {
                let result = match &connection {
                    Some(c) => one(c, &host, record, recorder, log, true, timeout).await,
                    None => Err(hosts
                        .unreachable
                        .get(*name)
                        .map(|e| format!("unreachable: {e}"))
                        .unwrap_or_else(|| "not connected".into())),
                };
                notes.push(Note { host: name.to_string(), action: label(record), result });
            }
            notes
        }
    });
    futures::future::join_all(per_host).await.into_iter().flatten().collect()
}

fn label(a: &AppliedAction) -> String {
    match &a.item {
        Some(item) => format!("{} ({item})", a.step),
        None => a.step.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(result: Result<Settled, String>) -> String {
        Note { host: "worker-0".into(), action: "routes (peer worker-1)".into(), result }
            .to_string()
    }

    #[test]
    fn notes_say_what_became_of_the_action() {
        let applied = note(Ok(Settled { outcome: Outcome::Applied, stopped: 0 }));
        assert_eq!(
            applied,
            "worker-0: settled an interrupted action, routes (peer worker-1): its check passes, so it is recorded as labctl's (`labctl reset` undoes it)"
        );
        let stopped = note(Ok(Settled { outcome: Outcome::NotApplied, stopped: 2 }));
        assert!(
            stopped.contains("stopped 2 processes first): its check fails, so it was not applied"),
            "{stopped}"
        );
        let open = note(Err("unreachable: no route".into()));
        assert!(open.contains("is not settled (unreachable: no route)"), "{open}");
    }
}
