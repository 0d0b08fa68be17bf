//! A worker's Compute Engine instance, as `gcloud compute instances describe NAME --format=json`
//! prints it, and how it is cross-checked with the inventory.
//!
//! The chapter reads `networkInterfaces[0].networkIP` and the `pod-cidr` metadata KTHW put on
//! each worker when it was created. When the inventory also gives them they must agree: labctl
//! reports a mismatch and does not guess which side is right.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_json::Value;

use crate::inventory::Node;

/// The metadata key KTHW stores a worker's pod CIDR under.
pub const POD_CIDR_KEY: &str = "pod-cidr";

/// What labctl reads from an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub name: String,
    /// `networkInterfaces[0].networkIP`, as written.
    pub network_ip: Option<String>,
    /// The name of the network of `networkInterfaces[0]` (the last part of its URL).
    pub network: Option<String>,
    /// The `pod-cidr` metadata value, as written.
    pub pod_cidr: Option<String>,
}

/// The `gcloud` arguments that describe instance `name`.
pub fn describe_args<'a>(name: &'a str, project: &'a str, zone: &'a str) -> Vec<&'a str> {
    vec![
        "compute",
        "instances",
        "describe",
        name,
        "--project",
        project,
        "--zone",
        zone,
        "--format=json",
    ]
}

/// Parses the JSON of one instance.
pub fn parse(json: &str) -> Result<Instance, String> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| format!("gcloud did not print an instance as JSON: {e}"))?;
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .ok_or("gcloud printed an instance without a name")?
        .to_string();
    let nic = value.get("networkInterfaces").and_then(|n| n.get(0));
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let network_ip = text(nic.and_then(|n| n.get("networkIP")));
    let network = text(nic.and_then(|n| n.get("network")))
        .map(|url| url.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string());
    let items = value.get("metadata").and_then(|m| m.get("items")).and_then(Value::as_array);
    let pod_cidr = items
        .into_iter()
        .flatten()
        .find(|item| item.get("key").and_then(Value::as_str) == Some(POD_CIDR_KEY))
        .and_then(|item| text(item.get("value")))
        .map(|v| v.trim().to_string());
    Ok(Instance { name, network_ip, network, pod_cidr })
}

/// The pod CIDR the worker `node` has according to both the inventory and its `instance`, or
/// every way in which they disagree. `network` is the VPC network the routes go into.
pub fn reconcile(node: &Node, instance: &Instance, network: &str) -> Result<Ipv4Net, Vec<String>> {
    let mut problems = Vec::new();
    let name = &instance.name;
    match instance.network_ip.as_deref().map(|ip| (ip, ip.parse::<Ipv4Addr>())) {
        None => problems
            .push(format!("instance `{name}` has no networkIP on its first network interface")),
        Some((ip, Err(_))) => {
            problems.push(format!("instance `{name}` has networkIP `{ip}`, not an IPv4 address"))
        }
        Some((_, Ok(ip))) if ip != node.address => problems.push(format!(
            "the inventory gives `{}` the address {}, but instance `{name}` has networkIP {ip}",
            node.name, node.address
        )),
        Some(_) => {}
    }
    match instance.network.as_deref() {
        Some(found) if found != network => problems.push(format!(
            "instance `{name}` is on network `{found}`, but the routes go into gce.network `{network}`"
        )),
        _ => {}
    }
    let metadata = match instance.pod_cidr.as_deref() {
        None => None,
        Some(text) => match text.parse::<Ipv4Net>() {
            Ok(cidr) => Some(cidr),
            Err(_) => {
                problems.push(format!(
                    "instance `{name}` has {POD_CIDR_KEY} metadata `{text}`, not an IPv4 CIDR"
                ));
                None
            }
        },
    };
    let pod_cidr = match (node.pod_cidr, metadata) {
        (Some(inventory), Some(found)) if inventory != found => {
            problems.push(format!(
                "the inventory gives `{}` the pod_cidr {inventory}, but instance `{name}` has {POD_CIDR_KEY} metadata {found}",
                node.name
            ));
            None
        }
        (Some(cidr), _) | (None, Some(cidr)) => Some(cidr),
        (None, None) if instance.pod_cidr.is_none() => {
            problems.push(format!(
                "`{}` has no pod CIDR: the inventory gives none and instance `{name}` has no {POD_CIDR_KEY} metadata",
                node.name
            ));
            None
        }
        (None, None) => None,
    };
    match pod_cidr {
        Some(cidr) if problems.is_empty() => Ok(cidr),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Role;

    const WORKER_0: &str = include_str!("../../../tests/fixtures/gce/instance-worker-0.json");
    const NO_METADATA: &str = include_str!("../../../tests/fixtures/gce/instance-no-metadata.json");

    fn node(address: [u8; 4], pod_cidr: Option<&str>) -> Node {
        Node {
            name: "worker-0".into(),
            role: Role::Worker,
            address: address.into(),
            pod_cidr: pod_cidr.map(|c| c.parse().unwrap()),
            ssh: None,
            line: Some(5),
        }
    }

    #[test]
    fn parses_what_the_chapter_reads() {
        let instance = parse(WORKER_0).unwrap();
        assert_eq!(
            instance,
            Instance {
                name: "worker-0".into(),
                network_ip: Some("10.240.0.20".into()),
                network: Some("kubernetes-the-hard-way".into()),
                pod_cidr: Some("10.200.0.0/24".into()),
            }
        );
        let bare = parse(NO_METADATA).unwrap();
        assert_eq!(bare.pod_cidr, None);
        assert_eq!(bare.network_ip.as_deref(), Some("10.240.0.21"));
    }

    #[test]
    fn agreeing_sources_give_the_pod_cidr() {
        let instance = parse(WORKER_0).unwrap();
        let want: Ipv4Net = "10.200.0.0/24".parse().unwrap();
        let net = "kubernetes-the-hard-way";
        assert_eq!(
            reconcile(&node([10, 240, 0, 20], Some("10.200.0.0/24")), &instance, net),
            Ok(want)
        );
        // The inventory may leave the pod CIDR to the instance's metadata.
        assert_eq!(reconcile(&node([10, 240, 0, 20], None), &instance, net), Ok(want));
    }

    #[test]
    fn every_disagreement_is_reported() {
        let instance = parse(WORKER_0).unwrap();
        let problems = reconcile(&node([10, 240, 0, 30], Some("10.200.9.0/24")), &instance, "kthw")
            .unwrap_err();
        assert_eq!(
            problems,
            [
                "the inventory gives `worker-0` the address 10.240.0.30, but instance `worker-0` has networkIP 10.240.0.20",
                "instance `worker-0` is on network `kubernetes-the-hard-way`, but the routes go into gce.network `kthw`",
                "the inventory gives `worker-0` the pod_cidr 10.200.9.0/24, but instance `worker-0` has pod-cidr metadata 10.200.0.0/24",
            ]
        );
    }

    #[test]
    fn no_pod_cidr_anywhere_is_reported() {
        let mut instance = parse(NO_METADATA).unwrap();
        instance.name = "worker-0".into();
        instance.network_ip = Some("10.240.0.20".into());
        let problems = reconcile(&node([10, 240, 0, 20], None), &instance, "kthw").unwrap_err();
        assert_eq!(
            problems,
            [
                "`worker-0` has no pod CIDR: the inventory gives none and instance `worker-0` has no pod-cidr metadata"
            ]
        );
        instance.pod_cidr = Some("ten-two-hundred".into());
        let problems = reconcile(&node([10, 240, 0, 20], None), &instance, "kthw").unwrap_err();
        assert_eq!(
            problems,
            ["instance `worker-0` has pod-cidr metadata `ten-two-hundred`, not an IPv4 CIDR"]
        );
    }

    #[test]
    fn odd_json_is_an_error_not_a_panic() {
        for input in ["", "[]", "{}", "{\"name\": 3}", "\u{0}"] {
            assert!(parse(input).is_err(), "{input:?}");
        }
        let odd = parse(r#"{"name":"w","networkInterfaces":{},"metadata":{"items":7}}"#).unwrap();
        assert_eq!(odd.network_ip, None);
        assert_eq!(odd.pod_cidr, None);
    }
}
