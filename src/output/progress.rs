//! Progress while commands run on many hosts.
//!
//! On a terminal, one indicatif bar per host. indicatif hides itself when stderr is not a
//! terminal, so then every event is printed as one line on stderr instead (CI logs, pipes).

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::shell::Shell;

/// Receives events from hosts working in parallel.
pub struct Progress {
    /// Where an event's line goes when there are no bars.
    shell: Shell,
    /// Print nothing (`plan` prints its own report).
    silent: bool,
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
    /// A lab of a class: events become one line for the whole lab (hosts done of all, and
    /// the latest event), given to the shell's progress.
    forward: Option<Forward>,
}

struct Forward {
    shell: Shell,
    hosts: usize,
    done: Mutex<std::collections::HashSet<String>>,
}

impl Progress {
    /// A reporter for `hosts`, each expected to do `work[i]` actions.
    pub fn new(shell: &Shell, hosts: &[(String, u64)]) -> Progress {
        let shell = shell.clone();
        if !shell.err_style().bars {
            return Progress { shell, silent: false, bars: None, forward: None };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let width = hosts.iter().map(|(h, _)| h.len()).max().unwrap_or(8);
        let template = format!("{{prefix:<{width}}} [{{bar:20}}] {{pos}}/{{len}} {{msg}}");
        let bar_style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let mut map = HashMap::new();
        for (host, len) in hosts {
            let bar = multi.add(ProgressBar::new(*len));
            bar.set_style(bar_style.clone());
            bar.set_prefix(host.clone());
            map.insert(host.clone(), bar);
        }
        Progress { shell, silent: false, bars: Some((multi, Mutex::new(map))), forward: None }
    }

    /// A reporter that shows nothing.
    pub fn silent(shell: &Shell) -> Progress {
        Progress { shell: shell.clone(), silent: true, bars: None, forward: None }
    }

    /// A reporter for a lab of a class: one line for the lab, given to `shell`'s progress.
    pub fn forwarding(hosts: usize, shell: Shell) -> Progress {
        let done = Mutex::new(std::collections::HashSet::new());
        let forward = Some(Forward { shell: shell.clone(), hosts, done });
        Progress { shell, silent: true, bars: None, forward }
    }

    fn forward(&self, host: &str, what: &str, detail: &str, finished: bool) {
        if let Some(f) = &self.forward {
            let done = match f.done.lock() {
                Ok(mut set) => {
                    if finished {
                        set.insert(host.to_string());
                    }
                    set.len()
                }
                Err(_) => 0,
            };
            let line = format!("{done}/{} hosts  {host}: {what} {detail}", f.hosts);
            f.shell.progress(line.trim_end());
        }
    }

    /// One event on `host`: `what` happened (`changed`, `ok`, `failed`, ...), with `detail`.
    pub fn event(&self, host: &str, what: &str, detail: &str, advance: bool) {
        self.forward(host, what, detail, false);
        if self.silent {
            return;
        }
        match &self.bars {
            Some((_, bars)) => {
                if let Some(bar) = bars.lock().ok().as_ref().and_then(|b| b.get(host)) {
                    if advance {
                        bar.inc(1);
                    }
                    bar.set_message(format!("{what} {detail}"));
                }
            }
            None => {
                let style = self.shell.err_style();
                let what = match what {
                    "failed" | "unreachable" | "interrupted" => style.red(what),
                    "changed" => style.yellow(what),
                    "ok" | "done" | "pass" | "undone" => style.green(what),
                    other => other.to_string(),
                };
                crate::complain!(self.shell, "{host}: {what} {detail}");
            }
        }
    }

    /// Marks `host` finished with a last message.
    pub fn finish(&self, host: &str, message: &str) {
        self.forward(host, message, "", true);
        if let Some((_, bars)) = &self.bars
            && let Some(bar) = bars.lock().ok().as_ref().and_then(|b| b.get(host))
        {
            bar.finish_with_message(message.to_string());
        }
    }

    /// Removes the bars before the summary is printed.
    pub fn clear(&self) {
        if let Some((multi, _)) = &self.bars {
            let _ = multi.clear();
        }
    }
}
