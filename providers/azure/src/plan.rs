//! The Azure provider's own plan-time rules, checked with no call and no credentials:
//! name formats per resource type, tags, and why a change replaces.

use mlinfra_provider_api::{Attributes, PlanRequest, PlanResponse, ProviderError};
use mlinfra_schema::Value;

use crate::attrs::{flag, str_attr};
use crate::clients::is_location;

fn invalid(message: String) -> ProviderError {
    ProviderError::invalid(message)
}

fn changed(req: &PlanRequest, name: &str) -> bool {
    req.changed
        .iter()
        .any(|p| p.first().is_some_and(|f| f == name))
}

/// Azure tag rules: at most 50; names ≤ 512 characters without `< > % & \ ? /`; values
/// ≤ 256 characters.
pub fn check_tags(a: &Attributes) -> Result<(), ProviderError> {
    let Some(m) = a.get("tags").and_then(Value::as_map) else {
        return Ok(());
    };
    if m.len() > 50 {
        return Err(invalid(format!(
            "{} tags is more than the 50 an Azure resource can carry",
            m.len()
        )));
    }
    for (k, v) in m {
        if k.is_empty()
            || k.chars().count() > 512
            || k.contains(['<', '>', '%', '&', '\\', '?', '/'])
        {
            return Err(invalid(format!(
                "tag \"{k}\" is not a valid Azure tag name: up to 512 characters, none of < > % & \\ ? /"
            )));
        }
        if v.as_str().is_some_and(|v| v.chars().count() > 256) {
            return Err(invalid(format!(
                "tag {k}: the value is longer than the 256 characters Azure allows"
            )));
        }
    }
    Ok(())
}

/// What [`plan`] checks, per kind (shown by `mlinfra schema KIND`).
pub fn rules(kind: &str) -> &'static [&'static str] {
    match kind {
        "bucket" => &[
            "name: a blob container name (3–63 lowercase letters, digits and '-', starting with a letter or digit, no \"--\")",
            "storage_account: 3–24 lowercase letters and digits; created (StorageV2, Standard_LRS) in the provider's resource group when it does not exist",
            "storage_class: standard (Hot) or infrequent (Cool), the account's default access tier; archive is set per blob on Azure",
            "versioning and storage_class are settings of the storage account, shared by its containers",
            "destroying a container deletes its blobs with it: mlinfra refuses unless force_destroy = true",
            "name, storage_account and location replace the container",
        ],
        "container_registry" => &[
            "name: an ACR name (5–50 letters and digits, unique across Azure)",
            "sku: Basic, Standard or Premium, changed in place; the admin user stays off",
            "immutable_tags: ACR locks tags per repository, not per registry, so it must stay false on Azure",
            "scan_on_push: ACR images are scanned by Microsoft Defender for Containers, enabled per subscription; the value has no effect on the registry",
            "name replaces the registry",
        ],
        _ => &[],
    }
}

/// A blob container name.
pub fn check_container(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a valid blob container name: use 3 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit, with no \"--\""
        ))
    }
}

/// A storage account name (global: it is the DNS name ACCOUNT.blob.core.windows.net).
pub fn check_account(name: &str) -> Result<(), String> {
    if (3..=24).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(format!(
            "storage_account \"{name}\" is not a valid storage account name: use 3 to 24 lowercase letters and digits (it becomes {name}.blob.core.windows.net, unique across Azure)"
        ))
    }
}

/// An ACR name (global: NAME.azurecr.io).
pub fn check_registry(name: &str) -> Result<(), String> {
    if (5..=50).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a valid Azure Container Registry name: use 5 to 50 letters and digits, no '-', '/' or '.' (it becomes NAME.azurecr.io, unique across Azure; one registry holds many images)"
        ))
    }
}

pub fn plan(req: &PlanRequest) -> Result<PlanResponse, ProviderError> {
    let p = &req.proposed;
    let mut resp = PlanResponse::new(p.clone());
    check_tags(p)?;
    match req.kind.as_str() {
        "bucket" => {
            if let Some(name) = str_attr(p, "name") {
                check_container(name).map_err(invalid)?;
            }
            if let Some(a) = str_attr(p, "storage_account") {
                check_account(a).map_err(invalid)?;
            }
            if let Some(l) = str_attr(p, "location") {
                if !is_location(l) {
                    return Err(invalid(format!(
                        "location \"{l}\" is not an Azure location name; use one like eastus or westeurope"
                    )));
                }
            }
            if str_attr(p, "storage_class") == Some("archive") {
                return Err(invalid(
                    "storage_class = \"archive\" is not a storage account tier on Azure: an account's default is Hot or Cool, and Archive is set per blob; use \"standard\" or \"infrequent\"".into(),
                ));
            }
            for (attr, why) in [
                ("name", "Azure cannot rename a blob container"),
                (
                    "storage_account",
                    "a blob container belongs to one storage account",
                ),
                (
                    "location",
                    "a storage account's location is fixed at creation",
                ),
            ] {
                if changed(req, attr) {
                    resp = resp.replace(&[attr], why);
                }
            }
        }
        "container_registry" => {
            if let Some(name) = str_attr(p, "name") {
                check_registry(name).map_err(invalid)?;
            }
            if flag(p, "immutable_tags", false) {
                return Err(invalid(
                    "immutable_tags = true has no registry-wide setting on Azure: ACR locks tags per repository or image (az acr repository update --write-enabled false); set immutable_tags = false".into(),
                ));
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "Azure cannot rename a container registry");
            }
        }
        _ => {}
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_azure_rules() {
        assert!(check_container("datasets").is_ok());
        assert!(check_container("acme-prod-data").is_ok());
        assert!(check_container("ab").is_err());
        assert!(check_container("Data").is_err());
        assert!(check_container("a--b").is_err());
        assert!(check_container("-ab").is_err());
        assert!(check_account("acmeprod01").is_ok());
        assert!(check_account("acme-prod").is_err());
        assert!(check_account("ab").is_err());
        assert!(check_registry("acmeprod").is_ok());
        assert!(check_registry("acme-prod").is_err());
        assert!(check_registry("acme/scorer").is_err());
    }
}
