//! The errors of connecting to a host and of running a command on it.
//!
//! The two are kept apart because they mean different things to the runner: a [`ConnectError`]
//! means the host is out of reach for this whole invocation (exit code 3), a [`RunError`] is
//! about one command. A remote command that *fails* is not an error at all: it is a
//! [`CommandOutput`](super::CommandOutput) with a non-zero [`Completion`](super::Completion).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_UNREACHABLE};

use super::identity::UnusableKey;
use super::known_hosts::{self, KnownHostsError};
use crate::error::{Problem, with_help};

/// Why a connection to a host could not be made (every kind maps to exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot reach `{name}` at {}: {source}", address(host, *port))]
    Unreachable { name: String, host: String, port: u16, source: std::io::Error },

    #[error("{}", with_help(
        format!("`{name}` at {} did not answer within {}", address(host, *port), seconds(*after)),
        format!("check that the machine is up and that port {port} is its ssh server"),
    ))]
    Timeout { name: String, host: String, port: u16, after: Duration },

    #[error("{}", Problem {
        message: format!(
            "cannot log in to `{name}` as `{user}` at {}: {}",
            address(host, *port), auth_detail(tried, unusable)
        ),
        help: auth_help(tried, unusable),
    })]
    AuthFailed {
        name: String,
        user: String,
        host: String,
        port: u16,
        /// Key files offered to the server, in order; it accepted none.
        tried: Vec<PathBuf>,
        /// Key files that could not be used at all, with the reason.
        unusable: Vec<UnusableKey>,
    },

    #[error("{}", with_help(
        format!(
            "the host key of `{name}` ({}) has changed: `{}` line {line} has {expected_fingerprint}, \
             the server now presents {got_fingerprint}\n  \
             this means the machine was rebuilt, or someone is intercepting the connection; \
             nothing was run on it",
            address(host, *port), file.display()
        ),
        format!(
            "if the machine was rebuilt, forget its old key with `{}`",
            forget_command(host, *port, file)
        ),
    ))]
    HostKeyChanged {
        name: String,
        host: String,
        port: u16,
        file: PathBuf,
        line: usize,
        expected_fingerprint: String,
        got_fingerprint: String,
    },

    #[error("{}", with_help(
        format!(
            "the host key of `{name}` ({}) is not known and host key checking is strict: \
             {fingerprint} is not in `{}`",
            address(host, *port), file.display()
        ),
        format!(
            "set `host_key_checking: accept-new` once to learn it, or add it with `{}`",
            keyscan_command(host, *port, file)
        ),
    ))]
    HostKeyUnknown { name: String, host: String, port: u16, file: PathBuf, fingerprint: String },

    #[error("cannot check the host key of `{name}`: {source}")]
    KnownHosts { name: String, source: KnownHostsError },

    #[error("ssh with `{name}` failed: {source}")]
    Protocol { name: String, source: russh::Error },
}

impl ConnectError {
    /// The process exit code for this error: always "unreachable" (3).
    pub fn exit_code(&self) -> i32 {
        EXIT_UNREACHABLE
    }
}

/// Why a command did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("lost the connection to `{name}`: {source}")]
    ConnectionLost { name: String, source: LostCause },

    #[error(
        "`{}` on `{name}` did not finish within {}; {stopped}",
        abbreviate(command), seconds(*after)
    )]
    Timeout { name: String, command: String, after: Duration, stopped: Stopped },

    #[error("`{}` on `{name}` was interrupted; {stopped}", abbreviate(command))]
    Interrupted { name: String, command: String, stopped: Stopped },

    #[error("the ssh server of `{name}` refused to run a command: {reason}")]
    Refused { name: String, reason: String },

    #[error("cannot pass the command `{}` to a shell: {source}", abbreviate(command))]
    BadCommand { command: String, source: shlex::QuoteError },

    #[error("{}", with_help(
        format!(
            "`{}` is {bytes} bytes once quoted, longer than a shell takes in one argument \
             ({} bytes); nothing was sent",
            abbreviate(command),
            super::MAX_LINE
        ),
        "feed large data on stdin (a step's `stdin:` template)",
    ))]
    TooLong { command: String, bytes: usize },

    #[error("`{tag}` is not a tag labctl makes (a damaged state file?)")]
    BadTag { tag: String },

    #[error("cannot run a command on this machine: {source}")]
    Local { source: std::io::Error },
}

impl RunError {
    /// The process exit code for this error (a lost connection counts as unreachable).
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::ConnectionLost { .. } => EXIT_UNREACHABLE,
            RunError::BadCommand { .. } | RunError::BadTag { .. } | RunError::TooLong { .. } => {
                EXIT_BAD_INPUT
            }
            RunError::Interrupted { .. } => crate::error::EXIT_INTERRUPTED,
            RunError::Timeout { .. } | RunError::Refused { .. } | RunError::Local { .. } => {
                EXIT_FAILED
            }
        }
    }
}

/// What became of the processes of a command labctl gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// This many were still running, and were killed.
    Processes(usize),
    /// They could not be stopped now, and why (for a recorded action, the next run or reset
    /// stops them; see `runner/settle.rs`).
    NotNow(String),
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::Processes(0) => write!(f, "nothing of it was left running"),
            Stopped::Processes(1) => write!(f, "its one process still running was stopped"),
            Stopped::Processes(n) => write!(f, "its {n} processes still running were stopped"),
            Stopped::NotNow(why) => {
                write!(f, "its processes could not be stopped ({why}); they may still be running")
            }
        }
    }
}

/// What ended an ssh connection while commands were using it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LostCause {
    /// The transport failed (reset, keepalive timeout, protocol error).
    #[error("{0}")]
    Transport(#[source] Arc<russh::Error>),
    /// The server said goodbye.
    #[error("the server disconnected: {0}")]
    Disconnected(String),
    /// The connection ended without saying why.
    #[error("the connection closed")]
    Closed,
}

/// `host:port` as people write it (brackets around IPv6 addresses).
pub(crate) fn address(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// A duration the way a person says it: `5s`, `1.5s`, `250ms`.
pub(crate) fn seconds(after: Duration) -> String {
    if after.subsec_millis() == 0 {
        format!("{}s", after.as_secs())
    } else if after < Duration::from_secs(1) {
        format!("{}ms", after.as_millis())
    } else {
        format!("{:.1}s", after.as_secs_f64())
    }
}

/// The first line of a command, cut short, for messages (the log keeps it whole).
fn abbreviate(command: &str) -> String {
    let first = command.lines().next().unwrap_or_default();
    let cut: String = first.chars().take(60).collect();
    if cut.len() < command.len() { format!("{cut}…") } else { cut }
}

fn quoted(text: &str) -> String {
    shlex::try_quote(text).map(|q| q.into_owned()).unwrap_or_else(|_| text.to_string())
}

/// The command that removes a host's entries from a known_hosts file.
pub(crate) fn forget_command(host: &str, port: u16, file: &Path) -> String {
    let pattern = known_hosts::host_pattern(host, port);
    format!("ssh-keygen -R {} -f {}", quoted(&pattern), quoted(&file.to_string_lossy()))
}

/// The command that appends a host's keys to a known_hosts file.
fn keyscan_command(host: &str, port: u16, file: &Path) -> String {
    let port = if port == 22 { String::new() } else { format!("-p {port} ") };
    format!("ssh-keyscan {port}{} >> {}", quoted(host), quoted(&file.to_string_lossy()))
}

/// What to do about an authentication failure, when labctl can say: no key at all.
fn auth_help(tried: &[PathBuf], unusable: &[UnusableKey]) -> Option<String> {
    (tried.is_empty() && unusable.is_empty())
        .then(|| "set `ssh: { identity_file: FILE }` in the inventory".to_string())
}

/// Which keys were offered and which could not be, for an authentication failure.
fn auth_detail(tried: &[PathBuf], unusable: &[UnusableKey]) -> String {
    let mut detail = if !tried.is_empty() {
        let names: Vec<String> = tried.iter().map(|p| format!("`{}`", p.display())).collect();
        format!("the server accepted none of the keys tried ({})", names.join(", "))
    } else if !unusable.is_empty() {
        "no key file could be used".to_string()
    } else {
        "no identity file is configured".to_string()
    };
    for key in unusable {
        detail.push_str(&format!("\n  `{}`: {}", key.path.display(), key.problem));
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_changed_names_the_file_line_and_the_fix() {
        let error = ConnectError::HostKeyChanged {
            name: "worker-0".into(),
            host: "127.0.0.1".into(),
            port: 2222,
            file: PathBuf::from("/home/me/.labctl/known_hosts"),
            line: 3,
            expected_fingerprint: "SHA256:old".into(),
            got_fingerprint: "SHA256:new".into(),
        };
        assert_eq!(
            error.to_string(),
            "the host key of `worker-0` (127.0.0.1:2222) has changed: `/home/me/.labctl/known_hosts` \
             line 3 has SHA256:old, the server now presents SHA256:new\n  \
             this means the machine was rebuilt, or someone is intercepting the connection; \
             nothing was run on it\n  \
             help: if the machine was rebuilt, forget its old key with \
             `ssh-keygen -R '[127.0.0.1]:2222' -f /home/me/.labctl/known_hosts`"
        );
    }

    #[test]
    fn port_22_needs_no_brackets() {
        assert_eq!(
            forget_command("10.0.0.1", 22, Path::new("/k h")),
            "ssh-keygen -R 10.0.0.1 -f '/k h'"
        );
        assert_eq!(
            keyscan_command("10.0.0.1", 22, Path::new("/kh")),
            "ssh-keyscan 10.0.0.1 >> /kh"
        );
    }

    #[test]
    fn authentication_without_any_key_says_what_to_configure() {
        let error = ConnectError::AuthFailed {
            name: "worker-0".into(),
            user: "vagrant".into(),
            host: "10.240.0.20".into(),
            port: 22,
            tried: Vec::new(),
            unusable: Vec::new(),
        };
        assert_eq!(
            error.to_string(),
            "cannot log in to `worker-0` as `vagrant` at 10.240.0.20:22: no identity file is \
             configured\n  help: set `ssh: { identity_file: FILE }` in the inventory"
        );
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(seconds(Duration::from_secs(5)), "5s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
        assert_eq!(seconds(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn long_commands_are_cut_in_messages() {
        assert_eq!(abbreviate("sleep 30"), "sleep 30");
        assert_eq!(abbreviate("a\nb"), "a…");
        assert_eq!(abbreviate(&"x".repeat(70)), format!("{}…", "x".repeat(60)));
    }

    #[test]
    fn every_connect_error_is_unreachable() {
        let error = ConnectError::Timeout {
            name: "n".into(),
            host: "h".into(),
            port: 22,
            after: Duration::from_secs(1),
        };
        assert_eq!(error.exit_code(), EXIT_UNREACHABLE);
    }
}
