//! A node's private `/etc`: `ip netns exec NS` bind-mounts every file of `/etc/netns/NS/` over
//! the one in `/etc/`, so each node gets its own `hosts`, `hostname` and `resolv.conf`, and the
//! user `vagrant` (with passwordless sudo) exists inside the nodes only — the host's users and
//! sudoers are not changed.
//!
//! Name resolution must never wait: `sudo` looks up the node's own hostname, and a nameserver
//! that cannot be reached makes every `sudo` hang for about 20 s. So every node name is
//! in `hosts`, and `resolv.conf` names no server (glibc then asks 127.0.0.1, which refuses at once).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::spec::{NodeSpec, SandboxSpec};

/// The user the course logs in as.
pub const USER: &str = "vagrant";
/// Its home inside a node (a private tmpfs, see [`super::sshd`]).
pub const HOME: &str = "/home/vagrant";
/// The first uid/gid tried for `vagrant` (Vagrant boxes use 1000).
const FIRST_ID: u32 = 1000;

/// The account files every node shares: the host's users plus `vagrant`.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub uid: u32,
    pub gid: u32,
    passwd: String,
    group: String,
    shadow: String,
}

impl Accounts {
    /// Reads the host's `/etc/passwd` and `/etc/group` and adds `vagrant` with a free uid/gid.
    pub fn from_host() -> Result<Accounts, String> {
        let read =
            |path: &str| fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"));
        Ok(Accounts::new(&read("/etc/passwd")?, &read("/etc/group")?))
    }

    /// The account files for host files `passwd` and `group`.
    pub fn new(passwd: &str, group: &str) -> Accounts {
        let passwd = without_user(passwd);
        let group = without_user(group);
        let used = |text: &str, field: usize, id: u32| {
            text.lines().any(|l| l.split(':').nth(field).and_then(|f| f.parse().ok()) == Some(id))
        };
        let id = (FIRST_ID..)
            .find(|id| !used(&passwd, 2, *id) && !used(&group, 2, *id))
            .unwrap_or(FIRST_ID);
        let passwd = format!("{passwd}{USER}:x:{id}:{id}:{USER}:{HOME}:/bin/bash\n");
        let group = format!("{group}{USER}:x:{id}:\n");
        // No password hashes: nobody logs in with a password. A non-zero "last changed" day
        // keeps sshd and PAM from asking for a password change.
        let shadow: String = passwd
            .lines()
            .filter_map(|l| l.split(':').next())
            .filter(|name| !name.is_empty())
            .map(|name| format!("{name}:*:19000:0:99999:7:::\n"))
            .collect();
        Accounts { uid: id, gid: id, passwd, group, shadow }
    }
}

/// The private `/etc` files of `node`: (file name, content, mode).
pub fn node_files(
    accounts: &Accounts,
    spec: &SandboxSpec,
    node: &NodeSpec,
) -> Vec<(&'static str, String, u32)> {
    vec![
        ("hostname", format!("{}\n", node.name), 0o644),
        ("hosts", hosts(spec, node), 0o644),
        ("resolv.conf", RESOLV_CONF.to_string(), 0o644),
        ("passwd", accounts.passwd.clone(), 0o644),
        ("group", accounts.group.clone(), 0o644),
        ("shadow", accounts.shadow.clone(), 0o640),
        ("sudoers", SUDOERS.to_string(), 0o440),
    ]
}

/// Writes `files` into `dir` (`/etc/netns/NS/`); a file whose `/etc` counterpart does not exist
/// is left out, because `ip netns exec` can only bind-mount over an existing file.
pub fn write_files(dir: &Path, files: &[(&'static str, String, u32)]) -> Result<(), String> {
    let error = |what: &Path, e: std::io::Error| format!("cannot write `{}`: {e}", what.display());
    // Another sandbox's `down` may remove an empty /etc/netns just now; try again then.
    let mut created = fs::create_dir_all(dir);
    for _ in 0..3 {
        match &created {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => created = fs::create_dir_all(dir),
            _ => break,
        }
    }
    created.map_err(|e| error(dir, e))?;
    for (name, content, mode) in files {
        if !Path::new("/etc").join(name).exists() {
            continue;
        }
        let path = dir.join(name);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(*mode)
            .open(&path)
            .map_err(|e| error(&path, e))?;
        file.write_all(content.as_bytes()).map_err(|e| error(&path, e))?;
        // The mode given to open() is masked by the umask; sudo insists on exactly 0440.
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode))
            .map_err(|e| error(&path, e))?;
    }
    Ok(())
}

const RESOLV_CONF: &str = "# labctl sandbox: there is no DNS server in the lab (nothing leaves the sandbox).\n# Node names are in /etc/hosts; with no nameserver a lookup fails at once instead of waiting.\noptions timeout:1 attempts:1\n";

const SUDOERS: &str = "# labctl sandbox: like a Vagrant box, `vagrant` may run anything without a password.\nDefaults env_reset\nDefaults secure_path=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\nroot ALL=(ALL:ALL) ALL\nvagrant ALL=(ALL) NOPASSWD: ALL\n";

fn hosts(spec: &SandboxSpec, node: &NodeSpec) -> String {
    let mut text = format!(
        "# labctl sandbox `{}`: {} and the other nodes, so that nothing waits for DNS.\n127.0.0.1\tlocalhost\n",
        spec.name, node.name
    );
    for other in &spec.nodes {
        text.push_str(&format!("{}\t{}\n", other.address, other.name));
    }
    text.push_str("::1\tlocalhost ip6-localhost ip6-loopback\n");
    text
}

/// The lines of an account file without any entry for `vagrant` (the host may have one).
fn without_user(text: &str) -> String {
    let prefix = format!("{USER}:");
    text.lines().filter(|l| !l.starts_with(&prefix)).map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\nvagrant:x:1005:1005::/home/vagrant:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nalice:x:1000:\nbob:x:1001:\nvagrant:x:1005:\n";

    #[test]
    fn vagrant_gets_a_free_id_and_replaces_a_host_vagrant() {
        let accounts = Accounts::new(PASSWD, GROUP);
        assert_eq!((accounts.uid, accounts.gid), (1002, 1002));
        assert!(accounts.passwd.ends_with("vagrant:x:1002:1002:vagrant:/home/vagrant:/bin/bash\n"));
        assert_eq!(accounts.passwd.lines().filter(|l| l.starts_with("vagrant:")).count(), 1);
        assert!(accounts.group.ends_with("vagrant:x:1002:\n"));
        assert_eq!(
            accounts.shadow,
            "root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\nalice:*:19000:0:99999:7:::\nvagrant:*:19000:0:99999:7:::\n"
        );
    }

    #[test]
    fn hosts_names_every_node_and_resolv_conf_no_server() {
        let spec = SandboxSpec {
            name: "default".into(),
            shape: super::super::spec::Shape::Vagrant,
            network: "10.240.0.0/24".parse().unwrap(),
            nic: "enp0s8".into(),
            host_address: "10.240.0.1".parse().unwrap(),
            router_address: None,
            cluster_cidr: "10.200.0.0/16".parse().unwrap(),
            service_cidr: "10.32.0.0/24".parse().unwrap(),
            nodes: (0..2)
                .map(|i| NodeSpec {
                    name: format!("worker-{i}"),
                    role: super::super::spec::NodeRole::Worker,
                    address: format!("10.240.0.2{i}").parse().unwrap(),
                    pod_cidr: Some(format!("10.200.{i}.0/24").parse().unwrap()),
                })
                .collect(),
        };
        let files = node_files(&Accounts::new(PASSWD, GROUP), &spec, &spec.nodes[1]);
        let get = |name: &str| files.iter().find(|f| f.0 == name).map(|f| f.1.clone()).unwrap();
        assert_eq!(get("hostname"), "worker-1\n");
        assert!(get("hosts").contains("\n10.240.0.20\tworker-0\n10.240.0.21\tworker-1\n"));
        assert!(!get("resolv.conf").lines().any(|l| l.starts_with("nameserver")));
        assert!(get("sudoers").contains("vagrant ALL=(ALL) NOPASSWD: ALL"));
    }
}
