//! The result of verify and its three renderings: text for people, JSON for programs
//! (`--output json`, documented in `docs/verify-json.md`), JUnit XML for graders and CI.
//!
//! The model is checks with evidence and diagnoses. A chapter's own Rust may add checks
//! between pairs of nodes, of kinds it names ([`PairKind`]), which are shown as a node × node
//! matrix; a chapter of data has host checks alone. Rendering is pure and deterministic, so
//! tests compare whole outputs.

use std::net::Ipv4Addr;

use comfy_table::{CellAlignment, Table, presets};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

/// Everything verify found, for every ordered pair of workers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub chapter: String,
    /// What a pair's evidence is checked against, in the chapter's words (`via-peer`), when
    /// the chapter says.
    pub expectation: Option<String>,
    /// True when there was something to check and every check passed.
    pub passed: bool,
    /// Whether the chapter compares workers in pairs (route evidence, ping matrix); when not,
    /// every check is about one host, and `nodes` and `pairs` are empty.
    pub pairwise: bool,
    pub summary: Summary,
    /// The workers, in inventory order (the matrix's rows and columns).
    pub nodes: Vec<String>,
    /// Every ordered pair (from, to), rows first, in inventory order.
    pub pairs: Vec<PairResult>,
    /// Each distinct diagnosis once, with the failed pairs it explains, in order of first
    /// appearance.
    pub diagnoses: Vec<DiagnosisGroup>,
    /// The chapter's checks that are about one host, not a pair (rollout, custom commands...).
    pub host_checks: Vec<HostCheck>,
    /// Every check made, pairs' and hosts' alike, with its evidence and diagnoses: the report's
    /// model, of which `pairs` (the matrix) and `host_checks` (the check × host table) are views.
    pub checks: Vec<Check>,
}

/// One check with what was seen and why it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What kind of check: `route-evidence` and `data-plane` (of a pair of workers), or `host`.
    pub kind: &'static str,
    /// The check's name: `FROM -> TO` for a pair's, the chapter's name for a host's.
    pub name: String,
    /// Where it ran: a node's name, or `local` for this machine (a pair's `from`).
    pub host: String,
    /// The other node of a pair's check (its `to`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    pub passed: bool,
    pub evidence: String,
    /// On failure, what the chapter tells the student.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Why it fails (a pair's diagnoses); empty when it passes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<Diagnosis>,
}

/// The kind of a host check in [`Check::kind`].
pub const HOST_CHECK: &str = "host";

/// A verify check on one host (or this machine), e.g. a DaemonSet's rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostCheck {
    /// The check's name, e.g. `rollout-ready` or a custom command's name.
    pub name: String,
    /// The host it ran on (`local` for this machine).
    pub host: String,
    pub passed: bool,
    /// What was seen, and on failure what to do.
    pub evidence: String,
    /// On failure, what the chapter tells the student (its check's `hint`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl HostCheck {
    pub fn new(
        name: impl Into<String>,
        host: impl Into<String>,
        passed: bool,
        evidence: String,
    ) -> HostCheck {
        HostCheck { name: name.into(), host: host.into(), passed, evidence, hint: None }
    }
}

/// Counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub pairs: usize,
    pub pairs_passed: usize,
    pub checks: usize,
    pub checks_passed: usize,
}

/// One ordered pair of nodes and the checks between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairResult {
    pub from: String,
    pub to: String,
    /// The address on `to` the checks aim at, when it has one.
    pub destination: Option<Ipv4Addr>,
    /// True when every check of the pair passed.
    pub passed: bool,
    /// Every kind of pair check the chapter has, in its order, with the result when the
    /// variant checks it (in JSON, one field per kind, `null` when not checked).
    pub checks: Vec<(PairKind, Option<CheckResult>)>,
    /// Why the pair fails (empty when it passes).
    pub diagnoses: Vec<Diagnosis>,
}

impl Serialize for PairResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(5 + self.checks.len()))?;
        map.serialize_entry("from", &self.from)?;
        map.serialize_entry("to", &self.to)?;
        map.serialize_entry("destination", &self.destination)?;
        map.serialize_entry("passed", &self.passed)?;
        for (kind, result) in &self.checks {
            map.serialize_entry(kind.key, result)?;
        }
        map.serialize_entry("diagnoses", &self.diagnoses)?;
        map.end()
    }
}

/// A kind of check between two nodes, named by the chapter whose Rust makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairKind {
    /// Its name in `checks[].kind` and JUnit, e.g. `data-plane`.
    pub name: &'static str,
    /// Its field in a pair's JSON, e.g. `data_plane`.
    pub key: &'static str,
    /// Its word in a line of the text, e.g. `ping `.
    pub label: &'static str,
    /// Its column in a class's gradebook, e.g. `pod pairs`.
    pub column: &'static str,
    /// Its count's field in the gradebook's JSON and CSV, e.g. `pod_pairs`.
    pub count_field: &'static str,
}

/// One check of one pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub passed: bool,
    /// What was seen, e.g. `10.200.1.254 via 10.240.0.21 dev enp0s8 src 10.240.0.20`.
    pub evidence: String,
}

/// A diagnosis and the pairs it explains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosisGroup {
    #[serde(flatten)]
    pub diagnosis: Diagnosis,
    pub pairs: Vec<PairName>,
}

/// An ordered pair of node names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairName {
    pub from: String,
    pub to: String,
}

impl PairResult {
    /// The pair's result of the kind called `name`, when it was checked.
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|(k, _)| k.name == name).and_then(|(_, r)| r.as_ref())
    }

    /// The pair's checks that were made, in the chapter's order.
    pub fn made(&self) -> impl Iterator<Item = (PairKind, &CheckResult)> {
        self.checks.iter().filter_map(|(k, r)| r.as_ref().map(|r| (*k, r)))
    }
}

/// The symbols of the text rendering.
struct Symbols {
    pass: &'static str,
    fail: &'static str,
    diagonal: &'static str,
    arrow: &'static str,
}

const EMOJI: Symbols = Symbols { pass: "✅", fail: "❌", diagonal: "—", arrow: "→" };
const PLAIN: Symbols = Symbols { pass: "ok  ", fail: "FAIL", diagonal: "-", arrow: "->" };

impl Report {
    /// Builds a report from its pairs: the summary, `passed` and the diagnosis groups. With
    /// no pairs, `nothing_to_check` says why (unknown is never a pass).
    pub fn new(
        chapter: &str,
        expectation: Option<String>,
        nodes: Vec<String>,
        pairs: Vec<PairResult>,
        nothing_to_check: Diagnosis,
    ) -> Report {
        let checks: Vec<&CheckResult> =
            pairs.iter().flat_map(|p| p.made().map(|(_, r)| r)).collect();
        let summary = Summary {
            pairs: pairs.len(),
            pairs_passed: pairs.iter().filter(|p| p.passed).count(),
            checks: checks.len(),
            checks_passed: checks.iter().filter(|c| c.passed).count(),
        };
        // One group per underlying problem: a missing route on a breaks a → b, and also b → a
        // (the replies), so "replies cannot come back: X" joins the group of X.
        let key =
            |d: &Diagnosis| -> String { d.cause.clone().unwrap_or_else(|| d.message.clone()) };
        let mut diagnoses: Vec<DiagnosisGroup> = Vec::new();
        for pair in &pairs {
            for d in &pair.diagnoses {
                let name = PairName { from: pair.from.clone(), to: pair.to.clone() };
                match diagnoses.iter_mut().find(|g| key(&g.diagnosis) == key(d)) {
                    Some(group) => {
                        if group.diagnosis.cause.is_some() && d.cause.is_none() {
                            group.diagnosis = d.clone();
                        }
                        if !group.pairs.contains(&name) {
                            group.pairs.push(name);
                        }
                    }
                    None => {
                        diagnoses.push(DiagnosisGroup { diagnosis: d.clone(), pairs: vec![name] })
                    }
                }
            }
        }
        if pairs.is_empty() {
            diagnoses.push(DiagnosisGroup { diagnosis: nothing_to_check, pairs: Vec::new() });
        }
        Report {
            chapter: chapter.to_string(),
            expectation,
            pairwise: true,
            passed: summary.pairs > 0 && summary.pairs_passed == summary.pairs,
            summary,
            nodes,
            pairs,
            diagnoses,
            host_checks: Vec::new(),
            checks: Vec::new(),
        }
        .with_checks()
    }

    /// Fills [`Report::checks`] from the pairs and host checks.
    fn with_checks(mut self) -> Report {
        let mut checks = Vec::new();
        for pair in &self.pairs {
            for (kind, result) in pair.made() {
                checks.push(Check {
                    kind: kind.name,
                    name: format!("{} -> {}", pair.from, pair.to),
                    host: pair.from.clone(),
                    peer: Some(pair.to.clone()),
                    passed: result.passed,
                    evidence: result.evidence.clone(),
                    hint: None,
                    diagnoses: if result.passed { Vec::new() } else { pair.diagnoses.clone() },
                });
            }
        }
        for c in &self.host_checks {
            checks.push(Check {
                kind: HOST_CHECK,
                name: c.name.clone(),
                host: c.host.clone(),
                peer: None,
                passed: c.passed,
                evidence: c.evidence.clone(),
                hint: c.hint.clone(),
                diagnoses: Vec::new(),
            });
        }
        self.checks = checks;
        self
    }

    /// The report of a chapter whose checks are all about single hosts: it passes when there
    /// was at least one check and every one passed.
    pub fn of_host_checks(chapter: &str, checks: Vec<HostCheck>) -> Report {
        let mut diagnoses = Vec::new();
        if checks.is_empty() {
            diagnoses.push(DiagnosisGroup {
                diagnosis: Diagnosis {
                    code: DiagnosisCode::NOTHING_TO_CHECK,
                    message: "no check has a host to run on in this lab (the chapter's checks name hosts it does not have)".into(), cause: None,
                },
                pairs: Vec::new(),
            });
        }
        Report {
            chapter: chapter.to_string(),
            expectation: None,
            passed: !checks.is_empty() && checks.iter().all(|c| c.passed),
            pairwise: false,
            summary: Summary { pairs: 0, pairs_passed: 0, checks: 0, checks_passed: 0 },
            nodes: Vec::new(),
            pairs: Vec::new(),
            diagnoses,
            host_checks: checks,
            checks: Vec::new(),
        }
        .with_checks()
    }

    /// The hosts of the host checks, in the order they first appear.
    pub fn checked_hosts(&self) -> Vec<&str> {
        let mut hosts: Vec<&str> = Vec::new();
        for c in &self.host_checks {
            if !hosts.contains(&c.host.as_str()) {
                hosts.push(&c.host);
            }
        }
        hosts
    }

    /// Adds the checks about single hosts; the report passes only if they pass too.
    pub fn with_host_checks(mut self, checks: Vec<HostCheck>) -> Report {
        self.passed = self.passed && checks.iter().all(|c| c.passed);
        self.host_checks = checks;
        self.with_checks()
    }

    /// Why the report is not a pass, in one line: its first diagnosis, else its first failed
    /// host check, else the summary line.
    pub fn first_cause(&self) -> String {
        let cause = self.diagnoses.first().map(|d| d.diagnosis.message.clone()).or_else(|| {
            self.host_checks
                .iter()
                .find(|c| !c.passed)
                .map(|c| format!("{} on {}: {}", c.name, c.host, c.evidence))
        });
        let cause = cause.unwrap_or_else(|| self.summary_line());
        cause.lines().next().unwrap_or_default().to_string()
    }

    /// The pair (from, to).
    pub fn pair(&self, from: &str, to: &str) -> Option<&PairResult> {
        self.pairs.iter().find(|p| p.from == from && p.to == to)
    }

    /// The one-line summary, e.g. `verify: 6 of 6 pairs pass (12 checks)`.
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        let failed_hosts = self.host_checks.iter().filter(|c| !c.passed).count();
        let host_part = match (self.host_checks.len(), failed_hosts) {
            (0, _) => String::new(),
            (n, 0) => format!("; {n} of {n} host checks pass"),
            (n, f) => format!("; {f} of {n} host checks fail"),
        };
        if !self.pairwise {
            let hosts = self.checked_hosts().len();
            let on = if hosts == 1 { "on 1 host".to_string() } else { format!("on {hosts} hosts") };
            let n = self.host_checks.len();
            return match (n, failed_hosts) {
                (0, _) => "verify: nothing to check (no check has a host in this lab)".to_string(),
                (n, 0) => format!("verify: {n} of {n} checks pass {on}"),
                (n, f) => format!("verify: {f} of {n} checks fail {on}"),
            };
        }
        if s.pairs == 0 {
            let why = match self.nodes.len() {
                0 => "no workers".to_string(),
                1 => "one worker".to_string(),
                _ => "no pairs".to_string(),
            };
            format!("verify: nothing to check ({why}; it takes two workers){host_part}")
        } else if s.pairs_passed == s.pairs {
            format!(
                "verify: {} of {} pairs pass ({} checks){host_part}",
                s.pairs_passed, s.pairs, s.checks
            )
        } else {
            format!(
                "verify: {} of {} pairs fail ({} of {} checks failed){host_part}",
                s.pairs - s.pairs_passed,
                s.pairs,
                s.checks - s.checks_passed,
                s.checks
            )
        }
    }

    /// Text for a terminal: the node × node matrix (rows send, columns receive), then the
    /// failures with their diagnoses, each cause once with the pairs it breaks, and the summary
    /// line. `plain` writes `ok`/`FAIL` and ASCII instead of emoji.
    pub fn render_text(&self, plain: bool) -> String {
        self.render(plain, false)
    }

    /// [`Report::render_text`]; `verbose` also lists every check with its evidence (`-v`).
    pub fn render(&self, plain: bool, verbose: bool) -> String {
        let sym = if plain { &PLAIN } else { &EMOJI };
        let mut out = String::new();
        if !self.nodes.is_empty() {
            out.push_str(&self.matrix(sym));
            out.push_str("\n\n");
        } else if !self.pairwise && !self.host_checks.is_empty() {
            out.push_str(&self.check_table(sym));
            out.push_str("\n\n");
        }
        let mut listed = false;
        for pair in &self.pairs {
            // Without -v, a failed check shows only when no diagnosis explains its pair.
            let show = verbose || (!pair.passed && pair.diagnoses.is_empty());
            for (kind, check) in pair.made() {
                if show && (verbose || !check.passed) {
                    let mark = if check.passed { sym.pass } else { sym.fail };
                    out.push_str(&format!(
                        "{mark} {} {} {} {}: {}\n",
                        kind.label, pair.from, sym.arrow, pair.to, check.evidence
                    ));
                    listed = true;
                }
            }
        }
        if !self.diagnoses.is_empty() {
            if listed {
                out.push('\n');
            }
            out.push_str("why:\n");
            for group in &self.diagnoses {
                out.push_str(&format!("{} {}\n", sym.fail, group.diagnosis.message));
                if !group.pairs.is_empty() {
                    out.push_str(&format!("   ({})\n", self.pairs_text(&group.pairs, sym)));
                }
            }
            listed = true;
        }
        let host_checks: Vec<&HostCheck> =
            self.host_checks.iter().filter(|c| verbose || !c.passed).collect();
        if !host_checks.is_empty() {
            if listed {
                out.push('\n');
            }
            for check in host_checks {
                let mark = if check.passed { sym.pass } else { sym.fail };
                out.push_str(&format!(
                    "{mark} {} on {}: {}\n",
                    check.name, check.host, check.evidence
                ));
                if let Some(hint) = &check.hint {
                    for line in hint.trim().lines() {
                        out.push_str(&format!("   {line}\n"));
                    }
                }
            }
            listed = true;
        }
        if listed {
            out.push('\n');
        }
        out.push_str(&self.summary_line());
        out.push('\n');
        out
    }

    /// The pairs a cause breaks, short: every pair with one node is said so, a long list is cut.
    fn pairs_text(&self, pairs: &[PairName], sym: &Symbols) -> String {
        let others = self.nodes.len().saturating_sub(1);
        for node in &self.nodes {
            let to = pairs.iter().filter(|p| &p.from == node).count();
            let from = pairs.iter().filter(|p| &p.to == node).count();
            if others > 2 && to == others && from == others && pairs.len() == 2 * others {
                return format!("every pair with {node}, both ways");
            }
            if others > 2 && to == others && pairs.len() == others {
                return format!("{node} {} every other worker", sym.arrow);
            }
            if others > 2 && from == others && pairs.len() == others {
                return format!("every other worker {} {node}", sym.arrow);
            }
        }
        const SHOWN: usize = 6;
        let mut text: Vec<String> = pairs
            .iter()
            .take(SHOWN)
            .map(|p| format!("{} {} {}", p.from, sym.arrow, p.to))
            .collect();
        if pairs.len() > SHOWN {
            text.push(format!("and {} more", pairs.len() - SHOWN));
        }
        text.join(", ")
    }

    /// The host checks as a table: a row per check, a column per host, blank where a check
    /// does not run.
    fn check_table(&self, sym: &Symbols) -> String {
        let hosts = self.checked_hosts();
        let mut names: Vec<&str> = Vec::new();
        for c in &self.host_checks {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
        }
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        let mut header = vec!["check".to_string()];
        header.extend(hosts.iter().map(|h| h.to_string()));
        table.set_header(header);
        for name in names {
            let mut row = vec![name.to_string()];
            for host in &hosts {
                let cell = self
                    .host_checks
                    .iter()
                    .filter(|c| c.name == name && c.host == *host)
                    .map(|c| c.passed)
                    .reduce(|a, b| a && b);
                row.push(match cell {
                    Some(true) => sym.pass.trim_end().to_string(),
                    Some(false) => sym.fail.to_string(),
                    None => String::new(),
                });
            }
            table.add_row(row);
        }
        grid(table)
    }

    /// The matrix: a row per sending node, a column per receiving node.
    fn matrix(&self, sym: &Symbols) -> String {
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        let mut header = vec![format!("from {} to", sym.arrow)];
        header.extend(self.nodes.iter().cloned());
        table.set_header(header);
        for from in &self.nodes {
            let mut row = vec![from.clone()];
            for to in &self.nodes {
                let cell = match self.pair(from, to) {
                    _ if from == to => sym.diagonal,
                    Some(p) if p.passed => sym.pass.trim_end(),
                    Some(_) => sym.fail,
                    None => "",
                };
                row.push(cell.to_string());
            }
            table.add_row(row);
        }
        grid(table)
    }

    /// The kinds of pair check made, in the chapter's order.
    pub fn pair_kinds(&self) -> Vec<PairKind> {
        let mut kinds: Vec<PairKind> = Vec::new();
        for pair in &self.pairs {
            for (kind, _) in pair.made() {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
        }
        kinds
    }

    /// The pair checks of the kind called `name`: how many passed, of how many.
    pub fn pair_count(&self, name: &str) -> (usize, usize) {
        let checks: Vec<bool> =
            self.pairs.iter().filter_map(|p| p.check(name)).map(|c| c.passed).collect();
        (checks.iter().filter(|c| **c).count(), checks.len())
    }

    /// Pretty-printed JSON (`--output json`).
    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes to JSON")
    }

    /// JUnit XML (`--junit FILE`): one test suite per check kind, one test case per ordered
    /// pair; a failure's message is the pair's diagnoses, its description the evidence.
    pub fn render_junit(&self) -> Result<String, quick_junit::SerializeError> {
        let mut report = quick_junit::Report::new(format!("labctl verify {}", self.chapter));
        for suite in self.junit_suites(None) {
            report.add_test_suite(suite);
        }
        report.to_string()
    }

    /// The JUnit test suites of this report, their names prefixed with `prefix` (a class's
    /// environment name, so one file can hold a whole class).
    pub fn junit_suites(&self, env: Option<&str>) -> Vec<TestSuite> {
        // In a class, the student's name leads the suite's name and every class name.
        let prefix = env.map(|e| format!("{e}/")).unwrap_or_default();
        let class = env.map(|e| format!("{e}.")).unwrap_or_default();
        let mut suites = Vec::new();
        for kind in self.pair_kinds() {
            let mut suite = TestSuite::new(format!("{prefix}{}", kind.name));
            for pair in &self.pairs {
                let Some(check) = pair.check(kind.name) else { continue };
                let status = if check.passed {
                    TestCaseStatus::success()
                } else {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let message = if pair.diagnoses.is_empty() {
                        check.evidence.clone()
                    } else {
                        pair.diagnoses
                            .iter()
                            .map(|d| d.message.as_str())
                            .collect::<Vec<_>>()
                            .join("\n")
                    };
                    status.set_message(message).set_description(check.evidence.clone());
                    status
                };
                let mut case = TestCase::new(format!("{} -> {}", pair.from, pair.to), status);
                case.set_classname(format!("{class}{}.{}", self.chapter, kind.name));
                if check.passed {
                    case.set_system_out(check.evidence.clone());
                }
                suite.add_test_case(case);
            }
            if !suite.test_cases.is_empty() {
                suites.push(suite);
            }
        }
        if !self.host_checks.is_empty() {
            let mut suite = TestSuite::new(format!("{prefix}host-checks"));
            for check in &self.host_checks {
                let status = if check.passed {
                    TestCaseStatus::success()
                } else {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_message(check.evidence.clone());
                    if let Some(hint) = &check.hint {
                        status.set_description(hint.clone());
                    }
                    status
                };
                let mut case = TestCase::new(format!("{} on {}", check.name, check.host), status);
                case.set_classname(format!("{class}{}.host-checks", self.chapter));
                suite.add_test_case(case);
            }
            suites.push(suite);
        }
        suites
    }
}

/// A grid of marks as text: names on the left, marks centred under their column's name.
fn grid(mut table: Table) -> String {
    for (i, column) in table.column_iter_mut().enumerate() {
        if i == 0 {
            column.set_padding((0, 1));
        } else {
            column.set_cell_alignment(CellAlignment::Center);
        }
    }
    table.lines().map(|l| l.trim_end().to_string()).collect::<Vec<_>>().join("\n")
}

/// One reason a pair fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub code: DiagnosisCode,
    /// Plain words, naming nodes, addresses and what to do.
    pub message: String,
    /// The problem this one follows from, when it is another pair's (the replies of b → a
    /// fail because of a's route to b): what groups them in [`Report::diagnoses`].
    #[serde(skip)]
    pub cause: Option<String>,
}

impl Diagnosis {
    pub fn new(code: DiagnosisCode, message: impl Into<String>) -> Diagnosis {
        Diagnosis { code, message: message.into(), cause: None }
    }
}

/// The kind of a diagnosis, a stable name in JSON (`no-route`): the core's own below, the
/// rest named by the chapter whose Rust diagnoses (each documented in docs/verify-json.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DiagnosisCode(pub &'static str);

impl DiagnosisCode {
    /// The lab has nothing the chapter's checks can run on.
    pub const NOTHING_TO_CHECK: DiagnosisCode = DiagnosisCode("nothing-to-check");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_network::verify::testlab::{Lab, path};
    use pretty_assertions::assert_eq;

    /// Static routes where worker-0 lacks its route to worker-1's pod CIDR.
    fn missing_route() -> Report {
        let mut lab = Lab::static_routes(3);
        lab.set_route(0, "10.200.1.0/24", None);
        lab.answer(0, 1, path("10.200.1.254 via 10.0.2.2 dev enp0s3 src 10.0.2.15"));
        lab.ping_fails(0, 1);
        lab.ping_fails(1, 0);
        lab.report()
    }

    #[test]
    fn text_of_a_passing_lab_is_the_matrix_and_the_summary() {
        let expected = "\
from → to  worker-0  worker-1  worker-2
worker-0       —        ✅        ✅
worker-1      ✅         —        ✅
worker-2      ✅        ✅         —

verify: 6 of 6 pairs pass (12 checks)
";
        let report = Lab::static_routes(3).report();
        assert_eq!(report.render_text(false), expected);
        assert!(report.passed);
    }

    #[test]
    fn verbose_text_lists_every_check_with_its_evidence() {
        let expected = "\
from → to  worker-0  worker-1  worker-2
worker-0       —        ✅        ✅
worker-1      ✅         —        ✅
worker-2      ✅        ✅         —

✅ route worker-0 → worker-1: 10.200.1.254 via 10.240.0.21 dev enp0s8 src 10.240.0.20
✅ ping  worker-0 → worker-1: 2 of 2 pings answered
✅ route worker-0 → worker-2: 10.200.2.254 via 10.240.0.22 dev enp0s8 src 10.240.0.20
✅ ping  worker-0 → worker-2: 2 of 2 pings answered
✅ route worker-1 → worker-0: 10.200.0.254 via 10.240.0.20 dev enp0s8 src 10.240.0.21
✅ ping  worker-1 → worker-0: 2 of 2 pings answered
✅ route worker-1 → worker-2: 10.200.2.254 via 10.240.0.22 dev enp0s8 src 10.240.0.21
✅ ping  worker-1 → worker-2: 2 of 2 pings answered
✅ route worker-2 → worker-0: 10.200.0.254 via 10.240.0.20 dev enp0s8 src 10.240.0.22
✅ ping  worker-2 → worker-0: 2 of 2 pings answered
✅ route worker-2 → worker-1: 10.200.1.254 via 10.240.0.21 dev enp0s8 src 10.240.0.22
✅ ping  worker-2 → worker-1: 2 of 2 pings answered

verify: 6 of 6 pairs pass (12 checks)
";
        assert_eq!(Lab::static_routes(3).report().render(false, true), expected);
    }

    #[test]
    fn text_of_a_failing_lab_is_the_matrix_each_cause_once_and_the_summary() {
        let expected = "\
from → to  worker-0  worker-1  worker-2
worker-0       —        ❌        ✅
worker-1      ❌         —        ✅
worker-2      ✅        ✅         —

why:
❌ worker-0 has no route to worker-1's pod CIDR 10.200.1.0/24: run `sudo ip route replace 10.200.1.0/24 via 10.240.0.21` on worker-0, or `labctl run 11-pod-network-routes`
   (worker-0 → worker-1, worker-1 → worker-0)

verify: 2 of 6 pairs fail (3 of 12 checks failed)
";
        let report = missing_route();
        assert_eq!(report.render_text(false), expected);
        assert!(!report.passed);
        let verbose = report.render(false, true);
        assert!(
            verbose.contains("\n❌ ping  worker-1 → worker-0: 0 of 2 pings answered\n"),
            "{verbose}"
        );
        assert!(verbose.contains("\n✅ ping  worker-2 → worker-1: 2 of 2 pings answered\n"));
    }

    #[test]
    fn plain_text_is_ascii() {
        let text = missing_route().render(true, true);
        assert!(text.is_ascii(), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "from -> to  worker-0  worker-1  worker-2");
        assert_eq!(lines[1], "worker-0        -       FAIL       ok");
        assert_eq!(
            lines[7],
            "ok   route worker-0 -> worker-2: 10.200.2.254 via 10.240.0.22 dev enp0s8 src 10.240.0.20"
        );
        assert_eq!(
            lines[5],
            "FAIL route worker-0 -> worker-1: 10.200.1.254 via 10.0.2.2 dev enp0s3 src 10.0.2.15; expected via 10.240.0.21 (worker-1)"
        );
        assert!(missing_route().render_text(true).is_ascii());
    }

    #[test]
    fn one_worker_is_nothing_to_check_and_says_so() {
        let report = Lab::static_routes(1).report();
        assert!(!report.passed);
        assert_eq!(
            report.render_text(false),
            "from → to  worker-0\nworker-0       —\n\nwhy:\n❌ the lab has one worker (worker-0): pod routes connect two or \
             more, so there is nothing to check\n\nverify: nothing to check (one worker; it takes two workers)\n"
        );
        let json: serde_json::Value = serde_json::from_str(&report.render_json()).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(json["diagnoses"][0]["code"], "nothing-to-check");
        assert_eq!(json["diagnoses"][0]["pairs"], serde_json::json!([]));
        let none = Lab::static_routes(0).report();
        assert_eq!(none.diagnoses[0].diagnosis.code, DiagnosisCode::NOTHING_TO_CHECK);
    }

    #[test]
    fn json_has_the_documented_fields() {
        let json: serde_json::Value = serde_json::from_str(&missing_route().render_json()).unwrap();
        assert_eq!(json["chapter"], "11-pod-network-routes");
        assert_eq!(json["expectation"], "via-peer");
        assert_eq!(json["passed"], false);
        assert_eq!(
            json["summary"],
            serde_json::json!({"pairs": 6, "pairs_passed": 4, "checks": 12, "checks_passed": 9})
        );
        assert_eq!(json["nodes"], serde_json::json!(["worker-0", "worker-1", "worker-2"]));
        let first = &json["pairs"][0];
        assert_eq!(first["from"], "worker-0");
        assert_eq!(first["to"], "worker-1");
        assert_eq!(first["destination"], "10.200.1.254");
        assert_eq!(first["route_evidence"]["passed"], false);
        assert_eq!(first["data_plane"]["evidence"], "0 of 2 pings answered");
        assert_eq!(first["diagnoses"][0]["code"], "no-route");
        // The missing route breaks worker-0 → worker-1 and the replies of worker-1 → worker-0:
        // one problem, one group, both pairs.
        assert_eq!(json["diagnoses"].as_array().unwrap().len(), 1);
        assert_eq!(json["diagnoses"][0]["code"], "no-route");
        assert_eq!(
            json["diagnoses"][0]["pairs"],
            serde_json::json!([{"from": "worker-0", "to": "worker-1"}, {"from": "worker-1", "to": "worker-0"}])
        );
        assert_eq!(json["pairs"][2]["diagnoses"][0]["code"], "return-path");
    }

    #[test]
    fn checks_about_single_hosts_are_a_table_of_check_by_host_with_their_hints() {
        let mut failed = HostCheck::new(
            "kubelet-cert",
            "worker-1",
            false,
            "exited with 1: worker-1's kubelet.crt was issued for worker-0".into(),
        );
        failed.hint =
            Some("copy worker-1's own certificate: labctl run 04-certificate-authority".into());
        let report = Report::of_host_checks(
            "04-certificate-authority",
            vec![
                HostCheck::new("ca", "worker-0", true, "ca.crt 0644".into()),
                HostCheck::new("ca", "worker-1", true, "ca.crt 0644".into()),
                HostCheck::new("kubelet-cert", "worker-0", true, "OK".into()),
                failed,
                HostCheck::new("api-cert", "server", true, "OK".into()),
            ],
        );
        assert!(!report.passed);
        let expected = "\
check         worker-0  worker-1  server
ca               ok        ok
kubelet-cert     ok       FAIL
api-cert                            ok

FAIL kubelet-cert on worker-1: exited with 1: worker-1's kubelet.crt was issued for worker-0
   copy worker-1's own certificate: labctl run 04-certificate-authority

verify: 1 of 5 checks fail on 3 hosts
";
        assert_eq!(report.render_text(true), expected);
        let json: serde_json::Value = serde_json::from_str(&report.render_json()).unwrap();
        assert_eq!(json["pairwise"], false);
        assert_eq!(
            json["host_checks"][3]["hint"],
            "copy worker-1's own certificate: labctl run 04-certificate-authority"
        );
        assert!(json["host_checks"][0].get("hint").is_none());
        // The same checks in the report's one list, each with its kind.
        let checks = json["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 5);
        assert_eq!(checks[3]["kind"], "host");
        assert_eq!(checks[3]["name"], "kubelet-cert");
        assert_eq!(checks[3]["host"], "worker-1");
        assert_eq!(checks[3]["passed"], false);
        assert_eq!(checks[3]["hint"], json["host_checks"][3]["hint"]);
        assert!(checks[3].get("peer").is_none());
        let empty = Report::of_host_checks("x", Vec::new());
        assert!(!empty.passed, "nothing checked is never a pass");
        assert_eq!(
            empty.summary_line(),
            "verify: nothing to check (no check has a host in this lab)"
        );
    }

    #[test]
    fn the_documented_example_is_current() {
        // Two workers; worker-0 lacks its route to worker-1's pod CIDR.
        let mut lab = Lab::static_routes(2);
        lab.set_route(0, "10.200.1.0/24", None);
        lab.answer(0, 1, path("10.200.1.254 via 10.0.2.2 dev enp0s3 src 10.0.2.15"));
        lab.ping_fails(0, 1);
        lab.ping_fails(1, 0);
        let example = lab.report().render_json();
        let doc = include_str!("../../docs/verify-json.md");
        if std::env::var_os("LABCTL_BLESS").is_some() {
            println!("BEGIN\n{example}\nEND");
        }
        assert!(
            doc.contains(&example),
            "docs/verify-json.md must contain this example:\n{example}\nEND"
        );
    }

    /// Every diagnosis code written in the source, the core's and chapter 11's, has its row in
    /// the doc (read from the source, so a code cannot be left out of the test).
    #[test]
    fn every_diagnosis_code_is_documented() {
        let sources = [include_str!("report.rs"), include_str!("../pod_network/verify/codes.rs")];
        let written: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.split("DiagnosisCode(\"").skip(1))
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(written.len() >= 22, "{written:?}");
        let listed: Vec<&str> =
            crate::pod_network::verify::codes::ALL.iter().map(|c| c.0).collect();
        let doc = include_str!("../../docs/verify-json.md");
        for code in written {
            let row = format!("| `{code}` |");
            assert!(doc.contains(&row), "docs/verify-json.md has no row for {code}: `{row}`");
            assert!(
                listed.contains(&code) || code == DiagnosisCode::NOTHING_TO_CHECK.0,
                "`{code}` is missing from codes::ALL"
            );
        }
    }

    #[test]
    fn junit_one_suite_per_check_kind_one_case_per_pair() {
        let xml = missing_route().render_junit().unwrap();
        assert!(xml.contains(r#"<testsuites name="labctl verify 11-pod-network-routes" tests="12" skipped="0" failures="3" errors="0">"#));
        assert!(xml.contains(
            r#"<testsuite name="route-evidence" tests="6" skipped="0" errors="0" failures="1">"#
        ));
        assert!(xml.contains(
            r#"<testsuite name="data-plane" tests="6" skipped="0" errors="0" failures="2">"#
        ));
        assert!(xml.contains(
            r#"<testcase name="worker-0 -&gt; worker-1" classname="11-pod-network-routes.route-evidence">
            <failure message="worker-0 has no route to worker-1&apos;s pod CIDR 10.200.1.0/24: run `sudo ip route replace 10.200.1.0/24 via 10.240.0.21` on worker-0, or `labctl run 11-pod-network-routes`">10.200.1.254 via 10.0.2.2 dev enp0s3 src 10.0.2.15; expected via 10.240.0.21 (worker-1)</failure>"#
        ));
        assert!(xml.contains(
            r#"<testcase name="worker-0 -&gt; worker-2" classname="11-pod-network-routes.data-plane">
            <system-out>2 of 2 pings answered</system-out>"#
        ));
        assert_eq!(xml.matches("<testcase ").count(), 12);
    }
}
