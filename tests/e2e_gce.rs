//! Chapter 11, gce variant, with the real `gcloud` CLI against a double of the Compute Engine
//! API (`tests/doubles/compute/`), reached through gcloud's endpoint override on 127.0.0.1.
//!
//! Most tests need no root: the gce variant acts from this machine only, so a lab whose nodes
//! are never contacted will do (their SSH endpoints are a closed port on loopback). The last
//! test is the proof by packets: on the sandbox's gce shape the double puts every route into
//! the VPC router namespace, and the sandbox's CNI pods reach each other exactly while the
//! routes exist (needs root, as CI).

use crate::common::sandbox_lab;

use crate::doubles::compute;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use compute::{ComputeDouble, NETWORK, PROJECT, ZONE};
use sandbox_lab::{Test, ping_until, str_of, text};

const CHAPTER: &str = "11-pod-network-routes";

/// KTHW's workers as the double's instances: worker-i at 10.240.0.2i with 10.200.i.0/24.
fn kthw_instances() -> Vec<compute::Instance> {
    (0..3)
        .map(|i| {
            (format!("worker-{i}"), format!("10.240.0.2{i}"), Some(format!("10.200.{i}.0/24")))
        })
        .collect()
}

/// A lab directory with a labctl inventory whose nodes are never reached over SSH.
struct OfflineLab {
    dir: tempfile::TempDir,
}

impl OfflineLab {
    /// KTHW's lab with `provider: gce`; `gce_section` is the inventory's `gce:` line, if any;
    /// `pod_cidrs` says whether the workers' pod CIDRs are in the inventory.
    fn new(gce_section: Option<&str>, pod_cidrs: bool) -> OfflineLab {
        let dir = tempfile::tempdir().unwrap();
        // A port that nothing listens on: no SSH connection can ever be made.
        let closed =
            std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let ssh = format!("ssh: {{ host: 127.0.0.1, port: {closed} }}");
        let mut text = String::from("provider: gce\nnodes:\n");
        text.push_str(&format!(
            "  - {{ name: controller-0, role: controller, address: 10.240.0.10, {ssh} }}\n"
        ));
        for i in 0..3 {
            let cidr =
                if pod_cidrs { format!(" pod_cidr: 10.200.{i}.0/24,") } else { String::new() };
            text.push_str(&format!(
                "  - {{ name: worker-{i}, role: worker, address: 10.240.0.2{i},{cidr} {ssh} }}\n"
            ));
        }
        if let Some(gce) = gce_section {
            text.push_str(gce);
            text.push('\n');
        }
        std::fs::write(dir.path().join("labctl.yaml"), text).unwrap();
        OfflineLab { dir }
    }

    /// KTHW's lab with project, network and zone in the inventory.
    fn kthw() -> OfflineLab {
        OfflineLab::new(
            Some(&format!("gce: {{ project: {PROJECT}, network: {NETWORK}, zone: {ZONE} }}")),
            true,
        )
    }

    fn inventory(&self) -> PathBuf {
        self.dir.path().join("labctl.yaml")
    }

    /// `labctl -i INVENTORY ARGS...` with gcloud pointed at `double` as a logged-in user.
    fn labctl(&self, double: &ComputeDouble, args: &[&str]) -> Test {
        double.logged_in_labctl(self.command(args))
    }

    /// `labctl -i INVENTORY ARGS...` with the test's own environment.
    fn command(&self, args: &[&str]) -> Test {
        Test::new().inventory(&self.inventory()).args(args).current_dir(self.dir.path())
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `gcloud compute routes create NAME` in the double, as a user would make one by hand.
fn create_route(double: &ComputeDouble, name: &str, dest: &str, next_hop: &str) {
    let out = double.gcloud(&[
        "compute",
        "routes",
        "create",
        name,
        "--project",
        PROJECT,
        "--network",
        NETWORK,
        "--next-hop-address",
        next_hop,
        "--destination-range",
        dest,
        "--format=none",
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

fn posts(double: &ComputeDouble) -> usize {
    double
        .calls()
        .iter()
        .filter(|c| c.starts_with("POST projects/labctl-test/global/routes "))
        .count()
}

#[test]
fn without_gcloud_it_is_exit_2_and_says_so() {
    let lab = OfflineLab::kthw();
    let empty = tempfile::tempdir().unwrap();
    let out = lab.command(&["plan", CHAPTER]).env("PATH", empty.path()).output();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        stderr(&out),
        "error: `gcloud` is not installed (not found on PATH): variant `gce` runs the Google Cloud CLI on this machine\n  \
         help: install it (https://cloud.google.com/sdk/docs/install), or choose another variant with `--variant`\n"
    );
}

#[test]
fn the_gce_variant_needs_a_gce_section_or_provider() {
    let lab = OfflineLab::kthw();
    let text_before = std::fs::read_to_string(lab.inventory()).unwrap();
    let plain = text_before.replace("provider: gce\n", "provider: ssh\n");
    let plain: String =
        plain.lines().filter(|l| !l.starts_with("gce:")).map(|l| format!("{l}\n")).collect();
    std::fs::write(lab.inventory(), plain).unwrap();
    let out = lab.command(&["plan", CHAPTER, "--variant", "gce"]).output();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}: variant `gce` acts on Google Compute Engine, but the inventory has no `gce:` section\n  \
             help: add `gce: {{ project: PROJECT, network: kubernetes-the-hard-way, zone: ZONE }}`, or `provider: gce` to take project and zone from gcloud's configuration\n",
            lab.inventory().display()
        )
    );
}

#[test]
fn without_credentials_it_is_exit_3_and_says_how_to_log_in() {
    let double = ComputeDouble::start(&kthw_instances(), None);
    let lab = OfflineLab::kthw();
    // A fresh gcloud configuration: no account, credentials not disabled.
    let out = double.configure_labctl(lab.command(&["run", CHAPTER])).output();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        stderr(&out),
        "error: gcloud is not logged in: it has no active account and no credentials\n  \
         help: run `gcloud auth login` (or `gcloud auth activate-service-account`), then run labctl again\n"
    );
    assert_eq!(double.calls(), Vec::<String>::new(), "nothing was asked of the API");
}

#[test]
fn plan_reads_the_instances_and_prints_the_gcloud_commands() {
    let double = ComputeDouble::start(&kthw_instances(), None);
    let lab = OfflineLab::kthw();
    let out = lab.labctl(&double, &["plan", CHAPTER]).any_stderr().run();
    assert_eq!(
        stdout(&out),
        "# plan: chapter 11-pod-network-routes, variant gce\n\
         \n\
         ## local\n  \
         run       gce-routes (worker worker-0): gcloud compute routes create kubernetes-route-10-200-0-0-24 --project labctl-test --network kubernetes-the-hard-way --next-hop-address 10.240.0.20 --destination-range 10.200.0.0/24\n  \
         run       gce-routes (worker worker-1): gcloud compute routes create kubernetes-route-10-200-1-0-24 --project labctl-test --network kubernetes-the-hard-way --next-hop-address 10.240.0.21 --destination-range 10.200.1.0/24\n  \
         run       gce-routes (worker worker-2): gcloud compute routes create kubernetes-route-10-200-2-0-24 --project labctl-test --network kubernetes-the-hard-way --next-hop-address 10.240.0.22 --destination-range 10.200.2.0/24\n\
         \n\
         plan: 3 to change, 0 already done, 0 unknown\n"
    );
    let calls = double.calls();
    for i in 0..3 {
        let get = format!("GET projects/labctl-test/zones/test-zone-a/instances/worker-{i} 200");
        assert!(calls.contains(&get), "{calls:?}");
    }
    assert!(calls.iter().all(|c| c.starts_with("GET ")), "plan changed something: {calls:?}");
}

#[test]
fn a_mismatch_between_inventory_and_instances_is_reported_not_guessed() {
    let mut instances = kthw_instances();
    instances[1].1 = "10.240.0.31".into();
    instances[2].2 = Some("10.200.7.0/24".into());
    let double = ComputeDouble::start(&instances, None);
    let lab = OfflineLab::kthw();
    let out = lab.labctl(&double, &["run", CHAPTER]).any_stderr().status(2).run();
    let inventory = lab.inventory().display().to_string();
    assert_eq!(
        stderr(&out),
        format!(
            "error: {inventory}:5: the inventory gives `worker-1` the address 10.240.0.21, but instance `worker-1` has networkIP 10.240.0.31\n  \
             help: fix the inventory or the instance: labctl does not guess which is right\n\
             error: {inventory}:6: the inventory gives `worker-2` the pod_cidr 10.200.2.0/24, but instance `worker-2` has pod-cidr metadata 10.200.7.0/24\n  \
             help: fix the inventory or the instance: labctl does not guess which is right\n"
        )
    );
    assert_eq!(posts(&double), 0, "a route was made despite the mismatch");
}

#[test]
fn pod_cidrs_come_from_the_instances_and_project_and_zone_from_gcloud() {
    let double = ComputeDouble::start(&kthw_instances(), None);
    double.set_gcloud_config(&[("core", "project", PROJECT), ("compute", "zone", ZONE)]);
    let lab = OfflineLab::new(None, false);
    let out = lab.labctl(&double, &["plan", CHAPTER]).any_stderr().run();
    assert!(
        stdout(&out).contains(
            "run       gce-routes (worker worker-2): gcloud compute routes create kubernetes-route-10-200-2-0-24 --project labctl-test --network kubernetes-the-hard-way --next-hop-address 10.240.0.22 --destination-range 10.200.2.0/24\n"
        ),
        "{}",
        text(&out)
    );
    // An instance without the metadata, and an inventory without the CIDR: nothing to guess from.
    let mut instances = kthw_instances();
    instances[0].2 = None;
    let bare = ComputeDouble::start(&instances, None);
    bare.set_gcloud_config(&[("core", "project", PROJECT), ("compute", "zone", ZONE)]);
    let out = lab.labctl(&bare, &["plan", CHAPTER]).any_stderr().status(2).run();
    assert!(
        stderr(&out).contains(":4: `worker-0` has no pod CIDR: the inventory gives none and instance `worker-0` has no pod-cidr metadata"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_route_in_the_way_is_a_conflict_until_replace_and_reset_undoes_only_labctls() {
    let double = ComputeDouble::start(&kthw_instances(), None);
    let lab = OfflineLab::kthw();
    // By hand before labctl: worker-0's route exactly as planned, worker-1's with another next
    // hop, and a route that has nothing to do with the chapter.
    create_route(&double, "kubernetes-route-10-200-0-0-24", "10.200.0.0/24", "10.240.0.20");
    create_route(&double, "kubernetes-route-10-200-1-0-24", "10.200.1.0/24", "10.240.0.99");
    create_route(&double, "office-vpn", "10.99.0.0/24", "10.240.0.21");

    let run = lab.labctl(&double, &["run", CHAPTER]).any_stderr().status(1).run();
    assert!(stdout(&run).starts_with("HOST   gce-routes\nlocal  conflict\nrun: 1 changed, 1 ok, 0 failed, 0 unreachable, 0 skipped, 1 in conflict (log: "), "{}", text(&run));
    assert!(
        stderr(&run).contains(
            "error: local: gce-routes (worker worker-1): conflict: route kubernetes-route-10-200-1-0-24 exists: network kubernetes-the-hard-way, 10.200.1.0/24 via 10.240.0.99; \
             planned: network kubernetes-the-hard-way, 10.200.1.0/24 via 10.240.0.21; left alone (`--replace` replaces it)\n"
        ),
        "{}",
        text(&run)
    );
    assert_eq!(
        double.routes(),
        [
            "kubernetes-route-10-200-0-0-24 10.200.0.0/24 10.240.0.20",
            "kubernetes-route-10-200-1-0-24 10.200.1.0/24 10.240.0.99",
            "kubernetes-route-10-200-2-0-24 10.200.2.0/24 10.240.0.22",
            "office-vpn 10.99.0.0/24 10.240.0.21",
        ]
    );

    let plan = lab.labctl(&double, &["plan", CHAPTER, "--replace"]).any_stderr().run();
    assert!(
        stdout(&plan).contains(
            "  run       gce-routes (worker worker-1): gcloud compute routes delete kubernetes-route-10-200-1-0-24 --project labctl-test --quiet && gcloud compute routes create kubernetes-route-10-200-1-0-24 --project labctl-test --network kubernetes-the-hard-way --next-hop-address 10.240.0.21 --destination-range 10.200.1.0/24\n"
        ),
        "{}",
        text(&plan)
    );
    let before = double.calls().len();
    let replace = lab.labctl(&double, &["run", CHAPTER, "--replace"]).any_stderr().run();
    assert!(stdout(&replace).contains("run: 1 changed, 2 ok, 0 failed"), "{}", text(&replace));
    let changes: Vec<String> = double.calls()[before..]
        .iter()
        .filter(|c| {
            c.starts_with("POST projects/labctl-test/global/routes ") || c.starts_with("DELETE")
        })
        .cloned()
        .collect();
    assert_eq!(
        changes,
        [
            "DELETE projects/labctl-test/global/routes/kubernetes-route-10-200-1-0-24 200",
            "POST projects/labctl-test/global/routes 200",
        ]
    );

    let reset = lab.labctl(&double, &["reset", "--yes"]).any_stderr().run();
    assert!(stdout(&reset).contains("reset: 2 undone, 0 failed"), "{}", text(&reset));
    assert_eq!(
        double.routes(),
        [
            "kubernetes-route-10-200-0-0-24 10.200.0.0/24 10.240.0.20",
            "office-vpn 10.99.0.0/24 10.240.0.21"
        ],
        "reset removed a route labctl did not make, or left one it did"
    );
}

#[test]
fn reset_leaves_a_route_that_was_changed_after_labctl_made_it() {
    let double = ComputeDouble::start(&kthw_instances(), None);
    let lab = OfflineLab::kthw();
    lab.labctl(&double, &["run", CHAPTER, "--only", "gce-routes"]).any_stderr().run();
    // Someone replaces worker-2's route by hand: it is theirs now.
    let deleted = double.gcloud(&[
        "compute",
        "routes",
        "delete",
        "kubernetes-route-10-200-2-0-24",
        "--project",
        PROJECT,
        "--quiet",
    ]);
    assert!(deleted.status.success(), "{}", text(&deleted));
    create_route(&double, "kubernetes-route-10-200-2-0-24", "10.200.2.0/24", "10.240.0.98");
    lab.labctl(&double, &["reset", "--yes"]).any_stderr().run();
    assert_eq!(double.routes(), ["kubernetes-route-10-200-2-0-24 10.200.2.0/24 10.240.0.98"]);
}

#[test]
fn verify_lists_the_routes_as_the_chapter_does_and_says_what_is_wrong() {
    let double = ComputeDouble::start(&kthw_instances(), None);
    let lab = OfflineLab::kthw();
    create_route(&double, "kubernetes-route-10-200-0-0-24", "10.200.0.0/24", "10.240.0.20");
    create_route(&double, "kubernetes-route-10-200-1-0-24", "10.200.1.0/24", "10.240.0.99");
    let verify = lab.labctl(&double, &["-v", "verify", CHAPTER, "--variant", "gce"]).output();
    // The workers cannot be reached over SSH here: no probe matrix, exit 3.
    assert_eq!(verify.status.code(), Some(3), "{}", text(&verify));
    let out = stdout(&verify);
    for line in [
        "✅ gce route for worker-0 on local: kubernetes-route-10-200-0-0-24 in network kubernetes-the-hard-way: 10.200.0.0/24 via 10.240.0.20\n",
        "❌ gce route for worker-1 on local: kubernetes-route-10-200-1-0-24 in network kubernetes-the-hard-way is 10.200.1.0/24 via 10.240.0.99, planned 10.200.1.0/24 via 10.240.0.21: `labctl run 11-pod-network-routes --variant gce --replace` replaces it\n",
        "❌ gce route for worker-2 on local: no route kubernetes-route-10-200-2-0-24 in network kubernetes-the-hard-way: run `labctl run 11-pod-network-routes --variant gce`\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let list = double
        .requests()
        .into_iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("/global/routes") && r["method"] == "GET");
    let query =
        list.expect("verify listed the routes")["query"].as_str().unwrap_or_default().to_string();
    assert!(query.contains("filter=network+eq+"), "gcloud sent the chapter's filter: {query}");
}

#[test]
fn the_double_refuses_what_the_api_refuses() {
    let double = ComputeDouble::start(&kthw_instances(), None);
    let create = |name: &str, network: &str, dest: &str| {
        double.gcloud(&[
            "compute",
            "routes",
            "create",
            name,
            "--project",
            PROJECT,
            "--network",
            network,
            "--next-hop-address",
            "10.240.0.20",
            "--destination-range",
            dest,
            "--format=none",
        ])
    };
    let bad_name = create("Kubernetes_Route", NETWORK, "10.200.0.0/24");
    assert_eq!(bad_name.status.code(), Some(1));
    assert!(
        stderr(&bad_name).contains(
            "Invalid value for field 'resource.name': 'Kubernetes_Route'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'"
        ),
        "{}",
        text(&bad_name)
    );
    let too_long = create(&format!("k{}", "-8".repeat(32)), NETWORK, "10.200.0.0/24");
    assert!(
        stderr(&too_long).contains("Invalid value for field 'resource.name'"),
        "{}",
        text(&too_long)
    );
    assert!(create("kubernetes-route-10-200-0-0-24", NETWORK, "10.200.0.0/24").status.success());
    let duplicate = create("kubernetes-route-10-200-0-0-24", NETWORK, "10.200.0.0/24");
    assert_eq!(duplicate.status.code(), Some(1));
    assert!(
        stderr(&duplicate).contains(
            "The resource 'projects/labctl-test/global/routes/kubernetes-route-10-200-0-0-24' already exists"
        ),
        "{}",
        text(&duplicate)
    );
    let no_network = create("kubernetes-route-10-200-1-0-24", "no-such-network", "10.200.1.0/24");
    assert!(
        stderr(&no_network).contains(
            "The resource 'projects/labctl-test/global/networks/no-such-network' was not found"
        ),
        "{}",
        text(&no_network)
    );
    let bad_range = create("kubernetes-route-10-200-1-0-24", NETWORK, "10.200.1.7/24");
    assert!(
        stderr(&bad_range).contains("Invalid value for field 'resource.destRange'"),
        "{}",
        text(&bad_range)
    );
    // Several deletes go as one batch; operations are polled until DONE.
    let deleted = double.gcloud(&[
        "compute",
        "routes",
        "delete",
        "kubernetes-route-10-200-0-0-24",
        "no-such-route",
        "--project",
        PROJECT,
        "--quiet",
    ]);
    assert_eq!(deleted.status.code(), Some(1), "{}", text(&deleted));
    let batch: Vec<serde_json::Value> =
        double.requests().into_iter().filter(|r| r["batch"] == true).collect();
    assert!(batch.iter().any(|r| r["method"] == "DELETE" && r["status"] == 200), "{batch:?}");
    assert!(batch.iter().any(|r| r["method"] == "DELETE" && r["status"] == 404), "{batch:?}");
    assert!(
        double.calls().iter().any(|c| c.contains("/global/operations/")),
        "{:?}",
        double.calls()
    );
    assert_eq!(double.routes(), Vec::<String>::new());
}

/// The proof by packets, on the sandbox's gce shape (root).
#[test]
fn vpc_routes_carry_the_pods_packets_exactly_while_labctl_has_them() {
    sandbox_lab::require_root();
    let root = sandbox_lab::Root::new();
    let name = sandbox_lab::unique_name("gce");
    let lab = sandbox_lab::Lab::up(
        &root,
        &name,
        &["--shape", "gce", "--network", "10.233.1.0/24", "--workers", "3"],
    );
    let status = lab.status();
    let router = str_of(&status["router_netns"]);
    let nodes = status["nodes"].as_array().unwrap().clone();
    let workers: Vec<&serde_json::Value> =
        nodes.iter().filter(|n| !n["pod_cidr"].is_null()).collect();
    let instances: Vec<compute::Instance> = workers
        .iter()
        .map(|n| (str_of(&n["name"]), str_of(&n["address"]), Some(str_of(&n["pod_cidr"]))))
        .collect();
    let double = ComputeDouble::start(&instances, Some(&router));
    // The sandbox's inventory, as a GCE lab's: same machines, routes made with gcloud.
    let written = std::fs::read_to_string(lab.dir().join("labctl.yaml")).unwrap();
    let inventory = lab.dir().join("gce.yaml");
    std::fs::write(
        &inventory,
        written.replace("provider: ssh\n", "provider: gce\n")
            + &format!("gce: {{ project: {PROJECT}, network: {NETWORK}, zone: {ZONE} }}\n"),
    )
    .unwrap();
    let labctl = |args: &[&str]| -> Test {
        double.logged_in_labctl(root.labctl(args).inventory(&inventory))
    };
    let pods: Vec<(String, String)> =
        workers.iter().map(|n| (str_of(&n["pod_netns"]), str_of(&n["pod_address"]))).collect();
    let reachability = || -> Vec<bool> {
        let mut out = Vec::new();
        for (a, _) in &pods {
            for (b_ns, b) in &pods {
                if a != b_ns {
                    out.push(ping_until(a, b, Duration::from_secs(2)));
                }
            }
        }
        out
    };
    let router_routes = || -> String {
        let out = Command::new("ip").args(["-n", &router, "route"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    assert!(reachability().iter().all(|r| !r), "pods reach each other before any VPC route");
    let verify = labctl(&["verify"]).any_stderr().status(1).run();
    assert!(
        stdout(&verify).contains(
            "❌ gce route for worker-0 on local: no route kubernetes-route-10-200-0-0-24"
        ),
        "{}",
        text(&verify)
    );

    let run = labctl(&["run", CHAPTER]).any_stderr().run();
    assert!(stdout(&run).contains("run: 3 changed, 0 ok, 0 failed"), "{}", text(&run));
    let routes = router_routes();
    assert!(routes.contains("10.200.1.0/24 via 10.233.1.21 dev eth0"), "{routes}");
    assert!(reachability().iter().all(|r| *r), "pods do not reach each other after run");
    let verify = labctl(&["-v", "verify"]).any_stderr().run();
    let out = stdout(&verify);
    assert!(out.contains("✅ gce route for worker-2 on local: kubernetes-route-10-200-2-0-24 in network kubernetes-the-hard-way: 10.200.2.0/24 via 10.233.1.22\n"), "{out}");
    assert!(out.contains("✅ ping  worker-0 → worker-1: 2 of 2 pings answered"), "{out}");
    // The GCE routes and, per worker, the pod CIDR its node tells.
    assert!(
        out.ends_with("verify: 6 of 6 pairs pass (12 checks); 6 of 6 host checks pass\n"),
        "{out}"
    );

    let made = posts(&double);
    let again = labctl(&["run", CHAPTER]).any_stderr().run();
    assert!(stdout(&again).contains("run: 0 changed, 3 ok, 0 failed"), "{}", text(&again));
    assert_eq!(posts(&double), made, "a second run created routes");
    let plan = labctl(&["plan", CHAPTER]).output();
    assert!(
        stdout(&plan).ends_with("plan: nothing to change (3 already done)\n"),
        "{}",
        text(&plan)
    );

    let reset = labctl(&["reset", "--yes"]).any_stderr().run();
    assert!(stdout(&reset).contains("reset: 3 undone, 0 failed"), "{}", text(&reset));
    assert!(!router_routes().contains("10.200."), "{}", router_routes());
    assert_eq!(double.routes(), Vec::<String>::new());
    assert!(reachability().iter().all(|r| !r), "pods still reach each other after reset");
    labctl(&["verify"]).any_stderr().status(1).run();
}

/// `reset --hard` on the sandbox's gce shape: routes a student named and made with gcloud go,
/// the network's default routes and another VPC route stay, with packets as the proof (root).
#[test]
fn reset_hard_removes_every_route_into_the_cluster_cidr_whatever_its_name() {
    sandbox_lab::require_root();
    let root = sandbox_lab::Root::new();
    let name = sandbox_lab::unique_name("gcehard");
    let lab = sandbox_lab::Lab::up(
        &root,
        &name,
        &["--shape", "gce", "--network", "10.233.60.0/24", "--workers", "3"],
    );
    let status = lab.status();
    let router = str_of(&status["router_netns"]);
    let nodes = status["nodes"].as_array().unwrap().clone();
    let workers: Vec<&serde_json::Value> =
        nodes.iter().filter(|n| !n["pod_cidr"].is_null()).collect();
    let instances: Vec<compute::Instance> = workers
        .iter()
        .map(|n| (str_of(&n["name"]), str_of(&n["address"]), Some(str_of(&n["pod_cidr"]))))
        .collect();
    let double = ComputeDouble::start(&instances, Some(&router));
    let written = std::fs::read_to_string(lab.dir().join("labctl.yaml")).unwrap();
    let inventory = lab.dir().join("gce.yaml");
    std::fs::write(
        &inventory,
        written.replace("provider: ssh\n", "provider: gce\n")
            + &format!("gce: {{ project: {PROJECT}, network: {NETWORK}, zone: {ZONE} }}\n"),
    )
    .unwrap();
    let labctl = |args: &[&str]| -> Test {
        double.logged_in_labctl(root.labctl(args).inventory(&inventory))
    };
    let pods: Vec<(String, String)> =
        workers.iter().map(|n| (str_of(&n["pod_netns"]), str_of(&n["pod_address"]))).collect();
    let reachable = || -> usize {
        let mut n = 0;
        for (a, _) in &pods {
            for (b_ns, b) in &pods {
                if a != b_ns && ping_until(a, b, Duration::from_secs(2)) {
                    n += 1;
                }
            }
        }
        n
    };
    let router_routes = || -> String {
        let out = Command::new("ip").args(["-n", &router, "route"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let defaults = double.all_routes();
    assert_eq!(defaults.len(), 2, "{defaults:?}");
    assert!(defaults.iter().any(|r| r.ends_with(" 0.0.0.0/0")), "{defaults:?}");
    assert!(defaults.iter().any(|r| r.ends_with(" 10.233.60.0/24")), "{defaults:?}");
    let start_router = router_routes();

    // By hand, with the student's own names; my-route-2 goes to an address nobody answers.
    create_route(&double, "my-route-0", "10.200.0.0/24", "10.233.60.20");
    create_route(&double, "my-route-1", "10.200.1.0/24", "10.233.60.21");
    create_route(&double, "my-route-2", "10.200.2.0/24", "10.233.60.99");
    // Not the chapter's: another network's route.
    create_route(&double, "office-vpn", "10.50.0.0/16", "10.233.60.20");
    assert_eq!(reachable(), 2, "only worker-0 and worker-1 reach each other");
    let routes_by_hand = double.all_routes();
    let router_by_hand = router_routes();

    let dry = labctl(&["reset", "--hard", "--dry-run"]).any_stderr().run();
    assert_eq!(
        stdout(&dry),
        "reset --hard: 11-pod-network-routes (variant gce): 3 item(s) of its footprint on 1 host(s)\n\
         HOST   PART        ITEM                                       MADE BY\n\
         local  vpc-routes  my-route-0 10.200.0.0/24 via 10.233.60.20  not made by labctl\n\
         local  vpc-routes  my-route-1 10.200.1.0/24 via 10.233.60.21  not made by labctl\n\
         local  vpc-routes  my-route-2 10.200.2.0/24 via 10.233.60.99  not made by labctl\n\
         reset --hard --dry-run: 3 item(s) would be removed; nothing was changed\n"
    );
    assert_eq!(double.all_routes(), routes_by_hand, "--dry-run changed the VPC");
    assert_eq!(router_routes(), router_by_hand, "--dry-run changed the router");

    // A worker that is down does not matter: the gce footprint is read with gcloud from here.
    let pid = std::fs::read_to_string(lab.dir().join("nodes/worker-2/sshd.pid")).unwrap();
    assert!(Command::new("kill").args(["-STOP", pid.trim()]).status().unwrap().success());
    let hard = labctl(&["reset", "--hard", "--yes"]).output();
    Command::new("kill").args(["-CONT", pid.trim()]).status().unwrap();
    assert!(hard.status.success(), "{}", text(&hard));
    let out = stdout(&hard);
    assert!(
        out.contains("local  vpc-routes  my-route-2 10.200.2.0/24 via 10.233.60.99  not made by labctl  removed\n"),
        "{out}"
    );
    assert!(out.contains("local: back at the start\n"), "{out}");
    let mut expected = defaults.clone();
    expected.push("office-vpn 10.50.0.0/16".into());
    expected.sort();
    assert_eq!(double.all_routes(), expected);
    assert!(!router_routes().contains("10.200."), "{}", router_routes());
    assert!(router_routes().contains("10.50.0.0/16 via 10.233.60.20"), "{}", router_routes());
    assert_eq!(
        router_routes().replace("10.50.0.0/16 via 10.233.60.20 dev eth0 \n", ""),
        start_router
    );
    assert_eq!(reachable(), 0, "pods still reach each other");
    labctl(&["verify"]).any_stderr().status(1).run();
    let again = labctl(&["reset", "--hard", "--yes"]).output();
    assert!(stdout(&again).contains("nothing to remove"), "{}", text(&again));

    // labctl's own routes, plus a student's second route: both kinds named as such.
    labctl(&["run", CHAPTER]).any_stderr().run();
    labctl(&["verify"]).any_stderr().run();
    create_route(&double, "extra", "10.200.0.0/16", "10.233.60.21");
    let hard = labctl(&["reset", "--hard", "--yes"]).any_stderr().run();
    // Columns, whatever their widths.
    let out: String = stdout(&hard)
        .lines()
        .map(|l| {
            l.split("  ").filter(|c| !c.is_empty()).map(str::trim).collect::<Vec<_>>().join(" | ")
                + "\n"
        })
        .collect();
    assert!(out.contains("local | vpc-routes | extra 10.200.0.0/16 via 10.233.60.21 | not made by labctl | removed\n"), "{out}");
    assert!(out.contains("local | vpc-routes | kubernetes-route-10-200-1-0-24 10.200.1.0/24 via 10.233.60.21 | labctl's run at 20"), "{out}");
    assert!(out.contains(" | undone by labctl\n"), "{out}");
    assert!(
        out.contains("reset --hard: 3 undone by labctl, 1 removed, 0 host(s) not at the start"),
        "{out}"
    );
    assert_eq!(double.all_routes(), expected);
    let run = labctl(&["run", CHAPTER]).output();
    assert!(stdout(&run).contains("run: 3 changed"), "{}", text(&run));
    labctl(&["verify"]).any_stderr().run();
}
