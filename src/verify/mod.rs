//! Verify's generic engine: checks about single hosts planned from a chapter's data
//! ([`command`]), the report of a verify and its renderings ([`report`]), the class gradebook
//! ([`gradebook`]) and who made a thing on a host ([`owner`]). Chapter 11's pairwise checks
//! (probe pods, route evidence, their diagnosis) live in `crate::pod_network::verify`; see
//! docs/architecture.md, "Layers (folders)".

pub mod command;
pub mod gradebook;
pub mod owner;
pub mod report;

pub use report::{
    CheckResult, Diagnosis, DiagnosisCode, HostCheck, PairKind, PairResult, Report, Summary,
};
