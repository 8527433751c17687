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
        Ok(Value::List(list(a, 0)?.to_vec()))
    }),
    ("tomap", "tomap(map)", |a, _| {
        Ok(Value::Map(map(a, 0)?.clone()))
    }),
    ("tonumber", "tonumber(value)", |a, _| match a.first() {
        Some(Value::Number(n)) => Ok(Value::Number(*n)),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Value::Number)
            .ok_or_else(|| format!("\"{s}\" is not a number")),
        Some(Value::Null) => Ok(Value::Null),
        other => Err(format!(
            "cannot convert {} to number",
            other.map(Value::type_name).unwrap_or("nothing")
        )),
    }),
    ("toset", "toset(list)", |a, _| {
        Ok(Value::List(dedupe(list(a, 0)?)))
    }),
    ("tostring", "tostring(value)", |a, _| {
        arity(a, 1)?;
        match &a[0] {
            Value::Null => Ok(Value::Null),
            v => to_string_value(v).map(Value::String),
        }
    }),
];
