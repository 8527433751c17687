//! Reading planned attributes, shared by every AWS kind.

use std::collections::BTreeMap;

use mlinfra_provider_api::{Attributes, ErrorKind, ProviderError};
use mlinfra_schema::Value;

/// A refusal that retrying cannot fix.
pub fn invalid(message: String) -> ProviderError {
    ProviderError::new(ErrorKind::Invalid, message)
}

pub fn str_attr<'a>(a: &'a Attributes, name: &str) -> Option<&'a str> {
    a.get(name).and_then(Value::as_str)
}

pub fn flag(a: &Attributes, name: &str, default: bool) -> bool {
    a.get(name).and_then(Value::as_bool).unwrap_or(default)
}

/// The `tags` map as strings.
pub fn tags_of(a: &Attributes) -> BTreeMap<String, String> {
    a.get("tags")
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// What was recorded, with the identity a read establishes: cloud, name and id.
pub fn named(prior: &Attributes, id: &str) -> Attributes {
    let mut attrs = prior.clone();
    attrs.insert("cloud".into(), Value::from("aws"));
    attrs.insert("name".into(), Value::from(id));
    attrs.insert("id".into(), Value::from(id));
    attrs
}
