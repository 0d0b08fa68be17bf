//! Helpers shared by the tests that bring up a sandbox.

pub mod sandbox_lab;
