//! An endpoint's `environment_wo`: environment variables whose values are secrets.
//!
//! The plan and the state hold only the variables' names (the attribute's write-only
//! shape); the values reach a provider in [`crate::ApplyRequest::write_only`] at create and
//! update. Every cloud returns a container's environment whole when it is read, so a read
//! removes the secret variables by name before anything is recorded.

use std::collections::BTreeMap;

use mlinfra_schema::Value;

use crate::{write_only_keys, Attributes, ProviderError};

/// The attribute that holds the secret variables.
pub const ATTRIBUTE: &str = "environment_wo";
/// The attribute whose change sends them again.
pub const VERSION: &str = "environment_wo_version";

/// A name may be a plain variable or a secret one, not both: the cloud keeps one value.
pub fn check(proposed: &Attributes, write_only: &Attributes) -> Result<(), ProviderError> {
    let mut names = write_only_keys(proposed, ATTRIBUTE);
    if let Some(Value::Map(m)) = write_only.get(ATTRIBUTE) {
        names.extend(m.keys().cloned());
    }
    let plain = proposed
        .get("model")
        .and_then(|m| m.get_path(&["environment".to_string()]))
        .and_then(Value::as_map);
    if let Some(both) = plain.and_then(|p| names.iter().find(|n| p.contains_key(n.as_str()))) {
        return Err(ProviderError::invalid(format!(
            "{both} is in both model.environment and environment_wo; a variable is either plain or secret, so remove it from one of them"
        )));
    }
    Ok(())
}

/// The secret variables to send: each name of the shape in `planned`, with its value from
/// `write_only`.
pub fn values(
    planned: &Attributes,
    write_only: &Attributes,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let given = write_only.get(ATTRIBUTE).and_then(Value::as_map);
    let mut out = BTreeMap::new();
    for name in write_only_keys(planned, ATTRIBUTE) {
        match given.and_then(|m| m.get(&name)) {
            Some(Value::String(s)) => {
                out.insert(name, s.clone());
            }
            Some(Value::Unknown) => {
                return Err(ProviderError::invalid(format!(
                    "environment_wo.{name} is still unknown at apply"
                )))
            }
            _ => {
                return Err(ProviderError::invalid(format!(
                    "environment_wo.{name} has no value at apply: write-only values come from the configuration, so apply from the configuration that set it"
                )))
            }
        }
    }
    Ok(out)
}

/// What identifies the secret variables without their values: their names and the
/// version. Providers name immutable objects (a model, a deployment) from it, so a new
/// version or a new name makes a new object, and no hash of a secret is ever published.
pub fn fingerprint(attrs: &Attributes) -> String {
    let names = write_only_keys(attrs, ATTRIBUTE);
    if names.is_empty() && attrs.get(VERSION).is_none_or(|v| matches!(v, Value::Null)) {
        return String::new();
    }
    let version = match attrs.get(VERSION) {
        Some(Value::Number(n)) => mlinfra_schema::format_number(n),
        _ => String::new(),
    };
    format!("{};{version}", names.join(","))
}

/// Remove the secret variables (named by the shape in `attrs`) from an environment read
/// back from the cloud.
pub fn strip<V>(environment: &mut BTreeMap<String, V>, attrs: &Attributes) {
    for name in write_only_keys(attrs, ATTRIBUTE) {
        environment.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, Value)]) -> Attributes {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(attrs(pairs))
    }

    #[test]
    fn values_come_from_write_only_by_the_shape_names() {
        let planned = attrs(&[(ATTRIBUTE, map(&[("HF_TOKEN", Value::Null)]))]);
        let given = attrs(&[(ATTRIBUTE, map(&[("HF_TOKEN", Value::from("hf_abc"))]))]);
        assert_eq!(
            values(&planned, &given).unwrap(),
            BTreeMap::from([("HF_TOKEN".to_string(), "hf_abc".to_string())])
        );
        let e = values(&planned, &Attributes::new()).unwrap_err();
        assert!(
            e.message.contains("environment_wo.HF_TOKEN has no value"),
            "{e}"
        );
    }

    #[test]
    fn a_name_is_plain_or_secret() {
        let proposed = attrs(&[
            (
                "model",
                map(&[("environment", map(&[("A", Value::from("1"))]))]),
            ),
            (ATTRIBUTE, map(&[("A", Value::Null)])),
        ]);
        let e = check(&proposed, &Attributes::new()).unwrap_err();
        assert!(e.message.contains("A is in both"), "{e}");
        let other = attrs(&[
            (
                "model",
                map(&[("environment", map(&[("A", Value::from("1"))]))]),
            ),
            (ATTRIBUTE, map(&[("B", Value::Null)])),
        ]);
        assert!(check(&other, &Attributes::new()).is_ok());
    }

    #[test]
    fn the_fingerprint_has_names_and_version_never_values() {
        let a = attrs(&[
            (ATTRIBUTE, map(&[("T", Value::Null), ("U", Value::Null)])),
            (VERSION, Value::from(2.0)),
        ]);
        assert_eq!(fingerprint(&a), "T,U;2");
        assert_eq!(fingerprint(&Attributes::new()), "");
        let mut env = BTreeMap::from([("T".to_string(), 1), ("X".to_string(), 2)]);
        strip(&mut env, &a);
        assert_eq!(env.into_keys().collect::<Vec<_>>(), ["X"]);
    }
}
