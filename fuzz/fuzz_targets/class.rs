//! Class files (`--class FILE`): a list of environments, each with its own inventory.
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use labctl::inventory::class;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = Path::new("/course/class.yaml");
    match class::parse_str(file, text) {
        Err(e) => labctl_fuzz::check_error(&e, file, text),
        Ok(environments) => {
            assert!(!environments.is_empty());
            let mut names = HashSet::new();
            let mut dirs = HashSet::new();
            for env in &environments {
                assert!(labctl::inventory::is_dns_label(&env.name), "{env:?}");
                assert!(names.insert(env.name.as_str()), "name listed twice: {env:?}");
                // Relative paths are resolved against the class file's directory.
                assert!(env.inventory.is_absolute(), "{env:?}");
                // No two environments share a state directory.
                assert!(dirs.insert(env.inventory.parent().map(Path::to_path_buf)), "{env:?}");
            }
        }
    }
});
