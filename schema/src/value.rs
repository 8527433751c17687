//! The dynamically typed value of an evaluated manifest expression.

use std::collections::BTreeMap;
use std::fmt;

use crate::number::Number;

/// A value of the manifest language; `Unknown` is a value known only after apply.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Unknown,
}

impl Value {
    /// Round every number to what a JSON document holds of it ([`Number::stored`]), so a
    /// value compared with state, later, compares equal to itself.
    pub fn keep_as_stored(&mut self) {
        match self {
            Value::Number(n) => *n = n.stored(),
            Value::List(items) => items.iter_mut().for_each(Value::keep_as_stored),
            Value::Map(m) => m.values_mut().for_each(Value::keep_as_stored),
            _ => {}
        }
    }

    /// The type name a user sees in diagnostics.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "object",
            Value::Unknown => "(known after apply)",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.to_f64()),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when this value or anything inside it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::List(l) => l.iter().any(Value::contains_unknown),
            Value::Map(m) => m.values().any(Value::contains_unknown),
            _ => false,
        }
    }

    /// Look a dotted path up (`["offline", "bucket"]`); list elements by decimal index.
    pub fn get_path(&self, path: &[String]) -> Option<&Value> {
        let mut cur = self;
        for seg in path {
            cur = match cur {
                Value::Map(m) => m.get(seg)?,
                Value::List(l) => l.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Convert to JSON; unknown values become `null` (see `unknown_mask`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(l) => serde_json::Value::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// A JSON mirror of this value: `true` where a value is unknown, `false` otherwise,
    /// keeping only the branches that contain an unknown.
    pub fn unknown_mask(&self) -> serde_json::Value {
        match self {
            Value::Unknown => serde_json::Value::Bool(true),
            Value::List(l) if self.contains_unknown() => {
                serde_json::Value::Array(l.iter().map(Value::unknown_mask).collect())
            }
            Value::Map(m) if self.contains_unknown() => serde_json::Value::Object(
                m.iter()
                    .filter(|(_, v)| v.contains_unknown())
                    .map(|(k, v)| (k.clone(), v.unknown_mask()))
                    .collect(),
            ),
            Value::Map(_) => serde_json::Value::Object(Default::default()),
            _ => serde_json::Value::Bool(false),
        }
    }

    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(if let Some(i) = n.as_i64() {
                Number::from_i64(i)
            } else if let Some(u) = n.as_u64() {
                Number::from(u)
            } else {
                Number::from_json_f64(n.as_f64().unwrap_or(0.0))
            }),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Render as it would be written in a manifest (strings quoted).
    pub fn to_hcl(&self) -> String {
        let mut out = String::new();
        write_hcl(self, &mut out);
        out
    }
}

/// A JSON number: whole numbers of 64 bits exactly, any other the nearest 64-bit float
/// (what JSON readers take); infinity is null.
fn number_to_json(n: &Number) -> serde_json::Value {
    if let Some(i) = n.to_i64() {
        return serde_json::Value::Number(i.into());
    }
    if let Some(b) = n.to_bigint() {
        if let Ok(i) = i64::try_from(&b) {
            return serde_json::Value::Number(i.into());
        }
        if let Ok(u) = u64::try_from(&b) {
            return serde_json::Value::Number(u.into());
        }
    }
    serde_json::Number::from_f64(n.to_f64())
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

/// Format a number the way the language prints it: the fewest digits that identify it,
/// whole numbers without a fraction, never an exponent.
pub fn format_number(n: &Number) -> String {
    n.to_string()
}

/// An `f64` (a price, a quantity) in the form HCL writes numbers.
pub fn format_f64(n: f64) -> String {
    Number::from_f64(n).to_string()
}

fn write_hcl(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&format_number(n)),
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_hcl(item, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{ ");
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if is_identifier(k) {
                    out.push_str(k);
                } else {
                    write_hcl(&Value::String(k.clone()), out);
                }
                out.push_str(" = ");
                write_hcl(item, out);
            }
            out.push_str(" }");
        }
        Value::Unknown => out.push_str("(known after apply)"),
    }
}

/// True when `s` can be written bare as an HCL identifier.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => f.write_str(s),
            other => f.write_str(&other.to_hcl()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(Number::from_f64(n))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(Number::from_i64(n))
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Self {
        Value::Number(Number::from(n))
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_mask_keeps_only_unknown_branches() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), Value::from("x"));
        m.insert("id".to_string(), Value::Unknown);
        let v = Value::Map(m);
        assert_eq!(v.unknown_mask(), serde_json::json!({"id": true}));
        assert_eq!(v.to_json(), serde_json::json!({"a": "x", "id": null}));
    }

    #[test]
    fn numbers_print_without_fraction_when_integral() {
        assert_eq!(Value::from(8.0).to_hcl(), "8");
        assert_eq!(Value::from(0.5).to_hcl(), "0.5");
        let big = Value::Number(Number::parse("12345678901234567890123").unwrap());
        assert_eq!(big.to_hcl(), "12345678901234567890123");
        assert_eq!(
            Value::from_json(&serde_json::json!(18446744073709551615u64)).to_hcl(),
            "18446744073709551615"
        );
        assert_eq!(Value::from_json(&serde_json::json!(0.1)).to_hcl(), "0.1");
    }

    #[test]
    fn hcl_rendering_quotes_strings_and_keys() {
        let mut m = BTreeMap::new();
        m.insert("nvidia.com/gpu".to_string(), Value::from("a\"b"));
        assert_eq!(Value::Map(m).to_hcl(), r#"{ "nvidia.com/gpu" = "a\"b" }"#);
    }
}
