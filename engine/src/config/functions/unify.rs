//! Type unification as Terraform does it for values that must share one type: the two
//! arms of a conditional and the arguments of `coalesce`. A string with a number or a bool
//! makes them all strings (`true ? 12 : "hello"` is `"12"`); a number with a bool, or a
//! collection with a primitive, or a list with an object, has no common type and is an
//! error. Lists and maps unify their elements the same way; null and unknown values take
//! any type.

use mlinfra_schema::{format_number, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    String,
    Number,
    Bool,
    List,
    Map,
}

fn shape(v: &Value) -> Option<Shape> {
    match v {
        Value::String(_) => Some(Shape::String),
        Value::Number(_) => Some(Shape::Number),
        Value::Bool(_) => Some(Shape::Bool),
        Value::List(_) => Some(Shape::List),
        Value::Map(_) => Some(Shape::Map),
        Value::Null | Value::Unknown => None,
    }
}

fn name(s: Shape) -> &'static str {
    match s {
        Shape::String => "string",
        Shape::Number => "number",
        Shape::Bool => "bool",
        Shape::List => "list",
        Shape::Map => "object",
    }
}

/// The primitive type a set of primitives converts to: a string absorbs numbers and bools;
/// a number and a bool have none.
fn primitives(found: &[Shape]) -> Result<Option<Shape>, (Shape, Shape)> {
    let Some(&first) = found.first() else {
        return Ok(None);
    };
    if found.iter().all(|s| *s == first) {
        return Ok(Some(first));
    }
    if found.contains(&Shape::String) {
        return Ok(Some(Shape::String));
    }
    Err((Shape::Number, Shape::Bool))
}

/// The element shape every primitive element of `values` converts to; `None` when some
/// element is a collection (those are left as they are) or there is no element.
fn element_shape<'a>(
    values: impl Iterator<Item = &'a Value>,
) -> Result<Option<Shape>, (Shape, Shape)> {
    let mut found = Vec::new();
    for v in values {
        match shape(v) {
            None => {}
            Some(Shape::List | Shape::Map) => return Ok(None),
            Some(s) => found.push(s),
        }
    }
    primitives(&found)
}

fn collection_shape(s: Shape) -> bool {
    matches!(s, Shape::List | Shape::Map)
}

fn children(v: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match v {
        Value::List(l) => Box::new(l.iter()),
        Value::Map(m) => Box::new(m.values()),
        _ => Box::new(std::iter::empty()),
    }
}

/// Convert `v` so that it has the type the `others` share with it. The error names the
/// two types that have none in common.
pub fn unify_with(v: Value, others: &[&Value]) -> Result<Value, String> {
    let Some(first) = shape(&v) else { return Ok(v) };
    let mut found = vec![first];
    for o in others {
        let Some(os) = shape(o) else { continue };
        if (collection_shape(first) || collection_shape(os)) && first != os {
            return Err(format!("{} and {}", name(first), name(os)));
        }
        found.push(os);
    }
    let s = if collection_shape(first) {
        first
    } else {
        primitives(&found)
            .map_err(|(a, b)| format!("{} and {}", name(a), name(b)))?
            .unwrap_or(first)
    };
    Ok(match (&v, s) {
        (Value::Number(_) | Value::Bool(_), Shape::String) => Value::String(to_string(&v)),
        (Value::List(_) | Value::Map(_), _) => {
            let all = std::iter::once(&v)
                .chain(others.iter().copied())
                .flat_map(children);
            match element_shape(all)
                .map_err(|(a, b)| format!("elements of types {} and {}", name(a), name(b)))?
            {
                Some(Shape::String) => convert_elements(v),
                _ => v,
            }
        }
        _ => v,
    })
}

/// The elements of a collection converted to one type, as `tolist`, `toset` and `tomap`
/// convert a tuple or an object: a string absorbs numbers and bools (`tolist(["a", 1])` is
/// `["a", "1"]`), and lists or maps of them unify their elements the same way. The error
/// names two types that have none in common.
pub fn one_element_type(items: Vec<Value>) -> Result<Vec<Value>, String> {
    let shapes: Vec<Shape> = items.iter().filter_map(shape).collect();
    let Some(&first) = shapes.first() else {
        return Ok(items);
    };
    if let Some(&other) = shapes
        .iter()
        .find(|s| **s != first && (collection_shape(first) || collection_shape(**s)))
    {
        return Err(format!("{} and {}", name(first), name(other)));
    }
    let to = if collection_shape(first) {
        element_shape(items.iter().flat_map(children))
            .map_err(|(a, b)| format!("elements of types {} and {}", name(a), name(b)))?
            .filter(|s| *s == Shape::String)
            .map(|_| ())
    } else {
        primitives(&shapes)
            .map_err(|(a, b)| format!("{} and {}", name(a), name(b)))?
            .filter(|s| *s == Shape::String)
            .map(|_| ())
    };
    if to.is_none() {
        return Ok(items);
    }
    Ok(items
        .into_iter()
        .map(|e| match e {
            Value::Number(_) | Value::Bool(_) => Value::String(to_string(&e)),
            Value::List(_) | Value::Map(_) => convert_elements(e),
            other => other,
        })
        .collect())
}

fn to_string(v: &Value) -> String {
    match v {
        Value::Number(n) => format_number(n),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

fn convert_elements(v: Value) -> Value {
    let conv = |e: Value| match e {
        Value::Number(_) | Value::Bool(_) => Value::String(to_string(&e)),
        other => other,
    };
    match v {
        Value::List(l) => Value::List(l.into_iter().map(conv).collect()),
        Value::Map(m) => Value::Map(m.into_iter().map(|(k, e)| (k, conv(e))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(j: serde_json::Value) -> Value {
        Value::from_json(&j)
    }

    #[test]
    fn unifies_as_terraform_does() {
        let rows = [
            (json!(12), json!("hello"), Ok(json!("12"))),
            (json!(true), json!("x"), Ok(json!("true"))),
            (json!("a"), json!(1), Ok(json!("a"))),
            (json!(1), json!(2), Ok(json!(1))),
            (json!(1), json!(null), Ok(json!(1))),
            (json!(null), json!("a"), Ok(json!(null))),
            (json!([1, 2]), json!(["a"]), Ok(json!(["1", "2"]))),
            (json!([1, 2]), json!([3]), Ok(json!([1, 2]))),
            (json!({"a": 1}), json!({"b": "x"}), Ok(json!({"a": "1"}))),
            (json!([[1]]), json!([["a"]]), Ok(json!([[1]]))),
            (json!(1), json!(true), Err("number and bool")),
            (json!([1]), json!("a"), Err("list and string")),
            (json!([1]), json!({"a": 1}), Err("list and object")),
            (
                json!([1]),
                json!([true]),
                Err("elements of types number and bool"),
            ),
        ];
        for (a, b, want) in rows {
            let other = v(b.clone());
            let got = unify_with(v(a.clone()), &[&other]);
            match want {
                Ok(w) => assert_eq!(got, Ok(v(w)), "{a} with {b}"),
                Err(e) => assert_eq!(got, Err(e.to_string()), "{a} with {b}"),
            }
        }
    }

    #[test]
    fn conversions_find_one_element_type() {
        let rows = [
            (json!(["a", 1, true]), Ok(json!(["a", "1", "true"]))),
            (json!([1, 2]), Ok(json!([1, 2]))),
            (json!([1, null]), Ok(json!([1, null]))),
            (json!([[1], ["a"]]), Ok(json!([["1"], ["a"]]))),
            (
                json!([{"a": 1}, {"b": "x"}]),
                Ok(json!([{"a": "1"}, {"b": "x"}])),
            ),
            (json!([1, true]), Err("number and bool")),
            (json!(["a", [1]]), Err("string and list")),
            (json!([[1], {"a": 1}]), Err("list and object")),
            (
                json!([[1], [true]]),
                Err("elements of types number and bool"),
            ),
        ];
        for (items, want) in rows {
            let got = one_element_type(
                items
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(Value::from_json)
                    .collect(),
            );
            match want {
                Ok(w) => assert_eq!(
                    got,
                    Ok(w.as_array().unwrap().iter().map(Value::from_json).collect()),
                    "{items}"
                ),
                Err(e) => assert_eq!(got, Err(e.to_string()), "{items}"),
            }
        }
    }
}
