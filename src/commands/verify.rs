//! `labctl verify [CHAPTER]`: evidence that the chapter's result works, per pair of workers.

use std::path::Path;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::lab::{Lab, print_unreachable};
use crate::error::{EXIT_FAILED, EXIT_UNREACHABLE, Error};
use crate::runner::interrupt::Interrupt;
use crate::runner::log::RunLog;
use crate::runner::verify::{Verifier, hosts_needed};

/// What verifying one lab found.
pub struct Verified {
    pub report: crate::verify::Report,
    /// Some host could not be reached.
    pub unreachable: bool,
    pub interrupted: bool,
    pub log: std::path::PathBuf,
}

impl Verified {
    /// Success, or the error (and exit code) this result stands for.
    pub fn outcome(&self) -> Result<(), Error> {
        if self.interrupted {
            return Err(Error::with_code(
                crate::error::EXIT_INTERRUPTED,
                "interrupted; the probes were removed",
            ));
        }
        if self.report.passed {
            return Ok(());
        }
        // A worker that cannot be reached is exit 3, as for run, plan and reset.
        let code = if self.unreachable { EXIT_UNREACHABLE } else { EXIT_FAILED };
        let log = if self.log.exists() {
            format!("log: {}", self.log.display())
        } else {
            format!(
                "no log: {} cannot be written",
                self.log.parent().unwrap_or(&self.log).display()
            )
        };
        Err(Error::with_code(code, format!("verify failed ({log})")))
    }
}

/// Verifies `chapter` (default: the last one run, else chapter 11) on the lab of `global`;
/// `report_unreachable` for one lab on its own (the unreachable hosts and progress printed).
pub fn verify_lab(
    global: &GlobalArgs,
    chapter: Option<&str>,
    variant: Option<&str>,
    report_unreachable: bool,
) -> Result<Verified, Error> {
    let mut lab = Lab::open(global, chapter)?;
    let variant = lab.prepare(variant, true, crate::pod_network::gce::Need::Instances)?;
    let variant = lab.variant(Some(&variant), true)?;
    let log = RunLog::open(&lab.state_dir.logs(), "verify").echoing(&global.shell);
    let mut hosts = hosts_needed(&lab.chapter, variant, &lab.inventory);
    lab.inventory_order(&mut hosts);
    let runtime = crate::runner::runtime()?;
    let (report, unreachable, interrupted) = runtime.block_on(async {
        let interrupt = Interrupt::listen(&global.shell);
        let connections = lab.connect(&hosts, global.concurrency as usize, &log).await?;
        // Pairwise checks go in four steps on every worker; other checks in one per host.
        let pairwise = lab.chapter.pairwise(variant);
        let workers: Vec<(String, u64)> = if pairwise {
            lab.inventory.workers().map(|n| (n.name.clone(), 4)).collect()
        } else {
            hosts.iter().map(|h| (h.name().to_string(), 1)).collect()
        };
        // Bars on a terminal, for one lab; elsewhere verify prints only its report (it may be
        // JSON), and `--class` shows its own table.
        let progress =
            if lab.shell.is_captured() || (lab.shell.err_style().bars && report_unreachable) {
                lab.progress(&workers)
            } else {
                crate::output::progress::Progress::silent(&lab.shell)
            };
        for (name, _) in &workers {
            progress.event(name, if pairwise { "reading facts" } else { "checking" }, "", false);
        }
        let verifier = Verifier {
            chapter: &lab.chapter,
            variant,
            inventory: &lab.inventory,
            hosts: &connections,
            log: &log,
            sudo: lab.inventory.ssh.sudo,
            concurrency: global.concurrency as usize,
            interrupt: Some(&interrupt),
            progress: Some(&progress),
            chapter_checks: Some(crate::pod_network::verify::run),
        };
        let report = verifier.run().await;
        progress.clear();
        let report = report?;
        if report_unreachable {
            print_unreachable(&connections, &global.shell);
        }
        Ok::<_, Error>((report, !connections.unreachable.is_empty(), interrupt.by_user()))
    })?;
    Ok(Verified { report, unreachable, interrupted, log: log.path().to_path_buf() })
}

/// `labctl verify`: verifies the lab and prints the report.
pub fn run(
    global: &GlobalArgs,
    chapter: Option<&str>,
    variant: Option<&str>,
    output: OutputFormat,
    junit: Option<&Path>,
    html: Option<&Path>,
) -> Result<(), Error> {
    let made_at = chrono::Local::now().fixed_offset();
    let verified = verify_lab(global, chapter, variant, output == OutputFormat::Text)?;
    if let Some(path) = html {
        let name = global
            .inventory
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "this lab".into());
        let page = crate::verify::gradebook::render_lab_html(
            &verified.report,
            &name,
            &made_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .map_err(|e| Error::failed(format!("cannot write the HTML page: {e}")))?;
        crate::atomic_file::write(path, page.as_bytes(), false)?;
    }
    match output {
        OutputFormat::Json => crate::say!(global.shell, "{}", verified.report.render_json()),
        OutputFormat::Text => {
            let text = verified.report.render(false, global.shell.verbosity() > 0);
            let style = global.shell.style();
            global.shell.out(&style.report(&text))
        }
    }
    if let Some(path) = junit {
        let xml = verified
            .report
            .render_junit()
            .map_err(|e| Error::failed(format!("cannot write the JUnit report: {e}")))?;
        crate::atomic_file::write(path, xml.as_bytes(), false)?;
    }
    verified.outcome()
}
