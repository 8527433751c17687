//! Hash and UUID functions: bcrypt, md5, sha1, sha256, sha512, base64sha256, base64sha512, uuid,
//! uuidv5.

use mlinfra_schema::Value;

use super::*;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("bcrypt", "bcrypt(string, cost)", |a, _| {
        if a.is_empty() || a.len() > 2 {
            return Err(format!("expected 1 or 2 arguments, got {}", a.len()));
        }
        let cost = if a.len() == 2 { num(a, 1)? } else { 10.0 };
        if cost.fract() != 0.0 || !(4.0..=31.0).contains(&cost) {
            return Err(format!(
                "the cost is {cost}; it must be a whole number from 4 to 31"
            ));
        }
        // A fresh salt each call, as in Terraform: the hash differs on every run.
        bcrypt::hash_with_result(string(a, 0)?, cost as u32)
            .map(|h| Value::String(h.format_for_version(bcrypt::Version::TwoA)))
            .map_err(|e| format!("bcrypt: {e}"))
    }),
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
    ("sha256", "sha256(string)", |a, _| {
        let digest = Sha256::digest(string(a, 0)?.as_bytes());
        Ok(Value::String(
            digest.iter().map(|b| format!("{b:02x}")).collect(),
        ))
    }),
    ("sha512", "sha512(string)", |a, _| {
        arity(a, 1)?;
        use sha2::Digest;
        Ok(Value::String(hex(&sha2::Sha512::digest(
            string(a, 0)?.as_bytes(),
        ))))
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
