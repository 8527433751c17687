//! The `mlinfra` command: argument parsing, rendering and exit codes.

mod apply_cmd;
mod backend_cmd;
mod commands;
mod console;
mod cost_cmd;
mod fmt;
mod import_cmd;
mod policy_cmd;
mod render;
mod session;
mod style;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

// Evaluation allocates many small values; mimalloc makes large plans markedly faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option: its place in `mi_option_e` of mimalloc 3.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The allocator keeps the memory it frees for the next allocation instead of returning
/// it to the system: faulting a page in again costs more than a large plan's use of it
/// (docs/performance.md). A command's memory is returned when it exits.
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // mimalloc's own setting in the environment, when there is one, is left to apply.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: stores one option value; called first thing in `main`, before any
        // thread that could read it starts.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    }
}

/// Exit codes: 0 success / no changes, 1 error, 2 changes present, 3 a gate failed.
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;
/// A gate failed: `fmt --check`, a broken budget.
pub const EXIT_GATE: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "mlinfra",
    version,
    about = "Infrastructure as code for ML platforms: GPU pools, feature stores, model registries and serving endpoints on AWS, Azure and GCP.",
    after_help = "Examples:\n  mlinfra -chdir=examples/quickstart plan\n  mlinfra validate\n  mlinfra plan -out=plan.json --detailed-exitcode\n  mlinfra show plan.json"
)]
struct Cli {
    /// Switch to DIR before doing anything (like `terraform -chdir`).
    #[arg(long = "chdir", global = true, value_name = "DIR")]
    chdir: Option<PathBuf>,
    /// Disable colour (also: NO_COLOR=1).
    #[arg(long = "no-color", global = true)]
    no_color: bool,
    /// Change an evaluation limit: NAME=AMOUNT, NAME one of steps, elements,
    /// string-bytes, file-bytes (repeatable; see docs/language.md#limits).
    #[arg(long = "limit", global = true, value_name = "NAME=AMOUNT", action = ArgAction::Append)]
    limit: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Debug, Clone)]
pub struct VarArgs {
    /// Set an input variable: NAME=VALUE (repeatable; complex types as HCL: 'zones=["a","b"]').
    #[arg(long = "var", value_name = "NAME=VALUE", action = ArgAction::Append)]
    pub var: Vec<String>,
    /// Read input variables from an HCL file of NAME = VALUE lines (repeatable).
    #[arg(long = "var-file", value_name = "FILE", action = ArgAction::Append)]
    pub var_file: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse, evaluate and type-check the configuration; report every problem at once.
    #[command(
        after_help = "Examples:\n  mlinfra validate\n  mlinfra validate --json\n  mlinfra -chdir=examples/quickstart validate --var env=dev"
    )]
    Validate {
        #[command(flatten)]
        vars: VarArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite *.mlinfra.hcl files in the canonical format.
    #[command(
        after_help = "Examples:\n  mlinfra fmt\n  mlinfra fmt --check   # exit 3 if any file would change (for CI)\n  mlinfra fmt --diff modules/serving"
    )]
    Fmt {
        /// Files or directories (default: the working directory).
        paths: Vec<PathBuf>,
        /// Do not write; exit 3 when a file is not formatted.
        #[arg(long)]
        check: bool,
        /// Show the changes as a diff.
        #[arg(long)]
        diff: bool,
        /// Also format files in subdirectories.
        #[arg(long)]
        recursive: bool,
    },
    /// Show what would change: the diff of the configuration against state.
    #[command(
        after_help = "Examples:\n  mlinfra plan\n  mlinfra plan -out=plan.json\n  mlinfra plan --json > plan.json\n  mlinfra plan --detailed-exitcode   # exit 2 when there are changes\n  mlinfra plan --target gpu_pool.h100 --var env=dev\n  mlinfra plan --replace endpoint.fraud-scorer"
    )]
    Plan(commands::PlanArgs),
    /// Make the planned changes: plan, confirm, apply; or apply a saved plan exactly.
    #[command(
        after_help = "Examples:\n  mlinfra apply\n  mlinfra apply --auto-approve --parallelism 16\n  mlinfra plan -out=plan.json && mlinfra apply plan.json"
    )]
    Apply(apply_cmd::ApplyArgs),
    /// Destroy everything in state, dependents before what they depend on.
    #[command(
        after_help = "Examples:\n  mlinfra destroy\n  mlinfra destroy --auto-approve --target gpu_pool.h100"
    )]
    Destroy(apply_cmd::ApplyArgs),
    /// Bring an existing cloud object under management at ADDR.
    #[command(
        after_help = "Examples:\n  mlinfra import bucket.datasets acme-prod-datasets\n  mlinfra import 'bucket.data[\"eu\"]' acme-data-eu"
    )]
    Import(import_cmd::ImportArgs),
    /// Estimate the monthly cost of the manifest: every resource, every purchase tier.
    #[command(
        after_help = "Examples:\n  mlinfra cost\n  mlinfra cost --format json > cost.json\n  mlinfra cost --catalog vms.csv   # prices refreshed from a SkyPilot catalog"
    )]
    Cost(cost_cmd::CostArgs),
    /// GPU scheduling policies (Kueue) from the same manifests.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Render a saved plan, or the current state.
    #[command(
        after_help = "Examples:\n  mlinfra show plan.json\n  mlinfra show --json plan.json\n  mlinfra show"
    )]
    Show {
        /// A plan saved with `plan -out`; without it, the state is shown.
        planfile: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Evaluate expressions against the configuration and its state, one per line.
    #[command(
        after_help = "Examples:\n  mlinfra console\n  echo 'local.tags' | mlinfra -chdir=examples/quickstart console\n  mlinfra console --var env=dev < expressions.txt\n\nReads stdin when it is not a terminal; `exit` or end of input ends it. Never locks or writes state."
    )]
    Console {
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Print the dependency graph.
    #[command(
        after_help = "Examples:\n  mlinfra graph | dot -Tsvg > graph.svg\n  mlinfra graph --format mermaid"
    )]
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Describe every resource kind and its attributes; --json exports JSON Schema.
    #[command(
        after_help = "Examples:\n  mlinfra schema\n  mlinfra schema gpu_pool\n  mlinfra schema --json --out schema/json"
    )]
    Schema {
        /// Only this kind.
        kind: Option<String>,
        /// Write one JSON Schema file per kind into --out.
        #[arg(long)]
        json: bool,
        /// Directory for --json.
        #[arg(long, default_value = "schema", value_name = "DIR")]
        out: PathBuf,
    },
    /// Configure the state backend; -migrate-state copies state from the previous one.
    #[command(
        after_help = "Examples:\n  mlinfra init\n  mlinfra init -migrate-state   # after changing the backend block\n  mlinfra init -reconfigure     # use the new backend's own state"
    )]
    Init {
        /// Copy every workspace's state from the backend `init` last configured (or the
        /// local state file) to the configured one, keeping lineage and serial.
        #[arg(long = "migrate-state")]
        migrate_state: bool,
        /// Use the configured backend as it is, without copying state.
        #[arg(long, conflicts_with = "migrate_state")]
        reconfigure: bool,
        #[arg(long = "lock-timeout", default_value = "0s")]
        lock_timeout: String,
    },
    /// Workspaces: separate states of one configuration in the same backend.
    #[command(subcommand)]
    Workspace(backend_cmd::WorkspaceCommand),
    /// Inspect and edit the state.
    #[command(subcommand)]
    State(commands::StateCommand),
    /// Remove a lock left behind by a crashed run.
    #[command(
        name = "force-unlock",
        after_help = "Examples:\n  mlinfra force-unlock 3f1c2a7e-…"
    )]
    ForceUnlock {
        /// The lock id printed by the command that found the state locked.
        id: String,
    },
    /// Print output values from the state.
    #[command(
        after_help = "Examples:\n  mlinfra output\n  mlinfra output endpoint_url\n  mlinfra output --json"
    )]
    Output {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Generate shell completions.
    #[command(
        after_help = "Examples:\n  mlinfra completions bash > /etc/bash_completion.d/mlinfra\n  mlinfra completions zsh > ~/.zfunc/_mlinfra"
    )]
    Completions { shell: clap_complete::Shell },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum GraphFormat {
    Dot,
    Mermaid,
}

/// Accept Terraform's single-dash long options (`-chdir=DIR`, `-out=FILE`).
fn normalize_args(args: impl Iterator<Item = String>) -> Vec<String> {
    const LONG: &[&str] = &[
        "chdir",
        "out",
        "var",
        "var-file",
        "target",
        "replace",
        "json",
        "detailed-exitcode",
        "refresh",
        "refresh-only",
        "parallelism",
        "lock-timeout",
        "no-color",
        "check",
        "diff",
        "recursive",
        "format",
        "destroy",
        "limit",
        "migrate-state",
        "reconfigure",
        "force",
        "or-create",
    ];
    args.enumerate()
        .map(|(i, a)| {
            if i > 0 && a.starts_with('-') && !a.starts_with("--") {
                let name = a[1..].split('=').next().unwrap_or("");
                if name.len() > 1 && LONG.contains(&name) {
                    return format!("-{a}");
                }
            }
            a
        })
        .collect()
}

/// Output piped into a reader that stops early (`mlinfra plan | head`) ends the process
/// quietly with exit 1, instead of a panic from `println!` on the closed pipe.
fn quiet_on_closed_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("failed printing to std") && msg.contains("os error 32") {
            std::process::exit(i32::from(EXIT_ERROR));
        }
        default_hook(info);
    }));
}

fn main() -> ExitCode {
    keep_freed_memory();
    quiet_on_closed_pipe();
    let args = normalize_args(std::env::args());
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut limits = mlinfra_engine::budget::Limits::DEFAULT;
    for l in &cli.limit {
        let set = match l.split_once('=') {
            Some((name, value)) => limits.set(name.trim(), value),
            None => Err("expected NAME=AMOUNT, e.g. --limit elements=50M".to_string()),
        };
        if let Err(e) = set {
            eprintln!("error: invalid --limit \"{l}\": {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    }
    mlinfra_engine::budget::set_limits(limits);
    if let Some(dir) = &cli.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("error: cannot change to directory {}: {e}", dir.display());
            return ExitCode::from(EXIT_ERROR);
        }
    }
    let sub = matches.subcommand().map(|(_, m)| m.clone());
    match run(cli, sub) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let st = style::Style::stderr(false);
            // Each cause once: an error that already shows its source is not followed by it.
            let mut text = String::new();
            for cause in e.chain() {
                let c = cause.to_string();
                if !text.contains(&c) {
                    if !text.is_empty() {
                        text.push_str(": ");
                    }
                    text.push_str(&c);
                }
            }
            eprintln!(
                "{} {}",
                st.red("error:"),
                mlinfra_engine::secrets::scrub(&text)
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli, sub: Option<clap::ArgMatches>) -> anyhow::Result<u8> {
    let dir = std::env::current_dir()?;
    let nc = cli.no_color;
    let sub = sub.unwrap_or_default();
    match cli.command {
        Command::Validate { json, .. } => commands::validate(&dir, &sub, json, nc),
        Command::Fmt {
            paths,
            check,
            diff,
            recursive,
        } => fmt::run(&dir, &paths, check, diff, recursive, nc),
        Command::Plan(args) => commands::plan(&dir, &sub, &args, nc),
        Command::Apply(args) => apply_cmd::apply(&dir, &sub, &args, false, nc),
        Command::Destroy(args) => {
            if args.planfile.is_some() {
                anyhow::bail!("destroy takes no plan file; to apply a saved destroy plan use `mlinfra apply FILE`");
            }
            apply_cmd::apply(&dir, &sub, &args, true, nc)
        }
        Command::Import(args) => import_cmd::import(&dir, &sub, &args, nc),
        Command::Cost(args) => cost_cmd::cost(&dir, &sub, &args, nc),
        Command::Policy(cmd) => policy_cmd::policy(&dir, &sub, &cmd, nc),
        Command::Show { planfile, json } => commands::show(&dir, planfile.as_deref(), json, nc),
        Command::Graph { format, .. } => {
            commands::graph(&dir, &sub, matches!(format, GraphFormat::Mermaid), nc)
        }
        Command::Console { .. } => console::console(&dir, &sub, nc),
        Command::Schema { kind, json, out } => commands::schema(kind.as_deref(), json, &out),
        Command::Init {
            migrate_state,
            reconfigure,
            lock_timeout,
        } => backend_cmd::init(&dir, migrate_state, reconfigure, &lock_timeout, nc),
        Command::Workspace(cmd) => backend_cmd::workspace(&dir, cmd, nc),
        Command::State(cmd) => commands::state(&dir, cmd, nc),
        Command::ForceUnlock { id } => commands::force_unlock(&dir, &id, nc),
        Command::Output { name, json } => commands::output(&dir, name.as_deref(), json, nc),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "mlinfra", &mut std::io::stdout());
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_dash_long_options_are_accepted() {
        let a = normalize_args(
            ["mlinfra", "-chdir=x", "plan", "-out", "p.json", "-v"]
                .iter()
                .map(|s| s.to_string()),
        );
        assert_eq!(
            a,
            vec!["mlinfra", "--chdir=x", "plan", "--out", "p.json", "-v"]
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
