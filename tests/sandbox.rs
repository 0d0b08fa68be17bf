//! The sandbox (issue 3), tested with the real binary, the real OpenSSH client and server, the
//! real CNI plugins and the real kernel. These tests need root, as in CI.
//!
//! Every test uses its own sandbox root, a sandbox name unique to the test process and a lab
//! network no other test uses (10.231.N.0/24), so they run in parallel; a guard runs
//! `sandbox down` when a test ends, also when it fails. Traffic goes only to the test's own
//! sandbox.

use crate::common::sandbox_lab;

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use sandbox_lab::*;

#[test]
fn every_node_answers_ssh_with_its_own_host_key_hostname_and_sudo() {
    require_root();
    let root = Root::new();
    let name = unique_name("ssh");
    let lab = Lab::up(&root, &name, &["--network", "10.231.1.0/24", "--workers", "3"]);
    let status = lab.status();
    assert_eq!(status["running"], true);
    assert_eq!(status["phase"], "ready");

    let nodes = lab.nodes();
    let names: Vec<&str> = nodes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["controller-0", "worker-0", "worker-1", "worker-2"]);
    let mut host_keys = HashSet::new();
    for (node, address) in &nodes {
        let started = Instant::now();
        let out = lab.ssh_ok(address, "hostname; id -un; sudo -n id -u");
        // "sudo must return at once": a node that waits for an unreachable nameserver takes
        // about 20 s per sudo; this bound only catches that, it is not a benchmark.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "ssh + sudo on {node} took {:?}",
            started.elapsed()
        );
        assert_eq!(out, format!("{node}\nvagrant\n0"), "on {node}");

        let learnt = lab.learnt_host_key(address);
        let own_key = std::fs::read_to_string(
            lab.dir().join("nodes").join(node).join("ssh_host_ed25519_key.pub"),
        )
        .expect("the node's host key");
        let own_key: Vec<&str> = own_key.split_whitespace().take(2).collect();
        assert_eq!(learnt, own_key.join(" "), "{node} answers with its own host key");
        host_keys.insert(learnt);
    }
    assert_eq!(host_keys.len(), nodes.len(), "every node has a host key of its own");
}

#[test]
fn nodes_resolve_their_names_without_dns_and_look_like_vagrant_vms() {
    require_root();
    let root = Root::new();
    let name = unique_name("vm");
    let lab = Lab::up(
        &root,
        &name,
        &["--network", "10.231.2.0/24", "--workers", "2", "--controllers", "0"],
    );
    for (node, address) in lab.nodes() {
        let script = format!(
            "getent hosts {node}; grep -c '^nameserver' /etc/resolv.conf || true; \
             cat /proc/sys/net/ipv4/ip_forward; ip -4 -o addr show | awk '{{print $2, $4}}'; \
             ip route show default; sudo ip netns list | cut -d' ' -f1"
        );
        let out = lab.ssh_ok(&address, &script);
        let expected = format!(
            "{address}      {node}\n0\n1\nlo 127.0.0.1/8\nenp0s3 10.0.2.15/24\nenp0s8 {address}/24\ncni0 {}/24\ndefault via 10.0.2.2 dev enp0s3\npod",
            pod_gateway(&lab, &node)
        );
        assert_eq!(normalize(&out), normalize(&expected), "on {node}");
    }
}

#[test]
fn pods_on_different_nodes_reach_each_other_only_once_routes_exist() {
    require_root();
    let root = Root::new();
    let name = unique_name("routes");
    let lab = Lab::up(
        &root,
        &name,
        &["--network", "10.231.3.0/24", "--workers", "2", "--controllers", "0"],
    );
    let status = lab.status();
    let pods = pods(&status);
    for pod in &pods {
        let cidr: Ipv4Net = pod.cidr.parse().expect("a pod CIDR");
        let address: Ipv4Addr = pod.address.parse().expect("a pod address");
        assert!(cidr.contains(&address), "pod {address} of {} is in {cidr}", pod.node);
    }
    let (a, b) = (&pods[0], &pods[1]);
    // Each pod reaches its own node's bridge...
    assert!(ping_until(&a.netns, &a.gateway(), Duration::from_secs(3)));
    // ...but not the other node's pod: there is no route yet (chapter 11's premise).
    assert!(!ping_from(&a.netns, &b.address), "no route yet, but {} reached {}", a.node, b.address);
    assert!(!ping_from(&b.netns, &a.address));

    // The routes chapter 11 adds, by hand, with sudo over SSH.
    lab.ssh_ok(&a.node_address, &format!("sudo ip route add {} via {}", b.cidr, b.node_address));
    lab.ssh_ok(&b.node_address, &format!("sudo ip route add {} via {}", a.cidr, a.node_address));
    assert!(
        ping_until(&a.netns, &b.address, Duration::from_secs(5)),
        "routes exist, pods must reach each other"
    );
    assert!(ping_until(&b.netns, &a.address, Duration::from_secs(5)));
    // The pod is also reachable from inside its node, as `pod`.
    lab.ssh_ok(&a.node_address, &format!("sudo ip netns exec pod ping -c 1 -W 2 {}", b.address));
}

#[test]
fn gce_shape_routes_through_the_vpc_router() {
    require_root();
    let root = Root::new();
    let name = unique_name("gce");
    let lab = Lab::up(
        &root,
        &name,
        &["--shape", "gce", "--network", "10.231.4.0/24", "--workers", "2", "--controllers", "0"],
    );
    let status = lab.status();
    assert_eq!(status["router_address"], "10.231.4.1");
    assert_eq!(status["host_address"], "10.231.4.254");
    // The VPC router forwards between nodes but has no way out.
    let router_routes =
        command_output("ip", &["-n", &str_of(&status["router_netns"]), "-4", "route", "show"]);
    assert_eq!(
        normalize(&router_routes),
        "10.231.4.0/24 dev eth0 proto kernel scope link src 10.231.4.1"
    );
    let router_ns = str_of(&status["router_netns"]);
    let pods = pods(&status);
    let (a, b) = (&pods[0], &pods[1]);
    let routes = lab.ssh_ok(
        &a.node_address,
        "ip -4 -o addr show ens4 | awk '{print $4}'; ip route show default",
    );
    assert_eq!(
        normalize(&routes),
        normalize(&format!("{}/24\ndefault via 10.231.4.1 dev ens4 ", a.node_address))
    );

    assert!(ping_until(&a.netns, &a.gateway(), Duration::from_secs(3)));
    assert!(!ping_from(&a.netns, &b.address), "no VPC route yet");
    // What `gcloud compute routes create` does in the gce variant, done by hand in the router.
    for (pod, via) in [(a, b), (b, a)] {
        let out = std::process::Command::new("ip")
            .args(["-n", &router_ns, "route", "add", &via.cidr, "via", &via.node_address])
            .output()
            .expect("ip runs");
        assert!(out.status.success(), "{}", text(&out));
        let _ = pod;
    }
    assert!(ping_until(&a.netns, &b.address, Duration::from_secs(5)), "VPC routes exist");
    assert!(ping_until(&b.netns, &a.address, Duration::from_secs(5)));
}

#[test]
fn down_leaves_no_namespace_link_process_or_file_and_is_safe_twice() {
    require_root();
    let root = Root::new();
    let name = unique_name("down");
    let lab = Lab::up(&root, &name, &["--network", "10.231.5.0/24", "--workers", "2"]);
    let prefix = format!("labctl-{name}-");
    assert_eq!(namespaces_with_prefix(&prefix).len(), 1 + 3 + 2, "net, 3 nodes, 2 pods");
    let status = lab.status();
    let host_link = str_of(&status["host_link"]);
    let dir = lab.dir();
    // A session that outlives the ssh command: down must stop it too.
    lab.ssh_ok("10.231.5.20", "nohup sleep 300 >/dev/null 2>&1 &");

    let out = lab.down();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with(&format!("sandbox `{name}` is down: removed 6 namespaces"))
    );
    assert_eq!(namespaces_with_prefix(&prefix), Vec::<String>::new());
    let links = root_links();
    assert!(links.iter().all(|l| str_of(&l["ifname"]) != host_link), "link `{host_link}` is gone");
    assert!(links.iter().all(|l| !str_of(&l["ifalias"]).ends_with(&format!(" {name}"))));
    assert_eq!(live_processes_mentioning(&dir.display().to_string()), Vec::<u32>::new());
    assert!(!dir.exists(), "{} is removed", dir.display());
    let etc_left: Vec<String> = std::fs::read_dir("/etc/netns")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(etc_left, Vec::<String>::new());

    let again = lab.down();
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        format!("sandbox `{name}` is not running; nothing to remove\n")
    );
    let status = root.labctl(["sandbox", "status", "--name", &name]).output();
    assert_eq!(status.status.code(), Some(1));
}

#[test]
fn a_nodes_files_stay_on_that_node_and_go_with_down() {
    require_root();
    let root = Root::new();
    let name = unique_name("fs");
    let lab = Lab::up(
        &root,
        &name,
        &["--network", "10.231.11.0/24", "--workers", "2", "--controllers", "0"],
    );
    let (worker_0, worker_1) = ("10.231.11.20", "10.231.11.21");
    // A name of this test process alone: the host's real directories are looked at too.
    let file = format!("labctl-{name}");
    let storage = labctl::sandbox::sshd::NODE_STORAGE;
    let targets: Vec<String> = storage.iter().map(|(dir, _)| format!("{dir}/{file}")).collect();
    // Should a write leak to this machine after all, the test's files do not stay there.
    let _cleanup = RemoveOnDrop(targets.clone());
    let write: Vec<String> =
        targets.iter().map(|t| format!("echo {name} | sudo tee {t} >/dev/null")).collect();
    lab.ssh_ok(worker_0, &write.join(" && "));

    for target in &targets {
        // Every ssh here is a new connection, with a new session.
        assert_eq!(lab.ssh_ok(worker_0, &format!("sudo cat {target}")), name, "{target}");
        let elsewhere = lab.ssh(worker_1, &format!("sudo test ! -e {target} && echo absent"));
        assert_eq!(String::from_utf8_lossy(&elsewhere.stdout), "absent\n", "{target} on worker-1");
        assert!(!std::path::Path::new(target).exists(), "{target} on this machine");
    }
    // The node's files are in its storage under the sandbox's directory, with the modes given.
    let node_storage = lab.dir().join("nodes/worker-0/fs");
    for (dir, mode) in storage {
        let kept = node_storage.join(dir.trim_start_matches('/'));
        let content = std::fs::read_to_string(kept.join(&file)).expect("the file in the storage");
        assert_eq!(content, format!("{name}\n"), "{dir}");
        let seen = lab.ssh_ok(worker_0, &format!("sudo stat -c %a {dir}"));
        assert_eq!(seen, format!("{mode:o}"), "mode of {dir} on worker-0");
    }
    // What sudo, root's home and the node's own mounts need still works.
    assert_eq!(lab.ssh_ok(worker_0, "sudo -i sh -c 'echo $HOME; pwd'"), "/root\n/root");

    let out = lab.down();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!node_storage.exists(), "{} is removed by down", node_storage.display());
    assert!(!lab.dir().exists());
    for target in &targets {
        assert!(!std::path::Path::new(target).exists(), "{target} on this machine after down");
    }
}

#[test]
fn two_sandboxes_side_by_side_do_not_interfere() {
    require_root();
    let root = Root::new();
    let (name_a, name_b) = (unique_name("pair-a"), unique_name("pair-b"));
    let a = Lab::up(
        &root,
        &name_a,
        &["--network", "10.231.6.0/24", "--workers", "2", "--controllers", "0"],
    );
    let b = Lab::up(
        &root,
        &name_b,
        &["--network", "10.231.7.0/24", "--workers", "2", "--controllers", "0"],
    );
    // Same pod CIDRs in both: they live inside each sandbox's nodes only.
    assert_eq!(pods(&a.status())[0].cidr, pods(&b.status())[0].cidr);
    assert_eq!(a.ssh_ok("10.231.6.20", "hostname"), "worker-0");
    assert_eq!(b.ssh_ok("10.231.7.20", "hostname"), "worker-0");
    // Neither is called `default`, so no inventory is picked without -i.
    let ambiguous = labctl::sandbox::running_inventory_in(root.path()).unwrap_err().to_string();
    assert!(ambiguous.contains("2 sandboxes are running, none called `default`"), "{ambiguous}");
    assert!(ambiguous.contains(&format!("  {name_a}  (inventory ")), "{ambiguous}");
    assert!(ambiguous.contains(&format!("  {name_b}  (inventory ")), "{ambiguous}");
    // As a user sees it: no -i, two sandboxes; then one chosen by name.
    let empty = tempfile::tempdir().unwrap();
    let plan = root.labctl(["plan", "11-pod-network-routes"]).current_dir(empty.path()).output();
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    assert!(stderr(&plan).starts_with("error: no inventory given, and 2 sandboxes are running"));
    assert!(stderr(&plan).ends_with("help: choose one with `--sandbox NAME` or `-i FILE`\n"));
    let chosen = root
        .labctl(["--sandbox", name_b.as_str(), "plan", "11-pod-network-routes"])
        .current_dir(empty.path())
        .output();
    assert!(chosen.status.success(), "{}", text(&chosen));
    assert!(String::from_utf8_lossy(&chosen.stdout).contains("10.231.7.21"), "{}", text(&chosen));
    // Completion offers the running sandboxes.
    let names = root
        .labctl(["--", "labctl", "--sandbox", ""])
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .output();
    let names = String::from_utf8_lossy(&names.stdout).into_owned();
    assert!(names.lines().any(|l| l == name_a) && names.lines().any(|l| l == name_b), "{names}");
    let missing =
        root.labctl(["--sandbox", "no-such-sandbox", "plan", "11-pod-network-routes"]).output();
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(
        stderr(&missing)
            .starts_with("error: sandbox `no-such-sandbox` is not running\n  help: running: ")
    );

    // A third one on the network of the first is refused, naming it; nothing is made.
    let name_c = unique_name("pair-c");
    let c = Lab::try_up(&root, &name_c, &["--network", "10.231.6.0/24"]);
    assert_eq!(c.up.status.code(), Some(2), "{}", text(&c.up));
    assert_eq!(
        stderr(&c.up),
        format!(
            "error: the lab network 10.231.6.0/24 overlaps 10.231.6.0/24, the network of sandbox `{name_a}`\n  help: give this sandbox another network, like `--network 10.241.0.0/24`\n"
        )
    );
    assert!(!root.path().join(&name_c).exists());
    assert_eq!(namespaces_with_prefix(&format!("labctl-{name_c}-")), Vec::<String>::new());

    let out = a.down();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(b.ssh_ok("10.231.7.21", "hostname"), "worker-1", "b still works after a is down");
    let b_pods = pods(&b.status());
    assert!(ping_until(&b_pods[0].netns, &b_pods[0].gateway(), Duration::from_secs(3)));
    assert_eq!(
        labctl::sandbox::running_inventory_in(root.path()),
        Ok(Some(b.dir().join("labctl.yaml")))
    );
}

#[test]
fn the_inventory_is_written_and_status_shows_the_nodes() {
    require_root();
    let root = Root::new();
    let name = unique_name("inv");
    let lab = Lab::up(
        &root,
        &name,
        &["--network", "10.231.8.0/24", "--workers", "2", "--cluster-cidr", "10.44.0.0/16"],
    );
    let dir = lab.dir();
    let up = String::from_utf8_lossy(&lab.up.stdout).into_owned();
    assert!(up.contains(&format!("inventory: {}/labctl.yaml\n", dir.display())), "{up}");
    assert!(
        up.contains(&format!(
            "next:      labctl -i {}/labctl.yaml run 11-pod-network-routes\n",
            dir.display()
        )),
        "{up}"
    );
    let inventory = std::fs::read_to_string(dir.join("labctl.yaml")).expect("the inventory");
    let expected = format!(
        "# Written by `labctl sandbox up --name {name}` (vagrant shape); removed by `labctl sandbox down`.
# The nodes' host keys are in {dir}/known_hosts.
provider: ssh
nodes:
  - name: controller-0
    role: controller
    address: 10.231.8.10
  - name: worker-0
    role: worker
    address: 10.231.8.20
    pod_cidr: 10.44.0.0/24
  - name: worker-1
    role: worker
    address: 10.231.8.21
    pod_cidr: 10.44.1.0/24
ssh:
  user: vagrant
  identity_file: {dir}/id_ed25519
  port: 22
  host_key_checking: accept-new
  sudo: true
network:
  cluster_cidr: 10.44.0.0/16
  service_cidr: 10.32.0.0/24
",
        dir = dir.display()
    );
    assert_eq!(inventory, expected);

    // Nothing leaves the sandbox: this machine routes only the lab network into it, and
    // forwards nothing that comes out of it.
    let host_link = str_of(&lab.status()["host_link"]);
    let routes = command_output("ip", &["-4", "route", "show", "dev", &host_link]);
    assert_eq!(normalize(&routes), "10.231.8.0/24 proto kernel scope link src 10.231.8.1");
    let forwarding =
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{host_link}/forwarding"));
    assert_eq!(forwarding.expect("the link's forwarding flag").trim(), "0");

    let out = root.labctl(["sandbox", "status", "--name", &name]).output();
    assert!(out.status.success(), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with(&format!(
            "sandbox `{name}`: running, vagrant shape, 3 nodes (3 answer SSH)\n"
        )),
        "{table}"
    );
    let worker_line = table.lines().find(|l| l.starts_with("worker-1")).unwrap_or_default();
    let words: Vec<&str> = worker_line.split_whitespace().collect();
    assert_eq!(
        words,
        ["worker-1", "worker", "10.231.8.21", "enp0s8", "10.44.1.0/24", "10.44.1.2", "answers"]
    );
}

#[test]
fn missing_programs_are_named_with_their_packages_and_nothing_is_made() {
    require_root();
    let root = Root::new();
    let name = unique_name("missing");
    let empty = tempfile::tempdir().expect("a directory");
    let out = root
        .labctl(["sandbox", "up", "--name", &name, "--network", "10.231.9.0/24"])
        .env("PATH", empty.path())
        .env("LABCTL_CNI_PATH", "/nonexistent/cni")
        .output();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        stderr(&out),
        "error: the sandbox needs programs that are not installed: `ip`, `sshd`, `ssh-keygen`, `ping`, `sudo`, `unshare`, `mount`, CNI plugins `bridge`, `host-local`, `loopback` (looked in PATH and in /nonexistent/cni)\n  help: on Debian/Ubuntu install them with `sudo apt-get install iproute2 openssh-server openssh-client iputils-ping sudo util-linux mount containernetworking-plugins`\n"
    );

    // Only some missing: only those are named.
    let bin = tools_except(&["sshd", "ping"]);
    let out = root
        .labctl(["sandbox", "up", "--name", &name, "--network", "10.231.9.0/24"])
        .env("PATH", bin.path())
        .output();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        stderr(&out),
        "error: the sandbox needs programs that are not installed: `sshd`, `ping` (looked in PATH and in /usr/lib/cni:/opt/cni/bin)\n  help: on Debian/Ubuntu install them with `sudo apt-get install openssh-server iputils-ping`\n"
    );
    assert!(!root.path().join(&name).exists());
    assert_eq!(namespaces_with_prefix(&format!("labctl-{name}-")), Vec::<String>::new());
}

#[test]
fn without_root_it_says_to_use_sudo() {
    require_root();
    let root = Root::new();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            labctl_bin(),
            "sandbox",
            "up",
            "--name",
            "nobody-test",
        ])
        .env("LABCTL_SANDBOX_ROOT", root.path())
        .output()
        .expect("setpriv runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        stderr(&out),
        "error: `labctl sandbox up` needs root: it creates network namespaces and starts sshd\n  help: run it with sudo: `sudo labctl sandbox up`\n"
    );
}

#[test]
fn a_failed_up_removes_what_it_made() {
    require_root();
    let root = Root::new();
    let name = unique_name("fail");
    // Everything real but sshd, which refuses to start: up fails after namespaces, links and
    // pods exist, and must remove them again.
    let bin = tools_except(&["sshd"]);
    let fake = bin.path().join("sshd");
    std::fs::write(&fake, "#!/bin/sh\necho 'fake sshd: refusing to start' >&2\nexit 1\n")
        .expect("a fake sshd");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let lab = Lab::try_up_with_path(
        &root,
        &name,
        &["--network", "10.231.10.0/24", "--workers", "2"],
        bin.path(),
    );
    let out = &lab.up;
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let message = stderr(out);
    assert!(
        message.starts_with(&format!("error: sandbox `{name}` could not be built: ")),
        "{message}"
    );
    assert!(
        message.contains("sshd did not start") && message.contains("fake sshd: refusing to start"),
        "{message}"
    );
    assert!(message.ends_with("\n  help: everything it had made is removed again\n"), "{message}");
    assert_eq!(namespaces_with_prefix(&format!("labctl-{name}-")), Vec::<String>::new());
    assert!(!root.path().join(&name).exists());
    assert!(root_links().iter().all(|l| !str_of(&l["ifalias"]).ends_with(&format!(" {name}"))));
    assert!(!std::path::Path::new(&format!("/etc/netns/labctl-{name}-worker-0")).exists());
}

#[test]
fn bad_flags_are_refused_before_anything_is_made() {
    let root = Root::new();
    let name = unique_name("flags");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--network", "10.231.12.0/27", "--workers", "20"],
            "error: 20 workers from 10.231.12.20 do not fit in the lab network 10.231.12.0/27\n  help: use a larger `--network`, a lower `--first-address`, or fewer `--workers`\n",
        ),
        (
            &["--network", "10.231.12.0/24", "--cluster-cidr", "10.231.0.0/16"],
            "error: the lab network 10.231.12.0/24 overlaps the cluster CIDR 10.231.0.0/16\n",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["sandbox", "up", "--name", &name];
        all.extend_from_slice(args);
        let out = root.labctl(&all).output();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert_eq!(stderr(&out), *expected, "{args:?}");
    }
    let out = root.labctl(["sandbox", "up", "--name", "Not_Valid"]).output();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: `Not_Valid` is not a sandbox name"), "{}", text(&out));
    assert!(!root.path().join(&name).exists());
}

/// Files of this machine that a test removes when it ends, whether they exist or not.
struct RemoveOnDrop(Vec<String>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A worker's pod as `status` reports it.
struct Pod {
    node: String,
    node_address: String,
    cidr: String,
    address: String,
    netns: String,
}

impl Pod {
    /// The node's end of the pod's network (`cni0`), the CIDR's first address.
    fn gateway(&self) -> String {
        let cidr: Ipv4Net = self.cidr.parse().expect("a pod CIDR");
        Ipv4Addr::from(u32::from(cidr.network()) + 1).to_string()
    }
}

fn pods(status: &serde_json::Value) -> Vec<Pod> {
    let nodes = status["nodes"].as_array().cloned().unwrap_or_default();
    nodes
        .iter()
        .filter(|n| n["role"] == "worker")
        .map(|n| Pod {
            node: str_of(&n["name"]),
            node_address: str_of(&n["address"]),
            cidr: str_of(&n["pod_cidr"]),
            address: str_of(&n["pod_address"]),
            netns: str_of(&n["pod_netns"]),
        })
        .collect()
}

fn pod_gateway(lab: &Lab, node: &str) -> String {
    let pods = pods(&lab.status());
    pods.iter().find(|p| p.node == node).map(Pod::gateway).unwrap_or_default()
}

/// The stdout of a command that must succeed.
fn command_output(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program).args(args).output().expect("the command runs");
    assert!(out.status.success(), "{program} {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs of spaces squeezed, ends trimmed: `getent` and `ip` pad with spaces.
fn normalize(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A directory with links to every program the sandbox needs except `missing`.
///
/// In /var/tmp, not under /tmp, /home or /run: nodes get those private, which would hide the
/// programs found there (and the checkout, with its target directory, may itself be in /tmp).
fn tools_except(missing: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir_in("/var/tmp").expect("a directory in /var/tmp");
    let tools = [
        "ip",
        "sshd",
        "ssh-keygen",
        "ping",
        "sudo",
        "unshare",
        "mount",
        "sh",
        "cat",
        "cp",
        "mkdir",
        "chmod",
        "chown",
        "umount",
        "kill",
    ];
    for tool in tools {
        if missing.contains(&tool) {
            continue;
        }
        let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.exists());
        if let Some(path) = found {
            std::os::unix::fs::symlink(path, dir.path().join(tool)).expect("a symlink");
        }
    }
    dir
}

/// `sandbox up` without `--network` takes a free network when KTHW's 10.240.0.0/24 is held by
/// another sandbox, and says so; with `--network`, an overlap is still refused.
#[test]
fn without_network_a_second_sandbox_takes_a_free_one() {
    require_root();
    // What labctl picks depends on every sandbox of this machine (harness::serial).
    let _serial = crate::harness::serial();
    let root = Root::new();
    let first = Lab::up(
        &root,
        &unique_name("net-a"),
        &["--network", "10.240.0.0/24", "--workers", "1", "--controllers", "0"],
    );
    let second = Lab::up(&root, &unique_name("net-b"), &["--workers", "1", "--controllers", "0"]);
    let out = String::from_utf8_lossy(&second.up.stdout).into_owned();
    assert!(
        out.starts_with(&format!(
            "note: the lab network 10.240.0.0/24 overlaps 10.240.0.0/24, the network of sandbox `{}`; this sandbox takes 10.24",
            first.name
        )),
        "{out}"
    );
    let network = second.status()["network"].as_str().unwrap().to_string();
    assert_ne!(network, "10.240.0.0/24");
    assert!(out.contains(&format!("this sandbox takes {network} instead\n")), "{out}");
    let address = second.nodes()[0].1.clone();
    assert!(network.starts_with(&address[..address.rfind('.').unwrap()]), "{address} in {network}");
    assert_eq!(second.ssh_ok(&address, "hostname"), "worker-0");
}

/// `sandbox up` builds its nodes several at once but shows them in the sandbox's order,
/// whichever is ready first.
#[test]
fn sandbox_up_shows_its_nodes_in_order() {
    require_root();
    let root = Root::new();
    let lab = Lab::up(
        &root,
        &unique_name("order"),
        &["--network", "10.231.13.0/24", "--workers", "6", "--controllers", "1"],
    );
    let out = String::from_utf8_lossy(&lab.up.stdout).into_owned();
    let shown: Vec<String> = out
        .lines()
        .filter(|l| l.ends_with(", sshd answers"))
        .map(|l| l.trim().split(':').next().unwrap().to_string())
        .collect();
    let nodes: Vec<String> = lab.nodes().into_iter().map(|(name, _)| name).collect();
    assert_eq!(shown.len(), 7, "{out}");
    assert_eq!(shown, nodes, "{out}");
}
