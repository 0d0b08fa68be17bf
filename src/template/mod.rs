//! Rendering: chapter commands (shell-quoted by default) and manifest templates.
//!
//! Both use minijinja with strict undefined behaviour, so a misspelt variable is an error
//! that names the chapter or template file and the line, never an empty string in a command.

pub mod context;
pub mod shell;
pub mod source;

use std::path::Path;
use std::sync::Arc;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use crate::diagnostic::Diagnostic;
pub use source::TemplateSource;

/// A template string from a chapter file, with where it starts in that file.
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    pub text: &'a str,
    /// 1-based line and column of the string's first character in the chapter file.
    pub line: u64,
    pub column: u64,
}

impl<'a> From<&'a serde_saphyr::Spanned<String>> for Located<'a> {
    /// A string of a chapter file, where the YAML parser found it.
    fn from(s: &'a serde_saphyr::Spanned<String>) -> Self {
        Located { text: &s.value, line: s.referenced.line(), column: s.referenced.column() }
    }
}

/// Renders chapter command strings and manifest templates.
pub struct Renderer {
    commands: Environment<'static>,
    manifests: Environment<'static>,
    source: TemplateSource,
}

impl Renderer {
    /// A renderer whose manifest templates come from `source`.
    pub fn new(source: TemplateSource) -> Self {
        let mut commands = Environment::new();
        commands.set_undefined_behavior(UndefinedBehavior::Strict);
        commands.set_formatter(shell::quoting_formatter);
        commands.set_debug(true);

        let mut manifests = Environment::new();
        manifests.set_undefined_behavior(UndefinedBehavior::Strict);
        // A `.yaml.j2` name would otherwise switch on escaping: manifests quote explicitly (`tojson`).
        manifests.set_auto_escape_callback(|_| AutoEscape::None);
        // Manifests are YAML: block tags on lines of their own must not leave blank lines.
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
        {
            manifests.set_syntax(syntax);
        }
        manifests.set_debug(true);
        let loader_source = Arc::new(source.clone());
        manifests.set_loader(move |name| Ok(loader_source.read(name)));

        Renderer { commands, manifests, source }
    }

    /// Checks the syntax of a command template without rendering it.
    pub fn check_command_syntax(
        &self,
        file: &Path,
        template: Located<'_>,
    ) -> Result<(), Diagnostic> {
        self.commands
            .template_from_named_str("command", template.text)
            .map(|_| ())
            .map_err(|e| command_error(file, template, &e))
    }

    /// Renders one chapter command; the result is a single line of shell.
    pub fn render_command(
        &self,
        file: &Path,
        template: Located<'_>,
        context: &Value,
    ) -> Result<String, Diagnostic> {
        let text = self
            .commands
            .render_named_str("command", template.text, context)
            .map_err(|e| command_error(file, template, &e))?;
        self.check_every_branch(file, template, context)?;
        Ok(text.trim().to_string())
    }

    /// Renders a chapter's text for people or paths (a hint, a pattern, a file's name):
    /// values go in as they are, not shell-quoted.
    pub fn render_text(
        &self,
        file: &Path,
        template: Located<'_>,
        context: &Value,
    ) -> Result<String, Diagnostic> {
        let text = self
            .manifests
            .render_named_str("text", template.text, context)
            .map_err(|e| command_error(file, template, &e))?;
        self.check_every_branch(file, template, context)?;
        Ok(text.trim().to_string())
    }

    /// Strict rendering only sees the branches taken for this inventory: every variable the
    /// command could look up, in any `{% if %}` branch, must be defined too, so that a typo
    /// is found by `labctl show` and not by the one lab that takes that branch.
    fn check_every_branch(
        &self,
        file: &Path,
        template: Located<'_>,
        context: &Value,
    ) -> Result<(), Diagnostic> {
        let Ok(parsed) = self.commands.template_from_str(template.text) else { return Ok(()) };
        let mut variables: Vec<String> = parsed.undeclared_variables(true).into_iter().collect();
        variables.sort();
        for variable in variables {
            let first = variable.split('.').next().unwrap_or_default();
            // A name `{% set %}` in a branch: the analysis scopes branches, rendering does not.
            let set_somewhere = template.text.contains(&format!("set {first} "))
                || template.text.contains(&format!("set {first}="));
            if set_somewhere
                || self.commands.globals().any(|(name, _)| name == first)
                || defined(context, &variable)
            {
                continue;
            }
            let (line, column) = locate(template, &variable);
            return Err(Diagnostic::error(
                file,
                Some(line),
                column,
                format!(
                    "undefined template variable: `{variable}` is undefined (in a branch that was not taken)"
                ),
            ));
        }
        Ok(())
    }

    /// Renders the manifest template `name` (a path under `templates/`).
    pub fn render_manifest(&self, name: &str, context: &Value) -> Result<String, Diagnostic> {
        let template =
            self.manifests.get_template(name).map_err(|e| self.manifest_error(name, &e))?;
        template.render(context).map_err(|e| self.manifest_error(name, &e))
    }

    /// True if there is a manifest template called `name`.
    pub fn has_manifest(&self, name: &str) -> bool {
        self.source.read(name).is_some()
    }

    fn manifest_error(&self, name: &str, e: &minijinja::Error) -> Diagnostic {
        // The error may come from an included template: name the file it happened in.
        let in_name = e.name().unwrap_or(name);
        let file = self.source.display_path(in_name);
        let message = if e.kind() == minijinja::ErrorKind::TemplateNotFound {
            format!("template `{in_name}` not found")
        } else {
            describe(e)
        };
        Diagnostic::error(&file, e.line().map(|l| l as u64), None, message)
    }
}

/// True when the dotted path `variable` (`peer.pod_cidr`) names a value in `context`, or
/// goes through a value that is none for this lab (`gce.network` without a `gce:` section):
/// such a lookup sits behind a guard like `{% if gce %}`, and strict rendering checks it
/// whenever the guard lets it run.
fn defined(context: &Value, variable: &str) -> bool {
    let mut value = context.clone();
    for part in variable.split('.') {
        if value.is_none() {
            return true;
        }
        match value.get_attr(part) {
            Ok(v) if !v.is_undefined() => value = v,
            _ => return false,
        }
    }
    true
}

/// Where `variable` first appears in a command string, located as minijinja's own errors are
/// (see [`command_error`]): the string's start when it is on its first line, else the line.
fn locate(template: Located<'_>, variable: &str) -> (u64, Option<u64>) {
    let newlines =
        template.text.find(variable).map_or(0, |at| template.text[..at].matches('\n').count());
    match newlines {
        0 => (template.line, Some(template.column)),
        n => (template.line + n as u64, None),
    }
}

/// Maps a minijinja error in a command string to the line in the chapter file.
fn command_error(file: &Path, template: Located<'_>, e: &minijinja::Error) -> Diagnostic {
    let (line, column) = match e.line() {
        Some(1) | None => (template.line, Some(template.column)),
        Some(l) => (template.line + l as u64 - 1, None),
    };
    Diagnostic::error(file, Some(line), column, describe(e))
}

/// The part of a minijinja error a user needs: what is wrong, without engine internals.
fn describe(e: &minijinja::Error) -> String {
    match (e.kind(), e.detail()) {
        (minijinja::ErrorKind::UndefinedError, Some(detail)) => {
            format!("undefined template variable: {detail}")
        }
        (minijinja::ErrorKind::SyntaxError, Some(detail)) => {
            format!("template syntax error: {detail}")
        }
        (_, Some(detail)) => format!("template error: {detail}"),
        (kind, None) => format!("template error: {kind}"),
    }
}

/// A template value from any serializable Rust value.
pub fn to_value<T: serde::Serialize>(value: T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, context: Value) -> Result<String, Diagnostic> {
        let renderer = Renderer::new(TemplateSource::Builtin);
        let located = Located { text, line: 1, column: 1 };
        renderer.render_command(Path::new("chapter.yaml"), located, &context)
    }

    #[test]
    fn a_variable_in_a_branch_not_taken_must_exist() {
        let ctx = minijinja::context! { flag => false, peer => minijinja::context! { a => 1 } };
        let err = check("x{% if flag %}{{ peer.b }}{% endif %}", ctx).unwrap_err();
        assert!(err.to_string().contains("`peer.b` is undefined"), "{err}");
    }

    #[test]
    fn guards_loops_and_sets_in_branches_are_fine() {
        let ctx = minijinja::context! { flag => false, gce => (), items => vec![1, 2] };
        for text in [
            "x{% if gce %}{{ gce.network }}{% endif %}",
            "{% for i in items %}{{ i }}{{ loop.index }}{% endfor %}",
            "{% if flag %}{% set y = 1 %}{% else %}{% set y = 2 %}{% endif %}{{ y }}",
            "{{ items | length }}{% if flag is defined %}z{% endif %}{{ range(2) | list }}",
        ] {
            assert!(check(text, ctx.clone()).is_ok(), "{text}: {:?}", check(text, ctx.clone()));
        }
    }
}
