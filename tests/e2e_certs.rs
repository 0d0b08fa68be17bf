//! Chapter 04 (a CA and TLS certificates), end to end on the sandbox: the real `openssl` on
//! this machine makes the CA and every certificate in the lab's working directory, labctl puts
//! them onto the nodes over their SSH connections, and verify checks them on each node with
//! openssl. Needs root (as CI). Each test has its own sandbox and lab network (10.229.N.0/24).

use crate::common::sandbox_lab;

use std::path::PathBuf;

use sandbox_lab::*;

const CHAPTER: &str = "04-certificate-authority";

struct Certs<'r> {
    lab: Lab<'r>,
    inventory: PathBuf,
}

impl<'r> Certs<'r> {
    fn up(root: &'r Root, tag: &str, network: &str) -> Certs<'r> {
        require_root();
        let lab = Lab::up(
            root,
            &unique_name(tag),
            &["--network", network, "--workers", "2", "--controllers", "1"],
        );
        let inventory = lab.dir().join("labctl.yaml");
        Certs { lab, inventory }
    }

    fn labctl(&self, args: &[&str]) -> Test {
        self.lab.root.labctl(args).inventory(&self.inventory)
    }

    fn address(&self, node: &str) -> String {
        let nodes = self.lab.nodes();
        nodes.into_iter().find(|(n, _)| n == node).map(|(_, a)| a).expect("the node exists")
    }

    /// `sudo COMMAND` on `node` over the real ssh client, as a student types it.
    fn by_hand(&self, node: &str, command: &str) -> String {
        self.lab.ssh_ok(&self.address(node), &format!("sudo sh -c {}", shell_quote(command)))
    }

    fn workdir(&self) -> PathBuf {
        self.lab.dir().join(".labctl").join("work")
    }

    fn verify_json(&self) -> (i32, serde_json::Value) {
        let out = self.labctl(&["verify", CHAPTER, "--output", "json"]).output();
        let json = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("verify prints JSON ({e}):\n{}", text(&out)));
        (out.status.code().unwrap_or(-1), json)
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The host checks of a report as `name on host: passed`.
fn checks(report: &serde_json::Value) -> Vec<(String, String, bool)> {
    report["host_checks"]
        .as_array()
        .expect("host_checks")
        .iter()
        .map(|c| (str_of(&c["name"]), str_of(&c["host"]), c["passed"].as_bool().unwrap()))
        .collect()
}

#[test]
fn ca_and_certificates_go_to_the_nodes_verify_names_a_tampered_node_and_reset_removes_them() {
    let root = Root::new();
    let certs = Certs::up(&root, "certs", "10.229.1.0/24");

    // Before run: every check fails, and says why in words.
    let (code, before) = certs.verify_json();
    assert_eq!(code, 1, "{before}");
    assert_eq!(before["pairwise"], false);
    let all = checks(&before);
    assert_eq!(all.len(), 10, "4 checks on each of 2 workers, 2 on the controller: {all:?}");
    assert!(all.iter().all(|(_, _, passed)| !passed), "{all:?}");
    let files = &before["host_checks"][0];
    assert_eq!(str_of(&files["evidence"]), "exited with 1: /var/lib/kubelet/ca.crt is missing");
    assert_eq!(str_of(&files["hint"]), "`labctl run 04-certificate-authority` puts them there");

    let run = certs.labctl(&["run", CHAPTER]).output();
    assert!(run.status.success(), "run failed:\n{}", text(&run));
    // The certificates were made here, with openssl, from the inventory's names and addresses.
    let workdir = certs.workdir();
    for name in ["ca", "admin", "worker-0", "worker-1", "kube-api-server", "service-accounts"] {
        assert!(workdir.join(format!("{name}.crt")).is_file(), "{name}.crt in {workdir:?}");
    }

    let out = certs.labctl(&["verify", CHAPTER]).output();
    assert!(out.status.success(), "verify after run failed:\n{}", text(&out));
    assert!(text(&out).contains("verify: 10 of 10 checks pass on 3 hosts"), "{}", text(&out));
    // Each worker holds its own certificate, for its own name and lab address.
    let san = certs.by_hand(
        "worker-1",
        "openssl x509 -in /var/lib/kubelet/kubelet.crt -noout -subject -ext subjectAltName",
    );
    assert!(san.contains("CN = system:node:worker-1"), "{san}");
    assert!(san.contains(&format!("IP Address:{}", certs.address("worker-1"))), "{san}");
    assert_eq!(
        certs.by_hand("worker-0", "stat -c '%a %U' /var/lib/kubelet/kubelet.key"),
        "600 root"
    );

    // A second run changes nothing.
    let again = certs.labctl(&["run", CHAPTER]).any_stderr().run();
    assert!(text(&again).contains(" 0 changed"), "{}", text(&again));

    // A student copies worker-0's certificate and key onto worker-1 by hand.
    for file in ["crt", "key"] {
        let content = std::fs::read_to_string(workdir.join(format!("worker-0.{file}"))).unwrap();
        certs.by_hand(
            "worker-1",
            &format!("printf '%s' {} > /var/lib/kubelet/kubelet.{file}", shell_quote(&content)),
        );
    }
    let tampered = certs.labctl(&["verify", CHAPTER]).any_stderr().status(1).run();
    let said = text(&tampered);
    assert!(
        said.contains("kubelet-names on worker-1: exited with 1: worker-1's kubelet.crt was issued for worker-0"),
        "{said}"
    );
    assert!(said.contains("each worker needs the certificate made for its own name"), "{said}");
    assert!(said.contains("verify: 1 of 10 checks fail on 3 hosts"), "{said}");
    assert!(!said.contains("on worker-0:"), "worker-0 is fine: {said}");

    // run puts worker-1's own back (the content differs from what labctl put).
    let fixed = certs.labctl(&["run", CHAPTER]).any_stderr().run();
    assert!(text(&fixed).contains(" 2 changed"), "{}", text(&fixed));
    assert_eq!(certs.verify_json().0, 0);

    // reset removes what labctl put and made; verify fails again.
    certs.labctl(&["reset", CHAPTER, "--yes"]).any_stderr().run();
    assert_eq!(certs.by_hand("worker-0", "ls -A /var/lib/kubelet"), "");
    assert_eq!(certs.by_hand("controller-0", "ls /root/ | grep -c '\\.crt$' || true"), "0");
    let left: Vec<String> = std::fs::read_dir(&workdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "the working directory keeps {left:?}");
    let (code, after) = certs.verify_json();
    assert_eq!(code, 1);
    assert!(checks(&after).iter().all(|(_, _, passed)| !passed), "{after}");
}

#[test]
fn reset_hard_removes_the_chapters_files_whoever_put_them_there() {
    let root = Root::new();
    let certs = Certs::up(&root, "certs-hard", "10.229.2.0/24");
    let run = certs.labctl(&["run", CHAPTER]).output();
    assert!(run.status.success(), "run failed:\n{}", text(&run));
    // Every file the footprint finds after labctl's run is known as labctl's (its `leaves`).
    let dry = certs
        .labctl(&["reset", "--hard", CHAPTER, "--dry-run", "--output", "json"])
        .any_stderr()
        .run();
    let dry: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let items: Vec<&serde_json::Value> = dry["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["items"].as_array().unwrap())
        .collect();
    assert!(items.len() > 30, "{dry}");
    let strangers: Vec<&serde_json::Value> =
        items.iter().filter(|i| i["made_by"] == "not made by labctl").copied().collect();
    assert!(strangers.is_empty(), "labctl's own files called a student's: {strangers:?}");
    // As if a student had done it all by hand: labctl has no record of it.
    std::fs::remove_file(certs.lab.dir().join(".labctl").join("state.json")).unwrap();
    certs.labctl(&["reset", CHAPTER, "--yes"]).any_stderr().run();
    assert_ne!(
        certs.by_hand("worker-0", "ls -A /var/lib/kubelet"),
        "",
        "plain reset keeps a student's work"
    );

    certs.labctl(&["reset", "--hard", CHAPTER, "--yes"]).any_stderr().run();
    for node in ["worker-0", "worker-1"] {
        assert_eq!(certs.by_hand(node, "ls -A /var/lib/kubelet"), "", "{node}");
    }
    assert_eq!(certs.by_hand("controller-0", "ls /root/ | grep -c '\\.key$' || true"), "0");
    let (code, after) = certs.verify_json();
    assert_eq!(code, 1, "{after}");
}

#[test]
fn a_chapter_of_command_checks_verifies_a_one_worker_lab_per_host_and_check() {
    require_root();
    let root = Root::new();
    let lab = Lab::up(
        &root,
        &unique_name("certs-one"),
        &["--network", "10.229.3.0/24", "--workers", "1", "--controllers", "0"],
    );
    let certs = Certs { inventory: lab.dir().join("labctl.yaml"), lab };
    let out = certs.labctl(&["verify", CHAPTER]).output();
    let said = text(&out);
    // Not "nothing to check" nor a word about pod CIDRs: the worker's four checks, each failed.
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("verify: 4 of 4 checks fail on 1 host"), "{said}");
    assert!(!said.contains("pod"), "{said}");
    let (_, report) = certs.verify_json();
    let hosts: Vec<String> = checks(&report).into_iter().map(|(_, host, _)| host).collect();
    assert_eq!(hosts, ["worker-0"; 4]);
}

/// A chapter that makes a file on each worker, fetches it back into the working directory,
/// and joins the copies there with a local step.
const FETCH_CHAPTER: &str = r#"chapter: fetch-back
title: Fetch back
summary: files made on the nodes, brought back to the jumpbox
default_variant: { ssh: jumpbox, vagrant: jumpbox, gce: jumpbox }
variants:
  - name: jumpbox
    summary: fetch
    steps:
      - name: make
        summary: a file on each worker
        where: workers
        sudo: true
        check: test -f /etc/kubernetes/who
        run: hostname > /etc/kubernetes/who
        undo: rm -f /etc/kubernetes/who
      - name: bring-back
        summary: each worker's file, here
        where: workers
        sudo: true
        fetch:
          - { from: /etc/kubernetes/who, to: "{{ node.name }}.who" }
      - name: gather
        summary: one file of them all
        where: local
        check: test -f all.who
        run: cat {% for w in workers %}{{ w.name }}.who {% endfor %}> all.who
        undo: rm -f all.who
    verify:
      - command: { name: all, where: local, run: "cat all.who", expect: { output: "worker-1" } }
"#;

#[test]
fn a_step_fetches_files_back_into_the_working_directory_for_a_local_step() {
    let root = Root::new();
    let certs = Certs::up(&root, "fetch", "10.229.4.0/24");
    let dir = tempfile::tempdir().unwrap();
    let chapter = dir.path().join("fetch-back.yaml");
    std::fs::write(&chapter, FETCH_CHAPTER).unwrap();
    let chapter = chapter.to_str().unwrap();

    certs.labctl(&["run", chapter]).any_stderr().run();
    let work = certs.workdir();
    let read = |name: &str| std::fs::read_to_string(work.join(name)).unwrap_or_default();
    assert_eq!(read("worker-0.who"), "worker-0\n");
    assert_eq!(read("all.who"), "worker-0\nworker-1\n", "the local step ran after the fetches");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(work.join("worker-1.who")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    certs.labctl(&["verify", chapter]).any_stderr().run();

    let again = certs.labctl(&["run", chapter]).output();
    assert!(text(&again).contains(" 0 changed"), "{}", text(&again));

    // The file changes on worker-1: the next run fetches it again, and only it.
    certs.by_hand("worker-1", "echo changed > /etc/kubernetes/who");
    let plan = certs.labctl(&["plan", chapter]).output();
    assert!(
        text(&plan).contains("bring-back (fetch /etc/kubernetes/who as worker-1.who)"),
        "{}",
        text(&plan)
    );
    let refetch = certs.labctl(&["run", chapter]).output();
    assert!(text(&refetch).contains(" 1 changed"), "{}", text(&refetch));
    assert_eq!(read("worker-1.who"), "changed\n");

    // reset removes the copies here and the files there.
    certs.labctl(&["reset", chapter, "--yes"]).any_stderr().run();
    assert!(!work.join("worker-0.who").exists() && !work.join("worker-1.who").exists());
    assert!(!work.join("all.who").exists());
    assert_eq!(certs.by_hand("worker-0", "ls -A /etc/kubernetes"), "");
}
