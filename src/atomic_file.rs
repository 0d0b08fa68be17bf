//! Writing files so that a reader sees the old content or the new, never half of it:
//! write to a temporary file in the same directory, then rename it into place.

use std::io::Write;
use std::path::Path;

use crate::error::Error;

/// Replaces `path` with `contents`; `executable` sets mode 0755 instead of 0644.
pub fn write(path: &Path, contents: &[u8], executable: bool) -> Result<(), Error> {
    write_mode(path, contents, if executable { 0o755 } else { 0o644 })
}

/// [`write`] with the file's permissions given.
pub fn write_mode(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    let fail = |source| Error::Write { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new().prefix(".labctl-").tempfile_in(dir).map_err(fail)?;
    file.write_all(contents).map_err(fail)?;
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).map_err(fail)?;
    }
    file.as_file().sync_all().map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    // The rename is durable only once the directory is: labctl's state records an action
    // before its command is sent (docs/architecture.md, "Write-ahead state"). The new content
    // is in place either way, so a directory that cannot be synced (some file systems refuse)
    // is not a failed write.
    let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    Ok(())
}
