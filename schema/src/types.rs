//! Attribute types and the conversion of values to them.

use std::collections::BTreeMap;
use std::fmt;

use crate::value::{format_number, Value};

/// The declared type of an attribute or variable.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AttrType {
    String,
    Number,
    Bool,
    List(Box<AttrType>),
    Set(Box<AttrType>),
    Map(Box<AttrType>),
    /// An object with named attributes; the bool says whether the attribute is optional.
    Object(Vec<(String, AttrType, bool)>),
    Tuple(Vec<AttrType>),
    /// A reference to a resource of the named kind (`cluster.train`), or its name.
    Ref(&'static str),
    /// Either a number or a map of numbers (per-pool quotas).
    NumberOrMap,
    /// Either a string or a map of numbers (MIG profile or profile → count).
    StringOrMap,
    Any,
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrType::String => f.write_str("string"),
            AttrType::Number => f.write_str("number"),
            AttrType::Bool => f.write_str("bool"),
            AttrType::List(t) => write!(f, "list({t})"),
            AttrType::Set(t) => write!(f, "set({t})"),
            AttrType::Map(t) => write!(f, "map({t})"),
            AttrType::Object(fields) => {
                f.write_str("object({")?;
                for (i, (name, t, optional)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if *optional {
                        write!(f, "{name} = optional({t})")?;
                    } else {
                        write!(f, "{name} = {t}")?;
                    }
                }
                f.write_str("})")
            }
            AttrType::Tuple(items) => {
                f.write_str("tuple([")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            AttrType::Ref(kind) => write!(f, "reference to a {kind}"),
            AttrType::NumberOrMap => f.write_str("number or map(number)"),
            AttrType::StringOrMap => f.write_str("string or map(number)"),
            AttrType::Any => f.write_str("any"),
        }
    }
}

/// Why a value does not fit a type, and where inside the value.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeMismatch {
    /// Path inside the value (`["taints", "0", "effect"]`); empty for the value itself.
    pub path: Vec<String>,
    pub expected: String,
    pub found: String,
}

impl fmt::Display for TypeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "expected {}, found {}", self.expected, self.found)
        } else {
            write!(
                f,
                "at {}: expected {}, found {}",
                self.path.join("."),
                self.expected,
                self.found
            )
        }
    }
}

impl AttrType {
    /// Convert `value` to this type the way the language does (number ↔ string, "true" → bool),
    /// or say why it cannot. Unknown and null values pass unchanged.
    pub fn convert(&self, value: &Value) -> Result<Value, TypeMismatch> {
        let mismatch = |v: &Value| TypeMismatch {
            path: Vec::new(),
            expected: self.to_string(),
            found: describe(v),
        };
        if matches!(value, Value::Unknown | Value::Null) {
            return Ok(value.clone());
        }
        match self {
            AttrType::Any => Ok(value.clone()),
            AttrType::String | AttrType::Ref(_) => match value {
                Value::String(_) => Ok(value.clone()),
                Value::Number(n) => Ok(Value::String(format_number(n))),
                Value::Bool(b) => Ok(Value::String(b.to_string())),
                // A whole-resource reference evaluates to its attributes; its `name` stands in.
                Value::Map(m) if matches!(self, AttrType::Ref(_)) && m.contains_key("name") => {
                    Ok(m["name"].clone())
                }
                other => Err(mismatch(other)),
            },
            AttrType::Number => match value {
                Value::Number(_) => Ok(value.clone()),
                // "inf" and "NaN" parse as floats but are no number a cloud takes.
                Value::String(s) => crate::Number::parse(s)
                    .filter(crate::Number::is_finite)
                    .map(Value::Number)
                    .ok_or_else(|| mismatch(value)),
                other => Err(mismatch(other)),
            },
            AttrType::Bool => match value {
                Value::Bool(_) => Ok(value.clone()),
                Value::String(s) if s == "true" => Ok(Value::Bool(true)),
                Value::String(s) if s == "false" => Ok(Value::Bool(false)),
                other => Err(mismatch(other)),
            },
            AttrType::List(inner) | AttrType::Set(inner) => match value {
                Value::List(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        out.push(inner.convert(item).map_err(|e| e.within(i.to_string()))?);
                    }
                    if matches!(self, AttrType::Set(_)) {
                        // By serialized form: linear-logarithmic, not quadratic, in size.
                        let mut seen = std::collections::BTreeSet::new();
                        out.retain(|v| seen.insert(v.to_json().to_string()));
                    }
                    Ok(Value::List(out))
                }
                other => Err(mismatch(other)),
            },
            AttrType::Map(inner) => match value {
                Value::Map(items) => {
                    let mut out = BTreeMap::new();
                    for (k, item) in items {
                        out.insert(
                            k.clone(),
                            inner.convert(item).map_err(|e| e.within(k.clone()))?,
                        );
                    }
                    Ok(Value::Map(out))
                }
                other => Err(mismatch(other)),
            },
            AttrType::Object(fields) => match value {
                Value::Map(items) => {
                    let mut out = BTreeMap::new();
                    for (name, ty, optional) in fields {
                        match items.get(name) {
                            Some(v) => {
                                out.insert(
                                    name.clone(),
                                    ty.convert(v).map_err(|e| e.within(name.clone()))?,
                                );
                            }
                            None if *optional => {
                                out.insert(name.clone(), Value::Null);
                            }
                            None => {
                                return Err(TypeMismatch {
                                    path: vec![name.clone()],
                                    expected: format!("attribute \"{name}\" ({ty})"),
                                    found: "nothing".to_string(),
                                })
                            }
                        }
                    }
                    if let Some(extra) = items
                        .keys()
                        .find(|k| !fields.iter().any(|(n, _, _)| n == *k))
                    {
                        return Err(TypeMismatch {
                            path: vec![extra.clone()],
                            expected: format!(
                                "one of the attributes {}",
                                fields
                                    .iter()
                                    .map(|(n, _, _)| n.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            found: format!("unknown attribute \"{extra}\""),
                        });
                    }
                    Ok(Value::Map(out))
                }
                other => Err(mismatch(other)),
            },
            AttrType::Tuple(types) => match value {
                Value::List(items) if items.len() == types.len() => {
                    let mut out = Vec::with_capacity(items.len());
                    for (i, (item, ty)) in items.iter().zip(types).enumerate() {
                        out.push(ty.convert(item).map_err(|e| e.within(i.to_string()))?);
                    }
                    Ok(Value::List(out))
                }
                other => Err(mismatch(other)),
            },
            AttrType::NumberOrMap => match value {
                Value::Map(_) => AttrType::Map(Box::new(AttrType::Number)).convert(value),
                _ => AttrType::Number.convert(value).map_err(|_| mismatch(value)),
            },
            AttrType::StringOrMap => match value {
                Value::Map(_) => AttrType::Map(Box::new(AttrType::Number)).convert(value),
                Value::String(_) => Ok(value.clone()),
                other => Err(mismatch(other)),
            },
        }
    }
}

impl TypeMismatch {
    fn within(mut self, segment: String) -> Self {
        self.path.insert(0, segment);
        self
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("string \"{s}\""),
        Value::Number(n) => format!("number {}", format_number(n)),
        Value::Bool(b) => format!("bool {b}"),
        other => other.type_name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_numbers_to_strings_and_back() {
        assert_eq!(
            AttrType::String.convert(&Value::from(8.0)),
            Ok(Value::from("8"))
        );
        assert_eq!(
            AttrType::Number.convert(&Value::from("16")),
            Ok(Value::from(16.0))
        );
        assert!(AttrType::Number.convert(&Value::from("sixteen")).is_err());
    }

    #[test]
    fn object_reports_missing_and_extra_attributes() {
        let ty = AttrType::Object(vec![
            ("key".into(), AttrType::String, false),
            ("value".into(), AttrType::String, true),
        ]);
        let mut m = BTreeMap::new();
        m.insert("value".to_string(), Value::from("x"));
        let err = ty.convert(&Value::Map(m.clone())).unwrap_err();
        assert_eq!(err.path, vec!["key".to_string()]);
        m.insert("key".to_string(), Value::from("k"));
        m.insert("efect".to_string(), Value::from("k"));
        let err = ty.convert(&Value::Map(m)).unwrap_err();
        assert_eq!(err.path, vec!["efect".to_string()]);
    }

    #[test]
    fn nested_mismatch_has_a_path() {
        let ty = AttrType::List(Box::new(AttrType::Map(Box::new(AttrType::Number))));
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), Value::List(vec![]));
        let err = ty.convert(&Value::List(vec![Value::Map(m)])).unwrap_err();
        assert_eq!(err.path, vec!["0".to_string(), "a".to_string()]);
    }

    #[test]
    fn unknown_passes_any_type() {
        assert_eq!(AttrType::Bool.convert(&Value::Unknown), Ok(Value::Unknown));
    }
}
