//! Running the external programs the sandbox is built with (`ip`, `ssh-keygen`, CNI plugins),
//! with errors that name the command and quote what it said.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `cmd` with `input` on stdin (or none); its stdout when it exits 0, else a message
/// naming the command, its exit status and its stderr.
pub fn run(cmd: &mut Command, input: Option<&str>) -> Result<String, String> {
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run `{}`: {e}", describe(cmd)))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // A program may exit before reading all of its input; its exit status tells.
        let _ = stdin.write_all(text.as_bytes());
    }
    let output =
        child.wait_with_output().map_err(|e| format!("cannot run `{}`: {e}", describe(cmd)))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = [stderr.trim(), stdout.trim()].into_iter().find(|s| !s.is_empty()).unwrap_or("");
    let status = match output.status.code() {
        Some(code) => format!("exit code {code}"),
        None => "a signal".to_string(),
    };
    Err(format!("`{}` failed with {status}: {said}", describe(cmd)))
}

/// Runs `cmd` and ignores how it ends (teardown: the thing may already be gone).
pub fn run_quietly(cmd: &mut Command, input: Option<&str>) {
    let _ = run(cmd, input);
}

/// The command as a shell line, for messages.
pub fn describe(cmd: &Command) -> String {
    let program = cmd.get_program().to_string_lossy();
    let args = cmd.get_args().map(|a| a.to_string_lossy());
    let words: Vec<String> = std::iter::once(program)
        .chain(args)
        .map(|w| shlex::try_quote(&w).map(|q| q.into_owned()).unwrap_or_else(|_| w.into_owned()))
        .collect();
    let line = words.join(" ");
    // Start scripts are long; the program and the start of its arguments identify it.
    if line.chars().count() > 160 {
        let cut: String = line.chars().take(157).collect();
        format!("{cut}...")
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_names_the_command_and_quotes_stderr() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo nope >&2; exit 3"]);
        let error = run(&mut cmd, None).unwrap_err();
        assert_eq!(error, "`sh -c 'echo nope >&2; exit 3'` failed with exit code 3: nope");
    }

    #[test]
    fn input_reaches_stdin() {
        let mut cmd = Command::new("cat");
        assert_eq!(run(&mut cmd, Some("hello")).unwrap(), "hello");
    }
}
