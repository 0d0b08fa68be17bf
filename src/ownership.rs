//! Who owns a lab's `.labctl/`: the owner of the directory it sits in (the inventory's), else
//! the owner of `.labctl/` itself (a sandbox made for the user who ran `sudo`). When
//! root runs labctl on someone's lab (an instructor, `sudo labctl ...`), everything labctl wrote
//! there is handed back to that owner, so that the owner's next `labctl run` can read and write
//! it. A permission error on one of its files says whose file it is and what to do
//! (docs/architecture.md, "Write-ahead state").

use std::path::{Path, PathBuf};

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
/// ([`lab_owner`]), when labctl runs as root on someone else's lab. Errors are ignored: the files stay
/// usable by root, and a later permission error names their owner.
pub fn hand_over(dir: &Path) {
    let Some((uid, gid)) = lab_owner(dir) else { return };
    let mut todo: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(path) = todo.pop() {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.uid() != uid.as_raw() || meta.gid() != gid.as_raw() {
            let _ = std::os::unix::fs::lchown(&path, Some(uid.as_raw()), Some(gid.as_raw()));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                todo.push(entry.path());
            }
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
    format!(
        "cannot {verb} `{}`: permission denied: `{}` belongs to {owner} and labctl runs as {me}\n  \
         help: run labctl as {owner}, or give the lab's state to {me} with `sudo chown -R {me} {}`",
        path.display(),
        owned.display(),
        dir.display()
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
