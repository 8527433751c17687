//! `model_registry` → a Vertex AI parent model in the Model Registry. Vertex AI keeps no
//! empty registry object: a parent model is registered with its first version, whose
//! serving container is `serving_image`. Training pipelines add versions under it
//! (`parentModel`); a new `serving_image` uploads a new default version, in place.
//! Description and labels change in place; the name replaces.

use std::time::Duration;

use google_cloud_aiplatform_v1::model::{Model, ModelContainerSpec};
use google_cloud_longrunning::model::Operation;
use google_cloud_wkt::FieldMask;
use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;

use crate::attrs::{invalid, labels_of, name_of, named, read_back, str_attr, tags_value};
use crate::clients::Clients;
use crate::errors::{classify, is_not_found};
use crate::lro;

/// Vertex AI's model id rule.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{id}\" is not a valid Vertex AI model id: use up to 63 lowercase letters, digits, '_' and '-', starting with a letter or '_'"
        ))
    }
}

fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The model's resource name, from a bare id or a full name.
fn full_name(c: &Clients, id: &str) -> String {
    if id.starts_with("projects/") {
        id.to_string()
    } else {
        format!("{}/models/{id}", c.location(&c.region))
    }
}

fn model(planned: &Attributes, id: &str) -> Result<Model, ProviderError> {
    let image = str_attr(planned, "serving_image").ok_or_else(|| {
        invalid(
            "serving_image is required: Vertex AI registers a model with its serving container"
                .into(),
        )
    })?;
    Ok(Model::new()
        .set_display_name(id)
        .set_description(str_attr(planned, "description").unwrap_or_default())
        .set_labels(labels_of(planned))
        .set_container_spec(ModelContainerSpec::new().set_image_uri(image)))
}

async fn op(c: &Clients, name: String) -> Result<Operation, ProviderError> {
    c.models
        .get_operation()
        .set_name(&name)
        .send()
        .await
        .map_err(|e| classify(&format!("reading operation {name}"), e))
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let limit = deadline(req.timeout_seconds, Duration::from_secs(1800));
    match req.action {
        ApplyAction::Create => {
            let id = name_of(&req.planned, "model_registry")?.to_string();
            let name = full_name(c, &id);
            let sent = c
                .models
                .upload_model()
                .set_parent(c.location(&c.region))
                .set_model_id(&id)
                .set_model(model(&req.planned, &id)?)
                .send()
                .await;
            match sent {
                Ok(o) => {
                    lro::done(
                        &format!("Vertex AI model {name} to be registered"),
                        limit,
                        o,
                        |n| op(c, n),
                    )
                    .await?;
                }
                Err(e) => {
                    let err = classify(&format!("registering Vertex AI model {name}"), e);
                    if err.kind != ErrorKind::AlreadyExists {
                        return Err(err);
                    }
                    if !req.adopt_existing {
                        return Err(already_exists(&format!("Vertex AI model {name}"), &id));
                    }
                    update(c, &name, None, &req.planned, limit).await?;
                }
            }
            finish(c, &name, &req.planned).await
        }
        ApplyAction::Update => {
            let id = req
                .prior
                .as_ref()
                .and_then(|p| str_attr(p, "id"))
                .map(Ok)
                .unwrap_or_else(|| name_of(&req.planned, "model_registry"))?;
            let name = full_name(c, id);
            update(c, &name, req.prior.as_ref(), &req.planned, limit).await?;
            finish(c, &name, &req.planned).await
        }
        ApplyAction::Delete => {
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            let id = str_attr(prior, "id")
                .map(Ok)
                .unwrap_or_else(|| name_of(prior, "model_registry"))?;
            let name = full_name(c, id);
            match c.models.delete_model().set_name(&name).send().await {
                Ok(o) => {
                    lro::done(
                        &format!("Vertex AI model {name} to be deleted"),
                        limit,
                        o,
                        |n| op(c, n),
                    )
                    .await?;
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(classify(&format!("deleting Vertex AI model {name}"), e)),
            }
            Ok(ApplyResponse::default())
        }
    }
}

async fn update(
    c: &Clients,
    name: &str,
    prior: Option<&Attributes>,
    planned: &Attributes,
    limit: std::time::Instant,
) -> Result<(), ProviderError> {
    let id = short(name).to_string();
    c.models
        .update_model()
        .set_model(
            model(planned, &id)?
                .set_name(name)
                .set_container_spec(ModelContainerSpec::new()),
        )
        .set_update_mask(FieldMask::default().set_paths(["description", "labels"]))
        .send()
        .await
        .map_err(|e| classify(&format!("updating Vertex AI model {name}"), e))?;
    let was = prior.and_then(|p| str_attr(p, "serving_image"));
    let want = str_attr(planned, "serving_image");
    if prior.is_some() && was != want {
        // A new serving container is a new version, made the default.
        let o = c
            .models
            .upload_model()
            .set_parent(c.location(&c.region))
            .set_parent_model(name)
            .set_model(model(planned, &id)?.set_version_aliases(["default"]))
            .send()
            .await
            .map_err(|e| {
                classify(
                    &format!("uploading a new version of Vertex AI model {name}"),
                    e,
                )
            })?;
        lro::done(
            &format!("a new version of Vertex AI model {name}"),
            limit,
            o,
            |n| op(c, n),
        )
        .await?;
    }
    Ok(())
}

async fn finish(
    c: &Clients,
    name: &str,
    planned: &Attributes,
) -> Result<ApplyResponse, ProviderError> {
    read_back(
        read(c, name, planned).await?,
        None,
        &format!("Vertex AI model {name}"),
    )
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let name = full_name(c, id);
    let m = match c.models.get_model().set_name(&name).send().await {
        Ok(m) => m,
        Err(e) if is_not_found(&e) => return Ok(ReadResponse::Gone),
        Err(e) => return Err(classify(&format!("reading Vertex AI model {name}"), e)),
    };
    let mut attrs = named(prior, short(&m.name), &m.name);
    attrs.insert(
        "description".into(),
        if m.description.is_empty() {
            Value::Null
        } else {
            Value::from(m.description.as_str())
        },
    );
    attrs.insert("tags".into(), tags_value(&m.labels));
    // The default version's container is write-only on Vertex AI: it stays as recorded.
    if let Some(spec) = m
        .container_spec
        .as_ref()
        .filter(|s| !s.image_uri.is_empty())
    {
        attrs.insert("serving_image".into(), Value::from(spec.image_uri.as_str()));
    }
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids() {
        assert!(check_id("fraud").is_ok());
        assert!(check_id("fraud-scoring_v2").is_ok());
        assert!(check_id("1fraud").is_err());
        assert!(check_id("-fraud").is_err());
        assert!(check_id("Fraud").is_err());
    }
}
