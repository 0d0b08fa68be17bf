//! `labctl reset --hard [CHAPTER]`: back to the chapter's start, whoever made the changes.
//!
//! labctl's own recorded actions are undone first (as plain `reset` does); then the variant's
//! footprint is read on every host and every item found is removed, labctl's or a student's;
//! then it is read once more, and each host is reported back at the start or with what
//! remains. See docs/architecture.md ("Footprint").

use comfy_table::{Table, presets};

use crate::chapter::Variant;
use crate::cli::GlobalArgs;
use crate::commands::lab::{Lab, print_unreachable};
use crate::commands::reset::{add_hosts_of, confirm};
use crate::error::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_UNREACHABLE, Error};
use crate::output::summary::{Status, flush_left};
use crate::plan::HostRef;
use crate::plan::footprint::{Footprint, is_left_by};
use crate::runner::footprint::{Found, Reading, Removal, Runner};
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;
use crate::runner::state::AppliedAction;

/// Brings the lab back to the start of `chapter` (default: the last one run).
pub fn run(
    global: &GlobalArgs,
    chapter: Option<&str>,
    variant: Option<&str>,
    yes: bool,
    dry_run: bool,
    json: bool,
) -> Result<(), Error> {
    let mut lab = Lab::open(global, chapter)?;
    let chosen: Variant = lab.variant(variant, true)?.clone();
    if chosen.footprint.is_empty() {
        return Err(Error::bad_input(format!(
            "variant `{}` of {} declares no footprint: labctl cannot tell what in the lab belongs to it",
            chosen.name.value,
            lab.chapter.name()
        ))
        .help("plain `labctl reset` undoes what labctl applied; a chapter declares `footprint:` for `reset --hard` (docs/chapters.md)"));
    }
    let name = chosen.name.value.clone();
    if chosen.cloud.is_some() {
        // The footprint names the project and network; gcloud's configuration may decide them.
        lab.prepare(Some(&name), false, crate::pod_network::gce::Need::Instances)?;
    }
    let _lock = if dry_run { None } else { Some(lab.state_dir.lock()?) };
    let state = lab.state_dir.load()?;
    let applied: Vec<AppliedAction> =
        state.chapters.get(lab.chapter.name()).map(|c| c.applied.clone()).unwrap_or_default();
    let footprint = crate::plan::footprint::render(&lab.chapter, &chosen, &lab.inventory)?;
    let mut hosts = footprint.hosts();
    add_hosts_of(&applied, &mut hosts);
    lab.inventory_order(&mut hosts);
    let log = RunLog::open(
        &lab.state_dir.logs(),
        if dry_run { "reset-hard-dry-run" } else { "reset-hard" },
    )
    .echoing(&global.shell);
    let concurrency = global.concurrency as usize;
    let runtime = crate::runner::runtime()?;
    let connections = runtime.block_on(lab.connect(&hosts, concurrency, &log))?;
    let runner = Runner {
        footprint: &footprint,
        hosts: &connections,
        log: &log,
        sudo: lab.inventory.ssh.sudo,
        concurrency,
    };
    let before = runtime.block_on(runner.read());
    print_unreachable(&connections, &global.shell);
    let found: usize = before.iter().map(|r| r.items().len()).sum();
    let unreadable = unreadable(&before);
    if !json {
        crate::say!(
            global.shell,
            "reset --hard: {} (variant {name}): {found} item(s) of its footprint on {} host(s)",
            lab.chapter.name(),
            hosts_with_items(&before)
        );
        // The listing is what a prompt asks about; with `--yes` the report after the removal
        // shows the same items with what became of them, so it is not printed twice.
        if found > 0 && (dry_run || !yes) {
            crate::say!(global.shell, "{}", listing(&footprint, &before, &applied));
        }
    }
    for (host, why) in &unreadable {
        global.shell.error(&format!("{host}: not read: {why}"));
    }
    // Nothing changes: the JSON is what was read, each item as what would become of it; a host
    // out of reach is counted as one, as after a reset.
    let unreached = hosts
        .iter()
        .filter(|h| {
            before.iter().any(|r| &r.host == *h && matches!(r.found, Found::Unreachable(_)))
        })
        .count();
    let unchanged = |dry_run: bool| HardJson {
        command: "reset --hard",
        chapter: lab.chapter.name(),
        variant: &name,
        dry_run,
        summary: HardSummary { found, unreachable: unreached, ..HardSummary::default() },
        hosts: as_read(&hosts, &footprint, &before, &applied, dry_run),
        log: log.path(),
    };
    if dry_run {
        match json {
            true => crate::say!(global.shell, "{}", unchanged(true).render()),
            false => crate::say!(
                global.shell,
                "reset --hard --dry-run: {found} item(s) would be removed; nothing was changed"
            ),
        }
        return finish(&unreadable);
    }
    if found == 0 && applied.is_empty() {
        match json {
            true => crate::say!(global.shell, "{}", unchanged(false).render()),
            false => crate::say!(
                global.shell,
                "reset --hard: nothing to remove; every host read is at the chapter's start"
            ),
        }
        return finish(&unreadable);
    }
    if !yes
        && !confirm(
            &global.shell,
            &format!(
                "reset --hard will remove these {found} item(s), whoever made them, and undo {} action(s) labctl recorded. Go on? [y/N] ",
                applied.len()
            ),
        )?
    {
        return Err(Error::Cancelled { what: "reset".into() });
    }

    let recorder = lab.recorder(&name)?;
    let work: Vec<(String, u64)> =
        hosts.iter().map(|h| (h.name().to_string(), items_on(&before, h) as u64)).collect();
    let (undone, middle, removals, after, interrupted) = runtime.block_on(async {
        let interrupt = Interrupt::listen(&global.shell);
        // What an interrupted run left recorded as started is settled first: stopped if it
        // still runs, then undone with the rest if its check passes.
        lab.settle(&recorder, &connections, &log).await;
        let progress = lab.progress(&work);
        let settled: Vec<AppliedAction> =
            recorder.actions().into_iter().filter(|a| a.is_applied()).collect();
        // An action whose every item the footprint read has no longer on its host was undone
        // by hand: it is forgotten, not undone again and counted as labctl's.
        let (gone, settled): (Vec<AppliedAction>, Vec<AppliedAction>) =
            settled.into_iter().partition(|a| already_gone(a, &before));
        for a in &gone {
            if let Err(e) = recorder.forget(a) {
                global.shell.warn(&format!(
                    "{}: {} is gone, but the state could not be saved: {e}",
                    a.host, a.step
                ));
            }
        }
        let mut undone = crate::runner::reset::undo_all(
            &settled,
            &crate::runner::reset::UndoContext {
                hosts: &connections,
                progress: &progress,
                log: &log,
                interrupt: &interrupt,
                recorder: &recorder,
                concurrency,
                command_timeout: lab.command_timeout,
            },
        )
        .await;
        lab.results_in_inventory_order(&mut undone);
        let middle = runner.read().await;
        let removals = runner.remove(&middle, &progress, &interrupt).await;
        let after = runner.read().await;
        progress.clear();
        (undone, middle, removals, after, interrupt.by_user())
    });
    for host in &undone {
        for a in host.actions.iter().filter(|a| a.status == Status::Failed) {
            global.shell.warn(&format!(
                "{}: labctl's undo of {} failed ({}); its footprint is removed instead",
                host.host, a.step, a.detail
            ));
        }
    }
    let outcomes = outcomes(&before, &middle, &removals, &after);
    if !json {
        crate::say!(global.shell, "{}", report(&footprint, &outcomes, &applied));
    }
    let mut remaining = 0;
    let mut unreachable = 0;
    let mut hosts_json = Vec::new();
    for host in &hosts {
        let readings: Vec<&Reading> = after.iter().filter(|r| &r.host == host).collect();
        if readings.is_empty() {
            continue;
        }
        let mut host_json = HostJson {
            host: host.name().to_string(),
            at_start: None,
            error: None,
            items: outcomes
                .iter()
                .filter(|o| &o.host == host)
                .map(|o| ItemJson::of(&footprint, &applied, o))
                .collect(),
        };
        if let Some(why) = readings.iter().find_map(|r| match &r.found {
            Found::Unreachable(why) => Some(why.clone()),
            _ => None,
        }) {
            unreachable += 1;
            if !json {
                crate::say!(global.shell, "{}: unreachable, not reset: {why}", host.name());
            }
            host_json.error = Some(format!("unreachable: {why}"));
            hosts_json.push(host_json);
            continue;
        }
        if let Some(why) = readings.iter().find_map(|r| match &r.found {
            Found::Failed(why) => Some(why.clone()),
            _ => None,
        }) {
            remaining += 1;
            if !json {
                crate::say!(
                    global.shell,
                    "{}: its footprint could not be read: {why}",
                    host.name()
                );
            }
            host_json.error = Some(why);
            hosts_json.push(host_json);
            continue;
        }
        let left: Vec<String> = readings
            .iter()
            .flat_map(|r| r.items().iter().map(|i| format!("{} {i}", footprint.parts[r.part].name)))
            .collect();
        host_json.at_start = Some(left.is_empty());
        if left.is_empty() {
            if !json {
                crate::say!(global.shell, "{}: back at the start", host.name());
            }
            if let Err(e) = recorder.forget_host(host.name()) {
                let why = format!("back at the start, but the state could not be saved: {e}");
                global.shell.error(&format!("{}: {why}", host.name()));
                host_json.error = Some(why);
                remaining += 1;
            }
        } else {
            remaining += 1;
            if !json {
                crate::say!(
                    global.shell,
                    "{}: {} item(s) remain: {}",
                    host.name(),
                    left.len(),
                    left.join("; ")
                );
            }
        }
        hosts_json.push(host_json);
    }
    let removed = removals.iter().filter(|r| r.error.is_none()).count();
    let undone_count: usize =
        undone.iter().flat_map(|h| &h.actions).filter(|a| a.status == Status::Changed).count();
    match json {
        true => {
            let out = HardJson {
                command: "reset --hard",
                chapter: lab.chapter.name(),
                variant: &name,
                dry_run: false,
                summary: HardSummary {
                    found,
                    undone: undone_count,
                    removed,
                    not_at_start: remaining,
                    unreachable,
                },
                hosts: hosts_json,
                log: log.path(),
            };
            crate::say!(global.shell, "{}", out.render());
        }
        false => crate::say!(
            global.shell,
            "reset --hard: {undone_count} undone by labctl, {removed} removed, {remaining} host(s) not at the start, {unreachable} unreachable (log: {})",
            log.path().display()
        ),
    }
    let code = if interrupted {
        EXIT_INTERRUPTED
    } else if remaining > 0 {
        EXIT_FAILED
    } else if unreachable > 0 {
        EXIT_UNREACHABLE
    } else {
        0
    };
    match code {
        0 => Ok(()),
        code => Err(Error::with_code(
            code,
            match code {
                EXIT_INTERRUPTED => "interrupted; run `labctl reset --hard` again to finish",
                EXIT_UNREACHABLE => {
                    "some hosts could not be reached and were not reset; run `labctl reset --hard` again when they are up"
                }
                _ => "the lab is not back at the chapter's start everywhere (see above)",
            },
        )),
    }
}

/// Exit for a run that changed nothing: 3 when some host could not be read.
fn finish(unreadable: &[(String, String)]) -> Result<(), Error> {
    if unreadable.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = unreadable.iter().map(|(h, _)| h.as_str()).collect();
    Err(Error::with_code(
        if unreadable.iter().all(|(_, w)| w.starts_with("unreachable")) {
            EXIT_UNREACHABLE
        } else {
            EXIT_FAILED
        },
        format!("{} could not be read; what is there is not listed", names.join(", ")),
    ))
}

/// Hosts whose footprint could not be read, with why (`unreachable: ...` or the failure).
fn unreadable(readings: &[Reading]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in readings {
        let why = match &r.found {
            Found::Items(_) => continue,
            Found::Unreachable(why) => format!("unreachable: {why}"),
            Found::Failed(why) => why.clone(),
        };
        if !out.iter().any(|(h, _)| h == r.host.name()) {
            out.push((r.host.name().to_string(), why));
        }
    }
    out
}

fn hosts_with_items(readings: &[Reading]) -> usize {
    let mut hosts: Vec<&HostRef> = Vec::new();
    for r in readings.iter().filter(|r| !r.items().is_empty()) {
        if !hosts.contains(&&r.host) {
            hosts.push(&r.host);
        }
    }
    hosts.len()
}

fn items_on(readings: &[Reading], host: &HostRef) -> usize {
    readings.iter().filter(|r| &r.host == host).map(|r| r.items().len()).sum()
}

/// Who made `item` of part `part` on `host`: labctl's run that left it, else nobody labctl knows.
/// True when the footprint read `action`'s host and found none of the items it left (so the
/// student removed them); false when it left none it can name, or its host was not read.
fn already_gone(action: &AppliedAction, readings: &[Reading]) -> bool {
    let on_host: Vec<&Reading> = readings.iter().filter(|r| r.host.name() == action.host).collect();
    !action.leaves.is_empty()
        && !on_host.is_empty()
        && on_host.iter().all(|r| matches!(r.found, Found::Items(_)))
        && !on_host
            .iter()
            .flat_map(|r| r.items())
            .any(|item| action.leaves.iter().any(|l| is_left_by(item, l)))
}

pub fn made_by(applied: &[AppliedAction], host: &HostRef, item: &str) -> String {
    applied
        .iter()
        .filter(|a| a.host == host.name())
        .find(|a| a.leaves.iter().any(|l| is_left_by(item, l)))
        .map(|a| format!("labctl's run at {}", a.at))
        .unwrap_or_else(|| "not made by labctl".to_string())
}

fn table() -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.force_no_tty();
    table
}

/// HOST PART ITEM MADE BY, one row per item found.
fn listing(footprint: &Footprint, readings: &[Reading], applied: &[AppliedAction]) -> String {
    let mut t = table();
    t.set_header(["HOST", "PART", "ITEM", "MADE BY"]);
    for r in readings {
        for item in r.items() {
            t.add_row([
                r.host.name(),
                &footprint.parts[r.part].name,
                item,
                &made_by(applied, &r.host, item),
            ]);
        }
    }
    flush_left(&t)
}

/// What became of one item found before or after labctl's undo.
struct Outcome {
    part: usize,
    host: HostRef,
    item: String,
    result: Became,
}

enum Became {
    /// Gone once labctl's recorded actions were undone.
    Undone,
    Removed,
    /// Still there, with why (the remove's error, or "still there").
    Remains(String),
    /// The host could not be read again, with why.
    Unknown(String),
}

impl Became {
    /// The word in the text table.
    fn text(&self) -> String {
        match self {
            Became::Undone => "undone by labctl".to_string(),
            Became::Removed => "removed".to_string(),
            Became::Remains(why) => format!("remains: {why}"),
            Became::Unknown(why) => format!("unknown: {why}"),
        }
    }
}

/// What became of every item found before or after labctl's undo, in the order found.
fn outcomes(
    before: &[Reading],
    middle: &[Reading],
    removals: &[Removal],
    after: &[Reading],
) -> Vec<Outcome> {
    let in_reading = |readings: &[Reading], part: usize, host: &HostRef, item: &str| {
        readings
            .iter()
            .any(|r| r.part == part && &r.host == host && r.items().iter().any(|i| i == item))
    };
    let mut rows: Vec<(usize, HostRef, String)> = Vec::new();
    for r in before.iter().chain(middle) {
        for item in r.items() {
            if !rows.iter().any(|(p, h, i)| *p == r.part && h == &r.host && i == item) {
                rows.push((r.part, r.host.clone(), item.clone()));
            }
        }
    }
    let mut out = Vec::new();
    for (part, host, item) in rows {
        let was_read = |readings: &[Reading]| {
            readings
                .iter()
                .any(|r| r.part == part && r.host == host && matches!(r.found, Found::Items(_)))
        };
        let removal_error = || {
            removals
                .iter()
                .find(|x| x.part == part && x.host == host && x.item == item)
                .and_then(|x| x.error.clone())
        };
        let result = if was_read(middle)
            && !in_reading(middle, part, &host, &item)
            && in_reading(before, part, &host, &item)
        {
            Became::Undone
        } else if !was_read(after) {
            Became::Unknown(
                removal_error().unwrap_or_else(|| "the host could not be read again".into()),
            )
        } else if in_reading(after, part, &host, &item) {
            Became::Remains(removal_error().unwrap_or_else(|| "still there".into()))
        } else {
            Became::Removed
        };
        out.push(Outcome { part, host, item, result });
    }
    out
}

/// HOST PART ITEM MADE BY RESULT, one row per item found.
fn report(footprint: &Footprint, outcomes: &[Outcome], applied: &[AppliedAction]) -> String {
    let mut t = table();
    t.set_header(["HOST", "PART", "ITEM", "MADE BY", "RESULT"]);
    for o in outcomes {
        t.add_row([
            o.host.name(),
            &footprint.parts[o.part].name,
            &o.item,
            &made_by(applied, &o.host, &o.item),
            &o.result.text(),
        ]);
    }
    flush_left(&t)
}

/// `reset --hard --output json` (docs/json.md, "reset --hard").
#[derive(serde::Serialize)]
struct HardJson<'a> {
    command: &'static str,
    chapter: &'a str,
    variant: &'a str,
    dry_run: bool,
    summary: HardSummary,
    hosts: Vec<HostJson>,
    log: &'a std::path::Path,
}

impl HardJson<'_> {
    fn render(&self) -> String {
        serde_json::to_string_pretty(self).expect("reset --hard's results serialize to JSON")
    }
}

#[derive(serde::Serialize, Default)]
struct HardSummary {
    /// Items of the footprint found before anything was changed.
    found: usize,
    undone: usize,
    removed: usize,
    not_at_start: usize,
    unreachable: usize,
}

/// One host: whether it is at the chapter's start (`None`: it could not be read), why not
/// read, and every item found there.
#[derive(serde::Serialize)]
struct HostJson {
    host: String,
    at_start: Option<bool>,
    error: Option<String>,
    items: Vec<ItemJson>,
}

#[derive(serde::Serialize)]
struct ItemJson {
    part: String,
    item: String,
    made_by: String,
    /// `would_remove` (`--dry-run`), `undone`, `removed`, `remains`, `unknown`.
    result: &'static str,
    detail: Option<String>,
}

impl ItemJson {
    fn of(footprint: &Footprint, applied: &[AppliedAction], o: &Outcome) -> ItemJson {
        let (result, detail) = match &o.result {
            Became::Undone => ("undone", None),
            Became::Removed => ("removed", None),
            Became::Remains(why) => ("remains", Some(why.clone())),
            Became::Unknown(why) => ("unknown", Some(why.clone())),
        };
        ItemJson {
            part: footprint.parts[o.part].name.clone(),
            item: o.item.clone(),
            made_by: made_by(applied, &o.host, &o.item),
            result,
            detail,
        }
    }
}

/// The hosts as read before anything changed, each item as what would become of it.
fn as_read(
    hosts: &[HostRef],
    footprint: &Footprint,
    before: &[Reading],
    applied: &[AppliedAction],
    dry_run: bool,
) -> Vec<HostJson> {
    let unreadable = unreadable(before);
    let mut out = Vec::new();
    for host in hosts {
        let readings: Vec<&Reading> = before.iter().filter(|r| &r.host == host).collect();
        if readings.is_empty() {
            continue;
        }
        let error = unreadable.iter().find(|(h, _)| h == host.name()).map(|(_, why)| why.clone());
        let items: Vec<ItemJson> = readings
            .iter()
            .flat_map(|r| r.items().iter().map(move |item| (r.part, item)))
            .map(|(part, item)| ItemJson {
                part: footprint.parts[part].name.clone(),
                item: item.clone(),
                made_by: made_by(applied, host, item),
                result: if dry_run { "would_remove" } else { "remains" },
                detail: None,
            })
            .collect();
        out.push(HostJson {
            host: host.name().to_string(),
            at_start: error.is_none().then_some(items.is_empty()),
            error,
            items,
        });
    }
    out
}
