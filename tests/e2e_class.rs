//! `--class FILE` on two sandboxes at once: run, verify (text, JSON, JUnit) and reset across
//! every environment of a class. Needs root (as CI); traffic only to the tests' own sandboxes.

use crate::common::sandbox_lab;

use sandbox_lab::*;

/// Times and timestamps vary from run to run: `0.4 s` → `T s`, RFC 3339 → `TIME`.
fn steady(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut words: Vec<String> = Vec::new();
        let parts: Vec<&str> = line.split(' ').collect();
        for (i, w) in parts.iter().enumerate() {
            let is_seconds = parts.get(i + 1) == Some(&"s")
                && w.split_once('.').is_some_and(|(a, b)| {
                    !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()) && b.len() == 1
                });
            words.push(if is_seconds { "T".into() } else { w.to_string() });
        }
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

/// A class of six sandboxes, each in one state a class really has.
struct Class<'r> {
    root: &'r Root,
    labs: Vec<Lab<'r>>,
    file: std::path::PathBuf,
}

const NAMES: [&str; 6] = ["done", "hand", "untouched", "down", "wronghop", "missing"];

impl<'r> Class<'r> {
    fn up(root: &'r Root) -> Class<'r> {
        require_root();
        let labs: Vec<Lab> = (1..=5)
            .map(|i| {
                Lab::up(
                    root,
                    &unique_name(NAMES[i - 1]),
                    &["--network", &format!("10.238.{i}.0/24"), "--workers", "2"],
                )
            })
            .collect();
        let file = root.path().join("class.yaml");
        let mut yaml = String::from("environments:\n");
        for (i, name) in NAMES.iter().enumerate() {
            let inventory = match labs.get(i) {
                Some(lab) => lab.dir().join("labctl.yaml"),
                None => root.path().join("missing/labctl.yaml"),
            };
            yaml.push_str(&format!("  - {{ name: {name}, inventory: {} }}\n", inventory.display()));
        }
        std::fs::write(&file, yaml).unwrap();
        Class { root, labs, file }
    }

    fn labctl(&self, args: &[&str]) -> Test {
        self.root.labctl(args).class(&self.file)
    }

    fn one(&self, i: usize, args: &[&str]) -> Test {
        self.labs[i].labctl(args)
    }

    fn by_hand(&self, i: usize, node: &str, command: &str) {
        let address = self.labs[i].nodes().into_iter().find(|(n, _)| n == node).unwrap().1;
        self.labs[i].ssh_ok(&address, &format!("sudo {command}"));
    }

    fn signal(&self, i: usize, node: &str, sig: &str) {
        let pid =
            std::fs::read_to_string(self.labs[i].dir().join("nodes").join(node).join("sshd.pid"))
                .unwrap();
        assert!(
            std::process::Command::new("kill").args([sig, pid.trim()]).status().unwrap().success()
        );
    }

    fn routes(&self, i: usize, node: &str) -> String {
        let out = std::process::Command::new("ip")
            .args(["-n", &format!("labctl-{}-{node}", self.labs[i].name), "route"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn a_gradebook_of_six_labs_in_every_format_then_run_and_reset_hard_the_class() {
    let root = Root::new();
    let class = Class::up(&root);
    // done: by labctl. hand: the student's routes by hand. wronghop: labctl's, then one route
    // by hand via an address nobody answers. down: worker-1 stops answering.
    class.one(0, &["run", "11-pod-network-routes"]).any_stderr().run();
    class.by_hand(1, "worker-0", "ip route replace 10.200.1.0/24 via 10.238.2.21");
    class.by_hand(1, "worker-1", "ip route replace 10.200.0.0/24 via 10.238.2.20");
    class.one(4, &["run", "11-pod-network-routes"]).any_stderr().run();
    class.by_hand(4, "worker-0", "ip route replace 10.200.1.0/24 via 10.238.5.99");
    class.signal(3, "worker-1", "-STOP");

    let dir = root.path();
    let (csv, junit, html) = (dir.join("class.csv"), dir.join("class.xml"), dir.join("class.html"));
    let verify = class
        .labctl(&[
            "verify",
            "--csv",
            csv.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ])
        .output();
    let json = class.labctl(&["verify", "--output", "json"]).output();
    let detail = class.labctl(&["verify", "--env", "wronghop"]).output();
    class.signal(3, "worker-1", "-CONT");

    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    let missing = root.path().join("missing/labctl.yaml");
    assert_eq!(
        steady(&String::from_utf8_lossy(&verify.stdout)),
        format!(
            "ENVIRONMENT  RESULT  ROUTES  POD PAIRS  HOST CHECKS  SCORE  TIME   DIAGNOSIS\n\
             done         passed  2/2     2/2        2/2          6/6    T s\n\
             hand         passed  2/2     2/2        2/2          6/6    T s\n\
             untouched    failed  0/2     0/2        2/2          2/6    T s  worker-0 has no route to worker-1's pod CIDR 10.200.1.0/24: run `sudo ip route replace 10.200.1.0/24 via 10.238.3.21` on worker-0, or `labctl run 11-pod-network-routes`\n\
             down         failed  0/2     0/2        1/1          1/5    T s  worker-1 could not be reached: `worker-1` at 10.238.4.21:22 did not answer within 5s\n\
             wronghop     failed  1/2     0/2        2/2          3/6    T s  worker-0 sends packets for worker-1's pod CIDR 10.200.1.0/24 via 10.238.5.99 (dev enp0s8), not via worker-1's address 10.238.5.21: run `sudo ip route replace 10.200.1.0/24 via 10.238.5.21` on worker-0, or `labctl run 11-pod-network-routes --replace`\n\
             missing      error   -       -          -            -      T s  {m}: cannot read: No such file or directory (os error 2)\n\
             class: 2 of 6 environments pass; 3 failed, 1 could not be checked\n",
            m = missing.display(),
        ),
        "{}",
        text(&verify)
    );

    // JSON: one document, every environment, the summary's counts.
    assert_eq!(json.status.code(), Some(1), "{}", text(&json));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON document");
    assert_eq!(
        value["summary"],
        serde_json::json!({"environments": 6, "passed": 2, "failed": 3, "errors": 1})
    );
    let statuses: Vec<String> =
        value["environments"].as_array().unwrap().iter().map(|e| str_of(&e["status"])).collect();
    assert_eq!(statuses, ["passed", "passed", "failed", "failed", "failed", "error"]);
    assert_eq!(value["environments"][3]["exit_code"], 3);
    assert_eq!(value["environments"][5]["report"], serde_json::Value::Null);
    assert_eq!(value["environments"][4]["report"]["diagnoses"][0]["code"], "wrong-next-hop");
    // Off a terminal, stderr has one line per change of each environment, then the class's.
    let events = stderr(&json);
    for name in NAMES {
        assert!(events.contains(&format!("{name}: started\n")), "{events}");
    }
    assert!(events.contains("\ndone: passed  verify: 2 of 2 pairs pass"), "{events}");
    assert!(events.contains("\ndown: failed  worker-1 could not be reached"), "{events}");
    assert!(events.ends_with("\nerror: class: 2 of 6 environments ok\n"), "{events}");

    // The whole document, exactly (what varies from run to run made steady).
    golden("verify.json", &normalize(&String::from_utf8_lossy(&json.stdout), &class));

    // --env: the gradebook, and under it only wronghop's detail.
    let out = String::from_utf8_lossy(&detail.stdout).into_owned();
    assert!(out.starts_with("== wronghop ("), "{out}");
    assert_eq!(out.matches("== ").count(), 1, "{out}");

    // CSV: a header and one row per environment.
    let rows = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<String> = rows.lines().map(steady_csv).collect();
    assert_eq!(rows.len(), 7, "{rows:?}");
    assert_eq!(
        rows[0],
        "environment,passed,status,score,checks_passed,checks_total,routes_passed,routes_total,pod_pairs_passed,pod_pairs_total,host_checks_passed,host_checks_total,seconds,exit_code,diagnosis"
    );
    assert_eq!(rows[1], "done,true,passed,1.00,6,6,2,2,2,2,2,2,T,0,");
    assert_eq!(
        rows[3],
        "untouched,false,failed,0.33,2,6,0,2,0,2,2,2,T,1,\"worker-0 has no route to worker-1's pod CIDR 10.200.1.0/24: run `sudo ip route replace 10.200.1.0/24 via 10.238.3.21` on worker-0, or `labctl run 11-pod-network-routes`\""
    );
    assert!(rows[6].starts_with("missing,false,error,0.00,0,0,0,0,0,0,0,0,T,2,"), "{}", rows[6]);

    // JUnit: every environment, the name in suites and class names, the missing one an error.
    let xml = std::fs::read_to_string(&junit).unwrap();
    for name in NAMES.iter().take(5) {
        assert!(
            xml.contains(&format!("<testsuite name=\"{name}/route-evidence\"")),
            "{name}: {xml}"
        );
        assert!(
            xml.contains(&format!("classname=\"{name}.11-pod-network-routes.data-plane\"")),
            "{name}"
        );
    }
    assert!(xml.contains(r#"<testsuite name="missing/verify" tests="1" skipped="0" errors="1" failures="0" timestamp=""#), "{xml}");
    assert!(xml.contains(r#"<testcase name="verify" classname="missing.verify">"#), "{xml}");

    let csv_text = normalize(&std::fs::read_to_string(&csv).unwrap(), &class);
    golden("verify.csv", &(csv_text.lines().map(steady_csv).collect::<Vec<_>>().join("\n") + "\n"));
    golden("verify.junit.xml", &normalize(&xml, &class));
    golden("verify.txt", &normalize(&String::from_utf8_lossy(&verify.stdout), &class));
    golden("verify-env.txt", &normalize(&String::from_utf8_lossy(&detail.stdout), &class));

    // HTML, read back from headless Chromium: every environment and every grid cell.
    let dom = chromium_dom(&html, &root.path().join("class.png"));
    golden("verify.dom.html", &normalize(&dom, &class));
    for name in NAMES {
        assert!(dom.contains(&format!("<tr data-env=\"{name}\">")), "{name} not in the grid");
        assert!(dom.contains(&format!("<section id=\"env-{name}\">")), "{name} has no section");
    }
    assert!(
        dom.contains(
            r#"<td class="pass">2/2</td><td class="pass">2/2</td><td class="pass">2/2</td>"#
        ),
        "{dom}"
    );
    assert!(
        dom.contains(
            r#"<td class="fail">0/2</td><td class="fail">0/2</td><td class="pass">2/2</td>"#
        ),
        "{dom}"
    );
    assert!(dom.contains(r#"<td class="error">-</td>"#), "{dom}");

    // run --class while one lab is locked: it says so, the others are done.
    let state = class.labs[2].dir().join(".labctl");
    std::fs::create_dir_all(&state).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join("lock"))
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(state.join("lock"), "pid 4242 on host classroom").unwrap();
    let run = class.labctl(&["run", "11-pod-network-routes", "--replace"]).output();
    drop(lock);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    let out = steady(&String::from_utf8_lossy(&run.stdout));
    assert!(
        out.contains("untouched    exit 2  T s  the lab is locked by pid 4242 on host classroom"),
        "{out}"
    );
    assert!(out.contains("done         ok      T s  run: 0 changed, 2 ok, 0 failed"), "{out}");
    assert!(out.contains("wronghop     ok      T s  run: 1 changed, 1 ok, 0 failed"), "{out}");
    let run = class.labctl(&["run", "11-pod-network-routes"]).output();
    let out = steady(&String::from_utf8_lossy(&run.stdout));
    assert!(out.contains("untouched    ok      T s  run: 2 changed, 0 ok, 0 failed"), "{out}");

    // reset --hard on the class: every lab back at the start, the hand-made routes too.
    let reset = class.labctl(&["reset", "--hard", "--yes"]).output();
    assert_eq!(reset.status.code(), Some(2), "only the missing inventory fails: {}", text(&reset));
    for (i, _) in class.labs.iter().enumerate() {
        for node in ["worker-0", "worker-1"] {
            let routes = class.routes(i, node);
            assert!(
                !routes.contains(" via 10.238."),
                "{} {node} keeps routes:\n{routes}",
                NAMES[i]
            );
        }
    }
    // Without --yes and off a terminal: one refusal for the whole class, nothing changed.
    let ask = class.labctl(&["reset"]).any_stderr().status(2).run();
    assert!(
        stderr(&ask).contains("reset (undo what labctl applied) on 6 environment(s):"),
        "{}",
        text(&ask)
    );
    assert_eq!(
        stderr(&ask).matches("there is no terminal to ask on; pass `--yes` to confirm").count(),
        1,
        "{}",
        text(&ask)
    );
}

/// Compares `actual` with the golden file `tests/corpus/class/NAME`; `LABCTL_BLESS=1` writes it.
fn golden(name: &str, actual: &str) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/class").join(name);
    if std::env::var_os("LABCTL_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (LABCTL_BLESS=1 writes it)", path.display()));
    if expected != actual {
        let at = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{name} differs from {} at line {}:\nexpected: {:?}\nactual:   {:?}\n\nwhole output:\n{actual}",
            path.display(),
            at + 1,
            expected.lines().nth(at),
            actual.lines().nth(at)
        );
    }
}

/// What varies from run to run, made steady: the temporary root, the sandboxes' unique names,
/// times and timestamps, and how many of two pings came back (one is a pass, as two).
fn normalize(text: &str, class: &Class<'_>) -> String {
    let mut text = text.replace(class.root.path().to_str().unwrap(), "<root>");
    for (lab, name) in class.labs.iter().zip(NAMES) {
        text = text.replace(&lab.name, &format!("<{name}>"));
    }
    let text = replace_each(&text, timestamp_len, "<time>");
    let text = replace_each(&text, seconds_len, "T s");
    let text = replace_after(&text, "\"seconds\": ", |c| c.is_ascii_digit() || c == '.', "T");
    let text = replace_after(&text, "time=\"", |c| c.is_ascii_digit() || c == '.', "T");
    let text: Vec<String> = text
        .lines()
        .map(|l| match l.contains("pings answered") {
            true => l.replace("1 of 2", "N of 2").replace("2 of 2", "N of 2"),
            false => l.to_string(),
        })
        .collect();
    steady(&(text.join("\n") + "\n"))
}

/// The length of a duration such as `12.3 s` starting at `s`, if one does.
fn seconds_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let whole = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let ok = whole > 0
        && b.get(whole) == Some(&b'.')
        && b.get(whole + 1).is_some_and(u8::is_ascii_digit)
        && s[whole + 2..].starts_with(" s")
        && !b.get(whole + 4).is_some_and(u8::is_ascii_alphanumeric);
    ok.then_some(whole + 4)
}

/// The length of an RFC 3339 timestamp starting at `s`, if one does.
fn timestamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let shape = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18].iter().all(|i| digit(*i))
        && at(4, b'-')
        && at(7, b'-')
        && at(10, b'T')
        && at(13, b':')
        && at(16, b':');
    if !shape {
        return None;
    }
    let mut i = 19;
    if at(i, b'.') {
        i += 1;
        while digit(i) {
            i += 1;
        }
    }
    if at(i, b'Z') {
        return Some(i + 1);
    }
    ((at(i, b'+') || at(i, b'-')) && digit(i + 1) && digit(i + 2) && at(i + 3, b':'))
        .then_some(i + 6)
}

fn replace_each(text: &str, len: impl Fn(&str) -> Option<usize>, with: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < text.len() {
        match len(&text[i..]) {
            Some(n) => {
                out.push_str(with);
                i += n;
            }
            None => {
                let c = text[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

fn replace_after(text: &str, marker: &str, part: impl Fn(char) -> bool, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at + marker.len()]);
        rest = &rest[at + marker.len()..];
        let end = rest.find(|c: char| !part(c)).unwrap_or(rest.len());
        if end > 0 {
            out.push_str(with);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn steady_csv(line: &str) -> String {
    let fields: Vec<&str> = line.splitn(15, ',').collect();
    if fields.len() < 15 || fields[0] == "environment" {
        return line.to_string();
    }
    let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    fields[12] = "T".into();
    fields.join(",")
}

/// The DOM headless Chromium builds from `page`, and a screenshot at `png` (a test artifact).
fn chromium_dom(page: &std::path::Path, png: &std::path::Path) -> String {
    let run = |extra: &str| {
        std::process::Command::new("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", extra])
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("chromium runs (Debian package chromium)")
    };
    let shot = run(&format!("--screenshot={}", png.display()));
    assert!(shot.status.success(), "{}", text(&shot));
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("class.png");
    let _ = std::fs::copy(png, artifacts);
    let dom = run("--dump-dom");
    assert!(dom.status.success(), "{}", text(&dom));
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

#[test]
fn a_bad_class_file_is_located() {
    let root = Root::new();
    let class = root.path().join("class.yaml");
    std::fs::write(&class, "environments:\n  - { name: alice, inventory: a.yaml, extra: 1 }\n")
        .unwrap();
    let out = root.labctl(["verify"]).class(&class).output();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}:2:39: unknown field `extra`, expected one of name, inventory\n",
            class.display()
        )
    );
}

#[test]
fn ctrl_c_on_a_class_finishes_what_runs_and_exits_130() {
    require_root();
    let root = Root::new();
    let labs: Vec<Lab> = ["ia", "ib"]
        .iter()
        .enumerate()
        .map(|(i, tag)| {
            Lab::up(
                &root,
                &unique_name(tag),
                &["--network", &format!("10.238.{}.0/24", 7 + i), "--workers", "2"],
            )
        })
        .collect();
    let file = root.path().join("class.yaml");
    std::fs::write(
        &file,
        format!(
            "environments:\n  - {{ name: ia, inventory: {} }}\n  - {{ name: ib, inventory: {} }}\n",
            labs[0].dir().join("labctl.yaml").display(),
            labs[1].dir().join("labctl.yaml").display()
        ),
    )
    .unwrap();
    // ib's worker-1 hangs: its handshake waits for the connect timeout.
    let pid = std::fs::read_to_string(labs[1].dir().join("nodes/worker-1/sshd.pid")).unwrap();
    let kill = |sig: &str, pid: &str| {
        assert!(
            std::process::Command::new("kill").args([sig, pid.trim()]).status().unwrap().success()
        )
    };
    kill("-STOP", &pid);
    let mut child = root.labctl(["verify"]).class(&file).connect_timeout(6).spawn();
    // Once ia is done, ib is inside its verify, listening for Ctrl-C.
    let stderr_pipe = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        let done = line.starts_with("ia: ") && !line.ends_with("started");
        seen.push(line);
        if done {
            break;
        }
    }
    kill("-INT", &child.id().to_string());
    let status = child.wait().unwrap();
    kill("-CONT", &pid);
    seen.extend(rx.try_iter());
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(status.code(), Some(130), "{seen:?}\n{out}");
    assert_eq!(seen.iter().filter(|l| l.starts_with("labctl: interrupted")).count(), 1, "{seen:?}");
    assert!(out.contains("interrupted (Ctrl-C): not every check ran"), "{out}");
    // Nothing of verify is left on any node of either lab.
    for lab in &labs {
        for node in ["worker-0", "worker-1"] {
            let out = std::process::Command::new("ip")
                .args(["-n", &format!("labctl-{}-{node}", lab.name), "-o", "link"])
                .output()
                .unwrap();
            assert!(!String::from_utf8_lossy(&out.stdout).contains(" lcp"), "{} {node}", lab.name);
        }
    }
}
