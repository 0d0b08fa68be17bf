//! Carrying out chapter 11's verify on a lab: facts from every worker, temporary probe pods,
//! route evidence and pings between them, probes always removed afterwards; then the host
//! checks, the generic ones ([`Verifier::host_checks`]) and chapter 11's (`flannel state`,
//! `pod CIDR`, the GCE routes). The runner calls [`run`] through
//! [`crate::runner::verify::ChapterChecks`] (docs/architecture.md, "Layers (folders)").

use std::collections::BTreeMap;

use futures::future::LocalBoxFuture;

use super::probe::{self, SetupOutput};
use super::{CheckOutput, CidrSource, ProbePlan, VerifyInput, WorkerRun, diagnose};
use crate::chapter::Variant;
use crate::chapter::provided::RunsOn;
use crate::connector::CommandSpec;
use crate::diagnostic::Diagnostic;
use crate::facts::{HostFacts, NodeFacts};
use crate::inventory::{Inventory, Node};
use crate::pod_network::checks::{PodCheck, RouteExpectation};
use crate::pod_network::flannel::facts::Flannel;
use crate::runner::execute::describe_failure;
use crate::runner::join_bounded;
use crate::runner::verify::{SCRIPT_TIMEOUT, Verifier};
use crate::verify::{HostCheck, Report};

/// Verifies a variant of chapter 11: in pairs when it checks pairs, else per host.
pub fn run<'v>(v: &'v Verifier<'v>) -> LocalBoxFuture<'v, Result<Report, Diagnostic>> {
    Box::pin(async move {
        if v.chapter.pairwise(v.variant) { pairwise(v).await } else { single_hosts(v).await }
    })
}

/// Facts of `workers`, and the known ones by name.
fn known<'f>(workers: &[&Node], facts: &'f [NodeFacts]) -> BTreeMap<String, &'f HostFacts> {
    workers
        .iter()
        .zip(facts)
        .filter_map(|(n, f)| match f {
            NodeFacts::Known(h) => Some((n.name.clone(), h)),
            _ => None,
        })
        .collect()
}

/// Every check of a variant that compares workers in pairs, judged.
async fn pairwise(v: &Verifier<'_>) -> Result<Report, Diagnostic> {
    let expectation = expectation(v.variant);
    let ping_count = PodCheck::of(v.variant).into_iter().find_map(|c| match c {
        PodCheck::PodMatrix { count } => Some(count.max(1)),
        _ => None,
    });
    let workers: Vec<&Node> = v.inventory.workers().collect();

    // 1. Facts, read-only, every worker at once.
    let facts: Vec<NodeFacts> =
        join_bounded(workers.iter().map(|node| gather(v, node)), v.concurrency).await;
    let known = known(&workers, &facts);
    let mut plan = ProbePlan::new(&workers, &known, expectation);
    let mut host_checks = pod_cidr_checks(&plan);
    host_checks.extend(host_checks_with_facts(v, &known).await?);
    drop(known);
    v.step("facts read");

    // 2. Probes (only for the data plane), then 3. route evidence and pings; 4. always
    // teardown, also after a failure or Ctrl-C.
    let stop = || v.stop_requested();
    let setups: Vec<Option<Result<SetupOutput, String>>> = if ping_count.is_some() && !stop() {
        join_bounded(workers.iter().map(|n| setup_probe(v, &plan, n)), v.concurrency).await
    } else {
        workers.iter().map(|_| None).collect()
    };
    let mut probe_errors = Vec::new();
    for (node, setup) in workers.iter().zip(&setups) {
        match setup {
            Some(Ok(out)) => {
                plan.set_up(&node.name, out);
                probe_errors.push(None);
            }
            Some(Err(e)) => probe_errors.push(Some(e.clone())),
            None => probe_errors.push(None),
        }
    }
    v.step("probes set up");
    let checks: Vec<Result<CheckOutput, String>> = if stop() {
        workers.iter().map(|_| Err("interrupted".to_string())).collect()
    } else {
        join_bounded(workers.iter().map(|n| check(v, &plan, n, ping_count)), v.concurrency).await
    };
    v.step("checks done");
    let teardown: Vec<Option<String>> = if ping_count.is_some() {
        join_bounded(
            workers.iter().zip(&setups).map(|(n, setup)| teardown(v, &plan, n, setup)),
            v.concurrency,
        )
        .await
    } else {
        workers.iter().map(|_| None).collect()
    };
    v.step("probes removed");
    if let Some(progress) = v.progress {
        for node in &workers {
            progress.finish(&node.name, "done");
        }
    }

    let runs: Vec<WorkerRun> = workers
        .iter()
        .zip(facts)
        .zip(probe_errors)
        .zip(checks)
        .map(|(((node, facts), probe_error), checks)| WorkerRun {
            node,
            facts,
            probe_error,
            checks,
        })
        .collect();
    let input = VerifyInput {
        chapter: v.chapter.name(),
        expectation,
        data_plane: ping_count.is_some(),
        plan: &plan,
        workers: runs,
    };
    let report = diagnose(&input);
    for (node, problem) in workers.iter().zip(teardown) {
        if let Some(problem) = problem {
            host_checks.push(HostCheck::new(
                "probe-removed",
                node.name.clone(),
                false,
                format!(
                    "{problem}; a later `labctl verify` removes it, or by hand: `sudo ip link del {link}`, `sudo ip netns del` of its namespace (`ip netns list`)",
                    link = probe::host_end(&plan.run)
                ),
            ));
        }
    }
    Ok(report.with_host_checks(host_checks))
}

/// A variant whose checks are about single hosts: facts only where a check needs them, each
/// check on its own hosts, a report per host and check.
async fn single_hosts(v: &Verifier<'_>) -> Result<Report, Diagnostic> {
    let workers: Vec<&Node> = if v.chapter.runs_on(v.variant, RunsOn::Workers) {
        v.inventory.workers().collect()
    } else {
        Vec::new()
    };
    let facts: Vec<NodeFacts> =
        join_bounded(workers.iter().map(|node| gather(v, node)), v.concurrency).await;
    let checks = host_checks_with_facts(v, &known(&workers, &facts)).await?;
    v.finish_hosts();
    Ok(Report::of_host_checks(v.chapter.name(), checks))
}

/// The generic host checks, then chapter 11's: the GCE routes (from gcloud), flannel's state
/// (from facts).
async fn host_checks_with_facts(
    v: &Verifier<'_>,
    facts: &BTreeMap<String, &HostFacts>,
) -> Result<Vec<HostCheck>, Diagnostic> {
    let mut results = v.host_checks().await?;
    let checks = PodCheck::of(v.variant);
    if checks.iter().any(|c| matches!(c, PodCheck::GceRoutes {})) {
        let hint = format!("labctl run {} --variant {}", v.chapter.name(), v.variant.name.value);
        results.extend(crate::pod_network::gce::routes::verify(v.inventory, &hint, v.log).await);
    }
    if checks.iter().any(|c| matches!(c, PodCheck::FlannelState {})) {
        results.extend(flannel_state(v.inventory, facts));
    }
    Ok(results)
}

async fn gather(v: &Verifier<'_>, node: &Node) -> NodeFacts {
    match v.exec(node, crate::pod_network::flannel::facts::gather_script(&[]), false).await {
        Err(reason) => NodeFacts::Unreachable { reason },
        Ok(out) => match crate::pod_network::flannel::facts::parse(&out.stdout_text()) {
            Ok(facts) => NodeFacts::Known(facts),
            Err(error) => NodeFacts::Unreadable { error },
        },
    }
}

async fn setup_probe(
    v: &Verifier<'_>,
    plan: &ProbePlan,
    node: &Node,
) -> Option<Result<SetupOutput, String>> {
    let script = plan.setup_script(&node.name)?;
    Some(match v.exec(node, script, true).await {
        Ok(out) if out.success() => Ok(probe::parse_setup(&out.stdout_text())),
        Ok(out) => Err(describe_failure("probe setup", &out)),
        Err(e) => Err(e),
    })
}

async fn check(
    v: &Verifier<'_>,
    plan: &ProbePlan,
    node: &Node,
    ping_count: Option<u32>,
) -> Result<CheckOutput, String> {
    let script = plan.check_script(&node.name, ping_count);
    let out = v.exec(node, script, ping_count.is_some()).await?;
    probe::parse_check(&out.stdout_text()).map_err(|e| e.to_string())
}

/// Removes this run's probe from a node where setup ran or may have run; `Some(problem)`
/// when something is left.
async fn teardown(
    v: &Verifier<'_>,
    plan: &ProbePlan,
    node: &Node,
    setup: &Option<Result<SetupOutput, String>>,
) -> Option<String> {
    setup.as_ref()?;
    let connection = v.connection(node).ok()?;
    let spec = CommandSpec {
        command: plan.teardown_script(),
        sudo: v.sudo,
        stdin: None,
        timeout: SCRIPT_TIMEOUT,
    };
    // Not stopped by a second Ctrl-C: a probe must not be left behind.
    v.log.started(&node.name, &spec.command);
    let result = connection.run_cleanup(&spec).await;
    let logged = result.as_ref().map(Clone::clone).map_err(|e| e.to_string());
    v.log.command(&node.name, &spec.command, &logged);
    match result.map_err(|e| e.to_string()) {
        Ok(out) if out.success() => None,
        Ok(out) => Some(out.stderr_text().trim().to_string()),
        Err(e) => Some(format!("the probe could not be removed: {e}")),
    }
}

/// flannel on each worker, judged from its facts alone: `flannel.1` on the node's lab address
/// (the NAT trap named when it is on the address every worker has), its subnet in the cluster
/// CIDR.
fn flannel_state(inventory: &Inventory, facts: &BTreeMap<String, &HostFacts>) -> Vec<HostCheck> {
    let cluster = inventory.network.cluster_cidr;
    let known: Vec<(&Node, &HostFacts)> =
        inventory.workers().filter_map(|n| facts.get(&n.name).map(|f| (n, *f))).collect();
    let trap = crate::pod_network::flannel::iface::nat_trap(&known);
    inventory
            .workers()
            .map(|node| {
                let check = |passed: bool, evidence: String| {
                    HostCheck::new("flannel state", node.name.clone(), passed, evidence)
                };
                let Some(f) = facts.get(&node.name) else {
                    return check(false, "no facts: the node could not be reached".into());
                };
                let Some(link) = &f.flannel().link else {
                    return check(false, "there is no `flannel.1` device: flanneld has not started on this node".into());
                };
                if link.local != Some(node.address) {
                    let local = link.local.map(|a| a.to_string()).unwrap_or_else(|| "none".into());
                    if let Some(trap) = trap.as_ref().filter(|t| link.local == Some(t.address)) {
                        let nic = trap.nics.iter().find(|(n, _)| n == &node.name).map(|(_, nic)| nic.as_str()).unwrap_or("?");
                        let lab_nic = f.address_owner(node.address).map(|l| l.name.as_str()).unwrap_or("?");
                        return check(
                            false,
                            format!(
                                "`flannel.1` uses local address {local} on {nic}, the NAT address every worker has, not the node's lab address {} on {lab_nic}: flannel is bound to the NAT trap (flanneld needs `--iface`; `labctl run` sets it from facts)",
                                node.address
                            ),
                        );
                    }
                    return check(
                        false,
                        format!(
                            "`flannel.1` uses local address {local}, not the node's lab address {}: flannel picked the wrong interface (set `flannel.iface`)",
                            node.address
                        ),
                    );
                }
                match f.flannel().subnet_env.as_ref().and_then(|e| e.pod_cidr()) {
                    Some(subnet) if cluster.contains(&subnet) => {
                        check(true, format!("flannel.1 local {}, subnet {subnet} in {cluster}", node.address))
                    }
                    Some(subnet) => check(false, format!("flannel's subnet {subnet} is outside the cluster CIDR {cluster}")),
                    None => check(false, "`/run/flannel/subnet.env` is missing or has no FLANNEL_SUBNET".into()),
                }
            })
            .collect()
}

/// For each worker whose pod subnet the node itself tells: does the inventory agree?
fn pod_cidr_checks(plan: &ProbePlan) -> Vec<HostCheck> {
    plan.probes
        .iter()
        .filter(|p| p.cidr_source.from_node() && p.cidr_source != CidrSource::Flannel)
        .filter(|p| p.inventory_cidr.is_some())
        .map(|p| {
            let (passed, evidence) = match p.mismatch() {
                None => {
                    (true, format!("{} ({} and the inventory)", p.cidr, p.cidr_source.describe()))
                }
                Some(inventory) => (
                    false,
                    format!(
                        "the node's pods are in {} ({}), the inventory says {inventory}",
                        p.cidr,
                        p.cidr_source.describe()
                    ),
                ),
            };
            HostCheck::new("pod CIDR", p.node.clone(), passed, evidence)
        })
        .collect()
}

/// The route expectation of `variant`, if it checks route evidence.
pub fn expectation(variant: &Variant) -> Option<RouteExpectation> {
    PodCheck::of(variant).into_iter().find_map(|c| match c {
        PodCheck::RouteEvidence { expect } => Some(expect),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::fixture;

    /// The sample lab's three workers with the facts of a Vagrant worker running flannel
    /// (fixture of worker-0, moved to each worker), each changed by `edit`.
    fn judged(edit: impl Fn(usize, String) -> String) -> Vec<(String, bool, String)> {
        let inventory = crate::pod_network::example_lab();
        let facts: Vec<(String, HostFacts)> = (0..3u8)
            .map(|i| {
                let text = fixture("gather-flannel-worker-0.txt")
                    .replace("10.240.0.20", &format!("10.240.0.{}", 20 + i))
                    .replace("10.200.0.", &format!("10.200.{i}."));
                (
                    format!("worker-{i}"),
                    crate::pod_network::flannel::facts::parse(&edit(i as usize, text)).unwrap(),
                )
            })
            .collect();
        let by_name: BTreeMap<String, &HostFacts> =
            facts.iter().map(|(n, f)| (n.clone(), f)).collect();
        flannel_state(&inventory, &by_name)
            .into_iter()
            .map(|c| (c.host, c.passed, c.evidence))
            .collect()
    }

    #[test]
    fn flannel_on_the_lab_address_with_a_subnet_in_the_cluster_cidr_passes() {
        let checks = judged(|_, text| text);
        assert_eq!(
            checks[1],
            (
                "worker-1".into(),
                true,
                "flannel.1 local 10.240.0.21, subnet 10.200.1.0/24 in 10.200.0.0/16".into()
            )
        );
        assert!(checks.iter().all(|c| c.1), "{checks:?}");
    }

    #[test]
    fn a_subnet_outside_the_cluster_cidr_fails() {
        let checks = judged(|i, text| match i {
            2 => text.replace("FLANNEL_SUBNET=10.200.2.1/24", "FLANNEL_SUBNET=10.99.2.1/24"),
            _ => text,
        });
        assert_eq!(
            checks[2],
            (
                "worker-2".into(),
                false,
                "flannel's subnet 10.99.2.0/24 is outside the cluster CIDR 10.200.0.0/16".into()
            )
        );
        assert!(checks[0].1 && checks[1].1);
    }

    #[test]
    fn a_missing_subnet_env_fails() {
        let checks = judged(|i, text| match i {
            0 => text.replace("FLANNEL_SUBNET=", "NOT_FLANNEL_SUBNET="),
            _ => text,
        });
        assert_eq!(
            checks[0],
            (
                "worker-0".into(),
                false,
                "`/run/flannel/subnet.env` is missing or has no FLANNEL_SUBNET".into()
            )
        );
    }

    #[test]
    fn flannel_on_another_address_that_is_not_the_nat_trap_is_the_wrong_interface() {
        let checks = judged(|i, text| match i {
            1 => text.replace(
                "\"local\":\"10.240.0.21\",\"link\"",
                "\"local\":\"192.168.56.7\",\"link\"",
            ),
            _ => text,
        });
        assert_eq!(
            checks[1],
            (
                "worker-1".into(),
                false,
                "`flannel.1` uses local address 192.168.56.7, not the node's lab address 10.240.0.21: flannel picked the wrong interface (set `flannel.iface`)".into()
            )
        );
    }
}
