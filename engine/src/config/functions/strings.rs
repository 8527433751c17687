//! String functions: chomp, indent, strrev, title, trimprefix, trimsuffix, strcontains,
//! regex, regexall, formatlist.

use mlinfra_schema::Value;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// A string's user-perceived characters: grapheme clusters after NFC, as Terraform
/// counts them in `length`, `substr` and `strrev`.
pub(crate) fn graphemes(s: &str) -> Vec<String> {
    let nfc: String = s.nfc().collect();
    nfc.graphemes(true).map(str::to_string).collect()
}

use super::*;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("chomp", "chomp(string)", |a, _| {
        arity(a, 1)?;
        Ok(Value::String(
            string(a, 0)?.trim_end_matches(['\n', '\r']).to_string(),
        ))
    }),
    ("endswith", "endswith(string, suffix)", |a, _| {
        Ok(Value::Bool(string(a, 0)?.ends_with(&string(a, 1)?)))
    }),
    ("format", "format(spec, values…)", |a, _| {
        super::format::format(&string(a, 0)?, &a[1..]).map(Value::String)
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
    ("join", "join(separator, list)", |a, _| {
        arity(a, 2)?;
        let sep = string(a, 0)?;
        let parts: Result<Vec<String>, String> = list(a, 1)?.iter().map(to_string_value).collect();
        Ok(Value::String(parts?.join(&sep)))
    }),
    ("lower", "lower(string)", |a, _| {
        Ok(Value::String(string(a, 0)?.to_lowercase()))
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
    ("replace", "replace(string, search, replacement)", |a, _| {
        arity(a, 3)?;
        let (s, from, to) = (string(a, 0)?, string(a, 1)?, string(a, 2)?);
        // A search in slashes is a regular expression; `$1` and `${name}` in the
        // replacement are its captures.
        if from.len() >= 2 && from.starts_with('/') && from.ends_with('/') {
            let re = compile(&from[1..from.len() - 1])?;
            let out = re.replace_all(&s, to.as_str()).into_owned();
            crate::budget::reserve(0, out.len() as u64).map_err(|o| {
                crate::budget::function_overrun(o, &format!("this result's {} bytes", out.len()))
            })?;
            return Ok(Value::String(out));
        }
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
    ("strcontains", "strcontains(string, substr)", |a, _| {
        arity(a, 2)?;
        Ok(Value::Bool(string(a, 0)?.contains(&string(a, 1)?)))
    }),
    ("strrev", "strrev(string)", |a, _| {
        arity(a, 1)?;
        // Grapheme clusters, so that combining marks stay on their letter.
        let s = string(a, 0)?;
        Ok(Value::String(graphemes(&s).into_iter().rev().collect()))
    }),
    ("substr", "substr(string, offset, length)", |a, _| {
        arity(a, 3)?;
        let s = graphemes(&string(a, 0)?);
        let n = s.len() as f64;
        let mut off = num(a, 1)?.trunc();
        // A negative offset counts from the end; a length of -1 runs to the end.
        if off < 0.0 {
            off = (n + off).max(0.0);
        }
        if off > n {
            return Err(format!(
                "offset {off} is beyond the end of a string of {n} characters"
            ));
        }
        let len = num(a, 2)?.trunc();
        if len < -1.0 {
            return Err("length must be -1 (to the end) or more".into());
        }
        let end = if len < 0.0 { n } else { (off + len).min(n) };
        Ok(Value::String(s[off as usize..end as usize].concat()))
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
    ("trim", "trim(string, characters)", |a, _| {
        let chars: Vec<char> = string(a, 1)?.chars().collect();
        Ok(Value::String(
            string(a, 0)?
                .trim_matches(|c| chars.contains(&c))
                .to_string(),
        ))
    }),
    ("trimprefix", "trimprefix(string, prefix)", |a, _| {
        arity(a, 2)?;
        let (s, p) = (string(a, 0)?, string(a, 1)?);
        Ok(Value::String(s.strip_prefix(&p).unwrap_or(&s).to_string()))
    }),
    ("trimspace", "trimspace(string)", |a, _| {
        Ok(Value::String(string(a, 0)?.trim().to_string()))
    }),
    ("trimsuffix", "trimsuffix(string, suffix)", |a, _| {
        arity(a, 2)?;
        let (s, p) = (string(a, 0)?, string(a, 1)?);
        Ok(Value::String(s.strip_suffix(&p).unwrap_or(&s).to_string()))
    }),
    ("upper", "upper(string)", |a, _| {
        Ok(Value::String(string(a, 0)?.to_uppercase()))
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
    let args = &a[1..];
    let mut len: Option<(usize, usize)> = None;
    for (i, v) in args.iter().enumerate() {
        if let Value::List(l) = v {
            match len {
                Some((n, first)) if n != l.len() => {
                    return Err(format!(
                        "argument {} has length {}, which is inconsistent with argument {} of length {n}",
                        i + 1,
                        l.len(),
                        first + 1
                    ))
                }
                Some(_) => {}
                None => len = Some((l.len(), i)),
            }
        }
    }
    let n = len.map_or(1, |(n, _)| n);
    let mut out = Vec::with_capacity(n);
    for row in 0..n {
        let row_args: Vec<Value> = args
            .iter()
            .map(|v| match v {
                Value::List(l) => l[row].clone(),
                other => other.clone(),
            })
            .collect();
        let s = super::format::format(&spec, &row_args).map_err(|e| {
            if len.is_some() {
                format!("error on format iteration {row}: {e}")
            } else {
                e
            }
        })?;
        out.push(Value::String(s));
    }
    Ok(Value::List(out))
}
