//! The command-line contract: exact output of the offline commands, exit codes, help.

use crate::harness;

use harness::{Test, repo};

#[test]
fn list_shows_every_chapter_with_its_variants() {
    Test::new()
        .args(["list"])
        .stdout(
            "CHAPTER                   TITLE                                              VARIANTS\n\
             04-certificate-authority  Provisioning a CA and Generating TLS Certificates  jumpbox\n\
             11-pod-network-routes     Provisioning Pod Network Routes                    static, gce, flannel\n",
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
        "  2. flannel-manifest (where kubectl runs (first controller, or this machine with a kubeconfig), stdin from flannel/kube-flannel.yaml.j2)",
        "  verify: route evidence (via the other worker); pod-to-pod matrix (2 pings per pair)",
        "  verify: daemonset kube-flannel/kube-flannel-ds ready; flannel.1 on the lab address, subnet in the cluster CIDR; route evidence (via flannel.1); pod-to-pod matrix (2 pings per pair)",
        "  reset --hard removes: pod-routes (on workers)",
        "  reset --hard removes: vpc-routes (on local)",
        "  reset --hard removes: cluster-objects (on kubectl); pod-routes (on workers); node-leftovers (on workers)",
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
        // A hook that asks labctl back (`COMPLETE=SHELL labctl -- WORDS`).
        assert!(
            text.contains("labctl") && text.contains("COMPLETE") && text.contains(shell),
            "{shell} completion is no hook:\n{text}"
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

const TWO_WORKERS: &str = "\
provider: ssh
nodes:
  - { name: server, role: controller, address: 192.168.56.10 }
  - { name: node-a, role: worker, address: 192.168.56.20, pod_cidr: 10.244.0.0/24 }
  - { name: node-b, role: worker, address: 192.168.56.21, pod_cidr: 10.244.1.0/24 }
network: { cluster_cidr: 10.244.0.0/16, service_cidr: 10.96.0.0/24 }
";

#[test]
fn render_prints_every_command_per_host_from_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("lab.yaml");
    std::fs::write(&inv, TWO_WORKERS).unwrap();
    let inv = inv.to_str().unwrap();
    let expected = format!(
        "# chapter 11-pod-network-routes, variant static, inventory {inv}

## node-a (192.168.56.20)
# pod-routes (peer node-b) [sudo]: route the other worker's pod CIDR via its lab address
check: test -n \"$(ip route show exact 10.244.1.0/24 via 192.168.56.21)\"
run:   ip route replace 10.244.1.0/24 via 192.168.56.21
undo:  if test -n \"$(ip route show exact 10.244.1.0/24 via 192.168.56.21)\"; then ip route del 10.244.1.0/24 via 192.168.56.21; fi
conflict: route=\"$(ip route show exact 10.244.1.0/24 | sed 's/ *$//')\" && test -n \"$route\" && printf 'route %s is in the way; planned: via %s\\n' \"$route\" 192.168.56.21
replace:  ip route replace 10.244.1.0/24 via 192.168.56.21

## node-b (192.168.56.21)
# pod-routes (peer node-a) [sudo]: route the other worker's pod CIDR via its lab address
check: test -n \"$(ip route show exact 10.244.0.0/24 via 192.168.56.20)\"
run:   ip route replace 10.244.0.0/24 via 192.168.56.20
undo:  if test -n \"$(ip route show exact 10.244.0.0/24 via 192.168.56.20)\"; then ip route del 10.244.0.0/24 via 192.168.56.20; fi
conflict: route=\"$(ip route show exact 10.244.0.0/24 | sed 's/ *$//')\" && test -n \"$route\" && printf 'route %s is in the way; planned: via %s\\n' \"$route\" 192.168.56.20
replace:  ip route replace 10.244.0.0/24 via 192.168.56.20
"
    );
    Test::new().args(["-i", inv, "render", "11-pod-network-routes"]).stdout(&expected).run();
}

#[test]
fn render_out_writes_runnable_scripts_and_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("lab.yaml");
    std::fs::write(&inv, TWO_WORKERS).unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    Test::new()
        .args([
            "-i",
            inv.to_str().unwrap(),
            "render",
            "11-pod-network-routes",
            "--variant",
            "flannel",
            "--out",
            o,
        ])
        .run();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "node-a.reset.sh",
            "node-a.sh",
            "node-b.reset.sh",
            "node-b.sh",
            "server.flannel-manifest.yaml",
            "server.reset.sh",
            "server.sh"
        ]
    );
    let script = std::fs::read_to_string(out.join("server.sh")).unwrap();
    assert!(
        script.contains(
            "if ! sh -c 'kubectl diff --server-side --force-conflicts -f - >/dev/null &&"
        ),
        "{script}"
    );
    assert!(script.contains("< server.flannel-manifest.yaml"), "{script}");
    for name in names.iter().filter(|n| n.ends_with(".sh")) {
        let status =
            std::process::Command::new("sh").arg("-n").arg(out.join(name)).status().unwrap();
        assert!(status.success(), "{name} is not valid shell");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join(name)).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{name} is not executable");
    }
    let reset = std::fs::read_to_string(out.join("node-a.reset.sh")).unwrap();
    assert!(reset.contains("sudo -n sh -c 'rm -f /etc/cni/net.d/10-flannel.conflist"), "{reset}");
}

#[test]
fn inventory_lookup_prefers_labctl_yaml_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("labctl.yaml"), TWO_WORKERS).unwrap();
    let out = Test::new().current_dir(dir.path()).args(["render", "11-pod-network-routes"]).run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("## node-a (192.168.56.20)"));
    let empty = tempfile::tempdir().unwrap();
    Test::new()
        .current_dir(empty.path())
        .args(["render", "11-pod-network-routes"])
        .stderr(
            "error: no inventory found: looked for ./labctl.yaml, a running sandbox, ./Vagrantfile\n  \
             help: give one with `-i FILE`, or start a lab with `sudo labctl sandbox up`\n",
        )
        .status(2)
        .run();
}

#[test]
fn a_chapter_directory_can_replace_the_built_in_chapters() {
    let dir = tempfile::tempdir().unwrap();
    let labs = dir.path().join("labs");
    std::fs::create_dir(&labs).unwrap();
    std::fs::write(
        labs.join("99-hello.yaml"),
        "chapter: 99-hello\ntitle: Hello\ndefault_variant: { ssh: only, vagrant: only, gce: only }\n\
         variants:\n  - name: only\n    summary: say hello\n    steps:\n      - { name: hello, summary: greet, where: all, \
         check: \"test -f /tmp/hello-{{ node.name }}\", run: \"touch /tmp/hello-{{ node.name }}\", undo: \"rm -f /tmp/hello-{{ node.name }}\" }\n    \
         verify:\n      - command: { name: greeted, where: all, run: \"test -f /tmp/hello\" }\n",
    )
    .unwrap();
    Test::new()
        .env("LABCTL_LABS_DIR", labs.to_str().unwrap())
        .args(["list"])
        .stdout("CHAPTER   TITLE  VARIANTS\n99-hello  Hello  only\n")
        .run();
}

/// DESIGN's inventory lists only workers: the static variant needs no controller, and nothing
/// warns about one; a variant with a step on the controller is refused when planned.
#[test]
fn an_inventory_of_workers_only_does_the_static_variant_and_refuses_flannel() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("lab.yaml");
    std::fs::write(
        &inv,
        "nodes:\n  - { name: worker-0, role: worker, address: 10.240.0.20, pod_cidr: 10.200.0.0/24 }\n  - { name: worker-1, role: worker, address: 10.240.0.21, pod_cidr: 10.200.1.0/24 }\n",
    )
    .unwrap();
    let inv = inv.to_str().unwrap();
    let warning = "";
    let out =
        Test::new().args(["-i", inv, "render", "11-pod-network-routes"]).stderr(warning).run();
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("run:   ip route replace 10.200.1.0/24 via 10.240.0.21\n")
    );
    Test::new()
        .args(["-i", inv, "render", "11-pod-network-routes", "--variant", "flannel"])
        .stderr(&format!("{warning}error: {inv}:2: step `flannel-manifest` of variant `flannel` runs on a controller, but the inventory has no controller node\n  help: add a node with `role: controller`, or choose another variant with `--variant`\n"))
        .status(2)
        .run();
}

/// An inventory's `vars:` reach a chapter of data as `vars`, over the chapter's defaults.
#[test]
fn inventory_vars_reach_a_chapters_templates() {
    let dir = tempfile::tempdir().unwrap();
    let labs = dir.path().join("labs");
    std::fs::create_dir(&labs).unwrap();
    std::fs::write(
        labs.join("98-vars.yaml"),
        "chapter: 98-vars\ntitle: Vars\ndefault_variant: { ssh: only, vagrant: only, gce: only }\n\
         vars: { greeting: hi, who: world }\n\
         variants:\n  - name: only\n    summary: greet\n    steps:\n      - { name: greet, summary: greet, where: all, \
         check: \"false\", run: \"echo {{ vars.greeting }} {{ vars.who }}\", undo: \"true\" }\n    \
         verify:\n      - command: { name: greeted, where: all, run: \"true\" }\n",
    )
    .unwrap();
    let inventory = dir.path().join("labctl.yaml");
    std::fs::write(
        &inventory,
        "nodes:\n  - { name: worker-0, role: worker, address: 10.240.0.20, pod_cidr: 10.200.0.0/24 }\n\
         vars:\n  greeting: hello there\n",
    )
    .unwrap();
    let inv = inventory.to_str().unwrap();
    let out = Test::new()
        .env("LABCTL_LABS_DIR", labs.to_str().unwrap())
        .args(["-i", inv, "render", "98-vars"])
        .run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("echo 'hello there' world"), "{stdout}");
    // Without it in the inventory, the chapter's default holds.
    std::fs::write(
        &inventory,
        "nodes:\n  - { name: worker-0, role: worker, address: 10.240.0.20, pod_cidr: 10.200.0.0/24 }\n",
    )
    .unwrap();
    let out = Test::new()
        .env("LABCTL_LABS_DIR", labs.to_str().unwrap())
        .args(["-i", inv, "render", "98-vars"])
        .run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("echo hi world"), "{stdout}");
}

/// A key file that is not there is bad input (exit 2), named with its nodes and the inventory,
/// found before any connection (the nodes are on loopback, in case it were not).
#[test]
fn a_missing_key_file_is_bad_input_not_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("labctl.yaml");
    std::fs::write(
        &inventory,
        "nodes:\n  - { name: worker-0, role: worker, address: 127.0.0.2, pod_cidr: 10.200.0.0/24 }\n  \
         - { name: worker-1, role: worker, address: 127.0.0.3, pod_cidr: 10.200.1.0/24 }\n\
         ssh: { identity_file: keys/missing, port: 1 }\n",
    )
    .unwrap();
    let inv = inventory.to_str().unwrap();
    let key = dir.path().join("keys/missing");
    Test::new()
        .args(["-i", inv, "plan", "11-pod-network-routes"])
        .stderr(&format!(
            "error: cannot read the key file `{}` of `worker-0`, `worker-1` (named in `{inv}`): no such file; nothing was run\n  \
             help: fix the path in the inventory (`ssh: {{ identity_file: FILE }}`), or make the key with `ssh-keygen -t ed25519 -f FILE`\n",
            key.display()
        ))
        .status(2)
        .run();
}

/// After `run ./FILE.yaml`, the commands that name no chapter (or name it by its name) read it
/// from that file again: `verify` and `reset` work on it without the path. Its steps and checks
/// run on this machine only (`where: local`), so nothing is contacted.
#[test]
fn a_chapter_run_from_a_file_is_remembered_by_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let chapters = dir.path().join("mine");
    std::fs::create_dir(&chapters).unwrap();
    let marker = dir.path().join("done-marker");
    std::fs::write(
        chapters.join("97-local.yaml"),
        format!(
            "chapter: 97-local\ntitle: Local\ndefault_variant: {{ ssh: only, vagrant: only, gce: only }}\n\
             variants:\n  - name: only\n    summary: mark\n    steps:\n      - {{ name: mark, summary: mark, where: local, \
             check: \"test -f {m}\", run: \"touch {m}\", undo: \"rm -f {m}\" }}\n    \
             verify:\n      - command: {{ name: marked, where: local, run: \"test -f {m}\" }}\n",
            m = marker.display()
        ),
    )
    .unwrap();
    let inventory = dir.path().join("labctl.yaml");
    std::fs::write(
        &inventory,
        "nodes:\n  - { name: worker-0, role: worker, address: 127.0.0.2, pod_cidr: 10.200.0.0/24 }\n",
    )
    .unwrap();
    let inv = inventory.to_str().unwrap();
    Test::new()
        .current_dir(dir.path())
        .args(["-i", inv, "--no-progress", "run", "mine/97-local.yaml"])
        .any_stderr()
        .run();
    assert!(marker.exists());
    let verify = Test::new().current_dir(dir.path()).args(["-i", inv, "verify"]).any_stderr().run();
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("verify: 1 of 1 checks pass on 1 host")
    );
    // `--color always` colours the report (the summary green when it passes) and `error:`.
    let colored = Test::new()
        .current_dir(dir.path())
        .args(["-i", inv, "--color", "always", "verify"])
        .any_stderr()
        .run();
    assert!(
        String::from_utf8_lossy(&colored.stdout)
            .contains("\x1b[32m\x1b[1mverify: 1 of 1 checks pass on 1 host\x1b[0m\x1b[0m"),
        "{:?}",
        String::from_utf8_lossy(&colored.stdout)
    );
    let error = Test::new()
        .args(["--color", "always", "show", "no-such-chapter"])
        .any_stderr()
        .status(2)
        .run();
    assert!(
        String::from_utf8_lossy(&error.stderr)
            .starts_with("\x1b[31m\x1b[1merror\x1b[0m\x1b[0m: unknown chapter")
    );
    Test::new()
        .current_dir(dir.path())
        .args(["-i", inv, "--no-progress", "reset", "97-local", "--yes"])
        .any_stderr()
        .run();
    assert!(!marker.exists(), "reset by the chapter's name undid the file chapter's step");
}

/// `list` and `show` print JSON as docs/json.md says, every field documented.
#[test]
fn list_and_show_print_documented_json() {
    let docs = std::fs::read_to_string(harness::repo().join("docs/json.md")).unwrap();
    let documented = |key: &str| docs.contains(&format!("`{key}`"));
    let out = Test::new().args(["list", "--output", "json"]).run();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list prints JSON");
    let chapters = list.as_array().unwrap();
    let eleven = chapters.iter().find(|c| c["chapter"] == "11-pod-network-routes").unwrap();
    assert_eq!(eleven["title"], "Provisioning Pod Network Routes");
    assert_eq!(eleven["variants"], serde_json::json!(["static", "gce", "flannel"]));
    for key in eleven.as_object().unwrap().keys() {
        assert!(documented(key), "list's `{key}` is not in docs/json.md");
    }

    let out = Test::new().args(["show", "11", "--output", "json"]).run();
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).expect("show prints JSON");
    assert_eq!(show["chapter"], "11-pod-network-routes");
    assert_eq!(show["default_variant"]["vagrant"], "flannel");
    let static_variant = &show["variants"][0];
    assert_eq!(static_variant["name"], "static");
    assert_eq!(static_variant["steps"][0]["name"], "pod-routes");
    assert_eq!(static_variant["steps"][0]["where"], "workers");
    assert_eq!(static_variant["steps"][0]["for_each"], "peers");
    assert_eq!(static_variant["steps"][0]["sudo"], true);
    let mut keys: Vec<String> = show.as_object().unwrap().keys().cloned().collect();
    keys.extend(static_variant.as_object().unwrap().keys().cloned());
    keys.extend(static_variant["steps"][0].as_object().unwrap().keys().cloned());
    for key in keys {
        assert!(documented(&key), "show's `{key}` is not in docs/json.md");
    }
}

/// A subcommand's help lists its own options, then the global ones under their own heading,
/// then examples; the subcommands that touch no lab leave out the lab options.
#[test]
fn help_groups_global_options_apart_and_every_subcommand_has_examples() {
    let help = |args: &[&str]| {
        let out = Test::new().args(args).run();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plan = help(&["plan", "--help"]);
    let (own, global) = plan.split_once("\nGlobal options:\n").expect("a Global options heading");
    assert!(own.contains("--detailed-exitcode") && own.contains("--variant <V>"), "{plan}");
    assert!(!own.contains("--inventory"), "{plan}");
    for flag in [
        "-i, --inventory <FILE>",
        "--sandbox <NAME>",
        "--class <FILE>",
        "-j, --concurrency <N>",
        "--color <WHEN>",
    ] {
        assert!(global.contains(flag), "{flag} not under Global options:\n{plan}");
    }
    for no_lab in [&["list", "--help"][..], &["completions", "--help"], &["show", "--help"]] {
        let text = help(no_lab);
        assert!(text.contains("\nGlobal options:\n"), "{text}");
        for flag in ["--inventory", "--class", "--concurrency", "--connect-timeout"] {
            assert!(!text.contains(flag), "{no_lab:?} shows {flag}:\n{text}");
        }
    }
    // Still accepted there, as global options are.
    Test::new().args(["-j", "4", "list", "-i", "nowhere.yaml"]).run();
    for sub in [
        "list",
        "show",
        "render",
        "plan",
        "run",
        "verify",
        "reset",
        "test",
        "sandbox",
        "completions",
    ] {
        assert!(help(&[sub, "--help"]).contains("\nExamples:\n"), "`{sub} --help` has no examples");
    }
    for sub in ["up", "down", "status"] {
        assert!(help(&["sandbox", sub, "--help"]).contains("\nExamples:\n"), "`sandbox {sub}`");
    }
}

/// Completion is dynamic: the hook asks labctl, which answers with the chapters, their
/// variants and steps as they are now (and a chapter file's name when typed as a path).
#[test]
fn completion_knows_chapters_variants_and_steps() {
    let complete = |index: &str, words: &[&str]| {
        let mut args = vec!["--", "labctl"];
        args.extend_from_slice(words);
        let out =
            Test::new().env("COMPLETE", "bash").env("_CLAP_COMPLETE_INDEX", index).args(args).run();
        String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect::<Vec<_>>()
    };
    let chapters: Vec<String> =
        complete("2", &["show", ""]).into_iter().filter(|c| !c.starts_with('-')).collect();
    assert_eq!(chapters, ["04-certificate-authority", "11-pod-network-routes"]);
    assert_eq!(complete("2", &["verify", "1"]), ["11-pod-network-routes"]);
    let variants = complete("4", &["run", "11", "--variant", ""]);
    for v in ["static", "gce", "flannel", "jumpbox"] {
        assert!(variants.contains(&v.to_string()), "{variants:?}");
    }
    let steps = complete("4", &["run", "11", "--only", "pod"]);
    assert_eq!(steps, ["pod-routes"]);
    // The hook for bash, as `labctl completions bash` prints it, calls labctl back.
    let hook = Test::new().args(["completions", "bash"]).run();
    let hook = String::from_utf8_lossy(&hook.stdout);
    assert!(hook.contains("_clap_complete_labctl()") && hook.contains("COMPLETE"), "{hook}");
}

/// A course author's copy of a built-in chapter, run from its file, is what the commands
/// that follow use (not the built-in of the same name), until `run` names the chapter again.
#[test]
fn a_file_chapter_with_a_built_in_name_is_the_one_used_after_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let chapters = dir.path().join("mine");
    std::fs::create_dir(&chapters).unwrap();
    let marker = dir.path().join("mine-marker");
    std::fs::write(
        chapters.join("04-certificate-authority.yaml"),
        format!(
            "chapter: 04-certificate-authority\ntitle: Mine\ndefault_variant: {{ ssh: only, vagrant: only, gce: only }}\n\
             variants:\n  - name: only\n    summary: mark\n    steps:\n      - {{ name: mark, summary: mark, where: local, \
             check: \"test -f {m}\", run: \"touch {m}\", undo: \"rm -f {m}\" }}\n    \
             verify:\n      - command: {{ name: marked, where: local, run: \"test -f {m}\" }}\n",
            m = marker.display()
        ),
    )
    .unwrap();
    let inventory = dir.path().join("labctl.yaml");
    std::fs::write(
        &inventory,
        "nodes:\n  - { name: worker-0, role: worker, address: 127.0.0.2, pod_cidr: 10.200.0.0/24 }\n",
    )
    .unwrap();
    let inv = inventory.to_str().unwrap();
    Test::new()
        .current_dir(dir.path())
        .args(["-i", inv, "--no-progress", "run", "mine/04-certificate-authority.yaml"])
        .any_stderr()
        .run();
    let verify = Test::new().current_dir(dir.path()).args(["-i", inv, "verify", "04"]).run();
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(out.contains("verify: 1 of 1 checks pass on 1 host"), "{out}");
    // `--sandbox` and `--class` do not go together: a class names each lab's inventory.
    Test::new()
        .args(["--class", "c.yaml", "--sandbox", "lab2", "list"])
        .any_stderr()
        .status(2)
        .run();
}

/// Every word goes through one shell (docs/architecture.md, "Output"): with `--color always`
/// each `error:` line looks the same, a failed action's, the command's own and each of several
/// problems in a chapter file; with `--output json`, stdout holds the JSON alone while `-v`'s
/// commands and the errors go to stderr.
#[test]
fn every_error_line_looks_alike_and_json_stdout_holds_only_json() {
    const RED_ERROR: &str = "\x1b[31m\x1b[1merror\x1b[0m\x1b[0m: ";
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    let chapter = "chapter: 98-fail\ntitle: Fails\ndefault_variant: { ssh: only, vagrant: only, gce: only }\n\
         variants:\n  - name: only\n    summary: fail\n    steps:\n      \
         - { name: good, summary: good, where: local, check: \"false\", run: \"true\", undo: \"true\" }\n      \
         - { name: broken, summary: broken, where: local, check: \"false\", run: \"echo broken >&2; exit 1\", undo: \"true\" }\n    \
         verify:\n      - command: { name: never, where: local, run: \"false\" }\n";
    std::fs::write(dir.path().join("mine/98-fail.yaml"), chapter).unwrap();
    let bad = chapter.replace(", undo: \"true\"", "").replace("98-fail", "99-bad");
    std::fs::write(dir.path().join("mine/99-bad.yaml"), bad).unwrap();
    std::fs::write(
        dir.path().join("labctl.yaml"),
        "nodes:\n  - { name: worker-0, role: worker, address: 127.0.0.2, pod_cidr: 10.200.0.0/24 }\n",
    )
    .unwrap();
    let errors = |stderr: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(stderr)
            .lines()
            .filter(|l| l.contains("error"))
            .map(str::to_string)
            .collect()
    };
    let run = Test::new()
        .current_dir(dir.path())
        .args(["--no-progress", "--color", "always", "run", "mine/98-fail.yaml"])
        .any_stderr()
        .status(1)
        .run();
    assert_eq!(
        errors(&run.stderr),
        [
            format!("{RED_ERROR}local: broken: `echo broken >&2; exit 1` exited with 1: broken"),
            format!(
                "{RED_ERROR}1 action(s) failed; fix the cause and run again: what is done is skipped"
            ),
        ]
    );
    let show = Test::new()
        .current_dir(dir.path())
        .args(["--color", "always", "show", "mine/99-bad.yaml"])
        .any_stderr()
        .status(2)
        .run();
    assert_eq!(
        errors(&show.stderr),
        [
            format!("{RED_ERROR}mine/99-bad.yaml:8:17: step `good` has no `undo`"),
            format!("{RED_ERROR}mine/99-bad.yaml:9:17: step `broken` has no `undo`"),
        ]
    );
    std::fs::remove_dir_all(dir.path().join(".labctl")).unwrap();
    let json = Test::new()
        .current_dir(dir.path())
        .args(["--no-progress", "-v", "run", "mine/98-fail.yaml", "--output", "json"])
        .any_stderr()
        .status(1)
        .run();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("stdout is JSON");
    assert_eq!(doc["summary"]["failed"], 1, "{doc}");
    let stderr = String::from_utf8_lossy(&json.stderr);
    assert!(stderr.contains("local: $ echo broken >&2; exit 1\n"), "{stderr}");
    assert!(stderr.contains("error: local: broken: "), "{stderr}");
}

/// An inventory of two workers on loopback, on a port nobody listens on, with a usable key.
fn unreachable_lab(dir: &std::path::Path) -> std::path::PathBuf {
    let inventory = dir.join("labctl.yaml");
    let key = dir.join("id");
    std::fs::copy(harness::repo().join("tests/fixtures/keys/ecdsa-p256-short-scalar"), &key)
        .unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(
        &inventory,
        format!(
            "nodes:\n  - {{ name: worker-0, role: worker, address: 127.0.0.2, pod_cidr: 10.200.0.0/24 }}\n  \
             - {{ name: worker-1, role: worker, address: 127.0.0.3, pod_cidr: 10.200.1.0/24 }}\n\
             ssh: {{ identity_file: {}, port: 1 }}\n",
            key.display()
        ),
    )
    .unwrap();
    inventory
}

/// `plan --detailed-exitcode` on a lab it cannot reach exits 1, an error, never 2: a script
/// must not read an unreachable worker as drift.
#[test]
fn detailed_exitcode_of_an_unreachable_lab_is_1() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = unreachable_lab(dir.path());
    let inv = inventory.to_str().unwrap();
    for args in [
        vec!["-i", inv, "plan", "11-pod-network-routes", "--detailed-exitcode"],
        vec!["-i", inv, "plan", "11-pod-network-routes", "--detailed-exitcode", "--output", "json"],
    ] {
        let out = Test::new().args(&args).status(1).any_stderr().run();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("127.0.0.2:1"), "the error names address:port: {stderr}");
    }
}

/// `reset --hard --dry-run --output json` counts the hosts it could not reach in its summary,
/// says why on each, and exits 3.
#[test]
fn reset_hard_json_counts_unreachable_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = unreachable_lab(dir.path());
    let inv = inventory.to_str().unwrap();
    let out = Test::new()
        .args([
            "-i",
            inv,
            "reset",
            "11-pod-network-routes",
            "--hard",
            "--dry-run",
            "--output",
            "json",
        ])
        .status(3)
        .any_stderr()
        .run();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["unreachable"], 2, "{json}");
    assert_eq!(json["summary"]["found"], 0, "{json}");
    let hosts = json["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2, "{json}");
    for (host, name) in hosts.iter().zip(["worker-0", "worker-1"]) {
        assert_eq!(host["host"], name, "{json}");
        assert_eq!(host["at_start"], serde_json::Value::Null, "{json}");
        assert!(host["error"].as_str().unwrap().starts_with("unreachable: "), "{json}");
    }
}

/// Hosts verify cannot reach are listed in the inventory's order, whatever order its checks
/// name them in (chapter 04 checks the workers first, then the controller).
#[test]
fn verify_lists_unreachable_hosts_in_inventory_order() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = unreachable_lab(dir.path());
    let text = std::fs::read_to_string(&inventory).unwrap().replace(
        "nodes:\n",
        "nodes:\n  - { name: server, role: controller, address: 127.0.0.4 }\n",
    );
    std::fs::write(&inventory, text).unwrap();
    let out = Test::new()
        .args(["-i", inventory.to_str().unwrap(), "verify", "04-certificate-authority"])
        .status(3)
        .any_stderr()
        .run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let unreachable: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("cannot reach"))
        .filter_map(|l| l.strip_prefix("error: "))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(unreachable, ["server", "worker-0", "worker-1"], "{stderr}");
}
