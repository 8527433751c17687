//! Module calls: each instance's inputs, and the child module evaluated in its scope.

use super::*;

impl Ctx<'_> {
    pub(super) fn eval_module_call(
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
        let mut ephemeral = false;
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
                                    ephemeral: ev.ephemeral,
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
                if let Some((_, _, at)) = given
                    .as_ref()
                    .filter(|(tr, _, _)| tr.ephemeral && !v.ephemeral)
                {
                    self.err(
                        Diagnostic::error(format!(
                            "{what}: the input `{}` is ephemeral, and the module's variable is not",
                            v.name
                        ))
                        .at(*at)
                        .note("a variable that is not ephemeral can be saved in the plan and the state")
                        .help(format!(
                            "declare ephemeral = true in variable \"{}\" of the module, or pass ephemeralasnull(…)",
                            v.name
                        )),
                    );
                    continue;
                }
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
                ephemeral |= tr.ephemeral;
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
                ephemeral,
            },
        );
    }
}
