//! Numeric functions: log, pow, signum, parseint.

use mlinfra_schema::Value;

use super::*;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("abs", "abs(number)", |a, _| {
        Ok(Value::Number(num(a, 0)?.abs()))
    }),
    ("ceil", "ceil(number)", |a, _| {
        Ok(Value::Number(num(a, 0)?.ceil()))
    }),
    ("floor", "floor(number)", |a, _| {
        Ok(Value::Number(num(a, 0)?.floor()))
    }),
    ("log", "log(number, base)", |a, _| {
        arity(a, 2)?;
        Ok(Value::Number(num(a, 0)?.ln() / num(a, 1)?.ln()))
    }),
    ("max", "max(number, …)", |a, _| {
        let nums: Result<Vec<f64>, String> = (0..a.len()).map(|i| num(a, i)).collect();
        nums?
            .into_iter()
            .reduce(f64::max)
            .map(Value::Number)
            .ok_or_else(|| "needs at least one number".into())
    }),
    ("min", "min(number, …)", |a, _| {
        let nums: Result<Vec<f64>, String> = (0..a.len()).map(|i| num(a, i)).collect();
        nums?
            .into_iter()
            .reduce(f64::min)
            .map(Value::Number)
            .ok_or_else(|| "needs at least one number".into())
    }),
    ("parseint", "parseint(string, base)", |a, _| {
        arity(a, 2)?;
        let (s, base) = (string(a, 0)?, num(a, 1)?);
        if base.fract() != 0.0 || !(2.0..=62.0).contains(&base) {
            return Err("argument 2: the base must be a whole number from 2 to 62".into());
        }
        parse_int(&s, base as u32).map(Value::Number)
    }),
    ("pow", "pow(number, power)", |a, _| {
        arity(a, 2)?;
        Ok(Value::Number(num(a, 0)?.powf(num(a, 1)?)))
    }),
    ("signum", "signum(number)", |a, _| {
        arity(a, 1)?;
        let n = num(a, 0)?;
        Ok(Value::Number(if n > 0.0 {
            1.0
        } else if n < 0.0 {
            -1.0
        } else {
            0.0
        }))
    }),
];

/// Digits 0-9, then a-z, then A-Z (bases above 36 tell the cases apart, as Go's
/// big.Int.SetString does; up to 36 either case is the same digit).
fn parse_int(s: &str, base: u32) -> Result<f64, String> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() {
        return Err(format!("\"{s}\" is not a base-{base} integer"));
    }
    let mut v: f64 = 0.0;
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
        v = v * base as f64 + d as f64;
    }
    Ok(if neg { -v } else { v })
}
