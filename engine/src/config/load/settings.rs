//! The `mlinfra` settings block: backends and encryption.

use super::*;

pub(super) fn read_settings(
    module: &mut ModuleConfig,
    block: Block,
    file: FileId,
    diags: &mut Diagnostics,
) {
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
