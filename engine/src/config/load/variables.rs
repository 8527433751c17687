//! `variable` blocks: type, default, sensitivity, ephemerality and validations.

use super::*;

pub(super) fn read_variable(
    block: Block,
    file: FileId,
    diags: &mut Diagnostics,
) -> Option<VariableDecl> {
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
