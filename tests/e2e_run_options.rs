//! `run --only`, `--from`, `--fail-fast`, a failing step, `reset` without `--yes`, and that no
//! key material reaches the state or the logs; on the sandbox with a small chapter of its own.
//! Needs root (as CI); traffic only to the test's own sandbox.

use crate::common::sandbox_lab;

use std::process::Output;

use crate::harness::fixture;
use sandbox_lab::*;

struct Options<'r> {
    lab: Lab<'r>,
    labs: tempfile::TempDir,
}

impl Options<'_> {
    fn labctl(&self, args: &[&str]) -> Test {
        self.lab.labctl(args).env("LABCTL_LABS_DIR", self.labs.path())
    }
}

fn setup<'r>(root: &'r Root, tag: &str, network: &str) -> Options<'r> {
    require_root();
    let lab = Lab::up(root, &unique_name(tag), &["--network", network, "--workers", "2"]);
    let labs = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("chapters/91-options.yaml"), labs.path().join("91-options.yaml"))
        .unwrap();
    Options { lab, labs }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_failing_step_stops_its_host_only_and_is_reported() {
    let root = Root::new();
    let o = setup(&root, "fail", "10.232.40.0/24");
    let run = o.labctl(&["run", "91-options"]).any_stderr().status(1).run();
    assert!(
        out(&run).starts_with("HOST      first    breaks   last\nworker-0  changed  changed  changed\nworker-1  changed  failed   skipped\n"),
        "{}",
        text(&run)
    );
    assert!(
        stderr(&run).contains("error: worker-1: breaks: `if [ \"$(hostname)\" = worker-1 ]; then echo \"worker-1 refuses\" >&2; exit 7; fi; touch /tmp/labctl-breaks` exited with 7: worker-1 refuses"),
        "{}",
        text(&run)
    );
}

#[test]
fn fail_fast_stops_every_host_at_the_first_failure() {
    let root = Root::new();
    let o = setup(&root, "ff", "10.232.41.0/24");
    let run = o.labctl(&["run", "91-options", "--fail-fast"]).any_stderr().status(1).run();
    // worker-0 was inside its slow `first` when worker-1 failed: it finished it, then stopped.
    assert!(
        out(&run).starts_with("HOST      first    breaks   last\nworker-0  changed  skipped  skipped\nworker-1  changed  failed   skipped\n"),
        "{}",
        text(&run)
    );
}

#[test]
fn only_and_from_select_steps_and_unknown_steps_are_named() {
    let root = Root::new();
    let o = setup(&root, "sel", "10.232.42.0/24");
    let only = o.labctl(&["run", "91-options", "--only", "last"]).any_stderr().run();
    assert!(
        out(&only)
            .starts_with("HOST      first    breaks   last\nworker-0  skipped  skipped  changed\n"),
        "{}",
        text(&only)
    );
    let from = o.labctl(&["run", "91-options", "--from", "breaks"]).any_stderr().status(1).run();
    assert!(out(&from).contains("worker-0  skipped  changed  ok\n"), "{}", text(&from));
    let unknown = o.labctl(&["run", "91-options", "--only", "brakes"]).any_stderr().status(2).run();
    assert_eq!(
        stderr(&unknown),
        "error: chapter `91-options` has no step `brakes`; did you mean `breaks`?\n  help: `labctl show 91-options` lists its steps\n"
    );
}

#[test]
fn reset_without_yes_and_without_a_terminal_changes_nothing_and_no_key_is_logged() {
    let root = Root::new();
    let o = setup(&root, "nokey", "10.232.43.0/24");
    let run = o.labctl(&["run", "91-options", "--only", "first"]).any_stderr().run();
    let reset = o.labctl(&["reset"]).any_stderr().status(2).run();
    assert_eq!(
        stderr(&reset),
        "error: reset changes the lab and there is no terminal to ask on; pass `--yes` to confirm\n"
    );
    let state = std::fs::read_to_string(o.lab.dir().join(".labctl/state.json")).unwrap();
    assert!(state.contains("\"step\": \"first\""), "{state}");

    // Nothing labctl wrote holds the private key.
    let key = std::fs::read_to_string(o.lab.dir().join("id_ed25519")).unwrap();
    let secret: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(secret.len() > 40);
    let mut written = vec![state];
    for entry in std::fs::read_dir(o.lab.dir().join(".labctl/logs")).unwrap() {
        written.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    for text in written.iter().chain([&out(&run), &stderr(&run)]) {
        for chunk in secret.as_bytes().chunks(24) {
            assert!(
                !text.contains(std::str::from_utf8(chunk).unwrap()),
                "key material in labctl's output"
            );
        }
    }
}
