//! Resource blocks: references, `lifecycle`, `replace_triggered_by` and timeouts.

use super::*;

/// Read a static reference list like `[cluster.train, module.net]`.
pub(super) fn read_refs(
    e: &Expression,
    file: FileId,
    what: &str,
    diags: &mut Diagnostics,
) -> Vec<RefExpr> {
    let Expression::Array(items) = e else {
        diags.push(
            Diagnostic::error(format!("{what} must be a list of references"))
                .at(Some(span_of(file, e.span())))
                .expected("[kind.name, module.name, …]"),
        );
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| read_ref(item, file, what, diags))
        .collect()
}

/// Read one static reference (`aws.west`, `cluster.train`, `labels`).
pub fn read_ref(
    e: &Expression,
    file: FileId,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<RefExpr> {
    let span = span_of(file, e.span());
    let parts = static_parts(e);
    if parts.is_none() {
        diags.push(
            Diagnostic::error(format!("{what} takes plain references, not expressions"))
                .at(Some(span))
                .expected(format!(
                    "a reference like cluster.train or {}",
                    mlinfra_schema::providers::alias_example()
                )),
        );
    }
    parts.map(|parts| RefExpr { parts, span })
}

pub(crate) fn static_parts(e: &Expression) -> Option<Vec<String>> {
    match e {
        Expression::Variable(v) => Some(vec![v.as_str().to_string()]),
        Expression::Traversal(t) => {
            let mut parts = static_parts(&t.expr)?;
            for op in &t.operators {
                match op.value() {
                    TraversalOperator::GetAttr(id) => parts.push(id.as_str().to_string()),
                    _ => return None,
                }
            }
            Some(parts)
        }
        _ => None,
    }
}

pub(super) fn read_resource(
    module: &mut ModuleConfig,
    kind: &'static KindSchema,
    block: Block,
    file: FileId,
    diags: &mut Diagnostics,
) {
    let name = labels(&block)[0].clone();
    let span = header_span(&block, file);
    if !is_valid_name(&name) {
        diags.push(
            Diagnostic::error(format!("invalid {} name \"{name}\"", kind.name))
                .at(Some(span))
                .expected("a name of letters, digits, '_' and '-', starting with a letter or '_'"),
        );
    }
    let mut decl = ResourceDecl {
        kind,
        name,
        span,
        file,
        body: Body::new(),
        count: None,
        for_each: None,
        depends_on: Vec::new(),
        provider: None,
        lifecycle: Lifecycle::default(),
        preconditions: Vec::new(),
        postconditions: Vec::new(),
        prevent_destroy: None,
        replace_triggered_by: Vec::new(),
        timeouts: BTreeMap::new(),
    };
    let mut rest = Body::new();
    for s in block.body {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "count" => decl.count = Some(a.value),
                "for_each" => decl.for_each = Some(a.value),
                "depends_on" => decl.depends_on = read_refs(&a.value, file, "depends_on", diags),
                "provider" => decl.provider = read_ref(&a.value, file, "provider", diags),
                _ => rest.push(Structure::Attribute(a)),
            },
            Structure::Block(b) => match b.ident.as_str() {
                "lifecycle" => {
                    decl.lifecycle = read_lifecycle(&b, file, kind, diags);
                    for bb in b.body.blocks() {
                        let list = match bb.ident.as_str() {
                            "precondition" => &mut decl.preconditions,
                            "postcondition" => &mut decl.postconditions,
                            _ => continue,
                        };
                        list.extend(crate::config::conditions::read_condition(bb, file, diags));
                    }
                    for a in b.body.attributes() {
                        match a.key.as_str() {
                            // A literal is read with the rest; an expression is evaluated.
                            "prevent_destroy" if !matches!(a.value, Expression::Bool(_)) => {
                                decl.prevent_destroy = Some(a.value.clone())
                            }
                            "replace_triggered_by" => {
                                decl.replace_triggered_by = read_triggers(&a.value, file, diags)
                            }
                            _ => {}
                        }
                    }
                }
                "timeouts" => decl.timeouts = read_timeouts(&b, file, diags),
                _ => rest.push(Structure::Block(b)),
            },
        }
    }
    if decl.count.is_some() && decl.for_each.is_some() {
        diags.push(
            Diagnostic::error("count and for_each cannot both be set")
                .at(Some(span))
                .help("use count for N identical resources, for_each for one per map key"),
        );
    }
    decl.body = rest;
    module.resources.push(decl);
}

pub(super) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub(super) fn read_lifecycle(
    b: &Block,
    file: FileId,
    kind: &KindSchema,
    diags: &mut Diagnostics,
) -> Lifecycle {
    let mut l = Lifecycle::default();
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "prevent_destroy" => {
                    if let Expression::Bool(b) = &a.value {
                        l.prevent_destroy = *b.value();
                    }
                }
                "replace_triggered_by" => {}
                "create_before_destroy" => {
                    l.create_before_destroy = literal_bool(&a.value, file, diags)
                }
                "ignore_changes" => match &a.value {
                    Expression::Variable(v) if v.as_str() == "all" => l.ignore_all = true,
                    e => {
                        for r in read_refs(e, file, "ignore_changes", diags) {
                            // Changes are ignored per top-level attribute or block.
                            let name = r.text();
                            let known: Vec<&str> = kind
                                .body
                                .attributes
                                .iter()
                                .map(|a| a.name)
                                .chain(kind.body.blocks.iter().map(|b| b.name))
                                .collect();
                            if r.parts.len() != 1 || !known.contains(&name.as_str()) {
                                diags.push(
                                    Diagnostic::error(format!("ignore_changes names `{name}`, which is not an attribute of {}", kind.name))
                                        .at(Some(r.span))
                                        .expected(format!("top-level attribute or block names of {}: {}", kind.name, known.join(", ")))
                                        .maybe_help(did_you_mean(r.parts.first().map(String::as_str).unwrap_or(""), known.iter().copied()).map(|s| format!("did you mean `{s}`? (nested paths are not supported; name the whole attribute)"))),
                                );
                                continue;
                            }
                            l.ignore_changes.push(name);
                        }
                    }
                },
                other => diags.push(unknown_in(
                    "lifecycle",
                    other,
                    &[
                        "prevent_destroy",
                        "create_before_destroy",
                        "ignore_changes",
                        "replace_triggered_by",
                    ],
                    span_of(file, a.key.span()),
                )),
            },
            Structure::Block(bb)
                if ["precondition", "postcondition"].contains(&bb.ident.as_str()) => {}
            Structure::Block(bb) => diags.push(unknown_block_in("lifecycle", bb, file)),
        }
    }
    l
}

/// The references of `replace_triggered_by = [bucket.a, gpu_pool.p[count.index].name]`.
pub(super) fn read_triggers(
    e: &Expression,
    file: FileId,
    diags: &mut Diagnostics,
) -> Vec<Expression> {
    let Expression::Array(items) = e else {
        diags.push(
            Diagnostic::error("replace_triggered_by must be a list of resource references")
                .at(Some(span_of(file, e.span())))
                .expected("replace_triggered_by = [KIND.NAME, KIND.NAME.ATTRIBUTE]"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let ok = match item {
            Expression::Traversal(t) => match &t.expr {
                Expression::Variable(v) => {
                    kind(v.as_str()).is_some()
                        && matches!(
                            t.operators.first().map(|o| o.value()),
                            Some(TraversalOperator::GetAttr(_))
                        )
                }
                _ => false,
            },
            _ => false,
        };
        if ok {
            out.push(item.clone());
        } else {
            diags.push(
                Diagnostic::error("replace_triggered_by takes resource references, not values")
                    .at(Some(span_of(file, item.span())))
                    .expected(
                        "KIND.NAME, KIND.NAME[KEY], KIND.NAME[count.index] or KIND.NAME.ATTRIBUTE",
                    )
                    .help("name the resource whose change should replace this one"),
            );
        }
    }
    out
}

pub(super) fn read_timeouts(
    b: &Block,
    file: FileId,
    diags: &mut Diagnostics,
) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => {
                let key = a.key.as_str();
                let span = span_of(file, a.value.span());
                if !["create", "update", "delete"].contains(&key) {
                    diags.push(unknown_in(
                        "timeouts",
                        key,
                        &["create", "update", "delete"],
                        span_of(file, a.key.span()),
                    ));
                    continue;
                }
                match literal_string(&a.value) {
                    Some(v) if parse_duration(&v).is_some() => {
                        t.insert(key.to_string(), v);
                    }
                    _ => diags.push(
                        Diagnostic::error(format!("invalid duration for timeouts.{key}"))
                            .at(Some(span))
                            .expected("a duration string like \"60m\", \"2h\" or \"1h30m\""),
                    ),
                }
            }
            Structure::Block(bb) => diags.push(unknown_block_in("timeouts", bb, file)),
        }
    }
    t
}

/// Parse a duration like `90s`, `60m`, `1h30m`, `2d` into seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    if s.is_empty() {
        return None;
    }
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
        } else {
            let n: u64 = num.parse().ok()?;
            num.clear();
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86400,
                _ => return None,
            };
            // Anything beyond ten years is a typo, not a timeout.
            total = total.checked_add(n.checked_mul(unit)?)?;
            if total > 10 * 365 * 86400 {
                return None;
            }
        }
    }
    num.is_empty().then_some(total)
}
