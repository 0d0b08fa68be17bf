//! Chapter 11's own Rust: the pod network routes (variants `static`, `gce`, `flannel`).
//!
//! The generic core (inventory, chapter, template, plan, runner, verify, facts) does not know
//! about this chapter; this folder builds on it, and the commands hand it in where a chapter-11
//! check or setting is needed. See docs/architecture.md, "Layers (folders)".

pub mod checks;
pub mod flannel;
pub mod gce;
pub mod settings;
pub mod variables;
pub mod verify;

/// The example lab as chapter 11 has it (with its `example_vars`), for tests.
#[cfg(test)]
pub(crate) fn example_lab() -> crate::inventory::Inventory {
    crate::course::Catalog::Builtin.read("11-pod-network-routes").unwrap().example_lab()
}
