//! The standard function library of the manifest language: the registry and the
//! argument helpers here, the functions by family in the submodules.

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
mod conversion;
mod encoding;
#[cfg(test)]
mod family_tests;
mod filesystem;
mod format;
mod hashing;
mod network;
mod numeric;
mod strings;
mod time;
pub(crate) mod unify;
mod yaml;

pub(crate) use time::civil_from_days;
pub use time::while_applying;

type Func = fn(&[Value], &CallContext) -> Result<Value, String>;

/// Every family's table; a name is in one of them.
const FAMILIES: &[&[(&str, &str, Func)]] = &[
    strings::FUNCTIONS,
    collections::FUNCTIONS,
    numeric::FUNCTIONS,
    hashing::FUNCTIONS,
    network::FUNCTIONS,
    filesystem::FUNCTIONS,
    encoding::FUNCTIONS,
    conversion::FUNCTIONS,
    yaml::FUNCTIONS,
    time::FUNCTIONS,
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
    n.extend([
        "can",
        "ephemeralasnull",
        "issensitive",
        "nonsensitive",
        "sensitive",
        "templatefile",
        "templatestring",
        "try",
        "type",
    ]);
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

/// Argument `i` as a number, exactly (a string holding one is converted).
fn number(a: &[Value], i: usize) -> Result<mlinfra_schema::Number, String> {
    match arg(a, i)? {
        Value::Number(n) => Ok(n.clone()),
        Value::String(s) => mlinfra_schema::Number::parse(s)
            .ok_or_else(|| format!("argument {}: \"{s}\" is not a number", i + 1)),
        other => Err(format!(
            "argument {} must be a number, found a {}",
            i + 1,
            other.type_name()
        )),
    }
}

/// Argument `i` as the nearest 64-bit float, for what Terraform computes in floating
/// point too (`log`, `pow`) and for counts and indexes.
fn num(a: &[Value], i: usize) -> Result<f64, String> {
    match arg(a, i)? {
        Value::Number(n) => Ok(n.to_f64()),
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
        Value::Number(n) => Ok(format_number(n)),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, found a {}", other.type_name())),
    }
}

pub(crate) fn resolve_path(p: &str, ctx: &CallContext) -> std::path::PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        ctx.module_dir
            .map(|d| d.join(path))
            .unwrap_or_else(|| path.to_path_buf())
    }
}

/// A file read by `file()` or `templatefile()`, within the file size limit.
pub(crate) fn read_file(p: &Path) -> Result<String, String> {
    crate::files::read_capped(
        p,
        crate::budget::limits().file_bytes,
        "; raise the limit with --limit file-bytes=N",
    )
    .map_err(|e| e.to_string())
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
                vec![s("-"), Value::List(vec![s("a"), Value::from(1.0)])]
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
                    Value::from(3.0),
                    Value::from(1.0)
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
                    .map(|(k, v)| (k.to_string(), Value::from(*v)))
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
        assert_eq!(c("length", vec![m(&[("a", 1.0)])]), Value::from(1.0));
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
            &[Value::from(1.0)],
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
    fn jsonencode_is_compact_and_sorted() {
        let m = Value::Map(
            [
                ("b".to_string(), Value::from(1.0)),
                ("a".to_string(), s("x")),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(c("jsonencode", vec![m]), s(r#"{"a":"x","b":1}"#));
    }
}
