//! Reading what the labctl subprocesses of `labctl test` printed (docs/chapters.md, "Testing a
//! chapter: labctl test").
//!
//! Every command is read from its `--output json` (docs/verify-json.md, docs/plan-json.md,
//! docs/json.md) and its exit code; tests/e2e_chapter_test.rs reads the real commands' output.

use std::collections::BTreeSet;

/// The name of the host check verify adds on its own for every worker whose node tells its pod
/// subnet (docs/verify-json.md, `host_checks`): node and inventory agree on a healthy lab before
/// and after any chapter, so it is not one of the chapter's checks and proves nothing either way.
pub const POD_CIDR_CHECK: &str = "pod CIDR";

/// The counts of `run --output json`'s summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub changed: u64,
    pub ok: u64,
    pub failed: u64,
    pub unreachable: u64,
    pub skipped: u64,
}

/// The `summary` object of a command's JSON (docs/json.md).
fn summary(stdout: &str) -> Option<serde_json::Value> {
    let json: serde_json::Value = serde_json::from_str(stdout).ok()?;
    json.get("summary").cloned()
}

/// Reads `run --output json`'s counts.
pub fn run_counts(stdout: &str) -> Option<RunCounts> {
    let s = summary(stdout)?;
    let n = |key: &str| s.get(key).and_then(serde_json::Value::as_u64);
    Some(RunCounts {
        changed: n("changed")?,
        ok: n("ok")?,
        failed: n("failed")?,
        unreachable: n("unreachable")?,
        skipped: n("skipped")?,
    })
}

/// What `plan` printed: the actions it would run, per host, and its summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanView {
    /// `(host, action)` for every `run` line, e.g. `("worker-0", "pod-routes (peer worker-1)")`.
    pub to_do: BTreeSet<(String, String)>,
    /// Actions shown as conflicts or whose check could not run.
    pub unsure: usize,
    /// Its last line, e.g. `plan: nothing to change (6 already done)`.
    pub summary: String,
}

impl PlanView {
    /// True when the plan has nothing to do and nothing it could not tell.
    pub fn is_empty(&self) -> bool {
        self.to_do.is_empty() && self.unsure == 0 && self.summary.starts_with("plan: nothing")
    }
}

/// Reads `plan --output json` (docs/plan-json.md): the actions whose status is `change`,
/// named `STEP (ITEM)` per host, and those `unknown` or in `conflict`.
pub fn plan_view(stdout: &str) -> Option<PlanView> {
    #[derive(serde::Deserialize)]
    struct Plan {
        summary: Summary,
        hosts: Vec<Host>,
    }
    #[derive(serde::Deserialize)]
    struct Summary {
        change: usize,
        done: usize,
        unknown: usize,
        conflict: usize,
    }
    #[derive(serde::Deserialize)]
    struct Host {
        host: String,
        actions: Vec<Action>,
    }
    #[derive(serde::Deserialize)]
    struct Action {
        step: String,
        item: Option<String>,
        status: String,
    }
    let plan: Plan = serde_json::from_str(stdout).ok()?;
    let mut view = PlanView::default();
    for host in &plan.hosts {
        for a in &host.actions {
            let label = match &a.item {
                Some(item) => format!("{} ({item})", a.step),
                None => a.step.clone(),
            };
            match a.status.as_str() {
                "change" => {
                    view.to_do.insert((host.host.clone(), label));
                }
                "unknown" | "conflict" => view.unsure += 1,
                _ => {}
            }
        }
    }
    let s = &plan.summary;
    view.summary = if s.change + s.unknown + s.conflict == 0 {
        format!("plan: nothing to change ({} already done)", s.done)
    } else {
        format!(
            "plan: {} to change, {} already done, {} unknown, {} in conflict",
            s.change, s.done, s.unknown, s.conflict
        )
    };
    Some(view)
}

/// The differences between two plans' actions, in words (empty when they are the same).
pub fn plan_difference(before: &PlanView, after: &PlanView) -> Vec<String> {
    let name = |(host, action): &(String, String)| format!("{action} on {host}");
    let missing = before.to_do.difference(&after.to_do).map(|a| format!("missing: {}", name(a)));
    let extra = after.to_do.difference(&before.to_do).map(|a| format!("new: {}", name(a)));
    missing.chain(extra).collect()
}

/// What one `verify --output json` found, as far as `labctl test` needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyView {
    pub passed: bool,
    pub pairs: usize,
    pub pairs_passed: usize,
    /// The chapter's host checks (not verify's own `pod CIDR` ones).
    pub host_checks: usize,
    pub host_checks_passed: usize,
    /// verify's own `pod CIDR` checks, left out of the counts.
    pub pod_cidr_checks: usize,
    /// Every check that passed, in words: `` `my-check` on worker-0 ``, `pair worker-0 → worker-1`,
    /// `route evidence worker-0 → worker-1`.
    pub passing: Vec<String>,
}

impl VerifyView {
    /// `0 of 6 pairs pass, 0 of 3 host checks pass`.
    pub fn counts(&self) -> String {
        let mut parts = Vec::new();
        if self.pairs > 0 {
            parts.push(format!("{} of {} pairs pass", self.pairs_passed, self.pairs));
        }
        if self.host_checks > 0 {
            parts.push(format!(
                "{} of {} host checks pass",
                self.host_checks_passed, self.host_checks
            ));
        }
        if parts.is_empty() {
            return "nothing checked".into();
        }
        parts.join(", ")
    }
}

/// Reads verify's JSON report (docs/verify-json.md). A pair whose every check passes is named
/// as the pair; otherwise each of its checks that passes is named on its own, since a check
/// that passes on an untouched lab proves nothing even when another check of the pair fails.
pub fn verify_view(stdout: &str) -> Option<VerifyView> {
    let json: serde_json::Value = serde_json::from_str(stdout).ok()?;
    let mut view = VerifyView { passed: json["passed"].as_bool()?, ..VerifyView::default() };
    for pair in json["pairs"].as_array()? {
        let from = pair["from"].as_str().unwrap_or("?");
        let to = pair["to"].as_str().unwrap_or("?");
        view.pairs += 1;
        if pair["passed"].as_bool() == Some(true) {
            view.pairs_passed += 1;
            view.passing.push(format!("pair {from} → {to}"));
            continue;
        }
        for (key, words) in [("route_evidence", "route evidence"), ("data_plane", "pod ping")] {
            if pair[key]["passed"].as_bool() == Some(true) {
                view.passing.push(format!("{words} {from} → {to}"));
            }
        }
    }
    for check in json["host_checks"].as_array()? {
        let name = check["name"].as_str().unwrap_or("?");
        if name == POD_CIDR_CHECK {
            view.pod_cidr_checks += 1;
            continue;
        }
        view.host_checks += 1;
        if check["passed"].as_bool() == Some(true) {
            view.host_checks_passed += 1;
            let host = check["host"].as_str().unwrap_or("?");
            view.passing.push(format!("`{name}` on {host}"));
        }
    }
    Some(view)
}

/// `reset --output json`'s count of undone actions.
pub fn reset_undone(stdout: &str) -> Option<u64> {
    summary(stdout)?.get("changed")?.as_u64()
}

/// `reset --hard --output json`'s counts: (undone by labctl, removed).
pub fn reset_hard_counts(stdout: &str) -> Option<(u64, u64)> {
    let s = summary(stdout)?;
    Some((s.get("undone")?.as_u64()?, s.get("removed")?.as_u64()?))
}

/// What a failed labctl said, in one line for a table's detail: its last `error: ` line
/// (without the word), else its last non-empty line.
pub fn last_line(text: &str) -> String {
    let lines = || text.lines().rev().map(str::trim);
    if let Some(error) = lines().find_map(|l| l.strip_prefix("error: ")) {
        return error.to_string();
    }
    lines().find(|l| !l.is_empty()).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_summary_is_read() {
        let out = r#"{"command": "run", "summary": {"changed": 6, "ok": 1, "skipped": 2, "failed": 0, "unreachable": 0, "conflicts": 0}, "hosts": []}"#;
        assert_eq!(
            run_counts(out),
            Some(RunCounts { changed: 6, ok: 1, failed: 0, unreachable: 0, skipped: 2 })
        );
        assert_eq!(run_counts("run: 6 changed\n"), None);
        assert_eq!(run_counts(r#"{"summary": {"changed": 1}}"#), None);
    }

    fn plan_json(hosts: &str, change: usize, done: usize) -> String {
        format!(
            r#"{{"chapter": "c", "variant": "static", "decisions": [],
                "summary": {{"change": {change}, "done": {done}, "unknown": 0, "conflict": 0}},
                "hosts": [{hosts}]}}"#
        )
    }

    #[test]
    fn plan_actions_and_summary_are_read() {
        let out = plan_json(
            r#"{"host": "worker-0", "address": null, "actions": [
                 {"step": "pod-routes", "item": "peer worker-1", "status": "change"},
                 {"step": "pod-routes", "item": "peer worker-2", "status": "done"}]},
               {"host": "worker-1", "address": null, "actions": [
                 {"step": "pod-routes", "item": "peer worker-0", "status": "change"}]}"#,
            2,
            1,
        );
        let view = plan_view(&out).unwrap();
        let expected: BTreeSet<(String, String)> = [
            ("worker-0".to_string(), "pod-routes (peer worker-1)".to_string()),
            ("worker-1".to_string(), "pod-routes (peer worker-0)".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(view.to_do, expected);
        assert!(!view.is_empty());
        let empty = plan_view(&plan_json(
            r#"{"host": "worker-0", "address": null, "actions": [{"step": "a", "item": null, "status": "done"}]}"#,
            0,
            1,
        ))
        .unwrap();
        assert!(empty.is_empty());
        let mut other = view.clone();
        other.to_do.remove(&("worker-1".to_string(), "pod-routes (peer worker-0)".to_string()));
        assert_eq!(
            plan_difference(&view, &other),
            ["missing: pod-routes (peer worker-0) on worker-1"]
        );
        assert_eq!(plan_view("no summary"), None);
    }

    #[test]
    fn verify_json_names_what_passes_and_leaves_out_pod_cidr_checks() {
        let json = r#"{"passed": false, "pairs": [
            {"from": "worker-0", "to": "worker-1", "passed": false,
             "route_evidence": {"passed": true, "evidence": ""}, "data_plane": {"passed": false, "evidence": ""}},
            {"from": "worker-1", "to": "worker-0", "passed": true,
             "route_evidence": {"passed": true, "evidence": ""}, "data_plane": {"passed": true, "evidence": ""}}],
            "host_checks": [
              {"name": "pod CIDR", "host": "worker-0", "passed": true, "evidence": ""},
              {"name": "always", "host": "worker-0", "passed": true, "evidence": ""},
              {"name": "marker", "host": "worker-1", "passed": false, "evidence": ""}]}"#;
        let view = verify_view(json).unwrap();
        assert_eq!(
            view.passing,
            [
                "route evidence worker-0 → worker-1",
                "pair worker-1 → worker-0",
                "`always` on worker-0"
            ]
        );
        assert_eq!(view.counts(), "1 of 2 pairs pass, 1 of 2 host checks pass");
        assert_eq!(view.pod_cidr_checks, 1);
        assert_eq!(verify_view("error"), None);
    }

    #[test]
    fn reset_summaries_are_read() {
        let reset = r#"{"command": "reset", "summary": {"changed": 6, "ok": 0, "skipped": 0, "failed": 0, "unreachable": 0, "conflicts": 0}, "hosts": []}"#;
        assert_eq!(reset_undone(reset), Some(6));
        let hard = r#"{"command": "reset --hard", "dry_run": false, "summary": {"found": 6, "undone": 0, "removed": 6, "not_at_start": 0, "unreachable": 0}, "hosts": []}"#;
        assert_eq!(reset_hard_counts(hard), Some((0, 6)));
        assert_eq!(reset_hard_counts("reset --hard: nothing to remove\n"), None);
        assert_eq!(last_line("a\nerror: the lab is locked\n\n"), "the lab is locked");
        assert_eq!(last_line("error: no footprint\n  help: see the docs\n"), "no footprint");
        assert_eq!(last_line("a\nb\n"), "b");
    }
}
