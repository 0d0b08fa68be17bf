//! The command line: every subcommand, flag and help text (one source for `--help` and
//! the shell completions).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCandidates;

/// Run, check and reset the chapters of Kubernetes The Hard Way on lab machines over SSH.
#[derive(Debug, Parser)]
#[command(
    name = "labctl",
    version,
    propagate_version = true,
    after_help = "Examples:\n  labctl list\n  labctl show 11-pod-network-routes\n  labctl -i labctl.yaml render 11-pod-network-routes --variant flannel\n\nExit codes: 0 success; 1 a step or check failed; 2 bad usage or bad input; 3 a host could not be reached or authenticated; 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after any subcommand, shown apart from a subcommand's own, as
/// cargo and kubectl do.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Inventory file: labctl YAML, a KTHW machines.txt, or the output of `vagrant ssh-config`.
    /// Default: ./labctl.yaml, then a running sandbox, then ./Vagrantfile.
    #[arg(short = 'i', long, global = true, value_name = "FILE", env = "LABCTL_INVENTORY")]
    pub inventory: Option<PathBuf>,

    /// Use the inventory of the running sandbox called NAME (`labctl sandbox status` lists
    /// them); it wins over `-i` and `LABCTL_INVENTORY`.
    #[arg(add = ArgValueCandidates::new(complete::sandboxes), long = "sandbox", global = true, value_name = "NAME", conflicts_with = "class")]
    pub sandbox_name: Option<String>,

    /// Class file: a list of environments (instructors), each with its own inventory.
    #[arg(long, global = true, value_name = "FILE")]
    pub class: Option<PathBuf>,

    /// How many hosts to work on at once.
    #[arg(short = 'j', long, global = true, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,

    /// Seconds to wait for a host's SSH handshake before calling it unreachable.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub connect_timeout: u64,

    /// How long each command of a step (`check`, `run`, `undo`) may take (`90s`, `5m`), over
    /// every step's own `timeout` (default: the step's, else 5m). It is then stopped on the host.
    #[arg(long, global = true, value_name = "DURATION",
          value_parser = crate::chapter::schema::parse_timeout)]
    pub command_timeout: Option<std::time::Duration>,

    /// Show each command as it runs, per host (on stderr); `-vv` also its exit status and
    /// output. `verify -v` also lists every check with its evidence.
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No progress bars, one line per event instead.
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// When to use colour (NO_COLOR is honoured by `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Where the command's words go and how they look, made from `--color`, `-v` and
    /// `--no-progress` once they are read (captured for an environment of a class).
    #[arg(skip)]
    pub shell: crate::output::shell::Shell,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// How a command prints its result: words for people, or JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// List the chapters labctl knows.
    #[command(after_help = "Examples:\n  labctl list\n  labctl list --output json")]
    List {
        /// Output format (json: docs/json.md).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },

    /// Show a chapter: its variants, their steps, and its verify checks.
    #[command(
        after_help = "Examples:\n  labctl show 11-pod-network-routes\n  labctl show ./my-chapter.yaml     (check a chapter file you are writing)"
    )]
    Show {
        /// Chapter name (see `labctl list`) or the path of a chapter file.
        #[arg(add = ArgValueCandidates::new(complete::chapters))]
        chapter: String,
        /// Output format (json: docs/json.md).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },

    /// Render a chapter for an inventory: every command per host and every template, nothing touched.
    #[command(
        after_help = "Examples:\n  labctl -i labctl.yaml render 11-pod-network-routes\n  labctl -i machines.txt render 11-pod-network-routes --variant static\n  labctl render 11-pod-network-routes --variant flannel --out rendered/"
    )]
    Render {
        /// Chapter name or chapter file.
        #[arg(add = ArgValueCandidates::new(complete::chapters))]
        chapter: String,
        /// Variant to render (default: the one for the inventory's provider).
        #[arg(add = ArgValueCandidates::new(complete::variants), long, value_name = "V")]
        variant: Option<String>,
        /// Write the rendered files to this directory instead of printing them.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },

    /// Show what `run` would do on every host (read-only: connects and runs only checks).
    #[command(
        after_help = "Examples:\n  labctl plan 11-pod-network-routes\n  labctl -i labctl.yaml plan 11-pod-network-routes --variant static\n  labctl plan 11-pod-network-routes --output json\n  labctl plan 11-pod-network-routes --detailed-exitcode   # 0 nothing to do, 2 changes pending, 1 error"
    )]
    Plan {
        /// Chapter name or chapter file.
        #[arg(add = ArgValueCandidates::new(complete::chapters))]
        chapter: String,
        /// Variant (default: the one recorded in the state, else the provider's default).
        #[arg(add = ArgValueCandidates::new(complete::variants), long, value_name = "V")]
        variant: Option<String>,
        /// Show what `run --replace` would do over conflicts.
        #[arg(long)]
        replace: bool,
        /// Output format (json: docs/plan-json.md).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// Exit 0 when there is nothing to do, 2 when changes are pending (or in conflict),
        /// 1 on any error, as `terraform plan -detailed-exitcode` does.
        #[arg(long)]
        detailed_exitcode: bool,
    },

    /// Do a chapter on the lab: every step on every host, skipping what is already done.
    #[command(
        after_help = "Examples:\n  labctl run 11-pod-network-routes\n  labctl run 11-pod-network-routes --variant static --fail-fast\n  labctl run 11-pod-network-routes --only pod-routes\n  labctl run 11-pod-network-routes --variant gce --replace"
    )]
    Run {
        /// Chapter name or chapter file.
        #[arg(add = ArgValueCandidates::new(complete::chapters))]
        chapter: String,
        /// Variant (default: the provider's default).
        #[arg(add = ArgValueCandidates::new(complete::variants), long, value_name = "V")]
        variant: Option<String>,
        /// Start at this step (earlier steps are skipped).
        #[arg(add = ArgValueCandidates::new(complete::steps), long, value_name = "STEP", conflicts_with = "only")]
        from: Option<String>,
        /// Run only this step.
        #[arg(add = ArgValueCandidates::new(complete::steps), long, value_name = "STEP")]
        only: Option<String>,
        /// Stop every host at the first failure.
        #[arg(long)]
        fail_fast: bool,
        /// Replace what is in a step's way (e.g. a GCE route of the same name with other
        /// values) instead of reporting a conflict and leaving it alone.
        #[arg(long)]
        replace: bool,
        /// Output format (json: docs/json.md): what happened to every action on every host.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },

    /// Check the chapter's result with evidence: routes, and probe pods pinging across nodes.
    ///
    /// Prints the node × node matrix, each cause of a failure once (naming the node and the
    /// command that fixes it) and a summary; `-v` lists every check with its evidence. Takes
    /// no lock: verifies may run at once. Exit 0 all pass, 1 a check failed, 3 a worker
    /// could not be reached.
    #[command(
        after_help = "Examples:\n  labctl verify\n  labctl verify -v\n  labctl verify 11-pod-network-routes --output json\n  labctl verify --junit report.xml"
    )]
    Verify {
        /// Chapter (default: the one `run` last did, else 11-pod-network-routes).
        #[arg(add = ArgValueCandidates::new(complete::chapters))]
        chapter: Option<String>,
        /// Variant (default: the one recorded in the state, else the provider's default).
        #[arg(add = ArgValueCandidates::new(complete::variants), long, value_name = "V")]
        variant: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// Also write a JUnit XML report to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Also write one self-contained HTML page to FILE (with `--class`: the class grid,
        /// then every environment).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// With `--class`: also write the gradebook as CSV to FILE, one row per environment.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// With `--class`: show this environment's detail under the gradebook.
        #[arg(long, value_name = "NAME")]
        env: Option<String>,
    },

    /// Undo what labctl applied for a chapter, in reverse order (only what labctl added);
    /// with `--hard`, bring the lab back to the chapter's start whoever made the changes.
    #[command(
        after_help = "Examples:\n  labctl reset 11-pod-network-routes --yes\n  labctl reset --yes\n  labctl reset --hard --dry-run            (what a hard reset would remove)\n  labctl reset --hard 11-pod-network-routes --variant static --yes\n\nPlain `reset` runs the `undo` of each action labctl recorded, and touches nothing a\nstudent made. `reset --hard` first does the same, then reads the chapter's footprint on\nevery host (e.g. every route into the cluster CIDR on a worker but its own pod route) and\nremoves all of it, whoever made it; then it reads it again and says, per host, whether\nthe host is back at the start."
    )]
    Reset {
        /// Chapter (default: the one `run` last did).
        #[arg(add = ArgValueCandidates::new(complete::chapters))]
        chapter: Option<String>,
        /// Variant (default: the one recorded in the state, else the provider's default).
        #[arg(add = ArgValueCandidates::new(complete::variants), long, value_name = "V")]
        variant: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Remove the chapter's whole footprint from the lab, labctl's or not (see below).
        #[arg(long)]
        hard: bool,
        /// Only list what would be undone or removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Output format (json: docs/json.md): what happened (or, with `--dry-run`, would
        /// happen) to every action or footprint item on every host.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },

    /// Self-test a chapter on a throwaway sandbox: verify fails, run, verify passes, run again
    /// changes nothing, plan is empty, reset, verify fails, and a lab done by hand comes back
    /// with `reset --hard`. Needs root.
    ///
    /// Each step is this labctl run on a sandbox of its own (a free network in 10.239.0.0/16),
    /// removed afterwards whatever happens. A check that passes before anything was done is
    /// named: it proves nothing. Prints a table of the cycle. Exit 0 every step holds, 1 a step
    /// failed, 2 bad input (unknown chapter or variant, a variant the sandbox cannot host, not
    /// root).
    #[command(
        after_help = "Examples:\n  sudo labctl test 11-pod-network-routes --variant static\n  sudo labctl test ./my-chapter.yaml            (every variant the sandbox can host)\n  sudo labctl test ./my-chapter.yaml --variant static --shape gce -v\n\nThe sandbox hosts machines over SSH only: a variant that needs a cloud API (`cloud: gce`) or\na Kubernetes API server (`where: kubectl`, `rollout_ready`) is skipped, and asking for it\nwith `--variant` is exit 2. See docs/chapters.md, \"Testing a chapter: labctl test\"."
    )]
    Test {
        /// Chapter name or chapter file.
        #[arg(add = ArgValueCandidates::new(complete::chapters))]
        chapter: String,
        /// Variant to test (default: every variant the sandbox can host, one after another).
        #[arg(add = ArgValueCandidates::new(complete::variants), long, value_name = "V")]
        variant: Option<String>,
        /// Sandbox shape (default: the one the variant is meant for; vagrant unless its routes
        /// go via a VPC router).
        #[arg(long, value_enum, value_name = "S")]
        shape: Option<crate::sandbox::spec::Shape>,
    },

    /// Manage the built-in sandbox lab (network namespaces on this machine; needs root).
    #[command(
        subcommand,
        after_help = "Examples:\n  sudo labctl sandbox up                    a controller and three workers on 10.240.0.0/24 (or a free network)\n  labctl sandbox status\n  labctl run 11-pod-network-routes          finds the running sandbox by itself\n  sudo labctl sandbox up --name lab2        a second one beside it; then `labctl --sandbox lab2 run 11`\n  sudo labctl sandbox down"
    )]
    Sandbox(crate::sandbox::SandboxCommand),

    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  labctl completions bash > /etc/bash_completion.d/labctl\n  labctl completions zsh > \"${fpath[1]}/_labctl\""
    )]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// The global options that say which lab and how to reach it: they mean nothing to the
/// subcommands that touch no lab, whose help leaves them out.
const LAB_OPTIONS: &[&str] =
    &["inventory", "sandbox_name", "class", "concurrency", "connect_timeout", "command_timeout"];

/// The subcommands that touch no lab.
const NO_LAB: &[&str] = &["list", "show", "completions"];

impl Command {
    /// True when the command's stdout is one JSON document (`--output json`).
    pub fn prints_json(&self) -> bool {
        use crate::sandbox::args::{StatusArgs, StatusFormat};
        match self {
            Command::List { output }
            | Command::Show { output, .. }
            | Command::Plan { output, .. }
            | Command::Run { output, .. }
            | Command::Verify { output, .. }
            | Command::Reset { output, .. } => *output == OutputFormat::Json,
            Command::Sandbox(crate::sandbox::SandboxCommand::Status(StatusArgs {
                output, ..
            })) => *output == StatusFormat::Json,
            _ => false,
        }
    }
}

impl Cli {
    /// The command line as clap sees it, with the lab options hidden from the help of the
    /// subcommands that touch no lab (they are still accepted there, as global options are).
    pub fn command_line() -> clap::Command {
        use clap::CommandFactory;
        let mut command = Cli::command();
        // A subcommand's own argument of a global's id takes its place there: the same
        // argument, hidden, so that the flag is accepted but not listed.
        let hidden: Vec<clap::Arg> = command
            .get_arguments()
            .filter(|a| LAB_OPTIONS.contains(&a.get_id().as_str()))
            .map(|a| a.clone().global(false).hide(true))
            .collect();
        for name in NO_LAB {
            command = command.mut_subcommand(name, |sub| sub.args(hidden.clone()));
        }
        command
    }

    /// Parses the process's arguments (exits with clap's message on a usage error).
    pub fn parse_args() -> Cli {
        Cli::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// The command line `args` (the program's name first), with the shell its global flags ask for.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::FromArgMatches;
        let matches = Cli::command_line().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let g = &cli.global;
        cli.global.shell = crate::output::shell::Shell::new(g.color, g.verbose, g.no_progress);
        Ok(cli)
    }
}

/// Candidates for dynamic shell completion (`labctl completions SHELL`): the chapters, their
/// variants and steps, and the sandboxes running now, read when the shell asks.
pub mod complete {
    use clap_complete::engine::CompletionCandidate;

    /// The chapters as read (names, variants, steps), without rendering them for the example
    /// lab: the shell asks on every TAB.
    fn chapters_loaded() -> Vec<crate::chapter::Chapter> {
        let catalog = crate::course::Catalog::from_env();
        let names = catalog.names().unwrap_or_default();
        names.iter().filter_map(|n| catalog.read(n).ok()).collect()
    }

    fn unique(values: impl IntoIterator<Item = String>) -> Vec<CompletionCandidate> {
        let mut seen: Vec<String> = Vec::new();
        for v in values {
            if !seen.contains(&v) {
                seen.push(v);
            }
        }
        seen.into_iter().map(CompletionCandidate::new).collect()
    }

    /// The chapters' names, each with its title.
    pub fn chapters() -> Vec<CompletionCandidate> {
        chapters_loaded()
            .iter()
            .map(|c| CompletionCandidate::new(c.name()).help(Some(c.spec.title.clone().into())))
            .collect()
    }

    /// Every chapter's variants.
    pub fn variants() -> Vec<CompletionCandidate> {
        unique(
            chapters_loaded()
                .iter()
                .flat_map(|c| c.variant_names().into_iter().map(String::from).collect::<Vec<_>>()),
        )
    }

    /// Every chapter's step names.
    pub fn steps() -> Vec<CompletionCandidate> {
        unique(chapters_loaded().iter().flat_map(|c| {
            c.spec
                .variants
                .iter()
                .flat_map(|v| v.steps.iter().map(|s| s.name.value.clone()))
                .collect::<Vec<_>>()
        }))
    }

    /// The sandboxes running on this machine.
    pub fn sandboxes() -> Vec<CompletionCandidate> {
        crate::sandbox::running_names().into_iter().map(CompletionCandidate::new).collect()
    }
}
