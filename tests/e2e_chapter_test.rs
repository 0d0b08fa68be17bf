//! `labctl test CHAPTER`, the chapter self-test, end to end: the real binary brings up its own
//! sandbox (a free /24 of 10.239.0.0/16 it picks itself), runs the cycle and removes the
//! sandbox. Needs root, as CI. Each test has its own sandbox root; after each, no sandbox of the
//! test is left (its directory, its namespaces). The test chapters act only inside the
//! sandbox's nodes: a blackhole route to 192.0.2.0/24 (TEST-NET-1) in the node's namespace.

use crate::common::sandbox_lab;

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::harness::fixture_text;
use sandbox_lab::*;

/// A chapter whose one step adds a blackhole route on every worker, with `undo` and `verify`
/// given by the test.
fn marker_chapter(name: &str, undo: &str, verify: &str) -> String {
    fixture_text("chapters/marker.yaml")
        .replace("@name@", name)
        .replace("@undo@", undo)
        .replace("@verify@", verify)
}

const GOOD_UNDO: &str = r#"if test -n "$(ip route show exact 192.0.2.0/24)"; then ip route del blackhole 192.0.2.0/24; fi"#;
const GOOD_VERIFY: &str = r#"{ name: marker-route, where: workers, run: 'test -n "$(ip route show exact 192.0.2.0/24)"' }"#;

/// Writes chapter `name` into a temporary directory; returns the directory and the file.
fn write_chapter(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&file, text).expect("the chapter is written");
    (dir, file)
}

/// `labctl test ARGS...` with its own sandbox root.
fn labctl_test(root: &Root, args: &[&str]) -> Test {
    root.labctl(["test"]).args(args).lab()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The sandboxes a run of `labctl test` said it used (`on sandbox `NAME``).
fn sandboxes_used(out: &Output) -> Vec<String> {
    stdout(out)
        .lines()
        .filter_map(|l| l.split_once("on sandbox `")?.1.split_once('`').map(|(n, _)| n.to_string()))
        .collect()
}

/// Nothing of any sandbox is left: no directory in the root, no namespace of those named.
fn assert_nothing_left(root: &Root, out: &Output) {
    let used = sandboxes_used(out);
    assert!(!used.is_empty(), "no sandbox named in the output:\n{}", text(out));
    let entries: Vec<String> = std::fs::read_dir(root.path())
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(entries.is_empty(), "left in the sandbox root: {entries:?}");
    for name in &used {
        let left = namespaces_with_prefix(&format!("labctl-{name}-"));
        assert!(left.is_empty(), "namespaces of `{name}` left: {left:?}");
        assert!(stdout(out).contains(&format!("sandbox `{name}` removed\n")), "{}", text(out));
    }
    let status = root.labctl(["sandbox", "status", "--output", "json"]).output();
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    assert_eq!(json["sandboxes"].as_array().map(Vec::len).unwrap_or(0), 0, "{}", text(&status));
}

/// The table row of `step` (the line starting with it).
fn row<'a>(out: &'a str, step: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{step} ")))
        .unwrap_or_else(|| panic!("no row `{step}` in:\n{out}"))
}

fn row_ok(out: &str, step: &str) -> bool {
    let row = row(out, step);
    let words: Vec<&str> = row.split("  ").map(str::trim).filter(|w| !w.is_empty()).collect();
    match (words.contains(&"ok"), words.contains(&"FAIL")) {
        (true, false) => true,
        (false, true) => false,
        _ => panic!("row `{step}` says neither ok nor FAIL: {row}"),
    }
}

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

#[test]
fn chapter_11_static_passes_every_step() {
    require_root();
    let root = Root::new();
    let out = labctl_test(&root, &["11-pod-network-routes", "--variant", "static"])
        .any_stderr()
        .status(0)
        .run();
    let text_out = stdout(&out);
    assert!(text_out.contains("STEP "), "{text_out}");
    assert!(
        text_out
            .lines()
            .any(|l| l.starts_with("STEP") && l.contains("EXPECTED") && l.contains("DETAIL")),
        "{text_out}"
    );
    for step in STEPS {
        assert!(row_ok(&text_out, step), "step {step} is not ok:\n{text_out}");
    }
    assert!(row(&text_out, "0 plan").contains("6 to do"), "{text_out}");
    assert!(row(&text_out, "3 verify").contains("passes: 6 of 6 pairs pass"), "{text_out}");
    assert!(row(&text_out, "4 run again").contains("0 changed, 6 ok"), "{text_out}");
    assert!(row(&text_out, "8c reset --hard").contains("6 removed"), "{text_out}");
    assert!(
        text_out.ends_with("test: 11-pod-network-routes variant static: every step holds\n"),
        "{text_out}"
    );
    assert!(text_out.contains("(vagrant shape, 10.239."), "{text_out}");
    assert_nothing_left(&root, &out);
}

/// Every built-in chapter, as `labctl list` shows them, holds in every variant the sandbox can
/// host; the others are skipped with the reason.
#[test]
fn every_built_in_chapter_holds_in_every_variant_the_sandbox_can_host() {
    require_root();
    let root = Root::new();
    let list = root.labctl(["list"]).output();
    assert!(list.status.success(), "{}", text(&list));
    let chapters: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(chapters.len() >= 2, "{chapters:?}");
    for chapter in &chapters {
        let out = labctl_test(&root, &[chapter]).output();
        assert_eq!(out.status.code(), Some(0), "{chapter}: {}", text(&out));
        let text_out = stdout(&out);
        assert!(text_out.contains(&format!("test: {chapter} variant ")), "{text_out}");
        assert!(!text_out.contains("FAIL"), "{text_out}");
        if chapter == "11-pod-network-routes" {
            assert!(
                text_out.contains("test: 11-pod-network-routes variant static: every step holds\n")
            );
            assert!(
                text_out.contains("test: 11-pod-network-routes variant gce: skipped: it acts on Compute Engine with gcloud"),
                "{text_out}"
            );
            assert!(
                text_out.contains(
                    "test: 11-pod-network-routes variant flannel: skipped: it needs a Kubernetes API server"
                ),
                "{text_out}"
            );
            assert_eq!(sandboxes_used(&out).len(), 1, "{text_out}");
        }
        if chapter == "04-certificate-authority" {
            assert!(
                text_out
                    .contains("test: 04-certificate-authority variant jumpbox: every step holds\n"),
                "{text_out}"
            );
        }
        assert_nothing_left(&root, &out);
    }
}

#[test]
fn a_check_that_always_passes_is_named() {
    require_root();
    let root = Root::new();
    let chapter = marker_chapter(
        "useless-check",
        GOOD_UNDO,
        r#"{ name: always-passes, where: workers, run: "true" }"#,
    );
    let (_dir, file) = write_chapter("useless-check", &chapter);
    let out = labctl_test(&root, &[file.to_str().unwrap()]).any_stderr().status(1).run();
    let text_out = stdout(&out);
    assert!(!row_ok(&text_out, "1 verify"), "{text_out}");
    assert!(
        row(&text_out, "1 verify").contains("passes untouched: `always-passes` on worker-0"),
        "{text_out}"
    );
    assert!(
        text_out.contains(
            "checks that prove nothing (they pass on a lab where the chapter was never done):\n  - `always-passes` on worker-0\n  - `always-passes` on worker-1\n  - `always-passes` on worker-2\n"
        ),
        "{text_out}"
    );
    assert!(
        text_out.contains("variant marker: FAILED at 1 verify, 7 verify, 8e verify\n"),
        "{text_out}"
    );
    assert!(
        stderr(&out).contains("error: the self-test of useless-check failed"),
        "{}",
        text(&out)
    );
    assert_nothing_left(&root, &out);
}

#[test]
fn a_reset_that_does_not_undo_is_caught_at_step_7() {
    require_root();
    let root = Root::new();
    let chapter = marker_chapter("idle-undo", "true", GOOD_VERIFY);
    let (_dir, file) = write_chapter("idle-undo", &chapter);
    let out = labctl_test(&root, &[file.to_str().unwrap(), "--variant", "marker"])
        .any_stderr()
        .status(1)
        .run();
    let text_out = stdout(&out);
    for step in STEPS {
        assert_eq!(row_ok(&text_out, step), *step != "7 verify", "step {step}:\n{text_out}");
    }
    assert!(
        row(&text_out, "7 verify").contains("`reset` did not undo what `run` did"),
        "{text_out}"
    );
    assert!(text_out.contains("variant marker: FAILED at 7 verify\n"), "{text_out}");
    assert_nothing_left(&root, &out);
}

#[test]
fn a_sound_chapter_of_command_checks_passes() {
    require_root();
    let root = Root::new();
    let chapter = marker_chapter("sound-marker", GOOD_UNDO, GOOD_VERIFY);
    let (_dir, file) = write_chapter("sound-marker", &chapter);
    let out = labctl_test(&root, &[file.to_str().unwrap(), "--shape", "gce"])
        .any_stderr()
        .status(0)
        .run();
    let text_out = stdout(&out);
    assert!(text_out.contains("(gce shape, 10.239."), "{text_out}");
    assert!(row(&text_out, "3 verify").contains("passes: 3 of 3 host checks pass"), "{text_out}");
    assert_nothing_left(&root, &out);
}

#[test]
fn bad_input_is_exit_2_and_brings_nothing_up() {
    let root = Root::new();
    let gce = labctl_test(&root, &["11-pod-network-routes", "--variant", "gce"])
        .any_stderr()
        .status(2)
        .run();
    assert!(
        stderr(&gce).starts_with(
            "error: the sandbox cannot host variant `gce` of 11-pod-network-routes: it acts on Compute Engine with gcloud (`cloud: gce`)"
        ),
        "{}",
        text(&gce)
    );
    let unknown = labctl_test(&root, &["11-pod-network-routes", "--variant", "statc"])
        .any_stderr()
        .status(2)
        .run();
    assert!(stderr(&unknown).contains("did you mean `static`?"), "{}", text(&unknown));
    let missing = labctl_test(&root, &["no-such-chapter"]).any_stderr().status(2).run();
    let path = Path::new("/nonexistent/chapter.yaml");
    let no_file = labctl_test(&root, &[path.to_str().unwrap()]).any_stderr().status(2).run();
    for out in [&gce, &unknown, &missing, &no_file] {
        assert!(stdout(out).is_empty(), "{}", text(out));
    }
    assert!(std::fs::read_dir(root.path()).map(|d| d.count()).unwrap_or(0) == 0);
}
