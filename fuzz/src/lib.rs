//! Checks shared by the fuzz targets: what every error and every inventory must look like,
//! whatever the input.

use std::path::Path;

use labctl::diagnostic::{Diagnostic, Severity};
use labctl::error::Error;
use labctl::inventory::{Inventory, Role};

/// The last line a diagnostic may point at: one past the last line break, where "cut short"
/// is found. Line breaks are counted as YAML counts them: `\r\n`, `\n`, and a lone `\r` too
/// (`str::lines` does not split at a lone `\r`, so it would count fewer).
fn last_line(text: &str) -> u64 {
    let breaks =
        text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count();
    breaks as u64 + 1
}

/// A diagnostic about `file` says what is wrong and points inside `text`.
pub fn check_diagnostic(d: &Diagnostic, file: &Path, text: &str) {
    assert_eq!(d.file, file, "a diagnostic names the file it is about: {d:?}");
    assert!(!d.message.trim().is_empty(), "a diagnostic says what is wrong: {d:?}");
    if let Some(line) = d.line {
        assert!(
            (1..=last_line(text)).contains(&line),
            "diagnostic line {line} is not a line of the input ({} lines): {d:?}",
            last_line(text) - 1
        );
    }
    if let Some(column) = d.column {
        assert!(column >= 1, "columns are 1-based: {d:?}");
    }
    let shown = d.to_string();
    assert!(shown.starts_with(&d.place()), "a diagnostic is shown after its place: {shown}");
}

/// An error from reading `file` is one or more located diagnostics (or a plain message).
pub fn check_error(e: &Error, file: &Path, text: &str) {
    match e {
        Error::Input(d) => {
            assert_eq!(d.severity, Severity::Error, "{d:?}");
            check_diagnostic(d, file, text);
        }
        Error::Inputs(all) => {
            assert!(!all.is_empty(), "an error with no problems in it");
            for d in all {
                check_diagnostic(d, file, text);
            }
        }
        other => assert!(!other.to_string().trim().is_empty(), "an empty error: {other:?}"),
    }
}

/// What every inventory that a reader accepts must satisfy, whatever its format, and the lints
/// run on it (as `labctl` does before any plan) must locate what they find.
pub fn check_inventory(inv: &Inventory, file: &Path, text: &str) {
    assert_eq!(inv.source, file);
    let lints = labctl::inventory::lint(inv);
    for d in &lints {
        check_diagnostic(d, file, text);
    }
    // Chapter 11 reads its own sections (`vars:` flannel and gce) with the same care.
    match labctl::pod_network::settings::lint(inv) {
        Ok(()) => {}
        Err(labctl::error::Error::Input(d)) => check_diagnostic(&d, file, text),
        Err(labctl::error::Error::Inputs(ds)) => {
            ds.iter().for_each(|d| check_diagnostic(d, file, text))
        }
        Err(other) => panic!("chapter 11's lint failed otherwise than on input: {other}"),
    }
    let refused = |what: &str| {
        lints.iter().any(|d| d.severity == Severity::Error && d.message.contains(what))
    };
    // Readers accept what is well-formed; the lints refuse what no lab can be.
    if inv.nodes.is_empty() {
        assert!(refused("no nodes"), "an inventory without nodes passes the lints");
    }
    for node in &inv.nodes {
        if !labctl::inventory::is_dns_label(&node.name) {
            assert!(refused(&format!("`{}`", node.name)), "bad name passes the lints: {node:?}");
        }
        assert!(!node.name.is_empty(), "a node without a name: {node:?}");
        if let Some(line) = node.line {
            assert!((1..=last_line(text)).contains(&line), "node line out of the file: {node:?}");
        }
        if let Some(cidr) = node.pod_cidr {
            assert_eq!(cidr, cidr.trunc(), "a pod CIDR with host bits: {node:?}");
        }
        if node.role == Role::Controller {
            assert!(inv.controllers().any(|c| c.name == node.name));
        } else {
            assert!(inv.workers().any(|w| w.name == node.name));
        }
    }
}
