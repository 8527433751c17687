//! Custom conditions: `precondition` and `postcondition` in a resource's `lifecycle`,
//! `precondition` in an output, and `check` blocks with `assert`. Read here, evaluated
//! where their owner is evaluated; every result is kept in `Evaluated::conditions`.

use crate::config::syntax::Expression;
use crate::config::syntax::Span as _;
use crate::config::syntax::{Block, Structure};
use mlinfra_schema::Value;

use crate::config::expr::Evaluator;
use crate::config::load::{header_span, span_of, unknown_block_in, unknown_in, ModuleConfig};
use crate::diag::{Diagnostic, Diagnostics, FileId, Span};

/// One `precondition`, `postcondition` or `assert` block.
#[derive(Debug, Clone)]
pub struct Condition {
    pub condition: Expression,
    pub error_message: Expression,
    /// The block header.
    pub span: Span,
    pub file: FileId,
}

impl Condition {
    /// Where the condition expression is written (the block when it has no position).
    pub fn condition_span(&self) -> Span {
        self.condition
            .span()
            .map(|r| Span::new(self.file, r))
            .unwrap_or(self.span)
    }
}

/// `check "NAME" { assert { … } … }`.
#[derive(Debug, Clone)]
pub struct CheckDecl {
    pub name: String,
    pub asserts: Vec<Condition>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionKind {
    Precondition,
    Postcondition,
    OutputPrecondition,
    Check,
}

impl ConditionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionKind::Precondition => "precondition",
            ConditionKind::Postcondition => "postcondition",
            ConditionKind::OutputPrecondition => "output precondition",
            ConditionKind::Check => "check",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Pass,
    /// The condition is false; the error message.
    Fail(String),
    /// Known only after apply.
    Unknown,
    /// The condition itself is wrong (reported as an error already).
    Error,
}

/// The result of one condition, for the plan and for the check after apply.
#[derive(Clone, Debug)]
pub struct ConditionResult {
    pub kind: ConditionKind,
    /// The resource instance address, `output.NAME` or `check.NAME`.
    pub owner: String,
    pub status: Status,
    /// The block header.
    pub span: Span,
    /// The condition expression, where a failure is reported.
    pub condition: Span,
}

/// Read `precondition { condition  error_message }` (or `postcondition`, `assert`).
pub fn read_condition(b: &Block, file: FileId, diags: &mut Diagnostics) -> Option<Condition> {
    let what = b.ident.as_str();
    let span = header_span(b, file);
    let (mut condition, mut message) = (None, None);
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "condition" => condition = Some(a.value.clone()),
                "error_message" => message = Some(a.value.clone()),
                other => diags.push(unknown_in(
                    what,
                    other,
                    &["condition", "error_message"],
                    span_of(file, a.key.span()),
                )),
            },
            Structure::Block(bb) => diags.push(unknown_block_in(what, bb, file)),
        }
    }
    match (condition, message) {
        (Some(condition), Some(error_message)) => Some(Condition {
            condition,
            error_message,
            span,
            file,
        }),
        _ => {
            diags.push(
                Diagnostic::error(format!(
                    "{what} block needs `condition` and `error_message`"
                ))
                .at(Some(span))
                .expected(format!(
                    "{what} {{ condition = BOOL_EXPRESSION  error_message = \"what is wrong, and how to fix it\" }}"
                )),
            );
            None
        }
    }
}

/// Read a `check "NAME" { assert { … } }` block into `module.checks`.
pub fn read_check(module: &mut ModuleConfig, block: Block, file: FileId, diags: &mut Diagnostics) {
    let span = header_span(&block, file);
    let name = block.labels[0].as_str().to_string();
    let mut asserts = Vec::new();
    for s in block.body.iter() {
        match s {
            Structure::Block(b) if b.ident.as_str() == "assert" => {
                asserts.extend(read_condition(b, file, diags));
            }
            Structure::Block(b) if b.ident.as_str() == "data" => diags.push(
                Diagnostic::error("a check block cannot read a data source in this build")
                    .at(Some(header_span(b, file)))
                    .note("no provider of this build has data sources; a check asserts over the configuration's values")
                    .help("assert over resource, variable and local values instead"),
            ),
            Structure::Block(b) => diags.push(
                unknown_block_in(&format!("check \"{name}\""), b, file).expected("assert { … }"),
            ),
            Structure::Attribute(a) => diags.push(
                Diagnostic::error(format!(
                    "unexpected attribute `{}` in check \"{name}\"",
                    a.key.as_str()
                ))
                .at(Some(span_of(file, a.key.span())))
                .expected("assert { condition = …  error_message = \"…\" } blocks"),
            ),
        }
    }
    if asserts.is_empty() {
        diags.push(
            Diagnostic::error(format!("check \"{name}\" has no assert block"))
                .at(Some(span))
                .expected("assert { condition = …  error_message = \"…\" }"),
        );
    }
    if module.checks.iter().any(|c| c.name == name) {
        diags.push(
            Diagnostic::error(format!("check \"{name}\" is declared twice"))
                .at(Some(span))
                .help("give each check its own name"),
        );
        return;
    }
    module.checks.push(CheckDecl {
        name,
        asserts,
        span,
    });
}

/// Evaluate one condition with `ev`; a false one gives its error message. Only a
/// condition that is not a bool is reported here (into `ev.diags`): what a result means
/// depends on the run, see [`plan_diagnostics`] and [`after_apply`].
pub fn evaluate(
    ev: &mut Evaluator<'_, '_>,
    c: &Condition,
    kind: ConditionKind,
    owner: &str,
) -> (Status, std::collections::BTreeSet<String>) {
    ev.reset_tracking();
    let at = c.condition.span().map(|r| Span::new(c.file, r));
    let status = match ev.try_eval(&c.condition) {
        Err(_) => Status::Error,
        Ok(Value::Bool(true)) => Status::Pass,
        Ok(Value::Unknown) => Status::Unknown,
        Ok(Value::Bool(false)) => {
            let secret = ev.sensitive;
            let deps = std::mem::take(&mut ev.deps);
            ev.reset_tracking();
            let message = match ev.try_eval(&c.error_message) {
                _ if secret => {
                    "(the condition depends on a sensitive value; its message is not shown)"
                        .to_string()
                }
                Ok(_) if ev.sensitive => "(the message is sensitive and not shown)".to_string(),
                Ok(Value::String(s)) => s,
                Ok(Value::Unknown) => "(the error message is known only after apply)".to_string(),
                Ok(other) => other.to_hcl(),
                Err(_) => "(the error message could not be evaluated)".to_string(),
            };
            ev.deps = deps;
            Status::Fail(message)
        }
        Ok(other) => {
            ev.diags.push(
                Diagnostic::error(format!(
                    "the condition of a {} of {owner} is {}, not true or false",
                    kind.as_str(),
                    if matches!(other, Value::Null) {
                        "null".to_string()
                    } else {
                        format!("a {}", other.type_name())
                    }
                ))
                .at(at)
                .expected("condition = an expression that is true or false"),
            );
            Status::Error
        }
    };
    let deps = std::mem::take(&mut ev.deps);
    (status, deps)
}

/// What the conditions say at plan time: each false one (an error, a warning for a
/// check), and each check known only after apply. Not for a destroy plan, which does
/// not check conditions.
pub fn plan_diagnostics(results: &[ConditionResult]) -> Diagnostics {
    let mut d = Diagnostics::default();
    for r in results {
        match &r.status {
            Status::Fail(m) => d.push(failure(r.kind, &r.owner, m).at(Some(r.condition))),
            Status::Unknown if r.kind == ConditionKind::Check => d.push(
                Diagnostic::warning(format!("check \"{}\" is known only after apply", r.owner))
                    .at(Some(r.condition))
                    .note("the condition reads values the cloud sets; apply checks it once they exist"),
            ),
            _ => {}
        }
    }
    d
}

/// The diagnostic of a false condition: an error, or a warning for a check.
fn failure(kind: ConditionKind, owner: &str, m: &str) -> Diagnostic {
    match kind {
        ConditionKind::Check => Diagnostic::warning(format!("check \"{owner}\" failed: {m}"))
            .note("a failed check is reported and does not stop the plan or apply"),
        ConditionKind::Precondition => Diagnostic::error(format!(
            "precondition of {owner} failed: {m}"
        ))
        .note("the precondition in its lifecycle block is false, so nothing is planned for it"),
        ConditionKind::Postcondition => Diagnostic::error(format!(
            "postcondition of {owner} failed: {m}"
        ))
        .note("the postcondition in its lifecycle block is false for the values planned or made"),
        ConditionKind::OutputPrecondition => {
            Diagnostic::error(format!("precondition of output \"{owner}\" failed: {m}"))
        }
    }
}

/// What the conditions say once apply has made everything: each false one, and each
/// still unknown, as a diagnostic at its block.
pub fn after_apply(results: &[ConditionResult]) -> Diagnostics {
    let mut d = Diagnostics::default();
    for r in results {
        match &r.status {
            Status::Fail(m) => d.push(failure(r.kind, &r.owner, m).at(Some(r.condition))),
            Status::Unknown => d.push(
                Diagnostic::warning(format!(
                    "a {} of {} could not be checked: it reads a value that is still unknown after apply",
                    r.kind.as_str(),
                    r.owner
                ))
                .at(Some(r.condition)),
            ),
            Status::Pass | Status::Error => {}
        }
    }
    d
}

/// How many conditions wait for values known only after apply, for a plan note.
pub fn deferred(results: &[ConditionResult]) -> usize {
    results
        .iter()
        .filter(|r| r.status == Status::Unknown)
        .count()
}
