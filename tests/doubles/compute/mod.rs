//! Starts the Compute Engine double (`compute_double.py`, beside this file) for one test and
//! gives the environment that points the real `gcloud` CLI at it: a gcloud configuration
//! directory of its own, the compute endpoint overridden to the double on 127.0.0.1, no
//! credentials, no usage reporting, no update check, no metadata server, no proxy. Dropping
//! the double stops it.
//!
//! Nothing here reaches the internet: the double listens on loopback only, and in the
//! sandbox's gce shape it changes routes only in that sandbox's VPC router namespace.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::harness::Test;

/// The project, zone and network the double serves.
pub const PROJECT: &str = "labctl-test";
pub const ZONE: &str = "test-zone-a";
pub const NETWORK: &str = "kubernetes-the-hard-way";

/// One instance the double serves: `(name, networkIP, pod-cidr metadata)`.
pub type Instance = (String, String, Option<String>);

/// A running double and the gcloud environment that uses it.
pub struct ComputeDouble {
    child: Child,
    pub port: u16,
    /// gcloud's configuration directory (`CLOUDSDK_CONFIG`) for this test.
    pub config_dir: tempfile::TempDir,
    /// One JSON line per API request the double answered.
    pub log: PathBuf,
}

impl ComputeDouble {
    /// Starts the double with `instances`; with `router_netns`, routes go into that namespace.
    pub fn start(instances: &[Instance], router_netns: Option<&str>) -> ComputeDouble {
        let config_dir = tempfile::tempdir().expect("a temporary directory");
        let log = config_dir.path().join("compute-double.log");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/doubles/compute/compute_double.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .args(["--project", PROJECT, "--zone", ZONE, "--network", NETWORK])
            .arg("--log")
            .arg(&log);
        for (name, ip, pod_cidr) in instances {
            let cidr = pod_cidr.as_deref().unwrap_or_default();
            command.arg("--instance").arg(format!("{name}={ip},{cidr}"));
        }
        if let Some(ns) = router_netns {
            command.args(["--router-netns", ns]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the compute double");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("the double's stdout");
        BufReader::new(stdout).read_line(&mut line).expect("the double prints its port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the compute double did not start (it printed {line:?})")
        });
        ComputeDouble { child, port, config_dir, log }
    }

    /// The environment that points gcloud at the double and nothing else: variables to remove
    /// (`None`) and to set, in order; `logged_in` adds `auth/disable_credentials`.
    fn environment(&self, logged_in: bool) -> Vec<(String, Option<String>)> {
        let mut vars = Vec::new();
        // Nothing from the environment of whoever runs the tests may reach gcloud.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("CLOUDSDK_")
                || key.starts_with("GCE_METADATA")
                || key.eq_ignore_ascii_case("http_proxy")
                || key.eq_ignore_ascii_case("https_proxy")
                || key.eq_ignore_ascii_case("all_proxy")
                || key == "GOOGLE_APPLICATION_CREDENTIALS"
            {
                vars.push((key.into_owned(), None));
            }
        }
        let set = [
            ("CLOUDSDK_CONFIG", self.config_dir.path().display().to_string()),
            (
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE",
                format!("http://127.0.0.1:{}/compute/v1/", self.port),
            ),
            ("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true".into()),
            ("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true".into()),
            ("CLOUDSDK_CORE_CHECK_GCE_METADATA", "false".into()),
            ("CLOUDSDK_CORE_DISABLE_PROMPTS", "1".into()),
            // Should anything still ask the metadata server, it asks a closed port on loopback.
            ("GCE_METADATA_HOST", "127.0.0.1:9".into()),
            ("GCE_METADATA_IP", "127.0.0.1:9".into()),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
        ];
        vars.extend(set.into_iter().map(|(k, v)| (k.to_string(), Some(v))));
        if logged_in {
            vars.push(("CLOUDSDK_AUTH_DISABLE_CREDENTIALS".into(), Some("true".into())));
        }
        vars
    }

    /// Points `command` (gcloud) at the double and nothing else.
    pub fn configure<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        apply(command, self.environment(false))
    }

    /// [`ComputeDouble::configure`] plus `auth/disable_credentials`: gcloud "logged in".
    pub fn logged_in<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        apply(command, self.environment(true))
    }

    /// A labctl run (which runs gcloud) pointed at the double, not logged in.
    pub fn configure_labctl(&self, test: Test) -> Test {
        apply_test(test, self.environment(false))
    }

    /// A labctl run pointed at the double as a logged-in user.
    pub fn logged_in_labctl(&self, test: Test) -> Test {
        apply_test(test, self.environment(true))
    }

    /// Runs the real `gcloud ARGS...` against the double (as a logged-in user).
    pub fn gcloud(&self, args: &[&str]) -> Output {
        let mut command = Command::new("gcloud");
        self.logged_in(&mut command).args(args).stdin(Stdio::null());
        command.output().expect("gcloud runs")
    }

    /// Writes gcloud's own configuration (what `gcloud config set` would), e.g.
    /// `[("core", "project", "p"), ("compute", "zone", "z")]`.
    pub fn set_gcloud_config(&self, properties: &[(&str, &str, &str)]) {
        let dir = self.config_dir.path().join("configurations");
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::new();
        let mut sections: Vec<&str> = properties.iter().map(|p| p.0).collect();
        sections.dedup();
        for section in sections {
            text.push_str(&format!("[{section}]\n"));
            for (_, key, value) in properties.iter().filter(|p| p.0 == section) {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        std::fs::write(dir.join("config_default"), text).unwrap();
        std::fs::write(self.config_dir.path().join("active_config"), "default").unwrap();
    }

    /// The requests the double answered so far, oldest first.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// `METHOD PATH STATUS` of every request, with the API prefix left out.
    pub fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| {
                let path = r["path"].as_str().unwrap_or_default();
                let path = path.strip_prefix("/compute/v1/").unwrap_or(path);
                format!("{} {path} {}", r["method"].as_str().unwrap_or_default(), r["status"])
            })
            .collect()
    }

    /// The routes in the double as `name destRange nextHopIp`, via `gcloud compute routes list`,
    /// without the network's two `default-route-…` ones.
    pub fn routes(&self) -> Vec<String> {
        let out = self.gcloud(&[
            "compute",
            "routes",
            "list",
            "--project",
            PROJECT,
            "--format=value(name,destRange,nextHopIp)",
        ]);
        assert!(
            out.status.success(),
            "gcloud routes list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.starts_with("default-route-"))
            .collect()
    }

    /// Every route, the network's two `default-route-…` ones included: `NAME DEST`, sorted.
    pub fn all_routes(&self) -> Vec<String> {
        let out = self.gcloud(&[
            "compute",
            "routes",
            "list",
            "--project",
            PROJECT,
            "--format=value(name,destRange)",
        ]);
        assert!(
            out.status.success(),
            "gcloud routes list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut routes: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        routes.sort();
        routes
    }
}

impl Drop for ComputeDouble {
    fn drop(&mut self) {
        // The double is this test's own child: stop it by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn apply(command: &mut Command, vars: Vec<(String, Option<String>)>) -> &mut Command {
    for (key, value) in vars {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command
}

fn apply_test(test: Test, vars: Vec<(String, Option<String>)>) -> Test {
    vars.into_iter().fold(test, |test, (key, value)| match value {
        Some(value) => test.env(key, value),
        None => test.env_remove(key),
    })
}
