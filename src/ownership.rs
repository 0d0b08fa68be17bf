//! Who owns a lab's `.labctl/`: the owner of the directory it sits in (the inventory's), else
//! the owner of `.labctl/` itself (a sandbox made for the user who ran `sudo`). When
//! root runs labctl on someone's lab (an instructor, `sudo labctl ...`), everything labctl wrote
//! there is handed back to that owner, so that the owner's next `labctl run` can read and write
//! it. A permission error on one of its files says whose file it is and what to do
//! (docs/architecture.md, "Write-ahead state").

use std::path::Path;

use nix::unistd::{Gid, Uid, User, geteuid};

/// The user and group the `.labctl/` at `dir` belongs to, when labctl runs as root on a lab
/// that is not root's; `None` otherwise (nothing to hand over).
pub fn lab_owner(dir: &Path) -> Option<(Uid, Gid)> {
    use std::os::unix::fs::MetadataExt;
    if !geteuid().is_root() {
        return None;
    }
    [dir.parent()?, dir]
        .into_iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .find(|meta| meta.uid() != 0)
        .map(|meta| (Uid::from_raw(meta.uid()), Gid::from_raw(meta.gid())))
}

/// Gives everything under `dir` (and `dir`) that is not the lab owner's to the lab's owner
/// ([`lab_owner`]), when labctl runs as root on someone else's lab. That owner can change
/// `.labctl/` while root walks it, so the walk never follows a link: each directory is opened
/// relative to its parent's descriptor with `O_NOFOLLOW`, each entry is changed with
/// `fchownat(AT_SYMLINK_NOFOLLOW)` (a link changes, never its target), and a file with other
/// hard links is left alone (it may be someone else's file linked in). Errors are ignored: the
/// files stay usable by root, and a later permission error names their owner.
pub fn hand_over(dir: &Path) {
    if let Some((top, uid, gid)) = open_top(dir) {
        walk(top, uid, gid, 0);
    }
}

/// [`hand_over`] for `dir` and the entries of it called `names` only (no walk): what a state
/// save or a lock has just written, cheap enough for every action.
pub fn hand_over_entries(dir: &Path, names: &[&str]) {
    use nix::fcntl::AtFlags;
    use nix::sys::stat::fstatat;
    let Some((top, uid, gid)) = open_top(dir) else { return };
    for name in names {
        let Ok(stat) = fstatat(&top, *name, AtFlags::AT_SYMLINK_NOFOLLOW) else { continue };
        if stat.st_nlink <= 1 && (stat.st_uid != uid.as_raw() || stat.st_gid != gid.as_raw()) {
            let _ = nix::unistd::fchownat(
                &top,
                *name,
                Some(uid),
                Some(gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            );
        }
    }
}

/// `.labctl` opened without following a link and given to the lab's owner, with that owner;
/// `None` when there is nothing to hand over (or `.labctl` is a link).
fn open_top(dir: &Path) -> Option<(std::os::fd::OwnedFd, Uid, Gid)> {
    use nix::fcntl::{AT_FDCWD, OFlag, openat};
    use nix::sys::stat::Mode;
    let (uid, gid) = lab_owner(dir)?;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let top = openat(AT_FDCWD, dir, flags, Mode::empty()).ok()?;
    let _ = nix::unistd::fchown(&top, Some(uid), Some(gid));
    Some((top, uid, gid))
}

/// Hands over the entries of the directory `fd` (see [`hand_over`]), `depth` levels down.
fn walk(fd: std::os::fd::OwnedFd, uid: Uid, gid: Gid, depth: usize) {
    use nix::fcntl::{AtFlags, OFlag, openat};
    use nix::sys::stat::{Mode, SFlag, fstatat};
    // Deeper than labctl ever writes: a directory made to loop or exhaust root stops here.
    if depth > 16 {
        return;
    }
    let Ok(dup) = fd.try_clone() else { return };
    let Ok(mut dir) = nix::dir::Dir::from_fd(dup) else { return };
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .flatten()
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    for name in names {
        let Ok(stat) = fstatat(&fd, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else {
            continue;
        };
        let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
        let is_dir = kind == SFlag::S_IFDIR;
        if !is_dir && stat.st_nlink > 1 {
            continue;
        }
        if stat.st_uid != uid.as_raw() || stat.st_gid != gid.as_raw() {
            let _ = nix::unistd::fchownat(
                &fd,
                name.as_c_str(),
                Some(uid),
                Some(gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            );
        }
        if is_dir && let Ok(sub) = openat(&fd, name.as_c_str(), flags, Mode::empty()) {
            walk(sub, uid, gid, depth + 1);
        }
    }
}

/// A user's name, or `uid N` when it has none.
fn user_name(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(user)) => user.name,
        _ => format!("uid {uid}"),
    }
}

/// The message for a permission error on `path` (what labctl was doing: `verb`): whose file
/// it is, who labctl runs as, and what to do.
pub fn denied(verb: &str, path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let me = user_name(geteuid().as_raw());
    // The file itself, else the nearest directory above it that exists.
    let owner = path
        .ancestors()
        .find_map(|p| std::fs::metadata(p).ok().map(|m| (p.to_path_buf(), m.uid())));
    let Some((owned, uid)) = owner else {
        return format!("cannot {verb} `{}`: permission denied", path.display());
    };
    let owner = user_name(uid);
    let dir =
        path.ancestors().find(|p| p.file_name().is_some_and(|n| n == ".labctl")).unwrap_or(path);
    let quoted = crate::template::shell::quote(&dir.to_string_lossy())
        .unwrap_or_else(|_| dir.display().to_string());
    crate::error::with_help(
        format!(
            "cannot {verb} `{}`: permission denied: `{}` belongs to {owner} and labctl runs as {me}",
            path.display(),
            owned.display(),
        ),
        format!(
            "run labctl as {owner}, or give the lab's state to {me} with `sudo chown -R {me} {quoted}`"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denied_file_names_its_owner_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".labctl");
        std::fs::create_dir(&state).unwrap();
        let file = state.join("state.json");
        std::fs::write(&file, "{}").unwrap();
        let me = user_name(geteuid().as_raw());
        let message = denied("read", &file);
        assert!(
            message.starts_with(&format!(
                "cannot read `{}`: permission denied: `{}` belongs to {me} and labctl runs as {me}",
                file.display(),
                file.display()
            )),
            "{message}"
        );
        assert!(
            message.ends_with(&format!("`sudo chown -R {me} {}`", state.display())),
            "{message}"
        );
    }
}
