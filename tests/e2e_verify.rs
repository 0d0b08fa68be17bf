//! verify on labs broken for real, on the sandbox: real sshd, the kernel's routing and
//! netfilter in each node's network namespace, the sandbox's real CNI pods. Needs root (as CI).
//! Every test has its own sandbox and lab network (10.237.N.0/24); traffic stays in it.
//!
//! Each test breaks a lab the way students do (by hand, over ssh, or with the tools Docker
//! uses), then asserts what verify says: the verdict, the cause, the one node it names, and a
//! fix that works when typed as shown. Several verifies at once must agree and leave no probe.

use crate::common::sandbox_lab;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use crate::harness::CONNECT_TIMEOUT_SECONDS;
use sandbox_lab::*;

const CHAPTER: &str = "11-pod-network-routes";

struct Chapter11<'r> {
    lab: Lab<'r>,
    inventory: PathBuf,
}

impl<'r> Chapter11<'r> {
    fn up(root: &'r Root, tag: &str, args: &[&str]) -> Chapter11<'r> {
        require_root();
        let lab = Lab::up(root, &unique_name(tag), args);
        let inventory = lab.dir().join("labctl.yaml");
        Chapter11 { lab, inventory }
    }

    fn command(&self, inventory: &Path, args: &[&str]) -> Test {
        self.lab.root.labctl(args).inventory(inventory)
    }

    fn labctl(&self, args: &[&str]) -> Test {
        self.command(&self.inventory, args)
    }

    fn netns(&self, node: &str) -> String {
        format!("labctl-{}-{node}", self.lab.name)
    }

    /// `ip netns exec NODE ARGS...` as root on this machine (what Docker does to a node).
    fn in_node(&self, node: &str, args: &[&str]) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.netns(node)])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?} on {node}: {}", text(&out));
    }

    /// `sudo COMMAND` on `node` over the real ssh client, as a student types it.
    fn by_hand(&self, node: &str, command: &str) -> String {
        let address = self.address(node);
        self.lab.ssh_ok(&address, &format!("sudo {command}"))
    }

    fn address(&self, node: &str) -> String {
        self.lab.nodes().into_iter().find(|(n, _)| n == node).unwrap().1
    }

    fn sshd_pid(&self, node: &str) -> String {
        std::fs::read_to_string(self.lab.dir().join("nodes").join(node).join("sshd.pid"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Whatever verify's probes left on `node`: links, namespaces and claims (the namespaces
    /// and claims live in the node's private /run, seen from its sshd's mount namespace).
    fn probes_left(&self, node: &str) -> Vec<String> {
        let links =
            Command::new("ip").args(["-n", &self.netns(node), "-o", "link"]).output().unwrap();
        let mut left: Vec<String> = String::from_utf8_lossy(&links.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .filter(|name| name.starts_with("lcp"))
            .map(|name| format!("link {name}"))
            .collect();
        let inside = Command::new("nsenter")
            .args(["-t", &self.sshd_pid(node), "-m", "--", "sh", "-c"])
            .arg("ls /run/netns 2>/dev/null | grep labctl-probe; ls /run/labctl/probes 2>/dev/null; true")
            .output()
            .unwrap();
        left.extend(String::from_utf8_lossy(&inside.stdout).lines().map(|l| format!("file {l}")));
        left
    }

    fn assert_no_probe_left(&self, workers: &[&str]) {
        for node in workers {
            let left = self.probes_left(node);
            assert!(left.is_empty(), "probe left on {node}: {left:?}");
        }
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("verify prints JSON: {}", text(out)))
}

/// The diagnoses of a JSON report, as (code, message, number of pairs).
fn causes(value: &serde_json::Value) -> Vec<(String, String, usize)> {
    value["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (str_of(&d["code"]), str_of(&d["message"]), d["pairs"].as_array().unwrap().len()))
        .collect()
}

const THREE: [&str; 3] = ["worker-0", "worker-1", "worker-2"];

#[test]
fn classic_breakages_are_named_on_their_node_with_a_fix_that_works() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "vfy", &["--network", "10.237.1.0/24", "--workers", "3"]);
    lab.labctl(&["run", CHAPTER]).any_stderr().run();
    lab.labctl(&["verify"]).any_stderr().run();

    // Docker's FORWARD policy DROP on worker-1: the gateway answers, the pods do not.
    lab.in_node("worker-1", &["iptables", "-P", "FORWARD", "DROP"]);
    let verify = lab.labctl(&["verify", "--output", "json"]).any_stderr().status(1).run();
    assert_eq!(
        causes(&json(&verify)),
        [(
            "forward-policy-drop".to_string(),
            "the iptables FORWARD policy on worker-1 is DROP (Docker sets it so), so worker-1 forwards no packets \
             between its pods and the other nodes: run `sudo iptables -P FORWARD ACCEPT` on worker-1"
                .to_string(),
            4
        )]
    );
    lab.by_hand("worker-1", "iptables -P FORWARD ACCEPT");
    lab.labctl(&["verify"]).any_stderr().run();

    // A DROP rule for worker-1's pod CIDR: the rule and the command that deletes it.
    lab.in_node("worker-1", &["iptables", "-A", "FORWARD", "-d", "10.200.1.0/24", "-j", "DROP"]);
    let verify = lab.labctl(&["verify"]).any_stderr().status(1).run();
    let out = stdout(&verify);
    let fix = "sudo iptables -D FORWARD -d 10.200.1.0/24 -j DROP";
    assert!(
        out.contains(&format!(
            "❌ the iptables rule `-A FORWARD -d 10.200.1.0/24 -j DROP` on worker-1 drops forwarded pod traffic (DROP): run `{fix}` on worker-1\n   (worker-0 → worker-1, worker-1 → worker-0, worker-1 → worker-2, worker-2 → worker-1)\n"
        )),
        "{out}"
    );
    lab.by_hand("worker-1", fix.trim_start_matches("sudo "));
    lab.labctl(&["verify"]).any_stderr().run();

    // A by-hand route via a wrong next hop (an address nobody answers): the exact command
    // for that node, and it works.
    lab.by_hand("worker-0", "ip route replace 10.200.1.0/24 via 10.237.1.99");
    let verify = lab.labctl(&["verify"]).any_stderr().status(1).run();
    let out = stdout(&verify);
    let fix = "sudo ip route replace 10.200.1.0/24 via 10.237.1.21";
    assert!(
        out.contains(&format!(
            "❌ worker-0 sends packets for worker-1's pod CIDR 10.200.1.0/24 via 10.237.1.99 (dev enp0s8), not via worker-1's address 10.237.1.21: run `{fix}` on worker-0, or `labctl run {CHAPTER} --replace`\n"
        )),
        "{out}"
    );
    lab.by_hand("worker-0", fix.trim_start_matches("sudo "));
    lab.labctl(&["verify"]).any_stderr().run();

    // ip_forward off on worker-2.
    lab.in_node("worker-2", &["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    let verify = lab.labctl(&["verify", "--output", "json"]).output();
    assert_eq!(verify.status.code(), Some(1));
    let found = causes(&json(&verify));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "ip-forward-off");
    assert!(
        found[0].1.ends_with("run `sudo sysctl -w net.ipv4.ip_forward=1` on worker-2"),
        "{found:?}"
    );
    lab.by_hand("worker-2", "sysctl -qw net.ipv4.ip_forward=1");

    // worker-2's CNI config copied from worker-1 (its subnet too): two nodes, one pod CIDR.
    lab.by_hand("worker-2", "sed -i s/10.200.2.0/10.200.1.0/ /etc/cni/net.d/10-bridge.conf");
    let verify = lab.labctl(&["verify"]).any_stderr().status(1).run();
    let out = stdout(&verify);
    assert!(
        out.contains("❌ worker-1 and worker-2 claim the same pod CIDR 10.200.1.0/24: every worker needs its own pod CIDR"),
        "{out}"
    );
    assert!(
        out.contains("❌ pod CIDR on worker-2: the node's pods are in 10.200.1.0/24 (its CNI config /etc/cni/net.d/10-bridge.conf), the inventory says 10.200.2.0/24"),
        "{out}"
    );
    lab.by_hand("worker-2", "sed -i s/10.200.1.0/10.200.2.0/ /etc/cni/net.d/10-bridge.conf");
    lab.labctl(&["verify"]).any_stderr().run();
    lab.assert_no_probe_left(&THREE);
}

#[test]
fn an_inventory_pod_cidr_that_is_not_the_nodes_fails_and_names_both() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "vcidr", &["--network", "10.237.2.0/24", "--workers", "3"]);
    // The student's copy of the inventory gives worker-1 the wrong pod CIDR.
    let wrong = lab.lab.dir().join("wrong.yaml");
    let text_of = std::fs::read_to_string(&lab.inventory).unwrap();
    assert!(text_of.contains("pod_cidr: 10.200.1.0/24"));
    std::fs::write(&wrong, text_of.replace("pod_cidr: 10.200.1.0/24", "pod_cidr: 10.200.10.0/24"))
        .unwrap();
    let run = lab.command(&wrong, &["run", CHAPTER]).output();
    assert!(run.status.success(), "{}", text(&run));
    let verify = lab.command(&wrong, &["verify"]).output();
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    let out = stdout(&verify);
    assert!(
        out.starts_with(
            "from → to  worker-0  worker-1  worker-2\nworker-0       —        ❌        ✅\nworker-1      ❌         —        ❌\nworker-2      ✅        ❌         —\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "❌ worker-1's pods are in 10.200.1.0/24 (its CNI config /etc/cni/net.d/10-bridge.conf), but the inventory says 10.200.10.0/24, so routes built from the inventory lead where no pod is: set `pod_cidr: 10.200.1.0/24` for worker-1 in the inventory, then run `labctl run {CHAPTER} --replace`\n   (worker-0 → worker-1, worker-1 → worker-0, worker-1 → worker-2, worker-2 → worker-1)\n"
        )),
        "{out}"
    );
    assert!(
        out.ends_with(
            "verify: 4 of 6 pairs fail (6 of 12 checks failed); 1 of 3 host checks fail\n"
        ),
        "{out}"
    );
}

/// Starts `labctl verify --output json` on the lab.
fn start_verify(lab: &Chapter11<'_>) -> Child {
    lab.command(&lab.inventory, &["verify", "--output", "json"]).spawn()
}

/// `n` verifies at once; their outputs.
fn at_once(lab: &Chapter11<'_>, n: usize) -> Vec<Output> {
    let children: Vec<Child> = (0..n).map(|_| start_verify(lab)).collect();
    children.into_iter().map(|c| c.wait_with_output().unwrap()).collect()
}

/// Waits until some probe exists on `node`.
fn wait_for_a_probe(lab: &Chapter11<'_>, node: &str) {
    let start = Instant::now();
    while lab.probes_left(node).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "no probe appeared on {node}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn verifies_at_once_agree_and_leave_no_probe_even_when_interrupted_or_killed() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "vpar", &["--network", "10.237.3.0/24", "--workers", "3"]);
    lab.labctl(&["run", CHAPTER]).any_stderr().run();

    // A good lab: two, then three at once, all pass.
    for n in [2, 3] {
        for out in at_once(&lab, n) {
            assert_eq!(out.status.code(), Some(0), "{n} at once: {}", text(&out));
            assert_eq!(json(&out)["summary"]["pairs_passed"], 6);
        }
        lab.assert_no_probe_left(&THREE);
    }

    // A broken lab: every verify finds the same cause.
    lab.in_node("worker-2", &["iptables", "-P", "FORWARD", "DROP"]);
    let alone = causes(&json(&start_verify(&lab).wait_with_output().unwrap()));
    assert_eq!(alone.len(), 1, "{alone:?}");
    assert!(alone[0].1.contains("on worker-2"), "{alone:?}");
    for n in [2, 3] {
        for out in at_once(&lab, n) {
            assert_eq!(out.status.code(), Some(1), "{}", text(&out));
            assert_eq!(causes(&json(&out)), alone);
        }
        lab.assert_no_probe_left(&THREE);
    }
    lab.in_node("worker-2", &["iptables", "-P", "FORWARD", "ACCEPT"]);

    // Ctrl-C while the probes exist: exit 130, and they are removed.
    let child = start_verify(&lab);
    wait_for_a_probe(&lab, "worker-0");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    lab.assert_no_probe_left(&THREE);

    // Killed outright, it leaves its probes; the next verify sees their labctl is gone,
    // removes them and passes.
    let mut child = start_verify(&lab);
    wait_for_a_probe(&lab, "worker-1");
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let leftovers: usize = THREE.iter().map(|n| lab.probes_left(n).len()).sum();
    assert!(leftovers > 0, "a killed verify left nothing to clean");
    let out = start_verify(&lab).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    lab.assert_no_probe_left(&THREE);
}

#[test]
fn an_unreachable_worker_is_exit_3_and_a_read_only_state_dir_blames_no_node() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "vro", &["--network", "10.237.4.0/24", "--workers", "2"]);
    lab.labctl(&["run", CHAPTER]).any_stderr().run();

    // `.labctl/` read-only (a bind mount in a private mount namespace): verify still works.
    let state = lab.inventory.parent().unwrap().join(".labctl");
    assert!(state.is_dir(), "{}", state.display());
    let script = format!(
        "mount --bind {s} {s} && mount -o remount,bind,ro {s} && touch {s}/probe 2>/dev/null && exit 99; exec \"$@\"",
        s = state.display()
    );
    let mut args = vec!["-m", "--", "sh", "-c", &script, "sh", labctl_bin()];
    let inventory = lab.inventory.to_str().unwrap().to_string();
    let seconds = CONNECT_TIMEOUT_SECONDS.to_string();
    args.extend(["-i", &inventory, "--connect-timeout", &seconds, "verify"]);
    let out = Command::new("unshare")
        .args(&args)
        .env("LABCTL_SANDBOX_ROOT", root.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).ends_with("verify: 2 of 2 pairs pass (4 checks); 2 of 2 host checks pass\n"),
        "{}",
        text(&out)
    );

    // worker-1 stops answering: exit 3, and it is named.
    let pid = lab.sshd_pid("worker-1");
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let verify = lab.labctl(&["verify"]).output();
    assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    assert_eq!(verify.status.code(), Some(3), "{}", text(&verify));
    assert!(stdout(&verify).contains("❌ worker-1 could not be reached"), "{}", text(&verify));
    lab.assert_no_probe_left(&["worker-0", "worker-1"]);
}

#[test]
fn one_worker_is_nothing_to_check_and_says_so() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "vone", &["--network", "10.237.5.0/24", "--workers", "1"]);
    let verify = lab.labctl(&["verify"]).any_stderr().status(1).run();
    let out = stdout(&verify);
    assert!(
        out.contains("❌ the lab has one worker (worker-0): pod routes connect two or more, so there is nothing to check\n"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "verify: nothing to check (one worker; it takes two workers); 1 of 1 host checks pass\n"
        ),
        "{out}"
    );
}
