// The chapters in `labs/` and the templates in `templates/` are embedded in the binary
// (include_dir!); rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=labs");
    println!("cargo:rerun-if-changed=templates");
}
