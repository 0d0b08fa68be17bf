//! Starting the Kubernetes API double (`kube_api_double.py`) from a test, pointing the real
//! `kubectl` at it, and reading what reached it. The double listens only on the address the
//! test gives: loopback, or the sandbox's own end of its lab network.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node the double plays flanneld on.
pub struct FlannelNode {
    pub name: String,
    pub pod_cidr: String,
    /// A process in the node's network and mount namespaces (its sshd).
    pub pid: u32,
}

/// A running double; dropping it stops it.
pub struct KubeApiDouble {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
}

impl KubeApiDouble {
    /// Starts the double on `address` (port chosen by the system). With `nodes`, it plays
    /// flanneld on them when a flannel DaemonSet is written.
    pub fn start(address: &str, nodes: &[FlannelNode]) -> KubeApiDouble {
        KubeApiDouble::start_with(address, nodes, &[])
    }

    /// A double whose DaemonSets never roll out.
    pub fn start_never_ready(address: &str) -> KubeApiDouble {
        KubeApiDouble::start_with(address, &[], &["--never-ready"])
    }

    fn start_with(address: &str, nodes: &[FlannelNode], flags: &[&str]) -> KubeApiDouble {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/doubles/kube_api_double.py");
        let ready = dir.path().join("ready");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .arg("--listen")
            .arg(format!("{address}:0"))
            .arg("--ready")
            .arg(&ready)
            .arg("--record")
            .arg(dir.path().join("record.jsonl"))
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr")).expect("a log file"));
        if !nodes.is_empty() {
            let json: Vec<serde_json::Value> = nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    serde_json::json!({
                        "name": n.name, "pod_cidr": n.pod_cidr, "pid": n.pid,
                        "mac": format!("0a:58:0a:f0:{:02x}:{:02x}", i / 256, i % 256),
                    })
                })
                .collect();
            let file = dir.path().join("nodes.json");
            std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
            cmd.arg("--nodes").arg(file);
        }
        let child = cmd.spawn().expect("python3 runs the Kubernetes API double");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "the Kubernetes API double did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let url = std::fs::read_to_string(&ready).unwrap().trim().to_string();
        KubeApiDouble { child, url, dir }
    }

    /// A kubeconfig for the double.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster: {{server: \"{}\"}}\n\
             contexts:\n- name: double\n  context: {{cluster: double, user: admin}}\n\
             current-context: double\nusers:\n- name: admin\n  user: {{token: not-checked}}\n",
            self.url
        )
    }

    /// Writes [`Self::kubeconfig`] to a file in the double's directory and returns its path.
    pub fn kubeconfig_file(&self) -> PathBuf {
        let file = self.dir.path().join("kubeconfig");
        std::fs::write(&file, self.kubeconfig()).unwrap();
        file
    }

    /// Every request that reached the double, in order.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let text =
            std::fs::read_to_string(self.dir.path().join("record.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The requests that change something (not GET), as `METHOD path`, dry runs marked.
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r["method"] != "GET")
            .map(|r| {
                let dry = if r["query"]["dryRun"].is_array() { " (dry run)" } else { "" };
                format!("{} {}{dry}", r["method"].as_str().unwrap(), r["path"].as_str().unwrap())
            })
            .collect()
    }

    /// Plays flanneld again on every node with `args` (test control, not Kubernetes).
    pub fn replay_flannel(&self, args: &[&str]) {
        let address = self.url.trim_start_matches("http://");
        let body = serde_json::json!({ "args": args }).to_string();
        let mut stream = TcpStream::connect(address).expect("the double answers");
        write!(
            stream,
            "POST /_double/flannel HTTP/1.1\r\nHost: double\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// What the double printed on stderr (flanneld's troubles).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }
}

impl Drop for KubeApiDouble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
