//! What `plan`, `run`, `verify` and `reset` share: the chapter, the inventory, the variant, the
//! state directory, the connections.

use std::sync::Mutex;

use crate::chapter::{Catalog, Chapter, Variant};
use crate::cli::GlobalArgs;
use crate::error::{Error, closest};
use crate::inventory::Inventory;
use crate::output::progress::Progress;
use crate::output::style::Style;
use crate::plan::{HostRef, Plan};
use crate::runner::execute::Recorder;
use crate::runner::hosts::Hosts;
use crate::runner::log::RunLog;
use crate::runner::state::{State, StateDir};

/// The chapter 11 of the course: what `verify` checks when nothing was run yet.
pub const FIRST_CHAPTER: &str = "11-pod-network-routes";

/// A chapter and the lab it is for.
pub struct Lab {
    pub chapter: Chapter,
    pub inventory: Inventory,
    pub state_dir: StateDir,
    pub state: State,
    pub style: Style,
    pub connect_timeout: std::time::Duration,
}

impl Lab {
    /// Loads the inventory and state, then the chapter (`None`: the last one run, else chapter 11).
    pub fn open(global: &GlobalArgs, chapter: Option<&str>) -> Result<Lab, Error> {
        let inventory = super::load_inventory(global)?;
        let state_dir = StateDir::for_inventory(&inventory.source);
        let state = state_dir.load()?;
        let name = chapter
            .map(str::to_string)
            .or_else(|| state.last_chapter.clone())
            .unwrap_or_else(|| FIRST_CHAPTER.to_string());
        let chapter = Catalog::from_env().load(&name)?;
        let style = Style::detect(global.color, global.no_progress);
        let connect_timeout = std::time::Duration::from_secs(global.connect_timeout);
        Ok(Lab { chapter, inventory, state_dir, state, style, connect_timeout })
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

    /// Renders the plan for `variant`.
    pub fn plan(&self, variant: &Variant) -> Result<Plan, Error> {
        Ok(crate::plan::render(&self.chapter, variant, &self.inventory)?)
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

    /// A recorder for changes to this lab's state.
    pub fn recorder(&self, variant: &str) -> Recorder {
        Recorder {
            dir: self.state_dir.clone(),
            chapter: self.chapter.name().to_string(),
            variant: variant.to_string(),
            state: Mutex::new(self.state.clone()),
        }
    }

    /// Connects to `hosts`.
    pub async fn connect(
        &self,
        hosts: &[HostRef],
        concurrency: usize,
        log: &RunLog,
    ) -> Result<Hosts, Error> {
        self.state_dir.create()?;
        Ok(crate::runner::hosts::connect(
            hosts,
            &self.inventory,
            &self.state_dir.known_hosts(),
            concurrency,
            self.connect_timeout,
            log,
        )
        .await)
    }

    /// A progress reporter for `hosts`, each doing `work` actions.
    pub fn progress(&self, hosts: &[(String, u64)]) -> Progress {
        Progress::new(self.style, hosts)
    }
}

/// Prints why each unreachable host could not be reached (once per host).
pub fn print_unreachable(hosts: &Hosts) {
    for (name, e) in &hosts.unreachable {
        eprintln!("error: {name}: {e}");
    }
}
