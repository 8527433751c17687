//! Encoding functions: base64decode, base64encode, base64gzip, csvdecode, jsondecode,
//! jsonencode, textdecodebase64, textencodebase64, urlencode.

use super::*;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("base64decode", "base64decode(string)", |a, _| {
        base64_decode(&string(a, 0)?).map(Value::String)
    }),
    ("base64encode", "base64encode(string)", |a, _| {
        Ok(Value::String(base64_encode(string(a, 0)?.as_bytes())))
    }),
    ("base64gzip", "base64gzip(string)", |a, _| {
        arity(a, 1)?;
        gzip(string(a, 0)?.as_bytes()).map(|b| Value::String(base64_encode(&b)))
    }),
    (
        "textencodebase64",
        "textencodebase64(string, encoding_name)",
        |a, _| {
            arity(a, 2)?;
            let name = string(a, 1)?;
            encode_text(&string(a, 0)?, &name).map(|b| Value::String(base64_encode(&b)))
        },
    ),
    (
        "textdecodebase64",
        "textdecodebase64(source, encoding_name)",
        |a, _| {
            arity(a, 2)?;
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(string(a, 0)?.trim())
                .map_err(|e| format!("argument 1 is not valid base64: {e}"))?;
            decode_text(&bytes, &string(a, 1)?).map(Value::String)
        },
    ),
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
/// A value as Terraform's JSON, `<`, `>` and `&` escaped.
pub(super) fn json_text(v: &Value) -> String {
    html_safe(&v.to_json().to_string())
}

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

/// gzip with the default level and a header like Terraform's (no name, no time, OS
/// unknown), so the bytes decompress to the input with any gzip reader.
fn gzip(data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    let mut enc = flate2::GzBuilder::new()
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    enc.write_all(data).map_err(|e| format!("gzip: {e}"))?;
    enc.finish().map_err(|e| format!("gzip: {e}"))
}

enum Charset {
    Utf16 { little: bool, bom: bool },
    Other(&'static encoding_rs::Encoding),
}

/// The character encoding of an IANA name or alias (case-insensitive).
fn charset(name: &str) -> Result<Charset, String> {
    let n = name.trim().to_ascii_lowercase();
    let unsupported = || {
        format!("\"{name}\" is not a supported IANA encoding name or alias (like \"UTF-8\", \"UTF-16LE\", \"ISO-8859-1\", \"windows-1252\", \"Shift_JIS\")")
    };
    Ok(match n.as_str() {
        "utf-16le" => Charset::Utf16 {
            little: true,
            bom: false,
        },
        "utf-16be" => Charset::Utf16 {
            little: false,
            bom: false,
        },
        "utf-16" => Charset::Utf16 {
            little: false,
            bom: true,
        },
        _ => {
            let e = encoding_rs::Encoding::for_label_no_replacement(n.as_bytes())
                .ok_or_else(unsupported)?;
            if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE {
                return Err(unsupported());
            }
            Charset::Other(e)
        }
    })
}

fn encode_text(s: &str, name: &str) -> Result<Vec<u8>, String> {
    match charset(name)? {
        Charset::Utf16 { little, bom } => {
            let mut out = Vec::with_capacity(s.len() * 2 + 2);
            let units = bom.then_some(0xFEFF).into_iter().chain(s.encode_utf16());
            for u in units {
                out.extend(if little {
                    u.to_le_bytes()
                } else {
                    u.to_be_bytes()
                });
            }
            Ok(out)
        }
        Charset::Other(e) => {
            let (bytes, _, unmappable) = e.encode(s);
            if unmappable {
                return Err(format!(
                    "the given string contains characters that cannot be represented in {name}"
                ));
            }
            Ok(bytes.into_owned())
        }
    }
}

fn decode_text(b: &[u8], name: &str) -> Result<String, String> {
    let bad = || format!("the given value contains symbols that are not defined for {name}");
    match charset(name)? {
        Charset::Utf16 { little, bom } => {
            if !b.len().is_multiple_of(2) {
                return Err(bad());
            }
            let mut units: Vec<u16> = b
                .chunks(2)
                .map(|c| {
                    if little {
                        u16::from_le_bytes([c[0], c[1]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]])
                    }
                })
                .collect();
            if bom {
                match units.first() {
                    Some(0xFEFF) => {
                        units.remove(0);
                    }
                    Some(0xFFFE) => {
                        units = units[1..].iter().map(|u| u.swap_bytes()).collect();
                    }
                    _ => {}
                }
            }
            String::from_utf16(&units).map_err(|_| bad())
        }
        Charset::Other(e) => {
            let (text, malformed) = e.decode_without_bom_handling(b);
            if malformed {
                return Err(bad());
            }
            Ok(text.into_owned())
        }
    }
}
