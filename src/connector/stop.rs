//! Stopping what a command left running on its host.
//!
//! Every command labctl sends runs with an environment variable, `LABCTL_TAG=<tag>`, that
//! every process it starts inherits. When a command times out, when labctl is interrupted a
//! second time, or when the next run settles an action whose connection was lost, labctl
//! runs [`script`] on that host: it finds the processes carrying the tag in `/proc` and kills
//! them. sshd's own signal forwarding cannot do this: OpenSSH refuses signals in sessions of
//! root, and a lost connection leaves a command without a pty running on. See
//! docs/architecture.md ("Nothing runs on").

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// The environment variable that marks a command's processes on its host.
pub const TAG_VAR: &str = "LABCTL_TAG";

/// How long stopping a command's processes may take.
pub const STOP_TIME: Duration = Duration::from_secs(3);

static NEXT: AtomicU64 = AtomicU64::new(0);
static ABORTED: AtomicBool = AtomicBool::new(false);
static ABORT: Notify = Notify::const_new();

/// A number no other labctl run draws: random keys of std's hasher, the pid and the time.
pub fn unique_number() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

/// A tag no other command of any labctl uses: a token of this process and a counter.
pub fn new_tag() -> String {
    static PROCESS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let process = PROCESS.get_or_init(|| format!("{:016x}", unique_number()));
    format!("{process}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Whether `tag` is one labctl could have made (it goes into a command unquoted).
pub fn is_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 64
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The shell script that kills every process carrying `tag` and prints their pids, one per
/// line. It goes round a few times: a process may fork while the first kills land; it fails
/// if any is left. Needs GNU grep's `-z` (NUL-separated `environ`); Debian's and Ubuntu's
/// grep have it. Its own processes do not carry the tag (it runs under a tag of its own).
pub fn script(tag: &str) -> String {
    format!(
        "t={TAG_VAR}={tag}; found() {{ grep -lzxF \"$t\" /proc/[0-9]*/environ 2>/dev/null | \
         sed -n 's#^/proc/\\([0-9]*\\)/environ$#\\1#p'; }}; i=0; while [ $i -lt 5 ]; do \
         p=$(found); [ -n \"$p\" ] || exit 0; echo $p; kill -KILL $p 2>/dev/null; sleep 0.1; \
         i=$((i+1)); done; p=$(found); [ -z \"$p\" ] || {{ echo \"still running: $p\" >&2; exit 1; }}"
    )
}

/// The pids [`script`] printed.
pub fn stopped_pids(stdout: &[u8]) -> Vec<u32> {
    let mut pids: Vec<u32> =
        String::from_utf8_lossy(stdout).split_whitespace().filter_map(|w| w.parse().ok()).collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Asks every running command of this process to stop now (a second Ctrl-C): each stops its
/// processes on its host, within [`STOP_TIME`], and returns [`super::RunError::Interrupted`].
/// True the first time it is called.
pub fn abort_running() -> bool {
    let first = !ABORTED.swap(true, Ordering::SeqCst);
    ABORT.notify_waiters();
    first
}

/// Whether [`abort_running`] was called.
pub fn is_aborted() -> bool {
    ABORTED.load(Ordering::SeqCst)
}

/// Completes once [`abort_running`] is called (at once if it was).
pub async fn aborted() {
    let notified = ABORT.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    if is_aborted() {
        return;
    }
    notified.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_and_safe_unquoted() {
        let (a, b) = (new_tag(), new_tag());
        assert_ne!(a, b);
        assert!(is_tag(&a) && is_tag(&b), "{a} {b}");
        assert!(!is_tag("x; rm -rf /") && !is_tag(""));
    }

    #[test]
    fn the_script_kills_only_tagged_processes_here() {
        let tag = new_tag();
        let spawn = |tag: &str| {
            std::process::Command::new("sleep")
                .arg("30")
                .env(TAG_VAR, tag)
                .spawn()
                .expect("sleep starts")
        };
        let mut mine = spawn(&tag);
        let mut other = spawn(&new_tag());
        let out = std::process::Command::new("sh").args(["-c", &script(&tag)]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(stopped_pids(&out.stdout), vec![mine.id()]);
        assert!(mine.wait().unwrap().code().is_none(), "killed by a signal");
        assert!(other.try_wait().unwrap().is_none(), "the other command runs on");
        other.kill().unwrap();
        other.wait().unwrap();
    }

    #[test]
    fn printed_pids_are_read_back_once_each() {
        assert_eq!(stopped_pids(b"12 7\n12\n"), vec![7, 12]);
        assert!(stopped_pids(b"").is_empty());
    }
}
