//! Chapter 11, flannel variant, end to end on the sandbox's vagrant shape (issue 5): labctl
//! reads the workers' interfaces over real SSH, picks flanneld's `--iface`, renders the
//! manifest and applies it with the real `kubectl` against the Kubernetes API double, which
//! plays flanneld on the nodes (a real VXLAN device on the interface flanneld would pick, so
//! probes really ping across it). Needs root, as CI. Every test has its own sandbox root,
//! name and lab network (10.236.N.0/24); the double listens only on the sandbox's own end of
//! that network or on loopback.

use crate::common::sandbox_lab;

use crate::doubles::kube_api;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kube_api::{FlannelNode, KubeApiDouble};
use sandbox_lab::*;

const CHAPTER: &str = "11-pod-network-routes";

/// A sandbox, its inventory, and the double its controller's kubectl talks to.
struct FlannelLab<'r> {
    lab: Lab<'r>,
    inventory: PathBuf,
    double: KubeApiDouble,
}

impl<'r> FlannelLab<'r> {
    /// A vagrant-shape sandbox; the double listens on the sandbox's end of the lab network and
    /// the controller's `~/.kube/config` points at it (as after KTHW chapter 10).
    fn up(root: &'r Root, tag: &str, args: &[&str]) -> FlannelLab<'r> {
        require_root();
        let lab = Lab::up(root, &unique_name(tag), args);
        let status = lab.status();
        let nodes = flannel_nodes(&lab, &status);
        let double = KubeApiDouble::start(&str_of(&status["host_address"]), &nodes);
        let controller = controller_address(&status);
        let out = lab.ssh(
            &controller,
            &format!("mkdir -p ~/.kube && printf '%s' '{}' > ~/.kube/config", double.kubeconfig()),
        );
        assert!(out.status.success(), "{}", text(&out));
        let inventory = lab.dir().join("labctl.yaml");
        FlannelLab { lab, inventory, double }
    }

    /// `labctl -i INVENTORY ARGS...` (no terminal: one line per event, no colour).
    fn labctl(&self, args: &[&str]) -> Test {
        labctl_with(&self.lab, &self.inventory, args)
    }

    fn netns(&self, node: &str) -> String {
        format!("labctl-{}-{node}", self.lab.name)
    }

    /// `ip -n NODE ARGS...` in the node's network namespace, stdout.
    fn ip(&self, node: &str, args: &[&str]) -> String {
        let out = Command::new("ip").arg("-n").arg(self.netns(node)).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A file's content inside a node (its private /run and /etc/cni), or None.
    fn node_file(&self, node: &str, path: &str) -> Option<String> {
        let pid = sshd_pid(&self.lab, node);
        let out = Command::new("nsenter")
            .args([&format!("--target={pid}"), "--mount", "--", "cat", path])
            .output()
            .unwrap();
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn labctl_with(lab: &Lab<'_>, inventory: &Path, args: &[&str]) -> Test {
    lab.root.labctl(args).inventory(inventory)
}

fn sshd_pid(lab: &Lab<'_>, node: &str) -> u32 {
    let file = lab.dir().join("nodes").join(node).join("sshd.pid");
    std::fs::read_to_string(file).unwrap().trim().parse().unwrap()
}

fn flannel_nodes(lab: &Lab<'_>, status: &serde_json::Value) -> Vec<FlannelNode> {
    status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"] == "worker")
        .map(|n| FlannelNode {
            name: str_of(&n["name"]),
            pod_cidr: str_of(&n["pod_cidr"]),
            pid: sshd_pid(lab, &str_of(&n["name"])),
        })
        .collect()
}

fn controller_address(status: &serde_json::Value) -> String {
    let nodes = status["nodes"].as_array().unwrap();
    str_of(&nodes.iter().find(|n| n["role"] == "controller").unwrap()["address"])
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The flanneld arguments of the DaemonSet the double holds, from the last apply it got.
fn applied_flanneld_args(double: &KubeApiDouble) -> Vec<String> {
    let requests = double.requests();
    let applied = requests
        .iter()
        .rev()
        .find(|r| {
            r["method"] == "PATCH"
                && r["path"].as_str().unwrap().ends_with("/daemonsets/kube-flannel-ds")
                && !r["query"]["dryRun"].is_array()
        })
        .expect("the DaemonSet was applied");
    let containers = &applied["body"]["spec"]["template"]["spec"]["containers"];
    containers[0]["args"].as_array().unwrap().iter().map(str_of).collect()
}

#[test]
fn run_verify_rerun_plan_and_reset_with_kubectl_on_the_controller() {
    let root = Root::new();
    let lab = FlannelLab::up(&root, "fl", &["--network", "10.236.1.0/24", "--workers", "3"]);

    // Before: no flannel anywhere.
    let verify = lab.labctl(&["verify", "--variant", "flannel"]).any_stderr().status(1).run();
    let out = stdout(&verify);
    assert!(
        out.contains(
            "❌ flannel state on worker-0: there is no `flannel.1` device: flanneld has not started on this node\n"
        ),
        "{out}"
    );

    // plan: the interface, its evidence, and what run would do; nothing is changed.
    let plan = lab.labctl(&["plan", CHAPTER, "--variant", "flannel"]).any_stderr().run();
    let out = stdout(&plan);
    assert!(
        out.starts_with(
            "# plan: chapter 11-pod-network-routes, variant flannel\n\n\
             flannel interface, from the workers' facts:\n  \
             worker-0  lab address 10.236.1.20 on enp0s8; default route via enp0s3\n  \
             worker-1  lab address 10.236.1.21 on enp0s8; default route via enp0s3\n  \
             worker-2  lab address 10.236.1.22 on enp0s8; default route via enp0s3\n  \
             NAT trap: 10.0.2.15 is on enp0s3 of every worker; flannel without --iface would bind to the default route's NIC\n  \
             choice: --iface=enp0s8 (every worker holds its lab address on enp0s8)\n"
        ),
        "{out}"
    );
    assert!(out.ends_with("plan: 4 to change, 0 already done, 0 unknown\n"), "{out}");
    assert!(
        lab.double.writes().iter().all(|w| w.ends_with("(dry run)")),
        "plan changed the cluster"
    );

    // run: the manifest goes to the API double through kubectl on the controller.
    let run = lab.labctl(&["run", CHAPTER, "--variant", "flannel"]).any_stderr().run();
    assert!(
        stdout(&run).starts_with(
            "flannel interface: --iface=enp0s8 (every worker holds its lab address on enp0s8; the NAT trap 10.0.2.15 on enp0s3 is avoided)\n"
        ),
        "{}",
        text(&run)
    );
    let applied: Vec<String> =
        lab.double.writes().into_iter().filter(|w| !w.ends_with("(dry run)")).collect();
    assert_eq!(
        applied,
        [
            "PATCH /api/v1/namespaces/kube-flannel",
            "PATCH /apis/rbac.authorization.k8s.io/v1/clusterroles/flannel",
            "PATCH /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/flannel",
            "PATCH /api/v1/namespaces/kube-flannel/serviceaccounts/flannel",
            "PATCH /api/v1/namespaces/kube-flannel/configmaps/kube-flannel-cfg",
            "PATCH /apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds",
        ]
    );
    assert_eq!(
        applied_flanneld_args(&lab.double),
        ["--ip-masq", "--kube-subnet-mgr", "--iface=enp0s8"]
    );
    let patch = lab.double.requests().into_iter().find(|r| r["method"] == "PATCH").unwrap();
    assert_eq!(patch["content_type"], "application/apply-patch+yaml");

    // The double's flanneld bound flannel.1 to enp0s8; the probes ping across the VXLAN.
    assert!(
        lab.ip("worker-1", &["-d", "link", "show", "flannel.1"])
            .contains("local 10.236.1.21 dev enp0s8")
    );
    let verify = lab.labctl(&["-v", "verify"]).output();
    assert!(verify.status.success(), "{}\n{}", text(&verify), lab.double.stderr());
    let out = stdout(&verify);
    assert!(out.contains("✅ daemonset kube-flannel/kube-flannel-ds ready on controller-0: daemon set \"kube-flannel-ds\" successfully rolled out\n"), "{out}");
    assert!(out.contains("✅ flannel state on worker-1: flannel.1 local 10.236.1.21, subnet 10.200.1.0/24 in 10.200.0.0/16\n"), "{out}");
    assert!(
        out.contains(
            "✅ ping  worker-0 → worker-2: 2 of 2 pings answered; at the pod MTU 1450 with DF set: 2 of 2"
        ),
        "{out}"
    );
    assert!(
        out.ends_with("verify: 6 of 6 pairs pass (12 checks); 4 of 4 host checks pass\n"),
        "{out}"
    );

    // A second run changes nothing, and the plan is empty.
    let again = lab.labctl(&["run", CHAPTER, "--variant", "flannel"]).any_stderr().run();
    assert!(stdout(&again).contains("run: 0 changed, 4 ok, 0 failed"), "{}", text(&again));
    let plan = lab.labctl(&["plan", CHAPTER]).output();
    assert!(
        stdout(&plan).ends_with("plan: nothing to change (4 already done)\n"),
        "{}",
        text(&plan)
    );

    // flannel bound to the NAT NIC (as without --iface): verify says so, and why.
    lab.double.replay_flannel(&[]);
    assert!(
        lab.ip("worker-1", &["-d", "link", "show", "flannel.1"])
            .contains("local 10.0.2.15 dev enp0s3")
    );
    let verify = lab.labctl(&["-v", "verify"]).any_stderr().status(1).run();
    let out = stdout(&verify);
    assert!(
        out.contains(
            "❌ flannel state on worker-1: `flannel.1` uses local address 10.0.2.15 on enp0s3, the NAT address every worker has, not the node's lab address 10.236.1.21 on enp0s8: flannel is bound to the NAT trap (flanneld needs `--iface`; `labctl run` sets it from facts)\n"
        ),
        "{out}"
    );
    assert!(out.contains("❌ ping  worker-0 → worker-1: 0 of 2 pings answered;"), "{out}");
    assert!(out.contains("the NAT interface whose address every VM"), "{out}");
    // ... and bound right again: verify passes.
    lab.double.replay_flannel(&["--iface=enp0s8"]);
    lab.labctl(&["verify"]).any_stderr().run();

    // reset: the objects are deleted from the cluster, then the nodes are cleaned.
    lab.labctl(&["reset", "--yes"]).any_stderr().run();
    let deletes: Vec<String> =
        lab.double.writes().into_iter().filter(|w| w.starts_with("DELETE")).collect();
    assert_eq!(deletes.len(), 6, "{deletes:?}");
    assert_eq!(
        deletes[5],
        "DELETE /apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds"
    );
    let delete = lab.double.requests().into_iter().find(|r| r["method"] == "DELETE").unwrap();
    assert_eq!(delete["body"]["propagationPolicy"], "Foreground");
    for node in ["worker-0", "worker-1", "worker-2"] {
        assert!(!lab.ip(node, &["link"]).contains("flannel.1"), "{node} keeps flannel.1");
        assert_eq!(lab.node_file(node, "/run/flannel/subnet.env"), None, "{node}");
        assert_eq!(lab.node_file(node, "/etc/cni/net.d/10-flannel.conflist"), None, "{node}");
    }
    lab.labctl(&["verify", "--variant", "flannel"]).any_stderr().status(1).run();
}

#[test]
fn another_nic_name_is_detected() {
    let root = Root::new();
    let lab = FlannelLab::up(
        &root,
        "fl-nic",
        &["--network", "10.236.2.0/24", "--workers", "2", "--nic", "eth1"],
    );
    let plan = lab.labctl(&["plan", CHAPTER, "--variant", "flannel"]).any_stderr().run();
    let out = stdout(&plan);
    assert!(
        out.contains("  worker-1  lab address 10.236.2.21 on eth1; default route via enp0s3\n"),
        "{out}"
    );
    assert!(out.contains("NAT trap: 10.0.2.15 is on enp0s3 of every worker"), "{out}");
    assert!(
        out.contains("  choice: --iface=eth1 (every worker holds its lab address on eth1)\n"),
        "{out}"
    );
}

#[test]
fn different_nic_names_give_the_per_node_form() {
    let root = Root::new();
    let lab = FlannelLab::up(&root, "fl-mix", &["--network", "10.236.3.0/24", "--workers", "2"]);
    // worker-1's lab NIC is called eth1 from now on.
    let ns = lab.netns("worker-1");
    for args in [
        &["link", "set", "enp0s8", "down"][..],
        &["link", "set", "enp0s8", "name", "eth1"],
        &["link", "set", "eth1", "up"],
    ] {
        let ok = Command::new("ip").arg("-n").arg(&ns).args(args).status().unwrap().success();
        assert!(ok, "ip {args:?}");
    }
    let plan = lab.labctl(&["plan", CHAPTER, "--variant", "flannel"]).any_stderr().run();
    let out = stdout(&plan);
    assert!(
        out.contains("  worker-1  lab address 10.236.3.21 on eth1; default route via enp0s3\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  choice: --iface-can-reach=10.236.3.10 (the NICs with the lab addresses are named differently (worker-0 enp0s8, worker-1 eth1); on every worker the route to the first controller (10.236.3.10) leaves through that NIC, and flannel v0.28.9 has --iface-can-reach)\n"
        ),
        "{out}"
    );
    lab.labctl(&["run", CHAPTER, "--variant", "flannel"]).any_stderr().run();
    assert_eq!(
        applied_flanneld_args(&lab.double),
        ["--ip-masq", "--kube-subnet-mgr", "--iface-can-reach=10.236.3.10"]
    );
    assert!(
        lab.ip("worker-1", &["-d", "link", "show", "flannel.1"])
            .contains("local 10.236.3.21 dev eth1")
    );
    lab.labctl(&["verify"]).any_stderr().run();

    // An old flannel has no --iface-can-reach: each node matches its own address instead.
    let old = lab.lab.dir().join("old-flannel.yaml");
    let text_inv = std::fs::read_to_string(&lab.inventory).unwrap();
    std::fs::write(&old, format!("{text_inv}flannel: {{ version: v0.18.1 }}\n")).unwrap();
    let plan = labctl_with(&lab.lab, &old, &["plan", CHAPTER, "--variant", "flannel"]).output();
    assert!(
        stdout(&plan).contains(r"  choice: --iface-regex=^(10\.236\.3\.20|10\.236\.3\.21)$ ("),
        "{}",
        text(&plan)
    );
}

#[test]
fn kubectl_on_this_machine_when_the_inventory_gives_a_kubeconfig() {
    require_root();
    let root = Root::new();
    let lab =
        Lab::up(&root, &unique_name("fl-local"), &["--network", "10.236.4.0/24", "--workers", "2"]);
    let status = lab.status();
    let double = KubeApiDouble::start("127.0.0.1", &flannel_nodes(&lab, &status));
    let inventory = lab.dir().join("with-kubeconfig.yaml");
    let base = std::fs::read_to_string(lab.dir().join("labctl.yaml")).unwrap();
    std::fs::write(
        &inventory,
        format!("{base}kubeconfig: {}\n", double.kubeconfig_file().display()),
    )
    .unwrap();

    let plan = labctl_with(&lab, &inventory, &["plan", CHAPTER, "--variant", "flannel"])
        .any_stderr()
        .run();
    let out = stdout(&plan);
    let kubeconfig = double.kubeconfig_file();
    assert!(
        out.contains(&format!(
            "\n## local\n  run       flannel-manifest: kubectl --kubeconfig {} apply --server-side --force-conflicts -f - && ",
            kubeconfig.display()
        )),
        "{out}"
    );
    assert!(!out.contains("## controller-0"), "{out}");
    labctl_with(&lab, &inventory, &["run", CHAPTER, "--variant", "flannel"]).any_stderr().run();
    let verify = labctl_with(&lab, &inventory, &["-v", "verify"]).any_stderr().run();
    assert!(
        stdout(&verify)
            .contains("✅ daemonset kube-flannel/kube-flannel-ds ready on local: daemon set"),
        "{}",
        text(&verify)
    );
    labctl_with(&lab, &inventory, &["reset", "--yes"]).any_stderr().run();
    assert_eq!(double.writes().iter().filter(|w| w.starts_with("DELETE")).count(), 6);
}

/// A rollout that never finishes makes `run` fail once `flannel.rollout_timeout` is up, with
/// kubectl's own words, and nothing is recorded as applied. Only this machine's kubectl acts
/// (`--only flannel-manifest`, a kubeconfig); the nodes are on loopback and never contacted.
#[test]
fn a_rollout_that_never_finishes_fails_after_the_inventorys_timeout() {
    let double = KubeApiDouble::start_never_ready("127.0.0.1");
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("labctl.yaml");
    std::fs::write(
        &inventory,
        format!(
            "provider: ssh\nnodes:\n  - {{ name: controller-0, role: controller, address: 127.0.0.10 }}\n  - {{ name: worker-0, role: worker, address: 127.0.0.20, pod_cidr: 10.200.0.0/24 }}\n  - {{ name: worker-1, role: worker, address: 127.0.0.21, pod_cidr: 10.200.1.0/24 }}\nnetwork: {{ cluster_cidr: 10.200.0.0/16, service_cidr: 10.32.0.0/24 }}\nflannel: {{ iface: enp0s8, rollout_timeout: 2 }}\nkubeconfig: {}\n",
            double.kubeconfig_file().display()
        ),
    )
    .unwrap();
    let run = Test::new()
        .inventory(&inventory)
        .args(["run", CHAPTER, "--variant", "flannel", "--only", "flannel-manifest"])
        .output();
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let err = stderr(&run);
    assert!(err.contains("--timeout=2s"), "{}", text(&run));
    assert!(err.contains("timed out waiting for the condition"), "{}", text(&run));
    assert!(stdout(&run).contains("run: 0 changed, 0 ok, 1 failed"), "{}", text(&run));
    let state = std::fs::read_to_string(dir.path().join(".labctl/state.json")).unwrap_or_default();
    assert!(!state.contains("flannel-manifest"), "a failed step was recorded as applied: {state}");
}

/// What `reset --hard` must restore on a worker: routes, links, and its CNI configs.
fn node_state(lab: &FlannelLab<'_>, node: &str) -> String {
    let pid = sshd_pid(&lab.lab, node);
    let out = Command::new("nsenter")
        .args([&format!("--target={pid}"), "--mount", "--", "sh", "-c"])
        .arg("ls -A /etc/cni/net.d /run")
        .output()
        .unwrap();
    let links: Vec<String> = lab
        .ip(node, &["-o", "link"])
        .lines()
        .map(|l| l.split(':').nth(1).unwrap_or_default().trim().to_string())
        .collect();
    format!(
        "{}links: {}\n{}",
        lab.ip(node, &["route"]),
        links.join(" "),
        String::from_utf8_lossy(&out.stdout)
    )
}

#[test]
fn reset_hard_removes_flannel_applied_by_hand_and_leaves_chapter_09() {
    let root = Root::new();
    let lab = FlannelLab::up(&root, "flhard", &["--network", "10.236.60.0/24", "--workers", "3"]);
    let workers = ["worker-0", "worker-1", "worker-2"];
    let start: Vec<String> = workers.iter().map(|w| node_state(&lab, w)).collect();
    assert!(start[0].contains("10-bridge.conf"), "{}", start[0]);

    // By hand, from the jumpbox: the rendered manifest applied with kubectl.
    let out_dir = root.path().join("rendered");
    lab.labctl(&["render", CHAPTER, "--variant", "flannel", "--out", out_dir.to_str().unwrap()])
        .any_stderr()
        .run();
    let manifest = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".flannel-manifest.yaml"))
        .expect("render wrote the manifest");
    let kubectl = |args: &[&str]| -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(lab.double.kubeconfig_file())
            .args(args)
            .output()
            .unwrap()
    };
    let apply = kubectl(&["apply", "--server-side", "-f", manifest.to_str().unwrap()]);
    assert!(apply.status.success(), "{}", text(&apply));
    assert!(lab.ip("worker-0", &["link"]).contains("flannel.1"));
    // Not the chapter's: a route to another network on worker-0.
    let other = Command::new("ip")
        .args(["-n", &lab.netns("worker-0"), "route", "add", "10.99.0.0/16", "via", "10.236.60.21"])
        .status()
        .unwrap();
    assert!(other.success());
    let by_hand: Vec<String> = workers.iter().map(|w| node_state(&lab, w)).collect();
    let verify = lab.labctl(&["verify", "--variant", "flannel"]).output();
    assert!(verify.status.success(), "the by-hand lab works:\n{}", text(&verify));

    let dry =
        lab.labctl(&["reset", "--hard", "--variant", "flannel", "--dry-run"]).any_stderr().run();
    let out = stdout(&dry);
    for line in [
        "controller-0  cluster-objects  daemonset.apps/kube-flannel-ds -n kube-flannel",
        "controller-0  cluster-objects  namespace/kube-flannel",
        "controller-0  cluster-objects  clusterrole.rbac.authorization.k8s.io/flannel",
        "worker-0      pod-routes       10.200.1.0/24 via 10.200.1.0 dev flannel.1",
        "worker-2      node-leftovers   file /etc/cni/net.d/10-flannel.conflist",
        "worker-2      node-leftovers   file /run/flannel/subnet.env",
        "worker-2      node-leftovers   link flannel.1",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(line) && l.ends_with("not made by labctl")),
            "no {line:?} in\n{out}"
        );
    }
    assert!(!out.contains("cni0"), "cni0 belongs to chapter 09's 10-bridge.conf:\n{out}");
    assert!(!out.contains("10.99.0.0"), "{out}");
    let now: Vec<String> = workers.iter().map(|w| node_state(&lab, w)).collect();
    assert_eq!(now, by_hand, "--dry-run changed a node");

    let hard = lab.labctl(&["reset", "--hard", "--variant", "flannel", "--yes"]).any_stderr().run();
    let out = stdout(&hard);
    for host in ["controller-0", "worker-0", "worker-1", "worker-2"] {
        assert!(out.contains(&format!("{host}: back at the start\n")), "{out}");
    }
    let left = kubectl(&["get", "-A", "daemonsets.apps,configmaps,serviceaccounts", "-o", "name"]);
    assert_eq!(stdout(&left), "", "{}", text(&left));
    let left = kubectl(&["get", "clusterroles,clusterrolebindings,namespaces", "-o", "name"]);
    assert!(!stdout(&left).contains("flannel"), "{}", text(&left));
    let now: Vec<String> = workers.iter().map(|w| node_state(&lab, w)).collect();
    assert_eq!(now[1..], start[1..]);
    assert!(now[0].contains("10.99.0.0/16 via 10.236.60.21"), "{}", now[0]);
    assert_eq!(
        now[0].lines().filter(|l| !l.starts_with("10.99.0.0/16")).collect::<Vec<_>>(),
        start[0].lines().collect::<Vec<_>>()
    );
    lab.labctl(&["verify", "--variant", "flannel"]).any_stderr().status(1).run();
    let again = lab.labctl(&["reset", "--hard", "--variant", "flannel", "--yes"]).output();
    assert!(stdout(&again).contains("nothing to remove"), "{}", text(&again));

    // labctl's run, then one worker down: it is named, exit 3, the others are reset.
    lab.labctl(&["run", CHAPTER, "--variant", "flannel"]).any_stderr().run();
    lab.labctl(&["verify"]).any_stderr().run();
    let pid = sshd_pid(&lab.lab, "worker-2").to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let hard = lab.labctl(&["reset", "--hard", "--yes"]).output();
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    assert_eq!(hard.status.code(), Some(3), "{}", text(&hard));
    let out = stdout(&hard);
    assert!(out.contains("worker-2: unreachable, not reset:"), "{out}");
    assert!(out.contains("worker-0: back at the start\n"), "{out}");
    assert!(out.contains("labctl's run at 20"), "{out}");
    assert!(lab.ip("worker-2", &["link"]).contains("flannel.1"));
    lab.labctl(&["reset", "--hard", "--yes"]).any_stderr().run();
    assert!(!lab.ip("worker-2", &["link"]).contains("flannel.1"));
    lab.labctl(&["run", CHAPTER, "--variant", "flannel"]).any_stderr().run();
    lab.labctl(&["verify"]).any_stderr().run();
}

#[test]
fn a_lab_link_too_small_for_vxlan_is_named_with_its_fix() {
    let root = Root::new();
    let lab = FlannelLab::up(&root, "fl-mtu", &["--network", "10.236.12.0/24", "--workers", "2"]);
    lab.labctl(&["run", CHAPTER, "--variant", "flannel"]).any_stderr().run();
    lab.labctl(&["verify"]).any_stderr().run();

    // worker-1's lab NIC now carries 1400 bytes: flannel's 1450-byte pod packets plus 50 bytes
    // of VXLAN no longer fit, small ones still do.
    let small = Command::new("ip")
        .args(["-n", &lab.netns("worker-1"), "link", "set", "enp0s8", "mtu", "1400"])
        .status()
        .unwrap();
    assert!(small.success());
    let verify = lab.labctl(&["verify"]).any_stderr().status(1).run();
    let out = stdout(&verify);
    let fix = "sudo ip link set dev enp0s8 mtu 1500";
    assert!(
        out.contains(&format!(
            "worker-1's lab interface enp0s8 has MTU 1400, and flannel's VXLAN needs 1500 (the pod MTU 1450 + 50): run `{fix}` on worker-1"
        )),
        "{out}"
    );
    let json = lab.labctl(&["verify", "--output", "json"]).output();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["diagnoses"].as_array().unwrap().len(), 1, "{value:#}");
    assert_eq!(value["diagnoses"][0]["code"], "mtu-too-large");
    let evidence = str_of(&value["pairs"][0]["data_plane"]["evidence"]);
    assert!(
        evidence.starts_with("2 of 2 pings answered; at the pod MTU 1450 with DF set: 0 of 2"),
        "{evidence}"
    );

    // The fix, as the student types it, works.
    let worker_1 = lab.lab.nodes().into_iter().find(|(n, _)| n == "worker-1").unwrap().1;
    lab.lab.ssh_ok(&worker_1, &format!("sudo {fix}"));
    lab.labctl(&["verify"]).any_stderr().run();
}
