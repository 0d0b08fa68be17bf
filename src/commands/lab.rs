//! What `plan`, `run`, `verify` and `reset` share: the chapter, the inventory, the variant, the
//! state directory, the connections.

use std::sync::Mutex;

use crate::chapter::{Chapter, Variant};
use crate::cli::GlobalArgs;
use crate::error::{Error, closest};
use crate::inventory::Inventory;
use crate::output::progress::Progress;
use crate::plan::{HostRef, Plan};
use crate::pod_network::flannel::gather::IfaceDecision;
use crate::runner::execute::Recorder;
use crate::runner::hosts::Hosts;
use crate::runner::log::RunLog;
use crate::runner::state::{State, StateDir};

/// The chapter 11 of the course: what `verify` checks when nothing was run yet.
pub const FIRST_CHAPTER: &str = "11-pod-network-routes";

/// The chapter a command is about: the one named, else the last one run, else chapter 11.
pub fn chapter_name(chapter: Option<&str>, state: &crate::runner::state::State) -> String {
    chapter
        .map(str::to_string)
        .or_else(|| state.last_chapter.clone())
        .unwrap_or_else(|| FIRST_CHAPTER.to_string())
}

/// A chapter and the lab it is for.
pub struct Lab {
    pub chapter: Chapter,
    pub inventory: Inventory,
    pub state_dir: StateDir,
    pub state: State,
    pub connect_timeout: std::time::Duration,
    /// `--command-timeout`, over every step's own.
    pub command_timeout: Option<std::time::Duration>,
    /// Where the command's words go, and how they look.
    pub shell: crate::output::shell::Shell,
}

/// Whatever this command wrote in `.labctl/` goes back to the lab's owner when root ran it
/// (`runner::ownership`).
impl Drop for Lab {
    fn drop(&mut self) {
        self.state_dir.hand_over();
    }
}

impl Lab {
    /// Loads the inventory and state, then the chapter (`None`: the last one run, else chapter 11).
    pub fn open(global: &GlobalArgs, chapter: Option<&str>) -> Result<Lab, Error> {
        Lab::open_with(global, chapter, true)
    }

    /// [`Lab::open`]; `remembered`: a chapter named by its name is read from the file `run`
    /// was last given for it, if any (`run` itself, given a name, means the course's).
    pub fn open_with(
        global: &GlobalArgs,
        chapter: Option<&str>,
        remembered: bool,
    ) -> Result<Lab, Error> {
        let mut inventory = super::load_inventory(global)?;
        // A `provider: vagrant` inventory learns each node's sshd from `vagrant ssh-config`.
        crate::inventory::resolve_vagrant_endpoints(&mut inventory)?;
        if let Some(warning) = unchecked_host_keys(&inventory) {
            global.shell.warn(&warning);
        }
        let state_dir = StateDir::for_inventory(&inventory.source);
        let state = state_dir.load()?;
        let name = chapter_name(chapter, &state);
        let course = crate::commands::course();
        // A chapter run from a file is read from that file again when named by its name (or
        // not named), even when the course has a chapter of that name: a course author runs
        // their copy of it.
        let names = course.catalog.names().unwrap_or_default();
        let key = crate::course::resolve(&name, &names).map_or(name.as_str(), |n| n);
        let file = state.chapter_files.get(key).filter(|_| remembered);
        let chapter = match file {
            Some(file) if !crate::course::looks_like_path(&name) => {
                course.load(&file.to_string_lossy())?
            }
            _ => course.load(&name)?,
        };
        let connect_timeout = std::time::Duration::from_secs(global.connect_timeout);
        Ok(Lab {
            chapter,
            inventory,
            state_dir,
            state,
            connect_timeout,
            command_timeout: global.command_timeout,
            shell: global.shell.clone(),
        })
    }

    /// The variant: the flag, else (when `use_state`) the one recorded, else the provider's default.
    pub fn variant(&self, flag: Option<&str>, use_state: bool) -> Result<&Variant, Error> {
        let recorded = if use_state {
            self.state
                .chapters
                .get(self.chapter.name())
                .map(|c| c.variant.as_str())
                .filter(|v| !v.is_empty())
        } else {
            None
        };
        self.chapter.variant(flag.or(recorded), self.inventory.provider)
    }

    /// Chooses the variant as [`Lab::variant`] does and, for one that acts on a cloud
    /// (`cloud: gce`), gets the lab ready for it as far as `need` says (see [`crate::pod_network::gce`]).
    /// Returns the variant's name.
    pub fn prepare(
        &mut self,
        flag: Option<&str>,
        use_state: bool,
        need: crate::pod_network::gce::Need,
    ) -> Result<String, Error> {
        let variant = self.variant(flag, use_state)?;
        let name = variant.name.value.clone();
        for warning in crate::plan::lab_warnings(&self.chapter, variant, &self.inventory) {
            self.shell.warn(&warning.to_string());
        }
        match variant.cloud {
            None => {}
            Some(crate::chapter::Cloud::Gce) => crate::runner::runtime()?
                .block_on(crate::pod_network::gce::prepare(&mut self.inventory, &name, need))?,
        }
        Ok(name)
    }

    /// What `plan` and `run` start from: the lab opened for `chapter`, its variant chosen and
    /// prepared (`use_state`: the recorded one counts), the variant's plan, and whether facts
    /// must decide flanneld's interface before the plan is final.
    pub fn planned(
        global: &GlobalArgs,
        chapter: &str,
        flag: Option<&str>,
        use_state: bool,
    ) -> Result<(Lab, String, Plan, bool), Error> {
        let mut lab = Lab::open_with(global, Some(chapter), use_state)?;
        let name = lab.prepare(flag, use_state, crate::pod_network::gce::Need::Instances)?;
        let variant = lab.variant(Some(&name), use_state)?;
        let plan = lab.plan(variant)?;
        let iface_facts = lab.needs_iface_facts(variant)?;
        Ok((lab, name, plan, iface_facts))
    }

    /// Renders the plan for `variant`.
    pub fn plan(&self, variant: &Variant) -> Result<Plan, Error> {
        Ok(crate::plan::render(&self.chapter, variant, &self.inventory)?)
    }

    /// Whether `variant`'s plan needs facts first: flanneld's interface is `auto` and the plan
    /// depends on it (see [`crate::pod_network::variables::uses_iface_args`]).
    pub fn needs_iface_facts(&self, variant: &Variant) -> Result<bool, Error> {
        if crate::pod_network::settings::flannel(&self.inventory)?.iface != "auto" {
            return Ok(false);
        }
        Ok(crate::pod_network::variables::uses_iface_args(&self.chapter, variant, &self.inventory)?)
    }

    /// The hosts to connect to for `plan`: its own, plus every worker when facts must decide
    /// flanneld's interface.
    pub fn hosts_for(&self, plan: &Plan, iface_facts: bool) -> Vec<HostRef> {
        let mut hosts: Vec<HostRef> = plan.hosts.iter().map(|h| h.host.clone()).collect();
        if iface_facts {
            for w in self.inventory.workers() {
                let h = HostRef::Node(w.name.clone());
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
        }
        hosts
    }

    /// The plan of `variant` with flanneld's interface decided from the workers' facts
    /// (gathered over `hosts`), and that decision.
    pub async fn plan_from_facts(
        &self,
        variant: &Variant,
        hosts: &Hosts,
        log: &RunLog,
    ) -> Result<(Plan, IfaceDecision), Error> {
        let flannel = crate::pod_network::settings::flannel(&self.inventory)?;
        let decision =
            crate::pod_network::flannel::gather::decide(&self.inventory, &flannel, hosts, log)
                .await?;
        let plan = crate::plan::render_with(
            &self.chapter,
            variant,
            &self.inventory,
            &crate::pod_network::variables::with_iface_args(
                &self.inventory,
                Some(decision.args()),
            )?,
        )?;
        Ok((plan, decision))
    }

    /// Checks that `step` names a step of `plan`.
    pub fn check_step(&self, plan: &Plan, step: &str) -> Result<(), Error> {
        let names = crate::runner::execute::step_names(plan);
        if names.iter().any(|n| n == step) {
            return Ok(());
        }
        Err(Error::UnknownStep {
            chapter: self.chapter.name().to_string(),
            name: step.to_string(),
            suggestion: closest(step, names.iter().map(String::as_str)),
        })
    }

    /// Puts `hosts` in the inventory's order (this machine first), whatever order they were
    /// gathered in (state records, a footprint's parts), so every listing of hosts has it.
    pub fn inventory_order(&self, hosts: &mut [HostRef]) {
        hosts.sort_by_key(|h| self.position(h));
    }

    /// Puts a command's results per host in the inventory's order: `reset` undoes hosts in
    /// the order their actions were recorded, which is the order a `run`'s hosts finished.
    pub fn results_in_inventory_order(&self, results: &mut [crate::runner::execute::HostResult]) {
        results.sort_by_key(|r| self.position(&HostRef::named(&r.host)));
    }

    /// Where `host` is in the inventory: this machine first, then the nodes as listed.
    fn position(&self, host: &HostRef) -> usize {
        let nodes = &self.inventory.nodes;
        match host {
            HostRef::Local => 0,
            HostRef::Node(name) => {
                1 + nodes.iter().position(|n| &n.name == name).unwrap_or(nodes.len())
            }
        }
    }

    /// A recorder for changes to this lab's state, starting from the state on disk now (read
    /// again: under the lab's lock, what its last holder recorded counts).
    pub fn recorder(&self, variant: &str) -> Result<Recorder, Error> {
        Ok(Recorder {
            dir: self.state_dir.clone(),
            chapter: self.chapter.name().to_string(),
            variant: variant.to_string(),
            state: Mutex::new(self.state_dir.load()?),
        })
    }

    /// Connects to `hosts`.
    pub async fn connect(
        &self,
        hosts: &[HostRef],
        concurrency: usize,
        log: &RunLog,
    ) -> Result<Hosts, Error> {
        if let Some((path, mode, nodes)) =
            crate::runner::hosts::unprotected_keys(hosts, &self.inventory).into_iter().next()
        {
            return Err(Error::UnprotectedKey { path, mode, nodes });
        }
        if let Some((paths, nodes)) =
            crate::runner::hosts::missing_keys(hosts, &self.inventory).into_iter().next()
        {
            let why = match std::fs::File::open(&paths[0]) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "no such file".to_string(),
                Err(e) => e.to_string(),
                Ok(_) => "unreadable".to_string(),
            };
            let inventory = self.inventory.source.clone();
            return Err(Error::MissingKey { paths, nodes, inventory, why });
        }
        // `plan` and `verify` work on a lab whose `.labctl/` they may read but not write
        // (they only read the state); what must write says whose the files are.
        if let Err(e) = self.state_dir.create()
            && !self.state_dir.dir.is_dir()
        {
            return Err(e);
        }
        // Local steps run in the lab's working directory, made when one is about to run.
        let workdir = self.state_dir.work();
        let local = hosts.contains(&HostRef::Local);
        if local {
            self.state_dir.create_work()?;
        }
        let hosts = crate::runner::hosts::connect(
            hosts,
            &self.inventory,
            &self.state_dir.known_hosts(),
            concurrency,
            self.connect_timeout,
            local.then_some(workdir.as_path()),
            log,
        )
        .await;
        for warning in &hosts.warnings {
            self.shell.warn(warning);
        }
        Ok(hosts)
    }

    /// Settles the actions of the chapter an earlier labctl left recorded as started (see
    /// [`crate::runner::settle`]) over `hosts`, and says what became of each.
    /// The notes are status lines: with `--output json`, on stderr.
    pub async fn settle(&self, recorder: &Recorder, hosts: &Hosts, log: &RunLog) {
        let timeout = self.command_timeout.unwrap_or(crate::chapter::schema::DEFAULT_TIMEOUT);
        for note in crate::runner::settle::all(recorder, hosts, log, timeout).await {
            match note.result {
                Ok(_) => self.shell.status(&note.to_string()),
                Err(_) => self.shell.warn(&note.to_string()),
            }
        }
    }

    /// A progress reporter for `hosts`, each doing `work` actions.
    pub fn progress(&self, hosts: &[(String, u64)]) -> Progress {
        // An environment of a class: the class shows one line for the whole lab.
        if self.shell.is_captured() {
            return Progress::forwarding(hosts.len(), self.shell.clone());
        }
        Progress::new(&self.shell, hosts)
    }
}

/// The warning for nodes whose host keys are not checked because `vagrant ssh-config` says so
/// (`StrictHostKeyChecking no`, `UserKnownHostsFile /dev/null`): Vagrant makes new host keys
/// whenever a VM is recreated. labctl follows it, and says so.
pub fn unchecked_host_keys(inventory: &Inventory) -> Option<String> {
    use crate::inventory::HostKeyChecking;
    let names: Vec<&str> = inventory
        .nodes
        .iter()
        .filter(|n| n.ssh.as_ref().and_then(|s| s.host_key_checking) == Some(HostKeyChecking::Off))
        .map(|n| n.name.as_str())
        .collect();
    if names.is_empty() {
        return None;
    }
    Some(format!(
        "host keys of {} are not checked: `vagrant ssh-config` says `StrictHostKeyChecking no` \
         and `UserKnownHostsFile /dev/null` (Vagrant makes new host keys whenever a VM is \
         recreated); labctl does as `vagrant ssh` does",
        names.join(", ")
    ))
}

/// Prints why each unreachable host could not be reached (once per host).
pub fn print_unreachable(hosts: &Hosts, shell: &crate::output::shell::Shell) {
    for (name, e) in hosts.unreachable_in_order() {
        shell.error(&format!("{name}: {e}"));
    }
}
