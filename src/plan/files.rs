//! Files a step puts onto a host: each one action whose `check`, `run` and `undo` labctl
//! writes, so that putting a file is idempotent, recorded and undone like any other action
//! (docs/chapters.md, "Files and the working directory").
//!
//! The content goes on the command's stdin over the host's own connection; `install` writes it
//! next to its place with its mode and owner, and a rename puts it there whole. The check
//! compares a SHA-256 of the content, the mode and the owner, so it needs no stdin and a later
//! `reset` or settle can run it from the state alone.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::template::shell::quote;

/// A file to put, as planned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PutFile {
    /// The absolute path on the host.
    pub to: String,
    /// Permissions.
    #[serde(serialize_with = "as_octal")]
    pub mode: u32,
    /// `user` or `user:group`, when the chapter says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub source: Source,
}

/// Where a file's content comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A rendered template: known when the plan is made.
    Template { name: String, text: String },
    /// A file of the lab's working directory: read when the action runs, since a local step
    /// before it may make it.
    WorkFile { name: String },
}

fn as_octal<S: serde::Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{mode:04o}"))
}

/// The commands of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commands {
    pub check: String,
    pub run: String,
    pub undo: String,
}

impl PutFile {
    /// The content, when it is known without the working directory.
    pub fn known_content(&self) -> Option<&[u8]> {
        match &self.source {
            Source::Template { text, .. } => Some(text.as_bytes()),
            Source::WorkFile { .. } => None,
        }
    }

    /// The content: the template's text, or the working directory's file.
    pub fn content(&self, workdir: &Path) -> Result<Vec<u8>, String> {
        match &self.source {
            Source::Template { text, .. } => Ok(text.clone().into_bytes()),
            Source::WorkFile { name } => {
                let path = workdir.join(name);
                std::fs::read(&path).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => format!(
                        "`{name}` is not in the lab's working directory {} (a `where: local` step before this one makes it)",
                        workdir.display()
                    ),
                    _ => format!("cannot read `{}`: {e}", path.display()),
                })
            }
        }
    }

    /// What the action is called in messages: `file /var/lib/kubelet/ca.crt`.
    pub fn item(&self) -> String {
        format!("file {}", self.to)
    }

    /// The check, run and undo for `content` (`None`: not known yet, a placeholder check that
    /// fails, for `labctl render`).
    pub fn commands(&self, content: Option<&[u8]>) -> Result<Commands, String> {
        let q = |s: &str| quote(s).map_err(|e| e.to_string());
        let to = q(&self.to)?;
        let mode = format!("{:o}", self.mode);
        let hash = match content {
            Some(bytes) => sha256_hex(bytes),
            None => match &self.source {
                Source::WorkFile { name } => format!("<sha256 of {name} when it runs>"),
                Source::Template { name, .. } => format!("<sha256 of {name}>"),
            },
        };
        let mut check = format!(
            "[ -f {to} ] && [ \"$(sha256sum < {to} | cut -d' ' -f1)\" = {} ] && [ \"$(stat -c %a {to})\" = {mode} ]",
            q(&hash)?
        );
        let mut owner_flags = String::new();
        if let Some(owner) = &self.owner {
            let (user, group) = crate::chapter::schema::parse_owner(owner)?;
            let format = if group.is_some() { "%U:%G" } else { "%U" };
            check.push_str(&format!(" && [ \"$(stat -c {format} {to})\" = {} ]", q(owner)?));
            owner_flags.push_str(&format!(" -o {}", q(&user)?));
            if let Some(group) = group {
                owner_flags.push_str(&format!(" -g {}", q(&group)?));
            }
        }
        let new = q(&format!("{}.labctl-new", self.to))?;
        let dir = Path::new(&self.to).parent().map(|p| p.display().to_string());
        let mkdir = match dir.filter(|d| !d.is_empty() && d != "/") {
            Some(d) => format!("mkdir -p {} && ", q(&d)?),
            None => String::new(),
        };
        let run = format!(
            "{mkdir}install -m {:04o}{owner_flags} /dev/stdin {new} && mv -f {new} {to}",
            self.mode
        );
        Ok(Commands { check, run, undo: format!("rm -f {to}") })
    }
}

/// A file to fetch from a host into the lab's working directory, as planned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FetchFile {
    /// The absolute path on the host.
    pub from: String,
    /// Its name in the working directory.
    pub to: String,
    #[serde(serialize_with = "as_octal")]
    pub mode: u32,
}

/// The commands of one fetch: `check` and `run` go to the host; `local_check` and
/// `local_undo` are what the state records, since the copy is on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchCommands {
    pub check: String,
    pub run: String,
    pub local_check: String,
    pub local_undo: String,
}

impl FetchFile {
    /// What the action is called in messages: `fetch /etc/kubernetes/admin.kubeconfig as
    /// worker-0.kubeconfig`. The copy's name is in it: the state records copies on this
    /// machine, where two workers' files of one path are two copies.
    pub fn item(&self) -> String {
        format!("fetch {} as {}", self.from, self.to)
    }

    /// The copy's SHA-256, when it is there.
    pub fn local_hash(&self, workdir: &Path) -> Option<String> {
        std::fs::read(workdir.join(&self.to)).ok().map(|bytes| sha256_hex(&bytes))
    }

    /// The commands when the copy has `hash` (`None`: no copy yet, or not known).
    pub fn commands(&self, hash: Option<&str>) -> Result<FetchCommands, String> {
        let q = |s: &str| quote(s).map_err(|e| e.to_string());
        let from = q(&self.from)?;
        let to = q(&self.to)?;
        let hash = q(hash.unwrap_or("<sha256 of the copy>"))?;
        let same = |path: &str| {
            format!("[ -f {path} ] && [ \"$(sha256sum < {path} | cut -d' ' -f1)\" = {hash} ]")
        };
        Ok(FetchCommands {
            check: same(&from),
            run: format!("cat {from}"),
            local_check: format!("{} && [ \"$(stat -c %a {to})\" = {:o} ]", same(&to), self.mode),
            local_undo: format!("rm -f {to}"),
        })
    }
}

/// Lower-case hex SHA-256 of `bytes`, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(owner: Option<&str>) -> PutFile {
        PutFile {
            to: "/var/lib/kubelet/kubelet.key".into(),
            mode: 0o600,
            owner: owner.map(str::to_string),
            source: Source::WorkFile { name: "worker-0.key".into() },
        }
    }

    #[test]
    fn the_commands_put_and_check_content_mode_and_owner() {
        let c = put(Some("root:root")).commands(Some(b"key\n")).unwrap();
        let expected = format!(
            "[ -f /var/lib/kubelet/kubelet.key ] && [ \"$(sha256sum < /var/lib/kubelet/kubelet.key | cut -d' ' -f1)\" = {} ] && [ \"$(stat -c %a /var/lib/kubelet/kubelet.key)\" = 600 ] && [ \"$(stat -c %U:%G /var/lib/kubelet/kubelet.key)\" = root:root ]",
            sha256_hex(b"key\n")
        );
        assert_eq!(c.check, expected);
        assert_eq!(
            c.run,
            "mkdir -p /var/lib/kubelet && install -m 0600 -o root -g root /dev/stdin /var/lib/kubelet/kubelet.key.labctl-new && mv -f /var/lib/kubelet/kubelet.key.labctl-new /var/lib/kubelet/kubelet.key"
        );
        assert_eq!(c.undo, "rm -f /var/lib/kubelet/kubelet.key");
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        let out = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(bytes)?;
                child.wait_with_output()
            })
            .unwrap();
        String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
    }

    #[test]
    fn a_path_with_spaces_is_quoted_and_an_unknown_content_never_passes_its_check() {
        let mut p = put(None);
        p.to = "/root/my certs/ca.crt".into();
        let c = p.commands(None).unwrap();
        assert!(c.check.contains("'<sha256 of worker-0.key when it runs>'"), "{}", c.check);
        assert!(
            c.run.starts_with("mkdir -p '/root/my certs' && install -m 0600 /dev/stdin"),
            "{}",
            c.run
        );
        assert_eq!(c.undo, "rm -f '/root/my certs/ca.crt'");
    }

    #[test]
    fn a_fetch_compares_the_hosts_file_with_the_copy_and_records_the_copy() {
        let fetch = FetchFile {
            from: "/etc/kubernetes/admin.kubeconfig".into(),
            to: "worker-0.kubeconfig".into(),
            mode: 0o600,
        };
        assert_eq!(fetch.item(), "fetch /etc/kubernetes/admin.kubeconfig as worker-0.kubeconfig");
        let c = fetch.commands(Some("abc")).unwrap();
        assert_eq!(
            c.check,
            "[ -f /etc/kubernetes/admin.kubeconfig ] && [ \"$(sha256sum < /etc/kubernetes/admin.kubeconfig | cut -d' ' -f1)\" = abc ]"
        );
        assert_eq!(c.run, "cat /etc/kubernetes/admin.kubeconfig");
        assert_eq!(
            c.local_check,
            "[ -f worker-0.kubeconfig ] && [ \"$(sha256sum < worker-0.kubeconfig | cut -d' ' -f1)\" = abc ] && [ \"$(stat -c %a worker-0.kubeconfig)\" = 600 ]"
        );
        assert_eq!(c.local_undo, "rm -f worker-0.kubeconfig");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(fetch.local_hash(dir.path()), None);
        std::fs::write(dir.path().join("worker-0.kubeconfig"), b"key\n").unwrap();
        assert_eq!(fetch.local_hash(dir.path()), Some(sha256_hex(b"key\n")));
    }

    #[test]
    fn a_missing_work_file_names_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = put(None).content(dir.path()).unwrap_err();
        assert!(err.starts_with("`worker-0.key` is not in the lab's working directory"), "{err}");
        std::fs::write(dir.path().join("worker-0.key"), "k").unwrap();
        assert_eq!(put(None).content(dir.path()).unwrap(), b"k");
    }
}
