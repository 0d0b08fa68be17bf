//! The one error type of labctl, and the exit code each kind of error maps to.
//!
//! Exit codes are part of the command-line contract (README, "Exit codes"):
//! 0 success; 1 a step or check failed; 2 bad usage or bad input; 3 a host could not be
//! reached or authenticated; 130 interrupted.

use std::path::PathBuf;

use crate::diagnostic::Diagnostic;

/// Exit code: a step or a check failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad usage or bad input (file, schema, template).
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: a host could not be reached or authenticated.
pub const EXIT_UNREACHABLE: i32 = 3;
/// Exit code: interrupted (Ctrl-C).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Everything that can make a labctl command fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One problem in an input file.
    #[error("{0}")]
    Input(Diagnostic),

    /// Several problems found by checking an input as a whole (lints).
    #[error("{}", render_all(.0))]
    Inputs(Vec<Diagnostic>),

    #[error("unknown chapter `{name}`{}\n  help: `labctl list` shows the chapters", suggest(.suggestion))]
    UnknownChapter { name: String, suggestion: Option<String> },

    #[error("chapter `{chapter}` has no variant `{name}`{}\n  help: its variants are: {}", suggest(.suggestion), .available.join(", "))]
    UnknownVariant {
        chapter: String,
        name: String,
        suggestion: Option<String>,
        available: Vec<String>,
    },

    #[error("chapter `{chapter}` has no step `{name}`{}\n  help: `labctl show {chapter}` lists its steps", suggest(.suggestion))]
    UnknownStep { chapter: String, name: String, suggestion: Option<String> },

    #[error("no inventory found: looked for {}\n  help: give one with `-i FILE`, or start a lab with `sudo labctl sandbox up`", .searched.join(", "))]
    NoInventory { searched: Vec<String> },

    #[error("cannot write `{}`: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },

    #[error(
        "the private key `{}` is open to others (mode {mode:04o}); OpenSSH refuses such a key \
         (\"UNPROTECTED PRIVATE KEY FILE\") and so does labctl: nothing was run\n  \
         help: `chmod 600 {}`, then run again (the key of {})",
        .path.display(), crate::template::shell::quote(&.path.to_string_lossy()).unwrap_or_default(), .nodes.join(", ")
    )]
    UnprotectedKey { path: PathBuf, mode: u32, nodes: Vec<String> },

    #[error(
        "cannot read the key file {} of {} (named in `{}`): {}; nothing was run\n  \
         help: fix the path in the inventory (`ssh: {{ identity_file: FILE }}`), or make the key with `ssh-keygen -t ed25519 -f FILE`",
        .paths.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", "),
        .nodes.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
        .inventory.display(),
        .why
    )]
    MissingKey { paths: Vec<PathBuf>, nodes: Vec<String>, inventory: PathBuf, why: String },

    #[error("{0}")]
    Usage(String),

    /// A failure with its own message and exit code (sandbox, runner).
    #[error("{message}")]
    Other { message: String, code: i32 },

    /// The user said no at a prompt: nothing was done (exit 1, as `terraform apply` declined).
    #[error("{what} cancelled; nothing was changed")]
    Cancelled { what: String },

    /// Not a failure: the command said all there is to say and exits with `code` (e.g.
    /// `plan --detailed-exitcode`'s 2, changes pending). Nothing more is printed.
    #[error("exit status {0}")]
    Exit(i32),
}

impl Error {
    /// The process exit code for this error (see the module docs).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Other { code, .. } | Error::Exit(code) => *code,
            Error::Cancelled { .. } => EXIT_FAILED,
            _ => EXIT_BAD_INPUT,
        }
    }
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Self {
        Error::Input(d)
    }
}

fn suggest(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

fn render_all(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.severity == crate::diagnostic::Severity::Error);
    errors.map(|d| d.to_string()).collect::<Vec<_>>().join("\nerror: ")
}

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}
