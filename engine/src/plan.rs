//! The plan: a pure diff of the evaluated configuration against prior (refreshed) state.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use mlinfra_provider_api::{PlanRequest, ProviderSet};
use mlinfra_schema::{kind, BlockSchema, Cloud, KindClass, Value};

use crate::address::Address;
use crate::config::eval::{Evaluated, ResourceInstance};
use crate::diag::{Diagnostic, Diagnostics};
use crate::state::State;

/// What happens to one resource instance. Doubles as its diff marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    NoOp,
    Create,
    Read,
    Update,
    DeleteThenCreate,
    CreateThenDelete,
    Delete,
    /// Taken out of state by a `removed` block; the cloud object is kept.
    Forget,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Read => "<=",
            Action::Update => "~",
            Action::DeleteThenCreate => "-/+",
            Action::CreateThenDelete => "+/-",
            Action::Delete => "-",
            Action::Forget => ".",
        }
    }

    /// The action list of the JSON plan format, in execution order.
    pub fn json(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Read => &["read"],
            Action::Update => &["update"],
            Action::DeleteThenCreate => &["delete", "create"],
            Action::CreateThenDelete => &["create", "delete"],
            Action::Delete => &["delete"],
            Action::Forget => &["forget"],
        }
    }

    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }
}

/// Why a change was planned; for explaining the plan, never for deciding the apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    NotInState,
    ConfigChanged,
    /// An attribute that cannot be updated in place changed.
    CannotUpdate,
    ReplaceRequested,
    NoConfig,
    CountIndexRemoved,
    EachKeyRemoved,
    DriftRestore,
    /// A `removed` block with `lifecycle { destroy = false }`.
    Removed,
    /// `lifecycle { replace_triggered_by }` names something this plan changes.
    ReplaceTriggered,
}

impl Reason {
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NotInState => "not_in_state",
            Reason::ConfigChanged => "config_changed",
            Reason::CannotUpdate => "replace_because_cannot_update",
            Reason::ReplaceRequested => "replace_by_request",
            Reason::NoConfig => "delete_because_no_resource_config",
            Reason::CountIndexRemoved => "delete_because_count_index",
            Reason::EachKeyRemoved => "delete_because_each_key",
            Reason::DriftRestore => "restore_drifted_attributes",
            Reason::Removed => "forget_because_removed_block",
            Reason::ReplaceTriggered => "replace_by_triggers",
        }
    }
}

/// One planned change to a resource instance.
#[derive(Clone, Debug)]
pub struct ResourceChange {
    pub address: String,
    pub module: String,
    pub kind: String,
    pub name: String,
    pub cloud: Option<String>,
    pub provider: Option<String>,
    pub action: Action,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub replace_paths: Vec<Vec<String>>,
    pub reason: Option<Reason>,
    /// Human explanation of the reason.
    pub reason_message: String,
    pub sensitive_paths: BTreeSet<String>,
    pub depends_on: Vec<String>,
    /// Set when an `import` block adopts the object with this cloud id in this plan.
    pub importing: Option<String>,
    /// The address state had for the object before a `moved` block (or `count` added or
    /// taken away) moved it in this plan.
    pub previous_address: Option<String>,
}

#[derive(Clone, Debug)]
pub struct OutputChange {
    pub name: String,
    pub action: Action,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub sensitive: bool,
}

/// What binds a saved plan to the state and configuration it was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub lineage: String,
    pub serial: u64,
    pub config_hash: String,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub changes: Vec<ResourceChange>,
    pub drift: Vec<ResourceChange>,
    pub outputs: Vec<OutputChange>,
    pub binding: Binding,
    pub targets: Vec<String>,
    pub excludes: Vec<String>,
    /// Whether live state was refreshed through providers.
    pub refreshed: bool,
    /// A plan to destroy everything (`plan --destroy`, `destroy`).
    pub destroy: bool,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub import: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub forget: usize,
    pub move_: usize,
    pub no_op: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            if c.importing.is_some() {
                s.import += 1;
            }
            if c.previous_address.is_some() {
                s.move_ += 1;
            }
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Delete => s.destroy += 1,
                Action::DeleteThenCreate | Action::CreateThenDelete => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Forget => s.forget += 1,
                Action::NoOp | Action::Read => s.no_op += 1,
            }
        }
        s
    }

    /// Whether applying the plan would change anything (resources or outputs).
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| {
            c.action != Action::NoOp || c.importing.is_some() || c.previous_address.is_some()
        }) || self.outputs.iter().any(|o| o.action != Action::NoOp)
    }

    /// Addresses whose computed attributes become unknown because they are replaced.
    pub fn replaced(&self) -> BTreeSet<String> {
        self.changes
            .iter()
            .filter(|c| c.action.is_replace())
            .map(|c| c.address.clone())
            .collect()
    }
}

#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub targets: Vec<Address>,
    /// `--exclude`: everything but these, what depends on them and (when destroying)
    /// what they depend on.
    pub excludes: Vec<Address>,
    pub replace: Vec<Address>,
    pub refresh_only: bool,
    pub destroy: bool,
}

/// Diff `config` against `prior` (already refreshed). `drift` holds what refresh found.
pub fn diff(
    config: &Evaluated,
    prior: &State,
    drift: Vec<ResourceChange>,
    config_hash: &str,
    opts: &PlanOptions,
) -> (Plan, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut changes = Vec::new();
    if !opts.refresh_only {
        if !opts.destroy {
            changes = config
                .resources
                .iter()
                .filter(|r| r.kind.class == KindClass::Cloud)
                .map(|inst| {
                    let replace = opts.replace.iter().any(|t| inst.address.matches(t));
                    let recorded = if prior.resources.is_empty() {
                        None
                    } else {
                        prior.resources.get(&inst.address.to_string())
                    };
                    diff_instance(inst, recorded, replace)
                })
                .collect();
        }
        // What the configuration declares (when destroying, nothing is kept).
        let seen: HashSet<String> = if prior.resources.is_empty() {
            HashSet::new()
        } else {
            changes.iter().map(|c| c.address.clone()).collect()
        };
        for (addr, r) in &prior.resources {
            if seen.contains(addr) {
                continue;
            }
            let reason = match Address::parse(addr) {
                Ok(a) if !opts.destroy && a.key.is_some() => {
                    let base = a.resource();
                    if config
                        .resources
                        .iter()
                        .any(|i| i.address.resource() == base)
                    {
                        if matches!(a.key, Some(crate::address::InstanceKey::Index(_))) {
                            Reason::CountIndexRemoved
                        } else {
                            Reason::EachKeyRemoved
                        }
                    } else {
                        Reason::NoConfig
                    }
                }
                _ => Reason::NoConfig,
            };
            let message = match (&reason, opts.destroy) {
                (_, true) => "destroy requested".to_string(),
                (Reason::CountIndexRemoved, _) => "its index is beyond the resource's count".into(),
                (Reason::EachKeyRemoved, _) => "its key is no longer in for_each".into(),
                _ => "it is no longer in the configuration".into(),
            };
            let (module, name) = split_address(addr);
            changes.push(ResourceChange {
                address: addr.clone(),
                module,
                kind: r.kind.clone(),
                name,
                cloud: r.cloud.clone(),
                provider: r.provider.clone(),
                action: Action::Delete,
                before: Some(Value::Map(r.attributes.clone())),
                after: None,
                replace_paths: Vec::new(),
                reason: Some(reason),
                reason_message: message,
                sensitive_paths: r.sensitive.clone(),
                depends_on: r.dependencies.iter().cloned().collect(),
                importing: None,
                previous_address: None,
            });
        }
    }
    // Built only when something below reads it: at 100,000 creates it is most of a diff's
    // remaining time.
    let needed = (!opts.destroy
        && config
            .resources
            .iter()
            .any(|r| !r.replace_triggered_by.is_empty()))
        || !opts.targets.is_empty()
        || !opts.excludes.is_empty()
        || changes
            .iter()
            .any(|c| matches!(c.action, Action::Delete) || c.action.is_replace());
    let by_address: HashMap<String, &ResourceInstance> = if needed {
        config
            .resources
            .iter()
            .map(|r| (r.address.to_string(), r))
            .collect()
    } else {
        HashMap::new()
    };
    if !opts.destroy {
        replace_triggered(&mut changes, &by_address, prior);
    }
    let mut targets = Vec::new();
    if !opts.targets.is_empty() {
        let keep = targeted(&changes, &by_address, prior, &opts.targets, opts.destroy);
        changes.retain(|c| keep.contains(&c.address));
        targets = opts.targets.iter().map(ToString::to_string).collect();
    }
    let mut excludes = Vec::new();
    if !opts.excludes.is_empty() {
        let drop = excluded(&changes, &by_address, prior, &opts.excludes, opts.destroy);
        changes.retain(|c| !drop.contains(&c.address));
        excludes = opts.excludes.iter().map(ToString::to_string).collect();
    }
    for c in &changes {
        if matches!(c.action, Action::Delete) || c.action.is_replace() {
            if let Some(inst) = by_address.get(&c.address) {
                if inst.lifecycle.prevent_destroy {
                    diags.push(
                        Diagnostic::error(format!("{} has lifecycle.prevent_destroy set, but the plan would destroy it", c.address))
                            .at(Some(inst.span))
                            .note(format!("reason: {}", c.reason_message))
                            .help("remove prevent_destroy to allow it, or change the plan so the resource is kept"),
                    );
                }
            }
        }
    }
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    let outputs = if opts.targets.is_empty() && opts.excludes.is_empty() && !opts.refresh_only {
        diff_outputs(config, prior, opts.destroy)
    } else {
        Vec::new()
    };
    let plan = Plan {
        changes,
        drift,
        outputs,
        binding: Binding {
            lineage: prior.lineage.clone(),
            serial: prior.serial,
            config_hash: config_hash.to_string(),
        },
        targets,
        excludes,
        refreshed: false,
        destroy: opts.destroy,
        notes: Vec::new(),
    };
    (plan, diags)
}

/// The targeted addresses and everything they depend on — or, when destroying, everything
/// that depends on them (a dependency outlives its dependents).
fn targeted(
    changes: &[ResourceChange],
    config: &HashMap<String, &ResourceInstance>,
    prior: &State,
    targets: &[Address],
    destroy: bool,
) -> BTreeSet<String> {
    let mut keep = BTreeSet::new();
    let mut stack: Vec<String> = changes
        .iter()
        .filter(|c| {
            Address::parse(&c.address)
                .is_ok_and(|a| targets.iter().any(|t| a.matches(t) || a.in_module(t)))
        })
        .map(|c| c.address.clone())
        .collect();
    while let Some(a) = stack.pop() {
        if !keep.insert(a.clone()) {
            continue;
        }
        if destroy {
            stack.extend(
                prior
                    .resources
                    .iter()
                    .filter(|(_, r)| r.dependencies.contains(&a))
                    .map(|(k, _)| k.clone()),
            );
        } else if let Some(r) = config.get(&a) {
            stack.extend(r.depends_on.iter().cloned());
        }
    }
    keep
}

/// `replace_triggered_by`: an instance that is kept or updated is replaced when a
/// reference of it is created, updated or replaced (or, for an attribute reference,
/// when that attribute changes). Repeated until nothing more is triggered, so one
/// replacement can trigger the next.
fn replace_triggered(
    changes: &mut [ResourceChange],
    config: &HashMap<String, &ResourceInstance>,
    prior: &State,
) {
    if config.values().all(|r| r.replace_triggered_by.is_empty()) {
        return;
    }
    loop {
        let index: HashMap<String, usize> = changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.address.clone(), i))
            .collect();
        let fires = |t: &crate::config::eval::Trigger, c: &ResourceChange| {
            let matched = if t.all {
                Address::parse(&c.address).is_ok_and(|a| a.resource() == t.address)
            } else {
                c.address == t.address.to_string()
            };
            if !matched
                || matches!(
                    c.action,
                    Action::NoOp | Action::Read | Action::Delete | Action::Forget
                )
            {
                return false;
            }
            if t.attr.is_empty() || c.action.is_replace() || c.action == Action::Create {
                return true;
            }
            let at = |v: &Option<Value>| v.as_ref().and_then(|v| v.get_path(&t.attr)).cloned();
            let after = at(&c.after);
            after.as_ref().is_some_and(Value::is_unknown) || at(&c.before) != after
        };
        let mut fired = Vec::new();
        for (i, c) in changes.iter().enumerate() {
            if !matches!(c.action, Action::NoOp | Action::Update) {
                continue;
            }
            let Some(inst) = config.get(&c.address) else {
                continue;
            };
            let why = inst.replace_triggered_by.iter().find(|t| {
                changes
                    .iter()
                    .any(|other| other.address != c.address && fires(t, other))
            });
            if let Some(t) = why {
                fired.push((i, t.text.clone()));
            }
        }
        if fired.is_empty() {
            return;
        }
        for (i, why) in fired {
            let addr = changes[i].address.clone();
            let Some(inst) = config.get(&addr) else {
                continue;
            };
            let mut c = diff_instance(inst, prior.resources.get(&addr), true);
            c.reason = Some(Reason::ReplaceTriggered);
            c.reason_message =
                format!("lifecycle.replace_triggered_by: {why} changes in this plan");
            changes[index[&addr]] = c;
        }
    }
}

/// What `--exclude` leaves out: the excluded addresses, everything that depends on them
/// (in the configuration or in state), and what they depend on when it would be deleted
/// (a dependency outlives its dependents; when destroying, that is every dependency).
fn excluded(
    changes: &[ResourceChange],
    config: &HashMap<String, &ResourceInstance>,
    prior: &State,
    excludes: &[Address],
    destroy: bool,
) -> BTreeSet<String> {
    let hit = |addr: &str| {
        Address::parse(addr).is_ok_and(|a| excludes.iter().any(|t| a.matches(t) || a.in_module(t)))
    };
    let depends_on = |a: &str| -> Vec<String> {
        let mut d: Vec<String> = config
            .get(a)
            .map(|r| r.depends_on.iter().cloned().collect())
            .unwrap_or_default();
        if let Some(r) = prior.resources.get(a) {
            d.extend(r.dependencies.iter().cloned());
        }
        d
    };
    let deleting: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.action == Action::Delete || c.action.is_replace())
        .map(|c| c.address.as_str())
        .collect();
    let mut out = BTreeSet::new();
    let mut stack: Vec<String> = changes
        .iter()
        .map(|c| c.address.clone())
        .chain(prior.resources.keys().cloned())
        .filter(|a| hit(a))
        .collect();
    while let Some(a) = stack.pop() {
        if !out.insert(a.clone()) {
            continue;
        }
        // Dependents: in the configuration and in state.
        stack.extend(
            config
                .values()
                .filter(|r| r.depends_on.contains(&a))
                .map(|r| r.address.to_string()),
        );
        stack.extend(
            prior
                .resources
                .iter()
                .filter(|(_, r)| r.dependencies.contains(&a))
                .map(|(k, _)| k.clone()),
        );
        // Dependencies that this plan would delete stay while `a` stays.
        stack.extend(
            depends_on(&a)
                .into_iter()
                .filter(|d| destroy || deleting.contains(d.as_str())),
        );
    }
    out
}

fn split_address(addr: &str) -> (String, String) {
    match Address::parse(addr) {
        Ok(a) => (
            crate::address::module_path_string(&a.module),
            match &a.key {
                Some(k) => format!("{}{k}", a.name),
                None => a.name.clone(),
            },
        ),
        Err(_) => (String::new(), addr.to_string()),
    }
}

/// Diff one instance against its prior attributes.
pub fn diff_instance(
    inst: &ResourceInstance,
    recorded: Option<&crate::state::ResourceState>,
    replace: bool,
) -> ResourceChange {
    let prior = recorded.map(|r| &r.attributes);
    // Redact with what was secret before too: a value that stops being sensitive must not
    // reveal its old secret in `before`.
    let mut sensitive = inst.sensitive.clone();
    if let Some(r) = recorded {
        sensitive.extend(r.sensitive.iter().cloned());
    }

    let addr = inst.address.to_string();
    let mut after = inst.attrs.clone();
    let base = ResourceChange {
        address: addr.clone(),
        module: crate::address::module_path_string(&inst.address.module),
        kind: inst.kind.name.to_string(),
        name: match &inst.address.key {
            Some(k) => format!("{}{k}", inst.address.name),
            None => inst.address.name.clone(),
        },
        cloud: inst.cloud.map(|c| c.as_str().to_string()),
        provider: inst.provider.clone(),
        action: Action::Create,
        before: None,
        after: None,
        replace_paths: Vec::new(),
        reason: Some(Reason::NotInState),
        reason_message: "it is not in the state yet".into(),
        sensitive_paths: sensitive,
        depends_on: inst.depends_on.iter().cloned().collect(),
        importing: None,
        previous_address: None,
    };
    let Some(prior) = prior else {
        return ResourceChange {
            after: Some(Value::Map(after)),
            ..base
        };
    };
    // ignore_changes keeps the prior value.
    if inst.lifecycle.ignore_all {
        for (k, v) in prior {
            after.insert(k.clone(), v.clone());
        }
    }
    for name in &inst.lifecycle.ignore_changes {
        if let Some(v) = prior.get(name) {
            after.insert(name.clone(), v.clone());
        }
    }
    let mut changed: Vec<Vec<String>> = Vec::new();
    changed_paths(
        &Value::Map(prior.clone()),
        &Value::Map(after.clone()),
        &mut Vec::new(),
        &mut changed,
    );
    // Computed attributes that the configuration leaves unknown are not changes.
    changed.retain(|p| {
        let attr = p.first().and_then(|n| inst.kind.attribute(n));
        !(attr.is_some_and(|a| a.computed)
            && Value::Map(after.clone())
                .get_path(p)
                .is_some_and(Value::is_unknown)
            && prior.contains_key(&p[0]))
    });
    let prior_value = Value::Map(prior.clone());
    let replace_paths: Vec<Vec<String>> = changed
        .iter()
        .filter(|p| {
            forces_replacement(&inst.kind.body, p)
                || (appends_only(&inst.kind.body, p) && prior_value.get_path(p).is_some())
        })
        .cloned()
        .collect();
    let before = Some(Value::Map(prior.clone()));
    let (action, reason, message) = if replace {
        (
            replace_action(inst),
            Some(Reason::ReplaceRequested),
            "replacement requested with --replace".to_string(),
        )
    } else if !replace_paths.is_empty() {
        let list: Vec<String> = replace_paths.iter().map(|p| p.join(".")).collect();
        (
            replace_action(inst),
            Some(Reason::CannotUpdate),
            format!("{} cannot be changed in place", list.join(", ")),
        )
    } else if !changed.is_empty() {
        let list: Vec<String> = changed.iter().map(|p| p.join(".")).collect();
        (
            Action::Update,
            Some(Reason::ConfigChanged),
            format!("{} changed", list.join(", ")),
        )
    } else {
        (Action::NoOp, None, String::new())
    };
    if action.is_replace() {
        // A replacement gets new computed values.
        for a in &inst.kind.body.attributes {
            if a.read_only {
                after.insert(a.name.to_string(), Value::Unknown);
            }
        }
    }
    ResourceChange {
        action,
        before,
        after: Some(Value::Map(after)),
        replace_paths,
        reason,
        reason_message: message,
        ..base
    }
}

/// The providers' half of the plan: each create and update goes to its cloud's provider,
/// which checks the cloud's own rules (names, versions, machine types) and says which
/// changed paths force replacement on that cloud, and why. Pure: no cloud is called, so an
/// offline plan runs it too. A refusal is an error at the resource's block.
pub fn provider_checks(
    plan: &mut Plan,
    config: &Evaluated,
    providers: &ProviderSet,
) -> Diagnostics {
    let mut diags = Diagnostics::default();
    if providers.is_empty() {
        return diags;
    }
    let by_address: HashMap<String, &ResourceInstance> = config
        .resources
        .iter()
        .map(|r| (r.address.to_string(), r))
        .collect();
    // One provider configuration per key, not one per change.
    let mut configs: HashMap<String, mlinfra_provider_api::ProviderConfig> = HashMap::new();
    for c in &plan.changes {
        let key = c.provider.as_deref().unwrap_or_default();
        if !configs.contains_key(key) {
            configs.insert(key.to_string(), crate::apply::provider_config(config, key));
        }
    }
    for c in &mut plan.changes {
        if let Some(d) = check_change(c, &by_address, &configs, providers) {
            diags.push(d);
        }
    }
    diags
}

/// A provider's check of one change (see [`provider_checks`]): the change gets the
/// provider's planned values and replacement reasons, or the refusal is returned.
fn check_change(
    c: &mut ResourceChange,
    by_address: &HashMap<String, &ResourceInstance>,
    configs: &HashMap<String, mlinfra_provider_api::ProviderConfig>,
    providers: &ProviderSet,
) -> Option<Diagnostic> {
    if !matches!(c.action, Action::Create | Action::Update) && !c.action.is_replace() {
        return None;
    }
    let provider = c
        .cloud
        .as_deref()
        .and_then(Cloud::parse)
        .and_then(|cl| providers.get(cl))?;
    if !provider.supports(&c.kind) {
        return None;
    }
    let inst = by_address.get(&c.address)?;
    let cfg = configs.get(c.provider.as_deref().unwrap_or_default())?;
    let before = c.before.as_ref().and_then(Value::as_map).cloned();
    let mut changed = Vec::new();
    if let (Some(b @ Value::Map(_)), Some(after)) = (&c.before, &c.after) {
        changed_paths(b, after, &mut Vec::new(), &mut changed);
        changed.retain(|p| !after.get_path(p).is_some_and(Value::is_unknown));
    }
    // A replacement creates a new object: the provider checks it as a create, so a
    // rule about changing the old one in place (a version step) does not refuse it.
    let is_update = c.action == Action::Update;
    let checked_again = !is_update && before.is_some();
    // The provider's answer becomes the change's `after`, so the proposed values move
    // into the request rather than being copied (a failed check fails the whole plan).
    let mut proposed = match c.after.take() {
        Some(Value::Map(m)) => m,
        other => {
            c.after = other;
            BTreeMap::new()
        }
    };
    let checked = provider.plan(
        PlanRequest::new(
            c.kind.clone(),
            if is_update { before.clone() } else { None },
            if checked_again {
                proposed.clone()
            } else {
                std::mem::take(&mut proposed)
            },
            if is_update {
                changed.clone()
            } else {
                Vec::new()
            },
            cfg.clone(),
        )
        .with_write_only(inst.write_only.clone()),
    );
    let mut resp = match checked {
        Ok(r) => r,
        Err(e) => {
            return Some(
                Diagnostic::error(format!("{}: {}", c.address, e.message))
                    .at(Some(inst.span))
                    .note(format!(
                        "checked by the {} provider's rules for {}, before any cloud call",
                        provider.cloud(),
                        c.kind
                    )),
            );
        }
    };
    if is_update {
        // How the provider makes an in-place change it does by making something new
        // beside the old (a new immutable version): said in the reason.
        let mut how: Vec<String> = Vec::new();
        for r in resp.rotates.iter().filter(|r| {
            changed
                .iter()
                .any(|p| p.starts_with(&r.path) || r.path.starts_with(p))
        }) {
            if !how.contains(&r.reason) {
                how.push(r.reason.clone());
            }
        }
        if !how.is_empty() {
            c.reason_message = format!("{}: {}", c.reason_message, how.join("; "));
        }
    }
    let mut rotates = Vec::new();
    if checked_again {
        // The provider's reasons why the change cannot happen in place, and what it
        // changes in place by rotation instead.
        let as_update = provider
            .plan(
                PlanRequest::new(
                    c.kind.clone(),
                    before.clone(),
                    proposed,
                    changed.clone(),
                    cfg.clone(),
                )
                .with_write_only(inst.write_only.clone()),
            )
            .ok();
        if let Some(r) = as_update {
            resp.requires_replace = r.requires_replace;
            rotates = r.rotates;
        }
    }
    let covered = |path: &Vec<String>| {
        rotates
            .iter()
            .any(|r| path.starts_with(&r.path) || r.path.starts_with(path))
    };
    let forced_elsewhere = resp.requires_replace.iter().any(|r| {
        !covered(&r.path)
            && changed
                .iter()
                .any(|p| p.starts_with(&r.path) || r.path.starts_with(p))
    });
    if c.action.is_replace()
        && c.reason == Some(Reason::CannotUpdate)
        && !rotates.is_empty()
        && !forced_elsewhere
        && c.replace_paths.iter().all(covered)
    {
        // The provider rotates what the schema would replace: an update, said as such.
        let list: Vec<String> = c.replace_paths.iter().map(|p| p.join(".")).collect();
        let mut how: Vec<String> = Vec::new();
        for r in rotates.iter().filter(|r| {
            c.replace_paths
                .iter()
                .any(|p| p.starts_with(&r.path) || r.path.starts_with(p))
        }) {
            if !how.contains(&r.reason) {
                how.push(r.reason.clone());
            }
        }
        c.action = Action::Update;
        c.replace_paths.clear();
        c.reason = Some(Reason::ConfigChanged);
        c.reason_message = format!(
            "{} changed: rotated in place ({})",
            list.join(", "),
            how.join("; ")
        );
        let mut after = resp.planned;
        for p in &resp.computed {
            set_path_value(&mut after, p, Value::Unknown);
        }
        // An update keeps the object: its read-only values stay what they are.
        if let Some(Value::Map(b)) = &c.before {
            for a in &inst.kind.body.attributes {
                if a.read_only {
                    if let Some(v) = b.get(a.name) {
                        after.insert(a.name.to_string(), v.clone());
                    }
                }
            }
        }
        c.after = Some(Value::Map(after));
        return None;
    }
    let mut after = resp.planned;
    for p in &resp.computed {
        set_path_value(&mut after, p, Value::Unknown);
    }
    c.after = Some(Value::Map(after));
    // Only a path that really changed can force a replacement.
    let forced: Vec<_> = resp
        .requires_replace
        .into_iter()
        .filter(|r| {
            changed
                .iter()
                .any(|p| p.starts_with(&r.path) || r.path.starts_with(p))
        })
        .collect();
    if forced.is_empty() || c.reason == Some(Reason::ReplaceRequested) {
        return None;
    }
    for r in &forced {
        if !c.replace_paths.contains(&r.path) {
            c.replace_paths.push(r.path.clone());
        }
    }
    c.replace_paths.sort();
    let list: Vec<String> = c.replace_paths.iter().map(|p| p.join(".")).collect();
    let mut reasons: Vec<String> = Vec::new();
    for r in &forced {
        if !reasons.contains(&r.reason) {
            reasons.push(r.reason.clone());
        }
    }
    c.reason = Some(Reason::CannotUpdate);
    c.reason_message = format!(
        "{} cannot be changed in place ({})",
        list.join(", "),
        reasons.join("; ")
    );
    if c.action == Action::Update {
        c.action = replace_action(inst);
        if let Some(Value::Map(after)) = &mut c.after {
            for a in &inst.kind.body.attributes {
                if a.read_only {
                    after.insert(a.name.to_string(), Value::Unknown);
                }
            }
        }
    }
    None
}

fn set_path_value(m: &mut std::collections::BTreeMap<String, Value>, path: &[String], v: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        m.insert(first.clone(), v);
        return;
    }
    if let Some(Value::Map(inner)) = m.get_mut(first) {
        set_path_value(inner, rest, v);
    }
}

fn replace_action(inst: &ResourceInstance) -> Action {
    if inst.lifecycle.create_before_destroy {
        Action::CreateThenDelete
    } else {
        Action::DeleteThenCreate
    }
}

/// Paths (to leaves, or to whole values that differ in shape) where `a` and `b` differ.
fn changed_paths(a: &Value, b: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                path.push(k.clone());
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => changed_paths(p, q, path, out),
                    (None, Some(Value::Null)) | (Some(Value::Null), None) => {}
                    _ => out.push(path.clone()),
                }
                path.pop();
            }
        }
        _ => {
            if a != b {
                out.push(path.clone());
            }
        }
    }
}

/// Whether `path` is a key inside an append-only map: adding it is in place, removing or
/// changing it (the key exists in the prior state) forces replacement.
fn appends_only(schema: &BlockSchema, path: &[String]) -> bool {
    let Some(first) = path.first() else {
        return false;
    };
    if let Some(a) = schema.attribute(first) {
        return a.append_only && path.len() > 1;
    }
    if let Some(b) = schema.block(first) {
        let rest = if b.labeled {
            if path.len() < 3 {
                return false;
            }
            &path[2..]
        } else {
            &path[1..]
        };
        return appends_only(b, rest);
    }
    false
}

/// Whether a change at `path` forces replacement under `schema`.
fn forces_replacement(schema: &BlockSchema, path: &[String]) -> bool {
    let Some(first) = path.first() else {
        return false;
    };
    if let Some(a) = schema.attribute(first) {
        return a.force_new;
    }
    if let Some(b) = schema.block(first) {
        if b.force_new {
            return true;
        }
        let rest = if b.labeled {
            // A whole group added or removed is an in-place change; inside it, check fields.
            if path.len() < 3 {
                return false;
            }
            &path[2..]
        } else {
            &path[1..]
        };
        return forces_replacement(b, rest);
    }
    false
}

fn diff_outputs(config: &Evaluated, prior: &State, destroy: bool) -> Vec<OutputChange> {
    let mut out = Vec::new();
    let mut names: BTreeSet<&String> = prior.outputs.keys().collect();
    if !destroy {
        names.extend(config.outputs.keys());
    }
    for name in names {
        let before = prior.outputs.get(name);
        let after = if destroy {
            None
        } else {
            config.outputs.get(name)
        };
        let action = match (before, after) {
            (None, Some(_)) => Action::Create,
            (Some(_), None) => Action::Delete,
            (Some(b), Some(a)) if b.value == a.value => Action::NoOp,
            (Some(_), Some(_)) => Action::Update,
            (None, None) => continue,
        };
        out.push(OutputChange {
            name: name.clone(),
            action,
            before: before.map(|b| b.value.clone()),
            after: after.map(|a| a.value.clone()),
            sensitive: before.is_some_and(|b| b.sensitive) || after.is_some_and(|a| a.sensitive),
        });
    }
    out
}

/// Replace the values at sensitive dotted paths with `marker`.
pub fn redact(value: &Value, sensitive: &BTreeSet<String>, marker: &Value) -> Value {
    if sensitive.is_empty() {
        return value.clone();
    }
    let mut v = value.clone();
    for p in sensitive {
        let parts: Vec<String> = split_path(p);
        set_path(&mut v, &parts, marker);
    }
    v
}

/// Split a dotted path whose segments may be quoted (`feature_group."a.b".features`).
pub fn split_path(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn set_path(v: &mut Value, path: &[String], marker: &Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = marker.clone();
        return;
    };
    if let Value::Map(m) = v {
        if let Some(inner) = m.get_mut(first) {
            if rest.is_empty() {
                *inner = marker.clone();
            } else {
                set_path(inner, rest, marker);
            }
        }
    }
}

/// Whether a kind name is one the plan manages (cloud kinds only).
pub fn is_planned_kind(name: &str) -> bool {
    kind(name).is_some_and(|k| k.class == KindClass::Cloud)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_symbols_and_json() {
        assert_eq!(Action::DeleteThenCreate.symbol(), "-/+");
        assert_eq!(Action::CreateThenDelete.json(), &["create", "delete"]);
    }

    #[test]
    fn changed_paths_descend_into_maps() {
        let a = Value::from_json(&serde_json::json!({"a": {"b": 1, "c": 2}, "d": 1}));
        let b = Value::from_json(&serde_json::json!({"a": {"b": 1, "c": 3}, "d": 1, "e": 5}));
        let mut out = Vec::new();
        changed_paths(&a, &b, &mut Vec::new(), &mut out);
        assert_eq!(
            out,
            vec![
                vec!["a".to_string(), "c".to_string()],
                vec!["e".to_string()]
            ]
        );
    }

    #[test]
    fn replacement_follows_force_new_through_blocks() {
        let fs = kind("feature_store").unwrap();
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(!forces_replacement(
            &fs.body,
            &p(&["feature_group", "txn", "features", "amount"])
        ));
        assert!(forces_replacement(
            &fs.body,
            &p(&["feature_group", "txn", "record_id"])
        ));
        assert!(!forces_replacement(&fs.body, &p(&["feature_group", "new"])));
        assert!(forces_replacement(&fs.body, &p(&["offline", "bucket"])));
        let pool = kind("gpu_pool").unwrap();
        assert!(forces_replacement(&pool.body, &p(&["accelerator"])));
        assert!(!forces_replacement(&pool.body, &p(&["max_nodes"])));
    }

    #[test]
    fn feature_maps_grow_in_place() {
        let fs = kind("feature_store").unwrap();
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(appends_only(
            &fs.body,
            &p(&["feature_group", "txn", "features", "amount"])
        ));
        assert!(!appends_only(
            &fs.body,
            &p(&["feature_group", "txn", "record_id"])
        ));
        assert!(!appends_only(&fs.body, &p(&["feature_group", "txn"])));
    }

    #[test]
    fn redaction_replaces_nested_paths() {
        let v = Value::from_json(
            &serde_json::json!({"model": {"environment": {"TOKEN": "s3cret"}}, "name": "x"}),
        );
        let mut s = BTreeSet::new();
        s.insert("model".to_string());
        let r = redact(&v, &s, &Value::from("(sensitive value)"));
        assert_eq!(
            r.to_json(),
            serde_json::json!({"model": "(sensitive value)", "name": "x"})
        );
        assert_eq!(
            split_path("feature_group.\"a.b\".x"),
            vec!["feature_group", "a.b", "x"]
        );
    }
}
