//! Paths written in an inventory (`identity_file`, `vagrant.dir`): `~` means the user's home
//! and a relative path is relative to the inventory file, not to wherever labctl was started,
//! so that `labctl -i envs/alice/labctl.yaml` finds Alice's key next to her inventory.

use std::path::{Component, Path, PathBuf};

/// The user's home directory, from `$HOME` (what OpenSSH uses for `~` too).
pub(crate) fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// The directory relative paths in the inventory at `inventory` are resolved against, made
/// absolute so that it still holds if the working directory changes.
pub(crate) fn inventory_dir(inventory: &Path) -> PathBuf {
    let parent = match inventory.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let absolute = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
    without_dots(&absolute)
}

/// The directory of labctl's own files for the inventory at `inventory` (state, lock,
/// known_hosts, logs): `.labctl/` next to it. The runner keeps its files there.
pub fn state_dir(inventory: &Path) -> PathBuf {
    let parent = inventory.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent.join(".labctl")
}

/// Resolves a path written by the user: `~` and `~/…` against `home`, a relative path against
/// `base`. The error says what is wrong with the path, for the caller to locate.
pub(crate) fn resolve(raw: &str, base: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    if raw.trim().is_empty() {
        return Err("the path is empty".into());
    }
    if let Some(rest) = raw.strip_prefix('~') {
        let rest = match rest.strip_prefix('/') {
            Some(rest) => rest,
            None if rest.is_empty() => rest,
            // `~alice/...` would need the password database; nobody writes it in a lab inventory.
            None => {
                return Err(format!(
                    "`{raw}`: `~user` paths are not supported; write the full path"
                ));
            }
        };
        let Some(home) = home else {
            return Err(format!(
                "`{raw}` starts with `~` but $HOME is not set; write the full path"
            ));
        };
        return Ok(without_dots(&home.join(rest)));
    }
    let path = Path::new(raw);
    if path.is_absolute() { Ok(path.to_path_buf()) } else { Ok(without_dots(&base.join(path))) }
}

/// `path` without `.` components (`/lab/./keys` → `/lab/keys`); `..` is kept, as symlinks
/// make removing it lexically wrong.
fn without_dots(path: &Path) -> PathBuf {
    let kept: PathBuf = path.components().filter(|c| *c != Component::CurDir).collect();
    if kept.as_os_str().is_empty() { PathBuf::from(".") } else { kept }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> Option<&'static Path> {
        Some(Path::new("/home/u"))
    }

    #[test]
    fn tilde_is_home() {
        assert_eq!(resolve("~", Path::new("/lab"), home()), Ok(PathBuf::from("/home/u")));
        assert_eq!(
            resolve("~/.ssh/id_ed25519", Path::new("/lab"), home()),
            Ok(PathBuf::from("/home/u/.ssh/id_ed25519"))
        );
    }

    #[test]
    fn relative_is_next_to_the_inventory() {
        assert_eq!(
            resolve("./keys/id", Path::new("/lab"), home()),
            Ok(PathBuf::from("/lab/keys/id"))
        );
        assert_eq!(resolve(".", Path::new("/lab"), home()), Ok(PathBuf::from("/lab")));
        assert_eq!(resolve("/k/id", Path::new("/lab"), home()), Ok(PathBuf::from("/k/id")));
    }

    #[test]
    fn unusable_paths_are_refused() {
        assert_eq!(
            resolve("~alice/id", Path::new("/lab"), home()),
            Err("`~alice/id`: `~user` paths are not supported; write the full path".into())
        );
        assert_eq!(
            resolve("~/id", Path::new("/lab"), None),
            Err("`~/id` starts with `~` but $HOME is not set; write the full path".into())
        );
        assert_eq!(resolve(" ", Path::new("/lab"), home()), Err("the path is empty".into()));
    }

    #[test]
    fn inventory_dir_is_absolute() {
        assert_eq!(inventory_dir(Path::new("/lab/./envs/labctl.yaml")), PathBuf::from("/lab/envs"));
        assert!(inventory_dir(Path::new("labctl.yaml")).is_absolute());
    }
}
