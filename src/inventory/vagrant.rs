//! Running `vagrant ssh-config` in a Vagrant directory, with a bounded wait, and telling its
//! failures apart: Vagrant not installed, machines not up, anything else.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::ssh_config::says_not_ready;
use crate::error::{EXIT_BAD_INPUT, EXIT_UNREACHABLE, Error};

/// How long `vagrant ssh-config` may take; it asks the provider about every machine, which
/// takes seconds with VirtualBox, but a hung provider must not hang labctl.
pub const SSH_CONFIG_TIMEOUT: Duration = Duration::from_secs(120);

/// The `vagrant` command labctl runs (a fake one in tests).
#[derive(Debug, Clone)]
pub struct VagrantCli {
    pub program: OsString,
    /// Arguments before `ssh-config` (none for the real one).
    pub leading_args: Vec<OsString>,
    pub timeout: Duration,
}

impl Default for VagrantCli {
    fn default() -> Self {
        VagrantCli {
            program: "vagrant".into(),
            leading_args: Vec::new(),
            timeout: SSH_CONFIG_TIMEOUT,
        }
    }
}

/// Why `vagrant ssh-config` gave no configuration.
#[derive(Debug, thiserror::Error)]
pub enum VagrantError {
    #[error("{}", crate::error::with_help(
        format!(
            "cannot run `vagrant ssh-config` in `{}`: the `vagrant` program is not installed (not found on PATH)",
            .dir.display()
        ),
        "install Vagrant, or write a labctl.yaml for this lab and give it with `-i`",
    ))]
    NotInstalled { dir: PathBuf },

    #[error("{}", crate::error::with_help(
        format!(
            "the Vagrant machines in `{}` are not ready for SSH (not created or not running)",
            .dir.display()
        ),
        "run `vagrant up` first",
    ))]
    NotUp { dir: PathBuf },

    #[error("`vagrant ssh-config` failed in `{}` ({status}): {said}", .dir.display())]
    Failed { dir: PathBuf, status: String, said: String },

    #[error("`vagrant ssh-config` in `{}` did not finish within {} s", .dir.display(), .timeout.as_secs())]
    Timeout { dir: PathBuf, timeout: Duration },

    #[error("cannot run `vagrant ssh-config` in `{}`: {source}", .dir.display())]
    Io { dir: PathBuf, source: std::io::Error },
}

impl From<VagrantError> for Error {
    fn from(e: VagrantError) -> Self {
        // Machines that are not up cannot be reached; the rest is a problem with the setup.
        let code =
            if matches!(e, VagrantError::NotUp { .. }) { EXIT_UNREACHABLE } else { EXIT_BAD_INPUT };
        Error::with_code(code, e.to_string())
    }
}

impl VagrantCli {
    /// The output of `vagrant ssh-config` run in `dir`.
    pub fn ssh_config(&self, dir: &Path) -> Result<String, VagrantError> {
        self.ssh_config_of(dir, None)
    }

    /// [`VagrantCli::ssh_config`] for the machines of the labctl inventory `inventory`: the
    /// shipped Vagrantfile reads its machines from `LABCTL_INVENTORY`, so that Vagrant and
    /// labctl read the same file even when it is not the Vagrant directory's `labctl.yaml`.
    pub fn ssh_config_of(
        &self,
        dir: &Path,
        inventory: Option<&Path>,
    ) -> Result<String, VagrantError> {
        let io = |source: std::io::Error| VagrantError::Io { dir: dir.to_path_buf(), source };
        let mut command = Command::new(&self.program);
        if let Some(inventory) = inventory {
            command.env("LABCTL_INVENTORY", std::path::absolute(inventory).map_err(io)?);
        }
        let mut child = match command
            .args(&self.leading_args)
            .arg("ssh-config")
            .current_dir(dir)
            // Plain text, and never a prompt.
            .env("VAGRANT_NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VagrantError::NotInstalled { dir: dir.to_path_buf() });
            }
            Err(e) => return Err(io(e)),
        };
        // Read both pipes on their own threads so a full pipe cannot block the child.
        let stdout = child.stdout.take().map(reader);
        let stderr = child.stderr.take().map(reader);
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(io)? {
                break status;
            }
            if Instant::now() >= deadline {
                // Best effort: the child may have exited between the check and the kill.
                let _ = child.kill();
                let _ = child.wait();
                return Err(VagrantError::Timeout {
                    dir: dir.to_path_buf(),
                    timeout: self.timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = stdout.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        let stderr = stderr.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        if says_not_ready(&stdout) || says_not_ready(&stderr) {
            return Err(VagrantError::NotUp { dir: dir.to_path_buf() });
        }
        if !status.success() {
            let said = stderr.lines().chain(stdout.lines()).find(|l| !l.trim().is_empty());
            return Err(VagrantError::Failed {
                dir: dir.to_path_buf(),
                status: status.to_string(),
                said: said.unwrap_or("no message").trim().to_string(),
            });
        }
        Ok(stdout)
    }
}

/// Reads a pipe to its end on a thread; invalid UTF-8 is replaced rather than an error.
fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fake `vagrant` that runs the shell `script` (with `ssh-config` as `$1`). The script is
    /// read by `/bin/sh` rather than executed, which avoids "text file busy" when another test
    /// thread forks while it is being written.
    pub(crate) fn fake_vagrant(dir: &Path, script: &str) -> VagrantCli {
        let file = dir.join("fake-vagrant.sh");
        std::fs::write(&file, format!("{script}\n")).unwrap();
        VagrantCli {
            program: "/bin/sh".into(),
            leading_args: vec![file.into()],
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn vagrant_is_told_the_inventory_labctl_read() {
        let dir = tempfile::tempdir().unwrap();
        let cli = fake_vagrant(dir.path(), "printf %s \"$LABCTL_INVENTORY\"");
        let out = cli.ssh_config_of(dir.path(), Some(Path::new("/labs/alice/labctl.yaml")));
        assert_eq!(out.unwrap(), "/labs/alice/labctl.yaml");
    }

    #[test]
    fn output_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        let cli = fake_vagrant(dir.path(), "[ \"$1\" = ssh-config ] && pwd");
        let out = cli.ssh_config(dir.path()).unwrap();
        assert_eq!(
            PathBuf::from(out.trim()).canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    #[test]
    fn missing_program() {
        let cli = VagrantCli { program: "/nonexistent/vagrant".into(), ..VagrantCli::default() };
        let e = cli.ssh_config(Path::new("/lab")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot run `vagrant ssh-config` in `/lab`: the `vagrant` program is not installed \
             (not found on PATH)\n  help: install Vagrant, or write a labctl.yaml for this lab and \
             give it with `-i`"
        );
        assert_eq!(Error::from(e).exit_code(), EXIT_BAD_INPUT);
    }

    #[test]
    fn not_ready_says_vagrant_up() {
        let dir = tempfile::tempdir().unwrap();
        let cli = fake_vagrant(
            dir.path(),
            "echo 'The provider for this Vagrant-managed machine is reporting that it' >&2\n\
             echo 'is not yet ready for SSH. Depending on your provider this can carry' >&2\nexit 1",
        );
        let e = cli.ssh_config(dir.path()).unwrap_err();
        assert!(matches!(e, VagrantError::NotUp { .. }), "{e}");
        assert!(
            e.to_string().ends_with("(not created or not running)\n  help: run `vagrant up` first")
        );
        assert_eq!(Error::from(e).exit_code(), EXIT_UNREACHABLE);
    }

    #[test]
    fn other_failures_relay_vagrant_message() {
        let dir = tempfile::tempdir().unwrap();
        let cli = fake_vagrant(
            dir.path(),
            "echo 'A Vagrant environment or target machine is required' >&2; exit 1",
        );
        let e = cli.ssh_config(Path::new(dir.path())).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "`vagrant ssh-config` failed in `{}` (exit status: 1): A Vagrant environment or \
                 target machine is required",
                dir.path().display()
            )
        );
    }

    #[test]
    fn hung_vagrant_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut cli = fake_vagrant(dir.path(), "exec sleep 30");
        cli.timeout = Duration::from_millis(200);
        let e = cli.ssh_config(dir.path()).unwrap_err();
        assert!(matches!(e, VagrantError::Timeout { .. }), "{e}");
    }
}
