//! Shell quoting of values put into commands.
//!
//! Every `{{ value }}` in a chapter's `check`/`run`/`undo` is shell-quoted by the formatter
//! installed here, so a value can never become shell syntax. A template that really means to
//! insert shell text writes `{{ value | safe }}`. Lists expand to one quoted word per item.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind, Output, State};

/// Quotes one word for a POSIX shell; plain words (`10.200.1.0/24`) stay as they are.
pub fn quote(word: &str) -> Result<String, Error> {
    shlex::try_quote(word).map(|q| q.into_owned()).map_err(|_| {
        Error::new(ErrorKind::InvalidOperation, "a value with a NUL byte cannot go into a command")
    })
}

/// The minijinja formatter that quotes every value written into a command.
pub fn quoting_formatter(out: &mut Output, _state: &mut State, value: &Value) -> Result<(), Error> {
    if value.is_safe() {
        return out.write_str(value.as_str().unwrap_or_default()).map_err(Error::from);
    }
    let text = match value.kind() {
        ValueKind::None => {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                "a value that is not set (none) cannot go into a command",
            ));
        }
        ValueKind::Seq => {
            let mut words = Vec::new();
            for item in value.try_iter()? {
                words.push(quote(&item.to_string())?);
            }
            words.join(" ")
        }
        ValueKind::Map => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "a mapping cannot go into a command; name one of its fields",
            ));
        }
        _ => quote(&value.to_string())?,
    };
    out.write_str(&text).map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, ctx: Value) -> String {
        let mut env = minijinja::Environment::new();
        env.set_formatter(quoting_formatter);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.render_str(src, ctx).unwrap()
    }

    #[test]
    fn plain_words_stay_plain() {
        let ctx = minijinja::context! { cidr => "10.200.1.0/24", ip => "10.240.0.21" };
        assert_eq!(
            render("ip route replace {{ cidr }} via {{ ip }}", ctx),
            "ip route replace 10.200.1.0/24 via 10.240.0.21"
        );
    }

    #[test]
    fn shell_syntax_in_a_value_is_quoted() {
        let ctx = minijinja::context! { name => "x; rm -rf / $(id) `id` 'q'" };
        let out = render("echo {{ name }}", ctx);
        assert_eq!(out, r#"echo 'x; rm -rf / $(id) `id` '"'q'""#);
        // and a real shell reads the value back unchanged
        let word = quote("x; rm -rf / $(id) `id` 'q' --a=b {c,d} ~").unwrap();
        let shell = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {word}")])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&shell.stdout),
            "x; rm -rf / $(id) `id` 'q' --a=b {c,d} ~"
        );
    }

    #[test]
    fn safe_opts_out_and_lists_expand_to_words() {
        let ctx = minijinja::context! { raw => "a | b", args => vec!["--x=1", "two words"] };
        assert_eq!(render("{{ raw | safe }} {{ args }}", ctx), "a | b '--x=1' 'two words'");
    }

    #[test]
    fn none_and_maps_are_refused() {
        let mut env = minijinja::Environment::new();
        env.set_formatter(quoting_formatter);
        let err = env.render_str("{{ x }}", minijinja::context! { x => () }).unwrap_err();
        assert!(err.to_string().contains("not set"), "{err}");
        let err = env
            .render_str("{{ x }}", minijinja::context! { x => minijinja::context!{ a => 1 } })
            .unwrap_err();
        assert!(err.to_string().contains("mapping"), "{err}");
    }
}
