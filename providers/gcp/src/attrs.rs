//! Reading planned attributes, shared by every GCP kind.

use std::collections::{BTreeMap, HashMap};

use mlinfra_provider_api::{Attributes, ProviderError};
use mlinfra_schema::Value;

pub fn invalid(message: String) -> ProviderError {
    ProviderError::invalid(message)
}

pub fn str_attr<'a>(a: &'a Attributes, name: &str) -> Option<&'a str> {
    a.get(name).and_then(Value::as_str)
}

pub fn flag(a: &Attributes, name: &str, default: bool) -> bool {
    a.get(name).and_then(Value::as_bool).unwrap_or(default)
}

/// The object's name, which every GCP kind needs.
pub fn name_of<'a>(a: &'a Attributes, what: &str) -> Result<&'a str, ProviderError> {
    str_attr(a, "name")
        .or_else(|| str_attr(a, "id"))
        .ok_or_else(|| invalid(format!("{what} has no name")))
}

/// The `tags` map, which GCP keeps as labels.
pub fn labels_of(a: &Attributes) -> BTreeMap<String, String> {
    a.get("tags")
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Labels as the API returns them, as the `tags` value.
pub fn tags_value(labels: &HashMap<String, String>) -> Value {
    Value::Map(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    )
}

/// What was recorded, with the identity a read establishes: cloud, name and id.
pub fn named(prior: &Attributes, name: &str, id: &str) -> Attributes {
    let mut attrs = prior.clone();
    attrs.insert("cloud".into(), Value::from("gcp"));
    attrs.insert("name".into(), Value::from(name));
    attrs.insert("id".into(), Value::from(id));
    attrs
}

/// A create's or update's response, from reading the object back: its id is `id`, or the
/// `id` the read found. `what` names the object for the error when it is not there yet.
pub fn read_back(
    found: mlinfra_provider_api::ReadResponse,
    id: Option<&str>,
    what: &str,
) -> Result<mlinfra_provider_api::ApplyResponse, ProviderError> {
    match found {
        mlinfra_provider_api::ReadResponse::Found { attributes } => {
            Ok(mlinfra_provider_api::ApplyResponse {
                id: id
                    .map(str::to_string)
                    .or_else(|| str_attr(&attributes, "id").map(str::to_string)),
                attributes: Some(attributes),
            })
        }
        mlinfra_provider_api::ReadResponse::Gone => Err(ProviderError::new(
            mlinfra_provider_api::ErrorKind::Transient,
            format!("{what} was created but cannot be read back yet"),
        )),
    }
}
