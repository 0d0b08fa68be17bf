//! A node's sshd: Debian's real OpenSSH server, started inside the node's network namespace with
//! its own host key, its own hostname (a UTS namespace), a private `/home`, `/tmp`, `/run` and
//! `/etc/cni`, and its own storage for the directories KTHW writes to ([`NODE_STORAGE`]), so
//! that the node behaves like a VM of its own. What is private and why: docs/architecture.md,
//! "Sandbox nodes".

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::command::run;
use super::node_etc::{Accounts, HOME};
use super::paths::SandboxPaths;
use super::programs::Programs;
use super::spec::NodeRole;

/// The port sshd listens on, as on the course's VMs.
pub const PORT: u16 = 22;
/// Directories every node gets a private tmpfs on (empty at every start, as on a VM's boot).
const PRIVATE_DIRS: [&str; 3] = ["/tmp", "/home", "/run"];
/// Directories every node keeps on its own storage, with the mode each gets: what a node writes
/// there (KTHW's certificates, kubeconfigs and configs; kubelet, kube-proxy, containerd, etcd
/// and CNI `host-local` data; root's home) stays on that node, in
/// [`SandboxPaths::node_storage`], not on this machine nor in another node. Each starts empty,
/// like a fresh VM's. Programs installed into `/usr/local/bin` or `/opt/cni/bin` are still
/// shared with this machine: the nodes run this machine's programs from there
/// (docs/architecture.md, "Sandbox nodes").
pub const NODE_STORAGE: [(&str, u32); 10] = [
    ("/root", 0o700),
    ("/etc/kubernetes", 0o755),
    ("/etc/containerd", 0o755),
    ("/etc/etcd", 0o755),
    ("/var/lib/kubernetes", 0o755),
    ("/var/lib/kubelet", 0o755),
    ("/var/lib/kube-proxy", 0o755),
    ("/var/lib/containerd", 0o755),
    // etcd refuses a data directory open to others.
    ("/var/lib/etcd", 0o700),
    // `host-local`'s default lease directory: nodes sharing it would hand out each other's
    // addresses.
    ("/var/lib/cni", 0o755),
];
/// Name of a node's pod namespace inside the node (its private `/run/netns`).
pub const POD_NETNS_IN_NODE: &str = "pod";

/// Makes an ed25519 key pair without a passphrase at `path` and `path.pub`.
pub fn generate_key(ssh_keygen: &Path, path: &Path, comment: &str) -> Result<(), String> {
    let mut cmd = Command::new(ssh_keygen);
    cmd.args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"]).arg(path);
    run(&mut cmd, None).map(|_| ())
}

/// Whether this sshd knows `PerSourcePenalties` (OpenSSH 9.8+), which must be off: the
/// operator's status checks connect without logging in and would get the host shut out.
pub fn has_source_penalties(sshd: &Path) -> bool {
    let output = Command::new(sshd).arg("-V").output();
    let text = match &output {
        Ok(o) => {
            format!("{}{}", String::from_utf8_lossy(&o.stderr), String::from_utf8_lossy(&o.stdout))
        }
        Err(_) => return false,
    };
    openssh_version(&text).is_some_and(|v| v >= (9, 8))
}

/// The sshd_config of `node` listening on `address`.
pub fn config(
    sandbox: &str,
    node: &str,
    address: Ipv4Addr,
    paths: &SandboxPaths,
    source_penalties: bool,
) -> String {
    let quoted = |p: &Path| format!("\"{}\"", p.display());
    let mut text = format!(
        "# labctl sandbox `{sandbox}`, node {node}: Debian's sshd inside the node's namespace.
ListenAddress {address}
Port {PORT}
HostKey {host_key}
PidFile {pid}
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers vagrant
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM: `vagrant` exists only in the node's private /etc; sudo uses PAM by itself.
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AcceptEnv LANG LC_*
# As on the course's Ubuntu boxes, /usr/sbin is on PATH (`ip` without sudo reads state).
SetEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
Subsystem sftp internal-sftp
# A whole class connects at once.
MaxStartups 200:30:400
",
        host_key = quoted(&paths.host_key(node)),
        pid = quoted(&paths.sshd_pid(node)),
    );
    if source_penalties {
        text.push_str("PerSourcePenalties no\n");
    }
    text
}

/// The shell script that turns `ip netns exec NODE unshare --uts` into the node and execs sshd.
pub fn start_script(
    node: &str,
    role: NodeRole,
    pod_netns_file: Option<&Path>,
    accounts: &Accounts,
    programs: &Programs,
    paths: &SandboxPaths,
) -> String {
    let q = |s: &str| shlex::try_quote(s).map(|q| q.into_owned()).unwrap_or_else(|_| s.to_string());
    let qp = |p: &Path| q(&p.to_string_lossy());
    let mut script = String::from("set -e\n");
    if role == NodeRole::Worker {
        // KTHW's workers forward (their pods' traffic); controllers do not.
        script.push_str("echo 1 > /proc/sys/net/ipv4/ip_forward\n");
    }
    script.push_str(&format!("echo {} > /proc/sys/kernel/hostname\n", q(node)));
    // The sandbox's own directory stays open as descriptor 4: the node's storage is bound from
    // it, and when the directory is under a private directory (tests use a temporary
    // directory; the default root is under /run), it is bound back at its path: sshd needs its
    // config and keys there, and `sandbox status` reads its pid file.
    let dir = paths.dir();
    let covered = PRIVATE_DIRS
        .iter()
        .copied()
        .chain(NODE_STORAGE.iter().map(|(d, _)| *d))
        .any(|d| dir.starts_with(d));
    if let Some(pod) = pod_netns_file {
        script.push_str(&format!("exec 3< {}\n", qp(pod)));
    }
    script.push_str(&format!("exec 4< {}\n", qp(dir)));
    // A private /run, like a VM's: what a node's programs leave there (flannel's
    // /run/flannel/subnet.env) is the node's own. sshd needs /run/sshd in it.
    // A private /run/netns: `ip netns add` on one node does not clash with another node's, and
    // the node does not see the host's namespaces. The pod CNI made stays reachable in it as
    // `pod` (bound from an open descriptor: its old path is hidden then).
    script.push_str(
        "umount -l /run/netns 2>/dev/null || true\nmount -t tmpfs -o mode=0755 labctl-run /run\nmkdir -m 0755 /run/sshd /run/netns\nmount -t tmpfs -o mode=0755 labctl-netns /run/netns\n",
    );
    if pod_netns_file.is_some() {
        script.push_str(&format!(
            ": > /run/netns/{POD_NETNS_IN_NODE}\nmount --no-canonicalize --bind /proc/self/fd/3 /run/netns/{POD_NETNS_IN_NODE}\nexec 3<&-\n"
        ));
    }
    // A private, empty /etc/cni: the CNI configs a node's programs write (flannel's
    // 10-flannel.conflist) are the node's own. Its mount point is made on this machine if missing.
    script.push_str("mkdir -p /etc/cni\nmount -t tmpfs -o mode=0755 labctl-cni /etc/cni\n");
    // A private /tmp and /home, like a VM's.
    script.push_str(
        "mount -t tmpfs -o mode=1777 labctl-tmp /tmp\nmount -t tmpfs -o mode=0755 labctl-home /home\n",
    );
    // The node's own storage, bound over each directory of NODE_STORAGE (through descriptor 4:
    // the path may be covered by now). A missing mount point is made on this machine, as for
    // /etc/cni; it stays there, empty, because another sandbox's node may be using it.
    let mount_points: Vec<String> = NODE_STORAGE.iter().map(|(d, _)| q(d)).collect();
    script.push_str(&format!("mkdir -p {}\n", mount_points.join(" ")));
    for (target, _) in NODE_STORAGE {
        let source = paths.node_storage_dir(node, target);
        let inside = source.strip_prefix(dir).unwrap_or(&source);
        script.push_str(&format!(
            "mount --no-canonicalize --bind {} {}\n",
            qp(&Path::new("/proc/self/fd/4").join(inside)),
            q(target)
        ));
    }
    if covered {
        script.push_str(&format!(
            "mkdir -p {dir}\nmount --no-canonicalize --bind /proc/self/fd/4 {dir}\n",
            dir = qp(dir)
        ));
    }
    script.push_str("exec 4<&-\n");
    if pod_netns_file.is_some() {
        // A worker's CNI config from KTHW chapter 09, where a VM has it: what later chapters
        // (and `reset --hard`) must leave alone, and why `cni0` stays when flannel goes.
        script.push_str(&format!(
            "mkdir -p /etc/cni/net.d\ncp {} /etc/cni/net.d/10-bridge.conf\n",
            qp(&paths.cni_config(node))
        ));
    }
    let (uid, gid) = (accounts.uid, accounts.gid);
    script.push_str(&format!(
        "mkdir -m 0755 {HOME}
mkdir -m 0700 {HOME}/.ssh
cp {public_key} {HOME}/.ssh/authorized_keys
chmod 0600 {HOME}/.ssh/authorized_keys
chown -R {uid}:{gid} {HOME}
exec {sshd} -f {config} -E {log}
",
        public_key = qp(&paths.client_public_key()),
        sshd = qp(&programs.sshd),
        config = qp(&paths.sshd_config(node)),
        log = qp(&paths.sshd_log(node)),
    ));
    script
}

/// Waits until sshd at `address` sends its banner, at most until `deadline`.
pub fn wait_until_answers(address: Ipv4Addr, deadline: Instant) -> Result<(), String> {
    loop {
        if answers(address, Duration::from_millis(300)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("sshd at {address}:{PORT} did not answer in time"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True when an SSH server at `address` sends an SSH banner within `timeout`.
pub fn answers(address: Ipv4Addr, timeout: Duration) -> bool {
    let target = SocketAddr::from((address, PORT));
    let Ok(mut stream) = TcpStream::connect_timeout(&target, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let mut banner = [0u8; 4];
    stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
}

/// The pid sshd wrote to `path`; it writes it just after it starts listening.
pub fn read_pid(path: &Path, deadline: Instant) -> Option<u32> {
    loop {
        let pid = std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok());
        if pid.is_some() || Instant::now() >= deadline {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `(major, minor)` from text like `OpenSSH_9.2p1 Debian-2, OpenSSL 3.0`.
fn openssh_version(text: &str) -> Option<(u32, u32)> {
    let rest = &text[text.find("OpenSSH_")? + "OpenSSH_".len()..];
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_sshd_banners() {
        assert_eq!(openssh_version("OpenSSH_9.2p1 Debian-2+deb12u7, OpenSSL 3.0.19"), Some((9, 2)));
        assert_eq!(openssh_version("unknown option -- V\nOpenSSH_10.0p2, LibreSSL"), Some((10, 0)));
        assert_eq!(openssh_version("dropbear"), None);
    }

    fn programs() -> Programs {
        Programs {
            ip: "/usr/bin/ip".into(),
            sshd: "/usr/sbin/sshd".into(),
            ssh_keygen: "/usr/bin/ssh-keygen".into(),
            unshare: "/usr/bin/unshare".into(),
            cni_bridge: "/usr/lib/cni/bridge".into(),
            cni_loopback: "/usr/lib/cni/loopback".into(),
            cni_path: "/usr/lib/cni".into(),
        }
    }

    #[test]
    fn the_node_storage_is_bound_from_the_sandbox_directory_after_the_mount_points_exist() {
        let paths = SandboxPaths::new(Path::new("/srv/sandboxes"), "default");
        let accounts = Accounts::new("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n");
        let programs = programs();
        let script = start_script("worker-1", NodeRole::Worker, None, &accounts, &programs, &paths);
        let lines: Vec<&str> = script.lines().collect();
        let position = |line: &str| lines.iter().position(|l| *l == line);
        let opened = position("exec 4< /srv/sandboxes/default").expect("the directory is opened");
        let made = position(
            "mkdir -p /root /etc/kubernetes /etc/containerd /etc/etcd /var/lib/kubernetes /var/lib/kubelet /var/lib/kube-proxy /var/lib/containerd /var/lib/etcd /var/lib/cni",
        )
        .expect("the mount points are made");
        for (dir, _) in NODE_STORAGE {
            let rel = dir.trim_start_matches('/');
            let bound = position(&format!(
                "mount --no-canonicalize --bind /proc/self/fd/4/nodes/worker-1/fs/{rel} {dir}"
            ))
            .unwrap_or_else(|| panic!("{dir} is bound in:\n{script}"));
            assert!(opened < made && made < bound, "{dir}");
        }
        // Not under a private directory: not bound back, but descriptor 4 is closed for sshd.
        assert!(!script.contains("--bind /proc/self/fd/4 /srv"));
        let closed = position("exec 4<&-").expect("descriptor 4 is closed");
        assert!(closed < lines.iter().position(|l| l.starts_with("exec /usr/sbin/sshd")).unwrap());
    }

    #[test]
    fn a_sandbox_directory_under_a_node_storage_directory_is_bound_back() {
        let paths = SandboxPaths::new(Path::new("/root/sandboxes"), "s");
        let accounts = Accounts::new("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n");
        let programs = programs();
        let script = start_script("c-0", NodeRole::Controller, None, &accounts, &programs, &paths);
        let root_bound = script.find("/nodes/c-0/fs/root /root\n").expect("/root is bound");
        let back = script
            .find("mount --no-canonicalize --bind /proc/self/fd/4 /root/sandboxes/s\n")
            .expect("the sandbox directory is bound back");
        assert!(root_bound < back, "{script}");
    }

    #[test]
    fn config_listens_on_the_node_address_with_keys_only() {
        let paths = SandboxPaths::new(Path::new("/run/labctl/sandboxes"), "default");
        let text = config("default", "worker-0", Ipv4Addr::new(10, 240, 0, 20), &paths, false);
        assert!(text.contains("\nListenAddress 10.240.0.20\n"));
        assert!(text.contains(
            "\nHostKey \"/run/labctl/sandboxes/default/nodes/worker-0/ssh_host_ed25519_key\"\n"
        ));
        assert!(text.contains("\nPasswordAuthentication no\n"));
        assert!(!text.contains("PerSourcePenalties"));
    }
}
