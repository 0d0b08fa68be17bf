//! The local connector: commands for this machine (`gcloud`, `kubectl`), run the same way as
//! remote ones (`sh -c`, optionally `sudo -n`, stdin fed, bounded by a timeout).

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::time::timeout;

use super::error::{RunError, Stopped};
use super::{CommandOutput, CommandSpec, Completion};

/// The name local commands go by in messages.
pub const LOCAL_NAME: &str = "local";

/// How long killing a timed-out command may take.
const CLEANUP: Duration = Duration::from_secs(1);

/// Runs `spec` on this machine, its processes tagged `tag` (see [`super::stop`]), in
/// `workdir` when given. With `abortable`, a second Ctrl-C stops it too.
pub async fn run(
    spec: &CommandSpec,
    tag: &str,
    abortable: bool,
    workdir: Option<&std::path::Path>,
) -> Result<CommandOutput, RunError> {
    if abortable && super::stop::is_aborted() {
        return Err(interrupted(spec, Stopped::Processes(0)));
    }
    let mut command = if spec.sudo {
        // sudo clears the environment: the tag goes in after it.
        let mut command = Command::new("sudo");
        command.args(["-n", "env", &format!("{}={tag}", super::stop::TAG_VAR), "sh", "-c"]);
        command
    } else {
        let mut command = Command::new("sh");
        command.arg("-c").env(super::stop::TAG_VAR, tag);
        command
    };
    if let Some(dir) = workdir {
        command.current_dir(dir);
    }
    command
        .arg(&spec.command)
        .stdin(if spec.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout can stop everything the command started, and
        // so a Ctrl-C reaches labctl (which cleans up) rather than the command directly.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| RunError::Local { source })?;

    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let input = spec.stdin.as_deref();
    let work = async {
        // Fed while the output is read, or a command echoing a large input would block.
        let feed = async move {
            if let (Some(mut pipe), Some(bytes)) = (stdin, input) {
                // A command may exit without reading its input; its status tells the story.
                let _ = pipe.write_all(bytes).await;
            }
            // The pipe is dropped here: the command sees the end of its input.
        };
        let (_, stdout, stderr, status) =
            tokio::join!(feed, read_all(stdout), read_all(stderr), child.wait());
        Ok::<_, std::io::Error>(CommandOutput {
            completion: completion(status?),
            stdout: stdout?,
            stderr: stderr?,
        })
    };
    let aborted = tokio::select! {
        biased;
        finished = timeout(spec.timeout, work) => match finished {
            Ok(result) => return result.map_err(|source| RunError::Local { source }),
            Err(_) => false,
        },
        _ = super::stop::aborted(), if abortable => true,
    };
    // Everything it started carries the tag, also what left its process group.
    let stopped = stop_tagged(tag, spec.sudo).await;
    stop(&mut child).await;
    Err(match aborted {
        false => RunError::Timeout {
            name: LOCAL_NAME.into(),
            command: spec.command.clone(),
            after: spec.timeout,
            stopped,
        },
        true => interrupted(spec, stopped),
    })
}

fn interrupted(spec: &CommandSpec, stopped: Stopped) -> RunError {
    RunError::Interrupted { name: LOCAL_NAME.into(), command: spec.command.clone(), stopped }
}

/// Kills what still runs tagged `tag` on this machine.
async fn stop_tagged(tag: &str, sudo: bool) -> Stopped {
    let mut command = if sudo {
        let mut command = Command::new("sudo");
        command.args(["-n", "sh", "-c"]);
        command
    } else {
        let mut command = Command::new("sh");
        command.arg("-c");
        command
    };
    command
        .arg(super::stop::script(tag))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    match timeout(super::stop::STOP_TIME, command.output()).await {
        Ok(Ok(out)) if out.status.success() => {
            Stopped::Processes(super::stop::stopped_pids(&out.stdout).len())
        }
        Ok(Ok(out)) => Stopped::NotNow(format!("the stop command ended with {}", out.status)),
        Ok(Err(e)) => Stopped::NotNow(e.to_string()),
        Err(_) => Stopped::NotNow("the stop command did not finish".into()),
    }
}

/// Kills the command's whole process group (best effort) and reaps it.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        // std has no killpg; the `kill` utility reaches the group by its negative id.
        let group = format!("-{pid}");
        let killing = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = timeout(CLEANUP, killing).await;
    }
    let _ = child.start_kill();
    let _ = timeout(CLEANUP, child.wait()).await;
}

async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut bytes).await?;
    }
    Ok(bytes)
}

fn completion(status: ExitStatus) -> Completion {
    if let Some(code) = status.code().and_then(|code| u32::try_from(code).ok()) {
        Completion::Exited(code)
    } else if let Some(number) = status.signal() {
        Completion::Signal(signal_name(number))
    } else {
        Completion::NoStatus
    }
}

/// The name OpenSSH would send for a signal number (Linux numbering), else the number.
fn signal_name(number: i32) -> String {
    let name = match number {
        1 => "HUP",
        2 => "INT",
        3 => "QUIT",
        4 => "ILL",
        6 => "ABRT",
        8 => "FPE",
        9 => "KILL",
        10 => "USR1",
        11 => "SEGV",
        12 => "USR2",
        13 => "PIPE",
        14 => "ALRM",
        15 => "TERM",
        _ => return number.to_string(),
    };
    name.to_string()
}
