//! Faults on the sandbox, made for real: a connection cut in the middle of a step, `.labctl/`
//! on a full disk, a hung command, a double Ctrl-C, a private key open to others. What must
//! hold: nothing labctl applied goes unrecorded, nothing it started runs on after it, and the
//! next `run`/`plan`/`reset` settles what was left open. Needs root (as CI); every test has
//! its own sandbox on 10.234.N.0/24, and traffic goes only to it.

use crate::common::sandbox_lab;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::harness::fixture_text;
use sandbox_lab::*;

/// A step that takes a while and then adds a blackhole route (kernel state of the node's own
/// namespace: nothing is sent anywhere). `SLEEP` tells this test's processes from others'.
fn chapter(sleep: &str, timeout: &str) -> String {
    fixture_text("chapters/91-faults.yaml").replace("@sleep@", sleep).replace("@timeout@", timeout)
}

/// A sandbox, its inventory and a folder of chapters.
struct Faults<'r> {
    lab: Lab<'r>,
    inventory: PathBuf,
    /// Chapters of the test's own (the built-in ones without).
    labs: Option<tempfile::TempDir>,
}

impl<'r> Faults<'r> {
    fn up(root: &'r Root, tag: &str, network: &str, workers: &str) -> Faults<'r> {
        require_root();
        let lab = Lab::up(root, &unique_name(tag), &["--network", network, "--workers", workers]);
        let inventory = lab.dir().join("labctl.yaml");
        Faults { lab, inventory, labs: None }
    }

    fn with_chapter(mut self, sleep: &str, timeout: &str) -> Self {
        let labs = tempfile::tempdir().unwrap();
        std::fs::write(labs.path().join("91-faults.yaml"), chapter(sleep, timeout)).unwrap();
        self.labs = Some(labs);
        self
    }

    /// `labctl -i INVENTORY ARGS...`, with the test's chapters when it has some.
    fn labctl(&self, args: &[&str]) -> Test {
        let test = self.lab.root.labctl(args).inventory(&self.inventory);
        match &self.labs {
            Some(labs) => test.env("LABCTL_LABS_DIR", labs.path()),
            None => test,
        }
    }

    fn start(&self, args: &[&str]) -> Child {
        self.labctl(args).spawn()
    }

    fn state(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.lab.dir().join(".labctl/state.json")).unwrap();
        serde_json::from_str(&text).expect("the state file always parses")
    }

    /// `host step status` of every record of `chapter`, sorted.
    fn records(&self, chapter: &str) -> Vec<String> {
        let state = self.state();
        let mut out: Vec<String> = state["chapters"][chapter]["applied"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| {
                format!("{} {} {}", str_of(&a["host"]), str_of(&a["step"]), str_of(&a["status"]))
            })
            .collect();
        out.sort();
        out
    }

    fn netns(&self, node: &str) -> String {
        format!("labctl-{}-{node}", self.lab.name)
    }

    /// `ip route` in a node's namespace.
    fn routes(&self, node: &str) -> String {
        let out =
            Command::new("ip").args(["netns", "exec", &self.netns(node), "ip", "route"]).output();
        String::from_utf8_lossy(&out.unwrap().stdout).into_owned()
    }

    /// Command lines of the processes running on `node` (`ps` there, over ssh) that mention
    /// `needle`.
    fn remote_processes(&self, node: &str, needle: &str) -> Vec<String> {
        let address = self.address(node);
        let ps = self.lab.ssh_ok(&address, "ps -eo pid=,args=");
        ps.lines()
            .filter(|l| l.contains(needle) && !l.contains("ps -eo"))
            .map(str::to_string)
            .collect()
    }

    fn address(&self, node: &str) -> String {
        self.lab.nodes().into_iter().find(|(n, _)| n == node).unwrap().1
    }

    /// Waits until a process of `needle` runs in `node`'s namespace; its pid.
    fn wait_for_process(&self, node: &str, needle: &str) -> u32 {
        for _ in 0..500 {
            if let Some(pid) = processes_in_netns(needle, &self.netns(node)).first() {
                return *pid;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("`{needle}` never started on {node}");
    }
}

/// The parent of `pid`.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(1)?.parse().ok()
}

fn cmdline(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
        .replace('\0', " ")
}

/// Cuts the ssh connection a process runs under, as a dropped link would: kills the sshd
/// session process (`sshd: USER@notty`) and its privileged parent (`[priv]`). The command
/// itself runs on, as it would on a real machine.
fn cut_session_of(pid: u32) {
    let mut sshd = Vec::new();
    let mut at = pid;
    while let Some(p) = parent(at) {
        if p <= 1 {
            break;
        }
        let line = cmdline(p);
        if line.starts_with("sshd: ") && (line.contains("@notty") || line.contains("[priv]")) {
            sshd.push(p);
        }
        at = p;
    }
    assert_eq!(sshd.len(), 2, "the session's sshd and its [priv] parent, above {pid}");
    // The [priv] parent may go by itself once its child is gone.
    for p in sshd {
        let _ = Command::new("kill").args(["-KILL", &p.to_string()]).stderr(Stdio::null()).status();
    }
}

fn sigint(child: &Child) {
    let ok = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_connection_cut_mid_step_is_adopted_by_the_next_run_and_reset_removes_it() {
    let root = Root::new();
    let lab = Faults::up(&root, "cut", "10.234.1.0/24", "2").with_chapter("3.01", "1m");
    let child = lab.start(&["run", "91-faults"]);
    let sleeping = lab.wait_for_process("worker-0", "sleep 3.01");
    cut_session_of(sleeping);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "worker-0's connection was lost: {}", text(&out));
    assert!(
        stderr(&out).contains(
            "whether it ran is not known: the next `labctl run` or `labctl reset` settles it"
        ),
        "{}",
        text(&out)
    );
    // Written ahead: the cut action is on record, as started, before anyone knows its end.
    assert_eq!(
        lab.records("91-faults"),
        ["worker-0 slow-route started", "worker-1 slow-route applied"],
        "{}",
        text(&out)
    );
    // The command ran on without its connection and made its change.
    let mut made = false;
    for _ in 0..100 {
        made = lab.routes("worker-0").contains("blackhole 10.234.200.0/24");
        if made {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(made, "the orphaned command finished: {}", lab.routes("worker-0"));

    // The next run settles it by its check, and takes it over.
    let again = lab.labctl(&["run", "91-faults"]).any_stderr().run();
    assert!(
        stdout(&again).contains(
            "worker-0: settled an interrupted action, slow-route: its check passes, so it is recorded as labctl's (`labctl reset` undoes it)"
        ),
        "{}",
        text(&again)
    );
    assert!(stdout(&again).contains("run: 0 changed, 2 ok"), "{}", text(&again));
    assert_eq!(
        lab.records("91-faults"),
        ["worker-0 slow-route applied", "worker-1 slow-route applied"]
    );

    // And reset removes it with the rest.
    lab.labctl(&["reset", "--yes"]).any_stderr().run();
    for node in ["worker-0", "worker-1"] {
        assert!(!lab.routes(node).contains("10.234.200.0/24"), "{node}: {}", lab.routes(node));
    }
    assert!(lab.records("91-faults").is_empty());
}

#[test]
fn a_cut_connection_whose_command_still_runs_is_stopped_by_reset_before_it_lands() {
    let root = Root::new();
    let lab = Faults::up(&root, "cut2", "10.234.2.0/24", "2").with_chapter("4245", "10m");
    let child = lab.start(&["run", "91-faults"]);
    let sleeping = lab.wait_for_process("worker-0", "sleep 4245");
    cut_session_of(sleeping);
    // worker-1's command runs on under a live connection; only Ctrl-C ends this run.
    lab.wait_for_process("worker-1", "sleep 4245");
    sigint(&child);
    std::thread::sleep(Duration::from_millis(200));
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert_eq!(
        lab.records("91-faults"),
        ["worker-0 slow-route started", "worker-1 slow-route started"]
    );
    // worker-0's command outlived its connection: nobody could stop it yet.
    assert!(!lab.remote_processes("worker-0", "sleep 4245").is_empty(), "it runs on");

    let reset = lab.labctl(&["reset", "--yes"]).any_stderr().run();
    assert!(
        stdout(&reset).contains(
            "worker-0: settled an interrupted action, slow-route (its command was still running there: stopped 2 processes first): its check fails, so it was not applied"
        ),
        "{}",
        text(&reset)
    );
    for node in ["worker-0", "worker-1"] {
        assert_eq!(lab.remote_processes(node, "sleep 4245"), Vec::<String>::new(), "{node}");
        assert!(!lab.routes(node).contains("10.234.200.0/24"), "{node}");
    }
    assert!(lab.records("91-faults").is_empty());
}

#[test]
fn a_hung_step_times_out_and_a_double_ctrl_c_leaves_no_remote_process() {
    let root = Root::new();
    let lab = Faults::up(&root, "hung", "10.234.3.0/24", "2").with_chapter("4244", "2s");

    // The step's own timeout.
    let out = lab.labctl(&["run", "91-faults"]).any_stderr().status(1).run();
    assert!(
        stderr(&out).contains(
            "error: worker-0: slow-route: `sleep 4244 && ip route add blackhole 10.234.200.0/24` on `worker-0` did not finish within 2s; its 2 processes still running were stopped"
        ),
        "{}",
        text(&out)
    );
    for node in ["worker-0", "worker-1"] {
        assert_eq!(lab.remote_processes(node, "sleep 4244"), Vec::<String>::new(), "{node}");
    }
    // Settled at once by its check: not applied, so not recorded.
    assert!(lab.records("91-faults").is_empty(), "{:?}", lab.records("91-faults"));

    // `--command-timeout` over the step's: the command runs until a double Ctrl-C.
    let child = lab.start(&["run", "91-faults", "--command-timeout", "10m"]);
    lab.wait_for_process("worker-0", "sleep 4244");
    lab.wait_for_process("worker-1", "sleep 4244");
    sigint(&child);
    std::thread::sleep(Duration::from_millis(200));
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(stderr(&out).contains("labctl: stopping the commands still running on the hosts"));
    for node in ["worker-0", "worker-1"] {
        assert_eq!(lab.remote_processes(node, "sleep 4244"), Vec::<String>::new(), "{node}");
    }
    let log = std::fs::read_dir(lab.lab.dir().join(".labctl/logs"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .find(|l| l.contains("was interrupted; its 2 processes still running were stopped"));
    assert!(log.is_some(), "the run log records the interruption");
    assert_eq!(
        lab.records("91-faults"),
        ["worker-0 slow-route started", "worker-1 slow-route started"]
    );
    // `plan` settles them: not applied. With `--output json`, stdout is the JSON alone and the
    // notes of the settling go to stderr.
    let plan = lab.labctl(&["plan", "91-faults", "--output", "json"]).any_stderr().run();
    assert!(
        stderr(&plan).contains(
            "worker-1: settled an interrupted action, slow-route: its check fails, so it was not applied"
        ),
        "{}",
        text(&plan)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&plan)).expect("stdout is JSON");
    assert_eq!(json["summary"]["change"], 2, "{}", text(&plan));
    assert!(lab.records("91-faults").is_empty());
}

/// Mounts a tmpfs of `size` on `dir` (made if missing); unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(ok.success(), "mount a tmpfs on {dir:?}");
        Tmpfs(dir.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_nothing_applied_unrecorded() {
    let root = Root::new();
    let lab = Faults::up(&root, "full", "10.234.4.0/24", "4");
    let disk = Tmpfs::mount(&lab.lab.dir().join(".labctl"), "16k");
    // The run logs go elsewhere, so that the state alone fills the disk: as it grows past one
    // page, its next copy no longer fits, part of the way through the run.
    let logs = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(logs.path(), lab.lab.dir().join(".labctl/logs")).unwrap();
    let out = lab.labctl(&["run", "11-pod-network-routes"]).output();
    assert_ne!(out.status.code(), Some(0), "a 16 KiB disk cannot hold this run: {}", text(&out));
    assert!(stderr(&out).contains("No space left on device"), "{}", text(&out));
    assert!(
        stderr(&out).contains("not run: labctl could not record that it starts it"),
        "{}",
        text(&out)
    );
    // Every route labctl made is on record (started or applied).
    let state = lab.state();
    let records = state["chapters"]["11-pod-network-routes"]["applied"].as_array().cloned();
    let records = records.unwrap_or_default();
    let mut made = 0;
    for worker in ["worker-0", "worker-1", "worker-2", "worker-3"] {
        for line in
            lab.routes(worker).lines().filter(|l| l.starts_with("10.200.") && l.contains(" via "))
        {
            made += 1;
            let cidr = line.split_whitespace().next().unwrap();
            assert!(
                records
                    .iter()
                    .any(|r| str_of(&r["host"]) == worker && str_of(&r["undo"]).contains(cidr)),
                "{worker}: `{line}` is not recorded: {records:?}"
            );
        }
    }
    assert!(made > 0, "some routes were made before the disk filled: {}", text(&out));

    // Space again: reset leaves no route behind.
    disk.resize("1m");
    lab.labctl(&["reset", "--yes"]).any_stderr().run();
    for worker in ["worker-0", "worker-1", "worker-2", "worker-3"] {
        let routes = lab.routes(worker);
        assert!(
            !routes.lines().any(|l| l.starts_with("10.200.") && l.contains(" via ")),
            "{worker}: {routes}"
        );
    }
}

#[test]
fn a_private_key_open_to_others_is_refused_before_connecting() {
    let root = Root::new();
    let lab = Faults::up(&root, "key", "10.234.5.0/24", "2").with_chapter("0.1", "1m");
    let key = lab.lab.dir().join("id_ed25519");
    for mode in [0o644, 0o666] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        for args in [&["run", "91-faults"][..], &["plan", "91-faults"], &["verify", "91-faults"]] {
            let out = lab.labctl(args).output();
            assert_eq!(out.status.code(), Some(2), "{args:?} {mode:o}: {}", text(&out));
            let expected = format!(
                "error: the private key `{}` is open to others (mode {mode:04o}); OpenSSH refuses such a key (\"UNPROTECTED PRIVATE KEY FILE\") and so does labctl: nothing was run\n  help: `chmod 600 {}`, then run again",
                key.display(),
                key.display()
            );
            assert!(stderr(&out).contains(&expected), "{args:?}: {}", text(&out));
        }
    }
    // Nothing was connected to: no run log says so, and nothing is on record.
    let logs = std::fs::read_dir(lab.lab.dir().join(".labctl/logs")).map(|d| d.flatten().count());
    let connected = std::fs::read_dir(lab.lab.dir().join(".labctl/logs"))
        .map(|d| {
            d.flatten().any(|e| {
                std::fs::read_to_string(e.path()).unwrap_or_default().contains("connected")
            })
        })
        .unwrap_or(false);
    assert!(!connected, "no connection was made ({logs:?} logs)");
    assert!(lab.records("91-faults").is_empty());

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    lab.labctl(&["run", "91-faults"]).any_stderr().run();
}
