//! Finding and running the `gcloud` CLI on this machine, for what labctl asks GCE itself
//! (configuration, instances, the route list of verify). The chapter's own route commands run
//! through the local connector like any step.
//!
//! gcloud is run without a shell (arguments need no quoting), with no input and
//! `CLOUDSDK_CORE_DISABLE_PROMPTS=1`, so it fails rather than asks; every call is bounded.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::connector::{CommandOutput, Completion};
use crate::template::shell::quote;

/// How long one gcloud call may take.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The `gcloud` program found on `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gcloud {
    pub program: PathBuf,
}

impl Gcloud {
    /// `gcloud` on the `PATH` of this process, if there is one.
    pub fn locate() -> Option<Gcloud> {
        let path = std::env::var_os("PATH")?;
        find_in(&path, "gcloud").map(|program| Gcloud { program })
    }

    /// Runs `gcloud ARGS...`; `Err` only when it could not be run or did not finish in time.
    pub async fn run(&self, args: &[&str]) -> Result<CommandOutput, String> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(args)
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let shown = command_line(args);
        match tokio::time::timeout(TIMEOUT, command.output()).await {
            Err(_) => Err(format!("`{shown}` did not finish within {}s", TIMEOUT.as_secs())),
            Ok(Err(e)) => Err(format!("cannot run `{}`: {e}", self.program.display())),
            Ok(Ok(out)) => Ok(CommandOutput {
                completion: match out.status.code() {
                    Some(code) => Completion::Exited(code as u32),
                    None => Completion::Signal("KILL".into()),
                },
                stdout: out.stdout,
                stderr: out.stderr,
            }),
        }
    }
}

/// `gcloud ARGS...` as a shell line, for messages and logs.
pub fn command_line(args: &[&str]) -> String {
    let mut words = vec!["gcloud".to_string()];
    words.extend(args.iter().map(|a| quote(a).unwrap_or_else(|_| (*a).to_string())));
    words.join(" ")
}

/// The last lines of gcloud's error output, on one line (gcloud indents its details).
pub fn error_tail(out: &CommandOutput) -> String {
    let text = out.stderr_text();
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    lines[start..].join(" ")
}

/// True when gcloud failed because it has no usable credentials.
pub fn is_auth_failure(stderr: &str) -> bool {
    [
        "gcloud auth login",
        "does not have any valid credentials",
        "Reauthentication",
        "invalid_grant",
        "refreshing your current auth tokens",
    ]
    .iter()
    .any(|needle| stderr.contains(needle))
}

fn find_in(path: &OsStr, program: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_executable_on_the_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(plain.join("gcloud"), "not executable").unwrap();
        assert_eq!(find_in(plain.as_os_str(), "gcloud"), None);
        let program = bin.join("gcloud");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([plain, bin]).unwrap();
        assert_eq!(find_in(&path, "gcloud"), Some(program));
    }

    #[test]
    fn command_lines_are_quoted() {
        assert_eq!(
            command_line(&["compute", "routes", "list", "--filter", "network: kthw"]),
            "gcloud compute routes list --filter 'network: kthw'"
        );
    }

    #[test]
    fn auth_failures_are_recognised() {
        let stderr = "ERROR: (gcloud.compute.instances.describe) You do not currently have an active account selected.\nPlease run:\n\n  $ gcloud auth login\n";
        assert!(is_auth_failure(stderr));
        assert!(!is_auth_failure(
            "ERROR: (gcloud.compute.instances.describe) Could not fetch resource:\n - The resource 'projects/p/zones/z/instances/w' was not found\n"
        ));
    }

    #[test]
    fn error_tail_keeps_the_last_lines() {
        let out = CommandOutput {
            completion: Completion::Exited(1),
            stdout: Vec::new(),
            stderr: b"ERROR: (gcloud.x) Could not fetch resource:\n - The resource 'a' was not found\n\n"
                .to_vec(),
        };
        assert_eq!(
            error_tail(&out),
            "ERROR: (gcloud.x) Could not fetch resource: - The resource 'a' was not found"
        );
    }
}
