//! The probe pod and the gather script, run for real in two throwaway network namespaces that
//! play two nodes (needs root and iproute2; skipped otherwise).
//!
//! Each "node" is a network namespace with a veth to the other (`lab0`, 10.240.0.20/24 and
//! 10.240.0.21/24) and no other way out: the only traffic is between the namespaces this test
//! makes. Scripts run "on a node" inside the mount namespace of a long-lived process in the
//! node's network namespace, as commands of an SSH session run in sshd's: a probe namespace
//! made by one command must still be there for the next.
//!
//! The test proves that node A's probe pings node B's once the routes exist and not before,
//! that the verdicts and diagnoses follow, that setup cleans up after an interrupted run, and
//! that teardown leaves no namespace and no link.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};

use labctl::facts::HostFacts;
use labctl::facts::NodeFacts;
use labctl::inventory::{Node, Role};
use labctl::pod_network::checks::RouteExpectation;
use labctl::pod_network::flannel::facts::{self, Flannel};
use labctl::pod_network::verify::codes;
use labctl::pod_network::verify::{self, ProbePlan, VerifyInput, WorkerRun, probe};

fn run(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn ok(program: &str, args: &[&str]) {
    let out = run(program, args);
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Root, and the tools the test needs.
fn can_run() -> bool {
    let root = run("id", &["-u"]).stdout == b"0\n";
    let tools = ["ip", "nsenter", "ping"]
        .iter()
        .all(|t| run("sh", &["-c", &format!("command -v {t}")]).status.success());
    root && tools
}

/// A throwaway "node": a network namespace and a process holding a mount namespace in it.
struct FakeNode {
    netns: String,
    holder: Child,
    node: Node,
}

impl FakeNode {
    /// Runs `script` with `sh -c` on the node; returns (exit code, stdout, stderr).
    fn sh(&self, script: &str) -> (i32, String, String) {
        let out = Command::new("nsenter")
            .args([
                "--target",
                &self.holder.id().to_string(),
                "--mount",
                "--net",
                "--",
                "sh",
                "-c",
                script,
            ])
            .output()
            .expect("nsenter");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Like [`FakeNode::sh`], and the script must succeed.
    fn sh_ok(&self, script: &str) -> String {
        let (code, stdout, stderr) = self.sh(script);
        assert_eq!(code, 0, "on {}: {script}\nstderr: {stderr}", self.node.name);
        stdout
    }

    /// The inode of the node's network namespace (the suffix of its probe's namespace).
    fn netns_id(&self) -> String {
        self.sh_ok("readlink /proc/self/ns/net | tr -cd 0-9")
    }

    /// Probe namespaces of this node present in /run/netns.
    fn probe_namespaces(&self) -> Vec<String> {
        let suffix = format!("-{}", self.netns_id());
        std::fs::read_dir("/run/netns")
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.starts_with("labctl-probe-") && n.ends_with(&suffix))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The two nodes; removes everything on drop, also when the test fails.
struct Lab {
    nodes: Vec<FakeNode>,
}

impl Lab {
    fn new() -> Lab {
        let tag = format!("lcpt-{}", std::process::id());
        let mut nodes = Vec::new();
        for (i, letter) in ["a", "b"].iter().enumerate() {
            let netns = format!("{tag}-{letter}");
            ok("ip", &["netns", "add", &netns]);
            let holder = Command::new("ip")
                .args(["netns", "exec", &netns, "sleep", "600"])
                .stdin(Stdio::null())
                .spawn()
                .expect("ip netns exec sleep");
            let node = Node {
                name: netns.clone(),
                role: Role::Worker,
                address: Ipv4Addr::new(10, 240, 0, 20 + i as u8),
                pod_cidr: Some(format!("10.200.{i}.0/24").parse().unwrap()),
                ssh: None,
                line: None,
            };
            nodes.push(FakeNode { netns, holder, node });
        }
        let lab = Lab { nodes };
        let (a, b) = (&lab.nodes[0].netns, &lab.nodes[1].netns);
        ok(
            "ip",
            &["-n", a, "link", "add", "lab0", "type", "veth", "peer", "name", "lab0", "netns", b],
        );
        for n in &lab.nodes {
            let addr = format!("{}/24", n.node.address);
            ok("ip", &["-n", &n.netns, "addr", "add", &addr, "dev", "lab0"]);
            ok("ip", &["-n", &n.netns, "link", "set", "lab0", "up"]);
            ok("ip", &["-n", &n.netns, "link", "set", "lo", "up"]);
            ok("ip", &["netns", "exec", &n.netns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        }
        // Scripts may enter a holder once `ip netns exec` has set its namespaces up and
        // become `sleep`.
        for n in &lab.nodes {
            let comm = format!("/proc/{}/comm", n.holder.id());
            for _ in 0..250 {
                if std::fs::read_to_string(&comm).is_ok_and(|c| c == "sleep\n") {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let leftovers = n.probe_namespaces();
            let _ = n.sh("for f in /run/netns/labctl-probe-*-\"$(readlink /proc/self/ns/net | tr -cd 0-9)\"; do [ -e \"$f\" ] && ip netns del \"${f##*/}\"; done; true");
            let _ = n.holder.kill();
            let _ = n.holder.wait();
            for ns in leftovers {
                let _ = run("ip", &["netns", "del", &ns]);
            }
            let _ = run("ip", &["netns", "del", &n.netns]);
        }
    }
}

/// Runs gather, plan, checks and diagnosis on the lab, as the runner does.
/// With `LABCTL_CAPTURE_FIXTURES=DIR`, each node's check output is written to
/// `DIR/check-<label>-<node letter>.txt`.
fn verify(lab: &Lab, plan: &ProbePlan, facts: &[HostFacts], label: &str) -> labctl::verify::Report {
    let workers = lab
        .nodes
        .iter()
        .zip(facts)
        .map(|(n, f)| {
            let output = n.sh_ok(&plan.check_script(&n.node.name, Some(2)));
            if let Ok(dir) = std::env::var("LABCTL_CAPTURE_FIXTURES") {
                let name = format!("{dir}/check-{label}-{}.txt", &n.netns[n.netns.len() - 1..]);
                std::fs::write(name, &output).unwrap();
            }
            WorkerRun {
                node: &n.node,
                facts: NodeFacts::Known(f.clone()),
                probe_error: None,
                checks: Ok(probe::parse_check(&output).expect("check output parses")),
            }
        })
        .collect();
    verify::diagnose(&VerifyInput {
        chapter: "11-pod-network-routes",
        expectation: Some(RouteExpectation::ViaPeer),
        data_plane: true,
        plan,
        workers,
    })
}

fn gather(lab: &Lab) -> Vec<HostFacts> {
    lab.nodes
        .iter()
        .map(|n| facts::parse(&n.sh_ok(&facts::gather_script(&[]))).expect("gather output parses"))
        .collect()
}

#[test]
fn probe_pods_ping_once_routes_exist_and_leave_nothing_behind() {
    if !can_run() {
        eprintln!("skipped: needs root, iproute2, nsenter and ping");
        return;
    }
    let lab = Lab::new();
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);

    // Facts, gathered by the real script.
    let facts = gather(&lab);
    assert_eq!(facts[0].address_owner(a.node.address).map(|l| l.name.as_str()), Some("lab0"));
    assert!(facts[0].ip_forward && facts[1].ip_forward);
    assert_eq!(facts[0].flannel().link, None);
    assert!(facts[0].has_route_to("10.200.1.0/24".parse().unwrap()).is_none());

    let refs: Vec<&Node> = lab.nodes.iter().map(|n| &n.node).collect();
    let map: BTreeMap<String, &HostFacts> =
        lab.nodes.iter().zip(&facts).map(|(n, f)| (n.node.name.clone(), f)).collect();
    let mut plan = ProbePlan::new(&refs, &map, Some(RouteExpectation::ViaPeer));
    assert_eq!(plan.probe(&b.node.name).unwrap().address, Ipv4Addr::new(10, 200, 1, 254));
    set_up(&lab, &mut plan);
    for n in &lab.nodes {
        assert_eq!(n.probe_namespaces().len(), 1, "{}", n.node.name);
    }

    // Before the routes: no path, no pings, and the diagnosis says so.
    let before = verify(&lab, &plan, &facts, "before-routes");
    assert!(!before.passed, "{}", before.render_text(true));
    let ab = before.pair(&a.node.name, &b.node.name).unwrap();
    assert_eq!(
        ab.check("route-evidence").unwrap().evidence,
        "RTNETLINK answers: Network is unreachable"
    );
    assert!(!ab.check("data-plane").unwrap().passed);
    assert_eq!(ab.diagnoses[0].code, codes::NO_ROUTE);

    // The static variant's routes, by hand.
    a.sh_ok("ip route add 10.200.1.0/24 via 10.240.0.21");
    b.sh_ok("ip route add 10.200.0.0/24 via 10.240.0.20");
    let facts = gather(&lab);
    let after = verify(&lab, &plan, &facts, "after-routes");
    assert!(after.passed, "{}", after.render(true, true));
    assert_eq!(
        after.pair(&a.node.name, &b.node.name).unwrap().check("route-evidence").unwrap().evidence,
        "10.200.1.254 via 10.240.0.21 dev lab0 src 10.240.0.20"
    );
    assert_eq!(after.summary_line(), "verify: 2 of 2 pairs pass (4 checks)");

    // A second verify at the same time: its own names, the next free address, the same
    // verdict; removing it leaves the first one's probe working.
    let map: BTreeMap<String, &HostFacts> =
        lab.nodes.iter().zip(&facts).map(|(n, f)| (n.node.name.clone(), f)).collect();
    let mut second = ProbePlan::new(&refs, &map, Some(RouteExpectation::ViaPeer));
    assert_ne!(second.run, plan.run);
    set_up(&lab, &mut second);
    assert_eq!(second.probe(&b.node.name).unwrap().address, Ipv4Addr::new(10, 200, 1, 253));
    for n in &lab.nodes {
        assert_eq!(n.probe_namespaces().len(), 2, "{}", n.node.name);
    }
    assert!(verify(&lab, &second, &facts, "second").passed);
    for n in &lab.nodes {
        n.sh_ok(&second.teardown_script());
    }
    assert!(verify(&lab, &plan, &facts, "first-after-second").passed);

    // A probe whose labctl is gone (a claim naming a finished process) is a leftover: the
    // gather script sees its claim, the next setup removes it.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let me = labctl::verify::owner::Owner::current();
    let gone = labctl::verify::owner::Owner { pid: dead, ..me };
    let facts = gather(&lab);
    let map: BTreeMap<String, &HostFacts> =
        lab.nodes.iter().zip(&facts).map(|(n, f)| (n.node.name.clone(), f)).collect();
    let mut third = ProbePlan::new(&refs, &map, Some(RouteExpectation::ViaPeer));
    assert!(third.probes.iter().all(|p| p.stale.is_empty()), "the first verify still runs");
    for n in &lab.nodes {
        let claim = format!("/run/labctl/probes/{}-{}.probe", plan.run, n.netns_id());
        n.sh_ok(&format!("sed -i 's/^owner=.*/owner={gone}/' {claim}"));
    }
    let facts = gather(&lab);
    assert_eq!(facts[0].probe_claims.len(), 1);
    let map: BTreeMap<String, &HostFacts> =
        lab.nodes.iter().zip(&facts).map(|(n, f)| (n.node.name.clone(), f)).collect();
    third = ProbePlan::new(&refs, &map, Some(RouteExpectation::ViaPeer));
    assert_eq!(third.probes[0].stale, [plan.run.clone()]);
    set_up(&lab, &mut third);
    for n in &lab.nodes {
        assert_eq!(n.probe_namespaces().len(), 1, "the leftover is gone on {}", n.node.name);
    }
    assert!(verify(&lab, &third, &facts, "after-leftover").passed);

    // Teardown leaves nothing, and a second teardown is fine.
    for n in &lab.nodes {
        n.sh_ok(&third.teardown_script());
        n.sh_ok(&third.teardown_script());
        assert_eq!(n.probe_namespaces(), Vec::<String>::new());
        let (code, _, _) = n.sh(&format!("ip link show {}", probe::host_end(&third.run)));
        assert_ne!(code, 0, "the probe's link is left on {}", n.node.name);
        let routes = n.sh_ok("ip route show");
        assert!(!routes.contains(".254"), "probe route left on {}: {routes}", n.node.name);
        let claims =
            n.sh_ok(&format!("ls /run/labctl/probes | grep -- '-{}' || true", n.netns_id()));
        assert_eq!(claims, "", "claims left on {}", n.node.name);
    }
}

/// Sets up `plan`'s probes on every node, as the runner does, and records what they took.
fn set_up(lab: &Lab, plan: &mut ProbePlan) {
    for n in &lab.nodes {
        let out = n.sh_ok(&plan.setup_script(&n.node.name).unwrap());
        plan.set_up(&n.node.name, &probe::parse_setup(&out));
    }
}
