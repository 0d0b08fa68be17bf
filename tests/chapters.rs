//! Invariants over the chapters shipped in `labs/`, and what chapter 11 renders to.

use labctl::course::{Catalog, Course};
use labctl::inventory::Provider;

/// The built-in chapters, with chapter 11's variables, as labctl loads them.
fn builtin() -> Course {
    Course { catalog: Catalog::Builtin, ..labctl::commands::course() }
}

#[test]
fn every_chapter_loads_and_every_variant_renders_for_every_provider() {
    let course = builtin();
    let names = course.catalog.names().unwrap();
    assert!(names.contains(&"11-pod-network-routes".to_string()));
    for name in names {
        let chapter = course.load(&name).unwrap_or_else(|e| panic!("chapter {name}: {e}"));
        for provider in [Provider::Ssh, Provider::Vagrant, Provider::Gce] {
            chapter.variant(None, provider).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for variant in &chapter.spec.variants {
            assert!(!variant.steps.is_empty(), "{name}/{}: no steps", variant.name.value);
            assert!(!variant.verify.is_empty(), "{name}/{}: no verify checks", variant.name.value);
            for step in &variant.steps {
                assert!(!step.summary.trim().is_empty(), "{name}/{}: no summary", step.name.value);
            }
            let plan = labctl::plan::render(&chapter, variant, &chapter.example_lab()).unwrap();
            for host in &plan.hosts {
                for step in &host.steps {
                    for action in &step.actions {
                        let optional = action.conflict.iter().chain(action.replace.iter());
                        for command in
                            [&action.check, &action.run, &action.undo].into_iter().chain(optional)
                        {
                            assert!(
                                !command.contains("{{") && !command.contains('\n'),
                                "{command}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn default_variants_follow_the_provider() {
    let chapter = builtin().load("11-pod-network-routes").unwrap();
    assert_eq!(chapter.variant(None, Provider::Ssh).unwrap().name.value, "static");
    assert_eq!(chapter.variant(None, Provider::Vagrant).unwrap().name.value, "flannel");
    assert_eq!(chapter.variant(None, Provider::Gce).unwrap().name.value, "gce");
}

#[test]
fn static_routes_go_to_every_other_worker_and_nothing_is_hard_coded() {
    let chapter = builtin().load("11-pod-network-routes").unwrap();
    let mut inventory = chapter.example_lab();
    // A lab that is not KTHW's: other addresses and CIDRs must flow through.
    for (i, node) in inventory.nodes.iter_mut().filter(|n| n.pod_cidr.is_some()).enumerate() {
        node.address = [192, 168, 56, 101 + i as u8].into();
        node.pod_cidr = Some(format!("10.244.{i}.0/24").parse().unwrap());
    }
    let variant = chapter.variant(Some("static"), Provider::Ssh).unwrap();
    let plan = labctl::plan::render(&chapter, variant, &inventory).unwrap();
    let names: Vec<&str> = plan.hosts.iter().map(|h| h.host.name()).collect();
    assert_eq!(names, ["worker-0", "worker-1", "worker-2"]);
    let runs: Vec<&str> = plan.hosts[1].steps[0].actions.iter().map(|a| a.run.as_str()).collect();
    assert_eq!(
        runs,
        [
            "ip route replace 10.244.0.0/24 via 192.168.56.101",
            "ip route replace 10.244.2.0/24 via 192.168.56.103"
        ]
    );
    assert!(plan.hosts[1].steps[0].sudo);
}

#[test]
fn values_from_the_inventory_are_shell_quoted_in_commands() {
    let chapter = builtin().load("11-pod-network-routes").unwrap();
    let mut inventory = chapter.example_lab();
    inventory.vars.get_mut("gce").unwrap().value["network"] = "net; touch /tmp/pwned".into();
    let variant = chapter.variant(Some("gce"), Provider::Gce).unwrap();
    let plan = labctl::plan::render(&chapter, variant, &inventory).unwrap();
    let run = &plan.hosts[0].steps[0].actions[0].run;
    assert!(run.contains("--network 'net; touch /tmp/pwned' "), "{run}");
}

#[test]
fn gce_routes_are_named_as_the_chapter_names_them() {
    let chapter = builtin().load("11-pod-network-routes").unwrap();
    let variant = chapter.variant(Some("gce"), Provider::Gce).unwrap();
    let plan = labctl::plan::render(&chapter, variant, &chapter.example_lab()).unwrap();
    assert_eq!(plan.hosts.len(), 1, "gce routes are made from this machine only");
    let runs: Vec<&str> = plan.hosts[0].steps[0].actions.iter().map(|a| a.run.as_str()).collect();
    assert_eq!(
        runs[0],
        "gcloud compute routes create kubernetes-route-10-200-0-0-24 --project example-project \
         --network kubernetes-the-hard-way --next-hop-address 10.240.0.20 --destination-range 10.200.0.0/24"
    );
    assert_eq!(runs.len(), 3);
}

#[test]
fn gce_routes_in_the_way_are_reported_and_replaced_only_on_request() {
    let chapter = builtin().load("11-pod-network-routes").unwrap();
    let variant = chapter.variant(Some("gce"), Provider::Gce).unwrap();
    assert_eq!(variant.cloud, Some(labctl::chapter::Cloud::Gce));
    let plan = labctl::plan::render(&chapter, variant, &chapter.example_lab()).unwrap();
    let action = &plan.hosts[0].steps[0].actions[1];
    assert_eq!(
        action.replace.as_deref(),
        Some(
            "gcloud compute routes delete kubernetes-route-10-200-1-0-24 --project example-project --quiet && \
             gcloud compute routes create kubernetes-route-10-200-1-0-24 --project example-project \
             --network kubernetes-the-hard-way --next-hop-address 10.240.0.21 --destination-range 10.200.1.0/24"
        )
    );
    let conflict = action.conflict.as_deref().unwrap();
    assert!(
        conflict.starts_with("gcloud compute routes describe kubernetes-route-10-200-1-0-24 --project example-project "),
        "{conflict}"
    );
    // Reset deletes a route only when it still has the values labctl gave it.
    assert!(
        action.undo.contains(
            "= \"$(printf '%s\\t%s\\t%s' kubernetes-the-hard-way 10.200.1.0/24 10.240.0.21)\""
        ),
        "{}",
        action.undo
    );
}

/// Chapter 04 says what each of its actions leaves, so `reset --hard` tells labctl's files from
/// a student's: a put file leaves its destination, the jumpbox steps their files, one per line.
#[test]
fn chapter_04s_actions_leave_the_files_its_footprint_lists() {
    let chapter = builtin().load("04-certificate-authority").unwrap();
    let variant = chapter.variant(None, Provider::Ssh).unwrap();
    let plan = labctl::plan::render(&chapter, variant, &chapter.example_lab()).unwrap();
    let leaves = |host: &str, step: &str| -> Vec<String> {
        let host = plan.hosts.iter().find(|h| h.host.name() == host).unwrap();
        let step = host.steps.iter().find(|s| s.name == step).unwrap();
        step.actions.iter().flat_map(|a| a.leaves.clone()).collect()
    };
    assert_eq!(
        leaves("worker-1", "kubelet-certificates"),
        ["/var/lib/kubelet/ca.crt", "/var/lib/kubelet/kubelet.crt", "/var/lib/kubelet/kubelet.key"]
    );
    assert_eq!(leaves("server", "controller-certificates").len(), 6);
    assert_eq!(leaves("local", "ca"), ["ca.key", "ca.crt", "ca.srl"]);
    let certificates = leaves("local", "certificates");
    for file in
        ["admin.key", "worker-2.csr", "worker-0.crt", "service-accounts.crt", "certificates.stamp"]
    {
        assert!(certificates.contains(&file.to_string()), "{file}: {certificates:?}");
    }
    // 9 names (admin, three workers, five components) × 3 files, and the stamp.
    assert_eq!(certificates.len(), 9 * 3 + 1, "{certificates:?}");
}
