//! `import` blocks.

use super::*;

pub(super) fn read_import(
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
