//! The host × step table printed after `run` and `reset`.

use comfy_table::{Cell, Color, Table, presets};

use crate::output::style::Style;

/// What happened to one step on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not attempted (`--from`/`--only`, an earlier failure, or an interrupt).
    Skipped,
    /// Already done: its check passed.
    Ok,
    /// Changed by this run.
    Changed,
    /// Left alone: something else holds its place (see a step's `conflict`); `--replace` replaces it.
    Conflict,
    /// The host could not be reached.
    Unreachable,
    /// A command failed.
    Failed,
}

impl Status {
    /// The word shown in tables and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Skipped => "skipped",
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Conflict => "conflict",
            Status::Unreachable => "unreachable",
            Status::Failed => "failed",
        }
    }
}

/// A table with one row per host and one column per step; a cell shows the worst status of
/// the step's actions on that host. `changed` is the word for a change (`undone` for reset).
pub fn table(
    style: &Style,
    steps: &[String],
    rows: &[(String, Vec<Option<Status>>)],
    changed: &str,
) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    if style.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    let mut header = vec!["HOST".to_string()];
    header.extend(steps.iter().cloned());
    table.set_header(header);
    for (host, cells) in rows {
        let mut row = vec![Cell::new(host)];
        for cell in cells {
            row.push(match cell {
                None => Cell::new("-"),
                Some(Status::Changed) => Cell::new(changed).fg(color(Status::Changed)),
                Some(s) => Cell::new(s.as_str()).fg(color(*s)),
            });
        }
        table.add_row(row);
    }
    flush_left(&table)
}

/// A borderless table's text without its trailing spaces and the one-space left margin.
pub fn flush_left(table: &Table) -> String {
    table
        .trim_fmt()
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

fn color(status: Status) -> Color {
    match status {
        Status::Failed | Status::Unreachable | Status::Conflict => Color::Red,
        Status::Changed => Color::Yellow,
        Status::Ok => Color::Green,
        Status::Skipped => Color::Reset,
    }
}
