//! `cluster` → an AKS managed cluster, and `gpu_pool` → one of its agent pools
//! (Microsoft.ContainerService).
//!
//! A cluster is made with a system pool (`system`, Standard_D4ds_v5, autoscaling 1–3), the
//! Azure CNI in overlay mode, the OIDC issuer and workload identity on, and a
//! system-assigned identity. Its version upgrades in place one minor at a time, moving the
//! control plane, then every agent pool behind it; tags change in place. A GPU pool's VM
//! size comes from the GPU catalog; its autoscaling bounds, labels, taints and tags change
//! in place.

use std::time::{Duration, Instant};

use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;
use serde_json::{json, Map, Value as Json};

use crate::attrs::{
    flag, get_named, last_segment, name_of, named, read_back, str_attr, tags_json, tags_value,
};
use crate::clients::Clients;

/// Microsoft.ContainerService, as pinned from the ARM schemas.
pub const API: &str = "2026-05-01";

/// The CPU pool every mlinfra AKS cluster has, for the cluster's own workloads.
pub const SYSTEM_POOL: &str = "system";
const SYSTEM_VM: &str = "Standard_D4ds_v5";

fn cluster_path(c: &Clients, name: &str) -> String {
    c.path(
        "Microsoft.ContainerService",
        &format!("managedClusters/{name}"),
    )
}

fn pool_path(c: &Clients, cluster: &str, pool: &str) -> String {
    format!("{}/agentPools/{pool}", cluster_path(c, cluster))
}

/// An AKS cluster name: 1–63 letters, digits, '-' and '_', starting and ending with a
/// letter or digit.
pub fn check_cluster_name(name: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("\"{name}\" is not a valid AKS cluster name: use 1 to 63 letters, digits, '-' and '_', starting and ending with a letter or digit"))
    }
}

/// An AKS agent pool name: 1–12 lowercase letters and digits, starting with a letter.
pub fn check_pool_name(name: &str) -> Result<(), String> {
    let ok = (1..=12).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !ok {
        return Err(format!("\"{name}\" is not a valid AKS agent pool name: use 1 to 12 lowercase letters and digits, starting with a letter (no '-'); set name = \"h100spot\" or similar"));
    }
    if name == SYSTEM_POOL {
        return Err(format!("\"{name}\" is the name of the CPU pool every AKS cluster of mlinfra has; choose another name"));
    }
    Ok(())
}

/// The temporary pool a rotation of `pool` uses: its first 9 characters, `r` and 2 hex
/// digits of its name (at most 12 characters, as AKS allows).
pub fn rotation_name(pool: &str) -> String {
    let base: String = pool.chars().take(9).collect();
    format!("{base}r{:02x}", crate::attrs::fnv(pool) & 0xff)
}

/// The settings AKS fixes at creation, as a pool body carries them.
const FIXED: &[&str] = &[
    "vmSize",
    "scaleSetPriority",
    "osDiskSizeGB",
    "gpuInstanceProfile",
];

fn fixed_of(props: &Json) -> Vec<Option<Json>> {
    FIXED.iter().map(|k| props.get(*k).cloned()).collect()
}

/// MIG profile (`1g.10gb`) → AKS's gpuInstanceProfile (`MIG1g`).
pub fn mig_profile(profile: &str) -> Result<&'static str, String> {
    let slices = profile.split('g').next().unwrap_or_default();
    match slices {
        "1" => Ok("MIG1g"),
        "2" => Ok("MIG2g"),
        "3" => Ok("MIG3g"),
        "4" => Ok("MIG4g"),
        "7" => Ok("MIG7g"),
        _ => Err(format!("MIG profile \"{profile}\" has no AKS gpuInstanceProfile; AKS offers MIG1g, MIG2g, MIG3g, MIG4g and MIG7g (profiles 1g.*, 2g.*, 3g.*, 4g.*, 7g.*)")),
    }
}

/// AKS's gpuInstanceProfile (`MIG1g`) as the MIG profile of `accelerator` (`1g.10gb`).
fn mig_name(gip: &str, accelerator: &str) -> String {
    let slices: u32 = gip
        .trim_start_matches("MIG")
        .trim_end_matches('g')
        .parse()
        .unwrap_or(1);
    // `A100` is the 40 GB part (SkyPilot's name); the others have 80 GB.
    let total = if accelerator == "A100" { 40 } else { 80 };
    let gb = match slices {
        7 => total,
        3 | 4 => total / 2,
        n => total / 8 * n,
    };
    format!("{slices}g.{gb}gb")
}

fn sharing(a: &Attributes) -> Option<&std::collections::BTreeMap<String, Value>> {
    a.get("sharing").and_then(Value::as_map)
}

fn cluster_body(c: &Clients, planned: &Attributes) -> Json {
    let name = str_attr(planned, "name").unwrap_or_default();
    let version = str_attr(planned, "kubernetes_version").unwrap_or("1.31");
    json!({
        "location": str_attr(planned, "region").unwrap_or(&c.location),
        "tags": tags_json(planned),
        "identity": { "type": "SystemAssigned" },
        "sku": { "name": "Base", "tier": "Free" },
        "properties": {
            "kubernetesVersion": version,
            "dnsPrefix": str_attr(planned, "dns_prefix").unwrap_or(name),
            "enableRBAC": true,
            "agentPoolProfiles": [{
                "name": SYSTEM_POOL,
                "mode": "System",
                "vmSize": SYSTEM_VM,
                "osType": "Linux",
                "type": "VirtualMachineScaleSets",
                "count": 1,
                "enableAutoScaling": true,
                "minCount": 1,
                "maxCount": 3,
                "orchestratorVersion": version,
            }],
            "networkProfile": { "networkPlugin": "azure", "networkPluginMode": "overlay" },
            "oidcIssuerProfile": { "enabled": true },
            "securityProfile": { "workloadIdentity": { "enabled": true } },
            "apiServerAccessProfile": { "enablePrivateCluster": !flag(planned, "public_endpoint", true) },
        },
    })
}

fn limit(req: &ApplyRequest) -> Instant {
    deadline(req.timeout_seconds, Duration::from_secs(3600))
}

fn prior_name<'a>(req: &'a ApplyRequest, what: &str) -> Result<&'a str, ProviderError> {
    let prior = req.prior.as_ref().unwrap_or(&req.planned);
    match str_attr(prior, "id") {
        Some(id) => Ok(last_segment(id)),
        None => name_of(prior, what),
    }
}

pub async fn apply_cluster(
    c: &Clients,
    req: &ApplyRequest,
) -> Result<ApplyResponse, ProviderError> {
    let limit = limit(req);
    match req.action {
        ApplyAction::Create => {
            let name = name_of(&req.planned, "cluster")?;
            c.ensure_group(limit).await?;
            let p = cluster_path(c, name);
            let exists = c.arm.get(&p, API).await?.is_some();
            if exists && !req.adopt_existing {
                return Err(already_exists(&format!("AKS cluster {name}"), name));
            }
            if exists {
                c.arm
                    .put(&p, API, &cluster_body(c, &req.planned), limit)
                    .await?;
            } else {
                c.arm
                    .create(&p, API, &cluster_body(c, &req.planned), limit)
                    .await?;
            }
            finish_cluster(c, name, &req.planned).await
        }
        ApplyAction::Update => {
            let name = prior_name(req, "cluster")?;
            let p = cluster_path(c, name);
            let prior = req.prior.clone().unwrap_or_default();
            let version = str_attr(&req.planned, "kubernetes_version");
            if version != str_attr(&prior, "kubernetes_version") {
                // The control plane (and the system pool, listed in the body) first ...
                c.arm
                    .put(&p, API, &cluster_body(c, &req.planned), limit)
                    .await?;
                // ... then every other agent pool, as `az aks upgrade` does.
                if let Some(v) = version {
                    upgrade_pools(c, name, v, limit).await?;
                }
            }
            if req.planned.get("tags") != prior.get("tags") {
                c.arm
                    .patch(&p, API, &json!({ "tags": tags_json(&req.planned) }), limit)
                    .await?;
            }
            finish_cluster(c, name, &req.planned).await
        }
        ApplyAction::Delete => {
            let name = prior_name(req, "cluster")?;
            c.arm.delete(&cluster_path(c, name), API, limit).await?;
            Ok(ApplyResponse::default())
        }
    }
}

/// Agent pool properties AKS reports but does not take back.
const POOL_READ_ONLY: &[&str] = &[
    "provisioningState",
    "currentOrchestratorVersion",
    "nodeImageVersion",
    "powerState",
    "status",
    "eTag",
];

async fn upgrade_pools(
    c: &Clients,
    cluster: &str,
    version: &str,
    limit: Instant,
) -> Result<(), ProviderError> {
    let list = c
        .arm
        .get(&format!("{}/agentPools", cluster_path(c, cluster)), API)
        .await?;
    let pools = list
        .as_ref()
        .and_then(|l| l.get("value"))
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    for pool in pools {
        let Some(name) = pool.get("name").and_then(Json::as_str) else {
            continue;
        };
        let Some(props) = pool.get("properties").and_then(Json::as_object) else {
            continue;
        };
        if props.get("orchestratorVersion").and_then(Json::as_str) == Some(version) {
            continue;
        }
        let mut body: Map<String, Json> = props
            .iter()
            .filter(|(k, _)| !POOL_READ_ONLY.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        body.insert("orchestratorVersion".into(), Json::from(version));
        c.arm
            .put(
                &pool_path(c, cluster, name),
                API,
                &json!({ "properties": body }),
                limit,
            )
            .await?;
    }
    Ok(())
}

async fn finish_cluster(
    c: &Clients,
    name: &str,
    planned: &Attributes,
) -> Result<ApplyResponse, ProviderError> {
    read_back(
        read_cluster(c, name, planned).await?,
        &format!("AKS cluster {name}"),
    )
}

pub async fn read_cluster(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let name = last_segment(id);
    let Some((r, mut attrs)) = get_named(c, &cluster_path(c, name), API, prior, name).await? else {
        return Ok(ReadResponse::Gone);
    };
    let props = r.get("properties").cloned().unwrap_or_default();
    if let Some(l) = r.get("location").and_then(Json::as_str) {
        attrs.insert("region".into(), Value::from(l));
    }
    if let Some(v) = props.get("kubernetesVersion").and_then(Json::as_str) {
        attrs.insert("kubernetes_version".into(), Value::from(v));
    }
    if let Some(d) = props.get("dnsPrefix").and_then(Json::as_str) {
        attrs.insert("dns_prefix".into(), Value::from(d));
    }
    let private = props
        .pointer("/apiServerAccessProfile/enablePrivateCluster")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    attrs.insert("public_endpoint".into(), Value::Bool(!private));
    attrs.insert("tags".into(), tags_value(r.get("tags")));
    if let Some(fqdn) = props.get("fqdn").and_then(Json::as_str) {
        attrs.insert(
            "endpoint".into(),
            Value::String(format!("https://{fqdn}:443")),
        );
    }
    Ok(ReadResponse::Found { attributes: attrs })
}

// --- gpu_pool ---------------------------------------------------------------------------

/// (cluster, pool) of an id: an ARM id, `CLUSTER/POOL`, or the attributes.
pub fn pool_names(id: Option<&str>, a: &Attributes) -> Result<(String, String), ProviderError> {
    if let Some(id) = id {
        if id.starts_with("/subscriptions/") {
            let parts: Vec<&str> = id.split('/').collect();
            let at = |key: &str| {
                parts
                    .iter()
                    .position(|p| p.eq_ignore_ascii_case(key))
                    .and_then(|i| parts.get(i + 1))
                    .map(|s| s.to_string())
            };
            if let (Some(cl), Some(p)) = (at("managedClusters"), at("agentPools")) {
                return Ok((cl, p));
            }
        } else if let Some((cl, p)) = id.split_once('/') {
            return Ok((cl.to_string(), p.to_string()));
        }
    }
    let cluster =
        str_attr(a, "cluster").ok_or_else(|| ProviderError::invalid("gpu_pool has no cluster"))?;
    Ok((cluster.to_string(), name_of(a, "gpu_pool")?.to_string()))
}

fn pool_body(planned: &Attributes, version: Option<&str>) -> Result<Json, ProviderError> {
    let vm = str_attr(planned, "instance_type")
        .ok_or_else(|| ProviderError::invalid("gpu_pool has no instance_type (VM size)"))?;
    let min = planned
        .get("min_nodes")
        .and_then(Value::as_f64)
        .unwrap_or(0.0) as i64;
    let max = planned
        .get("max_nodes")
        .and_then(Value::as_f64)
        .unwrap_or(1.0) as i64;
    let mut p = Map::new();
    p.insert("mode".into(), json!("User"));
    p.insert("vmSize".into(), json!(vm));
    p.insert("osType".into(), json!("Linux"));
    p.insert("type".into(), json!("VirtualMachineScaleSets"));
    p.insert("enableAutoScaling".into(), json!(true));
    p.insert("minCount".into(), json!(min));
    p.insert("maxCount".into(), json!(max));
    p.insert("count".into(), json!(min));
    if let Some(d) = planned.get("disk_size_gb").and_then(Value::as_f64) {
        p.insert("osDiskSizeGB".into(), json!(d as i64));
    }
    p.insert("gpuProfile".into(), json!({ "driver": "Install" }));
    if str_attr(planned, "capacity") == Some("spot") {
        p.insert("scaleSetPriority".into(), json!("Spot"));
        p.insert("scaleSetEvictionPolicy".into(), json!("Delete"));
        p.insert("spotMaxPrice".into(), json!(-1));
    }
    if let Some(s) = sharing(planned) {
        if s.get("mode").and_then(Value::as_str) == Some("mig") {
            if let Some(profile) = s.get("profile").and_then(Value::as_str) {
                p.insert(
                    "gpuInstanceProfile".into(),
                    json!(mig_profile(profile).map_err(ProviderError::invalid)?),
                );
            }
        }
    }
    let labels: Map<String, Json> = planned
        .get("labels")
        .and_then(Value::as_map)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), json!(v.as_str().unwrap_or_default())))
        .collect();
    p.insert("nodeLabels".into(), Json::Object(labels));
    p.insert("nodeTaints".into(), json!(taints(planned)));
    p.insert("tags".into(), tags_json(planned));
    if let Some(v) = version {
        p.insert("orchestratorVersion".into(), json!(v));
    }
    Ok(json!({ "properties": p }))
}

/// `taints` as AKS writes them: `key=value:Effect`.
fn taints(a: &Attributes) -> Vec<String> {
    a.get("taints")
        .and_then(Value::as_list)
        .into_iter()
        .flatten()
        .filter_map(Value::as_map)
        .map(|t| {
            let key = t.get("key").and_then(Value::as_str).unwrap_or_default();
            let effect = t
                .get("effect")
                .and_then(Value::as_str)
                .unwrap_or("NoSchedule");
            match t.get("value").and_then(Value::as_str) {
                Some(v) if !v.is_empty() => format!("{key}={v}:{effect}"),
                _ => format!("{key}:{effect}"),
            }
        })
        .collect()
}

pub async fn apply_pool(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let limit = limit(req);
    match req.action {
        ApplyAction::Create => {
            let (cluster, pool) = pool_names(None, &req.planned)?;
            let cpath = cluster_path(c, &cluster);
            let version = c
                .arm
                .get(&cpath, API)
                .await?
                .and_then(|r| {
                    r.pointer("/properties/kubernetesVersion")
                        .and_then(Json::as_str)
                        .map(str::to_string)
                })
                .ok_or_else(|| {
                    ProviderError::new(
                        mlinfra_provider_api::ErrorKind::NotFound,
                        format!(
                            "AKS cluster {cluster} does not exist, so pool {pool} cannot join it"
                        ),
                    )
                })?;
            let p = pool_path(c, &cluster, &pool);
            let exists = c.arm.get(&p, API).await?.is_some();
            if exists && !req.adopt_existing {
                return Err(already_exists(
                    &format!("AKS agent pool {pool} of cluster {cluster}"),
                    &format!("{cluster}/{pool}"),
                ));
            }
            let body = pool_body(&req.planned, Some(&version))?;
            c.arm
                .retrying_busy(limit, || async {
                    if exists {
                        c.arm.put(&p, API, &body, limit).await
                    } else {
                        c.arm.create(&p, API, &body, limit).await
                    }
                })
                .await?;
            // A rotation killed after it deleted the pool left its temporary pool serving:
            // the pool is back, so it goes.
            let temp = pool_path(c, &cluster, &rotation_name(&pool));
            if c.arm.get(&temp, API).await?.is_some() {
                c.arm
                    .retrying_busy(limit, || c.arm.delete(&temp, API, limit))
                    .await?;
            }
            finish_pool(c, &cluster, &pool, &req.planned).await
        }
        ApplyAction::Update => {
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            let (cluster, pool) = pool_names(str_attr(prior, "id"), prior)?;
            let p = pool_path(c, &cluster, &pool);
            let live = c.arm.get(&p, API).await?;
            let version = live
                .as_ref()
                .and_then(|r| r.pointer("/properties/orchestratorVersion"))
                .and_then(Json::as_str);
            let body = pool_body(&req.planned, version)?;
            let want = fixed_of(&body["properties"]);
            let is_now = live.as_ref().map(|l| fixed_of(&l["properties"]));
            if is_now.as_ref() == Some(&want) {
                c.arm
                    .retrying_busy(limit, || c.arm.put(&p, API, &body, limit))
                    .await?;
                // A rotation killed after it remade the pool left its temporary pool.
                let temp = pool_path(c, &cluster, &rotation_name(&pool));
                if c.arm.get(&temp, API).await?.is_some() {
                    c.arm
                        .retrying_busy(limit, || c.arm.delete(&temp, API, limit))
                        .await?;
                }
            } else {
                rotate(c, &cluster, &pool, &body, live.is_some(), limit).await?;
            }
            finish_pool(c, &cluster, &pool, &req.planned).await
        }
        ApplyAction::Delete => {
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            let (cluster, pool) = pool_names(str_attr(prior, "id"), prior)?;
            let p = pool_path(c, &cluster, &pool);
            c.arm
                .retrying_busy(limit, || c.arm.delete(&p, API, limit))
                .await?;
            Ok(ApplyResponse::default())
        }
    }
}

/// Changes what AKS fixes at creation without the pool's GPUs going away: a temporary
/// pool with the new settings first; the pool deleted only once that one serves; the pool
/// remade with the new settings; the temporary pool deleted. Each step is skipped when a
/// killed earlier run already made it, so running it again finishes the rotation.
async fn rotate(
    c: &Clients,
    cluster: &str,
    pool: &str,
    body: &Json,
    exists: bool,
    limit: Instant,
) -> Result<(), ProviderError> {
    let p = pool_path(c, cluster, pool);
    let temp = pool_path(c, cluster, &rotation_name(pool));
    let want = fixed_of(&body["properties"]);
    let temp_ok = c
        .arm
        .get(&temp, API)
        .await?
        .is_some_and(|t| fixed_of(&t["properties"]) == want);
    if !temp_ok {
        c.arm
            .retrying_busy(limit, || c.arm.put(&temp, API, body, limit))
            .await?;
    }
    if exists {
        c.arm
            .retrying_busy(limit, || c.arm.delete(&p, API, limit))
            .await?;
    }
    c.arm
        .retrying_busy(limit, || c.arm.create(&p, API, body, limit))
        .await?;
    c.arm
        .retrying_busy(limit, || c.arm.delete(&temp, API, limit))
        .await?;
    Ok(())
}

async fn finish_pool(
    c: &Clients,
    cluster: &str,
    pool: &str,
    planned: &Attributes,
) -> Result<ApplyResponse, ProviderError> {
    read_back(
        read_pool(c, &format!("{cluster}/{pool}"), planned).await?,
        &format!("AKS agent pool {cluster}/{pool}"),
    )
}

pub async fn read_pool(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let (cluster, pool) = pool_names(Some(id), prior)?;
    let Some(r) = c.arm.get(&pool_path(c, &cluster, &pool), API).await? else {
        return Ok(ReadResponse::Gone);
    };
    let arm_id = r
        .get("id")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| pool_path(c, &cluster, &pool));
    let mut attrs = named(prior, &pool, &arm_id);
    attrs.insert("cluster".into(), Value::from(cluster.as_str()));
    let p = r.get("properties").cloned().unwrap_or_default();
    let num = |k: &str| p.get(k).and_then(Json::as_f64);
    if let Some(vm) = p.get("vmSize").and_then(Json::as_str) {
        attrs.insert("instance_type".into(), Value::from(vm));
        if let Some(m) = mlinfra_schema::gpu::machine_named(mlinfra_schema::Cloud::Azure, vm) {
            attrs.insert("accelerator".into(), Value::from(m.accelerator));
            attrs.insert("gpus_per_node".into(), Value::from(f64::from(m.gpus)));
        }
    }
    if let Some(v) = num("minCount") {
        attrs.insert("min_nodes".into(), Value::from(v));
    }
    if let Some(v) = num("maxCount") {
        attrs.insert("max_nodes".into(), Value::from(v));
    }
    if let Some(v) = num("osDiskSizeGB") {
        attrs.insert("disk_size_gb".into(), Value::from(v));
    }
    let spot = p.get("scaleSetPriority").and_then(Json::as_str) == Some("Spot");
    attrs.insert(
        "capacity".into(),
        Value::from(if spot { "spot" } else { "on_demand" }),
    );
    attrs.insert("labels".into(), tags_value(p.get("nodeLabels")));
    attrs.insert("tags".into(), tags_value(p.get("tags")));
    let taints: Vec<Value> = p
        .get("nodeTaints")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .map(|t| {
            let (kv, effect) = t.rsplit_once(':').unwrap_or((t, "NoSchedule"));
            let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
            let mut m = std::collections::BTreeMap::new();
            m.insert("key".to_string(), Value::from(key));
            m.insert(
                "value".to_string(),
                if value.is_empty() {
                    Value::Null
                } else {
                    Value::from(value)
                },
            );
            m.insert("effect".to_string(), Value::from(effect));
            Value::Map(m)
        })
        .collect();
    attrs.insert("taints".into(), Value::List(taints));
    // A rotation that did not finish (its temporary pool is still there) is not done: the
    // settings it was changing read as they were, so the next plan finishes it.
    let rotating = !prior.is_empty()
        && c.arm
            .get(&pool_path(c, &cluster, &rotation_name(&pool)), API)
            .await?
            .is_some();
    if rotating {
        for k in [
            "accelerator",
            "gpus_per_node",
            "instance_type",
            "capacity",
            "disk_size_gb",
        ] {
            if let Some(v) = prior.get(k) {
                attrs.insert(k.into(), v.clone());
            }
        }
        if let Some(v) = prior.get("sharing") {
            attrs.insert("sharing".into(), v.clone());
        }
        return Ok(ReadResponse::Found { attributes: attrs });
    }
    // MIG is on the pool; time slicing lives in the device plugin, so the prior's is kept.
    let gip = p.get("gpuInstanceProfile").and_then(Json::as_str);
    let prior_mig = sharing(prior)
        .filter(|s| s.get("mode").and_then(Value::as_str) == Some("mig"))
        .and_then(|s| s.get("profile").and_then(Value::as_str))
        .map(str::to_string);
    match (gip, prior_mig) {
        (Some(g), Some(profile)) if mig_profile(&profile).ok() == Some(g) => {}
        (Some(g), _) => {
            let accel = str_attr(&attrs, "accelerator")
                .unwrap_or_default()
                .to_string();
            let mut m = std::collections::BTreeMap::new();
            m.insert("mode".to_string(), Value::from("mig"));
            m.insert(
                "profile".to_string(),
                Value::from(mig_name(g, &accel).as_str()),
            );
            attrs.insert("sharing".into(), Value::Map(m));
        }
        (None, Some(_)) => {
            attrs.remove("sharing");
        }
        (None, None) => {}
    }
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_mig_profiles_follow_aks() {
        assert!(check_pool_name("h100spot").is_ok());
        assert!(check_pool_name("h100-spot").is_err());
        assert!(check_pool_name("system").is_err());
        assert!(check_pool_name("averyverylongname").is_err());
        assert!(check_cluster_name("acme-prod_train").is_ok());
        assert!(check_cluster_name("-train").is_err());
        assert_eq!(mig_profile("1g.10gb"), Ok("MIG1g"));
        assert_eq!(mig_profile("3g.40gb"), Ok("MIG3g"));
        assert!(mig_profile("5g.50gb").is_err());
        assert_eq!(mig_name("MIG1g", "A100-80GB"), "1g.10gb");
        assert_eq!(mig_name("MIG3g", "A100"), "3g.20gb");
        assert_eq!(mig_name("MIG7g", "H100"), "7g.80gb");
        let mut a = Attributes::new();
        a.insert(
            "taints".into(),
            Value::List(vec![Value::Map(
                [
                    ("key".to_string(), Value::from("nvidia.com/gpu")),
                    ("value".to_string(), Value::from("present")),
                    ("effect".to_string(), Value::from("NoSchedule")),
                ]
                .into_iter()
                .collect(),
            )]),
        );
        assert_eq!(taints(&a), vec!["nvidia.com/gpu=present:NoSchedule"]);
    }
}
