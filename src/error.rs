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

    #[error("{}", with_help(format!("unknown chapter `{name}`{}", suggest(.suggestion)), "`labctl list` shows the chapters"))]
    UnknownChapter { name: String, suggestion: Option<String> },

    #[error("{}", with_help(
        format!("chapter `{chapter}` has no variant `{name}`{}", suggest(.suggestion)),
        format!("its variants are: {}", .available.join(", ")),
    ))]
    UnknownVariant {
        chapter: String,
        name: String,
        suggestion: Option<String>,
        available: Vec<String>,
    },

    #[error("{}", with_help(
        format!("chapter `{chapter}` has no step `{name}`{}", suggest(.suggestion)),
        format!("`labctl show {chapter}` lists its steps"),
    ))]
    UnknownStep { chapter: String, name: String, suggestion: Option<String> },

    #[error("{}", with_help(
        format!("no inventory found: looked for {}", .searched.join(", ")),
        "give one with `-i FILE`, or start a lab with `sudo labctl sandbox up`",
    ))]
    NoInventory { searched: Vec<String> },

    #[error("cannot write `{}`: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },

    #[error("{}", with_help(
        format!(
            "the private key `{}` is open to others (mode {mode:04o}); OpenSSH refuses such a key \
             (\"UNPROTECTED PRIVATE KEY FILE\") and so does labctl: nothing was run",
            .path.display()
        ),
        format!(
            "`chmod 600 {}`, then run again (the key of {})",
            crate::template::shell::quote(&.path.to_string_lossy()).unwrap_or_default(),
            .nodes.join(", ")
        ),
    ))]
    UnprotectedKey { path: PathBuf, mode: u32, nodes: Vec<String> },

    #[error("{}", with_help(
        format!(
            "cannot read the key file {} of {} (named in `{}`): {}; nothing was run",
            .paths.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", "),
            .nodes.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
            .inventory.display(),
            .why
        ),
        "fix the path in the inventory (`ssh: { identity_file: FILE }`), or make the key with `ssh-keygen -t ed25519 -f FILE`",
    ))]
    MissingKey { paths: Vec<PathBuf>, nodes: Vec<String>, inventory: PathBuf, why: String },

    #[error("{0}")]
    Usage(String),

    /// A step, a check or labctl's own work failed (exit 1).
    #[error("{0}")]
    Failed(Problem),

    /// What the user asked for cannot be done as asked: flags, missing programs or root, a
    /// chapter the sandbox cannot host (exit 2).
    #[error("{0}")]
    BadInput(Problem),

    /// A host or a service could not be reached or would not let labctl in (exit 3).
    #[error("{0}")]
    Unreachable(Problem),

    /// Ctrl-C stopped the command (exit 130).
    #[error("{0}")]
    Interrupted(Problem),

    /// A connection to a host could not be made (exit 3 or 2, as the cause says), with its
    /// cause.
    #[error(transparent)]
    Connect(Box<crate::connector::ConnectError>),

    /// The user said no at a prompt: nothing was done (exit 1, as `terraform apply` declined).
    #[error("{what} cancelled; nothing was changed")]
    Cancelled { what: String },

    /// Not a failure: the command said all there is to say and exits with `code` (e.g.
    /// `plan --detailed-exitcode`'s 2, changes pending). Nothing more is printed.
    #[error("exit status {0}")]
    Exit(i32),
}

/// What went wrong, in words, and what to do about it when labctl can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    /// A problem with no help line yet.
    pub fn new(message: impl Into<String>) -> Problem {
        Problem { message: message.into(), help: None }
    }

    /// The same problem with a help line: what to do about it.
    pub fn help(self, help: impl Into<String>) -> Problem {
        Problem { help: Some(help.into()), ..self }
    }
}

impl From<String> for Problem {
    fn from(message: String) -> Problem {
        Problem::new(message)
    }
}

impl From<&str> for Problem {
    fn from(message: &str) -> Problem {
        Problem::new(message)
    }
}

/// The one place a help line is written under its message (docs/architecture.md, "Output"):
/// every error type that has a help line renders it with this.
pub fn render_help(
    f: &mut std::fmt::Formatter<'_>,
    message: impl std::fmt::Display,
    help: Option<&str>,
) -> std::fmt::Result {
    write!(f, "{message}")?;
    if let Some(help) = help {
        write!(f, "\n  help: {help}")?;
    }
    Ok(())
}

/// `message` with `help` under it, as [`render_help`] writes them.
pub fn with_help(message: impl std::fmt::Display, help: impl std::fmt::Display) -> String {
    Problem::new(message.to_string()).help(help.to_string()).to_string()
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        render_help(f, &self.message, self.help.as_deref())
    }
}

impl Error {
    /// [`Error::Failed`] with `message`.
    pub fn failed(message: impl Into<String>) -> Error {
        Error::Failed(Problem { message: message.into(), help: None })
    }

    /// [`Error::BadInput`] with `message`.
    pub fn bad_input(message: impl Into<String>) -> Error {
        Error::BadInput(Problem { message: message.into(), help: None })
    }

    /// [`Error::Unreachable`] with `message`.
    pub fn unreachable(message: impl Into<String>) -> Error {
        Error::Unreachable(Problem { message: message.into(), help: None })
    }

    /// The error whose exit code is `code` (one of the documented ones), for results that
    /// come as a code: a run's tally, a class's worst lab.
    pub fn with_code(code: i32, message: impl Into<String>) -> Error {
        let problem = Problem { message: message.into(), help: None };
        match code {
            EXIT_BAD_INPUT => Error::BadInput(problem),
            EXIT_UNREACHABLE => Error::Unreachable(problem),
            EXIT_INTERRUPTED => Error::Interrupted(problem),
            _ => Error::Failed(problem),
        }
    }

    /// The same error with a help line: what to do about it.
    pub fn help(self, help: impl Into<String>) -> Error {
        let help = Some(help.into());
        match self {
            Error::Failed(p) => Error::Failed(Problem { help, ..p }),
            Error::BadInput(p) => Error::BadInput(Problem { help, ..p }),
            Error::Unreachable(p) => Error::Unreachable(Problem { help, ..p }),
            Error::Interrupted(p) => Error::Interrupted(Problem { help, ..p }),
            other => other,
        }
    }

    /// What `main` prints, one `error:` line (with its help) per problem: several for
    /// [`Error::Inputs`], so that each gets the same `error:` (docs/architecture.md, "Output").
    pub fn messages(&self) -> Vec<String> {
        match self {
            Error::Inputs(diagnostics) => errors_of(diagnostics).map(|d| d.to_string()).collect(),
            other => vec![other.to_string()],
        }
    }

    /// The process exit code for this error (see the module docs): it follows from the kind.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Exit(code) => *code,
            Error::Failed(_) | Error::Cancelled { .. } => EXIT_FAILED,
            Error::Unreachable(_) => EXIT_UNREACHABLE,
            Error::Connect(e) => e.exit_code(),
            Error::Interrupted(_) => EXIT_INTERRUPTED,
            _ => EXIT_BAD_INPUT,
        }
    }
}

impl From<crate::connector::ConnectError> for Error {
    fn from(e: crate::connector::ConnectError) -> Self {
        Error::Connect(Box::new(e))
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
    errors_of(diagnostics).map(|d| d.to_string()).collect::<Vec<_>>().join("\nerror: ")
}

fn errors_of(diagnostics: &[Diagnostic]) -> impl Iterator<Item = &Diagnostic> {
    diagnostics.iter().filter(|d| d.severity == crate::diagnostic::Severity::Error)
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

#[cfg(test)]
mod kind_tests {
    use super::*;

    /// The exit code follows from the kind of error, and a help line is a field shown under
    /// the message.
    #[test]
    fn the_exit_code_comes_from_the_kind_and_help_is_its_own_line() {
        let e = Error::bad_input("`gcloud` is not installed").help("install it");
        assert_eq!(e.to_string(), "`gcloud` is not installed\n  help: install it");
        assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
        assert_eq!(Error::failed("x").exit_code(), EXIT_FAILED);
        assert_eq!(Error::unreachable("x").exit_code(), EXIT_UNREACHABLE);
        for code in [EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNREACHABLE, EXIT_INTERRUPTED] {
            assert_eq!(Error::with_code(code, "x").exit_code(), code);
        }
        assert_eq!(Error::Cancelled { what: "reset".into() }.exit_code(), EXIT_FAILED);
        assert_eq!(Error::Exit(2).exit_code(), 2);
    }

    /// Every kind of error writes its help line the same way, from a field.
    #[test]
    fn help_lines_are_rendered_in_one_place() {
        let diagnostic =
            Diagnostic::error(std::path::Path::new("labctl.yaml"), Some(4), None, "bad")
                .with_help("fix it");
        assert_eq!(diagnostic.to_string(), "labctl.yaml:4: bad\n  help: fix it");
        assert_eq!(with_help("bad", "fix it"), "bad\n  help: fix it");
        assert_eq!(Problem::new("bad").help("fix it").to_string(), "bad\n  help: fix it");
        let unknown = Error::UnknownChapter { name: "x".into(), suggestion: None };
        assert_eq!(
            unknown.to_string(),
            "unknown chapter `x`\n  help: `labctl list` shows the chapters"
        );
    }
}
