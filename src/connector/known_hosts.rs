//! labctl's own known_hosts file: OpenSSH's format and OpenSSH's three policies.
//!
//! labctl keeps its own file rather than `~/.ssh/known_hosts` because lab machines are rebuilt
//! all the time: their keys must not pollute, or trip over, the user's own ssh trust. The
//! format is OpenSSH's (`host key-type base64`, `[host]:port` for ports other than 22) so that
//! `ssh-keygen -R` and `ssh-keyscan` work on it.
//!
//! Parsing, lookup and the policy decision are pure ([`KnownHosts`], [`decide`]); [`check`]
//! adds the file I/O. Many hosts connect at once, so reading, checking and appending happen
//! under an exclusive lock on the file: two connections to one new host add one line, not two.
//!
//! The policies ([`HostKeyChecking`]), mapped onto OpenSSH's `StrictHostKeyChecking`:
//!
//! | policy       | known key | unknown host        | changed key                      |
//! |--------------|-----------|---------------------|----------------------------------|
//! | `strict`     | accepted  | refused             | refused                          |
//! | `accept-new` | accepted  | appended, accepted  | refused                          |
//! | `off`        | accepted  | accepted, not saved | accepted, with a warning         |
//!
//! `off` is "no checking": the file is read (so a change can be reported) but never written,
//! so keys that nobody checked never become trusted later under `accept-new` or `strict`.
//!
//! Matching follows OpenSSH: comma-separated patterns with `*`, `?` and `!negation`, compared
//! case-insensitively. Hashed entries (`|1|...`) and marker lines (`@cert-authority`,
//! `@revoked`) are not interpreted (labctl never writes them) but are kept untouched.
//! A host whose only known keys are of another type counts as *changed*: OpenSSH avoids that
//! case by negotiating the known key type first, which labctl's ssh library cannot do, and
//! accepting the new type would let an interceptor choose it.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::public::KeyData;
use russh::keys::{HashAlg, PublicKey};

use crate::inventory::HostKeyChecking;

/// The entries of a known_hosts file that labctl can match against.
#[derive(Debug, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    /// 1-based line number in the file, for messages.
    line: usize,
    patterns: String,
    key: KeyData,
}

/// What a known_hosts file says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The key is listed for the host on this line.
    Known { line: usize },
    /// The host is listed with another key; the first such line.
    Changed { line: usize, expected: KeyData },
    /// The host is not listed.
    Unknown,
}

/// The result of checking a host key under a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The key is in the file.
    Known,
    /// The host was new; its key has been appended (accept-new).
    Learned,
    /// The host was new and its key accepted (accept-new), but the file cannot be written
    /// (a read-only `.labctl/`): it is accepted again next time, until it can be saved.
    LearnedNotSaved,
    /// Checking is off and the host is not in the file.
    Unchecked,
    /// Checking is off and the key differs from the one in the file: accepted, but say so.
    UncheckedChange { line: usize, expected_fingerprint: String },
    /// Refused: checking is strict and the host is not in the file.
    Unknown,
    /// Refused: the file holds another key for this host.
    Changed { line: usize, expected_fingerprint: String },
}

impl Verdict {
    /// Whether the connection may go on.
    pub fn accepted(&self) -> bool {
        !matches!(self, Verdict::Unknown | Verdict::Changed { .. })
    }
}

/// A known_hosts file that could not be read or written; a permission error says whose file
/// it is and what to do (`crate::ownership`).
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(self))]
pub struct KnownHostsError {
    pub path: PathBuf,
    /// What labctl was doing: "read", "lock", "write", "create the directory of".
    pub action: &'static str,
    pub source: std::io::Error,
}

fn describe(e: &KnownHostsError) -> String {
    if e.source.kind() == std::io::ErrorKind::PermissionDenied {
        let verb = if e.action == "read" { "read" } else { "write" };
        return crate::ownership::denied(verb, &e.path);
    }
    format!("cannot {} `{}`: {}", e.action, e.path.display(), e.source)
}

impl KnownHosts {
    /// Reads the text of a known_hosts file; lines it cannot use are skipped, as OpenSSH does.
    pub fn parse(text: &str) -> KnownHosts {
        let entries = text
            .lines()
            .enumerate()
            .filter_map(|(index, line)| {
                parse_line(line).map(|(patterns, key)| (index, patterns, key))
            })
            .map(|(index, patterns, key)| Entry { line: index + 1, patterns, key })
            .collect();
        KnownHosts { entries }
    }

    /// What the file says about `key` for `host` reached on `port`.
    pub fn lookup(&self, host: &str, port: u16, key: &KeyData) -> Lookup {
        let name = host_pattern(host, port).to_ascii_lowercase();
        let listed: Vec<&Entry> =
            self.entries.iter().filter(|entry| host_matches(&entry.patterns, &name)).collect();
        if let Some(entry) = listed.iter().find(|entry| entry.key == *key) {
            return Lookup::Known { line: entry.line };
        }
        match listed.first() {
            Some(entry) => Lookup::Changed { line: entry.line, expected: entry.key.clone() },
            None => Lookup::Unknown,
        }
    }
}

/// `host`, or `[host]:port` when the port is not 22: how OpenSSH names a host in the file.
pub fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 { host.to_string() } else { format!("[{host}]:{port}") }
}

/// The line that records `key` for `host` on `port` (without the newline).
pub fn entry_line(
    host: &str,
    port: u16,
    key: &KeyData,
) -> Result<String, russh::keys::ssh_key::Error> {
    let key = PublicKey::from(key.clone()).to_openssh()?;
    Ok(format!("{} {key}", host_pattern(host, port)))
}

/// A key's fingerprint as `ssh-keygen -l` prints it (`SHA256:...`).
pub fn fingerprint(key: &KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// What to do with a key, given what the file says and the policy (see the module table).
pub fn decide(lookup: &Lookup, policy: HostKeyChecking) -> Verdict {
    match (lookup, policy) {
        (Lookup::Known { .. }, _) => Verdict::Known,
        (Lookup::Unknown, HostKeyChecking::Strict) => Verdict::Unknown,
        (Lookup::Unknown, HostKeyChecking::AcceptNew) => Verdict::Learned,
        (Lookup::Unknown, HostKeyChecking::Off) => Verdict::Unchecked,
        (Lookup::Changed { line, expected }, HostKeyChecking::Off) => {
            Verdict::UncheckedChange { line: *line, expected_fingerprint: fingerprint(expected) }
        }
        (Lookup::Changed { line, expected }, _) => {
            Verdict::Changed { line: *line, expected_fingerprint: fingerprint(expected) }
        }
    }
}

/// Checks `key` for `host`/`port` against `file` under `policy`, appending it when it is learnt.
///
/// Blocking (it waits for the file lock): call it from a blocking task.
pub fn check(
    file: &Path,
    policy: HostKeyChecking,
    host: &str,
    port: u16,
    key: &KeyData,
) -> Result<Verdict, KnownHostsError> {
    let error = |action, source| KnownHostsError { path: file.to_path_buf(), action, source };
    match policy {
        // No checking: a file that cannot be read just means nothing to compare with.
        HostKeyChecking::Off => {
            let text = read_locked(file).unwrap_or_default();
            Ok(decide(&KnownHosts::parse(&text).lookup(host, port, key), policy))
        }
        HostKeyChecking::Strict => {
            let text = read_locked(file)?;
            Ok(decide(&KnownHosts::parse(&text).lookup(host, port, key), policy))
        }
        HostKeyChecking::AcceptNew => {
            if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
                    Ok(()) => {}
                    Err(e) if read_only(&e) => {}
                    Err(e) => return Err(error("create the directory of", e)),
                }
            }
            let opened =
                OpenOptions::new().read(true).append(true).create(true).mode(0o600).open(file);
            let mut handle = match opened {
                Ok(handle) => handle,
                // A read-only `.labctl/` (a shared or mounted lab): keys already known are
                // checked as usual; a new one is accepted for this run without being written,
                // as ssh does when it cannot add to known_hosts.
                Err(e) if read_only(&e) => {
                    let text = read_locked(file)?;
                    return Ok(
                        match decide(&KnownHosts::parse(&text).lookup(host, port, key), policy) {
                            Verdict::Learned => Verdict::LearnedNotSaved,
                            other => other,
                        },
                    );
                }
                Err(e) => return Err(error("open", e)),
            };
            // Held until `handle` is dropped: read, decide and append are one step for
            // every labctl task and process that connects at the same time.
            handle.lock().map_err(|e| error("lock", e))?;
            let text = read_all(&mut handle).map_err(|e| error("read", e))?;
            let verdict = decide(&KnownHosts::parse(&text).lookup(host, port, key), policy);
            if verdict == Verdict::Learned {
                let entry = entry_line(host, port, key)
                    .map_err(|e| error("write", std::io::Error::other(e)))?;
                let separator = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
                // One write call, so that even a reader that ignores the lock sees whole lines.
                handle
                    .write_all(format!("{separator}{entry}\n").as_bytes())
                    .map_err(|e| error("write", e))?;
            }
            Ok(verdict)
        }
    }
}

/// The file system or the directory does not let labctl write.
fn read_only(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::PermissionDenied || e.raw_os_error() == Some(30 /* EROFS */)
}

/// The file's text under a shared lock; a missing file is an empty one.
fn read_locked(file: &Path) -> Result<String, KnownHostsError> {
    let error = |action, source| KnownHostsError { path: file.to_path_buf(), action, source };
    let mut handle = match File::open(file) {
        Ok(handle) => handle,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(error("read", e)),
    };
    handle.lock_shared().map_err(|e| error("lock", e))?;
    read_all(&mut handle).map_err(|e| error("read", e))
}

fn read_all(handle: &mut File) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    handle.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The host patterns and key of one line, if it is a plain entry labctl can match.
fn parse_line(line: &str) -> Option<(String, KeyData)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let patterns = fields.next()?;
    if patterns.starts_with('|') {
        return None;
    }
    let (key_type, base64) = (fields.next()?, fields.next()?);
    let key = PublicKey::from_openssh(&format!("{key_type} {base64}")).ok()?;
    Some((patterns.to_ascii_lowercase(), key.key_data().clone()))
}

/// OpenSSH's host list matching: any positive pattern matches and no negated one does.
fn host_matches(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        match pattern.strip_prefix('!') {
            Some(negated) if glob(negated.as_bytes(), name.as_bytes()) => return false,
            Some(_) => {}
            None => matched |= glob(pattern.as_bytes(), name.as_bytes()),
        }
    }
    matched
}

/// `*` and `?` wildcard matching (no character classes, as in OpenSSH).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and how much of the text it has swallowed so far.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || Some(&c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBj/QEYGIP2LjRDVBOt7BuGQok2k5UpL+F1FJPK/69z7";
    const KEY_2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFc3gXfLwJfDSAK4STiFEBhyCakNS8CD10ImqL55dGiu";
    const KEY_3: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJ19xvkyjNsDRPxXFyyQidZwidsRQp37Rdld/JxSPVbywkniaTMzXgVCpBou5Qd8snMRawBsf5S22V2EsB/qK74=";

    fn key(text: &str) -> KeyData {
        match PublicKey::from_openssh(text) {
            Ok(key) => key.key_data().clone(),
            Err(e) => panic!("test key does not parse: {e}"),
        }
    }

    #[test]
    fn fingerprints_are_the_ones_ssh_keygen_prints() {
        assert_eq!(fingerprint(&key(KEY_1)), "SHA256:BMrXLBu69dSzM5Ahr8rELmzjLOsPx0fUmNU3944vUUQ");
    }

    #[test]
    fn non_22_ports_use_brackets() {
        assert_eq!(host_pattern("10.0.0.1", 22), "10.0.0.1");
        assert_eq!(host_pattern("127.0.0.1", 2222), "[127.0.0.1]:2222");
        assert_eq!(
            entry_line("127.0.0.1", 2222, &key(&format!("{KEY_1} comment"))).ok(),
            Some(format!("[127.0.0.1]:2222 {KEY_1}"))
        );
    }

    #[test]
    fn lookup_finds_known_changed_and_unknown_hosts() {
        let file = format!(
            "# labctl\n\n[127.0.0.1]:2222 {KEY_1}\nworker-0,10.0.0.20 {KEY_2} some comment\n"
        );
        let hosts = KnownHosts::parse(&file);
        assert_eq!(hosts.lookup("127.0.0.1", 2222, &key(KEY_1)), Lookup::Known { line: 3 });
        assert_eq!(
            hosts.lookup("127.0.0.1", 2222, &key(KEY_2)),
            Lookup::Changed { line: 3, expected: key(KEY_1) }
        );
        assert_eq!(hosts.lookup("127.0.0.1", 22, &key(KEY_1)), Lookup::Unknown);
        assert_eq!(hosts.lookup("127.0.0.1", 2223, &key(KEY_1)), Lookup::Unknown);
        assert_eq!(hosts.lookup("10.0.0.20", 22, &key(KEY_2)), Lookup::Known { line: 4 });
        assert_eq!(hosts.lookup("WORKER-0", 22, &key(KEY_2)), Lookup::Known { line: 4 });
    }

    #[test]
    fn a_known_key_of_another_type_counts_as_changed() {
        let hosts = KnownHosts::parse(&format!("h {KEY_3}\n"));
        assert_eq!(
            hosts.lookup("h", 22, &key(KEY_1)),
            Lookup::Changed { line: 1, expected: key(KEY_3) }
        );
    }

    #[test]
    fn any_listed_key_is_enough() {
        let hosts = KnownHosts::parse(&format!("h {KEY_3}\nh {KEY_1}\n"));
        assert_eq!(hosts.lookup("h", 22, &key(KEY_1)), Lookup::Known { line: 2 });
    }

    #[test]
    fn wildcards_and_negations_match_like_openssh() {
        let hosts = KnownHosts::parse(&format!("worker-*,!worker-9,10.0.0.? {KEY_1}\n"));
        assert_eq!(hosts.lookup("worker-1", 22, &key(KEY_1)), Lookup::Known { line: 1 });
        assert_eq!(hosts.lookup("worker-9", 22, &key(KEY_1)), Lookup::Unknown);
        assert_eq!(hosts.lookup("10.0.0.5", 22, &key(KEY_1)), Lookup::Known { line: 1 });
        assert_eq!(hosts.lookup("10.0.0.55", 22, &key(KEY_1)), Lookup::Unknown);
        assert!(glob(b"*", b""));
        assert!(glob(b"a*b*c", b"axxbyyc"));
        assert!(!glob(b"a*b", b"axxbc"));
        assert!(!glob(b"", b"a"));
    }

    #[test]
    fn hashed_marker_and_malformed_lines_are_skipped() {
        let file = format!(
            "|1|c2FsdA==|aGFzaA== {KEY_1}\n@revoked h {KEY_1}\nh ssh-ed25519 not-base64\nh\n  h {KEY_2}\n"
        );
        let hosts = KnownHosts::parse(&file);
        assert_eq!(
            hosts.lookup("h", 22, &key(KEY_1)),
            Lookup::Changed { line: 5, expected: key(KEY_2) }
        );
    }

    #[test]
    fn policies_map_onto_openssh() {
        let changed = Lookup::Changed { line: 7, expected: key(KEY_1) };
        let expected_fingerprint = fingerprint(&key(KEY_1));
        let table = [
            (HostKeyChecking::Strict, Verdict::Known, Verdict::Unknown),
            (HostKeyChecking::AcceptNew, Verdict::Known, Verdict::Learned),
            (HostKeyChecking::Off, Verdict::Known, Verdict::Unchecked),
        ];
        for (policy, known, unknown) in table {
            assert_eq!(decide(&Lookup::Known { line: 1 }, policy), known);
            assert_eq!(decide(&Lookup::Unknown, policy), unknown);
        }
        for policy in [HostKeyChecking::Strict, HostKeyChecking::AcceptNew] {
            let verdict = decide(&changed, policy);
            assert_eq!(
                verdict,
                Verdict::Changed { line: 7, expected_fingerprint: expected_fingerprint.clone() }
            );
            assert!(!verdict.accepted());
        }
        let verdict = decide(&changed, HostKeyChecking::Off);
        assert_eq!(verdict, Verdict::UncheckedChange { line: 7, expected_fingerprint });
        assert!(verdict.accepted());
    }

    #[test]
    fn accept_new_creates_a_private_file_and_appends_once() -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("state").join("known_hosts");
        let check = |policy, k: &str| check(&file, policy, "127.0.0.1", 2222, &key(k));

        assert_eq!(check(HostKeyChecking::Strict, KEY_1).ok(), Some(Verdict::Unknown));
        assert!(!file.exists(), "strict must not create the file");
        assert_eq!(check(HostKeyChecking::Off, KEY_1).ok(), Some(Verdict::Unchecked));
        assert!(!file.exists(), "off must not create the file");

        assert_eq!(check(HostKeyChecking::AcceptNew, KEY_1).ok(), Some(Verdict::Learned));
        assert_eq!(check(HostKeyChecking::AcceptNew, KEY_1).ok(), Some(Verdict::Known));
        assert_eq!(check(HostKeyChecking::Strict, KEY_1).ok(), Some(Verdict::Known));
        assert!(matches!(
            check(HostKeyChecking::AcceptNew, KEY_2),
            Ok(Verdict::Changed { line: 1, .. })
        ));
        assert!(matches!(
            check(HostKeyChecking::Off, KEY_2),
            Ok(Verdict::UncheckedChange { line: 1, .. })
        ));

        assert_eq!(std::fs::read_to_string(&file)?, format!("[127.0.0.1]:2222 {KEY_1}\n"));
        assert_eq!(std::fs::metadata(&file)?.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(file.parent().unwrap_or(dir.path()))?.permissions().mode() & 0o777,
            0o700
        );
        Ok(())
    }

    #[test]
    fn learning_keeps_other_lines_and_ends_a_last_line_without_newline() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("known_hosts");
        let before =
            format!("|1|c2FsdA==|aGFzaA== {KEY_1}\n@cert-authority * {KEY_3}\nother {KEY_2}");
        std::fs::write(&file, &before)?;
        let verdict = check(&file, HostKeyChecking::AcceptNew, "h", 22, &key(KEY_1));
        assert_eq!(verdict.ok(), Some(Verdict::Learned));
        assert_eq!(std::fs::read_to_string(&file)?, format!("{before}\nh {KEY_1}\n"));
        Ok(())
    }

    #[test]
    fn concurrent_learners_write_one_line() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("known_hosts");
        let verdicts: Vec<_> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..16)
                .map(|_| {
                    scope.spawn(|| check(&file, HostKeyChecking::AcceptNew, "h", 2200, &key(KEY_1)))
                })
                .collect();
            workers.into_iter().map(|worker| worker.join().ok().and_then(Result::ok)).collect()
        });
        assert_eq!(verdicts.iter().filter(|v| **v == Some(Verdict::Learned)).count(), 1);
        assert_eq!(verdicts.iter().filter(|v| **v == Some(Verdict::Known)).count(), 15);
        assert_eq!(std::fs::read_to_string(&file)?, format!("[h]:2200 {KEY_1}\n"));
        Ok(())
    }
}
