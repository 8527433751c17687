//! The pipeline shared by commands: evaluate, diff, and re-evaluate for replacements.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::config::eval::{evaluate, EvalOptions, Evaluated, Inputs, RawInput};
use crate::config::load::Config;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{diff, Plan, PlanOptions, ResourceChange};
use crate::state::State;
use mlinfra_provider_api::ProviderSet;

/// Hash of every source file and every input value: a saved plan is bound to it.
pub fn config_hash(config: &Config, inputs: &Inputs) -> String {
    let mut h = Sha256::new();
    let mut files: Vec<_> = config.sources.files().iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for f in files {
        h.update(f.path.display().to_string().as_bytes());
        h.update([0]);
        h.update(f.text.as_bytes());
        h.update([0]);
    }
    let secret: std::collections::BTreeSet<&str> = config
        .root()
        .variables
        .iter()
        .filter(|v| v.sensitive || v.ephemeral)
        .map(|v| v.name.as_str())
        .collect();
    for (name, input) in inputs {
        h.update(name.as_bytes());
        h.update([0]);
        // A hash of a secret in a published plan would let anyone test guesses offline; an
        // ephemeral value may change between plan and apply (a short-lived token).
        if secret.contains(name.as_str()) {
            continue;
        }
        match &input.raw {
            RawInput::Text(t) => h.update(t.as_bytes()),
            RawInput::Value(v) => h.update(v.to_json().to_string().as_bytes()),
        }
        h.update([0]);
    }
    format!(
        "sha256:{}",
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Evaluate and diff, re-evaluating once more when replacements make computed values unknown.
pub fn plan_configuration(
    config: &Config,
    inputs: &Inputs,
    prior: &State,
    drift: Vec<ResourceChange>,
    opts: &PlanOptions,
    providers: &ProviderSet,
) -> (Option<(Evaluated, Plan)>, Diagnostics) {
    let hash = config_hash(config, inputs);
    let prior_attrs = prior.attributes();
    let mut replaced = BTreeSet::new();
    // Each round can only add replacements, so this ends within one round per resource.
    loop {
        let (evaluated, mut diags) = evaluate(
            config,
            &EvalOptions {
                inputs,
                prior: &prior_attrs,
                replaced: &replaced,
            },
        );
        if !opts.destroy {
            diags.extend(crate::config::conditions::plan_diagnostics(
                &evaluated.conditions,
            ));
        }
        if diags.has_errors() {
            return (None, diags);
        }
        if replaced.is_empty() {
            diags.extend(check_addresses(&evaluated, prior, opts));
            if diags.has_errors() {
                return (None, diags);
            }
        }
        let (mut plan, plan_diags) = diff(&evaluated, prior, drift.clone(), &hash, opts);
        diags.extend(plan_diags);
        diags.extend(crate::plan::provider_checks(
            &mut plan, &evaluated, providers,
        ));
        if diags.has_errors() {
            return (None, diags);
        }
        let now = plan.replaced();
        if now.is_subset(&replaced) {
            // One cloud object, one address: checked on the final plan.
            diags.extend(crate::identity::check(&evaluated, prior, &plan));
            if diags.has_errors() {
                return (None, diags);
            }
            return (Some((evaluated, plan)), diags);
        }
        replaced.extend(now);
    }
}

/// Every `--target` and `--replace` must name something: a typo would otherwise plan
/// nothing (or replace nothing) and look like success.
fn check_addresses(evaluated: &Evaluated, prior: &State, opts: &PlanOptions) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let known: Vec<crate::address::Address> = evaluated
        .resources
        .iter()
        .map(|r| r.address.clone())
        .chain(
            prior
                .resources
                .keys()
                .filter_map(|k| crate::address::Address::parse(k).ok()),
        )
        .collect();
    let names: BTreeSet<String> = known.iter().map(|a| a.to_string()).collect();
    for (flag, list, modules) in [
        ("--target", &opts.targets, true),
        ("--exclude", &opts.excludes, true),
        ("--replace", &opts.replace, false),
    ] {
        for t in list {
            let hit = known
                .iter()
                .any(|a| a.matches(t) || (modules && a.in_module(t)));
            if hit {
                continue;
            }
            let text = t.to_string();
            diags.push(
                Diagnostic::error(format!(
                    "{flag} {text} matches no resource in the configuration or the state"
                ))
                .maybe_help(
                    crate::diag::did_you_mean(&text, names.iter().map(String::as_str))
                        .map(|s| format!("did you mean {flag} {s}?")),
                )
                .note("see the addresses with `mlinfra state list`, or `mlinfra graph` for the configuration"),
            );
        }
    }
    diags
}

/// Check the `mlinfra { required_version }` constraint against this build.
pub fn check_required_version(config: &Config) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for m in config.modules.values() {
        if let Some((constraint, span)) = &m.settings.required_version {
            if let Err(msg) = version_satisfies(env!("CARGO_PKG_VERSION"), constraint) {
                diags.push(
                    Diagnostic::error(format!(
                        "this configuration requires mlinfra {constraint}, but this is {}",
                        env!("CARGO_PKG_VERSION")
                    ))
                    .at(Some(*span))
                    .note(msg)
                    .help("install a matching mlinfra, or relax required_version"),
                );
            }
        }
    }
    diags
}

/// Whether `version` satisfies a constraint like `">= 0.1, < 2"` (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~>`).
pub fn version_satisfies(version: &str, constraint: &str) -> Result<(), String> {
    let parse = |s: &str| -> Result<Vec<u64>, String> {
        s.trim()
            .split('.')
            .map(|p| {
                p.parse::<u64>()
                    .map_err(|_| format!("\"{s}\" is not a version"))
            })
            .collect()
    };
    let v = parse(version)?;
    let cmp = |a: &[u64], b: &[u64]| {
        let n = a.len().max(b.len());
        (0..n)
            .map(|i| {
                a.get(i)
                    .copied()
                    .unwrap_or(0)
                    .cmp(&b.get(i).copied().unwrap_or(0))
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    for part in constraint.split(',') {
        let part = part.trim();
        let (op, rest) = ["~>", ">=", "<=", "!=", ">", "<", "="]
            .iter()
            .find_map(|op| part.strip_prefix(op).map(|r| (*op, r)))
            .unwrap_or(("=", part));
        let want = parse(rest)?;
        use std::cmp::Ordering::*;
        let o = cmp(&v, &want);
        let ok = match op {
            "=" => o == Equal,
            "!=" => o != Equal,
            ">" => o == Greater,
            ">=" => o != Less,
            "<" => o == Less,
            "<=" => o != Greater,
            _ => {
                // ~> 1.2 means >= 1.2, < 2; ~> 1.2.3 means >= 1.2.3, < 1.3
                let mut upper = want[..want.len().saturating_sub(1).max(1)].to_vec();
                if let Some(last) = upper.last_mut() {
                    *last += 1;
                }
                o != Less && cmp(&v, &upper) == Less
            }
        };
        if !ok {
            return Err(format!("{version} does not satisfy {part}"));
        }
    }
    Ok(())
}

/// Where the local backend keeps state, from `backend "local" { path = … }`; an error
/// for any other backend.
pub fn local_state_path(config: &Config) -> Result<std::path::PathBuf, Diagnostic> {
    let spec = crate::backend_config::backend_spec(config)?;
    Ok(spec.local_path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constraints() {
        assert!(version_satisfies("0.1.0", ">= 0.1").is_ok());
        assert!(version_satisfies("0.1.0", ">= 0.2").is_err());
        assert!(version_satisfies("0.1.5", "~> 0.1.0").is_ok());
        assert!(version_satisfies("0.2.0", "~> 0.1.0").is_err());
        assert!(version_satisfies("1.4.0", "~> 1.2").is_ok());
        assert!(version_satisfies("0.1.0", ">= 0.1, < 1").is_ok());
    }
}
