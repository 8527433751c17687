//! `import` blocks: the instances they name and the cloud identities they give.

use super::*;

impl Ctx<'_> {
    /// Evaluate `import` blocks: only in the root module, ids known at plan time, each
    /// naming a declared resource instance once.
    pub(super) fn eval_imports(&mut self, module: &ModuleConfig, path: &[ModuleStep], t: &Tables) {
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
}
