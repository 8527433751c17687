//! `mlinfra console`: evaluate expressions against the configuration and its state, one
//! per line, as `terraform console` does. Reads stdin when it is not a terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::Result;
use clap::ArgMatches;
use mlinfra_engine::{EvalOptions, Sources};
use mlinfra_schema::Value;

use crate::workspace::{cli_inputs, open, print_diagnostics, read_state};
use crate::EXIT_ERROR;

pub fn console(dir: &Path, m: &ArgMatches, nc: bool) -> Result<u8> {
    let Some((ws, mut diags)) = open(dir, &cli_inputs(m), nc) else {
        return Ok(EXIT_ERROR);
    };
    if diags.has_errors() {
        diags.sort();
        print_diagnostics(&ws.config, &diags, nc);
        return Ok(EXIT_ERROR);
    }
    // The state is read, never locked or written: the console changes nothing.
    let Some(store) = ws.store(nc)? else {
        return Ok(EXIT_ERROR);
    };
    let (state, _) = read_state(&store)?;
    let attrs = state.attributes();
    let (_, d, root) = mlinfra_engine::config::eval::evaluate_full(
        &ws.config,
        &EvalOptions {
            inputs: &ws.inputs,
            prior: &attrs,
            replaced: &Default::default(),
        },
    );
    diags.extend(d);
    diags.sort();
    if print_diagnostics(&ws.config, &diags, nc) {
        return Ok(EXIT_ERROR);
    }
    let interactive = std::io::stdin().is_terminal();
    let color = !nc && std::io::stderr().is_terminal();
    let mut failed = false;
    let mut sources = Sources::default();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if text == "exit" {
            break;
        }
        match root.eval(&ws.config, &line, &mut sources) {
            Ok(v) => {
                // `type(…)` shows the type itself, as Terraform's console does.
                let shown = match &v.value {
                    _ if v.sensitive => "(sensitive value)".to_string(),
                    Value::String(t) if v.is_type => t.clone(),
                    other => pretty(other, 0),
                };
                println!("{}", mlinfra_engine::secrets::scrub(&shown));
            }
            Err(ds) => {
                failed = true;
                for d in ds {
                    eprint!(
                        "{}",
                        mlinfra_engine::secrets::scrub(&mlinfra_engine::diag::render(
                            &sources, &d, color
                        ))
                    );
                    eprintln!();
                }
            }
        }
    }
    if interactive {
        println!();
    }
    Ok(if failed && !interactive {
        EXIT_ERROR
    } else {
        0
    })
}

/// A value the way `terraform console` prints it: one element per line, trailing commas.
fn pretty(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v {
        Value::Unknown => "(known after apply)".into(),
        Value::List(items) if items.is_empty() => "[]".into(),
        Value::List(items) => {
            let mut s = String::from("[\n");
            for i in items {
                s.push_str(&format!("{pad}{},\n", pretty(i, indent + 1)));
            }
            s.push_str(&end);
            s.push(']');
            s
        }
        Value::Map(m) if m.is_empty() => "{}".into(),
        Value::Map(m) => {
            let width = m
                .keys()
                .map(|k| {
                    serde_json::Value::String(k.clone())
                        .to_string()
                        .chars()
                        .count()
                })
                .max()
                .unwrap_or(0);
            let mut s = String::from("{\n");
            for (k, v) in m {
                let key = serde_json::Value::String(k.clone()).to_string();
                s.push_str(&format!("{pad}{key:width$} = {}\n", pretty(v, indent + 1)));
            }
            s.push_str(&end);
            s.push('}');
            s
        }
        other => other.to_hcl(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_terraform_console_prints_them() {
        let v = Value::from_json(&serde_json::json!({
            "zones": ["a", "b"],
            "n": 2,
            "empty": [],
            "name": "x\"y"
        }));
        assert_eq!(
            pretty(&v, 0),
            "{\n  \"empty\" = []\n  \"n\"     = 2\n  \"name\"  = \"x\\\"y\"\n  \"zones\" = [\n    \"a\",\n    \"b\",\n  ]\n}"
        );
        assert_eq!(pretty(&Value::Unknown, 0), "(known after apply)");
        assert_eq!(pretty(&Value::Null, 0), "null");
    }
}
