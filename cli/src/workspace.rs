//! Load a configuration and its inputs, printing diagnostics the way every command does.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ArgMatches;
use mlinfra_engine::backend_config::backend_spec;
use mlinfra_engine::diag::{render, Diagnostics};
use mlinfra_engine::run::check_required_version;
use mlinfra_engine::state::State;
use mlinfra_engine::store::StateStore;
use mlinfra_engine::{collect_inputs, load, CliInput, Config, Inputs};

use crate::style::Style;

/// The largest saved plan `apply` and `show` read.
pub const MAX_PLAN_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Read a file the user named, with a size cap, as text.
pub fn read_capped(path: &Path, limit: u64) -> Result<String> {
    mlinfra_engine::files::read_capped(path, limit, "")
        .with_context(|| format!("reading {}", path.display()))
}

/// A loaded configuration with its inputs, ready to evaluate.
pub struct Workspace {
    pub config: Config,
    pub inputs: Inputs,
}

/// Print diagnostics to stderr; returns whether any was an error.
pub fn print_diagnostics(config: &Config, diags: &Diagnostics, no_color: bool) -> bool {
    let st = Style::stderr(no_color);
    print_each(config, diags, no_color);
    let errors = diags.error_count();
    if errors > 0 {
        eprintln!(
            "{}",
            st.red(&format!(
                "{errors} error{} found; nothing was changed.",
                if errors == 1 { "" } else { "s" }
            ))
        );
    }
    diags.has_errors()
}

/// Print each diagnostic to stderr, with no summary line (for what is found after
/// changes were made).
pub fn print_each(config: &Config, diags: &Diagnostics, no_color: bool) {
    let st = Style::stderr(no_color);
    for d in diags.iter() {
        eprint!(
            "{}",
            mlinfra_engine::secrets::scrub(&render(&config.sources, d, st.color))
        );
        eprintln!();
    }
}

/// The `--var` / `--var-file` arguments of a subcommand, in command-line order.
pub fn cli_inputs(m: &ArgMatches) -> Vec<CliInput> {
    let mut items: Vec<(usize, CliInput)> = Vec::new();
    if let (Some(vals), Some(idx)) = (m.get_many::<String>("var"), m.indices_of("var")) {
        items.extend(idx.zip(vals).map(|(i, v)| (i, CliInput::Var(v.clone()))));
    }
    if let (Some(vals), Some(idx)) = (m.get_many::<PathBuf>("var_file"), m.indices_of("var_file")) {
        items.extend(idx.zip(vals).map(|(i, v)| (i, CliInput::File(v.clone()))));
    }
    items.sort_by_key(|(i, _)| *i);
    items.into_iter().map(|(_, c)| c).collect()
}

/// Load the configuration in `dir` and its inputs, with the problems found so far.
/// `None` (after printing) when a file did not parse, since evaluation would only add noise.
pub fn open(dir: &Path, inputs: &[CliInput], no_color: bool) -> Option<(Workspace, Diagnostics)> {
    let (mut config, mut diags) = load(dir);
    let (inputs, input_diags) = collect_inputs(&mut config, inputs, std::env::vars());
    diags.extend(input_diags);
    diags.extend(check_required_version(&config));
    if config.has_syntax_errors
        || config
            .modules
            .values()
            .all(|m| m.resources.is_empty() && m.variables.is_empty())
            && diags.has_errors()
    {
        diags.sort();
        print_diagnostics(&config, &diags, no_color);
        return None;
    }
    Some((Workspace { config, inputs }, diags))
}

impl Workspace {
    /// Evaluate without prior state: for checking, graphs and provider configurations.
    pub fn evaluate_stateless(&self) -> (mlinfra_engine::Evaluated, Diagnostics) {
        let opts = mlinfra_engine::EvalOptions {
            inputs: &self.inputs,
            prior: &mlinfra_engine::NoPrior,
            replaced: &Default::default(),
        };
        mlinfra_engine::evaluate(&self.config, &opts)
    }

    /// The state store of this configuration, for the selected workspace; `None` after
    /// printing the diagnostic when the backend block is wrong.
    pub fn store(&self, no_color: bool) -> Result<Option<StateStore>> {
        store_of(&self.config, &self.inputs, no_color)
    }
}

/// The state store `config` names, for the selected workspace.
pub fn store_of(config: &Config, inputs: &Inputs, no_color: bool) -> Result<Option<StateStore>> {
    match backend_spec(config) {
        Ok(mut spec) => {
            mlinfra_engine::backend_config::resolve_passphrase(&mut spec, inputs);
            crate::backend_cmd::check_configured(&config.root_dir, &spec)?;
            let ws = mlinfra_state_backends::current_workspace(&config.root_dir);
            let store = mlinfra_state_backends::open_store(&spec, &ws)
                .with_context(|| format!("opening the {} backend", spec.kind))?;
            Ok(Some(store))
        }
        Err(d) => {
            let mut diags = Diagnostics::default();
            diags.push(d);
            print_diagnostics(config, &diags, no_color);
            Ok(None)
        }
    }
}

/// The state store of `dir` without evaluating anything (for state commands). Refuses
/// when the configuration does not parse or names a backend this build lacks, rather than
/// silently using another state file.
pub fn backend_for(dir: &Path, no_color: bool) -> Result<StateStore> {
    let (mut config, diags) = load(dir);
    if config.has_syntax_errors {
        print_diagnostics(&config, &diags, no_color);
        anyhow::bail!("cannot tell where the state is kept: the configuration does not parse");
    }
    // Inputs from the environment and auto files only: a passphrase variable, if any.
    let (inputs, _) = collect_inputs(&mut config, &[], std::env::vars());
    match store_of(&config, &inputs, no_color)? {
        Some(s) => Ok(s),
        None => anyhow::bail!("cannot open the state backend"),
    }
}

/// Read state, or a fresh empty one when there is none.
pub fn read_state(store: &StateStore) -> Result<(State, bool)> {
    match store.read().context("reading state")? {
        Some(s) => Ok((s, true)),
        None => Ok((State::new(), false)),
    }
}
