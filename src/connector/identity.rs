//! Identity files: the private keys labctl offers to a host, read from disk.
//!
//! A key file that cannot be used is not fatal by itself: inventories (and `vagrant
//! ssh-config`) often list several candidates of which only one exists. Each problem is kept,
//! with its path and reason, for the message shown when no key is accepted.

use std::fmt;
use std::path::{Path, PathBuf};

use russh::keys::PrivateKey;

/// A key file that could not be offered, and why.
#[derive(Debug)]
pub struct UnusableKey {
    pub path: PathBuf,
    pub problem: KeyProblem,
}

/// Why a key file could not be offered.
#[derive(Debug)]
pub enum KeyProblem {
    /// The file could not be read (missing, permissions).
    Unreadable(std::io::Error),
    /// The key is protected by a passphrase.
    Encrypted,
    /// The file is not a private key this ssh library understands.
    Invalid(russh::keys::Error),
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyProblem::Unreadable(e) => write!(f, "cannot read it: {e}"),
            KeyProblem::Encrypted => write!(
                f,
                "it is protected by a passphrase; labctl needs an unencrypted key \
                 (ssh-agent is not supported yet)"
            ),
            KeyProblem::Invalid(e) => write!(f, "it is not a private key labctl can use: {e}"),
        }
    }
}

impl std::error::Error for KeyProblem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyProblem::Unreadable(e) => Some(e),
            KeyProblem::Encrypted => None,
            KeyProblem::Invalid(e) => Some(e),
        }
    }
}

/// The permission bits of `path` when it is a key file of this user open to its group or
/// others, which OpenSSH refuses to use; `None` when it is private, someone else's (OpenSSH
/// checks only the user's own), or cannot be looked at (reading it later says why).
pub fn open_to_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(path).ok()?;
    if real_uid().is_some_and(|uid| uid != meta.uid()) {
        return None;
    }
    let mode = meta.permissions().mode() & 0o7777;
    (mode & 0o077 != 0).then_some(mode)
}

/// This process's real user id (what OpenSSH compares a key's owner with).
fn real_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.parse().ok()
}

/// Reads the private key in `path` (OpenSSH, PEM or PKCS#8; ed25519, ECDSA or RSA).
pub async fn load(path: &Path) -> Result<PrivateKey, UnusableKey> {
    let unusable = |problem| UnusableKey { path: path.to_path_buf(), problem };
    let text =
        tokio::fs::read_to_string(path).await.map_err(|e| unusable(KeyProblem::Unreadable(e)))?;
    // No passphrase: labctl never prompts, and a key that needs one is reported instead.
    russh::keys::decode_secret_key(&text, None).map_err(|e| {
        unusable(match e {
            russh::keys::Error::KeyIsEncrypted => KeyProblem::Encrypted,
            _ if is_encrypted_pem(&text) => KeyProblem::Encrypted,
            other => KeyProblem::Invalid(other),
        })
    })
}

/// Legacy PEM keys announce their encryption in a header; the library then fails with a
/// decryption error rather than "encrypted", which would mislead the user.
fn is_encrypted_pem(text: &str) -> bool {
    text.contains("Proc-Type: 4,ENCRYPTED") || text.contains("BEGIN ENCRYPTED PRIVATE KEY")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_open_to_group_or_others_is_found_as_openssh_would() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id");
        std::fs::write(&key, "key").unwrap();
        for (mode, open) in [
            (0o600, None),
            (0o400, None),
            (0o644, Some(0o644)),
            (0o666, Some(0o666)),
            (0o640, Some(0o640)),
            (0o602, Some(0o602)),
        ] {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(open_to_others(&key), open, "{mode:o}");
        }
        assert_eq!(open_to_others(&dir.path().join("missing")), None);
    }
}
