//! The per-run log: every command labctl ran, on which host, and what came back.
//! Lives in `.labctl/logs/`; holds commands and outputs only, never key material.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::connector::{CommandOutput, Completion};

/// An open run log.
pub struct RunLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
    /// `-v`: each command is also shown as it starts; `-vv`: its result and output too.
    echo: Option<crate::output::shell::Shell>,
}

impl RunLog {
    /// Opens `<dir>/<time>-<what>.log`; if that fails the run goes on without a log.
    pub fn open(dir: &Path, what: &str) -> RunLog {
        let stamp = super::state::now().replace(':', "");
        let path = dir.join(format!("{stamp}-{what}-{}.log", std::process::id()));
        // Private like the rest of `.labctl/` (0700), also when the log makes it first.
        use std::os::unix::fs::DirBuilderExt;
        // A new file, never one already there or a link planted in its place (labctl may be
        // root in someone else's lab: docs/architecture.md, "Write-ahead state").
        let linked =
            |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
        let file = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .ok()
            .filter(|_| !linked(dir) && dir.parent().is_none_or(|p| !linked(p)))
            .and_then(|_| {
                std::fs::OpenOptions::new().write(true).create_new(true).open(&path).ok()
            });
        RunLog { path, file: Mutex::new(file), echo: None }
    }

    /// Also shows the commands on `shell`'s stderr, as its verbosity says: `-v` (1: each
    /// command as it starts, per host) and `-vv` (2: also its exit status and output).
    pub fn echoing(mut self, shell: &crate::output::shell::Shell) -> RunLog {
        if shell.verbosity() > 0 {
            self.echo = Some(shell.clone());
        }
        self
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that a command starts (so a log shows what was running when labctl stopped).
    pub fn started(&self, host: &str, command: &str) {
        self.write(&format!("[{}] {host} $ {command}\n", super::state::now()));
        if let Some(shell) = &self.echo {
            // A script (verify's fact gathering is ~100 lines) is one line with `-v`, whole
            // with `-vv`; the log always has it whole.
            let lines: Vec<&str> = command.lines().collect();
            let shown = match (shell.verbosity(), lines.as_slice()) {
                (1, [first, _, rest @ ..]) => {
                    format!("{first} … ({} more lines; -vv shows them)", rest.len() + 1)
                }
                _ => command.replace('\n', "\n    "),
            };
            shell.err(&format!("{host}: $ {shown}\n"));
        }
    }

    /// Records a command's result.
    pub fn command(&self, host: &str, command: &str, result: &Result<CommandOutput, String>) {
        let first = command.lines().next().unwrap_or_default();
        let mut text = format!("[{}] {host} done: {first}\n", super::state::now());
        match result {
            Ok(out) => {
                let status = match &out.completion {
                    Completion::Exited(code) => format!("exit {code}"),
                    Completion::Signal(sig) => format!("killed by signal {sig}"),
                    Completion::NoStatus => "no exit status (connection closed)".to_string(),
                };
                for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                    if !bytes.is_empty() {
                        text.push_str(&format!("  {name}:\n"));
                        for line in String::from_utf8_lossy(bytes).lines() {
                            text.push_str(&format!("    {line}\n"));
                        }
                    }
                }
                text.push_str(&format!("  {status}\n"));
            }
            Err(e) => text.push_str(&format!("  error: {e}\n")),
        }
        self.write(&text);
        if let Some(shell) = &self.echo
            && shell.verbosity() >= 2
        {
            let shown: String = text.lines().skip(1).map(|l| format!("{host}: {l}\n")).collect();
            shell.err(&shown);
        }
    }

    /// Records a line about a host (connected, unreachable, ...).
    pub fn note(&self, host: &str, text: &str) {
        self.write(&format!("[{}] {host}: {text}\n", super::state::now()));
    }

    fn write(&self, text: &str) {
        if let Ok(mut guard) = self.file.lock()
            && let Some(file) = guard.as_mut()
        {
            let _ = file.write_all(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn verbose_logs_show_each_command_and_at_two_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let cli = |v: &[&str]| {
            let cli = crate::cli::Cli::try_parse_args(v).unwrap();
            cli.global.shell.capture()
        };
        let sink = cli(&["labctl", "-vv", "list"]);
        let log = RunLog::open(dir.path(), "run").echoing(&sink);
        log.started("worker-0", "ip route replace 10.200.1.0/24 via 10.240.0.21");
        let out = CommandOutput {
            completion: Completion::Exited(0),
            stdout: b"done\n".to_vec(),
            stderr: Vec::new(),
        };
        log.command("worker-0", "ip route replace 10.200.1.0/24 via 10.240.0.21", &Ok(out));
        let quiet_sink = cli(&["labctl", "list"]);
        let quiet = RunLog::open(dir.path(), "run").echoing(&quiet_sink);
        quiet.started("worker-0", "true");
        assert_eq!(quiet_sink.take().stderr, "");
        assert_eq!(
            sink.take().stderr,
            "worker-0: $ ip route replace 10.200.1.0/24 via 10.240.0.21\n\
             worker-0:   stdout:\n\
             worker-0:     done\n\
             worker-0:   exit 0\n"
        );
        // A script is one line with -v, whole with -vv.
        let one = cli(&["labctl", "-v", "list"]);
        RunLog::open(dir.path(), "run").echoing(&one).started("worker-0", "a\nb\nc");
        assert_eq!(one.take().stderr, "worker-0: $ a … (2 more lines; -vv shows them)\n");
        RunLog::open(dir.path(), "run").echoing(&sink).started("worker-0", "a\nb\nc");
        assert_eq!(sink.take().stderr, "worker-0: $ a\n    b\n    c\n");
    }

    #[test]
    fn the_log_makes_its_directories_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".labctl");
        let log = RunLog::open(&state.join("logs"), "plan");
        log.started("worker-0", "true");
        assert!(log.path().exists());
        for d in [&state, &state.join("logs")] {
            assert_eq!(std::fs::metadata(d).unwrap().permissions().mode() & 0o777, 0o700, "{d:?}");
        }
    }
}
