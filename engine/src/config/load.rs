//! Read the `*.mlinfra.hcl` files of a directory (and its local modules) into declarations.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::Span as _;
use mlinfra_schema::{kind, kinds, AttrType, KindSchema};

use crate::config::types::parse_type;
use crate::diag::{did_you_mean, Diagnostic, Diagnostics, FileId, Sources, Span};

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

/// Parse the files `ids`, on as many threads as there are cores (and files), in order.
fn parse_all(sources: &Sources, ids: &[FileId]) -> Vec<(FileId, Result<Body, Diagnostic>)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(ids.len());
    if threads <= 1 {
        return ids.iter().map(|&id| (id, parse_source(sources, id))).collect();
    }
    // Largest files first, dealt round-robin, so the threads finish together.
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sources.get(ids[i]).text.len()));
    let mut results: Vec<Option<Result<Body, Diagnostic>>> = (0..ids.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<usize> = order.iter().copied().skip(t).step_by(threads).collect();
                // The main thread's stack size: the parser recurses once per nesting level.
                std::thread::Builder::new()
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, move || {
                        mine.into_iter()
                            .map(|i| (i, parse_source(sources, ids[i])))
                            .collect::<Vec<_>>()
                    })
            })
            .collect();
        for h in handles {
            let Ok(h) = h else { continue };
            match h.join() {
                Ok(parsed) => {
                    for (i, r) in parsed {
                        results[i] = Some(r);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    ids.iter()
        .zip(results)
        .map(|(&id, r)| (id, r.unwrap_or_else(|| parse_source(sources, id))))
        .collect()
}

/// Parse one source file, turning a syntax error into a diagnostic.
pub fn parse_source(sources: &Sources, id: FileId) -> Result<Body, Diagnostic> {
    let file = sources.get(id);
    if file.text.contains('\0') {
        let at = file.text.find('\0').unwrap_or(0);
        return Err(
            Diagnostic::error("file contains a NUL byte; it is not a text manifest")
                .at(Some(Span::new(id, at..at + 1)))
                .expected("HCL text")
                .help("remove binary files from the configuration directory"),
        );
    }
    if let Some(at) = too_deep(&file.text) {
        return Err(
            Diagnostic::error(format!("brackets nest deeper than {MAX_NESTING} levels"))
                .at(Some(Span::new(id, at..at + 1)))
                .expected(format!("at most {MAX_NESTING} nested (, [ or {{"))
                .help("flatten the expression; use locals for intermediate values"),
        );
    }
    hcl_edit::parser::parse_body(&file.text).map_err(|e| {
        let loc = e.location();
        let offset = loc.offset();
        Diagnostic::error(format!("syntax error: {}", first_line(e.message())))
            .at(Some(Span::new(id, offset..offset + 1)))
            .expected(expected_from_parse_error(e.message()))
            .help("check for a missing closing brace, quote or `=` near this position")
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn expected_from_parse_error(msg: &str) -> String {
    msg.lines()
        .find_map(|l| l.strip_prefix("expected "))
        .map(|s| s.to_string())
        .unwrap_or_else(|| {
            "valid HCL: `name = value` attributes and `type \"label\" { … }` blocks".into()
        })
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
            Structure::Block(block) => read_block(module, block, file, diags),
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
        Expression::String(s) => Some(s.value().clone()),
        Expression::StringTemplate(t) => {
            let mut out = String::new();
            for el in t.iter() {
                out.push_str(el.as_literal()?.as_str());
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

fn read_settings(module: &mut ModuleConfig, block: Block, file: FileId, diags: &mut Diagnostics) {
    if !want_labels(&block, file, 0, "mlinfra { … }", diags) {
        return;
    }
    for s in block.body {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "required_version" => match literal_string(&a.value) {
                    Some(v) => {
                        module.settings.required_version = Some((v, span_of(file, a.value.span())))
                    }
                    None => diags.push(
                        Diagnostic::error("required_version must be a literal string")
                            .at(Some(span_of(file, a.value.span())))
                            .expected("a version constraint like \">= 0.1\""),
                    ),
                },
                other => diags.push(unknown_in(
                    "the mlinfra block",
                    other,
                    &["required_version"],
                    span_of(file, a.key.span()),
                )),
            },
            Structure::Block(b) if b.ident.as_str() == "backend" => {
                if want_labels(&b, file, 1, "backend \"local\" { path = \"…\" }", diags) {
                    let kind = labels(&b)[0].clone();
                    module.settings.backend = Some(BackendDecl {
                        kind,
                        span: header_span(&b, file),
                        body: b.body,
                        file,
                    });
                }
            }
            Structure::Block(b) if b.ident.as_str() == "encryption" => {
                if want_labels(&b, file, 0, "encryption { enforced = true }", diags) {
                    module.settings.encryption = Some(BackendDecl {
                        kind: "encryption".into(),
                        span: header_span(&b, file),
                        body: b.body,
                        file,
                    });
                }
            }
            Structure::Block(b) => diags.push(
                unknown_block_in("the mlinfra block", &b, file)
                    .expected("backend \"NAME\" { … } or encryption { … }"),
            ),
        }
    }
}

fn read_variable(block: Block, file: FileId, diags: &mut Diagnostics) -> Option<VariableDecl> {
    let name = labels(&block)[0].clone();
    let span = header_span(&block, file);
    if [
        "count",
        "for_each",
        "depends_on",
        "providers",
        "source",
        "version",
        "lifecycle",
    ]
    .contains(&name.as_str())
    {
        diags.push(
            Diagnostic::error(format!("`{name}` is reserved and cannot name a variable"))
                .at(Some(span))
                .help("choose another name"),
        );
    }
    let mut v = VariableDecl {
        name,
        span,
        file,
        ty: AttrType::Any,
        default: None,
        description: None,
        sensitive: false,
        ephemeral: false,
        nullable: true,
        validations: Vec::new(),
    };
    for s in block.body {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "type" => match parse_type(&a.value, false) {
                    Ok(t) => v.ty = t,
                    Err((msg, sp)) => diags.push(
                        Diagnostic::error(msg)
                            .at(Some(span_of(file, sp.or(a.value.span()))))
                            .expected("a type: string, number, bool, any, list(T), set(T), map(T), tuple([…]), object({ name = T, other = optional(T) })"),
                    ),
                },
                "default" => v.default = Some(a.value),
                "description" => v.description = literal_string(&a.value),
                "sensitive" => v.sensitive = literal_bool(&a.value, file, diags),
                "ephemeral" => v.ephemeral = literal_bool(&a.value, file, diags),
                "nullable" => v.nullable = literal_bool(&a.value, file, diags),
                other => diags.push(unknown_in(
                    "variable",
                    other,
                    &["type", "default", "description", "sensitive", "ephemeral", "nullable"],
                    span_of(file, a.key.span()),
                ).note("validation rules are blocks: validation { condition = … error_message = … }")),
            },
            Structure::Block(b) if b.ident.as_str() == "validation" => {
                let bspan = header_span(&b, file);
                let mut condition = None;
                let mut message = None;
                for s in b.body {
                    match s {
                        Structure::Attribute(a) if a.key.as_str() == "condition" => condition = Some(a.value),
                        Structure::Attribute(a) if a.key.as_str() == "error_message" => message = Some(a.value),
                        Structure::Attribute(a) => diags.push(unknown_in("validation", a.key.as_str(), &["condition", "error_message"], span_of(file, a.key.span()))),
                        Structure::Block(bb) => diags.push(unknown_block_in("validation", &bb, file)),
                    }
                }
                match (condition, message) {
                    (Some(condition), Some(error_message)) => v.validations.push(Validation { condition, error_message }),
                    _ => diags.push(
                        Diagnostic::error("validation needs both condition and error_message")
                            .at(Some(bspan))
                            .expected("validation { condition = <bool expression>  error_message = \"…\" }"),
                    ),
                }
            }
            Structure::Block(b) => diags.push(unknown_block_in("variable", &b, file).expected("validation { … }")),
        }
    }
    Some(v)
}

/// Read a static reference list like `[cluster.train, module.net]`.
fn read_refs(e: &Expression, file: FileId, what: &str, diags: &mut Diagnostics) -> Vec<RefExpr> {
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

fn read_resource(
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

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn read_lifecycle(
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
fn read_triggers(e: &Expression, file: FileId, diags: &mut Diagnostics) -> Vec<Expression> {
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

fn read_timeouts(b: &Block, file: FileId, diags: &mut Diagnostics) -> BTreeMap<String, String> {
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

fn read_module_call(
    module: &mut ModuleConfig,
    block: Block,
    file: FileId,
    diags: &mut Diagnostics,
) {
    let name = labels(&block)[0].clone();
    let span = header_span(&block, file);
    let mut call = ModuleCall {
        name,
        span,
        file,
        source: String::new(),
        dir: None,
        body: Body::new(),
        count: None,
        for_each: None,
        depends_on: Vec::new(),
        providers: Vec::new(),
    };
    let mut has_source = false;
    let mut rest = Body::new();
    for s in block.body {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "source" => match literal_string(&a.value) {
                    Some(src) => {
                        call.source = src;
                        has_source = true;
                    }
                    None => diags.push(
                        Diagnostic::error("module source must be a literal string")
                            .at(Some(span_of(file, a.value.span())))
                            .expected("source = \"./modules/NAME\""),
                    ),
                },
                "version" => {}
                "count" => call.count = Some(a.value),
                "for_each" => call.for_each = Some(a.value),
                "depends_on" => call.depends_on = read_refs(&a.value, file, "depends_on", diags),
                "providers" => match &a.value {
                    Expression::Object(obj) => {
                        for (k, v) in obj.iter() {
                            let key = match k {
                                hcl_edit::expr::ObjectKey::Ident(id) => id.as_str().to_string(),
                                hcl_edit::expr::ObjectKey::Expression(e) => {
                                    static_parts(e).map(|p| p.join(".")).unwrap_or_default()
                                }
                            };
                            if let Some(r) = read_ref(v.expr(), file, "providers", diags) {
                                call.providers.push((key, r));
                            }
                        }
                    }
                    other => diags.push(
                        Diagnostic::error("providers must be a map of provider references")
                            .at(Some(span_of(file, other.span())))
                            .expected(format!(
                                "providers = {{ {} = {} }}",
                                mlinfra_schema::Cloud::ALL[0],
                                mlinfra_schema::providers::alias_example()
                            )),
                    ),
                },
                _ => rest.push(Structure::Attribute(a)),
            },
            Structure::Block(b) => diags.push(
                unknown_block_in("module", &b, file).expected("inputs as attributes: name = value"),
            ),
        }
    }
    if !has_source {
        diags.push(
            Diagnostic::error(format!("module \"{}\" has no source", call.name))
                .at(Some(span))
                .expected("source = \"./modules/NAME\""),
        );
        return;
    }
    call.body = rest;
    module.module_calls.push(call);
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

/// Deepest bracket nesting accepted; the parser recurses per level.
pub const MAX_NESTING: usize = 256;

/// The offset where bracket nesting first exceeds [`MAX_NESTING`], if it does. Only
/// brackets the parser nests on count: those in code and in `${…}`/`%{…}` inside
/// strings and heredocs, not those in string text or comments.
fn too_deep(text: &str) -> Option<usize> {
    #[derive(PartialEq)]
    enum Mode {
        /// Code, with the brackets opened at this level (to find the `}` that ends an
        /// interpolation).
        Code(usize),
        Str,
        Heredoc(String),
    }
    let b = text.as_bytes();
    let mut stack = vec![Mode::Code(0)];
    let mut depth = 0usize;
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        let c = b[i];
        let at_line_start = line_start;
        line_start = c == b'\n';
        let nested = stack.len() > 1;
        let mut template = false;
        match stack.last_mut() {
            Some(Mode::Code(open)) => match c {
                b'#' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'/' if b.get(i + 1) == Some(&b'/') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'/' if b.get(i + 1) == Some(&b'*') => {
                    i += 2;
                    while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                        i += 1;
                    }
                    i += 2;
                    continue;
                }
                b'"' => stack.push(Mode::Str),
                b'<' if b.get(i + 1) == Some(&b'<') => {
                    // `<<EOT` / `<<-EOT` up to the end of the line.
                    let mut j = i + 2;
                    if b.get(j) == Some(&b'-') {
                        j += 1;
                    }
                    let start = j;
                    while j < b.len()
                        && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-')
                    {
                        j += 1;
                    }
                    let marker = &text[start..j];
                    let eol = b.get(j) == Some(&b'\n')
                        || (b.get(j) == Some(&b'\r') && b.get(j + 1) == Some(&b'\n'));
                    if !marker.is_empty() && eol {
                        stack.push(Mode::Heredoc(marker.to_string()));
                        i = j;
                        continue;
                    }
                }
                b'(' | b'[' | b'{' => {
                    *open += 1;
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(i);
                    }
                }
                b')' | b']' => {
                    *open = open.saturating_sub(1);
                    depth = depth.saturating_sub(1);
                }
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if *open == 0 && nested {
                        // The end of an interpolation: back into its string or heredoc.
                        stack.pop();
                    } else {
                        *open = open.saturating_sub(1);
                    }
                }
                _ => {}
            },
            Some(Mode::Str) => match c {
                b'\\' => i += 1,
                b'"' | b'\n' => {
                    stack.pop();
                }
                _ => template = true,
            },
            Some(Mode::Heredoc(marker)) => {
                if at_line_start {
                    let end = text[i..].find('\n').map(|e| i + e).unwrap_or(b.len());
                    if text[i..end].trim() == marker.as_str() {
                        stack.pop();
                        i = end;
                        continue;
                    }
                }
                template = true;
            }
            None => break,
        }
        // In string or heredoc text: `${`/`%{` opens an interpolation (`$${` is literal).
        if template && matches!(c, b'$' | b'%') {
            if b.get(i + 1) == Some(&c) && b.get(i + 2) == Some(&b'{') {
                i += 2;
            } else if b.get(i + 1) == Some(&b'{') {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
                stack.push(Mode::Code(0));
                i += 1;
            }
        }
        i += 1;
    }
    None
}

fn read_import(
    module: &mut ModuleConfig,
    block: Block,
    file: FileId,
    span: Span,
    diags: &mut Diagnostics,
) {
    let mut to = None;
    let mut id = None;
    for s in block.body {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "to" => {
                    let at = span_of(file, a.value.span());
                    let text = a.value.to_string();
                    match crate::address::Address::parse(text.trim()) {
                        Ok(addr) => to = Some((addr, at)),
                        Err(e) => diags.push(
                            Diagnostic::error(format!("`to` must be a resource address: {e}"))
                                .at(Some(at))
                                .expected("to = KIND.NAME, KIND.NAME[KEY] or module.M.KIND.NAME"),
                        ),
                    }
                }
                "id" => id = Some(a.value),
                other => diags.push(unknown_in(
                    "import",
                    other,
                    &["to", "id"],
                    span_of(file, a.key.span()),
                )),
            },
            Structure::Block(b) => diags.push(unknown_block_in("import", &b, file)),
        }
    }
    match (to, id) {
        (Some((to, to_span)), Some(id)) => module.imports.push(ImportDecl {
            to,
            to_span,
            id,
            span,
            file,
        }),
        (None, _) => diags.push(
            Diagnostic::error("import block has no `to`")
                .at(Some(span))
                .expected("to = KIND.NAME (the resource to import into)"),
        ),
        (_, None) => diags.push(
            Diagnostic::error("import block has no `id`")
                .at(Some(span))
                .expected("id = \"…\" (the object's cloud id, as `mlinfra import` takes it)"),
        ),
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
