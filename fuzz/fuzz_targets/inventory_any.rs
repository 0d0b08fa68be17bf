//! Reading an inventory file of any format (`-i FILE`): the format is sniffed from the text,
//! then the YAML, machines.txt or ssh-config reader reads it.
#![no_main]

use std::path::Path;

use labctl::inventory::sniff::sniff;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = Path::new("lab/inventory");
    let format = sniff(text.strip_prefix('\u{feff}').unwrap_or(text));
    match labctl::inventory::load_str(file, text) {
        Err(d) => {
            labctl_fuzz::check_diagnostic(&d, file, text);
            if format.is_none() {
                assert_eq!(d.message, "cannot tell which inventory format this is");
            }
        }
        Ok(inv) => {
            // The inventory is read by the reader for the format the text was sniffed as.
            assert_eq!(Some(inv.format), format);
            labctl_fuzz::check_inventory(&inv, file, text);
        }
    }
});
