//! Gather root input variables: `*.auto.mlinfra.vars`, `MLINFRA_VAR_*`, `--var-file`, `--var`.

use std::path::{Path, PathBuf};

use crate::config::syntax::Span as _;
use crate::config::syntax::Structure;

use crate::config::eval::{InputValue, Inputs, RawInput};
use crate::config::expr::{Evaluator, Scope};
use crate::config::load::{parse_source, Config, AUTO_VARS_SUFFIX};
use crate::diag::{Diagnostic, Diagnostics, Span};

/// The environment variable prefix for input variables.
pub const ENV_PREFIX: &str = "MLINFRA_VAR_";

/// Collect inputs in increasing precedence: env, auto files (sorted), then the command line
/// (`--var-file` and `--var` in the order given, later wins).
pub fn collect_inputs(
    config: &mut Config,
    cli: &[CliInput],
    env: impl IntoIterator<Item = (String, String)>,
) -> (Inputs, Diagnostics) {
    crate::budget::reset();
    let mut inputs = Inputs::new();
    let mut diags = Diagnostics::default();
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    env.sort();
    for (k, v) in env {
        let name = k[ENV_PREFIX.len()..].to_string();
        inputs.insert(
            name,
            InputValue {
                raw: RawInput::Text(v),
                source: k,
                span: None,
            },
        );
    }
    let mut auto: Vec<PathBuf> = std::fs::read_dir(&config.root_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(AUTO_VARS_SUFFIX))
                })
                .collect()
        })
        .unwrap_or_default();
    auto.sort();
    for f in auto {
        read_var_file(config, &f, &mut inputs, &mut diags);
    }
    for c in cli {
        match c {
            CliInput::Var(text) => match text.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    inputs.insert(
                        k.trim().to_string(),
                        InputValue {
                            raw: RawInput::Text(v.to_string()),
                            source: "--var".into(),
                            span: None,
                        },
                    );
                }
                _ => diags.push(
                    Diagnostic::error(format!("invalid --var \"{text}\""))
                        .expected("--var NAME=VALUE")
                        .help("for example --var env=prod or --var 'zones=[\"a\",\"b\"]'"),
                ),
            },
            CliInput::File(path) => read_var_file(config, path, &mut inputs, &mut diags),
        }
    }
    // A sensitive variable's input is secret from the moment it is read: diagnostics about
    // it (and the var-file lines they quote) must not show it.
    for v in config.root().variables.iter().filter(|v| v.sensitive) {
        match inputs.get(&v.name).map(|i| &i.raw) {
            Some(RawInput::Text(t)) => crate::secrets::register_text(t),
            Some(RawInput::Value(val)) => crate::secrets::register(val),
            None => {}
        }
    }
    (inputs, diags)
}

/// One `--var` or `--var-file` argument, in command-line order.
#[derive(Clone, Debug)]
pub enum CliInput {
    Var(String),
    File(PathBuf),
}

fn read_var_file(config: &mut Config, path: &Path, inputs: &mut Inputs, diags: &mut Diagnostics) {
    let text = match crate::files::read_capped(path, crate::budget::limits().file_bytes, "") {
        Ok(t) => t,
        Err(e) => {
            diags.push(
                Diagnostic::error(format!("cannot read the variables file: {e}"))
                    .help("check the path given to --var-file (a variables file this large needs --limit file-bytes=N)"),
            );
            return;
        }
    };
    let id = config.sources.add(path, text);
    let body = match parse_source(&config.sources, id) {
        Ok(b) => b,
        Err(d) => {
            diags.push(d);
            return;
        }
    };
    let display = config.sources.get(id).display.clone();
    let scope = Scope {
        no_references: Some("a variables file"),
        ..Default::default()
    };
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let mut ev = Evaluator::new(&scope, id);
                let v = ev.try_eval(&a.value);
                for d in ev.diags {
                    diags.push(d);
                }
                if let Ok(v) = v {
                    inputs.insert(
                        a.key.as_str().to_string(),
                        InputValue {
                            raw: RawInput::Value(v),
                            source: display.clone(),
                            span: a.value.span().map(|r| Span::new(id, r)),
                        },
                    );
                }
            }
            Structure::Block(b) => diags.push(
                Diagnostic::error(format!(
                    "unexpected block `{}` in a variables file",
                    b.ident.as_str()
                ))
                .at(b.ident.span().map(|r| Span::new(id, r)))
                .expected("NAME = VALUE lines"),
            ),
        }
    }
}
