//! Encoding functions: base64decode, base64encode, csvdecode, jsondecode, jsonencode,
//! urlencode.

use super::*;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("base64decode", "base64decode(string)", |a, _| {
        base64_decode(&string(a, 0)?).map(Value::String)
    }),
    ("base64encode", "base64encode(string)", |a, _| {
        Ok(Value::String(base64_encode(string(a, 0)?.as_bytes())))
    }),
    ("csvdecode", "csvdecode(string)", |a, _| {
        arity(a, 1)?;
        csv_decode(&string(a, 0)?)
    }),
    ("jsondecode", "jsondecode(string)", |a, _| {
        serde_json::from_str::<serde_json::Value>(&string(a, 0)?)
            .map(|j| Value::from_json(&j))
            .map_err(|e| format!("invalid JSON: {e}"))
    }),
    ("jsonencode", "jsonencode(value)", |a, _| {
        arity(a, 1)?;
        Ok(Value::String(html_safe(&a[0].to_json().to_string())))
    }),
    ("urlencode", "urlencode(string)", |a, _| {
        arity(a, 1)?;
        Ok(Value::String(url_encode(&string(a, 0)?)))
    }),
];

/// As Go's `url.QueryEscape`, which Terraform's `urlencode` is: letters, digits and
/// `-_.~` stay, a space is `+`, every other byte of the UTF-8 is `%XX`.
fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// RFC 4180 CSV with a header row: a list of maps of strings, one per row after it.
fn csv_decode(text: &str) -> Result<Value, String> {
    let rows = csv_rows(text)?;
    let Some((header, body)) = rows.split_first() else {
        return Ok(Value::List(vec![]));
    };
    let mut out = Vec::new();
    for (i, row) in body.iter().enumerate() {
        if row.len() != header.len() {
            return Err(format!(
                "line {} has {} fields, and the header {}",
                i + 2,
                row.len(),
                header.len()
            ));
        }
        out.push(Value::Map(
            header
                .iter()
                .cloned()
                .zip(row.iter().cloned().map(Value::String))
                .collect::<BTreeMap<_, _>>(),
        ));
    }
    Ok(Value::List(out))
}

fn csv_rows(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c)
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, '"') => return Err(format!("line {line}: a bare \" in a field")),
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                line += 1;
                any = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: a quoted field is not closed"));
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// As Terraform's `jsonencode` (Go's encoding/json): `<`, `>`, `&`, U+2028 and U+2029
/// written as `\uXXXX` escapes. They only occur inside strings in JSON text.
fn html_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}
