//! `bucket` → a Cloud Storage bucket (google.storage.v2, over gRPC): storage class,
//! versioning and labels in place; name and location replace.

use std::time::Duration;

use google_cloud_storage::model::bucket::Versioning;
use google_cloud_storage::model::Bucket;
use google_cloud_wkt::FieldMask;
use mlinfra_provider_api::wait::{self, deadline};
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;

use crate::attrs::{flag, invalid, labels_of, name_of, named, read_back, str_attr, tags_value};
use crate::clients::Clients;
use crate::errors::{classify, is_not_found};

/// Cloud Storage's bucket naming rules, checked before any call.
pub fn check_name(name: &str) -> Result<(), String> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.');
    let ends_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let dotted = name.contains('.');
    let len_ok = if dotted {
        name.len() <= 222 && name.split('.').all(|p| (1..=63).contains(&p.len()))
    } else {
        (3..=63).contains(&name.len())
    };
    if !chars_ok || !ends_ok || !len_ok || name.len() < 3 {
        return Err(format!(
            "\"{name}\" is not a valid Cloud Storage bucket name: use 3 to 63 lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        ));
    }
    if name.starts_with("goog") || name.contains("google") || name.contains("g00gle") {
        return Err(format!(
            "\"{name}\" is not a valid Cloud Storage bucket name: names may not start with \"goog\" or contain \"google\""
        ));
    }
    Ok(())
}

/// mlinfra's storage classes to Cloud Storage's.
pub fn storage_class(class: &str) -> &'static str {
    match class {
        "infrequent" => "NEARLINE",
        "archive" => "ARCHIVE",
        _ => "STANDARD",
    }
}

fn class_of(gcs: &str) -> &'static str {
    match gcs.to_ascii_uppercase().as_str() {
        "NEARLINE" | "COLDLINE" => "infrequent",
        "ARCHIVE" => "archive",
        _ => "standard",
    }
}

fn resource(name: &str) -> String {
    format!("projects/_/buckets/{name}")
}

fn desired(planned: &Attributes) -> Bucket {
    Bucket::new()
        .set_storage_class(storage_class(
            str_attr(planned, "storage_class").unwrap_or("standard"),
        ))
        .set_versioning(Versioning::new().set_enabled(flag(planned, "versioning", false)))
        .set_labels(labels_of(planned))
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    match req.action {
        ApplyAction::Create => create(c, req).await,
        ApplyAction::Update => {
            let name = name_of(&req.planned, "bucket")?.to_string();
            update(c, &name, &req.planned).await?;
            finish(c, &name, &req.planned).await
        }
        ApplyAction::Delete => {
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            delete(c, prior, req.timeout_seconds).await
        }
    }
}

async fn create(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let name = name_of(&req.planned, "bucket")?.to_string();
    check_name(&name).map_err(invalid)?;
    let location = str_attr(&req.planned, "location")
        .unwrap_or(&c.region)
        .to_ascii_uppercase();
    let made = c
        .storage
        .create_bucket()
        .set_parent(format!("projects/{}", c.project))
        .set_bucket_id(&name)
        .set_bucket(desired(&req.planned).set_location(&location))
        .send()
        .await;
    if let Err(e) = made {
        let err = classify(&format!("creating Cloud Storage bucket {name}"), e);
        if err.kind != ErrorKind::AlreadyExists {
            return Err(err);
        }
        // Bucket names are global: one that is there may be another project's.
        let ours = matches!(
            read(c, &name, &req.planned).await,
            Ok(ReadResponse::Found { .. })
        );
        if !ours {
            return Err(ProviderError::new(ErrorKind::AlreadyExists, format!("Cloud Storage bucket {name} already exists in another project (bucket names are global); choose another name")));
        }
        if !req.adopt_existing {
            return Err(already_exists(
                &format!("Cloud Storage bucket {name}"),
                &name,
            ));
        }
        update(c, &name, &req.planned).await?;
    }
    finish(c, &name, &req.planned).await
}

async fn update(c: &Clients, name: &str, planned: &Attributes) -> Result<(), ProviderError> {
    c.storage
        .update_bucket()
        .set_bucket(desired(planned).set_name(resource(name)))
        .set_update_mask(FieldMask::default().set_paths(["storage_class", "versioning", "labels"]))
        .send()
        .await
        .map_err(|e| classify(&format!("updating Cloud Storage bucket {name}"), e))?;
    Ok(())
}

async fn finish(
    c: &Clients,
    name: &str,
    planned: &Attributes,
) -> Result<ApplyResponse, ProviderError> {
    read_back(
        read(c, name, planned).await?,
        Some(name),
        &format!("Cloud Storage bucket {name}"),
    )
}

async fn delete(
    c: &Clients,
    prior: &Attributes,
    timeout_seconds: Option<u64>,
) -> Result<ApplyResponse, ProviderError> {
    let name = name_of(prior, "bucket")?.to_string();
    if flag(prior, "force_destroy", false) {
        empty(c, &name).await?;
    }
    // Throttling and transient faults are retried; a bucket that is not empty is not.
    let limit = deadline(timeout_seconds, Duration::from_secs(120));
    wait::retry(limit, 5, || async {
        match c
            .storage
            .delete_bucket()
            .set_name(resource(&name))
            .send()
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => {
                let mut err = classify(&format!("deleting Cloud Storage bucket {name}"), e);
                if err.message.contains("not empty") {
                    err.message
                        .push_str(" (set force_destroy = true to delete its objects too)");
                }
                Err(err)
            }
        }
    })
    .await?;
    Ok(ApplyResponse::default())
}

/// Delete every object and every noncurrent version, a page at a time.
async fn empty(c: &Clients, name: &str) -> Result<(), ProviderError> {
    loop {
        let page = c
            .storage
            .list_objects()
            .set_parent(resource(name))
            .set_versions(true)
            .send()
            .await
            .map_err(|e| {
                classify(
                    &format!("listing objects of Cloud Storage bucket {name}"),
                    e,
                )
            })?;
        if page.objects.is_empty() {
            return Ok(());
        }
        for o in &page.objects {
            match c
                .storage
                .delete_object()
                .set_bucket(resource(name))
                .set_object(&o.name)
                .set_generation(o.generation)
                .send()
                .await
            {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(classify(
                        &format!("deleting object {} of Cloud Storage bucket {name}", o.name),
                        e,
                    ))
                }
            }
        }
    }
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let id = id.strip_prefix("gs://").unwrap_or(id);
    let b = match c.storage.get_bucket().set_name(resource(id)).send().await {
        Ok(b) => b,
        Err(e) if is_not_found(&e) => return Ok(ReadResponse::Gone),
        Err(e) => return Err(classify(&format!("reading Cloud Storage bucket {id}"), e)),
    };
    let mut attrs = named(prior, id, id);
    attrs.insert("url".into(), Value::String(format!("gs://{id}")));
    attrs.insert(
        "location".into(),
        Value::String(b.location.to_ascii_lowercase()),
    );
    attrs.insert(
        "storage_class".into(),
        Value::from(class_of(&b.storage_class)),
    );
    attrs.insert(
        "versioning".into(),
        Value::Bool(b.versioning.as_ref().is_some_and(|v| v.enabled)),
    );
    attrs.insert("tags".into(), tags_value(&b.labels));
    // Cloud Storage keeps no force_destroy flag: it stays as recorded.
    attrs
        .entry("force_destroy".into())
        .or_insert(Value::Bool(false));
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_cloud_storage_rules() {
        assert!(check_name("acme-prod-features").is_ok());
        assert!(check_name("acme_prod.features").is_ok());
        assert!(check_name("Acme").is_err());
        assert!(check_name("ab").is_err());
        assert!(check_name("-acme").is_err());
        assert!(check_name("goog-data").is_err());
        assert!(check_name("my-google-data").is_err());
        assert!(check_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn storage_classes_round_trip() {
        for c in ["standard", "infrequent", "archive"] {
            assert_eq!(class_of(storage_class(c)), c);
        }
    }
}
