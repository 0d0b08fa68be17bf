//! The subcommands: each takes parsed arguments, does its work, and returns an [`Error`]
//! for `main` to print once.

mod chapter_test;
mod class;
mod completions;
mod lab;
mod list;
mod plan;
mod render;
mod reset;
mod reset_hard;
mod run;
mod show;
mod verify;

use crate::cli::OutputFormat;
use crate::cli::{Cli, Command};
use crate::error::Error;

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> Result<(), Error> {
    match &cli.global.class {
        Some(class) => {
            let files = match &cli.command {
                Command::Verify { junit, html, csv, env, .. } => class::VerifyFiles {
                    junit: junit.as_deref(),
                    csv: csv.as_deref(),
                    html: html.as_deref(),
                    env: env.as_deref(),
                },
                _ => class::VerifyFiles::default(),
            };
            class::run(&cli, class, files)
        }
        None => dispatch(&cli.command, &cli.global),
    }
}

/// Runs `command` with `global` (for one lab).
fn dispatch(command: &Command, global: &crate::cli::GlobalArgs) -> Result<(), Error> {
    // Stdout carries one JSON document: the shell sends every line for people to stderr.
    let global = &crate::cli::GlobalArgs {
        shell: global.shell.json(command.prints_json()),
        ..global.clone()
    };
    match command {
        Command::List { output } => list::run(&global.shell, *output == OutputFormat::Json),
        Command::Show { chapter, output } => {
            show::run(&global.shell, chapter, *output == OutputFormat::Json)
        }
        Command::Render { chapter, variant, out } => {
            render::run(global, chapter, variant.as_deref(), out.as_deref())
        }
        Command::Plan { chapter, variant, replace, output, detailed_exitcode } => {
            let options = plan::Options {
                replace: *replace,
                json: *output == crate::cli::OutputFormat::Json,
                detailed_exitcode: *detailed_exitcode,
            };
            plan::run(global, chapter, variant.as_deref(), options)
        }
        Command::Run { chapter, variant, from, only, fail_fast, replace, output } => run::run(
            global,
            chapter,
            variant.as_deref(),
            crate::runner::execute::Selection {
                from: from.clone(),
                only: only.clone(),
                fail_fast: *fail_fast,
                replace: *replace,
            },
            *output == OutputFormat::Json,
        ),
        Command::Reset { chapter, variant, yes, hard: false, dry_run, output } => reset::run(
            global,
            chapter.as_deref(),
            variant.as_deref(),
            *yes,
            *dry_run,
            *output == OutputFormat::Json,
        ),
        Command::Reset { chapter, variant, yes, hard: true, dry_run, output } => reset_hard::run(
            global,
            chapter.as_deref(),
            variant.as_deref(),
            *yes,
            *dry_run,
            *output == OutputFormat::Json,
        ),
        Command::Verify { chapter, variant, output, junit, html, csv, env } => {
            if csv.is_some() || env.is_some() {
                return Err(Error::Usage(
                    "`--csv` and `--env` are for a class: add `--class FILE`".into(),
                ));
            }
            verify::run(
                global,
                chapter.as_deref(),
                variant.as_deref(),
                *output,
                junit.as_deref(),
                html.as_deref(),
            )
        }
        Command::Test { chapter, variant, shape } => {
            chapter_test::run(global, chapter, variant.as_deref(), *shape)
        }
        Command::Sandbox(cmd) => crate::sandbox::execute(cmd, &global.shell),
        Command::Completions { shell } => completions::run(&global.shell, *shell),
    }
}

/// What `run` and `reset` print with `--output json` (docs/json.md): every action on every
/// host with what happened to it, and the counts.
#[derive(serde::Serialize)]
pub struct ResultsJson<'a> {
    pub command: &'a str,
    pub chapter: &'a str,
    pub variant: &'a str,
    pub summary: crate::runner::Tally,
    pub hosts: &'a [crate::runner::execute::HostResult],
    pub log: &'a std::path::Path,
}

impl ResultsJson<'_> {
    pub fn render(&self) -> String {
        serde_json::to_string_pretty(self).expect("results serialize to JSON")
    }
}

/// The chapters in effect, with chapter 11's template variables (`crate::pod_network`).
pub fn course() -> crate::course::Course {
    crate::course::Course::from_env(
        Some(crate::pod_network::variables::template_variables),
        crate::pod_network::checks::KINDS,
    )
}

/// The inventory in effect (`-i`, else the lookup order), loaded and linted; warnings are printed.
fn load_inventory(global: &crate::cli::GlobalArgs) -> Result<crate::inventory::Inventory, Error> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Usage(format!("cannot read the current directory: {e}")))?;
    let chosen = match &global.sandbox_name {
        Some(name) => Some(crate::sandbox::inventory_of(name)?),
        None => global.inventory.clone(),
    };
    let located =
        crate::inventory::locate(chosen.as_deref(), &cwd, crate::sandbox::running_inventory)?;
    // The inventory's own lints and chapter 11's of its sections, reported together.
    let problems = |e: Error| match e {
        Error::Input(d) => Ok(vec![d]),
        Error::Inputs(ds) => Ok(ds),
        other => Err(other),
    };
    let (warnings, mut errors) = match crate::inventory::lint::check(&located.inventory) {
        Ok(warnings) => (warnings, Vec::new()),
        Err(e) => (Vec::new(), problems(e)?),
    };
    if let Err(e) = crate::pod_network::settings::lint(&located.inventory) {
        errors.extend(problems(e)?);
    }
    match errors.len() {
        0 => {}
        1 => return Err(Error::Input(errors.remove(0))),
        _ => return Err(Error::Inputs(errors)),
    }
    for warning in warnings {
        global.shell.warn(&warning.to_string());
    }
    Ok(located.inventory)
}
