//! Carrying out a plan: per host, steps in order, `check` before `run`.
//!
//! A failed host stops its own chain and the others go on (`--fail-fast` stops all). Every
//! change is recorded in the state as soon as it is made, so an interrupted run can be reset.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::connector::{CommandOutput, CommandSpec, Completion, Connection, RunError, Stopped};
use crate::output::progress::Progress;
use crate::output::summary::Status;
use crate::plan::{Action, HostPlan, HostRef, Plan, PlannedStep};
use crate::runner::hosts::Hosts;
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;
use crate::runner::settle;
use crate::runner::state::{AppliedAction, Record, State, StateDir, now};

/// How long one command may take before it is stopped, unless its step or
/// `--command-timeout` says otherwise.
pub const COMMAND_TIMEOUT: Duration = crate::chapter::schema::DEFAULT_TIMEOUT;

/// What `execute` should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only run checks: report what `run` would do.
    Plan,
    /// Run checks, and `run` where a check fails.
    Run,
}

/// Options of `labctl run`/`plan`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub from: Option<String>,
    pub only: Option<String>,
    pub fail_fast: bool,
    /// Over a conflict, run the step's `replace` instead of leaving it alone.
    pub replace: bool,
}

/// What happened to one action.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActionResult {
    pub step: String,
    pub item: Option<String>,
    pub status: Status,
    /// Why it was skipped, what it would run, or why it failed.
    pub detail: String,
    /// Its command was sent but its end is not known: it stays recorded as started until
    /// the next run or reset settles it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unsettled: bool,
}

/// Everything one host did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostResult {
    pub host: String,
    pub actions: Vec<ActionResult>,
}

/// Shared by the host tasks: the state on disk, updated before and after every change. The
/// state in memory is always what the file holds: a change that cannot be saved is not kept.
pub struct Recorder {
    pub dir: StateDir,
    pub chapter: String,
    pub variant: String,
    pub state: Mutex<State>,
}

impl Recorder {
    /// Applies `change` to a copy of the state and saves it; the copy becomes the state only
    /// once it is on disk. `change` says whether it changed anything (no save otherwise).
    fn change(&self, change: impl FnOnce(&mut State) -> bool) -> Result<(), String> {
        let mut state = self.state.lock().map_err(|_| "state lock poisoned".to_string())?;
        let mut next = state.clone();
        if !change(&mut next) {
            return Ok(());
        }
        self.dir.save(&next).map_err(|e| e.to_string())?;
        *state = next;
        Ok(())
    }

    /// Records that `action` is about to be sent (`started`), in place of an earlier record of
    /// the same action, which it keeps as its `previous` when that one was applied; saves the
    /// state at once.
    pub fn started(&self, mut action: AppliedAction) -> Result<(), String> {
        action.status = Record::Started;
        self.change(|state| {
            let entry = state.chapters.entry(self.chapter.clone()).or_default();
            entry.variant = self.variant.clone();
            match entry.applied.iter_mut().find(|a| a.same_action(&action)) {
                // Its place in the order stays: reset undoes in the order of first application.
                Some(earlier) => {
                    action.previous = match earlier.status {
                        Record::Applied => Some(Box::new(earlier.clone())),
                        Record::Started => earlier.previous.take(),
                    };
                    *earlier = action;
                }
                None => entry.applied.push(action),
            }
            true
        })
    }

    /// Records that `action` (recorded as started) is applied, and saves the state at once.
    /// The chapter's recorded variant stays as it is: settling also happens under `plan` or
    /// `reset` with another `--variant`.
    pub fn applied(&self, action: &AppliedAction) -> Result<(), String> {
        self.change(|state| {
            let entry = state.chapters.entry(self.chapter.clone()).or_default();
            let mut done = action.clone();
            done.status = Record::Applied;
            done.previous = None;
            match entry.applied.iter_mut().find(|a| a.same_action(action)) {
                Some(earlier) => *earlier = done,
                None => entry.applied.push(done),
            }
            true
        })
    }

    /// Records that `action` (recorded as started) was not applied: its earlier record comes
    /// back if it had one, else its record goes. Saves the state at once.
    pub fn not_applied(&self, action: &AppliedAction) -> Result<(), String> {
        self.change(|state| {
            let Some(entry) = state.chapters.get_mut(&self.chapter) else { return false };
            let Some(at) = entry.applied.iter().position(|a| a.same_action(action)) else {
                return false;
            };
            match entry.applied[at].previous.take() {
                Some(previous) => entry.applied[at] = *previous,
                None => {
                    entry.applied.remove(at);
                }
            }
            true
        })
    }

    /// Forgets every action of the chapter on `host` (a host `reset --hard` found back at the
    /// chapter's start) and saves the state at once.
    pub fn forget_host(&self, host: &str) -> Result<(), String> {
        self.change(|state| {
            let Some(entry) = state.chapters.get_mut(&self.chapter) else { return false };
            let before = entry.applied.len();
            entry.applied.retain(|a| a.host != host);
            entry.applied.len() != before
        })
    }

    /// Removes an action (undone, or found not applied) from the state and saves it at once.
    pub fn forget(&self, action: &AppliedAction) -> Result<(), String> {
        self.change(|state| {
            let Some(entry) = state.chapters.get_mut(&self.chapter) else { return false };
            let before = entry.applied.len();
            entry.applied.retain(|a| !a.same_action(action));
            entry.applied.len() != before
        })
    }

    /// The chapter's actions still recorded as started (their end not known).
    pub fn pending(&self) -> Vec<AppliedAction> {
        self.actions().into_iter().filter(|a| !a.is_applied()).collect()
    }

    /// The chapter's actions as recorded now.
    pub fn actions(&self) -> Vec<AppliedAction> {
        self.state
            .lock()
            .map(|s| s.chapters.get(&self.chapter).map(|c| c.applied.clone()).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// Everything a host task needs.
pub struct Context<'a> {
    pub hosts: &'a Hosts,
    pub progress: &'a Progress,
    pub log: &'a RunLog,
    pub interrupt: &'a Interrupt,
    pub recorder: Option<&'a Recorder>,
    /// `false` when the inventory logs in as root and needs no sudo.
    pub sudo: bool,
    pub concurrency: usize,
    /// `--command-timeout`: over every step's own.
    pub command_timeout: Option<Duration>,
    /// The lab's working directory, where files that steps put are read from.
    pub workdir: &'a std::path::Path,
}

/// Runs (or, in plan mode, checks) `plan` on every host.
pub async fn execute(
    plan: &Plan,
    mode: Mode,
    selection: &Selection,
    ctx: &Context<'_>,
) -> Vec<HostResult> {
    let steps = step_names(plan);
    let selected = |name: &str| -> bool {
        if let Some(only) = &selection.only {
            return name == only;
        }
        match &selection.from {
            Some(from) => {
                let at = steps.iter().position(|s| s == from).unwrap_or(0);
                steps.iter().position(|s| s == name).is_some_and(|i| i >= at)
            }
            None => true,
        }
    };
    let waves = waves(plan, &steps);
    let mut results: Vec<HostResult> = plan
        .hosts
        .iter()
        .map(|h| HostResult { host: h.host.name().to_string(), actions: Vec::new() })
        .collect();
    for (i, wave) in waves.iter().enumerate() {
        let last = i + 1 == waves.len();
        // A step that puts files a local step made waits for the local steps before it; if
        // they did not all succeed, it does not run (docs/architecture.md, "Files").
        let local_stopped = results.iter().any(|r| r.host == "local" && stopped(r));
        let semaphore = Arc::new(Semaphore::new(ctx.concurrency.max(1)));
        let futures = plan.hosts.iter().zip(&results).map(|(host, so_far)| {
            let semaphore = semaphore.clone();
            let selected = &selected;
            let part = HostPlan {
                host: host.host.clone(),
                address: host.address,
                steps: host
                    .steps
                    .iter()
                    .filter(|s| wave.steps.contains(&s.name))
                    .cloned()
                    .collect(),
            };
            let earlier = stopped(so_far);
            async move {
                if earlier || (wave.reads_work && local_stopped) {
                    let why = if earlier {
                        "an earlier step did not succeed on this host"
                    } else {
                        "the local steps before it did not all succeed"
                    };
                    let actions = part
                        .steps
                        .iter()
                        .flat_map(|step| {
                            step.actions
                                .iter()
                                .map(|a| result(step, a, Status::Skipped, why.to_string()))
                        })
                        .collect();
                    return HostResult { host: part.host.name().to_string(), actions };
                }
                let _permit = semaphore.acquire_owned().await;
                run_host(&part, mode, selection, selected, ctx, last).await
            }
        });
        let wave_results = futures::future::join_all(futures).await;
        for (all, more) in results.iter_mut().zip(wave_results) {
            all.actions.extend(more.actions);
        }
    }
    results
}

/// A fetch action with its commands for the copy as it is now in `workdir`.
fn fetch_now(action: &Action, workdir: &std::path::Path) -> Result<Action, String> {
    let fetch = action.fetch.as_ref().ok_or("no file to fetch")?;
    let c = fetch.commands(fetch.local_hash(workdir).as_deref())?;
    Ok(Action { check: c.check, run: c.run, undo: c.local_undo, ..action.clone() })
}

/// The end of a fetch: the host's output becomes the copy in the working directory, recorded
/// with a check of its content. Reading changes nothing on the host, so a fetch that did not
/// finish is simply not applied.
fn fetched(
    step: &PlannedStep,
    action: &Action,
    fetch: &crate::plan::files::FetchFile,
    ran: Result<crate::connector::CommandOutput, RunError>,
    mut record: AppliedAction,
    recorder: &Recorder,
    workdir: &std::path::Path,
) -> ActionResult {
    let out = match ran {
        Ok(out) if out.success() => out,
        Ok(out) => {
            let _ = recorder.not_applied(&record);
            return result(step, action, Status::Failed, describe_failure(&action.run, &out));
        }
        Err(e) => {
            let _ = recorder.not_applied(&record);
            let status = if matches!(e, RunError::ConnectionLost { .. }) {
                Status::Unreachable
            } else {
                Status::Failed
            };
            return result(step, action, status, e.to_string());
        }
    };
    let copy = workdir.join(&fetch.to);
    let written = std::fs::DirBuilder::new()
        .recursive(true)
        .create(copy.parent().unwrap_or(workdir))
        .map_err(|source| crate::error::Error::Write { path: workdir.to_path_buf(), source })
        .and_then(|()| crate::atomic_file::write_mode(&copy, &out.stdout, fetch.mode));
    if let Err(e) = written {
        let _ = recorder.not_applied(&record);
        return result(step, action, Status::Failed, format!("fetched, but {e}"));
    }
    match fetch.commands(Some(&crate::plan::files::sha256_hex(&out.stdout))) {
        Ok(c) => record.check = c.local_check,
        Err(why) => return result(step, action, Status::Failed, why),
    }
    record.at = now();
    recorded(recorder, &record, step, action, format!("fetched into {}", copy.display()))
}

/// An action that succeeded, recorded as applied: changed, or failed if the state cannot say
/// so (it stays recorded as started, and the next run or reset settles it).
fn recorded(
    recorder: &Recorder,
    record: &AppliedAction,
    step: &PlannedStep,
    action: &Action,
    detail: String,
) -> ActionResult {
    match recorder.applied(record) {
        Ok(()) => result(step, action, Status::Changed, detail),
        Err(e) => ActionResult {
            unsettled: true,
            ..result(
                step,
                action,
                Status::Failed,
                format!(
                    "changed, but labctl could not record that it finished ({e}); it stays recorded as started, and the next `labctl run` or `labctl reset` settles it"
                ),
            )
        },
    }
}

/// Steps that run together on every host at once.
struct Wave {
    steps: Vec<String>,
    /// Whether its first step puts files of the lab's working directory.
    reads_work: bool,
}

/// The plan's steps cut into waves: a step that puts a file of the working directory starts
/// a new wave, so that it runs after every earlier step on every host (a local step makes the
/// file). Chapters whose steps read nothing there run as one wave, each host at its own pace.
fn waves(plan: &Plan, steps: &[String]) -> Vec<Wave> {
    let reads_work = |name: &str| {
        plan.hosts.iter().flat_map(|h| &h.steps).filter(|s| s.name == name).any(|s| {
            s.actions.iter().any(|a| {
                a.put.as_ref().is_some_and(|p| {
                    matches!(p.source, crate::plan::files::Source::WorkFile { .. })
                })
            })
        })
    };
    let fetches = |name: &str| {
        plan.hosts
            .iter()
            .flat_map(|h| &h.steps)
            .filter(|s| s.name == name)
            .any(|s| s.actions.iter().any(|a| a.fetch.is_some()))
    };
    let mut waves: Vec<Wave> = Vec::new();
    let mut after_fetch = false;
    for name in steps {
        // What a step fetches is there for every step after it.
        let starts = reads_work(name) || after_fetch;
        after_fetch = fetches(name);
        match waves.last_mut() {
            Some(wave) if !starts => wave.steps.push(name.clone()),
            _ => waves.push(Wave { steps: vec![name.clone()], reads_work: starts }),
        }
    }
    waves
}

/// Whether a host's work stopped: a step failed, its connection was lost, or a conflict.
fn stopped(host: &HostResult) -> bool {
    host.actions
        .iter()
        .any(|a| matches!(a.status, Status::Failed | Status::Unreachable | Status::Conflict))
}

/// The plan's step names in first-seen order.
pub fn step_names(plan: &Plan) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for host in &plan.hosts {
        for step in &host.steps {
            if !names.contains(&step.name) {
                names.push(step.name.clone());
            }
        }
    }
    names
}

async fn run_host(
    host: &HostPlan,
    mode: Mode,
    selection: &Selection,
    selected: &dyn Fn(&str) -> bool,
    ctx: &Context<'_>,
    last_wave: bool,
) -> HostResult {
    let name = host.host.name().to_string();
    let mut actions = Vec::new();
    let Some(connection) = ctx.hosts.get(&host.host) else {
        let why = ctx.hosts.unreachable.get(&name).map(|e| e.to_string()).unwrap_or_default();
        ctx.progress.event(&name, "unreachable", &why, false);
        for step in &host.steps {
            for action in &step.actions {
                actions.push(result(step, action, Status::Unreachable, why.clone()));
            }
        }
        return HostResult { host: name, actions };
    };
    let mut stopped: Option<String> = None;
    // A conflict leaves the step's other items going, but not the steps after it.
    let mut conflict_in: Option<&str> = None;
    for step in &host.steps {
        if let (None, Some(earlier)) = (&stopped, conflict_in) {
            stopped = Some(format!("step `{earlier}` has a conflict on this host"));
        }
        for action in &step.actions {
            if !selected(&step.name) {
                actions.push(result(step, action, Status::Skipped, "not selected".into()));
                continue;
            }
            if let Some(why) = &stopped {
                actions.push(result(step, action, Status::Skipped, why.clone()));
                continue;
            }
            if ctx.interrupt.requested() {
                stopped = Some("interrupted".into());
                actions.push(result(step, action, Status::Skipped, "interrupted".into()));
                continue;
            }
            let outcome =
                run_action(&connection, &host.host, step, action, mode, selection.replace, ctx)
                    .await;
            ctx.progress.event(&name, outcome.status.as_str(), &label(step, action), true);
            match outcome.status {
                Status::Failed => {
                    stopped = Some(format!("step `{}` failed on this host", step.name));
                    if selection.fail_fast {
                        ctx.interrupt.request();
                    }
                }
                Status::Unreachable => stopped = Some("connection lost".into()),
                Status::Conflict => conflict_in = Some(&step.name),
                _ => {}
            }
            actions.push(outcome);
        }
    }
    let stopped = stopped.is_some() || conflict_in.is_some();
    if stopped || last_wave {
        ctx.progress.finish(&name, if stopped { "stopped" } else { "done" });
    }
    HostResult { host: name, actions }
}

async fn run_action(
    connection: &Connection,
    host: &HostRef,
    step: &PlannedStep,
    action: &Action,
    mode: Mode,
    replace_allowed: bool,
    ctx: &Context<'_>,
) -> ActionResult {
    // A file's content may be a file a local step made: read now, and its commands written
    // for it (see `crate::plan::files`).
    let resolved;
    let (action, stdin) = match &action.put {
        None if action.fetch.is_some() => match fetch_now(action, ctx.workdir) {
            Ok(now) => {
                resolved = now;
                (&resolved, None)
            }
            Err(why) => return result(step, action, Status::Failed, format!("not run: {why}")),
        },
        None => (action, action.stdin.as_ref().map(|s| s.text.as_bytes().to_vec())),
        Some(put) => {
            let content = match put.content(ctx.workdir) {
                Ok(content) => content,
                // `plan` runs no local step, so a file one makes may not be there yet.
                Err(_) if mode == Mode::Plan => {
                    let source = match &put.source {
                        crate::plan::files::Source::WorkFile { name } => {
                            format!("`{name}` of the working directory, once made")
                        }
                        crate::plan::files::Source::Template { name, .. } => {
                            format!("template `{name}`")
                        }
                    };
                    return result(step, action, Status::Changed, format!("would put {source}"));
                }
                Err(why) => return result(step, action, Status::Failed, format!("not run: {why}")),
            };
            match put.commands(Some(&content)) {
                Ok(c) => {
                    resolved =
                        Action { check: c.check, run: c.run, undo: c.undo, ..action.clone() };
                    (&resolved, Some(content))
                }
                Err(why) => return result(step, action, Status::Failed, format!("not run: {why}")),
            }
        }
    };
    let sudo = step.sudo && (ctx.sudo || matches!(host, HostRef::Local));
    let timeout = ctx.command_timeout.unwrap_or(step.timeout);
    let spec = |command: &str| CommandSpec {
        command: command.to_string(),
        sudo,
        stdin: stdin.clone(),
        timeout,
    };
    let check = run_logged(connection, host, &spec(&action.check), ctx.log).await;
    match check {
        Err(e) => return lost_or_failed(step, action, e),
        Ok(out) if out.success() => {
            return result(
                step,
                action,
                Status::Ok,
                format!("already done: check `{}` passed", action.check),
            );
        }
        Ok(_) => {}
    }
    let mut command = &action.run;
    if let Some(conflict) = &action.conflict {
        match run_logged(connection, host, &spec(conflict), ctx.log).await {
            Err(e) => return lost_or_failed(step, action, e),
            Ok(out) if out.success() => match &action.replace {
                Some(replace) if replace_allowed => command = replace,
                _ => return result(step, action, Status::Conflict, describe_conflict(&out)),
            },
            // Nothing in the way.
            Ok(_) => {}
        }
    }
    let Some(recorder) = ctx.recorder.filter(|_| mode == Mode::Run) else {
        return result(step, action, Status::Changed, command.clone());
    };
    // Written ahead: recorded as started before the command is sent, so that whatever
    // happens to it (a lost connection, a second Ctrl-C, a full disk later), the next run or
    // reset knows to look (docs/architecture.md, "Write-ahead state").
    let tag = crate::connector::stop::new_tag();
    // A fetched copy is on this machine: its record is local, so that settling and `reset`
    // look for it (and remove it) here.
    let fetch = action.fetch.as_ref();
    let fetch_record = match fetch.map(|f| f.commands(None)) {
        Some(Ok(c)) => Some(c),
        Some(Err(why)) => return result(step, action, Status::Failed, format!("not run: {why}")),
        None => None,
    };
    let mut record = AppliedAction {
        host: host.name().to_string(),
        step: step.name.clone(),
        item: action.item.clone(),
        undo: action.undo.clone(),
        sudo,
        // A put file's check and undo need no stdin, and its content (a key, say) stays out
        // of the state.
        stdin: action.stdin.as_ref().filter(|_| action.put.is_none()).map(|s| s.text.clone()),
        at: now(),
        leaves: action.leaves.clone(),
        status: Record::Started,
        check: action.check.clone(),
        tag: tag.clone(),
        previous: None,
    };
    if let Some(c) = &fetch_record {
        record.host = HostRef::Local.name().to_string();
        record.check = c.local_check.clone();
        record.undo = c.local_undo.clone();
        record.sudo = false;
    }
    if let Err(e) = recorder.started(record.clone()) {
        return result(
            step,
            action,
            Status::Failed,
            format!(
                "not run: labctl could not record that it starts it ({e}); free space there or make it writable, then run again"
            ),
        );
    }
    let ran = run_logged_tagged(connection, host, &spec(command), &tag, ctx.log).await;
    let failed = |detail: String, settled: &Result<settle::Settled, String>| ActionResult {
        unsettled: settled.is_err(),
        ..result(
            step,
            action,
            Status::Failed,
            format!("{detail}{}", settle::after_failure(settled)),
        )
    };
    if let Some(fetch) = fetch {
        return fetched(step, action, fetch, ran, record, recorder, ctx.workdir);
    }
    match ran {
        Ok(out) if out.success() => {
            record.at = now();
            recorded(recorder, &record, step, action, command.clone())
        }
        // It ended while the connection lives: whether it changed anything is for its check
        // to say, now.
        Ok(out) => {
            let settled =
                settle::one(connection, host, &record, recorder, ctx.log, false, timeout).await;
            failed(describe_failure(command, &out), &settled)
        }
        // Stopped on the host after its timeout: the same.
        Err(e @ RunError::Timeout { stopped: Stopped::Processes(_), .. }) => {
            let settled =
                settle::one(connection, host, &record, recorder, ctx.log, false, timeout).await;
            failed(e.to_string(), &settled)
        }
        // Nothing reached a shell.
        Err(
            e @ (RunError::BadCommand { .. }
            | RunError::BadTag { .. }
            | RunError::TooLong { .. }
            | RunError::Refused { .. }),
        ) => {
            let _ = recorder.not_applied(&record);
            result(step, action, Status::Failed, e.to_string())
        }
        // Its end is unknown (it may even still be running): it stays recorded as started.
        Err(e) => {
            let (status, detail) = match e {
                RunError::Interrupted { .. } => (
                    Status::Skipped,
                    format!("{e}; the next `labctl run` or `labctl reset` settles it"),
                ),
                RunError::ConnectionLost { .. } => (Status::Unreachable, unknown_end(&e)),
                _ => (Status::Failed, unknown_end(&e)),
            };
            ActionResult { unsettled: true, ..result(step, action, status, detail) }
        }
    }
}

fn unknown_end(e: &RunError) -> String {
    format!("{e}; whether it ran is not known: the next `labctl run` or `labctl reset` settles it")
}

/// What a step's `conflict` command found in the way, and what to do about it.
fn describe_conflict(out: &CommandOutput) -> String {
    let text = out.stdout_text();
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let found = match lines.is_empty() {
        true => "something else holds this step's place".to_string(),
        false => lines.join("; "),
    };
    format!("{found}; left alone (`--replace` replaces it)")
}

/// Runs one command and writes it and its result to the run log.
pub async fn run_logged(
    connection: &Connection,
    host: &HostRef,
    spec: &CommandSpec,
    log: &RunLog,
) -> Result<CommandOutput, RunError> {
    run_logged_tagged(connection, host, spec, &crate::connector::stop::new_tag(), log).await
}

/// [`run_logged`] with the tag its processes carry on the host.
pub async fn run_logged_tagged(
    connection: &Connection,
    host: &HostRef,
    spec: &CommandSpec,
    tag: &str,
    log: &RunLog,
) -> Result<CommandOutput, RunError> {
    log.started(host.name(), &spec.command);
    let result = connection.run_tagged(spec, tag).await;
    let logged = result.as_ref().map(Clone::clone).map_err(|e| e.to_string());
    log.command(host.name(), &spec.command, &logged);
    result
}

fn lost_or_failed(step: &PlannedStep, action: &Action, e: RunError) -> ActionResult {
    let status = match e {
        RunError::ConnectionLost { .. } => Status::Unreachable,
        _ => Status::Failed,
    };
    result(step, action, status, e.to_string())
}

/// `command` failed: its exit and the last lines of its error output.
pub fn describe_failure(command: &str, out: &CommandOutput) -> String {
    let how = match &out.completion {
        Completion::Exited(code) => format!("exited with {code}"),
        Completion::Signal(sig) => format!("was killed by signal {sig}"),
        Completion::NoStatus => "ended without an exit status".to_string(),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> =
        stderr.lines().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect();
    let mut text = format!("`{command}` {how}");
    if !tail.is_empty() {
        text.push_str(": ");
        text.push_str(&tail.join(" / "));
    }
    text
}

fn result(step: &PlannedStep, action: &Action, status: Status, detail: String) -> ActionResult {
    ActionResult {
        step: step.name.clone(),
        item: action.item.clone(),
        status,
        detail,
        unsettled: false,
    }
}

fn label(step: &PlannedStep, action: &Action) -> String {
    match &action.item {
        Some(item) => format!("{} ({item})", step.name),
        None => step.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder(dir: &std::path::Path, variant: &str) -> Recorder {
        let dir = StateDir { dir: dir.join(".labctl") };
        Recorder {
            state: Mutex::new(dir.load().unwrap()),
            dir,
            chapter: "c".into(),
            variant: variant.into(),
        }
    }

    fn action(undo: &str) -> AppliedAction {
        AppliedAction {
            host: "worker-0".into(),
            step: "routes".into(),
            item: Some("peer worker-1".into()),
            undo: undo.into(),
            sudo: true,
            stdin: None,
            at: now(),
            leaves: Vec::new(),
            status: Record::Started,
            check: "true".into(),
            tag: "t-1".into(),
            previous: None,
        }
    }

    /// The chapter's records as the file on disk holds them: (undo, status).
    fn on_disk(r: &Recorder) -> Vec<(String, Record)> {
        let state = r.dir.load().unwrap();
        state.chapters["c"].applied.iter().map(|a| (a.undo.clone(), a.status)).collect()
    }

    #[test]
    fn an_action_is_on_disk_as_started_before_and_applied_after() {
        let dir = tempfile::tempdir().unwrap();
        let r = recorder(dir.path(), "static");
        r.started(action("undo-1")).unwrap();
        assert_eq!(on_disk(&r), [("undo-1".to_string(), Record::Started)]);
        r.applied(&action("undo-1")).unwrap();
        assert_eq!(on_disk(&r), [("undo-1".to_string(), Record::Applied)]);
        let other = AppliedAction { item: Some("peer worker-2".into()), ..action("undo-2") };
        r.started(other.clone()).unwrap();
        r.not_applied(&other).unwrap();
        // Not applied, and nothing before it: no record.
        assert_eq!(on_disk(&r), [("undo-1".to_string(), Record::Applied)]);
    }

    #[test]
    fn a_failed_second_attempt_puts_the_first_record_back() {
        let dir = tempfile::tempdir().unwrap();
        let r = recorder(dir.path(), "static");
        r.started(action("undo-first")).unwrap();
        r.applied(&action("undo-first")).unwrap();
        // Run again (drift, or --replace): the new attempt keeps the first inside it...
        r.started(action("undo-second")).unwrap();
        assert_eq!(on_disk(&r), [("undo-second".to_string(), Record::Started)]);
        // ...and when it turns out not applied, the first is what reset will undo.
        r.not_applied(&action("undo-second")).unwrap();
        assert_eq!(on_disk(&r), [("undo-first".to_string(), Record::Applied)]);
        // A second attempt that succeeds replaces the first.
        r.started(action("undo-third")).unwrap();
        r.applied(&action("undo-third")).unwrap();
        let state = r.dir.load().unwrap();
        assert_eq!(state.chapters["c"].applied.len(), 1);
        assert!(state.chapters["c"].applied[0].previous.is_none());
        assert_eq!(state.chapters["c"].applied[0].undo, "undo-third");
    }

    #[test]
    fn settling_keeps_the_recorded_variant() {
        let dir = tempfile::tempdir().unwrap();
        recorder(dir.path(), "static").started(action("undo-1")).unwrap();
        // `plan --variant other` settles it.
        let other = recorder(dir.path(), "other");
        other.applied(&action("undo-1")).unwrap();
        assert_eq!(other.dir.load().unwrap().chapters["c"].variant, "static");
    }

    #[test]
    fn a_change_that_cannot_be_saved_is_not_kept_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let r = recorder(dir.path(), "static");
        r.started(action("undo-1")).unwrap();
        // The state's directory becomes a file: every save fails from now on.
        std::fs::remove_dir_all(&r.dir.dir).unwrap();
        std::fs::write(&r.dir.dir, "not a directory").unwrap();
        assert!(r.applied(&action("undo-1")).is_err());
        assert_eq!(r.actions()[0].status, Record::Started, "memory is what the disk had");
    }
}
