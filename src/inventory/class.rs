//! Class files: the environments of a whole class, each with its own inventory, for instructors
//! who plan, run, verify or reset every student's lab at once (`--class FILE`).
//!
//! ```yaml
//! environments:
//!   - { name: alice, inventory: envs/alice/labctl.yaml }
//!   - { name: bob,   inventory: envs/bob/labctl.yaml }
//! ```
//! Relative inventory paths are relative to the class file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::Diagnostic;
use crate::error::Error;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    environments: Vec<EnvironmentEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentEntry {
    name: Spanned<String>,
    inventory: Spanned<String>,
}

/// One student's lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    /// The inventory file, resolved against the class file's directory.
    pub inventory: PathBuf,
}

/// Reads and checks a class file: names unique and valid, at least one environment.
pub fn load(path: &Path) -> Result<Vec<Environment>, Error> {
    let text = crate::yaml::read_input(path)?;
    parse_str(path, &text)
}

/// Parses and checks class file text read from `path` (used for messages and to resolve
/// relative inventory paths).
pub fn parse_str(path: &Path, text: &str) -> Result<Vec<Environment>, Error> {
    let file: ClassFile = crate::yaml::parse_str(path, text)?;
    if file.environments.is_empty() {
        return Err(Diagnostic::error(path, None, None, "the class has no environments")
            .with_help(
                "list them as `environments: [{ name: alice, inventory: envs/alice/labctl.yaml }]`",
            )
            .into());
    }
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut environments = Vec::new();
    for entry in file.environments {
        let at = |s: &Spanned<String>| (Some(s.referenced.line()), Some(s.referenced.column()));
        let (line, column) = at(&entry.name);
        if !crate::inventory::is_dns_label(&entry.name.value) {
            problems.push(
                Diagnostic::error(
                    path,
                    line,
                    column,
                    format!("environment name `{}` is not valid", entry.name.value),
                )
                .with_help("use lower-case letters, digits and `-`, e.g. `alice`"),
            );
        }
        if let Some(first) = seen.insert(entry.name.value.clone(), line.unwrap_or(0)) {
            problems.push(Diagnostic::error(
                path,
                line,
                column,
                format!(
                    "environment `{}` is listed twice (first on line {first})",
                    entry.name.value
                ),
            ));
        }
        let inventory = Path::new(&entry.inventory.value);
        let inventory =
            if inventory.is_absolute() { inventory.to_path_buf() } else { base.join(inventory) };
        // State, lock and known_hosts live in `.labctl/` next to the inventory: two
        // environments there would undo each other's work.
        let state = super::paths::state_dir(&inventory);
        if let Some(other) = environments
            .iter()
            .find(|e: &&Environment| super::paths::state_dir(&e.inventory) == state)
        {
            let (line, column) = at(&entry.inventory);
            problems.push(
                Diagnostic::error(
                    path,
                    line,
                    column,
                    format!(
                        "environment `{}` has its inventory in the same directory as `{}`: they would share `{}`",
                        entry.name.value,
                        other.name,
                        state.display()
                    ),
                )
                .with_help("give each environment a directory of its own, e.g. envs/NAME/labctl.yaml"),
            );
        }
        environments.push(Environment { name: entry.name.value, inventory });
    }
    match problems.len() {
        0 => Ok(environments),
        1 => Err(Error::Input(problems.remove(0))),
        _ => Err(Error::Inputs(problems)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_inventories_are_resolved_against_the_class_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("class.yaml");
        std::fs::write(&path, "environments:\n  - { name: alice, inventory: envs/alice/labctl.yaml }\n  - { name: bob, inventory: /abs/bob.yaml }\n").unwrap();
        let envs = load(&path).unwrap();
        assert_eq!(
            envs[0],
            Environment {
                name: "alice".into(),
                inventory: dir.path().join("envs/alice/labctl.yaml")
            }
        );
        assert_eq!(envs[1].inventory, PathBuf::from("/abs/bob.yaml"));
    }

    #[test]
    fn two_environments_in_one_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("class.yaml");
        std::fs::write(&path, "environments:\n  - { name: alice, inventory: envs/alice.yaml }\n  - { name: bob, inventory: envs/bob.yaml }\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("class.yaml:3:29: environment `bob` has its inventory in the same directory as `alice`: they would share"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_and_invalid_names_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("class.yaml");
        std::fs::write(&path, "environments:\n  - { name: alice, inventory: a.yaml }\n  - { name: alice, inventory: b.yaml }\n  - { name: Bob_1, inventory: c.yaml }\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("class.yaml:3:13: environment `alice` is listed twice (first on line 2)"),
            "{err}"
        );
        assert!(err.contains("class.yaml:4:13: environment name `Bob_1` is not valid"), "{err}");
    }
}
