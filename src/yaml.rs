//! Reading YAML input files strictly and safely.
//!
//! All YAML that labctl reads (chapters, inventories, class files) goes through
//! [`parse_file`]/[`parse_str`]: a size cap, serde-saphyr with a tight budget (so an alias bomb
//! is refused rather than expanded) and errors turned into located [`Diagnostic`]s.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::diagnostic::Diagnostic;

/// Input files larger than this are refused before parsing: no chapter or inventory is near it.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// Reads and parses a YAML file into `T`.
pub fn parse_file<T: DeserializeOwned>(path: &Path) -> Result<T, Diagnostic> {
    let text = read_input(path)?;
    parse_str(path, &text)
}

/// Reads a text input file, refusing huge, unreadable and non-UTF-8 files with a clear message.
pub fn read_input(path: &Path) -> Result<String, Diagnostic> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Diagnostic::error(path, None, None, format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(Diagnostic::error(path, None, None, "is a directory, not a file"));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(Diagnostic::error(
            path,
            None,
            None,
            format!(
                "file is {} bytes; labctl reads input files of at most {} bytes",
                meta.len(),
                MAX_INPUT_BYTES
            ),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::error(path, None, None, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col_of_offset(&e.as_bytes()[..e.utf8_error().valid_up_to()]);
        Diagnostic::error(path, Some(line), Some(column), "file is not valid UTF-8 text")
    })
}

/// Parses YAML text that was read from `path` (used for messages only).
pub fn parse_str<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, Diagnostic> {
    if text.len() as u64 > MAX_INPUT_BYTES {
        return Err(Diagnostic::error(path, None, None, "input is too large"));
    }
    if text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(Diagnostic::error(
            path,
            None,
            None,
            "file is empty (nothing but blank lines and comments)",
        ));
    }
    let options = serde_saphyr::options! {
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_events: 200_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_depth: 64,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 20_000,
            max_replay_stack_depth: 16,
        },
    };
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|e| to_diagnostic(path, &e))
}

/// Turns a serde-saphyr error into a diagnostic, moving its location into the `file:line:col` prefix.
fn to_diagnostic(path: &Path, e: &serde_saphyr::Error) -> Diagnostic {
    let mut message = e.to_string();
    // The parser's advice is for programmers; a user is better served by the plain fact.
    if let Some(i) = message.find(", set DuplicateKeyPolicy") {
        let rest = message[i..]
            .find(" at line ")
            .map(|j| message[i + j..].to_string())
            .unwrap_or_default();
        let key = message[..i].trim_start_matches("duplicate mapping key: ").to_string();
        message = format!("key `{key}` is given twice{rest}");
    }
    let location = e.location().filter(|l| l.line() > 0);
    if let Some(loc) = &location {
        let suffix = format!(" at line {}, column {}", loc.line(), loc.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_string();
        }
    }
    let diagnostic = Diagnostic::error(
        path,
        location.as_ref().map(|l| l.line()),
        location.as_ref().map(|l| l.column()),
        message.clone(),
    );
    if message.contains("limit exceeded") || message.contains("budget") {
        diagnostic.with_help(
            "labctl limits YAML aliases, size and nesting so that no file can exhaust memory; \
             write the values out instead",
        )
    } else {
        diagnostic
    }
}

/// 1-based line and column just after `prefix`.
pub fn line_col_of_offset(prefix: &[u8]) -> (u64, u64) {
    let line = prefix.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let column = prefix.iter().rev().take_while(|b| **b != b'\n').count() as u64 + 1;
    (line, column)
}
