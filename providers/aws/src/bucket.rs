//! `bucket` → an S3 bucket: versioning and tags in place; name and region force replacement.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, Tag, Tagging, VersioningConfiguration,
};
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;

use crate::attrs::{invalid, named, str_attr, tags_of};
use crate::clients::Clients;
use crate::errors::classify;

/// S3's bucket naming rules, checked before any call.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !(3..=63).contains(&name.len()) || !ok_chars || !ends_ok || name.contains("..") {
        return Err(format!(
            "\"{name}\" is not a valid S3 bucket name: use 3 to 63 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    match req.action {
        ApplyAction::Create => create(c, &req.planned, req.adopt_existing).await,
        ApplyAction::Update => update(c, req.prior.as_ref(), &req.planned).await,
        ApplyAction::Delete => {
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            delete(c, prior).await
        }
    }
}

async fn create(
    c: &Clients,
    planned: &Attributes,
    adopt_existing: bool,
) -> Result<ApplyResponse, ProviderError> {
    let name = str_attr(planned, "name")
        .ok_or_else(|| invalid("bucket has no name".into()))?
        .to_string();
    check_name(&name).map_err(invalid)?;
    let region = str_attr(planned, "location")
        .map(str::to_string)
        .unwrap_or_else(|| c.region.clone());
    // In us-east-1, S3 answers a create of a bucket its caller owns with 200 OK, so only
    // a look first tells a new bucket from one that is already there.
    if !adopt_existing && exists(c, &name).await? {
        return Err(already_exists(&format!("S3 bucket {name}"), &name));
    }
    let mut call = c.s3.create_bucket().bucket(&name);
    if region != "us-east-1" {
        call = call.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    if let Err(e) = call.send().await {
        // A bucket we own: adopt it only when an interrupted create of ours made it.
        let owned = e
            .as_service_error()
            .is_some_and(|se| se.is_bucket_already_owned_by_you());
        if owned && !adopt_existing {
            return Err(already_exists(&format!("S3 bucket {name}"), &name));
        }
        if e.as_service_error()
            .is_some_and(|se| se.is_bucket_already_exists())
        {
            return Err(ProviderError::new(ErrorKind::AlreadyExists, format!("S3 bucket {name} already exists in another AWS account (bucket names are global); choose another name")));
        }
        if !owned {
            return Err(classify(&format!("creating S3 bucket {name}"), e));
        }
    }
    set_versioning(
        c,
        &name,
        planned
            .get("versioning")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        false,
    )
    .await?;
    set_tags(c, &name, &tags_of(planned)).await?;
    let mut attrs = planned.clone();
    attrs.insert("id".into(), Value::from(name.as_str()));
    attrs.insert("url".into(), Value::String(format!("s3://{name}")));
    attrs.insert("location".into(), Value::String(region));
    Ok(ApplyResponse {
        id: Some(name),
        attributes: Some(attrs),
    })
}

async fn update(
    c: &Clients,
    prior: Option<&Attributes>,
    planned: &Attributes,
) -> Result<ApplyResponse, ProviderError> {
    let name = str_attr(planned, "name")
        .ok_or_else(|| invalid("bucket has no name".into()))?
        .to_string();
    let was = prior
        .and_then(|p| p.get("versioning"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let want = planned
        .get("versioning")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if was != want {
        set_versioning(c, &name, want, was).await?;
    }
    let want_tags = tags_of(planned);
    if prior.map(tags_of) != Some(want_tags.clone()) {
        set_tags(c, &name, &want_tags).await?;
    }
    let mut attrs = planned.clone();
    attrs.insert("id".into(), Value::from(name.as_str()));
    attrs.insert("url".into(), Value::String(format!("s3://{name}")));
    Ok(ApplyResponse {
        id: Some(name),
        attributes: Some(attrs),
    })
}

async fn set_versioning(
    c: &Clients,
    name: &str,
    enabled: bool,
    was_enabled: bool,
) -> Result<(), ProviderError> {
    // A new bucket is unversioned; "Suspended" is only meaningful after "Enabled".
    if !enabled && !was_enabled {
        return Ok(());
    }
    let status = if enabled {
        BucketVersioningStatus::Enabled
    } else {
        BucketVersioningStatus::Suspended
    };
    c.s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .map_err(|e| classify(&format!("setting versioning of S3 bucket {name}"), e))?;
    Ok(())
}

async fn set_tags(
    c: &Clients,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    if tags.is_empty() {
        c.s3.delete_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .map_err(|e| classify(&format!("removing tags of S3 bucket {name}"), e))?;
        return Ok(());
    }
    let mut set = Vec::new();
    for (k, v) in tags {
        set.push(
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| invalid(format!("tag {k}: {e}")))?,
        );
    }
    let tagging = Tagging::builder()
        .set_tag_set(Some(set))
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    c.s3.put_bucket_tagging()
        .bucket(name)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| classify(&format!("tagging S3 bucket {name}"), e))?;
    Ok(())
}

async fn delete(c: &Clients, prior: &Attributes) -> Result<ApplyResponse, ProviderError> {
    let name = str_attr(prior, "name")
        .or_else(|| str_attr(prior, "id"))
        .ok_or_else(|| invalid("bucket has no name".into()))?
        .to_string();
    if prior
        .get("force_destroy")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        empty_bucket(c, &name).await?;
    }
    match c.s3.delete_bucket().bucket(&name).send().await {
        Ok(_) => Ok(ApplyResponse::default()),
        Err(e)
            if e.as_service_error()
                .and_then(|se| aws_sdk_s3::error::ProvideErrorMetadata::code(se))
                == Some("NoSuchBucket") =>
        {
            Ok(ApplyResponse::default())
        }
        Err(e) => {
            let mut err = classify(&format!("deleting S3 bucket {name}"), e);
            if err.message.contains("BucketNotEmpty") {
                err.message
                    .push_str(" (set force_destroy = true to delete its objects too)");
            }
            Err(err)
        }
    }
}

/// Delete every object version and delete marker, a page at a time.
async fn empty_bucket(c: &Clients, name: &str) -> Result<(), ProviderError> {
    loop {
        let page =
            c.s3.list_object_versions()
                .bucket(name)
                .send()
                .await
                .map_err(|e| classify(&format!("listing objects of S3 bucket {name}"), e))?;
        let mut ids = Vec::new();
        for v in page.versions() {
            if let Some(k) = v.key() {
                ids.push(
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(v.version_id().map(str::to_string))
                        .build()
                        .map_err(|e| invalid(e.to_string()))?,
                );
            }
        }
        for m in page.delete_markers() {
            if let Some(k) = m.key() {
                ids.push(
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(m.version_id().map(str::to_string))
                        .build()
                        .map_err(|e| invalid(e.to_string()))?,
                );
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        c.s3.delete_objects()
            .bucket(name)
            .delete(
                Delete::builder()
                    .set_objects(Some(ids))
                    .quiet(true)
                    .build()
                    .map_err(|e| invalid(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| classify(&format!("deleting objects of S3 bucket {name}"), e))?;
    }
}

/// Whether a bucket of this name exists and this caller can see it (HeadBucket 200). A
/// bucket of another account answers 403; its create then fails with BucketAlreadyExists.
async fn exists(c: &Clients, name: &str) -> Result<bool, ProviderError> {
    match c.s3.head_bucket().bucket(name).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.raw_response()
                .is_some_and(|r| matches!(r.status().as_u16(), 403 | 404)) =>
        {
            Ok(false)
        }
        Err(e) => Err(classify(&format!("looking up S3 bucket {name}"), e)),
    }
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    match c.s3.head_bucket().bucket(id).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {
            return Ok(ReadResponse::Gone)
        }
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
            return Ok(ReadResponse::Gone)
        }
        Err(e) => return Err(classify(&format!("reading S3 bucket {id}"), e)),
    }
    let versioning =
        c.s3.get_bucket_versioning()
            .bucket(id)
            .send()
            .await
            .map_err(|e| classify(&format!("reading versioning of S3 bucket {id}"), e))?
            .status()
            .is_some_and(|s| *s == BucketVersioningStatus::Enabled);
    let tags: BTreeMap<String, Value> = match c.s3.get_bucket_tagging().bucket(id).send().await {
        Ok(t) => t
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), Value::from(t.value())))
            .collect(),
        Err(e)
            if e.as_service_error()
                .and_then(|se| aws_sdk_s3::error::ProvideErrorMetadata::code(se))
                == Some("NoSuchTagSet") =>
        {
            BTreeMap::new()
        }
        Err(e) => return Err(classify(&format!("reading tags of S3 bucket {id}"), e)),
    };
    let location =
        c.s3.get_bucket_location()
            .bucket(id)
            .send()
            .await
            .map_err(|e| classify(&format!("reading the region of S3 bucket {id}"), e))?
            .location_constraint()
            .map(|l| l.as_str().to_string())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "us-east-1".into());
    // S3 keeps no default storage class or force_destroy flag: those stay as recorded.
    let mut attrs = named(prior, id);
    attrs.insert("url".into(), Value::String(format!("s3://{id}")));
    attrs.insert("location".into(), Value::String(location));
    attrs.insert("versioning".into(), Value::Bool(versioning));
    attrs.insert("tags".into(), Value::Map(tags));
    attrs
        .entry("storage_class".into())
        .or_insert_with(|| Value::from("standard"));
    attrs
        .entry("force_destroy".into())
        .or_insert(Value::Bool(false));
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(check_name("acme-prod-datasets").is_ok());
        assert!(check_name("Acme").is_err());
        assert!(check_name("ab").is_err());
        assert!(check_name("acme/scorer").is_err());
        assert!(check_name("-acme").is_err());
        assert!(check_name("a..b").is_err());
    }
}
