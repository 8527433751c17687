//! Variable type expressions: `map(object({ gpus = number, zone = optional(string) }))`.

use std::ops::Range;

use crate::config::syntax::Span as _;
use crate::config::syntax::{Expression, ObjectKey};
use mlinfra_schema::AttrType;

/// Parse a type expression; `in_object` allows `optional(T)`.
pub fn parse_type(
    e: &Expression,
    in_object: bool,
) -> Result<AttrType, (String, Option<Range<usize>>)> {
    match e {
        Expression::Variable(v) => match v.as_str() {
            "string" => Ok(AttrType::String),
            "number" => Ok(AttrType::Number),
            "bool" => Ok(AttrType::Bool),
            "any" => Ok(AttrType::Any),
            other => Err((format!("unknown type `{other}`"), e.span())),
        },
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            let one = |what: &str| -> Result<&Expression, (String, Option<Range<usize>>)> {
                if args.len() == 1 {
                    Ok(args[0])
                } else {
                    Err((format!("{what}(…) takes exactly one type"), e.span()))
                }
            };
            match name {
                "list" => Ok(AttrType::List(Box::new(parse_type(one("list")?, false)?))),
                "set" => Ok(AttrType::Set(Box::new(parse_type(one("set")?, false)?))),
                "map" => Ok(AttrType::Map(Box::new(parse_type(one("map")?, false)?))),
                "tuple" => match one("tuple")? {
                    Expression::Array(items) => Ok(AttrType::Tuple(
                        items
                            .iter()
                            .map(|i| parse_type(i, false))
                            .collect::<Result<_, _>>()?,
                    )),
                    other => Err((
                        "tuple takes a list of types: tuple([string, number])".into(),
                        other.span(),
                    )),
                },
                "object" => match one("object")? {
                    Expression::Object(obj) => {
                        let mut fields = Vec::new();
                        for (k, v) in obj.iter() {
                            let key = match k {
                                ObjectKey::Ident(id) => id.as_str().to_string(),
                                ObjectKey::Expression(Expression::String(s)) => {
                                    s.value().to_string()
                                }
                                ObjectKey::Expression(other) => {
                                    return Err((
                                        "object type keys must be names".into(),
                                        other.span(),
                                    ))
                                }
                            };
                            let (ty, optional) = match v.expr() {
                                Expression::FuncCall(c) if c.name.name.as_str() == "optional" => {
                                    let inner = c.args.iter().next().ok_or_else(|| {
                                        ("optional(…) takes a type".to_string(), c.span())
                                    })?;
                                    (parse_type(inner, true)?, true)
                                }
                                other => (parse_type(other, true)?, false),
                            };
                            fields.push((key, ty, optional));
                        }
                        Ok(AttrType::Object(fields))
                    }
                    other => Err((
                        "object takes a map of attribute types: object({ name = string })".into(),
                        other.span(),
                    )),
                },
                "optional" if in_object => Err((
                    "optional(…) is only allowed directly as an object attribute type".into(),
                    e.span(),
                )),
                other => Err((format!("unknown type constructor `{other}`"), e.span())),
            }
        }
        other => Err(("not a type".into(), other.span())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> AttrType {
        parse_type(&crate::config::syntax::parse_expr(s).unwrap(), false).unwrap()
    }

    #[test]
    fn parses_nested_types() {
        assert_eq!(
            t("map(object({ gpus = number, zone = optional(string) }))").to_string(),
            "map(object({gpus = number, zone = optional(string)}))"
        );
        assert_eq!(
            t("list(string)"),
            AttrType::List(Box::new(AttrType::String))
        );
    }

    #[test]
    fn rejects_unknown_types() {
        let e = crate::config::syntax::parse_expr("strin").unwrap();
        assert!(parse_type(&e, false)
            .unwrap_err()
            .0
            .contains("unknown type `strin`"));
    }
}
