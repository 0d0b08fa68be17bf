//! The one way a command's words reach the user, like cargo's `Shell`: results on stdout,
//! status lines, notes, warnings and errors, the `-v` echo of commands, colour and progress
//! bars all go through a [`Shell`] (docs/architecture.md, "Output").
//!
//! A shell writes to this process's stdout and stderr, or (for one environment of a class,
//! run beside the others in one process) keeps both for the class to show in its own order
//! (docs/architecture.md, "Classes").

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use crate::cli::ColorChoice;
use crate::output::style::Style;

/// Where words go and how they look: stdout and stderr (or a capture of both), colour for
/// each, the verbosity (`-v`), whether progress bars may be drawn, and whether stdout
/// carries one JSON document (then every line for people goes to stderr).
#[derive(Clone)]
pub struct Shell {
    capture: Option<Arc<Mutex<Captured>>>,
    on_progress: Option<OnProgress>,
    verbosity: u8,
    /// Colour on stdout and on stderr, each decided for its own stream.
    out_color: bool,
    err_color: bool,
    /// Bars may be drawn: stderr is a terminal and `--no-progress` was not given.
    bars: bool,
    json: bool,
}

/// Called with one line of a captured lab's progress (`2/3 hosts  worker-1: changed ...`).
pub type OnProgress = Arc<dyn Fn(&str) + Send + Sync>;

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("captured", &self.capture.is_some())
            .field("verbosity", &self.verbosity)
            .field("json", &self.json)
            .finish()
    }
}

/// The terminal, no colour, no bars, not verbose: what a shell is before the command line
/// is read ([`Shell::new`] is the one a command gets).
impl Default for Shell {
    fn default() -> Shell {
        Shell {
            capture: None,
            on_progress: None,
            verbosity: 0,
            out_color: false,
            err_color: false,
            bars: false,
            json: false,
        }
    }
}

/// What a captured command printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub stdout: String,
    pub stderr: String,
}

impl Shell {
    /// The shell for these global flags (`--color`, `-v`, `--no-progress`) and this
    /// process's terminal. Colour is on for a stream that is a terminal unless `NO_COLOR` is
    /// set, or as `--color` says.
    pub fn new(color: ColorChoice, verbosity: u8, no_progress: bool) -> Shell {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |is_terminal: bool| match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color_env && is_terminal,
        };
        let stderr_is_terminal = std::io::stderr().is_terminal();
        Shell {
            capture: None,
            on_progress: None,
            verbosity,
            out_color: decide(std::io::stdout().is_terminal()),
            err_color: decide(stderr_is_terminal),
            bars: !no_progress && stderr_is_terminal,
            json: false,
        }
    }

    /// A shell that keeps everything for [`Shell::take`], with this one's settings.
    pub fn capture(&self) -> Shell {
        Shell { capture: Some(Arc::default()), on_progress: None, ..self.clone() }
    }

    /// A capture whose lab's progress goes to `on_progress`, one line at a time.
    pub fn capture_with(&self, on_progress: OnProgress) -> Shell {
        Shell { on_progress: Some(on_progress), ..self.capture() }
    }

    /// This shell writing to the terminal, for what the whole process says (a Ctrl-C) rather
    /// than one lab of a class.
    pub fn terminal(&self) -> Shell {
        Shell { capture: None, on_progress: None, ..self.clone() }
    }

    /// This shell for a command whose stdout is one JSON document (`--output json`) when
    /// `json`: status lines and notes then go to stderr.
    pub fn json(&self, json: bool) -> Shell {
        Shell { json, ..self.clone() }
    }

    /// True when stdout carries JSON only.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// `-v` given this many times.
    pub fn verbosity(&self) -> u8 {
        self.verbosity
    }

    /// How text for stdout looks: colour, and bars (on stderr) unless commands are shown
    /// as they run (`-v`), which bars would draw over.
    pub fn style(&self) -> Style {
        Style { color: self.out_color, bars: self.bars && self.verbosity == 0 }
    }

    /// How text for stderr looks (progress lines, `error:`).
    pub fn err_style(&self) -> Style {
        Style { color: self.err_color, bars: self.bars && self.verbosity == 0 }
    }

    /// One line of progress, for whoever shows the lab's (a class: its line for the lab).
    pub fn progress(&self, line: &str) {
        if let Some(on) = &self.on_progress {
            on(line);
        }
    }

    /// True when words are kept rather than printed (a class shows its own progress).
    pub fn is_captured(&self) -> bool {
        self.capture.is_some()
    }

    /// Writes `text` to stdout (or the capture) as it is: a command's result (a table, a
    /// report, JSON).
    pub fn out(&self, text: &str) {
        match &self.capture {
            Some(c) => {
                if let Ok(mut c) = c.lock() {
                    c.stdout.push_str(text);
                }
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
            }
        }
    }

    /// Writes `text` to stderr (or the capture) as it is.
    pub fn err(&self, text: &str) {
        match &self.capture {
            Some(c) => {
                if let Ok(mut c) = c.lock() {
                    c.stderr.push_str(text);
                }
            }
            None => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
    }

    /// A line for people about what happened (`sandbox ... is up`, `wrote FILE`, a settled
    /// action): on stdout, or on stderr when stdout carries JSON.
    pub fn status(&self, line: &str) {
        let line = format!("{line}\n");
        match self.json {
            false => self.out(&line),
            true => self.err(&line),
        }
    }

    /// `note: MESSAGE`, a status line.
    pub fn note(&self, message: &str) {
        self.status(&format!("note: {message}"));
    }

    /// `warning: MESSAGE` on stderr.
    pub fn warn(&self, message: &str) {
        self.err(&format!("warning: {message}\n"));
    }

    /// `error: MESSAGE` on stderr, `error` in bold red when stderr has colour.
    pub fn error(&self, message: &str) {
        let style = self.err_style();
        self.err(&format!("{}: {message}\n", style.red(&style.bold("error"))));
    }

    /// What was captured so far (empty when printing).
    pub fn take(&self) -> Captured {
        self.capture
            .as_ref()
            .and_then(|c| c.lock().ok().map(|mut c| std::mem::take(&mut *c)))
            .unwrap_or_default()
    }
}

/// `println!` into a [`Shell`]'s stdout: part of a command's result (for a line that is
/// not, [`Shell::status`]).
#[macro_export]
macro_rules! say {
    ($shell:expr, $($arg:tt)*) => { $shell.out(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` into a [`Shell`].
#[macro_export]
macro_rules! complain {
    ($shell:expr, $($arg:tt)*) => { $shell.err(&format!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_keeps_both_streams_apart() {
        let shell = Shell::default().capture();
        crate::say!(shell, "table {}", 1);
        crate::complain!(shell, "x");
        shell.warn("y");
        shell.out("tail");
        let got = shell.take();
        assert_eq!(got.stdout, "table 1\ntail");
        assert_eq!(got.stderr, "x\nwarning: y\n");
        assert_eq!(shell.take(), Captured::default());
        assert!(!Shell::default().is_captured());
    }

    #[test]
    fn with_json_on_stdout_status_lines_and_notes_go_to_stderr() {
        let shell = Shell::default().capture().json(true);
        shell.status("settled");
        shell.note("taken");
        shell.out("{}\n");
        let got = shell.take();
        assert_eq!(got.stdout, "{}\n");
        assert_eq!(got.stderr, "settled\nnote: taken\n");
    }

    #[test]
    fn error_is_red_only_when_stderr_has_colour() {
        let plain = Shell::new(ColorChoice::Never, 0, true).capture();
        plain.error("unknown chapter");
        assert_eq!(plain.take().stderr, "error: unknown chapter\n");
        let colored = Shell::new(ColorChoice::Always, 0, true).capture();
        colored.error("unknown chapter");
        assert_eq!(colored.take().stderr, "\x1b[31m\x1b[1merror\x1b[0m\x1b[0m: unknown chapter\n");
    }

    #[test]
    fn verbose_shells_draw_no_bars() {
        let shell = Shell { bars: true, ..Shell::default() };
        assert!(shell.style().bars);
        assert!(!Shell { verbosity: 1, ..shell }.style().bars);
    }
}
