//! The values this process must never print: sensitive inputs, provider attributes and
//! resource attributes, registered as evaluation meets them, and scrubbed from every text
//! the CLI prints (diagnostics, progress, errors) as the last line of defence behind the
//! redaction of each message.

use std::borrow::Cow;
use std::sync::RwLock;

use mlinfra_schema::{format_number, Value};

/// What replaces a secret in printed text.
pub const REDACTED: &str = "(sensitive value)";

/// Shorter strings ("1", "dev", "true") are too common to scrub from free text without
/// mangling it; the messages that quote such values redact them themselves.
const MIN_LEN: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remember every string and number inside `value` as a secret.
pub fn register(value: &Value) {
    let mut leaves = Vec::new();
    collect(value, &mut leaves);
    register_strings(leaves);
}

/// Remember `text` (the raw text of a sensitive input) as a secret.
pub fn register_text(text: &str) {
    register_strings(vec![text.trim().to_string()]);
}

fn register_strings(leaves: Vec<String>) {
    let leaves: Vec<String> = leaves.into_iter().filter(|s| s.len() >= MIN_LEN).collect();
    if leaves.is_empty() {
        return;
    }
    let Ok(mut all) = SECRETS.write() else {
        return;
    };
    for s in leaves {
        if !all.contains(&s) {
            all.push(s);
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            out.push(s.clone());
            // Also as it appears quoted in HCL or JSON, escapes and all.
            let quoted = serde_json::Value::String(s.clone()).to_string();
            let inner = &quoted[1..quoted.len() - 1];
            if inner != s {
                out.push(inner.to_string());
            }
        }
        Value::Number(n) => out.push(format_number(n)),
        Value::List(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Map(m) => m.values().for_each(|i| collect(i, out)),
        _ => {}
    }
}

/// `text` with every registered secret replaced by `(sensitive value)`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let Ok(all) = SECRETS.read() else {
        return Cow::Borrowed(text);
    };
    let mut out = Cow::Borrowed(text);
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), REDACTED));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_scrubbed_whole_and_short_ones_left() {
        register(&Value::from_json(&serde_json::json!({
            "token": "tok-123456",
            "tok": "tok-1234567890",
            "pin": 987654,
            "env": "dev",
            "quoted": "a\"b-secret"
        })));
        assert_eq!(
            scrub("a tok-1234567890 and tok-123456 then 987654 in dev"),
            "a (sensitive value) and (sensitive value) then (sensitive value) in dev"
        );
        assert_eq!(
            scrub("json: \"a\\\"b-secret\""),
            "json: \"(sensitive value)\""
        );
        assert!(matches!(scrub("nothing here"), Cow::Borrowed(_)));
    }
}
