//! `--class FILE`: one command on every environment of a class at once, in this one process
//! (see docs/architecture.md, "Classes").
//!
//! Every environment runs in a thread of its own with its own state, lock, log and
//! connections; the class shares one limit of SSH connections open at once (`-j`), which a
//! lab takes whole when it connects. A lab that cannot be reached, is locked or has no
//! inventory costs its own time only. What each environment prints is kept; the class shows
//! one line per environment while it works, then a table (`-v`: every environment's own
//! output too). `verify` makes a gradebook ([`crate::verify::gradebook`]).

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use comfy_table::{Table, presets};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{Cli, Command, GlobalArgs, OutputFormat};
use crate::error::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_UNREACHABLE, Error};
use crate::inventory::class::{Environment, load};
use crate::output::shell::{Captured, Shell};
use crate::verify::gradebook::{Grade, Gradebook, Outcome};

/// What `verify --class` writes besides its output.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyFiles<'a> {
    pub junit: Option<&'a Path>,
    pub csv: Option<&'a Path>,
    pub html: Option<&'a Path>,
    /// Show only this environment's detail.
    pub env: Option<&'a str>,
}

/// Runs `cli.command` for every environment of the class file.
pub fn run(cli: &Cli, class_file: &Path, files: VerifyFiles) -> Result<(), Error> {
    if !matches!(
        cli.command,
        Command::Render { .. }
            | Command::Plan { .. }
            | Command::Run { .. }
            | Command::Verify { .. }
            | Command::Reset { .. }
    ) {
        return Err(Error::Usage(
            "`--class` applies to render, plan, run, verify and reset".into(),
        ));
    }
    if matches!(cli.command, Command::Render { out: Some(_), .. }) {
        return Err(Error::Usage(
            "`render --out` writes one lab's files; use it without `--class`".into(),
        ));
    }
    let environments = load(class_file)?;
    if let Some(name) = files.env
        && !environments.iter().any(|e| e.name == name)
    {
        return Err(Error::Usage(format!(
            "`--env {name}`: the class file {} has no environment of that name",
            class_file.display()
        )));
    }
    crate::runner::hosts::limit_class_connections(cli.global.concurrency);
    let shell = &cli.global.shell;
    if let Command::Verify { chapter, variant, output, .. } = &cli.command {
        let shell = &shell.json(*output == OutputFormat::Json);
        return verify_all(
            cli,
            shell,
            &environments,
            chapter.as_deref(),
            variant.as_deref(),
            *output,
            files,
        );
    }
    let json = matches!(
        &cli.command,
        Command::Run { output: OutputFormat::Json, .. }
            | Command::Reset { output: OutputFormat::Json, .. }
            | Command::Plan { output: OutputFormat::Json, .. }
            | Command::List { output: OutputFormat::Json }
            | Command::Show { output: OutputFormat::Json, .. }
    );
    if matches!(&cli.command, Command::Plan { detailed_exitcode: true, .. }) {
        return Err(Error::Usage(
            "`plan --detailed-exitcode` is for one lab (its exit code says whether it drifted); with `--class`, `plan` shows every lab's plan".into(),
        ));
    }
    if json {
        return Err(Error::Usage(
            "`--output json` with `--class` is for `verify` (the class's gradebook, docs/class-json.md); for one lab's JSON, use `-i` with its inventory".into(),
        ));
    }
    let command = match &cli.command {
        Command::Reset { chapter, variant, yes: false, hard, dry_run: false, output } => {
            confirm_reset(shell, &environments, chapter.as_deref(), *hard)?;
            Command::Reset {
                chapter: chapter.clone(),
                variant: variant.clone(),
                yes: true,
                hard: *hard,
                dry_run: false,
                output: *output,
            }
        }
        other => other.clone(),
    };
    let results = each(
        &cli.global,
        &environments,
        |global| super::dispatch(&command, global),
        |_, captured| format!("ok  {}", last_line(&captured.stdout)),
    );
    // render and plan print what they found: that is their result. run and reset print a
    // table per lab, shown with -v; the class's table has each lab's last line.
    let verbose = cli.global.shell.verbosity() > 0
        || matches!(command, Command::Render { .. } | Command::Plan { .. });
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.force_no_tty();
    table.set_header(["ENVIRONMENT", "RESULT", "TIME", "DETAIL"]);
    let mut outcomes = Vec::new();
    for (env, done) in environments.iter().zip(results) {
        if verbose {
            crate::say!(shell, "== {} ({}) ==", env.name, env.inventory.display());
            shell.out(&done.captured.stdout);
            shell.err(&done.captured.stderr);
            shell.out("\n");
        }
        let (result, detail) = match &done.result {
            Ok(()) => ("ok".to_string(), last_line(&done.captured.stdout)),
            Err(e) => (format!("exit {}", e.exit_code()), first_line(&e.to_string())),
        };
        table.add_row([env.name.clone(), result, seconds(done.elapsed), detail]);
        outcomes.push((
            env.name.clone(),
            done.result.map_err(|e| (e.exit_code(), first_line(&e.to_string()))),
        ));
    }
    crate::say!(shell, "{}", crate::output::summary::flush_left(&table));
    exit_for(shell, &outcomes, environments.len(), true)
}

/// `reset --class` asks once for the whole class: every environment and what it will lose.
fn confirm_reset(
    shell: &Shell,
    environments: &[Environment],
    chapter: Option<&str>,
    hard: bool,
) -> Result<(), Error> {
    let mut lines = Vec::new();
    for env in environments {
        let what = match recorded_actions(env, chapter) {
            Ok(0) if hard => "nothing recorded; whatever the footprint finds".to_string(),
            Ok(0) => "nothing to undo".to_string(),
            Ok(n) if hard => format!("{n} recorded action(s), then whatever the footprint finds"),
            Ok(n) => format!("{n} action(s) undone"),
            Err(e) => format!("not reset: {}", first_line(&e)),
        };
        lines.push(format!("  {:<16} {what}", env.name));
    }
    let what = if hard {
        "reset --hard (back to the chapter's start, whoever made the changes)"
    } else {
        "reset (undo what labctl applied)"
    };
    // The list first, on stderr, so a refusal off a terminal also says what it refused.
    crate::complain!(
        shell,
        "{what} on {} environment(s):\n{}",
        environments.len(),
        lines.join("\n")
    );
    if super::reset::confirm(shell, "Go on? [y/N] ")? {
        return Ok(());
    }
    Err(Error::Cancelled { what: "reset".into() })
}

/// How many actions labctl recorded for the chapter on an environment (no SSH).
fn recorded_actions(env: &Environment, chapter: Option<&str>) -> Result<usize, String> {
    if !env.inventory.exists() {
        return Err(format!("inventory {} not found", env.inventory.display()));
    }
    let state = crate::runner::state::StateDir::for_inventory(&env.inventory)
        .load()
        .map_err(|e| e.to_string())?;
    let name = super::lab::chapter_name(chapter, &state);
    // `reset 11` means the chapter `11` stands for, as every command takes it.
    let names = super::course().catalog.names().unwrap_or_default();
    let name = crate::course::resolve(&name, &names).map(str::to_string).unwrap_or(name.clone());
    Ok(state.chapters.get(&name).map(|c| c.applied.len()).unwrap_or(0))
}

/// One environment's command, done.
struct Done<T> {
    result: Result<T, Error>,
    captured: Captured,
    started: chrono::DateTime<chrono::FixedOffset>,
    elapsed: Duration,
}

/// Runs `work` for every environment at once, each in its own thread with its output kept;
/// shows one line per environment while they work. The results are in the class's order.
fn each<T: Send>(
    global: &GlobalArgs,
    environments: &[Environment],
    work: impl Fn(&GlobalArgs) -> Result<T, Error> + Sync,
    describe: impl Fn(&T, &Captured) -> String + Sync,
) -> Vec<Done<T>> {
    let (events, inbox) = mpsc::channel::<(usize, Event)>();
    let lines = Lines::new(&global.shell, environments);
    std::thread::scope(|scope| {
        let handles: Vec<_> = environments
            .iter()
            .enumerate()
            .map(|(i, env)| {
                let mut global = global.clone();
                global.inventory = Some(env.inventory.clone());
                global.class = None;
                let progress = events.clone();
                global.shell = global.shell.capture_with(std::sync::Arc::new(move |line: &str| {
                    let _ = progress.send((i, Event::Working(line.to_string())));
                }));
                let events = events.clone();
                let work = &work;
                let describe = &describe;
                scope.spawn(move || {
                    let _ = events.send((i, Event::Started));
                    let started = chrono::Local::now().fixed_offset();
                    let clock = Instant::now();
                    let result = work(&global);
                    let captured = global.shell.take();
                    let line = match &result {
                        Ok(value) => describe(value, &captured),
                        Err(e) => format!("exit {}  {}", e.exit_code(), first_line(&e.to_string())),
                    };
                    let _ = events.send((i, Event::Done(line)));
                    Done { result, captured, started, elapsed: clock.elapsed() }
                })
            })
            .collect();
        drop(events);
        for (i, event) in inbox {
            lines.show(i, &event);
        }
        lines.clear();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Done {
                    result: Err(Error::failed("stopped unexpectedly")),
                    captured: Captured::default(),
                    started: chrono::Local::now().fixed_offset(),
                    elapsed: Duration::ZERO,
                })
            })
            .collect()
    })
}

/// What an environment's thread tells the class.
enum Event {
    Started,
    /// Its progress: hosts done of all, and the latest event.
    Working(String),
    Done(String),
}

/// One line per environment: a spinner on a terminal, else one event line per change.
struct Lines {
    names: Vec<String>,
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    shell: Shell,
}

impl Lines {
    fn new(shell: &Shell, environments: &[Environment]) -> Lines {
        let names: Vec<String> = environments.iter().map(|e| e.name.clone()).collect();
        let shell = shell.clone();
        if !shell.err_style().bars {
            return Lines { names, bars: None, shell };
        }
        let width = names.iter().map(|n| n.len()).max().unwrap_or(8);
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let template = format!("{{prefix:<{width}}} {{spinner}} {{msg}}");
        let bars = names
            .iter()
            .map(|n| {
                let bar = multi.add(ProgressBar::new_spinner());
                if let Ok(s) = ProgressStyle::with_template(&template) {
                    bar.set_style(s);
                }
                bar.set_prefix(n.clone());
                bar.set_message("waiting");
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .collect();
        Lines { names, bars: Some((multi, bars)), shell }
    }

    /// Something happened to environment `i`.
    fn show(&self, i: usize, event: &Event) {
        match (&self.bars, event) {
            (Some((_, bars)), Event::Started) => bars[i].set_message("connecting"),
            (Some((_, bars)), Event::Working(line)) => bars[i].set_message(line.clone()),
            (Some((_, bars)), Event::Done(line)) => bars[i].finish_with_message(line.clone()),
            // Off a terminal, a line per change of state: hosts' events would drown them.
            (None, Event::Started) => crate::complain!(self.shell, "{}: started", self.names[i]),
            (None, Event::Working(_)) => {}
            (None, Event::Done(line)) => crate::complain!(self.shell, "{}: {line}", self.names[i]),
        }
    }

    fn clear(&self) {
        if let Some((multi, _)) = &self.bars {
            let _ = multi.clear();
        }
    }
}

fn verify_all(
    cli: &Cli,
    shell: &Shell,
    environments: &[Environment],
    chapter: Option<&str>,
    variant: Option<&str>,
    output: OutputFormat,
    files: VerifyFiles,
) -> Result<(), Error> {
    let made_at = chrono::Local::now().fixed_offset();
    let results = each(
        &cli.global,
        environments,
        |global| super::verify::verify_lab(global, chapter, variant, false),
        |verified, _| match verified.report.passed {
            true => format!("passed  {}", verified.report.summary_line()),
            false => format!("failed  {}", verified.report.first_cause()),
        },
    );
    // The gradebook's columns of pair checks are chapter 11's, whatever the chapter, so that
    // its table, CSV and JSON keep one shape (docs/class-json.md).
    let columns = crate::pod_network::verify::codes::PAIR_KINDS;
    let mut grades = Vec::new();
    let mut outcomes = Vec::new();
    for (env, done) in environments.iter().zip(results) {
        let result = match done.result {
            Ok(verified) => {
                let code = verified.outcome().err().map(|e| e.exit_code()).unwrap_or(0);
                Ok((verified.report, code))
            }
            Err(e) => Err((e.to_string(), e.exit_code())),
        };
        outcomes.push((
            env.name.clone(),
            match &result {
                Ok((_, 0)) => Ok(()),
                Ok((_, code)) => Err((*code, "verify failed".to_string())),
                Err((e, code)) => Err((*code, first_line(e))),
            },
        ));
        grades.push(Grade::of(
            Outcome {
                name: env.name.clone(),
                inventory: env.inventory.display().to_string(),
                started: done.started,
                elapsed: done.elapsed,
                result,
            },
            &columns,
        ));
    }
    let book = Gradebook::new(made_at, grades, &columns);
    let write = |path: &Path, text: Result<String, String>, what: &str| -> Result<(), Error> {
        let text = text.map_err(|e| Error::failed(format!("cannot write the {what}: {e}")))?;
        crate::atomic_file::write(path, text.as_bytes(), false)
    };
    if let Some(path) = files.junit {
        write(path, book.render_junit().map_err(|e| e.to_string()), "JUnit report")?;
    }
    if let Some(path) = files.csv {
        write(path, book.render_csv().map_err(|e| e.to_string()), "CSV gradebook")?;
    }
    if let Some(path) = files.html {
        write(path, book.render_html().map_err(|e| e.to_string()), "HTML page")?;
    }
    match output {
        OutputFormat::Json => crate::say!(shell, "{}", book.render_json()),
        OutputFormat::Text => {
            let verbose = shell.verbosity() > 0;
            for g in &book.environments {
                if !verbose && files.env != Some(g.name.as_str()) {
                    continue;
                }
                crate::say!(shell, "== {} ({}) ==", g.name, g.inventory);
                match &g.report {
                    Some(report) => shell.out(&report.render(false, verbose)),
                    None => crate::say!(shell, "{}", g.diagnosis.clone().unwrap_or_default()),
                }
                shell.out("\n");
            }
            shell.out(&book.render_text());
        }
    }
    exit_for(shell, &outcomes, environments.len(), false)
}

type ClassOutcome = (String, Result<(), (i32, String)>);

fn exit_for(
    shell: &Shell,
    outcomes: &[ClassOutcome],
    total: usize,
    summary_to_stdout: bool,
) -> Result<(), Error> {
    let codes: Vec<i32> =
        outcomes.iter().filter_map(|(_, o)| o.as_ref().err().map(|(c, _)| *c)).collect();
    let ok = outcomes.len() - codes.len();
    let summary = format!("class: {ok} of {total} environments ok");
    if codes.is_empty() && outcomes.len() == total {
        if summary_to_stdout {
            crate::say!(shell, "{summary}");
        }
        return Ok(());
    }
    let code = [EXIT_INTERRUPTED, EXIT_FAILED, EXIT_UNREACHABLE, EXIT_BAD_INPUT]
        .into_iter()
        .find(|c| codes.contains(c))
        .unwrap_or(EXIT_FAILED);
    Err(Error::with_code(code, summary))
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

fn last_line(text: &str) -> String {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string()
}
