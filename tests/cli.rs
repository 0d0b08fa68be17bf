//! The command-line contract: exact output of the offline commands, exit codes, help.

mod harness;

use harness::{Test, repo};

#[test]
fn list_shows_every_chapter_with_its_variants() {
    Test::new()
        .args(["list"])
        .stdout(
            "CHAPTER                TITLE                            VARIANTS\n\
             11-pod-network-routes  Provisioning Pod Network Routes  static, gce, flannel\n",
        )
        .run();
}

#[test]
fn show_describes_variants_steps_and_checks() {
    let out = Test::new().args(["show", "11-pod-network-routes"]).run();
    let text = String::from_utf8_lossy(&out.stdout);
    let expected_lines = [
        "11-pod-network-routes — Provisioning Pod Network Routes",
        "default variant: static (provider ssh), flannel (provider vagrant), gce (provider gce)",
        "  1. pod-routes (on workers, for each of the peers (as `peer`), with sudo)",
        "  1. gce-routes (on local, for each of the workers (as `worker`))",
        "  2. flannel-manifest (on first_controller, stdin from flannel/kube-flannel.yaml.j2)",
        "  verify: route evidence (via the other worker); pod-to-pod matrix (2 pings per pair)",
    ];
    for line in expected_lines {
        assert!(text.lines().any(|l| l == line), "missing line {line:?} in:\n{text}");
    }
}

#[test]
fn unknown_chapter_suggests_the_closest_name() {
    Test::new()
        .args(["show", "11-pod-network-route"])
        .stderr(
            "error: unknown chapter `11-pod-network-route`; did you mean `11-pod-network-routes`?\n  \
             help: `labctl list` shows the chapters\n",
        )
        .status(2)
        .run();
}

#[test]
fn unknown_chapter_far_from_any_name_gets_no_suggestion() {
    Test::new()
        .args(["show", "zzz"])
        .stderr("error: unknown chapter `zzz`\n  help: `labctl list` shows the chapters\n")
        .status(2)
        .run();
}

#[test]
fn unknown_variant_suggests_and_lists_the_variants() {
    let inventory = repo().join("examples/labctl.yaml");
    Test::new()
        .args(["-i", inventory.to_str().unwrap(), "render", "11-pod-network-routes", "--variant", "flanel"])
        .stderr(
            "error: chapter `11-pod-network-routes` has no variant `flanel`; did you mean `flannel`?\n  \
             help: its variants are: static, gce, flannel\n",
        )
        .status(2)
        .run();
}

#[test]
fn bad_usage_exits_2() {
    let out = Test::new().args(["frobnicate"]).any_stderr().status(2).run();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand 'frobnicate'"));
    Test::new().args(["-j", "0", "list"]).any_stderr().status(2).run();
}

#[test]
fn every_command_has_examples_in_its_help() {
    for command in ["list", "show", "render", "completions"] {
        let out = Test::new().args([command, "--help"]).any_stderr().run();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Examples:\n  labctl"),
            "`labctl {command} --help` has no examples:\n{text}"
        );
    }
    let out = Test::new().args(["--help"]).run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Exit codes: 0 success; 1"), "{text}");
}

#[test]
fn global_flags_work_before_and_after_the_subcommand() {
    let inventory = repo().join("examples/labctl.yaml");
    let inv = inventory.to_str().unwrap();
    let before = Test::new().args(["-i", inv, "-j", "8", "render", "11-pod-network-routes"]).run();
    let after = Test::new().args(["render", "11-pod-network-routes", "-i", inv, "-j", "8"]).run();
    assert_eq!(before.stdout, after.stdout);
    assert!(!before.stdout.is_empty());
}

#[test]
fn completions_are_generated_for_the_common_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Test::new().args(["completions", shell]).run();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("render") && text.contains("sandbox"),
            "{shell} completion lacks commands"
        );
    }
}

#[test]
fn version_is_printed() {
    Test::new()
        .args(["--version"])
        .stdout(&format!("labctl {}\n", env!("CARGO_PKG_VERSION")))
        .run();
}
