//! `count` and `for_each`: the instances one block expands to.

use super::*;

impl Ctx<'_> {
    /// The value of `count` or `for_each`, whether it is secret, and where it is written.
    /// An ephemeral value is an error: instance keys are saved in the state.
    fn meta_argument(
        &mut self,
        e: &Expression,
        file: FileId,
        scope: &Scope,
        what: &str,
    ) -> Option<(Value, bool, Option<Span>)> {
        let mut ev = Evaluator::new(scope, file);
        let v = ev.try_eval(e);
        let (secret, ephemeral) = (ev.sensitive, ev.ephemeral);
        let span = e.span().map(|r| Span::new(file, r));
        self.take(ev);
        let v = v.ok()?;
        if ephemeral {
            self.err(super::body::ephemeral_not_allowed(what, span));
            return None;
        }
        Some((v, secret, span))
    }

    /// Expand `count` / `for_each` into instance keys with their `each` / `count.index` values.
    #[allow(clippy::type_complexity)]
    pub(super) fn expand(
        &mut self,
        count: Option<&Expression>,
        for_each: Option<&Expression>,
        file: FileId,
        scope: &Scope,
        what: &str,
    ) -> Option<Vec<(Option<InstanceKey>, Option<(Value, Value)>, Option<usize>)>> {
        if let Some(e) = count {
            let (v, secret, span) =
                self.meta_argument(e, file, scope, &format!("the count of {what}"))?;
            return match v {
                Value::Number(n) if n.to_f64() > MAX_INSTANCES as f64 => {
                    let shown = if secret {
                        crate::secrets::REDACTED.to_string()
                    } else {
                        mlinfra_schema::format_number(&n)
                    };
                    self.err(
                        Diagnostic::error(format!("count of {what} is {shown}, more than the {MAX_INSTANCES} instances one block may have"))
                            .at(span)
                            .help("split the resources over several blocks or modules"),
                    );
                    None
                }
                Value::Number(n) if n.to_index().is_some() => Some(
                    (0..n.to_index().unwrap_or(0))
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
            let (v, sensitive, span) =
                self.meta_argument(e, file, scope, &format!("the for_each of {what}"))?;
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
}
