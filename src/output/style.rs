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
