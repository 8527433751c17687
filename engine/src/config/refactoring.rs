//! `moved` and `removed` blocks: declarations that change what the state records at an
//! address without any call to a cloud. What they do to state is in `crate::refactor`.

use crate::config::syntax::Expression;
use crate::config::syntax::Span as _;
use crate::config::syntax::{Block, Structure};

use crate::address::{Address, InstanceKey, ModuleStep};
use crate::config::load::{header_span, span_of, unknown_block_in, unknown_in, ModuleConfig};
use crate::diag::{Diagnostic, Diagnostics, FileId, Span};

/// One side of a `moved` block, or the `from` of a `removed` block, relative to the
/// module that declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `KIND.NAME`, maybe inside `module.M.`: every instance of a resource (keys kept),
    /// or with `instance`, exactly the instance with `key` (`None` is the keyless one).
    Resource {
        module: Vec<ModuleStep>,
        kind: String,
        name: String,
        key: Option<InstanceKey>,
        instance: bool,
    },
    /// `module.NAME`: every instance of a module call (keys kept), or with `instance`,
    /// exactly the instance with `key`.
    Module {
        parent: Vec<ModuleStep>,
        name: String,
        key: Option<InstanceKey>,
        instance: bool,
    },
}

impl Endpoint {
    /// The endpoint as seen from the root, for a module instance at `path`.
    pub fn absolute(&self, path: &[ModuleStep]) -> Endpoint {
        let mut e = self.clone();
        match &mut e {
            Endpoint::Resource { module, .. } => {
                let mut m = path.to_vec();
                m.append(module);
                *module = m;
            }
            Endpoint::Module { parent, .. } => {
                let mut m = path.to_vec();
                m.append(parent);
                *parent = m;
            }
        }
        e
    }

    fn has_key(&self) -> bool {
        match self {
            Endpoint::Resource { key, .. } | Endpoint::Module { key, .. } => key.is_some(),
        }
    }

    fn set_instance(&mut self) {
        match self {
            Endpoint::Resource { instance, .. } | Endpoint::Module { instance, .. } => {
                *instance = true
            }
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = |k: &Option<InstanceKey>| k.as_ref().map(ToString::to_string).unwrap_or_default();
        match self {
            Endpoint::Resource {
                module,
                kind,
                name,
                key: k,
                ..
            } => {
                for s in module {
                    write!(f, "{s}.")?;
                }
                write!(f, "{kind}.{name}{}", key(k))
            }
            Endpoint::Module {
                parent,
                name,
                key: k,
                ..
            } => {
                for s in parent {
                    write!(f, "{s}.")?;
                }
                write!(f, "module.{name}{}", key(k))
            }
        }
    }
}

/// `moved { from = OLD  to = NEW }`.
#[derive(Debug, Clone)]
pub struct MovedDecl {
    pub from: Endpoint,
    pub to: Endpoint,
    pub span: Span,
}

/// `removed { from = ADDR  lifecycle { destroy = false } }`.
#[derive(Debug, Clone)]
pub struct RemovedDecl {
    pub from: Endpoint,
    /// `lifecycle { destroy }`: whether the cloud object is destroyed (the default) or
    /// only forgotten.
    pub destroy: bool,
    pub span: Span,
}

const ADDRESS_FORMS: &str =
    "an address without quotes: KIND.NAME, KIND.NAME[KEY], module.NAME or module.NAME[KEY], maybe inside module.M.";

/// Parse the traversal `bucket.old` or `module.a["x"].bucket.b` written in a block.
fn endpoint(e: &Expression, file: FileId, what: &str, diags: &mut Diagnostics) -> Option<Endpoint> {
    let at = span_of(file, e.span());
    if !matches!(e, Expression::Traversal(_) | Expression::Variable(_)) {
        diags.push(
            Diagnostic::error(format!("`{what}` must be an address, not a value"))
                .at(Some(at))
                .expected(ADDRESS_FORMS)
                .help("write the address itself, as in `from = bucket.old`, not a string or expression"),
        );
        return None;
    }
    let text: String = e.to_string().split_whitespace().collect();
    match Address::parse_target(&text) {
        Ok(a) if a.kind == "module" => Some(Endpoint::Module {
            parent: a.module,
            name: a.name,
            key: a.key,
            instance: false,
        }),
        Ok(a) => Some(Endpoint::Resource {
            module: a.module,
            kind: a.kind,
            name: a.name,
            key: a.key,
            instance: false,
        }),
        Err(err) => {
            diags.push(
                Diagnostic::error(format!("`{what}` is not an address: {err}"))
                    .at(Some(at))
                    .expected(ADDRESS_FORMS),
            );
            None
        }
    }
}

/// Read the attributes of a `moved` or `removed` body: `from`, `to`, and the
/// `lifecycle` block's `destroy`.
struct Parts {
    /// `Some(None)` when written but wrong (already reported).
    from: Option<Option<(Endpoint, Span)>>,
    to: Option<Option<(Endpoint, Span)>>,
    destroy: Option<bool>,
}

fn parts(block: Block, file: FileId, what: &str, diags: &mut Diagnostics) -> Parts {
    let mut p = Parts {
        from: None,
        to: None,
        destroy: None,
    };
    let attrs: &[&str] = if what == "moved" {
        &["from", "to"]
    } else {
        &["from"]
    };
    for s in block.body {
        match s {
            Structure::Attribute(a) => {
                let at = span_of(file, a.value.span());
                match a.key.as_str() {
                    "from" => {
                        p.from = Some(endpoint(&a.value, file, "from", diags).map(|e| (e, at)))
                    }
                    "to" if what == "moved" => {
                        p.to = Some(endpoint(&a.value, file, "to", diags).map(|e| (e, at)))
                    }
                    other => {
                        diags.push(unknown_in(what, other, attrs, span_of(file, a.key.span())))
                    }
                }
            }
            Structure::Block(b) if what == "removed" && b.ident.as_str() == "lifecycle" => {
                for s in b.body {
                    match s {
                        Structure::Attribute(a) if a.key.as_str() == "destroy" => {
                            match &a.value {
                                Expression::Bool(v) => p.destroy = Some(*v.value()),
                                other => diags.push(
                                    Diagnostic::error("`destroy` must be a literal true or false")
                                        .at(Some(span_of(file, other.span())))
                                        .expected("destroy = false (forget the object, keep it in the cloud) or destroy = true"),
                                ),
                            }
                        }
                        Structure::Attribute(a) => diags.push(unknown_in(
                            "removed's lifecycle",
                            a.key.as_str(),
                            &["destroy"],
                            span_of(file, a.key.span()),
                        )),
                        Structure::Block(bb) => {
                            diags.push(unknown_block_in("removed's lifecycle", &bb, file))
                        }
                    }
                }
            }
            Structure::Block(b) => diags.push(unknown_block_in(what, &b, file)),
        }
    }
    p
}

/// Read a `moved` block into `module.moves`.
pub fn read_moved(module: &mut ModuleConfig, block: Block, file: FileId, diags: &mut Diagnostics) {
    let span = header_span(&block, file);
    let p = parts(block, file, "moved", diags);
    let written = p.from.is_some() && p.to.is_some();
    let (Some(Some((mut from, from_at))), Some(Some((mut to, to_at)))) = (p.from, p.to) else {
        if written {
            return;
        }
        diags.push(
            Diagnostic::error("moved block needs both `from` and `to`")
                .at(Some(span))
                .expected("moved { from = KIND.OLD_NAME  to = KIND.NEW_NAME }"),
        );
        return;
    };
    match (&from, &to) {
        (Endpoint::Resource { kind: a, .. }, Endpoint::Resource { kind: b, .. }) if a != b => {
            diags.push(
                Diagnostic::error(format!(
                    "cannot move a {a} to a {b}: a moved block keeps the kind"
                ))
                .at(Some(to_at))
                .expected(format!("to = {a}.NAME"))
                .help("to change the kind, remove the old resource (a `removed` block) and import the object into the new one"),
            );
            return;
        }
        (Endpoint::Resource { .. }, Endpoint::Module { .. })
        | (Endpoint::Module { .. }, Endpoint::Resource { .. }) => {
            diags.push(
                Diagnostic::error("a moved block moves a resource to a resource, or a module call to a module call")
                    .at(Some(to_at))
                    .note(format!("from is {from}, to is {to}"))
                    .help("to move a resource into a module, write its address there: to = module.NAME.KIND.NAME"),
            );
            return;
        }
        _ => {}
    }
    // One side naming an instance makes the other its keyless instance, as Terraform does.
    if from.has_key() || to.has_key() {
        from.set_instance();
        to.set_instance();
    }
    if from == to {
        diags.push(
            Diagnostic::error(format!("moved block moves {from} to itself"))
                .at(Some(from_at))
                .help("remove the block, or give `to` the new address"),
        );
        return;
    }
    module.moves.push(MovedDecl { from, to, span });
}

/// Read a `removed` block into `module.removed`.
pub fn read_removed(
    module: &mut ModuleConfig,
    block: Block,
    file: FileId,
    diags: &mut Diagnostics,
) {
    let span = header_span(&block, file);
    let p = parts(block, file, "removed", diags);
    let Some(from) = p.from else {
        diags.push(
            Diagnostic::error("removed block has no `from`")
                .at(Some(span))
                .expected("removed { from = KIND.NAME  lifecycle { destroy = false } }"),
        );
        return;
    };
    let Some((from, at)) = from else { return };
    if from.has_key() {
        diags.push(
            Diagnostic::error(format!(
                "removed block names one instance, {from}: it takes a whole resource or module call"
            ))
            .at(Some(at))
            .expected("from = KIND.NAME or module.NAME, without [KEY]")
            .help("to forget one instance only, run: mlinfra state rm 'ADDRESS'"),
        );
        return;
    }
    module.removed.push(RemovedDecl {
        from,
        destroy: p.destroy.unwrap_or(true),
        span,
    });
}

#[cfg(test)]
mod tests {
    fn errors(text: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.mlinfra.hcl"), text).unwrap();
        let (config, d) = crate::config::load::load(dir.path());
        d.iter()
            .map(|d| {
                let at = d
                    .span
                    .map(|s| config.sources.location(s))
                    .unwrap_or_default();
                let at = at
                    .rsplit_once('/')
                    .map(|(_, f)| f.to_string())
                    .unwrap_or(at);
                format!("{} @ {at}", d.summary)
            })
            .collect()
    }

    #[test]
    fn blocks_that_cannot_mean_a_move_are_errors_at_the_line() {
        let cases = [
            (
                "moved {\n  from = bucket.a\n  to   = gpu_pool.a\n}\n",
                "cannot move a bucket to a gpu_pool: a moved block keeps the kind @ main.mlinfra.hcl:3:10",
            ),
            (
                "moved {\n  from = bucket.a\n  to   = module.a\n}\n",
                "a moved block moves a resource to a resource, or a module call to a module call @ main.mlinfra.hcl:3:10",
            ),
            (
                "moved {\n  from = \"bucket.a\"\n  to   = bucket.b\n}\n",
                "`from` must be an address, not a value @ main.mlinfra.hcl:2:10",
            ),
            (
                "moved {\n  from = bucket.a\n}\n",
                "moved block needs both `from` and `to` @ main.mlinfra.hcl:1:1",
            ),
            (
                "moved {\n  from = bucket.a\n  to = bucket.a\n}\n",
                "moved block moves bucket.a to itself @ main.mlinfra.hcl:2:10",
            ),
            (
                "moved {\n  from = bucket.a[0]\n  to = bucket.a[\"x\"]\n  by = 1\n}\n",
                "unknown attribute `by` in moved @ main.mlinfra.hcl:4:3",
            ),
            (
                "removed {\n  from = bucket.a[0]\n}\n",
                "removed block names one instance, bucket.a[0]: it takes a whole resource or module call @ main.mlinfra.hcl:2:10",
            ),
            (
                "removed {\n  from = bucket.a\n  lifecycle {\n    destroy = \"no\"\n  }\n}\n",
                "`destroy` must be a literal true or false @ main.mlinfra.hcl:4:15",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(errors(text), [want], "{text}");
        }
        // Instance endpoints: the keyless side is the resource's keyless instance.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.mlinfra.hcl"),
            "moved {\n  from = bucket.a\n  to = bucket.a[0]\n}\n",
        )
        .unwrap();
        let (config, d) = crate::config::load::load(dir.path());
        assert!(d.is_empty());
        let m = &config.root().moves[0];
        assert!(matches!(
            m.from,
            super::Endpoint::Resource {
                instance: true,
                key: None,
                ..
            }
        ));
        assert_eq!(m.to.to_string(), "bucket.a[0]");
    }
}
