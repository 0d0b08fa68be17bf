//! Runs the real `labctl` binary and compares what a user would see, like `just`'s test builder:
//! `Test::new().args(["list"]).stdout("...").run()`. Every test that runs labctl goes through
//! here, the sandbox tests too (`common::sandbox_lab` hands out builders preset for a lab).
//!
//! One behaviour for every run (docs/architecture.md, "Tests"):
//!
//! - labctl sees none of the user's `LABCTL_*` settings or `NO_COLOR`, stdin is empty, and
//!   sandboxes are looked up in `LABCTL_SANDBOX_ROOT` = `target/no-sandboxes` unless the test
//!   names its own root ([`Test::sandbox_root`]), so no sandbox of this machine leaks in;
//! - a run against a lab ([`Test::inventory`], [`Test::class`], [`Test::lab`]) gets `--connect-timeout 5` and
//!   `NO_COLOR=1`: a sandbox node answers in milliseconds, five seconds leave room for a loaded
//!   two-CPU machine running two sandbox tests at once and still keep tests that make a node
//!   unreachable on purpose short ([`Test::connect_timeout`] for a test about the timeout);
//! - a run that has not ended after [`DEADLINE`] is killed and the test fails with what it
//!   printed so far, instead of hanging the suite ([`Test::timeout`] to change it);
//! - a failed expectation panics at the test's line (`#[track_caller]`) with the command line,
//!   the exit status, stdout and stderr.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How long one labctl run may take before the harness kills it: longer than a step's default
/// timeout (5 minutes) plus connecting, so it only ever ends a run that hangs.
pub const DEADLINE: Duration = Duration::from_secs(10 * 60);

/// `--connect-timeout` of every run against a lab (see the module's documentation).
pub const CONNECT_TIMEOUT_SECONDS: u32 = 5;

/// The repository root (for fixtures and examples).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of `tests/fixtures/`.
pub fn fixture(path: &str) -> PathBuf {
    repo().join("tests/fixtures").join(path)
}

/// The text of a file of `tests/fixtures/`.
pub fn fixture_text(path: &str) -> String {
    let file = fixture(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Held by a test that cannot share the machine with the other tests of this process (all
/// tests of `tests/` run in one process, two at a time on two CPUs, and files no longer run one
/// after the other). Who takes it and why:
///
/// - `sandbox::without_network_a_second_sandbox_takes_a_free_one` takes KTHW's 10.240.0.0/24
///   and then lets labctl pick the first network of 10.241–10.254 that no sandbox of this
///   machine uses: what it gets depends on every sandbox up at that moment. Every other test
///   names its own network (each file its own range, listed in docs/architecture.md, "Tests");
///   a test that brings up a sandbox without `--network` must take this lock too.
///
/// A panicking holder poisons nothing that matters: the guard carries no data.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the exit status must be.
#[derive(Clone, Copy, Debug)]
enum Status {
    Code(i32),
    Failure,
}

/// One run of the binary and what it must produce.
pub struct Test {
    args: Vec<OsString>,
    /// Set (`Some`) or removed (`None`), in order, after the harness's own settings.
    envs: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    sandbox_root: Option<PathBuf>,
    inventory: Option<PathBuf>,
    class: Option<PathBuf>,
    /// A run against a lab, for the lab settings (module documentation).
    lab: bool,
    connect_timeout: Option<u32>,
    timeout: Duration,
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
    status: Status,
}

impl Default for Test {
    fn default() -> Self {
        Test::new()
    }
}

impl Test {
    /// A run that must succeed with no stderr unless told otherwise.
    pub fn new() -> Self {
        Test {
            args: Vec::new(),
            envs: Vec::new(),
            cwd: None,
            stdin: None,
            sandbox_root: None,
            inventory: None,
            class: None,
            lab: false,
            connect_timeout: None,
            timeout: DEADLINE,
            stdout: None,
            stderr: Some(String::new()),
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
            status: Status::Code(0),
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn arg<S: AsRef<OsStr>>(mut self, arg: S) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(mut self, key: K, value: V) -> Self {
        self.envs.push((key.as_ref().to_os_string(), Some(value.as_ref().to_os_string())));
        self
    }

    pub fn env_remove<K: AsRef<OsStr>>(mut self, key: K) -> Self {
        self.envs.push((key.as_ref().to_os_string(), None));
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// What labctl reads on stdin (empty without).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// `LABCTL_SANDBOX_ROOT` for this run: where `sandbox` commands and the inventory lookup
    /// find sandboxes.
    pub fn sandbox_root(mut self, root: &Path) -> Self {
        self.sandbox_root = Some(root.to_path_buf());
        self
    }

    /// `-i PATH` before the arguments, and the lab settings (module documentation).
    pub fn inventory(mut self, path: &Path) -> Self {
        self.inventory = Some(path.to_path_buf());
        self.lab()
    }

    /// `--class PATH` before the arguments, and the lab settings (module documentation).
    pub fn class(mut self, path: &Path) -> Self {
        self.class = Some(path.to_path_buf());
        self.lab()
    }

    /// The lab settings (module documentation) for a run that finds its lab by itself
    /// (`./labctl.yaml`, `--sandbox NAME`, `labctl test`'s own sandbox).
    pub fn lab(mut self) -> Self {
        self.lab = true;
        self
    }

    /// `--connect-timeout SECONDS` instead of the lab default.
    pub fn connect_timeout(mut self, seconds: u32) -> Self {
        self.connect_timeout = Some(seconds);
        self
    }

    /// How long the run may take before it is killed and the test fails ([`DEADLINE`]).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// Exact expected stdout.
    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = Some(text.to_string());
        self
    }

    /// Exact expected stderr.
    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = Some(text.to_string());
        self
    }

    /// Don't compare stderr.
    pub fn any_stderr(mut self) -> Self {
        self.stderr = None;
        self
    }

    /// stdout must contain `text` (may be given several times).
    pub fn stdout_contains(mut self, text: &str) -> Self {
        self.stdout_contains.push(text.to_string());
        self
    }

    /// stderr must contain `text` (may be given several times); stderr is not compared whole.
    pub fn stderr_contains(mut self, text: &str) -> Self {
        self.stderr = None;
        self.stderr_contains.push(text.to_string());
        self
    }

    /// Expected exit status.
    pub fn status(mut self, code: i32) -> Self {
        self.status = Status::Code(code);
        self
    }

    /// Any exit status but 0; stderr is not compared whole.
    pub fn failure(mut self) -> Self {
        self.status = Status::Failure;
        self.stderr = None;
        self
    }

    /// Runs the binary, checks everything asked for, and returns the output for further checks.
    #[track_caller]
    pub fn run(self) -> Output {
        let output = self.output();
        self.check(&output);
        output
    }

    /// Runs the binary and returns what it did, checking nothing but the deadline (for tests
    /// that look at the output in their own way).
    #[track_caller]
    pub fn output(&self) -> Output {
        let mut command = self.command();
        let stdin = if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() };
        command.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("the labctl binary runs");
        let pipe = child.stdin.take();
        let input = self.stdin.clone().unwrap_or_default();
        // Written from a thread: labctl may print a lot before it reads, or never read at all.
        let writer = std::thread::spawn(move || {
            if let Some(mut pipe) = pipe {
                let _ = pipe.write_all(&input);
            }
        });
        let mut stdout_pipe = child.stdout.take().expect("labctl's stdout");
        let mut stderr_pipe = child.stderr.take().expect("labctl's stderr");
        let stdout = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout_pipe.read_to_end(&mut buf);
            buf
        });
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut buf);
            buf
        });
        let status = wait_with_deadline(child, self.timeout);
        let _ = writer.join();
        let output = Output {
            status: status.unwrap_or_else(|status| status),
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        };
        if status.is_err() {
            panic!(
                "{} did not end within {:?}; it was killed\n{}",
                self.command_line(),
                self.timeout,
                describe(&output)
            );
        }
        output
    }

    /// Starts the binary in the background with stdout and stderr piped (for tests that
    /// interrupt it or run several at once); the test waits for it itself.
    pub fn spawn(&self) -> Child {
        let mut command = self.command();
        let stdin = if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() };
        command.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("the labctl binary runs");
        if let Some(input) = &self.stdin {
            let mut pipe = child.stdin.take().expect("labctl's stdin");
            let input = input.clone();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        child
    }

    /// The command line, for messages: `labctl ARGS...` (shell-quoted where needed).
    pub fn command_line(&self) -> String {
        let command = self.command();
        let mut line = String::from("labctl");
        for arg in command.get_args() {
            let arg = arg.to_string_lossy();
            line.push(' ');
            line.push_str(&shlex::try_quote(&arg).unwrap_or(arg.clone()));
        }
        line
    }

    #[track_caller]
    fn check(&self, output: &Output) {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = self.command_line();
        let context = || format!("{line}\n{}", describe(output));
        if let Some(expected) = &self.stderr {
            pretty_assertions::assert_eq!(
                expected.as_str(),
                stderr,
                "stderr of {line}\nexit: {:?}\nstdout:\n{stdout}",
                output.status.code()
            );
        }
        if let Some(expected) = &self.stdout {
            pretty_assertions::assert_eq!(
                expected.as_str(),
                stdout,
                "stdout of {line}\nexit: {:?}\nstderr:\n{stderr}",
                output.status.code()
            );
        }
        for part in &self.stdout_contains {
            assert!(stdout.contains(part.as_str()), "stdout lacks {part:?}: {}", context());
        }
        for part in &self.stderr_contains {
            assert!(stderr.contains(part.as_str()), "stderr lacks {part:?}: {}", context());
        }
        match self.status {
            Status::Code(code) => {
                assert_eq!(output.status.code(), Some(code), "exit status of {}", context())
            }
            Status::Failure => assert!(
                output.status.code().is_some_and(|c| c != 0),
                "expected a failure: {}",
                context()
            ),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_labctl"));
        if let Some(inventory) = &self.inventory {
            cmd.arg("-i").arg(inventory);
        }
        if let Some(class) = &self.class {
            cmd.arg("--class").arg(class);
        }
        let lab = self.lab;
        if let Some(seconds) = self.connect_timeout.or(lab.then_some(CONNECT_TIMEOUT_SECONDS)) {
            cmd.arg("--connect-timeout").arg(seconds.to_string());
        }
        cmd.args(&self.args);
        // Tests must not depend on the user's environment.
        for var in ["LABCTL_INVENTORY", "LABCTL_LABS_DIR", "NO_COLOR", "LABCTL_SANDBOX_ROOT"] {
            cmd.env_remove(var);
        }
        if lab {
            cmd.env("NO_COLOR", "1");
        }
        // No sandbox of this machine may leak into a test's inventory lookup.
        let root = self.sandbox_root.clone().unwrap_or_else(|| repo().join("target/no-sandboxes"));
        cmd.env("LABCTL_SANDBOX_ROOT", root);
        for (key, value) in &self.envs {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd.current_dir(self.cwd.clone().unwrap_or_else(repo));
        cmd
    }
}

/// Waits for `child`; past `limit`, kills it and returns its status as `Err`.
fn wait_with_deadline(mut child: Child, limit: Duration) -> Result<ExitStatus, ExitStatus> {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(limit) {
        Ok(status) => Ok(status.expect("waiting for labctl")),
        Err(_) => {
            // The child is not reaped until the waiter's wait returns, so the pid is still its.
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            Err(rx.recv().expect("the waiter reports").expect("waiting for labctl"))
        }
    };
    let _ = waiter.join();
    status
}

/// Exit status, stdout and stderr of a run, for failure messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
