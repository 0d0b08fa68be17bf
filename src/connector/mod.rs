//! Connectors: how labctl runs a command on a host, over ssh or on this machine.
//!
//! The runner sees one small interface: [`connect`] to an [`Endpoint`] once per host and
//! invocation, then [`Connection::run`] each [`CommandSpec`] over that one connection
//! (concurrently if it likes). [`Connection::Local`] runs the same specs on this machine for
//! the steps that act from the operator's side (`gcloud`, `kubectl`).
//!
//! Every command goes through `sh -c` (under `sudo -n` when it needs root), so it means the
//! same whatever the login shell is, and sudo fails instead of asking for a password. No pty
//! is ever allocated and nothing ever waits on a prompt; every wait has a bound.
//!
//! A remote command that fails is a result ([`Completion::Exited`] with its code, even 255),
//! not an error; a connection that goes away is [`RunError::ConnectionLost`].

mod error;
mod host_key;
mod identity;
pub mod known_hosts;
mod local;
pub mod ssh;
pub mod stop;

use std::path::PathBuf;
use std::time::Duration;

use crate::inventory::HostKeyChecking;

pub use error::{ConnectError, LostCause, RunError, Stopped};
pub use host_key::HostKeyWarning;
pub use identity::{KeyProblem, UnusableKey, open_to_others};
pub use local::LOCAL_NAME;

/// Where and how to reach one host over ssh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The node name, for messages.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Private key files, offered in this order.
    pub identity_files: Vec<PathBuf>,
    pub host_key_checking: HostKeyChecking,
    /// labctl's own known_hosts file (see [`known_hosts`]).
    pub known_hosts: PathBuf,
    /// Bound on TCP connect, handshake and authentication together.
    pub connect_timeout: Duration,
    /// Interval of keepalives while idle; zero turns them off.
    pub keepalive: Duration,
}

/// One command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// A POSIX shell command line.
    pub command: String,
    /// Run it as root through `sudo -n`.
    pub sudo: bool,
    /// Bytes for its standard input; without them it reads an empty input.
    pub stdin: Option<Vec<u8>>,
    /// Bound on the whole command, from start to the last byte of output.
    pub timeout: Duration,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// It exited with this status.
    Exited(u32),
    /// It was killed by this signal (`TERM`, `KILL`, ...).
    Signal(String),
    /// The server closed the channel without saying how the command ended.
    NoStatus,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    pub completion: Completion,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.completion == Completion::Exited(0)
    }

    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A way to run commands on one host.
#[derive(Debug)]
pub enum Connection {
    /// An authenticated ssh connection.
    Ssh(Box<ssh::SshSession>),
    /// This machine; commands run in `workdir` (the lab's working directory) when given.
    Local { workdir: Option<std::path::PathBuf> },
}

impl Connection {
    /// Runs one command and collects its output.
    pub async fn run(&self, spec: &CommandSpec) -> Result<CommandOutput, RunError> {
        self.run_tagged(spec, &stop::new_tag()).await
    }

    /// Runs one command whose processes carry `tag` (see [`stop`]), so that whatever it
    /// leaves running can be stopped later, e.g. after the connection was lost.
    pub async fn run_tagged(
        &self,
        spec: &CommandSpec,
        tag: &str,
    ) -> Result<CommandOutput, RunError> {
        match self {
            Connection::Ssh(session) => session.run(spec, tag, true).await,
            Connection::Local { workdir } => local::run(spec, tag, true, workdir.as_deref()).await,
        }
    }

    /// Runs a command that cleans up after labctl (a verify probe's teardown): a second
    /// Ctrl-C does not stop it, only its own timeout does, and labctl's exit after the stop.
    pub async fn run_cleanup(&self, spec: &CommandSpec) -> Result<CommandOutput, RunError> {
        let tag = stop::new_tag();
        match self {
            Connection::Ssh(session) => session.run(spec, &tag, false).await,
            Connection::Local { workdir } => {
                local::run(spec, &tag, false, workdir.as_deref()).await
            }
        }
    }

    /// Stops every process still running of the command tagged `tag` (run with `sudo` or
    /// not, as it was); returns how many there were.
    pub async fn stop(&self, tag: &str, sudo: bool) -> Result<usize, RunError> {
        let spec =
            CommandSpec { command: stop::script(tag), sudo, stdin: None, timeout: stop::STOP_TIME };
        let out = self.run(&spec).await?;
        match out.success() {
            true => Ok(stop::stopped_pids(&out.stdout).len()),
            false => Err(RunError::Refused {
                name: self.name().to_string(),
                reason: format!(
                    "stopping failed: {}",
                    out.stderr_text().lines().last().unwrap_or("no reason given")
                ),
            }),
        }
    }

    /// The node name, for messages.
    pub fn name(&self) -> &str {
        match self {
            Connection::Ssh(session) => session.name(),
            Connection::Local { .. } => LOCAL_NAME,
        }
    }

    /// A changed host key accepted because checking is `off`: worth telling the user.
    pub fn host_key_warning(&self) -> Option<HostKeyWarning> {
        match self {
            Connection::Ssh(session) => session.host_key_warning(),
            Connection::Local { .. } => None,
        }
    }
}

/// Connects to `endpoint` over ssh: host key checked, then authenticated, within its timeout.
pub async fn connect(endpoint: &Endpoint) -> Result<Connection, ConnectError> {
    ssh::connect(endpoint).await.map(|session| Connection::Ssh(Box::new(session)))
}

/// The line sent to the remote side: `env LABCTL_TAG=<tag> sh -c '<command>'` (the tag marks
/// its processes, see [`stop`]), prefixed by `sudo -n` when asked.
pub fn command_line(spec: &CommandSpec, tag: &str) -> Result<String, RunError> {
    let quoted = shlex::try_quote(&spec.command)
        .map_err(|source| RunError::BadCommand { command: spec.command.clone(), source })?;
    if !stop::is_tag(tag) {
        return Err(RunError::BadTag { tag: tag.to_string() });
    }
    let sudo = if spec.sudo { "sudo -n " } else { "" };
    let line = format!("{sudo}env {}={tag} sh -c {quoted}", stop::TAG_VAR);
    if line.len() > MAX_LINE {
        return Err(RunError::TooLong { command: spec.command.clone(), bytes: line.len() });
    }
    Ok(line)
}

/// The longest command line labctl sends. The remote login shell gets it as one argument,
/// and Linux takes at most 128 KiB in one (`MAX_ARG_STRLEN`); a longer line fails there, or,
/// longer still, makes sshd drop the whole connection. Large data goes on stdin instead.
pub const MAX_LINE: usize = 120 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &str, sudo: bool) -> CommandSpec {
        CommandSpec { command: command.into(), sudo, stdin: None, timeout: Duration::from_secs(1) }
    }

    #[test]
    fn commands_are_quoted_for_sh() {
        let line = |command, sudo| command_line(&spec(command, sudo), "t-1").ok();
        assert_eq!(line("true", false).as_deref(), Some("env LABCTL_TAG=t-1 sh -c true"));
        assert_eq!(
            line("ip route replace 10.200.1.0/24 via 10.240.0.21", true).as_deref(),
            Some(
                "sudo -n env LABCTL_TAG=t-1 sh -c 'ip route replace 10.200.1.0/24 via 10.240.0.21'"
            )
        );
        assert_eq!(
            line("echo 'it''s'; exit 3", false).as_deref(),
            Some(r#"env LABCTL_TAG=t-1 sh -c "echo 'it''s'; exit 3""#)
        );
    }

    #[test]
    fn a_nul_byte_cannot_reach_a_shell() {
        let line = command_line(&spec("echo \0", false), "t-1");
        assert!(matches!(line, Err(RunError::BadCommand { .. })));
        let line = command_line(&spec("true", false), "t; reboot");
        assert!(matches!(line, Err(RunError::BadTag { .. })));
    }

    #[test]
    fn a_line_too_long_for_one_argument_is_refused_before_it_is_sent() {
        let fits = "x".repeat(MAX_LINE - 100);
        assert!(command_line(&spec(&fits, true), "t-1").is_ok());
        // Quoting can make a value several times longer: `!` and `\` are each escaped.
        let grows = "!\\'".repeat(MAX_LINE / 6);
        let error = command_line(&spec(&grows, false), "t-1").unwrap_err();
        assert!(matches!(error, RunError::TooLong { .. }), "{error:?}");
        assert_eq!(error.exit_code(), crate::error::EXIT_BAD_INPUT);
        assert!(error.to_string().contains("feed large data on stdin"), "{error}");
    }

    #[test]
    fn success_means_exit_zero() {
        let output =
            |completion| CommandOutput { completion, stdout: Vec::new(), stderr: Vec::new() };
        assert!(output(Completion::Exited(0)).success());
        assert!(!output(Completion::Exited(255)).success());
        assert!(!output(Completion::Signal("TERM".into())).success());
        assert!(!output(Completion::NoStatus).success());
    }
}
