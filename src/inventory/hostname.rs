//! Node names become host names, kubelet node names and parts of file names in chapters, so
//! they must be valid DNS labels (RFC 1123), in lower case as Kubernetes requires.

/// The longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// Whether `name` is a lower-case RFC 1123 label: 1-63 letters, digits and `-`, starting and
/// ending with a letter or digit.
pub fn is_dns_label(name: &str) -> bool {
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            bytes.len() <= MAX_LABEL_LEN
                && alnum(first)
                && alnum(last)
                && bytes.iter().all(|&c| alnum(c) || c == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["server", "worker-0", "0node", "a", &"a".repeat(63)] {
            assert!(is_dns_label(ok), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["", "Worker-0", "worker_0", "-a", "a-", "node.local", "nöde", &long] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }
}
