//! The boundary between the generic core and chapter 11's own Rust (`src/pod_network/`), and
//! the direction of dependencies between the folders of `src/` (docs/architecture.md, "Layers
//! (folders)"). Both read the source: comments and the `#[cfg(test)] mod tests` at the end of a
//! file are left out, code and its string literals count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files outside `src/pod_network/` and `src/commands/` that still name flannel, GCE or routes,
/// each with why. Keep it short: a file cleaned is a line removed.
const WORD_ALLOWED: &[(&str, &str)] = &[
    ("src/cli.rs", "the command line's help and examples name the chapter's variants"),
    ("src/facts/cni_config.rs", "the CNI config names flannel's plugin type"),
    ("src/facts/host.rs", "a host's facts have its routing table and `ip route get` answers"),
    ("src/facts/mod.rs", "re-exports the route facts"),
    ("src/facts/route_get.rs", "the fact `ip route get`"),
    ("src/facts/routes.rs", "the fact `ip route`"),
    ("src/facts/section.rs", "names the iproute2 package in a message"),
    ("src/chapter/mod.rs", "a chapter's default variant per inventory provider, `gce` among them"),
    (
        "src/chapter/schema.rs",
        "default variants per inventory provider, and `cloud: gce`, the cloud a variant acts on",
    ),
    ("src/sandbox/args.rs", "a sandbox can imitate a GCE VPC"),
    ("src/sandbox/names.rs", "the sandbox's router namespace"),
    ("src/sandbox/netns.rs", "the sandbox reads and writes routes of its namespaces"),
    ("src/sandbox/network.rs", "the sandbox's router and its GCE-like VPC routes"),
    ("src/sandbox/pod.rs", "the sandbox's pod namespaces have routes"),
    ("src/sandbox/programs.rs", "needs iproute2"),
    ("src/sandbox/spec.rs", "a sandbox's spec: router, GCE provider"),
    ("src/sandbox/state.rs", "the sandbox's router namespace"),
    ("src/sandbox/status.rs", "the sandbox's router"),
    ("src/sandbox/up.rs", "the sandbox's router and routes"),
    ("src/inventory/lint.rs", "a worker of `provider: gce` may leave its pod CIDR to its instance"),
    ("src/inventory/model.rs", "`provider: gce` is one of the inventory's providers"),
    ("src/inventory/yaml_format.rs", "accepts `flannel:` and `gce:` at the top level as `vars:`"),
];

/// Dependencies that close a cycle, left out before looking for cycles, each with why.
const CYCLE_ALLOWED: &[(&str, &str, &str)] = &[];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of code of a file: comments and the trailing test module left out.
fn code_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = Vec::new();
    let mut all = text.lines().peekable();
    while let Some(line) = all.next() {
        if line.trim() == "#[cfg(test)]"
            && all.peek().is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        lines.push(code.to_string());
    }
    lines
}

fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/")
}

#[test]
fn the_generic_core_does_not_name_chapter_11() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let allowed: BTreeMap<&str, &str> = WORD_ALLOWED.iter().copied().collect();
    let mut found = BTreeSet::new();
    let mut problems = Vec::new();
    for path in files {
        let name = relative(&path);
        if name.starts_with("src/pod_network/") || name.starts_with("src/commands/") {
            continue;
        }
        for (n, line) in code_lines(&path).iter().enumerate() {
            let lower = line.to_lowercase();
            if ["flannel", "gce", "route"].iter().any(|w| lower.contains(w)) {
                found.insert(name.clone());
                if !allowed.contains_key(name.as_str()) {
                    problems.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "chapter 11 belongs in src/pod_network/ (docs/architecture.md):\n{}",
        problems.join("\n")
    );
    let stale: Vec<&&str> = allowed.keys().filter(|f| !found.contains(**f)).collect();
    assert!(stale.is_empty(), "clean now, take them off WORD_ALLOWED: {stale:?}");
}

#[test]
fn the_folders_of_src_have_no_cycles() {
    let root = src();
    let folders: BTreeSet<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for folder in &folders {
        let mut files = Vec::new();
        rust_files(&root.join(folder), &mut files);
        for path in files {
            for line in code_lines(&path) {
                for (i, _) in line.match_indices("crate::") {
                    let rest = &line[i + "crate::".len()..];
                    let name: String =
                        rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                    let allowed = CYCLE_ALLOWED.iter().any(|(a, b, _)| a == folder && *b == name);
                    if folders.contains(&name) && &name != folder && !allowed {
                        deps.entry(folder.clone()).or_default().insert(name);
                    }
                }
            }
        }
    }
    // Every cycle goes through some pair (a, b) with a path a → b and b → a: find the pairs
    // by reachability.
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(f) = todo.pop() {
            for d in deps.get(&f).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    };
    let mut problems = Vec::new();
    for (a, direct) in &deps {
        for b in direct {
            if reach(b).contains(a) {
                problems.push(format!("{a} -> {b} is part of a cycle"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "dependencies go one way (docs/architecture.md, \"Layers (folders)\"):\n{}\n{deps:#?}",
        problems.join("\n")
    );
}
