//! Colour: on for a terminal unless `NO_COLOR` is set, or as `--color` says.

use std::io::IsTerminal;

use crate::cli::ColorChoice;

/// Whether output gets colour and progress bars.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Progress bars (stderr is a terminal and `--no-progress` was not given).
    pub bars: bool,
}

impl Style {
    /// The style for these global flags and this process's terminal.
    pub fn detect(choice: ColorChoice, no_progress: bool) -> Style {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color_env && std::io::stdout().is_terminal(),
        };
        let bars = !no_progress && std::io::stderr().is_terminal();
        Style { color, bars }
    }

    /// Colour for what goes to stderr (`error:`): as [`Style::detect`], but `auto` asks
    /// whether stderr is a terminal.
    pub fn for_stderr(choice: ColorChoice) -> Style {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color_env && std::io::stderr().is_terminal(),
        };
        Style { color, bars: false }
    }

    /// A verify report's text with its marks in colour: failed lines red, the summary line
    /// green when everything passed and red when not.
    pub fn report(&self, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            let (body, end) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            let painted = if body.starts_with("❌") || body.starts_with("FAIL") {
                self.red(body)
            } else if body.starts_with("verify: ") {
                let passed = !(body.contains(" fail") || body.contains("nothing to check"));
                if passed { self.green(&self.bold(body)) } else { self.red(&self.bold(body)) }
            } else {
                body.replace("✅", &self.green("✅")).replace("❌", &self.red("❌"))
            };
            out.push_str(&painted);
            out.push_str(end);
        }
        out
    }

    /// `text` in green, when colour is on.
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// `text` in red, when colour is on.
    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// `text` in yellow, when colour is on.
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }

    /// `text` in bold, when colour is on.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }
}
