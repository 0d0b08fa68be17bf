//! Inventories: which machines make up a lab, read from labctl YAML, a KTHW `machines.txt`,
//! or the output of `vagrant ssh-config`; and the lints run on them before any plan.

pub mod model;

pub use model::*;
