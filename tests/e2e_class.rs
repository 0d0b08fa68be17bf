//! `--class FILE` on two sandboxes at once: run, verify (text, JSON, JUnit) and reset across
//! every environment of a class. Needs root (as CI); traffic only to the tests' own sandboxes.

#[path = "common/sandbox_lab.rs"]
mod sandbox_lab;

use sandbox_lab::*;

#[test]
fn an_instructor_runs_verifies_and_resets_a_whole_class() {
    require_root();
    let root = Root::new();
    let alice =
        Lab::up(&root, &unique_name("alice"), &["--network", "10.232.30.0/24", "--workers", "2"]);
    let bob =
        Lab::up(&root, &unique_name("bob"), &["--network", "10.232.31.0/24", "--workers", "2"]);
    let class = root.path().join("class.yaml");
    std::fs::write(
        &class,
        format!(
            "environments:\n  - {{ name: alice, inventory: {} }}\n  - {{ name: bob, inventory: {} }}\n",
            alice.dir().join("labctl.yaml").display(),
            bob.dir().join("labctl.yaml").display()
        ),
    )
    .unwrap();
    let labctl = |args: &[&str]| {
        let mut all = vec!["--class", class.to_str().unwrap()];
        all.extend_from_slice(args);
        root.labctl(&all).env("NO_COLOR", "1").output().unwrap()
    };

    let before = labctl(&["verify"]);
    assert_eq!(before.status.code(), Some(1), "{}", text(&before));
    let out = String::from_utf8_lossy(&before.stdout).into_owned();
    assert!(out.contains("== alice ("), "{out}");
    assert!(
        out.ends_with("class: 0 of 2 environments ok\n")
            || stderr(&before).contains("class: 0 of 2 environments ok"),
        "{}",
        text(&before)
    );

    let run = labctl(&["run", "11-pod-network-routes"]);
    assert!(run.status.success(), "{}", text(&run));
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        out.contains(
            "ENVIRONMENT  RESULT\nalice        ok\nbob          ok\nclass: 2 of 2 environments ok\n"
        ),
        "{out}"
    );

    let junit = root.path().join("class.xml");
    let json = labctl(&["verify", "--output", "json", "--junit", junit.to_str().unwrap()]);
    assert!(json.status.success(), "{}", text(&json));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert!(stderr(&json).contains("class: 2 of 2 environments ok"), "{}", text(&json));
    assert_eq!(value["environments"][0]["name"], "alice");
    assert_eq!(value["environments"][1]["report"]["passed"], true);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"<testsuite name="alice/route-evidence""#)
            && xml.contains(r#"<testsuite name="bob/data-plane""#),
        "{xml}"
    );

    // Bob's worker-1 stops answering: his report says so, in his section; Alice's is whole.
    let pid = std::fs::read_to_string(bob.dir().join("nodes/worker-1/sshd.pid")).unwrap();
    let signal = |sig: &str| {
        assert!(
            std::process::Command::new("kill").args([sig, pid.trim()]).status().unwrap().success()
        )
    };
    signal("-STOP");
    let down = labctl(&["--connect-timeout", "2", "verify"]);
    signal("-CONT");
    let out = String::from_utf8_lossy(&down.stdout).into_owned();
    let bobs = &out[out.find("== bob (").expect("bob's section")..];
    assert!(bobs.contains("worker-1 could not be reached"), "{out}");
    assert!(!out[..out.find("== bob (").unwrap()].contains("could not be reached"), "{out}");
    assert!(out.contains("alice        ok\nbob          exit 3: verify failed"), "{}", text(&down));
    assert_eq!(down.status.code(), Some(3), "{}", text(&down));
    assert_eq!(stderr(&down), "error: class: 1 of 2 environments ok\n");

    let reset = labctl(&["reset", "--yes"]);
    assert!(reset.status.success(), "{}", text(&reset));
    let after = labctl(&["verify"]);
    assert_eq!(after.status.code(), Some(1), "{}", text(&after));
}

#[test]
fn a_bad_class_file_is_located() {
    let root = Root::new();
    let class = root.path().join("class.yaml");
    std::fs::write(&class, "environments:\n  - { name: alice, inventory: a.yaml, extra: 1 }\n")
        .unwrap();
    let out = root.labctl(["--class", class.to_str().unwrap(), "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}:2:39: unknown field `extra`, expected one of name, inventory\n",
            class.display()
        )
    );
}
