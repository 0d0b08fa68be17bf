//! `labctl verify [CHAPTER]`: evidence that the chapter's result works, per pair of workers.

use std::path::Path;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::lab::{Lab, print_unreachable};
use crate::error::{EXIT_FAILED, EXIT_UNREACHABLE, Error};
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;
use crate::runner::verify::{Verifier, hosts_needed};

/// Verifies `chapter` (default: the last one run, else chapter 11) on the lab.
pub fn run(
    global: &GlobalArgs,
    chapter: Option<&str>,
    variant: Option<&str>,
    output: OutputFormat,
    junit: Option<&Path>,
) -> Result<(), Error> {
    let lab = Lab::open(global, chapter)?;
    let variant = lab.variant(variant, true)?;
    let log = RunLog::open(&lab.state_dir.logs(), "verify");
    let hosts = hosts_needed(variant, &lab.inventory);
    let runtime = crate::runner::runtime()?;
    let (report, unreachable, interrupted) = runtime.block_on(async {
        let interrupt = Interrupt::listen();
        let connections = lab.connect(&hosts, global.concurrency as usize, &log).await?;
        let verifier = Verifier {
            chapter: &lab.chapter,
            variant,
            inventory: &lab.inventory,
            hosts: &connections,
            log: &log,
            sudo: lab.inventory.ssh.sudo,
        };
        let report = verifier.run().await?;
        if output == OutputFormat::Text {
            print_unreachable(&connections);
        }
        Ok::<_, Error>((report, !connections.unreachable.is_empty(), interrupt.by_user()))
    })?;
    match output {
        OutputFormat::Json => println!("{}", report.render_json()),
        OutputFormat::Text => print!("{}", report.render_text(false)),
    }
    if let Some(path) = junit {
        let xml = report.render_junit().map_err(|e| Error::Other {
            message: format!("cannot write the JUnit report: {e}"),
            code: EXIT_FAILED,
        })?;
        crate::atomic_file::write(path, xml.as_bytes(), false)?;
    }
    if interrupted {
        return Err(Error::Other {
            message: "interrupted; the probes were removed".into(),
            code: crate::error::EXIT_INTERRUPTED,
        });
    }
    if report.passed {
        return Ok(());
    }
    let code = if unreachable && report.summary.pairs_passed == 0 {
        EXIT_UNREACHABLE
    } else {
        EXIT_FAILED
    };
    Err(Error::Other { message: format!("verify failed (log: {})", log.path().display()), code })
}
