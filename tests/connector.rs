//! The connectors against a real OpenSSH `sshd`, started by each test on 127.0.0.1 with its
//! own host key, config and authorized keys, logging in as the current user (root here).
//!
//! Nothing leaves loopback. Needs `/usr/sbin/sshd` (Debian: `openssh-server`), `ssh-keygen`
//! and `sudo`. Times are only asserted as generous bounds against hangs; the latency numbers
//! come from the benchmark, `bench/run` (bench/README.md).

use crate::common::sandbox_lab;

use std::collections::HashMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use labctl::connector::{
    self, CommandOutput, CommandSpec, Completion, ConnectError, Connection, Endpoint, KeyProblem,
    RunError,
};
use labctl::inventory::HostKeyChecking;
use tempfile::TempDir;

const SSHD: &str = "/usr/sbin/sshd";

/// A generous bound for things that should take a second: a hang guard, not a benchmark.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// One `sshd -D -e` on loopback; killed with everything it started when dropped.
struct Sshd {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Sshd {
    /// Starts sshd on `port` (a free one when `None`) with `host_key`, in `dir`.
    fn start(dir: &Path, host_key: &Path, authorized_keys: &Path, port: Option<u16>) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "these tests need {SSHD}: apt-get install -y openssh-server"
        );
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = port.unwrap_or_else(free_port);
            let config = dir.join(format!("sshd_config.{port}"));
            fs::write(
                &config,
                format!(
                    "ListenAddress 127.0.0.1:{port}\n\
                     HostKey {}\n\
                     PidFile {}\n\
                     AuthorizedKeysFile {}\n\
                     StrictModes no\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     UsePAM no\n\
                     PermitRootLogin prohibit-password\n\
                     MaxStartups 200\n\
                     MaxSessions 20\n",
                    host_key.display(),
                    dir.join(format!("sshd.{port}.pid")).display(),
                    authorized_keys.display(),
                ),
            )
            .expect("write sshd_config");
            let log = dir.join(format!("sshd.{port}.log"));
            let log_file = fs::File::create(&log).expect("create sshd log");
            let child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("start sshd");
            let mut sshd = Sshd { child, port, log };
            if sshd.wait_listening() {
                return sshd;
            }
            last_log = fs::read_to_string(&sshd.log).unwrap_or_default();
        }
        panic!("sshd did not start; its last log:\n{last_log}");
    }

    /// Waits until sshd listens; false if it exited (the port was taken, usually).
    fn wait_listening(&mut self) -> bool {
        let start = Instant::now();
        while start.elapsed() < HANG_GUARD {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            if log.contains("Server listening on") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Kills sshd and every process it started: the connections it serves drop at once.
    fn kill(&mut self) {
        kill_tree(self.child.id());
        let _ = self.child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A port on loopback that is bound but not listening, and stays so while the socket lives:
/// a connection to it is refused. (A port merely found free can be taken by the sshd of a test
/// running beside this one, which then accepts and resets the connection.)
fn closed_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind 127.0.0.1:0");
    let port = socket.local_addr().expect("local address").port();
    (socket, port)
}

/// SIGKILLs `root` and all its descendants (sshd puts each connection in its own session,
/// so a process group kill would miss them).
fn kill_tree(root: u32) {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let Some((_, after)) = stat.rsplit_once(')') else { continue };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut doomed = vec![root];
    let mut index = 0;
    while let Some(&pid) = doomed.get(index) {
        doomed.extend(children.get(&pid).into_iter().flatten());
        index += 1;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(doomed.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// Makes a key pair with `ssh-keygen`; `extra` adds options such as `-m PEM`.
fn keygen(dir: &Path, name: &str, kind: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
        .arg(&path)
        .args(extra)
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen -t {kind} failed");
    path
}

fn authorize(authorized_keys: &Path, key: &Path) {
    let public = fs::read_to_string(key.with_extension("pub")).expect("read public key");
    let mut all = fs::read_to_string(authorized_keys).unwrap_or_default();
    all.push_str(&public);
    fs::write(authorized_keys, all).expect("write authorized_keys");
}

/// A running sshd that accepts one ed25519 client key, and the paths around it.
struct Lab {
    dir: TempDir,
    key: PathBuf,
    authorized_keys: PathBuf,
    sshd: Sshd,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = keygen(dir.path(), "id_ed25519", "ed25519", &[]);
        let authorized_keys = dir.path().join("authorized_keys");
        authorize(&authorized_keys, &key);
        let host_key = keygen(dir.path(), "host_ed25519", "ed25519", &[]);
        let sshd = Sshd::start(dir.path(), &host_key, &authorized_keys, None);
        Lab { dir, key, authorized_keys, sshd }
    }

    fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("state").join("known_hosts")
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint {
            name: "worker-0".into(),
            host: "127.0.0.1".into(),
            port: self.sshd.port,
            user: current_user(),
            identity_files: vec![self.key.clone()],
            host_key_checking: HostKeyChecking::AcceptNew,
            known_hosts: self.known_hosts(),
            connect_timeout: HANG_GUARD,
            keepalive: Duration::from_secs(5),
        }
    }

    /// Replaces the running sshd by one with a new host key on the same port.
    fn rebuild_host(&mut self) {
        let port = self.sshd.port;
        self.sshd.kill();
        let host_key = keygen(self.dir.path(), "host_ed25519_new", "ed25519", &[]);
        self.sshd = Sshd::start(self.dir.path(), &host_key, &self.authorized_keys, Some(port));
    }

    async fn connect(&self) -> Connection {
        match connector::connect(&self.endpoint()).await {
            Ok(connection) => connection,
            Err(e) => panic!("connect failed: {e}\nsshd log:\n{}", self.sshd_log()),
        }
    }

    fn sshd_log(&self) -> String {
        fs::read_to_string(&self.sshd.log).unwrap_or_default()
    }
}

fn current_user() -> String {
    let output = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn spec(command: &str) -> CommandSpec {
    CommandSpec { command: command.into(), sudo: false, stdin: None, timeout: HANG_GUARD }
}

async fn run(connection: &Connection, command: &str) -> CommandOutput {
    match connection.run(&spec(command)).await {
        Ok(output) => output,
        Err(e) => panic!("`{command}` failed to run: {e}"),
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("utf-8 output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_ecdsa_and_rsa_keys_log_in() {
    let lab = Lab::new();
    let kinds: [(&str, &str, &[&str]); 4] = [
        ("ed25519", "ed25519", &[]),
        ("ecdsa", "ecdsa", &[]),
        // OpenSSH 9.2 refuses SHA-1 `ssh-rsa` signatures: logging in proves rsa-sha2.
        ("rsa", "rsa", &[]),
        ("rsa-pem", "rsa", &["-m", "PEM"]),
    ];
    for (name, kind, extra) in kinds {
        let key = keygen(lab.dir.path(), &format!("client_{name}"), kind, extra);
        authorize(&lab.authorized_keys, &key);
        let endpoint = Endpoint { identity_files: vec![key], ..lab.endpoint() };
        let connection = match connector::connect(&endpoint).await {
            Ok(connection) => connection,
            Err(e) => panic!("{name} key: {e}\nsshd log:\n{}", lab.sshd_log()),
        };
        let output = run(&connection, "echo logged in").await;
        assert_eq!(text(&output.stdout), "logged in\n", "{name} key");
    }

    // A few ECDSA keys in a thousand have a scalar OpenSSH writes short; one is kept so that
    // this is checked on every run rather than by chance.
    let key = lab.dir.path().join("client_ecdsa_short");
    fs::copy("tests/fixtures/keys/ecdsa-p256-short-scalar", &key).expect("copy the key");
    fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod the key");
    fs::copy("tests/fixtures/keys/ecdsa-p256-short-scalar.pub", key.with_extension("pub"))
        .expect("copy the public key");
    authorize(&lab.authorized_keys, &key);
    let endpoint = Endpoint { identity_files: vec![key], ..lab.endpoint() };
    let connection = match connector::connect(&endpoint).await {
        Ok(connection) => connection,
        Err(e) => panic!("short-scalar ecdsa key: {e}\nsshd log:\n{}", lab.sshd_log()),
    };
    assert_eq!(text(&run(&connection, "echo logged in").await.stdout), "logged in\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_are_results_even_255() {
    let lab = Lab::new();
    let connection = lab.connect().await;
    for code in [0, 1, 255] {
        let output = run(&connection, &format!("exit {code}")).await;
        assert_eq!(output.completion, Completion::Exited(code));
        assert_eq!(output.success(), code == 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_is_a_lost_connection() {
    let mut lab = Lab::new();
    let connection = lab.connect().await;
    assert_eq!(run(&connection, "echo up").await.stdout, b"up\n");

    let started = Instant::now();
    let long = spec("sleep 5; echo done");
    let (result, ()) = tokio::join!(connection.run(&long), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        lab.sshd.kill();
    });
    match result {
        Err(error @ RunError::ConnectionLost { .. }) => {
            assert_eq!(error.exit_code(), 3);
            assert!(
                error.to_string().starts_with("lost the connection to `worker-0`: "),
                "{error}"
            );
        }
        other => panic!("expected a lost connection, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(4), "the loss was noticed only at the end");
    assert!(matches!(connection.run(&spec("true")).await, Err(RunError::ConnectionLost { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_is_not_an_exit_code() {
    let lab = Lab::new();
    let connection = lab.connect().await;
    let output = run(&connection, "echo before; kill -TERM $$; echo after").await;
    assert_eq!(output.completion, Completion::Signal("TERM".into()));
    assert_eq!(output.stdout, b"before\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_stdout_and_stderr_round_trip() {
    let lab = Lab::new();
    let connection = lab.connect().await;

    let small = CommandSpec {
        stdin: Some(b"hello\n".to_vec()),
        ..spec("tr a-z A-Z; echo 'to stderr' >&2; exit 4")
    };
    let output = connection.run(&small).await.expect("run tr");
    assert_eq!(output.completion, Completion::Exited(4));
    assert_eq!(output.stdout, b"HELLO\n");
    assert_eq!(output.stderr, b"to stderr\n");

    // 1 MiB of every byte value, echoed back: both directions fill their windows at once.
    let big: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let echo = CommandSpec { stdin: Some(big.clone()), ..spec("cat") };
    let output = connection.run(&echo).await.expect("run cat");
    assert!(output.success());
    assert!(output.stdout == big, "1 MiB did not come back intact ({} bytes)", output.stdout.len());

    let count = CommandSpec { stdin: Some(big), ..spec("wc -c") };
    assert_eq!(text(&connection.run(&count).await.expect("run wc").stdout).trim(), "1048576");

    // Without input a command that reads stdin sees its end at once instead of waiting.
    assert_eq!(run(&connection, "cat; echo end").await.stdout, b"end\n");
    // A command that ignores its input still completes.
    let ignore = CommandSpec { stdin: Some(vec![b'x'; 256 * 1024]), ..spec("exit 7") };
    assert_eq!(connection.run(&ignore).await.expect("run exit").completion, Completion::Exited(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_after_the_exit_status_is_kept() {
    let lab = Lab::new();
    let connection = lab.connect().await;
    // The shell exits at once (sshd sends its status); the background job writes later.
    let output = run(&connection, "(sleep 0.5; echo late; echo late-err >&2) & exit 3").await;
    assert_eq!(output.completion, Completion::Exited(3));
    assert_eq!(output.stdout, b"late\n");
    assert_eq!(output.stderr, b"late-err\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_outlives_its_timeout_is_stopped() {
    let mut lab = Lab::new();
    let connection = lab.connect().await;
    let marker = lab.dir.path().join("slept");
    let command = format!("sleep 31.5 && touch {}", marker.display());
    let result =
        connection.run(&CommandSpec { timeout: Duration::from_secs(1), ..spec(&command) }).await;
    match result {
        Err(error @ RunError::Timeout { .. }) => {
            assert_eq!(
                error.to_string(),
                format!(
                    "`{command}` on `worker-0` did not finish within 1s; its 2 processes still running were stopped"
                )
            );
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // The connection survives the abandoned channel, and nothing of the command runs on,
    // although sshd refuses channel signals in root's sessions: labctl kills it by its tag.
    assert_eq!(run(&connection, "echo still here").await.stdout, b"still here\n");
    assert!(sandbox_lab::live_processes_mentioning("sleep 31.5").is_empty());
    assert!(!marker.exists());
    lab.sshd.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sudo_runs_without_asking() {
    let lab = Lab::new();
    let connection = lab.connect().await;
    let output = connection
        .run(&CommandSpec { sudo: true, ..spec("id -u; echo \"$0\"") })
        .await
        .expect("run under sudo");
    assert_eq!(text(&output.stdout), "0\nsh\n", "stderr: {}", output.stderr_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_commands_share_one_connection() {
    let lab = Lab::new();
    let connection = std::sync::Arc::new(lab.connect().await);
    // More than sshd's MaxSessions would allow at once: the connector queues them.
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let connection = connection.clone();
            tokio::spawn(
                async move { connection.run(&spec(&format!("sleep 0.2; echo {i}"))).await },
            )
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let output = task.await.expect("task").unwrap_or_else(|e| panic!("command {i}: {e}"));
        assert_eq!(text(&output.stdout), format!("{i}\n"));
    }
    let accepted = lab.sshd_log().matches("Accepted publickey").count();
    assert_eq!(accepted, 1, "one connection for every command");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_unreachable() {
    let (_bound, port) = closed_port();
    let endpoint = Endpoint {
        name: "worker-1".into(),
        host: "127.0.0.1".into(),
        port,
        user: "root".into(),
        identity_files: Vec::new(),
        host_key_checking: HostKeyChecking::Strict,
        known_hosts: PathBuf::from("/nonexistent/known_hosts"),
        connect_timeout: HANG_GUARD,
        keepalive: Duration::ZERO,
    };
    match connector::connect(&endpoint).await {
        Err(error @ ConnectError::Unreachable { .. }) => {
            assert_eq!(error.exit_code(), 3);
            let message = error.to_string();
            let prefix = format!("cannot reach `worker-1` at 127.0.0.1:{}: ", endpoint.port);
            assert!(message.starts_with(&prefix), "{message}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_listener_times_out_within_the_bound() {
    // The kernel accepts the TCP connection into the backlog; nobody ever speaks ssh.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let endpoint = Endpoint {
        name: "worker-2".into(),
        host: "127.0.0.1".into(),
        port,
        user: "root".into(),
        identity_files: Vec::new(),
        host_key_checking: HostKeyChecking::Strict,
        known_hosts: PathBuf::from("/nonexistent/known_hosts"),
        connect_timeout: Duration::from_secs(1),
        keepalive: Duration::ZERO,
    };
    let started = Instant::now();
    let result = connector::connect(&endpoint).await;
    let elapsed = started.elapsed();
    match result {
        Err(error @ ConnectError::Timeout { .. }) => assert!(
            error
                .to_string()
                .starts_with(&format!("`worker-2` at 127.0.0.1:{port} did not answer within 1s")),
            "{error}"
        ),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(4), "gave up only after {elapsed:?}");
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_ssh_is_a_protocol_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        if let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let endpoint = Endpoint {
        name: "worker-3".into(),
        host: "127.0.0.1".into(),
        port,
        user: "root".into(),
        identity_files: Vec::new(),
        host_key_checking: HostKeyChecking::Strict,
        known_hosts: PathBuf::from("/nonexistent/known_hosts"),
        connect_timeout: HANG_GUARD,
        keepalive: Duration::ZERO,
    };
    match connector::connect(&endpoint).await {
        Err(error @ ConnectError::Protocol { .. }) => {
            assert!(error.to_string().starts_with("ssh with `worker-3` failed: "), "{error}")
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_authentication_naming_the_keys() {
    let lab = Lab::new();
    let wrong = keygen(lab.dir.path(), "id_wrong", "ed25519", &[]);
    let missing = lab.dir.path().join("id_missing");
    let encrypted = lab.dir.path().join("id_encrypted");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "secret", "-f"])
        .arg(&encrypted)
        .status()
        .expect("run ssh-keygen");
    assert!(status.success());
    let not_a_key = lab.dir.path().join("id_wrong.pub");

    let endpoint = Endpoint {
        identity_files: vec![missing.clone(), encrypted.clone(), not_a_key.clone(), wrong.clone()],
        ..lab.endpoint()
    };
    match connector::connect(&endpoint).await {
        Err(error @ ConnectError::AuthFailed { .. }) => {
            let message = error.to_string();
            let ConnectError::AuthFailed { tried, unusable, .. } = &error else { unreachable!() };
            assert_eq!(tried, &vec![wrong.clone()]);
            let problems: Vec<_> = unusable.iter().map(|u| (u.path.clone(), &u.problem)).collect();
            assert!(
                matches!(problems[..], [
                (ref a, KeyProblem::Unreadable(_)),
                (ref b, KeyProblem::Encrypted),
                (ref c, KeyProblem::Invalid(_)),
            ] if *a == missing && *b == encrypted && *c == not_a_key),
                "{problems:?}"
            );
            assert_eq!(error.exit_code(), 3);
            let user = current_user();
            let first = format!(
                "cannot log in to `worker-0` as `{user}` at 127.0.0.1:{}: \
                 the server accepted none of the keys tried (`{}`)",
                lab.sshd.port,
                wrong.display()
            );
            assert!(message.starts_with(&first), "{message}");
            assert!(
                message.contains(&format!(
                    "\n  `{}`: it is protected by a passphrase; labctl needs an unencrypted key \
                     (ssh-agent is not supported yet)",
                    encrypted.display()
                )),
                "{message}"
            );
            assert!(
                message.contains(&format!("\n  `{}`: cannot read it: ", missing.display())),
                "{message}"
            );
        }
        other => panic!("expected an authentication failure, got {other:?}"),
    }

    // The right key after unusable ones still logs in.
    let endpoint =
        Endpoint { identity_files: vec![missing, encrypted, lab.key.clone()], ..lab.endpoint() };
    assert!(connector::connect(&endpoint).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_host_key_is_refused_and_nothing_runs() {
    let mut lab = Lab::new();
    let connection = lab.connect().await;
    assert!(run(&connection, "true").await.success());
    drop(connection);
    let learnt = fs::read_to_string(lab.known_hosts()).expect("known_hosts written");
    assert_eq!(learnt.lines().count(), 1);
    assert!(learnt.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", lab.sshd.port)), "{learnt}");

    lab.rebuild_host();
    let marker = lab.dir.path().join("marker");
    let touch = spec(&format!("touch {}", marker.display()));
    for policy in [HostKeyChecking::AcceptNew, HostKeyChecking::Strict] {
        let endpoint = Endpoint { host_key_checking: policy, ..lab.endpoint() };
        let attempt = async {
            let connection = connector::connect(&endpoint).await?;
            Ok::<_, ConnectError>(connection.run(&touch).await)
        };
        match attempt.await {
            Err(error @ ConnectError::HostKeyChanged { .. }) => {
                let message = error.to_string();
                let file = lab.known_hosts();
                assert!(message.starts_with(&format!(
                    "the host key of `worker-0` (127.0.0.1:{port}) has changed: `{}` line 1 has SHA256:",
                    file.display(),
                    port = lab.sshd.port
                )), "{message}");
                assert!(
                    message.ends_with(&format!(
                        "forget its old key with `ssh-keygen -R '[127.0.0.1]:{}' -f {}`",
                        lab.sshd.port,
                        file.display()
                    )),
                    "{message}"
                );
            }
            other => panic!("{policy:?}: expected a changed host key, got {other:?}"),
        }
        assert!(!marker.exists(), "{policy:?}: the command ran on a host with a changed key");
    }
    assert_eq!(
        fs::read_to_string(lab.known_hosts()).expect("known_hosts"),
        learnt,
        "the file is unchanged"
    );

    // `off` connects anyway, and says the key differs.
    let endpoint = Endpoint { host_key_checking: HostKeyChecking::Off, ..lab.endpoint() };
    let connection = connector::connect(&endpoint).await.expect("off connects anyway");
    let warning = connection.host_key_warning().expect("a warning about the changed key");
    assert!(
        warning.to_string().starts_with("host key checking is off: the host key of `worker-0`")
    );
    assert!(
        warning
            .to_string()
            .contains("help: if the machine was rebuilt, forget its old key with `ssh-keygen -R "),
        "{warning}"
    );
    assert!(connection.run(&touch).await.expect("run touch").success());
    assert!(marker.exists());
    assert_eq!(
        fs::read_to_string(lab.known_hosts()).expect("known_hosts"),
        learnt,
        "off writes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_refuses_an_unknown_host() {
    let lab = Lab::new();
    let endpoint = Endpoint { host_key_checking: HostKeyChecking::Strict, ..lab.endpoint() };
    match connector::connect(&endpoint).await {
        Err(error @ ConnectError::HostKeyUnknown { .. }) => {
            let message = error.to_string();
            let port = lab.sshd.port;
            let file = lab.known_hosts();
            assert!(message.starts_with(&format!(
                "the host key of `worker-0` (127.0.0.1:{port}) is not known and host key checking \
                 is strict: SHA256:"
            )), "{message}");
            assert!(
                message.ends_with(&format!(
                    "help: set `host_key_checking: accept-new` once to learn it, or add it with \
                 `ssh-keyscan -p {port} 127.0.0.1 >> {}`",
                    file.display()
                )),
                "{message}"
            );
        }
        other => panic!("expected an unknown host key, got {other:?}"),
    }
    assert!(!lab.known_hosts().exists(), "strict mode must not write");

    // `off` neither checks nor learns.
    let endpoint = Endpoint { host_key_checking: HostKeyChecking::Off, ..lab.endpoint() };
    let connection = connector::connect(&endpoint).await.expect("off connects");
    assert!(connection.host_key_warning().is_none());
    assert!(!lab.known_hosts().exists(), "off mode must not write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_connections_learn_one_line() {
    let lab = Lab::new();
    let endpoint = Endpoint { connect_timeout: Duration::from_secs(60), ..lab.endpoint() };
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let endpoint = endpoint.clone();
            tokio::spawn(async move {
                let connection = connector::connect(&endpoint).await.map_err(|e| e.to_string())?;
                // 50 sessions at once on a loaded 2-CPU machine: the guard against a hang is
                // the connect timeout's, not the 10 s one meant for a single command.
                let spec = CommandSpec { timeout: Duration::from_secs(60), ..spec("echo hi") };
                connection.run(&spec).await.map_err(|e| e.to_string())
            })
        })
        .collect();
    for task in tasks {
        let output =
            task.await.expect("task").unwrap_or_else(|e| panic!("{e}\n{}", lab.sshd_log()));
        assert_eq!(output.stdout, b"hi\n");
    }
    let file = fs::read_to_string(lab.known_hosts()).expect("known_hosts");
    assert_eq!(file.lines().count(), 1, "{file}");
    assert!(file.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", lab.sshd.port)));
    assert!(file.ends_with('\n'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_commands_run_read_stdin_and_time_out() {
    let local = Connection::Local { workdir: None };
    let output = local
        .run(&CommandSpec {
            stdin: Some(b"abc".to_vec()),
            ..spec("tr a-z A-Z; echo oops >&2; exit 3")
        })
        .await
        .expect("run locally");
    assert_eq!(output.completion, Completion::Exited(3));
    assert_eq!(output.stdout, b"ABC");
    assert_eq!(output.stderr, b"oops\n");

    let big: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i % 253) as u8).collect();
    let output =
        local.run(&CommandSpec { stdin: Some(big.clone()), ..spec("cat") }).await.expect("cat");
    assert!(output.stdout == big);

    assert_eq!(run(&local, "kill -TERM $$").await.completion, Completion::Signal("TERM".into()));
    let sudo = local.run(&CommandSpec { sudo: true, ..spec("id -u") }).await.expect("sudo");
    assert_eq!(text(&sudo.stdout), "0\n");

    // A timeout stops the command and what it started, also what left its process group.
    let result = local
        .run(&CommandSpec {
            timeout: Duration::from_secs(1),
            ..spec("setsid sleep 32.5 & sleep 30.5; echo no")
        })
        .await;
    match result {
        Err(error @ RunError::Timeout { .. }) => {
            assert_eq!(
                error.to_string(),
                "`setsid sleep 32.5 & sleep 30.5; echo no` on `local` did not finish within 1s; its 3 processes still running were stopped"
            );
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(sandbox_lab::live_processes_mentioning("sleep 32.5").is_empty());
    assert!(sandbox_lab::live_processes_mentioning("sleep 30.5").is_empty());
}
