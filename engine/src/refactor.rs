//! What `moved` and `removed` blocks, and `count` added to or taken from a resource, do
//! to state before a plan is made: objects change address, or leave state, and no cloud
//! is called. The plan then diffs against the moved state, so a renamed block plans no
//! change instead of "destroy the old, create the new".

use std::collections::{BTreeMap, BTreeSet};

use crate::address::{module_path_string, Address, InstanceKey, ModuleStep};
use crate::config::eval::Evaluated;
use crate::config::load::{Config, ModuleConfig};
use crate::config::refactoring::Endpoint;
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::plan::{Action, Plan, Reason, ResourceChange};
use crate::state::{ResourceState, State};

/// What refactoring did to the state, for the plan to show.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Refactored {
    /// New address → the address the object had in state before this run.
    pub moved: BTreeMap<String, String>,
    /// Instances a `removed` block with `destroy = false` takes out of state.
    pub forgotten: BTreeMap<String, ResourceState>,
}

impl Refactored {
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty() && self.forgotten.is_empty()
    }

    /// Mark the plan's changes with the addresses they moved from, and add one change
    /// per forgotten instance.
    pub fn annotate(&self, plan: &mut Plan) {
        for c in &mut plan.changes {
            c.previous_address = self.moved.get(&c.address).cloned();
        }
        for (addr, r) in &self.forgotten {
            let a = Address::parse(addr).ok();
            plan.changes.push(ResourceChange {
                address: addr.clone(),
                module: a
                    .as_ref()
                    .map(|a| module_path_string(&a.module))
                    .unwrap_or_default(),
                kind: r.kind.clone(),
                name: a.map(|a| a.name).unwrap_or_default(),
                cloud: r.cloud.clone(),
                provider: r.provider.clone(),
                action: Action::Forget,
                before: Some(mlinfra_schema::Value::Map(r.attributes.clone())),
                after: None,
                replace_paths: Vec::new(),
                reason: Some(Reason::Removed),
                reason_message: "destroy = false is set in its removed block".into(),
                sensitive_paths: r.sensitive.clone(),
                depends_on: r.dependencies.iter().cloned().collect(),
                importing: None,
                previous_address: None,
            });
        }
        plan.changes.sort_by(|a, b| a.address.cmp(&b.address));
    }
}

/// One move, from the root's point of view.
struct Statement {
    from: Endpoint,
    to: Endpoint,
    /// `None` for a move implied by `count` being added or removed.
    span: Option<Span>,
}

/// Apply every `moved` block, the moves `count` implies, and every `removed` block to
/// `state`, in memory. `view` is the configuration evaluated without state: which module
/// instances exist and what each declares.
pub fn refactor(config: &Config, view: &Evaluated, state: &mut State) -> (Refactored, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut out = Refactored::default();
    let dir_of: BTreeMap<&[ModuleStep], &ModuleConfig> = view
        .module_instances
        .iter()
        .filter_map(|(p, d)| Some((p.as_slice(), config.modules.get(d)?)))
        .collect();

    let mut statements = Vec::new();
    for (path, module) in &dir_of {
        for m in &module.moves {
            statements.push(Statement {
                from: m.from.absolute(path),
                to: m.to.absolute(path),
                span: Some(m.span),
            });
        }
    }
    check_statements(config, view, &dir_of, &statements, &mut diags);
    let Some(order) = order(&statements, config, &mut diags) else {
        return (out, diags);
    };
    if diags.has_errors() {
        return (out, diags);
    }
    for i in order {
        apply_statement(config, &statements[i], state, &mut out, &mut diags);
    }
    // `count` added to a resource moves its one object to [0]; taken away, [0] back.
    let explicit: Vec<&Endpoint> = statements.iter().map(|s| &s.from).collect();
    for (path, module) in &dir_of {
        for r in &module.resources {
            if r.for_each.is_some() {
                continue;
            }
            let (from_key, to_key) = if r.count.is_some() {
                (None, Some(InstanceKey::Index(0)))
            } else {
                (Some(InstanceKey::Index(0)), None)
            };
            let at = |key| Endpoint::Resource {
                module: path.to_vec(),
                kind: r.kind.name.to_string(),
                name: r.name.clone(),
                key,
                instance: true,
            };
            let s = Statement {
                from: at(from_key),
                to: at(to_key),
                span: None,
            };
            // Only an object at the old address moves: a map lookup, so a plan of a large
            // state does not scan it once per resource block.
            let Some(from) =
                endpoint_address(&s.from).filter(|a| state.resources.contains_key(&a.to_string()))
            else {
                continue;
            };
            let covered = explicit.iter().any(|e| matches(e, &from));
            let to_taken = endpoint_address(&s.to)
                .is_some_and(|a| state.resources.contains_key(&a.to_string()));
            if !covered && !to_taken {
                apply_statement(config, &s, state, &mut out, &mut diags);
            }
        }
    }
    for (path, module) in &dir_of {
        for r in &module.removed {
            let from = r.from.absolute(path);
            if let Some(d) = still_declared(view, &dir_of, &from) {
                diags.push(
                    Diagnostic::error(format!(
                        "a removed block takes {from} out of the configuration, but {from} is still declared"
                    ))
                    .at(Some(r.span))
                    .note(format!("declared at {}", config.sources.location(d)))
                    .help(format!(
                        "delete the block of {from} (the removed block takes its place), or delete this removed block"
                    )),
                );
                continue;
            }
            if r.destroy {
                // The object has no configuration: the plan destroys it, as it would without the block.
                continue;
            }
            let hit: Vec<String> = state
                .resources
                .keys()
                .filter(|k| Address::parse(k).is_ok_and(|a| matches(&from, &a)))
                .cloned()
                .collect();
            for k in hit {
                if let Some(rec) = state.resources.remove(&k) {
                    out.moved.remove(&k);
                    out.forgotten.insert(k, rec);
                }
            }
        }
    }
    (out, diags)
}

/// A `from` that the configuration still declares, or two statements that move the
/// same thing: each an error before anything moves.
fn check_statements(
    config: &Config,
    view: &Evaluated,
    dir_of: &BTreeMap<&[ModuleStep], &ModuleConfig>,
    statements: &[Statement],
    diags: &mut Diagnostics,
) {
    let mut froms: BTreeMap<String, Option<Span>> = BTreeMap::new();
    let mut tos: BTreeMap<String, Option<Span>> = BTreeMap::new();
    for s in statements {
        if let Some(d) = still_declared(view, dir_of, &s.from) {
            diags.push(
                Diagnostic::error(format!(
                    "a moved block moves {} to {}, but {} is still declared",
                    s.from, s.to, s.from
                ))
                .at(s.span)
                .note(format!("declared at {}", config.sources.location(d)))
                .help(format!(
                    "rename that block so it declares {} (the moved block records the rename), or delete the moved block",
                    s.to
                )),
            );
        }
        for (seen, what, key) in [(&mut froms, "from", &s.from), (&mut tos, "to", &s.to)] {
            let text = key.to_string();
            if let Some(first) = seen.get(&text) {
                let mut d = Diagnostic::error(format!(
                    "two moved blocks have {what} = {text}: which one applies is ambiguous"
                ))
                .at(s.span)
                .help("keep one of them");
                if let Some(f) = first {
                    d = d.note(format!("the other is at {}", config.sources.location(*f)));
                }
                diags.push(d);
            } else {
                seen.insert(text, s.span);
            }
        }
    }
}

/// The order to apply statements in: one whose `to` is another's `from` goes first, so a
/// chain `a → b`, `b → c` takes an object at `a` to `c`. `None` on a cycle.
fn order(statements: &[Statement], config: &Config, diags: &mut Diagnostics) -> Option<Vec<usize>> {
    let n = statements.len();
    let texts: Vec<(String, String)> = statements
        .iter()
        .map(|s| (s.from.to_string(), s.to.to_string()))
        .collect();
    let mut before: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (i, (_, to)) in texts.iter().enumerate() {
        for (j, (from, _)) in texts.iter().enumerate() {
            if i != j && overlaps(to, from) {
                before[j].insert(i);
            }
        }
    }
    let mut done = vec![false; n];
    let mut out = Vec::new();
    while out.len() < n {
        let ready: Vec<usize> = (0..n)
            .filter(|&j| !done[j] && before[j].iter().all(|&i| done[i]))
            .collect();
        if ready.is_empty() {
            let left: Vec<String> = (0..n)
                .filter(|&j| !done[j])
                .map(|j| format!("{} → {}", texts[j].0, texts[j].1))
                .collect();
            let first = (0..n).find(|&j| !done[j]).and_then(|j| statements[j].span);
            diags.push(
                Diagnostic::error(
                    "moved blocks form a cycle: no order of them ends with one object per address",
                )
                .at(first)
                .note(format!("the moves: {}", left.join(", ")))
                .help("an object moves once per run: remove the moved block that moves it back")
                .note(
                    first
                        .map(|s| format!("first at {}", config.sources.location(s)))
                        .unwrap_or_default(),
                ),
            );
            return None;
        }
        for j in ready {
            done[j] = true;
            out.push(j);
        }
    }
    Some(out)
}

/// Whether one address text lies inside the other (`module.a` and `module.a[0].bucket.b`,
/// `bucket.a` and `bucket.a[1]`), as whole address steps.
fn overlaps(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.strip_prefix(short)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

/// Move every object `s.from` matches in state, unless its new address is taken.
fn apply_statement(
    config: &Config,
    s: &Statement,
    state: &mut State,
    out: &mut Refactored,
    diags: &mut Diagnostics,
) {
    let moves: Vec<(String, String)> = state
        .resources
        .keys()
        .filter_map(|k| {
            let a = Address::parse(k).ok()?;
            Some((k.clone(), target(&s.from, &s.to, &a)?.to_string()))
        })
        .collect();
    let leaving: BTreeSet<&String> = moves.iter().map(|(f, _)| f).collect();
    for (from, to) in &moves {
        if state.resources.contains_key(to) && !leaving.contains(to) {
            let mut d = Diagnostic::error(format!(
                "cannot move {from} to {to}: {to} is already in the state"
            ))
            .note("moving would leave two objects at one address; nothing was moved")
            .help(format!(
                "if {to} holds the object you want, delete the moved block (and, to let {from} go, `mlinfra state rm '{from}'`); otherwise forget the other object first: mlinfra state rm '{to}'"
            ));
            d = match s.span {
                Some(span) => d
                    .at(Some(span))
                    .note(format!("moved block at {}", config.sources.location(span))),
                None => d.note(
                    "the move is implied by `count` being added to or taken from the resource",
                ),
            };
            diags.push(d);
            return;
        }
    }
    let mut records = Vec::new();
    for (from, to) in &moves {
        if let Some(r) = state.resources.remove(from) {
            records.push((from.clone(), to.clone(), r));
        }
    }
    let renamed: BTreeMap<&str, &str> = moves
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    let provider_prefixes = module_prefixes(&s.from, &s.to);
    for (from, to, mut r) in records {
        if let (Some(p), Some((old, new))) = (&r.provider, &provider_prefixes) {
            if let Some(rest) = p.strip_prefix(old.as_str()) {
                r.provider = Some(format!("{new}{rest}"));
            }
        }
        state.resources.insert(to.clone(), r);
        let origin = out.moved.remove(&from).unwrap_or(from);
        if origin != to {
            out.moved.insert(to, origin);
        }
    }
    for r in state.resources.values_mut() {
        let deps: BTreeSet<String> = r
            .dependencies
            .iter()
            .map(|d| {
                renamed
                    .get(d.as_str())
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| d.clone())
            })
            .collect();
        r.dependencies = deps;
    }
}

/// For a module move whose module path has a provider configuration key prefix
/// (`module.a.`), the prefix before and after.
fn module_prefixes(from: &Endpoint, to: &Endpoint) -> Option<(String, String)> {
    match (from, to) {
        (
            Endpoint::Module {
                parent: p1,
                name: n1,
                key: k1,
                ..
            },
            Endpoint::Module {
                parent: p2,
                name: n2,
                key: k2,
                ..
            },
        ) => {
            let text = |p: &[ModuleStep], n: &str, k: &Option<InstanceKey>| {
                let mut path = p.to_vec();
                path.push(ModuleStep {
                    name: n.to_string(),
                    key: k.clone(),
                });
                format!("{}.", module_path_string(&path))
            };
            Some((text(p1, n1, k1), text(p2, n2, k2)))
        }
        _ => None,
    }
}

/// Whether the endpoint covers the instance at `a`.
fn matches(e: &Endpoint, a: &Address) -> bool {
    target(e, e, a).is_some()
}

/// Where the instance at `a` goes when `from` moves to `to`; `None` if `from` does not
/// cover it.
fn target(from: &Endpoint, to: &Endpoint, a: &Address) -> Option<Address> {
    match (from, to) {
        (
            Endpoint::Resource {
                module,
                kind,
                name,
                key,
                instance,
            },
            Endpoint::Resource {
                module: to_module,
                name: to_name,
                key: to_key,
                ..
            },
        ) => {
            if &a.module != module || &a.kind != kind || &a.name != name {
                return None;
            }
            if *instance && &a.key != key {
                return None;
            }
            Some(Address {
                module: to_module.clone(),
                kind: kind.clone(),
                name: to_name.clone(),
                key: if *instance {
                    to_key.clone()
                } else {
                    a.key.clone()
                },
            })
        }
        (
            Endpoint::Module {
                parent,
                name,
                key,
                instance,
            },
            Endpoint::Module {
                parent: to_parent,
                name: to_name,
                key: to_key,
                ..
            },
        ) => {
            let depth = parent.len();
            if a.module.len() <= depth || &a.module[..depth] != parent.as_slice() {
                return None;
            }
            let step = &a.module[depth];
            if &step.name != name || (*instance && &step.key != key) {
                return None;
            }
            let mut module = to_parent.clone();
            module.push(ModuleStep {
                name: to_name.clone(),
                key: if *instance {
                    to_key.clone()
                } else {
                    step.key.clone()
                },
            });
            module.extend(a.module[depth + 1..].iter().cloned());
            Some(Address {
                module,
                ..a.clone()
            })
        }
        _ => None,
    }
}

/// The one instance address of an instance endpoint of a resource.
fn endpoint_address(e: &Endpoint) -> Option<Address> {
    match e {
        Endpoint::Resource {
            module,
            kind,
            name,
            key,
            instance: true,
        } => Some(Address {
            module: module.clone(),
            kind: kind.clone(),
            name: name.clone(),
            key: key.clone(),
        }),
        _ => None,
    }
}

/// Where the configuration still declares what `e` names, if it does.
fn still_declared(
    view: &Evaluated,
    dir_of: &BTreeMap<&[ModuleStep], &ModuleConfig>,
    e: &Endpoint,
) -> Option<Span> {
    match e {
        Endpoint::Resource {
            module,
            kind,
            name,
            instance: false,
            ..
        } => dir_of.get(module.as_slice()).and_then(|m| {
            m.resources
                .iter()
                .find(|r| r.kind.name == kind && &r.name == name)
                .map(|r| r.span)
        }),
        Endpoint::Resource { instance: true, .. } => {
            let a = endpoint_address(e)?;
            view.resources
                .iter()
                .find(|r| r.address == a)
                .map(|r| r.span)
        }
        Endpoint::Module {
            parent,
            name,
            key,
            instance,
        } => {
            let call = dir_of
                .get(parent.as_slice())?
                .module_calls
                .iter()
                .find(|c| &c.name == name)?;
            if !instance {
                return Some(call.span);
            }
            let mut path = parent.clone();
            path.push(ModuleStep {
                name: name.clone(),
                key: key.clone(),
            });
            dir_of.contains_key(path.as_slice()).then_some(call.span)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::eval::{evaluate, EvalOptions, Inputs, NoPrior};

    fn bucket(label: &str) -> String {
        format!("bucket \"{label}\" {{\n  cloud = \"gcp\"\n  name = \"n-{label}\"\n  location = \"us-central1\"\n}}\n")
    }

    fn record(provider: &str, deps: &[&str]) -> ResourceState {
        ResourceState {
            kind: "bucket".into(),
            cloud: Some("gcp".into()),
            provider: Some(provider.into()),
            id: Some("x".into()),
            attributes: BTreeMap::new(),
            sensitive: BTreeSet::new(),
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    /// Refactor a state holding `addresses` under the configuration `files`.
    fn run(files: &[(&str, &str)], addresses: &[&str]) -> (Refactored, State, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let (config, d) = crate::config::load::load(dir.path());
        assert!(
            !d.has_errors(),
            "{:?}",
            d.iter().map(|d| &d.summary).collect::<Vec<_>>()
        );
        let (view, d) = evaluate(
            &config,
            &EvalOptions {
                inputs: &Inputs::new(),
                prior: &NoPrior,
                replaced: &BTreeSet::new(),
            },
        );
        assert!(
            !d.has_errors(),
            "{:?}",
            d.iter().map(|d| &d.summary).collect::<Vec<_>>()
        );
        let mut state = State::new();
        for a in addresses {
            state.resources.insert(a.to_string(), record("gcp", &[]));
        }
        let (r, d) = refactor(&config, &view, &mut state);
        let msgs = d
            .iter()
            .map(|d| {
                format!(
                    "{}{}",
                    d.summary,
                    d.span
                        .map(|s| format!(" @ {}", config.sources.location(s)))
                        .unwrap_or_default()
                )
            })
            .collect();
        (r, state, msgs)
    }

    fn keys(s: &State) -> Vec<&str> {
        s.resources.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_renamed_block_moves_its_object() {
        let text = format!(
            "{}moved {{\n  from = bucket.old\n  to   = bucket.new\n}}\n",
            bucket("new")
        );
        let (r, s, d) = run(&[("main.mlinfra.hcl", &text)], &["bucket.old"]);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(keys(&s), ["bucket.new"]);
        assert_eq!(
            r.moved.get("bucket.new").map(String::as_str),
            Some("bucket.old")
        );
        // Once moved, the block is a no-op.
        let (r, s, d) = run(&[("main.mlinfra.hcl", &text)], &["bucket.new"]);
        assert!(d.is_empty() && r.is_empty(), "{d:?}");
        assert_eq!(keys(&s), ["bucket.new"]);
    }

    #[test]
    fn chained_moves_take_an_object_to_the_end_of_the_chain() {
        // Written in the reverse order: the chain is followed whatever the order.
        let text = format!(
            "{}moved {{\n  from = bucket.b\n  to = bucket.c\n}}\nmoved {{\n  from = bucket.a\n  to = bucket.b\n}}\n",
            bucket("c")
        );
        let (r, s, d) = run(&[("main.mlinfra.hcl", &text)], &["bucket.a"]);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(keys(&s), ["bucket.c"]);
        assert_eq!(
            r.moved.get("bucket.c").map(String::as_str),
            Some("bucket.a")
        );
        assert_eq!(r.moved.len(), 1);
    }

    #[test]
    fn instance_keys_move_and_a_resource_moves_with_its_keys() {
        let text = "bucket \"x\" {\n  for_each = toset([\"b\", \"c\"])\n  cloud = \"gcp\"\n  name = \"n-${each.key}\"\n  location = \"us-central1\"\n}\nmoved {\n  from = bucket.x[\"a\"]\n  to = bucket.x[\"b\"]\n}\nbucket \"y\" {\n  count = 2\n  cloud = \"gcp\"\n  name = \"y-${count.index}\"\n  location = \"us-central1\"\n}\nmoved {\n  from = bucket.old\n  to = bucket.y\n}\n";
        let (r, s, d) = run(
            &[("main.mlinfra.hcl", text)],
            &[
                "bucket.x[\"a\"]",
                "bucket.x[\"c\"]",
                "bucket.old[0]",
                "bucket.old[1]",
            ],
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            keys(&s),
            [
                "bucket.x[\"b\"]",
                "bucket.x[\"c\"]",
                "bucket.y[0]",
                "bucket.y[1]"
            ]
        );
        assert_eq!(r.moved.len(), 3);
    }

    #[test]
    fn moves_cross_module_boundaries_and_module_calls_rename() {
        let files = [
            (
                "main.mlinfra.hcl",
                "module \"store\" {\n  source = \"./store\"\n  count = 2\n}\nmoved {\n  from = bucket.loose\n  to = module.store[0].bucket.kept\n}\nmoved {\n  from = module.old\n  to = module.store\n}\n",
            ),
            ("store/main.mlinfra.hcl", &bucket("kept") as &str),
        ];
        let (r, s, d) = run(&files, &["bucket.loose", "module.old[1].bucket.kept"]);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            keys(&s),
            ["module.store[0].bucket.kept", "module.store[1].bucket.kept"]
        );
        assert_eq!(r.moved.len(), 2);
    }

    #[test]
    fn a_moved_block_in_a_module_is_relative_to_each_of_its_instances() {
        let module = format!(
            "{}moved {{\n  from = bucket.a\n  to = bucket.kept\n}}\n",
            bucket("kept")
        );
        let files = [
            (
                "main.mlinfra.hcl",
                "module \"m\" {\n  source = \"./m\"\n  for_each = toset([\"eu\", \"us\"])\n}\n",
            ),
            ("m/main.mlinfra.hcl", module.as_str()),
        ];
        let (_, s, d) = run(
            &files,
            &["module.m[\"eu\"].bucket.a", "module.m[\"us\"].bucket.a"],
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            keys(&s),
            [
                "module.m[\"eu\"].bucket.kept",
                "module.m[\"us\"].bucket.kept"
            ]
        );
    }

    #[test]
    fn module_moves_rewrite_provider_keys_and_every_dependency() {
        let files = [
            (
                "main.mlinfra.hcl",
                "module \"new\" {\n  source = \"./m\"\n}\nmoved {\n  from = module.old\n  to = module.new\n}\n",
            ),
            ("m/main.mlinfra.hcl", &bucket("b") as &str),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let (config, _) = crate::config::load::load(dir.path());
        let (view, _) = evaluate(
            &config,
            &EvalOptions {
                inputs: &Inputs::new(),
                prior: &NoPrior,
                replaced: &BTreeSet::new(),
            },
        );
        let mut state = State::new();
        state
            .resources
            .insert("module.old.bucket.b".into(), record("module.old.gcp", &[]));
        state.resources.insert(
            "bucket.user".into(),
            record("gcp", &["module.old.bucket.b"]),
        );
        let (_, d) = refactor(&config, &view, &mut state);
        assert!(d.is_empty());
        assert_eq!(
            state.resources["module.new.bucket.b"].provider.as_deref(),
            Some("module.new.gcp")
        );
        assert!(state.resources["bucket.user"]
            .dependencies
            .contains("module.new.bucket.b"));
    }

    #[test]
    fn count_added_or_taken_away_moves_the_object_by_itself() {
        let text = "bucket \"y\" {\n  count = 1\n  cloud = \"gcp\"\n  name = \"y\"\n  location = \"us-central1\"\n}\nbucket \"z\" {\n  cloud = \"gcp\"\n  name = \"z\"\n  location = \"us-central1\"\n}\n";
        let (r, s, d) = run(&[("main.mlinfra.hcl", text)], &["bucket.y", "bucket.z[0]"]);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(keys(&s), ["bucket.y[0]", "bucket.z"]);
        assert_eq!(r.moved.len(), 2);
        // Not when both addresses are taken: then nothing implied moves.
        let (r, s, _) = run(&[("main.mlinfra.hcl", text)], &["bucket.y", "bucket.y[0]"]);
        assert!(r.moved.is_empty());
        assert_eq!(keys(&s), ["bucket.y", "bucket.y[0]"]);
    }

    #[test]
    fn moves_that_would_lose_track_of_an_object_are_errors() {
        // The old block is still there.
        let text = format!(
            "{}{}moved {{\n  from = bucket.old\n  to = bucket.new\n}}\n",
            bucket("old"),
            bucket("new")
        );
        let (_, s, d) = run(&[("main.mlinfra.hcl", &text)], &["bucket.old"]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with(
                "a moved block moves bucket.old to bucket.new, but bucket.old is still declared @ "
            ),
            "{d:?}"
        );
        assert!(d[0].ends_with("main.mlinfra.hcl:11:1"), "{d:?}");
        assert_eq!(keys(&s), ["bucket.old"], "nothing moved");
        // The new address is taken in state.
        let text = format!(
            "{}moved {{\n  from = bucket.old\n  to = bucket.new\n}}\n",
            bucket("new")
        );
        let (_, s, d) = run(
            &[("main.mlinfra.hcl", &text)],
            &["bucket.old", "bucket.new"],
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with(
                "cannot move bucket.old to bucket.new: bucket.new is already in the state"
            ),
            "{d:?}"
        );
        assert_eq!(keys(&s), ["bucket.new", "bucket.old"]);
        // Two blocks from one address.
        let text = format!(
            "{}{}moved {{\n  from = bucket.old\n  to = bucket.a\n}}\nmoved {{\n  from = bucket.old\n  to = bucket.b\n}}\n",
            bucket("a"),
            bucket("b")
        );
        let (_, _, d) = run(&[("main.mlinfra.hcl", &text)], &["bucket.old"]);
        assert!(
            d.iter()
                .any(|d| d.starts_with("two moved blocks have from = bucket.old")),
            "{d:?}"
        );
        // A cycle.
        let text = format!(
            "{}moved {{\n  from = bucket.a\n  to = bucket.b\n}}\nmoved {{\n  from = bucket.b\n  to = bucket.a\n}}\n",
            bucket("c")
        );
        let (_, s, d) = run(&[("main.mlinfra.hcl", &text)], &["bucket.a"]);
        assert!(
            d.iter().any(|d| d.starts_with("moved blocks form a cycle")),
            "{d:?}"
        );
        assert_eq!(keys(&s), ["bucket.a"]);
    }

    #[test]
    fn removed_blocks_forget_or_leave_the_destroy_to_the_plan() {
        let text = format!(
            "{}removed {{\n  from = bucket.gone\n  lifecycle {{\n    destroy = false\n  }}\n}}\nremoved {{\n  from = module.old\n}}\n",
            bucket("kept")
        );
        let (r, s, d) = run(
            &[("main.mlinfra.hcl", &text)],
            &["bucket.gone", "bucket.kept", "module.old.bucket.b"],
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(r.forgotten.keys().collect::<Vec<_>>(), ["bucket.gone"]);
        assert_eq!(keys(&s), ["bucket.kept", "module.old.bucket.b"]);
        // Still declared.
        let text = format!("{}removed {{\n  from = bucket.kept\n}}\n", bucket("kept"));
        let (_, _, d) = run(&[("main.mlinfra.hcl", &text)], &["bucket.kept"]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("a removed block takes bucket.kept out of the configuration, but bucket.kept is still declared @ "), "{d:?}");
    }

    #[test]
    fn overlap_is_by_whole_steps() {
        assert!(overlaps("module.a", "module.a[0].bucket.b"));
        assert!(overlaps("bucket.a", "bucket.a[1]"));
        assert!(overlaps("bucket.a", "bucket.a"));
        assert!(!overlaps("bucket.a", "bucket.ab"));
        assert!(!overlaps("module.a", "module.ab.bucket.b"));
    }
}
