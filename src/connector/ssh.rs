//! The ssh connector: one russh connection per host, reused for every command of a run.
//!
//! Connecting is bounded as a whole (TCP, handshake and authentication share one deadline,
//! since russh has no timeout of its own). Each command gets its own session channel: no pty,
//! stdin written and then closed, stdout and stderr collected until the server closes the
//! channel, the whole bounded by the command's timeout. Channels opened concurrently share
//! the connection. A command given up on (timeout, second Ctrl-C) has its processes killed on
//! the host over a channel of their own (see `stop.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use russh::client::{self, Handle, Msg};
use russh::keys::PrivateKeyWithHashAlg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Disconnect, Sig};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout, timeout_at};

use super::error::{ConnectError, LostCause, RunError, Stopped};
use super::host_key::{Findings, HandshakeError, HostKeyVerifier, HostKeyWarning};
use super::{CommandOutput, CommandSpec, Completion, Endpoint, identity};

/// At most this many commands run at once over one connection: OpenSSH refuses channels
/// beyond `MaxSessions` (10 by default), and a channel's slot is freed only after its close
/// has gone both ways (and, for a command given up on, only once its processes are gone),
/// so labctl stays below it, with [`MAX_STOPS`] left for stopping commands.
const MAX_CHANNELS: usize = 8;

/// Channels for stopping commands given up on, beyond [`MAX_CHANNELS`].
const MAX_STOPS: usize = 2;

/// Unanswered keepalives before the connection counts as lost (OpenSSH's `ServerAliveCountMax`).
const KEEPALIVE_MAX: usize = 3;

/// How long closing the channel of a command labctl gave up on may take.
const CLEANUP: Duration = Duration::from_secs(1);

/// Why labctl stopped waiting for a command.
enum GaveUp {
    Timeout,
    Aborted,
}

/// An authenticated ssh connection to one host.
pub struct SshSession {
    name: String,
    handle: Handle<HostKeyVerifier>,
    findings: Findings,
    channels: Semaphore,
    stops: Semaphore,
}

impl fmt::Debug for SshSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshSession").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Opens and authenticates a connection to `endpoint`, checking its host key first.
pub async fn connect(endpoint: &Endpoint) -> Result<SshSession, ConnectError> {
    let deadline = Instant::now() + endpoint.connect_timeout;
    let timed_out = || ConnectError::Timeout {
        name: endpoint.name.clone(),
        host: endpoint.host.clone(),
        port: endpoint.port,
        after: endpoint.connect_timeout,
    };
    let protocol = |source| ConnectError::Protocol { name: endpoint.name.clone(), source };

    let stream =
        match timeout_at(deadline, TcpStream::connect((endpoint.host.as_str(), endpoint.port)))
            .await
        {
            Err(_) => return Err(timed_out()),
            Ok(Err(source)) => {
                return Err(ConnectError::Unreachable {
                    name: endpoint.name.clone(),
                    host: endpoint.host.clone(),
                    port: endpoint.port,
                    source,
                });
            }
            Ok(Ok(stream)) => stream,
        };
    // Commands are small request/response exchanges; Nagle's algorithm would delay each one.
    // A socket that refuses the option still works, only slower.
    let _ = stream.set_nodelay(true);

    let config = client::Config {
        keepalive_interval: (!endpoint.keepalive.is_zero()).then_some(endpoint.keepalive),
        keepalive_max: KEEPALIVE_MAX,
        ..Default::default()
    };
    let findings = Findings::default();
    let verifier = HostKeyVerifier {
        name: endpoint.name.clone(),
        host: endpoint.host.clone(),
        port: endpoint.port,
        policy: endpoint.host_key_checking,
        file: endpoint.known_hosts.clone(),
        findings: findings.clone(),
    };
    let mut handle = match timeout_at(
        deadline,
        client::connect_stream(Arc::new(config), stream, verifier),
    )
    .await
    {
        Err(_) => return Err(timed_out()),
        Ok(Err(HandshakeError::Refused(error))) => return Err(*error),
        Ok(Err(HandshakeError::Ssh(source))) => return Err(protocol(source)),
        Ok(Ok(handle)) => handle,
    };
    match timeout_at(deadline, authenticate(&mut handle, endpoint)).await {
        Err(_) => return Err(timed_out()),
        Ok(result) => result?,
    }
    Ok(SshSession {
        name: endpoint.name.clone(),
        handle,
        findings,
        channels: Semaphore::new(MAX_CHANNELS),
        stops: Semaphore::new(MAX_STOPS),
    })
}

/// Offers each identity file in order until the server accepts one.
async fn authenticate(
    handle: &mut Handle<HostKeyVerifier>,
    endpoint: &Endpoint,
) -> Result<(), ConnectError> {
    let protocol = |source| ConnectError::Protocol { name: endpoint.name.clone(), source };
    let mut tried = Vec::new();
    let mut unusable = Vec::new();
    // Asked at most once: the server may take up to a second to say which RSA signatures
    // it takes. Without asking, RSA keys would sign with SHA-1, which OpenSSH 8.8+ refuses.
    let mut rsa_hash = None;
    for path in &endpoint.identity_files {
        let key = match identity::load(path).await {
            Ok(key) => key,
            Err(problem) => {
                unusable.push(problem);
                continue;
            }
        };
        let hash_alg = if key.algorithm().is_rsa() {
            match rsa_hash {
                Some(hash_alg) => hash_alg,
                None => {
                    let best = handle.best_supported_rsa_hash().await.map_err(protocol)?.flatten();
                    *rsa_hash.insert(best)
                }
            }
        } else {
            None
        };
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash_alg);
        let result =
            handle.authenticate_publickey(endpoint.user.as_str(), key).await.map_err(protocol)?;
        tried.push(path.clone());
        if result.success() {
            return Ok(());
        }
    }
    Err(ConnectError::AuthFailed {
        name: endpoint.name.clone(),
        user: endpoint.user.clone(),
        host: endpoint.host.clone(),
        port: endpoint.port,
        tried,
        unusable,
    })
}

impl SshSession {
    /// The node name this connection is for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The changed host key that was accepted because checking is `off`, if any.
    pub fn host_key_warning(&self) -> Option<HostKeyWarning> {
        self.findings.warning.lock().ok().and_then(|slot| slot.clone())
    }

    /// Whether the connection has ended (lost or closed).
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Says goodbye to the server; the connection is going away either way.
    pub async fn close(self) {
        let _ = timeout(CLEANUP, self.handle.disconnect(Disconnect::ByApplication, "", "en")).await;
    }

    /// Runs one command and collects what it printed and how it ended. A command that times
    /// out or is aborted (a second Ctrl-C) has its processes stopped, see [`super::stop`].
    /// With `abortable`, a second Ctrl-C stops it too.
    pub async fn run(
        &self,
        spec: &CommandSpec,
        tag: &str,
        abortable: bool,
    ) -> Result<CommandOutput, RunError> {
        let line = super::command_line(spec, tag)?;
        let aborted = || abortable && super::stop::is_aborted();
        if aborted() {
            return Err(self.interrupted(spec, Stopped::Processes(0)));
        }
        // Waiting for a free channel is bounded by the running commands' own timeouts; this
        // command's clock starts when it actually gets to run.
        let _permit = self.channels.acquire().await.map_err(|_| self.lost(None))?;
        if aborted() {
            return Err(self.interrupted(spec, Stopped::Processes(0)));
        }
        let deadline = Instant::now() + spec.timeout;
        let mut writer = None;
        let gave_up = tokio::select! {
            // A command that ends as the abort comes is reported as it ended.
            biased;
            result = timeout_at(deadline, self.exec(&line, spec.stdin.as_deref(), &mut writer)) => match result {
                Ok(result) => return result,
                Err(_) => GaveUp::Timeout,
            },
            _ = super::stop::aborted(), if abortable => GaveUp::Aborted,
        };
        // Stopped first, then the channel closed: the stop is what matters if time runs out.
        let stopped = self.stop_tagged(tag, spec.sudo).await;
        if let Some(writer) = writer {
            let _ = timeout(CLEANUP, writer.close()).await;
        }
        Err(match gave_up {
            GaveUp::Timeout => RunError::Timeout {
                name: self.name.clone(),
                command: spec.command.clone(),
                after: spec.timeout,
                stopped,
            },
            GaveUp::Aborted => self.interrupted(spec, stopped),
        })
    }

    /// Opens a channel for `line` and runs it there (its writing half kept in `writer`, for
    /// the caller to close if it gives up on the command).
    async fn exec(
        &self,
        line: &str,
        stdin: Option<&[u8]>,
        writer: &mut Option<ChannelWriteHalf<Msg>>,
    ) -> Result<CommandOutput, RunError> {
        let channel = match self.handle.channel_open_session().await {
            Err(russh::Error::ChannelOpenFailure(reason)) => {
                return Err(RunError::Refused {
                    name: self.name.clone(),
                    reason: format!("no new channel ({reason:?})"),
                });
            }
            Err(e) => return Err(self.lost(Some(e))),
            Ok(channel) => channel,
        };
        let (mut reader, write_half) = channel.split();
        let write_half = writer.insert(write_half);
        self.exchange(&mut reader, write_half, line, stdin).await
    }

    /// Kills what still runs of the command tagged `tag`, over a channel of its own, within
    /// [`super::stop::STOP_TIME`].
    async fn stop_tagged(&self, tag: &str, sudo: bool) -> Stopped {
        // Stops have two channels of their own beyond the commands' (see MAX_CHANNELS).
        let Ok(_permit) = self.stops.acquire().await else {
            return Stopped::NotNow("the connection is closing".into());
        };
        let spec = CommandSpec {
            command: super::stop::script(tag),
            sudo,
            stdin: None,
            timeout: super::stop::STOP_TIME,
        };
        let line = match super::command_line(&spec, &super::stop::new_tag()) {
            Ok(line) => line,
            Err(e) => return Stopped::NotNow(e.to_string()),
        };
        let mut writer = None;
        match timeout(spec.timeout, self.exec(&line, None, &mut writer)).await {
            Ok(Ok(out)) if out.success() => {
                Stopped::Processes(super::stop::stopped_pids(&out.stdout).len())
            }
            Ok(Ok(out)) => Stopped::NotNow(format!(
                "the stop command failed: {}",
                out.stderr_text().lines().last().unwrap_or("no reason given")
            )),
            Ok(Err(e)) => Stopped::NotNow(e.to_string()),
            Err(_) => Stopped::NotNow(format!(
                "`{}` did not answer within {}s",
                self.name,
                spec.timeout.as_secs()
            )),
        }
    }

    fn interrupted(&self, spec: &CommandSpec, stopped: Stopped) -> RunError {
        RunError::Interrupted { name: self.name.clone(), command: spec.command.clone(), stopped }
    }

    /// Starts the command, feeds its stdin and collects everything until the channel closes.
    async fn exchange(
        &self,
        reader: &mut ChannelReadHalf,
        writer: &ChannelWriteHalf<Msg>,
        line: &str,
        stdin: Option<&[u8]>,
    ) -> Result<CommandOutput, RunError> {
        writer.exec(true, line).await.map_err(|e| self.lost(Some(e)))?;
        // Written while the output is read: a command that echoes a large input would
        // otherwise fill both flow-control windows and wait forever.
        let feed = async {
            if let Some(bytes) = stdin {
                writer.data_bytes(bytes.to_vec()).await?;
            }
            // Always sent: a command that reads stdin must see its end rather than wait.
            writer.eof().await
        };
        tokio::pin!(feed);
        let mut feeding = true;
        let mut output = CommandOutput {
            completion: Completion::NoStatus,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        loop {
            tokio::select! {
                // A command may exit without reading its input; the channel decides the result.
                _ = &mut feed, if feeding => feeding = false,
                message = reader.wait() => match message {
                    Some(ChannelMsg::Data { data }) => output.stdout.extend_from_slice(&data),
                    Some(ChannelMsg::ExtendedData { data, ext: 1 }) => output.stderr.extend_from_slice(&data),
                    // Output may still follow the exit status: keep reading until the close.
                    Some(ChannelMsg::ExitStatus { exit_status }) => output.completion = Completion::Exited(exit_status),
                    Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                        output.completion = Completion::Signal(signal(&signal_name));
                    }
                    Some(ChannelMsg::Failure) => {
                        return Err(RunError::Refused { name: self.name.clone(), reason: "exec was denied".into() });
                    }
                    // Nothing follows a close.
                    Some(ChannelMsg::Close) => return Ok(output),
                    Some(_) => {}
                    // The channel ended without a close: the connection went away under it.
                    None => return Err(self.lost(None)),
                },
            }
        }
    }

    /// A lost connection, with the most telling cause known: the one the session recorded
    /// when it ended, else the error at hand.
    fn lost(&self, error: Option<russh::Error>) -> RunError {
        let recorded = self.findings.lost.lock().ok().and_then(|slot| slot.clone());
        let source = recorded
            .or_else(|| error.map(|e| LostCause::Transport(Arc::new(e))))
            .unwrap_or(LostCause::Closed);
        RunError::ConnectionLost { name: self.name.clone(), source }
    }
}

/// A signal's name as OpenSSH sends it (`TERM`, without `SIG`).
fn signal(sig: &Sig) -> String {
    match sig {
        Sig::Custom(name) => name.clone(),
        // The named variants print as their signal names.
        named => format!("{named:?}"),
    }
}
