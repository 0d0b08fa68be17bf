//! Sections: how several commands' outputs travel back in one SSH round trip.
//!
//! A script built on [`PRELUDE`] runs each command through the shell function `fact NAME CMD..`
//! (or `file_fact NAME PATH` for a file that may not exist), which frames the command's output:
//!
//! ```text
//! ::labctl:: begin NAME
//! <the command's stdout, byte for byte>
//! ::labctl:: rc <exit code>
//! ::labctl:: stderr <one line of the command's stderr>
//! ::labctl:: end
//! ```
//!
//! or, for a file that is not there, `begin`, `::labctl:: absent`, `end`. The prelude prints a
//! newline before the `rc` marker, so stdout needs no trailing newline and comes back exactly.
//! stderr is collected apart and printed after stdout, so the two never interleave.
//! `LC_ALL=C` makes error texts (`RTNETLINK answers: ...`) English whatever the host's locale.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::FactError;

/// The marker every framing line starts with.
const MARK: &str = "::labctl:: ";

/// POSIX sh functions `fact` and `file_fact` that frame a command's output as a section.
pub const PRELUDE: &str = r#"LC_ALL=C; export LC_ALL
exec 3>&1
fact() {
  printf '::labctl:: begin %s\n' "$1"; shift
  err=$("$@" 2>&1 1>&3 3>&-)
  printf '\n::labctl:: rc %s\n' "$?"
  [ -z "$err" ] || printf '%s\n' "$err" | sed 's/^/::labctl:: stderr /'
  printf '::labctl:: end\n'
}
file_fact() {
  if [ -e "$2" ]; then fact "$1" cat "$2"
  else printf '::labctl:: begin %s\n::labctl:: absent\n::labctl:: end\n' "$1"; fi
}
"#;

/// One command's framed output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The section's name, e.g. `routes` or `route_get 10.200.1.254`.
    pub name: String,
    /// True when the file the section reads does not exist (nothing ran).
    pub absent: bool,
    pub stdout: String,
    /// The command's stderr, one line per line, without the markers.
    pub stderr: String,
    /// The command's exit code (0 when absent).
    pub code: i32,
}

impl Section {
    /// A section whose command succeeded with this stdout (for tests and callers that ran a
    /// fact's command on its own).
    pub fn ran(name: &str, stdout: &str) -> Section {
        Section {
            name: name.into(),
            absent: false,
            stdout: stdout.into(),
            stderr: String::new(),
            code: 0,
        }
    }

    /// The stdout of a command that must have succeeded, else the error naming the section.
    pub fn success(&self) -> Result<&str, FactError> {
        if self.absent {
            return Err(FactError::unexpected(&self.name, "the file it reads does not exist"));
        }
        if self.code != 0 {
            return Err(FactError::CommandFailed {
                section: self.name.clone(),
                code: self.code,
                stderr: self.stderr.trim().to_string(),
            });
        }
        Ok(&self.stdout)
    }

    /// The JSON an `ip -j` command printed, else an error naming the section and what came
    /// instead (old iproute2 releases ignore `-j` for some objects and print text).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, FactError> {
        let stdout = self.success()?;
        let trimmed = stdout.trim_start();
        if !trimmed.starts_with('[') {
            let first = trimmed.lines().next().unwrap_or_default();
            let shown: String = first.chars().take(60).collect();
            return Err(FactError::unexpected(
                &self.name,
                format!(
                    "expected the JSON of `ip -j`, got `{shown}` (is iproute2 older than 4.17?)"
                ),
            ));
        }
        serde_json::from_str(stdout).map_err(|e| {
            FactError::unexpected(&self.name, format!("not the JSON `ip -j` prints: {e}"))
        })
    }
}

/// The name of a section with one argument, e.g. `route_get 10.200.1.254`.
pub fn name_with(fact: &str, arg: impl std::fmt::Display) -> String {
    format!("{fact} {arg}")
}

/// The section called `name` of `sections`, or the error that it is missing.
pub fn named<'a>(
    sections: &'a std::collections::BTreeMap<String, Section>,
    name: &str,
) -> Result<&'a Section, FactError> {
    sections.get(name).ok_or_else(|| FactError::MissingSection { section: name.to_string() })
}

/// The line of the gather script that reads the file at `path` as section `name`.
pub fn file_fact_line(name: &str, path: &str) -> String {
    format!("file_fact {} {}\n", quote(name), quote(path))
}

/// The shell line that runs `command` (already shell text) as section `name`.
pub fn fact_line(name: &str, command: &str) -> String {
    format!("fact {} {command}\n", quote(name))
}

/// Shell-quotes one word (values that go into scripts are quoted, never pasted).
pub fn quote(word: &str) -> String {
    // Only a NUL byte cannot be quoted; names and addresses never contain one.
    shlex::try_quote(word).map(|q| q.into_owned()).unwrap_or_else(|_| "''".into())
}

/// Splits a script's output into its sections, in order.
///
/// Lines outside sections (a login banner, a shell's noise) are ignored; a section that is cut
/// short or has unexpected lines between its `rc` and `end` markers is an error.
pub fn parse_output(output: &str) -> Result<Vec<Section>, FactError> {
    let mut sections = Vec::new();
    let mut rest = output;
    let line_of = |rest: &str| output[..output.len() - rest.len()].matches('\n').count() + 1;
    while let Some(start) = find_line_start(rest, "begin ") {
        let after = &rest[start + MARK.len() + "begin ".len()..];
        let (name, body) = after.split_once('\n').ok_or_else(|| FactError::Framing {
            line: line_of(after),
            problem: "cut short after a section's begin marker".into(),
        })?;
        let name = name.to_string();
        let cut = |rest: &str| FactError::Framing {
            line: line_of(rest),
            problem: format!("section `{name}` is cut short (no end marker)"),
        };
        if let Some(after_absent) = body.strip_prefix("::labctl:: absent\n") {
            rest =
                after_absent.strip_prefix("::labctl:: end\n").ok_or_else(|| cut(after_absent))?;
            sections.push(Section { name, absent: true, ..Section::ran("", "") });
            continue;
        }
        let rc_at = body.find("\n::labctl:: rc ").ok_or_else(|| cut(body))?;
        let stdout = body[..rc_at].to_string();
        let after_rc = &body[rc_at + "\n::labctl:: rc ".len()..];
        let (code, mut tail) = after_rc.split_once('\n').ok_or_else(|| cut(after_rc))?;
        let code = code.trim().parse::<i32>().map_err(|_| FactError::Framing {
            line: line_of(after_rc),
            problem: format!("section `{name}`: exit code `{code}` is not a number"),
        })?;
        let mut stderr = String::new();
        loop {
            let (line, next) = tail.split_once('\n').ok_or_else(|| cut(tail))?;
            if line == "::labctl:: end" {
                rest = next;
                break;
            }
            let Some(err) = line.strip_prefix("::labctl:: stderr ") else {
                return Err(FactError::Framing {
                    line: line_of(tail),
                    problem: format!(
                        "section `{name}`: unexpected line `{line}` after its exit code"
                    ),
                });
            };
            stderr.push_str(err);
            stderr.push('\n');
            tail = next;
        }
        sections.push(Section { name, absent: false, stdout, stderr, code });
    }
    Ok(sections)
}

/// Sections by name; a name given twice keeps its last section.
pub fn by_name(sections: Vec<Section>) -> BTreeMap<String, Section> {
    sections.into_iter().map(|s| (s.name.clone(), s)).collect()
}

/// The byte offset of the next line that starts with the marker `MARK` + `word`.
fn find_line_start(text: &str, word: &str) -> Option<usize> {
    let needle = format!("{MARK}{word}");
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let at = from + i;
        if at == 0 || text.as_bytes()[at - 1] == b'\n' {
            return Some(at);
        }
        from = at + needle.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::fixture;

    #[test]
    fn sections_of_a_real_gather() {
        let sections = parse_output(&fixture("gather-untidy-worker-2.txt")).unwrap();
        let names: Vec<&str> = sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "addresses",
                "routes",
                "ip_forward",
                "flannel_link",
                "flannel_subnet_env",
                "cni_config /etc/cni/net.d/10-bridge.conf",
                "cni_config /etc/cni/net.d/20-old-host-local.conf",
            ]
        );
        assert_eq!(sections[2].stdout, "0\n");
        assert_eq!(sections[3].code, 1);
        assert_eq!(sections[3].stdout, "");
        assert_eq!(sections[3].stderr, "Device \"flannel.1\" does not exist.\n");
        assert!(sections[4].absent);
    }

    #[test]
    fn stdout_comes_back_byte_for_byte() {
        // The prelude's newline before `rc`: with and without a trailing newline of its own.
        let out = "::labctl:: begin a\nno newline\n::labctl:: rc 0\n::labctl:: end\n\
                   ::labctl:: begin b\nline\n\n::labctl:: rc 0\n::labctl:: end\n\
                   ::labctl:: begin c\n\n::labctl:: rc 3\n::labctl:: stderr oops\n::labctl:: end\n";
        let s = parse_output(out).unwrap();
        assert_eq!(s[0].stdout, "no newline");
        assert_eq!(s[1].stdout, "line\n");
        assert_eq!((s[2].stdout.as_str(), s[2].code, s[2].stderr.as_str()), ("", 3, "oops\n"));
    }

    #[test]
    fn noise_outside_sections_is_ignored() {
        let out =
            "Welcome to Ubuntu\n::labctl:: begin a\nx\n::labctl:: rc 0\n::labctl:: end\nbye\n";
        assert_eq!(parse_output(out).unwrap(), vec![Section::ran("a", "x")]);
    }

    #[test]
    fn a_cut_short_section_is_an_error_naming_it() {
        let out = "::labctl:: begin routes\n[{\"dst\":";
        let err = parse_output(out).unwrap_err().to_string();
        assert_eq!(err, "gathered output, line 2: section `routes` is cut short (no end marker)");
    }

    #[test]
    fn noise_inside_a_section_is_an_error() {
        let out = "::labctl:: begin a\n\n::labctl:: rc 0\nstray\n::labctl:: end\n";
        let err = parse_output(out).unwrap_err().to_string();
        assert_eq!(
            err,
            "gathered output, line 4: section `a`: unexpected line `stray` after its exit code"
        );
    }

    #[test]
    fn failed_command_names_the_section() {
        let s = Section { code: 2, stderr: "boom\n".into(), ..Section::ran("routes", "") };
        assert_eq!(
            s.success().unwrap_err().to_string(),
            "fact `routes`: the command failed with exit code 2: boom"
        );
    }
}
