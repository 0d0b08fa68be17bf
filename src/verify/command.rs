//! Judging a chapter's `command` check from what its run gave back: the exit codes it expects,
//! a pattern its output must match, and evidence in the command's own words (a check script
//! that prints why it fails is the best diagnosis a chapter author can write).

use regex::Regex;

use crate::connector::{CommandOutput, Completion};

/// What a passing run looks like.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The exit codes that pass (never empty).
    pub exit: Vec<i32>,
    /// A pattern the standard output must match somewhere.
    pub output: Option<Regex>,
}

impl Default for Expected {
    fn default() -> Expected {
        Expected { exit: vec![0], output: None }
    }
}

/// Whether `out` passes, and the evidence: on a pass, the output's last line; on a failure,
/// how it ended against what was expected, and the last thing it said.
pub fn judge(command: &str, out: &CommandOutput, expected: &Expected) -> (bool, String) {
    let stdout = out.stdout_text();
    let exit_ok = match &out.completion {
        Completion::Exited(code) => expected.exit.iter().any(|e| i64::from(*e) == i64::from(*code)),
        _ => false,
    };
    if !exit_ok {
        let how = match &out.completion {
            Completion::Exited(code) => format!("exited with {code}"),
            Completion::Signal(signal) => format!("was killed by signal {signal}"),
            Completion::NoStatus => "ended without an exit status".to_string(),
        };
        let wanted = if expected.exit == [0] {
            String::new()
        } else {
            format!(" (expected {})", or_list(&expected.exit))
        };
        return (false, with_words(format!("{}{how}{wanted}", named(command)), out));
    }
    if let Some(pattern) = &expected.output
        && !pattern.is_match(&stdout)
    {
        let said = last_line(&stdout)
            .map(|l| format!("; its last line: {l}"))
            .unwrap_or_else(|| "; it printed nothing".into());
        return (false, format!("{}output does not match `{pattern}`{said}", named(command)));
    }
    let evidence = last_line(&stdout).unwrap_or_else(|| format!("{}passed", named(command)));
    (true, evidence)
}

/// The command, quoted, when it is short enough to read in a line; else nothing.
fn named(command: &str) -> String {
    let command = command.trim();
    if command.contains('\n') || command.chars().count() > 72 {
        String::new()
    } else {
        format!("`{command}` ")
    }
}

/// `text`, then the last thing the command said: its last line on stderr, else on stdout.
fn with_words(text: String, out: &CommandOutput) -> String {
    let said = last_line(&out.stderr_text()).or_else(|| last_line(&out.stdout_text()));
    match said {
        Some(said) if text.is_empty() => said,
        Some(said) => format!("{text}: {said}"),
        None => text,
    }
}

fn last_line(text: &str) -> Option<String> {
    text.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string())
}

fn or_list(codes: &[i32]) -> String {
    let words: Vec<String> = codes.iter().map(i32::to_string).collect();
    match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: u32, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
            completion: Completion::Exited(code),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn exit_zero_passes_with_the_last_line_as_evidence() {
        let judged = judge("test -f x", &out(0, "a\nfound x\n\n", ""), &Expected::default());
        assert_eq!(judged, (true, "found x".into()));
        let judged = judge("test -f x", &out(0, "", ""), &Expected::default());
        assert_eq!(judged, (true, "`test -f x` passed".into()));
    }

    #[test]
    fn a_failure_is_told_in_the_commands_own_words() {
        let script = "set -e\ncheck_cert worker-1\n";
        let judged = judge(
            script,
            &out(1, "worker-1's kubelet.crt was issued for worker-0\n", ""),
            &Expected::default(),
        );
        assert_eq!(
            judged,
            (false, "exited with 1: worker-1's kubelet.crt was issued for worker-0".into())
        );
        let judged = judge("test -f x", &out(2, "", "no such file\n"), &Expected::default());
        assert_eq!(judged, (false, "`test -f x` exited with 2: no such file".into()));
    }

    #[test]
    fn other_exit_codes_and_an_output_pattern_can_be_expected() {
        let expected = Expected {
            exit: vec![1, 2],
            output: Some(Regex::new("(?m)^CN ?= ?worker-0$").unwrap()),
        };
        let judged = judge("openssl x", &out(0, "CN = worker-0\n", ""), &expected);
        assert_eq!(
            judged,
            (false, "`openssl x` exited with 0 (expected 1 or 2): CN = worker-0".into())
        );
        let judged = judge("openssl x", &out(2, "subject\nCN = worker-0\n", ""), &expected);
        assert_eq!(judged, (true, "CN = worker-0".into()));
        let judged = judge("openssl x", &out(1, "CN = worker-1\n", ""), &expected);
        assert_eq!(
            judged,
            (false, "`openssl x` output does not match `(?m)^CN ?= ?worker-0$`; its last line: CN = worker-1".into())
        );
    }

    #[test]
    fn a_signal_never_passes() {
        let killed = CommandOutput {
            completion: Completion::Signal("KILL".into()),
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let expected = Expected { exit: vec![0, 137], output: None };
        assert_eq!(
            judge("sleep 9", &killed, &expected),
            (false, "`sleep 9` was killed by signal KILL (expected 0 or 137)".into())
        );
    }
}
