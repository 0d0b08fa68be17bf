//! `labctl sandbox down`, and the teardown `up` runs when it fails: stop the sandbox's
//! processes, delete its link and namespaces, remove its `/etc/netns` and state directories
//! (the state directory holds the nodes' own storage too).
//!
//! It finds what to remove from the state file and also by name (namespaces `labctl-NAME-*`,
//! the link alias `labctl-sandbox NAME`), so it works after a half-finished `up` and without a
//! state file; everything already gone is skipped, so it is safe to run twice.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::args::DownArgs;
use super::command::run_quietly;
use super::names::SandboxNames;
use super::netns::{Ip, netns_exists, netns_names};
use super::paths::{ETC_NETNS, SandboxPaths, sandboxes_root};
use super::programs::{find_ip, require_root};
use super::spec::check_name;
use super::state::SandboxState;
use super::{bad_input, failed};

/// What a teardown removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    pub namespaces: usize,
    pub processes: usize,
    pub links: usize,
    pub directory: bool,
}

/// Runs `labctl sandbox down`.
pub fn run(
    args: &DownArgs,
    shell: &crate::output::shell::Shell,
) -> Result<(), crate::error::Error> {
    check_name(&args.name).map_err(bad_input)?;
    require_root("down").map_err(bad_input)?;
    let ip = Ip::new(find_ip().map_err(bad_input)?);
    let names = SandboxNames::new(&args.name);
    let paths = SandboxPaths::new(&sandboxes_root(), &args.name);
    let removed = teardown(&ip, &names, &paths);
    let leftovers: Vec<String> =
        netns_names().into_iter().filter(|ns| names.owns_namespace(ns)).collect();
    if !leftovers.is_empty() {
        return Err(failed(format!(
            "sandbox `{}` is not fully removed: namespaces {} are still there",
            args.name,
            leftovers.join(", ")
        )));
    }
    // The nodes' own storage (docs/architecture.md, "Sandbox nodes") is in this directory: a
    // `down` that leaves it must say so, or a node's files would outlive the sandbox unseen.
    if paths.dir().exists() {
        return Err(failed(format!(
            "sandbox `{}` is not fully removed: `{}` (with its nodes' files) is still there",
            args.name,
            paths.dir().display()
        )));
    }
    if removed == Removed::default() {
        crate::say!(shell, "sandbox `{}` is not running; nothing to remove", args.name);
    } else {
        let mut parts = vec![
            count(removed.namespaces, "namespace"),
            count(removed.processes, "process"),
            count(removed.links, "link"),
        ];
        if removed.directory {
            parts.push(paths.dir().display().to_string());
        }
        crate::say!(shell, "sandbox `{}` is down: removed {}", args.name, parts.join(", "));
    }
    Ok(())
}

fn count(n: usize, noun: &str) -> String {
    match (n, noun) {
        (1, _) => format!("1 {noun}"),
        (_, "process") => format!("{n} processes"),
        _ => format!("{n} {noun}s"),
    }
}

/// Removes everything sandbox `names` made; whatever is already gone is skipped.
pub fn teardown(ip: &Ip, names: &SandboxNames, paths: &SandboxPaths) -> Removed {
    let state = SandboxState::load(paths).ok().flatten();
    let mut namespaces: BTreeSet<String> =
        netns_names().into_iter().filter(|ns| names.owns_namespace(ns)).collect();
    if let Some(state) = &state {
        namespaces.extend(state.namespaces().into_iter().filter(|ns| netns_exists(ns)));
    }

    // Processes first: a namespace lives on while a process is in it.
    let mut pids: BTreeSet<u32> = namespaces.iter().flat_map(|ns| ip.pids(ns)).collect();
    pids.extend(sshd_processes(paths.dir()));
    if let Some(state) = &state {
        let ours = |pid: &u32| cmdline(*pid).is_some_and(|c| c.contains(&dir_marker(paths.dir())));
        pids.extend(state.nodes.iter().filter_map(|n| n.sshd_pid).filter(ours));
    }
    let processes = stop_processes(&pids);

    let links = delete_host_links(ip, names, state.as_ref());
    let lines: Vec<String> = namespaces.iter().map(|ns| format!("netns del {ns}")).collect();
    ip.batch_force(None, &lines);

    remove_etc_dirs(names, state.as_ref());
    let directory = paths.dir().exists() && std::fs::remove_dir_all(paths.dir()).is_ok();
    Removed { namespaces: namespaces.len(), processes, links, directory }
}

/// Deletes the operator's veth (its peer in the network namespace goes with it).
fn delete_host_links(ip: &Ip, names: &SandboxNames, state: Option<&SandboxState>) -> usize {
    let Ok(links) = ip.links() else { return 0 };
    let alias = names.link_alias();
    let recorded = state.map(|s| s.host_link.as_str());
    let ours: Vec<String> = links
        .iter()
        .filter(|l| {
            l.ifalias.as_deref() == Some(alias.as_str())
                // Made, but stopped before the alias was set.
                || (Some(l.ifname.as_str()) == recorded && l.ifalias.is_none())
        })
        .map(|l| l.ifname.clone())
        .collect();
    let lines: Vec<String> = ours.iter().map(|l| format!("link del {l}")).collect();
    ip.batch_force(None, &lines);
    ours.len()
}

fn remove_etc_dirs(names: &SandboxNames, state: Option<&SandboxState>) {
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(ETC_NETNS) {
        for entry in entries.flatten() {
            if entry.file_name().to_str().is_some_and(|n| names.owns_namespace(n)) {
                dirs.insert(entry.path());
            }
        }
    }
    if let Some(state) = state {
        // Only directories inside /etc/netns with one of our names, whatever the file says.
        dirs.extend(state.etc_dirs.iter().filter(|d| is_our_etc_dir(names, d)).cloned());
    }
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    // Fails, as it should, while other namespaces still have their files there.
    let _ = std::fs::remove_dir(ETC_NETNS);
}

fn is_our_etc_dir(names: &SandboxNames, dir: &Path) -> bool {
    dir.parent() == Some(Path::new(ETC_NETNS))
        && dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| names.owns_namespace(n))
}

/// sshd processes started with a config in this sandbox's directory.
fn sshd_processes(dir: &Path) -> Vec<u32> {
    let marker = dir_marker(dir);
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| cmdline(*pid).is_some_and(|c| c.contains("sshd") && c.contains(&marker)))
        .collect()
}

/// The part of an sshd command line that names this sandbox's node configs.
fn dir_marker(dir: &Path) -> String {
    format!("{}/nodes/", dir.display())
}

fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

/// Sends SIGTERM, waits a little, then SIGKILL; the number of processes that were running.
fn stop_processes(pids: &BTreeSet<u32>) -> usize {
    let alive: Vec<u32> = pids.iter().copied().filter(|p| is_alive(*p)).collect();
    if alive.is_empty() {
        return 0;
    }
    signal("TERM", &alive);
    if !wait_for_exit(&alive, Duration::from_secs(3)) {
        signal("KILL", &alive);
        wait_for_exit(&alive, Duration::from_secs(2));
    }
    alive.len()
}

fn signal(name: &str, pids: &[u32]) {
    // The shell's built-in kill: no extra package needed.
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", &format!("kill -s {name} \"$@\" 2>/dev/null"), "sh"]);
    cmd.args(pids.iter().map(u32::to_string));
    run_quietly(&mut cmd, None);
}

fn wait_for_exit(pids: &[u32], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pids.iter().all(|p| !is_alive(*p)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Running and not a zombie (a zombie holds no namespace; its parent may never reap it).
fn is_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // "pid (comm) S ...": the state follows the last ')'.
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z") | Some("X") | None)
}
