//! Facts: what a host's network looks like, read without changing anything.
//!
//! Like pyinfra's facts, each fact is a remote command plus a pure parser of its output,
//! unit-tested from outputs captured from real commands (`tests/fixtures/facts/`). Nothing here
//! does I/O: the runner executes [`host::GATHER`] once per host (one SSH round trip) and hands
//! its output to [`host::parse`], which splits it into [`section::Section`]s and gives each to
//! its fact's parser.
//!
//! One module per fact: [`addresses`], [`routes`], [`route_get`], [`ip_forward`],
//! [`cni_config`], [`probe_claim`]; [`host`] puts them together into [`HostFacts`], with the
//! facts a chapter's own Rust adds to the same round trip ([`host::ExtraFact`]).
//! [`iptables`] needs root, so the gather script leaves it out: verify's check script reads it.

pub mod addresses;
pub mod cni_config;
pub mod error;
pub mod host;
pub mod ip_forward;
pub mod iptables;
pub mod probe_claim;
pub mod route_get;
pub mod routes;
pub mod section;

pub use addresses::{InterfaceAddress, Link};
pub use cni_config::CniConfig;
pub use error::FactError;
pub use host::HostFacts;
pub use probe_claim::ProbeClaim;
pub use route_get::{RouteGet, RoutePath};
pub use routes::{Destination, Route, RouteKind};
pub use section::Section;

/// What labctl knows of a worker's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeFacts {
    Known(HostFacts),
    /// The host could not be reached or logged into: why.
    Unreachable {
        reason: String,
    },
    /// The gather command ran but its output could not be understood.
    Unreadable {
        error: FactError,
    },
}

/// Reads a fixture captured from a real command (`tests/fixtures/facts/NAME`).
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/facts").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}
