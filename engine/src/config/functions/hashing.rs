//! Hash, UUID and encoding functions: md5, sha1, sha512, base64sha256, base64sha512,
//! uuid, uuidv5, urlencode, csvdecode.

use std::collections::BTreeMap;

use mlinfra_schema::Value;

use super::{arity, base64_encode, string, Func};

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("base64sha256", "base64sha256(string)", |a, _| {
        arity(a, 1)?;
        use sha2::Digest;
        Ok(Value::String(base64_encode(&sha2::Sha256::digest(
            string(a, 0)?.as_bytes(),
        ))))
    }),
    ("base64sha512", "base64sha512(string)", |a, _| {
        arity(a, 1)?;
        use sha2::Digest;
        Ok(Value::String(base64_encode(&sha2::Sha512::digest(
            string(a, 0)?.as_bytes(),
        ))))
    }),
    ("csvdecode", "csvdecode(string)", |a, _| {
        arity(a, 1)?;
        csv_decode(&string(a, 0)?)
    }),
    ("md5", "md5(string)", |a, _| {
        arity(a, 1)?;
        use md5::Digest;
        Ok(Value::String(hex(&md5::Md5::digest(
            string(a, 0)?.as_bytes(),
        ))))
    }),
    ("sha1", "sha1(string)", |a, _| {
        arity(a, 1)?;
        use sha1::Digest;
        Ok(Value::String(hex(&sha1::Sha1::digest(
            string(a, 0)?.as_bytes(),
        ))))
    }),
    ("sha512", "sha512(string)", |a, _| {
        arity(a, 1)?;
        use sha2::Digest;
        Ok(Value::String(hex(&sha2::Sha512::digest(
            string(a, 0)?.as_bytes(),
        ))))
    }),
    ("urlencode", "urlencode(string)", |a, _| {
        arity(a, 1)?;
        Ok(Value::String(url_encode(&string(a, 0)?)))
    }),
    ("uuid", "uuid()", |a, _| {
        arity(a, 0)?;
        Ok(Value::String(uuid::Uuid::new_v4().to_string()))
    }),
    ("uuidv5", "uuidv5(namespace, name)", |a, _| {
        arity(a, 2)?;
        uuid_v5(&string(a, 0)?, &string(a, 1)?).map(Value::String)
    }),
];

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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

/// Version 5 (SHA-1, name-based) UUIDs, with the namespaces RFC 4122 names (`dns`,
/// `url`, `oid`, `x500`) or any UUID as the namespace.
fn uuid_v5(namespace: &str, name: &str) -> Result<String, String> {
    let ns = match namespace {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other)
            .map_err(|_| format!("namespace \"{other}\" is not dns, url, oid, x500 or a UUID"))?,
    };
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(ns.as_bytes());
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(uuid::Uuid::from_bytes(b).to_string())
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
