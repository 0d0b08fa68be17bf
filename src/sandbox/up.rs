//! `labctl sandbox up`: check everything that can be checked, record what will be made, build
//! the lab (nodes in parallel), write the inventory. If anything fails half-way, the same
//! teardown as `down` runs before the error is returned: nothing is left half-built.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::args::UpArgs;
use super::down::teardown;
use super::names::{SandboxNames, sandbox_of_alias};
use super::netns::{Ip, Link, LinkAddress, Route, netns_names};
use super::node_etc::{self, Accounts};
use super::paths::{SandboxPaths, etc_netns_dir, netns_file, sandboxes_root};
use super::programs::{Programs, require_root};
use super::spec::{SandboxSpec, Shape, fallback_networks, overlaps};
use super::state::{NodeState, Phase, SandboxState, write_atomically};
use super::{bad_input, failed, inventory_file, network, pod, sshd};
use crate::error::Problem;
use crate::output::shell::Shell;

/// At most this many nodes are built at once (most of the work is starting processes).
const BUILD_THREADS: usize = 12;
/// How long a node's sshd may take to answer after it was started.
const SSHD_START_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything a node's build needs, shared by the build threads.
struct Build<'a> {
    ip: &'a Ip,
    programs: &'a Programs,
    paths: &'a SandboxPaths,
    accounts: &'a Accounts,
    state: &'a SandboxState,
    source_penalties: bool,
    shell: &'a Shell,
}

/// Runs `labctl sandbox up`.
pub fn run(args: &UpArgs, shell: &Shell) -> Result<(), crate::error::Error> {
    let started = Instant::now();
    let mut spec = SandboxSpec::from_args(args).map_err(bad_input)?;
    require_root("up").map_err(bad_input)?;
    let programs = Programs::find().map_err(bad_input)?;
    let ip = Ip::new(programs.ip.clone());
    let names = SandboxNames::new(&spec.name);
    let paths = SandboxPaths::new(&sandboxes_root(), &spec.name);

    if let Some(ns) = netns_names().into_iter().find(|ns| names.owns_namespace(ns)) {
        let name = &spec.name;
        return Err(bad_input(
            Problem::new(format!("sandbox `{name}` already exists (namespace `{ns}`)")).help(format!(
                "`labctl sandbox status --name {name}` shows it, `sudo labctl sandbox down --name {name}` removes it"
            )),
        ));
    }
    // What is left of a sandbox whose namespaces are gone (a crash, or `ip -all netns del`).
    if paths.dir().exists() {
        teardown(&ip, &names, &paths);
    }
    let links = ip.links().map_err(failed)?;
    let addresses = ip.addresses().map_err(failed)?;
    let routes = ip.routes().map_err(failed)?;
    if args.network.is_none()
        && let Err(why) = check_network_is_free(&spec, &links, &addresses, &routes)
    {
        // No network asked for: take a free one rather than refuse (another sandbox holds
        // KTHW's), and say so.
        let free = fallback_networks().find_map(|network| {
            let args = UpArgs { network: Some(network), ..args.clone() };
            let spec = SandboxSpec::from_args(&args).ok()?;
            check_network_is_free(&spec, &links, &addresses, &routes).is_ok().then_some(spec)
        });
        let Some(free) = free else { return Err(bad_input(why)) };
        shell.note(&format!("{}; this sandbox takes {} instead", why.message, free.network));
        spec = free;
    }
    check_network_is_free(&spec, &links, &addresses, &routes).map_err(bad_input)?;
    let host_link = names
        .host_link_candidates()
        .into_iter()
        .find(|c| links.iter().all(|l| &l.ifname != c))
        .ok_or_else(|| failed("no free name for the sandbox's link on this machine".to_string()))?;
    let accounts = Accounts::from_host().map_err(failed)?;
    let state = planned_state(&spec, &names, host_link, &accounts);

    crate::say!(
        shell,
        "building sandbox `{}` ({} shape): {} on {}, this machine at {} on `{}`",
        spec.name,
        spec.shape.as_str(),
        spec.describe_nodes(),
        spec.network,
        spec.host_address,
        state.host_link
    );
    let build = |state: SandboxState| build(&ip, &programs, &paths, &accounts, shell, state);
    match build(state) {
        Ok(state) => {
            print_summary(shell, &state, &paths, started.elapsed());
            Ok(())
        }
        Err(message) => {
            teardown(&ip, &names, &paths);
            Err(failed(
                Problem::new(format!("sandbox `{}` could not be built: {message}", spec.name))
                    .help("everything it had made is removed again"),
            ))
        }
    }
}

/// The state before anything is made: every name `up` is going to use.
fn planned_state(
    spec: &SandboxSpec,
    names: &SandboxNames,
    host_link: String,
    accounts: &Accounts,
) -> SandboxState {
    let nodes: Vec<NodeState> = spec
        .nodes
        .iter()
        .map(|n| NodeState {
            name: n.name.clone(),
            role: n.role,
            address: n.address,
            pod_cidr: n.pod_cidr,
            netns: names.node_ns(&n.name),
            pod_netns: n.pod_cidr.map(|_| names.pod_ns(&n.name)),
            pod_address: None,
            sshd_pid: None,
        })
        .collect();
    SandboxState {
        spec: spec.clone(),
        phase: Phase::Building,
        host_link,
        network_netns: names.network_ns(),
        router_netns: (spec.shape == Shape::Gce).then(|| names.router_ns()),
        etc_dirs: nodes.iter().map(|n| etc_netns_dir(&n.netns)).collect(),
        nodes,
        vagrant_uid: accounts.uid,
        vagrant_gid: accounts.gid,
    }
}

fn build(
    ip: &Ip,
    programs: &Programs,
    paths: &SandboxPaths,
    accounts: &Accounts,
    shell: &Shell,
    mut state: SandboxState,
) -> Result<SandboxState, String> {
    let dir_error = |p: &Path, e: std::io::Error| format!("cannot create `{}`: {e}", p.display());
    create_dir(paths.dir(), 0o755).map_err(|e| dir_error(paths.dir(), e))?;
    state.save(paths)?;
    // sshd's privilege separation directory; Debian's service makes it, it may not exist yet.
    create_dir(Path::new("/run/sshd"), 0o755).map_err(|e| dir_error(Path::new("/run/sshd"), e))?;
    sshd::generate_key(
        &programs.ssh_keygen,
        &paths.client_key(),
        &format!("labctl sandbox {}", state.spec.name),
    )?;
    network::create_namespaces(ip, &state.namespaces())?;
    network::build_lab_network(ip, &state)?;

    let build = Build {
        ip,
        programs,
        paths,
        accounts,
        state: &state,
        source_penalties: sshd::has_source_penalties(&programs.sshd),
        shell,
    };
    let built = build_nodes(&build)?;
    state.nodes = built;

    let known_hosts = known_hosts(&state, paths)?;
    write_atomically(&paths.known_hosts(), &known_hosts, 0o644)?;
    let inventory = inventory_file::render(&state.spec, paths);
    write_atomically(&paths.inventory(), &inventory, 0o644)?;
    give_key_to_sudo_user(paths)?;
    state.phase = Phase::Ready;
    state.save(paths)?;
    Ok(state)
}

/// Builds every node, several at once; stops starting new ones after the first failure.
/// Each node's line is shown once it and every node before it are built, so the lines come
/// in the sandbox's order whichever node is ready first.
fn build_nodes(build: &Build) -> Result<Vec<NodeState>, String> {
    let count = build.state.nodes.len();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many lines are shown, and each node's result (with its line) once it is built.
    type Built = Option<Result<(NodeState, String), String>>;
    let results: Mutex<(usize, Vec<Built>)> = Mutex::new((0, vec![None; count]));
    std::thread::scope(|scope| {
        for _ in 0..BUILD_THREADS.min(count) {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        break;
                    }
                    let result = build_node(build, index);
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    let mut guard = results.lock().unwrap_or_else(|e| e.into_inner());
                    let (shown, results) = &mut *guard;
                    results[index] = Some(result);
                    while let Some(Some(done)) = results.get(*shown) {
                        if let Ok((_, line)) = done {
                            build.shell.status(line);
                        }
                        *shown += 1;
                    }
                }
            });
        }
    });
    let (_, results) = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut nodes = Vec::with_capacity(count);
    let mut first_error = None;
    for result in results.into_iter().flatten() {
        match result {
            Ok((node, _)) => nodes.push(node),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None if nodes.len() == count => Ok(nodes),
        None => Err("a node was not built".to_string()),
    }
}

/// Builds node `index`; returns it with its line for the user.
fn build_node(build: &Build, index: usize) -> Result<(NodeState, String), String> {
    let state = build.state;
    let spec = &state.spec;
    let node_spec = &spec.nodes[index];
    let mut node = state.nodes[index].clone();
    let paths = build.paths;
    let name = node.name.as_str();
    let in_node = |e: String| format!("{name}: {e}");

    let files = node_etc::node_files(build.accounts, spec, node_spec);
    node_etc::write_files(&etc_netns_dir(&node.netns), &files).map_err(in_node)?;
    network::configure_node(build.ip, state, index, node_spec).map_err(in_node)?;

    let node_dir = paths.node_dir(name);
    create_dir(&node_dir, 0o755)
        .map_err(|e| in_node(format!("cannot create `{}`: {e}", node_dir.display())))?;
    sshd::generate_key(&build.programs.ssh_keygen, &paths.host_key(name), name).map_err(in_node)?;
    create_node_storage(paths, name).map_err(in_node)?;

    let mut pod_text = String::new();
    if let (Some(pod_cidr), Some(pod_netns)) = (node.pod_cidr, &node.pod_netns) {
        let config = pod::bridge_config(pod_cidr, &paths.cni_data_dir(name));
        write_atomically(&paths.cni_config(name), &format!("{config:#}\n"), 0o644)
            .map_err(in_node)?;
        let address = pod::add_pod(build.ip, build.programs, &node.netns, pod_netns, &config)
            .map_err(in_node)?;
        node.pod_address = Some(address);
        pod_text = format!(", pod {address} in {pod_cidr}");
    }

    let sshd_config = sshd::config(&spec.name, name, node.address, paths, build.source_penalties);
    write_atomically(&paths.sshd_config(name), &sshd_config, 0o644).map_err(in_node)?;
    let pod_file = node.pod_netns.as_deref().map(netns_file);
    let script = sshd::start_script(
        name,
        node.role,
        pod_file.as_deref(),
        build.accounts,
        build.programs,
        paths,
    );
    let mut start = build.ip.exec_in(&node.netns, &build.programs.unshare);
    start.args(["--uts", "/bin/sh", "-c", &script]);
    super::command::run(&mut start, None)
        .map_err(|e| in_node(format!("sshd did not start: {e}")))?;
    let deadline = Instant::now() + SSHD_START_TIMEOUT;
    sshd::wait_until_answers(node.address, deadline).map_err(|e| {
        let log = std::fs::read_to_string(paths.sshd_log(name)).unwrap_or_default();
        in_node(format!("{e}; its log says: {}", log.trim()))
    })?;
    node.sshd_pid = sshd::read_pid(&paths.sshd_pid(name), Instant::now() + Duration::from_secs(2));

    let line = format!("  {name}: {} on {}{pod_text}, sshd answers", node.address, spec.nic);
    Ok((node, line))
}

/// The node's own storage, one directory per entry of [`sshd::NODE_STORAGE`] with its mode
/// (the umask must not decide it: `/root` and etcd's data stay closed to others). What is there
/// already (a node's sshd started again) is kept.
fn create_node_storage(paths: &SandboxPaths, node: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    for (path, mode) in sshd::NODE_STORAGE {
        let dir = paths.node_storage_dir(node, path);
        let error = |e: std::io::Error| format!("cannot create `{}`: {e}", dir.display());
        create_dir(&dir, 0o755).map_err(error)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).map_err(error)?;
    }
    Ok(())
}

/// A known_hosts file with each node's host key, for `ssh -o UserKnownHostsFile=`.
fn known_hosts(state: &SandboxState, paths: &SandboxPaths) -> Result<String, String> {
    let mut text = String::new();
    for node in &state.nodes {
        let path = paths.host_key(&node.name).with_extension("pub");
        let key = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        // "type key comment": the comment (the node name) is left out.
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        text.push_str(&format!("{} {}\n", node.address, key.join(" ")));
    }
    Ok(text)
}

/// With `sudo labctl sandbox up`, the user who ran sudo gets the key, so that `labctl run`
/// works without sudo afterwards.
fn give_key_to_sudo_user(paths: &SandboxPaths) -> Result<(), String> {
    let id = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u32>().ok());
    let (Some(uid), Some(gid)) = (id("SUDO_UID"), id("SUDO_GID")) else {
        return Ok(());
    };
    // The lab's `.labctl/` (state, lock, logs, labctl's known_hosts) is made now and given to
    // the user too: `sudo labctl sandbox up`, then `labctl run` without sudo, as the README says.
    let state_dir = crate::runner::state::StateDir::for_inventory(&paths.inventory()).dir;
    create_dir(&state_dir, 0o700)
        .map_err(|e| format!("cannot create `{}`: {e}", state_dir.display()))?;
    for path in [paths.client_key(), paths.client_public_key(), state_dir] {
        std::os::unix::fs::chown(&path, Some(uid), Some(gid))
            .map_err(|e| format!("cannot give `{}` to uid {uid}: {e}", path.display()))?;
    }
    Ok(())
}

/// Refuses a lab network that overlaps an address or a route of this machine, naming the
/// sandbox it belongs to when it is one.
fn check_network_is_free(
    spec: &SandboxSpec,
    links: &[Link],
    addresses: &[LinkAddress],
    routes: &[Route],
) -> Result<(), Problem> {
    let owner = |ifname: &str| {
        links
            .iter()
            .find(|l| l.ifname == ifname)
            .and_then(|l| l.ifalias.as_deref())
            .and_then(sandbox_of_alias)
    };
    let taken: Vec<(ipnet::Ipv4Net, &str)> = addresses
        .iter()
        .map(|a| (a.network, a.ifname.as_str()))
        .chain(
            routes
                .iter()
                .filter(|r| r.destination.prefix_len() > 0)
                .map(|r| (r.destination, r.dev.as_deref().unwrap_or("?"))),
        )
        .collect();
    let Some((clash, dev)) = taken.iter().find(|(net, _)| overlaps(*net, spec.network)) else {
        return Ok(());
    };
    let free = fallback_networks()
        .find(|candidate| taken.iter().all(|(net, _)| !overlaps(*net, *candidate)));
    let help = match free {
        Some(net) => format!("give this sandbox another network, like `--network {net}`"),
        None => "give this sandbox another network with `--network`".to_string(),
    };
    let message = match owner(dev) {
        Some(other) => format!(
            "the lab network {} overlaps {clash}, the network of sandbox `{other}`",
            spec.network
        ),
        None => {
            format!("the lab network {} overlaps {clash} on `{dev}` of this machine", spec.network)
        }
    };
    Err(Problem::new(message).help(help))
}

fn print_summary(shell: &Shell, state: &SandboxState, paths: &SandboxPaths, took: Duration) {
    let spec = &state.spec;
    crate::say!(
        shell,
        "sandbox `{}` is up: {} in {:.1} s",
        spec.name,
        spec.describe_nodes(),
        took.as_secs_f64()
    );
    let inventory = paths.inventory();
    crate::say!(shell, "inventory: {}", inventory.display());
    if let Some(first) = state.nodes.first() {
        crate::say!(
            shell,
            "log in:    ssh -i {} -o UserKnownHostsFile={} vagrant@{}",
            paths.client_key().display(),
            paths.known_hosts().display(),
            first.address
        );
    }
    // Without -i, labctl finds the sandbox `default` (or the only one running).
    if spec.name == "default" {
        crate::say!(shell, "next:      labctl run 11-pod-network-routes");
    } else {
        crate::say!(
            shell,
            "next:      labctl -i {} run 11-pod-network-routes",
            inventory.display()
        );
    }
}

fn create_dir(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().recursive(true).mode(mode).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
