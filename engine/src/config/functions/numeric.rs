//! Numeric functions: log, pow, signum, parseint.

use mlinfra_schema::{Number, Value};

use super::*;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("abs", "abs(number)", |a, _| {
        Ok(Value::Number(number(a, 0)?.abs()))
    }),
    ("ceil", "ceil(number)", |a, _| {
        Ok(Value::Number(number(a, 0)?.ceil()))
    }),
    ("floor", "floor(number)", |a, _| {
        Ok(Value::Number(number(a, 0)?.floor()))
    }),
    // Terraform computes these two in 64-bit floating point too.
    ("log", "log(number, base)", |a, _| {
        arity(a, 2)?;
        Ok(Value::from(num(a, 0)?.ln() / num(a, 1)?.ln()))
    }),
    ("max", "max(number, …)", |a, _| {
        extreme(a, std::cmp::Ordering::Greater)
    }),
    ("min", "min(number, …)", |a, _| {
        extreme(a, std::cmp::Ordering::Less)
    }),
    ("parseint", "parseint(string, base)", |a, _| {
        arity(a, 2)?;
        let (s, base) = (string(a, 0)?, num(a, 1)?);
        if base.fract() != 0.0 || !(2.0..=62.0).contains(&base) {
            return Err("argument 2: the base must be a whole number from 2 to 62".into());
        }
        parse_int(&s, base as u32).map(|n| Value::Number(Number::from_bigint(n)))
    }),
    ("pow", "pow(number, power)", |a, _| {
        arity(a, 2)?;
        Ok(Value::from(num(a, 0)?.powf(num(a, 1)?)))
    }),
    ("signum", "signum(number)", |a, _| {
        arity(a, 1)?;
        Ok(Value::from(number(a, 0)?.signum()))
    }),
];

/// The greatest (or least) of the arguments, exactly.
fn extreme(a: &[Value], keep: std::cmp::Ordering) -> Result<Value, String> {
    let mut best: Option<Number> = None;
    for i in 0..a.len() {
        let n = number(a, i)?;
        if best.as_ref().is_none_or(|b| n.partial_cmp(b) == Some(keep)) {
            best = Some(n);
        }
    }
    best.map(Value::Number)
        .ok_or_else(|| "needs at least one number".into())
}

/// Digits 0-9, then a-z, then A-Z (bases above 36 tell the cases apart, as Go's
/// big.Int.SetString does; up to 36 either case is the same digit). Exact at any size.
fn parse_int(s: &str, base: u32) -> Result<num_bigint::BigInt, String> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() {
        return Err(format!("\"{s}\" is not a base-{base} integer"));
    }
    let mut v = num_bigint::BigInt::from(0);
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 10,
            'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
            'A'..='Z' => c as u32 - 'A' as u32 + 36,
            _ => u32::MAX,
        };
        if d >= base {
            return Err(format!("\"{s}\" is not a base-{base} integer"));
        }
        v = v * base + d;
    }
    Ok(if neg { -v } else { v })
}
