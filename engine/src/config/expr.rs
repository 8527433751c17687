//! Evaluate HCL expressions to values, tracking the resources and secrets they touch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::config::syntax::Element;
use crate::config::syntax::Span as _;
use crate::config::syntax::{
    BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator,
};
use mlinfra_schema::{format_number, kind, AttrType, Value};

use crate::budget;
use crate::config::functions;
use crate::diag::{did_you_mean, Diagnostic, FileId, Span};

mod marks;
mod templates;

/// A value together with the resource instances it was computed from, whether it is
/// secret, and whether it is ephemeral (never written to a plan or the state).
#[derive(Clone, Debug, Default)]
pub struct Tracked {
    pub value: Value,
    pub deps: BTreeSet<String>,
    pub sensitive: bool,
    pub ephemeral: bool,
}

impl Tracked {
    pub fn plain(value: Value) -> Tracked {
        Tracked {
            value,
            ..Default::default()
        }
    }
}

/// The names an expression can refer to in one module instance.
#[derive(Default)]
pub struct Scope<'a> {
    pub vars: Option<&'a HashMap<String, Tracked>>,
    pub locals: Option<&'a HashMap<String, Tracked>>,
    pub modules: Option<&'a HashMap<String, Tracked>>,
    /// `kind.name` → the resource's value (an object, or a list/map of them).
    pub resources: Option<&'a HashMap<(String, String), Tracked>>,
    /// Names declared in the module, for "did you mean" on references not yet evaluated.
    pub declared: Option<&'a BTreeSet<String>>,
    /// The module's variable declarations, for the types they declare.
    pub variables: Option<&'a [crate::config::load::VariableDecl]>,
    pub each: Option<(Value, Value)>,
    pub count_index: Option<usize>,
    pub module_dir: Option<&'a Path>,
    pub root_dir: Option<&'a Path>,
    /// Describes where references are not allowed (e.g. "a variable default").
    pub no_references: Option<&'static str>,
}

/// Evaluates expressions of one file in one scope, collecting diagnostics.
pub struct Evaluator<'s, 'a> {
    pub scope: &'s Scope<'a>,
    pub file: FileId,
    pub diags: Vec<Diagnostic>,
    pub deps: BTreeSet<String>,
    pub sensitive: bool,
    /// The expression read an ephemeral value.
    pub ephemeral: bool,
    locals: Vec<HashMap<String, Value>>,
    /// Inside `templatefile`/`templatestring`: the names of the template's variables.
    template_vars: Option<BTreeSet<String>>,
    /// Evaluating for `mlinfra console`, where `type()` is available.
    pub console: bool,
}

/// An expression failed; its diagnostics are in the evaluator.
#[derive(Debug, Clone, Copy)]
pub struct EvalError;

type Res = Result<Value, EvalError>;

impl<'s, 'a> Evaluator<'s, 'a> {
    pub fn new(scope: &'s Scope<'a>, file: FileId) -> Self {
        Evaluator {
            scope,
            file,
            diags: Vec::new(),
            deps: BTreeSet::new(),
            sensitive: false,
            ephemeral: false,
            locals: Vec::new(),
            template_vars: None,
            console: false,
        }
    }

    /// Evaluate, turning errors into `Unknown` so later checks do not repeat them.
    pub fn eval(&mut self, e: &Expression) -> Value {
        self.eval_expr(e).unwrap_or(Value::Unknown)
    }

    /// Evaluate and report whether any error occurred.
    pub fn try_eval(&mut self, e: &Expression) -> Result<Value, EvalError> {
        self.eval_expr(e)
    }

    /// The value of `e` for its type alone: its diagnostics, references and marks are
    /// dropped, and a failure is `None`. An exhausted budget still stops the evaluation.
    fn peek(&mut self, e: &Expression) -> Result<Option<Value>, EvalError> {
        let diags = self.diags.len();
        let deps = self.deps.clone();
        let (sensitive, ephemeral) = (self.sensitive, self.ephemeral);
        let r = self.eval_expr(e);
        self.diags.truncate(diags);
        self.deps = deps;
        (self.sensitive, self.ephemeral) = (sensitive, ephemeral);
        match r {
            Ok(v) => Ok(Some(v)),
            Err(EvalError) if budget::overrun().is_some() => Err(EvalError),
            Err(EvalError) => Ok(None),
        }
    }

    /// Make `name` a local name (a `dynamic` block's iterator) until [`Self::pop_name`].
    pub fn push_name(&mut self, name: &str, value: Value) {
        self.locals.push(HashMap::from([(name.to_string(), value)]));
    }

    pub fn pop_name(&mut self) {
        self.locals.pop();
    }

    /// Start tracking a fresh expression: clear deps and the sensitive flag.
    pub fn reset_tracking(&mut self) {
        self.deps.clear();
        self.sensitive = false;
        self.ephemeral = false;
    }

    fn span(&self, r: Option<std::ops::Range<usize>>) -> Option<Span> {
        r.map(|r| Span::new(self.file, r))
    }

    fn err(&mut self, at: Option<std::ops::Range<usize>>, d: Diagnostic) -> Res {
        let span = self.span(at);
        self.diags.push(d.at(span));
        Err(EvalError)
    }

    /// Evaluate one expression within the evaluation budget: a step for the expression,
    /// and the elements and bytes of what it builds or copies.
    fn eval_expr(&mut self, e: &Expression) -> Res {
        if let Err(o) = budget::step() {
            return self.overrun(e.span(), o);
        }
        let v = self.eval_inner(e)?;
        let charged = match e {
            // Copies of referenced values and what functions build from their arguments.
            Expression::Variable(_) | Expression::FuncCall(_) => budget::value(&v),
            // The items of a for-expression were charged as its body built them.
            Expression::ForExpr(_) => budget::reserve(shallow_len(&v), 0),
            Expression::Array(a) => budget::reserve(a.len() as u64, 0),
            Expression::Object(o) => budget::reserve(o.len() as u64, 0),
            _ => Ok(()),
        };
        match charged {
            Ok(()) => Ok(v),
            Err(o) => self.overrun(e.span(), o),
        }
    }

    /// Report the first overrun of the evaluation at the expression that caused it; later
    /// ones fail quietly, so an exhausted budget ends the evaluation quickly.
    fn overrun(&mut self, at: Option<std::ops::Range<usize>>, o: budget::Overrun) -> Res {
        if !budget::first_report() {
            return Err(EvalError);
        }
        let (what, name) = o.describe();
        self.err(
            at,
            Diagnostic::error(format!("{what}, the limit for one evaluation"))
                .note("a configuration that builds this much is almost always a mistake: nested for-expressions over large collections, or values that double at every step")
                .help(format!("if it is intended, raise the limit: mlinfra --limit {name}=N … (see docs/language.md#limits)")),
        )
    }

    fn eval_inner(&mut self, e: &Expression) -> Res {
        match e {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            // The number as written, at 512 bits, as Terraform reads it.
            Expression::Number(n) => match n.value().clone() {
                Some(x) => Ok(Value::Number(x)),
                None => self.err(
                    e.span(),
                    Diagnostic::error("this number is too large to represent")
                        .expected("a number between -1.8e308 and 1.8e308"),
                ),
            },
            Expression::String(s) => Ok(Value::String(s.value().to_string())),
            Expression::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut failed = false;
                for item in items.iter() {
                    match self.eval_expr(item) {
                        Ok(v) => out.push(v),
                        Err(EvalError) => failed = true,
                    }
                }
                if failed {
                    Err(EvalError)
                } else {
                    Ok(Value::List(out))
                }
            }
            Expression::Object(obj) => {
                let mut out = BTreeMap::new();
                let mut failed = false;
                let mut unknown_key = false;
                for (k, v) in obj.iter() {
                    let key = match k {
                        ObjectKey::Ident(id) => Value::String(id.as_str().to_string()),
                        // A bare keyword is its name, as in HCL: `{ null = 1 }` has the key "null".
                        ObjectKey::Expression(Expression::Null(_)) => Value::String("null".into()),
                        ObjectKey::Expression(Expression::Bool(b)) => {
                            Value::String(b.value().to_string())
                        }
                        // `{ var.x = 1 }`: a reference or a dotted name? HCL refuses to guess.
                        ObjectKey::Expression(Expression::Traversal(t))
                            if matches!(t.expr, Expression::Variable(_)) =>
                        {
                            let text = Expression::Traversal(t.clone()).to_string();
                            let text = text.trim();
                            let _ = self.err(
                                k.span(),
                                Diagnostic::error(format!("ambiguous object key `{text}`"))
                                    .expected("a name, a quoted string, or an expression in parentheses")
                                    .help(format!(
                                        "write ({text}) = … to use its value as the key, or \"{text}\" = … for a key with dots in it"
                                    )),
                            );
                            failed = true;
                            continue;
                        }
                        ObjectKey::Expression(ke) => match self.eval_expr(ke) {
                            Ok(v) => v,
                            Err(EvalError) => {
                                failed = true;
                                continue;
                            }
                        },
                    };
                    let val = match self.eval_expr(v.expr()) {
                        Ok(v) => v,
                        Err(EvalError) => {
                            failed = true;
                            continue;
                        }
                    };
                    match key {
                        Value::Unknown => unknown_key = true,
                        Value::String(s) => {
                            out.insert(s, val);
                        }
                        Value::Number(n) => {
                            out.insert(format_number(&n), val);
                        }
                        Value::Bool(b) => {
                            out.insert(b.to_string(), val);
                        }
                        other => {
                            let _ = self.err(
                                k.span(),
                                Diagnostic::error(format!("object key is a {}", other.type_name()))
                                    .expected("a string key"),
                            );
                            failed = true;
                        }
                    }
                }
                if failed {
                    Err(EvalError)
                } else if unknown_key {
                    Ok(Value::Unknown)
                } else {
                    Ok(Value::Map(out))
                }
            }
            Expression::StringTemplate(t) => {
                // A template that is one interpolation and nothing else is its value, not
                // a string of it, as in Terraform (`"${true}"` is a bool, `"${var.list}"`
                // a list).
                if let [Element::Interpolation(i)] = t.iter().collect::<Vec<_>>()[..] {
                    return self.eval_expr(&i.expr);
                }
                self.template(t)
            }
            // The parser has already removed a `<<-` heredoc's indentation (outside
            // directive bodies).
            Expression::HeredocTemplate(h) => self.template(&h.template),
            Expression::Parenthesis(p) => self.eval_expr(p.inner()),
            Expression::Variable(v) => {
                let name = v.as_str();
                if let Some(val) = self.lookup_local(name) {
                    return Ok(val);
                }
                self.resolve_root(name, &[], e.span())
            }
            Expression::Conditional(c) => {
                let cond = self.eval_expr(&c.cond_expr)?;
                match cond {
                    Value::Bool(b) => {
                        let (taken, other) = if b {
                            (&c.true_expr, &c.false_expr)
                        } else {
                            (&c.false_expr, &c.true_expr)
                        };
                        let v = self.eval_expr(taken)?;
                        // Both arms have one type, as in Terraform (`true ? 12 : "a"` is
                        // "12"). The other arm is read for its type only: its errors,
                        // references and marks do not count.
                        let Some(o) = self.peek(other)? else {
                            return Ok(v);
                        };
                        match functions::unify::unify_with(v, &[&o]) {
                            Ok(v) => Ok(v),
                            Err(why) => {
                                let (t, f) = if b {
                                    ("true", "false")
                                } else {
                                    ("false", "true")
                                };
                                self.err(
                                    e.span(),
                                    Diagnostic::error(format!(
                                        "inconsistent conditional result types: the {t} and {f} results have {why}"
                                    ))
                                    .expected("both results of one type, or of types that convert to one (a string with a number or bool)")
                                    .help("convert one side, like tostring(…), or make both sides lists or both objects"),
                                )
                            }
                        }
                    }
                    Value::Unknown => {
                        // Still evaluate both sides for errors and dependencies.
                        let _ = self.eval_expr(&c.true_expr)?;
                        let _ = self.eval_expr(&c.false_expr)?;
                        Ok(Value::Unknown)
                    }
                    other => self.err(
                        c.cond_expr.span(),
                        Diagnostic::error(format!(
                            "condition is a {}, not a bool",
                            other.type_name()
                        ))
                        .expected("a bool condition, e.g. var.env == \"prod\""),
                    ),
                }
            }
            Expression::FuncCall(call) => self.call(call),
            Expression::Traversal(t) => self.traversal(t),
            Expression::UnaryOp(op) => {
                let v = self.eval_expr(&op.expr)?;
                match (op.operator.value(), v) {
                    (_, Value::Unknown) => Ok(Value::Unknown),
                    (UnaryOperator::Neg, Value::Number(n)) => Ok(Value::Number(n.neg())),
                    (UnaryOperator::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                    (o, v) => self.err(
                        e.span(),
                        Diagnostic::error(format!(
                            "cannot apply `{}` to a {}",
                            o.as_str(),
                            v.type_name()
                        )),
                    ),
                }
            }
            Expression::BinaryOp(op) => {
                self.binary(op.operator.value(), &op.lhs_expr, &op.rhs_expr, e)
            }
            Expression::ForExpr(f) => self.for_expr(f),
        }
    }

    /// The tracked value of `var.x`, `local.x`, `module.x` or `KIND.x`, if it exists.
    fn lookup_tracked(&self, root: &str, name: &str) -> Option<&'a Tracked> {
        if self.scope.no_references.is_some() {
            return None;
        }
        let scope: &Scope<'a> = self.scope;
        match root {
            "var" => scope.vars?.get(name),
            "local" => scope.locals?.get(name),
            "module" => scope.modules?.get(name),
            k if kind(k).is_some() => scope.resources?.get(&(k.to_string(), name.to_string())),
            _ => None,
        }
    }

    /// The type the configuration declares for what `e` reads: a variable with a `type`
    /// and the attributes and elements read from it. `None` when nothing declares one
    /// (a value here does not carry its type).
    fn declared_type(&self, e: &Expression) -> Option<AttrType> {
        let t = match e {
            Expression::Parenthesis(p) => return self.declared_type(p.inner()),
            Expression::Traversal(t) => t,
            _ => return None,
        };
        let Expression::Variable(root) = &t.expr else {
            return None;
        };
        if root.as_str() != "var" || self.lookup_local("var").is_some() {
            return None;
        }
        let mut ops = t.operators.iter().map(|o| o.value());
        let Some(TraversalOperator::GetAttr(name)) = ops.next() else {
            return None;
        };
        let decl = self
            .scope
            .variables?
            .iter()
            .find(|v| v.name == name.as_str())?;
        let mut ty = &decl.ty;
        for op in ops {
            ty = match (op, ty) {
                (TraversalOperator::GetAttr(a), AttrType::Object(attrs)) => {
                    &attrs.iter().find(|(n, _, _)| n == a.as_str())?.1
                }
                (
                    TraversalOperator::GetAttr(_) | TraversalOperator::Index(_),
                    AttrType::Map(elem),
                ) => elem,
                (TraversalOperator::Index(_), AttrType::List(elem)) => elem,
                _ => return None,
            };
        }
        match ty {
            AttrType::Any => None,
            t => Some(t.clone()),
        }
    }

    fn lookup_local(&self, name: &str) -> Option<Value> {
        self.locals.iter().rev().find_map(|f| f.get(name).cloned())
    }

    /// Iterate a collection as (key, value) pairs; `None` when it is unknown.
    fn iterate(
        &mut self,
        coll: &Value,
        at: Option<std::ops::Range<usize>>,
    ) -> Result<Option<Vec<(Value, Value)>>, EvalError> {
        match coll {
            Value::List(items) => Ok(Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Value::from(i as f64), v.clone()))
                    .collect(),
            )),
            Value::Map(m) => Ok(Some(
                m.iter()
                    .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                    .collect(),
            )),
            Value::Unknown => Ok(None),
            other => self
                .err(
                    at,
                    Diagnostic::error(format!("cannot iterate over a {}", other.type_name()))
                        .expected("a list, set or map"),
                )
                .map(|_| None),
        }
    }

    fn for_expr(&mut self, f: &crate::config::syntax::ForExpr) -> Res {
        let coll = self.eval_expr(&f.intro.collection_expr)?;
        let Some(items) = self.iterate(&coll, f.intro.collection_expr.span())? else {
            return Ok(Value::Unknown);
        };
        let mut list = Vec::new();
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        let mut grouped: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut unknown = false;
        for (k, v) in items {
            let mut frame = HashMap::new();
            if let Some(kv) = &f.intro.key_var {
                frame.insert(kv.as_str().to_string(), k);
            }
            frame.insert(f.intro.value_var.as_str().to_string(), v);
            self.locals.push(frame);
            let r = self.for_item(f, &mut list, &mut map, &mut grouped, &mut unknown);
            self.locals.pop();
            r?;
        }
        if unknown {
            return Ok(Value::Unknown);
        }
        Ok(match f.key_expr {
            None => Value::List(list),
            Some(_) if f.grouping => Value::Map(
                grouped
                    .into_iter()
                    .map(|(k, v)| (k, Value::List(v)))
                    .collect(),
            ),
            Some(_) => Value::Map(map),
        })
    }

    fn for_item(
        &mut self,
        f: &crate::config::syntax::ForExpr,
        list: &mut Vec<Value>,
        map: &mut BTreeMap<String, Value>,
        grouped: &mut BTreeMap<String, Vec<Value>>,
        unknown: &mut bool,
    ) -> Result<(), EvalError> {
        if let Some(cond) = &f.cond {
            match self.eval_expr(&cond.expr)? {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(()),
                Value::Unknown => {
                    *unknown = true;
                    return Ok(());
                }
                other => {
                    return self
                        .err(
                            cond.expr.span(),
                            Diagnostic::error(format!("`if` clause is a {}", other.type_name()))
                                .expected("a bool"),
                        )
                        .map(|_| ())
                }
            }
        }
        let val = self.eval_expr(&f.value_expr)?;
        match &f.key_expr {
            None => list.push(val),
            Some(ke) => {
                let key = match self.eval_expr(ke)? {
                    Value::String(s) => s,
                    Value::Number(n) => format_number(&n),
                    Value::Bool(b) => b.to_string(),
                    Value::Unknown => {
                        *unknown = true;
                        return Ok(());
                    }
                    other => {
                        return self
                            .err(
                                ke.span(),
                                Diagnostic::error(format!("object key is a {}", other.type_name()))
                                    .expected("a string"),
                            )
                            .map(|_| ())
                    }
                };
                if f.grouping {
                    grouped.entry(key).or_default().push(val);
                } else if let std::collections::btree_map::Entry::Vacant(e) = map.entry(key.clone())
                {
                    e.insert(val);
                } else {
                    return self
                        .err(
                            ke.span(),
                            Diagnostic::error(format!("duplicate key \"{key}\" in for expression"))
                                .help("add `...` after the value to group values by key"),
                        )
                        .map(|_| ());
                }
            }
        }
        Ok(())
    }

    fn binary(
        &mut self,
        op: &BinaryOperator,
        l: &Expression,
        r: &Expression,
        whole: &Expression,
    ) -> Res {
        use BinaryOperator::*;
        let lv = self.eval_expr(l)?;
        // `&&` and `||` short-circuit, so `x != null && x.attr` works as in Terraform.
        match (op, &lv) {
            (And, Value::Bool(false)) => return Ok(Value::Bool(false)),
            (Or, Value::Bool(true)) => return Ok(Value::Bool(true)),
            _ => {}
        }
        let rv = self.eval_expr(r)?;
        if matches!(op, Eq | NotEq) {
            if lv.contains_unknown() || rv.contains_unknown() {
                return Ok(Value::Unknown);
            }
            let eq = values_equal(&lv, &rv);
            return Ok(Value::Bool(if matches!(op, Eq) { eq } else { !eq }));
        }
        if lv.is_unknown() || rv.is_unknown() {
            return Ok(Value::Unknown);
        }
        match op {
            And | Or => match (&lv, &rv) {
                (Value::Bool(a), Value::Bool(b)) => Ok(Value::Bool(if matches!(op, And) {
                    *a && *b
                } else {
                    *a || *b
                })),
                _ => self.err(
                    whole.span(),
                    Diagnostic::error(format!(
                        "`{}` needs bools, found {} and {}",
                        op.as_str(),
                        lv.type_name(),
                        rv.type_name()
                    )),
                ),
            },
            _ => {
                let (Some(a), Some(b)) = (to_number(&lv), to_number(&rv)) else {
                    return self.err(
                        whole.span(),
                        Diagnostic::error(format!(
                            "`{}` needs numbers, found {} and {}",
                            op.as_str(),
                            lv.type_name(),
                            rv.type_name()
                        ))
                        .expected("numbers (strings holding numbers are converted)"),
                    );
                };
                let finite = |this: &mut Self, n: mlinfra_schema::Number| -> Res {
                    if n.is_finite() {
                        Ok(Value::Number(n))
                    } else {
                        this.err(
                            whole.span(),
                            Diagnostic::error(format!(
                                "the result of `{}` is too large to represent",
                                op.as_str()
                            ))
                            .expected("a result between -1.8e308 and 1.8e308"),
                        )
                    }
                };
                Ok(match op {
                    Plus => return finite(self, a.add(&b)),
                    Minus => return finite(self, a.sub(&b)),
                    Mul => return finite(self, a.mul(&b)),
                    Div => match a.div(&b) {
                        Some(q) => return finite(self, q),
                        None => {
                            return self.err(whole.span(), Diagnostic::error("division by zero"))
                        }
                    },
                    Mod => match a.rem(&b) {
                        Some(r) => return finite(self, r),
                        None => return self.err(whole.span(), Diagnostic::error("modulo by zero")),
                    },
                    Less => Value::Bool(a < b),
                    LessEq => Value::Bool(a <= b),
                    Greater => Value::Bool(a > b),
                    GreaterEq => Value::Bool(a >= b),
                    _ => Value::Unknown,
                })
            }
        }
    }

    fn call(&mut self, call: &crate::config::syntax::FuncCall) -> Res {
        let name = call.name.name.as_str();
        let span = call.span();
        if name == "templatefile" || name == "templatestring" {
            return self.template_function(call);
        }
        if matches!(
            name,
            "sensitive" | "nonsensitive" | "issensitive" | "type" | "ephemeralasnull"
        ) {
            return self.mark_function(call);
        }
        // `try` and `can` take expressions that may fail.
        if name == "try" || name == "can" {
            for arg in call.args.iter() {
                let before = self.diags.len();
                match self.eval_expr(arg) {
                    Ok(v) if name == "try" => return Ok(v),
                    Ok(_) => return Ok(Value::Bool(true)),
                    // An exhausted budget is not an error `try` may hide.
                    Err(EvalError) if budget::overrun().is_some() => return Err(EvalError),
                    Err(EvalError) => self.diags.truncate(before),
                }
            }
            return if name == "can" {
                Ok(Value::Bool(false))
            } else {
                self.err(
                    span,
                    Diagnostic::error("no argument of try(…) could be evaluated"),
                )
            };
        }
        let mut args = Vec::with_capacity(call.args.len());
        for a in call.args.iter() {
            args.push(self.eval_expr(a)?);
        }
        if call.args.expand_final() {
            match args.pop() {
                Some(Value::List(items)) => args.extend(items),
                Some(Value::Unknown) => return Ok(Value::Unknown),
                Some(other) => {
                    return self.err(
                        span,
                        Diagnostic::error(format!(
                            "`...` expands a list, found a {}",
                            other.type_name()
                        )),
                    )
                }
                None => {}
            }
        }
        // On a map (not an object), Terraform's lookup gives the map's element type, and
        // the default must convert to it.
        if name == "lookup" && args.len() == 3 {
            let elem = call
                .args
                .iter()
                .next()
                .and_then(|m| match self.declared_type(m) {
                    Some(AttrType::Map(elem)) if *elem != AttrType::Any => Some(elem),
                    _ => None,
                });
            if let Some(elem) = elem {
                match elem.convert(&args[2]) {
                    Ok(d) => args[2] = d,
                    Err(_) => {
                        let default_span = call.args.iter().nth(2).and_then(|d| d.span());
                        return self.err(
                            default_span.or(span),
                            Diagnostic::error(format!(
                                "lookup(): the default value must have the same type as the map elements ({elem})"
                            ))
                            .expected(format!("a default of type {elem}, as the map is map({elem})"))
                            .help("give a default of the elements' type, or lookup(..., null)"),
                        );
                    }
                }
            }
        }
        let ctx = functions::CallContext {
            module_dir: self.scope.module_dir,
        };
        match functions::call(name, &args, &ctx) {
            Ok(v) => Ok(v),
            Err(functions::CallError::Unknown) => {
                let names = functions::names();
                self.err(
                    call.name.name.span(),
                    Diagnostic::error(format!("unknown function `{name}`"))
                        .maybe_help(
                            did_you_mean(name, names.iter().copied())
                                .map(|s| format!("did you mean `{s}`?")),
                        )
                        .note(format!(
                            "{} functions are built in; docs/language.md#functions lists them",
                            names.len()
                        )),
                )
            }
            Err(functions::CallError::Invalid { message, signature }) => {
                // Messages quote argument values; a secret argument must not be echoed.
                let message = if self.sensitive {
                    "invalid argument (a sensitive value, not shown)".to_string()
                } else {
                    message
                };
                self.err(
                    span,
                    Diagnostic::error(format!("{name}(): {message}"))
                        .expected(signature.to_string()),
                )
            }
        }
    }

    fn traversal(&mut self, t: &crate::config::syntax::Traversal) -> Res {
        let ops: Vec<&TraversalOperator> = t.operators.iter().map(|o| o.value()).collect();
        let (value, consumed) = match &t.expr {
            Expression::Variable(v) if self.lookup_local(v.as_str()).is_none() => {
                let name = v.as_str();
                let attrs: Vec<&str> = ops
                    .iter()
                    .take(1)
                    .filter_map(|o| match o {
                        TraversalOperator::GetAttr(a) => Some(a.as_str()),
                        _ => None,
                    })
                    .collect();
                let used = attrs.len();
                match attrs.first().and_then(|a| self.lookup_tracked(name, a)) {
                    // Walk attribute reads by reference: clone only the value finally read.
                    Some(tracked) => {
                        self.deps.extend(tracked.deps.iter().cloned());
                        self.sensitive |= tracked.sensitive;
                        self.ephemeral |= tracked.ephemeral;
                        let mut cur = &tracked.value;
                        let mut i = used;
                        while let Some(TraversalOperator::GetAttr(a)) = ops.get(i) {
                            match cur {
                                Value::Map(m) if m.contains_key(a.as_str()) => {
                                    cur = &m[a.as_str()];
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        // The copy costs what it copies.
                        if let Err(o) = budget::value(cur) {
                            return self.overrun(t.span(), o);
                        }
                        (cur.clone(), i)
                    }
                    None => (self.resolve_root(name, &attrs, t.span())?, used),
                }
            }

            other => (self.eval_expr(other)?, 0),
        };
        self.apply_ops(value, &ops[consumed..], t.span())
    }

    /// Apply traversal operators in order. A full splat `[*]` applies everything after
    /// it to each element (splats after it nest); a legacy attribute splat `.*` applies
    /// only the attribute reads right after it to each element, and what follows (an
    /// index) to the resulting list, as HCL specifies.
    fn apply_ops(
        &mut self,
        mut value: Value,
        ops: &[&TraversalOperator],
        at: Option<std::ops::Range<usize>>,
    ) -> Res {
        let mut i = 0;
        while i < ops.len() {
            match ops[i] {
                TraversalOperator::FullSplat => {
                    return self.splat(value, &ops[i + 1..], at);
                }
                TraversalOperator::AttrSplat => {
                    let end = ops[i + 1..]
                        .iter()
                        .position(|o| !matches!(o, TraversalOperator::GetAttr(_)))
                        .map_or(ops.len(), |p| i + 1 + p);
                    value = self.splat(value, &ops[i + 1..end], at.clone())?;
                    i = end;
                    continue;
                }
                op => value = self.apply_op(value, op, at.clone())?,
            }
            i += 1;
        }
        Ok(value)
    }

    /// `ops` applied to each element of a list; a value that is not a list is a list of
    /// one, and null an empty list.
    fn splat(
        &mut self,
        value: Value,
        ops: &[&TraversalOperator],
        at: Option<std::ops::Range<usize>>,
    ) -> Res {
        match value {
            Value::Unknown => Ok(Value::Unknown),
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.apply_ops(item, ops, at.clone())?);
                }
                Ok(Value::List(out))
            }
            Value::Null => Ok(Value::List(Vec::new())),
            single => Ok(Value::List(vec![self.apply_ops(single, ops, at)?])),
        }
    }

    fn apply_op(
        &mut self,
        value: Value,
        op: &TraversalOperator,
        at: Option<std::ops::Range<usize>>,
    ) -> Res {
        match op {
            TraversalOperator::GetAttr(name) => self.get_attr(value, name.as_str(), at),
            TraversalOperator::LegacyIndex(i) => self.index(value, Value::from(*i as f64), at),
            TraversalOperator::Index(e) => {
                let key = self.eval_expr(e)?;
                self.index(value, key, at)
            }
            TraversalOperator::AttrSplat | TraversalOperator::FullSplat => Ok(value),
        }
    }

    fn get_attr(&mut self, value: Value, name: &str, at: Option<std::ops::Range<usize>>) -> Res {
        match value {
            Value::Unknown => Ok(Value::Unknown),
            Value::Map(mut m) => match m.remove(name) {
                Some(v) => Ok(v),
                None => {
                    let keys: Vec<&str> = m.keys().map(String::as_str).collect();
                    let help = did_you_mean(name, keys.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"));
                    self.err(
                        at,
                        Diagnostic::error(format!("this object has no attribute `{name}`"))
                            .expected(format!(
                                "one of {}",
                                if keys.is_empty() {
                                    "(none)".to_string()
                                } else {
                                    keys.join(", ")
                                }
                            ))
                            .maybe_help(help),
                    )
                }
            },
            Value::List(_) => self.err(
                at,
                Diagnostic::error(format!("cannot read attribute `{name}` of a list")).help(
                    format!("index it first (`[0].{name}`) or use a splat (`[*].{name}`)"),
                ),
            ),
            other => self.err(
                at,
                Diagnostic::error(format!(
                    "cannot read attribute `{name}` of a {}",
                    other.type_name()
                )),
            ),
        }
    }

    fn index(&mut self, value: Value, key: Value, at: Option<std::ops::Range<usize>>) -> Res {
        match (value, key) {
            (Value::Unknown, _) | (_, Value::Unknown) => Ok(Value::Unknown),
            (Value::List(items), k) => {
                let Some(n) = to_number(&k) else {
                    return self.err(
                        at,
                        Diagnostic::error(format!(
                            "a list index must be a number, found {}",
                            k.type_name()
                        )),
                    );
                };
                let len = items.len();
                let Some(i) = n.to_index().filter(|i| *i < len) else {
                    return self.err(
                        at,
                        Diagnostic::error(format!("index {} is out of range", format_number(&n)))
                            .expected(format!("an index from 0 to {}", len.saturating_sub(1))),
                    );
                };
                Ok(items.into_iter().nth(i).unwrap_or(Value::Null))
            }
            (Value::Map(mut m), k) => {
                let key = match k {
                    Value::String(s) => s,
                    Value::Number(n) => format_number(&n),
                    other => {
                        return self.err(
                            at,
                            Diagnostic::error(format!(
                                "a map key must be a string, found {}",
                                other.type_name()
                            )),
                        )
                    }
                };
                match m.remove(&key) {
                    Some(v) => Ok(v),
                    None => {
                        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
                        let help = did_you_mean(&key, keys.iter().copied())
                            .map(|s| format!("did you mean \"{s}\"?"));
                        if self.sensitive {
                            return self.err(at, Diagnostic::error("a key (a sensitive value, not shown) does not exist in this map"));
                        }
                        self.err(
                            at,
                            Diagnostic::error(format!("key \"{key}\" does not exist"))
                                .expected(format!(
                                    "one of {}",
                                    keys.iter()
                                        .map(|k| format!("\"{k}\""))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ))
                                .maybe_help(help),
                        )
                    }
                }
            }
            (other, _) => self.err(
                at,
                Diagnostic::error(format!("cannot index a {}", other.type_name())),
            ),
        }
    }

    /// Resolve a reference root (`var`, `local`, `module`, a kind, `each`, `count`, `path`).
    fn resolve_root(
        &mut self,
        root: &str,
        attrs: &[&str],
        at: Option<std::ops::Range<usize>>,
    ) -> Res {
        if let Some(r) = self.not_a_template_var(root, at.clone()) {
            return r;
        }
        if let Some(ctx) = self.scope.no_references {
            if !matches!(root, "each" | "count" | "path") {
                return self.err(
                    at,
                    Diagnostic::error(format!("references are not allowed in {ctx}"))
                        .help("use a literal value here"),
                );
            }
        }
        let scope = self.scope;
        let need_attr = |this: &mut Self, what: &str| -> Res {
            this.err(
                at.clone(),
                Diagnostic::error(format!("`{root}` must be followed by an attribute"))
                    .expected(format!("{root}.{what}")),
            )
        };
        match root {
            "var" | "local" | "module" => {
                let Some(name) = attrs.first() else {
                    return need_attr(self, "NAME");
                };
                let (map, prefix, what) = match root {
                    "var" => (scope.vars, "var", "input variable"),
                    "local" => (scope.locals, "local", "local value"),
                    _ => (scope.modules, "module", "module"),
                };
                match map.and_then(|m| m.get(*name)) {
                    Some(t) => {
                        self.deps.extend(t.deps.iter().cloned());
                        self.sensitive |= t.sensitive;
                        self.ephemeral |= t.ephemeral;
                        Ok(t.value.clone())
                    }
                    None => {
                        let full = format!("{prefix}.{name}");
                        if scope.declared.is_some_and(|d| d.contains(&full)) {
                            // Declared but not evaluated: it failed or is on a cycle, already reported.
                            return Err(EvalError);
                        }
                        let candidates: Vec<String> = scope
                            .declared
                            .map(|d| {
                                d.iter()
                                    .filter_map(|n| n.strip_prefix(&format!("{prefix}.")))
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default();
                        let help = did_you_mean(name, candidates.iter().map(String::as_str))
                            .map(|s| format!("did you mean `{prefix}.{s}`?"));
                        self.err(
                            at,
                            Diagnostic::error(format!("reference to undeclared {what} `{full}`"))
                                .maybe_help(help.or_else(|| {
                                    Some(format!("declare it: {}", declare_hint(root, name)))
                                })),
                        )
                    }
                }
            }
            "each" => match &scope.each {
                Some((k, v)) => match attrs.first() {
                    Some(&"key") => Ok(k.clone()),
                    Some(&"value") => Ok(v.clone()),
                    _ => self.err(
                        at,
                        Diagnostic::error("`each` has only `each.key` and `each.value`"),
                    ),
                },
                None => self.err(
                    at,
                    Diagnostic::error("`each` is only available in a block with for_each")
                        .help("add for_each = … to the block, or remove the reference"),
                ),
            },
            "count" => match scope.count_index {
                Some(i) if attrs.first() == Some(&"index") => Ok(Value::from(i as f64)),
                Some(_) => self.err(at, Diagnostic::error("`count` has only `count.index`")),
                None => self.err(
                    at,
                    Diagnostic::error("`count.index` is only available in a block with count")
                        .help("add count = N to the block, or remove the reference"),
                ),
            },
            "path" => match attrs.first() {
                Some(&"module") => Ok(Value::String(
                    scope
                        .module_dir
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                )),
                Some(&"root") => Ok(Value::String(
                    scope
                        .root_dir
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                )),
                Some(&"cwd") => Ok(Value::String(
                    std::env::current_dir()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                )),
                _ => self.err(
                    at,
                    Diagnostic::error("`path` has path.module, path.root and path.cwd"),
                ),
            },
            kind_name if kind(kind_name).is_some() => {
                let Some(name) = attrs.first() else {
                    return need_attr(self, "NAME");
                };
                match scope
                    .resources
                    .and_then(|m| m.get(&(kind_name.to_string(), name.to_string())))
                {
                    Some(t) => {
                        self.deps.extend(t.deps.iter().cloned());
                        self.sensitive |= t.sensitive;
                        Ok(t.value.clone())
                    }
                    None => {
                        let full = format!("{kind_name}.{name}");
                        if scope.declared.is_some_and(|d| d.contains(&full)) {
                            return Err(EvalError);
                        }
                        let candidates: Vec<String> = scope
                            .declared
                            .map(|d| {
                                d.iter()
                                    .filter(|n| n.starts_with(&format!("{kind_name}.")))
                                    .cloned()
                                    .collect()
                            })
                            .unwrap_or_default();
                        let help = did_you_mean(&full, candidates.iter().map(String::as_str))
                            .map(|s| format!("did you mean `{s}`?"));
                        self.err(
                            at,
                            Diagnostic::error(format!("reference to undeclared resource `{full}`"))
                                .maybe_help(help.or_else(|| {
                                    Some(format!("declare it: {kind_name} \"{name}\" {{ … }}"))
                                })),
                        )
                    }
                }
            }
            other => {
                let mut candidates: Vec<&str> =
                    vec!["var", "local", "module", "each", "count", "path"];
                candidates.extend(mlinfra_schema::kinds().iter().map(|k| k.name));
                let help = did_you_mean(other, candidates.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"));
                self.err(
                    at,
                    Diagnostic::error(format!("unknown name `{other}`"))
                        .expected("a reference: var.NAME, local.NAME, module.NAME.OUTPUT, KIND.NAME.ATTR, each.key, count.index")
                        .maybe_help(help.or_else(|| Some("quote it if you meant a string: \"…\"".to_string()))),
                )
            }
        }
    }
}

/// Remove trailing whitespace when a strip marker (`~`) asks for it.
/// The number of direct elements of a collection (1 for anything else).
fn shallow_len(v: &Value) -> u64 {
    match v {
        Value::List(l) => l.len() as u64,
        Value::Map(m) => m.len() as u64,
        _ => 1,
    }
}

fn declare_hint(root: &str, name: &str) -> String {
    match root {
        "var" => format!("variable \"{name}\" {{ type = string }}"),
        "local" => format!("locals {{ {name} = … }}"),
        _ => format!("module \"{name}\" {{ source = \"./modules/{name}\" }}"),
    }
}

fn to_number(v: &Value) -> Option<mlinfra_schema::Number> {
    match v {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => mlinfra_schema::Number::parse(s),
        _ => None,
    }
}

/// Equality as the language defines it: numbers compare by value, collections deeply.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    a == b
}
