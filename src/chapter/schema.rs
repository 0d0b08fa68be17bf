//! The chapter file format (`labs/*.yaml`), as read from disk.
//!
//! A chapter declares variants; a variant is an ordered list of steps plus verify checks.
//! The schema is strict: unknown keys, missing fields and wrong types are errors that name
//! the file, line and column. Command strings keep their position ([`Spanned`]) so that an
//! error inside a command template is reported at its line in the chapter file.

use serde::Deserialize;
use serde_saphyr::Spanned;

/// A whole chapter file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChapterFile {
    /// The chapter's name; must match the file name (without `.yaml`).
    pub chapter: Spanned<String>,
    /// Human title, e.g. "Provisioning Pod Network Routes".
    pub title: String,
    /// One paragraph: what a student achieves.
    #[serde(default)]
    pub summary: String,
    /// Which variant to use for each inventory provider when `--variant` is not given.
    pub default_variant: DefaultVariant,
    /// The chapter's settings and their defaults, as `vars` in templates: an inventory's
    /// `vars:` of the same name replace them (docs/chapters.md, "Variables from the inventory").
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, serde_json::Value>,
    /// Vars of the example lab every variant is rendered for when the chapter loads, for a
    /// variant that needs a var no default gives (docs/chapters.md, "Variables from the
    /// inventory").
    #[serde(default)]
    pub example_vars: std::collections::BTreeMap<String, serde_json::Value>,
    /// The ways to do the chapter.
    pub variants: Vec<Variant>,
}

/// The default variant per provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultVariant {
    pub ssh: Spanned<String>,
    pub vagrant: Spanned<String>,
    pub gce: Spanned<String>,
}

/// One way to do a chapter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: Spanned<String>,
    pub summary: String,
    /// The cloud the variant acts on through its CLI; labctl checks the CLI and reads the
    /// machines from the cloud before planning (see docs/chapters.md).
    #[serde(default)]
    pub cloud: Option<Cloud>,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub verify: Vec<VerifyCheck>,
    /// What in a lab belongs to this variant, read from the machines (`labctl reset --hard`),
    /// in the order it is removed.
    #[serde(default)]
    pub footprint: Vec<FootprintPart>,
}

/// One kind of thing a variant leaves in a lab, found by reading the machines whoever made it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FootprintPart {
    pub name: Spanned<String>,
    pub summary: String,
    /// Which hosts to read.
    #[serde(rename = "where")]
    pub target: Target,
    /// Run `list` and `remove` with `sudo -n` (on SSH hosts).
    #[serde(default)]
    pub sudo: bool,
    /// Read-only: prints the items one per line (nothing when the host is at the chapter's start).
    pub list: Spanned<String>,
    /// Removes one item, given as `item` (the line) and `words` (its whitespace-separated words).
    pub remove: Spanned<String>,
}

/// One step: where it runs, how to tell it is done, how to do it and how to undo it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: Spanned<String>,
    pub summary: String,
    /// Which hosts the step runs on.
    #[serde(rename = "where")]
    pub target: Target,
    /// Repeat the step for each of these, bound to a template variable.
    #[serde(default)]
    pub for_each: Option<ForEach>,
    /// Run with `sudo -n` (on SSH hosts).
    #[serde(default)]
    pub sudo: bool,
    /// A template (path under `templates/`) rendered and fed to check, run and undo on stdin.
    #[serde(default)]
    pub stdin: Option<Spanned<String>>,
    /// Exit 0 means the step is already done on this host (idempotence). Required unless the
    /// step puts `files`.
    #[serde(default)]
    pub check: Option<Spanned<String>>,
    /// Does the step.
    #[serde(default)]
    pub run: Option<Spanned<String>>,
    /// Undoes exactly what `run` did (used by `labctl reset`).
    #[serde(default)]
    pub undo: Option<Spanned<String>>,
    /// Files put onto the host over its connection, each an action of its own whose check,
    /// run and undo labctl writes (instead of `check`, `run` and `undo`).
    #[serde(default)]
    pub files: Vec<PutFile>,
    /// Files fetched from the host into the lab's working directory, each an action of its
    /// own, like `files` the other way round.
    #[serde(default)]
    pub fetch: Vec<FetchFile>,
    /// Asked when `check` fails: exit 0 means something else holds the step's place (a route
    /// of the same name with other values); its output says what. Needs `replace`.
    #[serde(default)]
    pub conflict: Option<Spanned<String>>,
    /// Run instead of `run` over a conflict, and only with `--replace`.
    #[serde(default)]
    pub replace: Option<Spanned<String>>,
    /// The footprint items an action of this step leaves, as its part's `list` prints them (or
    /// their first words): how `reset --hard` tells labctl's own items from a student's.
    #[serde(default)]
    pub leaves: Vec<Spanned<String>>,
    /// How long each of the step's commands may take (`30s`, `5m`); the default is
    /// [`DEFAULT_TIMEOUT`], and `--command-timeout` overrides both.
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
}

/// A file a step puts onto a host: its content is a rendered template or a file of the lab's
/// working directory (`.labctl/work/`, where `where: local` steps run).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutFile {
    /// The absolute path on the host (a template).
    pub to: Spanned<String>,
    /// A file of the lab's working directory, e.g. one a local step made (a template).
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// A template under `templates/`, rendered with the step's variables.
    #[serde(default)]
    pub template: Option<Spanned<String>>,
    /// Octal permissions, e.g. `"0600"` (quoted, or YAML reads a number).
    pub mode: Spanned<String>,
    /// `user` or `user:group`; the connecting user's (or root's, with sudo) when not given.
    #[serde(default)]
    pub owner: Option<Spanned<String>>,
}

/// A file a step fetches from a host into the lab's working directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchFile {
    /// The absolute path on the host (a template).
    pub from: Spanned<String>,
    /// Its name in the working directory (a template), e.g. `{{ node.name }}.kubeconfig`.
    pub to: Spanned<String>,
    /// Octal permissions of the copy; `"0600"` when not given.
    #[serde(default)]
    pub mode: Option<Spanned<String>>,
}

/// Permissions as chapters write them: octal, at most `7777`.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim();
    if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| ('0'..='7').contains(&c)) {
        return Err(format!(
            "`{text}` is not an octal mode; write it like \"0644\" or \"0600\", quoted"
        ));
    }
    u32::from_str_radix(digits, 8).map_err(|e| format!("`{text}`: {e}"))
}

/// An owner as chapters write it: `user` or `user:group`, POSIX names.
pub fn parse_owner(text: &str) -> Result<(String, Option<String>), String> {
    let valid = |name: &str| {
        !name.is_empty()
            && name.len() <= 32
            && !name.starts_with('-')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    let (user, group) = match text.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (text, None),
    };
    if !valid(user) || group.is_some_and(|g| !valid(g)) {
        return Err(format!(
            "`{text}` is not an owner; write `user` or `user:group`, e.g. `root:root`"
        ));
    }
    Ok((user.to_string(), group.map(str::to_string)))
}

/// How long a step's command may take when the step does not say.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl Step {
    /// The step's own timeout, if it has a valid one (checked when the chapter is loaded).
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.timeout.as_ref().and_then(|t| parse_timeout(&t.value).ok())
    }
}

/// A timeout as chapters and `--command-timeout` write it: `90s`, `5m`, `1m 30s`; more than
/// zero and at most a day.
pub fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write it as `90s`, `5m` or `1m 30s`")
    })?;
    if duration.is_zero() || duration > std::time::Duration::from_secs(86_400) {
        return Err(format!("`{text}` is out of range: a timeout is more than 0s and at most 24h"));
    }
    Ok(duration)
}

/// A cloud a variant acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cloud {
    /// Google Compute Engine, with the `gcloud` CLI.
    Gce,
}

/// The hosts a step runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Every worker node, over SSH.
    Workers,
    /// Every controller node, over SSH.
    Controllers,
    /// The first controller only (e.g. for `kubectl apply`).
    FirstController,
    /// Every node.
    All,
    /// The operator's machine (e.g. for `gcloud`).
    Local,
    /// Where `kubectl` talks to the cluster from: the operator's machine when the inventory
    /// gives a `kubeconfig`, else the first controller over SSH.
    Kubectl,
}

impl Target {
    /// The name used in chapter files.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Workers => "workers",
            Target::Controllers => "controllers",
            Target::FirstController => "first_controller",
            Target::All => "all",
            Target::Local => "local",
            Target::Kubectl => "kubectl",
        }
    }
}

/// What a step repeats over, and the variable each item is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForEach {
    /// Every other worker than the host the step runs on; bound to `peer`.
    Peers,
    /// Every worker; bound to `worker`.
    Workers,
}

impl ForEach {
    /// The name used in chapter files.
    pub fn as_str(self) -> &'static str {
        match self {
            ForEach::Peers => "peers",
            ForEach::Workers => "workers",
        }
    }

    /// The template variable each item is bound to.
    pub fn variable(self) -> &'static str {
        match self {
            ForEach::Peers => "peer",
            ForEach::Workers => "worker",
        }
    }
}

/// A verify check: the core's own kinds (`rollout_ready`, `command`), or a kind that a
/// chapter's own Rust provides, kept as written (docs/chapters.md, "A chapter's own Rust").
#[derive(Debug, Clone)]
pub enum VerifyCheck {
    /// A DaemonSet's rollout is complete.
    RolloutReady { namespace: Spanned<String>, daemonset: Spanned<String> },
    /// A custom command, run on each host of `where`; by default exit 0 means the check passed.
    Command {
        name: Spanned<String>,
        target: Target,
        sudo: bool,
        run: Spanned<String>,
        /// What a passing run looks like, when exit 0 alone is not it.
        expect: Option<CommandExpect>,
        /// What to tell the student when the check fails (a template, with `node`).
        hint: Option<Spanned<String>>,
    },
    /// A kind the schema does not know: the course that loads the chapter checks that a
    /// chapter's Rust provides it (`crate::chapter::provided`).
    Provided(ProvidedCheck),
}

/// A verify check of a kind a chapter's own Rust provides: its kind and its fields as written.
#[derive(Debug, Clone)]
pub struct ProvidedCheck {
    /// The kind, where it is written.
    pub kind: Spanned<String>,
    /// The fields (an empty map for `kind: {}`), with where they are in the file.
    pub fields: Spanned<serde_json::Value>,
}

/// The fields of a `rollout_ready` check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolloutReadyFields {
    namespace: Spanned<String>,
    daemonset: Spanned<String>,
}

/// The fields of a `command` check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandFields {
    name: Spanned<String>,
    #[serde(rename = "where")]
    target: Target,
    #[serde(default)]
    sudo: bool,
    run: Spanned<String>,
    #[serde(default)]
    expect: Option<CommandExpect>,
    #[serde(default)]
    hint: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for VerifyCheck {
    /// A map with one key, the check's kind, whose value holds the check's fields.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = VerifyCheck;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a verify check: a map with one key, its kind (`command`, `rollout_ready`, or a kind of the chapter's own)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<VerifyCheck, A::Error> {
                use serde::de::Error;
                let Some(spanned) = map.next_key::<Spanned<String>>()? else {
                    return Err(A::Error::custom("a verify check needs a kind, e.g. `command:`"));
                };
                let kind = spanned.value.clone();
                let check = match kind.as_str() {
                    "rollout_ready" => {
                        let f: RolloutReadyFields = map.next_value()?;
                        VerifyCheck::RolloutReady { namespace: f.namespace, daemonset: f.daemonset }
                    }
                    "command" => {
                        let f: CommandFields = map.next_value()?;
                        VerifyCheck::Command {
                            name: f.name,
                            target: f.target,
                            sudo: f.sudo,
                            run: f.run,
                            expect: f.expect,
                            hint: f.hint,
                        }
                    }
                    _ => VerifyCheck::Provided(ProvidedCheck {
                        kind: spanned,
                        fields: map.next_value()?,
                    }),
                };
                if let Some(other) = map.next_key::<String>()? {
                    return Err(A::Error::custom(format!(
                        "a verify check has one kind, and this one has `{}` and `{other}`: start the second with `- `",
                        check.kind()
                    )));
                }
                Ok(check)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

impl VerifyCheck {
    /// The check's kind, as written in the chapter.
    pub fn kind(&self) -> &str {
        match self {
            VerifyCheck::RolloutReady { .. } => "rollout_ready",
            VerifyCheck::Command { .. } => "command",
            VerifyCheck::Provided(p) => &p.kind.value,
        }
    }
}

/// What a passing run of a `command` check looks like.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandExpect {
    /// The exit codes that pass (one or a list); 0 when not given.
    #[serde(default)]
    pub exit: Option<ExitCodes>,
    /// A regular expression that must match somewhere in the standard output (a template,
    /// rendered first; `(?m)` makes `^` and `$` match at each line).
    #[serde(default)]
    pub output: Option<Spanned<String>>,
}

/// One exit code or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ExitCodes {
    One(i32),
    Several(Vec<i32>),
}

impl ExitCodes {
    /// The codes as a list.
    pub fn codes(&self) -> Vec<i32> {
        match self {
            ExitCodes::One(code) => vec![*code],
            ExitCodes::Several(codes) => codes.clone(),
        }
    }
}
