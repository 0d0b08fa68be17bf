//! `labctl test CHAPTER`: a chapter author's self-test. On a throwaway sandbox of its own it
//! runs the cycle verify (must fail), run, verify (must pass), run again (0 changed), plan
//! (empty), reset, verify (must fail), then a by-hand-like lab (run, labctl's state removed)
//! that `reset --hard` must bring back to the start; then the sandbox is removed.
//!
//! Every step is this same binary run as a subprocess on the sandbox's inventory, so the test
//! sees exactly what a user of those commands sees. See docs/chapters.md ("Testing a chapter:
//! labctl test") for the cycle and what each step checks.

mod outputs;
mod sandbox;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use comfy_table::{Cell, Table, presets};

use crate::chapter::schema::Target;
use crate::chapter::{Chapter, Cloud, Variant, VerifyCheck};
use crate::cli::GlobalArgs;
use crate::error::Error;
use crate::inventory::Provider;
use crate::output::summary::flush_left;
use crate::runner::state::StateDir;
use crate::sandbox::spec::Shape;
use outputs::{PlanView, VerifyView};
use sandbox::TestSandbox;

/// Runs `labctl test CHAPTER [--variant V] [--shape S]`.
pub fn run(
    global: &GlobalArgs,
    chapter: &str,
    variant: Option<&str>,
    shape: Option<Shape>,
) -> Result<(), Error> {
    let loaded = crate::commands::course().load(chapter)?;
    let (to_test, skipped) = choose_variants(&loaded, variant)?;
    crate::sandbox::programs::require_root("up").map_err(|_| Error::bad_input("`labctl test` needs root: it brings up a sandbox of its own (network namespaces, sshd)").help("run it with sudo: `sudo labctl test ...`"))?;
    let exe = std::env::current_exe().map_err(|e| {
        Error::failed(format!("cannot find the labctl binary to run the cycle with: {e}"))
    })?;
    // Ctrl-C reaches the labctl running a step (same process group) and this one: the step
    // ends as it would alone, and no further step starts; the sandbox is removed either way.
    let interrupted = Arc::new(AtomicBool::new(false));
    let runtime = crate::runner::runtime()?;
    {
        let flag = interrupted.clone();
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
            }
        });
    }
    let sink = &global.shell;
    let mut all_ok = true;
    let mut results = Vec::new();
    for (index, v) in to_test.iter().enumerate() {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let shape = shape.unwrap_or_else(|| fitting_shape(&loaded, v));
        let test = VariantTest {
            exe: &exe,
            chapter,
            name: loaded.name(),
            variant: &v.name.value,
            global,
            interrupted: &interrupted,
        };
        let ok = test.run(index, shape)?;
        all_ok &= ok;
        results.push((v.name.value.clone(), ok));
    }
    if to_test.len() > 1 || !skipped.is_empty() {
        crate::say!(sink, "");
        for (name, ok) in &results {
            let word = if *ok { "every step holds" } else { "FAILED" };
            crate::say!(sink, "test: {} variant {name}: {word}", loaded.name());
        }
        for (name, why) in &skipped {
            crate::say!(sink, "test: {} variant {name}: skipped: {why}", loaded.name());
        }
    }
    if interrupted.load(Ordering::SeqCst) {
        return Err(Error::with_code(
            crate::error::EXIT_INTERRUPTED,
            "interrupted; the test sandbox was removed",
        ));
    }
    match all_ok {
        true => Ok(()),
        false => {
            Err(Error::failed(format!("the self-test of {} failed (see the table)", loaded.name())))
        }
    }
}

/// A variant the sandbox cannot host: its name and why.
type Skipped = (String, String);

/// The variants to test, and those skipped with why. A variant named on the command line that
/// the sandbox cannot host is bad input (exit 2); so is a chapter none of whose variants it can.
fn choose_variants<'c>(
    chapter: &'c Chapter,
    flag: Option<&str>,
) -> Result<(Vec<&'c Variant>, Vec<Skipped>), Error> {
    if let Some(name) = flag {
        let variant = chapter.variant(Some(name), Provider::Ssh)?;
        if let Some(why) = not_hostable(variant) {
            return Err(Error::bad_input(format!(
                "the sandbox cannot host variant `{name}` of {}: {why}",
                chapter.name(),
            ))
            .help(format!(
                "`labctl test {}` tests every variant the sandbox can host",
                chapter.name()
            )));
        }
        return Ok((vec![variant], Vec::new()));
    }
    let mut to_test = Vec::new();
    let mut skipped = Vec::new();
    for variant in &chapter.spec.variants {
        match not_hostable(variant) {
            None => to_test.push(variant),
            Some(why) => skipped.push((variant.name.value.clone(), why)),
        }
    }
    if to_test.is_empty() {
        let list: Vec<String> = skipped.iter().map(|(n, why)| format!("`{n}`: {why}")).collect();
        return Err(Error::bad_input(format!(
            "the sandbox can host none of the variants of {}:\n  {}",
            chapter.name(),
            list.join("\n  ")
        )));
    }
    Ok((to_test, skipped))
}

/// Why the sandbox cannot host `variant`, if it cannot. The sandbox is machines reached over
/// SSH and nothing else: no cloud API, no Kubernetes API server.
pub fn not_hostable(variant: &Variant) -> Option<String> {
    if variant.cloud == Some(Cloud::Gce) {
        return Some(
            "it acts on Compute Engine with gcloud (`cloud: gce`), and the sandbox has no Compute Engine API (only labctl's test suite has a double of one)"
                .into(),
        );
    }
    let kubectl = variant.steps.iter().any(|s| s.target == Target::Kubectl)
        || variant.footprint.iter().any(|p| p.target == Target::Kubectl)
        || variant.verify.iter().any(|c| match c {
            VerifyCheck::RolloutReady { .. } => true,
            VerifyCheck::Command { target, .. } => *target == Target::Kubectl,
            _ => false,
        });
    if kubectl {
        return Some(
            "it needs a Kubernetes API server (`where: kubectl` or `rollout_ready`), and the sandbox runs no cluster"
                .into(),
        );
    }
    None
}

/// The sandbox shape a variant is meant for: the gce shape for a variant whose routes go via
/// the VPC router, or that the chapter's `default_variant` gives to GCE labs only; else the
/// vagrant shape, the sandbox's default (docs/chapters.md, "Testing a chapter: labctl test").
pub fn fitting_shape(chapter: &Chapter, variant: &Variant) -> Shape {
    let name = &variant.name.value;
    let via_gateway = variant.verify.iter().any(|c| match c {
        VerifyCheck::Provided(p) => {
            chapter.provided_kind(c).and_then(|k| (k.shape)(p)) == Some("gce")
        }
        _ => false,
    });
    let defaults = &chapter.spec.default_variant;
    let gce_only = &defaults.gce.value == name
        && &defaults.ssh.value != name
        && &defaults.vagrant.value != name;
    if via_gateway || gce_only {
        return Shape::Gce;
    }
    Shape::Vagrant
}

/// One row of the cycle's table.
struct Row {
    step: &'static str,
    expected: String,
    result: String,
    ok: bool,
    detail: String,
}

/// The test of one variant on its own sandbox.
struct VariantTest<'a> {
    exe: &'a Path,
    /// The chapter as given on the command line (a name or a file), for the subprocesses.
    chapter: &'a str,
    /// Its name, for people.
    name: &'a str,
    variant: &'a str,
    global: &'a GlobalArgs,
    interrupted: &'a AtomicBool,
}

/// The steps of the cycle, in order (also the progress lines' names).
const STEPS: &[&str] = &[
    "0 plan",
    "1 verify",
    "2 run",
    "3 verify",
    "4 run again",
    "5 plan",
    "6 reset",
    "7 verify",
    "8a run",
    "8b forget",
    "8c reset --hard",
    "8d plan",
    "8e verify",
];

impl VariantTest<'_> {
    /// Brings a sandbox up, runs the cycle, prints its table, brings the sandbox down.
    /// Ok(true) when every step held.
    fn run(&self, index: usize, shape: Shape) -> Result<bool, Error> {
        let sink = &self.global.shell;
        let name = TestSandbox::name_for(index);
        crate::complain!(
            sink,
            "test: {}, variant {}: bringing up sandbox `{name}` ({} shape)",
            self.name,
            self.variant,
            shape.as_str()
        );
        let mut sandbox = TestSandbox::up(self.exe, &name, shape, &self.global.shell)?;
        let network = sandbox.network.map(|n| n.to_string()).unwrap_or_default();
        crate::say!(
            sink,
            "test: {}, variant {}, on sandbox `{name}` ({} shape, {network})",
            self.name,
            self.variant,
            shape.as_str()
        );
        let mut cycle =
            Cycle { test: self, sandbox: &sandbox, rows: Vec::new(), useless: Vec::new() };
        let outcome = cycle.run();
        let Cycle { rows, useless, .. } = cycle;
        let down = sandbox.down();
        outcome?;
        crate::say!(sink, "{}", table(&rows));
        if !useless.is_empty() {
            crate::say!(
                sink,
                "checks that prove nothing (they pass on a lab where the chapter was never done):"
            );
            for check in &useless {
                crate::say!(sink, "  - {check}");
            }
        }
        match down.ok {
            true => crate::say!(sink, "{}", down.message),
            false => sink.error(&down.message),
        }
        let ok = down.ok && rows.iter().all(|r| r.ok) && rows.len() == STEPS.len();
        crate::say!(
            sink,
            "test: {} variant {}: {}",
            self.name,
            self.variant,
            match ok {
                true => "every step holds".to_string(),
                false => {
                    let failed: Vec<&str> = rows.iter().filter(|r| !r.ok).map(|r| r.step).collect();
                    match failed.is_empty() {
                        true if self.interrupted.load(Ordering::SeqCst) => {
                            "interrupted; the cycle did not finish".to_string()
                        }
                        true => "FAILED (the cycle did not finish)".to_string(),
                        false => format!("FAILED at {}", failed.join(", ")),
                    }
                }
            }
        );
        Ok(ok)
    }
}

/// One cycle on one sandbox.
struct Cycle<'a> {
    test: &'a VariantTest<'a>,
    sandbox: &'a TestSandbox,
    rows: Vec<Row>,
    /// Checks that pass on the untouched lab, in words.
    useless: Vec<String>,
}

impl Cycle<'_> {
    fn run(&mut self) -> Result<(), Error> {
        // 0: what there is to do on the untouched lab, to compare with after `reset --hard`.
        let Some(out) = self.step(0, &["plan", "--output", "json"])? else { return Ok(()) };
        let start = outputs::plan_view(&stdout(&out));
        let start = match (out.status.code(), start) {
            (Some(0), Some(view)) if !view.to_do.is_empty() => {
                self.push(0, "actions to do", format!("{} to do", view.to_do.len()), true, "");
                Some(view)
            }
            (Some(0), Some(view)) => {
                let detail = "the steps' checks pass on a lab where the chapter was never done: `run` would do nothing";
                self.push(0, "actions to do", "nothing to do".into(), false, detail);
                Some(view)
            }
            _ => {
                self.failed_command(0, "actions to do", &out);
                None
            }
        };

        // 1: verify must fail before any run, and no check may pass.
        let Some(out) = self.step(1, &["verify", "--output", "json"])? else { return Ok(()) };
        match self.verify_view(&out) {
            Some(view) => {
                self.useless = view.passing.clone();
                let ok = !view.passed && view.passing.is_empty() && out.status.code() == Some(1);
                let mut notes = Vec::new();
                if !view.passing.is_empty() {
                    notes.push(format!("passes untouched: {}", view.passing.join("; ")));
                }
                if view.pod_cidr_checks > 0 {
                    // They hold on any healthy lab: not the chapter's (docs/chapters.md).
                    notes.push(format!(
                        "not counted: verify's own `pod CIDR` checks ({})",
                        view.pod_cidr_checks
                    ));
                }
                let detail = notes.join("; ");
                self.push(1, "fails, no check passes", verify_result(&view), ok, &detail);
            }
            None => self.failed_command(1, "fails, no check passes", &out),
        }

        // 2: run succeeds.
        let Some(out) = self.step(2, &["run", "--output", "json"])? else { return Ok(()) };
        self.run_row(2, "succeeds", &out, |_| true);

        // 3: verify passes.
        let Some(out) = self.step(3, &["verify", "--output", "json"])? else { return Ok(()) };
        match self.verify_view(&out) {
            Some(view) => {
                let ok = view.passed && out.status.code() == Some(0);
                let detail = match ok {
                    true => String::new(),
                    false => "`run` succeeded but the chapter's checks fail".into(),
                };
                self.push(3, "passes", verify_result(&view), ok, &detail);
            }
            None => self.failed_command(3, "passes", &out),
        }

        // 4: a second run changes nothing.
        let Some(out) = self.step(4, &["run", "--output", "json"])? else { return Ok(()) };
        self.run_row(4, "0 changed", &out, |c| c.changed == 0);

        // 5: plan is empty.
        let Some(out) = self.step(5, &["plan", "--output", "json"])? else { return Ok(()) };
        match (out.status.code(), outputs::plan_view(&stdout(&out))) {
            (Some(0), Some(view)) => {
                let ok = view.is_empty();
                let detail = match ok {
                    true => String::new(),
                    false => format!("after run, still to do: {}", describe_actions(&view)),
                };
                self.push(5, "nothing to do", plan_result(&view), ok, &detail);
            }
            _ => self.failed_command(5, "nothing to do", &out),
        }

        // 6: reset succeeds.
        let Some(out) = self.step(6, &["reset", "--yes", "--output", "json"])? else {
            return Ok(());
        };
        match (out.status.code(), outputs::reset_undone(&stdout(&out))) {
            (Some(0), Some(n)) => self.push(6, "succeeds", format!("{n} undone"), true, ""),
            _ => self.failed_command(6, "succeeds", &out),
        }

        // 7: verify fails again.
        let Some(out) = self.step(7, &["verify", "--output", "json"])? else { return Ok(()) };
        self.verify_fails_row(
            7,
            &out,
            "`reset` did not undo what `run` did: the checks still pass",
        );

        // 8: a lab done "by hand": run, then labctl's record of it removed.
        let Some(out) = self.step(8, &["run", "--output", "json"])? else { return Ok(()) };
        self.run_row(8, "succeeds", &out, |_| true);
        if self.interrupted() {
            return Ok(());
        }
        crate::complain!(
            self.test.global.shell,
            "  [{}] {}",
            STEPS[9],
            "remove .labctl/state.json"
        );
        let state = StateDir::for_inventory(&self.sandbox.inventory).state_file();
        match std::fs::remove_file(&state) {
            Ok(()) => self.push(9, "labctl's state removed", "removed".into(), true, ""),
            Err(e) => {
                let detail = format!("`{}`: {e}", state.display());
                self.push(9, "labctl's state removed", "error".into(), false, &detail)
            }
        }
        let Some(out) = self.step(10, &["reset", "--hard", "--yes", "--output", "json"])? else {
            return Ok(());
        };
        match (out.status.code(), outputs::reset_hard_counts(&stdout(&out))) {
            (Some(0), Some((undone, removed))) => {
                // With labctl's record gone, what it removes is found by reading the machines.
                let ok = undone == 0 && removed > 0;
                let detail = match (undone, removed) {
                    (0, 0) => "found nothing to remove: the footprint does not see what `run` left"
                        .to_string(),
                    (0, _) => String::new(),
                    (n, _) => format!("{n} undone by labctl although its state was removed"),
                };
                self.push(10, "back at the start", format!("{removed} removed"), ok, &detail);
            }
            _ => self.failed_command(10, "back at the start", &out),
        }
        let Some(out) = self.step(11, &["plan", "--output", "json"])? else { return Ok(()) };
        match (out.status.code(), outputs::plan_view(&stdout(&out)), &start) {
            (Some(0), Some(view), Some(start)) => {
                let differences = outputs::plan_difference(start, &view);
                let ok = differences.is_empty() && view.unsure == 0;
                let detail = differences.join("; ");
                self.push(11, "same as step 0", plan_result(&view), ok, &detail);
            }
            (Some(0), Some(view), None) => {
                let detail = "step 0's plan could not be read to compare with";
                self.push(11, "same as step 0", plan_result(&view), false, detail);
            }
            _ => self.failed_command(11, "same as step 0", &out),
        }
        let Some(out) = self.step(12, &["verify", "--output", "json"])? else { return Ok(()) };
        self.verify_fails_row(12, &out, "`reset --hard` left the lab where the checks pass");
        Ok(())
    }

    fn interrupted(&self) -> bool {
        self.test.interrupted.load(Ordering::SeqCst)
    }

    /// Runs step `index`'s labctl command on the sandbox (None once interrupted).
    fn step(&self, index: usize, command: &[&str]) -> Result<Option<Output>, Error> {
        if self.interrupted() {
            return Ok(None);
        }
        let global = self.test.global;
        let inventory = self.sandbox.inventory.to_string_lossy().into_owned();
        let connect_timeout = global.connect_timeout.to_string();
        let concurrency = global.concurrency.to_string();
        let mut args: Vec<String> = [
            "-i",
            &inventory,
            "--no-progress",
            "--color",
            "never",
            "--connect-timeout",
            &connect_timeout,
            "-j",
            &concurrency,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(timeout) = global.command_timeout {
            args.push("--command-timeout".into());
            args.push(format!("{}s", timeout.as_secs().max(1)));
        }
        args.push(command[0].into());
        args.push(self.test.chapter.into());
        args.push("--variant".into());
        args.push(self.test.variant.into());
        args.extend(command[1..].iter().map(|s| s.to_string()));
        crate::complain!(global.shell, "  [{}] labctl {}", STEPS[index], command.join(" "));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.sandbox.labctl(&refs)?;
        if global.shell.verbosity() > 0 {
            crate::complain!(global.shell, "{}", both(&out));
        }
        Ok(Some(out))
    }

    fn push(&mut self, index: usize, expected: &str, result: String, ok: bool, detail: &str) {
        self.rows.push(Row {
            step: STEPS[index],
            expected: expected.to_string(),
            result,
            ok,
            detail: detail.to_string(),
        });
    }

    /// A row for a command that failed where it should not have, or printed nothing readable.
    fn failed_command(&mut self, index: usize, expected: &str, out: &Output) {
        let code = out.status.code().map_or("killed".to_string(), |c| format!("exit {c}"));
        let detail = outputs::last_line(&both(out));
        self.push(index, expected, code, false, &detail);
    }

    /// A `run` row: it must exit 0, and its counts must satisfy `holds`.
    fn run_row(
        &mut self,
        index: usize,
        expected: &str,
        out: &Output,
        holds: impl Fn(&outputs::RunCounts) -> bool,
    ) {
        match (out.status.code(), outputs::run_counts(&stdout(out))) {
            (Some(0), Some(counts)) => {
                let ok = holds(&counts);
                let result = format!("{} changed, {} ok", counts.changed, counts.ok);
                let detail = match ok {
                    true => String::new(),
                    false => "a second run changed something: a step's check does not see that its run is done".into(),
                };
                self.push(index, expected, result, ok, &detail);
            }
            _ => self.failed_command(index, expected, out),
        }
    }

    /// A `verify` row that must fail (exit 1, `passed: false`).
    fn verify_fails_row(&mut self, index: usize, out: &Output, why_if_passes: &str) {
        match self.verify_view(out) {
            Some(view) => {
                let ok = !view.passed && out.status.code() == Some(1);
                // Checks that passed before any run pass here too: that, not the reset, is
                // what is wrong.
                let before = "it passed before any run too (step 1): its checks prove nothing";
                let detail = match (ok, view.passing.iter().all(|c| self.useless.contains(c))) {
                    (true, _) => "",
                    (false, true) if !self.useless.is_empty() => before,
                    (false, _) => why_if_passes,
                };
                self.push(index, "fails", verify_result(&view), ok, detail);
            }
            None => self.failed_command(index, "fails", out),
        }
    }

    /// verify's report, when it ran to the end (exit 0 or 1 with its JSON).
    fn verify_view(&self, out: &Output) -> Option<VerifyView> {
        match out.status.code() {
            Some(0 | 1) => outputs::verify_view(&stdout(out)),
            _ => None,
        }
    }
}

fn verify_result(view: &VerifyView) -> String {
    let word = if view.passed { "passes" } else { "fails" };
    format!("{word}: {}", view.counts())
}

fn plan_result(view: &PlanView) -> String {
    match view.to_do.len() {
        0 if view.is_empty() => "nothing to do".to_string(),
        n => format!("{n} to do"),
    }
}

/// The first few actions of a plan, in words.
fn describe_actions(view: &PlanView) -> String {
    let mut names: Vec<String> =
        view.to_do.iter().take(3).map(|(host, action)| format!("{action} on {host}")).collect();
    if view.to_do.len() > 3 {
        names.push(format!("and {} more", view.to_do.len() - 3));
    }
    if view.unsure > 0 {
        names.push(format!("{} unknown or in conflict", view.unsure));
    }
    names.join(", ")
}

/// STEP EXPECTED RESULT OK DETAIL, one row per step.
fn table(rows: &[Row]) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.force_no_tty();
    table.set_header(["STEP", "EXPECTED", "RESULT", "OK", "DETAIL"]);
    for row in rows {
        let ok = Cell::new(if row.ok { "ok" } else { "FAIL" });
        table.add_row(vec![
            Cell::new(row.step),
            Cell::new(&row.expected),
            Cell::new(&row.result),
            ok,
            Cell::new(&row.detail),
        ]);
    }
    flush_left(&table)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A subprocess's stdout and stderr, for `-v` and error details.
fn both(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapter_11_static_is_hosted_on_the_vagrant_shape_and_the_others_are_not() {
        let chapter = crate::commands::course().load("11-pod-network-routes").unwrap();
        let variant = |name| chapter.variant(Some(name), Provider::Ssh).unwrap();
        assert_eq!(not_hostable(variant("static")), None);
        assert_eq!(fitting_shape(&chapter, variant("static")), Shape::Vagrant);
        assert!(not_hostable(variant("gce")).unwrap().contains("Compute Engine"));
        assert!(not_hostable(variant("flannel")).unwrap().contains("Kubernetes API server"));
        assert_eq!(fitting_shape(&chapter, variant("gce")), Shape::Gce);
        let (to_test, skipped) = choose_variants(&chapter, None).unwrap();
        assert_eq!(to_test.len(), 1);
        assert_eq!(skipped.len(), 2);
        let error = choose_variants(&chapter, Some("gce")).unwrap_err();
        assert_eq!(error.exit_code(), crate::error::EXIT_BAD_INPUT);
    }
}
