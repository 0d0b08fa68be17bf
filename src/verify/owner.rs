//! Who made a probe: the labctl process behind a verify run, written into the probe's claim on
//! the node so that a later verify can tell a leftover (its process is gone) from a probe that
//! another verify is using right now (see docs/architecture.md, "Verify").
//!
//! An owner is `MACHINE:PID:START`: this machine's id, labctl's process id, and the process's
//! start time in clock ticks since boot (from `/proc/PID/stat`), so that a recycled pid is not
//! taken for the same process.

use std::time::{Duration, SystemTime};

/// How long a probe made from another machine counts as in use: longer than any verify runs.
/// Its process cannot be looked at from here, so only its age tells.
pub const FOREIGN_LEASE: Duration = Duration::from_secs(60 * 60);

/// A labctl process, as written into a probe claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub machine: String,
    pub pid: u32,
    pub start: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        Owner { machine: machine_id(), pid, start: start_time(pid).unwrap_or(0) }
    }

    /// Parses `MACHINE:PID:START`.
    pub fn parse(text: &str) -> Option<Owner> {
        let mut parts = text.trim().rsplitn(3, ':');
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let machine = parts.next()?.to_string();
        Some(Owner { machine, pid, start })
    }

    /// True when this owner is certainly gone: it ran on this machine and no process with its
    /// pid and start time exists; or it ran elsewhere and its claim is older than
    /// [`FOREIGN_LEASE`] (`created` is the claim's time, seconds since the epoch).
    pub fn is_gone(&self, created: Option<u64>, now: SystemTime) -> bool {
        if self.machine == machine_id() {
            return start_time(self.pid) != Some(self.start);
        }
        let now = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
        created.is_some_and(|c| now.saturating_sub(c) > FOREIGN_LEASE.as_secs())
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.machine, self.pid, self.start)
    }
}

/// `/etc/machine-id`, else the hostname: what tells this machine from the others.
fn machine_id() -> String {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    read("/etc/machine-id")
        .filter(|s| !s.is_empty())
        .or_else(|| read("/proc/sys/kernel/hostname"))
        .unwrap_or_else(|| "unknown".into())
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.', "_")
}

/// Field 22 of `/proc/PID/stat` (after the parenthesised command name, which may hold spaces).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_round_trips() {
        let me = Owner::current();
        assert!(me.start > 0);
        assert_eq!(Owner::parse(&me.to_string()), Some(me.clone()));
        assert!(!me.is_gone(None, SystemTime::now()));
    }

    #[test]
    fn a_finished_process_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid).unwrap_or(1);
        child.wait().unwrap();
        let owner = Owner { machine: machine_id(), pid, start };
        assert!(owner.is_gone(None, SystemTime::now()));
        // Same pid, other start time: a recycled pid is not the owner.
        let me = Owner { start: 1, ..Owner::current() };
        assert!(me.is_gone(None, SystemTime::now()));
    }

    #[test]
    fn another_machines_probe_is_gone_only_after_the_lease() {
        let owner = Owner { machine: "elsewhere".into(), pid: 1, start: 5 };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        assert!(!owner.is_gone(Some(9_000), now));
        assert!(owner.is_gone(Some(10_000 - 3_601), now));
        assert!(!owner.is_gone(None, now));
        assert_eq!(
            Owner::parse("a:b:1:2"),
            Some(Owner { machine: "a:b".into(), pid: 1, start: 2 })
        );
        assert_eq!(Owner::parse("nonsense"), None);
    }
}
