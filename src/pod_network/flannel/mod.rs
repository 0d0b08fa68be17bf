//! The flannel variant's Rust side: choosing flanneld's network interface from facts
//! ([`iface`]), and gathering those facts over the lab's connections before the plan is
//! rendered ([`gather`]). The steps themselves are data, in the chapter file.

pub mod facts;
pub mod gather;
pub mod iface;

pub use iface::{IfaceChoice, IfaceError, IfaceForm, NatTrap};
