//! Names on Google Compute Engine: the route name labctl derives from a pod CIDR (used by the
//! gce variant's chapters and templates, so it lives in one place) and the rule every GCE
//! resource name must follow.

use ipnet::Ipv4Net;

/// The longest name GCE accepts for a route or a network.
pub const MAX_NAME_LEN: usize = 63;

/// The route KTHW creates for a pod CIDR: `10.200.0.0/24` → `kubernetes-route-10-200-0-0-24`.
pub fn gce_route_name(cidr: &Ipv4Net) -> String {
    format!("kubernetes-route-{}", cidr.to_string().replace(['.', '/'], "-"))
}

/// Why `name` is not a valid GCE resource name (`^[a-z]([-a-z0-9]*[a-z0-9])?$`, at most 63
/// characters), or `None` when it is valid.
pub fn gce_name_problem(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let Some((&first, _)) = bytes.split_first() else {
        return Some("it is empty".into());
    };
    if bytes.len() > MAX_NAME_LEN {
        return Some(format!(
            "it has {} characters, at most {MAX_NAME_LEN} are allowed",
            bytes.len()
        ));
    }
    if !first.is_ascii_lowercase() {
        return Some("it must start with a lower-case letter".into());
    }
    if let Some(c) =
        name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!("`{c}` is not allowed; use lower-case letters, digits and `-`"));
    }
    if name.ends_with('-') {
        return Some("it must not end with `-`".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_name_follows_kthw() {
        let cidr: Ipv4Net = "10.200.0.0/24".parse().unwrap();
        assert_eq!(gce_route_name(&cidr), "kubernetes-route-10-200-0-0-24");
        let widest: Ipv4Net = "255.255.255.255/32".parse().unwrap();
        assert_eq!(gce_name_problem(&gce_route_name(&widest)), None);
    }

    #[test]
    fn valid_names() {
        for name in ["kubernetes-the-hard-way", "a", "net0", &"a".repeat(63)] {
            assert_eq!(gce_name_problem(name), None, "{name}");
        }
    }

    #[test]
    fn invalid_names_say_why() {
        let cases = [
            ("", "it is empty"),
            ("0net", "it must start with a lower-case letter"),
            ("-net", "it must start with a lower-case letter"),
            ("My-net", "it must start with a lower-case letter"),
            ("my_net", "`_` is not allowed; use lower-case letters, digits and `-`"),
            ("my-Net", "`N` is not allowed; use lower-case letters, digits and `-`"),
            ("net-", "it must not end with `-`"),
        ];
        for (name, why) in cases {
            assert_eq!(gce_name_problem(name).as_deref(), Some(why), "{name}");
        }
        let long = "a".repeat(64);
        assert_eq!(
            gce_name_problem(&long).as_deref(),
            Some("it has 64 characters, at most 63 are allowed")
        );
    }
}
