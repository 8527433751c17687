//! Input variables: the root module's inputs, their types, defaults and validations.

use super::*;

impl Ctx<'_> {
    pub(super) fn root_variables(&mut self, root: &ModuleConfig) -> HashMap<String, Tracked> {
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

    pub(super) fn input_to_value(&mut self, v: &VariableDecl, input: &InputValue) -> Option<Value> {
        match &input.raw {
            RawInput::Value(val) => Some(val.clone()),
            RawInput::Text(text) => match &v.ty {
                AttrType::String | AttrType::Any => Some(Value::String(text.clone())),
                AttrType::Number | AttrType::Bool => Some(Value::String(text.clone())),
                _ => match crate::config::syntax::parse_expr(text) {
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
    pub(super) fn finish_variable(
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
        tracked.ephemeral |= v.ephemeral;
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
}
