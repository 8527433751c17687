//! `init`, `workspace …`, `state pull` and `state push`: where state lives and moving it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use mlinfra_engine::backend_config::{backend_spec, BackendSpec, BackendValue, SECRET_ATTRIBUTES};
use mlinfra_engine::load;
use mlinfra_engine::state::{State, StateError};
use mlinfra_engine::store::StateStore;
use mlinfra_state_backends::{check_workspace_name, current_workspace, open_store};

use crate::session::lock_error;
use crate::workspace::{print_diagnostics, read_capped, read_state};

/// The directory of what `init` records, beside the manifests.
pub const DOT_DIR: &str = ".mlinfra";

#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// Create a workspace (its own state in the same backend) and select it.
    #[command(after_help = "Examples:\n  mlinfra workspace new staging")]
    New {
        name: String,
        #[arg(long = "lock-timeout", default_value = "0s")]
        lock_timeout: String,
    },
    /// Select the workspace later commands use (MLINFRA_WORKSPACE overrides it).
    #[command(after_help = "Examples:\n  mlinfra workspace select staging")]
    Select {
        name: String,
        /// Create it when it does not exist.
        #[arg(long = "or-create")]
        or_create: bool,
    },
    /// List the workspaces of the backend; `*` marks the selected one.
    List,
    /// Print the selected workspace.
    Show,
    /// Delete a workspace's state. Refuses the selected workspace, and one whose state
    /// still has resources unless --force (they would be forgotten, not destroyed).
    #[command(after_help = "Examples:\n  mlinfra workspace delete staging")]
    Delete {
        name: String,
        #[arg(long)]
        force: bool,
        #[arg(long = "lock-timeout", default_value = "0s")]
        lock_timeout: String,
    },
}

fn lock_timeout(s: &str) -> Result<Duration> {
    mlinfra_engine::config::load::parse_duration(s)
        .map(Duration::from_secs)
        .with_context(|| {
            format!("invalid --lock-timeout \"{s}\": expected a duration like 0s, 30s or 5m")
        })
}

/// The backend block of `dir`, checked, or an error after printing its diagnostic.
/// `cli` are the command's `--var`/`--var-file` inputs, for a passphrase variable.
pub(crate) fn spec_of(
    dir: &Path,
    cli: &[mlinfra_engine::CliInput],
    nc: bool,
) -> Result<BackendSpec> {
    let (mut config, diags) = load(dir);
    if config.has_syntax_errors {
        print_diagnostics(&config, &diags, nc);
        bail!("cannot tell where the state is kept: the configuration does not parse");
    }
    match backend_spec(&config) {
        Ok(mut s) => {
            let (inputs, _) = mlinfra_engine::collect_inputs(&mut config, cli, std::env::vars());
            mlinfra_engine::backend_config::resolve_passphrase(&mut s, &inputs);
            Ok(s)
        }
        Err(d) => {
            let mut ds = mlinfra_engine::Diagnostics::default();
            ds.push(d);
            print_diagnostics(&config, &ds, nc);
            bail!("cannot open the state backend")
        }
    }
}

/// What `init` records of the backend it configured: kind and attributes.
fn recorded_path(dir: &Path) -> PathBuf {
    dir.join(DOT_DIR).join("backend.json")
}

fn spec_json(spec: &BackendSpec) -> serde_json::Value {
    let attrs: serde_json::Map<String, serde_json::Value> = spec
        .attributes
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                match v {
                    // A connection string can hold a password: only its hash is kept.
                    BackendValue::String(s) if SECRET_ATTRIBUTES.contains(&k.as_str()) => {
                        serde_json::Value::String(secret_hash(s))
                    }
                    BackendValue::String(s) => serde_json::Value::String(s.clone()),
                    BackendValue::Bool(b) => serde_json::Value::Bool(*b),
                },
            )
        })
        .collect();
    serde_json::json!({ "kind": spec.kind, "attributes": attrs })
}

fn spec_from_json(v: &serde_json::Value, root_dir: &Path) -> Option<BackendSpec> {
    let kind = v["kind"].as_str()?.to_string();
    let mut attributes = std::collections::BTreeMap::new();
    for (k, a) in v["attributes"].as_object()? {
        let val = match a {
            serde_json::Value::String(s) => BackendValue::String(s.clone()),
            serde_json::Value::Bool(b) => BackendValue::Bool(*b),
            _ => return None,
        };
        attributes.insert(k.clone(), val);
    }
    Some(BackendSpec {
        kind,
        attributes,
        root_dir: root_dir.to_path_buf(),
        encryption: None,
    })
}

/// The backend `init` last configured in `dir`, if it ran.
pub fn recorded_backend(dir: &Path) -> Option<BackendSpec> {
    let text = std::fs::read_to_string(recorded_path(dir)).ok()?;
    spec_from_json(&serde_json::from_str(&text).ok()?, dir)
}

/// Refuse to use a backend other than the one the state is in: the configuration names
/// a backend `init` did not configure, while state exists in the one it did (or, before
/// any `init`, in the default local file).
pub fn check_configured(dir: &Path, spec: &BackendSpec) -> Result<()> {
    let previous = match recorded_backend(dir) {
        Some(p) => p,
        None => {
            let local = BackendSpec::default_local(dir.to_path_buf());
            if spec.kind == "local" || !local.local_path().exists() {
                return Ok(());
            }
            local
        }
    };
    if same_backend(&previous, spec) {
        return Ok(());
    }
    bail!(
        "the configuration's backend is now {}, but the state is in {}\n  to copy the state there, run: mlinfra init -migrate-state\n  to use the new backend as it is (its own state), run: mlinfra init -reconfigure",
        spec.describe(),
        previous.describe()
    )
}

/// The hash `init` records for a secret attribute (a recorded hash is kept as it is).
fn secret_hash(s: &str) -> String {
    if s.starts_with("sha256:") {
        return s.to_string();
    }
    use sha2::Digest;
    let d = sha2::Sha256::digest(s.as_bytes());
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Two backends are one when kind and attributes match (secrets compared by hash, as
/// `init` records them).
fn same_backend(a: &BackendSpec, b: &BackendSpec) -> bool {
    a.kind == b.kind && spec_json(a) == spec_json(b)
}

/// `mlinfra init`: check and open the backend, copy state from the previous backend
/// with `-migrate-state`, and record the backend for later commands.
pub fn init(
    dir: &Path,
    migrate: bool,
    reconfigure: bool,
    lock_timeout_arg: &str,
    nc: bool,
) -> Result<u8> {
    let timeout = lock_timeout(lock_timeout_arg)?;
    let spec = spec_of(dir, &[], nc)?;
    let previous = recorded_backend(dir).or_else(|| {
        let local = BackendSpec::default_local(dir.to_path_buf());
        (spec.kind != "local" && local.local_path().exists()).then_some(local)
    });
    let ws = current_workspace(dir);
    let store = open_store(&spec, &ws).context("opening the backend")?;
    // Reaching it now, not at the first plan: a wrong bucket or credentials fail here.
    let existing = store
        .read()
        .with_context(|| format!("reading the state at {}", store.location()))?;
    match previous {
        Some(prev) if !same_backend(&prev, &spec) => {
            if migrate {
                // The state there is read with this configuration's passphrase, and
                // may be plaintext (it is encrypted as it is copied).
                let mut from = prev.clone();
                from.encryption = spec.encryption.clone().map(|mut e| {
                    e.enforced = false;
                    e
                });
                migrate_state(&from, &spec, timeout)?;
            } else if !reconfigure {
                bail!(
                    "the backend changed from {} to {}\n  to copy the state there, run: mlinfra init -migrate-state\n  to use the new backend as it is (its own state), run: mlinfra init -reconfigure",
                    prev.describe(),
                    spec.describe()
                );
            }
        }
        _ => {}
    }
    let dot = dir.join(DOT_DIR);
    std::fs::create_dir_all(&dot).with_context(|| format!("creating {}", dot.display()))?;
    mlinfra_engine::files::atomic_write(
        &recorded_path(dir),
        serde_json::to_string_pretty(&spec_json(&spec))?.as_bytes(),
    )?;
    println!(
        "Backend {} is configured; workspace \"{ws}\" {}.",
        spec.describe(),
        match existing {
            Some(s) => format!(
                "has state (serial {}, {} resources)",
                s.serial,
                s.resources.len()
            ),
            None => "has no state yet".into(),
        }
    );
    Ok(0)
}

/// Copy every workspace's state from `from` to `to`, keeping lineage and serial, each
/// under both locks. A workspace that has state in `to` already must be the same
/// lineage and no newer.
fn migrate_state(from: &BackendSpec, to: &BackendSpec, timeout: Duration) -> Result<()> {
    let src_any = open_store(from, "default")?;
    let names = src_any.workspaces()?;
    for name in names {
        let src = open_store(from, &name)?;
        let _l1 = src
            .lock("init -migrate-state", timeout)
            .map_err(lock_error(&src))?;
        let Some(state) = src.read()? else {
            continue;
        };
        let dst = open_store(to, &name)?;
        let _l2 = dst
            .lock("init -migrate-state", timeout)
            .map_err(lock_error(&dst))?;
        if let Some(cur) = dst.read()? {
            if cur.lineage != state.lineage {
                bail!(
                    "workspace \"{name}\" has other state at {} (lineage {}, not {}); remove it or choose another key, then run init -migrate-state again",
                    dst.location(),
                    cur.lineage,
                    state.lineage
                );
            }
        }
        dst.push(&state, false)
            .with_context(|| format!("copying workspace \"{name}\" to {}", dst.location()))?;
        println!(
            "Copied workspace \"{name}\" (lineage {}, serial {}, {} resources) from {} to {}.",
            state.lineage,
            state.serial,
            state.resources.len(),
            src.location(),
            dst.location()
        );
    }
    Ok(())
}

fn store_of_dir(dir: &Path, nc: bool) -> Result<(BackendSpec, StateStore)> {
    let spec = spec_of(dir, &[], nc)?;
    check_configured(dir, &spec)?;
    let store = open_store(&spec, &current_workspace(dir))?;
    Ok((spec, store))
}

/// `mlinfra state pull`: the state as stored, on stdout.
pub fn pull(dir: &Path, nc: bool) -> Result<u8> {
    let (_, store) = store_of_dir(dir, nc)?;
    match store.read()? {
        Some(s) => print!("{}", s.to_json()),
        None => bail!("there is no state at {}", store.location()),
    }
    Ok(0)
}

/// `mlinfra state push FILE`: replace the stored state, obeying the lineage and serial
/// rules unless `force`.
pub fn push(dir: &Path, file: &Path, force: bool, lock_timeout_arg: &str, nc: bool) -> Result<u8> {
    let timeout = lock_timeout(lock_timeout_arg)?;
    let text = if file == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        read_capped(file, 1024 * 1024 * 1024)?
    };
    let state = State::from_json(&text, file)?;
    let (_, store) = store_of_dir(dir, nc)?;
    let lock = store
        .lock("state push", timeout)
        .map_err(lock_error(&store))?;
    match store.push(&state, force) {
        Ok(()) => {}
        Err(e @ StateError::Refused { .. }) => {
            bail!("{e}\n  to replace it anyway, run: mlinfra state push -force FILE")
        }
        Err(e) => return Err(e.into()),
    }
    drop(lock);
    println!(
        "Pushed state serial {} (lineage {}) to {}.",
        state.serial,
        state.lineage,
        store.location()
    );
    Ok(0)
}

fn select(dir: &Path, name: &str) -> Result<()> {
    let dot = dir.join(DOT_DIR);
    std::fs::create_dir_all(&dot).with_context(|| format!("creating {}", dot.display()))?;
    mlinfra_engine::files::atomic_write(&dot.join("environment"), format!("{name}\n").as_bytes())?;
    Ok(())
}

pub fn workspace(dir: &Path, cmd: WorkspaceCommand, nc: bool) -> Result<u8> {
    let spec = spec_of(dir, &[], nc)?;
    check_configured(dir, &spec)?;
    let current = current_workspace(dir);
    let names = || -> Result<Vec<String>> { Ok(open_store(&spec, "default")?.workspaces()?) };
    match cmd {
        WorkspaceCommand::Show => {
            println!("{current}");
            Ok(0)
        }
        WorkspaceCommand::List => {
            let mut all = names()?;
            if !all.contains(&current) {
                all.push(current.clone());
                all.sort();
            }
            for n in all {
                println!("{} {n}", if n == current { "*" } else { " " });
            }
            Ok(0)
        }
        WorkspaceCommand::New {
            name,
            lock_timeout: t,
        } => {
            check_workspace_name(&name).map_err(anyhow::Error::msg)?;
            if names()?.contains(&name) {
                bail!("workspace \"{name}\" exists already; select it with: mlinfra workspace select {name}");
            }
            create(&spec, &name, lock_timeout(&t)?)?;
            select(dir, &name)?;
            println!("Created and selected workspace \"{name}\". Its state is empty.");
            Ok(0)
        }
        WorkspaceCommand::Select { name, or_create } => {
            check_workspace_name(&name).map_err(anyhow::Error::msg)?;
            if !names()?.contains(&name) {
                if !or_create {
                    bail!("workspace \"{name}\" does not exist; create it with: mlinfra workspace new {name}");
                }
                create(&spec, &name, Duration::ZERO)?;
            }
            select(dir, &name)?;
            println!("Switched to workspace \"{name}\".");
            Ok(0)
        }
        WorkspaceCommand::Delete {
            name,
            force,
            lock_timeout: t,
        } => {
            check_workspace_name(&name).map_err(anyhow::Error::msg)?;
            if name == current {
                bail!("workspace \"{name}\" is selected; select another one first (mlinfra workspace select default)");
            }
            if name == "default" {
                bail!("the default workspace cannot be deleted");
            }
            if !names()?.contains(&name) {
                bail!("workspace \"{name}\" does not exist");
            }
            let store = open_store(&spec, &name)?;
            let lock = store
                .lock("workspace delete", lock_timeout(&t)?)
                .map_err(lock_error(&store))?;
            let (state, _) = read_state(&store)?;
            if !state.resources.is_empty() && !force {
                bail!(
                    "workspace \"{name}\" still manages {} resources; destroy them first (mlinfra workspace select {name} && mlinfra destroy), or pass --force to forget them",
                    state.resources.len()
                );
            }
            // The lock record goes with the workspace.
            drop(lock);
            store.backend().delete_workspace(&name)?;
            println!("Deleted workspace \"{name}\".");
            Ok(0)
        }
    }
}

/// An empty state for a new workspace, so it exists in the backend.
fn create(spec: &BackendSpec, name: &str, timeout: Duration) -> Result<()> {
    let store = open_store(spec, name)?;
    let lock = store
        .lock("workspace new", timeout)
        .map_err(lock_error(&store))?;
    let mut state = State::new();
    store.write(&mut state, None)?;
    drop(lock);
    Ok(())
}
