//! The labctl inventory (DESIGN.md §5) a sandbox writes, so that `labctl run/verify/reset` need
//! no flags afterwards: the nodes are reached over real SSH like any other machines.

use std::fmt::Write as _;

use super::paths::SandboxPaths;
use super::spec::SandboxSpec;

/// The inventory text for the sandbox `spec` whose files are at `paths`.
///
/// Written by hand rather than serialised, so that it reads like the example in DESIGN.md §5.
pub fn render(spec: &SandboxSpec, paths: &SandboxPaths) -> String {
    let mut text = format!(
        "# Written by `labctl sandbox up --name {}` ({} shape); removed by `labctl sandbox down`.\n# The nodes' host keys are in {}.\n",
        spec.name,
        spec.shape.as_str(),
        paths.known_hosts().display(),
    );
    // The sandbox is reached like any SSH machines; its shape decides nothing in labctl.
    text.push_str("provider: ssh\nnodes:\n");
    for node in &spec.nodes {
        let _ = write!(
            text,
            "  - name: {}\n    role: {}\n    address: {}\n",
            node.name,
            node.role.as_str(),
            node.address
        );
        if let Some(pod_cidr) = node.pod_cidr {
            let _ = writeln!(text, "    pod_cidr: {pod_cidr}");
        }
    }
    let _ = write!(
        text,
        "ssh:\n  user: {}\n  identity_file: {}\n  port: {}\n  host_key_checking: accept-new\n  sudo: true\n",
        super::node_etc::USER,
        scalar(&paths.client_key().to_string_lossy()),
        super::sshd::PORT,
    );
    let _ = write!(
        text,
        "network:\n  cluster_cidr: {}\n  service_cidr: {}\n",
        spec.cluster_cidr, spec.service_cidr
    );
    text
}

/// A YAML scalar: plain when it is an ordinary path, else double-quoted (JSON quoting is
/// valid YAML).
fn scalar(value: &str) -> String {
    let plain = value.starts_with('/')
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b));
    if plain { value.to_string() } else { serde_json::Value::from(value).to_string() }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;
    use crate::sandbox::args::UpArgs;

    #[derive(Parser)]
    struct Harness {
        #[command(flatten)]
        up: UpArgs,
    }

    #[test]
    fn inventory_is_the_design_format() {
        let args = Harness::parse_from(["up", "--workers", "2"]).up;
        let spec = SandboxSpec::from_args(&args).unwrap();
        let paths = SandboxPaths::new(Path::new("/run/labctl/sandboxes"), "default");
        let text = render(&spec, &paths);
        let expected = "# Written by `labctl sandbox up --name default` (vagrant shape); removed by `labctl sandbox down`.
# The nodes' host keys are in /run/labctl/sandboxes/default/known_hosts.
provider: ssh
nodes:
  - name: controller-0
    role: controller
    address: 10.240.0.10
  - name: worker-0
    role: worker
    address: 10.240.0.20
    pod_cidr: 10.200.0.0/24
  - name: worker-1
    role: worker
    address: 10.240.0.21
    pod_cidr: 10.200.1.0/24
ssh:
  user: vagrant
  identity_file: /run/labctl/sandboxes/default/id_ed25519
  port: 22
  host_key_checking: accept-new
  sudo: true
network:
  cluster_cidr: 10.200.0.0/16
  service_cidr: 10.32.0.0/24
";
        assert_eq!(text, expected);
    }

    #[test]
    fn odd_paths_are_quoted() {
        assert_eq!(scalar("/tmp/.tmpAb3/x/id_ed25519"), "/tmp/.tmpAb3/x/id_ed25519");
        assert_eq!(scalar("/tmp/my lab: #1"), "\"/tmp/my lab: #1\"");
    }
}
