//! `model_registry` → an Azure ML registry (Microsoft.MachineLearningServices/registries):
//! models shared across workspaces, replicated to `regions`. Regions can be added and tags
//! changed in place; the name replaces. An Azure ML registry has no description field, so
//! `description` is kept in the tag `description`.

use std::time::Duration;

use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;
use serde_json::{json, Value as Json};

use crate::attrs::{acted_on, get_named, last_segment, read_back, str_attr, tags_json, tags_value};
use crate::clients::Clients;

/// Microsoft.MachineLearningServices, as pinned from the ARM schemas.
pub const API: &str = "2026-05-01";

/// An Azure ML registry name: 3–33 letters, digits, '-' and '_', starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    check_ml_name("registry", name)
}

/// An Azure ML registry or workspace name (`what`: registry, feature store): 3–33
/// letters, digits, '-' and '_', starting with a letter or digit.
pub fn check_ml_name(what: &str, name: &str) -> Result<(), String> {
    let ok = (3..=33).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("\"{name}\" is not a valid Azure ML {what} name: use 3 to 33 letters, digits, '-' and '_', starting with a letter or digit"))
    }
}

fn path(c: &Clients, name: &str) -> String {
    c.path(
        "Microsoft.MachineLearningServices",
        &format!("registries/{name}"),
    )
}

/// The regions, the provider's location first when none are given.
fn regions(c: &Clients, planned: &Attributes) -> Vec<String> {
    let mut out: Vec<String> = planned
        .get("regions")
        .and_then(Value::as_list)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if out.is_empty() {
        out.push(c.location.clone());
    }
    out
}

fn body(c: &Clients, planned: &Attributes) -> Json {
    let mut tags = tags_json(planned);
    if let (Some(d), Some(m)) = (str_attr(planned, "description"), tags.as_object_mut()) {
        m.insert("description".into(), json!(d));
    }
    let regions = regions(c, planned);
    let details: Vec<Json> = regions
        .iter()
        .map(|r| {
            json!({
                "location": r,
                "storageAccountDetails": [{ "systemCreatedStorageAccount": {
                    "storageAccountType": "Standard_LRS",
                    "storageAccountHnsEnabled": false,
                    "allowBlobPublicAccess": false,
                } }],
                "acrDetails": [{ "systemCreatedAcrAccount": { "acrAccountSku": "Premium" } }],
            })
        })
        .collect();
    json!({
        "location": regions[0],
        "tags": tags,
        "identity": { "type": "SystemAssigned" },
        "properties": { "regionDetails": details, "publicNetworkAccess": "Enabled" },
    })
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let limit = deadline(req.timeout_seconds, Duration::from_secs(1800));
    let name = acted_on(req, "model_registry")?;
    let p = path(c, name);
    match req.action {
        ApplyAction::Create => {
            c.ensure_group(limit).await?;
            let exists = c.arm.get(&p, API).await?.is_some();
            if exists && !req.adopt_existing {
                return Err(already_exists(&format!("Azure ML registry {name}"), name));
            }
            if exists {
                c.arm.put(&p, API, &body(c, &req.planned), limit).await?;
            } else {
                c.arm.create(&p, API, &body(c, &req.planned), limit).await?;
            }
        }
        ApplyAction::Update => {
            c.arm.put(&p, API, &body(c, &req.planned), limit).await?;
        }
        ApplyAction::Delete => {
            c.arm.delete(&p, API, limit).await?;
            return Ok(ApplyResponse::default());
        }
    }
    read_back(
        read(c, name, &req.planned).await?,
        &format!("Azure ML registry {name}"),
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
    let mut tags = r.get("tags").cloned().unwrap_or_else(|| json!({}));
    let description = tags
        .as_object_mut()
        .and_then(|m| m.remove("description"))
        .and_then(|d| d.as_str().map(str::to_string));
    match description {
        Some(d) => attrs.insert("description".into(), Value::String(d)),
        None => attrs.remove("description"),
    };
    attrs.insert("tags".into(), tags_value(Some(&tags)));
    let regions: Vec<Value> = r
        .pointer("/properties/regionDetails")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("location").and_then(Json::as_str))
        .map(Value::from)
        .collect();
    attrs.insert("regions".into(), Value::List(regions));
    Ok(ReadResponse::Found { attributes: attrs })
}
