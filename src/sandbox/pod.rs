//! A node's workload pod, made the way KTHW chapter 09 has containerd make it: the real CNI
//! `bridge` plugin (with `host-local` addresses from the node's pod CIDR) and the `loopback`
//! plugin. The bridge plugin runs inside the node's namespace, so `cni0` is the node's.

use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::{IpNet, Ipv4Net};
use serde::Deserialize;
use serde_json::json;

use super::command::run;
use super::netns::Ip;
use super::paths::netns_file;
use super::programs::Programs;

/// KTHW chapter 09's `10-bridge.conf` for `pod_cidr`, with the address leases in `data_dir`.
///
/// `ipMasq` is off (KTHW has it on): masquerading needs iptables in every node, and it would
/// hide pod addresses behind node addresses, which is exactly what chapter 11's routes are about.
pub fn bridge_config(pod_cidr: Ipv4Net, data_dir: &Path) -> serde_json::Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "bridge",
        "type": "bridge",
        "bridge": "cni0",
        "isGateway": true,
        "ipMasq": false,
        "ipam": {
            "type": "host-local",
            "ranges": [[{ "subnet": pod_cidr.to_string() }]],
            "routes": [{ "dst": "0.0.0.0/0" }],
            "dataDir": data_dir.to_string_lossy(),
        }
    })
}

/// KTHW chapter 09's `99-loopback.conf`.
fn loopback_config() -> serde_json::Value {
    json!({ "cniVersion": "1.0.0", "name": "lo", "type": "loopback" })
}

/// Puts `pod_ns` on the node's `cni0` bridge with CNI ADD; the pod's address.
pub fn add_pod(
    ip: &Ip,
    programs: &Programs,
    node_ns: &str,
    pod_ns: &str,
    config: &serde_json::Value,
) -> Result<Ipv4Addr, String> {
    let netns = netns_file(pod_ns);
    let container_id = pod_ns.to_string();
    let mut bridge = ip.exec_in(node_ns, &programs.cni_bridge);
    cni_env(&mut bridge, programs, &container_id, &netns, "eth0");
    let result = run(&mut bridge, Some(&config.to_string()))
        .map_err(|e| format!("CNI plugin `bridge` failed in `{node_ns}`: {}", cni_message(&e)))?;
    let address = pod_address(&result)?;

    let mut loopback = std::process::Command::new(&programs.cni_loopback);
    cni_env(&mut loopback, programs, &container_id, &netns, "lo");
    run(&mut loopback, Some(&loopback_config().to_string()))
        .map_err(|e| format!("CNI plugin `loopback` failed for `{pod_ns}`: {}", cni_message(&e)))?;
    Ok(address)
}

fn cni_env(
    cmd: &mut std::process::Command,
    programs: &Programs,
    container_id: &str,
    netns: &Path,
    ifname: &str,
) {
    cmd.env("CNI_COMMAND", "ADD")
        .env("CNI_CONTAINERID", container_id)
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", ifname)
        .env("CNI_PATH", &programs.cni_path);
}

/// The first IPv4 address of a CNI ADD result.
pub fn pod_address(result: &str) -> Result<Ipv4Addr, String> {
    #[derive(Deserialize)]
    struct CniIp {
        address: IpNet,
    }
    #[derive(Deserialize)]
    struct CniResult {
        #[serde(default)]
        ips: Vec<CniIp>,
    }
    let parsed: CniResult = serde_json::from_str(result)
        .map_err(|e| format!("cannot read the CNI result ({e}): {}", result.trim()))?;
    parsed
        .ips
        .iter()
        .find_map(|i| match i.address {
            IpNet::V4(net) => Some(net.addr()),
            IpNet::V6(_) => None,
        })
        .ok_or_else(|| format!("the CNI result has no IPv4 address: {}", result.trim()))
}

/// CNI plugins report errors as JSON on stdout (`{"code":..,"msg":..}`); keep the message.
fn cni_message(error: &str) -> String {
    #[derive(Deserialize)]
    struct CniError {
        msg: String,
        #[serde(default)]
        details: String,
    }
    let json_start = error.find('{');
    let parsed = json_start.and_then(|i| serde_json::from_str::<CniError>(&error[i..]).ok());
    match parsed {
        Some(e) if e.details.is_empty() => e.msg,
        Some(e) => format!("{}: {}", e.msg, e.details),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_address_comes_from_the_cni_result() {
        let result = r#"{"cniVersion":"1.0.0","interfaces":[{"name":"cni0","mac":"aa:bb:cc:dd:ee:ff"},
            {"name":"eth0","sandbox":"/run/netns/p"}],"ips":[{"interface":2,"address":"10.200.1.2/24",
            "gateway":"10.200.1.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}"#;
        assert_eq!(pod_address(result).unwrap(), Ipv4Addr::new(10, 200, 1, 2));
        assert!(pod_address(r#"{"ips":[]}"#).unwrap_err().contains("no IPv4 address"));
    }

    #[test]
    fn config_is_kthw_chapter_09_with_the_pod_cidr() {
        let config = bridge_config("10.200.2.0/24".parse().unwrap(), Path::new("/d/cni/worker-2"));
        assert_eq!(config["type"], "bridge");
        assert_eq!(config["bridge"], "cni0");
        assert_eq!(config["ipam"]["ranges"][0][0]["subnet"], "10.200.2.0/24");
        assert_eq!(config["ipam"]["dataDir"], "/d/cni/worker-2");
    }

    #[test]
    fn cni_errors_keep_the_plugin_message() {
        let error = r#"`bridge` failed with exit code 1: {"code":7,"msg":"failed to allocate","details":"range full"}"#;
        assert_eq!(cni_message(error), "failed to allocate: range full");
    }
}
