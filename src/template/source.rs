//! Where templates are read from: the ones built into the binary, or a directory on disk
//! (a course author's working copy, next to their chapter files).

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

/// The `templates/` folder of this repository, built into the binary.
static BUILTIN_TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// A set of templates addressed by relative path (`flannel/kube-flannel.yaml.j2`).
#[derive(Debug, Clone)]
pub enum TemplateSource {
    /// The templates built into labctl.
    Builtin,
    /// A `templates/` directory on disk.
    Directory(PathBuf),
}

impl TemplateSource {
    /// The text of template `name`, or `None` if there is no such template.
    pub fn read(&self, name: &str) -> Option<String> {
        if name.split('/').any(|part| part == ".." || part.is_empty()) {
            return None;
        }
        match self {
            TemplateSource::Builtin => {
                BUILTIN_TEMPLATES.get_file(name).and_then(|f| f.contents_utf8()).map(str::to_string)
            }
            TemplateSource::Directory(dir) => std::fs::read_to_string(dir.join(name)).ok(),
        }
    }

    /// The path to show in messages for template `name`.
    pub fn display_path(&self, name: &str) -> PathBuf {
        match self {
            TemplateSource::Builtin => Path::new("templates").join(name),
            TemplateSource::Directory(dir) => dir.join(name),
        }
    }
}
