//! Reading and removing a variant's footprint on a lab (`labctl reset --hard`): every part's
//! `list` on every host it is read on, then its `remove` once per item, part after part in the
//! chapter's order (e.g. flannel's objects leave the cluster before the nodes are cleaned).

use crate::connector::{CommandSpec, RunError};
use crate::output::progress::Progress;
use crate::plan::HostRef;
use crate::plan::footprint::{Footprint, PartOnHost, PlannedPart};
use crate::runner::execute::{COMMAND_TIMEOUT, describe_failure, run_logged};
use crate::runner::hosts::Hosts;
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;

/// What one part's `list` found on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The items, one per line as `list` printed them (none: the host is at the start).
    Items(Vec<String>),
    /// The host could not be reached (or the connection was lost), with why.
    Unreachable(String),
    /// `list` failed, with why.
    Failed(String),
}

/// One part on one host, and what was found there.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The part's index in the footprint.
    pub part: usize,
    pub host: HostRef,
    pub found: Found,
}

impl Reading {
    /// The items found (none when the host could not be read).
    pub fn items(&self) -> &[String] {
        match &self.found {
            Found::Items(items) => items,
            _ => &[],
        }
    }
}

/// One removal of one item.
#[derive(Debug, Clone)]
pub struct Removal {
    pub part: usize,
    pub host: HostRef,
    pub item: String,
    /// `None`: removed; else why not.
    pub error: Option<String>,
}

/// How the footprint's commands run: with sudo where a part says so (and the inventory
/// allows it), at most `concurrency` hosts at a time.
pub struct Runner<'a> {
    pub footprint: &'a Footprint,
    pub hosts: &'a Hosts,
    pub log: &'a RunLog,
    /// `false` when the inventory logs in as root and needs no sudo.
    pub sudo: bool,
    pub concurrency: usize,
}

impl Runner<'_> {
    /// Reads every part on every host; the readings in footprint order, then host order.
    pub async fn read(&self) -> Vec<Reading> {
        let jobs: Vec<(usize, &PlannedPart, &PartOnHost)> = self
            .footprint
            .parts
            .iter()
            .enumerate()
            .flat_map(|(i, part)| part.hosts.iter().map(move |on| (i, part, on)))
            .collect();
        let futures = jobs.into_iter().map(|(i, part, on)| async move {
            Reading { part: i, host: on.host.clone(), found: self.list(part, on).await }
        });
        super::join_bounded(futures, self.concurrency).await
    }

    async fn list(&self, part: &PlannedPart, on: &PartOnHost) -> Found {
        let Some(connection) = self.hosts.get(&on.host) else {
            let why = self
                .hosts
                .unreachable
                .get(on.host.name())
                .map(|e| e.to_string())
                .unwrap_or_default();
            return Found::Unreachable(why);
        };
        match run_logged(&connection, &on.host, &self.spec(part, on, &on.list), self.log).await {
            Ok(out) if out.success() => {
                let mut items: Vec<String> = Vec::new();
                for line in out.stdout_text().lines().map(str::trim).filter(|l| !l.is_empty()) {
                    if !items.iter().any(|i| i == line) {
                        items.push(line.to_string());
                    }
                }
                Found::Items(items)
            }
            Ok(out) => Found::Failed(describe_failure(&on.list, &out)),
            Err(e @ RunError::ConnectionLost { .. }) => Found::Unreachable(e.to_string()),
            Err(e) => Found::Failed(e.to_string()),
        }
    }

    /// Removes every item of `readings`: part after part, each part on all its hosts at once,
    /// the items of one host one after the other. A host whose connection is lost is left
    /// alone from then on; after an interrupt nothing new starts.
    pub async fn remove(
        &self,
        readings: &[Reading],
        progress: &Progress,
        interrupt: &Interrupt,
    ) -> Vec<Removal> {
        let mut removals = Vec::new();
        for (i, part) in self.footprint.parts.iter().enumerate() {
            let futures = part.hosts.iter().map(|on| {
                let items: Vec<String> = readings
                    .iter()
                    .filter(|r| r.part == i && r.host == on.host)
                    .flat_map(|r| r.items().to_vec())
                    .collect();
                self.remove_on_host(i, part, on, items, progress, interrupt)
            });
            for done in super::join_bounded(futures, self.concurrency).await {
                removals.extend(done);
            }
        }
        removals
    }

    async fn remove_on_host(
        &self,
        index: usize,
        part: &PlannedPart,
        on: &PartOnHost,
        items: Vec<String>,
        progress: &Progress,
        interrupt: &Interrupt,
    ) -> Vec<Removal> {
        let mut removals = Vec::new();
        let mut stopped: Option<String> = None;
        for item in items {
            let removal = |error: Option<String>| Removal {
                part: index,
                host: on.host.clone(),
                item: item.clone(),
                error,
            };
            if let Some(why) = &stopped {
                removals.push(removal(Some(why.clone())));
                continue;
            }
            if interrupt.requested() {
                stopped = Some("interrupted".into());
                removals.push(removal(stopped.clone()));
                continue;
            }
            let Some(connection) = self.hosts.get(&on.host) else {
                stopped = Some("unreachable".into());
                removals.push(removal(stopped.clone()));
                continue;
            };
            let command = match self.footprint.remove_command(part, on, &item) {
                Ok(c) => c,
                Err(d) => {
                    removals.push(removal(Some(d.to_string())));
                    continue;
                }
            };
            let error =
                match run_logged(&connection, &on.host, &self.spec(part, on, &command), self.log)
                    .await
                {
                    Ok(out) if out.success() => None,
                    Ok(out) => Some(describe_failure(&command, &out)),
                    Err(e) => {
                        if matches!(e, RunError::ConnectionLost { .. }) {
                            stopped = Some(format!("connection lost: {e}"));
                        }
                        Some(e.to_string())
                    }
                };
            let word = if error.is_none() { "removed" } else { "failed" };
            progress.event(on.host.name(), word, &format!("{} {item}", part.name), true);
            removals.push(removal(error));
        }
        removals
    }

    fn spec(&self, part: &PlannedPart, on: &PartOnHost, command: &str) -> CommandSpec {
        CommandSpec {
            command: command.to_string(),
            sudo: part.sudo && (self.sudo || on.host == HostRef::Local),
            stdin: None,
            timeout: COMMAND_TIMEOUT,
        }
    }
}
