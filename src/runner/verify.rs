//! Carrying out verify on a lab: the chapter's checks about single hosts, each on its own
//! hosts, with progress and the report. A chapter's own checks (chapter 11's facts, probe pods
//! and pairs) are handed in by the caller as [`ChapterChecks`] and use the methods here to reach
//! the hosts; the runner does not know them (docs/architecture.md, "Layers (folders)"). The
//! judgement itself is pure and lives in [`crate::verify`].

use std::sync::Arc;
use std::time::Duration;

use futures::future::LocalBoxFuture;

use super::join_bounded;

use crate::chapter::provided::RunsOn;
use crate::chapter::schema::{Target, VerifyCheck};
use crate::chapter::{Chapter, Variant};
use crate::connector::{CommandOutput, CommandSpec, Connection};
use crate::diagnostic::Diagnostic;
use crate::inventory::{Inventory, Node};
use crate::output::progress::Progress;
use crate::plan::HostRef;
use crate::runner::execute::run_logged;
use crate::runner::hosts::Hosts;
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;
use crate::verify::command::{PlannedCheck, hosts_of};
use crate::verify::{HostCheck, Report};

/// How long a fact or probe script may take.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// A chapter's own way of verifying, run instead of [`Verifier::run_host_checks`]: it runs the
/// host checks itself ([`Verifier::host_checks`]) and adds its own.
pub type ChapterChecks =
    for<'v> fn(&'v Verifier<'v>) -> LocalBoxFuture<'v, Result<Report, Diagnostic>>;

/// The hosts verify needs for `variant`: every worker when a check of the chapter's own runs
/// on the workers, plus the hosts of its host checks.
pub fn hosts_needed(chapter: &Chapter, variant: &Variant, inventory: &Inventory) -> Vec<HostRef> {
    let mut hosts: Vec<HostRef> = if chapter.runs_on(variant, RunsOn::Workers) {
        inventory.workers().map(|n| HostRef::Node(n.name.clone())).collect()
    } else {
        Vec::new()
    };
    let mut add = |h: HostRef| {
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    };
    for check in &variant.verify {
        match check {
            VerifyCheck::RolloutReady { .. } => {
                for h in hosts_of(Target::Kubectl, inventory) {
                    add(h);
                }
            }
            VerifyCheck::Command { target, .. } => {
                for h in hosts_of(*target, inventory) {
                    add(h);
                }
            }
            VerifyCheck::Provided(_) => {
                if chapter.provided_kind(check).is_some_and(|k| k.runs_on == RunsOn::ThisMachine) {
                    add(HostRef::Local);
                }
            }
        }
    }
    hosts
}

/// Everything verify needs from the command line and the lab.
pub struct Verifier<'a> {
    pub chapter: &'a Chapter,
    pub variant: &'a Variant,
    pub inventory: &'a Inventory,
    pub hosts: &'a Hosts,
    pub log: &'a RunLog,
    /// `false` when the inventory logs in as root.
    pub sudo: bool,
    /// At most this many hosts at a time (`-j`).
    pub concurrency: usize,
    /// Ctrl-C: no new checks, the probes are still removed.
    pub interrupt: Option<&'a Interrupt>,
    /// Steps per worker, on a terminal.
    pub progress: Option<&'a Progress>,
    /// The chapter's own checks, when it has them (chapter 11: `crate::pod_network::verify`).
    pub chapter_checks: Option<ChapterChecks>,
}

impl Verifier<'_> {
    /// Runs every check of the variant and judges the results.
    pub async fn run(&self) -> Result<Report, Diagnostic> {
        match self.chapter_checks {
            Some(checks) => checks(self).await,
            None => self.run_host_checks().await,
        }
    }

    /// A variant whose checks are about single hosts: each check on its own hosts, a report
    /// per host and check.
    pub async fn run_host_checks(&self) -> Result<Report, Diagnostic> {
        let checks = self.host_checks().await?;
        self.finish_hosts();
        Ok(Report::of_host_checks(self.chapter.name(), checks))
    }

    /// Progress: every host verify needs is done.
    pub fn finish_hosts(&self) {
        if let Some(progress) = self.progress {
            for host in hosts_needed(self.chapter, self.variant, self.inventory) {
                progress.finish(host.name(), "done");
            }
        }
    }

    /// Whether the user asked to stop (Ctrl-C): no new checks.
    pub fn stop_requested(&self) -> bool {
        self.interrupt.is_some_and(|i| i.requested())
    }

    /// Progress: one step of every worker done.
    pub fn step(&self, what: &str) {
        if let Some(progress) = self.progress {
            for node in self.inventory.workers() {
                progress.event(&node.name, what, "", true);
            }
        }
    }

    /// The connection to `node`, or why there is none.
    pub fn connection(&self, node: &Node) -> Result<Arc<Connection>, String> {
        let host = HostRef::Node(node.name.clone());
        self.hosts.get(&host).ok_or_else(|| {
            self.hosts
                .unreachable
                .get(&node.name)
                .map(|e| e.to_string())
                .unwrap_or_else(|| "not connected".into())
        })
    }

    /// Runs a script on `node` (with sudo when asked and needed), logged.
    pub async fn exec(
        &self,
        node: &Node,
        command: String,
        sudo: bool,
    ) -> Result<CommandOutput, String> {
        let connection = self.connection(node)?;
        let spec =
            CommandSpec { command, sudo: sudo && self.sudo, stdin: None, timeout: SCRIPT_TIMEOUT };
        run_logged(&connection, &HostRef::Node(node.name.clone()), &spec, self.log)
            .await
            .map_err(|e| e.to_string())
    }

    /// The chapter's checks about single hosts, from its data (`crate::verify::command`).
    pub async fn host_checks(&self) -> Result<Vec<HostCheck>, Diagnostic> {
        let pending =
            crate::verify::command::planned_checks(self.chapter, self.variant, self.inventory)?;
        let results: Vec<HostCheck> = join_bounded(
            pending.into_iter().map(
                |PlannedCheck { name, host, command, sudo, expected, hint }| async move {
                    let outcome = match self.hosts.get(&host) {
                        None => Err(self
                            .hosts
                            .unreachable
                            .get(host.name())
                            .map(|e| e.to_string())
                            .unwrap_or_default()),
                        Some(connection) => {
                            let spec = CommandSpec {
                                command: command.clone(),
                                sudo: sudo && (self.sudo || host == HostRef::Local),
                                stdin: None,
                                timeout: SCRIPT_TIMEOUT,
                            };
                            run_logged(&connection, &host, &spec, self.log)
                                .await
                                .map_err(|e| e.to_string())
                        }
                    };
                    let outcome_ran = outcome.is_ok();
                    let (passed, evidence) = match outcome {
                        Ok(out) => crate::verify::command::judge(&command, &out, &expected),
                        Err(e) => (false, format!("host unreachable: {e}")),
                    };
                    let mut check = HostCheck::new(name, host.name(), passed, evidence);
                    // A hint is for a check that ran and failed, not for a host out of reach.
                    if !passed && outcome_ran {
                        check.hint = hint;
                    }
                    check
                },
            ),
            self.concurrency,
        )
        .await;
        Ok(results)
    }
}
