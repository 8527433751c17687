//! Read the `*.mlinfra.hcl` files of a directory (and its local modules) into declarations.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::config::syntax::Span as _;
use crate::config::syntax::{Block, Body, Structure};
use crate::config::syntax::{Expression, TraversalOperator};
use mlinfra_schema::{kind, kinds, AttrType, KindSchema};

use crate::config::types::parse_type;
use crate::diag::{did_you_mean, Diagnostic, Diagnostics, FileId, Sources, Span};

mod imports;
mod module_calls;
mod parse;
mod resources;
mod settings;
mod variables;

use imports::*;
use module_calls::*;
pub use parse::parse_source;
pub use parse::MAX_NESTING;
use parse::*;
pub use resources::parse_duration;
pub use resources::read_ref;
pub(crate) use resources::static_parts;
use resources::*;
use settings::*;
use variables::*;

/// The file suffix of manifests.
pub const MANIFEST_SUFFIX: &str = ".mlinfra.hcl";
/// The file suffix of variable files loaded automatically.
pub const AUTO_VARS_SUFFIX: &str = ".auto.mlinfra.vars";

const TOP_LEVEL_BLOCKS: &[&str] = &[
    "mlinfra", "variable", "locals", "output", "provider", "module", "moved", "removed", "import",
    "check",
];

/// A whole configuration: the root module, every local module it calls, and their sources.
#[derive(Debug, Default)]
pub struct Config {
    pub sources: Sources,
    /// Modules by directory; the root is `root_dir`.
    pub modules: BTreeMap<PathBuf, ModuleConfig>,
    pub root_dir: PathBuf,
    /// Some file did not parse: evaluating the rest would only add noise.
    pub has_syntax_errors: bool,
}

impl Config {
    pub fn root(&self) -> &ModuleConfig {
        &self.modules[&self.root_dir]
    }

    pub fn span_of(&self, file: FileId, s: Option<std::ops::Range<usize>>) -> Option<Span> {
        s.map(|r| Span::new(file, r))
    }
}

/// The declarations of one module directory.
#[derive(Debug, Default)]
pub struct ModuleConfig {
    pub dir: PathBuf,
    pub settings: Settings,
    pub variables: Vec<VariableDecl>,
    pub locals: Vec<LocalDecl>,
    pub outputs: Vec<OutputDecl>,
    pub providers: Vec<ProviderDecl>,
    pub resources: Vec<ResourceDecl>,
    pub module_calls: Vec<ModuleCall>,
    pub imports: Vec<ImportDecl>,
    /// `moved` blocks, relative to this module.
    pub moves: Vec<crate::config::refactoring::MovedDecl>,
    /// `removed` blocks, relative to this module.
    pub removed: Vec<crate::config::refactoring::RemovedDecl>,
    /// `check` blocks.
    pub checks: Vec<crate::config::conditions::CheckDecl>,
}

/// `import { to = ADDRESS  id = "cloud id" }`: adopt an existing object at plan time.
#[derive(Debug)]
pub struct ImportDecl {
    pub to: crate::address::Address,
    pub to_span: Span,
    pub id: Expression,
    pub span: Span,
    pub file: FileId,
}

/// The `mlinfra { … }` settings block.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    pub required_version: Option<(String, Span)>,
    pub backend: Option<BackendDecl>,
    /// `encryption { … }`: state at rest (kind "encryption").
    pub encryption: Option<BackendDecl>,
}

#[derive(Debug, Clone)]
pub struct BackendDecl {
    pub kind: String,
    pub span: Span,
    pub body: Body,
    pub file: FileId,
}

#[derive(Debug)]
pub struct VariableDecl {
    pub name: String,
    pub span: Span,
    pub file: FileId,
    pub ty: AttrType,
    pub default: Option<Expression>,
    pub description: Option<String>,
    pub sensitive: bool,
    /// `ephemeral = true`: the value is used in this run and never saved.
    pub ephemeral: bool,
    pub nullable: bool,
    pub validations: Vec<Validation>,
}

#[derive(Debug)]
pub struct Validation {
    pub condition: Expression,
    pub error_message: Expression,
}

#[derive(Debug)]
pub struct LocalDecl {
    pub name: String,
    pub span: Span,
    pub file: FileId,
    pub expr: Expression,
}

#[derive(Debug)]
pub struct OutputDecl {
    pub name: String,
    pub span: Span,
    pub file: FileId,
    pub value: Option<Expression>,
    pub sensitive: bool,
    /// `ephemeral = true` (child modules only): passed to the caller, never saved.
    pub ephemeral: bool,
    pub description: Option<String>,
    pub preconditions: Vec<crate::config::conditions::Condition>,
}

#[derive(Debug)]
pub struct ProviderDecl {
    pub cloud: String,
    pub alias: Option<String>,
    pub span: Span,
    pub file: FileId,
    pub body: Body,
}

impl ProviderDecl {
    /// `aws` or `aws.west`.
    pub fn key(&self) -> String {
        match &self.alias {
            Some(a) => format!("{}.{}", self.cloud, a),
            None => self.cloud.clone(),
        }
    }
}

/// A reference written in `depends_on`, `provider =` or `ignore_changes`.
#[derive(Debug, Clone)]
pub struct RefExpr {
    pub parts: Vec<String>,
    pub span: Span,
}

impl RefExpr {
    pub fn text(&self) -> String {
        self.parts.join(".")
    }
}

#[derive(Debug, Default, Clone)]
pub struct Lifecycle {
    pub prevent_destroy: bool,
    pub create_before_destroy: bool,
    /// Attribute names whose changes are ignored; `all` ignores every attribute.
    pub ignore_changes: Vec<String>,
    pub ignore_all: bool,
}

#[derive(Debug)]
pub struct ResourceDecl {
    pub kind: &'static KindSchema,
    pub name: String,
    /// Span of the block header (kind and label).
    pub span: Span,
    pub file: FileId,
    pub body: Body,
    pub count: Option<Expression>,
    pub for_each: Option<Expression>,
    pub depends_on: Vec<RefExpr>,
    pub provider: Option<RefExpr>,
    pub lifecycle: Lifecycle,
    /// `lifecycle { precondition { … } }`, checked before the instance is planned.
    pub preconditions: Vec<crate::config::conditions::Condition>,
    /// `lifecycle { postcondition { … } }`, checked on the planned and the applied values.
    pub postconditions: Vec<crate::config::conditions::Condition>,
    /// `lifecycle { prevent_destroy = EXPRESSION }` when it is not a literal.
    pub prevent_destroy: Option<Expression>,
    /// `lifecycle { replace_triggered_by = [REF, …] }`: each a resource reference, maybe
    /// with an instance key and attributes.
    pub replace_triggered_by: Vec<Expression>,
    pub timeouts: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct ModuleCall {
    pub name: String,
    pub span: Span,
    pub file: FileId,
    pub source: String,
    /// Directory of the called module, once resolved.
    pub dir: Option<PathBuf>,
    pub body: Body,
    pub count: Option<Expression>,
    pub for_each: Option<Expression>,
    pub depends_on: Vec<RefExpr>,
    /// Child provider key → parent provider reference.
    pub providers: Vec<(String, RefExpr)>,
}

/// Names in a module call body that are not inputs.
pub const MODULE_META: &[&str] = &[
    "source",
    "version",
    "count",
    "for_each",
    "depends_on",
    "providers",
];

/// Load the configuration rooted at `dir`, following local module sources.
pub fn load(dir: &Path) -> (Config, Diagnostics) {
    let mut config = Config::default();
    let mut diags = Diagnostics::default();
    let root = normalize(dir);
    config.root_dir = root.clone();
    let mut stack = Vec::new();
    load_module(&mut config, &root, &mut diags, &mut stack, None);
    (config, diags)
}

fn normalize(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

fn load_module(
    config: &mut Config,
    dir: &Path,
    diags: &mut Diagnostics,
    stack: &mut Vec<PathBuf>,
    called_from: Option<Span>,
) {
    if config.modules.contains_key(dir) {
        return;
    }
    let mut module = ModuleConfig {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(MANIFEST_SUFFIX))
            })
            .collect(),
        Err(e) => {
            diags.push(
                Diagnostic::error(format!("cannot read directory {}: {e}", dir.display()))
                    .at(called_from)
                    .help("check the path; run mlinfra in (or -chdir to) a directory of *.mlinfra.hcl files"),
            );
            config.modules.insert(dir.to_path_buf(), module);
            return;
        }
    };
    files.sort();
    if files.is_empty() {
        diags.push(
            Diagnostic::error(format!("no *{MANIFEST_SUFFIX} files in {}", dir.display()))
                .at(called_from)
                .expected(format!(
                    "at least one file named like main{MANIFEST_SUFFIX}"
                ))
                .help("run mlinfra in a configuration directory, or pass -chdir=DIR"),
        );
    }
    let mut ids = Vec::with_capacity(files.len());
    for path in files {
        let text = match crate::files::read_bytes_capped(&path, crate::budget::limits().file_bytes)
        {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    let id = config.sources.add(&path, String::new());
                    diags.push(
                        Diagnostic::error(format!(
                            "{} is not UTF-8 text (invalid byte at offset {})",
                            path.display(),
                            e.utf8_error().valid_up_to()
                        ))
                        .at(Some(Span::new(id, 0..0)))
                        .expected("a UTF-8 encoded HCL file")
                        .help("re-save the file as UTF-8, or move it out of the configuration directory"),
                    );
                    continue;
                }
            },
            Err(e) => {
                diags.push(
                    Diagnostic::error(e.to_string())
                        .help("a manifest this large is not a manifest; move it out of the directory, or raise the limit with --limit file-bytes=N"),
                );
                continue;
            }
        };
        ids.push(config.sources.add(&path, text));
    }
    // Files parse independently, so they parse on every core; they are read in order.
    for (id, parsed) in parse_all(&config.sources, &ids) {
        match parsed {
            Ok(body) => read_body(&mut module, body, id, diags),
            Err(d) => {
                diags.push(d);
                config.has_syntax_errors = true;
            }
        }
    }
    check_duplicates(&config.sources, &module, diags);

    // Resolve local module sources, then load them (depth first, refusing recursion).
    stack.push(dir.to_path_buf());
    for i in 0..module.module_calls.len() {
        let call = &module.module_calls[i];
        let src = call.source.clone();
        let span = call.span;
        if !(src.starts_with("./") || src.starts_with("../")) {
            diags.push(
                Diagnostic::error(format!("module source \"{src}\" is not a local path"))
                    .at(Some(span))
                    .expected("a local directory starting with ./ or ../")
                    .help("module libraries with versions are not supported yet; vendor the module into a local directory"),
            );
            continue;
        }
        let child = normalize(&dir.join(&src));
        if stack.contains(&child) {
            diags.push(
                Diagnostic::error(format!(
                    "module \"{}\" calls itself through {src}",
                    call.name
                ))
                .at(Some(span))
                .help("a module cannot call a module that (directly or indirectly) calls it"),
            );
            continue;
        }
        module.module_calls[i].dir = Some(child.clone());
        load_module(config, &child, diags, stack, Some(span));
    }
    stack.pop();
    config.modules.insert(dir.to_path_buf(), module);
}

pub(crate) fn span_of(file: FileId, r: Option<std::ops::Range<usize>>) -> Span {
    Span::new(file, r.unwrap_or(0..0))
}

/// The span of a block's header: its identifier through its last label.
pub fn header_span(block: &Block, file: FileId) -> Span {
    let start = block.ident.span().map(|r| r.start).unwrap_or(0);
    let end = block
        .labels
        .last()
        .and_then(|l| l.span())
        .or_else(|| block.ident.span())
        .map(|r| r.end)
        .unwrap_or(start);
    Span::new(file, start..end)
}

fn read_body(module: &mut ModuleConfig, body: Body, file: FileId, diags: &mut Diagnostics) {
    for structure in body {
        match structure {
            Structure::Attribute(attr) => {
                diags.push(
                    Diagnostic::error(format!(
                        "unexpected attribute `{}` at the top level",
                        attr.key.as_str()
                    ))
                    .at(Some(span_of(file, attr.key.span())))
                    .expected("a block: resource kinds, variable, locals, output, provider, module, mlinfra")
                    .help("attributes belong inside a block; put shared values in `locals { … }`"),
                );
            }
            Structure::Block(block) => read_block(module, *block, file, diags),
        }
    }
}

fn labels(block: &Block) -> Vec<String> {
    block
        .labels
        .iter()
        .map(|l| l.as_str().to_string())
        .collect()
}

fn want_labels(block: &Block, file: FileId, n: usize, what: &str, diags: &mut Diagnostics) -> bool {
    if block.labels.len() == n {
        return true;
    }
    let ident = block.ident.as_str();
    diags.push(
        Diagnostic::error(format!(
            "`{ident}` block has {} label(s), expected {n}",
            block.labels.len()
        ))
        .at(Some(header_span(block, file)))
        .expected(what.to_string()),
    );
    false
}

fn read_block(module: &mut ModuleConfig, block: Block, file: FileId, diags: &mut Diagnostics) {
    let ident = block.ident.as_str().to_string();
    let span = header_span(&block, file);
    match ident.as_str() {
        "mlinfra" => read_settings(module, block, file, diags),
        "variable" => {
            if want_labels(&block, file, 1, "variable \"name\" { … }", diags) {
                if let Some(v) = read_variable(block, file, diags) {
                    module.variables.push(v);
                }
            }
        }
        "locals" => {
            for s in block.body {
                match s {
                    Structure::Attribute(a) => module.locals.push(LocalDecl {
                        name: a.key.as_str().to_string(),
                        span: span_of(file, a.key.span()),
                        file,
                        expr: a.value,
                    }),
                    Structure::Block(b) => diags.push(
                        Diagnostic::error(format!(
                            "unexpected block `{}` in locals",
                            b.ident.as_str()
                        ))
                        .at(Some(header_span(&b, file)))
                        .expected("name = expression"),
                    ),
                }
            }
        }
        "output" => {
            if want_labels(&block, file, 1, "output \"name\" { value = … }", diags) {
                let name = labels(&block)[0].clone();
                let mut out = OutputDecl {
                    name,
                    span,
                    file,
                    value: None,
                    sensitive: false,
                    ephemeral: false,
                    description: None,
                    preconditions: Vec::new(),
                };
                for s in block.body {
                    match s {
                        Structure::Attribute(a) => match a.key.as_str() {
                            "value" => out.value = Some(a.value),
                            "sensitive" => out.sensitive = literal_bool(&a.value, file, diags),
                            "ephemeral" => out.ephemeral = literal_bool(&a.value, file, diags),
                            "description" => out.description = literal_string(&a.value),
                            "depends_on" => {}
                            other => diags.push(unknown_in(
                                "output",
                                other,
                                &[
                                    "value",
                                    "sensitive",
                                    "ephemeral",
                                    "description",
                                    "depends_on",
                                ],
                                span_of(file, a.key.span()),
                            )),
                        },
                        Structure::Block(b) if b.ident.as_str() == "precondition" => out
                            .preconditions
                            .extend(crate::config::conditions::read_condition(&b, file, diags)),
                        Structure::Block(b) => diags.push(unknown_block_in("output", &b, file)),
                    }
                }
                if out.value.is_none() {
                    diags.push(
                        Diagnostic::error(format!("output \"{}\" has no value", out.name))
                            .at(Some(span))
                            .expected("value = <expression>"),
                    );
                }
                module.outputs.push(out);
            }
        }
        "provider" => {
            if want_labels(
                &block,
                file,
                1,
                &format!(
                    "provider {} {{ … }}",
                    mlinfra_schema::providers::cloud_choice()
                ),
                diags,
            ) {
                let cloud = labels(&block)[0].clone();
                if mlinfra_schema::Cloud::parse(&cloud).is_none() {
                    diags.push(
                        Diagnostic::error(format!("unknown provider \"{cloud}\""))
                            .at(Some(span))
                            .expected(format!(
                                "one of {}",
                                mlinfra_schema::providers::quoted_cloud_names()
                            ))
                            .maybe_help(
                                did_you_mean(
                                    &cloud,
                                    mlinfra_schema::Cloud::ALL.map(mlinfra_schema::Cloud::as_str),
                                )
                                .map(|s| format!("did you mean \"{s}\"?")),
                            ),
                    );
                    return;
                }
                let alias = block
                    .body
                    .get_attribute("alias")
                    .and_then(|a| literal_string(&a.value));
                module.providers.push(ProviderDecl {
                    cloud,
                    alias,
                    span,
                    file,
                    body: block.body,
                });
            }
        }
        "module" => {
            if want_labels(
                &block,
                file,
                1,
                "module \"name\" { source = \"./dir\" … }",
                diags,
            ) {
                read_module_call(module, block, file, diags);
            }
        }
        "moved" => {
            if want_labels(
                &block,
                file,
                0,
                "moved { from = KIND.OLD  to = KIND.NEW }",
                diags,
            ) {
                crate::config::refactoring::read_moved(module, block, file, diags);
            }
        }
        "removed" => {
            if want_labels(
                &block,
                file,
                0,
                "removed { from = KIND.NAME  lifecycle { destroy = false } }",
                diags,
            ) {
                crate::config::refactoring::read_removed(module, block, file, diags);
            }
        }
        "check" => {
            if want_labels(&block, file, 1, "check \"name\" { assert { … } }", diags) {
                crate::config::conditions::read_check(module, block, file, diags);
            }
        }
        "import" => {
            if want_labels(
                &block,
                file,
                0,
                "import { to = KIND.NAME  id = \"…\" }",
                diags,
            ) {
                read_import(module, block, file, span, diags);
            }
        }
        _ => match kind(&ident) {
            Some(k) => {
                if want_labels(&block, file, 1, &format!("{ident} \"name\" {{ … }}"), diags) {
                    read_resource(module, k, block, file, diags);
                }
            }
            None => {
                let candidates = kinds()
                    .iter()
                    .map(|k| k.name)
                    .chain(TOP_LEVEL_BLOCKS.iter().copied());
                diags.push(
                    Diagnostic::error(format!("unknown block type `{ident}`"))
                        .at(Some(span_of(file, block.ident.span())))
                        .expected(format!(
                            "a resource kind ({}) or one of {}",
                            kinds()
                                .iter()
                                .map(|k| k.name)
                                .collect::<Vec<_>>()
                                .join(", "),
                            TOP_LEVEL_BLOCKS.join(", ")
                        ))
                        .maybe_help(
                            did_you_mean(&ident, candidates)
                                .map(|s| format!("did you mean `{s}`?")),
                        ),
                );
            }
        },
    }
}

pub(crate) fn unknown_in(what: &str, name: &str, known: &[&str], span: Span) -> Diagnostic {
    Diagnostic::error(format!("unknown attribute `{name}` in {what}"))
        .at(Some(span))
        .expected(format!("one of {}", known.join(", ")))
        .maybe_help(
            did_you_mean(name, known.iter().copied()).map(|s| format!("did you mean `{s}`?")),
        )
}

pub(crate) fn unknown_block_in(what: &str, b: &Block, file: FileId) -> Diagnostic {
    Diagnostic::error(format!("unexpected block `{}` in {what}", b.ident.as_str()))
        .at(Some(header_span(b, file)))
}

fn literal_string(e: &Expression) -> Option<String> {
    match e {
        Expression::String(s) => Some(s.value().to_string()),
        Expression::StringTemplate(t) => {
            let mut out = String::new();
            for el in t.iter() {
                out.push_str(el.as_literal()?.value());
            }
            Some(out)
        }
        _ => None,
    }
}

fn literal_bool(e: &Expression, file: FileId, diags: &mut Diagnostics) -> bool {
    match e {
        Expression::Bool(b) => *b.value(),
        other => {
            diags.push(
                Diagnostic::error("expected a literal true or false")
                    .at(Some(span_of(file, other.span())))
                    .expected("true or false"),
            );
            false
        }
    }
}

fn check_duplicates(sources: &Sources, module: &ModuleConfig, diags: &mut Diagnostics) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    let mut check = |key: String, span: Span, diags: &mut Diagnostics| {
        if let Some(first) = seen.get(&key) {
            diags.push(
                Diagnostic::error(format!("{key} is declared twice"))
                    .at(Some(span))
                    .note(format!("first declared at {}", sources.location(*first)))
                    .help("rename one of them; names are unique per kind within a module"),
            );
        } else {
            seen.insert(key, span);
        }
    };
    for v in &module.variables {
        check(format!("var.{}", v.name), v.span, diags);
    }
    for l in &module.locals {
        check(format!("local.{}", l.name), l.span, diags);
    }
    for o in &module.outputs {
        check(format!("output.{}", o.name), o.span, diags);
    }
    for p in &module.providers {
        check(format!("provider.{}", p.key()), p.span, diags);
    }
    for r in &module.resources {
        check(format!("{}.{}", r.kind.name, r.name), r.span, diags);
    }
    for m in &module.module_calls {
        check(format!("module.{}", m.name), m.span, diags);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_units() {
        assert_eq!(parse_duration("60m"), Some(3600));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("7d"), Some(604800));
        assert_eq!(parse_duration("60"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("100000000000000000d"), None);
    }
}
