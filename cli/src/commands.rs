//! The commands that read configuration, plans and state.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{ArgMatches, Subcommand};
use mlinfra_engine::graph::ResourceGraph;
use mlinfra_engine::plan::PlanOptions;
use mlinfra_engine::state::{atomic_write, StateError};
use mlinfra_engine::{evaluate, plan_json, Address, EvalOptions, NoPrior};
use mlinfra_schema::{kinds, KindClass, Value};

use crate::render;
use crate::session::{lock_error, Session};
use crate::style::Style;
use crate::workspace::{backend_for, cli_inputs, open, print_diagnostics, read_state};
use crate::{VarArgs, EXIT_CHANGES, EXIT_ERROR};
use mlinfra_engine::secrets::scrub;

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Save the plan to FILE (JSON, mode 0600), bound to the state and inputs; render it with `show`.
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long = "detailed-exitcode")]
    pub detailed_exitcode: bool,
    /// Print the plan as JSON (see docs/plan-json.md).
    #[arg(long)]
    pub json: bool,
    /// Refresh live state through the providers before diffing.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// Only show what changed outside mlinfra; plan no resource changes.
    #[arg(long = "refresh-only")]
    pub refresh_only: bool,
    /// Plan only this address and what it depends on (repeatable).
    #[arg(long, value_name = "ADDR", action = clap::ArgAction::Append)]
    pub target: Vec<String>,
    /// Plan everything except this address and what depends on it (repeatable).
    #[arg(long, value_name = "ADDR", action = clap::ArgAction::Append, conflicts_with = "target")]
    pub exclude: Vec<String>,
    /// Plan a replacement of this address even if it has not changed (repeatable).
    #[arg(long, value_name = "ADDR", action = clap::ArgAction::Append)]
    pub replace: Vec<String>,
    /// Plan the destruction of everything in state.
    #[arg(long)]
    pub destroy: bool,
    /// Most operations at once when refreshing (default: unlimited).
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    /// How long to wait for the state lock (e.g. 30s, 5m).
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s")]
    pub lock_timeout: String,
}

fn parse_addresses(list: &[String], flag: &str) -> Result<Vec<Address>> {
    list.iter()
        .map(|s| {
            Address::parse(s).map_err(|e| anyhow::anyhow!("invalid {flag} address \"{s}\": {e}"))
        })
        .collect()
}

/// `-out FILE` needs an existing directory: checked before planning, so a typo does not
/// cost a refresh (and never creates directories).
fn check_out_dir(out: &Path) -> Result<()> {
    let parent = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!(
            "cannot save the plan to {}: the directory {} does not exist; create it first (mkdir -p {})",
            out.display(),
            parent.display(),
            parent.display()
        );
    }
    if out.is_dir() {
        bail!(
            "cannot save the plan to {}: it is a directory; name a file, e.g. -out={}",
            out.display(),
            out.join("plan.json").display()
        );
    }
    Ok(())
}

fn parse_lock_timeout(s: &str) -> Result<Duration> {
    mlinfra_engine::config::load::parse_duration(s)
        .map(Duration::from_secs)
        .with_context(|| {
            format!("invalid --lock-timeout \"{s}\": expected a duration like 0s, 30s or 5m")
        })
}

pub fn plan(dir: &Path, m: &ArgMatches, args: &PlanArgs, nc: bool) -> Result<u8> {
    let targets: Vec<Address> = args
        .target
        .iter()
        .map(|s| {
            Address::parse_target(s)
                .map_err(|e| anyhow::anyhow!("invalid --target address \"{s}\": {e}"))
        })
        .collect::<Result<_>>()?;
    let excludes: Vec<Address> = args
        .exclude
        .iter()
        .map(|s| {
            Address::parse_target(s)
                .map_err(|e| anyhow::anyhow!("invalid --exclude address \"{s}\": {e}"))
        })
        .collect::<Result<_>>()?;
    let replace = parse_addresses(&args.replace, "--replace")?;
    let lock_timeout = parse_lock_timeout(&args.lock_timeout)?;
    if args.parallelism == Some(0) {
        bail!("--parallelism must be at least 1");
    }
    if let Some(out) = &args.out {
        check_out_dir(out)?;
    }
    let Some(mut session) = Session::open(dir, m, "plan", lock_timeout, nc)? else {
        return Ok(EXIT_ERROR);
    };
    // The lock guards one consistent read; plan never writes state.
    session.lock = None;
    let opts = PlanOptions {
        targets,
        excludes,
        replace,
        refresh_only: args.refresh_only,
        destroy: args.destroy,
    };
    let Some(crate::session::Planned {
        evaluated, plan, ..
    }) = session.plan(&opts, args.refresh, args.refresh)
    else {
        return Ok(EXIT_ERROR);
    };
    // The JSON form is built only when it is written: for a large plan it is a full copy.
    let json = (args.out.is_some() || args.json).then(|| plan_json::to_json(&plan));
    // The cost of the changes, and the budgets, from the shipped catalog.
    let catalog = crate::cost_cmd::load_catalog(None)?;
    let usage = mlinfra_cost::UsageByAddress::new();
    let delta = mlinfra_cost::plan_delta(&plan, &evaluated, &usage, &catalog);
    let budgets = mlinfra_cost::check_budgets(&evaluated, &delta.after, Some(&delta.before));
    let broken = budgets.iter().any(|b| b.broken);
    // GPU policies: what `policy emit` would change since it last wrote; its checks
    // (quotas, MIG) are errors here too.
    // (A destroy or refresh-only plan changes no policy.)
    let (policy_changes, pdiags) = if opts.destroy || opts.refresh_only {
        Default::default()
    } else {
        crate::policy_cmd::plan_changes(&evaluated, &session.state)
    };
    if print_diagnostics(&session.ws.config, &pdiags, nc) {
        return Ok(EXIT_ERROR);
    }
    if let (Some(out), Some(json)) = (&args.out, &json) {
        // Scrubbed of secrets, then sealed with a digest of the whole file.
        let mut saved: serde_json::Value =
            serde_json::from_str(&scrub(&serde_json::to_string(json)?))?;
        plan_json::seal(&mut saved);
        let text = serde_json::to_string_pretty(&saved)? + "\n";
        // Encrypted like the state when the configuration encrypts its state: a plan holds
        // the state's attributes too.
        let bytes = match session.store.codec() {
            Some(c) => c.encrypt(text.as_bytes()),
            None => text.into_bytes(),
        };
        atomic_write(out, &bytes)
            .with_context(|| format!("saving the plan to {}", out.display()))?;
    }
    if let (true, Some(mut json)) = (args.json, json) {
        json["cost"] = crate::cost_cmd::delta_json(&delta);
        json["cost"]["budgets"] = crate::cost_cmd::budgets_json(&budgets);
        json["policy_changes"] = serde_json::Value::Array(
            policy_changes
                .iter()
                .map(|(a, k)| {
                    serde_json::json!({
                        "action": match a { '+' => "create", '~' => "update", _ => "delete" },
                        "object": k,
                    })
                })
                .collect(),
        );
        println!("{}", scrub(&serde_json::to_string_pretty(&json)?));
    } else {
        let st = Style::stdout(nc);
        print!("{}", scrub(&render::plan(&plan, st)));
        if !plan.destroy || !delta.before.resources.is_empty() {
            print!("{}", scrub(&crate::cost_cmd::delta_text(&delta, st)));
        }
        print!("{}", scrub(&crate::cost_cmd::budgets_text(&budgets, st)));
        if !policy_changes.is_empty() {
            println!(
                "\n{} (run `mlinfra policy emit` to write them):",
                st.bold("GPU policy objects that changed since the last policy emit")
            );
            for (a, k) in &policy_changes {
                println!("  {a} {}", scrub(k));
            }
        }
        if let Some(out) = &args.out {
            println!(
                "\nSaved the plan to {}. Show it with: mlinfra show {}",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if broken {
        crate::EXIT_GATE
    } else if args.detailed_exitcode && plan.has_changes() {
        EXIT_CHANGES
    } else {
        0
    })
}

pub fn validate(dir: &Path, m: &ArgMatches, json: bool, nc: bool) -> Result<u8> {
    let (mut config, mut diags) = mlinfra_engine::load(dir);
    let (inputs, d) = mlinfra_engine::collect_inputs(&mut config, &cli_inputs(m), std::env::vars());
    diags.extend(d);
    diags.extend(mlinfra_engine::run::check_required_version(&config));
    let mut count = 0;
    if !config.has_syntax_errors {
        let (evaluated, d) = evaluate(
            &config,
            &EvalOptions {
                inputs: &inputs,
                prior: &NoPrior,
                replaced: &Default::default(),
            },
        );
        diags.extend(d);
        count = evaluated.resources.len();
        if let Err(d) = mlinfra_engine::backend_config::backend_spec(&config) {
            diags.push(d);
        }
    }
    diags.sort();
    if json {
        let items: Vec<serde_json::Value> = diags
            .iter()
            .map(|d| {
                let (file, line, col) = match d.span {
                    Some(s) => {
                        let f = config.sources.get(s.file);
                        let (l, c) = f.line_col(s.start as usize);
                        (Some(f.display.clone()), Some(l), Some(c))
                    }
                    None => (None, None, None),
                };
                serde_json::json!({
                    "severity": if d.is_error() { "error" } else { "warning" },
                    "summary": d.summary,
                    "file": file, "line": line, "column": col,
                    "expected": d.expected, "help": d.help, "notes": d.notes,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "valid": !diags.has_errors(),
                "error_count": diags.error_count(),
                "resource_count": count,
                "diagnostics": items,
            }))?
        );
        return Ok(if diags.has_errors() { EXIT_ERROR } else { 0 });
    }
    if print_diagnostics(&config, &diags, nc) {
        return Ok(EXIT_ERROR);
    }
    let st = Style::stdout(nc);
    println!(
        "{} The configuration is valid ({count} resource instance{}).",
        st.green("Success!"),
        if count == 1 { "" } else { "s" }
    );
    Ok(0)
}

pub fn show(dir: &Path, planfile: Option<&Path>, json: bool, nc: bool) -> Result<u8> {
    if let Some(file) = planfile {
        let plan = crate::apply_cmd::read_saved(file, dir, &[], nc)?;
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&plan_json::to_json(&plan))?
            );
        } else {
            print!("{}", scrub(&render::plan(&plan, Style::stdout(nc))));
        }
        return Ok(0);
    }
    let backend = backend_for(dir, nc)?;
    let (state, exists) = read_state(&backend)?;
    if json {
        println!(
            "{}",
            scrub(&serde_json::to_string_pretty(&state_json(&state))?)
        );
        return Ok(0);
    }
    if !exists || state.resources.is_empty() {
        println!("The state is empty. Nothing has been applied in this configuration yet.");
        return Ok(0);
    }
    for addr in state.resources.keys() {
        print!("{}", scrub(&show_resource(&state, addr, Style::stdout(nc))));
    }
    Ok(0)
}

/// The state as JSON with sensitive values removed.
fn state_json(state: &mlinfra_engine::state::State) -> serde_json::Value {
    let marker = Value::Null;
    serde_json::json!({
        "lineage": state.lineage,
        "serial": state.serial,
        "resources": state.resources.iter().map(|(addr, r)| serde_json::json!({
            "address": addr,
            "kind": r.kind,
            "cloud": r.cloud,
            "id": r.id,
            "attributes": mlinfra_engine::plan::redact(&Value::Map(r.attributes.clone()), &r.sensitive, &marker).to_json(),
            "sensitive_paths": r.sensitive,
            "dependencies": r.dependencies,
        })).collect::<Vec<_>>(),
        "outputs": state.outputs.iter().map(|(k, o)| (k.clone(), serde_json::json!({
            "value": if o.sensitive { serde_json::Value::Null } else { o.value.to_json() },
            "sensitive": o.sensitive,
        }))).collect::<serde_json::Map<_, _>>(),
    })
}

fn show_resource(state: &mlinfra_engine::state::State, addr: &str, st: Style) -> String {
    let Some(r) = state.resources.get(addr) else {
        return String::new();
    };
    let marker = Value::String("(sensitive value)".into());
    let attrs =
        mlinfra_engine::plan::redact(&Value::Map(r.attributes.clone()), &r.sensitive, &marker);
    let mut out = format!("{}\n", st.bold(&format!("# {addr}:")));
    let name = Address::parse(addr).map(|a| a.name).unwrap_or_default();
    out.push_str(&format!("{} \"{name}\" {{\n", r.kind));
    if let Value::Map(m) = &attrs {
        let width = m.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in m.iter().filter(|(_, v)| !matches!(v, Value::Null)) {
            out.push_str(&format!("    {k:width$} = {}\n", render::inline(v)));
        }
    }
    out.push_str("}\n\n");
    out
}

pub fn graph(dir: &Path, m: &ArgMatches, mermaid: bool, nc: bool) -> Result<u8> {
    let Some((ws, mut diags)) = open(dir, &cli_inputs(m), nc) else {
        return Ok(EXIT_ERROR);
    };
    let (evaluated, d) = ws.evaluate_stateless();
    diags.extend(d);
    diags.sort();
    if print_diagnostics(&ws.config, &diags, nc) {
        return Ok(EXIT_ERROR);
    }
    let g = ResourceGraph::build(&evaluated);
    print!(
        "{}",
        scrub(&if mermaid { g.to_mermaid() } else { g.to_dot() })
    );
    Ok(0)
}

pub fn schema(kind: Option<&str>, json: bool, out: &Path) -> Result<u8> {
    let selected: Vec<_> = kinds()
        .iter()
        .filter(|k| kind.is_none_or(|n| n == k.name))
        .collect();
    if selected.is_empty() {
        let names: Vec<&str> = kinds().iter().map(|k| k.name).collect();
        bail!(
            "unknown kind \"{}\"; kinds are: {}",
            kind.unwrap_or(""),
            names.join(", ")
        );
    }
    if json {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        for k in &selected {
            let path = out.join(format!("{}.schema.json", k.name));
            let text = serde_json::to_string_pretty(&mlinfra_schema::kind_json_schema(k))? + "\n";
            mlinfra_engine::files::atomic_write_mode(&path, text.as_bytes(), 0o644)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
        return Ok(0);
    }
    for k in selected {
        let class = match k.class {
            KindClass::Cloud => "cloud resource",
            KindClass::Policy => "Kubernetes policy object (mlinfra policy emit); no cloud call",
            KindClass::Gate => "plan gate; never created",
        };
        println!("{} — {}\n  {class}", k.name, k.description);
        for (cloud, obj) in &k.maps_to {
            let scope = mlinfra_schema::name_scope(k.name, *cloud)
                .map(|s| {
                    format!(
                        "; names unique {}",
                        mlinfra_schema::describe_name_scope(s, *cloud)
                    )
                })
                .unwrap_or_default();
            println!("  {:5}  → {obj}{scope}", cloud.as_str());
        }
        println!("  attributes:");
        print_block_schema(&k.body, 4);
        // The clouds' own rules, checked by their providers in every plan.
        let providers = crate::session::providers();
        let mut header = false;
        for cloud in mlinfra_schema::Cloud::ALL {
            let Some(p) = providers.get(cloud) else {
                continue;
            };
            for rule in p.rules(k.name) {
                if !header {
                    println!("  checked by the providers in every plan, before any cloud call:");
                    header = true;
                }
                println!("    {:5}  {rule}", cloud.as_str());
            }
        }
        println!();
    }
    println!("Every resource also accepts: count, for_each, depends_on, provider, lifecycle {{ … }}, timeouts {{ create/update/delete }}.");
    Ok(0)
}

fn print_block_schema(b: &mlinfra_schema::BlockSchema, indent: usize) {
    let pad = " ".repeat(indent);
    let width = b.attributes.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in &b.attributes {
        let mut flags = Vec::new();
        if a.read_only {
            flags.push("computed, read-only".to_string());
        } else if a.required {
            flags.push("required".to_string());
        } else {
            flags.push("optional".to_string());
            if a.computed {
                flags.push("computed when unset".to_string());
            }
        }
        if let Some(d) = &a.default {
            flags.push(format!("default {}", d.to_hcl()));
        }
        if a.force_new {
            flags.push("forces replacement".into());
        }
        if a.append_only {
            flags.push("adding keys in place; removing or changing one forces replacement".into());
        }
        if a.sensitive {
            flags.push("sensitive".into());
        }
        if a.write_only {
            flags.push("write-only: never in the plan or the state".into());
        }
        if !a.clouds.is_empty() {
            flags.push(format!(
                "only {}",
                a.clouds
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !a.allowed.is_empty() {
            flags.push(format!("one of {}", a.allowed.join(" | ")));
        }
        println!(
            "{pad}{:width$}  {}  [{}]  {}",
            a.name,
            a.ty,
            flags.join("; "),
            a.description
        );
    }
    for nb in &b.blocks {
        let label = if nb.labeled { " \"NAME\"" } else { "" };
        let force = if nb.force_new {
            "  [forces replacement]"
        } else {
            ""
        };
        println!("{pad}{}{label} {{ … }}{force}  {}", nb.name, nb.description);
        print_block_schema(nb, indent + 4);
    }
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// Print the stored state (with a running apply's journal folded in) as JSON.
    #[command(after_help = "Examples:\n  mlinfra state pull > backup.json")]
    Pull,
    /// Replace the stored state with FILE (`-` for stdin): same lineage, and a newer
    /// serial (or the same one with the same content), unless -force.
    #[command(
        after_help = "Examples:\n  mlinfra state push backup.json\n  mlinfra state push -force backup.json"
    )]
    Push {
        file: PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long = "lock-timeout", default_value = "0s")]
        lock_timeout: String,
    },
    /// List resource addresses in the state (optionally only those matching ADDR).
    #[command(after_help = "Examples:\n  mlinfra state list\n  mlinfra state list gpu_pool.h100")]
    List { addresses: Vec<String> },
    /// Show one resource's recorded attributes.
    #[command(after_help = "Examples:\n  mlinfra state show cluster.train")]
    Show { address: String },
    /// Forget resources without destroying them (they keep running in the cloud).
    #[command(
        after_help = "Examples:\n  mlinfra state rm bucket.scratch\n  mlinfra state rm --dry-run 'gpu_pool.h100[0]'"
    )]
    Rm {
        #[arg(required = true)]
        addresses: Vec<String>,
        #[arg(long = "dry-run")]
        dry_run: bool,
        #[arg(long = "lock-timeout", default_value = "0s")]
        lock_timeout: String,
    },
    /// Move a resource to another address (after renaming a block).
    #[command(
        after_help = "Examples:\n  mlinfra state mv gpu_pool.h100 gpu_pool.h100-spot\n  mlinfra state mv bucket.data 'module.storage.bucket.data'"
    )]
    Mv {
        source: String,
        destination: String,
        #[arg(long = "dry-run")]
        dry_run: bool,
        #[arg(long = "lock-timeout", default_value = "0s")]
        lock_timeout: String,
    },
}

pub fn state(dir: &Path, cmd: StateCommand, nc: bool) -> Result<u8> {
    match &cmd {
        StateCommand::Pull => return crate::backend_cmd::pull(dir, nc),
        StateCommand::Push {
            file,
            force,
            lock_timeout,
        } => return crate::backend_cmd::push(dir, file, *force, lock_timeout, nc),
        _ => {}
    }
    let backend = backend_for(dir, nc)?;
    let st = Style::stdout(nc);
    match cmd {
        StateCommand::List { addresses } => {
            let filters = parse_addresses(&addresses, "state list")?;
            let (state, _) = read_state(&backend)?;
            for addr in state.resources.keys() {
                let a = Address::parse(addr).ok();
                if filters.is_empty()
                    || a.as_ref()
                        .is_some_and(|a| filters.iter().any(|f| a.matches(f)))
                {
                    println!("{addr}");
                }
            }
            Ok(0)
        }
        StateCommand::Pull | StateCommand::Push { .. } => Ok(0),
        StateCommand::Show { address } => {
            let (state, _) = read_state(&backend)?;
            if !state.resources.contains_key(&address) {
                bail!("{address} is not in the state (see `mlinfra state list`)");
            }
            print!("{}", scrub(&show_resource(&state, &address, st)));
            Ok(0)
        }
        StateCommand::Rm {
            addresses,
            dry_run,
            lock_timeout,
        } => {
            let filters = parse_addresses(&addresses, "state rm")?;
            let lock = backend
                .lock("state rm", parse_lock_timeout(&lock_timeout)?)
                .map_err(lock_error(&backend))?;
            let (mut state, exists) = read_state(&backend)?;
            let based_on = exists.then_some(state.serial);
            let matched: Vec<String> = state
                .resources
                .keys()
                .filter(|k| Address::parse(k).is_ok_and(|a| filters.iter().any(|f| a.matches(f))))
                .cloned()
                .collect();
            if matched.is_empty() {
                bail!("no resource in the state matches {}", addresses.join(", "));
            }
            for a in &matched {
                if dry_run {
                    println!("would remove {a}");
                } else {
                    state.resources.remove(a);
                    println!("Removed {a}");
                }
            }
            if !dry_run {
                backend.write(&mut state, based_on)?;
                let backup = backend
                    .backup_location()
                    .map(|b| format!(" Backup: {b}"))
                    .unwrap_or_default();
                println!("Successfully removed {} resource instance(s); they still exist in the cloud.{backup}", matched.len());
            }
            drop(lock);
            Ok(0)
        }
        StateCommand::Mv {
            source,
            destination,
            dry_run,
            lock_timeout,
        } => {
            let src = Address::parse(&source)
                .map_err(|e| anyhow::anyhow!("invalid source address \"{source}\": {e}"))?;
            let dst = Address::parse(&destination).map_err(|e| {
                anyhow::anyhow!("invalid destination address \"{destination}\": {e}")
            })?;
            if src.kind != dst.kind {
                bail!(
                    "cannot move a {} to a {}: the kinds differ",
                    src.kind,
                    dst.kind
                );
            }
            let lock = backend
                .lock("state mv", parse_lock_timeout(&lock_timeout)?)
                .map_err(lock_error(&backend))?;
            let (mut state, exists) = read_state(&backend)?;
            let based_on = exists.then_some(state.serial);
            // Move one instance, or every instance of a resource when no key is given.
            let moves: Vec<(String, String)> = state
                .resources
                .keys()
                .filter_map(|k| {
                    let a = Address::parse(k).ok()?;
                    if a == src {
                        return Some((k.clone(), dst.to_string()));
                    }
                    if src.key.is_none() && a.key.is_some() && a.resource() == src {
                        let mut to = dst.clone();
                        to.key = a.key.clone();
                        return Some((k.clone(), to.to_string()));
                    }
                    None
                })
                .collect();
            if moves.is_empty() {
                bail!("{source} is not in the state (see `mlinfra state list`)");
            }
            for (_, to) in &moves {
                if state.resources.contains_key(to) {
                    bail!(
                        "{to} is already in the state; remove it first or choose another address"
                    );
                }
            }
            for (from, to) in &moves {
                if dry_run {
                    println!("would move {from} to {to}");
                } else if let Some(r) = state.resources.remove(from) {
                    state.resources.insert(to.clone(), r);
                    println!("Moved {from} to {to}");
                }
            }
            if !dry_run {
                backend.write(&mut state, based_on)?;
            }
            drop(lock);
            Ok(0)
        }
    }
}

pub fn force_unlock(dir: &Path, id: &str, nc: bool) -> Result<u8> {
    let backend = backend_for(dir, nc)?;
    match backend.force_unlock(id) {
        Ok(info) => {
            println!("Removed the lock {} held by {} (pid {}) on {} for `{}`. The state is unlocked.", info.id, info.user, info.pid, info.host, info.operation);
            Ok(0)
        }
        Err(StateError::Locked { holder }) => bail!(
            "lock {} is held by a running process: {holder}\n  refusing to unlock; stop that process first",
            holder.id
        ),
        Err(StateError::LockMismatch { current, .. }) if current == "none" => bail!("the state is not locked"),
        Err(e) => Err(e.into()),
    }
}

pub fn output(dir: &Path, name: Option<&str>, json: bool, nc: bool) -> Result<u8> {
    let backend = backend_for(dir, nc)?;
    let (state, _) = read_state(&backend)?;
    let shown = |o: &mlinfra_engine::state::OutputState| {
        if o.sensitive {
            Value::String("(sensitive value)".into())
        } else {
            o.value.clone()
        }
    };
    if let Some(n) = name {
        let Some(o) = state.outputs.get(n) else {
            let names: Vec<&str> = state.outputs.keys().map(String::as_str).collect();
            bail!(
                "output \"{n}\" not found; outputs in state: {}",
                if names.is_empty() {
                    "(none — apply first)".to_string()
                } else {
                    names.join(", ")
                }
            );
        };
        if json {
            println!(
                "{}",
                if o.sensitive {
                    serde_json::Value::Null
                } else {
                    o.value.to_json()
                }
            );
        } else {
            println!("{}", shown(o));
        }
        return Ok(0);
    }
    if json {
        let m: serde_json::Map<String, serde_json::Value> = state
            .outputs
            .iter()
            .map(|(k, o)| (k.clone(), serde_json::json!({ "value": if o.sensitive { serde_json::Value::Null } else { o.value.to_json() }, "sensitive": o.sensitive })))
            .collect();
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(0);
    }
    if state.outputs.is_empty() {
        eprintln!("No outputs in the state. Outputs are recorded when a configuration is applied.");
        return Ok(0);
    }
    for (k, o) in &state.outputs {
        println!("{k} = {}", render::inline(&shown(o)));
    }
    Ok(0)
}
