//! The course: the chapters labctl knows (the ones built into the binary, `labs/`, or those
//! in the directory named by `LABCTL_LABS_DIR`, for course authors, or a single chapter file),
//! each loaded and then rendered for the example lab.
//!
//! This sits above `chapter/`, `plan/` and `verify/`: reading a chapter is `chapter/`'s,
//! rendering its plans and checks is theirs, and loading a chapter for use needs both
//! (docs/architecture.md, "Layers (folders)").

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::chapter::{Chapter, VerifyKinds};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, closest};
use crate::template::TemplateSource;
use crate::template::context::VariablesFn;

/// The `labs/` folder of this repository, built into the binary.
static BUILTIN_LABS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/labs");

/// Environment variable naming a directory of chapter files to use instead of the built-in ones.
pub const LABS_DIR_ENV: &str = "LABCTL_LABS_DIR";

/// Where chapters come from.
#[derive(Debug, Clone)]
pub enum Catalog {
    /// The chapters built into labctl.
    Builtin,
    /// A directory of `*.yaml` chapter files, with its templates in `../templates` or `./templates`.
    Directory(PathBuf),
}

/// A catalog and the variables that the chapters' own Rust adds to their templates.
#[derive(Debug, Clone)]
pub struct Course {
    pub catalog: Catalog,
    pub variables: Option<VariablesFn>,
    /// The verify check kinds that the chapters' own Rust provides.
    pub verify_kinds: VerifyKinds,
}

impl Course {
    /// The catalog in effect ([`Catalog::from_env`]) with what the chapters' Rust provides.
    pub fn from_env(variables: Option<VariablesFn>, verify_kinds: VerifyKinds) -> Self {
        Course { catalog: Catalog::from_env(), variables, verify_kinds }
    }

    /// Loads and checks the chapter called `name`, or the chapter file at path `name`, with the
    /// course's variables, and checks that every variant renders for the example lab.
    pub fn load(&self, name: &str) -> Result<Chapter, Error> {
        self.prepare(self.catalog.read(name)?)
    }

    /// A chapter read on its own, made ready for use: with what the chapters' Rust provides,
    /// its provided checks read, and every variant rendered for the example lab.
    pub fn prepare(&self, mut chapter: Chapter) -> Result<Chapter, Error> {
        chapter.variables = self.variables;
        chapter.verify_kinds = self.verify_kinds;
        let mut problems = chapter.check_provided();
        match problems.len() {
            0 => {}
            1 => return Err(Error::Input(problems.remove(0))),
            _ => return Err(Error::Inputs(problems)),
        }
        check_renders(&chapter)?;
        Ok(chapter)
    }
}

impl Catalog {
    /// The catalog in effect: `LABCTL_LABS_DIR` if set, else the built-in chapters.
    pub fn from_env() -> Self {
        match std::env::var_os(LABS_DIR_ENV) {
            Some(dir) if !dir.is_empty() => Catalog::Directory(PathBuf::from(dir)),
            _ => Catalog::Builtin,
        }
    }

    /// The names of the chapters, sorted.
    pub fn names(&self) -> Result<Vec<String>, Error> {
        let mut names: Vec<String> = match self {
            Catalog::Builtin => {
                BUILTIN_LABS.files().filter_map(|f| chapter_name(f.path())).collect()
            }
            Catalog::Directory(dir) => std::fs::read_dir(dir)
                .map_err(|e| {
                    Diagnostic::error(
                        dir,
                        None,
                        None,
                        format!("cannot read chapter directory: {e}"),
                    )
                    .with_help(format!("{LABS_DIR_ENV} must name a directory of chapter files"))
                })?
                .filter_map(|entry| entry.ok())
                .filter_map(|entry| chapter_name(&entry.path()))
                .collect(),
        };
        names.sort();
        Ok(names)
    }

    /// Reads and checks the chapter called `name` without rendering it.
    pub fn read(&self, name: &str) -> Result<Chapter, Error> {
        if looks_like_path(name) {
            let path = PathBuf::from(name);
            return Chapter::load_file(&path, templates_near(&path));
        }
        let names = self.names()?;
        let name = resolve(name, &names)?;
        let file_name = format!("{name}.yaml");
        match self {
            Catalog::Builtin => {
                let text = BUILTIN_LABS
                    .get_file(&file_name)
                    .and_then(|f| f.contents_utf8())
                    .unwrap_or_default();
                let shown = Path::new("labs").join(&file_name);
                Ok(Chapter::parse(&shown, text, TemplateSource::Builtin)?)
            }
            Catalog::Directory(dir) => {
                let path = dir.join(&file_name);
                Ok(Chapter::load_file(&path, templates_near(&path))?)
            }
        }
    }
}

/// The chapter `name` stands for: itself, or the one chapter whose name begins with `name-`
/// (`11` for `11-pod-network-routes`, as a student says it).
pub fn resolve<'a>(name: &'a str, names: &'a [String]) -> Result<&'a str, Error> {
    if names.iter().any(|n| n == name) {
        return Ok(name);
    }
    let prefix = format!("{name}-");
    let starting: Vec<&String> = names.iter().filter(|n| n.starts_with(&prefix)).collect();
    match starting.as_slice() {
        [one] => Ok(one.as_str()),
        [] => Err(Error::UnknownChapter {
            name: name.to_string(),
            suggestion: closest(name, names.iter().map(String::as_str)),
        }),
        several => Err(Error::bad_input(format!(
            "`{name}` could be any of {}",
            several.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ))
        .help("name one of them")),
    }
}

/// `name` for `name.yaml`, for files that look like chapters.
fn chapter_name(path: &Path) -> Option<String> {
    if path.extension()? != "yaml" {
        return None;
    }
    path.file_stem()?.to_str().map(str::to_string)
}

/// A chapter argument is a path when it has a slash or ends in `.yaml`.
pub fn looks_like_path(name: &str) -> bool {
    name.contains('/') || name.ends_with(".yaml") || name.ends_with(".yml")
}

/// The templates for a chapter file on disk: `templates/` beside it or beside its folder,
/// else the built-in ones.
fn templates_near(chapter_file: &Path) -> TemplateSource {
    let dir = chapter_file.parent().unwrap_or(Path::new("."));
    for candidate in [dir.join("templates"), dir.join("../templates")] {
        if candidate.is_dir() {
            return TemplateSource::Directory(candidate);
        }
    }
    TemplateSource::Builtin
}

/// Every variant of `chapter` renders for the example lab: its plan, its footprint (with each
/// part's `remove` for an example item) and its verify checks, so that a misspelt variable is
/// found by `labctl show`, not in a classroom.
pub fn check_renders(chapter: &Chapter) -> Result<(), Error> {
    let sample = chapter.example_lab();
    let mut problems = Vec::new();
    for variant in &chapter.spec.variants {
        if let Err(d) = crate::plan::render(chapter, variant, &sample) {
            problems.push(d);
        }
        if let Err(d) = footprint_renders(chapter, variant, &sample) {
            problems.push(d);
        }
        if let Err(d) = crate::verify::command::planned_checks(chapter, variant, &sample) {
            problems.push(d);
        }
    }
    match problems.len() {
        0 => Ok(()),
        1 => Err(Error::Input(problems.remove(0))),
        _ => Err(Error::Inputs(problems)),
    }
}

fn footprint_renders(
    chapter: &Chapter,
    variant: &crate::chapter::Variant,
    sample: &crate::inventory::Inventory,
) -> Result<(), Diagnostic> {
    let footprint = crate::plan::footprint::render(chapter, variant, sample)?;
    for part in &footprint.parts {
        if let Some(on) = part.hosts.first() {
            footprint.remove_command(part, on, "an example item")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chapter_is_named_whole_or_by_its_number() {
        let names: Vec<String> = ["04-certificate-authority", "11-pod-network-routes", "11-other"]
            .map(String::from)
            .to_vec();
        assert_eq!(resolve("04", &names).unwrap(), "04-certificate-authority");
        assert_eq!(
            resolve("04-certificate-authority", &names).unwrap(),
            "04-certificate-authority"
        );
        let several = resolve("11", &names).unwrap_err().to_string();
        assert_eq!(
            several,
            "`11` could be any of `11-pod-network-routes`, `11-other`\n  help: name one of them"
        );
        assert!(matches!(resolve("4", &names), Err(Error::UnknownChapter { .. })));
        assert!(matches!(resolve("certificate", &names), Err(Error::UnknownChapter { .. })));
    }
}
