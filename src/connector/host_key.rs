//! labctl's side of the ssh handshake: the host key is checked against labctl's known_hosts
//! file before anything is sent, and the reason a connection ends is kept for messages.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use russh::client::{self, DisconnectReason};
use russh::keys::PublicKeyOrCertificate;

use crate::inventory::HostKeyChecking;

use super::error::{ConnectError, LostCause, address, forget_command};
use super::known_hosts::{self, KnownHostsError, Verdict};

/// A host key that differs from the known one, accepted because checking is `off`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyWarning {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub file: PathBuf,
    pub line: usize,
    pub expected_fingerprint: String,
    pub got_fingerprint: String,
}

impl fmt::Display for HostKeyWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = format!(
            "host key checking is off: the host key of `{}` ({}) is {}, but `{}` line {} has {}",
            self.name,
            address(&self.host, self.port),
            self.got_fingerprint,
            self.file.display(),
            self.line,
            self.expected_fingerprint,
        );
        let help = format!(
            "if the machine was rebuilt, forget its old key with `{}`; otherwise someone may be intercepting the connection",
            forget_command(&self.host, self.port, &self.file)
        );
        crate::error::render_help(f, message, Some(&help))
    }
}

/// Why the handshake stopped: the ssh library's error, or labctl's refusal of the host key.
#[derive(Debug)]
pub(crate) enum HandshakeError {
    Ssh(russh::Error),
    Refused(Box<ConnectError>),
}

impl From<russh::Error> for HandshakeError {
    fn from(e: russh::Error) -> Self {
        HandshakeError::Ssh(e)
    }
}

/// Slots the session task fills in and the [`SshSession`](super::ssh::SshSession) reads.
#[derive(Debug, Default, Clone)]
pub(crate) struct Findings {
    pub warning: Arc<Mutex<Option<HostKeyWarning>>>,
    pub lost: Arc<Mutex<Option<LostCause>>>,
}

/// The russh client handler: checks the host key, records why the connection ended.
pub(crate) struct HostKeyVerifier {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub policy: HostKeyChecking,
    pub file: PathBuf,
    pub findings: Findings,
}

impl HostKeyVerifier {
    fn refuse(&self, verdict: Verdict, got_fingerprint: String) -> HandshakeError {
        let error = match verdict {
            Verdict::Changed { line, expected_fingerprint } => ConnectError::HostKeyChanged {
                name: self.name.clone(),
                host: self.host.clone(),
                port: self.port,
                file: self.file.clone(),
                line,
                expected_fingerprint,
                got_fingerprint,
            },
            _ => ConnectError::HostKeyUnknown {
                name: self.name.clone(),
                host: self.host.clone(),
                port: self.port,
                file: self.file.clone(),
                fingerprint: got_fingerprint,
            },
        };
        HandshakeError::Refused(Box::new(error))
    }
}

impl client::Handler for HostKeyVerifier {
    type Error = HandshakeError;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // labctl has no certificate authorities: a host certificate is checked by the key it
        // certifies, as OpenSSH does when no `@cert-authority` line matches.
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data().clone(),
            PublicKeyOrCertificate::Certificate(certificate) => certificate.public_key().clone(),
        };
        let got_fingerprint = known_hosts::fingerprint(&key);
        let (file, policy, host, port) =
            (self.file.clone(), self.policy, self.host.clone(), self.port);
        // The check waits for the file lock, which must not block the async runtime.
        let verdict = tokio::task::spawn_blocking(move || {
            known_hosts::check(&file, policy, &host, port, &key)
        })
        .await
        .map_err(|e| KnownHostsError {
            path: self.file.clone(),
            action: "check",
            source: std::io::Error::other(e),
        })
        .and_then(|checked| checked)
        .map_err(|source| {
            HandshakeError::Refused(Box::new(ConnectError::KnownHosts {
                name: self.name.clone(),
                source,
            }))
        })?;
        match verdict {
            Verdict::Known | Verdict::Learned | Verdict::LearnedNotSaved | Verdict::Unchecked => {
                Ok(true)
            }
            Verdict::UncheckedChange { line, expected_fingerprint } => {
                let warning = HostKeyWarning {
                    name: self.name.clone(),
                    host: self.host.clone(),
                    port: self.port,
                    file: self.file.clone(),
                    line,
                    expected_fingerprint,
                    got_fingerprint,
                };
                if let Ok(mut slot) = self.findings.warning.lock() {
                    *slot = Some(warning);
                }
                Ok(true)
            }
            refused @ (Verdict::Unknown | Verdict::Changed { .. }) => {
                Err(self.refuse(refused, got_fingerprint))
            }
        }
    }

    async fn disconnected(
        &mut self,
        reason: DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let cause = match reason {
            DisconnectReason::ReceivedDisconnect(info) => LostCause::Disconnected(info.message),
            DisconnectReason::Error(HandshakeError::Ssh(e)) => LostCause::Transport(Arc::new(e)),
            DisconnectReason::Error(HandshakeError::Refused(_)) => LostCause::Closed,
        };
        if let Ok(mut slot) = self.findings.lost.lock() {
            slot.get_or_insert(cause);
        }
        // Nobody awaits the session task after the handshake; the cause is kept above instead.
        Ok(())
    }
}
