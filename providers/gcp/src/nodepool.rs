//! `gpu_pool` → a GKE node pool with accelerators: the machine type from the GPU catalog
//! (or `instance_type`), the GPU type attached to it, driver installation by GKE, spot or
//! reservations, and `sharing` as GKE has it: MIG through `gpuPartitionSize`, time
//! slicing and MPS through `gpuSharingConfig`. Autoscaling, node labels, taints, labels
//! and sharing change in place; the GPU, machine, capacity and disk replace.

use std::collections::BTreeMap;
use std::time::Duration;

use google_cloud_container_v1::model::gpu_driver_installation_config::GPUDriverVersion;
use google_cloud_container_v1::model::gpu_sharing_config::GPUSharingStrategy;
use google_cloud_container_v1::model::node_pool_autoscaling::LocationPolicy;
use google_cloud_container_v1::model::node_taint::Effect;
use google_cloud_container_v1::model::reservation_affinity::Type as Reservation;
use google_cloud_container_v1::model::{
    AcceleratorConfig, GPUDriverInstallationConfig, GPUSharingConfig, NodeConfig, NodeLabels,
    NodePool, NodePoolAutoscaling, NodeTaint, NodeTaints, ReservationAffinity, ResourceLabels,
};
use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::{gpu, Cloud, Value};

use crate::attrs::{invalid, labels_of, name_of, read_back, str_attr, tags_value};
use crate::clients::Clients;
use crate::errors::{classify, is_not_found};
use crate::gke;

/// The GKE accelerator type of a catalog GPU.
pub fn accelerator_type(accelerator: &str) -> Option<&'static str> {
    Some(match accelerator {
        "T4" => "nvidia-tesla-t4",
        "V100" => "nvidia-tesla-v100",
        "L4" => "nvidia-l4",
        "A100" => "nvidia-tesla-a100",
        "A100-80GB" => "nvidia-a100-80gb",
        "H100" => "nvidia-h100-80gb",
        "H200" => "nvidia-h200-141gb",
        "B200" => "nvidia-b200",
        _ => return None,
    })
}

fn accelerator_of(gke_type: &str) -> Option<&'static str> {
    [
        "T4",
        "V100",
        "L4",
        "A100",
        "A100-80GB",
        "H100",
        "H200",
        "B200",
    ]
    .into_iter()
    .find(|a| accelerator_type(a) == Some(gke_type))
}

fn num(a: &Attributes, k: &str, default: f64) -> f64 {
    a.get(k).and_then(Value::as_f64).unwrap_or(default)
}

fn string_map(a: &Attributes, k: &str) -> BTreeMap<String, String> {
    a.get(k)
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn sharing(a: &Attributes) -> (String, Option<Value>, Option<f64>) {
    let m = a.get("sharing").and_then(Value::as_map);
    let mode = m
        .and_then(|m| m.get("mode"))
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_string();
    let profile = m
        .and_then(|m| m.get("profile"))
        .cloned()
        .filter(|v| !matches!(v, Value::Null));
    let replicas = m.and_then(|m| m.get("replicas")).and_then(Value::as_f64);
    (mode, profile, replicas)
}

/// The accelerators of each node, sharing included; the reason when GKE cannot do it.
pub fn accelerators(a: &Attributes) -> Result<AcceleratorConfig, String> {
    let name = str_attr(a, "accelerator").unwrap_or_default();
    let Some(kind) = accelerator_type(name) else {
        return Err(format!(
            "GKE has no {name} GPUs; use one of T4, V100, L4, A100, A100-80GB, H100, H200, B200"
        ));
    };
    let mut acc = AcceleratorConfig::new()
        .set_accelerator_type(kind)
        .set_accelerator_count(num(a, "gpus_per_node", 1.0) as i64)
        .set_gpu_driver_installation_config(
            GPUDriverInstallationConfig::new().set_gpu_driver_version(GPUDriverVersion::Default),
        );
    let (mode, profile, replicas) = sharing(a);
    match mode.as_str() {
        "mig" => match profile {
            Some(Value::String(p)) => acc = acc.set_gpu_partition_size(p),
            Some(Value::Map(_)) => {
                return Err("GKE partitions every GPU of a node pool the same way: give sharing.profile one MIG profile, like \"1g.10gb\"".into())
            }
            _ => return Err("sharing mode \"mig\" needs profile, a MIG profile like \"1g.10gb\"".into()),
        },
        "time_slicing" | "mps" => {
            let strategy = if mode == "mps" {
                GPUSharingStrategy::Mps
            } else {
                GPUSharingStrategy::TimeSharing
            };
            let clients = replicas.unwrap_or(2.0);
            if !(2.0..=48.0).contains(&clients) {
                return Err(format!(
                    "GKE shares a GPU between 2 and 48 clients; sharing.replicas is {clients}"
                ));
            }
            acc = acc.set_gpu_sharing_config(
                GPUSharingConfig::new()
                    .set_gpu_sharing_strategy(strategy)
                    .set_max_shared_clients_per_gpu(clients as i64),
            );
        }
        _ => {}
    }
    Ok(acc)
}

fn taints(a: &Attributes) -> Vec<NodeTaint> {
    a.get("taints")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_map)
        .map(|t| {
            let s = |k: &str| {
                t.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let effect = match s("effect").as_str() {
                "PreferNoSchedule" => Effect::PreferNoSchedule,
                "NoExecute" => Effect::NoExecute,
                _ => Effect::NoSchedule,
            };
            NodeTaint::new()
                .set_key(s("key"))
                .set_value(s("value"))
                .set_effect(effect)
        })
        .collect()
}

fn autoscaling(a: &Attributes) -> NodePoolAutoscaling {
    NodePoolAutoscaling::new()
        .set_enabled(true)
        .set_total_min_node_count(num(a, "min_nodes", 0.0) as i32)
        .set_total_max_node_count(num(a, "max_nodes", 1.0) as i32)
        .set_location_policy(LocationPolicy::Any)
}

fn node_config(a: &Attributes) -> Result<NodeConfig, ProviderError> {
    let machine = str_attr(a, "instance_type")
        .ok_or_else(|| invalid("gpu_pool has no instance_type".into()))?;
    let mut cfg = NodeConfig::new()
        .set_machine_type(machine)
        .set_disk_size_gb(num(a, "disk_size_gb", 200.0) as i32)
        .set_labels(string_map(a, "labels"))
        .set_taints(taints(a))
        .set_resource_labels(labels_of(a))
        .set_accelerators([accelerators(a).map_err(invalid)?]);
    match str_attr(a, "capacity") {
        Some("spot") => cfg = cfg.set_spot(true),
        Some("reserved") => {
            cfg = cfg.set_reservation_affinity(
                ReservationAffinity::new()
                    .set_consume_reservation_type(Reservation::AnyReservation),
            )
        }
        _ => {}
    }
    Ok(cfg)
}

/// The pool's resource name: `projects/P/locations/L/clusters/C/nodePools/N`.
pub fn full_name(project: &str, location: &str, cluster: &str, name: &str) -> String {
    format!("projects/{project}/locations/{location}/clusters/{cluster}/nodePools/{name}")
}

/// The location of cluster `name`: the provider's region when it is there, else wherever
/// the project has it.
pub async fn cluster_location(c: &Clients, name: &str) -> Result<String, ProviderError> {
    let all = c
        .gke
        .list_clusters()
        .set_parent(c.location("-"))
        .send()
        .await
        .map_err(|e| classify("listing GKE clusters", e))?;
    let mut found: Vec<String> = all
        .clusters
        .iter()
        .filter(|cl| cl.name == name)
        .map(|cl| cl.location.clone())
        .collect();
    if found.contains(&c.region) || found.is_empty() {
        return Ok(c.region.clone());
    }
    Ok(found.remove(0))
}

fn cluster_of(full: &str) -> &str {
    full.split("/nodePools/").next().unwrap_or(full)
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    match req.action {
        ApplyAction::Create => {
            let limit = deadline(req.timeout_seconds, Duration::from_secs(2700));
            let name = name_of(&req.planned, "gpu_pool")?.to_string();
            let cluster = str_attr(&req.planned, "cluster")
                .ok_or_else(|| invalid("gpu_pool has no cluster".into()))?
                .to_string();
            let loc = cluster_location(c, &cluster).await?;
            let full = full_name(&c.project, &loc, &cluster, &name);
            let mut pool = NodePool::new();
            if !c.zones.is_empty() {
                pool = pool.set_locations(c.zones.clone());
            }
            let pool = pool
                .set_name(&name)
                .set_initial_node_count(num(&req.planned, "min_nodes", 0.0) as i32)
                .set_config(node_config(&req.planned)?)
                .set_autoscaling(autoscaling(&req.planned));
            let sent = gke::start(limit, || async {
                c.gke
                    .create_node_pool()
                    .set_parent(cluster_of(&full))
                    .set_node_pool(pool.clone())
                    .send()
                    .await
                    .map_err(|e| classify(&format!("creating GKE node pool {full}"), e))
            })
            .await;
            match sent {
                Ok(op) => {
                    gke::done(c, &format!("GKE node pool {full} to be created"), limit, op).await?;
                }
                Err(e) if e.kind == ErrorKind::AlreadyExists && req.adopt_existing => {}
                Err(e) if e.kind == ErrorKind::AlreadyExists => {
                    return Err(already_exists(&format!("GKE node pool {full}"), &full));
                }
                Err(e) => return Err(e),
            }
            finish(c, &full, &req.planned).await
        }
        ApplyAction::Update => {
            let limit = deadline(req.timeout_seconds, Duration::from_secs(3600));
            let prior = req.prior.clone().unwrap_or_default();
            let full = str_attr(&prior, "id")
                .map(str::to_string)
                .ok_or_else(|| invalid("gpu_pool has no recorded id".into()))?;
            let p = &req.planned;
            if num(&prior, "min_nodes", 0.0) != num(p, "min_nodes", 0.0)
                || num(&prior, "max_nodes", 1.0) != num(p, "max_nodes", 1.0)
            {
                let op = gke::start(limit, || async {
                    c.gke
                        .set_node_pool_autoscaling()
                        .set_name(&full)
                        .set_autoscaling(autoscaling(p))
                        .send()
                        .await
                        .map_err(|e| {
                            classify(&format!("setting autoscaling of GKE node pool {full}"), e)
                        })
                })
                .await?;
                gke::done(c, &format!("GKE node pool {full} to rescale"), limit, op).await?;
            }
            let changed = |k: &str| prior.get(k) != p.get(k);
            if ["labels", "taints", "tags", "sharing"]
                .iter()
                .any(|k| changed(k))
            {
                let accel = accelerators(p).map_err(invalid)?;
                // The request names a node version and image type: the pool's own, so the
                // update changes nothing else (no node upgrade).
                let now = c
                    .gke
                    .get_node_pool()
                    .set_name(&full)
                    .send()
                    .await
                    .map_err(|e| classify(&format!("reading GKE node pool {full}"), e))?;
                let image = now
                    .config
                    .as_ref()
                    .map(|c| c.image_type.clone())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| "COS_CONTAINERD".into());
                let version = if now.version.is_empty() {
                    "-".to_string()
                } else {
                    now.version.clone()
                };
                let op = gke::start(limit, || async {
                    c.gke
                        .update_node_pool()
                        .set_name(&full)
                        .set_node_version(&version)
                        .set_image_type(&image)
                        .set_labels(NodeLabels::new().set_labels(string_map(p, "labels")))
                        .set_taints(NodeTaints::new().set_taints(taints(p)))
                        .set_resource_labels(ResourceLabels::new().set_labels(labels_of(p)))
                        .set_accelerators([accel.clone()])
                        .send()
                        .await
                        .map_err(|e| classify(&format!("updating GKE node pool {full}"), e))
                })
                .await?;
                gke::done(c, &format!("GKE node pool {full} to be updated"), limit, op).await?;
            }
            finish(c, &full, p).await
        }
        ApplyAction::Delete => {
            let limit = deadline(req.timeout_seconds, Duration::from_secs(2700));
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            let Some(full) = str_attr(prior, "id").map(str::to_string) else {
                return Ok(ApplyResponse::default());
            };
            let sent = gke::start(limit, || async {
                match c.gke.delete_node_pool().set_name(&full).send().await {
                    Ok(op) => Ok(Some(op)),
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(classify(&format!("deleting GKE node pool {full}"), e)),
                }
            })
            .await?;
            if let Some(op) = sent {
                gke::done(c, &format!("GKE node pool {full} to be deleted"), limit, op).await?;
            }
            Ok(ApplyResponse::default())
        }
    }
}

async fn finish(
    c: &Clients,
    full: &str,
    planned: &Attributes,
) -> Result<ApplyResponse, ProviderError> {
    read_back(
        read(c, full, planned).await?,
        Some(full),
        &format!("GKE node pool {full}"),
    )
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let np = match c.gke.get_node_pool().set_name(id).send().await {
        Ok(np) => np,
        Err(e) if is_not_found(&e) => return Ok(ReadResponse::Gone),
        Err(e) => return Err(classify(&format!("reading GKE node pool {id}"), e)),
    };
    let cluster = cluster_of(id)
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut attrs = prior.clone();
    attrs.insert("cloud".into(), Value::from("gcp"));
    attrs.insert("id".into(), Value::from(id));
    attrs.insert("name".into(), Value::from(np.name.as_str()));
    attrs.insert("cluster".into(), Value::from(cluster.as_str()));
    if let Some(cfg) = &np.config {
        attrs.insert(
            "instance_type".into(),
            Value::from(cfg.machine_type.as_str()),
        );
        attrs.insert(
            "disk_size_gb".into(),
            Value::from(f64::from(cfg.disk_size_gb)),
        );
        let capacity = if cfg.spot || cfg.preemptible {
            "spot"
        } else if cfg
            .reservation_affinity
            .as_ref()
            .is_some_and(|r| r.consume_reservation_type == Reservation::AnyReservation)
        {
            "reserved"
        } else {
            "on_demand"
        };
        attrs.insert("capacity".into(), Value::from(capacity));
        let str_map = |m: &std::collections::HashMap<String, String>| {
            Value::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect(),
            )
        };
        attrs.insert("labels".into(), str_map(&cfg.labels));
        attrs.insert("tags".into(), tags_value(&cfg.resource_labels));
        attrs.insert(
            "taints".into(),
            Value::List(
                cfg.taints
                    .iter()
                    .map(|t| {
                        let mut m = BTreeMap::new();
                        m.insert("key".into(), Value::from(t.key.as_str()));
                        m.insert(
                            "value".into(),
                            if t.value.is_empty() {
                                Value::Null
                            } else {
                                Value::from(t.value.as_str())
                            },
                        );
                        let effect = match t.effect {
                            Effect::PreferNoSchedule => "PreferNoSchedule",
                            Effect::NoExecute => "NoExecute",
                            _ => "NoSchedule",
                        };
                        m.insert("effect".into(), Value::from(effect));
                        Value::Map(m)
                    })
                    .collect(),
            ),
        );
        if let Some(acc) = cfg.accelerators.first() {
            if let Some(a) = accelerator_of(&acc.accelerator_type) {
                attrs.insert("accelerator".into(), Value::from(a));
            }
            attrs.insert(
                "gpus_per_node".into(),
                Value::from(acc.accelerator_count as f64),
            );
            // Sharing as recorded, with what GKE holds.
            let mut s = prior
                .get("sharing")
                .and_then(Value::as_map)
                .cloned()
                .unwrap_or_default();
            let mode = if !acc.gpu_partition_size.is_empty() {
                s.insert(
                    "profile".into(),
                    Value::from(acc.gpu_partition_size.as_str()),
                );
                "mig"
            } else if let Some(g) = &acc.gpu_sharing_config {
                s.insert(
                    "replicas".into(),
                    Value::from(g.max_shared_clients_per_gpu as f64),
                );
                if g.gpu_sharing_strategy == Some(GPUSharingStrategy::Mps) {
                    "mps"
                } else {
                    "time_slicing"
                }
            } else {
                "none"
            };
            // A pool without a sharing block reads back without one.
            let unshared =
                mode == "none" && prior.get("sharing").is_none_or(|v| v.as_map().is_none());
            if !unshared {
                s.insert("mode".into(), Value::from(mode));
                attrs.insert("sharing".into(), Value::Map(s));
            }
        } else if let Some(m) = gpu::machine_named(Cloud::Gcp, &cfg.machine_type) {
            attrs
                .entry("accelerator".into())
                .or_insert_with(|| Value::from(m.accelerator));
            attrs
                .entry("gpus_per_node".into())
                .or_insert_with(|| Value::from(f64::from(m.gpus)));
        }
    }
    if let Some(a) = &np.autoscaling {
        attrs.insert(
            "min_nodes".into(),
            Value::from(f64::from(a.total_min_node_count)),
        );
        attrs.insert(
            "max_nodes".into(),
            Value::from(f64::from(a.total_max_node_count)),
        );
    }
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(
        acc: &str,
        gpus: f64,
        mode: &str,
        profile: Option<&str>,
        replicas: Option<f64>,
    ) -> Attributes {
        let mut a = Attributes::new();
        a.insert("accelerator".into(), Value::from(acc));
        a.insert("gpus_per_node".into(), Value::from(gpus));
        let mut s = BTreeMap::new();
        s.insert("mode".into(), Value::from(mode));
        if let Some(p) = profile {
            s.insert("profile".into(), Value::from(p));
        }
        if let Some(r) = replicas {
            s.insert("replicas".into(), Value::from(r));
        }
        a.insert("sharing".into(), Value::Map(s));
        a
    }

    #[test]
    fn sharing_maps_to_gke_fields() {
        let mig = accelerators(&pool("A100-80GB", 8.0, "mig", Some("1g.10gb"), None)).unwrap();
        assert_eq!(mig.accelerator_type, "nvidia-a100-80gb");
        assert_eq!(mig.accelerator_count, 8);
        assert_eq!(mig.gpu_partition_size, "1g.10gb");
        let mps = accelerators(&pool("L4", 1.0, "mps", None, Some(4.0))).unwrap();
        let g = mps.gpu_sharing_config.unwrap();
        assert_eq!(g.gpu_sharing_strategy, Some(GPUSharingStrategy::Mps));
        assert_eq!(g.max_shared_clients_per_gpu, 4);
        assert!(accelerators(&pool("L4", 1.0, "mps", None, Some(64.0))).is_err());
        assert!(accelerators(&pool("A10G", 1.0, "none", None, None)).is_err());
        assert!(accelerators(&pool("A100-80GB", 8.0, "mig", None, None)).is_err());
    }
}
