//! `bucket` → a blob container in a storage account, through ARM (Microsoft.Storage).
//!
//! The account is referenced when it exists in the provider's resource group and created
//! (StorageV2, Standard_LRS, TLS 1.2, no public blob access) when it does not; an account
//! mlinfra created is tagged `created-by = mlinfra` and `mlinfra-container = NAME`, and
//! is deleted with its last container. `storage_class` is the account's default access tier
//! and `versioning` its blob service's versioning: both are account-wide. `tags` are the
//! container's metadata (a container has no ARM tags).

use std::time::Duration;

use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;
use serde_json::{json, Value as Json};

use crate::attrs::{
    flag, last_segment, name_of, named, read_back, str_attr, tags_json, tags_value,
};
use crate::clients::Clients;

/// Microsoft.Storage, as pinned from the ARM schemas.
pub const API: &str = "2026-04-01";

fn tier(class: &str) -> &'static str {
    match class {
        "infrequent" => "Cool",
        _ => "Hot",
    }
}

fn class_of(tier: &str) -> &'static str {
    match tier.to_ascii_lowercase().as_str() {
        "cool" | "cold" => "infrequent",
        "archive" => "archive",
        _ => "standard",
    }
}

/// (account, container) of an id: an ARM id, `ACCOUNT/CONTAINER`, or attributes.
pub(crate) fn split_id(id: &str) -> Option<(String, String)> {
    if id.starts_with("/subscriptions/") {
        let parts: Vec<&str> = id.split('/').collect();
        let at = |key: &str| {
            parts
                .iter()
                .position(|p| p.eq_ignore_ascii_case(key))
                .and_then(|i| parts.get(i + 1))
                .map(|s| s.to_string())
        };
        return Some((at("storageAccounts")?, at("containers")?));
    }
    let (a, c) = id.split_once('/')?;
    Some((a.to_string(), c.to_string()))
}

fn account_path(c: &Clients, account: &str) -> String {
    c.path("Microsoft.Storage", &format!("storageAccounts/{account}"))
}

fn container_path(c: &Clients, account: &str, container: &str) -> String {
    format!(
        "{}/blobServices/default/containers/{container}",
        account_path(c, account)
    )
}

fn names(req_attrs: &Attributes, id: Option<&str>) -> Result<(String, String), ProviderError> {
    if let Some(found) = id.and_then(split_id) {
        return Ok(found);
    }
    let container = name_of(req_attrs, "bucket")?;
    let account = str_attr(req_attrs, "storage_account").ok_or_else(|| {
        ProviderError::invalid(
            "an Azure bucket needs storage_account (the account that holds the container)",
        )
    })?;
    Ok((account.to_string(), container.to_string()))
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let limit = deadline(req.timeout_seconds, Duration::from_secs(1800));
    match req.action {
        ApplyAction::Create => {
            let (account, container) = names(&req.planned, None)?;
            c.ensure_group(limit).await?;
            ensure_account(c, &account, &container, &req.planned, limit).await?;
            let path = container_path(c, &account, &container);
            let exists = c.arm.get(&path, API).await?.is_some();
            if exists && !req.adopt_existing {
                return Err(already_exists(
                    &format!("blob container {container} in storage account {account}"),
                    &format!("{account}/{container}"),
                ));
            }
            if exists {
                c.arm
                    .put(&path, API, &container_body(&req.planned), limit)
                    .await?;
            } else {
                c.arm
                    .create(&path, API, &container_body(&req.planned), limit)
                    .await?;
            }
            finish(c, &account, &container, &req.planned).await
        }
        ApplyAction::Update => {
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            let (account, container) = names(&req.planned, str_attr(prior, "id"))?;
            account_settings(c, &account, &req.planned, limit).await?;
            let path = container_path(c, &account, &container);
            c.arm
                .put(&path, API, &container_body(&req.planned), limit)
                .await?;
            finish(c, &account, &container, &req.planned).await
        }
        ApplyAction::Delete => {
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            let (account, container) = names(prior, str_attr(prior, "id"))?;
            if !flag(prior, "force_destroy", false) && !flag(&req.planned, "force_destroy", false) {
                return Err(ProviderError::invalid(format!(
                    "deleting blob container {container} of storage account {account} deletes every blob in it, and mlinfra cannot see whether it is empty; set force_destroy = true on the bucket and apply it first, or remove it from the configuration with `mlinfra state rm` to keep it"
                )));
            }
            let path = container_path(c, &account, &container);
            c.arm.delete(&path, API, limit).await?;
            // An account mlinfra made for this container goes with it, once it holds no other.
            let apath = account_path(c, &account);
            if let Some(acct) = c.arm.get(&apath, API).await? {
                let ours = acct
                    .pointer("/tags/mlinfra-container")
                    .and_then(Json::as_str)
                    == Some(container.as_str());
                if ours {
                    let list = c
                        .arm
                        .get(&format!("{apath}/blobServices/default/containers"), API)
                        .await?;
                    let empty = list
                        .as_ref()
                        .and_then(|l| l.get("value"))
                        .and_then(Json::as_array)
                        .is_none_or(|v| v.is_empty());
                    if empty {
                        c.arm.delete(&apath, API, limit).await?;
                    }
                }
            }
            Ok(ApplyResponse::default())
        }
    }
}

fn container_body(planned: &Attributes) -> Json {
    json!({ "properties": { "publicAccess": "None", "metadata": tags_json(planned) } })
}

/// The account, created when it is not there; then its tier and versioning as planned.
async fn ensure_account(
    c: &Clients,
    account: &str,
    container: &str,
    planned: &Attributes,
    limit: std::time::Instant,
) -> Result<(), ProviderError> {
    let path = account_path(c, account);
    if c.arm.get(&path, API).await?.is_none() {
        let location = str_attr(planned, "location").unwrap_or(&c.location);
        let body = json!({
            "location": location,
            "sku": { "name": "Standard_LRS" },
            "kind": "StorageV2",
            "tags": { "created-by": "mlinfra", "mlinfra-container": container },
            "properties": {
                "accessTier": tier(str_attr(planned, "storage_class").unwrap_or("standard")),
                "minimumTlsVersion": "TLS1_2",
                "allowBlobPublicAccess": false,
                "supportsHttpsTrafficOnly": true,
            },
        });
        c.arm.create(&path, API, &body, limit).await.map_err(|e| {
            if e.kind == ErrorKind::AlreadyExists {
                ProviderError::new(
                    ErrorKind::AlreadyExists,
                    format!("storage account name {account} is taken by another subscription or resource group (storage account names are unique across Azure); choose another storage_account"),
                )
            } else {
                e
            }
        })?;
    }
    account_settings(c, account, planned, limit).await
}

/// Brings the account's access tier and versioning to what is planned, when they differ.
async fn account_settings(
    c: &Clients,
    account: &str,
    planned: &Attributes,
    limit: std::time::Instant,
) -> Result<(), ProviderError> {
    let path = account_path(c, account);
    let want_tier = tier(str_attr(planned, "storage_class").unwrap_or("standard"));
    if let Some(acct) = c.arm.get(&path, API).await? {
        let tier_now = acct
            .pointer("/properties/accessTier")
            .and_then(Json::as_str)
            .unwrap_or("Hot");
        if !tier_now.eq_ignore_ascii_case(want_tier) {
            c.arm
                .patch(
                    &path,
                    API,
                    &json!({ "properties": { "accessTier": want_tier } }),
                    limit,
                )
                .await?;
        }
    }
    let bpath = format!("{path}/blobServices/default");
    let want = flag(planned, "versioning", false);
    let now = c
        .arm
        .get(&bpath, API)
        .await?
        .and_then(|b| {
            b.pointer("/properties/isVersioningEnabled")
                .and_then(Json::as_bool)
        })
        .unwrap_or(false);
    if now != want {
        c.arm
            .put(
                &bpath,
                API,
                &json!({ "properties": { "isVersioningEnabled": want } }),
                limit,
            )
            .await?;
    }
    Ok(())
}

async fn finish(
    c: &Clients,
    account: &str,
    container: &str,
    planned: &Attributes,
) -> Result<ApplyResponse, ProviderError> {
    read_back(
        read(c, &format!("{account}/{container}"), planned).await?,
        &format!("blob container {account}/{container}"),
    )
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let (account, container) = match split_id(id) {
        Some(x) => x,
        None => names(prior, None).map_err(|_| {
            ProviderError::invalid(format!(
                "\"{id}\" is not an Azure bucket id: use STORAGE_ACCOUNT/CONTAINER or the container's ARM id"
            ))
        })?,
    };
    let apath = account_path(c, &account);
    let Some(acct) = c.arm.get(&apath, API).await? else {
        return Ok(ReadResponse::Gone);
    };
    let Some(cont) = c
        .arm
        .get(&container_path(c, &account, &container), API)
        .await?
    else {
        return Ok(ReadResponse::Gone);
    };
    let arm_id = cont
        .get("id")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| container_path(c, &account, &container));
    let mut attrs = named(prior, last_segment(&arm_id), &arm_id);
    attrs.insert("storage_account".into(), Value::from(account.as_str()));
    if let Some(l) = acct.get("location").and_then(Json::as_str) {
        attrs.insert("location".into(), Value::from(l));
    }
    let tier = acct
        .pointer("/properties/accessTier")
        .and_then(Json::as_str)
        .unwrap_or("Hot");
    attrs.insert("storage_class".into(), Value::from(class_of(tier)));
    let versioning = c
        .arm
        .get(&format!("{apath}/blobServices/default"), API)
        .await?
        .and_then(|b| {
            b.pointer("/properties/isVersioningEnabled")
                .and_then(Json::as_bool)
        })
        .unwrap_or(false);
    attrs.insert("versioning".into(), Value::Bool(versioning));
    attrs.insert(
        "tags".into(),
        tags_value(cont.pointer("/properties/metadata")),
    );
    attrs
        .entry("force_destroy".into())
        .or_insert(Value::Bool(false));
    let blob = acct
        .pointer("/properties/primaryEndpoints/blob")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net/"));
    attrs.insert(
        "url".into(),
        Value::String(format!("{}/{container}", blob.trim_end_matches('/'))),
    );
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_the_account_and_the_container() {
        assert_eq!(
            split_id("/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/acct/blobServices/default/containers/data"),
            Some(("acct".into(), "data".into()))
        );
        assert_eq!(split_id("acct/data"), Some(("acct".into(), "data".into())));
        assert_eq!(split_id("data"), None);
        assert_eq!(tier("infrequent"), "Cool");
        assert_eq!(class_of("Cool"), "infrequent");
    }
}
