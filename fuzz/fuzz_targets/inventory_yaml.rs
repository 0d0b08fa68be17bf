//! labctl's own YAML inventory (`labctl.yaml`).
#![no_main]

use std::path::Path;

use labctl::inventory::{InventoryFormat, yaml_format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = Path::new("lab/labctl.yaml");
    match yaml_format::parse_str(file, text) {
        Err(d) => labctl_fuzz::check_diagnostic(&d, file, text),
        Ok(inv) => {
            assert_eq!(inv.format, InventoryFormat::Yaml);
            labctl_fuzz::check_inventory(&inv, file, text);
        }
    }
});
