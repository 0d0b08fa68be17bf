//! Verify check kinds that a chapter's own Rust provides (docs/chapters.md, "A chapter's own
//! Rust"). The schema keeps such a check as written ([`ProvidedCheck`]); the course hands the
//! chapter the kinds its Rust knows, and loading the chapter reads every check with them, so a
//! misspelt kind or field is found by `labctl show`, at its line.

use super::schema::{ProvidedCheck, Variant, VerifyCheck};
use super::{Chapter, VerifyKinds};
use crate::diagnostic::Diagnostic;
use crate::error::{Problem, closest};

/// One kind of verify check a chapter's Rust provides.
#[derive(Debug)]
pub struct ProvidedKind {
    /// Its key in a chapter's `verify:` list.
    pub name: &'static str,
    /// Where it runs.
    pub runs_on: RunsOn,
    /// Whether it compares workers in pairs (and so means nothing with fewer than two).
    pub pairwise: bool,
    /// Reads the check's fields for `variant`: what is wrong with them, and what to do.
    pub read: fn(&Variant, &ProvidedCheck) -> Result<(), Problem>,
    /// The check in a few words, for `labctl show`.
    pub describe: fn(&ProvidedCheck) -> String,
    /// The sandbox shape a variant with this check is meant for, if it matters (`labctl test`).
    pub shape: fn(&ProvidedCheck) -> Option<&'static str>,
}

/// Where a provided check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsOn {
    /// On every worker, from facts gathered there.
    Workers,
    /// On this machine (a cloud's CLI).
    ThisMachine,
}

impl Chapter {
    /// The provided kind of `check`, when it is one the chapter's Rust knows.
    pub fn provided_kind(&self, check: &VerifyCheck) -> Option<&'static ProvidedKind> {
        match check {
            VerifyCheck::Provided(p) => self.verify_kinds.iter().find(|k| k.name == p.kind.value),
            _ => None,
        }
    }

    /// Whether `variant` compares workers in pairs.
    pub fn pairwise(&self, variant: &Variant) -> bool {
        variant.verify.iter().filter_map(|c| self.provided_kind(c)).any(|k| k.pairwise)
    }

    /// Whether a check of `variant` runs where `runs_on` says.
    pub fn runs_on(&self, variant: &Variant, runs_on: RunsOn) -> bool {
        variant.verify.iter().filter_map(|c| self.provided_kind(c)).any(|k| k.runs_on == runs_on)
    }

    /// Reads every provided check of every variant with the chapter's kinds.
    pub fn check_provided(&self) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        for variant in &self.spec.variants {
            for check in &variant.verify {
                let VerifyCheck::Provided(p) = check else { continue };
                if let Some(problem) = read(self.verify_kinds, self, variant, p) {
                    problems.push(problem);
                }
            }
        }
        problems
    }
}

fn read(
    kinds: VerifyKinds,
    chapter: &Chapter,
    variant: &Variant,
    check: &ProvidedCheck,
) -> Option<Diagnostic> {
    let Some(kind) = kinds.iter().find(|k| k.name == check.kind.value) else {
        let mut known = vec!["command", "rollout_ready"];
        known.extend(kinds.iter().map(|k| k.name));
        let suggestion = closest(&check.kind.value, known.iter().copied())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        let list = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        return Some(
            chapter
                .error_at(
                    &check.kind,
                    format!(
                        "variant `{}` has a verify check of kind `{}`, which labctl does not know{suggestion}",
                        variant.name.value, check.kind.value
                    ),
                )
                .with_help(format!("the kinds of verify check are {list}")),
        );
    };
    let Problem { message, help } = (kind.read)(variant, check).err()?;
    let diagnostic = chapter.error_at(
        &check.kind,
        format!(
            "verify check `{}` of variant `{}`: {message}",
            check.kind.value, variant.name.value
        ),
    );
    Some(match help {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    })
}
