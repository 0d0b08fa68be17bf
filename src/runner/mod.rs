//! The runner: connects to a lab's hosts and carries out plans (`run`, `plan`), undoes what
//! was applied (`reset`), and keeps the lab's state, lock and logs in `.labctl/`.

pub mod execute;
pub mod footprint;
pub mod hosts;
pub mod interrupt;
pub mod log;
pub mod reset;
pub mod settle;
pub mod state;
pub mod verify;

use crate::error::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_UNREACHABLE, Error};
use crate::output::summary::Status;
use execute::HostResult;

/// Awaits every future, at most `limit` at a time (`-j`), and returns their outputs in order.
pub async fn join_bounded<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
    limit: usize,
) -> Vec<F::Output> {
    use futures::StreamExt;
    futures::stream::iter(futures).buffered(limit.max(1)).collect().await
}

/// A tokio runtime for one command; labctl's work is I/O bound, two threads are plenty.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}")))
}

/// Counts of action results by status.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Tally {
    pub changed: usize,
    pub ok: usize,
    pub skipped: usize,
    pub failed: usize,
    pub unreachable: usize,
    /// Left alone because something else holds their place (a failure: exit 1).
    pub conflicts: usize,
}

impl Tally {
    /// Counts every action of every host.
    pub fn of(results: &[HostResult]) -> Tally {
        let mut t = Tally::default();
        for action in results.iter().flat_map(|h| &h.actions) {
            match action.status {
                Status::Changed => t.changed += 1,
                Status::Ok => t.ok += 1,
                Status::Skipped => t.skipped += 1,
                Status::Failed => t.failed += 1,
                Status::Unreachable => t.unreachable += 1,
                Status::Conflict => t.conflicts += 1,
            }
        }
        t
    }

    /// The exit code for a run with these results (see `error.rs`).
    pub fn exit_code(&self, interrupted: bool) -> i32 {
        if interrupted {
            EXIT_INTERRUPTED
        } else if self.failed > 0 || self.conflicts > 0 {
            EXIT_FAILED
        } else if self.unreachable > 0 {
            EXIT_UNREACHABLE
        } else {
            0
        }
    }
}

/// Rows for the summary table: host × step, the worst status per cell.
pub fn summary_rows(
    steps: &[String],
    results: &[HostResult],
) -> Vec<(String, Vec<Option<Status>>)> {
    results
        .iter()
        .map(|host| {
            let cells = steps
                .iter()
                .map(|step| host.actions.iter().filter(|a| &a.step == step).map(|a| a.status).max())
                .collect();
            (host.host.clone(), cells)
        })
        .collect()
}
