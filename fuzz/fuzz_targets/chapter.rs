//! The chapter loader (`labctl show`, `labctl list`, and every command that reads a chapter):
//! strict YAML schema, names, references, template syntax, and the render of every variant
//! for the example lab.
#![no_main]

use std::path::Path;

use labctl::chapter::Chapter;
use labctl::template::TemplateSource;
use libfuzzer_sys::fuzz_target;

// The name of the only chapter in labs/, so that its seeds get past the name check.
const FILE: &str = "labs/11-pod-network-routes.yaml";

fuzz_target!(|data: &[u8]| {
    // labctl refuses non-UTF-8 files before parsing (yaml::read_input).
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = Path::new(FILE);
    // Loading is reading (chapter/) and then the render for the example lab (course/).
    // With chapter 11's own variables and check kinds, as `labctl` loads every chapter.
    let loaded = Chapter::parse(file, text, TemplateSource::Builtin)
        .and_then(|c| labctl::commands::course().prepare(c));
    match loaded {
        Err(e) => labctl_fuzz::check_error(&e, file, text),
        Ok(chapter) => {
            assert_eq!(chapter.name(), "11-pod-network-routes");
            assert!(!chapter.spec.variants.is_empty());
            // A chapter that loads renders for the example lab, as loading promised.
            let sample = chapter.example_lab();
            for variant in &chapter.spec.variants {
                assert!(!variant.steps.is_empty());
                let plan = labctl::plan::render(&chapter, variant, &sample);
                assert!(plan.is_ok(), "a loaded chapter does not render: {plan:?}");
            }
        }
    }
});
