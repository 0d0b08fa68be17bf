//! Runs the real `labctl` binary and compares what a user would see, like `just`'s test builder:
//! `Test::new().args(["list"]).stdout("...").run()`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (for fixtures and examples).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One run of the binary and what it must produce.
pub struct Test {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    stdout: Option<String>,
    stderr: Option<String>,
    status: i32,
}

impl Test {
    /// A run that must succeed with no output unless told otherwise.
    pub fn new() -> Self {
        Test {
            args: Vec::new(),
            envs: Vec::new(),
            cwd: None,
            stdout: None,
            stderr: Some(String::new()),
            status: 0,
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
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

    /// Expected exit status.
    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    /// Runs the binary, checks everything asked for, and returns the output for further checks.
    pub fn run(self) -> Output {
        let output = self.command().output().expect("the labctl binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if let Some(expected) = &self.stderr {
            pretty_assertions::assert_eq!(
                expected.as_str(),
                stderr,
                "stderr of labctl {:?}",
                self.args
            );
        }
        if let Some(expected) = &self.stdout {
            pretty_assertions::assert_eq!(
                expected.as_str(),
                stdout,
                "stdout of labctl {:?}",
                self.args
            );
        }
        assert_eq!(
            output.status.code(),
            Some(self.status),
            "exit status of labctl {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            self.args
        );
        output
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_labctl"));
        cmd.args(&self.args);
        // Tests must not depend on the user's environment.
        for var in ["LABCTL_INVENTORY", "LABCTL_LABS_DIR", "NO_COLOR", "LABCTL_SANDBOX_ROOT"] {
            cmd.env_remove(var);
        }
        // No sandbox of this machine may leak into a test's inventory lookup.
        cmd.env("LABCTL_SANDBOX_ROOT", repo().join("target/no-sandboxes"));
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.current_dir(self.cwd.clone().unwrap_or_else(repo));
        cmd
    }
}
