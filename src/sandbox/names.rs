//! The names a sandbox gives to what it makes: network namespaces, the operator's veth and its
//! alias. `down` finds a sandbox's leftovers by these names even when its state file is gone.

/// The alias put on the operator's veth: `labctl-sandbox NAME`.
const ALIAS_PREFIX: &str = "labctl-sandbox ";
/// Linux interface names have at most 15 characters (IFNAMSIZ - 1).
const MAX_LINK_NAME: usize = 15;

/// Names of one sandbox's namespaces and links.
#[derive(Debug, Clone)]
pub struct SandboxNames {
    name: String,
}

impl SandboxNames {
    /// The names for the sandbox called `name`.
    pub fn new(name: &str) -> SandboxNames {
        SandboxNames { name: name.to_string() }
    }

    /// The sandbox's name.
    pub fn sandbox(&self) -> &str {
        &self.name
    }

    /// The namespace holding the lab network's bridge.
    pub fn network_ns(&self) -> String {
        format!("labctl-{}-net", self.name)
    }

    /// The VPC router's namespace (gce shape).
    pub fn router_ns(&self) -> String {
        format!("labctl-{}-vpc", self.name)
    }

    /// A node's namespace.
    pub fn node_ns(&self, node: &str) -> String {
        format!("labctl-{}-{node}", self.name)
    }

    /// The namespace of a node's workload pod.
    pub fn pod_ns(&self, node: &str) -> String {
        format!("labctl-{}-{node}-pod", self.name)
    }

    /// True for every namespace name this sandbox can make, and for no other sandbox's.
    ///
    /// The rest after `labctl-NAME-` must be exactly one of our suffixes, so that sandbox `a`
    /// never claims `labctl-a-b-net` of sandbox `a-b`.
    pub fn owns_namespace(&self, ns: &str) -> bool {
        let Some(rest) = ns.strip_prefix(&format!("labctl-{}-", self.name)) else {
            return false;
        };
        let numbered = |s: &str, kind: &str| {
            s.strip_prefix(kind)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        let node = |s: &str| numbered(s, "worker-") || numbered(s, "controller-");
        rest == "net" || rest == "vpc" || node(rest) || rest.strip_suffix("-pod").is_some_and(node)
    }

    /// The alias of the operator's veth, which names the sandbox for `down` and for messages.
    pub fn link_alias(&self) -> String {
        format!("{ALIAS_PREFIX}{}", self.name)
    }

    /// Candidate names for the operator's veth in the root namespace, best first:
    /// `lc-NAME` when it fits, else a shortened name with a hash; then variants on collision.
    pub fn host_link_candidates(&self) -> Vec<String> {
        let short = format!("lc-{}", self.name);
        let mut candidates = Vec::new();
        if short.len() <= MAX_LINK_NAME {
            candidates.push(short);
        }
        let head: String = self.name.chars().take(6).collect();
        for salt in 0u32..8 {
            let hash = fnv1a(&format!("{}/{salt}", self.name)) & 0xffff;
            candidates.push(format!("lc-{head}-{hash:04x}"));
        }
        candidates
    }
}

/// The sandbox a link alias names, if it is one of ours.
pub fn sandbox_of_alias(alias: &str) -> Option<&str> {
    alias.strip_prefix(ALIAS_PREFIX)
}

/// FNV-1a: a small hash that stays the same across Rust versions.
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_claimed_only_by_their_own_sandbox() {
        let a = SandboxNames::new("a");
        assert!(a.owns_namespace("labctl-a-net"));
        assert!(a.owns_namespace("labctl-a-vpc"));
        assert!(a.owns_namespace("labctl-a-worker-12"));
        assert!(a.owns_namespace("labctl-a-worker-0-pod"));
        assert!(a.owns_namespace("labctl-a-controller-0"));
        assert!(!a.owns_namespace("labctl-a-b-net"));
        assert!(!a.owns_namespace("labctl-a-b-worker-0"));
        assert!(!a.owns_namespace("labctl-a-worker-"));
        assert!(!a.owns_namespace("labctl-ab-net"));
        assert!(!a.owns_namespace("other"));
    }

    #[test]
    fn host_link_names_fit_ifnamsiz() {
        let short = SandboxNames::new("default").host_link_candidates();
        assert_eq!(short[0], "lc-default");
        let long = SandboxNames::new("a-very-long-sandbox-name").host_link_candidates();
        assert!(long.iter().all(|n| n.len() <= 15), "{long:?}");
        assert!(long[0].starts_with("lc-a-very-"));
        let distinct: std::collections::HashSet<_> = long.iter().collect();
        assert_eq!(distinct.len(), long.len());
    }

    #[test]
    fn alias_round_trips() {
        let names = SandboxNames::new("lab2");
        assert_eq!(sandbox_of_alias(&names.link_alias()), Some("lab2"));
        assert_eq!(sandbox_of_alias("uplink"), None);
    }
}
