//! Evaluate a loaded configuration into resource instances, providers and outputs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::visit::{self, Visit};
use hcl_edit::Span as _;
use mlinfra_schema::{kind, AttrType, BlockSchema, Cloud, KindSchema, Value};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::address::{key_literal, Address, InstanceKey, ModuleStep};
use crate::config::conditions::{ConditionKind, ConditionResult};
use crate::config::expr::{Evaluator, Scope, Tracked};
use crate::config::load::{
    header_span, Config, Lifecycle, ModuleConfig, RefExpr, ResourceDecl, VariableDecl,
};
use crate::diag::{did_you_mean, Diagnostic, Diagnostics, FileId, Span};

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

impl RootScope {
    /// Evaluate one expression written by a user: its value and whether it is
    /// sensitive, or the diagnostics against `sources`, where the text is `file`.
    pub fn eval(
        &self,
        config: &Config,
        text: &str,
        sources: &mut crate::diag::Sources,
    ) -> Result<(Value, bool), Vec<Diagnostic>> {
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
        match r {
            Ok(v) if ev.diags.is_empty() => Ok((v, ev.sensitive)),
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
                    value: t.value.clone(),
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
                .expected("numbers between -1.8e308 and 1.8e308"),
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
                .expected("numbers between -1.8e308 and 1.8e308"),
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
    fn visit_traversal(&mut self, t: &hcl_edit::expr::Traversal) {
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

    fn root_variables(&mut self, root: &ModuleConfig) -> HashMap<String, Tracked> {
        let mut out = HashMap::new();
        for (name, input) in self.opts.inputs {
            if !root.variables.iter().any(|v| &v.name == name) {
                let declared: Vec<&str> = root.variables.iter().map(|v| v.name.as_str()).collect();
                let help = did_you_mean(name, declared.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"));
                let d = if input.source == "--var" {
                    Diagnostic::error(format!(
                        "variable `{name}` (from {}) is not declared",
                        input.source
                    ))
                } else {
                    Diagnostic::warning(format!(
                        "value for undeclared variable `{name}` (from {}) is ignored",
                        input.source
                    ))
                };
                if !input.source.starts_with("MLINFRA_VAR_") {
                    self.err(d.at(input.span).maybe_help(help.or_else(|| {
                        Some(format!(
                            "declare it: variable \"{name}\" {{ type = string }}"
                        ))
                    })));
                }
            }
        }
        for v in &root.variables {
            let value = match self.opts.inputs.get(&v.name) {
                Some(input) => match self.input_to_value(v, input) {
                    Some(val) => Some((val, input.source.clone(), input.span)),
                    None => continue,
                },
                None => None,
            };
            if let Some(t) = self.finish_variable(
                v,
                value.map(|(val, src, span)| (Tracked::plain(val), src, span)),
            ) {
                out.insert(v.name.clone(), t);
            }
        }
        out
    }

    fn input_to_value(&mut self, v: &VariableDecl, input: &InputValue) -> Option<Value> {
        match &input.raw {
            RawInput::Value(val) => Some(val.clone()),
            RawInput::Text(text) => match &v.ty {
                AttrType::String | AttrType::Any => Some(Value::String(text.clone())),
                AttrType::Number | AttrType::Bool => Some(Value::String(text.clone())),
                _ => match hcl_edit::parser::parse_expr(text) {
                    Ok(e) => {
                        let scope = Scope {
                            no_references: Some("a variable value"),
                            ..Default::default()
                        };
                        let mut ev = Evaluator::new(&scope, v.file);
                        let r = ev.try_eval(&e);
                        if r.is_err() {
                            self.err(
                                Diagnostic::error(format!(
                                    "invalid value for variable `{}` from {}",
                                    v.name, input.source
                                ))
                                .at(input.span.or(Some(v.span)))
                                .expected(format!("a literal of type {}", v.ty)),
                            );
                            return None;
                        }
                        r.ok()
                    }
                    Err(e) => {
                        self.err(
                            Diagnostic::error(format!(
                                "cannot parse the value of variable `{}` from {}: {}",
                                v.name,
                                input.source,
                                e.message().lines().next().unwrap_or("")
                            ))
                            .at(input.span.or(Some(v.span)))
                            .expected(format!("an HCL literal of type {}, e.g. [\"a\", \"b\"] or {{ key = \"value\" }}", v.ty)),
                        );
                        None
                    }
                },
            },
        }
    }

    /// Apply default, type conversion and validations to a variable's value.
    fn finish_variable(
        &mut self,
        v: &VariableDecl,
        given: Option<(Tracked, String, Option<Span>)>,
    ) -> Option<Tracked> {
        let (mut tracked, source, at) = match given {
            Some(g) => g,
            None => match &v.default {
                Some(d) => {
                    let scope = Scope {
                        no_references: Some("a variable default"),
                        ..Default::default()
                    };
                    let mut ev = Evaluator::new(&scope, v.file);
                    let val = ev.eval(d);
                    let span = d.span().map(|r| Span::new(v.file, r));
                    self.take(ev);
                    (Tracked::plain(val), "its default".to_string(), span)
                }
                None => {
                    self.err(
                        Diagnostic::error(format!("no value for required variable `{}`", v.name))
                            .at(Some(v.span))
                            .expected(format!("a value of type {}", v.ty))
                            .help(format!(
                                "pass --var {0}=VALUE, set MLINFRA_VAR_{0}, put it in a *.auto.mlinfra.vars file, or give the variable a default",
                                v.name
                            )),
                    );
                    return None;
                }
            },
        };
        match v.ty.convert(&tracked.value) {
            Ok(val) => tracked.value = val,
            Err(m) => {
                // A secret is neither echoed nor pointed at (the snippet would show it).
                let secret = v.sensitive || tracked.sensitive;
                let (problem, at) = if secret {
                    (
                        format!(
                            "expected {} (the value is sensitive and not shown)",
                            m.expected
                        ),
                        Some(v.span),
                    )
                } else {
                    (m.to_string(), at.or(Some(v.span)))
                };
                self.err(
                    Diagnostic::error(format!(
                        "invalid value for variable `{}` (from {source}): {problem}",
                        v.name
                    ))
                    .at(at)
                    .expected(format!("a value of type {}", v.ty))
                    .note(format!(
                        "variable `{}` is declared at {}",
                        v.name,
                        self.config.sources.location(v.span)
                    )),
                );
                return None;
            }
        }
        if tracked.value == Value::Null && !v.nullable {
            self.err(
                Diagnostic::error(format!("variable `{}` must not be null", v.name))
                    .at(at.or(Some(v.span)))
                    .help("give it a value, or set nullable = true"),
            );
            return None;
        }
        tracked.sensitive |= v.sensitive;
        // Validations see only this variable.
        let mut only = HashMap::new();
        only.insert(v.name.clone(), tracked.clone());
        for rule in &v.validations {
            let scope = Scope {
                vars: Some(&only),
                ..Default::default()
            };
            let mut ev = Evaluator::new(&scope, v.file);
            let cond = ev.eval(&rule.condition);
            let msg = ev.eval(&rule.error_message);
            self.take(ev);
            match cond {
                Value::Bool(true) | Value::Unknown => {}
                Value::Bool(false) => {
                    let secret = v.sensitive || tracked.sensitive;
                    let shown = if secret {
                        "(sensitive value)".to_string()
                    } else {
                        tracked.value.to_hcl()
                    };
                    let msg = if secret && msg.to_string().contains(&tracked.value.to_string()) {
                        Value::String(
                            "(the error message contains the sensitive value and is not shown)"
                                .into(),
                        )
                    } else {
                        msg
                    };
                    self.err(
                        Diagnostic::error(format!(
                            "invalid value for variable `{}`: {}",
                            v.name, msg
                        ))
                        .at(rule.condition.span().map(|r| Span::new(v.file, r)))
                        .note(format!("the value {shown} came from {source}"))
                        .help("change the value to satisfy the validation condition"),
                    );
                    return None;
                }
                other => self.err(
                    Diagnostic::error(format!(
                        "validation condition is a {}, not a bool",
                        other.type_name()
                    ))
                    .at(rule.condition.span().map(|r| Span::new(v.file, r)))
                    .expected("a bool expression"),
                ),
            }
        }
        Some(tracked)
    }

    // ---- modules ---------------------------------------------------------------------

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
                        };
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

    /// Evaluate `import` blocks: only in the root module, ids known at plan time, each
    /// naming a declared resource instance once.
    fn eval_imports(&mut self, module: &ModuleConfig, path: &[ModuleStep], t: &Tables) {
        if !path.is_empty() {
            for i in &module.imports {
                self.diags.push(
                    Diagnostic::error("import blocks are only allowed in the root module")
                        .at(Some(i.span))
                        .help(
                            "move the block to the root module and set to = module.NAME.KIND.LABEL",
                        ),
                );
            }
            return;
        }
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        for i in &module.imports {
            let scope = t.scope(module, &self.config.root_dir);
            let mut ev = Evaluator::new(&scope, i.file);
            let v = ev.eval(&i.id);
            let sensitive = ev.sensitive;
            let diags = std::mem::take(&mut ev.diags);
            drop(ev);
            for d in diags {
                self.diags.push(d);
            }
            let at = i.id.span().map(|r| Span::new(i.file, r)).or(Some(i.span));
            let id = match v {
                Value::String(s) if !s.is_empty() => s,
                Value::Unknown => {
                    self.diags.push(
                        Diagnostic::error("the import id is not known until after apply")
                            .at(at)
                            .expected("an id known at plan time: a string, a variable or a local"),
                    );
                    continue;
                }
                other => {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "the import id must be a non-empty string, found {}",
                            other.type_name()
                        ))
                        .at(at)
                        .expected("id = \"…\" (the cloud id `mlinfra import` takes)"),
                    );
                    continue;
                }
            };
            if sensitive {
                self.diags.push(
                    Diagnostic::error("the import id comes from a sensitive value")
                        .at(at)
                        .help("import ids are shown in plans; use a value that is not sensitive"),
                );
                continue;
            }
            let address = i.to.to_string();
            if let Some(first) = seen.insert(address.clone(), i.to_span) {
                self.diags.push(
                    Diagnostic::error(format!("{address} is imported twice"))
                        .at(Some(i.to_span))
                        .note(format!(
                            "first imported at {}",
                            self.config.sources.location(first)
                        )),
                );
                continue;
            }
            self.out.imports.push(ImportTarget {
                address,
                id,
                span: i.to_span,
            });
        }
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

    fn eval_provider(&mut self, module: &ModuleConfig, i: usize, t: &Tables, prefix: &str) {
        let p = &module.providers[i];
        let Some(cloud) = Cloud::parse(&p.cloud) else {
            return;
        };
        let block = mlinfra_schema::providers::provider_block(cloud);
        let allowed = block.attribute_names();
        let scope = t.scope(module, &self.config.root_dir);
        let mut ev = Evaluator::new(&scope, p.file);
        let mut attrs = BTreeMap::new();
        let mut sensitive = BTreeSet::new();
        for s in p.body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str();
                    if !allowed.contains(&name) {
                        ev.diags.push(
                            Diagnostic::error(format!(
                                "unknown attribute `{name}` in provider \"{}\"",
                                p.cloud
                            ))
                            .at(a.key.span().map(|r| Span::new(p.file, r)))
                            .expected(format!("one of {}", allowed.join(", ")))
                            .maybe_help(
                                did_you_mean(name, allowed.iter().copied())
                                    .map(|s| format!("did you mean `{s}`?")),
                            ),
                        );
                        continue;
                    }
                    ev.reset_tracking();
                    let v = ev.eval(&a.value);
                    if ev.sensitive {
                        sensitive.insert(name.to_string());
                    }
                    attrs.insert(name.to_string(), v);
                }
                // Terraform's form: `default_tags { tags = { … } }`.
                Structure::Block(b) if b.ident.as_str() == "default_tags" && block.default_tags => {
                    for s in b.body.iter() {
                        match s {
                            Structure::Attribute(a) if a.key.as_str() == "tags" => {
                                ev.reset_tracking();
                                let v = ev.eval(&a.value);
                                if ev.sensitive {
                                    sensitive.insert("default_tags".to_string());
                                }
                                attrs.insert("default_tags".to_string(), v);
                            }
                            other => ev.diags.push(
                                Diagnostic::error("default_tags takes only `tags`")
                                    .at(other.span().map(|r| Span::new(p.file, r)))
                                    .expected("default_tags { tags = { team = \"ml\" } }"),
                            ),
                        }
                    }
                }
                Structure::Block(b) if block.map_blocks.contains(&b.ident.as_str()) => {
                    let mut m = BTreeMap::new();
                    for s in b.body.iter() {
                        if let Structure::Attribute(a) = s {
                            m.insert(a.key.as_str().to_string(), ev.eval(&a.value));
                        }
                    }
                    attrs.insert(b.ident.as_str().to_string(), Value::Map(m));
                }
                Structure::Block(b) => ev.diags.push(
                    Diagnostic::error(format!(
                        "unexpected block `{}` in provider \"{}\"",
                        b.ident.as_str(),
                        p.cloud
                    ))
                    .at(Some(header_span(b, p.file))),
                ),
            }
        }
        attrs.remove("alias");
        if let Some(v) = attrs.get("default_tags") {
            let ty = AttrType::Map(Box::new(AttrType::String));
            match ty.convert(v) {
                Ok(t) => {
                    attrs.insert("default_tags".into(), t);
                }
                Err(e) => ev.diags.push(
                    Diagnostic::error(format!(
                        "default_tags of provider \"{}\" must be a map of strings: {}",
                        p.key(),
                        if sensitive.contains("default_tags") {
                            "(the value is sensitive and not shown)".to_string()
                        } else {
                            e.to_string()
                        }
                    ))
                    .at(Some(p.span))
                    .expected("default_tags { tags = { team = \"ml\" } }"),
                ),
            }
        }
        self.take(ev);
        self.out.providers.push(ProviderInstance {
            key: format!("{prefix}{}", p.key()),
            cloud,
            attrs,
            sensitive,
            span: Some(p.span),
            implicit: false,
        });
    }

    /// Expand `count` / `for_each` into instance keys with their `each` / `count.index` values.
    #[allow(clippy::type_complexity)]
    fn expand(
        &mut self,
        count: Option<&Expression>,
        for_each: Option<&Expression>,
        file: FileId,
        scope: &Scope,
        what: &str,
    ) -> Option<Vec<(Option<InstanceKey>, Option<(Value, Value)>, Option<usize>)>> {
        if let Some(e) = count {
            let mut ev = Evaluator::new(scope, file);
            let v = ev.try_eval(e);
            let secret = ev.sensitive;
            let span = e.span().map(|r| Span::new(file, r));
            self.take(ev);
            let v = v.ok()?;
            return match v {
                Value::Number(n) if n > MAX_INSTANCES as f64 => {
                    let shown = if secret {
                        crate::secrets::REDACTED.to_string()
                    } else {
                        mlinfra_schema::format_number(n)
                    };
                    self.err(
                        Diagnostic::error(format!("count of {what} is {shown}, more than the {MAX_INSTANCES} instances one block may have"))
                            .at(span)
                            .help("split the resources over several blocks or modules"),
                    );
                    None
                }
                Value::Number(n) if n >= 0.0 && n.fract() == 0.0 => Some(
                    (0..n as usize)
                        .map(|i| (Some(InstanceKey::Index(i)), None, Some(i)))
                        .collect(),
                ),
                Value::Unknown => {
                    self.err(
                        Diagnostic::error(format!("count of {what} depends on values known only after apply"))
                            .at(span)
                            .help("count must be known at plan time; use a variable or a literal, or -target the dependency first"),
                    );
                    None
                }
                other => {
                    let shown = if secret {
                        crate::secrets::REDACTED.to_string()
                    } else {
                        other.to_hcl()
                    };
                    self.err(
                        Diagnostic::error(format!("invalid count for {what}: {shown}"))
                            .at(span)
                            .expected("a whole number ≥ 0"),
                    );
                    None
                }
            };
        }
        if let Some(e) = for_each {
            let mut ev = Evaluator::new(scope, file);
            let v = ev.try_eval(e);
            let sensitive = ev.sensitive;
            let span = e.span().map(|r| Span::new(file, r));
            self.take(ev);
            let v = v.ok()?;
            if sensitive {
                self.err(
                    Diagnostic::error(format!("for_each of {what} uses sensitive values"))
                        .at(span)
                        .help(
                            "instance keys appear in addresses and output; they cannot be secret",
                        ),
                );
                return None;
            }
            let n = match &v {
                Value::Map(m) => m.len(),
                Value::List(l) => l.len(),
                _ => 0,
            };
            if n > MAX_INSTANCES {
                self.err(
                    Diagnostic::error(format!("for_each of {what} has {n} elements, more than the {MAX_INSTANCES} instances one block may have"))
                        .at(span)
                        .help("split the resources over several blocks or modules"),
                );
                return None;
            }
            return match v {
                Value::Map(m) => Some(
                    m.into_iter()
                        .map(|(k, v)| {
                            (
                                Some(InstanceKey::Key(k.clone())),
                                Some((Value::String(k), v)),
                                None,
                            )
                        })
                        .collect(),
                ),
                Value::List(items) => {
                    let mut out = Vec::new();
                    let mut seen = std::collections::HashSet::new();
                    for item in items {
                        match item {
                            Value::String(s) => {
                                if seen.insert(s.clone()) {
                                    out.push((
                                        Some(InstanceKey::Key(s.clone())),
                                        Some((Value::String(s.clone()), Value::String(s))),
                                        None,
                                    ));
                                }
                            }
                            Value::Unknown => {
                                self.err(
                                    Diagnostic::error(format!(
                                        "for_each of {what} has elements known only after apply"
                                    ))
                                    .at(span),
                                );
                                return None;
                            }
                            other => {
                                self.err(
                                    Diagnostic::error(format!(
                                        "for_each of {what} has a {} element",
                                        other.type_name()
                                    ))
                                    .at(span)
                                    .expected("a map, or a set/list of strings")
                                    .help("build a map: { for x in … : x.name => x }"),
                                );
                                return None;
                            }
                        }
                    }
                    Some(out)
                }
                Value::Unknown => {
                    self.err(
                        Diagnostic::error(format!("for_each of {what} depends on values known only after apply"))
                            .at(span)
                            .help("for_each keys must be known at plan time; derive them from variables or literals"),
                    );
                    None
                }
                other => {
                    self.err(
                        Diagnostic::error(format!(
                            "invalid for_each for {what}: a {}",
                            other.type_name()
                        ))
                        .at(span)
                        .expected("a map, or a set/list of strings"),
                    );
                    None
                }
            };
        }
        Some(vec![(None, None, None)])
    }

    fn resolve_dep_refs(&mut self, refs: &[RefExpr], t: &Tables, out: &mut BTreeSet<String>) {
        for r in refs {
            let text = r.text();
            if r.parts.len() == 2 && r.parts[0] == "module" {
                match t.module_resources.get(&r.parts[1]) {
                    Some(set) => out.extend(set.iter().cloned()),
                    None if t.declared.contains(&text) => {}
                    None => self.unknown_dep(r, t),
                }
            } else if r.parts.len() == 2 && kind(&r.parts[0]).is_some() {
                match t.resources.get(&(r.parts[0].clone(), r.parts[1].clone())) {
                    Some(tr) => out.extend(tr.deps.iter().cloned()),
                    None if t.declared.contains(&text) => {}
                    None => self.unknown_dep(r, t),
                }
            } else {
                self.err(
                    Diagnostic::error(format!(
                        "depends_on entry `{text}` is not a resource or module"
                    ))
                    .at(Some(r.span))
                    .expected("KIND.NAME or module.NAME"),
                );
            }
        }
    }

    fn unknown_dep(&mut self, r: &RefExpr, t: &Tables) {
        let text = r.text();
        let help = did_you_mean(&text, t.declared.iter().map(String::as_str))
            .map(|s| format!("did you mean `{s}`?"));
        self.err(
            Diagnostic::error(format!("depends_on refers to undeclared `{text}`"))
                .at(Some(r.span))
                .maybe_help(help),
        );
    }

    /// Resolve the provider of a resource: (cloud, global provider key).
    fn resolve_provider(
        &mut self,
        decl: &ResourceDecl,
        cloud_attr: Option<Cloud>,
        providers: &HashMap<String, String>,
    ) -> Option<(Cloud, String)> {
        if let Some(r) = &decl.provider {
            let Some(cloud) = r.parts.first().and_then(|c| Cloud::parse(c)) else {
                self.err(
                    Diagnostic::error(format!("`{}` is not a provider", r.text()))
                        .at(Some(r.span))
                        .expected(format!(
                            "{}, or an alias like {}",
                            mlinfra_schema::providers::cloud_names(),
                            mlinfra_schema::providers::alias_example()
                        )),
                );
                return None;
            };
            let key = r.text();
            if let Some(c) = cloud_attr {
                if c != cloud {
                    self.err(
                        Diagnostic::error(format!("cloud = \"{c}\" contradicts provider = {key}"))
                            .at(Some(r.span))
                            .help("remove `cloud`; the provider decides it"),
                    );
                }
            }
            return match providers.get(&key) {
                Some(global) => Some((cloud, global.clone())),
                None if r.parts.len() == 1 => Some((cloud, self.implicit_provider(cloud))),
                None => {
                    let known: Vec<&str> = providers.keys().map(String::as_str).collect();
                    self.err(
                        Diagnostic::error(format!("provider `{key}` is not configured"))
                            .at(Some(r.span))
                            .maybe_help(
                                did_you_mean(&key, known.iter().copied())
                                    .map(|s| format!("did you mean `{s}`?"))
                                    .or_else(|| {
                                        Some(format!(
                                            "declare it: provider \"{}\" {{ alias = \"{}\" … }}",
                                            r.parts[0],
                                            r.parts.get(1).cloned().unwrap_or_default()
                                        ))
                                    }),
                            ),
                    );
                    None
                }
            };
        }
        let cloud = cloud_attr?;
        let key = cloud.as_str().to_string();
        Some(match providers.get(&key) {
            Some(global) => (cloud, global.clone()),
            None => (cloud, self.implicit_provider(cloud)),
        })
    }

    fn implicit_provider(&mut self, cloud: Cloud) -> String {
        let key = cloud.as_str().to_string();
        if !self.out.providers.iter().any(|p| p.key == key) {
            self.out.providers.push(ProviderInstance {
                key: key.clone(),
                cloud,
                attrs: BTreeMap::new(),
                sensitive: BTreeSet::new(),
                span: None,
                implicit: true,
            });
        }
        key
    }

    fn eval_resource(
        &mut self,
        module: &ModuleConfig,
        decl: &ResourceDecl,
        path: &[ModuleStep],
        t: &Tables,
        providers: &HashMap<String, String>,
        extra_deps: &BTreeSet<String>,
    ) -> Tracked {
        let base_scope = t.scope(module, &self.config.root_dir);
        let what = format!("{}.{}", decl.kind.name, decl.name);
        let Some(instances) = self.expand(
            decl.count.as_ref(),
            decl.for_each.as_ref(),
            decl.file,
            &base_scope,
            &what,
        ) else {
            return Tracked::plain(Value::Unknown);
        };
        let mut explicit = extra_deps.clone();
        self.resolve_dep_refs(&decl.depends_on, t, &mut explicit);
        let multi = decl.count.is_some() || decl.for_each.is_some();
        let mut result_list = Vec::new();
        let mut result_map = BTreeMap::new();
        let mut result_single = Value::Unknown;
        let mut all = BTreeSet::new();
        let mut any_sensitive = false;
        for (key, each, count_index) in instances {
            let address = Address {
                module: path.to_vec(),
                kind: decl.kind.name.to_string(),
                name: decl.name.clone(),
                key: key.clone(),
            };
            let addr_s = address.to_string();
            let scope = Scope {
                each: each.clone(),
                count_index,
                ..t.scope(module, &self.config.root_dir)
            };
            let mut ev = Evaluator::new(&scope, decl.file);
            let mut inst_deps = BTreeSet::new();
            let mut attrs = BTreeMap::new();
            let mut sensitive = BTreeSet::new();

            // The cloud comes first: attribute checks depend on it.
            let mut cloud_attr = None;
            if let Some(a) = decl.body.get_attribute("cloud") {
                ev.reset_tracking();
                let v = ev.eval(&a.value);
                inst_deps.extend(ev.deps.iter().cloned());
                let secret = ev.sensitive;
                match &v {
                    Value::String(s) => match Cloud::parse(s) {
                        Some(c) => cloud_attr = Some(c),
                        None if secret => ev.diags.push(
                            Diagnostic::error("unknown cloud (the value is sensitive and not shown)")
                                .at(a.value.span().map(|r| Span::new(decl.file, r)))
                                .expected(format!("one of {}", mlinfra_schema::providers::quoted_cloud_names()))
                                .help("a cloud is shown in every plan; set it from a value that is not sensitive"),
                        ),
                        None => ev.diags.push(
                            Diagnostic::error(format!("unknown cloud \"{s}\""))
                                .at(a.value.span().map(|r| Span::new(decl.file, r)))
                                .expected(format!("one of {}", mlinfra_schema::providers::quoted_cloud_names()))
                                .maybe_help(
                                    did_you_mean(s, Cloud::ALL.map(Cloud::as_str))
                                        .map(|c| format!("did you mean \"{c}\"?")),
                                ),
                        ),
                    },
                    Value::Unknown => {}
                    other => ev.diags.push(
                        Diagnostic::error(format!(
                            "cloud must be a string, found {}",
                            other.type_name()
                        ))
                        .at(a.value.span().map(|r| Span::new(decl.file, r)))
                        .expected(mlinfra_schema::providers::quoted_cloud_names()),
                    ),
                }
            }
            // A gpu_pool inherits its cluster's cloud.
            if decl.kind.name == "gpu_pool" && cloud_attr.is_none() && decl.provider.is_none() {
                if let Some(a) = decl.body.get_attribute("cluster") {
                    let v = ev.eval(&a.value);
                    if let Some(c) = v
                        .as_map()
                        .and_then(|m| m.get("cloud"))
                        .and_then(Value::as_str)
                        .and_then(Cloud::parse)
                    {
                        cloud_attr = Some(c);
                    }
                }
            }
            let mut cloud = None;
            let mut provider_key = None;
            if decl.kind.has_cloud() {
                // A gpu_pool whose cluster reference failed was already reported.
                let has_cloud_source = decl.provider.is_some()
                    || decl.body.get_attribute("cloud").is_some()
                    || cloud_attr.is_some()
                    || (decl.kind.name == "gpu_pool"
                        && decl.body.get_attribute("cluster").is_some());

                if !has_cloud_source {
                    ev.diags.push(
                        Diagnostic::error(format!("{what} does not say which cloud it is on"))
                            .at(Some(decl.span))
                            .expected(format!(
                                "cloud = {}, or provider = CLOUD.ALIAS",
                                mlinfra_schema::providers::cloud_choice()
                            ))
                            .help(if decl.kind.name == "gpu_pool" {
                                "set cluster = cluster.NAME; the pool inherits the cluster's cloud"
                            } else {
                                "add cloud = \"CLOUD\" to the block, one of the clouds above"
                            }),
                    );
                } else {
                    if let Some((c, key)) = self.resolve_provider(decl, cloud_attr, providers) {
                        cloud = Some(c);
                        provider_key = Some(key);
                    }
                }
            }

            let block_name = match &key {
                None => decl.name.clone(),
                Some(InstanceKey::Index(i)) => format!("{}-{i}", decl.name),
                Some(InstanceKey::Key(k)) => format!("{}-{k}", decl.name),
            };
            let mut deps_acc = BTreeSet::new();
            let mut body_ctx = BodyCtx {
                ev: &mut ev,
                cloud,
                kind: decl.kind,
                what: &what,
                deps: &mut deps_acc,
                sensitive: &mut sensitive,
            };
            body_ctx.eval_block(&decl.body, &decl.kind.body, "", &mut attrs, decl.span, true);
            inst_deps.extend(deps_acc);

            // Fill in what the manifest left out.
            if decl.kind.attribute("name").is_some()
                && matches!(attrs.get("name"), None | Some(Value::Null))
            {
                attrs.insert("name".into(), Value::String(block_name));
            }
            if let Some(c) = cloud {
                attrs.insert("cloud".into(), Value::String(c.as_str().to_string()));
            }
            let (provider_attrs, provider_sensitive) = provider_key
                .as_ref()
                .and_then(|k| self.out.providers.iter().find(|p| &p.key == k))
                .map(|p| (p.attrs.clone(), p.sensitive.clone()))
                .unwrap_or_default();
            let prior = if self.opts.replaced.contains(&addr_s) {
                None
            } else {
                self.opts.prior.attributes(&addr_s)
            };
            for a in &decl.kind.body.attributes {
                if !a.computed || !a.applies_to(cloud) {
                    continue;
                }
                let unset = matches!(attrs.get(a.name), None | Some(Value::Null));
                if !unset {
                    continue;
                }
                let from = match a.name {
                    "region" => ["region", "location"],
                    "location" => ["location", "region"],
                    _ => ["", ""],
                };
                let source = from.into_iter().find(|k| provider_attrs.contains_key(*k));
                let from_provider = source.and_then(|k| provider_attrs.get(k));
                // A default taken from a sensitive provider attribute is sensitive too.
                if source.is_some_and(|k| provider_sensitive.contains(k)) {
                    sensitive.insert(a.name.to_string());
                }
                let v = match (prior.and_then(|p| p.get(a.name)), from_provider) {
                    (_, Some(v)) if !a.read_only => v.clone(),
                    (Some(v), _) => v.clone(),
                    _ => Value::Unknown,
                };
                attrs.insert(a.name.to_string(), v);
            }
            // The provider's default_tags go on every taggable resource; the resource's
            // own tags win on the same key.
            if let Some(defaults) = provider_attrs.get("default_tags") {
                let taggable = decl
                    .kind
                    .attribute("tags")
                    .is_some_and(|a| a.applies_to(cloud));
                match (defaults, attrs.get("tags")) {
                    (_, _) if !taggable => {}
                    (Value::Map(d), Some(Value::Map(own))) => {
                        let mut merged = d.clone();
                        merged.extend(own.clone());
                        attrs.insert("tags".into(), Value::Map(merged));
                    }
                    (Value::Map(d), None | Some(Value::Null)) => {
                        attrs.insert("tags".into(), Value::Map(d.clone()));
                    }
                    (Value::Unknown, _) => {
                        attrs.insert("tags".into(), Value::Unknown);
                    }
                    _ => {}
                }
                if taggable && provider_sensitive.contains("default_tags") {
                    sensitive.insert("tags".into());
                }
            }
            if decl.kind.name == "gpu_pool" {
                gpu_pool_defaults(&mut ev, decl, cloud, &mut attrs);
            }
            let mut usage = BTreeMap::new();
            for b in decl.body.get_blocks("usage") {
                for s in b.body.iter() {
                    match s {
                        Structure::Attribute(a) => {
                            usage.insert(a.key.as_str().to_string(), ev.eval(&a.value));
                        }
                        Structure::Block(inner) => ev.diags.push(
                            Diagnostic::error(format!(
                                "unexpected block `{}` in usage",
                                inner.ident.as_str()
                            ))
                            .at(Some(header_span(inner, decl.file)))
                            .expected("name = number, e.g. average_nodes = 2"),
                        ),
                    }
                }
            }
            for (c, kind) in decl
                .preconditions
                .iter()
                .map(|c| (c, ConditionKind::Precondition))
                .chain(
                    decl.postconditions
                        .iter()
                        .map(|c| (c, ConditionKind::Postcondition)),
                )
            {
                let post = kind == ConditionKind::Postcondition;
                if post {
                    ev.push_name("self", Value::Map(attrs.clone()));
                }
                let (status, deps) = crate::config::conditions::evaluate(&mut ev, c, kind, &addr_s);
                if post {
                    ev.pop_name();
                }
                inst_deps.extend(deps);
                self.out.conditions.push(ConditionResult {
                    kind,
                    owner: addr_s.clone(),
                    status,
                    span: c.span,
                    condition: c.condition_span(),
                });
            }
            let mut lifecycle = decl.lifecycle.clone();
            if let Some(e) = &decl.prevent_destroy {
                ev.reset_tracking();
                match ev.eval(e) {
                    Value::Bool(b) => lifecycle.prevent_destroy = b,
                    other => {
                        let what = if other.is_unknown() {
                            "known only after apply".to_string()
                        } else {
                            format!("a {}", other.type_name())
                        };
                        ev.diags.push(
                            Diagnostic::error(format!(
                                "prevent_destroy of {addr_s} is {what}, not true or false"
                            ))
                            .at(e.span().map(|r| Span::new(decl.file, r)))
                            .expected("an expression of variables and locals, known at plan time")
                            .note("while it is unknown the resource is protected"),
                        );
                        lifecycle.prevent_destroy = true;
                    }
                }
                inst_deps.extend(ev.deps.iter().cloned());
            }
            let triggers = self.triggers(decl, path, &mut ev, t, &mut inst_deps);
            inst_deps.extend(explicit.iter().cloned());
            inst_deps.remove(&addr_s);
            let diags = std::mem::take(&mut ev.diags);
            drop(ev);
            for d in diags {
                self.diags.push(d);
            }

            let value = Value::Map(attrs.clone());
            if !sensitive.is_empty() {
                any_sensitive = true;
            }
            match &key {
                None => result_single = value,
                Some(InstanceKey::Index(_)) => result_list.push(value),
                Some(InstanceKey::Key(k)) => {
                    result_map.insert(k.clone(), value);
                }
            }
            all.insert(addr_s);
            self.out.resources.push(ResourceInstance {
                address,
                kind: decl.kind,
                cloud,
                provider: provider_key,
                attrs,
                sensitive,
                depends_on: inst_deps,
                lifecycle,
                replace_triggered_by: triggers,
                timeouts: decl.timeouts.clone(),
                usage,
                span: decl.span,
            });
        }
        let value = if !multi {
            result_single
        } else if decl.count.is_some() {
            Value::List(result_list)
        } else {
            Value::Map(result_map)
        };
        Tracked {
            value,
            deps: all,
            sensitive: any_sensitive,
        }
    }

    /// Resolve `replace_triggered_by` for one instance (`count.index` and `each` are
    /// this instance's); the referenced instances become dependencies.
    fn triggers(
        &mut self,
        decl: &ResourceDecl,
        path: &[ModuleStep],
        ev: &mut Evaluator<'_, '_>,
        t: &Tables,
        deps: &mut BTreeSet<String>,
    ) -> Vec<Trigger> {
        let mut out = Vec::new();
        for e in &decl.replace_triggered_by {
            let Expression::Traversal(tr) = e else {
                continue;
            };
            let Expression::Variable(k) = &tr.expr else {
                continue;
            };
            let at = e.span().map(|r| Span::new(decl.file, r));
            let ops: Vec<&TraversalOperator> = tr.operators.iter().map(|o| o.value()).collect();
            let Some(TraversalOperator::GetAttr(name)) = ops.first() else {
                continue;
            };
            let (kind, name) = (k.as_str().to_string(), name.as_str().to_string());
            let Some(resource) = t.resources.get(&(kind.clone(), name.clone())) else {
                ev.diags.push(
                    Diagnostic::error(format!(
                        "replace_triggered_by refers to {kind}.{name}, which is not declared in this module"
                    ))
                    .at(at)
                    .expected("a resource of this module"),
                );
                continue;
            };
            let mut i = 1;
            let mut key = None;
            let mut all = true;
            match ops.get(1) {
                Some(TraversalOperator::Index(ix)) => {
                    ev.reset_tracking();
                    key = match ev.eval(ix) {
                        Value::Number(n) if n >= 0.0 && n.fract() == 0.0 => {
                            Some(InstanceKey::Index(n as usize))
                        }
                        Value::String(s) => Some(InstanceKey::Key(s)),
                        other => {
                            ev.diags.push(
                                Diagnostic::error(format!(
                                    "the key in replace_triggered_by is {}, not a number or string known at plan time",
                                    if other.is_unknown() { "unknown".to_string() } else { format!("a {}", other.type_name()) }
                                ))
                                .at(at),
                            );
                            continue;
                        }
                    };
                    all = false;
                    i = 2;
                }
                Some(TraversalOperator::LegacyIndex(n)) => {
                    key = Some(InstanceKey::Index(*n.value() as usize));
                    all = false;
                    i = 2;
                }
                _ => {}
            }
            let mut attr = Vec::new();
            for op in &ops[i..] {
                match op {
                    TraversalOperator::GetAttr(a) => attr.push(a.as_str().to_string()),
                    _ => break,
                }
            }
            let address = Address {
                module: path.to_vec(),
                kind,
                name,
                key,
            };
            let a = address.to_string();
            if all {
                deps.extend(resource.deps.iter().cloned());
            } else {
                deps.insert(a);
            }
            out.push(Trigger {
                address,
                all,
                attr,
                text: e.to_string().trim().to_string(),
            });
        }
        out
    }

    fn eval_module_call(
        &mut self,
        module: &ModuleConfig,
        i: usize,
        path: &[ModuleStep],
        t: &mut Tables,
        providers: &HashMap<String, String>,
        extra_deps: &BTreeSet<String>,
    ) {
        let call = &module.module_calls[i];
        let Some(dir) = &call.dir else { return };
        let Some(child) = self.config.modules.get(dir) else {
            return;
        };
        let what = format!("module.{}", call.name);
        let instances = {
            let scope = t.scope(module, &self.config.root_dir);
            self.expand(
                call.count.as_ref(),
                call.for_each.as_ref(),
                call.file,
                &scope,
                &what,
            )
        };
        let Some(instances) = instances else { return };
        let mut deps_for_child = extra_deps.clone();
        self.resolve_dep_refs(&call.depends_on, t, &mut deps_for_child);

        // Providers the child sees: inherited defaults, then explicit mappings.
        let mut child_providers: HashMap<String, String> = providers
            .iter()
            .filter(|(k, _)| !k.contains('.'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (child_key, parent_ref) in &call.providers {
            let parent_key = parent_ref.text();
            match providers.get(&parent_key) {
                Some(global) => {
                    child_providers.insert(child_key.clone(), global.clone());
                }
                None if !parent_key.contains('.') && Cloud::parse(&parent_key).is_some() => {
                    if let Some(c) = Cloud::parse(&parent_key) {
                        let global = self.implicit_provider(c);
                        child_providers.insert(child_key.clone(), global);
                    }
                }
                None => self.err(
                    Diagnostic::error(format!(
                        "provider `{parent_key}` passed to {what} is not configured"
                    ))
                    .at(Some(parent_ref.span))
                    .help("declare it with provider \"CLOUD\" { alias = \"…\" }"),
                ),
            }
        }

        let multi = call.count.is_some() || call.for_each.is_some();
        let mut list = Vec::new();
        let mut map = BTreeMap::new();
        let mut single = Value::Unknown;
        let mut deps = BTreeSet::new();
        let mut sensitive = false;
        let first_resource = self.out.resources.len();
        for (key, each, count_index) in instances {
            // Inputs are evaluated in the caller's scope.
            let mut inputs: HashMap<String, (Tracked, Span)> = HashMap::new();
            {
                let scope = Scope {
                    each: each.clone(),
                    count_index,
                    ..t.scope(module, &self.config.root_dir)
                };
                let mut ev = Evaluator::new(&scope, call.file);
                for s in call.body.iter() {
                    if let Structure::Attribute(a) = s {
                        let name = a.key.as_str();
                        let span = Span::new(call.file, a.key.span().unwrap_or(0..0));
                        if !child.variables.iter().any(|v| v.name == name) {
                            let names: Vec<&str> =
                                child.variables.iter().map(|v| v.name.as_str()).collect();
                            ev.diags.push(
                                Diagnostic::error(format!("{what} has no input variable `{name}`"))
                                    .at(Some(span))
                                    .expected(format!(
                                        "one of {}",
                                        if names.is_empty() {
                                            "(none)".to_string()
                                        } else {
                                            names.join(", ")
                                        }
                                    ))
                                    .maybe_help(
                                        did_you_mean(name, names.iter().copied())
                                            .map(|s| format!("did you mean `{s}`?")),
                                    ),
                            );
                            continue;
                        }
                        ev.reset_tracking();
                        let value = ev.eval(&a.value);
                        let value_span = a
                            .value
                            .span()
                            .map(|r| Span::new(call.file, r))
                            .unwrap_or(span);
                        inputs.insert(
                            name.to_string(),
                            (
                                Tracked {
                                    value,
                                    deps: ev.deps.clone(),
                                    sensitive: ev.sensitive,
                                },
                                value_span,
                            ),
                        );
                    }
                }
                self.take(ev);
            }
            let mut vars = HashMap::new();
            for v in &child.variables {
                let given = inputs
                    .remove(&v.name)
                    .map(|(tr, span)| (tr, what.clone(), Some(span)));
                let given = match given {
                    Some(g) => Some(g),
                    None if v.default.is_none() => {
                        self.err(
                            Diagnostic::error(format!(
                                "{what} is missing the required input `{}`",
                                v.name
                            ))
                            .at(Some(call.span))
                            .expected(format!("{} = <{}>", v.name, v.ty)),
                        );
                        continue;
                    }
                    None => None,
                };
                if let Some(tr) = self.finish_variable(v, given) {
                    vars.insert(v.name.clone(), tr);
                }
            }
            let mut child_path = path.to_vec();
            child_path.push(ModuleStep {
                name: call.name.clone(),
                key: key.clone(),
            });
            let outputs = self
                .eval_module(child, &child_path, vars, &child_providers, &deps_for_child)
                .outputs;
            let mut obj = BTreeMap::new();
            for (name, tr) in outputs {
                deps.extend(tr.deps.iter().cloned());
                sensitive |= tr.sensitive;
                obj.insert(name, tr.value);
            }
            match &key {
                None => single = Value::Map(obj),
                Some(InstanceKey::Index(_)) => list.push(Value::Map(obj)),
                Some(InstanceKey::Key(k)) => {
                    map.insert(k.clone(), Value::Map(obj));
                }
            }
        }
        let created: BTreeSet<String> = self.out.resources[first_resource..]
            .iter()
            .map(|r| r.address.to_string())
            .collect();
        t.module_resources.insert(call.name.clone(), created);
        let value = if !multi {
            single
        } else if call.count.is_some() {
            Value::List(list)
        } else {
            Value::Map(map)
        };
        t.modules.insert(
            call.name.clone(),
            Tracked {
                value,
                deps,
                sensitive,
            },
        );
    }
}

/// An unknown block's diagnostic, with the blocks `schema` has and the closest one.
fn block_choice(d: Diagnostic, schema: &BlockSchema, name: &str) -> Diagnostic {
    let names: Vec<&str> = schema.blocks.iter().map(|b| b.name).collect();
    d.expected(if names.is_empty() {
        "no nested blocks".to_string()
    } else {
        format!("one of {}", names.join(", "))
    })
    .maybe_help(did_you_mean(name, names.iter().copied()).map(|s| format!("did you mean `{s}`?")))
}

/// "did you mean" for a value outside an allowed set: every close value, so a near miss
/// between `A100` and `A100-80GB` names both.
fn close_help(value: &str, allowed: &[&str]) -> Option<String> {
    let close = crate::diag::close_names(value, allowed.iter().copied());
    match close.as_slice() {
        [] => None,
        [one] => Some(format!("did you mean \"{one}\"?")),
        many => Some(format!(
            "did you mean one of {}?",
            many.iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Evaluates a resource body against its kind's schema.
struct BodyCtx<'e, 's, 'a> {
    ev: &'e mut Evaluator<'s, 'a>,
    cloud: Option<Cloud>,
    kind: &'static KindSchema,
    what: &'e str,
    deps: &'e mut BTreeSet<String>,
    sensitive: &'e mut BTreeSet<String>,
}

impl BodyCtx<'_, '_, '_> {
    fn span(&self, r: Option<std::ops::Range<usize>>) -> Option<Span> {
        r.map(|r| Span::new(self.ev.file, r))
    }

    fn push(&mut self, d: Diagnostic) {
        self.ev.diags.push(d);
    }

    fn eval_block(
        &mut self,
        body: &Body,
        schema: &BlockSchema,
        path: &str,
        out: &mut BTreeMap<String, Value>,
        block_span: Span,
        root: bool,
    ) {
        let cloud_name = self.cloud.map(|c| c.as_str()).unwrap_or("?");
        let here = if path.is_empty() {
            self.what.to_string()
        } else {
            format!("{} block `{}`", self.what, path.trim_end_matches('.'))
        };
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str();
                    let key_span = self.span(a.key.span());
                    if root && name == "cloud" {
                        continue;
                    }
                    let Some(attr) = schema.attribute(name) else {
                        let d = if schema.block(name).is_some() {
                            Diagnostic::error(format!(
                                "`{name}` is a block in {here}, not an attribute"
                            ))
                            .at(key_span)
                            .expected(format!("{name} {{ … }}"))
                            .help(format!("write `{name} {{ … }}` without `=`"))
                        } else {
                            let names: Vec<&str> = schema
                                .attributes
                                .iter()
                                .filter(|a| !a.read_only && a.applies_to(self.cloud))
                                .map(|a| a.name)
                                .chain(schema.blocks.iter().map(|b| b.name))
                                .collect();
                            let suggestion = did_you_mean(name, names.iter().copied());
                            if let Some(sug) = suggestion {
                                // The misspelt attribute stands in for the one it resembles.
                                out.entry(sug.to_string()).or_insert(Value::Unknown);
                            }
                            Diagnostic::error(format!("unknown attribute `{name}` in {here}"))
                                .at(key_span)
                                .expected(format!("one of {}", names.join(", ")))
                                .maybe_help(suggestion.map(|s| format!("did you mean `{s}`?")))
                        };
                        self.push(d);
                        continue;
                    };
                    if attr.read_only {
                        self.push(
                            Diagnostic::error(format!("`{name}` is set by the cloud after apply and cannot be written in {here}"))
                                .at(key_span)
                                .help(format!("remove it; read it from other resources as {}.{}", self.what, name)),
                        );
                        continue;
                    }
                    if !attr.applies_to(self.cloud) {
                        let clouds: Vec<&str> = attr.clouds.iter().map(|c| c.as_str()).collect();
                        self.push(
                            Diagnostic::error(format!(
                                "`{name}` applies only on {}; {} is on {cloud_name}",
                                clouds.join(", "),
                                self.what
                            ))
                            .at(key_span)
                            .help("remove it, or move the resource to that cloud"),
                        );
                        continue;
                    }
                    if out.get(name).is_some_and(|v| !v.is_unknown()) {
                        self.push(
                            Diagnostic::error(format!("`{name}` is set twice in {here}"))
                                .at(key_span)
                                .help("remove one of them"),
                        );
                        continue;
                    }
                    self.ev.reset_tracking();
                    let raw = self.ev.eval(&a.value);
                    self.deps.extend(self.ev.deps.iter().cloned());
                    let value_span = self.span(a.value.span());
                    // A resource object where a name of one kind is expected must be of it.
                    let wanted = match &attr.ty {
                        AttrType::Ref(k) => Some(*k),
                        AttrType::List(inner) => match inner.as_ref() {
                            AttrType::Ref(k) => Some(*k),
                            _ => None,
                        },
                        _ => None,
                    };
                    let objects = match &raw {
                        Value::Map(_) => true,
                        Value::List(items) => items.iter().any(|i| matches!(i, Value::Map(_))),
                        _ => false,
                    };
                    if let (Some(k), true) = (wanted, objects) {
                        let kinds: BTreeSet<String> = self
                            .ev
                            .deps
                            .iter()
                            .filter_map(|d| Address::parse(d).ok())
                            .map(|a| a.kind)
                            .collect();
                        if !kinds.is_empty() && !kinds.contains(k) {
                            let found: Vec<&str> = kinds.iter().map(String::as_str).collect();
                            self.push(
                                Diagnostic::error(format!(
                                    "`{name}` in {here} takes a {k}, but this refers to a {}",
                                    found.join(" and a ")
                                ))
                                .at(value_span)
                                .expected(format!("{name} = {k}.NAME, or the name of a {k}")),
                            );
                            out.insert(name.to_string(), Value::Unknown);
                            continue;
                        }
                    }
                    let value = match attr.ty.convert(&raw) {
                        Ok(v) => v,
                        Err(m) => {
                            let help = match (&attr.ty, m.path.as_slice()) {
                                (AttrType::Object(fields), [extra]) => {
                                    did_you_mean(extra, fields.iter().map(|(n, _, _)| n.as_str()))
                                        .map(|s| format!("did you mean `{s}`?"))
                                }
                                _ => None,
                            };
                            self.push(
                                Diagnostic::error(format!(
                                    "wrong type for `{name}` in {here}: {}",
                                    if self.ev.sensitive {
                                        format!(
                                            "expected {} (the value is sensitive and not shown)",
                                            m.expected
                                        )
                                    } else {
                                        m.to_string()
                                    }
                                ))
                                .at(value_span)
                                .expected(format!("{name} = <{}>", attr.ty))
                                .maybe_help(help),
                            );
                            out.insert(name.to_string(), Value::Unknown);
                            continue;
                        }
                    };
                    if let (Some(s), false) = (value.as_str(), attr.allowed.is_empty()) {
                        if !attr.allowed.contains(&s) {
                            self.push(
                                Diagnostic::error(if self.ev.sensitive {
                                    format!("invalid value for `{name}` in {here} (the value is sensitive and not shown)")
                                } else {
                                    format!("invalid value \"{s}\" for `{name}` in {here}")
                                })
                                .at(value_span)
                                .expected(format!(
                                    "one of {}",
                                    attr.allowed
                                        .iter()
                                        .map(|a| format!("\"{a}\""))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ))
                                .maybe_help(close_help(s, attr.allowed)),
                            );
                            out.insert(name.to_string(), Value::Unknown);
                            continue;
                        }
                    }
                    if self.ev.sensitive || attr.sensitive {
                        self.sensitive.insert(format!("{path}{name}"));
                    }
                    out.insert(name.to_string(), value);
                }
                Structure::Block(b) => {
                    let name = b.ident.as_str();
                    let bspan = header_span(b, self.ev.file);
                    if root && ["lifecycle", "timeouts", "usage"].contains(&name) {
                        continue;
                    }
                    if name == "dynamic" {
                        self.eval_dynamic(b, schema, path, out, &here);
                        continue;
                    }
                    let Some(bs) = schema.block(name) else {
                        let d = if schema.attribute(name).is_some() {
                            Diagnostic::error(format!(
                                "`{name}` is an attribute in {here}, not a block"
                            ))
                            .at(Some(bspan))
                            .expected(format!("{name} = …"))
                            .help(format!("write `{name} = {{ … }}` with `=`"))
                        } else {
                            block_choice(
                                Diagnostic::error(format!("unknown block `{name}` in {here}"))
                                    .at(Some(bspan)),
                                schema,
                                name,
                            )
                        };
                        self.push(d);
                        continue;
                    };
                    if bs.labeled {
                        if b.labels.len() != 1 {
                            self.push(
                                Diagnostic::error(format!("`{name}` block needs one label"))
                                    .at(Some(bspan))
                                    .expected(format!("{name} \"NAME\" {{ … }}")),
                            );
                            continue;
                        }
                        let label = b.labels[0].as_str().to_string();
                        let at = Some(bspan);
                        self.labeled_block(&b.body, bs, path, label, out, (bspan, at), &here, None);
                    } else {
                        if !b.labels.is_empty() {
                            self.push(
                                Diagnostic::error(format!("`{name}` block takes no label"))
                                    .at(Some(bspan))
                                    .expected(format!("{name} {{ … }}")),
                            );
                            continue;
                        }
                        if out.contains_key(name) {
                            self.push(
                                Diagnostic::error(format!(
                                    "`{name}` block appears twice in {here}"
                                ))
                                .at(Some(bspan))
                                .help("merge them into one block"),
                            );
                            continue;
                        }
                        let mut inner = BTreeMap::new();
                        self.eval_block(
                            &b.body,
                            bs,
                            &format!("{path}{name}."),
                            &mut inner,
                            bspan,
                            false,
                        );
                        out.insert(name.to_string(), Value::Map(inner));
                    }
                }
            }
        }
        // Required attributes, defaults and absent optionals.
        for a in &schema.attributes {
            if !a.applies_to(self.cloud) || out.contains_key(a.name) || (root && a.name == "cloud")
            {
                continue;
            }
            if a.required {
                self.push(
                    Diagnostic::error(format!("missing required attribute `{}` in {here}", a.name))
                        .at(Some(block_span))
                        .expected(format!("{} = <{}>  # {}", a.name, a.ty, a.description)),
                );
                continue;
            }
            if let Some(d) = &a.default {
                out.insert(a.name.to_string(), d.clone());
            } else if !a.computed {
                out.insert(a.name.to_string(), Value::Null);
            }
        }
        for b in &schema.blocks {
            if out.contains_key(b.name) {
                continue;
            }
            if b.required {
                self.push(
                    Diagnostic::error(format!("missing required block `{}` in {here}", b.name))
                        .at(Some(block_span))
                        .expected(format!("{} {{ … }}", b.name)),
                );
            }
            out.insert(
                b.name.to_string(),
                if b.labeled {
                    Value::Map(BTreeMap::new())
                } else {
                    Value::Null
                },
            );
        }
        let _ = self.kind;
    }

    /// Evaluate one `NAME "LABEL" { … }` block into `out[NAME][LABEL]`; `spans` are the
    /// block's and where a label taken twice is reported (with `note`).
    #[allow(clippy::too_many_arguments)]
    fn labeled_block(
        &mut self,
        body: &Body,
        bs: &BlockSchema,
        path: &str,
        label: String,
        out: &mut BTreeMap<String, Value>,
        spans: (Span, Option<Span>),
        here: &str,
        note: Option<&str>,
    ) {
        let name = bs.name;
        let entry = out
            .entry(name.to_string())
            .or_insert_with(|| Value::Map(BTreeMap::new()));
        let Value::Map(groups) = entry else { return };
        if groups.contains_key(&label) {
            let mut d =
                Diagnostic::error(format!("{name} \"{label}\" is declared twice in {here}"))
                    .at(spans.1);
            if let Some(n) = note {
                d = d.note(n);
            }
            self.push(d);
            return;
        }
        let mut inner = BTreeMap::new();
        self.eval_block(
            body,
            bs,
            &format!("{path}{name}.{}.", key_literal(&label)),
            &mut inner,
            spans.0,
            false,
        );
        if let Some(Value::Map(groups)) = out.get_mut(name) {
            groups.insert(label, Value::Map(inner));
        }
    }

    /// `dynamic "BLOCK" { for_each  iterator  labels  content { … } }`: one `BLOCK` per
    /// element, with the iterator (named BLOCK unless `iterator` says) as `{ key, value }`.
    fn eval_dynamic(
        &mut self,
        b: &hcl_edit::structure::Block,
        schema: &BlockSchema,
        path: &str,
        out: &mut BTreeMap<String, Value>,
        here: &str,
    ) {
        let bspan = header_span(b, self.ev.file);
        let form = "dynamic \"BLOCK\" { for_each = COLLECTION  content { … } }";
        if b.labels.len() != 1 {
            self.push(
                Diagnostic::error("`dynamic` block needs one label: the type of block it makes")
                    .at(Some(bspan))
                    .expected(form),
            );
            return;
        }
        let name = b.labels[0].as_str();
        let Some(bs) = schema.block(name) else {
            self.push(block_choice(
                Diagnostic::error(format!(
                    "dynamic block makes `{name}`, which is not a block in {here}"
                ))
                .at(Some(bspan)),
                schema,
                name,
            ));
            return;
        };
        let (mut for_each, mut iterator, mut labels, mut content) = (None, None, None, None);
        for s in b.body.iter() {
            match s {
                Structure::Attribute(a) => match a.key.as_str() {
                    "for_each" => for_each = Some(&a.value),
                    "labels" => labels = Some(&a.value),
                    "iterator" => match &a.value {
                        Expression::Variable(v) => iterator = Some(v.as_str().to_string()),
                        other => self.push(
                            Diagnostic::error("`iterator` must be a name, not a value")
                                .at(self.span(other.span()))
                                .expected("iterator = NAME (without quotes)"),
                        ),
                    },
                    other => {
                        let known = ["for_each", "iterator", "labels"];
                        self.push(
                            Diagnostic::error(format!(
                                "unknown attribute `{other}` in dynamic \"{name}\""
                            ))
                            .at(self.span(a.key.span()))
                            .expected("for_each, iterator, labels, and a content block")
                            .maybe_help(
                                did_you_mean(other, known.iter().copied())
                                    .map(|s| format!("did you mean `{s}`?")),
                            ),
                        )
                    }
                },
                Structure::Block(c) if c.ident.as_str() == "content" && content.is_none() => {
                    content = Some(c)
                }
                Structure::Block(c) => self.push(
                    Diagnostic::error(format!(
                        "unexpected block `{}` in dynamic \"{name}\"",
                        c.ident.as_str()
                    ))
                    .at(Some(header_span(c, self.ev.file)))
                    .expected("one content { … } block"),
                ),
            }
        }
        let (Some(for_each), Some(content)) = (for_each, content) else {
            self.push(
                Diagnostic::error(format!(
                    "dynamic \"{name}\" needs `for_each` and a `content` block"
                ))
                .at(Some(bspan))
                .expected(form),
            );
            return;
        };
        if bs.labeled && labels.is_none() {
            self.push(
                Diagnostic::error(format!(
                    "dynamic \"{name}\" needs `labels`: each {name} block has a label"
                ))
                .at(Some(bspan))
                .expected(format!(
                    "labels = [{}.key]",
                    iterator.as_deref().unwrap_or(name)
                )),
            );
            return;
        }
        if !bs.labeled && labels.is_some() {
            self.push(
                Diagnostic::error(format!(
                    "`{name}` blocks take no label, so dynamic \"{name}\" takes no `labels`"
                ))
                .at(labels.and_then(|l| self.span(l.span())))
                .help("remove `labels`"),
            );
            return;
        }
        self.ev.reset_tracking();
        let coll = self.ev.eval(for_each);
        self.deps.extend(self.ev.deps.iter().cloned());
        let at = self.span(for_each.span());
        if self.ev.sensitive {
            self.push(
                Diagnostic::error(format!("the for_each of dynamic \"{name}\" is sensitive"))
                    .at(at)
                    .note("the blocks it makes, and so how many there are, would show in the plan")
                    .help("iterate over a value that is not sensitive (nonsensitive keys, for example)"),
            );
            return;
        }
        let items: Vec<(Value, Value)> = match coll {
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Number(i as f64), v))
                .collect(),
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            Value::Null => {
                self.push(
                    Diagnostic::error(format!("the for_each of dynamic \"{name}\" is null"))
                        .at(at)
                        .expected("a list, set or map; [] makes no blocks"),
                );
                return;
            }
            Value::Unknown => {
                // Known after apply: so are the blocks.
                out.entry(name.to_string()).or_insert(Value::Unknown);
                return;
            }
            other => {
                self.push(
                    Diagnostic::error(format!(
                        "the for_each of dynamic \"{name}\" is a {}",
                        other.type_name()
                    ))
                    .at(at)
                    .expected("a list, set or map"),
                );
                return;
            }
        };
        let iterator = iterator.unwrap_or_else(|| name.to_string());
        let cspan = header_span(content, self.ev.file);
        for (key, value) in items {
            let it = Value::Map(BTreeMap::from([
                ("key".to_string(), key),
                ("value".to_string(), value),
            ]));
            self.ev.push_name(&iterator, it);
            // `labels` is there exactly when the block type is labeled (checked above).
            if let (true, Some(label_expr)) = (bs.labeled, labels) {
                self.ev.reset_tracking();
                let l = self.ev.eval(label_expr);
                self.deps.extend(self.ev.deps.iter().cloned());
                let label = match &l {
                    Value::List(v) if v.len() == 1 => match &v[0] {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(Value::Number(*n).to_hcl()),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(label) = label else {
                    if !l.is_unknown() {
                        self.push(
                            Diagnostic::error(format!(
                                "the labels of dynamic \"{name}\" must be a list of one string, not {}",
                                l.type_name()
                            ))
                            .at(self.span(label_expr.span()))
                            .expected(format!("labels = [{iterator}.key]")),
                        );
                    }
                    self.ev.pop_name();
                    continue;
                };
                let at = self.span(label_expr.span());
                self.labeled_block(
                    &content.body,
                    bs,
                    path,
                    label,
                    out,
                    (cspan, at),
                    here,
                    Some("dynamic blocks make one block per element, and labels must differ"),
                );
            } else if out.get(name).is_some_and(|v| !matches!(v, Value::Null)) {
                self.push(
                    Diagnostic::error(format!("dynamic \"{name}\" makes a second `{name}` block in {here}, which takes one"))
                        .at(at)
                        .help("make for_each hold at most one element, as in `for_each = var.enabled ? [1] : []`"),
                );
                self.ev.pop_name();
                break;
            } else {
                let mut inner = BTreeMap::new();
                self.eval_block(
                    &content.body,
                    bs,
                    &format!("{path}{name}."),
                    &mut inner,
                    cspan,
                    false,
                );
                out.insert(name.to_string(), Value::Map(inner));
            }
            self.ev.pop_name();
        }
    }
}

/// A GPU pool's machine comes from the GPU catalog unless `instance_type` is set; what the
/// cloud's provider block lists (`gpu_pool_from_cluster`) follows the cluster.
fn gpu_pool_defaults(
    ev: &mut Evaluator<'_, '_>,
    decl: &ResourceDecl,
    cloud: Option<Cloud>,
    attrs: &mut BTreeMap<String, Value>,
) {
    // A shared pool's nodes carry the label that selects their NVIDIA configuration
    // (`mlinfra policy emit` writes the configuration under the same name).
    let mode = attrs
        .get("sharing")
        .and_then(Value::as_map)
        .and_then(|m| m.get("mode"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let key = match mode.as_deref() {
        Some("mig") => Some("nvidia.com/mig.config"),
        Some("time_slicing") => Some("nvidia.com/device-plugin.config"),
        _ => None,
    };
    let name = attrs
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let (Some(key), Some(name), Some(Value::Map(labels))) = (key, name, attrs.get_mut("labels"))
    {
        labels
            .entry(key.to_string())
            .or_insert_with(|| Value::String(format!("mlinfra-{name}")));
    }
    let Some(cloud) = cloud else { return };
    // What the manifest leaves out follows the cluster and the catalog, not the prior state.
    let from_cluster = mlinfra_schema::providers::provider_block(cloud).gpu_pool_from_cluster;
    if !from_cluster.is_empty() {
        if let Some(a) = decl.body.get_attribute("cluster") {
            let v = ev.eval(&a.value);
            for &name in from_cluster {
                if decl.body.get_attribute(name).is_some() {
                    continue;
                }
                if let Some(x) = v.as_map().and_then(|m| m.get(name)) {
                    attrs.insert(name.into(), x.clone());
                }
            }
        }
    }
    if decl.body.get_attribute("instance_type").is_some() {
        return;
    }
    let (Some(accelerator), Some(gpus)) = (
        attrs.get("accelerator").and_then(Value::as_str),
        attrs.get("gpus_per_node").and_then(Value::as_f64),
    ) else {
        return;
    };
    let whole = gpus.fract() == 0.0 && gpus >= 1.0 && gpus <= f64::from(u32::MAX);
    let machine = if whole {
        mlinfra_schema::gpu::machine_for(cloud, accelerator, gpus as u32)
    } else {
        None
    };
    match machine {
        Some(m) => {
            attrs.insert("instance_type".into(), Value::from(m.instance_type));
        }
        None => {
            let at = decl
                .body
                .get_attribute("gpus_per_node")
                .or_else(|| decl.body.get_attribute("accelerator"))
                .and_then(|a| a.value.span())
                .map(|r| Span::new(decl.file, r))
                .or(Some(decl.span));
            let reason = if whole {
                mlinfra_schema::gpu::no_machine_reason(cloud, accelerator, gpus as u32)
            } else {
                format!("gpus_per_node must be a whole number of at least 1, found {gpus}")
            };
            ev.diags.push(
                Diagnostic::error(format!(
                    "no {cloud} machine carries {} × {accelerator}",
                    mlinfra_schema::format_number(gpus)
                ))
                .at(at)
                .expected("an accelerator × gpus_per_node pair from the GPU catalog")
                .help(reason),
            );
        }
    }
}
