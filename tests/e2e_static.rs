//! Chapter 11, static variant, end to end on the sandbox: real sshd, real kernel routing, the
//! sandbox's real CNI pods. Needs root (as CI). Every test has its own sandbox root, name and
//! lab network (10.232.N.0/24); traffic goes only to the test's own sandbox.

use crate::common::sandbox_lab;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use crate::harness::CONNECT_TIMEOUT_SECONDS;
use sandbox_lab::*;

const CHAPTER: &str = "11-pod-network-routes";

/// A sandbox plus the inventory it wrote.
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

    /// `labctl -i INVENTORY ARGS...` (no terminal: one line per event, no colour).
    fn labctl(&self, args: &[&str]) -> Test {
        self.lab.labctl(args)
    }

    /// (pod netns, pod address) of every worker.
    fn pods(&self) -> Vec<(String, String)> {
        let status = self.lab.status();
        status["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| !n["pod_netns"].is_null())
            .map(|n| (str_of(&n["pod_netns"]), str_of(&n["pod_address"])))
            .collect()
    }

    /// For every ordered pair of pods on different nodes, whether the first reaches the second.
    fn pod_reachability(&self) -> Vec<bool> {
        let pods = self.pods();
        let mut out = Vec::new();
        for (a, _) in &pods {
            for (b_ns, b) in &pods {
                if a != b_ns {
                    out.push(ping_until(a, b, Duration::from_secs(2)));
                }
            }
        }
        out
    }

    fn netns(&self, node: &str) -> String {
        format!("labctl-{}-{node}", self.lab.name)
    }

    fn routes(&self, node: &str) -> String {
        let out = std::process::Command::new("ip")
            .args(["-n", &self.netns(node), "route"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn sshd_pid(&self, node: &str) -> String {
        std::fs::read_to_string(self.lab.dir().join("nodes").join(node).join("sshd.pid"))
            .unwrap()
            .trim()
            .to_string()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_then_run_again_then_plan_then_reset() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "e2e", &["--network", "10.232.1.0/24", "--workers", "3"]);
    assert!(lab.pod_reachability().iter().all(|r| !r), "pods reach each other before any route");
    let verify = lab.labctl(&["verify"]).any_stderr().status(1).run();
    let out = stdout(&verify);
    assert!(
        out.starts_with(
            "from → to  worker-0  worker-1  worker-2\nworker-0       —        ❌        ❌\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("❌ worker-0 has no route to any other worker's pod CIDR: run `labctl run 11-pod-network-routes`, or on worker-0: `sudo ip route replace 10.200.1.0/24 via 10.232.1.21`, `sudo ip route replace 10.200.2.0/24 via 10.232.1.22`\n"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "verify: 6 of 6 pairs fail (12 of 12 checks failed); 3 of 3 host checks pass\n"
        ),
        "{out}"
    );

    let plan = lab.labctl(&["plan", CHAPTER]).any_stderr().run();
    assert!(
        stdout(&plan).ends_with("plan: 6 to change, 0 already done, 0 unknown\n"),
        "{}",
        text(&plan)
    );
    assert!(!lab.routes("worker-0").contains("10.200.1.0/24"), "plan changed something");

    let run = lab.labctl(&["run", CHAPTER]).any_stderr().run();
    let out = stdout(&run);
    assert!(
        out.starts_with(
            "HOST      pod-routes\nworker-0  changed\nworker-1  changed\nworker-2  changed\n"
        ),
        "{out}"
    );
    assert!(out.contains("run: 6 changed, 0 ok, 0 failed, 0 unreachable, 0 skipped"), "{out}");
    assert!(
        lab.routes("worker-0").contains("10.200.1.0/24 via 10.232.1.21 dev enp0s8"),
        "{}",
        lab.routes("worker-0")
    );
    assert!(lab.pod_reachability().iter().all(|r| *r), "pods do not reach each other after run");
    let junit = root.path().join("verify.xml");
    let verify =
        lab.labctl(&["-v", "verify", "--junit", junit.to_str().unwrap()]).any_stderr().run();
    let out = stdout(&verify);
    assert!(out.contains("✅ route worker-0 → worker-1: 10.200.1.254 via 10.232.1.21 dev enp0s8 src 10.232.1.20\n"), "{out}");
    // The probes sit on each node's bridge, the sandbox's real pods answer too, and packets
    // of the pods' MTU get through.
    assert!(
        out.contains("✅ ping  worker-2 → worker-0: 2 of 2 pings answered; at the pod MTU 1500 with DF set: 2 of 2; pod 10.200.0.2: 2 of 2\n"),
        "{out}"
    );
    assert!(
        out.contains("✅ pod CIDR on worker-1: 10.200.1.0/24 (its CNI config /etc/cni/net.d/10-bridge.conf and the inventory)\n"),
        "{out}"
    );
    assert!(
        out.ends_with("verify: 6 of 6 pairs pass (12 checks); 3 of 3 host checks pass\n"),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<testsuites name="labctl verify 11-pod-network-routes" tests="15" skipped="0" failures="0" errors="0">"#), "{xml}");
    // One host at a time (`-j 1`) gives the same verdicts.
    let json = lab.labctl(&["-j", "1", "verify", "--output", "json"]).output();
    let value: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("verify prints JSON");
    assert_eq!(value["passed"], true);
    assert_eq!(value["summary"]["pairs_passed"], 6);
    assert_eq!(value["pairs"][0]["route_evidence"]["passed"], true);
    // The probes are gone: no probe namespace or link is left on any node.
    for node in ["worker-0", "worker-1", "worker-2"] {
        let links = std::process::Command::new("ip")
            .args(["-n", &lab.netns(node), "link"])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&links.stdout).contains("lcp"),
            "probe link left on {node}"
        );
    }
    assert!(namespaces_with_prefix("labctl-probe-").iter().all(|n| !n.contains(&lab.lab.name)));

    let again = lab.labctl(&["run", CHAPTER]).output();
    assert!(stdout(&again).contains("run: 0 changed, 6 ok, 0 failed"), "{}", text(&again));
    let plan = lab.labctl(&["plan", CHAPTER]).output();
    assert!(
        stdout(&plan).ends_with("plan: nothing to change (6 already done)\n"),
        "{}",
        text(&plan)
    );

    // A route the user adds by hand is not labctl's to remove.
    let added = std::process::Command::new("ip")
        .args([
            "-n",
            &lab.netns("worker-0"),
            "route",
            "add",
            "10.200.77.0/24",
            "via",
            "10.232.1.22",
        ])
        .status()
        .unwrap();
    assert!(added.success());
    let reset = lab.labctl(&["-j", "2", "reset", CHAPTER, "--yes"]).any_stderr().run();
    assert!(stdout(&reset).contains("reset: 6 undone, 0 failed"), "{}", text(&reset));
    let routes = lab.routes("worker-0");
    assert!(!routes.contains("10.200.1.0/24") && !routes.contains("10.200.2.0/24"), "{routes}");
    assert!(
        routes.contains("10.200.77.0/24 via 10.232.1.22"),
        "reset removed a hand-made route:\n{routes}"
    );
    assert!(lab.pod_reachability().iter().all(|r| !r), "pods still reach each other after reset");
    lab.labctl(&["verify"]).any_stderr().status(1).run();

    let again = lab.labctl(&["reset", CHAPTER, "--yes"]).any_stderr().run();
    assert!(stdout(&again).contains("nothing to undo"), "{}", text(&again));
}

#[test]
fn another_lab_shape_other_nic_addresses_and_more_workers() {
    let root = Root::new();
    let lab = Chapter11::up(
        &root,
        "shape",
        &[
            "--network",
            "10.232.2.0/24",
            "--workers",
            "5",
            "--nic",
            "eth1",
            "--cluster-cidr",
            "10.244.0.0/16",
        ],
    );
    let run = lab.labctl(&["run", CHAPTER]).any_stderr().run();
    assert!(stdout(&run).contains("run: 20 changed"), "{}", text(&run));
    assert!(
        lab.routes("worker-3").contains("10.244.4.0/24 via 10.232.2.24 dev eth1"),
        "{}",
        lab.routes("worker-3")
    );
    assert!(lab.pod_reachability().iter().all(|r| *r));
    let verify = lab.labctl(&["verify"]).any_stderr().run();
    assert!(
        stdout(&verify)
            .ends_with("verify: 20 of 20 pairs pass (40 checks); 5 of 5 host checks pass\n"),
        "{}",
        text(&verify)
    );
    let again = lab.labctl(&["run", CHAPTER]).output();
    assert!(stdout(&again).contains("run: 0 changed, 20 ok, 0 failed"), "{}", text(&again));
    let plan = lab.labctl(&["plan", CHAPTER]).output();
    assert!(
        stdout(&plan).ends_with("plan: nothing to change (20 already done)\n"),
        "{}",
        text(&plan)
    );
    let reset = lab.labctl(&["reset", "--yes"]).output();
    assert!(stdout(&reset).contains("reset: 20 undone"), "{}", text(&reset));
    assert!(lab.pod_reachability().iter().all(|r| !r));
    let verify = lab.labctl(&["verify"]).any_stderr().status(1).run();
    assert!(
        stdout(&verify).contains("❌ worker-3 has no route to any other worker's pod CIDR"),
        "{}",
        text(&verify)
    );
}

/// A route to a peer's pod CIDR that labctl did not make (here a blackhole) is reported as a
/// conflict and left alone by `run`, so `reset` cannot remove it either; `--replace` takes its
/// place, and then the route is labctl's.
#[test]
fn a_route_in_the_way_is_a_conflict_and_survives_run_and_reset() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "conflict", &["--network", "10.232.51.0/24", "--workers", "2"]);
    let ip = |args: &[&str]| {
        let mut all = vec!["-n".to_string(), lab.netns("worker-0")];
        all.extend(args.iter().map(|a| a.to_string()));
        assert!(std::process::Command::new("ip").args(&all).status().unwrap().success());
    };
    ip(&["route", "add", "blackhole", "10.200.1.0/24"]);

    let plan = lab.labctl(&["plan", CHAPTER]).any_stderr().status(1).run();
    assert!(
        stdout(&plan).contains("plan: 1 to change, 0 already done, 0 unknown, 1 in conflict\n"),
        "{}",
        text(&plan)
    );

    let run = lab.labctl(&["run", CHAPTER]).any_stderr().status(1).run();
    assert!(
        stderr(&run).contains(
            "error: worker-0: pod-routes (peer worker-1): conflict: route blackhole 10.200.1.0/24 is in the way; planned: via 10.232.51.21; left alone (`--replace` replaces it)\n"
        ),
        "{}",
        text(&run)
    );
    assert!(
        stdout(&run)
            .contains("run: 1 changed, 0 ok, 0 failed, 0 unreachable, 0 skipped, 1 in conflict"),
        "{}",
        text(&run)
    );
    assert!(
        lab.routes("worker-0").contains("blackhole 10.200.1.0/24"),
        "{}",
        lab.routes("worker-0")
    );
    assert!(
        lab.routes("worker-1").contains("10.200.0.0/24 via 10.232.51.20"),
        "{}",
        lab.routes("worker-1")
    );

    let reset = lab.labctl(&["reset", CHAPTER, "--yes"]).any_stderr().run();
    assert!(stdout(&reset).contains("reset: 1 undone, 0 failed"), "{}", text(&reset));
    assert!(
        lab.routes("worker-0").contains("blackhole 10.200.1.0/24"),
        "reset removed the user's route:\n{}",
        lab.routes("worker-0")
    );
    assert!(!lab.routes("worker-1").contains("10.200.0.0/24"), "{}", lab.routes("worker-1"));

    lab.labctl(&["run", CHAPTER, "--replace"]).any_stderr().run();
    assert!(
        lab.routes("worker-0").contains("10.200.1.0/24 via 10.232.51.21"),
        "{}",
        lab.routes("worker-0")
    );
    lab.labctl(&["verify"]).any_stderr().run();
    let reset = lab.labctl(&["reset", CHAPTER, "--yes"]).output();
    assert!(stdout(&reset).contains("reset: 2 undone, 0 failed"), "{}", text(&reset));
    assert!(!lab.routes("worker-0").contains("10.200.1.0/24"), "{}", lab.routes("worker-0"));
}

/// `sudo labctl sandbox up`, then `labctl` as the user who ran sudo, without sudo: the README's
/// way. The user here is `nobody`, through SUDO_UID/SUDO_GID as sudo sets them.
#[test]
fn after_sudo_sandbox_up_the_user_runs_the_chapter_without_sudo() {
    require_root();
    let root = Root::new();
    let name = unique_name("user");
    // The test's sandbox root must be reachable by `nobody` (a real one is under /run/labctl).
    let open = |p: &std::path::Path| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap()
    };
    open(root.path());
    let lab = Lab::up_with_env(
        &root,
        &name,
        &["--network", "10.232.50.0/24", "--workers", "2"],
        &[("SUDO_UID", "65534"), ("SUDO_GID", "65534")],
    );
    let bin = root.path().join("labctl");
    std::fs::copy(labctl_bin(), &bin).unwrap();
    open(&bin);
    let inventory = lab.dir().join("labctl.yaml");
    let as_user = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&bin)
            .args(["-i", inventory.to_str().unwrap()])
            .args(["--connect-timeout", &CONNECT_TIMEOUT_SECONDS.to_string()])
            .args(args)
            .env("HOME", root.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let run = as_user(&["run", CHAPTER]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(stdout(&run).contains("run: 2 changed"), "{}", text(&run));
    let verify = as_user(&["verify"]);
    assert!(verify.status.success(), "{}", text(&verify));
    let reset = as_user(&["reset", "--yes"]);
    assert!(stdout(&reset).contains("reset: 2 undone"), "{}", text(&reset));
    use std::os::unix::fs::MetadataExt;
    let state = std::fs::metadata(lab.dir().join(".labctl/state.json")).unwrap();
    assert_eq!(state.uid(), 65534);
}

#[test]
fn a_wrong_key_is_exit_3_with_the_key_named() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "key", &["--network", "10.232.3.0/24", "--workers", "2"]);
    let other_key = root.path().join("other_key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f", other_key.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(made.success());
    let inventory = std::fs::read_to_string(&lab.inventory).unwrap();
    let key_line = inventory.lines().find(|l| l.contains("identity_file:")).unwrap();
    let changed = inventory.replace(key_line, &format!("  identity_file: {}", other_key.display()));
    let copy = root.path().join("wrong-key.yaml");
    std::fs::write(&copy, changed).unwrap();
    let out = root.labctl(["-i", copy.to_str().unwrap(), "run", CHAPTER]).output();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: worker-0: cannot log in to `worker-0` as `vagrant` at 10.232.3.20:22: the server accepted none of the keys tried (`{}`)",
            other_key.display()
        )),
        "{err}"
    );
    assert!(!lab.routes("worker-0").contains("10.200.1.0/24"));
}

#[test]
fn a_changed_host_key_is_refused_and_nothing_runs_there() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "hostkey", &["--network", "10.232.4.0/24", "--workers", "2"]);
    lab.labctl(&["plan", CHAPTER]).any_stderr().run();
    // The machine "was rebuilt": labctl's known_hosts now holds another key for worker-1.
    let known_hosts = lab.inventory.parent().unwrap().join(".labctl/known_hosts");
    let text_before = std::fs::read_to_string(&known_hosts).unwrap();
    let fake = root.path().join("fake_host_key");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f", fake.to_str().unwrap()])
        .status()
        .unwrap();
    let fake_pub = std::fs::read_to_string(fake.with_extension("pub")).unwrap();
    let fake_key: Vec<&str> = fake_pub.split_whitespace().take(2).collect();
    let replaced: String = text_before
        .lines()
        .map(|l| {
            if l.starts_with("10.232.4.21 ") {
                format!("10.232.4.21 {}", fake_key.join(" "))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&known_hosts, replaced + "\n").unwrap();

    let run = lab.labctl(&["run", CHAPTER]).any_stderr().status(3).run();
    let err = stderr(&run);
    assert!(
        err.contains("error: worker-1: the host key of `worker-1` (10.232.4.21:22) has changed"),
        "{err}"
    );
    assert!(
        err.contains(&format!("ssh-keygen -R 10.232.4.21 -f {}", known_hosts.display())),
        "{err}"
    );
    assert!(
        !lab.routes("worker-1").contains("10.200.0.0/24"),
        "a command ran on the host with the changed key"
    );
    assert!(lab.routes("worker-0").contains("10.200.1.0/24"), "the other host was not done");

    // With checking `off` the changed key is let through, and said so on stderr.
    let yaml = std::fs::read_to_string(&lab.inventory).unwrap();
    assert!(yaml.contains("host_key_checking: accept-new"), "{yaml}");
    std::fs::write(
        &lab.inventory,
        yaml.replace("host_key_checking: accept-new", "host_key_checking: off"),
    )
    .unwrap();
    let off = lab.labctl(&["run", CHAPTER]).any_stderr().run();
    assert!(
        stderr(&off).contains(
            "warning: host key checking is off: the host key of `worker-1` (10.232.4.21:22) is SHA256:"
        ) && stderr(&off).contains(&format!("but `{}` line ", known_hosts.display()))
            && stderr(&off).contains(&format!(
                "help: if the machine was rebuilt, forget its old key with `ssh-keygen -R 10.232.4.21 -f {}`",
                known_hosts.display()
            )),
        "{}",
        text(&off)
    );
    assert!(lab.routes("worker-1").contains("10.200.0.0/24"), "{}", lab.routes("worker-1"));
}

#[test]
fn an_unreachable_node_stops_only_itself_and_a_second_run_finishes_the_rest() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "down", &["--network", "10.232.5.0/24", "--workers", "3"]);
    let pid = lab.sshd_pid("worker-2");
    // A stopped sshd accepts the TCP connection but never answers: the handshake times out.
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let run = lab.labctl(&["run", CHAPTER]).output();
    std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    assert_eq!(run.status.code(), Some(3), "{}", text(&run));
    let out = stdout(&run);
    assert!(out.contains("worker-2  unreachable"), "{out}");
    assert!(out.contains("run: 4 changed, 0 ok, 0 failed, 2 unreachable"), "{out}");
    assert!(
        stderr(&run)
            .contains("error: worker-2: `worker-2` at 10.232.5.22:22 did not answer within 5s"),
        "{}",
        text(&run)
    );

    let again = lab.labctl(&["run", CHAPTER]).any_stderr().run();
    assert!(
        stdout(&again).contains("run: 2 changed, 4 ok, 0 failed, 0 unreachable"),
        "{}",
        text(&again)
    );
    assert!(lab.pod_reachability().iter().all(|r| *r));
}

#[test]
fn a_second_labctl_on_the_same_lab_is_refused_while_the_first_holds_the_lock() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "lock", &["--network", "10.232.6.0/24", "--workers", "2"]);
    let state_dir = lab.inventory.parent().unwrap().join(".labctl");
    std::fs::create_dir_all(&state_dir).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state_dir.join("lock"))
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(state_dir.join("lock"), "pid 4242 on host classroom").unwrap();
    let run = lab.labctl(&["run", CHAPTER]).any_stderr().status(2).run();
    assert!(
        stderr(&run).contains("the lab is locked by pid 4242 on host classroom"),
        "{}",
        text(&run)
    );
    // verify takes no lock: it runs (and fails, nothing is routed yet) while the lab is locked.
    let verify = lab.labctl(&["verify"]).any_stderr().status(1).run();
    assert!(!stderr(&verify).contains("locked"), "{}", text(&verify));
    drop(lock);
    lab.labctl(&["run", CHAPTER]).any_stderr().run();
}

#[test]
fn verify_names_ip_forward_off_on_the_receiving_node() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "fwd", &["--network", "10.232.7.0/24", "--workers", "2"]);
    lab.labctl(&["run", CHAPTER]).any_stderr().run();
    let off = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.netns("worker-1"), "sysctl", "-qw", "net.ipv4.ip_forward=0"])
        .status()
        .unwrap();
    assert!(off.success());
    let verify = lab.labctl(&["verify", "-v"]).any_stderr().status(1).run();
    let out = stdout(&verify);
    assert!(out.contains("✅ route worker-0 → worker-1"), "{out}");
    assert!(out.contains("❌ ping  worker-0 → worker-1: 0 of 2 pings answered"), "{out}");
    assert!(out.contains("ip_forward"), "the diagnosis does not name ip_forward:\n{out}");
}

/// `sudo CMD` on `node` over the real ssh client, as a student types it.
fn by_hand(lab: &Chapter11<'_>, node: &str, command: &str) {
    let address = lab.lab.nodes().into_iter().find(|(n, _)| n == node).unwrap().1;
    lab.lab.ssh_ok(&address, &format!("sudo {command}"));
}

/// Every worker's routing table, as `ip route` prints it.
fn tables(lab: &Chapter11<'_>) -> Vec<String> {
    ["worker-0", "worker-1", "worker-2"].iter().map(|w| lab.routes(w)).collect()
}

#[test]
fn reset_hard_brings_a_lab_done_by_hand_back_to_the_start() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "hard", &["--network", "10.232.60.0/24", "--workers", "3"]);
    let start = tables(&lab);
    // The student's chapter 11, by hand; worker-2's route to worker-1 goes via an address
    // nobody answers. Plus routes that are not the chapter's and must stay.
    for (node, routes) in [
        ("worker-0", [("10.200.1.0/24", "10.232.60.21"), ("10.200.2.0/24", "10.232.60.22")]),
        ("worker-1", [("10.200.0.0/24", "10.232.60.20"), ("10.200.2.0/24", "10.232.60.22")]),
        ("worker-2", [("10.200.0.0/24", "10.232.60.20"), ("10.200.1.0/24", "10.232.60.99")]),
    ] {
        for (cidr, via) in routes {
            by_hand(&lab, node, &format!("ip route add {cidr} via {via}"));
        }
    }
    by_hand(&lab, "worker-0", "ip route add 10.99.0.0/16 via 10.232.60.21");
    by_hand(&lab, "worker-1", "ip route add 192.168.50.0/24 via 10.232.60.22");
    let by_hand_tables = tables(&lab);
    assert!(lab.pod_reachability().iter().filter(|r| **r).count() >= 4, "the by-hand lab works");

    // Plain reset knows nothing of it.
    let reset = lab.labctl(&["reset", "--yes"]).any_stderr().run();
    assert!(stdout(&reset).contains("reset: nothing to undo"), "{}", text(&reset));

    // --dry-run lists every route, made by nobody labctl knows, and changes nothing.
    let dry = lab.labctl(&["reset", "--hard", "--dry-run"]).any_stderr().run();
    assert_eq!(
        stdout(&dry),
        "reset --hard: 11-pod-network-routes (variant static): 6 item(s) of its footprint on 3 host(s)\n\
         HOST      PART        ITEM                                       MADE BY\n\
         worker-0  pod-routes  10.200.1.0/24 via 10.232.60.21 dev enp0s8  not made by labctl\n\
         worker-0  pod-routes  10.200.2.0/24 via 10.232.60.22 dev enp0s8  not made by labctl\n\
         worker-1  pod-routes  10.200.0.0/24 via 10.232.60.20 dev enp0s8  not made by labctl\n\
         worker-1  pod-routes  10.200.2.0/24 via 10.232.60.22 dev enp0s8  not made by labctl\n\
         worker-2  pod-routes  10.200.0.0/24 via 10.232.60.20 dev enp0s8  not made by labctl\n\
         worker-2  pod-routes  10.200.1.0/24 via 10.232.60.99 dev enp0s8  not made by labctl\n\
         reset --hard --dry-run: 6 item(s) would be removed; nothing was changed\n"
    );
    assert_eq!(tables(&lab), by_hand_tables, "--dry-run changed a routing table");

    // Off a terminal, without --yes: refused, nothing changed.
    let refused = lab.labctl(&["reset", "--hard"]).any_stderr().status(2).run();
    assert!(stderr(&refused).contains("pass `--yes` to confirm"), "{}", text(&refused));
    assert_eq!(tables(&lab), by_hand_tables, "a refused reset changed a routing table");

    let hard = lab.labctl(&["reset", "--hard", "--yes"]).any_stderr().run();
    let out = stdout(&hard);
    assert!(
        out.contains("worker-2  pod-routes  10.200.1.0/24 via 10.232.60.99 dev enp0s8  not made by labctl  removed\n"),
        "{out}"
    );
    assert!(
        out.contains("worker-0: back at the start\nworker-1: back at the start\nworker-2: back at the start\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "reset --hard: 0 undone by labctl, 6 removed, 0 host(s) not at the start, 0 unreachable"
        ),
        "{out}"
    );
    // Exactly the chapter's routes went: the others stay, the tables are as before plus them.
    assert!(lab.routes("worker-0").contains("10.99.0.0/16 via 10.232.60.21"));
    assert!(lab.routes("worker-1").contains("192.168.50.0/24 via 10.232.60.22"));
    let mut expected = start.clone();
    expected[0] = with_route(&expected[0], "10.99.0.0/16 via 10.232.60.21 dev enp0s8 \n");
    expected[1] = with_route(&expected[1], "192.168.50.0/24 via 10.232.60.22 dev enp0s8 \n");
    assert_eq!(tables(&lab), expected);
    assert!(lab.pod_reachability().iter().all(|r| !r), "pods still reach each other");
    lab.labctl(&["verify"]).any_stderr().status(1).run();

    let again = lab.labctl(&["reset", "--hard", "--yes"]).any_stderr().run();
    assert!(stdout(&again).contains("0 item(s) of its footprint"), "{}", text(&again));
    assert!(stdout(&again).contains("nothing to remove"), "{}", text(&again));

    let run = lab.labctl(&["run", CHAPTER]).any_stderr().run();
    assert!(stdout(&run).contains("run: 6 changed"), "{}", text(&run));
    lab.labctl(&["verify"]).any_stderr().run();
}

/// `table` with `line` put where `ip route` sorts it (by destination, as the kernel lists).
fn with_route(table: &str, line: &str) -> String {
    let mut lines: Vec<&str> = table.lines().collect();
    let key = |l: &str| -> (u32, u32) {
        let dest = l.split_whitespace().next().unwrap_or_default();
        if dest == "default" {
            return (0, 0);
        }
        let (addr, len) = dest.split_once('/').unwrap_or((dest, "32"));
        let ip: std::net::Ipv4Addr = addr.parse().unwrap();
        (u32::from(ip), len.parse().unwrap())
    };
    let new = line.trim_end_matches('\n');
    let at = lines.iter().position(|l| key(l) > key(new)).unwrap_or(lines.len());
    lines.insert(at, new);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn reset_hard_after_run_removes_labctls_routes_and_a_students_summary_route() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "hardrun", &["--network", "10.232.61.0/24", "--workers", "3"]);
    let start = tables(&lab);
    lab.labctl(&["run", CHAPTER]).any_stderr().run();
    by_hand(&lab, "worker-0", "ip route add 10.200.0.0/16 via 10.232.61.22");
    let tables_now = tables(&lab);
    // Plain reset's --dry-run: labctl's six actions, nothing of the student's.
    let dry = lab.labctl(&["reset", "--dry-run"]).any_stderr().run();
    let out = stdout(&dry);
    assert!(
        out.contains("worker-0: would undo pod-routes (peer worker-1), applied at 20"),
        "{out}"
    );
    assert!(
        out.ends_with("reset --dry-run: 6 action(s) would be undone; nothing was changed\n"),
        "{out}"
    );
    assert!(!out.contains("10.200.0.0/16"), "{out}");
    assert_eq!(tables(&lab), tables_now, "reset --dry-run changed a routing table");
    let dry = lab.labctl(&["reset", "--hard", "--dry-run"]).output();
    let out = stdout(&dry);
    assert!(
        out.contains(
            "worker-0  pod-routes  10.200.0.0/16 via 10.232.61.22 dev enp0s8  not made by labctl\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "worker-0  pod-routes  10.200.1.0/24 via 10.232.61.21 dev enp0s8  labctl's run at 20"
        ),
        "{out}"
    );
    let hard = lab.labctl(&["reset", "--hard", "--yes"]).any_stderr().run();
    let out = stdout(&hard);
    assert!(out.contains("  undone by labctl\n"), "{out}");
    assert!(
        out.contains("reset --hard: 6 undone by labctl, 1 removed, 0 host(s) not at the start"),
        "{out}"
    );
    assert_eq!(tables(&lab), start);
    // The state forgot labctl's routes: run applies them all again.
    let state = std::fs::read_to_string(lab.inventory.parent().unwrap().join(".labctl/state.json"))
        .unwrap();
    assert!(state.contains("\"applied\": []"), "{state}");
    let run = lab.labctl(&["run", CHAPTER]).output();
    assert!(stdout(&run).contains("run: 6 changed"), "{}", text(&run));
    lab.labctl(&["verify"]).any_stderr().run();
}

#[test]
fn reset_hard_names_an_unreachable_node_and_resets_the_others() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "harddown", &["--network", "10.232.62.0/24", "--workers", "3"]);
    let start = tables(&lab);
    lab.labctl(&["run", CHAPTER]).any_stderr().run();
    let before = tables(&lab);
    let pid = lab.sshd_pid("worker-2");
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let hard = lab.labctl(&["reset", "--hard", "--yes"]).output();
    std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    assert_eq!(hard.status.code(), Some(3), "{}", text(&hard));
    let out = stdout(&hard);
    assert!(out.contains("worker-0: back at the start\nworker-1: back at the start\n"), "{out}");
    assert!(out.contains("worker-2: unreachable, not reset: `worker-2` at 10.232.62.22:22 did not answer within 5s"), "{out}");
    assert!(stderr(&hard).contains("error: worker-2:"), "{}", text(&hard));
    let now = tables(&lab);
    assert_eq!(&now[..2], &start[..2]);
    assert_eq!(now[2], before[2], "worker-2 was changed");
    // worker-2's routes stay recorded: the next reset --hard finishes the job.
    let hard = lab.labctl(&["reset", "--hard", "--yes"]).any_stderr().run();
    assert!(
        stdout(&hard).contains("reset --hard: 2 undone by labctl, 0 removed"),
        "{}",
        text(&hard)
    );
    assert_eq!(tables(&lab), start);
}

/// `plan --detailed-exitcode` tells drift by its exit code alone (0 nothing to do, 2 changes
/// pending, 1 an error), and `plan --output json` gives each host's exact commands: the ones
/// `run` then runs.
#[test]
fn plan_json_and_detailed_exitcode_show_drift() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "drift", &["--network", "10.232.8.0/24", "--workers", "2"]);
    let pending =
        lab.labctl(&["plan", CHAPTER, "--detailed-exitcode"]).any_stderr().status(2).run();
    assert!(stderr(&pending).is_empty(), "{}", text(&pending));
    assert!(stdout(&pending).ends_with("plan: 2 to change, 0 already done, 0 unknown\n"));

    // -v shows each command as it runs, per host, on stderr; -vv its result and output too.
    let verbose = lab.labctl(&["-v", "plan", CHAPTER]).any_stderr().run();
    let shown = stderr(&verbose);
    let line =
        shown.lines().find(|l| l.contains("ip route show exact 10.200.1.0/24 via 10.232.8.21"));
    assert!(line.is_some_and(|l| l.starts_with("worker-0: $ ")), "{}", text(&verbose));
    assert!(!stderr(&verbose).contains("exit 1"), "{}", text(&verbose));
    assert_eq!(stdout(&verbose), stdout(&pending), "-v changes only stderr");
    let very = lab.labctl(&["-vv", "plan", CHAPTER]).output();
    assert!(stderr(&very).contains("\nworker-0:   exit 1\n"), "{}", text(&very));

    let json = lab.labctl(&["plan", CHAPTER, "--output", "json"]).any_stderr().run();
    let plan: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("plan JSON");
    assert_eq!(plan["chapter"], CHAPTER);
    assert_eq!(plan["variant"], "static");
    assert_eq!(
        plan["summary"],
        serde_json::json!({"change": 2, "done": 0, "unknown": 0, "conflict": 0})
    );
    let hosts = plan["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0]["host"], "worker-0");
    assert_eq!(hosts[0]["address"], "10.232.8.20");
    let action = &hosts[0]["actions"][0];
    assert_eq!(action["step"], "pod-routes");
    assert_eq!(action["item"], "peer worker-1");
    assert_eq!(action["status"], "change");
    assert_eq!(action["run"], "ip route replace 10.200.1.0/24 via 10.232.8.21");
    assert!(action["check"].as_str().unwrap().contains("ip route show exact 10.200.1.0/24"));
    assert!(action["undo"].as_str().unwrap().contains("ip route del 10.200.1.0/24"));

    // run --output json: what happened to every action, as docs/json.md says.
    let run = lab.labctl(&["run", CHAPTER, "--output", "json"]).any_stderr().run();
    let ran: serde_json::Value = serde_json::from_str(&stdout(&run)).expect("run JSON");
    assert_eq!(ran["command"], "run");
    assert_eq!(ran["summary"]["changed"], 2);
    assert_eq!(ran["hosts"][0]["host"], "worker-0");
    assert_eq!(ran["hosts"][0]["actions"][0]["step"], "pod-routes");
    assert_eq!(ran["hosts"][0]["actions"][0]["status"], "changed");
    assert!(ran["log"].as_str().unwrap().contains("/.labctl/logs/"), "{ran}");
    let done = lab
        .labctl(&["plan", CHAPTER, "--detailed-exitcode", "--output", "json"])
        .any_stderr()
        .status(0)
        .run();
    let plan: serde_json::Value = serde_json::from_str(&stdout(&done)).unwrap();
    assert_eq!(plan["hosts"][0]["actions"][0]["status"], "done");

    // A route lost, as after a reboot: drift again.
    let lost = std::process::Command::new("ip")
        .args(["-n", &lab.netns("worker-1"), "route", "del", "10.200.0.0/24"])
        .status()
        .unwrap();
    assert!(lost.success());
    let drift = lab.labctl(&["plan", CHAPTER, "--detailed-exitcode"]).any_stderr().status(2).run();
    assert!(
        stdout(&drift).contains("\n## worker-1\n  run       pod-routes (peer worker-0): "),
        "{}",
        text(&drift)
    );

    // Any error is 1, so that 2 means only "changes pending".
    let bad = lab
        .labctl(&["plan", "no-such-chapter", "--detailed-exitcode"])
        .any_stderr()
        .status(1)
        .run();
    assert!(stderr(&bad).starts_with("error: unknown chapter `no-such-chapter`"), "{}", text(&bad));

    let reset = lab.labctl(&["reset", "--yes", "--output", "json"]).any_stderr().run();
    let undone: serde_json::Value = serde_json::from_str(&stdout(&reset)).expect("reset JSON");
    assert_eq!(undone["command"], "reset");
    // worker-1's route was deleted by hand and re-added by no run: one undo checks and skips it.
    assert_eq!(undone["hosts"].as_array().unwrap().len(), 2, "{undone}");
}

/// Saying no at `reset`'s prompt (on a real terminal, from `script`) changes nothing and
/// exits 1: the user's choice, not bad input.
#[test]
fn declining_reset_at_its_prompt_changes_nothing_and_exits_1() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "decline", &["--network", "10.232.9.0/24", "--workers", "2"]);
    lab.labctl(&["run", CHAPTER]).any_stderr().run();
    let command = format!(
        "{} -i {} --connect-timeout {CONNECT_TIMEOUT_SECONDS} reset {CHAPTER}",
        labctl_bin(),
        lab.inventory.display()
    );
    let mut script = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("LABCTL_SANDBOX_ROOT", root.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script runs");
    use std::io::Write as _;
    script.stdin.take().unwrap().write_all(b"n\n").unwrap();
    let out = script.wait_with_output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("Go on? [y/N]"), "{all}");
    assert!(all.contains("error: reset cancelled; nothing was changed"), "{all}");
    assert!(lab.routes("worker-0").contains("10.200.1.0/24"), "the route went: {all}");
}

/// Root running labctl on a user's lab (an instructor, `sudo labctl run`) leaves `.labctl/`
/// the user's; a user who may read `.labctl/` but not write it can still `plan`; and what
/// cannot be read or written says whose it is and what to do.
#[test]
fn labctl_dir_stays_the_lab_owners_whoever_runs() {
    require_root();
    let root = Root::new();
    let name = unique_name("owner");
    let open = |p: &std::path::Path| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap()
    };
    open(root.path());
    let lab = Lab::up_with_env(
        &root,
        &name,
        &["--network", "10.232.10.0/24", "--workers", "2"],
        &[("SUDO_UID", "65534"), ("SUDO_GID", "65534")],
    );
    let bin = root.path().join("labctl");
    std::fs::copy(labctl_bin(), &bin).unwrap();
    open(&bin);
    let inventory = lab.dir().join("labctl.yaml");
    let labctl_as = |uid: &str, args: &[&str]| {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()])
            .arg("--")
            .arg(&bin)
            .args(["-i", inventory.to_str().unwrap()])
            .args(["--connect-timeout", &CONNECT_TIMEOUT_SECONDS.to_string()])
            .args(args)
            .env("HOME", root.path())
            .env("NO_COLOR", "1");
        cmd.output().unwrap()
    };
    let state_dir = lab.dir().join(".labctl");
    let owners = || {
        use std::os::unix::fs::MetadataExt;
        let mut found = Vec::new();
        let mut todo = vec![state_dir.clone()];
        while let Some(p) = todo.pop() {
            let meta = std::fs::symlink_metadata(&p).unwrap();
            found.push((p.clone(), meta.uid()));
            if meta.is_dir() {
                todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
        }
        found
    };

    // Root runs the chapter on nobody's lab: everything it wrote is nobody's.
    let run = labctl_as("0", &["run", CHAPTER]);
    assert!(run.status.success(), "{}", text(&run));
    let found = owners();
    assert!(found.len() >= 4, "{found:?}");
    assert!(found.iter().all(|(_, uid)| *uid == 65534), "root left files of its own: {found:?}");
    let reset = labctl_as("65534", &["reset", "--yes"]);
    assert!(reset.status.success(), "{}", text(&reset));

    // `.labctl/` readable but not writable by nobody: plan works, run says whose it is.
    let status = std::process::Command::new("chown")
        .args(["-R", "0:0", state_dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = std::process::Command::new("chmod")
        .args(["-R", "a+rX", state_dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let plan = labctl_as("65534", &["plan", CHAPTER]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(stdout(&plan).contains("plan: 2 to change"), "{}", text(&plan));
    let run = labctl_as("65534", &["run", CHAPTER]);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    let lock = state_dir.join("lock");
    assert!(
        stderr(&run).starts_with(&format!(
            "error: cannot write `{}`: permission denied: `{}` belongs to root and labctl runs as nobody\n  \
             help: run labctl as root, or give the lab's state to nobody with `sudo chown -R nobody {}`\n",
            lock.display(),
            lock.display(),
            state_dir.display()
        )),
        "{}",
        text(&run)
    );

    // Not even readable: the state's read names the directory's owner.
    std::fs::set_permissions(&state_dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .unwrap();
    let plan = labctl_as("65534", &["plan", CHAPTER]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    assert!(
        stderr(&plan).starts_with(&format!(
            "error: cannot read `{}`: permission denied: `{}` belongs to root",
            state_dir.join("state.json").display(),
            state_dir.display()
        )),
        "{}",
        text(&plan)
    );
}

/// Reverses the order labctl recorded its actions in, as a run whose hosts finished in
/// another order would have left them.
fn reverse_recorded_order(lab: &Chapter11<'_>) {
    let path = lab.inventory.parent().unwrap().join(".labctl/state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let applied = state["chapters"][CHAPTER]["applied"].as_array_mut().unwrap();
    applied.reverse();
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
}

/// Every key of every object in `value`, for checking that docs/json.md names them.
fn keys_of(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                out.push(key.clone());
                keys_of(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| keys_of(v, out)),
        _ => {}
    }
}

/// `reset --dry-run`, `reset --hard --dry-run` and `reset --hard` print JSON with
/// `--output json` (docs/json.md), every key documented; hosts are listed in the inventory's
/// order, also when labctl recorded its actions in another (the order a run's hosts finished).
#[test]
fn reset_dry_run_and_hard_print_json_with_hosts_in_inventory_order() {
    let root = Root::new();
    let lab = Chapter11::up(&root, "hardjson", &["--network", "10.232.63.0/24", "--workers", "3"]);
    let start = tables(&lab);
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"),
    )
    .unwrap();
    // Every key of the JSON is named in its own section of docs/json.md.
    let undocumented = |value: &serde_json::Value, heading: &str| -> Vec<String> {
        let start = docs.find(&format!("\n{heading}\n")).expect("the section exists");
        let rest = &docs[start + heading.len() + 2..];
        let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
        let mut keys = Vec::new();
        keys_of(value, &mut keys);
        keys.into_iter().filter(|k| !section.contains(&format!("`{k}`"))).collect()
    };
    let json = |args: &[&str]| -> serde_json::Value {
        let out = lab.labctl(args).output();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out)))
    };
    let host_names = |value: &serde_json::Value| -> Vec<String> {
        value["hosts"].as_array().unwrap().iter().map(|h| str_of(&h["host"])).collect()
    };
    let workers = ["worker-0", "worker-1", "worker-2"];
    let run = lab.labctl(&["run", CHAPTER]).output();
    assert!(run.status.success(), "{}", text(&run));
    reverse_recorded_order(&lab);
    by_hand(&lab, "worker-0", "ip route add 10.200.0.0/16 via 10.232.63.22");
    // One of labctl's routes undone by hand: reset --hard must not count it as labctl's undo.
    by_hand(&lab, "worker-1", "ip route del 10.200.2.0/24 via 10.232.63.22");
    let tables_now = tables(&lab);

    // The text of a dry run lists the hosts as the JSON does: in the inventory's order.
    let dry_text = lab.labctl(&["reset", "--dry-run"]).run();
    let dry_text = stdout(&dry_text);
    let mut listed: Vec<&str> = dry_text
        .lines()
        .filter(|l| l.contains(": would undo "))
        .filter_map(|l| l.split(':').next())
        .collect();
    listed.dedup();
    assert_eq!(listed, workers, "{dry_text}");

    let dry = json(&["reset", "--dry-run", "--output", "json"]);
    assert_eq!(dry["command"], "reset");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["summary"]["would_undo"], 6, "{dry}");
    assert_eq!(host_names(&dry), workers, "{dry}");
    for host in dry["hosts"].as_array().unwrap() {
        let actions = host["actions"].as_array().unwrap();
        assert_eq!(actions.len(), 2, "{dry}");
        assert!(actions.iter().all(|a| a["step"] == "pod-routes" && a["interrupted"] == false));
        assert!(str_of(&actions[0]["undo"]).contains("ip route del"), "{dry}");
    }
    assert_eq!(undocumented(&dry, "## reset --dry-run"), Vec::<String>::new(), "{dry}");

    let hard_dry = json(&["reset", "--hard", "--dry-run", "--output", "json"]);
    assert_eq!(hard_dry["command"], "reset --hard");
    assert_eq!(hard_dry["dry_run"], true);
    assert_eq!(hard_dry["summary"]["found"], 6, "{hard_dry}");
    assert_eq!(host_names(&hard_dry), workers, "{hard_dry}");
    let worker_0 = &hard_dry["hosts"][0];
    assert_eq!(worker_0["at_start"], false, "{hard_dry}");
    let items = worker_0["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{hard_dry}");
    assert!(items.iter().all(|i| i["result"] == "would_remove" && i["part"] == "pod-routes"));
    let students: Vec<&serde_json::Value> =
        items.iter().filter(|i| i["made_by"] == "not made by labctl").collect();
    assert_eq!(students.len(), 1, "{hard_dry}");
    assert_eq!(students[0]["item"], "10.200.0.0/16 via 10.232.63.22 dev enp0s8");
    assert!(items.iter().any(|i| str_of(&i["made_by"]).starts_with("labctl's run at 20")));
    assert_eq!(undocumented(&hard_dry, "## reset --hard"), Vec::<String>::new(), "{hard_dry}");
    assert_eq!(tables(&lab), tables_now, "a dry run changed a routing table");

    let hard = json(&["reset", "--hard", "--yes", "--output", "json"]);
    assert_eq!(hard["dry_run"], false);
    assert_eq!(
        hard["summary"],
        serde_json::json!({"found": 6, "undone": 5, "removed": 1, "not_at_start": 0, "unreachable": 0}),
        "{hard}"
    );
    assert_eq!(host_names(&hard), workers, "{hard}");
    for host in hard["hosts"].as_array().unwrap() {
        assert_eq!(host["at_start"], true, "{hard}");
        assert_eq!(host["error"], serde_json::Value::Null, "{hard}");
    }
    let results: Vec<String> = hard["hosts"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| str_of(&i["result"]))
        .collect();
    assert_eq!(results, ["removed", "undone", "undone"], "{hard}");
    assert_eq!(undocumented(&hard, "## reset --hard"), Vec::<String>::new(), "{hard}");
    assert_eq!(tables(&lab), start);

    let again = json(&["reset", "--hard", "--yes", "--output", "json"]);
    assert_eq!(again["summary"]["found"], 0, "{again}");
    assert_eq!(host_names(&again), workers, "{again}");
    assert!(
        again["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["at_start"] == true && h["items"].as_array().unwrap().is_empty())
    );

    // Plain reset's table follows the inventory too.
    let run = lab.labctl(&["run", CHAPTER]).output();
    assert!(run.status.success(), "{}", text(&run));
    reverse_recorded_order(&lab);
    let reset = lab.labctl(&["reset", "--yes"]).output();
    assert!(reset.status.success(), "{}", text(&reset));
    let out = stdout(&reset);
    let rows: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("worker-"))
        .collect();
    assert_eq!(rows, workers, "{out}");
}
