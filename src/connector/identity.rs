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
    russh::keys::decode_secret_key(&text, None).or_else(|e| {
        // Only a key the library refused for its length is read again, so every other
        // problem is still reported in the library's words.
        let refused_for_length = matches!(
            &e,
            russh::keys::Error::SshKey(russh::keys::ssh_key::Error::Encoding(
                ssh_encoding::Error::Length
            ))
        );
        let rewritten = refused_for_length
            .then(|| with_full_size_ecdsa_scalar(&text))
            .flatten()
            .and_then(|bytes| PrivateKey::from_bytes(&bytes).ok());
        if let Some(key) = rewritten {
            return Ok(key);
        }
        Err(unusable(match e {
            russh::keys::Error::KeyIsEncrypted => KeyProblem::Encrypted,
            _ if is_encrypted_pem(&text) => KeyProblem::Encrypted,
            other => KeyProblem::Invalid(other),
        }))
    })
}

/// An unencrypted OpenSSH ECDSA key with its private scalar written at the curve's full size,
/// or `None` for any other key.
///
/// OpenSSH writes the scalar as an mpint, without leading zero bytes, so a few P-256 keys
/// in a thousand have a 31-byte scalar. The key library under russh refuses a scalar shorter
/// than 32 bytes ("length invalid"), although the key is valid and OpenSSH uses it; written
/// at full size, the same scalar is read (docs/architecture.md, "Keys").
fn with_full_size_ecdsa_scalar(text: &str) -> Option<Vec<u8>> {
    use base64ct::{Base64, Encoding};
    use ssh_encoding::{Decode, Encode};

    const MAGIC: &[u8] = b"openssh-key-v1\0";
    const BLOCK: usize = 8; // the cipher `none`'s block size, which the padding fills
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN OPENSSH PRIVATE KEY-----")
        .skip(1)
        .take_while(|l| *l != "-----END OPENSSH PRIVATE KEY-----")
        .collect();
    let binary = Base64::decode_vec(&body).ok()?;
    let mut outer = binary.strip_prefix(MAGIC)?;
    let cipher = String::decode(&mut outer).ok()?;
    let kdf = String::decode(&mut outer).ok()?;
    let kdf_options = Vec::<u8>::decode(&mut outer).ok()?;
    let count = u32::decode(&mut outer).ok()?;
    let public = Vec::<u8>::decode(&mut outer).ok()?;
    let private = Vec::<u8>::decode(&mut outer).ok()?;
    if cipher != "none" || kdf != "none" || count != 1 || !outer.is_empty() {
        return None;
    }

    let mut inner = private.as_slice();
    let checks = (u32::decode(&mut inner).ok()?, u32::decode(&mut inner).ok()?);
    let kind = String::decode(&mut inner).ok()?;
    let curve = String::decode(&mut inner).ok()?;
    let point = Vec::<u8>::decode(&mut inner).ok()?;
    let scalar = Vec::<u8>::decode(&mut inner).ok()?;
    let comment = String::decode(&mut inner).ok()?;
    let size = match curve.as_str() {
        "nistp256" => 32,
        "nistp384" => 48,
        "nistp521" => 66,
        _ => return None,
    };
    if kind != format!("ecdsa-sha2-{curve}") || scalar.is_empty() || scalar.len() >= size {
        return None;
    }
    // What follows in `inner` is the old padding, replaced below.

    let mut full = vec![0u8; size - scalar.len()];
    full.extend_from_slice(&scalar);
    let mut private = Vec::new();
    checks.0.encode(&mut private).ok()?;
    checks.1.encode(&mut private).ok()?;
    for field in [kind.as_bytes(), curve.as_bytes(), &point, &full, comment.as_bytes()] {
        field.encode(&mut private).ok()?;
    }
    let padding = (BLOCK - private.len() % BLOCK) % BLOCK;
    private.extend((1..=padding).map(|n| n as u8));

    let mut out = MAGIC.to_vec();
    for field in [cipher.as_bytes(), kdf.as_bytes(), &kdf_options] {
        field.encode(&mut out).ok()?;
    }
    count.encode(&mut out).ok()?;
    public.encode(&mut out).ok()?;
    private.encode(&mut out).ok()?;
    Some(out)
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

    /// A test-only P-256 key whose private scalar OpenSSH wrote in 31 bytes.
    const SHORT_SCALAR_KEY: &str =
        include_str!("../../tests/fixtures/keys/ecdsa-p256-short-scalar");
    const SHORT_SCALAR_PUBLIC: &str =
        include_str!("../../tests/fixtures/keys/ecdsa-p256-short-scalar.pub");

    #[tokio::test]
    async fn an_ecdsa_key_with_a_short_scalar_is_read_as_openssh_reads_it() {
        // The library alone refuses this key; without the rewrite, `load` would too.
        assert!(russh::keys::decode_secret_key(SHORT_SCALAR_KEY, None).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ecdsa");
        std::fs::write(&path, SHORT_SCALAR_KEY).unwrap();
        let key = load(&path).await.unwrap_or_else(|e| panic!("{e:?}"));
        let public = SHORT_SCALAR_PUBLIC.split_whitespace().nth(1).unwrap();
        let expected = russh::keys::parse_public_key_base64(public).unwrap();
        assert_eq!(key.public_key().key_data(), expected.key_data());
    }

    #[test]
    fn the_rewrite_leaves_other_keys_alone() {
        let rewritten = with_full_size_ecdsa_scalar(SHORT_SCALAR_KEY).unwrap();
        let key = PrivateKey::from_bytes(&rewritten).unwrap();
        let full = key.to_openssh(russh::keys::ssh_key::LineEnding::LF).unwrap();
        // Once at full size, there is nothing left to rewrite.
        assert_eq!(with_full_size_ecdsa_scalar(&full), None);
        assert_eq!(with_full_size_ecdsa_scalar("not a key"), None);
        let damaged = SHORT_SCALAR_KEY.replace("AAAA", "AAAB");
        assert!(
            with_full_size_ecdsa_scalar(&damaged)
                .and_then(|bytes| PrivateKey::from_bytes(&bytes).ok())
                .is_none()
        );
    }
}
