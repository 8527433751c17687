//! The GCP provider's own plan-time rules, checked with no call and no credentials: name
//! formats and lengths per service, labels, regions, and why a change replaces.

use mlinfra_provider_api::versions::{self, Step};
use mlinfra_provider_api::{PlanRequest, PlanResponse, ProviderError};
use mlinfra_schema::Value;

use crate::attrs::{invalid, str_attr};
use crate::clients::is_region;

fn changed(req: &PlanRequest, name: &str) -> bool {
    req.changed
        .iter()
        .any(|p| p.first().is_some_and(|f| f == name))
}

/// GCP label rules: keys start with a lowercase letter; keys and values are at most 63
/// lowercase letters, digits, '_' and '-'.
pub fn check_labels(a: &mlinfra_provider_api::Attributes) -> Result<(), ProviderError> {
    let Some(m) = a.get("tags").and_then(Value::as_map) else {
        return Ok(());
    };
    let ok_char = |c: char| c.is_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    for (k, v) in m {
        let key_ok = (1..=63).contains(&k.chars().count())
            && k.starts_with(char::is_lowercase)
            && k.chars().all(ok_char);
        if !key_ok {
            return Err(invalid(format!(
                "tag \"{k}\" is not a valid GCP label key: use up to 63 lowercase letters, digits, '_' and '-', starting with a letter"
            )));
        }
        if let Some(v) = v.as_str() {
            if v.chars().count() > 63 || !v.chars().all(ok_char) {
                return Err(invalid(format!(
                    "tag {k} = \"{v}\" is not a valid GCP label value: use up to 63 lowercase letters, digits, '_' and '-'"
                )));
            }
        }
    }
    if m.len() > 64 {
        return Err(invalid(format!(
            "{} tags is more than the 64 labels a GCP object can carry",
            m.len()
        )));
    }
    Ok(())
}

/// GKE upgrades a control plane one minor version at a time and never downgrades it.
fn version_step(req: &PlanRequest) -> Result<(), ProviderError> {
    let Some((from, to)) = versions::change(req) else {
        return Ok(());
    };
    match versions::step(from, to) {
        Step::Downgrade => Err(invalid(format!(
            "GKE cannot downgrade a cluster's control plane from {from} to {to}; keep {from}, or replace the cluster with mlinfra plan --replace"
        ))),
        Step::Skips { next } => Err(invalid(format!(
            "GKE upgrades a control plane one minor version at a time, so the next after {from} is {next}; apply {next} first"
        ))),
        Step::Allowed => Ok(()),
    }
}

/// What [`plan`] checks, per kind (shown by `mlinfra schema KIND`).
pub fn rules(kind: &str) -> &'static [&'static str] {
    match kind {
        "bucket" => &[
            "name: 3–63 lowercase letters, digits, '-', '_' and '.' (dotted names up to 222), starting and ending with a letter or digit; no \"goog\" prefix, no \"google\"",
            "location: a region (us-central1) or a multi-region (us, eu, asia)",
            "tags: GCP labels (keys and values ≤ 63 lowercase letters, digits, '_' and '-'; keys start with a letter; at most 64)",
            "name and location replace the bucket",
        ],
        "container_registry" => &[
            "name: an Artifact Registry repository id (≤ 63 lowercase letters, digits and '-', starting with a letter; no '/')",
            "name replaces the repository",
        ],
        "cluster" => &[
            "name: a GKE name (≤ 40 lowercase letters, digits and '-', starting with a letter)",
            "region: a region (regional cluster) or a zone (zonal cluster)",
            "kubernetes_version upgrades one minor version at a time and never downgrades",
            "name, region, network, subnetwork and public_endpoint replace the cluster",
        ],
        "gpu_pool" => &[
            "name: a GKE name (≤ 40), not \"system\" (every cluster's CPU pool)",
            "accelerator: a GPU GKE offers (T4, V100, L4, A100, A100-80GB, H100, H200, B200)",
            "sharing: mig takes one MIG profile; time_slicing and mps take 2–48 replicas",
            "accelerator, gpus_per_node, instance_type, capacity, disk_size_gb, cluster and name replace the pool",
        ],
        "feature_store" => &[
            "name, group labels and feature names: Vertex AI ids (≤ 60 lowercase letters, digits and '_', starting with a letter or '_'), no '__'",
            "each group is the Vertex AI feature group STORE__GROUP",
        ],
        "model_registry" => &[
            "name: a Vertex AI model id (≤ 63 lowercase letters, digits, '_' and '-', starting with a letter or '_')",
            "name replaces the model",
        ],
        "endpoint" => &[
            "name: a Vertex AI endpoint id (≤ 54 lowercase letters, digits and '-', starting with a letter)",
            "instance.type: a Compute Engine machine type (n1-standard-4, g2-standard-8)",
            "environment_wo: secret variables of the model container, sent at create and update and never stored; a new environment_wo_version, or a name added or removed, rolls the model out again",
        ],
        _ => &[],
    }
}

pub fn plan(req: &PlanRequest) -> Result<PlanResponse, ProviderError> {
    let p = &req.proposed;
    let mut resp = PlanResponse::new(p.clone());
    check_labels(p)?;
    match req.kind.as_str() {
        "bucket" => {
            if let Some(name) = str_attr(p, "name") {
                crate::bucket::check_name(name).map_err(invalid)?;
            }
            if let Some(loc) = str_attr(p, "location") {
                let multi = ["us", "eu", "asia", "nam4", "eur4", "asia1"];
                if !is_region(loc) && !multi.contains(&loc.to_ascii_lowercase().as_str()) {
                    let from = if req.config.attributes.get("region").and_then(Value::as_str)
                        == Some(loc)
                    {
                        " (it is the provider's region)"
                    } else {
                        ""
                    };
                    return Err(invalid(format!(
                        "location \"{loc}\"{from} is not a Cloud Storage location: use a region like us-central1, or a multi-region (us, eu, asia)"
                    )));
                }
            }
            for attr in ["name", "location"] {
                if changed(req, attr) {
                    resp = resp.replace(
                        &[attr],
                        format!(
                            "Cloud Storage cannot rename or move a bucket: {attr} is fixed at creation"
                        ),
                    );
                }
            }
        }
        "container_registry" => {
            if let Some(name) = str_attr(p, "name") {
                crate::registry::check_name(name).map_err(invalid)?;
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "Artifact Registry cannot rename a repository");
            }
        }
        "feature_store" => {
            if let Some(name) = str_attr(p, "name") {
                crate::feature_store::check_id("feature online store", name).map_err(invalid)?;
                if name.contains("__") {
                    return Err(invalid(format!(
                        "\"{name}\" holds \"__\", which separates the store from the group in Vertex AI feature group ids (STORE__GROUP); use single underscores"
                    )));
                }
                let groups = p.get("feature_group").and_then(Value::as_map);
                for (label, g) in groups.into_iter().flatten() {
                    if label.contains("__") {
                        return Err(invalid(format!(
                            "feature_group \"{label}\" holds \"__\", which separates the store from the group in Vertex AI feature group ids; use single underscores"
                        )));
                    }
                    crate::feature_store::check_id("feature view", label)
                        .and_then(|_| {
                            crate::feature_store::check_id(
                                "feature group",
                                &crate::feature_store::group_id(name, label),
                            )
                        })
                        .map_err(|e| invalid(format!("feature_group \"{label}\": {e}")))?;
                    let features = g
                        .as_map()
                        .and_then(|g| g.get("features"))
                        .and_then(Value::as_map);
                    for f in features.into_iter().flatten().map(|(k, _)| k) {
                        crate::feature_store::check_id("feature", f)
                            .map_err(|e| invalid(format!("feature_group \"{label}\": {e}")))?;
                    }
                }
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "Vertex AI cannot rename a feature online store");
            }
        }
        "cluster" => {
            // Without a subnetwork GKE takes the network's default one; the state keeps it unset.
            if p.get("subnetwork").is_some_and(Value::is_unknown) {
                resp.planned.insert("subnetwork".into(), Value::Null);
            }
            if let Some(name) = str_attr(p, "name") {
                crate::cluster::check_name("cluster", name).map_err(invalid)?;
            }
            if let Some(loc) = str_attr(p, "region") {
                let zone = loc
                    .rsplit_once('-')
                    .is_some_and(|(r, z)| is_region(r) && z.len() == 1);
                if !is_region(loc) && !zone {
                    return Err(invalid(format!(
                        "region \"{loc}\" is not a GCP region or zone; use one like us-central1 (a regional cluster) or us-central1-a (a zonal one)"
                    )));
                }
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "GKE cannot rename a cluster");
            } else {
                version_step(req)?;
            }
            for (attr, why) in [
                ("region", "a GKE cluster's location is fixed at creation"),
                ("network", "a GKE cluster's network is fixed at creation"),
                (
                    "subnetwork",
                    "a GKE cluster's subnetwork is fixed at creation",
                ),
                (
                    "public_endpoint",
                    "a GKE cluster's private endpoint is set at creation",
                ),
            ] {
                if changed(req, attr) {
                    resp = resp.replace(&[attr], why);
                }
            }
        }
        "gpu_pool" => {
            if let Some(name) = str_attr(p, "name") {
                crate::cluster::check_name("node pool", name).map_err(invalid)?;
                if name == crate::cluster::SYSTEM_POOL {
                    return Err(invalid(format!(
                        "\"{name}\" is the name of the CPU pool every GKE cluster of mlinfra has; choose another name"
                    )));
                }
                let project = req.config.attributes.get("project").and_then(Value::as_str);
                let region = req.config.attributes.get("region").and_then(Value::as_str);
                if let (Some(project), Some(cluster)) = (project, str_attr(p, "cluster")) {
                    resp = resp.private(crate::nodepool::full_name(
                        project,
                        region.unwrap_or("us-central1"),
                        cluster,
                        name,
                    ));
                }
            }
            if str_attr(p, "accelerator").is_some()
                && !p.get("gpus_per_node").is_some_and(Value::is_unknown)
            {
                crate::nodepool::accelerators(p).map_err(invalid)?;
            }
            for (attr, why) in [
                ("name", "GKE cannot rename a node pool"),
                ("cluster", "a GKE node pool belongs to one cluster"),
                (
                    "accelerator",
                    "a GKE node pool's GPU type is fixed at creation",
                ),
                (
                    "gpus_per_node",
                    "a GKE node pool's GPU count is fixed at creation",
                ),
                (
                    "instance_type",
                    "a GKE node pool's machine type is fixed at creation",
                ),
                (
                    "capacity",
                    "a GKE node pool's spot or reservation setting is fixed at creation",
                ),
                (
                    "disk_size_gb",
                    "a GKE node pool's boot disk is fixed at creation",
                ),
            ] {
                if changed(req, attr) {
                    resp = resp.replace(&[attr], why);
                }
            }
        }
        "endpoint" => {
            if let Some(name) = str_attr(p, "name") {
                crate::endpoint::check_id(name).map_err(invalid)?;
            }
            mlinfra_provider_api::secret_env::check(p, &req.write_only)?;
            let machine = p
                .get("instance")
                .and_then(Value::as_map)
                .and_then(|m| m.get("type"))
                .and_then(Value::as_str);
            if let Some(t) = machine {
                crate::endpoint::check_machine(t).map_err(invalid)?;
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "Vertex AI cannot rename an endpoint");
            }
        }
        "model_registry" => {
            if let Some(name) = str_attr(p, "name") {
                crate::model_registry::check_id(name).map_err(invalid)?;
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "Vertex AI cannot rename a model");
            }
        }
        _ => {}
    }
    Ok(resp)
}
