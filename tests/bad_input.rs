//! The bad-input corpus (`tests/corpus/`): every malformed chapter and inventory gives exit
//! code 2 and exactly the message in the `.stderr` file beside it (file, line and problem).
//! Run with `LABCTL_BLESS=1` to write the `.stderr` files after a deliberate message change,
//! then read the diff.

use crate::harness;

use std::path::{Path, PathBuf};

use harness::{Test, repo};

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = repo().join("tests/corpus").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "stderr"))
        .collect();
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo()).unwrap().to_string_lossy().into_owned()
}

/// Runs labctl on every file of a corpus and compares stderr with the `.stderr` file.
fn check_corpus(kind: &str, args: impl Fn(&str) -> Vec<String>) -> usize {
    let files = corpus(kind);
    let bless = std::env::var_os("LABCTL_BLESS").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let rel = relative(file);
        let expected_path = PathBuf::from(format!("{}.stderr", file.display()));
        let out = Test::new().args(args(&rel)).any_stderr().status(2).run();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{rel}: labctl panicked:\n{stderr}");
        assert!(
            stderr.starts_with(&format!("error: {rel}")),
            "{rel}: message does not name the file:\n{stderr}"
        );
        if bless {
            std::fs::write(&expected_path, &stderr).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != stderr {
            failures.push(format!("{rel}\n  expected: {expected:?}\n  actual:   {stderr:?}"));
        }
    }
    assert!(failures.is_empty(), "messages differ:\n{}", failures.join("\n"));
    files.len()
}

#[test]
fn malformed_chapters_are_refused_with_located_messages() {
    let n = check_corpus("chapters", |file| vec!["show".into(), file.into()]);
    assert!(n >= 30, "the chapter corpus has only {n} files");
}

#[test]
fn malformed_inventories_are_refused_with_located_messages() {
    let n = check_corpus("inventories", |file| {
        vec!["-i".into(), file.into(), "render".into(), "11-pod-network-routes".into()]
    });
    assert!(n >= 15, "the inventory corpus has only {n} files");
}

#[test]
fn a_huge_file_is_refused_before_it_is_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let line = "# padding padding padding padding padding padding padding padding padding\n";
    std::fs::write(&path, line.repeat(80_000)).unwrap();
    let p = path.to_str().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let expected = format!(
        "error: {p}: file is {size} bytes; labctl reads input files of at most 4194304 bytes\n"
    );
    Test::new().args(["show", p]).stderr(&expected).status(2).run();
    Test::new()
        .args(["-i", p, "render", "11-pod-network-routes"])
        .stderr(&expected)
        .status(2)
        .run();
}

#[test]
fn a_missing_file_is_named() {
    Test::new()
        .args(["show", "no/such/chapter.yaml"])
        .stderr(
            "error: no/such/chapter.yaml: cannot read: No such file or directory (os error 2)\n",
        )
        .status(2)
        .run();
}
