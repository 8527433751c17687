//! `container_registry` → an ECR repository: tag mutability, scanning and tags in place.

use std::collections::BTreeMap;

use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability, Tag};
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;

use crate::attrs::{flag, invalid, named, tags_of};
use crate::clients::Clients;
use crate::errors::classify;

/// ECR's repository naming rules, checked before any call.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (2..=256).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a valid ECR repository name: use 2 to 256 lowercase letters, digits and . _ - /, starting and ending with a letter or digit"
        ))
    }
}

fn mutability(immutable: bool) -> ImageTagMutability {
    if immutable {
        ImageTagMutability::Immutable
    } else {
        ImageTagMutability::Mutable
    }
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let name = req
        .planned
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| {
            req.prior
                .as_ref()
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
        })
        .ok_or_else(|| invalid("container_registry has no name".into()))?
        .to_string();
    match req.action {
        ApplyAction::Create => {
            check_name(&name).map_err(invalid)?;
            let tags: Vec<Tag> = tags_of(&req.planned)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<_, _>>()
                .map_err(|e| invalid(e.to_string()))?;
            let call = c
                .ecr
                .create_repository()
                .repository_name(&name)
                .image_tag_mutability(mutability(flag(&req.planned, "immutable_tags", false)))
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder()
                        .scan_on_push(flag(&req.planned, "scan_on_push", true))
                        .build(),
                )
                .set_tags(if tags.is_empty() { None } else { Some(tags) });
            if let Err(e) = call.send().await {
                // Adopt it only when an interrupted create of ours made it.
                let exists = e
                    .as_service_error()
                    .is_some_and(|se| se.is_repository_already_exists_exception());
                if !exists {
                    return Err(classify(&format!("creating ECR repository {name}"), e));
                }
                if !req.adopt_existing {
                    return Err(already_exists(&format!("ECR repository {name}"), &name));
                }
                converge(c, &name, None, &req.planned).await?;
            }
        }
        ApplyAction::Update => converge(c, &name, req.prior.as_ref(), &req.planned).await?,
        ApplyAction::Delete => {
            return match c
                .ecr
                .delete_repository()
                .repository_name(&name)
                .force(true)
                .send()
                .await
            {
                Ok(_) => Ok(ApplyResponse::default()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_repository_not_found_exception()) =>
                {
                    Ok(ApplyResponse::default())
                }
                Err(e) => Err(classify(&format!("deleting ECR repository {name}"), e)),
            };
        }
    }
    match read(c, &name, &req.planned).await? {
        ReadResponse::Found { attributes } => Ok(ApplyResponse {
            id: Some(name),
            attributes: Some(attributes),
        }),
        ReadResponse::Gone => Err(ProviderError::new(
            ErrorKind::Transient,
            format!("ECR repository {name} is not visible yet"),
        )),
    }
}

/// Bring mutability, scanning and tags to what is planned.
async fn converge(
    c: &Clients,
    name: &str,
    prior: Option<&Attributes>,
    planned: &Attributes,
) -> Result<(), ProviderError> {
    let changed = |attr: &str, default: bool| {
        prior.is_none_or(|p| flag(p, attr, default) != flag(planned, attr, default))
    };
    if changed("immutable_tags", false) {
        c.ecr
            .put_image_tag_mutability()
            .repository_name(name)
            .image_tag_mutability(mutability(flag(planned, "immutable_tags", false)))
            .send()
            .await
            .map_err(|e| {
                classify(
                    &format!("setting tag mutability of ECR repository {name}"),
                    e,
                )
            })?;
    }
    if changed("scan_on_push", true) {
        c.ecr
            .put_image_scanning_configuration()
            .repository_name(name)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(flag(planned, "scan_on_push", true))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify(&format!("setting scanning of ECR repository {name}"), e))?;
    }
    let want = tags_of(planned);
    let had = prior.map(tags_of);
    if had.as_ref() != Some(&want) {
        let arn = repository(c, name)
            .await?
            .and_then(|r| r.repository_arn().map(str::to_string))
            .ok_or_else(|| invalid(format!("ECR repository {name} has no ARN")))?;
        let had = had.unwrap_or_default();
        let gone: Vec<String> = had
            .keys()
            .filter(|k| !want.contains_key(*k))
            .cloned()
            .collect();
        if !gone.is_empty() {
            c.ecr
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(gone))
                .send()
                .await
                .map_err(|e| classify(&format!("untagging ECR repository {name}"), e))?;
        }
        if !want.is_empty() {
            let tags: Vec<Tag> = want
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<_, _>>()
                .map_err(|e| invalid(e.to_string()))?;
            c.ecr
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| classify(&format!("tagging ECR repository {name}"), e))?;
        }
    }
    Ok(())
}

async fn repository(
    c: &Clients,
    name: &str,
) -> Result<Option<aws_sdk_ecr::types::Repository>, ProviderError> {
    match c
        .ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.repositories().first().cloned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_repository_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(classify(&format!("reading ECR repository {name}"), e)),
    }
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let Some(repo) = repository(c, id).await? else {
        return Ok(ReadResponse::Gone);
    };
    let arn = repo.repository_arn().unwrap_or_default().to_string();
    let tags: BTreeMap<String, Value> = if arn.is_empty() {
        BTreeMap::new()
    } else {
        c.ecr
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| classify(&format!("reading tags of ECR repository {id}"), e))?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), Value::from(t.value())))
            .collect()
    };
    let mut attrs = named(prior, id);
    attrs.insert(
        "url".into(),
        Value::from(repo.repository_uri().unwrap_or_default()),
    );
    attrs.insert(
        "immutable_tags".into(),
        Value::Bool(repo.image_tag_mutability() == Some(&ImageTagMutability::Immutable)),
    );
    attrs.insert(
        "scan_on_push".into(),
        Value::Bool(
            repo.image_scanning_configuration()
                .map(|s| s.scan_on_push())
                .unwrap_or(false),
        ),
    );
    attrs.insert("tags".into(), Value::Map(tags));
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_ecr_rules() {
        assert!(check_name("acme-prod/scorer").is_ok());
        assert!(check_name("Acme/scorer").is_err());
        assert!(check_name("scorer/").is_err());
        assert!(check_name("a").is_err());
    }
}
