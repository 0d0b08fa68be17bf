//! How text looks on one stream: colour and progress bars, as the [`Shell`] decided them
//! (`--color`, `NO_COLOR`, the terminal, `--no-progress`, `-v`).
//!
//! [`Shell`]: crate::output::shell::Shell

/// Whether output gets colour and progress bars (from [`crate::output::shell::Shell::style`]).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Progress bars (stderr is a terminal and `--no-progress` was not given).
    pub bars: bool,
}

impl Style {
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
