//! Shell injection, as a property: arbitrary values go through the real [`Renderer`] (which
//! shell-quotes every `{{ value }}`) and the real ssh connector into a real remote `sh` on a
//! sandbox node, and must arrive byte-exact without anything in them being executed.
//!
//! One sandbox (one worker on 10.235.0.0/24, a network no other test uses) and one ssh
//! connection serve every case. Commands go through the public [`Connection::run`], so however
//! the connector wraps a command (`sudo -n sh -c ...` today) is what is tested. Needs root (as
//! CI); traffic goes only to the sandbox this test makes.
//!
//! Every payload that could execute writes a marker file `/tmp/labctl-injected-*` on the node
//! (whose `/tmp` is private to it); after each case the marker is looked for over the same
//! connection. A control case that deliberately opts out of quoting (`| safe`) must create the
//! marker, so a check that could never fail would be caught.
//!
//! Each property runs 256 cases (`PROPTEST_CASES` changes that); a failure shows the smallest
//! input that still fails.

use crate::common::sandbox_lab;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use labctl::connector::{self, CommandOutput, CommandSpec, Connection, Endpoint};
use labctl::inventory::HostKeyChecking;
use labctl::template::shell::quote;
use labctl::template::{Located, Renderer, TemplateSource};
use minijinja::Value;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sandbox_lab::*;

/// The sandbox's lab network; the node is its `.20`.
const NETWORK: &str = "10.235.0.0/24";
const NETWORK_PREFIX: &str = "10.235.0.";

/// Where a payload that executed leaves its trace: files in the node's `/tmp` whose names start
/// so (and go on with letters, digits and dashes only).
const MARKER_PREFIX: &str = "labctl-injected-";

/// The longest value, and the most bytes of all items of a list. Quoting, once for the template
/// and again for `sh -c`, makes a value up to 7.5 times longer (`!\` repeated: every character
/// becomes a quoted chunk of its own, twice over); this keeps the command line under the
/// kernel's limit of 128 KiB for one argument, which is no matter of quoting.
const LONGEST: usize = 12 * 1024;

/// The most items in a list.
const MOST_ITEMS: usize = 5;

/// A bound on each command: a hang guard, not a benchmark.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// Pieces of shell syntax and payloads. Each payload that runs creates a marker file. `>` only
/// appears aimed at a marker: if quoting ever broke, a random `>` could truncate a file as root
/// on this machine (the node shares its filesystem but for `/tmp`, `/home` and `/run`).
const FRAGMENTS: &[&str] = &[
    "'",
    "\"",
    "''",
    "'\"'\"'",
    ";",
    "&&",
    "||",
    "|",
    "&",
    "$(",
    ")",
    "(",
    "`",
    "${IFS}",
    "$IFS",
    "$HOME",
    "$0",
    "$$",
    "$?",
    "$@",
    "$*",
    "$1",
    "${x:-y}",
    "$((1+1))",
    "$'\\x41'",
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "  ",
    "*",
    "?",
    "[",
    "]",
    "[a-z]",
    "/*",
    "{a,b}",
    "{1..3}",
    "~",
    "~root",
    "~/",
    "!",
    "!!",
    "!$",
    "-",
    "--",
    "-n",
    "-e",
    "--help",
    "\\",
    "\\\\",
    "\\n",
    "\\'",
    "\\\"",
    "%",
    "%s",
    "%n",
    "%d",
    "%%",
    "%b",
    "\\c",
    "#",
    "=",
    "x=1",
    "^",
    "<",
    "<(",
    "<<EOF",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "é",
    "日本語",
    "🦀",
    "\u{a0}",
    "\u{2028}",
    "\u{feff}",
    "\u{202e}",
    "e\u{301}",
    "\u{10ffff}",
    "$(touch /tmp/labctl-injected-subst)",
    "`touch /tmp/labctl-injected-backtick`",
    "; touch /tmp/labctl-injected-semicolon",
    ";touch${IFS}/tmp/labctl-injected-ifs",
    "$(touch${IFS}/tmp/labctl-injected-ifs-subst)",
    "&& touch /tmp/labctl-injected-and",
    "|| touch /tmp/labctl-injected-or",
    "| touch /tmp/labctl-injected-pipe",
    "& touch /tmp/labctl-injected-background",
    "\ntouch /tmp/labctl-injected-newline",
    "\r\ntouch /tmp/labctl-injected-crlf",
    "';touch /tmp/labctl-injected-single;'",
    "\";touch /tmp/labctl-injected-double;\"",
    "\\';touch /tmp/labctl-injected-escaped;'",
    "' $(touch /tmp/labctl-injected-quoted-subst) '",
    "\" `touch /tmp/labctl-injected-quoted-backtick` \"",
    ">/tmp/labctl-injected-redirect",
    ";>/tmp/labctl-injected-redirect2",
    "$(>/tmp/labctl-injected-redirect3)",
    "${x:=$(touch /tmp/labctl-injected-param)}",
    "$((`touch /tmp/labctl-injected-arith`))",
    "; sh -c 'touch /tmp/labctl-injected-sh'",
    "\"; sudo touch /tmp/labctl-injected-sudo; \"",
    "' || touch /tmp/labctl-injected-or2 #",
];

/// Shell metacharacters, one at a time (no NUL, no `>`: see [`FRAGMENTS`]).
const METACHARACTERS: &str = "'\"`$\\;&|()<{}[]*?~!#%^=,:+- \t\n\r\x0b\x0c";

/// One value of at most `most` bytes: a mix of fragments, metacharacters, plain words and
/// arbitrary characters, mostly short, sometimes kilobytes long.
fn value(most: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        3 => proptest::sample::select(METACHARACTERS.chars().collect::<Vec<_>>())
            .prop_map(String::from),
        3 => "[a-zA-Z0-9/._:@+-]{1,8}",
        2 => any::<char>().prop_filter("NUL is tested on its own", |c| *c != '\0')
            .prop_map(String::from),
    ];
    let short = vec(piece.clone(), 0..16).prop_map(|pieces| pieces.concat());
    // (No lower bound on the number of pieces: it would keep a failing long value from
    // shrinking.)
    let long = vec(piece, 0..1500).prop_map(move |pieces| cut(pieces.concat(), most));
    prop_oneof![9 => short, 1 => long]
}

/// `text` cut to at most `most` bytes, at a character boundary.
fn cut(mut text: String, most: usize) -> String {
    let mut end = most.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// Bytes for standard input: values' text, arbitrary bytes and invalid UTF-8, sometimes large.
fn stdin_bytes() -> impl Strategy<Value = Vec<u8>> {
    let invalid: &[&[u8]] = &[
        b"\xff",
        b"\xfe\xff",
        b"\xc3",
        b"\xc3\x28",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xc0\xaf",
        b"\x80",
        b"\0",
        b"\0\0\n",
    ];
    let piece = prop_oneof![
        3 => value(LONGEST).prop_map(String::into_bytes),
        3 => vec(any::<u8>(), 1..64),
        2 => proptest::sample::select(invalid).prop_map(<[u8]>::to_vec),
    ];
    let mixed = vec(piece, 0..12).prop_map(|pieces| pieces.concat());
    // Larger than ssh's flow-control window, so that stdin and stdout interleave.
    // Made from a seed: drawing each byte through proptest is slow in a debug build.
    let large = (any::<u64>(), 64 * 1024..300 * 1024usize).prop_map(|(seed, len)| noise(seed, len));
    prop_oneof![9 => mixed, 1 => large]
}

/// `len` pseudo-random bytes from `seed` (xorshift64*).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        bytes.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// The one sandbox node and the one connection to it.
struct Node {
    runtime: tokio::runtime::Runtime,
    connection: Connection,
    renderer: Renderer,
    /// Why a command could not run (a lost connection, a timeout), once one could not.
    broken: OnceLock<String>,
}

impl Node {
    fn connect(runtime: tokio::runtime::Runtime, lab: &Lab<'_>) -> Node {
        let status = lab.status();
        let nodes = lab.nodes();
        assert_eq!(nodes.len(), 1, "one node: {nodes:?}");
        let (name, address) = nodes[0].clone();
        // Traffic goes only to this test's own sandbox.
        assert!(address.starts_with(NETWORK_PREFIX), "{address} is not in {NETWORK}");
        let endpoint = Endpoint {
            name,
            host: address,
            port: 22,
            user: "vagrant".into(),
            identity_files: vec![str_of(&status["identity_file"]).into()],
            // The sandbox wrote every node's host key there: nothing needs learning.
            host_key_checking: HostKeyChecking::Strict,
            known_hosts: str_of(&status["known_hosts"]).into(),
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::ZERO,
        };
        let connection = runtime
            .block_on(connector::connect(&endpoint))
            .unwrap_or_else(|e| panic!("connect to the sandbox node: {e}"));
        let renderer = Renderer::new(TemplateSource::Builtin);
        Node { runtime, connection, renderer, broken: OnceLock::new() }
    }

    /// Renders `template` with `value` bound to `name`, as a chapter command is rendered.
    fn render(&self, template: &str, name: &str, value: Value) -> Result<String, String> {
        let context = Value::from(BTreeMap::from([(name.to_string(), value)]));
        let located = Located { text: template, line: 1, column: 1 };
        self.renderer
            .render_command(Path::new("injection.yaml"), located, &context)
            .map_err(|e| e.to_string())
    }

    /// Runs one command; a command that could not run at all fails the test.
    fn run(&self, command: &str, sudo: bool, stdin: Option<Vec<u8>>) -> CommandOutput {
        // Once the connection is gone every case fails, including the smaller ones proptest
        // tries next: name the command that lost it, not the last one tried.
        if let Some(first) = self.broken.get() {
            panic!("{first} (every later case fails alike)");
        }
        let spec =
            CommandSpec { command: command.to_string(), sudo, stdin, timeout: COMMAND_TIMEOUT };
        match self.runtime.block_on(self.connection.run(&spec)) {
            Ok(out) => out,
            Err(e) => {
                let why = format!("running {}: {e}", shown(command.as_bytes()));
                panic!("{} (every later case fails alike)", self.broken.get_or_init(|| why));
            }
        }
    }

    /// The marker files on the node, removed once seen so that every case starts clean
    /// (proptest re-runs smaller inputs after a failure and each must be judged on its own).
    /// Both commands are plain words, free of quotes and globs, so that they mean the same
    /// even if the connector's own quoting were broken.
    fn take_markers(&self) -> Vec<String> {
        let out = self.run("ls -A /tmp", true, None);
        assert!(out.success(), "listing the node's /tmp failed: {}", described(&out));
        let markers: Vec<String> = out
            .stdout_text()
            .lines()
            .filter(|name| name.starts_with(MARKER_PREFIX))
            .map(|name| format!("/tmp/{name}"))
            .collect();
        if !markers.is_empty() {
            let out = self.run(&format!("rm -f {}", markers.join(" ")), true, None);
            assert!(out.success(), "removing {markers:?} failed: {}", described(&out));
        }
        markers
    }

    /// Runs `command`, then judges it: first that nothing in it ran (looked for whatever the
    /// command did, so that no marker is left to be blamed on a later case), then that it
    /// succeeded and printed `expected`.
    fn judge(
        &self,
        command: &str,
        sudo: bool,
        stdin: Option<Vec<u8>>,
        expected: &[u8],
    ) -> Result<(), TestCaseError> {
        let out = self.run(command, sudo, stdin);
        let markers = self.take_markers();
        prop_assert!(
            markers.is_empty(),
            "a payload ran on the node, it made {markers:?}; command {command:?}"
        );
        prop_assert!(out.success(), "command {command:?} failed: {}", described(&out));
        prop_assert!(
            out.stdout == expected,
            "the input did not arrive exact: expected {} bytes, got {}:\n  expected {}\n  got      {}\n  \
             command {command:?}",
            expected.len(),
            out.stdout.len(),
            shown(expected),
            shown(&out.stdout)
        );
        Ok(())
    }
}

/// How a command ended and what it wrote to stderr, for messages.
fn described(out: &CommandOutput) -> String {
    format!("{:?}, stderr {:?}", out.completion, out.stderr_text())
}

/// Bytes for messages: escaped, and cut short when long.
fn shown(bytes: &[u8]) -> String {
    const MOST: usize = 400;
    let cut = if bytes.len() > MOST { "..." } else { "" };
    format!("\"{}\"{cut}", bytes[..bytes.len().min(MOST)].escape_ascii())
}

/// A property over `strategy`, run with its own count of cases.
fn check<S: Strategy>(
    label: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> usize {
    let config = Config { failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let count = AtomicUsize::new(0);
    let started = Instant::now();
    let result = runner.run(&strategy, |input| {
        count.fetch_add(1, Ordering::Relaxed);
        test(input)
    });
    if let Err(e) = result {
        panic!("{label}: {e}");
    }
    let count = count.into_inner();
    println!("injection: {label}: {count} cases in {:.1?}", started.elapsed());
    count
}

#[test]
fn values_reach_a_remote_shell_exactly_and_nothing_in_them_runs() {
    require_root();
    let started = Instant::now();
    let root = Root::new();
    let lab = Lab::up(
        &root,
        &unique_name("inject"),
        &["--network", NETWORK, "--workers", "1", "--controllers", "0"],
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let node = Node::connect(runtime, &lab);
    println!("injection: sandbox up and connected in {:.1?}", started.elapsed());
    let cases_started = Instant::now();
    assert!(node.take_markers().is_empty(), "a fresh node has no marker");

    // The check can fail: the same payload with quoting turned off (`| safe`) does run.
    let payload = Value::from("$(touch /tmp/labctl-injected-control)");
    for sudo in [false, true] {
        let command = node.render("printf '%s' {{ value | safe }}", "value", payload.clone());
        let command = command.expect("the control renders");
        assert!(node.run(&command, sudo, None).success());
        assert_eq!(
            node.take_markers(),
            ["/tmp/labctl-injected-control"],
            "the unquoted control payload must run (sudo: {sudo})"
        );
    }
    let mut controls = 2;

    // A NUL byte cannot be passed to a shell at all: rendering refuses the value, so there is
    // no command to send, and nothing ran (had the command been sent, its `touch` would have
    // left a marker).
    for value in [Value::from("a\0b"), Value::from(vec!["ok", "\0", "ok"])] {
        let template = "touch /tmp/labctl-injected-nul; printf '%s' {{ value }}";
        let error = node.render(template, "value", value.clone()).expect_err("NUL is refused");
        assert!(
            error.contains("a value with a NUL byte cannot go into a command"),
            "unclear error for {value:?}: {error}"
        );
        assert!(node.take_markers().is_empty(), "a command with a NUL value was sent");
        controls += 1;
    }

    let mut cases = 0;
    for sudo in [false, true] {
        let label = if sudo { "scalar, sudo" } else { "scalar" };
        cases += check(label, value(LONGEST), |value| {
            let command = node
                .render("printf '%s' {{ value }}", "value", Value::from(value.as_str()))
                .map_err(TestCaseError::fail)?;
            // The value is quoted once, as one word, and rendering adds or trims nothing.
            let word = quote(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&command, &format!("printf '%s' {word}"));
            node.judge(&command, sudo, None, value.as_bytes())
        });
    }

    // A list expands to one quoted word per item: `printf '%s\n'` prints each on its line (and
    // an empty line for no item at all, since printf then runs its format once).
    let lists = (vec(value(LONGEST / MOST_ITEMS), 0..=MOST_ITEMS), any::<bool>());
    cases += check("list", lists, |(items, sudo)| {
        let command = node
            .render("printf '%s\\n' {{ items }}", "items", Value::from(items.clone()))
            .map_err(TestCaseError::fail)?;
        let expected: String = if items.is_empty() {
            "\n".to_string()
        } else {
            items.iter().map(|item| format!("{item}\n")).collect()
        };
        node.judge(&command, sudo, None, expected.as_bytes())
    });

    // Values in a template come from YAML and are UTF-8 strings by construction, so arbitrary
    // bytes, NUL and invalid UTF-8 included, can only reach a command as its standard input.
    cases += check("stdin", (stdin_bytes(), any::<bool>()), |(bytes, sudo)| {
        node.judge("cat", sudo, Some(bytes.clone()), &bytes)
    });

    println!(
        "injection: {cases} cases and {controls} controls in {:.1?} (sandbox and connection \
         included: {:.1?})",
        cases_started.elapsed(),
        started.elapsed()
    );
}
