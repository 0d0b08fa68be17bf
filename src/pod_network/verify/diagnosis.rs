//! Verify's judgement: from what was observed on the workers to a verdict per check and, for
//! each failed pair, a diagnosis in words a student understands.
//!
//! For an ordered pair (a, b) the evidence is `ip route get <b's probe address>` on a and a ping
//! from a's probe to b's. What the route must look like depends on the variant:
//!
//! - via-peer (static routes): via b's lab address;
//! - via-gateway (GCE routes): via a's default gateway, the VPC router; past it, the route is
//!   the VPC's business (the `gce_routes` check looks at those);
//! - via-flannel: out of `flannel.1`, whose VXLAN `local` address must be a's lab address.
//!
//! When a pair fails, the facts say why: no route, a blackhole, the wrong next hop, forwarding
//! off, flannel bound to the NAT interface (its address is on more than one node: the Vagrant
//! trap), two nodes claiming one pod CIDR, a node that could not be reached.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::codes::{self, DATA_PLANE, ROUTE_EVIDENCE};
use super::plan::{Probe, ProbePlan};
use super::probe::{self, Attach, CheckOutput, PingOutcome};
use crate::facts::iptables::{ConnState, Drop, Packet, Verdict};
use crate::facts::{HostFacts, NodeFacts, Route, RouteGet, RouteKind, RoutePath};
use crate::inventory::Node;
use crate::pod_network::checks::RouteExpectation;
use crate::pod_network::flannel::facts::{self as flannel, Flannel};
use crate::verify::report::{CheckResult, Diagnosis, DiagnosisCode, PairResult, Report};

/// Everything observed on one worker.
#[derive(Debug, Clone)]
pub struct WorkerRun<'a> {
    pub node: &'a Node,
    pub facts: NodeFacts,
    /// The probe setup script failed: its error output.
    pub probe_error: Option<String>,
    /// The output of the node's check script, or why there is none.
    pub checks: Result<CheckOutput, String>,
}

/// The input of [`diagnose`].
#[derive(Debug, Clone)]
pub struct VerifyInput<'a> {
    /// The chapter's name, for hints (`labctl run CHAPTER`).
    pub chapter: &'a str,
    /// The route evidence the chapter expects; `None` when it declares no `route_evidence`.
    pub expectation: Option<RouteExpectation>,
    /// Whether the chapter declares the data plane check (`pod_matrix`).
    pub data_plane: bool,
    pub plan: &'a ProbePlan,
    /// The workers, in inventory order.
    pub workers: Vec<WorkerRun<'a>>,
}

/// Judges every ordered pair of workers and explains the failures.
pub fn diagnose(input: &VerifyInput) -> Report {
    let judge = Judge::new(input);
    let mut pairs = Vec::new();
    for a in &input.workers {
        for b in &input.workers {
            if a.node.name != b.node.name {
                pairs.push(judge.pair(a, b));
            }
        }
    }
    let nodes: Vec<String> = input.workers.iter().map(|w| w.node.name.clone()).collect();
    let nothing = match nodes.as_slice() {
        [] => "the inventory has no workers: there are no pod routes to check".to_string(),
        [one] => format!(
            "the lab has one worker ({one}): pod routes connect two or more, so there is nothing to check"
        ),
        _ => "there are no pairs of workers to check".to_string(),
    };
    Report::new(
        input.chapter,
        input.expectation.map(|e| e.as_str().to_string()),
        nodes,
        pairs,
        Diagnosis::new(DiagnosisCode::NOTHING_TO_CHECK, nothing),
    )
}

/// The context shared by all pairs.
struct Judge<'a> {
    input: &'a VerifyInput<'a>,
    /// Routable addresses found on more than one node.
    shared: BTreeSet<Ipv4Addr>,
}

impl<'a> Judge<'a> {
    fn new(input: &'a VerifyInput<'a>) -> Judge<'a> {
        let mut owners: BTreeMap<Ipv4Addr, BTreeSet<&str>> = BTreeMap::new();
        for w in &input.workers {
            if let NodeFacts::Known(f) = &w.facts {
                for address in f.routable_addresses() {
                    owners.entry(address).or_default().insert(&w.node.name);
                }
            }
        }
        let shared =
            owners.into_iter().filter(|(_, nodes)| nodes.len() > 1).map(|(a, _)| a).collect();
        Judge { input, shared }
    }

    fn probe(&self, w: &WorkerRun) -> Option<&'a Probe> {
        self.input.plan.probe(&w.node.name)
    }

    fn pair(&self, a: &WorkerRun, b: &WorkerRun) -> PairResult {
        let destination = self.probe(b).map(|p| p.address);
        let route_evidence = self.input.expectation.map(|exp| self.route_check(exp, a, b));
        let data_plane = self.input.data_plane.then(|| self.data_plane_check(a, b));
        let passed =
            [&route_evidence, &data_plane].iter().all(|c| c.as_ref().is_none_or(|c| c.passed));
        let diagnoses = if passed {
            Vec::new()
        } else {
            let route_ok = route_evidence.as_ref().is_none_or(|c| c.passed);
            let ping_ok = data_plane.as_ref().is_none_or(|c| c.passed);
            self.explain(a, b, route_ok, ping_ok)
        };
        PairResult {
            from: a.node.name.clone(),
            to: b.node.name.clone(),
            destination,
            passed,
            checks: vec![(ROUTE_EVIDENCE, route_evidence), (DATA_PLANE, data_plane)],
            diagnoses,
        }
    }

    /// Why no check of the pair could run, if so.
    fn not_run(&self, a: &WorkerRun, b: &WorkerRun) -> Option<String> {
        for w in [a, b] {
            match &w.facts {
                NodeFacts::Known(_) => {}
                NodeFacts::Unreachable { .. } => {
                    return Some(format!("{} could not be reached", w.node.name));
                }
                NodeFacts::Unreadable { .. } => {
                    return Some(format!("the facts of {} could not be read", w.node.name));
                }
            }
        }
        for w in [a, b] {
            if self.probe(w).is_none() {
                return Some(format!("{} has no pod CIDR", w.node.name));
            }
        }
        let (pa, pb) = (self.probe(a)?, self.probe(b)?);
        (pa.address == pb.address).then(|| {
            format!(
                "{} and {} have the same probe address {}",
                a.node.name, b.node.name, pa.address
            )
        })
    }

    fn route_check(&self, exp: RouteExpectation, a: &WorkerRun, b: &WorkerRun) -> CheckResult {
        let fail = |evidence: String| CheckResult { passed: false, evidence };
        if let Some(why) = self.not_run(a, b) {
            return fail(format!("not checked: {why}"));
        }
        let (NodeFacts::Known(facts), Some(dest)) = (&a.facts, self.probe(b).map(|p| p.address))
        else {
            return fail("not checked".into());
        };
        let checks = match &a.checks {
            Ok(c) => c,
            Err(why) => return fail(format!("not checked: {why}")),
        };
        match checks.route_gets.get(&dest) {
            None => {
                fail(format!("not checked: no answer for `ip route get {dest}` on {}", a.node.name))
            }
            Some(answer) => judge_route(exp, a.node, facts, b.node, answer),
        }
    }

    fn data_plane_check(&self, a: &WorkerRun, b: &WorkerRun) -> CheckResult {
        let fail = |evidence: String| CheckResult { passed: false, evidence };
        if let Some(why) = self.not_run(a, b) {
            return fail(format!("not run: {why}"));
        }
        for w in [a, b] {
            if w.probe_error.is_some() {
                return fail(format!("not run: the probe on {} could not be set up", w.node.name));
            }
        }
        let Some(dest) = self.probe(b).map(|p| p.address) else { return fail("not run".into()) };
        let checks = match &a.checks {
            Err(why) => return fail(format!("not run: {why}")),
            Ok(checks) => checks,
        };
        let Some(ping) = checks.pings.get(&dest) else {
            return fail(format!("not run: no ping result from {} to {dest}", a.node.name));
        };
        let mut passed = ping.passed();
        let mut evidence = ping.to_string();
        if let (Some(mtu), Some(big)) = (self.mtu(a), checks.mtu_pings.get(&dest)) {
            passed &= big.passed();
            evidence.push_str(&format!("; at the pod MTU {mtu} with DF set: {}", short(big)));
        }
        if let Some((pod, answer)) = self.pod_ping(a, b) {
            passed &= answer.passed();
            evidence.push_str(&format!("; pod {pod}: {}", short(answer)));
        }
        CheckResult { passed, evidence }
    }

    /// The MTU of `w`'s probe, when known.
    fn mtu(&self, w: &WorkerRun) -> Option<u32> {
        self.probe(w).and_then(|p| p.mtu)
    }

    /// The ping from a's probe to one of b's real pods, when b has one.
    fn pod_ping<'c>(&self, a: &'c WorkerRun, b: &WorkerRun) -> Option<(Ipv4Addr, &'c PingOutcome)> {
        let pod = *self.probe(b)?.pods.first()?;
        Some((pod, a.checks.as_ref().ok()?.pings.get(&pod)?))
    }

    /// The diagnoses of a failed pair, most fundamental first, each once.
    fn explain(
        &self,
        a: &WorkerRun,
        b: &WorkerRun,
        route_ok: bool,
        ping_ok: bool,
    ) -> Vec<Diagnosis> {
        let mut found = Found::default();
        for w in [a, b] {
            match &w.facts {
                NodeFacts::Known(_) => {}
                NodeFacts::Unreachable { reason } => found.add(
                    codes::NODE_UNREACHABLE,
                    format!("{} could not be reached: {reason}", w.node.name),
                ),
                NodeFacts::Unreadable { error } => found.add(
                    codes::FACTS_UNREADABLE,
                    format!("the network facts of {} could not be read: {error}", w.node.name),
                ),
            }
        }
        for w in [a, b] {
            if self.probe(w).is_none() {
                found.add(
                    codes::NO_POD_CIDR,
                    format!(
                        "{} has no pod CIDR: give it a `pod_cidr` in the inventory",
                        w.node.name
                    ),
                );
            }
        }
        self.duplicates(a, b, &mut found);
        // Without facts or probe addresses the rest has nothing to stand on.
        let (NodeFacts::Known(fa), NodeFacts::Known(fb)) = (&a.facts, &b.facts) else {
            return found.0;
        };
        if !found.0.is_empty() {
            return found.0;
        }
        // Routes built from a wrong inventory lead to a subnet where no pod is: that is the
        // cause, and fixing the inventory and running again fixes the routes too.
        for w in [a, b] {
            if let Some(d) = self.mismatch(w) {
                found.push(d);
            }
        }
        if !found.0.is_empty() {
            return found.0;
        }
        let mut ping_ok = ping_ok;
        for w in [a, b] {
            if let Some(error) = &w.probe_error {
                found.add(
                    codes::PROBE_FAILED,
                    format!(
                        "the probe pod on {} could not be set up: {}",
                        w.node.name,
                        error.trim()
                    ),
                );
                // The ping did not run, so it tells nothing about the network.
                ping_ok = true;
            }
        }
        let dest = self.probe(b).map(|p| p.address);
        let ping = a.checks.as_ref().ok().zip(dest).and_then(|(c, dest)| c.pings.get(&dest));
        match (&a.checks, ping) {
            (Err(why), _) => {
                found.add(
                    codes::PROBE_FAILED,
                    format!("the checks on {} could not run: {why}", a.node.name),
                );
                ping_ok = true;
            }
            (_, Some(PingOutcome::Failed { message })) => {
                // Inside the probe every destination has a route, so ping failing to send at
                // all means the tooling (no `ping`, no namespace), not the network.
                found.add(
                    codes::PROBE_FAILED,
                    format!("the ping from {}'s probe pod could not run: {message}", a.node.name),
                );
                ping_ok = true;
            }
            // No ping result: the ping says nothing about the network.
            (Ok(_), None) => ping_ok = true,
            _ => {}
        }
        // The small pings: do packets get through at all?
        let small_ok = ping_ok || !matches!(ping, Some(PingOutcome::Summary { received: 0, .. }));
        let before = found.0.len();
        if !route_ok || !small_ok {
            for d in self.route_problems(a, fa, b) {
                found.push(d);
            }
        }
        if !small_ok {
            if self.input.expectation == Some(RouteExpectation::ViaFlannel) {
                for d in self.flannel_problems(b.node, fb) {
                    found.push(d);
                }
            }
            for (w, f) in [(a, fa), (b, fb)] {
                if !f.ip_forward {
                    found.add(
                        codes::IP_FORWARD_OFF,
                        format!(
                            "IP forwarding is off on {name} (net.ipv4.ip_forward = 0), so it passes no packets \
                             between its pods and the other nodes: run `sudo sysctl -w net.ipv4.ip_forward=1` on {name}",
                            name = w.node.name
                        ),
                    );
                }
            }
            for d in self.firewall_problems(a, b) {
                found.push(d);
            }
            for d in self.route_problems(b, fb, a) {
                if !found.0.contains(&d) {
                    found.push(Diagnosis {
                        code: codes::RETURN_PATH,
                        message: format!("replies cannot come back: {}", d.message),
                        cause: Some(d.message),
                    });
                }
            }
        }
        if found.0.len() == before && !small_ok {
            let pb = self.probe(b);
            if let (Some(pb), Some(RouteExpectation::ViaGateway)) = (pb, self.input.expectation) {
                let gw = fa
                    .default_route()
                    .and_then(|r| r.gateway)
                    .map(|g| g.to_string())
                    .unwrap_or_default();
                found.add(
                    codes::GATEWAY_DROPS,
                    format!(
                        "{a} sends packets for {b}'s pods to the VPC router {gw} as it should, but no reply comes back: \
                         the VPC needs a route for {b}'s pod CIDR {cidr} via {b_addr} \
                         (`gcloud compute routes list`); run `labctl run {ch}`",
                        a = a.node.name,
                        b = b.node.name,
                        cidr = pb.cidr,
                        b_addr = b.node.address,
                        ch = self.input.chapter,
                    ),
                );
            } else {
                found.push(self.packets_lost(a, b));
            }
        }
        if small_ok && found.0.len() == before {
            // Small packets get through; big ones or the real pod may not.
            if let Some(d) = self.mtu_problem(a, fa, b, fb) {
                found.push(d);
            }
            if let Some((pod, answer)) = self.pod_ping(a, b)
                && !answer.passed()
            {
                found.add(
                    codes::POD_UNANSWERED,
                    format!(
                        "{b}'s pod {pod} does not answer pings from {a}'s pods, though {b}'s probe pod does: \
                         look at that pod on {b} (it may drop ICMP, or have stopped)",
                        a = a.node.name,
                        b = b.node.name,
                    ),
                );
            }
        }
        found.0
    }

    /// The node's pod subnet differs from the inventory's.
    fn mismatch(&self, w: &WorkerRun) -> Option<Diagnosis> {
        let p = self.probe(w)?;
        let inventory = p.mismatch()?;
        Some(Diagnosis {
            code: codes::POD_CIDR_MISMATCH,
            message: mismatch_message(&w.node.name, p, inventory, self.input.chapter),
            cause: None,
        })
    }

    /// A firewall on a or b that drops the ping or its reply.
    fn firewall_problems(&self, a: &WorkerRun, b: &WorkerRun) -> Vec<Diagnosis> {
        let (Some(pa), Some(pb)) = (self.probe(a), self.probe(b)) else { return Vec::new() };
        let pod_side = |p: &Probe| match &p.attach {
            Attach::Bridge { name, .. } => Some(name.clone()),
            Attach::Direct => Some(probe::host_end(&self.input.plan.run)),
        };
        let out_dev = |w: &WorkerRun, to: Ipv4Addr| {
            w.checks.as_ref().ok()?.route_gets.get(&to)?.path()?.dev.clone()
        };
        let request_on_a = Packet {
            src: pa.address,
            dst: pb.address,
            in_iface: pod_side(pa),
            out_iface: out_dev(a, pb.address),
            state: ConnState::New,
        };
        let request_on_b = Packet {
            src: pa.address,
            dst: pb.address,
            in_iface: out_dev(b, pa.address),
            out_iface: pod_side(pb),
            state: ConnState::New,
        };
        let mut found = Found::default();
        for (w, packet) in [(a, request_on_a), (b, request_on_b)] {
            let Some(firewall) = w.checks.as_ref().ok().and_then(|c| c.firewall.as_ref()) else {
                continue;
            };
            let reply = packet.reply();
            for p in [&packet, &reply] {
                if let Verdict::Dropped(drop) = firewall.forward(p) {
                    found.push(firewall_diagnosis(&w.node.name, &drop));
                }
            }
        }
        found.0
    }

    /// Pings fail and nothing explains it: name the node every failing pair shares, if one.
    fn packets_lost(&self, a: &WorkerRun, b: &WorkerRun) -> Diagnosis {
        let (a, b) = (&a.node.name, &b.node.name);
        let suspect = self.common_node(a, b);
        let message = match suspect {
            Some(n) => format!(
                "routes look right, yet pings between {n}'s pods and the other nodes' go unanswered, and {n} \
                 is in every failing pair: look on {n} for firewall rules that drop forwarded packets \
                 (`sudo iptables -S FORWARD`, `sudo nft list ruleset`)"
            ),
            None => format!(
                "routes on {a} and {b} look right, yet no ping from {a}'s probe pod got an answer from {b}'s: \
                 look for firewall rules that drop forwarded packets on both nodes (`sudo iptables -S FORWARD`)"
            ),
        };
        Diagnosis { code: codes::PACKETS_LOST, message, cause: None }
    }

    /// The one node of (a, b) that is in every pair whose small pings fail, if there is one
    /// and some pairs without it pass.
    fn common_node(&self, a: &str, b: &str) -> Option<String> {
        let failing: Vec<(&str, &str)> = self
            .input
            .workers
            .iter()
            .flat_map(|x| self.input.workers.iter().map(move |y| (x, y)))
            .filter(|(x, y)| x.node.name != y.node.name)
            .filter(|(x, y)| {
                let dest = self.probe(y).map(|p| p.address);
                let ping = x.checks.as_ref().ok().zip(dest).and_then(|(c, d)| c.pings.get(&d));
                ping.is_some_and(|p| !p.passed())
            })
            .map(|(x, y)| (x.node.name.as_str(), y.node.name.as_str()))
            .collect();
        let shared: Vec<&str> =
            [a, b].into_iter().filter(|n| failing.iter().all(|(x, y)| x == n || y == n)).collect();
        match shared.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        }
    }

    /// Small packets pass, packets of the pods' MTU with DF set do not.
    fn mtu_problem(
        &self,
        a: &WorkerRun,
        fa: &HostFacts,
        b: &WorkerRun,
        fb: &HostFacts,
    ) -> Option<Diagnosis> {
        let mtu = self.mtu(a)?;
        let dest = self.probe(b)?.address;
        let big = a.checks.as_ref().ok()?.mtu_pings.get(&dest)?;
        if big.passed() {
            return None;
        }
        let flannel = self.input.expectation == Some(RouteExpectation::ViaFlannel);
        // VXLAN adds 50 bytes (outer IP, UDP, VXLAN, inner Ethernet).
        let needed = if flannel { mtu + 50 } else { mtu };
        let lab_link = |w: &WorkerRun, f: &HostFacts| -> Option<(String, u32)> {
            let l = f.address_owner(w.node.address)?;
            Some((l.name.clone(), l.mtu?))
        };
        for (w, f) in [(a, fa), (b, fb)] {
            if let Some((nic, have)) = lab_link(w, f).filter(|(_, have)| *have < needed) {
                let name = &w.node.name;
                let why = if flannel {
                    format!("flannel's VXLAN needs {needed} (the pod MTU {mtu} + 50)")
                } else {
                    format!("the pods send up to {mtu}")
                };
                return Some(Diagnosis {
                    code: codes::MTU_TOO_LARGE,
                    message: format!(
                        "packets of the pod MTU {mtu} with DF set are lost while small ones pass: {name}'s lab \
                         interface {nic} has MTU {have}, and {why}: run `sudo ip link set dev {nic} mtu {needed}` \
                         on {name}, or give the pods a smaller MTU"
                    ),
                    cause: None,
                });
            }
        }
        // Both directions of a pair share the cause: name the pair in one order.
        let (x, y) = if a.node.name <= b.node.name { (a, b) } else { (b, a) };
        Some(Diagnosis {
            code: codes::MTU_TOO_LARGE,
            message: format!(
                "packets of the pod MTU {mtu} with DF set are lost between {x}'s and {y}'s pods while small \
                 ones pass: the network between them carries less{vx}: give the pods a smaller MTU (the `mtu` \
                 of the CNI config{fl})",
                x = x.node.name,
                y = y.node.name,
                vx = if flannel { " than the pod MTU + 50 that flannel's VXLAN needs" } else { "" },
                fl = if flannel { ", flannel's `FLANNEL_MTU`" } else { "" },
            ),
            cause: None,
        })
    }

    /// Two nodes claiming overlapping pod CIDRs, where one of them is a or b.
    fn duplicates(&self, a: &WorkerRun, b: &WorkerRun, found: &mut Found) {
        let probes = &self.input.plan.probes;
        for (i, x) in probes.iter().enumerate() {
            for y in &probes[i + 1..] {
                let involved =
                    [x, y].iter().any(|p| p.node == a.node.name || p.node == b.node.name);
                if involved && (x.cidr.contains(&y.cidr) || y.cidr.contains(&x.cidr)) {
                    let what = if x.cidr == y.cidr {
                        format!("the same pod CIDR {}", x.cidr)
                    } else {
                        format!("overlapping pod CIDRs {} and {}", x.cidr, y.cidr)
                    };
                    found.add(
                        codes::DUPLICATE_POD_CIDR,
                        format!(
                            "{} and {} claim {what}: every worker needs its own pod CIDR, in the inventory's \
                             `pod_cidr` and in the node's CNI config",
                            x.node, y.node
                        ),
                    );
                }
            }
        }
    }

    /// Why packets from a's pods to b's pods would not take the expected way, from a's routing
    /// table and route evidence. Empty when a's side is right.
    fn route_problems(&self, a: &WorkerRun, fa: &HostFacts, b: &WorkerRun) -> Vec<Diagnosis> {
        let Some(exp) = self.input.expectation else { return Vec::new() };
        let Some(pb) = self.probe(b) else { return Vec::new() };
        let answer = a.checks.as_ref().ok().and_then(|c| c.route_gets.get(&pb.address));
        if let Some(answer) = answer
            && judge_route(exp, a.node, fa, b.node, answer).passed
        {
            return Vec::new();
        }
        let mut found = Found::default();
        let (a_name, b_name, cidr) = (&a.node.name, &b.node.name, pb.cidr);
        let chapter = self.input.chapter;
        // The exact command for this node, and the labctl way.
        let fix = |replace: bool| {
            let labctl = if replace {
                format!("`labctl run {chapter} --replace`")
            } else {
                format!("`labctl run {chapter}`")
            };
            match exp {
                RouteExpectation::ViaPeer => format!(
                    "run `sudo ip route replace {cidr} via {}` on {a_name}, or {labctl}",
                    b.node.address
                ),
                _ => format!("run {labctl}"),
            }
        };
        let route = fa.has_route_to(cidr);
        if exp == RouteExpectation::ViaFlannel {
            for d in self.flannel_problems(a.node, fa) {
                found.push(d);
            }
        }
        match route {
            Some(r) if r.kind.drops() => found.add(
                codes::ROUTE_DROPS,
                format!(
                    "{a_name} has a {kind} route for {dest}, which drops packets to {b_name}'s pods: \
                     run `sudo ip route del {r}` on {a_name}",
                    kind = r.kind.as_str(),
                    dest = r.destination,
                ),
            ),
            None if exp != RouteExpectation::ViaGateway => {
                // A node with no route to any other pod CIDR is one cause, not one per pair:
                // eight fresh workers are eight lines, not fifty-six.
                let others: Vec<&Probe> =
                    self.input.plan.probes.iter().filter(|p| &p.node != a_name).collect();
                let none = others.len() > 1 && others.iter().all(|p| fa.has_route_to(p.cidr).is_none());
                let message = if none {
                    let each = match exp {
                        // The exact commands, one per other worker, as a student types them.
                        RouteExpectation::ViaPeer => {
                            let commands: Vec<String> = others
                                .iter()
                                .filter_map(|p| {
                                    let peer =
                                        self.input.workers.iter().find(|w| w.node.name == p.node)?;
                                    Some(format!(
                                        "`sudo ip route replace {} via {}`",
                                        p.cidr, peer.node.address
                                    ))
                                })
                                .collect();
                            format!(", or on {a_name}: {}", commands.join(", "))
                        }
                        _ => String::new(),
                    };
                    format!(
                        "{a_name} has no route to any other worker's pod CIDR: run `labctl run {chapter}`{each}"
                    )
                } else {
                    format!("{a_name} has no route to {b_name}'s pod CIDR {cidr}: {}", fix(false))
                };
                found.add(codes::NO_ROUTE, message)
            }
            _ => {}
        }
        let expected = match exp {
            RouteExpectation::ViaPeer => format!("via {b_name}'s address {}", b.node.address),
            RouteExpectation::ViaFlannel => format!("through {}", flannel::DEVICE),
            RouteExpectation::ViaGateway => match fa.default_route().and_then(|r| r.gateway) {
                Some(gw) => format!("via the VPC router {gw}"),
                None => {
                    found.add(
                        codes::NO_DEFAULT_GATEWAY,
                        format!("{a_name} has no default route, so nothing leads to the VPC router: check its network settings"),
                    );
                    return found.0;
                }
            },
        };
        let wrong = match (route, exp) {
            (Some(r), _) if r.kind.drops() => None,
            (Some(r), RouteExpectation::ViaPeer) if r.gateway != Some(b.node.address) => {
                Some(describe_route(r))
            }
            (Some(r), RouteExpectation::ViaFlannel)
                if r.dev.as_deref() != Some(flannel::DEVICE) =>
            {
                Some(describe_route(r))
            }
            (Some(r), RouteExpectation::ViaGateway) => Some(describe_route(r)),
            _ => match answer.and_then(RouteGet::path) {
                // The table looks right, yet the kernel picks another path (policy routing).
                Some(p) if found.0.is_empty() => Some(describe_path(p)),
                _ => None,
            },
        };
        if let Some(actual) = wrong {
            let fix = match (exp, route) {
                (RouteExpectation::ViaGateway, Some(r)) => format!(
                    "run `sudo ip route del {}` on {a_name}, or `labctl run {chapter} --replace`",
                    r.destination
                ),
                _ => fix(true),
            };
            found.add(
                codes::WRONG_NEXT_HOP,
                format!("{a_name} sends packets for {b_name}'s pod CIDR {cidr} {actual}, not {expected}: {fix}"),
            );
        }
        found.0
    }

    /// What is wrong with flannel on `node`, if anything.
    fn flannel_problems(&self, node: &Node, facts: &HostFacts) -> Vec<Diagnosis> {
        let mut found = Found::default();
        let Some(link) = &facts.flannel().link else {
            found.add(
                codes::FLANNEL_MISSING,
                format!(
                    "{} has no {} device, so flannel is not running there: \
                     check `kubectl -n kube-flannel get pods -o wide` and the pod's logs",
                    node.name,
                    flannel::DEVICE
                ),
            );
            return found.0;
        };
        let Some(local) = link.local else { return found.0 };
        if local == node.address {
            return found.0;
        }
        let nic_of = |address: Ipv4Addr| {
            facts.address_owner(address).map(|l| l.name.clone()).or_else(|| link.underlying.clone())
        };
        let bound = match nic_of(local) {
            Some(nic) => format!("{nic} ({local})"),
            None => local.to_string(),
        };
        let lab = match facts.address_owner(node.address) {
            Some(l) => format!("{} ({})", l.name, node.address),
            None => node.address.to_string(),
        };
        let lab_nic =
            facts.address_owner(node.address).map(|l| l.name.as_str()).unwrap_or("<the lab NIC>");
        let underlying_shared = link
            .underlying
            .as_deref()
            .and_then(|dev| facts.link(dev))
            .is_some_and(|l| l.addresses.iter().any(|a| self.shared.contains(&a.address)));
        if self.shared.contains(&local) || underlying_shared {
            found.add(
                codes::FLANNEL_ON_NAT_INTERFACE,
                format!(
                    "flannel on {name} is bound to {bound}, the NAT interface whose address every VM shares, \
                     instead of {lab}: flannel needs `--iface={lab_nic}`; run `labctl run {ch}`, which sets it",
                    name = node.name,
                    ch = self.input.chapter,
                ),
            );
        } else {
            found.add(
                codes::FLANNEL_WRONG_INTERFACE,
                format!(
                    "flannel on {name} is bound to {bound} instead of {lab}, the interface with its lab address: \
                     flannel needs `--iface={lab_nic}`; run `labctl run {ch}`, which sets it",
                    name = node.name,
                    ch = self.input.chapter,
                ),
            );
        }
        found.0
    }
}

/// Diagnoses in order, each once.
#[derive(Default)]
struct Found(Vec<Diagnosis>);

impl Found {
    fn add(&mut self, code: DiagnosisCode, message: String) {
        self.push(Diagnosis { code, message, cause: None });
    }

    fn push(&mut self, d: Diagnosis) {
        if !self.0.contains(&d) {
            self.0.push(d);
        }
    }
}

/// Judges one `ip route get` answer against the expectation.
fn judge_route(
    exp: RouteExpectation,
    a: &Node,
    facts: &HostFacts,
    b: &Node,
    answer: &RouteGet,
) -> CheckResult {
    let path = match answer {
        RouteGet::NoPath { message } => {
            return CheckResult { passed: false, evidence: message.clone() };
        }
        RouteGet::Path(p) => p,
    };
    let shown = path.to_string();
    let (passed, evidence) = match exp {
        RouteExpectation::ViaPeer => {
            let ok = path.kind == RouteKind::Unicast && path.gateway == Some(b.address);
            (
                ok,
                if ok {
                    shown
                } else {
                    format!("{shown}; expected via {} ({})", b.address, b.name)
                },
            )
        }
        RouteExpectation::ViaGateway => match facts.default_route() {
            Some(default) if default.gateway.is_some() => {
                let ok = path.kind == RouteKind::Unicast
                    && path.gateway == default.gateway
                    && path.dev == default.dev;
                let gw = default.gateway.map(|g| g.to_string()).unwrap_or_default();
                (
                    ok,
                    if ok {
                        shown
                    } else {
                        format!("{shown}; expected via the default gateway {gw}")
                    },
                )
            }
            _ => (
                false,
                format!("{shown}; expected via the default gateway, but {} has none", a.name),
            ),
        },
        RouteExpectation::ViaFlannel => {
            let dev_ok =
                path.kind == RouteKind::Unicast && path.dev.as_deref() == Some(flannel::DEVICE);
            let local = facts.flannel().link.as_ref().and_then(|l| l.local);
            let local_ok = local == Some(a.address);
            let mut evidence = shown;
            if let Some(local) = local {
                evidence.push_str(&format!(" ({} local {local})", flannel::DEVICE));
            }
            if !dev_ok {
                evidence.push_str(&format!("; expected dev {}", flannel::DEVICE));
            } else if !local_ok {
                evidence.push_str(&format!("; expected {} local {}", flannel::DEVICE, a.address));
            }
            (dev_ok && local_ok, evidence)
        }
    };
    CheckResult { passed, evidence }
}

/// A ping's result in few words: `2 of 2`, or the error.
fn short(p: &PingOutcome) -> String {
    match p {
        PingOutcome::Summary { transmitted, received } => format!("{received} of {transmitted}"),
        PingOutcome::Failed { message } => message.clone(),
    }
}

/// The node's pods are in `p.cidr`, the inventory says `inventory`.
pub fn mismatch_message(node: &str, p: &Probe, inventory: ipnet::Ipv4Net, chapter: &str) -> String {
    format!(
        "{node}'s pods are in {cidr} ({source}), but the inventory says {inventory}, so routes built from \
         the inventory lead where no pod is: set `pod_cidr: {cidr}` for {node} in the inventory, then run \
         `labctl run {chapter} --replace`",
        cidr = p.cidr,
        source = p.cidr_source.describe(),
    )
}

/// A FORWARD chain on `node` drops pod traffic.
fn firewall_diagnosis(node: &str, drop: &Drop) -> Diagnosis {
    match &drop.rule {
        None => Diagnosis {
            code: codes::FORWARD_POLICY_DROP,
            message: format!(
                "the iptables {chain} policy on {node} is {target} (Docker sets it so), so {node} forwards no \
                 packets between its pods and the other nodes: run `{fix}` on {node}",
                chain = drop.chain,
                target = drop.target,
                fix = drop.fix(),
            ),
            cause: None,
        },
        Some(rule) => Diagnosis {
            code: codes::FORWARD_RULE_DROPS,
            message: format!(
                "the iptables rule `{rule}` on {node} drops forwarded pod traffic ({target}): run `{fix}` on {node}",
                target = drop.target,
                fix = drop.fix(),
            ),
            cause: None,
        },
    }
}

/// `via 10.0.2.2 (dev enp0s3)`, `through cni0`.
fn describe_route(r: &Route) -> String {
    describe(r.gateway, r.dev.as_deref())
}

fn describe_path(p: &RoutePath) -> String {
    describe(p.gateway, p.dev.as_deref())
}

fn describe(gateway: Option<Ipv4Addr>, dev: Option<&str>) -> String {
    match (gateway, dev) {
        (Some(gw), Some(dev)) => format!("via {gw} (dev {dev})"),
        (Some(gw), None) => format!("via {gw}"),
        (None, Some(dev)) => format!("straight out of {dev}"),
        (None, None) => "nowhere".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_network::verify::testlab::{Lab, ip, link, path};

    /// The messages of the diagnoses of (worker-i, worker-j).
    fn why(report: &Report, i: usize, j: usize) -> Vec<String> {
        let pair = report.pair(&format!("worker-{i}"), &format!("worker-{j}")).unwrap();
        pair.diagnoses.iter().map(|d| d.message.clone()).collect()
    }

    /// Every (from, to, code) of the report, to show a diagnosis fires nowhere else.
    fn codes(report: &Report) -> Vec<(String, String, DiagnosisCode)> {
        report
            .pairs
            .iter()
            .flat_map(|p| p.diagnoses.iter().map(|d| (p.from.clone(), p.to.clone(), d.code)))
            .collect()
    }

    fn pair(i: usize, j: usize, code: DiagnosisCode) -> (String, String, DiagnosisCode) {
        (format!("worker-{i}"), format!("worker-{j}"), code)
    }

    #[test]
    fn right_labs_pass_without_diagnoses() {
        for lab in [Lab::static_routes(3), Lab::flannel(3), Lab::gce(3)] {
            let report = lab.report();
            assert!(report.passed, "{}", report.render_text(true));
            assert_eq!(report.summary.checks, 12);
            assert!(report.diagnoses.is_empty());
        }
    }

    #[test]
    fn no_route() {
        let mut lab = Lab::static_routes(3);
        lab.set_route(0, "10.200.1.0/24", None);
        lab.answer(0, 1, path("10.200.1.254 via 10.0.2.2 dev enp0s3 src 10.0.2.15"));
        lab.ping_fails(0, 1);
        lab.ping_fails(1, 0);
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            ["worker-0 has no route to worker-1's pod CIDR 10.200.1.0/24: run \
                 `sudo ip route replace 10.200.1.0/24 via 10.240.0.21` on worker-0, or `labctl run 11-pod-network-routes`"]
        );
        assert_eq!(
            why(&report, 1, 0),
            [
                "replies cannot come back: worker-0 has no route to worker-1's pod CIDR 10.200.1.0/24: \
              run `sudo ip route replace 10.200.1.0/24 via 10.240.0.21` on worker-0, or `labctl run 11-pod-network-routes`"
            ]
        );
        assert_eq!(codes(&report), [pair(0, 1, codes::NO_ROUTE), pair(1, 0, codes::RETURN_PATH)]);
        let check =
            report.pair("worker-0", "worker-1").unwrap().check("route-evidence").cloned().unwrap();
        assert_eq!(
            check.evidence,
            "10.200.1.254 via 10.0.2.2 dev enp0s3 src 10.0.2.15; expected via 10.240.0.21 (worker-1)"
        );
    }

    #[test]
    fn no_route_at_all_keeps_the_kernels_words_as_evidence() {
        let mut lab = Lab::static_routes(2);
        lab.set_route(0, "10.200.1.0/24", None);
        lab.set_route(0, "default", None);
        lab.answer(
            0,
            1,
            RouteGet::NoPath { message: "RTNETLINK answers: Network is unreachable".into() },
        );
        let report = lab.report();
        let check =
            report.pair("worker-0", "worker-1").unwrap().check("route-evidence").cloned().unwrap();
        assert_eq!(check.evidence, "RTNETLINK answers: Network is unreachable");
        assert_eq!(codes(&report), [pair(0, 1, codes::NO_ROUTE)]);
    }

    #[test]
    fn wrong_next_hop() {
        let mut lab = Lab::static_routes(3);
        lab.set_route(0, "10.200.1.0/24", Some("10.200.1.0/24 via 10.240.0.22 dev enp0s8"));
        lab.answer(0, 1, path("10.200.1.254 via 10.240.0.22 dev enp0s8 src 10.240.0.20"));
        lab.ping_fails(0, 1);
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            [
                "worker-0 sends packets for worker-1's pod CIDR 10.200.1.0/24 via 10.240.0.22 (dev enp0s8), \
              not via worker-1's address 10.240.0.21: run \
              `sudo ip route replace 10.200.1.0/24 via 10.240.0.21` on worker-0, or `labctl run 11-pod-network-routes --replace`"
            ]
        );
        assert_eq!(codes(&report), [pair(0, 1, codes::WRONG_NEXT_HOP)]);
    }

    #[test]
    fn blackhole_route() {
        let mut lab = Lab::static_routes(2);
        lab.set_route(0, "10.200.1.0/24", Some("blackhole 10.200.1.0/24"));
        lab.answer(
            0,
            1,
            RouteGet::NoPath { message: "RTNETLINK answers: Invalid argument".into() },
        );
        lab.ping_fails(0, 1);
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            [
                "worker-0 has a blackhole route for 10.200.1.0/24, which drops packets to worker-1's pods: \
              run `sudo ip route del blackhole 10.200.1.0/24` on worker-0"
            ]
        );
    }

    #[test]
    fn ip_forward_off() {
        let mut lab = Lab::static_routes(3);
        lab.host(1).ip_forward = false;
        for other in [0, 2] {
            lab.ping_fails(other, 1);
            lab.ping_fails(1, other);
        }
        let report = lab.report();
        let off = "IP forwarding is off on worker-1 (net.ipv4.ip_forward = 0), so it passes no packets between \
                   its pods and the other nodes: run `sudo sysctl -w net.ipv4.ip_forward=1` on worker-1";
        assert_eq!(why(&report, 0, 1), [off]);
        assert_eq!(why(&report, 1, 2), [off]);
        let expected: Vec<_> = [(0, 1), (1, 0), (1, 2), (2, 1)]
            .into_iter()
            .map(|(i, j)| pair(i, j, codes::IP_FORWARD_OFF))
            .collect();
        assert_eq!(codes(&report), expected);
        assert_eq!(report.diagnoses.len(), 1);
        assert_eq!(report.diagnoses[0].pairs.len(), 4);
    }

    #[test]
    fn flannel_bound_to_the_nat_interface_everywhere() {
        let mut lab = Lab::flannel(3);
        for i in 0..3 {
            lab.edit_vxlan(i, |link| {
                link.local = Some(ip("10.0.2.15"));
                link.underlying = Some("enp0s3".into());
            });
            for j in (0..3).filter(|j| *j != i) {
                lab.ping_fails(i, j);
            }
        }
        let report = lab.report();
        let nat = |i: usize| {
            format!(
                "flannel on worker-{i} is bound to enp0s3 (10.0.2.15), the NAT interface whose address every VM \
                 shares, instead of enp0s8 (10.240.0.2{i}): flannel needs `--iface=enp0s8`; run \
                 `labctl run 11-pod-network-routes`, which sets it"
            )
        };
        assert_eq!(why(&report, 0, 1), [nat(0), nat(1)]);
        let check =
            report.pair("worker-0", "worker-1").unwrap().check("route-evidence").cloned().unwrap();
        assert_eq!(
            check.evidence,
            "10.200.1.254 via 10.200.1.0 dev flannel.1 src 10.200.0.0 (flannel.1 local 10.0.2.15); \
             expected flannel.1 local 10.240.0.20"
        );
        assert!(codes(&report).iter().all(|(_, _, c)| *c == codes::FLANNEL_ON_NAT_INTERFACE));
        assert_eq!(report.diagnoses.len(), 3);
    }

    #[test]
    fn flannel_bound_to_the_nat_interface_on_one_node() {
        let mut lab = Lab::flannel(3);
        lab.edit_vxlan(1, |link| {
            link.local = Some(ip("10.0.2.15"));
            link.underlying = Some("enp0s3".into());
        });
        for other in [0, 2] {
            lab.ping_fails(other, 1);
            lab.ping_fails(1, other);
        }
        let report = lab.report();
        let expected: Vec<_> = [(0, 1), (1, 0), (1, 2), (2, 1)]
            .into_iter()
            .map(|(i, j)| pair(i, j, codes::FLANNEL_ON_NAT_INTERFACE))
            .collect();
        assert_eq!(codes(&report), expected);
        // Route evidence on worker-0 is right; only the data plane fails.
        let p = report.pair("worker-0", "worker-1").unwrap();
        assert!(
            p.check("route-evidence").unwrap().passed && !p.check("data-plane").unwrap().passed
        );
    }

    #[test]
    fn flannel_bound_to_another_unshared_interface() {
        let mut lab = Lab::flannel(2);
        lab.host(1).links.push(link("eth9", &["192.168.121.5/24"]));
        lab.edit_vxlan(1, |vx| {
            vx.local = Some(ip("192.168.121.5"));
            vx.underlying = Some("eth9".into());
        });
        lab.ping_fails(0, 1);
        lab.ping_fails(1, 0);
        let report = lab.report();
        assert_eq!(
            why(&report, 1, 0),
            [
                "flannel on worker-1 is bound to eth9 (192.168.121.5) instead of enp0s8 (10.240.0.21), the interface \
              with its lab address: flannel needs `--iface=enp0s8`; run `labctl run 11-pod-network-routes`, which sets it"
            ]
        );
        assert!(codes(&report).iter().all(|(_, _, c)| *c == codes::FLANNEL_WRONG_INTERFACE));
    }

    #[test]
    fn flannel_missing() {
        let mut lab = Lab::flannel(2);
        lab.host(1).set_flannel(Default::default());
        lab.set_route(1, "10.200.0.0/24", None);
        lab.answer(1, 0, path("10.200.0.254 via 10.0.2.2 dev enp0s3 src 10.0.2.15"));
        lab.ping_fails(0, 1);
        lab.ping_fails(1, 0);
        let report = lab.report();
        let missing = "worker-1 has no flannel.1 device, so flannel is not running there: check \
                       `kubectl -n kube-flannel get pods -o wide` and the pod's logs";
        assert_eq!(
            why(&report, 1, 0),
            [
                missing,
                "worker-1 has no route to worker-0's pod CIDR 10.200.0.0/24: run `labctl run 11-pod-network-routes`"
            ]
        );
        assert_eq!(why(&report, 0, 1)[0], missing);
    }

    #[test]
    fn two_nodes_claim_the_same_pod_cidr() {
        let mut lab = Lab::static_routes(3);
        lab.nodes[2].pod_cidr = Some("10.200.1.0/24".parse().unwrap());
        let cni0 = lab.host(2).links.iter_mut().find(|l| l.name == "cni0").unwrap();
        cni0.addresses = link("cni0", &["10.200.1.1/24"]).addresses;
        let report = lab.report();
        let dup = "worker-1 and worker-2 claim the same pod CIDR 10.200.1.0/24: every worker needs its own pod \
                   CIDR, in the inventory's `pod_cidr` and in the node's CNI config";
        assert_eq!(why(&report, 1, 2), [dup]);
        assert_eq!(why(&report, 2, 1), [dup]);
        let p = report.pair("worker-1", "worker-2").unwrap();
        assert_eq!(
            p.check("data-plane").unwrap().evidence,
            "not run: worker-1 and worker-2 have the same probe address 10.200.1.254"
        );
        assert!(report.pair("worker-0", "worker-1").unwrap().passed);
        assert!(
            codes(&report)
                .iter()
                .all(|(f, t, _)| f != "worker-0" && t != "worker-0" || t == "worker-2")
        );
    }

    #[test]
    fn unreachable_node() {
        let mut lab = Lab::static_routes(3);
        lab.facts[2] =
            NodeFacts::Unreachable { reason: "ssh: connection refused by 10.240.0.22:22".into() };
        lab.checks[2] = Err("worker-2 could not be reached".into());
        let report = lab.report();
        let down = "worker-2 could not be reached: ssh: connection refused by 10.240.0.22:22";
        assert_eq!(why(&report, 0, 2), [down]);
        assert_eq!(why(&report, 2, 1), [down]);
        assert_eq!(
            report.pair("worker-0", "worker-2").unwrap().check("route-evidence").unwrap().evidence,
            "not checked: worker-2 could not be reached"
        );
        assert!(report.pair("worker-0", "worker-1").unwrap().passed);
        assert_eq!(report.summary.pairs_passed, 2);
    }

    #[test]
    fn probe_setup_failed() {
        let mut lab = Lab::static_routes(2);
        lab.probe_errors[1] = Some("RTNETLINK answers: Operation not permitted\n".into());
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            [
                "the probe pod on worker-1 could not be set up: RTNETLINK answers: Operation not permitted"
            ]
        );
        let p = report.pair("worker-0", "worker-1").unwrap();
        assert!(p.check("route-evidence").unwrap().passed);
        assert_eq!(
            p.check("data-plane").unwrap().evidence,
            "not run: the probe on worker-1 could not be set up"
        );
    }

    #[test]
    fn ping_could_not_run() {
        let mut lab = Lab::static_routes(2);
        let message = "exec of \"ping\" failed: No such file or directory";
        lab.checks(0)
            .pings
            .insert(ip("10.200.1.254"), PingOutcome::Failed { message: message.into() });
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            [format!("the ping from worker-0's probe pod could not run: {message}")]
        );
        assert_eq!(
            report.pair("worker-0", "worker-1").unwrap().check("data-plane").unwrap().evidence,
            message
        );
    }

    #[test]
    fn checks_could_not_run() {
        let mut lab = Lab::static_routes(2);
        lab.checks[0] = Err("the connection to worker-0 was lost".into());
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            ["the checks on worker-0 could not run: the connection to worker-0 was lost"]
        );
        assert!(report.pair("worker-1", "worker-0").unwrap().passed);
    }

    #[test]
    fn packets_lost_when_nothing_else_explains() {
        let mut lab = Lab::static_routes(3);
        lab.ping_fails(0, 1);
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            [
                "routes on worker-0 and worker-1 look right, yet no ping from worker-0's probe pod got an answer from \
              worker-1's: look for firewall rules that drop forwarded packets on both nodes (`sudo iptables -S FORWARD`)"
            ]
        );
        assert_eq!(codes(&report), [pair(0, 1, codes::PACKETS_LOST)]);
    }

    #[test]
    fn gce_router_without_the_route() {
        let mut lab = Lab::gce(2);
        lab.ping_fails(0, 1);
        lab.ping_fails(1, 0);
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            [
                "worker-0 sends packets for worker-1's pods to the VPC router 10.240.0.1 as it should, but no reply \
              comes back: the VPC needs a route for worker-1's pod CIDR 10.200.1.0/24 via 10.240.0.21 \
              (`gcloud compute routes list`); run `labctl run 11-pod-network-routes`"
            ]
        );
        assert!(codes(&report).iter().all(|(_, _, c)| *c == codes::GATEWAY_DROPS));
    }

    #[test]
    fn gce_with_a_static_route_left_over() {
        let mut lab = Lab::gce(2);
        lab.set_route(0, "10.200.1.0/24", Some("10.200.1.0/24 via 10.240.0.21 dev ens4"));
        lab.answer(0, 1, path("10.200.1.254 via 10.240.0.21 dev ens4 src 10.240.0.20"));
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            [
                "worker-0 sends packets for worker-1's pod CIDR 10.200.1.0/24 via 10.240.0.21 (dev ens4), not via \
              the VPC router 10.240.0.1: run `sudo ip route del 10.200.1.0/24` on worker-0, or \
              `labctl run 11-pod-network-routes --replace`"
            ]
        );
        assert_eq!(codes(&report), [pair(0, 1, codes::WRONG_NEXT_HOP)]);
    }

    #[test]
    fn gce_without_a_default_route() {
        let mut lab = Lab::gce(2);
        lab.set_route(0, "default", None);
        lab.answer(
            0,
            1,
            RouteGet::NoPath { message: "RTNETLINK answers: Network is unreachable".into() },
        );
        let report = lab.report();
        assert_eq!(codes(&report), [pair(0, 1, codes::NO_DEFAULT_GATEWAY)]);
    }

    #[test]
    fn an_inventory_pod_cidr_that_is_not_the_nodes() {
        // The student's inventory says 10.200.10.0/24; worker-1's bridge says 10.200.1.0/24.
        let mut lab = Lab::static_routes(3);
        lab.nodes[1].pod_cidr = Some("10.200.10.0/24".parse().unwrap());
        for other in [0, 2] {
            lab.set_route(other, "10.200.1.0/24", None);
            lab.answer(
                other,
                1,
                RouteGet::NoPath { message: "RTNETLINK answers: Network is unreachable".into() },
            );
            lab.ping_fails(other, 1);
            lab.ping_fails(1, other);
        }
        let report = lab.report();
        let mismatch = "worker-1's pods are in 10.200.1.0/24 (the address of its bridge cni0), but the inventory says \
                        10.200.10.0/24, so routes built from the inventory lead where no pod is: set \
                        `pod_cidr: 10.200.1.0/24` for worker-1 in the inventory, then run \
                        `labctl run 11-pod-network-routes --replace`";
        assert_eq!(report.diagnoses.len(), 1, "{}", report.render_text(true));
        assert_eq!(report.diagnoses[0].diagnosis.message, mismatch);
        assert_eq!(report.diagnoses[0].pairs.len(), 4);
        assert_eq!(
            report.pair("worker-0", "worker-1").unwrap().destination,
            Some(ip("10.200.1.254"))
        );
        assert!(report.pair("worker-0", "worker-2").unwrap().passed);
    }

    #[test]
    fn a_big_packet_lost_where_the_lab_link_is_small() {
        let mut lab = Lab::flannel(2);
        lab.host(1).links.iter_mut().find(|l| l.name == "enp0s8").unwrap().mtu = Some(1400);
        lab.checks(0)
            .mtu_pings
            .insert(ip("10.200.1.254"), PingOutcome::Summary { transmitted: 2, received: 0 });
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            [
                "packets of the pod MTU 1450 with DF set are lost while small ones pass: worker-1's lab interface \
                 enp0s8 has MTU 1400, and flannel's VXLAN needs 1500 (the pod MTU 1450 + 50): run \
                 `sudo ip link set dev enp0s8 mtu 1500` on worker-1, or give the pods a smaller MTU"
            ]
        );
        let p = report.pair("worker-0", "worker-1").unwrap();
        assert_eq!(
            p.check("data-plane").unwrap().evidence,
            "2 of 2 pings answered; at the pod MTU 1450 with DF set: 0 of 2"
        );
        assert!(report.pair("worker-1", "worker-0").unwrap().passed);
    }

    #[test]
    fn a_forward_policy_drop_names_the_node_once_for_every_pair() {
        let mut lab = Lab::static_routes(3);
        let docker = crate::facts::Section::ran(
            "iptables",
            "-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n-N DOCKER-USER\n-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\n",
        );
        lab.checks(1).firewall = crate::facts::iptables::parse(&docker).unwrap();
        for other in [0, 2] {
            lab.ping_fails(other, 1);
            lab.ping_fails(1, other);
        }
        let report = lab.report();
        assert_eq!(report.diagnoses.len(), 1, "{}", report.render_text(true));
        assert_eq!(
            report.diagnoses[0].diagnosis.message,
            "the iptables FORWARD policy on worker-1 is DROP (Docker sets it so), so worker-1 forwards no packets \
             between its pods and the other nodes: run `sudo iptables -P FORWARD ACCEPT` on worker-1"
        );
        assert_eq!(report.diagnoses[0].diagnosis.code, codes::FORWARD_POLICY_DROP);
        assert_eq!(report.diagnoses[0].pairs.len(), 4);
    }

    #[test]
    fn a_drop_rule_names_the_rule_and_its_delete_command() {
        let mut lab = Lab::static_routes(2);
        let rules = crate::facts::Section::ran(
            "iptables",
            "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A FORWARD -d 10.200.1.0/24 -j DROP\n",
        );
        lab.checks(1).firewall = crate::facts::iptables::parse(&rules).unwrap();
        lab.ping_fails(0, 1);
        lab.ping_fails(1, 0);
        let report = lab.report();
        assert_eq!(
            why(&report, 0, 1),
            [
                "the iptables rule `-A FORWARD -d 10.200.1.0/24 -j DROP` on worker-1 drops forwarded pod traffic \
                 (DROP): run `sudo iptables -D FORWARD -d 10.200.1.0/24 -j DROP` on worker-1"
            ]
        );
        assert_eq!(codes(&report).len(), 2);
    }

    #[test]
    fn a_real_pod_that_does_not_answer() {
        let mut lab = Lab::static_routes(2);
        lab.pods[1] = vec![ip("10.200.1.2")];
        lab.checks(0)
            .pings
            .insert(ip("10.200.1.2"), PingOutcome::Summary { transmitted: 2, received: 0 });
        lab.checks(1)
            .pings
            .insert(ip("10.200.0.2"), PingOutcome::Summary { transmitted: 2, received: 2 });
        let report = lab.report();
        assert_eq!(codes(&report), [pair(0, 1, codes::POD_UNANSWERED)]);
        assert_eq!(
            report.pair("worker-0", "worker-1").unwrap().check("data-plane").unwrap().evidence,
            "2 of 2 pings answered; pod 10.200.1.2: 0 of 2"
        );
    }

    #[test]
    fn packets_lost_names_the_node_in_every_failing_pair() {
        let mut lab = Lab::static_routes(3);
        for other in [0, 2] {
            lab.ping_fails(other, 1);
            lab.ping_fails(1, other);
        }
        let report = lab.report();
        assert_eq!(report.diagnoses.len(), 1);
        assert!(
            report.diagnoses[0].diagnosis.message.contains(
                "and worker-1 is in every failing pair: look on worker-1 for firewall rules"
            ),
            "{}",
            report.diagnoses[0].diagnosis.message
        );
    }

    #[test]
    fn a_fresh_lab_is_one_cause_per_node() {
        let mut lab = Lab::static_routes(4);
        for i in 0..4 {
            for j in (0..4).filter(|j| *j != i) {
                lab.set_route(i, &format!("10.200.{j}.0/24"), None);
                lab.answer(
                    i,
                    j,
                    path(&format!("10.200.{j}.254 via 10.0.2.2 dev enp0s3 src 10.0.2.15")),
                );
                lab.ping_fails(i, j);
            }
        }
        let report = lab.report();
        assert_eq!(report.diagnoses.len(), 4, "{}", report.render_text(true));
        assert_eq!(
            report.diagnoses[0].diagnosis.message,
            "worker-0 has no route to any other worker's pod CIDR: run `labctl run 11-pod-network-routes`, or on \
             worker-0: `sudo ip route replace 10.200.1.0/24 via 10.240.0.21`, `sudo ip route replace 10.200.2.0/24 via \
             10.240.0.22`, `sudo ip route replace 10.200.3.0/24 via 10.240.0.23`"
        );
        assert!(report.diagnoses.iter().all(|g| g.pairs.len() == 6));
        let text = report.render_text(false);
        assert!(text.contains("\n   (every pair with worker-3, both ways)\n"), "{text}");
    }

    #[test]
    fn only_the_checks_the_chapter_declares() {
        let mut lab = Lab::static_routes(2);
        lab.data_plane = false;
        let report = lab.report();
        assert_eq!(report.summary.checks, 2);
        assert!(report.pairs.iter().all(|p| p.check("data-plane").is_none()));
        lab.data_plane = true;
        lab.expectation = None;
        lab.ping_fails(0, 1);
        let report = lab.report();
        assert_eq!(report.summary.checks, 2);
        assert_eq!(codes(&report), [pair(0, 1, codes::PACKETS_LOST)]);
    }
}
