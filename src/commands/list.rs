//! `labctl list`: the chapters, one per line.

use comfy_table::{Table, presets};

use crate::error::Error;

/// A chapter in `list --output json` (docs/json.md).
#[derive(serde::Serialize)]
struct Listed {
    chapter: String,
    title: String,
    variants: Vec<String>,
}

/// Prints every chapter with its title and variants.
pub fn run(shell: &crate::output::shell::Shell, json: bool) -> Result<(), Error> {
    let course = super::course();
    if json {
        let mut listed = Vec::new();
        for name in course.catalog.names()? {
            let chapter = course.load(&name)?;
            listed.push(Listed {
                chapter: name,
                title: chapter.spec.title.clone(),
                variants: chapter.variant_names().into_iter().map(String::from).collect(),
            });
        }
        crate::say!(shell, "{}", serde_json::to_string_pretty(&listed).expect("a list serializes"));
        return Ok(());
    }
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.set_header(["CHAPTER", "TITLE", "VARIANTS"]);
    for name in course.catalog.names()? {
        let chapter = course.load(&name)?;
        table.add_row([
            name.clone(),
            chapter.spec.title.clone(),
            chapter.variant_names().join(", "),
        ]);
    }
    crate::say!(shell, "{}", trim_lines(&table.trim_fmt()));
    Ok(())
}

/// comfy-table pads every cell by one space; the first column starts at the margin.
pub fn trim_lines(text: &str) -> String {
    text.lines().map(|l| l.strip_prefix(' ').unwrap_or(l)).collect::<Vec<_>>().join("\n")
}
