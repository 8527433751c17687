//! Resource blocks: their bodies evaluated against the kind's schema, dependencies and
//! `replace_triggered_by`.

use super::*;

impl Ctx<'_> {
    pub(super) fn resolve_dep_refs(
        &mut self,
        refs: &[RefExpr],
        t: &Tables,
        out: &mut BTreeSet<String>,
    ) {
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

    pub(super) fn unknown_dep(&mut self, r: &RefExpr, t: &Tables) {
        let text = r.text();
        let help = did_you_mean(&text, t.declared.iter().map(String::as_str))
            .map(|s| format!("did you mean `{s}`?"));
        self.err(
            Diagnostic::error(format!("depends_on refers to undeclared `{text}`"))
                .at(Some(r.span))
                .maybe_help(help),
        );
    }

    pub(super) fn eval_resource(
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
            let mut write_only = BTreeMap::new();
            let mut body_ctx = BodyCtx {
                ev: &mut ev,
                cloud,
                kind: decl.kind,
                what: &what,
                deps: &mut deps_acc,
                sensitive: &mut sensitive,
                write_only: &mut write_only,
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

            // Attributes are what state will hold: a fraction no 64-bit float holds is
            // rounded now, so the next plan compares it equal to its stored self.
            attrs.values_mut().for_each(Value::keep_as_stored);
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
                write_only,
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
            ephemeral: false,
        }
    }

    /// Resolve `replace_triggered_by` for one instance (`count.index` and `each` are
    /// this instance's); the referenced instances become dependencies.
    pub(super) fn triggers(
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
                        Value::Number(n) if n.to_index().is_some() => {
                            n.to_index().map(InstanceKey::Index)
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
                    key = Some(InstanceKey::Index(*n as usize));
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
}

/// A GPU pool's machine comes from the GPU catalog unless `instance_type` is set; what the
/// cloud's provider block lists (`gpu_pool_from_cluster`) follows the cluster.
pub(super) fn gpu_pool_defaults(
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
                    mlinfra_schema::format_number(&mlinfra_schema::Number::from_f64(gpus))
                ))
                .at(at)
                .expected("an accelerator × gpus_per_node pair from the GPU catalog")
                .help(reason),
            );
        }
    }
}
