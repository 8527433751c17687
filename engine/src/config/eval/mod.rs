//! Evaluate a loaded configuration into resource instances, providers and outputs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::syntax::visit::{self, Visit};
use crate::config::syntax::Span as _;
use crate::config::syntax::{Body, Structure};
use crate::config::syntax::{Expression, TraversalOperator};
use mlinfra_provider_api::write_only_shape;
use mlinfra_schema::{kind, AttrType, BlockSchema, Cloud, KindSchema, Value};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::address::{key_literal, Address, InstanceKey, ModuleStep};
use crate::config::conditions::{ConditionKind, ConditionResult};
use crate::config::expr::{Evaluator, Scope, Tracked};
use crate::config::load::{
    header_span, Config, Lifecycle, ModuleConfig, RefExpr, ResourceDecl, VariableDecl,
};
use crate::diag::{did_you_mean, Diagnostic, Diagnostics, FileId, Span};

mod body;
mod expansion;
mod imports;
mod module_calls;
mod providers;
mod resources;
mod variables;

use body::BodyCtx;

/// Most instances one resource or module block may expand to.
pub const MAX_INSTANCES: usize = 100_000;

/// Where an input variable value came from, and the raw value.
#[derive(Clone, Debug)]
pub struct InputValue {
    pub raw: RawInput,
    /// `--var`, `MLINFRA_VAR_name`, or a file name.
    pub source: String,
    pub span: Option<Span>,
}

#[derive(Clone, Debug)]
pub enum RawInput {
    /// Text from the command line or environment, parsed according to the variable's type.
    Text(String),
    /// A value from a variables file.
    Value(Value),
}

/// Input variables of the root module by name.
pub type Inputs = BTreeMap<String, InputValue>;

/// Attribute values recorded in prior state, by instance address.
pub trait PriorAttributes {
    fn attributes(&self, address: &str) -> Option<&BTreeMap<String, Value>>;
}

impl PriorAttributes for BTreeMap<String, BTreeMap<String, Value>> {
    fn attributes(&self, address: &str) -> Option<&BTreeMap<String, Value>> {
        self.get(address)
    }
}

/// No prior state.
pub struct NoPrior;

impl PriorAttributes for NoPrior {
    fn attributes(&self, _: &str) -> Option<&BTreeMap<String, Value>> {
        None
    }
}

pub struct EvalOptions<'a> {
    pub inputs: &'a Inputs,
    pub prior: &'a dyn PriorAttributes,
    /// Instances whose computed attributes are unknown because they will be replaced.
    pub replaced: &'a BTreeSet<String>,
}

/// One instance of a resource block after evaluation.
#[derive(Clone, Debug)]
pub struct ResourceInstance {
    pub address: Address,
    pub kind: &'static KindSchema,
    pub cloud: Option<Cloud>,
    /// Provider configuration key (`aws`, `aws.west`, `module.net.gcp`).
    pub provider: Option<String>,
    pub attrs: BTreeMap<String, Value>,
    /// Attribute paths (dotted) whose values are sensitive.
    pub sensitive: BTreeSet<String>,
    /// Values of write-only attributes (`attrs` holds their shape): sent to the provider
    /// at apply, never in the plan or the state.
    pub write_only: BTreeMap<String, Value>,
    /// Addresses of resource instances this one depends on.
    pub depends_on: BTreeSet<String>,
    pub lifecycle: Lifecycle,
    /// `lifecycle { replace_triggered_by }`, resolved for this instance.
    pub replace_triggered_by: Vec<Trigger>,
    pub timeouts: BTreeMap<String, String>,
    /// The `usage { … }` block (cost estimates only; never sent to a cloud).
    pub usage: BTreeMap<String, Value>,
    pub span: Span,
}

/// One reference of `replace_triggered_by`: a change planned for it replaces the
/// instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    /// The instance, or the resource (every instance) when `all`.
    pub address: Address,
    pub all: bool,
    /// An attribute path: only a change of it triggers. Empty: any change.
    pub attr: Vec<String>,
    /// The reference as written, for the plan's reason.
    pub text: String,
}

/// A provider configuration after evaluation.
#[derive(Clone, Debug)]
pub struct ProviderInstance {
    pub key: String,
    pub cloud: Cloud,
    pub attrs: BTreeMap<String, Value>,
    pub sensitive: BTreeSet<String>,
    pub span: Option<Span>,
    /// Declared by no block; created because a resource uses the cloud.
    pub implicit: bool,
}

#[derive(Clone, Debug)]
pub struct OutputValue {
    pub value: Value,
    pub sensitive: bool,
    pub depends_on: BTreeSet<String>,
}

/// The evaluated configuration.
#[derive(Clone, Debug, Default)]
pub struct Evaluated {
    pub resources: Vec<ResourceInstance>,
    pub providers: Vec<ProviderInstance>,
    pub outputs: BTreeMap<String, OutputValue>,
    /// Root variables with their final values and sensitivity.
    pub variables: BTreeMap<String, (Value, bool)>,
    /// `import` blocks of the root module, evaluated.
    pub imports: Vec<ImportTarget>,
    /// Every module instance (the root is the empty path) with its directory.
    pub module_instances: Vec<(Vec<ModuleStep>, std::path::PathBuf)>,
    /// Every precondition, postcondition and check assertion, with its result.
    pub conditions: Vec<ConditionResult>,
}

/// An `import` block: adopt the object with cloud id `id` at `address`.
#[derive(Clone, Debug)]
pub struct ImportTarget {
    pub address: String,
    pub id: String,
    pub span: Span,
}

impl Evaluated {
    pub fn resource(&self, address: &str) -> Option<&ResourceInstance> {
        self.resources
            .iter()
            .find(|r| r.address.to_string() == address)
    }
}

/// Evaluate `config` with the given inputs and prior state.
pub fn evaluate(config: &Config, opts: &EvalOptions) -> (Evaluated, Diagnostics) {
    let (ev, d, _) = evaluate_full(config, opts);
    (ev, d)
}

/// The root module's names after an evaluation, for evaluating more expressions
/// against the configuration (`mlinfra console`).
pub struct RootScope {
    tables: Tables,
}

/// One expression evaluated for the console.
pub struct ConsoleValue {
    pub value: Value,
    pub sensitive: bool,
    /// The expression is a `type(…)` call: its string is a type, shown as written.
    pub is_type: bool,
}

impl RootScope {
    /// Evaluate one expression written by a user, or the diagnostics against `sources`,
    /// where the text is `file`.
    pub fn eval(
        &self,
        config: &Config,
        text: &str,
        sources: &mut crate::diag::Sources,
    ) -> Result<ConsoleValue, Vec<Diagnostic>> {
        let file = sources.add(std::path::Path::new("<console>"), text.to_string());
        let expr: Expression = match text.parse() {
            Ok(e) => e,
            Err(e) => {
                let e: hcl_edit::parser::Error = e;
                return Err(vec![Diagnostic::error(format!(
                    "not an expression: {}",
                    e.message()
                ))
                .help("write one expression, as in a manifest: var.env, bucket.datasets.name, length(local.zones)")]);
            }
        };
        let scope = self.tables.scope(config.root(), &config.root_dir);
        crate::budget::reset();
        let mut ev = Evaluator::new(&scope, file);
        ev.console = true;
        let r = ev.try_eval(&expr);
        let is_type = matches!(&expr, Expression::FuncCall(c) if c.name.name.as_str() == "type");
        match r {
            Ok(value) if ev.diags.is_empty() => Ok(ConsoleValue {
                value,
                sensitive: ev.sensitive,
                is_type,
            }),
            _ => Err(std::mem::take(&mut ev.diags)),
        }
    }
}

/// [`evaluate`], keeping the root module's names.
pub fn evaluate_full(config: &Config, opts: &EvalOptions) -> (Evaluated, Diagnostics, RootScope) {
    crate::budget::reset();
    let mut ctx = Ctx {
        config,
        opts,
        out: Evaluated::default(),
        diags: Diagnostics::default(),
    };
    let root = config.root();
    let vars = ctx.root_variables(root);
    ctx.out.variables = root
        .variables
        .iter()
        .filter_map(|v| {
            vars.get(&v.name)
                .map(|t| (v.name.clone(), (t.value.clone(), t.sensitive)))
        })
        .collect();
    let tables = ctx.eval_module(root, &[], vars, &HashMap::new(), &BTreeSet::new());
    let outputs = &tables.outputs;
    // An import names a declared instance (known only now that every module is expanded).
    let imports = std::mem::take(&mut ctx.out.imports);
    for i in imports {
        if ctx.out.resource(&i.address).is_some() {
            ctx.out.imports.push(i);
        } else {
            let declared: Vec<String> = ctx
                .out
                .resources
                .iter()
                .map(|r| r.address.to_string())
                .collect();
            ctx.diags.push(
                Diagnostic::error(format!(
                    "{} is not declared in the configuration",
                    i.address
                ))
                .at(Some(i.span))
                .expected("the address of a resource instance declared in the configuration")
                .maybe_help(
                    did_you_mean(&i.address, declared.iter().map(String::as_str))
                        .map(|s| format!("did you mean {s}?")),
                ),
            );
        }
    }
    for o in &root.outputs {
        if let Some(t) = outputs.get(&o.name) {
            ctx.out.outputs.insert(
                o.name.clone(),
                OutputValue {
                    // As state will hold it (see `Value::keep_as_stored`).
                    value: {
                        let mut v = t.value.clone();
                        v.keep_as_stored();
                        v
                    },
                    sensitive: t.sensitive,
                    depends_on: t.deps.clone(),
                },
            );
        }
    }
    register_secrets(&ctx.out);
    // A number no JSON document holds (inf, NaN) would show as a change on every plan.
    for o in &root.outputs {
        if ctx
            .out
            .outputs
            .get(&o.name)
            .is_some_and(|v| !all_finite(&v.value))
        {
            ctx.diags.push(
                Diagnostic::error(format!(
                    "output `{}` holds a number too large to represent",
                    o.name
                ))
                .at(Some(o.span))
                .expected("numbers between -1.8e308 and 1.8e308")
                .note("state keeps each number as a JSON number, a 64-bit float"),
            );
        }
    }
    for r in &ctx.out.resources {
        if let Some((k, _)) = r.attrs.iter().find(|(_, v)| !all_finite(v)) {
            ctx.diags.push(
                Diagnostic::error(format!(
                    "{}.{k} holds a number too large to represent",
                    r.address
                ))
                .at(Some(r.span))
                .expected("numbers between -1.8e308 and 1.8e308")
                .note("state keeps each number as a JSON number, a 64-bit float"),
            );
        }
    }
    // An exhausted budget leaves values unknown; it must never pass for a clean result,
    // even where the expression that ran out reported into a discarded evaluator.
    if let Some(o) = crate::budget::overrun() {
        if !ctx.diags.has_errors() {
            let (what, name) = o.describe();
            ctx.diags.push(
                Diagnostic::error(format!("{what}, the limit for one evaluation")).help(format!(
                    "if it is intended, raise the limit: mlinfra --limit {name}=N …"
                )),
            );
        }
    }
    ctx.diags.sort();
    (ctx.out, ctx.diags, RootScope { tables })
}

/// Whether every number inside `v` is finite.
fn all_finite(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_finite(),
        Value::List(l) => l.iter().all(all_finite),
        Value::Map(m) => m.values().all(all_finite),
        _ => true,
    }
}

/// Remember every sensitive value the evaluation produced, so no printed text shows it.
fn register_secrets(out: &Evaluated) {
    use crate::secrets::register;
    for (value, sensitive) in out.variables.values() {
        if *sensitive {
            register(value);
        }
    }
    for p in &out.providers {
        for name in &p.sensitive {
            if let Some(v) = p.attrs.get(name) {
                register(v);
            }
        }
    }
    for r in out.resources.iter().filter(|r| !r.sensitive.is_empty()) {
        let attrs = Value::Map(r.attrs.clone());
        for path in &r.sensitive {
            if let Some(v) = attrs.get_path(&crate::plan::split_path(path)) {
                register(v);
            }
        }
    }
    for o in out.outputs.values().filter(|o| o.sensitive) {
        register(&o.value);
    }
}

struct Ctx<'c> {
    config: &'c Config,
    opts: &'c EvalOptions<'c>,
    out: Evaluated,
    diags: Diagnostics,
}

#[derive(Clone, Copy, Debug)]
enum Node {
    Local(usize),
    Provider(usize),
    Resource(usize),
    Module(usize),
    Output(usize),
}

/// The mutable name tables of one module instance.
#[derive(Default)]
struct Tables {
    vars: HashMap<String, Tracked>,
    locals: HashMap<String, Tracked>,
    modules: HashMap<String, Tracked>,
    module_resources: HashMap<String, BTreeSet<String>>,
    resources: HashMap<(String, String), Tracked>,
    outputs: HashMap<String, Tracked>,
    declared: BTreeSet<String>,
}

impl Tables {
    fn scope<'s>(&'s self, module: &'s ModuleConfig, root_dir: &'s std::path::Path) -> Scope<'s> {
        Scope {
            vars: Some(&self.vars),
            locals: Some(&self.locals),
            modules: Some(&self.modules),
            resources: Some(&self.resources),
            declared: Some(&self.declared),
            variables: Some(module.variables.as_slice()),
            module_dir: Some(module.dir.as_path()),
            root_dir: Some(root_dir),
            ..Default::default()
        }
    }
}

/// Collects `local.x`, `module.x` and `kind.name` references of an expression.
struct RefCollector<'a> {
    refs: &'a mut Vec<String>,
}

impl Visit for RefCollector<'_> {
    fn visit_traversal(&mut self, t: &crate::config::syntax::Traversal) {
        if let Expression::Variable(root) = &t.expr {
            if let Some(TraversalOperator::GetAttr(name)) = t.operators.first().map(|o| o.value()) {
                let root = root.as_str();
                if root == "local" || root == "module" || kind(root).is_some() {
                    self.refs.push(format!("{root}.{}", name.as_str()));
                }
            }
        }
        visit::visit_traversal(self, t);
    }
}

fn refs_in_expr(e: &Expression, out: &mut Vec<String>) {
    RefCollector { refs: out }.visit_expr(e);
}

fn refs_in_body(b: &Body, out: &mut Vec<String>) {
    RefCollector { refs: out }.visit_body(b);
}

fn module_prefix(path: &[ModuleStep]) -> String {
    path.iter().map(|s| format!("{s}.")).collect()
}

impl Ctx<'_> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn take(&mut self, ev: Evaluator) {
        for d in ev.diags {
            self.diags.push(d);
        }
    }

    // ---- variables -------------------------------------------------------------------

    fn eval_module(
        &mut self,
        module: &ModuleConfig,
        path: &[ModuleStep],
        vars: HashMap<String, Tracked>,
        provider_map: &HashMap<String, String>,
        extra_deps: &BTreeSet<String>,
    ) -> Tables {
        self.out
            .module_instances
            .push((path.to_vec(), module.dir.clone()));
        let mut t = Tables {
            vars,
            ..Default::default()
        };
        for v in &module.variables {
            t.declared.insert(format!("var.{}", v.name));
        }
        for l in &module.locals {
            t.declared.insert(format!("local.{}", l.name));
        }
        for r in &module.resources {
            t.declared.insert(format!("{}.{}", r.kind.name, r.name));
        }
        for m in &module.module_calls {
            t.declared.insert(format!("module.{}", m.name));
        }

        // Provider keys visible in this module: inherited, then declared here.
        let prefix = module_prefix(path);
        let mut providers = provider_map.clone();
        for p in &module.providers {
            providers.insert(p.key(), format!("{prefix}{}", p.key()));
        }

        let (graph, nodes) = self.declaration_graph(module);
        let order = petgraph::algo::tarjan_scc(&graph);
        let mut skipped: BTreeSet<usize> = BTreeSet::new();
        for scc in &order {
            let self_loop = scc.len() == 1 && graph.contains_edge(scc[0], scc[0]);
            if scc.len() > 1 || self_loop {
                let mut names: Vec<(Span, String)> = scc
                    .iter()
                    .map(|n| self.node_label(module, nodes[n.index()], &prefix))
                    .collect();
                names.sort_by_key(|(s, _)| (s.file, s.start));
                let list: Vec<String> = names.iter().map(|(_, n)| n.clone()).collect();
                let mut cycle = list.clone();
                cycle.push(list[0].clone());
                self.err(
                    Diagnostic::error(format!("dependency cycle between {}", list.join(", ")))
                        .at(Some(names[0].0))
                        .note(format!("cycle: {}", cycle.join(" → ")))
                        .help("break the cycle: one of these must not refer (directly or through locals) to another"),
                );
                skipped.extend(scc.iter().map(|n| n.index()));
            }
        }
        for scc in order {
            for n in scc {
                if skipped.contains(&n.index()) {
                    continue;
                }
                match nodes[n.index()] {
                    Node::Local(i) => {
                        let l = &module.locals[i];
                        let scope = t.scope(module, &self.config.root_dir);
                        let mut ev = Evaluator::new(&scope, l.file);
                        let value = ev.eval(&l.expr);
                        let tracked = Tracked {
                            value,
                            deps: std::mem::take(&mut ev.deps),
                            sensitive: ev.sensitive,
                            ephemeral: ev.ephemeral,
                        };
                        self.take(ev);
                        t.locals.insert(l.name.clone(), tracked);
                    }
                    Node::Provider(i) => self.eval_provider(module, i, &t, &prefix),
                    Node::Resource(i) => {
                        let decl = &module.resources[i];
                        let value =
                            self.eval_resource(module, decl, path, &t, &providers, extra_deps);
                        t.resources
                            .insert((decl.kind.name.to_string(), decl.name.clone()), value);
                    }
                    Node::Module(i) => {
                        self.eval_module_call(module, i, path, &mut t, &providers, extra_deps)
                    }
                    Node::Output(i) => {
                        let o = &module.outputs[i];
                        let Some(expr) = &o.value else { continue };
                        let scope = t.scope(module, &self.config.root_dir);
                        let mut ev = Evaluator::new(&scope, o.file);
                        let owner = format!("{prefix}{}", o.name);
                        for c in &o.preconditions {
                            let (status, _) = crate::config::conditions::evaluate(
                                &mut ev,
                                c,
                                ConditionKind::OutputPrecondition,
                                &owner,
                            );
                            self.out.conditions.push(ConditionResult {
                                kind: ConditionKind::OutputPrecondition,
                                owner: owner.clone(),
                                status,
                                span: c.span,
                                condition: c.condition_span(),
                            });
                        }
                        ev.reset_tracking();
                        let value = ev.eval(expr);
                        let tracked = Tracked {
                            value,
                            deps: std::mem::take(&mut ev.deps),
                            sensitive: ev.sensitive || o.sensitive,
                            ephemeral: ev.ephemeral || o.ephemeral,
                        };
                        if o.ephemeral && path.is_empty() {
                            ev.diags.push(
                                Diagnostic::error(format!(
                                    "output `{}` of the root module cannot be ephemeral",
                                    o.name
                                ))
                                .at(Some(o.span))
                                .note("the root module's outputs are saved in the state; only a child module's outputs can be ephemeral")
                                .help("drop ephemeral = true, and wrap an ephemeral value in ephemeralasnull(…)"),
                            );
                        } else if ev.ephemeral && !o.ephemeral {
                            ev.diags.push(
                                Diagnostic::error(format!(
                                    "output `{}` refers to ephemeral values",
                                    o.name
                                ))
                                .at(Some(o.span))
                                .note("an ephemeral value is never saved, and this output would be")
                                .help(if path.is_empty() {
                                    "wrap the value in ephemeralasnull(…), or output a value that is not ephemeral"
                                } else {
                                    "add ephemeral = true to the output, or wrap the value in ephemeralasnull(…)"
                                }),
                            );
                        }
                        if ev.sensitive && !o.sensitive {
                            ev.diags.push(
                                Diagnostic::error(format!(
                                    "output `{}` refers to sensitive values",
                                    o.name
                                ))
                                .at(Some(o.span))
                                .help(
                                    "add sensitive = true to the output so its value is redacted",
                                ),
                            );
                        }
                        self.take(ev);
                        t.outputs.insert(o.name.clone(), tracked);
                    }
                }
            }
        }
        self.eval_imports(module, path, &t);
        // Checks read the module's values once every one of them is known.
        for check in &module.checks {
            let scope = t.scope(module, &self.config.root_dir);
            let owner = format!("{prefix}{}", check.name);
            for a in &check.asserts {
                let mut ev = Evaluator::new(&scope, a.file);
                let (status, _) =
                    crate::config::conditions::evaluate(&mut ev, a, ConditionKind::Check, &owner);
                self.out.conditions.push(ConditionResult {
                    kind: ConditionKind::Check,
                    owner: owner.clone(),
                    status,
                    span: a.span,
                    condition: a.condition_span(),
                });
                self.take(ev);
            }
        }
        t
    }

    fn node_label(&self, module: &ModuleConfig, n: Node, prefix: &str) -> (Span, String) {
        match n {
            Node::Local(i) => (
                module.locals[i].span,
                format!("{prefix}local.{}", module.locals[i].name),
            ),
            Node::Provider(i) => (
                module.providers[i].span,
                format!("{prefix}provider.{}", module.providers[i].key()),
            ),
            Node::Resource(i) => (
                module.resources[i].span,
                format!(
                    "{prefix}{}.{}",
                    module.resources[i].kind.name, module.resources[i].name
                ),
            ),
            Node::Module(i) => (
                module.module_calls[i].span,
                format!("{prefix}module.{}", module.module_calls[i].name),
            ),
            Node::Output(i) => (
                module.outputs[i].span,
                format!("{prefix}output.{}", module.outputs[i].name),
            ),
        }
    }

    /// Nodes for every declaration, with an edge from each to what it refers to.
    fn declaration_graph(&self, module: &ModuleConfig) -> (DiGraph<(), ()>, Vec<Node>) {
        let mut g = DiGraph::new();
        let mut nodes = Vec::new();
        let mut by_name: HashMap<String, NodeIndex> = HashMap::new();
        let mut add = |g: &mut DiGraph<(), ()>, n: Node, name: Option<String>| {
            let idx = g.add_node(());
            nodes.push(n);
            if let Some(name) = name {
                by_name.insert(name, idx);
            }
            idx
        };
        let mut refs: Vec<(NodeIndex, Vec<String>)> = Vec::new();
        for (i, l) in module.locals.iter().enumerate() {
            let idx = add(&mut g, Node::Local(i), Some(format!("local.{}", l.name)));
            let mut r = Vec::new();
            refs_in_expr(&l.expr, &mut r);
            refs.push((idx, r));
        }
        let mut provider_nodes = Vec::new();
        for (i, p) in module.providers.iter().enumerate() {
            let idx = add(&mut g, Node::Provider(i), None);
            provider_nodes.push(idx);
            let mut r = Vec::new();
            refs_in_body(&p.body, &mut r);
            refs.push((idx, r));
        }
        for (i, res) in module.resources.iter().enumerate() {
            let idx = add(
                &mut g,
                Node::Resource(i),
                Some(format!("{}.{}", res.kind.name, res.name)),
            );
            let mut r = Vec::new();
            refs_in_body(&res.body, &mut r);
            for e in res.count.iter().chain(res.for_each.iter()) {
                refs_in_expr(e, &mut r);
            }
            for c in res.preconditions.iter().chain(&res.postconditions) {
                refs_in_expr(&c.condition, &mut r);
                refs_in_expr(&c.error_message, &mut r);
            }
            for e in res.replace_triggered_by.iter().chain(&res.prevent_destroy) {
                refs_in_expr(e, &mut r);
            }
            r.extend(
                res.depends_on
                    .iter()
                    .filter(|d| d.parts.len() >= 2)
                    .map(|d| format!("{}.{}", d.parts[0], d.parts[1])),
            );
            for p in &provider_nodes {
                g.add_edge(idx, *p, ());
            }
            refs.push((idx, r));
        }
        for (i, m) in module.module_calls.iter().enumerate() {
            let idx = add(&mut g, Node::Module(i), Some(format!("module.{}", m.name)));
            let mut r = Vec::new();
            refs_in_body(&m.body, &mut r);
            for e in m.count.iter().chain(m.for_each.iter()) {
                refs_in_expr(e, &mut r);
            }
            r.extend(
                m.depends_on
                    .iter()
                    .filter(|d| d.parts.len() >= 2)
                    .map(|d| format!("{}.{}", d.parts[0], d.parts[1])),
            );
            for p in &provider_nodes {
                g.add_edge(idx, *p, ());
            }
            refs.push((idx, r));
        }
        for (i, o) in module.outputs.iter().enumerate() {
            let idx = add(&mut g, Node::Output(i), None);
            let mut r = Vec::new();
            if let Some(e) = &o.value {
                refs_in_expr(e, &mut r);
            }
            for c in &o.preconditions {
                refs_in_expr(&c.condition, &mut r);
                refs_in_expr(&c.error_message, &mut r);
            }
            refs.push((idx, r));
        }
        for (from, names) in refs {
            for name in names {
                if let Some(to) = by_name.get(&name) {
                    g.update_edge(from, *to, ());
                }
            }
        }
        (g, nodes)
    }
}
