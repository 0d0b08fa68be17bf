//! verify's `gce_routes` check: the chapter's own listing,
//! `gcloud compute routes list --filter "network: NET"`, compared with the route the variant
//! plans for every worker (name from its pod CIDR, destination, next hop).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_json::Value;

use super::gcloud::{Gcloud, command_line, error_tail};
use crate::connector::CommandOutput;
use crate::inventory::Inventory;
use crate::pod_network::gce::names::gce_route_name;
use crate::runner::log::RunLog;
use crate::verify::HostCheck;

/// A route as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub name: String,
    /// The network's name (the last part of its URL).
    pub network: String,
    pub dest_range: String,
    /// `nextHopIp`, else the name of the gateway, instance or network it goes to.
    pub next_hop: String,
}

/// The route the variant plans for one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRoute {
    pub worker: String,
    pub name: String,
    pub dest: Ipv4Net,
    pub next_hop: Ipv4Addr,
}

/// The routes the gce variant makes for `inventory`: one per worker with a pod CIDR.
pub fn planned(inventory: &Inventory) -> Vec<PlannedRoute> {
    inventory
        .workers()
        .filter_map(|w| {
            let dest = w.pod_cidr?;
            Some(PlannedRoute {
                worker: w.name.clone(),
                name: gce_route_name(&dest),
                dest,
                next_hop: w.address,
            })
        })
        .collect()
}

/// The `gcloud` arguments that list the routes of `network`, as the chapter does.
pub fn list_args(project: Option<&str>, network: &str) -> Vec<String> {
    let mut args: Vec<String> = ["compute", "routes", "list"].map(String::from).to_vec();
    if let Some(project) = project {
        args.extend(["--project".to_string(), project.to_string()]);
    }
    args.extend([
        "--filter".to_string(),
        format!("network: {network}"),
        "--format=json".to_string(),
    ]);
    args
}

/// Parses the JSON list of routes.
pub fn parse_list(json: &str) -> Result<Vec<Route>, String> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| format!("gcloud did not print the routes as JSON: {e}"))?;
    let items = value.as_array().ok_or("gcloud did not print a list of routes")?;
    let basename = |v: &Value| {
        v.as_str()
            .map(|s| s.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string())
    };
    items
        .iter()
        .map(|item| {
            let field = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
            let next_hop = field("nextHopIp")
                .or_else(|| {
                    ["nextHopGateway", "nextHopInstance", "nextHopIlb", "nextHopVpnTunnel"]
                        .iter()
                        .find_map(|k| item.get(*k).and_then(basename))
                })
                .or_else(|| {
                    item.get("nextHopNetwork").and_then(basename).map(|n| format!("network {n}"))
                })
                .unwrap_or_default();
            Ok(Route {
                name: field("name").ok_or("gcloud listed a route without a name")?,
                network: item.get("network").and_then(basename).unwrap_or_default(),
                dest_range: field("destRange").unwrap_or_default(),
                next_hop,
            })
        })
        .collect()
}

/// One check per planned route: it exists in `network` with the planned values.
/// `run_hint` is the command that creates them, e.g. `labctl run 11-pod-network-routes --variant gce`.
pub fn judge(
    planned: &[PlannedRoute],
    network: &str,
    found: &[Route],
    run_hint: &str,
) -> Vec<HostCheck> {
    planned
        .iter()
        .map(|p| {
            let want = format!("{} via {}", p.dest, p.next_hop);
            let (passed, evidence) = match found.iter().find(|r| r.name == p.name) {
                None => (
                    false,
                    format!("no route {} in network {network}: run `{run_hint}`", p.name),
                ),
                // The filter `network: NET` also lists other networks whose names hold NET as
                // a word (`kthw-2` for `kthw`): a route there carries no packets of this one.
                Some(r) if r.network != network => (
                    false,
                    format!(
                        "{} is in network {}, not {network}: `{run_hint} --replace` replaces it",
                        p.name, r.network
                    ),
                ),
                Some(r) if r.dest_range == p.dest.to_string() && r.next_hop == p.next_hop.to_string() => {
                    (true, format!("{} in network {network}: {want}", p.name))
                }
                Some(r) => (
                    false,
                    format!(
                        "{} in network {network} is {} via {}, planned {want}: `{run_hint} --replace` replaces it",
                        p.name, r.dest_range, r.next_hop
                    ),
                ),
            };
            check(p, passed, evidence)
        })
        .collect()
}

/// Lists the routes of the inventory's network with gcloud and judges them.
pub async fn verify(inventory: &Inventory, run_hint: &str, log: &RunLog) -> Vec<HostCheck> {
    let planned = planned(inventory);
    let settings = crate::pod_network::settings::gce(inventory).ok().flatten().unwrap_or_default();
    let failed = |why: String| -> Vec<HostCheck> {
        planned.iter().map(|p| check(p, false, why.clone())).collect()
    };
    let Some(gcloud) = Gcloud::locate() else {
        return failed("`gcloud` is not installed (not found on PATH)".into());
    };
    let args = list_args(settings.project.as_deref(), &settings.network);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let shown = command_line(&args);
    log.started(super::LOG_HOST, &shown);
    let result = gcloud.run(&args).await;
    log.command(super::LOG_HOST, &shown, &result);
    let out: CommandOutput = match result {
        Err(e) => return failed(e),
        Ok(out) if !out.success() => {
            return failed(format!("`{shown}` failed: {}", error_tail(&out)));
        }
        Ok(out) => out,
    };
    match parse_list(&out.stdout_text()) {
        Ok(found) => judge(&planned, &settings.network, &found, run_hint),
        Err(e) => failed(e),
    }
}

fn check(p: &PlannedRoute, passed: bool, evidence: String) -> HostCheck {
    HostCheck::new(format!("gce route for {}", p.worker), super::LOG_HOST, passed, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = include_str!("../../../tests/fixtures/gce/routes-list.json");
    const HINT: &str = "labctl run 11-pod-network-routes --variant gce";

    fn plan(worker: u8) -> PlannedRoute {
        let dest: Ipv4Net = format!("10.200.{worker}.0/24").parse().unwrap();
        PlannedRoute {
            worker: format!("worker-{worker}"),
            name: gce_route_name(&dest),
            dest,
            next_hop: [10, 240, 0, 20 + worker].into(),
        }
    }

    #[test]
    fn parses_the_chapters_listing() {
        let routes = parse_list(LIST).unwrap();
        let shown: Vec<(&str, &str, &str, &str)> = routes
            .iter()
            .map(|r| {
                (r.name.as_str(), r.network.as_str(), r.dest_range.as_str(), r.next_hop.as_str())
            })
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "default-route-081879136902de56",
                    "kubernetes-the-hard-way",
                    "10.240.0.0/24",
                    "network kubernetes-the-hard-way"
                ),
                (
                    "default-route-55199a5aa126d7aa",
                    "kubernetes-the-hard-way",
                    "0.0.0.0/0",
                    "default-internet-gateway"
                ),
                (
                    "kubernetes-route-10-200-0-0-24",
                    "kubernetes-the-hard-way",
                    "10.200.0.0/24",
                    "10.240.0.20"
                ),
                (
                    "kubernetes-route-10-200-1-0-24",
                    "kubernetes-the-hard-way",
                    "10.200.1.0/24",
                    "10.240.0.99"
                ),
            ]
        );
        assert_eq!(parse_list("[]").unwrap(), []);
        assert!(parse_list("{}").is_err());
        assert!(parse_list("[{}]").is_err());
    }

    #[test]
    fn each_planned_route_is_present_wrong_or_missing() {
        let found = parse_list(LIST).unwrap();
        let checks = judge(&[plan(0), plan(1), plan(2)], "kubernetes-the-hard-way", &found, HINT);
        let shown: Vec<(&str, bool, &str)> =
            checks.iter().map(|c| (c.name.as_str(), c.passed, c.evidence.as_str())).collect();
        assert_eq!(
            shown,
            [
                (
                    "gce route for worker-0",
                    true,
                    "kubernetes-route-10-200-0-0-24 in network kubernetes-the-hard-way: 10.200.0.0/24 via 10.240.0.20"
                ),
                (
                    "gce route for worker-1",
                    false,
                    "kubernetes-route-10-200-1-0-24 in network kubernetes-the-hard-way is 10.200.1.0/24 via 10.240.0.99, planned 10.200.1.0/24 via 10.240.0.21: `labctl run 11-pod-network-routes --variant gce --replace` replaces it"
                ),
                (
                    "gce route for worker-2",
                    false,
                    "no route kubernetes-route-10-200-2-0-24 in network kubernetes-the-hard-way: run `labctl run 11-pod-network-routes --variant gce`"
                ),
            ]
        );
        assert!(checks.iter().all(|c| c.host == "local"));
    }

    #[test]
    fn a_route_of_another_network_that_the_filter_lists_is_not_ours() {
        let mut found = parse_list(LIST).unwrap();
        for r in &mut found {
            r.network = "kubernetes-the-hard-way-2".into();
        }
        let checks = judge(&[plan(0)], "kubernetes-the-hard-way", &found, HINT);
        assert!(!checks[0].passed);
        assert_eq!(
            checks[0].evidence,
            "kubernetes-route-10-200-0-0-24 is in network kubernetes-the-hard-way-2, not kubernetes-the-hard-way: `labctl run 11-pod-network-routes --variant gce --replace` replaces it"
        );
    }

    #[test]
    fn the_listing_is_the_chapters() {
        assert_eq!(
            list_args(Some("kthw-1234"), "kubernetes-the-hard-way"),
            [
                "compute",
                "routes",
                "list",
                "--project",
                "kthw-1234",
                "--filter",
                "network: kubernetes-the-hard-way",
                "--format=json"
            ]
        );
    }
}
