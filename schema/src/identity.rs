//! Where a cloud object's name must be unique: the rule behind "one cloud object, one address".

use std::collections::BTreeMap;

use crate::kinds::Cloud;
use crate::value::Value;

/// One part of the namespace a cloud object's name lives in, besides kind and cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameScope {
    /// The account (AWS), project (GCP), or subscription and resource group (Azure).
    Account,
    /// The object's region: its own `region`/`location` attribute, else the provider's.
    Region,
    /// Another attribute of the object that holds its parent (a pool's `cluster`).
    Within(&'static str),
}

/// Where names of `kind` objects on `cloud` are unique; an empty scope means everywhere
/// (S3 and GCS bucket names, ACR registry names). `None` for kinds that make no cloud object.
pub fn name_scope(kind: &str, cloud: Cloud) -> Option<&'static [NameScope]> {
    use NameScope::*;
    const ACCOUNT_REGION: &[NameScope] = &[Account, Region];
    const IN_CLUSTER: &[NameScope] = &[Account, Region, Within("cluster")];
    Some(match (kind, cloud) {
        ("bucket", Cloud::Aws | Cloud::Gcp) => &[],
        // A blob container is unique in its storage account, whose name is global.
        ("bucket", Cloud::Azure) => &[Within("storage_account")],
        // ACR names are global (NAME.azurecr.io).
        ("container_registry", Cloud::Azure) => &[],
        ("container_registry" | "cluster" | "feature_store" | "model_registry" | "endpoint", _) => {
            ACCOUNT_REGION
        }
        ("gpu_pool", _) => IN_CLUSTER,
        _ => return None,
    })
}

/// The provider block attribute that gives the default region of `cloud`'s objects.
pub fn provider_region_attribute(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Aws | Cloud::Gcp => "region",
        Cloud::Azure => "location",
    }
}

/// The account part of a provider configuration, when the configuration states it: the
/// AWS account of `assume_role.role_arn`, the GCP `project`, the Azure `subscription_id`
/// and `resource_group`. `None` when only the credentials decide.
pub fn provider_account(cloud: Cloud, attrs: &BTreeMap<String, Value>) -> Option<String> {
    let s = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
    match cloud {
        Cloud::Aws => attrs
            .get("assume_role")
            .and_then(Value::as_map)
            .and_then(|m| m.get("role_arn"))
            .and_then(Value::as_str)
            .and_then(|arn| arn.split(':').nth(4))
            .filter(|a| !a.is_empty())
            .map(str::to_string),
        Cloud::Gcp => s("project"),
        Cloud::Azure => Some(format!(
            "{}/{}",
            s("subscription_id")?,
            s("resource_group")?
        )),
    }
}

/// One sentence for `mlinfra schema`: where a kind's names must be unique on `cloud`.
pub fn describe_name_scope(scope: &[NameScope], cloud: Cloud) -> String {
    if scope.is_empty() {
        return "globally (every account shares one namespace)".into();
    }
    let account = match cloud {
        Cloud::Aws => "account",
        Cloud::Gcp => "project",
        Cloud::Azure => "subscription and resource group",
    };
    let parts: Vec<String> = scope
        .iter()
        .map(|s| match s {
            NameScope::Account => account.to_string(),
            NameScope::Region => "region".to_string(),
            NameScope::Within(attr) => format!("`{attr}`"),
        })
        .collect();
    format!("per {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{kinds, KindClass};

    #[test]
    fn every_cloud_kind_has_a_name_scope_on_every_cloud() {
        for k in kinds() {
            for c in Cloud::ALL {
                assert_eq!(
                    name_scope(k.name, c).is_some(),
                    k.class == KindClass::Cloud,
                    "{} on {c}",
                    k.name
                );
                for s in name_scope(k.name, c).unwrap_or(&[]) {
                    if let NameScope::Within(attr) = s {
                        let a = k.attribute(attr).expect("the parent attribute exists");
                        assert!(a.applies_to(Some(c)) && a.force_new, "{}.{attr}", k.name);
                    }
                }
            }
        }
    }

    #[test]
    fn scopes_read_as_sentences() {
        assert_eq!(
            describe_name_scope(name_scope("gpu_pool", Cloud::Gcp).unwrap(), Cloud::Gcp),
            "per project, region, `cluster`"
        );
        assert!(describe_name_scope(&[], Cloud::Aws).starts_with("globally"));
    }
}
