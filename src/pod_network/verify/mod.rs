//! Verify of chapter 11: evidence, not hope, for the pod network.
//!
//! For every ordered pair of workers (a, b): route evidence on a (`ip route get` of b's probe
//! address), a data plane check (a's probe pod pings b's), and for each failed pair a
//! diagnosis. Everything here is pure; the runner executes the scripts and hands back outputs:
//!
//! 1. on every worker, [`crate::facts::host::gather_script`] → [`crate::facts::host::parse`];
//! 2. [`ProbePlan::new`] from the inventory's workers and the facts;
//! 3. with the data plane check, on every worker (sudo) [`ProbePlan::setup_script`];
//! 4. on every worker [`ProbePlan::check_script`] (sudo when pinging) → [`probe::parse_check`];
//! 5. always, also after a failure or an interrupt, on every worker where step 3 ran or may
//!    have run (sudo) [`probe::teardown_script`];
//! 6. [`diagnose`] → [`Report`], rendered as text, JSON or JUnit.

pub mod codes;
pub mod diagnosis;
pub mod plan;
pub mod probe;
pub mod run;
#[cfg(test)]
pub(crate) mod testlab;

pub use diagnosis::{VerifyInput, WorkerRun, diagnose};
pub use plan::{CidrSource, Probe, ProbePlan};
pub use probe::{CheckOutput, PingOutcome};
pub use run::run;
