//! Where a command's words go: the terminal, or (for one environment of a class, run beside
//! the others in one process) a buffer the class shows in its own order (see
//! docs/architecture.md, "Classes").

use std::io::Write;
use std::sync::{Arc, Mutex};

/// stdout and stderr, or a capture of both (with where the progress of the lab goes).
#[derive(Clone, Default)]
pub struct Sink(Option<Arc<Mutex<Captured>>>, Option<OnProgress>);

/// Called with one line of a captured lab's progress (`2/3 hosts  worker-1: changed ...`).
pub type OnProgress = Arc<dyn Fn(&str) + Send + Sync>;

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("captured", &self.0.is_some()).finish()
    }
}

/// What a captured command printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub stdout: String,
    pub stderr: String,
}

impl Sink {
    /// A sink that keeps everything for [`Sink::take`].
    pub fn capture() -> Sink {
        Sink(Some(Arc::new(Mutex::new(Captured::default()))), None)
    }

    /// A capture whose lab's progress goes to `on_progress`, one line at a time.
    pub fn capture_with(on_progress: OnProgress) -> Sink {
        Sink(Some(Arc::new(Mutex::new(Captured::default()))), Some(on_progress))
    }

    /// One line of progress, for whoever shows the lab's (a class: its line for the lab).
    pub fn progress(&self, line: &str) {
        if let Some(on) = &self.1 {
            on(line);
        }
    }

    /// True when words are kept rather than printed (a class shows its own progress).
    pub fn is_captured(&self) -> bool {
        self.0.is_some()
    }

    /// Writes `text` to stdout (or the capture).
    pub fn out(&self, text: &str) {
        match &self.0 {
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

    /// Writes `text` to stderr (or the capture).
    pub fn err(&self, text: &str) {
        match &self.0 {
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

    /// What was captured so far (empty when printing).
    pub fn take(&self) -> Captured {
        self.0
            .as_ref()
            .and_then(|c| c.lock().ok().map(|mut c| std::mem::take(&mut *c)))
            .unwrap_or_default()
    }
}

/// `println!` into a [`Sink`].
#[macro_export]
macro_rules! say {
    ($sink:expr, $($arg:tt)*) => { $sink.out(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` into a [`Sink`].
#[macro_export]
macro_rules! complain {
    ($sink:expr, $($arg:tt)*) => { $sink.err(&format!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_keeps_both_streams_apart() {
        let sink = Sink::capture();
        crate::say!(sink, "table {}", 1);
        crate::complain!(sink, "warning: x");
        sink.out("tail");
        let got = sink.take();
        assert_eq!(got.stdout, "table 1\ntail");
        assert_eq!(got.stderr, "warning: x\n");
        assert_eq!(sink.take(), Captured::default());
        assert!(!Sink::default().is_captured());
    }
}
