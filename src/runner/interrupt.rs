//! Ctrl-C: the first lets running commands finish, records state, cleans up and exits 130;
//! the second stops the commands still running (their processes on the hosts are killed, see
//! `connector/stop.rs`) and exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::EXIT_INTERRUPTED;

/// How long after the stop of the running commands labctl exits, whatever else it was doing:
/// time for a stop that had to wait for a channel, and for closing the channels after.
const ABORT_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether this process has said it was interrupted.
static SAID: AtomicBool = AtomicBool::new(false);

/// Set once the user asked labctl to stop.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    stop: Arc<AtomicBool>,
    by_user: Arc<AtomicBool>,
}

impl Interrupt {
    /// Starts listening for Ctrl-C (SIGINT) on the current tokio runtime; what it says goes
    /// to `shell`'s terminal, also for a lab of a class whose words are captured.
    pub fn listen(shell: &crate::output::shell::Shell) -> Interrupt {
        let interrupt = Interrupt::default();
        let shell = shell.terminal();
        let stop = interrupt.stop.clone();
        let by_user = interrupt.by_user.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            by_user.store(true, Ordering::SeqCst);
            stop.store(true, Ordering::SeqCst);
            // The labs of a class each listen; the user is told once.
            if !SAID.swap(true, Ordering::SeqCst) {
                crate::complain!(
                    shell,
                    "labctl: interrupted; finishing the commands that are running (Ctrl-C again to stop at once)"
                );
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                if crate::connector::stop::abort_running() {
                    crate::complain!(
                        shell,
                        "labctl: stopping the commands still running on the hosts"
                    );
                }
                // Each running command kills its processes within STOP_TIME and returns,
                // and labctl exits 130 through its usual path; this is the backstop.
                tokio::time::sleep(crate::connector::stop::STOP_TIME + ABORT_MARGIN).await;
                std::process::exit(EXIT_INTERRUPTED);
            }
        });
        interrupt
    }

    /// True once Ctrl-C was pressed or a failure stopped everything: start nothing new.
    pub fn requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// True once the user pressed Ctrl-C (exit 130).
    pub fn by_user(&self) -> bool {
        self.by_user.load(Ordering::SeqCst)
    }

    /// Asks everything to stop (as `--fail-fast` does after a failure).
    pub fn request(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
