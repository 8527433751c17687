//! `container_registry` → an Artifact Registry repository of Docker format, in the
//! provider's region: immutable tags, scanning and labels in place; the name replaces.

use google_cloud_artifactregistry_v1::model::repository::vulnerability_scanning_config::EnablementConfig;
use google_cloud_artifactregistry_v1::model::repository::{
    DockerRepositoryConfig, Format, VulnerabilityScanningConfig,
};
use google_cloud_artifactregistry_v1::model::Repository;
use google_cloud_wkt::FieldMask;
use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;
use std::time::Duration;

use crate::attrs::{flag, labels_of, name_of, named, read_back, tags_value};
use crate::clients::Clients;
use crate::errors::{classify, is_not_found};
use crate::lro;

/// Artifact Registry's repository id rule.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a valid Artifact Registry repository id: use up to 63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (no '/': one repository holds many images)"
        ))
    }
}

/// The full resource name of repository `id` (a bare id or a full name).
fn full_name(c: &Clients, id: &str) -> String {
    if id.starts_with("projects/") {
        id.to_string()
    } else {
        format!("{}/repositories/{id}", c.location(&c.region))
    }
}

fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn repository(planned: &Attributes) -> Repository {
    let scanning = if flag(planned, "scan_on_push", true) {
        EnablementConfig::Inherited
    } else {
        EnablementConfig::Disabled
    };
    Repository::new()
        .set_format(Format::Docker)
        .set_labels(labels_of(planned))
        .set_docker_config(DockerRepositoryConfig::new().set_immutable_tags(flag(
            planned,
            "immutable_tags",
            false,
        )))
        .set_vulnerability_scanning_config(
            VulnerabilityScanningConfig::new().set_enablement_config(scanning),
        )
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let limit = |default| deadline(req.timeout_seconds, Duration::from_secs(default));
    match req.action {
        ApplyAction::Create => {
            let id = name_of(&req.planned, "container_registry")?;
            let name = full_name(c, id);
            let op = c
                .registry
                .create_repository()
                .set_parent(c.location(&c.region))
                .set_repository_id(id)
                .set_repository(repository(&req.planned))
                .send()
                .await;
            match op {
                Ok(op) => {
                    lro::done(
                        &format!("Artifact Registry repository {name} to be created"),
                        limit(600),
                        op,
                        |n| get_operation(c, n),
                    )
                    .await?;
                }
                Err(e) => {
                    let err = classify(&format!("creating Artifact Registry repository {name}"), e);
                    if err.kind != mlinfra_provider_api::ErrorKind::AlreadyExists {
                        return Err(err);
                    }
                    if !req.adopt_existing {
                        return Err(already_exists(
                            &format!("Artifact Registry repository {name}"),
                            &name,
                        ));
                    }
                    // An interrupted create of ours made it: bring it to what is planned.
                    update(c, &name, &req.planned).await?;
                }
            }
            finish(c, &name, &req.planned).await
        }
        ApplyAction::Update => {
            let name = full_name(c, str_id(req)?);
            update(c, &name, &req.planned).await?;
            finish(c, &name, &req.planned).await
        }
        ApplyAction::Delete => {
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            let name = full_name(
                c,
                prior
                    .get("id")
                    .and_then(Value::as_str)
                    .map(Ok)
                    .unwrap_or_else(|| name_of(prior, "container_registry"))?,
            );
            match c.registry.delete_repository().set_name(&name).send().await {
                Ok(op) => {
                    lro::done(
                        &format!("Artifact Registry repository {name} to be deleted"),
                        limit(600),
                        op,
                        |n| get_operation(c, n),
                    )
                    .await?;
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(classify(
                        &format!("deleting Artifact Registry repository {name}"),
                        e,
                    ))
                }
            }
            Ok(ApplyResponse::default())
        }
    }
}

fn str_id(req: &ApplyRequest) -> Result<&str, ProviderError> {
    req.prior
        .as_ref()
        .and_then(|p| p.get("id"))
        .and_then(Value::as_str)
        .map(Ok)
        .unwrap_or_else(|| name_of(&req.planned, "container_registry"))
}

async fn update(c: &Clients, name: &str, planned: &Attributes) -> Result<(), ProviderError> {
    c.registry
        .update_repository()
        .set_repository(repository(planned).set_name(name))
        .set_update_mask(FieldMask::default().set_paths([
            "labels",
            "docker_config",
            "vulnerability_scanning_config",
        ]))
        .send()
        .await
        .map_err(|e| classify(&format!("updating Artifact Registry repository {name}"), e))?;
    Ok(())
}

async fn get_operation(
    c: &Clients,
    name: String,
) -> Result<google_cloud_longrunning::model::Operation, ProviderError> {
    c.registry
        .get_operation()
        .set_name(&name)
        .send()
        .await
        .map_err(|e| classify(&format!("reading operation {name}"), e))
}

async fn finish(
    c: &Clients,
    name: &str,
    planned: &Attributes,
) -> Result<ApplyResponse, ProviderError> {
    read_back(
        read(c, name, planned).await?,
        Some(name),
        &format!("Artifact Registry repository {name}"),
    )
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let name = full_name(c, id);
    let repo = match c.registry.get_repository().set_name(&name).send().await {
        Ok(r) => r,
        Err(e) if is_not_found(&e) => return Ok(ReadResponse::Gone),
        Err(e) => {
            return Err(classify(
                &format!("reading Artifact Registry repository {name}"),
                e,
            ))
        }
    };
    let mut attrs = named(prior, short(&repo.name), &repo.name);
    let immutable = repo
        .docker_config()
        .map(|d| d.immutable_tags)
        .unwrap_or(false);
    let scanning = repo
        .vulnerability_scanning_config
        .as_ref()
        .map(|v| v.enablement_config != EnablementConfig::Disabled)
        .unwrap_or(true);
    attrs.insert("immutable_tags".into(), Value::Bool(immutable));
    attrs.insert("scan_on_push".into(), Value::Bool(scanning));
    attrs.insert("tags".into(), tags_value(&repo.labels));
    let url = if repo.registry_uri.is_empty() {
        format!(
            "{}-docker.pkg.dev/{}/{}",
            c.region,
            c.project,
            short(&repo.name)
        )
    } else {
        repo.registry_uri.clone()
    };
    attrs.insert("url".into(), Value::String(url));
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_ids_follow_artifact_registry_rules() {
        assert!(check_name("scorer").is_ok());
        assert!(check_name("acme-prod-scorer").is_ok());
        assert!(check_name("acme-prod/scorer").is_err());
        assert!(check_name("Scorer").is_err());
        assert!(check_name("1scorer").is_err());
        assert!(check_name("scorer-").is_err());
    }
}
