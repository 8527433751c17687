//! Collection functions: alltrue, anytrue, chunklist, coalescelist, index, matchkeys,
//! setintersection, setproduct, setsubtract, setunion, transpose.

use std::collections::BTreeMap;

use mlinfra_schema::Value;

use super::{arg, arity, dedupe, list, map, num, string, values_equal_json, Func};

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("alltrue", "alltrue(list(bool))", |a, _| {
        arity(a, 1)?;
        Ok(Value::Bool(bools(a)?.into_iter().all(|b| b)))
    }),
    ("anytrue", "anytrue(list(bool))", |a, _| {
        arity(a, 1)?;
        Ok(Value::Bool(bools(a)?.into_iter().any(|b| b)))
    }),
    ("chunklist", "chunklist(list, size)", |a, _| {
        arity(a, 2)?;
        let l = list(a, 0)?;
        let size = num(a, 1)?;
        if size < 0.0 || size.fract() != 0.0 {
            return Err("argument 2: the chunk size must be a whole number, 0 or more".into());
        }
        if size == 0.0 {
            return Ok(Value::List(vec![Value::List(l.to_vec())]));
        }
        Ok(Value::List(
            l.chunks(size as usize)
                .map(|c| Value::List(c.to_vec()))
                .collect(),
        ))
    }),
    ("coalescelist", "coalescelist(list, list, …)", |a, _| {
        if a.is_empty() {
            return Err("expected at least one list".into());
        }
        for i in 0..a.len() {
            let l = list(a, i)?;
            if !l.is_empty() {
                return Ok(Value::List(l.to_vec()));
            }
        }
        Err("every list is empty".into())
    }),
    ("index", "index(list, value)", |a, _| {
        arity(a, 2)?;
        let want = arg(a, 1)?;
        list(a, 0)?
            .iter()
            .position(|v| values_equal_json(v, want))
            .map(|i| Value::Number(i as f64))
            .ok_or_else(|| "the value is not in the list".to_string())
    }),
    ("matchkeys", "matchkeys(values, keys, searchset)", |a, _| {
        arity(a, 3)?;
        let (values, keys, search) = (list(a, 0)?, list(a, 1)?, list(a, 2)?);
        if values.len() != keys.len() {
            return Err(format!(
                "values has {} elements and keys {}: they must have the same length",
                values.len(),
                keys.len()
            ));
        }
        Ok(Value::List(
            values
                .iter()
                .zip(keys)
                .filter(|(_, k)| search.iter().any(|s| values_equal_json(s, k)))
                .map(|(v, _)| v.clone())
                .collect(),
        ))
    }),
    (
        "setintersection",
        "setintersection(set, set, …)",
        |a, _| {
            let sets = sets(a)?;
            let mut out = sets[0].clone();
            for s in &sets[1..] {
                out.retain(|v| s.iter().any(|w| values_equal_json(v, w)));
            }
            Ok(set(out))
        },
    ),
    ("setproduct", "setproduct(list, list, …)", |a, _| {
        if a.len() < 2 {
            return Err("expected at least two lists or sets".into());
        }
        let mut out: Vec<Vec<Value>> = vec![vec![]];
        for i in 0..a.len() {
            let l = list(a, i)?;
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    l.iter().map(move |v| {
                        let mut p = prefix.clone();
                        p.push(v.clone());
                        p
                    })
                })
                .collect();
            if out.len() > 1_000_000 {
                return Err("the product would have more than 1,000,000 elements".into());
            }
        }
        Ok(Value::List(out.into_iter().map(Value::List).collect()))
    }),
    ("setsubtract", "setsubtract(set, set)", |a, _| {
        arity(a, 2)?;
        let (x, y) = (list(a, 0)?, list(a, 1)?);
        Ok(set(x
            .iter()
            .filter(|v| !y.iter().any(|w| values_equal_json(v, w)))
            .cloned()
            .collect()))
    }),
    ("setunion", "setunion(set, set, …)", |a, _| {
        let sets = sets(a)?;
        Ok(set(sets.into_iter().flatten().collect()))
    }),
    ("transpose", "transpose(map(list(string)))", |a, _| {
        arity(a, 1)?;
        let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (k, v) in map(a, 0)? {
            let Value::List(items) = v else {
                return Err(format!("the value of \"{k}\" must be a list of strings"));
            };
            for (i, item) in items.iter().enumerate() {
                let s = string(std::slice::from_ref(item), 0)
                    .map_err(|_| format!("element {i} of \"{k}\" must be a string"))?;
                out.entry(s).or_default().push(Value::String(k.clone()));
            }
        }
        Ok(Value::Map(
            out.into_iter().map(|(k, v)| (k, Value::List(v))).collect(),
        ))
    }),
];

fn bools(a: &[Value]) -> Result<Vec<bool>, String> {
    list(a, 0)?
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" => Ok(true),
            Value::String(s) if s == "false" => Ok(false),
            other => Err(format!(
                "element {i} must be a bool, found a {}",
                other.type_name()
            )),
        })
        .collect()
}

fn sets(a: &[Value]) -> Result<Vec<Vec<Value>>, String> {
    if a.is_empty() {
        return Err("expected at least one set".into());
    }
    (0..a.len()).map(|i| Ok(list(a, i)?.to_vec())).collect()
}

/// A set's elements: no repeats, in a stable order (strings sort lexically, as
/// Terraform prints sets of strings).
fn set(items: Vec<Value>) -> Value {
    let mut out = dedupe(&items);
    if out.iter().all(|v| matches!(v, Value::String(_))) {
        out.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
    }
    Value::List(out)
}
