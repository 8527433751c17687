//! String functions: chomp, indent, strrev, title, trimprefix, trimsuffix, strcontains,
//! regex, regexall, formatlist.

use mlinfra_schema::Value;
use unicode_segmentation::UnicodeSegmentation;

use super::{arity, format_fn, num, string, Func};

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("chomp", "chomp(string)", |a, _| {
        arity(a, 1)?;
        Ok(Value::String(
            string(a, 0)?.trim_end_matches(['\n', '\r']).to_string(),
        ))
    }),
    ("formatlist", "formatlist(spec, value, …)", |a, _| {
        formatlist(a)
    }),
    ("indent", "indent(spaces, string)", |a, _| {
        arity(a, 2)?;
        let n = num(a, 0)?;
        if n < 0.0 || n.fract() != 0.0 {
            return Err(
                "argument 1: the number of spaces must be a whole number, 0 or more".into(),
            );
        }
        let pad = " ".repeat(n as usize);
        let text = string(a, 1)?;
        // Every line but the first, as Terraform does.
        Ok(Value::String(text.replace('\n', &format!("\n{pad}"))))
    }),
    ("regex", "regex(pattern, string)", |a, _| {
        arity(a, 2)?;
        let re = compile(&string(a, 0)?)?;
        let text = string(a, 1)?;
        match re.captures(&text) {
            Some(c) => Ok(captures(&re, &c)),
            None => Err("the pattern did not match the string".into()),
        }
    }),
    ("regexall", "regexall(pattern, string)", |a, _| {
        arity(a, 2)?;
        let re = compile(&string(a, 0)?)?;
        let text = string(a, 1)?;
        Ok(Value::List(
            re.captures_iter(&text).map(|c| captures(&re, &c)).collect(),
        ))
    }),
    ("strcontains", "strcontains(string, substr)", |a, _| {
        arity(a, 2)?;
        Ok(Value::Bool(string(a, 0)?.contains(&string(a, 1)?)))
    }),
    ("strrev", "strrev(string)", |a, _| {
        arity(a, 1)?;
        // Grapheme clusters, so that combining marks stay on their letter.
        let s = string(a, 0)?;
        Ok(Value::String(s.graphemes(true).rev().collect()))
    }),
    ("title", "title(string)", |a, _| {
        arity(a, 1)?;
        let mut out = String::new();
        let mut start = true;
        for c in string(a, 0)?.chars() {
            if start && c.is_alphabetic() {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            start = !c.is_alphanumeric() && c != '\'';
        }
        Ok(Value::String(out))
    }),
    ("trimprefix", "trimprefix(string, prefix)", |a, _| {
        arity(a, 2)?;
        let (s, p) = (string(a, 0)?, string(a, 1)?);
        Ok(Value::String(s.strip_prefix(&p).unwrap_or(&s).to_string()))
    }),
    ("trimsuffix", "trimsuffix(string, suffix)", |a, _| {
        arity(a, 2)?;
        let (s, p) = (string(a, 0)?, string(a, 1)?);
        Ok(Value::String(s.strip_suffix(&p).unwrap_or(&s).to_string()))
    }),
];

/// A pattern in RE2 syntax (which the regex crate follows), bounded in size.
fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regular expression: {e}"))
}

/// What a match gives, as Terraform's `regex`: the matched string when the pattern has no
/// groups, a list of the groups when they are unnamed, a map when they are named.
fn captures(re: &regex::Regex, c: &regex::Captures) -> Value {
    let text = |m: Option<regex::Match>| {
        m.map(|m| Value::String(m.as_str().to_string()))
            .unwrap_or(Value::Null)
    };
    if re.captures_len() == 1 {
        return text(c.get(0));
    }
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.iter().any(Option::is_some) {
        Value::Map(
            names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.map(|n| (n.to_string(), text(c.get(i + 1)))))
                .collect(),
        )
    } else {
        Value::List((1..re.captures_len()).map(|i| text(c.get(i))).collect())
    }
}

/// `format` over lists element by element; scalars repeat. Every list has one length.
fn formatlist(a: &[Value]) -> Result<Value, String> {
    let spec = string(a, 0)?;
    let mut len: Option<usize> = None;
    for (i, v) in a.iter().enumerate().skip(1) {
        if let Value::List(l) = v {
            match len {
                Some(n) if n != l.len() => {
                    return Err(format!(
                        "argument {} has {} elements, and an earlier list has {n}: every list must have the same length",
                        i + 1,
                        l.len()
                    ))
                }
                _ => len = Some(l.len()),
            }
        }
    }
    let Some(n) = len else {
        // No list: one formatted string, in a list.
        return Ok(Value::List(vec![Value::String(format_fn(&spec, &a[1..])?)]));
    };
    let mut out = Vec::with_capacity(n);
    for row in 0..n {
        let args: Vec<Value> = a[1..]
            .iter()
            .map(|v| match v {
                Value::List(l) => l[row].clone(),
                other => other.clone(),
            })
            .collect();
        out.push(Value::String(format_fn(&spec, &args)?));
    }
    Ok(Value::List(out))
}
