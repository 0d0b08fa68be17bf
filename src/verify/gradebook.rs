//! `labctl --class FILE verify`: a gradebook for the instructor, one row per environment,
//! rendered as a text table, CSV, JSON (docs/class-json.md), JUnit and one HTML page.
//!
//! Every environment of the class file has its row, also one that could not be checked at all
//! (a missing inventory, a locked lab): that row is an error, never left out, never a pass.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use comfy_table::{Table, presets};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::report::{PairKind, Report};

/// The whole class.
#[derive(Debug, Clone, Serialize)]
pub struct Gradebook {
    /// When verify started, RFC 3339.
    pub made_at: String,
    pub summary: ClassSummary,
    pub environments: Vec<Grade>,
    /// The kinds of pair check that have a column, in order (the chapter's Rust names them).
    #[serde(skip)]
    pub columns: Vec<PairKind>,
}

/// Counts over the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClassSummary {
    pub environments: usize,
    pub passed: usize,
    pub failed: usize,
    /// Environments that could not be checked at all.
    pub errors: usize,
}

/// Passed of total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Count {
    pub passed: usize,
    pub total: usize,
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.passed, self.total)
    }
}

/// How an environment came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Passed,
    Failed,
    /// It could not be checked (no inventory, locked, bad input...).
    Error,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Error => "error",
        }
    }
}

/// One environment's row.
#[derive(Debug, Clone, Serialize)]
pub struct Grade {
    pub name: String,
    pub inventory: String,
    pub status: Status,
    /// labctl's exit code for this environment alone.
    pub exit_code: i32,
    /// When its verify started, RFC 3339.
    pub started_at: String,
    pub seconds: f64,
    /// The pair checks of each kind of the gradebook's columns (in JSON, one field each, named
    /// by the kind: chapter 11's `routes` and `pod_pairs`).
    #[serde(flatten)]
    pub pairs: PairCounts,
    pub host_checks: Count,
    /// Every check: passed / total.
    pub score: Count,
    /// The first reason it is not a pass, in words; `None` when it passed.
    pub diagnosis: Option<String>,
    /// The full report, when the environment could be checked.
    pub report: Option<Report>,
}

/// Counts of pair checks, by kind.
#[derive(Debug, Clone, Default)]
pub struct PairCounts(pub Vec<(PairKind, Count)>);

impl Serialize for PairCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (kind, count) in &self.0 {
            map.serialize_entry(kind.count_field, count)?;
        }
        map.end()
    }
}

impl PairCounts {
    /// The counts of every kind.
    pub fn counts(&self) -> impl Iterator<Item = Count> + '_ {
        self.0.iter().map(|(_, c)| *c)
    }
}

/// What verifying one environment gave.
pub struct Outcome {
    pub name: String,
    pub inventory: String,
    pub started: DateTime<FixedOffset>,
    pub elapsed: Duration,
    /// The report and its exit code, or the error and its exit code.
    pub result: Result<(Report, i32), (String, i32)>,
}

impl Grade {
    /// The row of `outcome`, with a count for each kind of pair check in `columns`.
    pub fn of(outcome: Outcome, columns: &[PairKind]) -> Grade {
        let seconds = (outcome.elapsed.as_secs_f64() * 10.0).round() / 10.0;
        let started_at = outcome.started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match outcome.result {
            Err((error, exit_code)) => Grade {
                name: outcome.name,
                inventory: outcome.inventory,
                status: Status::Error,
                exit_code,
                started_at,
                seconds,
                pairs: PairCounts(columns.iter().map(|k| (*k, Count::default())).collect()),
                host_checks: Count::default(),
                score: Count::default(),
                diagnosis: Some(error.lines().next().unwrap_or_default().to_string()),
                report: None,
            },
            Ok((report, exit_code)) => {
                let pairs = PairCounts(
                    columns
                        .iter()
                        .map(|k| {
                            let (passed, total) = report.pair_count(k.name);
                            (*k, Count { passed, total })
                        })
                        .collect(),
                );
                let host_checks = Count {
                    passed: report.host_checks.iter().filter(|c| c.passed).count(),
                    total: report.host_checks.len(),
                };
                let all: Vec<Count> = pairs.counts().chain([host_checks]).collect();
                let score = Count {
                    passed: all.iter().map(|c| c.passed).sum(),
                    total: all.iter().map(|c| c.total).sum(),
                };
                let interrupted = exit_code == crate::error::EXIT_INTERRUPTED;
                let diagnosis = (!report.passed || interrupted).then(|| {
                    if interrupted {
                        return "interrupted (Ctrl-C): not every check ran".to_string();
                    }
                    report.first_cause()
                });
                Grade {
                    name: outcome.name,
                    inventory: outcome.inventory,
                    status: if report.passed && !interrupted {
                        Status::Passed
                    } else {
                        Status::Failed
                    },
                    exit_code,
                    started_at,
                    seconds,
                    pairs,
                    host_checks,
                    score,
                    diagnosis,
                    report: Some(report),
                }
            }
        }
    }
}

impl Gradebook {
    /// The gradebook of `grades`, in the class file's order.
    /// The gradebook of `environments`, with a column for each kind of pair check in
    /// `columns` (as their grades were made with).
    pub fn new(
        made_at: DateTime<FixedOffset>,
        environments: Vec<Grade>,
        columns: &[PairKind],
    ) -> Gradebook {
        let with = |s: Status| environments.iter().filter(|g| g.status == s).count();
        Gradebook {
            made_at: made_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            summary: ClassSummary {
                environments: environments.len(),
                passed: with(Status::Passed),
                failed: with(Status::Failed),
                errors: with(Status::Error),
            },
            environments,
            columns: columns.to_vec(),
        }
    }

    /// `class: 4 of 6 environments pass; 1 failed, 1 could not be checked`.
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        format!(
            "class: {} of {} environments pass; {} failed, {} could not be checked",
            s.passed, s.environments, s.failed, s.errors
        )
    }

    /// The table: environment × check kind, score, time, and the first diagnosis.
    pub fn render_text(&self) -> String {
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        table.force_no_tty();
        let mut header = vec!["ENVIRONMENT".to_string(), "RESULT".into()];
        header.extend(self.columns.iter().map(|k| k.column.to_uppercase()));
        header.extend(["HOST CHECKS", "SCORE", "TIME", "DIAGNOSIS"].map(String::from));
        table.set_header(header);
        for g in &self.environments {
            let cell =
                |c: Count| if g.status == Status::Error { "-".into() } else { c.to_string() };
            let mut row = vec![g.name.clone(), g.status.word().to_string()];
            row.extend(g.pairs.counts().map(cell));
            row.extend([
                cell(g.host_checks),
                cell(g.score),
                format!("{:.1} s", g.seconds),
                g.diagnosis.clone().unwrap_or_default(),
            ]);
            table.add_row(row);
        }
        format!("{}\n{}\n", crate::output::summary::flush_left(&table), self.summary_line())
    }

    /// One row per environment (`--csv FILE`), for a spreadsheet or an LMS.
    pub fn render_csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> =
            ["environment", "passed", "status", "score", "checks_passed", "checks_total"]
                .map(String::from)
                .to_vec();
        for kind in &self.columns {
            header.push(format!("{}_passed", kind.count_field));
            header.push(format!("{}_total", kind.count_field));
        }
        header.extend(
            ["host_checks_passed", "host_checks_total", "seconds", "exit_code", "diagnosis"]
                .map(String::from),
        );
        w.write_record(&header)?;
        for g in &self.environments {
            let score = if g.score.total == 0 {
                "0.00".to_string()
            } else {
                format!("{:.2}", g.score.passed as f64 / g.score.total as f64)
            };
            let mut record = vec![
                g.name.clone(),
                (g.status == Status::Passed).to_string(),
                g.status.word().to_string(),
                score,
                g.score.passed.to_string(),
                g.score.total.to_string(),
            ];
            for c in g.pairs.counts() {
                record.extend([c.passed.to_string(), c.total.to_string()]);
            }
            record.extend([
                g.host_checks.passed.to_string(),
                g.host_checks.total.to_string(),
                format!("{:.1}", g.seconds),
                g.exit_code.to_string(),
                g.diagnosis.clone().unwrap_or_default(),
            ]);
            w.write_record(&record)?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Pretty-printed JSON (`--output json`), documented in docs/class-json.md.
    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a gradebook serializes to JSON")
    }

    /// JUnit XML: every environment, its name in every suite and class name; one that could
    /// not be checked is one test case in error.
    pub fn render_junit(&self) -> Result<String, quick_junit::SerializeError> {
        let mut junit = quick_junit::Report::new("labctl verify (class)");
        for g in &self.environments {
            let started = DateTime::parse_from_rfc3339(&g.started_at).ok();
            let time = Duration::from_secs_f64(g.seconds);
            let mut suites = match &g.report {
                Some(report) => report.junit_suites(Some(&g.name)),
                None => {
                    let mut suite = TestSuite::new(format!("{}/verify", g.name));
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                    status.set_message(g.diagnosis.clone().unwrap_or_default());
                    let mut case = TestCase::new("verify", status);
                    case.set_classname(format!("{}.verify", g.name));
                    suite.add_test_case(case);
                    vec![suite]
                }
            };
            for suite in &mut suites {
                suite.set_time(time);
                if let Some(at) = started {
                    suite.set_timestamp(at);
                }
            }
            junit.add_test_suites(suites);
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(&self.made_at) {
            junit.set_timestamp(at);
        }
        junit.to_string()
    }

    /// One self-contained HTML page: the class grid, then each environment's matrix and
    /// diagnoses. No script, no fetch: inline CSS only.
    pub fn render_html(&self) -> Result<String, minijinja::Error> {
        render_page(&PageContext::class(self))
    }
}

/// A single lab's page (`labctl verify --html FILE`).
pub fn render_lab_html(
    report: &Report,
    name: &str,
    made_at: &str,
) -> Result<String, minijinja::Error> {
    render_page(&PageContext::lab(report, name, made_at))
}

/// What the page template sees.
#[derive(Serialize)]
struct PageContext {
    title: String,
    made_at: String,
    summary: Option<String>,
    /// The grid's columns of pair checks.
    columns: Vec<&'static str>,
    grid: Vec<GridRow>,
    labs: Vec<LabSection>,
}

#[derive(Serialize)]
struct GridRow {
    name: String,
    status: &'static str,
    cells: Vec<(String, &'static str)>,
    score: String,
    seconds: String,
    diagnosis: String,
}

#[derive(Serialize)]
struct LabSection {
    name: String,
    status: &'static str,
    error: Option<String>,
    nodes: Vec<String>,
    rows: Vec<Vec<(String, &'static str)>>,
    diagnoses: Vec<(String, String)>,
    failed_host_checks: Vec<String>,
    summary: String,
}

fn css_of(c: Count, status: Status) -> &'static str {
    match status {
        Status::Error => "error",
        _ if c.total == 0 => "none",
        _ if c.passed == c.total => "pass",
        _ => "fail",
    }
}

impl PageContext {
    fn class(book: &Gradebook) -> PageContext {
        let grid = book
            .environments
            .iter()
            .map(|g| {
                let cell = |c: Count| {
                    let text = if g.status == Status::Error { "-".into() } else { c.to_string() };
                    (text, css_of(c, g.status))
                };
                GridRow {
                    name: g.name.clone(),
                    status: g.status.word(),
                    cells: g.pairs.counts().chain([g.host_checks]).map(cell).collect(),
                    score: if g.status == Status::Error { "-".into() } else { g.score.to_string() },
                    seconds: format!("{:.1} s", g.seconds),
                    diagnosis: g.diagnosis.clone().unwrap_or_default(),
                }
            })
            .collect();
        let labs = book
            .environments
            .iter()
            .map(|g| match &g.report {
                Some(r) => LabSection::of(r, &g.name, g.status.word()),
                None => LabSection {
                    name: g.name.clone(),
                    status: "error",
                    error: g.diagnosis.clone(),
                    nodes: Vec::new(),
                    rows: Vec::new(),
                    diagnoses: Vec::new(),
                    failed_host_checks: Vec::new(),
                    summary: "could not be checked".into(),
                },
            })
            .collect();
        PageContext {
            title: "labctl verify: class".into(),
            made_at: book.made_at.clone(),
            summary: Some(book.summary_line()),
            columns: book.columns.iter().map(|k| k.column).collect(),
            grid,
            labs,
        }
    }

    fn lab(report: &Report, name: &str, made_at: &str) -> PageContext {
        let status = if report.passed { "passed" } else { "failed" };
        PageContext {
            title: format!("labctl verify: {name}"),
            made_at: made_at.to_string(),
            summary: None,
            columns: Vec::new(),
            grid: Vec::new(),
            labs: vec![LabSection::of(report, name, status)],
        }
    }
}

impl LabSection {
    fn of(report: &Report, name: &str, status: &'static str) -> LabSection {
        let rows = report
            .nodes
            .iter()
            .map(|from| {
                let mut row = vec![(from.clone(), "node")];
                for to in &report.nodes {
                    row.push(match report.pair(from, to) {
                        _ if from == to => ("—".into(), "self"),
                        Some(p) if p.passed => ("✓".into(), "pass"),
                        Some(_) => ("✗".into(), "fail"),
                        None => (String::new(), "none"),
                    });
                }
                row
            })
            .collect();
        let diagnoses = report
            .diagnoses
            .iter()
            .map(|g| {
                let pairs: Vec<String> =
                    g.pairs.iter().map(|p| format!("{} → {}", p.from, p.to)).collect();
                (g.diagnosis.message.clone(), pairs.join(", "))
            })
            .collect();
        LabSection {
            name: name.to_string(),
            status,
            error: None,
            nodes: report.nodes.clone(),
            rows,
            diagnoses,
            failed_host_checks: report
                .host_checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{} on {}: {}", c.name, c.host, c.evidence))
                .collect(),
            summary: report.summary_line(),
        }
    }
}

/// The page; minijinja escapes every value (the template's name ends in `.html`).
const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
td.pass { background: #d8f5d0; } td.fail { background: #f9d0d0; }
td.error { background: #f5e3b0; } td.self, td.none { background: #eee; color: #888; }
td.node { font-weight: bold; }
.status-passed { color: #1a7f1a; } .status-failed { color: #b01c1c; } .status-error { color: #9a6700; }
section { border-top: 2px solid #ddd; margin-top: 2em; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p>Made at <time id="made-at">{{ made_at }}</time>.{% if summary %} <span id="summary">{{ summary }}</span>{% endif %}</p>
{% if grid %}
<table id="grid">
<thead><tr><th>environment</th><th>result</th>{% for c in columns %}<th>{{ c }}</th>{% endfor %}<th>host checks</th><th>score</th><th>time</th><th>diagnosis</th></tr></thead>
<tbody>
{% for row in grid %}<tr data-env="{{ row.name }}"><td><a href="#env-{{ row.name }}">{{ row.name }}</a></td><td class="status-{{ row.status }}">{{ row.status }}</td>{% for cell in row.cells %}<td class="{{ cell[1] }}">{{ cell[0] }}</td>{% endfor %}<td>{{ row.score }}</td><td>{{ row.seconds }}</td><td>{{ row.diagnosis }}</td></tr>
{% endfor %}</tbody>
</table>
{% endif %}
{% for lab in labs %}<section id="env-{{ lab.name }}">
<h2>{{ lab.name }} <span class="status-{{ lab.status }}">{{ lab.status }}</span></h2>
{% if lab.error %}<p class="error">{{ lab.error }}</p>{% endif %}
{% if lab.nodes %}<table class="matrix">
<thead><tr><th>from → to</th>{% for n in lab.nodes %}<th>{{ n }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in lab.rows %}<tr>{% for cell in row %}<td class="{{ cell[1] }}">{{ cell[0] }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>{% endif %}
{% if lab.diagnoses or lab.failed_host_checks %}<ul class="diagnoses">
{% for d in lab.diagnoses %}<li>{{ d[0] }}{% if d[1] %} <small>({{ d[1] }})</small>{% endif %}</li>
{% endfor %}{% for c in lab.failed_host_checks %}<li>{{ c }}</li>
{% endfor %}</ul>{% endif %}
<p class="summary">{{ lab.summary }}</p>
</section>
{% endfor %}</body>
</html>
"##;

fn render_page(ctx: &PageContext) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("page.html", PAGE)?;
    env.get_template("page.html")?.render(crate::template::to_value(ctx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_network::verify::testlab::{Lab, path};

    fn at() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z").unwrap()
    }

    fn book() -> Gradebook {
        let mut broken = Lab::static_routes(2);
        broken.set_route(0, "10.200.1.0/24", None);
        broken.answer(0, 1, path("10.200.1.254 via 10.0.2.2 dev enp0s3 src 10.0.2.15"));
        broken.ping_fails(0, 1);
        broken.ping_fails(1, 0);
        let outcome = |name: &str, result| Outcome {
            name: name.into(),
            inventory: format!("envs/{name}/labctl.yaml"),
            started: at(),
            elapsed: Duration::from_millis(420),
            result,
        };
        let columns = crate::pod_network::verify::codes::PAIR_KINDS;
        Gradebook::new(
            at(),
            vec![
                Grade::of(outcome("alice", Ok((Lab::static_routes(2).report(), 0))), &columns),
                Grade::of(outcome("bob", Ok((broken.report(), 1))), &columns),
                Grade::of(
                    outcome(
                        "carol",
                        Err(("inventory `envs/carol/labctl.yaml` not found".into(), 2)),
                    ),
                    &columns,
                ),
            ],
            &columns,
        )
    }

    #[test]
    fn the_table_has_every_environment_its_counts_and_first_cause() {
        let text = book().render_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "ENVIRONMENT  RESULT  ROUTES  POD PAIRS  HOST CHECKS  SCORE  TIME   DIAGNOSIS"
        );
        assert_eq!(lines[1], "alice        passed  2/2     2/2        0/0          4/4    0.4 s");
        assert!(lines[2].starts_with("bob          failed  1/2     0/2        0/0          1/4    0.4 s  worker-0 has no route"), "{text}");
        assert_eq!(
            lines[3],
            "carol        error   -       -          -            -      0.4 s  inventory `envs/carol/labctl.yaml` not found"
        );
        assert_eq!(lines[4], "class: 1 of 3 environments pass; 1 failed, 1 could not be checked");
    }

    #[test]
    fn csv_json_and_junit_hold_every_environment() {
        let book = book();
        let csv = book.render_csv().unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        assert!(rows[0].starts_with("environment,passed,status,score,"));
        assert_eq!(rows[1], "alice,true,passed,1.00,4,4,2,2,2,2,0,0,0.4,0,");
        assert_eq!(
            rows[3],
            "carol,false,error,0.00,0,0,0,0,0,0,0,0,0.4,2,inventory `envs/carol/labctl.yaml` not found"
        );
        let json: serde_json::Value = serde_json::from_str(&book.render_json()).unwrap();
        assert_eq!(
            json["summary"],
            serde_json::json!({"environments": 3, "passed": 1, "failed": 1, "errors": 1})
        );
        assert_eq!(json["environments"][2]["status"], "error");
        assert_eq!(json["environments"][1]["report"]["passed"], false);
        let xml = book.render_junit().unwrap();
        assert!(xml.contains(r#"<testsuite name="carol/verify" tests="1" skipped="0" errors="1" failures="0" timestamp="2026-12-02T10:00:00.000+00:00" time="0.400">"#), "{xml}");
        assert!(xml.contains(r#"classname="bob.11-pod-network-routes.route-evidence""#), "{xml}");
        assert!(xml.contains(r#"<testsuite name="alice/data-plane""#), "{xml}");
    }

    #[test]
    fn the_page_escapes_and_needs_nothing_from_the_network() {
        let mut book = book();
        book.environments[2].diagnosis = Some("<script>alert(1)</script>".into());
        let html = book.render_html().unwrap();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{html}");
        assert!(!html.contains("<script"), "no script on the page");
        for needle in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!html.contains(needle), "the page fetches: {needle}");
        }
        assert!(html.contains(r#"<tr data-env="bob">"#));
        assert!(html.contains(r#"<section id="env-carol">"#));
    }
}
