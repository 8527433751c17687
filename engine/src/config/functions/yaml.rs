//! YAML functions: yamldecode and yamlencode, as Terraform's (YAML 1.2 core schema in,
//! double-quoted strings and block style out).

use yaml_rust2::{Yaml, YamlLoader};

use super::*;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("yamldecode", "yamldecode(string)", |a, _| {
        arity(a, 1)?;
        let text = string(a, 0)?;
        let docs = YamlLoader::load_from_str(&text).map_err(|e| format!("invalid YAML: {e}"))?;
        match docs.as_slice() {
            [] => Ok(Value::Null),
            [one] => from_yaml(one),
            _ => Err("the string holds more than one YAML document; yamldecode takes one".into()),
        }
    }),
    ("yamlencode", "yamlencode(value)", |a, _| {
        arity(a, 1)?;
        let mut out = String::new();
        encode(&a[0], 0, &mut out)?;
        if !out.ends_with('\n') {
            out.push('\n');
        }
        Ok(Value::String(out))
    }),
];

fn from_yaml(y: &Yaml) -> Result<Value, String> {
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i as f64),
        Yaml::Real(r) => {
            let n: f64 = match r.as_str() {
                ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | ".nan" | ".NaN" | ".NAN" => {
                    return Err(format!("{r} is not a number Terraform can represent"))
                }
                s => s.parse().map_err(|_| format!("{s} is not a number"))?,
            };
            Value::from(n)
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::List(items.iter().map(from_yaml).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => {
            let mut m = BTreeMap::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Real(r) => r.clone(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Null => "null".into(),
                    _ => return Err("a YAML mapping key must be a scalar".into()),
                };
                m.insert(key, from_yaml(v)?);
            }
            Value::Map(m)
        }
        Yaml::Alias(_) => return Err("YAML aliases are not supported".into()),
        Yaml::BadValue => return Err("invalid YAML value".into()),
    })
}

/// A scalar the way Terraform's yamlencode writes it, or `None` for a collection that is
/// written in block style.
fn scalar(v: &Value) -> Result<Option<String>, String> {
    Ok(Some(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => mlinfra_schema::format_number(n),
        Value::String(s) => serde_json::Value::String(s.clone()).to_string(),
        Value::List(l) if l.is_empty() => "[]".into(),
        Value::Map(m) if m.is_empty() => "{}".into(),
        Value::Unknown => return Err("the value is not known yet".into()),
        _ => return Ok(None),
    }))
}

/// Block-style YAML at `indent` spaces; each line ends with a newline.
fn encode(v: &Value, indent: usize, out: &mut String) -> Result<(), String> {
    if let Some(s) = scalar(v)? {
        out.push_str(&s);
        out.push('\n');
        return Ok(());
    }
    let pad = " ".repeat(indent);
    match v {
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 || !out.ends_with("- ") {
                    out.push_str(&pad);
                }
                out.push_str("- ");
                match scalar(item)? {
                    Some(s) => {
                        out.push_str(&s);
                        out.push('\n');
                    }
                    // A collection in a list starts on the dash's line.
                    None => encode(item, indent + 2, out)?,
                }
            }
        }
        Value::Map(m) => {
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 || !out.ends_with("- ") {
                    out.push_str(&pad);
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                match scalar(item)? {
                    Some(s) => {
                        out.push(' ');
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        out.push('\n');
                        // A list under a key sits at the key's indentation, a map deeper.
                        let inner = if matches!(item, Value::List(_)) {
                            indent
                        } else {
                            indent + 2
                        };
                        encode(item, inner, out)?;
                    }
                }
            }
        }
        _ => unreachable!("scalars are written above"),
    }
    Ok(())
}
