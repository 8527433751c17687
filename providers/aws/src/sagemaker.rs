//! What the SageMaker kinds share: names, tags, and telling "gone" from other errors.
//!
//! SageMaker answers a describe of something that does not exist with a
//! ValidationException ("Could not find …", "… does not exist") or ResourceNotFound.

use std::collections::BTreeMap;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_sagemaker::types::Tag;
use mlinfra_provider_api::{Attributes, ProviderError};
use mlinfra_schema::Value;

use crate::attrs::{invalid, tags_of};
use crate::clients::Clients;
use crate::errors::classify;

/// Whether an error says the object does not exist.
pub fn is_missing<E: ProvideErrorMetadata>(e: &E) -> bool {
    let code = e.code().unwrap_or_default();
    let msg = e.message().unwrap_or_default();
    code == "ResourceNotFound"
        || (code == "ValidationException"
            && (msg.contains("Could not find") || msg.contains("does not exist")))
}

/// Whether an error says the object already exists (a killed run's create).
pub fn is_existing<E: ProvideErrorMetadata>(e: &E) -> bool {
    let code = e.code().unwrap_or_default();
    let msg = e.message().unwrap_or_default();
    code == "ResourceInUse"
        || (code == "ValidationException"
            && (msg.contains("already exist") || msg.contains("Cannot create already existing")))
}

/// SageMaker names: 1–63 letters, digits and hyphens, starting with a letter or digit.
pub fn check_name(what: &str, name: &str) -> Result<(), ProviderError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "\"{name}\" is not a valid SageMaker {what} name: use 1–63 letters, digits and hyphens, starting with a letter or digit"
        )))
    }
}

pub fn sdk_tags(a: &Attributes) -> Option<Vec<Tag>> {
    let tags = tags_of(a);
    (!tags.is_empty()).then(|| {
        tags.into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    })
}

/// The tags on `arn`, as a `tags` value.
pub async fn read_tags(c: &Clients, arn: &str) -> Result<Value, ProviderError> {
    let out = c
        .sagemaker
        .list_tags()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| classify(&format!("listing the tags of {arn}"), e))?;
    let tags: BTreeMap<String, Value> = out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), Value::from(t.value()?))))
        .collect();
    Ok(Value::Map(tags))
}

/// Bring the tags on `arn` from `prior` to `planned`.
pub async fn update_tags(
    c: &Clients,
    arn: &str,
    prior: &Attributes,
    planned: &Attributes,
) -> Result<(), ProviderError> {
    let (had, want) = (tags_of(prior), tags_of(planned));
    if had == want {
        return Ok(());
    }
    let gone: Vec<String> = had
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    if !gone.is_empty() {
        c.sagemaker
            .delete_tags()
            .resource_arn(arn)
            .set_tag_keys(Some(gone))
            .send()
            .await
            .map_err(|e| classify(&format!("untagging {arn}"), e))?;
    }
    if let Some(tags) = sdk_tags(planned) {
        c.sagemaker
            .add_tags()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| classify(&format!("tagging {arn}"), e))?;
    }
    Ok(())
}
