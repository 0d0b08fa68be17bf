//! Ctrl-C during `labctl run` on the sandbox: the first lets running commands finish, records
//! what was applied, starts nothing new and exits 130; a second run goes on from there. A second
//! Ctrl-C stops the running commands on the nodes and exits 130 at once. Needs root (as CI); traffic only to the test's own sandbox.

use crate::common::sandbox_lab;

use std::process::Child;
use std::time::Duration;

use crate::harness::fixture;
use sandbox_lab::*;

struct Setup {
    _labs: tempfile::TempDir,
    labs_dir: String,
    inventory: String,
}

fn setup(lab: &Lab) -> Setup {
    let labs = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("chapters/90-slow.yaml"), labs.path().join("90-slow.yaml")).unwrap();
    Setup {
        labs_dir: labs.path().to_str().unwrap().to_string(),
        _labs: labs,
        inventory: lab.dir().join("labctl.yaml").to_str().unwrap().to_string(),
    }
}

fn start(lab: &Lab, s: &Setup, args: &[&str]) -> Child {
    lab.root
        .labctl(args)
        .inventory(std::path::Path::new(&s.inventory))
        .env("LABCTL_LABS_DIR", &s.labs_dir)
        .spawn()
}

fn sigint(child: &Child) {
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits until the run log shows that the first step's `run` command has started (it then
/// runs for a second and a half).
fn wait_for_first_run(lab: &Lab) {
    let logs = lab.dir().join(".labctl/logs");
    for _ in 0..100 {
        let started = std::fs::read_dir(&logs)
            .map(|d| {
                d.flatten().any(|e| {
                    std::fs::read_to_string(e.path())
                        .unwrap_or_default()
                        .contains("$ sleep 1.5 && touch")
                })
            })
            .unwrap_or(false);
        if started {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the first step never started");
}

#[test]
fn first_ctrl_c_finishes_running_commands_records_them_and_exits_130() {
    require_root();
    let root = Root::new();
    let lab =
        Lab::up(&root, &unique_name("int"), &["--network", "10.232.20.0/24", "--workers", "2"]);
    let s = setup(&lab);
    let child = start(&lab, &s, &["run", "90-slow"]);
    wait_for_first_run(&lab);
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "HOST      first    second\nworker-0  changed  skipped\nworker-1  changed  skipped\n"
        ),
        "{}",
        text(&out)
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(lab.dir().join(".labctl/state.json")).unwrap(),
    )
    .unwrap();
    let applied: Vec<String> = state["chapters"]["90-slow"]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {}", a["host"].as_str().unwrap(), a["step"].as_str().unwrap()))
        .collect();
    let mut sorted = applied.clone();
    sorted.sort();
    assert_eq!(sorted, ["worker-0 first", "worker-1 first"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"), "{}", text(&out));

    // The lock was released and a second run does only what is left.
    let again = start(&lab, &s, &["run", "90-slow"]).wait_with_output().unwrap();
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("run: 2 changed, 2 ok, 0 failed"),
        "{}",
        text(&again)
    );
    let verify = start(&lab, &s, &["verify"]).wait_with_output().unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
}

#[test]
fn second_ctrl_c_stops_the_running_commands_and_exits_130() {
    require_root();
    let root = Root::new();
    let lab =
        Lab::up(&root, &unique_name("int2"), &["--network", "10.232.21.0/24", "--workers", "2"]);
    let s = setup(&lab);
    let child = start(&lab, &s, &["run", "90-slow"]);
    wait_for_first_run(&lab);
    sigint(&child);
    std::thread::sleep(Duration::from_millis(100));
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    // It did not wait for the running commands: they were stopped before they finished.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("worker-0  skipped  skipped\nworker-1  skipped  skipped\n"),
        "{}",
        text(&out)
    );
    // Nothing of it runs on in this lab's nodes (the other test's lab runs the same step).
    let left: Vec<u32> = ["worker-0", "worker-1"]
        .iter()
        .flat_map(|n| {
            let netns = format!("labctl-{}-{n}", lab.name);
            processes_in_netns("sleep 1.5 && touch /tmp/labctl-slow-first", &netns)
        })
        .collect();
    assert!(left.is_empty(), "still running in this lab: {left:?}");
    // Well past the step's sleep, nothing of it ran on: its `touch` never happened.
    std::thread::sleep(Duration::from_secs(2));
    for (name, address) in lab.nodes().iter().filter(|(n, _)| n.starts_with("worker")) {
        let out = lab.ssh(address, "test -e /tmp/labctl-slow-first");
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
    }
}
