//! A problem found in an input file, with the place it was found.
//!
//! Every parser in labctl (chapters, inventories, templates) reports bad input as a
//! [`Diagnostic`], so that every message has the same shape: `file:line:column: what`,
//! and optionally a line of help that says what to do.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is: errors stop labctl, warnings are printed and it goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A problem in an input file, located as precisely as the parser could.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based line; `None` when the problem is about the whole file.
    pub line: Option<u64>,
    /// 1-based column; only meaningful with a line.
    pub column: Option<u64>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at a line and column of `file`.
    pub fn error(
        file: &Path,
        line: Option<u64>,
        column: Option<u64>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
            help: None,
        }
    }

    /// A warning at a line of `file`.
    pub fn warning(file: &Path, line: Option<u64>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            file: file.to_path_buf(),
            line,
            column: None,
            message: message.into(),
            help: None,
        }
    }

    /// The same diagnostic with a line of help that says what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:column`, as far as it is known.
    pub fn place(&self) -> String {
        let file = self.file.display();
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            _ => format!("{file}"),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = format!("{}: {}", self.place(), self.message);
        crate::error::render_help(f, message, self.help.as_deref())
    }
}
