//! Chapters: course content as data (`labs/*.yaml` + `templates/`), loaded and checked.
//!
//! Reading a chapter checks what can be checked of it alone: the strict schema, names,
//! references between its parts, template syntax. That every variant renders for the example
//! lab is checked when the course loads it (`crate::course`).

pub mod provided;
pub mod sample;
pub mod schema;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use crate::diagnostic::Diagnostic;
use crate::error::{Error, closest};
use crate::inventory::Provider;
use crate::template::context::{Variables, VariablesFn};
use crate::template::{Located, Renderer, TemplateSource};
pub use schema::{ChapterFile, Cloud, Step, Target, Variant, VerifyCheck};

/// A loaded, checked chapter.
#[derive(Debug, Clone)]
pub struct Chapter {
    /// The chapter file (as shown in messages).
    pub file: PathBuf,
    pub spec: ChapterFile,
    pub templates: TemplateSource,
    /// The variables the chapter's own Rust adds to its templates, if it has any (set by the
    /// course that loads it: `crate::course::Catalog::with_variables`).
    pub variables: Option<VariablesFn>,
    /// The verify check kinds the chapter's own Rust provides (set by the course, as
    /// `variables` is); a check of another kind that the schema does not know is an error.
    pub verify_kinds: VerifyKinds,
}

/// The verify check kinds a chapter's Rust provides.
pub type VerifyKinds = &'static [provided::ProvidedKind];

impl Chapter {
    /// Reads and checks the chapter file at `path`.
    pub fn load_file(path: &Path, templates: TemplateSource) -> Result<Chapter, Error> {
        let text = crate::yaml::read_input(path)?;
        Chapter::parse(path, &text, templates)
    }

    /// Parses and checks chapter text read from `file`.
    pub fn parse(file: &Path, text: &str, templates: TemplateSource) -> Result<Chapter, Error> {
        let spec: ChapterFile = crate::yaml::parse_str(file, text)?;
        let chapter = Chapter {
            file: file.to_path_buf(),
            spec,
            templates,
            variables: None,
            verify_kinds: &[],
        };
        chapter.check()?;
        Ok(chapter)
    }

    /// The chapter's name, e.g. `11-pod-network-routes`.
    pub fn name(&self) -> &str {
        &self.spec.chapter.value
    }

    /// The variables the chapter's Rust adds for `inventory` (none for a chapter of data).
    pub fn variables(
        &self,
        inventory: &crate::inventory::Inventory,
    ) -> Result<Variables, Diagnostic> {
        self.variables.map_or_else(|| Ok(Variables::default()), |f| f(inventory))
    }

    /// A renderer for this chapter's commands and templates.
    pub fn renderer(&self) -> Renderer {
        Renderer::new(self.templates.clone())
    }

    /// The names of the variants, in file order.
    pub fn variant_names(&self) -> Vec<&str> {
        self.spec.variants.iter().map(|v| v.name.value.as_str()).collect()
    }

    /// The variant called `name`, or the chapter's default for `provider`.
    pub fn variant(&self, name: Option<&str>, provider: Provider) -> Result<&Variant, Error> {
        let defaults = &self.spec.default_variant;
        let wanted = name.unwrap_or(match provider {
            Provider::Ssh => &defaults.ssh.value,
            Provider::Vagrant => &defaults.vagrant.value,
            Provider::Gce => &defaults.gce.value,
        });
        self.spec.variants.iter().find(|v| v.name.value == wanted).ok_or_else(|| {
            let names = self.variant_names();
            Error::UnknownVariant {
                chapter: self.name().to_string(),
                name: wanted.to_string(),
                suggestion: closest(wanted, names.iter().copied()),
                available: names.iter().map(|s| s.to_string()).collect(),
            }
        })
    }

    pub(crate) fn error_at<T>(&self, at: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(
            &self.file,
            Some(at.referenced.line()),
            Some(at.referenced.column()),
            message,
        )
    }

    /// Everything that can be checked without a lab.
    fn check(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        let expected = self.file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if self.spec.chapter.value != expected {
            problems.push(
                self.error_at(
                    &self.spec.chapter,
                    format!(
                        "chapter is called `{}` but its file is `{expected}.yaml`",
                        self.spec.chapter.value
                    ),
                )
                .with_help("a chapter's name and file name must match"),
            );
        }
        if !is_name(&self.spec.chapter.value) {
            problems.push(
                self.error_at(&self.spec.chapter, name_rule("chapter", &self.spec.chapter.value)),
            );
        }
        if self.spec.variants.is_empty() {
            problems.push(Diagnostic::error(&self.file, None, None, "chapter has no variants"));
        }
        let mut seen = HashSet::new();
        for variant in &self.spec.variants {
            if !seen.insert(variant.name.value.as_str()) {
                problems.push(self.error_at(
                    &variant.name,
                    format!("variant `{}` is declared twice", variant.name.value),
                ));
            }
            if !is_name(&variant.name.value) {
                problems
                    .push(self.error_at(&variant.name, name_rule("variant", &variant.name.value)));
            }
            self.check_variant(variant, &mut problems);
        }
        let d = &self.spec.default_variant;
        for (provider, name) in [("ssh", &d.ssh), ("vagrant", &d.vagrant), ("gce", &d.gce)] {
            if !seen.contains(name.value.as_str()) {
                let suggestion = closest(&name.value, seen.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                problems.push(self.error_at(
                    name,
                    format!("default variant for provider {provider} is `{}`, which is not a variant of this chapter{suggestion}", name.value),
                ));
            }
        }
        match problems.len() {
            0 => Ok(()),
            1 => Err(Error::Input(problems.remove(0))),
            _ => Err(Error::Inputs(problems)),
        }
    }

    fn check_variant(&self, variant: &Variant, problems: &mut Vec<Diagnostic>) {
        if variant.steps.is_empty() {
            problems.push(
                self.error_at(
                    &variant.name,
                    format!("variant `{}` has no steps", variant.name.value),
                ),
            );
        }
        let renderer = self.renderer();
        let mut seen = HashSet::new();
        for step in &variant.steps {
            if !seen.insert(step.name.value.as_str()) {
                problems.push(self.error_at(
                    &step.name,
                    format!(
                        "step `{}` is declared twice in variant `{}`",
                        step.name.value, variant.name.value
                    ),
                ));
            }
            if !is_name(&step.name.value) {
                problems.push(self.error_at(&step.name, name_rule("step", &step.name.value)));
            }
            match (&step.conflict, &step.replace) {
                (Some(c), None) => problems.push(
                    self.error_at(
                        c,
                        format!("step `{}` has `conflict` but no `replace`", step.name.value),
                    )
                    .with_help("`replace` is what `labctl run --replace` runs over a conflict"),
                ),
                (None, Some(r)) => problems.push(
                    self.error_at(
                        r,
                        format!("step `{}` has `replace` but no `conflict`", step.name.value),
                    )
                    .with_help("`conflict` tells labctl when there is something to replace"),
                ),
                _ => {}
            }
            let optional = [("conflict", &step.conflict), ("replace", &step.replace)]
                .into_iter()
                .filter_map(|(field, command)| command.as_ref().map(|c| (field, c)));
            let owner = format!("step `{}`", step.name.value);
            let commands = [("check", &step.check), ("run", &step.run), ("undo", &step.undo)];
            if step.files.is_empty() && step.fetch.is_empty() {
                let missing: Vec<&str> =
                    commands.iter().filter(|(_, c)| c.is_none()).map(|(f, _)| *f).collect();
                if !missing.is_empty() {
                    problems.push(
                        self.error_at(
                            &step.name,
                            format!("{owner} has no `{}`", missing.join("`, `")),
                        )
                        .with_help(
                            "a step says how to `check`, `run` and `undo` it, or puts `files`",
                        ),
                    );
                }
            } else {
                self.check_files(&renderer, step, problems);
            }
            for (field, command) in commands
                .into_iter()
                .filter_map(|(field, command)| command.as_ref().map(|c| (field, c)))
                .chain(optional)
                .chain(step.leaves.iter().map(|l| ("leaves", l)))
            {
                self.check_command(&renderer, &owner, field, command, problems);
            }
            if !step.leaves.is_empty() && variant.footprint.is_empty() {
                problems.push(
                    self.error_at(
                        &step.leaves[0],
                        format!(
                            "step `{}` has `leaves`, but variant `{}` has no `footprint`",
                            step.name.value, variant.name.value
                        ),
                    )
                    .with_help("`leaves` names the footprint items a step's action leaves; declare the variant's `footprint` first"),
                );
            }
            if let Some(timeout) = &step.timeout
                && let Err(why) = schema::parse_timeout(&timeout.value)
            {
                problems.push(self.error_at(
                    timeout,
                    format!("step `{}` has a bad `timeout`: {why}", step.name.value),
                ));
            }
            if let Some(stdin) = &step.stdin
                && !renderer.has_manifest(&stdin.value)
            {
                problems.push(
                    self.error_at(stdin, format!("template `{}` not found", stdin.value))
                        .with_help(format!(
                            "templates are read from {}",
                            self.templates.display_path("").display()
                        )),
                );
            }
        }
        for check in &variant.verify {
            let VerifyCheck::Command { name, run, expect, hint, .. } = check else {
                continue;
            };
            let owner = format!("verify check `{}`", name.value);
            self.check_command(&renderer, &owner, "run", run, problems);
            if let Some(hint) = hint {
                self.check_command(&renderer, &owner, "hint", hint, problems);
            }
            if let Some(pattern) = expect.as_ref().and_then(|e| e.output.as_ref()) {
                self.check_command(&renderer, &owner, "expect.output", pattern, problems);
            }
        }
        let mut parts = HashSet::new();
        for part in &variant.footprint {
            if !parts.insert(part.name.value.as_str()) {
                problems.push(self.error_at(
                    &part.name,
                    format!(
                        "footprint `{}` is declared twice in variant `{}`",
                        part.name.value, variant.name.value
                    ),
                ));
            }
            if !is_name(&part.name.value) {
                problems.push(self.error_at(&part.name, name_rule("footprint", &part.name.value)));
            }
            let owner = format!("footprint `{}`", part.name.value);
            for (field, command) in [("list", &part.list), ("remove", &part.remove)] {
                self.check_command(&renderer, &owner, field, command, problems);
            }
        }
    }

    /// A step's `files`: nothing else does its work, each file has one source, and its path,
    /// mode and owner are ones labctl can put (docs/chapters.md, "Files and the working directory").
    fn check_files(
        &self,
        renderer: &Renderer,
        step: &schema::Step,
        problems: &mut Vec<Diagnostic>,
    ) {
        let owner = format!("step `{}`", step.name.value);
        let what = if step.files.is_empty() { "fetches files" } else { "puts `files`" };
        if !step.files.is_empty() && !step.fetch.is_empty() {
            problems.push(
                self.error_at(
                    &step.fetch[0].from,
                    format!("{owner} both puts `files` and has `fetch`"),
                )
                .with_help("put and fetch in steps of their own, in the order they must happen"),
            );
        }
        let others = [
            ("check", &step.check),
            ("run", &step.run),
            ("undo", &step.undo),
            ("conflict", &step.conflict),
            ("replace", &step.replace),
            ("stdin", &step.stdin),
        ];
        for (field, value) in others {
            if let Some(value) = value {
                problems.push(
                    self.error_at(value, format!("{owner} {what} and also has `{field}`"))
                        .with_help("labctl writes the check, run and undo of each file; put other work in a step of its own"),
                );
            }
        }
        let templated = |s: &str| s.contains("{{") || s.contains("{%");
        for file in &step.files {
            let to = &file.to;
            self.check_command(renderer, &owner, "files.to", to, problems);
            if !templated(&to.value) && !to.value.starts_with('/') {
                problems.push(self.error_at(
                    to,
                    format!("`to: {}` of {owner} is not an absolute path", to.value),
                ));
            }
            match (&file.from, &file.template) {
                (Some(from), None) => {
                    self.check_command(renderer, &owner, "files.from", from, problems);
                    if !templated(&from.value) && !is_work_file(&from.value) {
                        problems.push(
                            self.error_at(from, format!("`from: {}` of {owner} leaves the lab's working directory", from.value))
                                .with_help("`from` names a file in `.labctl/work/`, where `where: local` steps run"),
                        );
                    }
                }
                (None, Some(template)) => {
                    if !renderer.has_manifest(&template.value) {
                        problems.push(
                            self.error_at(template, format!("template `{}` not found", template.value))
                                .with_help(format!(
                                    "templates are read from {}",
                                    self.templates.display_path("").display()
                                )),
                        );
                    }
                }
                (Some(_), Some(template)) => problems.push(self.error_at(
                    template,
                    format!("a file of {owner} has both `from` and `template`; give one"),
                )),
                (None, None) => problems.push(
                    self.error_at(to, format!("the file `{}` of {owner} has no `from` or `template`", to.value))
                        .with_help("`from` takes a file of the lab's working directory, `template` renders one"),
                ),
            }
            if let Err(why) = schema::parse_mode(&file.mode.value) {
                problems.push(self.error_at(&file.mode, format!("bad `mode` in {owner}: {why}")));
            }
            if let Some(user) = &file.owner
                && !templated(&user.value)
                && let Err(why) = schema::parse_owner(&user.value)
            {
                problems.push(self.error_at(user, format!("bad `owner` in {owner}: {why}")));
            }
        }
        for file in &step.fetch {
            self.check_command(renderer, &owner, "fetch.from", &file.from, problems);
            self.check_command(renderer, &owner, "fetch.to", &file.to, problems);
            if !templated(&file.from.value) && !file.from.value.starts_with('/') {
                problems.push(self.error_at(
                    &file.from,
                    format!("`from: {}` of {owner} is not an absolute path", file.from.value),
                ));
            }
            if !templated(&file.to.value) && !is_work_file(&file.to.value) {
                problems.push(
                    self.error_at(
                        &file.to,
                        format!(
                            "`to: {}` of {owner} leaves the lab's working directory",
                            file.to.value
                        ),
                    )
                    .with_help(
                        "`to` names a file in `.labctl/work/`, where `where: local` steps run",
                    ),
                );
            }
            if let Some(mode) = &file.mode
                && let Err(why) = schema::parse_mode(&mode.value)
            {
                problems.push(self.error_at(mode, format!("bad `mode` in {owner}: {why}")));
            }
        }
    }

    /// A command template (`field` of `owner`) is not empty and parses.
    fn check_command(
        &self,
        renderer: &Renderer,
        owner: &str,
        field: &str,
        command: &Spanned<String>,
        problems: &mut Vec<Diagnostic>,
    ) {
        if command.value.trim().is_empty() {
            problems.push(self.error_at(command, format!("`{field}` of {owner} is empty")));
            return;
        }
        let located = Located::from(command);
        if let Err(d) = renderer.check_command_syntax(&self.file, located) {
            problems.push(d);
        }
    }
}

/// A relative path that stays inside the lab's working directory.
pub fn is_work_file(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.split('/').any(|p| p == ".." || p.is_empty())
}

/// Chapter, variant and step names: lowercase letters, digits and dashes.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn name_rule(what: &str, name: &str) -> String {
    format!("{what} name `{name}` must be lowercase letters, digits and dashes (at most 63)")
}
