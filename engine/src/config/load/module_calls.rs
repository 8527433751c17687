//! `module` blocks: source, inputs and meta-arguments.

use super::*;

pub(super) fn read_module_call(
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
                                crate::config::syntax::ObjectKey::Ident(id) => {
                                    id.as_str().to_string()
                                }
                                crate::config::syntax::ObjectKey::Expression(e) => {
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
