//! What labctl did to a lab, kept in `.labctl/state.json` next to the inventory.
//!
//! `reset` undoes exactly what is recorded here, so the file is written atomically after every
//! change (temp file + rename: a crash leaves the old or the new state, never half) and a lock
//! keeps a second labctl off the same lab. An action is written ahead: recorded as `started`
//! before its command is sent, as `applied` once it is known to be done; one whose end was
//! never known is settled by the next run, plan or reset (docs/architecture.md, "Write-ahead
//! state").

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// One action `run` changed on a host, with what undoes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedAction {
    pub host: String,
    pub step: String,
    /// The `for_each` item, e.g. `peer worker-1`.
    pub item: Option<String>,
    pub undo: String,
    pub sudo: bool,
    /// The rendered stdin the action ran with (a manifest; never a secret).
    pub stdin: Option<String>,
    /// RFC 3339 time it was applied.
    pub at: String,
    /// The footprint items the action left (the step's `leaves`, rendered).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaves: Vec<String>,
    /// Whether it is known to be done. Files from before write-ahead records hold only
    /// applied actions, hence the default.
    #[serde(default)]
    pub status: Record,
    /// The step's check: what settles a `started` action.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub check: String,
    /// The tag its command's processes carry on the host (`connector/stop.rs`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// A `started` action that labctl had applied before (its check failed again, or
    /// `--replace`): that earlier record, put back if this attempt turns out not applied, so
    /// that `reset` still undoes what the first one left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Box<AppliedAction>>,
}

/// How far an action is known to have gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// Its command was about to be sent; whether it ran, and how it ended, is not known.
    Started,
    /// Its command succeeded (or its check passed when it was settled): `reset` undoes it.
    #[default]
    Applied,
}

impl AppliedAction {
    /// Whether its end is known (`reset` undoes only those).
    pub fn is_applied(&self) -> bool {
        self.status == Record::Applied
    }

    /// True if `other` is the same action on the same host.
    pub fn same_action(&self, other: &AppliedAction) -> bool {
        self.host == other.host && self.step == other.step && self.item == other.item
    }
}

/// The record of one chapter on this lab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChapterState {
    pub variant: String,
    /// Applied actions in the order they were applied.
    pub applied: Vec<AppliedAction>,
    pub last_run: Option<String>,
}

/// The whole state file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// The chapter `run` was last used with (what `verify` checks by default).
    pub last_chapter: Option<String>,
    /// Chapters `run` was given as a file (`labctl run ./my-chapter.yaml`), by name: where the
    /// later commands that name the chapter, or name none, read it from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub chapter_files: BTreeMap<String, PathBuf>,
    pub chapters: BTreeMap<String, ChapterState>,
}

/// The `.labctl` directory of a lab: state, lock, logs and known_hosts.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub dir: PathBuf,
}

impl StateDir {
    /// The state directory for the inventory at `inventory`.
    pub fn for_inventory(inventory: &Path) -> StateDir {
        StateDir { dir: crate::inventory::paths::state_dir(inventory) }
    }

    /// `.labctl/state.json`.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// `.labctl/known_hosts`: the host keys labctl has accepted for this lab.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// `.labctl/work/`: the lab's working directory (the course's "jumpbox"), where
    /// `where: local` steps run and whence steps put files onto nodes.
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    /// `.labctl/logs/`.
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// Creates the working directory (mode 0700: it may hold keys a chapter made).
    pub fn create_work(&self) -> Result<(), Error> {
        use std::os::unix::fs::DirBuilderExt;
        let work = self.work();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&work)
            .map_err(|source| write_error(&work, source))?;
        crate::ownership::hand_over_entries(&self.dir, &["work"]);
        Ok(())
    }

    /// Gives `.labctl/` back to the lab's owner when root wrote in it (see
    /// [`super::ownership`]).
    pub fn hand_over(&self) {
        crate::ownership::hand_over(&self.dir);
    }

    /// Creates the directory (mode 0700: it holds host keys and logs).
    pub fn create(&self) -> Result<(), Error> {
        use std::os::unix::fs::DirBuilderExt;
        // Whoever owns the lab's directory could point `.labctl` elsewhere; labctl (maybe
        // root) never writes through a link.
        if std::fs::symlink_metadata(&self.dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(other(format!(
                "`{}` is a symbolic link; labctl does not write its state through one",
                self.dir.display()
            ))
            .help("make it a directory, or remove it"));
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|source| write_error(&self.dir, source))?;
        crate::ownership::hand_over_entries(&self.dir, &[]);
        Ok(())
    }

    /// Reads the state; a lab labctl never touched has an empty one.
    pub fn load(&self) -> Result<State, Error> {
        let path = self.state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State { version: 1, ..State::default() });
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(other(crate::ownership::denied("read", &path)));
            }
            Err(e) => return Err(other(format!("cannot read `{}`: {e}", path.display()))),
        };
        serde_json::from_str(&text).map_err(|e| {
            other(format!(
                "`{}` is damaged ({e}); move it away to start from an empty state (reset will then not know what labctl applied)",
                path.display()
            ))
        })
    }

    /// Writes the state atomically.
    pub fn save(&self, state: &State) -> Result<(), Error> {
        self.create()?;
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| other(format!("cannot encode the state: {e}")))?;
        let path = self.state_file();
        crate::atomic_file::write(&path, format!("{text}\n").as_bytes(), false).map_err(
            |e| match e {
                Error::Write { source, .. } => write_error(&path, source),
                other => other,
            },
        )?;
        crate::ownership::hand_over_entries(&self.dir, &["state.json"]);
        Ok(())
    }

    /// Takes the lab's lock for as long as the returned guard lives.
    pub fn lock(&self) -> Result<LabLock, Error> {
        self.create()?;
        let path = self.dir.join("lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| write_error(&path, source))?;
        crate::ownership::hand_over_entries(&self.dir, &["lock"]);
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another labctl" } else { holder };
                return Err(other(format!(
                    "the lab is locked by {holder} (`{}`); wait for it to finish",
                    path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(Error::Write { path, source }),
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "pid {} on host {}", std::process::id(), host.trim());
        Ok(LabLock { _file: file })
    }
}

/// Holds the lab's lock; dropping it releases the lock.
#[derive(Debug)]
pub struct LabLock {
    _file: File,
}

fn other(message: String) -> Error {
    Error::bad_input(message)
}

/// A failed write of `path`: on a permission error, whose file it is and what to do.
fn write_error(path: &Path, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::PermissionDenied {
        return other(crate::ownership::denied("write", path));
    }
    Error::Write { path: path.to_path_buf(), source }
}

/// Now, as RFC 3339 (UTC, seconds).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir { dir: dir.path().join(".labctl") };
        assert_eq!(sd.load().unwrap().chapters.len(), 0);
        let mut state = sd.load().unwrap();
        state.chapters.insert(
            "c".into(),
            ChapterState {
                variant: "static".into(),
                applied: vec![AppliedAction {
                    host: "worker-0".into(),
                    step: "s".into(),
                    item: None,
                    undo: "true".into(),
                    sudo: true,
                    stdin: None,
                    at: now(),
                    leaves: vec!["10.200.1.0/24 via 10.240.0.21".into()],
                    status: Record::Started,
                    check: "false".into(),
                    tag: "t-1".into(),
                    previous: None,
                }],
                last_run: None,
            },
        );
        sd.save(&state).unwrap();
        assert_eq!(sd.load().unwrap(), state);
    }

    #[test]
    fn a_record_from_before_write_ahead_is_applied() {
        let old = r#"{"version":1,"last_chapter":"c","chapters":{"c":{"variant":"static",
            "applied":[{"host":"worker-0","step":"s","item":null,"undo":"true","sudo":true,
            "stdin":null,"at":"2026-01-01T00:00:00Z"}],"last_run":null}}}"#;
        let state: State = serde_json::from_str(old).unwrap();
        let action = &state.chapters["c"].applied[0];
        assert!(action.is_applied());
        assert_eq!((action.check.as_str(), action.tag.as_str()), ("", ""));
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir { dir: dir.path().join(".labctl") };
        let _held = sd.lock().unwrap();
        let err = sd.lock().unwrap_err().to_string();
        assert!(err.contains(&format!("locked by pid {} on host", std::process::id())), "{err}");
        drop(_held);
        sd.lock().unwrap();
    }

    #[test]
    fn a_damaged_state_file_is_reported_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir { dir: dir.path().to_path_buf() };
        std::fs::write(sd.state_file(), "{ not json").unwrap();
        let err = sd.load().unwrap_err().to_string();
        assert!(err.contains("is damaged"), "{err}");
    }
}
