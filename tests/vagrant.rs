//! Vagrant (issue 5): the shipped Vagrantfile, checked by Debian's real `vagrant`, and labctl
//! connecting through what the real `vagrant ssh-config` prints.
//!
//! No VM can run here, so the tests give Vagrant a provider whose "VMs" are the nodes of a
//! labctl sandbox (tests/fixtures/vagrant/sandbox-provider.rb, loaded as
//! `$VAGRANT_HOME/Vagrantfile`). Everything else is real: Vagrant reads the project's real
//! Vagrantfile, which reads the labctl inventory; it prints `vagrant ssh-config` from its own
//! template (forwarded endpoint, several `IdentityFile` lines, `StrictHostKeyChecking no`,
//! `UserKnownHostsFile /dev/null`) or its own error for a machine that is not up.

use crate::common::sandbox_lab;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sandbox_lab::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `vagrant ARGS...` in `dir`, its state kept in a temporary directory (not in the repo).
fn vagrant(dir: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new("vagrant")
        .args(args)
        .current_dir(dir)
        .env("VAGRANT_HOME", home)
        .env("VAGRANT_DOTFILE_PATH", home.join("dotfile"))
        .env("VAGRANT_NO_COLOR", "1")
        .env_remove("LABCTL_INVENTORY")
        .output()
        .expect("Debian's vagrant is installed (apt-get install vagrant)")
}

#[test]
fn the_shipped_vagrantfile_validates() {
    let home = tempfile::tempdir().unwrap();
    let out = vagrant(repo(), home.path(), &["validate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Vagrantfile validated successfully.");
}

#[test]
fn the_vagrantfile_refuses_an_inventory_without_nodes() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("Vagrantfile"), dir.path().join("Vagrantfile")).unwrap();
    std::fs::write(dir.path().join("labctl.yaml"), "provider: vagrant\nnodes: []\n").unwrap();
    let out = vagrant(dir.path(), home.path(), &["validate"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("labctl.yaml: no `nodes:` to make machines of"),
        "{}",
        text(&out)
    );
}

/// A sandbox, a Vagrant project (the shipped Vagrantfile + a `provider: vagrant` labctl.yaml
/// with the sandbox's nodes) and a Vagrant home with the sandbox provider.
struct VagrantLab<'r> {
    lab: Lab<'r>,
    project: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl<'r> VagrantLab<'r> {
    fn up(root: &'r Root, tag: &str, network: &str) -> VagrantLab<'r> {
        require_root();
        let lab = Lab::up(root, &unique_name(tag), &["--network", network, "--workers", "2"]);
        let home = tempfile::tempdir().unwrap();
        std::fs::copy(
            repo().join("tests/fixtures/vagrant/sandbox-provider.rb"),
            home.path().join("Vagrantfile"),
        )
        .unwrap();
        std::fs::create_dir(home.path().join("up")).unwrap();
        let project = tempfile::tempdir().unwrap();
        std::fs::copy(repo().join("Vagrantfile"), project.path().join("Vagrantfile")).unwrap();
        // The sandbox's nodes, as a student's labctl.yaml lists them: no ssh section at all,
        // Vagrant says how to log in.
        let mut inventory = String::from("provider: vagrant\nnodes:\n");
        for n in lab.status()["nodes"].as_array().unwrap() {
            inventory.push_str(&format!(
                "  - {{ name: {}, role: {}, address: {}{} }}\n",
                str_of(&n["name"]),
                str_of(&n["role"]),
                str_of(&n["address"]),
                n["pod_cidr"].as_str().map(|c| format!(", pod_cidr: {c}")).unwrap_or_default()
            ));
        }
        std::fs::write(project.path().join("labctl.yaml"), inventory).unwrap();
        VagrantLab { lab, project, home }
    }

    /// Marks machine `name` as up (running) or not created.
    fn set_up(&self, name: &str, up: bool) {
        let file = self.home.path().join("up").join(name);
        if up {
            std::fs::write(file, "").unwrap();
        } else {
            let _ = std::fs::remove_file(file);
        }
    }

    /// The keys the provider gives, in order: one the nodes do not accept, then the sandbox's.
    fn keys(&self) -> String {
        let wrong = self.home.path().join("not-this-one");
        if !wrong.exists() {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(&wrong)
                .status()
                .unwrap()
                .success();
            assert!(ok);
        }
        format!("{}:{}", wrong.display(), self.lab.dir().join("id_ed25519").display())
    }

    /// The Vagrant project's environment, for `vagrant` and for labctl (which runs `vagrant`).
    fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        vec![
            ("VAGRANT_HOME", self.home.path().into()),
            ("VAGRANT_DOTFILE_PATH", self.home.path().join("dotfile").into()),
            ("VAGRANT_DEFAULT_PROVIDER", "labctl_sandbox".into()),
            ("LABCTL_TEST_UP_DIR", self.home.path().join("up").into()),
            ("LABCTL_TEST_KEYS", self.keys().into()),
            ("NO_COLOR", "1".into()),
        ]
    }

    /// `labctl ARGS...` in the Vagrant project, without `-i` (it finds ./labctl.yaml).
    fn labctl(&self, args: &[&str]) -> Test {
        let test = self.lab.root.labctl(args).lab().current_dir(self.project.path());
        self.env().into_iter().fold(test, |test, (key, value)| test.env(key, value))
    }

    fn vagrant(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("vagrant");
        cmd.args(args).current_dir(self.project.path()).envs(self.env());
        cmd.output().expect("vagrant runs")
    }
}

#[test]
fn labctl_connects_through_what_vagrant_ssh_config_prints() {
    let root = Root::new();
    let lab = VagrantLab::up(&root, "vg", "10.236.11.0/24");
    for name in ["controller-0", "worker-0", "worker-1"] {
        lab.set_up(name, true);
    }
    // The real output: every machine of the inventory, read by the shipped Vagrantfile.
    let out = lab.vagrant(&["ssh-config"]);
    assert!(out.status.success(), "{}", text(&out));
    let config = String::from_utf8_lossy(&out.stdout).into_owned();
    let keys = lab.keys();
    let (wrong, right) = keys.split_once(':').unwrap();
    assert!(
        config.contains(&format!(
            "Host worker-1\n  HostName 10.236.11.21\n  User vagrant\n  Port 22\n  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  PasswordAuthentication no\n  IdentityFile {wrong}\n  IdentityFile {right}\n  IdentitiesOnly yes\n  LogLevel FATAL\n"
        )),
        "{config}"
    );

    // labctl finds ./labctl.yaml (provider: vagrant), asks vagrant, tries both keys in order,
    // says that host keys are not checked, and plans flannel (the vagrant default).
    let plan = lab.labctl(&["plan", "11-pod-network-routes"]).any_stderr().run();
    assert_eq!(
        stderr(&plan),
        "warning: host keys of controller-0, worker-0, worker-1 are not checked: `vagrant ssh-config` says `StrictHostKeyChecking no` and `UserKnownHostsFile /dev/null` (Vagrant makes new host keys whenever a VM is recreated); labctl does as `vagrant ssh` does\n"
    );
    let out = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(out.starts_with("# plan: chapter 11-pod-network-routes, variant flannel\n"), "{out}");
    assert!(
        out.contains("  choice: --iface=enp0s8 (every worker holds its lab address on enp0s8)\n"),
        "{out}"
    );
    assert!(
        out.contains("\n## controller-0\n  run       flannel-manifest: kubectl apply"),
        "{out}"
    );
    // Nothing was learnt into labctl's known_hosts: vagrant said /dev/null.
    let known = lab.project.path().join(".labctl").join("known_hosts");
    assert!(std::fs::read_to_string(&known).unwrap_or_default().is_empty());

    // A machine that is not up: vagrant's own error, and labctl says what to do (exit 3).
    lab.set_up("worker-1", false);
    let out = lab.vagrant(&["ssh-config"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Host worker-0\n"));
    assert!(stderr(&out).contains("is not yet ready for SSH"), "{}", text(&out));
    let plan = lab.labctl(&["plan", "11-pod-network-routes"]).any_stderr().status(3).run();
    let message = stderr(&plan);
    assert!(message.starts_with("error: the Vagrant machines in `"), "{message}");
    assert!(
        message.ends_with(
            "` are not ready for SSH (not created or not running)\n  help: run `vagrant up` first\n"
        ),
        "{message}"
    );
}

#[test]
fn the_real_not_ready_output_is_the_fixtures() {
    // tests/fixtures/inventory/vagrant-ssh-config-not-ready.txt is what this Vagrant prints.
    require_root();
    let home = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/vagrant/sandbox-provider.rb"),
        home.path().join("Vagrantfile"),
    )
    .unwrap();
    std::fs::create_dir(home.path().join("up")).unwrap();
    let out = Command::new("vagrant")
        .args(["ssh-config", "worker-0"])
        .current_dir(repo())
        .env("VAGRANT_HOME", home.path())
        .env("VAGRANT_DOTFILE_PATH", home.path().join("dotfile"))
        .env("VAGRANT_DEFAULT_PROVIDER", "labctl_sandbox")
        .env("LABCTL_TEST_UP_DIR", home.path().join("up"))
        .env("LABCTL_TEST_KEYS", "/k")
        .env("VAGRANT_NO_COLOR", "1")
        .env_remove("LABCTL_INVENTORY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let fixture: PathBuf = repo().join("tests/fixtures/inventory/vagrant-ssh-config-not-ready.txt");
    assert_eq!(stderr(&out), std::fs::read_to_string(fixture).unwrap());
}
