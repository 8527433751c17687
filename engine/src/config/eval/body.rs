//! A resource body against its kind's schema: attributes, nested blocks and `dynamic`.

use super::*;

/// An unknown block's diagnostic, with the blocks `schema` has and the closest one.
pub(super) fn block_choice(d: Diagnostic, schema: &BlockSchema, name: &str) -> Diagnostic {
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
pub(super) fn close_help(value: &str, allowed: &[&str]) -> Option<String> {
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
pub(super) struct BodyCtx<'e, 's, 'a> {
    pub(super) ev: &'e mut Evaluator<'s, 'a>,
    pub(super) cloud: Option<Cloud>,
    pub(super) kind: &'static KindSchema,
    pub(super) what: &'e str,
    pub(super) deps: &'e mut BTreeSet<String>,
    pub(super) sensitive: &'e mut BTreeSet<String>,
    /// Values of write-only attributes, by dotted path; `out` gets only their shape.
    pub(super) write_only: &'e mut BTreeMap<String, Value>,
}

impl BodyCtx<'_, '_, '_> {
    pub(super) fn span(&self, r: Option<std::ops::Range<usize>>) -> Option<Span> {
        r.map(|r| Span::new(self.ev.file, r))
    }

    pub(super) fn push(&mut self, d: Diagnostic) {
        self.ev.diags.push(d);
    }

    pub(super) fn eval_block(
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
                    if self.ev.ephemeral && !attr.write_only {
                        self.push(ephemeral_not_allowed(
                            &format!("`{name}` in {here}"),
                            value_span,
                        ));
                        out.insert(name.to_string(), Value::Unknown);
                        continue;
                    }
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
                    // A write-only value's shape (the names of a map) is not secret.
                    if (self.ev.sensitive || attr.sensitive) && !attr.write_only {
                        self.sensitive.insert(format!("{path}{name}"));
                    }
                    if attr.write_only {
                        // Secret whatever its source: scrubbed from every printed text.
                        crate::secrets::register(&value);
                        out.insert(name.to_string(), write_only_shape(&value));
                        self.write_only.insert(format!("{path}{name}"), value);
                        continue;
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
    pub(super) fn labeled_block(
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
    pub(super) fn eval_dynamic(
        &mut self,
        b: &crate::config::syntax::Block,
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
                .map(|(i, v)| (Value::from(i as f64), v))
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
                        Value::Number(n) => Some(n.to_string()),
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

/// An ephemeral value where it would be saved in the plan or the state.
pub(super) fn ephemeral_not_allowed(what: &str, at: Option<Span>) -> Diagnostic {
    Diagnostic::error(format!("{what} cannot take an ephemeral value"))
        .at(at)
        .note("it is saved in the plan and the state, and an ephemeral value never is")
        .help("ephemeral values go to provider blocks, locals, ephemeral outputs and ephemeral module variables; ephemeralasnull(…) gives null instead")
}
