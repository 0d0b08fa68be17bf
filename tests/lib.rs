//! Every integration test of labctl, in one test binary: one link of the test code instead of
//! one per file, as the `just` crate does. Each file of `tests/` is a module here; run one with
//! `cargo test --test integration e2e_static::` (docs/architecture.md, "Tests").
//!
//! The modules share one process, so a test must not rely on being alone in it: sandbox names
//! come from `common::sandbox_lab::unique_name` (unique per call, not per process), every file
//! keeps its own lab network, and what needs the machine to itself takes `harness::serial()`.

mod common;
mod doubles;
mod harness;

mod bad_input;
mod boundary;
mod chapters;
mod cli;
mod connector;
mod e2e_certs;
mod e2e_chapter_test;
mod e2e_class;
mod e2e_faults;
mod e2e_flannel;
mod e2e_gce;
mod e2e_interrupt;
mod e2e_run_options;
mod e2e_static;
mod e2e_verify;
mod injection;
mod manifests;
mod no_panic;
mod probe;
mod sandbox;
mod vagrant;
