//! What plan, apply and destroy share: open the configuration and state, refresh, diff.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::ArgMatches;
use mlinfra_engine::diag::Diagnostics;
use mlinfra_engine::plan::{Plan, PlanOptions};
use mlinfra_engine::run::plan_configuration;
use mlinfra_engine::state::{State, StateError, StateLock};
use mlinfra_engine::store::StateStore;
use mlinfra_engine::Evaluated;
use mlinfra_provider_api::ProviderSet;
use mlinfra_state_backends::STALE_AFTER;

use crate::workspace::{cli_inputs, open, print_diagnostics, read_state, Workspace};

/// Every cloud provider this build has.
pub fn providers() -> ProviderSet {
    let mut set = ProviderSet::default();
    set.add(Box::new(mlinfra_provider_aws::AwsProvider::new()));
    set.add(Box::new(mlinfra_provider_gcp::GcpProvider::new()));
    set.add(Box::new(mlinfra_provider_azure::AzureProvider::new()));
    set
}

/// An open configuration with its state, under the state lock.
pub struct Session {
    pub ws: Workspace,
    pub store: StateStore,
    pub lock: Option<StateLock>,
    pub state: State,
    /// Whether a state file existed when it was read.
    pub state_exists: bool,
    pub providers: ProviderSet,
    pub rt: tokio::runtime::Runtime,
    pub diags: Diagnostics,
    pub no_color: bool,
}

/// Turn a refused lock into a message naming the holder and the way out.
pub fn lock_error(store: &StateStore) -> impl Fn(StateError) -> anyhow::Error + '_ {
    move |e| {
        match e {
        StateError::Locked { holder } if holder.holder_is_dead() => anyhow::anyhow!(
            "the state at {} is locked by {holder}, but pid {} is no longer running on this host\n  another process that shares the lock file still holds it (for example a run in another container or a process it started); stop it, or if none is left, run: mlinfra force-unlock {}",
            store.location(),
            holder.pid,
            holder.id
        ),
        StateError::Locked { holder } if holder.heartbeat.is_some_and(|h| mlinfra_engine::store::unix_now().saturating_sub(h) > STALE_AFTER) => anyhow::anyhow!(
            "the state at {} is locked by {holder}, and that run has not shown it is alive for {} s: it was probably killed or lost its network\n  if it is gone, run: mlinfra force-unlock {}",
            store.location(),
            mlinfra_engine::store::unix_now().saturating_sub(holder.heartbeat.unwrap_or(0)),
            holder.id
        ),
        StateError::Locked { holder } => anyhow::anyhow!(
            "the state at {} is locked by {holder}\n  wait for it to finish (or pass --lock-timeout=5m); if that run is gone, run: mlinfra force-unlock {}",
            store.location(),
            holder.id
        ),
        other => other.into(),
    }
    }
}

impl Session {
    /// Load, check and lock. `None` after printing diagnostics when the input is bad.
    pub fn open(
        dir: &Path,
        m: &ArgMatches,
        operation: &str,
        lock_timeout: Duration,
        nc: bool,
    ) -> Result<Option<Session>> {
        let Some((ws, mut diags)) = open(dir, &cli_inputs(m), nc) else {
            return Ok(None);
        };
        if let Err(d) = mlinfra_engine::backend_config::backend_spec(&ws.config) {
            diags.push(d);
        }
        if diags.has_errors() {
            // Evaluate anyway so every problem is reported in one run.
            let (_, d) = ws.evaluate_stateless();
            diags.extend(d);
            diags.sort();
            print_diagnostics(&ws.config, &diags, nc);
            return Ok(None);
        }
        let Some(store) = ws.store(nc)? else {
            return Ok(None);
        };
        let lock = store
            .lock(operation, lock_timeout)
            .map_err(lock_error(&store))?;
        if let Some(prev) = &lock.abandoned_by {
            eprintln!(
                "note: the last run, {prev}, ended without releasing the state lock: it was killed or crashed. Its lock was released when it exited; anything it left in flight is recovered by the next apply."
            );
        }
        let (state, state_exists) = read_state(&store)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        Ok(Some(Session {
            ws,
            store,
            lock: Some(lock),
            state,
            state_exists,
            providers: providers(),
            rt,
            diags,
            no_color: nc,
        }))
    }

    /// The configuration evaluated without prior state: provider configurations for reads.
    pub fn provider_view(&self) -> Evaluated {
        self.ws.evaluate_stateless().0
    }

    /// Recover what an interrupted run left in flight (when `recover`), refresh (unless
    /// disabled) and diff. Reads only: nothing is written. `None` after printing
    /// diagnostics on errors.
    pub fn plan(&mut self, opts: &PlanOptions, refresh: bool, recover: bool) -> Option<Planned> {
        let mut skipped = Default::default();
        let mut recovered = self.state.clone();
        let mut interrupted_creates = Default::default();
        let mut recovery_notes = Vec::new();
        let pending = !recovered.pending.is_empty();
        // Every provider the reads below call is configured first, once.
        let mut keys = std::collections::BTreeSet::new();
        if pending && recover {
            keys.extend(recovered.pending.iter().map(|p| p.provider.clone()));
        }
        if refresh {
            keys.extend(
                recovered
                    .resources
                    .values()
                    .filter_map(|r| r.provider.clone()),
            );
        }
        let view = self.provider_view();
        if !opts.destroy {
            for imp in &view.imports {
                if let Some(k) = view.resource(&imp.address).and_then(|r| r.provider.clone()) {
                    keys.insert(k);
                }
            }
        }
        if !keys.is_empty() {
            let d = self.rt.block_on(mlinfra_engine::configure::configure(
                &self.providers,
                &view,
                &keys,
            ));
            if d.has_errors() {
                let mut diags = std::mem::take(&mut self.diags);
                diags.extend(d);
                diags.sort();
                print_diagnostics(&self.ws.config, &diags, self.no_color);
                return None;
            }
        }
        if pending && recover {
            let notes = Notes::default();
            match self.rt.block_on(mlinfra_engine::apply::recover(
                &self.providers,
                &view,
                &notes,
                &mut recovered,
            )) {
                Ok(forgotten) => interrupted_creates = forgotten,
                Err(e) => self
                    .diags
                    .push(mlinfra_engine::Diagnostic::error(e.to_string()).help(
                    "the state keeps the interrupted creates; run again when the cloud can be read",
                )),
            }
            recovery_notes = notes.0.into_inner();
        } else if pending {
            recovery_notes.push(format!(
                "{} create(s) of an interrupted run are pending; apply looks them up first (plan with refresh to see what it will find)",
                recovered.pending.len()
            ));
        }
        // `moved` and `removed` blocks change addresses in state before anything is read
        // or diffed, so a renamed block is the same object, not a destroy and a create.
        let (refactored, d) =
            mlinfra_engine::refactor::refactor(&self.ws.config, &view, &mut recovered);
        self.diags.extend(d);
        let (prior, drift) = if refresh && !recovered.resources.is_empty() {
            let (r, d) = self.rt.block_on(mlinfra_engine::refresh::refresh(
                &recovered,
                &view,
                &self.providers,
            ));
            self.diags.extend(d);
            skipped = r.skipped;
            (r.state, r.drift)
        } else {
            (recovered, Vec::new())
        };
        // `import` blocks: read each object not yet in state, and plan as if it were.
        let mut prior = prior;
        let mut importing = std::collections::BTreeMap::new();
        if !opts.destroy {
            for imp in &view.imports {
                if prior.resources.contains_key(&imp.address) {
                    continue;
                }
                match crate::import_cmd::read_import(self, &view, &prior, &imp.address, &imp.id) {
                    Ok(record) => {
                        prior.resources.insert(imp.address.clone(), record);
                        importing.insert(imp.address.clone(), imp.id.clone());
                    }
                    Err(e) => {
                        let help = if e.contains("already managed by") {
                            "remove the import block: the object is already in state"
                        } else {
                            "check the id (for a bucket, its name), or remove the import block"
                        };
                        self.diags.push(
                            mlinfra_engine::Diagnostic::error(format!(
                                "cannot import {}",
                                imp.address
                            ))
                            .at(Some(imp.span))
                            .note(e)
                            .help(help),
                        )
                    }
                }
            }
        }
        let (result, plan_diags) = plan_configuration(
            &self.ws.config,
            &self.ws.inputs,
            &prior,
            drift,
            opts,
            &self.providers,
        );
        let mut diags = std::mem::take(&mut self.diags);
        diags.extend(plan_diags);
        diags.sort();
        if print_diagnostics(&self.ws.config, &diags, self.no_color) {
            return None;
        }
        let (evaluated, mut plan) = result?;
        refactored.annotate(&mut plan);
        for c in &mut plan.changes {
            c.importing = importing.get(&c.address).cloned();
        }
        plan.refreshed = refresh && !self.state.resources.is_empty();
        let deferred = mlinfra_engine::config::conditions::deferred(&evaluated.conditions);
        if deferred > 0 && !opts.destroy {
            plan.notes.push(format!(
                "{deferred} condition(s) (postconditions, checks) read values known only after apply; apply checks them once the values exist"
            ));
        }
        plan.notes.extend(recovery_notes);
        if !skipped.is_empty() {
            let list: Vec<String> = skipped.iter().map(|(c, k)| format!("{k} on {c}")).collect();
            plan.notes.push(format!(
                "not refreshed, because this build cannot read them yet: {}; the plan compares them with the state file only",
                list.join(", ")
            ));
        }
        if !opts.excludes.is_empty() {
            plan.notes.push(format!(
                "the plan leaves out {}, what depends on {}{}; changes to them may be pending",
                plan.excludes.join(", "),
                if plan.excludes.len() == 1 {
                    "it"
                } else {
                    "them"
                },
                if opts.destroy {
                    ", and what they depend on"
                } else {
                    ""
                }
            ));
        }
        if !opts.targets.is_empty() {
            plan.notes.push(format!(
                "the plan is limited to {} and what {}; other changes may be pending",
                plan.targets.join(", "),
                if opts.destroy {
                    "depends on it"
                } else {
                    "it depends on"
                }
            ));
        }
        Some(Planned {
            evaluated,
            plan,
            prior,
            interrupted_creates,
            refactored,
        })
    }
}

/// A plan with what it was made from.
pub struct Planned {
    pub evaluated: Evaluated,
    pub plan: Plan,
    /// The state the plan was diffed against: recovered, refreshed and with imports.
    pub prior: State,
    /// Creates of an interrupted run that recovery did not find (address → name).
    pub interrupted_creates: std::collections::BTreeMap<String, String>,
    /// What `moved` and `removed` blocks did to `prior`, in memory.
    pub refactored: mlinfra_engine::refactor::Refactored,
}

/// Recovery events, kept as plan notes.
#[derive(Default)]
struct Notes(std::cell::RefCell<Vec<String>>);

impl mlinfra_engine::apply::Progress for Notes {
    fn event(&self, e: mlinfra_engine::apply::Event) {
        use mlinfra_engine::apply::Event;
        let note = match e {
            Event::Adopted { address, name } => format!(
                "{address}: the interrupted create of {name} reached the cloud; it is recorded as it is"
            ),
            Event::Forgot { address, name } => format!(
                "{address}: the interrupted create of {name} never reached the cloud; it is planned again"
            ),
            _ => return,
        };
        self.0.borrow_mut().push(note);
    }
}
