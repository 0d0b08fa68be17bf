//! Rendering a chapter command: labctl's `Renderer` (strict, shell-quoting every value), checked
//! against minijinja set up the same way but with fuel, so that no template can run forever;
//! and the shell quoting of any value.
#![no_main]

use std::path::Path;

use labctl::template::{Located, Renderer, TemplateSource, shell};
use libfuzzer_sys::fuzz_target;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};

/// Enough for any real chapter command many times over; a loop over `range(100000)` runs out.
const FUEL: u64 = 50_000;

fn context() -> Value {
    let sample = labctl::course::Catalog::Builtin
        .read("11-pod-network-routes")
        .expect("chapter 11 is built in")
        .example_lab();
    let vars = labctl::pod_network::variables::template_variables(&sample)
        .expect("the example lab's settings read");
    labctl::template::context::base_context(
        &sample,
        "11-pod-network-routes",
        "static",
        &Default::default(),
        &vars,
    )
}

fn fueled() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_formatter(shell::quoting_formatter);
    env.set_fuel(Some(FUEL));
    env
}

/// `quote` gives one shell word that a POSIX shell reads back as `value`; only NUL is refused.
fn check_quote(value: &str) {
    match shell::quote(value) {
        Ok(word) => {
            assert!(!value.contains('\0'));
            assert_eq!(shlex::split(&word), Some(vec![value.to_string()]), "{word}");
        }
        Err(e) => assert!(value.contains('\0'), "{e}"),
    }
    let word = labctl::facts::section::quote(value);
    if !value.contains('\0') {
        assert_eq!(shlex::split(&word), Some(vec![value.to_string()]), "{word}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check_quote(text);

    let context = context();
    let env = fueled();
    let file = Path::new("labs/chapter.yaml");
    let located = Located { text, line: 3, column: 10 };
    let renderer = Renderer::new(TemplateSource::Builtin);

    // The syntax check agrees with minijinja's parser.
    let syntax = renderer.check_command_syntax(file, located);
    assert_eq!(syntax.is_ok(), env.template_from_str(text).is_ok(), "{syntax:?}");
    if let Err(d) = &syntax {
        // Not always a SyntaxError: a bad string escape is found while parsing too.
        assert!(d.line.is_some_and(|l| l >= 3) && d.message.starts_with("template "), "{d:?}");
    }

    let expected = env.render_named_str("command", text, &context);
    if let Err(e) = &expected
        && e.kind() == ErrorKind::OutOfFuel
    {
        // labctl renders without fuel: this template would take too long to say anything about.
        return;
    }
    let rendered = renderer.render_command(file, located, &context);
    match (&expected, &rendered) {
        (Ok(want), Ok(got)) => assert_eq!(want.trim(), got),
        // Strict rendering sees only the branches taken; labctl also checks the others.
        (Ok(_), Err(d)) => assert!(d.message.contains("in a branch that was not taken"), "{d:?}"),
        (Err(e), Ok(got)) => panic!("minijinja says {e:?} but labctl rendered {got:?}"),
        (Err(_), Err(d)) => {
            assert_eq!(d.file, file);
            assert!(d.line.is_some_and(|l| l >= 3), "{d:?}");
            assert!(!d.message.trim().is_empty(), "{d:?}");
        }
    }
});
