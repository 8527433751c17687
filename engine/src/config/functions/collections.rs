//! Collection functions: alltrue, anytrue, chunklist, coalescelist, index, matchkeys,
//! setintersection, setproduct, setsubtract, setunion, transpose.

use std::collections::BTreeMap;

use mlinfra_schema::Value;

use super::*;

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
    ("coalesce", "coalesce(value, …)", |a, _| {
        let first = a
            .iter()
            .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
            .cloned()
            .ok_or_else(|| "every argument is null or empty".to_string())?;
        // The arguments share one type, as in Terraform: coalesce(1, "a") is "1".
        let all: Vec<&Value> = a.iter().collect();
        super::unify::unify_with(first, &all)
            .map_err(|e| format!("all arguments must have the same type, and these have {e}"))
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
    ("compact", "compact(list(string))", |a, _| {
        Ok(Value::List(
            list(a, 0)?
                .iter()
                .filter(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
                .cloned()
                .collect(),
        ))
    }),
    ("concat", "concat(list, list, …)", |a, _| {
        let mut out = Vec::new();
        for i in 0..a.len() {
            out.extend(list(a, i)?.iter().cloned());
        }
        Ok(Value::List(out))
    }),
    ("contains", "contains(list, value)", |a, _| {
        arity(a, 2)?;
        Ok(Value::Bool(list(a, 0)?.contains(&a[1])))
    }),
    ("distinct", "distinct(list)", |a, _| {
        Ok(Value::List(dedupe(list(a, 0)?)))
    }),
    ("element", "element(list, index)", |a, _| {
        let l = list(a, 0)?;
        if l.is_empty() {
            return Err("cannot take an element of an empty list".into());
        }
        let i = num(a, 1)?;
        if i < 0.0 {
            return Err("index must not be negative".into());
        }
        Ok(l[(i as usize) % l.len()].clone())
    }),
    ("flatten", "flatten(list)", |a, _| {
        fn go(v: &[Value], out: &mut Vec<Value>) {
            for item in v {
                match item {
                    Value::List(inner) => go(inner, out),
                    other => out.push(other.clone()),
                }
            }
        }
        let mut out = Vec::new();
        go(list(a, 0)?, &mut out);
        Ok(Value::List(out))
    }),
    ("index", "index(list, value)", |a, _| {
        arity(a, 2)?;
        let want = arg(a, 1)?;
        list(a, 0)?
            .iter()
            .position(|v| values_equal_json(v, want))
            .map(|i| Value::from(i as f64))
            .ok_or_else(|| "the value is not in the list".to_string())
    }),
    ("keys", "keys(map)", |a, _| {
        Ok(Value::List(
            map(a, 0)?
                .keys()
                .map(|k| Value::String(k.clone()))
                .collect(),
        ))
    }),
    ("length", "length(list | map | string)", |a, _| {
        arity(a, 1)?;
        Ok(Value::from(match &a[0] {
            Value::List(l) => l.len(),
            Value::Map(m) => m.len(),
            Value::String(s) => super::strings::graphemes(s).len(),
            other => return Err(format!("cannot take the length of a {}", other.type_name())),
        } as f64))
    }),
    ("lookup", "lookup(map, key, default)", |a, _| {
        if a.len() < 2 || a.len() > 3 {
            return Err(format!("expected 2 or 3 arguments, got {}", a.len()));
        }
        let m = map(a, 0)?;
        let k = string(a, 1)?;
        match (m.get(&k), a.get(2)) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(d)) => Ok(d.clone()),
            (None, None) => Err(format!(
                "key \"{k}\" is not in the map and no default was given"
            )),
        }
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
    ("merge", "merge(map, map, …)", |a, _| {
        let mut out = BTreeMap::new();
        for v in a {
            match v {
                Value::Map(m) => out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
                Value::Null => {}
                other => {
                    return Err(format!(
                        "arguments must be maps, found a {}",
                        other.type_name()
                    ))
                }
            }
        }
        Ok(Value::Map(out))
    }),
    ("one", "one(list)", |a, _| {
        let l = list(a, 0)?;
        match l.len() {
            0 => Ok(Value::Null),
            1 => Ok(l[0].clone()),
            n => Err(format!(
                "the list has {n} elements; one() needs zero or one"
            )),
        }
    }),
    (
        "range",
        "range(limit) | range(start, limit, step)",
        |a, _| {
            let (start, limit, step) = match a.len() {
                1 => (0.0, num(a, 0)?, 1.0),
                // Counting down when the limit is below the start, as Terraform.
                2 => {
                    let (s, l) = (num(a, 0)?, num(a, 1)?);
                    (s, l, if l < s { -1.0 } else { 1.0 })
                }
                3 => (num(a, 0)?, num(a, 1)?, num(a, 2)?),
                n => return Err(format!("expected 1 to 3 arguments, got {n}")),
            };
            if step == 0.0 {
                return Err("step must not be zero".into());
            }
            let n = ((limit - start) / step).ceil();
            if !n.is_finite() {
                return Err("start, limit and step must be finite numbers".into());
            }
            // Checked against the evaluation budget before anything is built.
            crate::budget::reserve(n.max(0.0) as u64, 0).map_err(|o| {
                crate::budget::function_overrun(o, &format!("this range's {} elements", n))
            })?;
            let mut out = Vec::new();
            let mut x = start;
            while (step > 0.0 && x < limit) || (step < 0.0 && x > limit) {
                out.push(Value::from(x));
                x += step;
            }
            Ok(Value::List(out))
        },
    ),
    ("reverse", "reverse(list)", |a, _| {
        Ok(Value::List(list(a, 0)?.iter().rev().cloned().collect()))
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
    ("slice", "slice(list, start, end)", |a, _| {
        arity(a, 3)?;
        let l = list(a, 0)?;
        let (s, e) = (num(a, 1)? as usize, num(a, 2)? as usize);
        if s > e || e > l.len() {
            return Err(format!(
                "indexes {s}..{e} are out of range for a list of {}",
                l.len()
            ));
        }
        Ok(Value::List(l[s..e].to_vec()))
    }),
    ("sort", "sort(list(string))", |a, _| {
        let mut items: Vec<String> = list(a, 0)?
            .iter()
            .map(to_string_value)
            .collect::<Result<_, _>>()?;
        items.sort();
        Ok(Value::List(items.into_iter().map(Value::String).collect()))
    }),
    ("sum", "sum(list(number))", |a, _| {
        let items = list(a, 0)?;
        if items.is_empty() {
            return Err("cannot sum an empty list".into());
        }
        let mut total = mlinfra_schema::Number::from_i64(0);
        for v in items {
            // Strings that are numbers convert, as Terraform's do.
            let n = match v {
                Value::Number(n) => n.clone(),
                Value::String(s) => mlinfra_schema::Number::parse(s)
                    .filter(mlinfra_schema::Number::is_finite)
                    .ok_or_else(|| format!("sum needs numbers; \"{s}\" is not one"))?,
                other => return Err(format!("sum needs numbers, found a {}", other.type_name())),
            };
            total = total.add(&n);
        }
        Ok(Value::Number(total))
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
    ("values", "values(map)", |a, _| {
        Ok(Value::List(map(a, 0)?.values().cloned().collect()))
    }),
    ("zipmap", "zipmap(keys, values)", |a, _| {
        let k = list(a, 0)?;
        let v = list(a, 1)?;
        if k.len() != v.len() {
            return Err(format!("{} keys but {} values", k.len(), v.len()));
        }
        let mut out = BTreeMap::new();
        for (k, v) in k.iter().zip(v) {
            out.insert(to_string_value(k)?, v.clone());
        }
        Ok(Value::Map(out))
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
