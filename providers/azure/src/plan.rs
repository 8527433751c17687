//! The Azure provider's own plan-time rules, checked with no call and no credentials:
//! name formats per resource type, tags, and why a change replaces.

use mlinfra_provider_api::versions::{self, Step};
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
        "endpoint" => &[
            "name: an Azure ML online endpoint name (3–32 letters, digits and '-', starting with a letter; NAME.REGION.inference.ml.azure.com)",
            "lives in the provider's ml_workspace (default mlinfra), created with its own storage account when absent",
            "model (image, artifact, environment) or instance.type: a new deployment beside the old, traffic moved by rollout, the old one deleted once the new takes all traffic",
            "instance.count and tags change in place",
            "environment_wo: secret variables of the model container, sent at create and update and never stored; a new environment_wo_version, or a name added or removed, rolls the model out again",
            "autoscaling: an Azure Monitor autoscale setting per deployment ({endpoint}-{deployment}), min 1 or more, max at least min; target_invocations_per_instance scales on requests per minute per instance, without it on CPU (out above 70 %, in below 25 %); bounds and target change in place",
            "name replaces the endpoint",
        ],
        "model_registry" => &[
            "name: an Azure ML registry name (3–33 letters, digits, '-' and '_', starting with a letter or digit)",
            "regions: Azure locations the registry replicates to (default: the provider's location); regions can be added in place, not removed",
            "description is kept in the tag \"description\" (an Azure ML registry has no description field)",
            "name replaces the registry",
        ],
        "cluster" => &[
            "name: an AKS cluster name (1–63 letters, digits, '-' and '_', starting and ending with a letter or digit)",
            "region: a lowercase Azure location name; dns_prefix defaults to the name",
            "kubernetes_version upgrades one minor version at a time and never downgrades; the control plane first, then every agent pool",
            "name, region, dns_prefix and public_endpoint replace the cluster",
        ],
        "gpu_pool" => &[
            "name: an AKS agent pool name (1–12 lowercase letters and digits, starting with a letter; no '-'), not \"system\" (every cluster's CPU pool)",
            "instance_type: the VM size, from the GPU catalog (T4 → NCasT4_v3, A10 → NVads A10 v5, A100 → NC/ND A100 v4, H100 → NC/ND H100 v5)",
            "capacity: on_demand or spot (Spot priority, evicted VMs deleted, paying up to the on-demand price); reserved needs a capacity reservation group and is refused",
            "sharing: mig takes one profile (1g.* … 7g.*) as AKS's gpuInstanceProfile on A100 and H100 sizes; time_slicing is the device plugin's; mps is not offered on AKS",
            "min_nodes, max_nodes, labels, taints and tags change in place",
            "accelerator, gpus_per_node, instance_type, capacity, disk_size_gb and sharing change by rotation: a temporary pool (the name's first 9 characters, 'r' and 2 hex digits) with the new settings serves while the pool is remade, then goes, so GPU capacity never drops to zero",
            "cluster and name replace the pool",
        ],
        "feature_store" => &[
            "name: an Azure ML workspace name (3–33 letters, digits, '-' and '_', starting with a letter or digit); the store is a workspace of kind FeatureStore",
            "offline.bucket: the offline container's id (bucket.NAME.id) or \"ACCOUNT/CONTAINER\"; the workspace keeps its files in that account, and each feature set's specification is written under offline.prefix",
            "online { enabled = false } is required: an Azure ML online store is an Azure Cache for Redis connection, which mlinfra does not create",
            "feature types: string, int, float, bool, datetime or binary; a group needs a feature besides record_id and event_time",
            "features added to a group: a new feature set version (N+1) beside the old; versions are immutable on Azure",
            "a group removed: its feature set and its versions are deleted",
            "name and offline replace the store",
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
        "endpoint" => {
            if let Some(name) = str_attr(p, "name") {
                crate::ml_endpoint::check_name(name).map_err(invalid)?;
            }
            mlinfra_provider_api::secret_env::check(p, &req.write_only)?;
            if let Some(sc) = p.get("autoscaling").and_then(Value::as_map) {
                crate::ml_endpoint::check_scaling(sc).map_err(invalid)?;
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "Azure ML cannot rename an online endpoint");
            }
        }
        "feature_store" => {
            if let Some(name) = str_attr(p, "name") {
                crate::feature_store::check_name(name).map_err(invalid)?;
            }
            let offline = p.get("offline").and_then(Value::as_map);
            if let Some(b) = offline
                .and_then(|m| m.get("bucket"))
                .and_then(Value::as_str)
            {
                let (account, container) = crate::feature_store::offline_of(b).map_err(invalid)?;
                check_account(&account).map_err(invalid)?;
                check_container(&container).map_err(invalid)?;
            }
            let online = p.get("online").and_then(Value::as_map);
            if online.and_then(|m| m.get("enabled")) != Some(&Value::Bool(false))
                && !online
                    .and_then(|m| m.get("enabled"))
                    .is_some_and(Value::is_unknown)
            {
                return Err(invalid(
                    "an Azure ML feature store's online store is an Azure Cache for Redis connection, which mlinfra does not create: add online { enabled = false }".into(),
                ));
            }
            for (label, g) in p
                .get("feature_group")
                .and_then(Value::as_map)
                .into_iter()
                .flatten()
            {
                let Some(g) = g.as_map() else { continue };
                let key = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or_default();
                let mut columns = 0;
                for (f, t) in g
                    .get("features")
                    .and_then(Value::as_map)
                    .into_iter()
                    .flatten()
                {
                    if let Some(t) = t.as_str() {
                        if crate::feature_store::data_type(t).is_none() {
                            return Err(invalid(format!("feature_group \"{label}\": feature {f} has type \"{t}\", which Azure ML does not have; use string, int, float, bool, datetime or binary")));
                        }
                    }
                    if f != key("record_id") && f != key("event_time") {
                        columns += 1;
                    }
                }
                if columns == 0 && g.get("features").is_some_and(|v| !v.is_unknown()) {
                    return Err(invalid(format!("feature_group \"{label}\" has no feature besides record_id and event_time; an Azure ML feature set needs one")));
                }
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "Azure ML cannot rename a workspace");
            }
            if changed(req, "offline") {
                resp = resp.replace(
                    &["offline"],
                    "a feature store's files stay in the storage account it was made with",
                );
            }
            // Adding a feature is a new, immutable feature set version.
            for path in &req.changed {
                if path.len() >= 3 && path[0] == "feature_group" && path[2] == "features" {
                    let label = path[1].as_str();
                    resp = resp.rotate(
                        &["feature_group", label, "features"],
                        format!("feature set {label} gets a new version beside the last; Azure ML feature set versions are immutable"),
                    );
                }
            }
        }
        "model_registry" => {
            if let Some(name) = str_attr(p, "name") {
                crate::ml_registry::check_name(name).map_err(invalid)?;
            }
            // Without regions, the registry lives in the provider's location.
            if p.get("regions").is_none_or(Value::is_unknown) {
                let here = req
                    .config
                    .attributes
                    .get("location")
                    .and_then(Value::as_str);
                let kept = req.prior.as_ref().and_then(|a| a.get("regions")).cloned();
                if let Some(v) = kept.or_else(|| here.map(|l| Value::List(vec![Value::from(l)]))) {
                    resp.planned.insert("regions".into(), v);
                }
            }
            if p.get("tags")
                .and_then(Value::as_map)
                .is_some_and(|m| m.contains_key("description"))
            {
                return Err(invalid("tag \"description\" holds the registry's description on Azure; set description instead".into()));
            }
            let list = |a: &Attributes| -> Vec<String> {
                a.get("regions")
                    .and_then(Value::as_list)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            };
            let now = list(p);
            for r in &now {
                if !is_location(r) {
                    return Err(invalid(format!("region \"{r}\" is not an Azure location name; use one like eastus or westeurope")));
                }
            }
            if let Some(prior) = &req.prior {
                let gone: Vec<String> = list(prior)
                    .into_iter()
                    .filter(|r| !now.contains(r))
                    .collect();
                if !gone.is_empty()
                    && !p.get("regions").is_some_and(Value::is_unknown)
                    && !now.is_empty()
                {
                    return Err(invalid(format!("an Azure ML registry cannot leave a region ({}); keep it in regions, or replace the registry with mlinfra plan --replace", gone.join(", "))));
                }
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "Azure ML cannot rename a registry");
            }
        }
        "cluster" => {
            if let Some(name) = str_attr(p, "name") {
                crate::aks::check_cluster_name(name).map_err(invalid)?;
                if p.get("dns_prefix").is_some_and(Value::is_unknown) {
                    resp.planned.insert("dns_prefix".into(), Value::from(name));
                }
            }
            if let Some(l) = str_attr(p, "region") {
                if !is_location(l) {
                    return Err(invalid(format!(
                        "region \"{l}\" is not an Azure location name; use one like eastus or westeurope"
                    )));
                }
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "AKS cannot rename a cluster");
            } else {
                version_step(req)?;
            }
            for (attr, why) in [
                ("region", "an AKS cluster's location is fixed at creation"),
                (
                    "dns_prefix",
                    "an AKS cluster's DNS prefix is fixed at creation",
                ),
                (
                    "public_endpoint",
                    "an AKS cluster is made private or public at creation",
                ),
            ] {
                if changed(req, attr) {
                    resp = resp.replace(&[attr], why);
                }
            }
        }
        "gpu_pool" => {
            if let Some(name) = str_attr(p, "name") {
                crate::aks::check_pool_name(name).map_err(invalid)?;
                if let Some(cluster) = str_attr(p, "cluster") {
                    resp = resp.private(format!("{cluster}/{name}"));
                }
            }
            if str_attr(p, "capacity") == Some("reserved") {
                return Err(invalid("capacity = \"reserved\" on AKS needs a capacity reservation group, which mlinfra does not manage yet; use on_demand or spot".into()));
            }
            if let Some(s) = p.get("sharing").and_then(Value::as_map) {
                match s.get("mode").and_then(Value::as_str) {
                    Some("mps") => {
                        return Err(invalid("sharing mode \"mps\" is not offered on AKS (GKE has it); use time_slicing or mig".into()))
                    }
                    Some("mig") => {
                        let accel = str_attr(p, "accelerator").unwrap_or_default();
                        if !(accel.starts_with("A100") || accel.starts_with("H100")) {
                            return Err(invalid(format!("MIG on AKS needs A100 or H100 GPUs; {accel} has no MIG")));
                        }
                        match s.get("profile") {
                            Some(Value::String(profile)) => {
                                crate::aks::mig_profile(profile).map_err(invalid)?;
                            }
                            Some(Value::Map(_)) => {
                                return Err(invalid("AKS splits every GPU of a pool into one MIG profile (gpuInstanceProfile); give one profile, like profile = \"1g.10gb\", not a map".into()))
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            for (attr, why) in [
                ("name", "AKS cannot rename an agent pool"),
                ("cluster", "an AKS agent pool belongs to one cluster"),
            ] {
                if changed(req, attr) {
                    resp = resp.replace(&[attr], why);
                }
            }
            // What AKS fixes at creation, mlinfra changes by rotation: a temporary pool with
            // the new settings serves while the pool is remade, so GPU capacity never drops
            // to zero.
            if req.prior.is_some() && !changed(req, "name") && !changed(req, "cluster") {
                let temp = str_attr(p, "name")
                    .map(crate::aks::rotation_name)
                    .unwrap_or_default();
                for (attr, what) in [
                    ("accelerator", "VM size"),
                    ("gpus_per_node", "VM size"),
                    ("instance_type", "VM size"),
                    ("capacity", "priority (spot or regular)"),
                    ("disk_size_gb", "OS disk size"),
                    ("sharing", "MIG profile"),
                ] {
                    resp = resp.rotate(
                        &[attr],
                        format!("AKS cannot change an agent pool's {what} in place: a temporary pool {temp} with the new settings serves while the pool is remade, then goes"),
                    );
                }
            }
        }
        _ => {}
    }
    Ok(resp)
}

/// AKS upgrades a control plane one minor version at a time and never downgrades it.
fn version_step(req: &PlanRequest) -> Result<(), ProviderError> {
    let Some((from, to)) = versions::change(req) else {
        return Ok(());
    };
    match versions::step(from, to) {
        Step::Downgrade => Err(invalid(format!(
            "AKS cannot downgrade a cluster from {from} to {to}; keep {from}, or replace the cluster with mlinfra plan --replace"
        ))),
        Step::Skips { next } => Err(invalid(format!(
            "AKS upgrades a cluster one minor version at a time, so the next after {from} is {next}; apply {next} first"
        ))),
        Step::Allowed => Ok(()),
    }
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
