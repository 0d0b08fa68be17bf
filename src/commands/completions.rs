//! `labctl completions SHELL`: the shell's hook for dynamic completion. The hook asks labctl
//! itself (`COMPLETE=SHELL labctl -- WORDS`) for each completion, so chapter names, variants,
//! steps and running sandboxes are completed as they are when the shell asks, from the same
//! clap definition as `--help` (`crate::cli::complete`).

use crate::error::Error;

/// Prints the completion hook for `shell` to stdout: what `COMPLETE=SHELL labctl` prints.
pub fn run(out_to: &crate::output::shell::Shell, shell: clap_complete::Shell) -> Result<(), Error> {
    let failed = |e: String| Error::failed(format!("cannot make the completion script: {e}"));
    let exe = std::env::current_exe().map_err(|e| failed(e.to_string()))?;
    let out = std::process::Command::new(&exe)
        .env("COMPLETE", shell.to_string())
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    out_to.out(&String::from_utf8_lossy(&out.stdout));
    Ok(())
}
