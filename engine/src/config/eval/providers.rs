//! Provider configurations and which one each resource uses.

use super::*;

impl Ctx<'_> {
    pub(super) fn eval_provider(
        &mut self,
        module: &ModuleConfig,
        i: usize,
        t: &Tables,
        prefix: &str,
    ) {
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

    /// Resolve the provider of a resource: (cloud, global provider key).
    pub(super) fn resolve_provider(
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

    pub(super) fn implicit_provider(&mut self, cloud: Cloud) -> String {
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
}
