//! `--class FILE`: the same command on every environment of a class, one after the other, then
//! a table of how each went. With `verify --output json` the reports are gathered in one JSON
//! object; with `--junit FILE` in one JUnit file, each suite named after its environment.

use std::path::Path;

use comfy_table::{Table, presets};

use crate::cli::{Cli, Command, GlobalArgs, OutputFormat};
use crate::error::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_UNREACHABLE, Error};
use crate::inventory::class::{Environment, load};

/// Runs `cli.command` for every environment of the class file.
pub fn run(cli: &Cli, class_file: &Path) -> Result<(), Error> {
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
    if let Command::Verify { chapter, variant, output, junit } = &cli.command {
        return verify_all(
            cli,
            &environments,
            chapter.as_deref(),
            variant.as_deref(),
            *output,
            junit.as_deref(),
        );
    }
    let mut outcomes = Vec::new();
    for env in &environments {
        println!("== {} ({}) ==", env.name, env.inventory.display());
        let global = for_environment(&cli.global, env);
        let outcome = super::dispatch(&cli.command, &global);
        if let Err(e) = &outcome {
            eprintln!("error: {}: {e}", env.name);
        }
        println!();
        if record(&mut outcomes, &env.name, outcome) {
            break;
        }
    }
    finish(outcomes, environments.len())
}

fn for_environment(global: &GlobalArgs, env: &Environment) -> GlobalArgs {
    let mut global = global.clone();
    global.inventory = Some(env.inventory.clone());
    global.class = None;
    global
}

fn verify_all(
    cli: &Cli,
    environments: &[Environment],
    chapter: Option<&str>,
    variant: Option<&str>,
    output: OutputFormat,
    junit: Option<&Path>,
) -> Result<(), Error> {
    let mut outcomes = Vec::new();
    let mut json = Vec::new();
    let mut junit_report = quick_junit::Report::new("labctl verify (class)");
    for (env, result) in environments.iter().zip(verify_each(cli, environments, chapter, variant)) {
        if output == OutputFormat::Text {
            println!("== {} ({}) ==", env.name, env.inventory.display());
        }
        let outcome = match result {
            Ok(verified) => {
                match output {
                    OutputFormat::Text => println!("{}", verified.report.render_text(false)),
                    OutputFormat::Json => json.push(serde_json::json!({
                        "name": env.name, "inventory": env.inventory, "report": verified.report,
                    })),
                }
                for suite in verified.report.junit_suites(&format!("{}/", env.name)) {
                    junit_report.add_test_suite(suite);
                }
                verified.outcome()
            }
            Err(e) => {
                if output == OutputFormat::Json {
                    json.push(serde_json::json!({
                        "name": env.name, "inventory": env.inventory, "error": e.to_string(), "exit_code": e.exit_code(),
                    }));
                } else {
                    eprintln!("error: {}: {e}\n", env.name);
                }
                Err(e)
            }
        };
        if record(&mut outcomes, &env.name, outcome) {
            break;
        }
    }
    if output == OutputFormat::Json {
        let value = serde_json::json!({ "environments": json });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    }
    if let Some(path) = junit {
        let xml = junit_report.to_string().map_err(|e| Error::Other {
            message: format!("cannot write the JUnit report: {e}"),
            code: EXIT_FAILED,
        })?;
        crate::atomic_file::write(path, xml.as_bytes(), false)?;
    }
    if output == OutputFormat::Json {
        // stdout holds exactly one JSON document; the summary goes to stderr
        return exit_for(&outcomes, environments.len(), false);
    }
    finish(outcomes, environments.len())
}

/// Verifies every environment, several at once: each environment has its own lab, `.labctl/`
/// (the class file refuses two in one directory) and connections. At most `-j` environments at a time (each also at most
/// `-j` hosts at a time); the results come back in the class file's order.
fn verify_each(
    cli: &Cli,
    environments: &[Environment],
    chapter: Option<&str>,
    variant: Option<&str>,
) -> Vec<Result<super::verify::Verified, Error>> {
    let limit = (cli.global.concurrency as usize).max(1);
    let mut results = Vec::with_capacity(environments.len());
    std::thread::scope(|scope| {
        for chunk in environments.chunks(limit) {
            let handles: Vec<_> = chunk
                .iter()
                .map(|env| {
                    let global = for_environment(&cli.global, env);
                    // Unreachable hosts are in each report; printed here they would interleave.
                    scope.spawn(move || super::verify::verify_lab(&global, chapter, variant, false))
                })
                .collect();
            for handle in handles {
                results.push(handle.join().unwrap_or_else(|_| {
                    Err(Error::Other {
                        message: "verify stopped unexpectedly".into(),
                        code: EXIT_FAILED,
                    })
                }));
            }
        }
    });
    results
}

type Outcome = (String, Result<(), (i32, String)>);

/// Adds one environment's outcome; true when it was interrupted (start no other).
fn record(outcomes: &mut Vec<Outcome>, name: &str, outcome: Result<(), Error>) -> bool {
    let stop = matches!(&outcome, Err(e) if e.exit_code() == EXIT_INTERRUPTED);
    outcomes
        .push((name.to_string(), outcome.map_err(|e| (e.exit_code(), first_line(&e.to_string())))));
    stop
}

/// Prints the class table and turns the outcomes into one exit code.
fn finish(outcomes: Vec<Outcome>, total: usize) -> Result<(), Error> {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.force_no_tty();
    table.set_header(["ENVIRONMENT", "RESULT"]);
    for (name, outcome) in &outcomes {
        let result = match outcome {
            Ok(()) => "ok".to_string(),
            Err((code, message)) => format!("exit {code}: {message}"),
        };
        table.add_row([name.clone(), result]);
    }
    println!("{}", crate::output::summary::flush_left(&table));
    exit_for(&outcomes, total, true)
}

fn exit_for(outcomes: &[Outcome], total: usize, summary_to_stdout: bool) -> Result<(), Error> {
    let codes: Vec<i32> =
        outcomes.iter().filter_map(|(_, o)| o.as_ref().err().map(|(c, _)| *c)).collect();
    let ok = outcomes.len() - codes.len();
    let summary = format!("class: {ok} of {total} environments ok");
    if codes.is_empty() && outcomes.len() == total {
        if summary_to_stdout {
            println!("{summary}");
        } else {
            eprintln!("{summary}");
        }
        return Ok(());
    }
    let code = [EXIT_INTERRUPTED, EXIT_FAILED, EXIT_UNREACHABLE, EXIT_BAD_INPUT]
        .into_iter()
        .find(|c| codes.contains(c))
        .unwrap_or(EXIT_FAILED);
    Err(Error::Other { message: summary, code })
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}
