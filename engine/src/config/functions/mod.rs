//! The standard function library of the manifest language: the first functions here,
//! the others by family in the submodules.

use std::collections::BTreeMap;
use std::path::Path;

use mlinfra_schema::{format_number, Value};
use sha2::{Digest, Sha256};

/// What a function call may read besides its arguments.
pub struct CallContext<'a> {
    pub module_dir: Option<&'a Path>,
}

#[derive(Debug)]
pub enum CallError {
    Unknown,
    Invalid {
        message: String,
        signature: &'static str,
    },
}

mod collections;
#[cfg(test)]
mod family_tests;
mod filesystem;
mod hashing;
mod network;
mod numeric;
mod strings;

type Func = fn(&[Value], &CallContext) -> Result<Value, String>;

/// Terraform's built-in functions not built yet (docs/language.md#functions says why).
pub const NOT_YET: &[&str] = &[
    "base64gzip",
    "bcrypt",
    "ephemeralasnull",
    "formatdate",
    "issensitive",
    "nonsensitive",
    "plantimestamp",
    "sensitive",
    "templatestring",
    "textdecodebase64",
    "textencodebase64",
    "timeadd",
    "timecmp",
    "timestamp",
    "type",
    "yamldecode",
    "yamlencode",
];

/// Every family's table; a name is in one of them.
const FAMILIES: &[&[(&str, &str, Func)]] = &[
    FUNCTIONS,
    strings::FUNCTIONS,
    collections::FUNCTIONS,
    numeric::FUNCTIONS,
    hashing::FUNCTIONS,
    network::FUNCTIONS,
    filesystem::FUNCTIONS,
];

/// (name, signature, implementation), sorted by name.
const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("abs", "abs(number)", |a, _| {
        Ok(Value::Number(num(a, 0)?.abs()))
    }),
    ("base64decode", "base64decode(string)", |a, _| {
        base64_decode(&string(a, 0)?).map(Value::String)
    }),
    ("base64encode", "base64encode(string)", |a, _| {
        Ok(Value::String(base64_encode(string(a, 0)?.as_bytes())))
    }),
    ("ceil", "ceil(number)", |a, _| {
        Ok(Value::Number(num(a, 0)?.ceil()))
    }),
    ("coalesce", "coalesce(value, …)", |a, _| {
        a.iter()
            .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
            .cloned()
            .ok_or_else(|| "every argument is null or empty".to_string())
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
    ("endswith", "endswith(string, suffix)", |a, _| {
        Ok(Value::Bool(string(a, 0)?.ends_with(&string(a, 1)?)))
    }),
    ("file", "file(path)", |a, ctx| {
        let p = resolve_path(&string(a, 0)?, ctx);
        read_file(&p).map(Value::String)
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
    ("floor", "floor(number)", |a, _| {
        Ok(Value::Number(num(a, 0)?.floor()))
    }),
    ("format", "format(spec, values…)", |a, _| {
        format_fn(&string(a, 0)?, &a[1..]).map(Value::String)
    }),
    ("join", "join(separator, list)", |a, _| {
        arity(a, 2)?;
        let sep = string(a, 0)?;
        let parts: Result<Vec<String>, String> = list(a, 1)?.iter().map(to_string_value).collect();
        Ok(Value::String(parts?.join(&sep)))
    }),
    ("jsondecode", "jsondecode(string)", |a, _| {
        serde_json::from_str::<serde_json::Value>(&string(a, 0)?)
            .map(|j| Value::from_json(&j))
            .map_err(|e| format!("invalid JSON: {e}"))
    }),
    ("jsonencode", "jsonencode(value)", |a, _| {
        arity(a, 1)?;
        Ok(Value::String(a[0].to_json().to_string()))
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
        Ok(Value::Number(match &a[0] {
            Value::List(l) => l.len(),
            Value::Map(m) => m.len(),
            Value::String(s) => s.chars().count(),
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
    ("lower", "lower(string)", |a, _| {
        Ok(Value::String(string(a, 0)?.to_lowercase()))
    }),
    ("max", "max(number, …)", |a, _| {
        let nums: Result<Vec<f64>, String> = (0..a.len()).map(|i| num(a, i)).collect();
        nums?
            .into_iter()
            .reduce(f64::max)
            .map(Value::Number)
            .ok_or_else(|| "needs at least one number".into())
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
    ("min", "min(number, …)", |a, _| {
        let nums: Result<Vec<f64>, String> = (0..a.len()).map(|i| num(a, i)).collect();
        nums?
            .into_iter()
            .reduce(f64::min)
            .map(Value::Number)
            .ok_or_else(|| "needs at least one number".into())
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
                crate::budget::function_overrun(
                    o,
                    &format!("this range's {} elements", format_number(n)),
                )
            })?;
            let mut out = Vec::new();
            let mut x = start;
            while (step > 0.0 && x < limit) || (step < 0.0 && x > limit) {
                out.push(Value::Number(x));
                x += step;
            }
            Ok(Value::List(out))
        },
    ),
    ("replace", "replace(string, search, replacement)", |a, _| {
        arity(a, 3)?;
        let (s, from, to) = (string(a, 0)?, string(a, 1)?, string(a, 2)?);
        // What it would build, checked before building it (an empty search matches
        // between every character).
        let hits = if from.is_empty() {
            s.chars().count() + 1
        } else {
            s.matches(from.as_str()).count()
        };
        let size = (s.len() as u64).saturating_add((hits as u64).saturating_mul(to.len() as u64));
        crate::budget::reserve(0, size).map_err(|o| {
            crate::budget::function_overrun(o, &format!("this result's {size} bytes"))
        })?;
        Ok(Value::String(s.replace(&from, &to)))
    }),
    ("reverse", "reverse(list)", |a, _| {
        Ok(Value::List(list(a, 0)?.iter().rev().cloned().collect()))
    }),
    ("sha256", "sha256(string)", |a, _| {
        let digest = Sha256::digest(string(a, 0)?.as_bytes());
        Ok(Value::String(
            digest.iter().map(|b| format!("{b:02x}")).collect(),
        ))
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
    ("split", "split(separator, string)", |a, _| {
        arity(a, 2)?;
        let sep = string(a, 0)?;
        let s = string(a, 1)?;
        if s.is_empty() {
            return Ok(Value::List(Vec::new()));
        }
        Ok(Value::List(
            s.split(sep.as_str())
                .map(|p| Value::String(p.to_string()))
                .collect(),
        ))
    }),
    ("startswith", "startswith(string, prefix)", |a, _| {
        Ok(Value::Bool(string(a, 0)?.starts_with(&string(a, 1)?)))
    }),
    ("substr", "substr(string, offset, length)", |a, _| {
        arity(a, 3)?;
        let s: Vec<char> = string(a, 0)?.chars().collect();
        let off = num(a, 1)?.max(0.0) as usize;
        let len = num(a, 2)?;
        let end = if len < 0.0 {
            s.len()
        } else {
            (off + len as usize).min(s.len())
        };
        Ok(Value::String(
            s.get(off.min(s.len())..end).unwrap_or(&[]).iter().collect(),
        ))
    }),
    ("sum", "sum(list(number))", |a, _| {
        let mut total = 0.0;
        for v in list(a, 0)? {
            total += v
                .as_f64()
                .ok_or_else(|| format!("sum needs numbers, found a {}", v.type_name()))?;
        }
        Ok(Value::Number(total))
    }),
    ("templatefile", "templatefile(path, vars)", |a, ctx| {
        arity(a, 2)?;
        let p = resolve_path(&string(a, 0)?, ctx);
        let text = read_file(&p)?;
        let vars = map(a, 1)?;
        render_template(&text, vars).map(Value::String)
    }),
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
    ("trim", "trim(string, characters)", |a, _| {
        let chars: Vec<char> = string(a, 1)?.chars().collect();
        Ok(Value::String(
            string(a, 0)?
                .trim_matches(|c| chars.contains(&c))
                .to_string(),
        ))
    }),
    ("trimspace", "trimspace(string)", |a, _| {
        Ok(Value::String(string(a, 0)?.trim().to_string()))
    }),
    ("upper", "upper(string)", |a, _| {
        Ok(Value::String(string(a, 0)?.to_uppercase()))
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

/// The values in first-seen order without repeats, in O(n log n).
pub fn dedupe(items: &[Value]) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    items
        .iter()
        .filter(|v| seen.insert(v.to_json().to_string()))
        .cloned()
        .collect()
}

/// Whether two values are the same, as JSON (how sets and `index` compare elements).
fn values_equal_json(a: &Value, b: &Value) -> bool {
    a.to_json() == b.to_json()
}

/// Every function name, sorted.
pub fn names() -> Vec<&'static str> {
    let mut n: Vec<&str> = FAMILIES
        .iter()
        .flat_map(|t| t.iter().map(|f| f.0))
        .collect();
    n.extend(["can", "try"]);
    n.sort();
    n
}

/// Call `name` with evaluated arguments. Unknown arguments give an unknown result.
pub fn call(name: &str, args: &[Value], ctx: &CallContext) -> Result<Value, CallError> {
    let Some((_, signature, f)) = FAMILIES.iter().flat_map(|t| t.iter()).find(|f| f.0 == name)
    else {
        return Err(CallError::Unknown);
    };
    if args.iter().any(Value::contains_unknown) {
        return Ok(Value::Unknown);
    }
    f(args, ctx).map_err(|message| CallError::Invalid { message, signature })
}

fn arity(a: &[Value], n: usize) -> Result<(), String> {
    if a.len() == n {
        Ok(())
    } else {
        Err(format!("expected {n} argument(s), got {}", a.len()))
    }
}

fn arg(a: &[Value], i: usize) -> Result<&Value, String> {
    a.get(i)
        .ok_or_else(|| format!("missing argument {}", i + 1))
}

fn string(a: &[Value], i: usize) -> Result<String, String> {
    to_string_value(arg(a, i)?).map_err(|e| format!("argument {}: {e}", i + 1))
}

fn num(a: &[Value], i: usize) -> Result<f64, String> {
    match arg(a, i)? {
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("argument {}: \"{s}\" is not a number", i + 1)),
        other => Err(format!(
            "argument {} must be a number, found a {}",
            i + 1,
            other.type_name()
        )),
    }
}

fn list(a: &[Value], i: usize) -> Result<&[Value], String> {
    match arg(a, i)? {
        Value::List(l) => Ok(l),
        other => Err(format!(
            "argument {} must be a list, found a {}",
            i + 1,
            other.type_name()
        )),
    }
}

fn map(a: &[Value], i: usize) -> Result<&BTreeMap<String, Value>, String> {
    match arg(a, i)? {
        Value::Map(m) => Ok(m),
        other => Err(format!(
            "argument {} must be a map, found a {}",
            i + 1,
            other.type_name()
        )),
    }
}

fn to_string_value(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(format_number(*n)),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, found a {}", other.type_name())),
    }
}

fn resolve_path(p: &str, ctx: &CallContext) -> std::path::PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        ctx.module_dir
            .map(|d| d.join(path))
            .unwrap_or_else(|| path.to_path_buf())
    }
}

/// `format` with the verbs %s, %d, %f (with precision), %v, %q and %%.
fn format_fn(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut it = spec.chars().peekable();
    let mut next = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut digits = String::new();
            while let Some(d) = it.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                it.next();
            }
            precision = digits.parse::<usize>().ok().filter(|p| *p <= 100);
            if precision.is_none() && !digits.is_empty() {
                return Err(format!("precision .{digits} is too large (at most 100)"));
            }
        }
        let verb = it.next().ok_or("format ends with a lone %")?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let v = args.get(next).ok_or_else(|| {
            format!("not enough arguments for the format (needs more than {next})")
        })?;
        next += 1;
        match verb {
            's' | 'v' => out.push_str(&match v {
                Value::String(s) => s.clone(),
                other => other.to_hcl(),
            }),
            'q' => out.push_str(&Value::String(to_string_value(v)?).to_hcl()),
            'd' => {
                let n = v
                    .as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or("%d needs a number")?;
                out.push_str(&format!("{}", n.trunc() as i64));
            }
            'f' => {
                let n = v
                    .as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or("%f needs a number")?;
                out.push_str(&format!("{:.*}", precision.unwrap_or(6), n));
            }
            other => return Err(format!("unsupported format verb %{other}")),
        }
    }
    Ok(out)
}

/// A file read by `file()` or `templatefile()`, within the file size limit.
fn read_file(p: &Path) -> Result<String, String> {
    crate::files::read_capped(
        p,
        crate::budget::limits().file_bytes,
        "; raise the limit with --limit file-bytes=N",
    )
    .map_err(|e| e.to_string())
}

/// Render a minijinja template with the given variables.
/// Within the evaluation budget: template instructions count as steps (minijinja's fuel),
/// and the output stops at the string limit.
pub fn render_template(text: &str, vars: &BTreeMap<String, Value>) -> Result<String, String> {
    let limits = crate::budget::limits();
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_fuel(Some(limits.steps));
    env.add_template("template", text)
        .map_err(|e| format!("template error: {e}"))?;
    let tmpl = env.get_template("template").map_err(|e| e.to_string())?;
    let ctx: serde_json::Map<String, serde_json::Value> =
        vars.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
    let mut out = CappedOutput {
        buf: Vec::new(),
        limit: limits.string_bytes,
    };
    let result = tmpl.render_captured_to(ctx, &mut out).map(|_| ());
    match result {
        Ok(()) => String::from_utf8(out.buf).map_err(|e| format!("template error: {e}")),
        Err(_) if out.buf.len() as u64 >= out.limit => Err(format!(
            "the template's output is more than {} bytes, the evaluation budget (--limit string-bytes=N)",
            out.limit
        )),
        Err(e) if e.kind() == minijinja::ErrorKind::OutOfFuel => Err(format!(
            "the template ran more than {} steps, the evaluation budget (--limit steps=N)",
            limits.steps
        )),
        Err(e) => Err(format!("template error: {e}")),
    }
}

/// Collects a template's output, refusing to grow past `limit` bytes.
struct CappedOutput {
    buf: Vec<u8>,
    limit: u64,
}

impl std::io::Write for CappedOutput {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if (self.buf.len() + b.len()) as u64 > self.limit {
            self.buf.extend_from_slice(
                &b[..(self.limit as usize)
                    .saturating_sub(self.buf.len())
                    .min(b.len())],
            );
            return Err(std::io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Result<String, String> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = B64
            .iter()
            .position(|b| *b == c)
            .ok_or_else(|| format!("invalid base64 character '{}'", c as char))?;
        bits = (bits << 6) | v as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    String::from_utf8(out).map_err(|_| "decoded bytes are not UTF-8 text".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, args: Vec<Value>) -> Value {
        call(name, &args, &CallContext { module_dir: None }).unwrap()
    }

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    #[test]
    fn string_functions() {
        assert_eq!(c("upper", vec![s("h100")]), s("H100"));
        assert_eq!(
            c(
                "join",
                vec![s("-"), Value::List(vec![s("a"), Value::Number(1.0)])]
            ),
            s("a-1")
        );
        assert_eq!(
            c("split", vec![s(","), s("a,b")]),
            Value::List(vec![s("a"), s("b")])
        );
        assert_eq!(c("replace", vec![s("a.b"), s("."), s("-")]), s("a-b"));
        assert_eq!(
            c(
                "format",
                vec![
                    s("%s-%d-%.2f%%"),
                    s("x"),
                    Value::Number(3.7),
                    Value::Number(1.0)
                ]
            ),
            s("x-3-1.00%")
        );
    }

    #[test]
    fn collection_functions() {
        let m = |pairs: &[(&str, f64)]| {
            Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::Number(*v)))
                    .collect(),
            )
        };
        assert_eq!(
            c(
                "merge",
                vec![m(&[("a", 1.0)]), m(&[("a", 2.0), ("b", 3.0)])]
            ),
            m(&[("a", 2.0), ("b", 3.0)])
        );
        assert_eq!(c("length", vec![m(&[("a", 1.0)])]), Value::Number(1.0));
        assert_eq!(c("lookup", vec![m(&[]), s("x"), s("d")]), s("d"));
        assert_eq!(
            c("keys", vec![m(&[("b", 1.0), ("a", 1.0)])]),
            Value::List(vec![s("a"), s("b")])
        );
        assert_eq!(c("coalesce", vec![Value::Null, s(""), s("x")]), s("x"));
        assert_eq!(
            c("contains", vec![Value::List(vec![s("dev")]), s("dev")]),
            Value::Bool(true)
        );
    }

    #[test]
    fn unknown_arguments_give_unknown() {
        assert_eq!(c("upper", vec![Value::Unknown]), Value::Unknown);
    }

    #[test]
    fn bad_arguments_are_errors_with_signature() {
        let e = call(
            "length",
            &[Value::Number(1.0)],
            &CallContext { module_dir: None },
        )
        .unwrap_err();
        match e {
            CallError::Invalid { signature, .. } => {
                assert_eq!(signature, "length(list | map | string)")
            }
            CallError::Unknown => panic!("length exists"),
        }
    }

    #[test]
    fn base64_round_trips() {
        for t in ["", "a", "ab", "abc", "mlinfra!"] {
            assert_eq!(base64_decode(&base64_encode(t.as_bytes())).unwrap(), t);
        }
        assert_eq!(base64_encode(b"abc"), "YWJj");
    }

    #[test]
    fn templates_render_with_minijinja() {
        let mut vars = BTreeMap::new();
        vars.insert("gpus".to_string(), Value::Number(8.0));
        assert_eq!(render_template("gpus={{ gpus }}", &vars).unwrap(), "gpus=8");
        assert!(render_template("{{ missing }}", &vars).is_err());
    }

    #[test]
    fn jsonencode_is_compact_and_sorted() {
        let m = Value::Map(
            [
                ("b".to_string(), Value::Number(1.0)),
                ("a".to_string(), s("x")),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(c("jsonencode", vec![m]), s(r#"{"a":"x","b":1}"#));
    }
}
