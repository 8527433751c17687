//! Type conversion functions: tobool, tolist, tomap, tonumber, toset, tostring (`can` and
//! `try` are in the evaluator, which they need).

use super::*;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("tobool", "tobool(value)", |a, _| match a.first() {
        Some(Value::Bool(b)) => Ok(Value::Bool(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
        Some(Value::Null) => Ok(Value::Null),
        other => Err(format!(
            "cannot convert {} to bool",
            other.map(Value::type_name).unwrap_or("nothing")
        )),
    }),
    ("tolist", "tolist(list)", |a, _| {
        Ok(Value::List(of_one_type(
            list(a, 0)?.to_vec(),
            "tuple",
            "list",
        )?))
    }),
    ("tomap", "tomap(map)", |a, _| {
        let m = map(a, 0)?;
        let values = of_one_type(m.values().cloned().collect(), "object", "map")?;
        Ok(Value::Map(m.keys().cloned().zip(values).collect()))
    }),
    ("tonumber", "tonumber(value)", |a, _| match a.first() {
        Some(Value::Number(n)) => Ok(Value::Number(n.clone())),
        Some(Value::String(s)) => mlinfra_schema::Number::parse(s)
            .filter(mlinfra_schema::Number::is_finite)
            .map(Value::Number)
            .ok_or_else(|| format!("\"{s}\" is not a number")),
        Some(Value::Null) => Ok(Value::Null),
        other => Err(format!(
            "cannot convert {} to number",
            other.map(Value::type_name).unwrap_or("nothing")
        )),
    }),
    ("toset", "toset(list)", |a, _| {
        let mut set = dedupe(&of_one_type(list(a, 0)?.to_vec(), "tuple", "set")?);
        // A set of strings, numbers or bools is in their order, as Terraform lists it.
        if set.iter().all(|v| matches!(v, Value::String(_))) {
            set.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
        } else if set.iter().all(|v| matches!(v, Value::Number(_))) {
            set.sort_by(|x, y| {
                x.as_f64()
                    .partial_cmp(&y.as_f64())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        } else if set.iter().all(|v| matches!(v, Value::Bool(_))) {
            set.sort_by_key(|x| x.as_bool());
        }
        Ok(Value::List(set))
    }),
    ("tostring", "tostring(value)", |a, _| {
        arity(a, 1)?;
        match &a[0] {
            Value::Null => Ok(Value::Null),
            v => to_string_value(v).map(Value::String),
        }
    }),
];

/// The elements converted to one type, or Terraform's error for a value that has none.
fn of_one_type(items: Vec<Value>, from: &str, to: &str) -> Result<Vec<Value>, String> {
    super::unify::one_element_type(items)
        .map_err(|why| format!("cannot convert {from} to {to} of any single type ({why})"))
}
