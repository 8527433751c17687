//! `container_registry` → an Azure Container Registry (Microsoft.ContainerRegistry):
//! sku and tags in place, the admin user kept off; the name replaces.

use std::time::Duration;

use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;
use serde_json::{json, Value as Json};

use crate::attrs::{get_named, last_segment, name_of, read_back, str_attr, tags_json, tags_value};
use crate::clients::Clients;

/// Microsoft.ContainerRegistry, as pinned from the ARM schemas.
pub const API: &str = "2025-11-01";

fn path(c: &Clients, name: &str) -> String {
    c.path("Microsoft.ContainerRegistry", &format!("registries/{name}"))
}

fn body(c: &Clients, planned: &Attributes) -> Json {
    json!({
        "location": c.location,
        "sku": { "name": str_attr(planned, "sku").unwrap_or("Standard") },
        "tags": tags_json(planned),
        "properties": { "adminUserEnabled": false },
    })
}

fn id_name(req: &ApplyRequest) -> Result<&str, ProviderError> {
    let prior = req.prior.as_ref().unwrap_or(&req.planned);
    match str_attr(prior, "id") {
        Some(id) => Ok(last_segment(id)),
        None => name_of(prior, "container_registry"),
    }
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let limit = deadline(req.timeout_seconds, Duration::from_secs(1800));
    match req.action {
        ApplyAction::Create => {
            let name = name_of(&req.planned, "container_registry")?;
            c.ensure_group(limit).await?;
            let p = path(c, name);
            let exists = c.arm.get(&p, API).await?.is_some();
            if exists && !req.adopt_existing {
                return Err(already_exists(&format!("container registry {name}"), name));
            }
            if exists {
                // An interrupted create of this state made it: bring it to what is planned.
                c.arm.put(&p, API, &body(c, &req.planned), limit).await?;
            } else {
                c.arm.create(&p, API, &body(c, &req.planned), limit).await?;
            }
            finish(c, name, &req.planned).await
        }
        ApplyAction::Update => {
            let name = id_name(req)?;
            let patch = json!({
                "sku": { "name": str_attr(&req.planned, "sku").unwrap_or("Standard") },
                "tags": tags_json(&req.planned),
                "properties": { "adminUserEnabled": false },
            });
            c.arm.patch(&path(c, name), API, &patch, limit).await?;
            finish(c, name, &req.planned).await
        }
        ApplyAction::Delete => {
            let name = id_name(req)?;
            c.arm.delete(&path(c, name), API, limit).await?;
            Ok(ApplyResponse::default())
        }
    }
}

async fn finish(
    c: &Clients,
    name: &str,
    planned: &Attributes,
) -> Result<ApplyResponse, ProviderError> {
    read_back(
        read(c, name, planned).await?,
        &format!("container registry {name}"),
    )
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let name = last_segment(id);
    let Some((r, mut attrs)) = get_named(c, &path(c, name), API, prior, name).await? else {
        return Ok(ReadResponse::Gone);
    };
    if let Some(sku) = r.pointer("/sku/name").and_then(Json::as_str) {
        attrs.insert("sku".into(), Value::from(sku));
    }
    attrs.insert("tags".into(), tags_value(r.get("tags")));
    // ACR has no registry-wide tag immutability (see plan::rules).
    attrs.insert("immutable_tags".into(), Value::Bool(false));
    attrs
        .entry("scan_on_push".into())
        .or_insert(Value::Bool(true));
    let login = r
        .pointer("/properties/loginServer")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}.azurecr.io", name.to_ascii_lowercase()));
    attrs.insert("url".into(), Value::String(login));
    Ok(ReadResponse::Found { attributes: attrs })
}
