//! The error of a fact parser: which section of the gathered output, and what was unexpected.

/// A fact's output could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    /// The gather command's output has no section of this name.
    #[error("fact `{section}`: missing from the host's output")]
    MissingSection { section: String },

    /// The output is not framed the way the gather command frames it (cut short, or noise
    /// inside a section).
    #[error("gathered output, line {line}: {problem}")]
    Framing { line: usize, problem: String },

    /// The fact's command exited with an error that does not mean "absent".
    #[error("fact `{section}`: the command failed with exit code {code}: {stderr}")]
    CommandFailed { section: String, code: i32, stderr: String },

    /// The command ran, but its output is not what the parser expects.
    #[error("fact `{section}`: {problem}")]
    Unexpected { section: String, problem: String },
}

impl FactError {
    /// An [`FactError::Unexpected`] for `section`.
    pub fn unexpected(section: &str, problem: impl Into<String>) -> FactError {
        FactError::Unexpected { section: section.to_string(), problem: problem.into() }
    }
}
