//! The output of `vagrant ssh-config`: one `Host NAME` block per machine, in OpenSSH's
//! `ssh_config` syntax (keywords case-insensitive, `Key value` or `Key=value`, values may be
//! double-quoted). Every keyword vagrant prints is read; the ones labctl does not use
//! (`LogLevel`, `IdentitiesOnly`, `HostKeyAlgorithms`, …) are kept in [`SshConfigHost::other`].
//!
//! That output only says how to reach each machine's sshd; with VirtualBox it is a port
//! forward on 127.0.0.1, so it carries neither the machines' lab addresses nor their pod
//! CIDRs. The normal vagrant inventory is therefore a labctl YAML with `provider: vagrant`
//! that lists the nodes, and [`apply_ssh_config`] fills in their SSH endpoints from this output.
//! [`to_inventory`] builds an inventory from the output alone, which only works where vagrant
//! reports the machines' real addresses (e.g. libvirt).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::model::{
    HostKeyChecking, Inventory, InventoryFormat, KubernetesVersion, NetworkSettings, Node,
    Provider, Role, SettingLines, SshEndpoint, SshSettings, VagrantSettings,
};
use super::paths;
use crate::diagnostic::Diagnostic;

/// One `Host` block of `vagrant ssh-config` output.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SshConfigHost {
    /// The machine name (the `Host` line).
    pub name: String,
    /// Line of the `Host` line.
    pub line: u64,
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Tried in order, as OpenSSH does.
    pub identity_files: Vec<PathBuf>,
    pub host_key_checking: Option<HostKeyChecking>,
    pub known_hosts_file: Option<PathBuf>,
    /// Every other option, as written (labctl does not need them, but they are not errors).
    pub other: Vec<SshOption>,
}

/// An option labctl reads but does not use, e.g. `LogLevel FATAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshOption {
    pub keyword: String,
    pub value: String,
    pub line: u64,
}

impl SshConfigHost {
    /// A `ProxyCommand` or `ProxyJump` (other than `none`): labctl cannot go through it.
    pub fn proxy(&self) -> Option<&SshOption> {
        self.other.iter().find(|o| {
            matches!(o.keyword.to_ascii_lowercase().as_str(), "proxycommand" | "proxyjump")
                && !o.value.eq_ignore_ascii_case("none")
        })
    }

    /// Where and how to reach this machine's sshd.
    pub fn endpoint(&self) -> SshEndpoint {
        SshEndpoint {
            // Without `HostName`, OpenSSH connects to the `Host` name itself.
            host: self.host_name.clone().unwrap_or_else(|| self.name.clone()),
            port: self.port,
            user: self.user.clone(),
            identity_files: self.identity_files.clone(),
            host_key_checking: self.host_key_checking,
            known_hosts_file: self.known_hosts_file.clone(),
        }
    }
}

/// What vagrant prints instead of a config when a machine is not created or not running.
/// Matched with whitespace collapsed, since vagrant wraps these sentences over lines.
const NOT_READY_TEXTS: [&str; 3] = [
    "is not yet ready for SSH",
    "must be created before running this command",
    "must be running to open SSH connection",
];

/// Whether `text` is vagrant saying a machine is not created or not running.
pub fn says_not_ready(text: &str) -> bool {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    NOT_READY_TEXTS.iter().any(|t| flat.contains(t))
}

/// Parses `vagrant ssh-config` output read from `path` (used for messages).
pub fn parse(path: &Path, text: &str) -> Result<Vec<SshConfigHost>, Diagnostic> {
    parse_with_home(path, text, paths::home_dir().as_deref())
}

/// [`parse`] with the home directory for `~` given, so that tests do not depend on `$HOME`.
fn parse_with_home(
    path: &Path,
    text: &str,
    home: Option<&Path>,
) -> Result<Vec<SshConfigHost>, Diagnostic> {
    if says_not_ready(text) {
        return Err(Diagnostic::error(
            path,
            None,
            None,
            "vagrant says the machines are not ready for SSH (not created or not running)",
        )
        .with_help("run `vagrant up` first"));
    }
    let mut hosts: Vec<SshConfigHost> = Vec::new();
    // The hosts the current `Host` line names (OpenSSH allows several).
    let mut current = 0..0;
    for (index, raw) in text.lines().enumerate() {
        let line = index as u64 + 1;
        let Some((keyword, rest, column)) = split_keyword(raw) else {
            continue;
        };
        let err =
            |col: u64, message: String| Diagnostic::error(path, Some(line), Some(col), message);
        if keyword.is_empty() {
            return Err(err(column, "a value without a keyword".into()));
        }
        let args = arguments(rest).map_err(|m| err(column, format!("{m} (`{keyword}`)")))?;
        let key = keyword.to_ascii_lowercase();
        if key == "host" {
            if args.is_empty() {
                return Err(err(column, "`Host` needs a machine name".into()));
            }
            // `Host ""` quotes an empty name: no machine is called that, and a node without a
            // name could not be told apart in any message.
            if args.iter().any(String::is_empty) {
                return Err(err(column, "`Host` names a machine with an empty name".into())
                    .with_help("give labctl the output of `vagrant ssh-config` as it is"));
            }
            if let Some(p) = args.iter().find(|a| a.contains(['*', '?', '!'])) {
                return Err(err(column, format!("`Host {p}` is a pattern, not a machine name"))
                    .with_help("give labctl the output of `vagrant ssh-config` as it is"));
            }
            let start = hosts.len();
            for name in args {
                if let Some(first) = hosts.iter().find(|h| h.name == name) {
                    return Err(err(column, format!("host `{name}` appears twice")).with_help(
                        format!("it is already at line {}; keep one block per machine", first.line),
                    ));
                }
                hosts.push(SshConfigHost { name, line, ..SshConfigHost::default() });
            }
            current = start..hosts.len();
            continue;
        }
        if current.is_empty() {
            return Err(err(column, format!("`{keyword}` comes before any `Host` line"))
                .with_help("give labctl the output of `vagrant ssh-config` as it is"));
        }
        let one = || match args.as_slice() {
            [value] => Ok(value.clone()),
            [] => Err(err(column, format!("`{keyword}` needs a value"))),
            _ => Err(err(column, format!("`{keyword}` takes one value, found {}", args.len()))),
        };
        for host in &mut hosts[current.clone()] {
            // OpenSSH keeps the first value given for an option, except IdentityFile, which adds.
            match key.as_str() {
                "hostname" => set_once(&mut host.host_name, one()?),
                "user" => set_once(&mut host.user, one()?),
                "port" => {
                    let value = one()?;
                    let port = value.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                        err(
                            column,
                            format!("`Port` must be a number from 1 to 65535, not `{value}`"),
                        )
                    })?;
                    set_once(&mut host.port, port);
                }
                "identityfile" => {
                    let file = user_path(&one()?, home).map_err(|m| err(column, m))?;
                    host.identity_files.push(file);
                }
                "userknownhostsfile" => {
                    // Several files may follow; OpenSSH records new keys in the first.
                    let Some(first) = args.first() else {
                        return Err(err(column, format!("`{keyword}` needs a value")));
                    };
                    let file = user_path(first, home).map_err(|m| err(column, m))?;
                    set_once(&mut host.known_hosts_file, file);
                }
                "stricthostkeychecking" => {
                    let value = one()?;
                    let policy = host_key_checking(&value).ok_or_else(|| {
                        err(column, format!("`StrictHostKeyChecking {value}` is not one of yes, accept-new, no, ask, off"))
                    })?;
                    set_once(&mut host.host_key_checking, policy);
                }
                _ => host.other.push(SshOption {
                    keyword: keyword.to_string(),
                    value: rest.trim().to_string(),
                    line,
                }),
            }
        }
    }
    if hosts.is_empty() {
        return Err(Diagnostic::error(path, None, None, "no `Host` blocks found").with_help(
            "give labctl the output of `vagrant ssh-config`, run where the Vagrantfile is",
        ));
    }
    Ok(hosts)
}

/// Fills each node's SSH endpoint from the `vagrant ssh-config` host of the same name.
///
/// A node that already has an `ssh: { host, port }` in the inventory keeps them (the user
/// chose to reach it another way) and takes only the user, keys and host-key policy.
pub fn apply_ssh_config(
    inventory: &mut Inventory,
    hosts: &[SshConfigHost],
) -> Result<(), Diagnostic> {
    let by_name: HashMap<&str, &SshConfigHost> =
        hosts.iter().map(|h| (h.name.as_str(), h)).collect();
    for node in &mut inventory.nodes {
        let Some(host) = by_name.get(node.name.as_str()) else {
            let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            let suggestion = crate::error::closest(&node.name, names.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(Diagnostic::error(
                &inventory.source,
                node.line,
                None,
                format!(
                    "node `{}` is not in the output of `vagrant ssh-config`{suggestion}",
                    node.name
                ),
            )
            .with_help(format!(
                "the Vagrant machines are: {}; name each node like its machine in the Vagrantfile",
                names.join(", ")
            )));
        };
        let found = host.endpoint();
        if node.ssh.is_none()
            && let Some(proxy) = host.proxy()
        {
            return Err(Diagnostic::error(
                &inventory.source,
                node.line,
                None,
                format!(
                    "`vagrant ssh-config` reaches `{}` through `{} {}` (its line {}); labctl connects directly and cannot use a proxy",
                    node.name, proxy.keyword, proxy.value, proxy.line
                ),
            )
            .with_help("give the node an `ssh: { host, port }` that this machine reaches directly"));
        }
        node.ssh = Some(match node.ssh.take() {
            None => found,
            Some(mine) => SshEndpoint {
                user: mine.user.or(found.user),
                identity_files: if mine.identity_files.is_empty() {
                    found.identity_files
                } else {
                    mine.identity_files
                },
                host_key_checking: mine.host_key_checking.or(found.host_key_checking),
                known_hosts_file: mine.known_hosts_file.or(found.known_hosts_file),
                ..mine
            },
        });
    }
    Ok(())
}

/// An inventory from `vagrant ssh-config` output alone, read from `path`; the Vagrantfile is
/// in `vagrant_dir`.
///
/// Roles come from the names (`controller*`, `server*`, `master*` are controllers). Each
/// machine's `HostName` must be its lab address, which rules out VirtualBox's 127.0.0.1 port
/// forwards. Workers get KTHW's pod CIDRs in the order vagrant lists them: the i-th worker
/// gets the i-th /24 of the default cluster CIDR (`10.200.i.0/24`).
pub fn to_inventory(
    path: &Path,
    hosts: &[SshConfigHost],
    vagrant_dir: &Path,
) -> Result<Inventory, Diagnostic> {
    let network = NetworkSettings::default();
    let mut pod_cidrs = network.cluster_cidr.subnets(24).into_iter().flatten();
    let mut nodes = Vec::new();
    for host in hosts {
        if let Some(proxy) = host.proxy() {
            return Err(Diagnostic::error(
                path,
                Some(proxy.line),
                None,
                format!(
                    "`{}` is reached through `{} {}`; labctl connects directly and cannot use a proxy",
                    host.name, proxy.keyword, proxy.value
                ),
            )
            .with_help("write a labctl.yaml with an `ssh: { host, port }` per node that this machine reaches directly"));
        }
        let endpoint = host.endpoint();
        let address = lab_address(path, host, &endpoint)?;
        let role = role_of(&host.name);
        let pod_cidr = if role == Role::Worker { pod_cidrs.next() } else { None };
        nodes.push(Node {
            name: host.name.clone(),
            role,
            address,
            pod_cidr,
            ssh: Some(endpoint),
            line: Some(host.line),
        });
    }
    Ok(Inventory {
        source: path.to_path_buf(),
        format: InventoryFormat::VagrantSshConfig,
        provider: Provider::Vagrant,
        kubernetes_version: KubernetesVersion::default(),
        nodes,
        ssh: SshSettings::default(),
        network,
        vars: Default::default(),
        vagrant: Some(VagrantSettings { dir: vagrant_dir.to_path_buf() }),
        kubeconfig: None,
        lines: SettingLines::default(),
    })
}

/// The role a machine's name suggests.
fn role_of(name: &str) -> Role {
    let name = name.to_ascii_lowercase();
    if ["controller", "server", "master"].iter().any(|p| name.starts_with(p)) {
        Role::Controller
    } else {
        Role::Worker
    }
}

/// The lab address of a machine known only from `vagrant ssh-config`, if it can be known.
fn lab_address(
    path: &Path,
    host: &SshConfigHost,
    endpoint: &SshEndpoint,
) -> Result<Ipv4Addr, Diagnostic> {
    let help = "write a labctl.yaml with `provider: vagrant` that lists each node's name, role, \
                private-network address and pod_cidr (see examples/vagrant-labctl.yaml); labctl \
                then takes only the SSH endpoints from `vagrant ssh-config`";
    let at =
        |message: String| Diagnostic::error(path, Some(host.line), None, message).with_help(help);
    match endpoint.host.parse::<Ipv4Addr>() {
        Ok(ip) if ip.is_loopback() || ip.is_unspecified() => {
            let port = endpoint.port.map(|p| format!(":{p}")).unwrap_or_default();
            Err(at(format!(
                "`{}` is reached through a port forward ({ip}{port}), so its lab address is unknown",
                host.name
            )))
        }
        Ok(ip) => Ok(ip),
        Err(_) => Err(at(format!(
            "`{}` has HostName `{}`, not an IPv4 address, so its lab address is unknown",
            host.name, endpoint.host
        ))),
    }
}

/// `yes`/`ask` → strict (`ask` cannot prompt in batch mode), `accept-new`, `no`/`off` → off.
fn host_key_checking(value: &str) -> Option<HostKeyChecking> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "ask" => Some(HostKeyChecking::Strict),
        "accept-new" => Some(HostKeyChecking::AcceptNew),
        "no" | "off" => Some(HostKeyChecking::Off),
        _ => None,
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// A file path as OpenSSH reads it: `~` is the home directory, anything else as written
/// (`/dev/null` stays `/dev/null`).
fn user_path(raw: &str, home: Option<&Path>) -> Result<PathBuf, String> {
    if raw.starts_with('~') {
        paths::resolve(raw, Path::new(""), home)
    } else {
        Ok(PathBuf::from(raw))
    }
}

/// Splits a line into keyword, the rest, and the keyword's column; `None` for blank lines and
/// comments. The keyword ends at whitespace or `=` (`Port 22`, `Port=22`, `Port = 22`).
fn split_keyword(line: &str) -> Option<(&str, &str, u64)> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let column = line[..line.len() - trimmed.len()].chars().count() as u64 + 1;
    let end = trimmed.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(trimmed.len());
    let (keyword, rest) = trimmed.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    Some((keyword, rest, column))
}

/// The arguments of an option: whitespace-separated, `"…"` quoting one that holds spaces.
fn arguments(rest: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = rest.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut arg = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => arg.push(c),
                    None => return Err("a quote is not closed".into()),
                }
            }
            args.push(arg);
        } else {
            let mut arg = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                arg.push(c);
                chars.next();
            }
            args.push(arg);
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn home() -> Option<&'static Path> {
        Some(Path::new("/home/u"))
    }
    const VIRTUALBOX: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/inventory/vagrant-ssh-config-virtualbox.txt"
    ));
    const LIBVIRT: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/inventory/vagrant-ssh-config-libvirt.txt"
    ));
    const NOT_READY: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/inventory/vagrant-ssh-config-not-ready.txt"
    ));

    fn path() -> &'static Path {
        Path::new("ssh-config.txt")
    }

    fn parse_ok(text: &str) -> Vec<SshConfigHost> {
        parse_with_home(path(), text, home()).unwrap()
    }

    fn error(text: &str) -> String {
        match parse_with_home(path(), text, home()) {
            Ok(hosts) => panic!("expected an error, got {hosts:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn other(keyword: &str, value: &str, line: u64) -> SshOption {
        SshOption { keyword: keyword.into(), value: value.into(), line }
    }

    #[test]
    fn virtualbox_output() {
        let hosts = parse_ok(VIRTUALBOX);
        let names: Vec<_> = hosts.iter().map(|h| (h.name.as_str(), h.line, h.port)).collect();
        assert_eq!(
            names,
            [("server", 1, Some(2222)), ("worker-0", 15, Some(2200)), ("worker-1", 29, Some(2201))]
        );
        let server = &hosts[0];
        assert_eq!(
            *server,
            SshConfigHost {
                name: "server".into(),
                line: 1,
                host_name: Some("127.0.0.1".into()),
                user: Some("vagrant".into()),
                port: Some(2222),
                identity_files: vec![
                    PathBuf::from("/home/u/.vagrant.d/insecure_private_keys/vagrant.key.ed25519"),
                    PathBuf::from("/home/u/.vagrant.d/insecure_private_keys/vagrant.key.rsa"),
                ],
                host_key_checking: Some(HostKeyChecking::Off),
                known_hosts_file: Some(PathBuf::from("/dev/null")),
                other: vec![
                    other("PasswordAuthentication", "no", 7),
                    other("IdentitiesOnly", "yes", 10),
                    other("LogLevel", "FATAL", 11),
                    other("PubkeyAcceptedKeyTypes", "+ssh-rsa", 12),
                    other("HostKeyAlgorithms", "+ssh-rsa", 13),
                ],
            }
        );
        assert_eq!(
            server.endpoint(),
            SshEndpoint {
                host: "127.0.0.1".into(),
                port: Some(2222),
                user: Some("vagrant".into()),
                identity_files: server.identity_files.clone(),
                host_key_checking: Some(HostKeyChecking::Off),
                known_hosts_file: Some(PathBuf::from("/dev/null")),
            }
        );
    }

    #[test]
    fn libvirt_output_with_quotes_and_forward_agent() {
        let hosts = parse_ok(LIBVIRT);
        assert_eq!(hosts.len(), 3);
        let w = &hosts[1];
        assert_eq!(w.name, "worker-0");
        assert_eq!(w.host_name.as_deref(), Some("192.168.121.20"));
        assert_eq!(w.port, Some(22));
        assert_eq!(
            w.identity_files,
            [PathBuf::from("/home/u/my labs/kthw/.vagrant/machines/worker-0/libvirt/private_key")]
        );
        assert_eq!(w.host_key_checking, None);
        assert_eq!(w.known_hosts_file, None);
        let keywords: Vec<_> = w.other.iter().map(|o| o.keyword.as_str()).collect();
        assert_eq!(
            keywords,
            [
                "PasswordAuthentication",
                "IdentitiesOnly",
                "PreferredAuthentications",
                "LogLevel",
                "ForwardAgent"
            ]
        );
    }

    #[test]
    fn keyword_forms() {
        let text = "host=a\n  HOSTNAME=10.0.0.1\n  port = 2200\n\tuser \"my user\"\n  \
                    StrictHostKeyChecking accept-new\n  UserKnownHostsFile ~/.ssh/kh /etc/kh2\n  \
                    ProxyCommand ssh -W %h:%p jump\n  Port 1\n";
        let hosts = parse_ok(text);
        assert_eq!(
            hosts,
            [SshConfigHost {
                name: "a".into(),
                line: 1,
                host_name: Some("10.0.0.1".into()),
                user: Some("my user".into()),
                // the first value wins, as in OpenSSH
                port: Some(2200),
                identity_files: vec![],
                host_key_checking: Some(HostKeyChecking::AcceptNew),
                known_hosts_file: Some(PathBuf::from("/home/u/.ssh/kh")),
                other: vec![other("ProxyCommand", "ssh -W %h:%p jump", 7)],
            }]
        );
    }

    #[test]
    fn a_proxy_is_refused_not_silently_skipped() {
        let text = "Host worker-0\n  HostName 10.240.0.20\n  ProxyJump bastion\n";
        let hosts = parse_ok(text);
        let err = to_inventory(Path::new("ssh-config.txt"), &hosts, Path::new(".")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ssh-config.txt:3: `worker-0` is reached through `ProxyJump bastion`; labctl connects \
             directly and cannot use a proxy\n  help: write a labctl.yaml with an `ssh: { host, \
             port }` per node that this machine reaches directly"
        );
        let none = parse_ok("Host a\n  ProxyCommand none\n");
        assert!(none[0].proxy().is_none());
    }

    #[test]
    fn not_ready_says_vagrant_up() {
        assert_eq!(
            error(NOT_READY),
            "ssh-config.txt: vagrant says the machines are not ready for SSH (not created or not \
             running)\n  help: run `vagrant up` first"
        );
        assert!(says_not_ready(
            "VM must be created before running this command. Run `vagrant up` first."
        ));
        assert!(!says_not_ready(VIRTUALBOX));
    }

    #[test]
    fn errors_are_located() {
        let cases = [
            (
                "Host a\n  Port 70000\n",
                "ssh-config.txt:2:3: `Port` must be a number from 1 to 65535, not `70000`",
            ),
            ("Host a\n  Port\n", "ssh-config.txt:2:3: `Port` needs a value"),
            ("Host a\n  HostName a b\n", "ssh-config.txt:2:3: `HostName` takes one value, found 2"),
            (
                "Host a\n  IdentityFile \"/x y\n",
                "ssh-config.txt:2:3: a quote is not closed (`IdentityFile`)",
            ),
            (
                "Host a\n StrictHostKeyChecking maybe\n",
                "ssh-config.txt:2:2: `StrictHostKeyChecking maybe` is not one of yes, accept-new, no, ask, off",
            ),
            ("Host\n", "ssh-config.txt:1:1: `Host` needs a machine name"),
            ("Host a\n  =x\n", "ssh-config.txt:2:3: a value without a keyword"),
            (
                "Host *\n  User x\n",
                "ssh-config.txt:1:1: `Host *` is a pattern, not a machine name\n  help: give labctl \
                 the output of `vagrant ssh-config` as it is",
            ),
            (
                "User x\nHost a\n",
                "ssh-config.txt:1:1: `User` comes before any `Host` line\n  help: give labctl the \
                 output of `vagrant ssh-config` as it is",
            ),
            (
                "Host a\nHost b\nHost a\n",
                "ssh-config.txt:3:1: host `a` appears twice\n  help: it is already at line 1; keep \
                 one block per machine",
            ),
            (
                "Host a \"\" b\n  HostName 10.240.0.20\n",
                "ssh-config.txt:1:1: `Host` names a machine with an empty name\n  help: give labctl \
                 the output of `vagrant ssh-config` as it is",
            ),
            (
                "# nothing\n",
                "ssh-config.txt: no `Host` blocks found\n  help: give labctl the output of `vagrant \
                 ssh-config`, run where the Vagrantfile is",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text:?}");
        }
    }

    fn yaml_inventory() -> Inventory {
        let text = "provider: vagrant\nnodes:\n  - { name: server, role: controller, address: 10.240.0.10 }\n  \
                    - { name: worker-0, role: worker, address: 10.240.0.20, pod_cidr: 10.200.0.0/24, \
                    ssh: { host: 10.240.0.20 } }\n";
        super::super::yaml_format::parse_str(Path::new("/lab/labctl.yaml"), text).unwrap()
    }

    #[test]
    fn apply_fills_endpoints_by_name() {
        let mut inv = yaml_inventory();
        let hosts = parse_ok(VIRTUALBOX);
        apply_ssh_config(&mut inv, &hosts).unwrap();
        assert_eq!(inv.nodes[0].ssh, Some(hosts[0].endpoint()));
        // The inventory's own host stays; the keys and policy come from vagrant.
        assert_eq!(
            inv.nodes[1].ssh,
            Some(SshEndpoint { host: "10.240.0.20".into(), port: None, ..hosts[1].endpoint() })
        );
        // The lab addresses are the inventory's, not 127.0.0.1.
        assert_eq!(inv.nodes[1].address, Ipv4Addr::new(10, 240, 0, 20));
    }

    #[test]
    fn apply_names_the_missing_node() {
        let mut inv = yaml_inventory();
        inv.nodes[1].name = "worker-00".into();
        let e = apply_ssh_config(&mut inv, &parse_ok(VIRTUALBOX)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/lab/labctl.yaml:4: node `worker-00` is not in the output of `vagrant ssh-config` (did \
             you mean `worker-0`?)\n  help: the Vagrant machines are: server, worker-0, worker-1; \
             name each node like its machine in the Vagrantfile"
        );
    }

    #[test]
    fn standalone_inventory_from_libvirt() {
        let hosts = parse_ok(LIBVIRT);
        let inv = to_inventory(path(), &hosts, Path::new("/lab")).unwrap();
        let summary: Vec<_> = inv
            .nodes
            .iter()
            .map(|n| {
                (n.name.as_str(), n.role, n.address.to_string(), n.pod_cidr.map(|c| c.to_string()))
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("controller", Role::Controller, "192.168.121.10".into(), None),
                ("worker-0", Role::Worker, "192.168.121.20".into(), Some("10.200.0.0/24".into())),
                ("worker-1", Role::Worker, "192.168.121.21".into(), Some("10.200.1.0/24".into())),
            ]
        );
        assert_eq!(inv.provider, Provider::Vagrant);
        assert_eq!(inv.format, InventoryFormat::VagrantSshConfig);
        assert_eq!(inv.nodes[1].ssh, Some(hosts[1].endpoint()));
        assert_eq!(inv.vagrant, Some(VagrantSettings { dir: PathBuf::from("/lab") }));
    }

    #[test]
    fn standalone_inventory_refuses_port_forwards() {
        let e = to_inventory(path(), &parse_ok(VIRTUALBOX), Path::new("/lab")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ssh-config.txt:1: `server` is reached through a port forward (127.0.0.1:2222), so its \
             lab address is unknown\n  help: write a labctl.yaml with `provider: vagrant` that \
             lists each node's name, role, private-network address and pod_cidr (see \
             examples/vagrant-labctl.yaml); labctl then takes only the SSH endpoints from \
             `vagrant ssh-config`"
        );
        let hosts = parse_ok("Host a\n  HostName a.local\n");
        let e = to_inventory(path(), &hosts, Path::new("/lab")).unwrap_err();
        assert_eq!(
            e.message,
            "`a` has HostName `a.local`, not an IPv4 address, so its lab address is unknown"
        );
    }

    #[test]
    fn roles_from_names() {
        assert_eq!(role_of("server"), Role::Controller);
        assert_eq!(role_of("controller-0"), Role::Controller);
        assert_eq!(role_of("Master"), Role::Controller);
        assert_eq!(role_of("worker-0"), Role::Worker);
        assert_eq!(role_of("node-0"), Role::Worker);
    }
}
