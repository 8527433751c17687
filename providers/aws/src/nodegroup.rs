//! `gpu_pool` → an EKS managed nodegroup on the NVIDIA AMI.
//!
//! Scaling, labels, taints and tags change in place (UpdateNodegroupConfig, TagResource);
//! everything else forces a new nodegroup. The id is `CLUSTER:NODEGROUP`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use mlinfra_provider_api::wait::{self, Poll};

use aws_sdk_eks::types::{
    AmiTypes, CapacityTypes, Nodegroup, NodegroupScalingConfig, NodegroupStatus, Taint,
    TaintEffect, UpdateLabelsPayload, UpdateTaintsPayload,
};
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::{gpu, Cloud, Value};

use crate::attrs::{invalid, str_attr, tags_of};
use crate::clients::Clients;
use crate::errors::classify;

/// Split `CLUSTER:NODEGROUP`.
pub fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    match id.split_once(':') {
        Some((c, n)) if !c.is_empty() && !n.is_empty() => Ok((c, n)),
        _ => Err(invalid(format!(
            "\"{id}\" is not a nodegroup id; expected CLUSTER:NODEGROUP, e.g. train:h100"
        ))),
    }
}

fn number(a: &Attributes, name: &str) -> Option<i32> {
    a.get(name)
        .and_then(Value::as_f64)
        .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= f64::from(i32::MAX))
        .map(|n| n as i32)
}

fn strings(a: &Attributes, name: &str) -> Vec<String> {
    a.get(name)
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn labels(a: &Attributes) -> BTreeMap<String, String> {
    a.get("labels")
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Taints as (key, value, effect) with the manifest's effect names.
fn taints(a: &Attributes) -> Vec<(String, Option<String>, String)> {
    a.get("taints")
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_map)
                .map(|t| {
                    (
                        t.get("key")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        t.get("value").and_then(Value::as_str).map(str::to_string),
                        t.get("effect")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn effect_to_eks(effect: &str) -> Result<TaintEffect, ProviderError> {
    match effect {
        "NoSchedule" => Ok(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Ok(TaintEffect::PreferNoSchedule),
        "NoExecute" => Ok(TaintEffect::NoExecute),
        other => Err(invalid(format!(
            "taint effect \"{other}\" is not one of NoSchedule, PreferNoSchedule, NoExecute"
        ))),
    }
}

fn effect_from_eks(effect: &TaintEffect) -> &'static str {
    match effect {
        TaintEffect::NoExecute => "NoExecute",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        _ => "NoSchedule",
    }
}

fn eks_taints(a: &Attributes) -> Result<Vec<Taint>, ProviderError> {
    taints(a)
        .into_iter()
        .map(|(key, value, effect)| {
            Ok(Taint::builder()
                .key(key)
                .set_value(value)
                .effect(effect_to_eks(&effect)?)
                .build())
        })
        .collect()
}

fn capacity_type(a: &Attributes) -> CapacityTypes {
    match str_attr(a, "capacity") {
        Some("spot") => CapacityTypes::Spot,
        Some("reserved") => CapacityTypes::CapacityBlock,
        _ => CapacityTypes::OnDemand,
    }
}

/// EKS keeps `desired` between min and max; a pool that scales to zero starts empty.
fn scaling(a: &Attributes) -> Result<NodegroupScalingConfig, ProviderError> {
    let min = number(a, "min_nodes").unwrap_or(0);
    let max =
        number(a, "max_nodes").ok_or_else(|| invalid("max_nodes must be a whole number".into()))?;
    if max < 1 || max < min {
        return Err(invalid(format!(
            "max_nodes ({max}) must be at least 1 and at least min_nodes ({min})"
        )));
    }
    Ok(NodegroupScalingConfig::builder()
        .min_size(min)
        .max_size(max)
        .desired_size(min)
        .build())
}

fn ids(req: &ApplyRequest) -> Result<(String, String), ProviderError> {
    let pick = |name: &str| {
        str_attr(&req.planned, name)
            .or_else(|| req.prior.as_ref().and_then(|p| str_attr(p, name)))
            .map(str::to_string)
    };
    match (pick("cluster"), pick("name")) {
        (Some(c), Some(n)) => Ok((c, n)),
        _ => Err(invalid("gpu_pool needs a cluster and a name".into())),
    }
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let (cluster, name) = ids(req)?;
    let deadline = wait::deadline(req.timeout_seconds, Duration::from_secs(60 * 60));
    match req.action {
        ApplyAction::Create => create(c, req, &cluster, &name).await?,
        ApplyAction::Update => update(c, req, &cluster, &name, deadline).await?,
        ApplyAction::Delete => {
            match c
                .eks
                .delete_nodegroup()
                .cluster_name(&cluster)
                .nodegroup_name(&name)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception()) =>
                {
                    return Ok(ApplyResponse::default())
                }
                Err(e) => {
                    return Err(classify(
                        &format!("deleting EKS nodegroup {cluster}:{name}"),
                        e,
                    ))
                }
            }
            wait::until_gone(&format!("EKS nodegroup {cluster}:{name}"), deadline, || {
                describe(c, &cluster, &name)
            })
            .await?;
            return Ok(ApplyResponse::default());
        }
    }
    wait_active(c, &cluster, &name, deadline).await?;
    let id = format!("{cluster}:{name}");
    match read(c, &id, &req.planned).await? {
        ReadResponse::Found { attributes } => Ok(ApplyResponse {
            id: Some(id),
            attributes: Some(attributes),
        }),
        ReadResponse::Gone => Err(ProviderError::new(
            ErrorKind::Transient,
            format!("EKS nodegroup {id} is not visible yet"),
        )),
    }
}

async fn create(
    c: &Clients,
    req: &ApplyRequest,
    cluster: &str,
    name: &str,
) -> Result<(), ProviderError> {
    let p = &req.planned;
    let role = str_attr(p, "node_role_arn")
        .ok_or_else(|| invalid("an EKS nodegroup needs node_role_arn".into()))?;
    let instance_type = str_attr(p, "instance_type")
        .ok_or_else(|| invalid("the pool has no instance_type".into()))?;
    let mut subnets = strings(p, "subnet_ids");
    if subnets.is_empty() {
        // Unknown at plan time: the nodes join the cluster's subnets.
        subnets = c
            .eks
            .describe_cluster()
            .name(cluster)
            .send()
            .await
            .map_err(|e| classify(&format!("reading EKS cluster {cluster}"), e))?
            .cluster()
            .and_then(|cl| cl.resources_vpc_config())
            .map(|v| v.subnet_ids().to_vec())
            .unwrap_or_default();
    }
    let tags = tags_of(p);
    let labels = labels(p);
    let call = c
        .eks
        .create_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .node_role(role)
        .set_subnets(Some(subnets))
        .instance_types(instance_type)
        .ami_type(AmiTypes::Al2023X8664Nvidia)
        .capacity_type(capacity_type(p))
        .scaling_config(scaling(p)?)
        .set_disk_size(number(p, "disk_size_gb"))
        .set_version(str_attr(p, "kubernetes_version").map(str::to_string))
        .set_labels((!labels.is_empty()).then(|| labels.into_iter().collect()))
        .set_taints(Some(eks_taints(p)?).filter(|t| !t.is_empty()))
        .set_tags((!tags.is_empty()).then(|| tags.into_iter().collect()))
        .client_request_token(&req.client_token);
    if let Err(e) = call.send().await {
        // Adopt it only when an interrupted create of ours made it.
        let exists = e
            .as_service_error()
            .is_some_and(|se| se.is_resource_in_use_exception());
        if !exists {
            return Err(classify(
                &format!("creating EKS nodegroup {cluster}:{name}"),
                e,
            ));
        }
        if !req.adopt_existing {
            return Err(already_exists(
                &format!("EKS nodegroup {name} of cluster {cluster}"),
                &format!("{cluster}:{name}"),
            ));
        }
    }
    Ok(())
}

async fn update(
    c: &Clients,
    req: &ApplyRequest,
    cluster: &str,
    name: &str,
    deadline: Instant,
) -> Result<(), ProviderError> {
    let prior = req.prior.clone().unwrap_or_default();
    let p = &req.planned;
    let mut call = c
        .eks
        .update_nodegroup_config()
        .cluster_name(cluster)
        .nodegroup_name(name);
    let mut changed = false;
    if number(&prior, "min_nodes") != number(p, "min_nodes")
        || number(&prior, "max_nodes") != number(p, "max_nodes")
    {
        call = call.scaling_config(scaling(p)?);
        changed = true;
    }
    let (had, want) = (labels(&prior), labels(p));
    if had != want {
        let add: HashMap<String, String> = want
            .iter()
            .filter(|(k, v)| had.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remove: Vec<String> = had
            .keys()
            .filter(|k| !want.contains_key(*k))
            .cloned()
            .collect();
        call = call.labels(
            UpdateLabelsPayload::builder()
                .set_add_or_update_labels((!add.is_empty()).then_some(add))
                .set_remove_labels((!remove.is_empty()).then_some(remove))
                .build(),
        );
        changed = true;
    }
    let (had, want) = (taints(&prior), taints(p));
    if had != want {
        let want_eks = eks_taints(p)?;
        // Taints are keyed by (key, effect): remove those no longer wanted.
        let remove = had
            .iter()
            .filter(|(k, _, e)| !want.iter().any(|(k2, _, e2)| k2 == k && e2 == e))
            .map(|(k, v, e)| {
                Ok(Taint::builder()
                    .key(k)
                    .set_value(v.clone())
                    .effect(effect_to_eks(e)?)
                    .build())
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        call = call.taints(
            UpdateTaintsPayload::builder()
                .set_add_or_update_taints((!want_eks.is_empty()).then_some(want_eks))
                .set_remove_taints((!remove.is_empty()).then_some(remove))
                .build(),
        );
        changed = true;
    }
    if changed {
        call.client_request_token(&req.client_token)
            .send()
            .await
            .map_err(|e| classify(&format!("updating EKS nodegroup {cluster}:{name}"), e))?;
        wait_active(c, cluster, name, deadline).await?;
    }
    // The nodes follow the cluster: one minor version at a time, after the cluster.
    if let Some(v) = str_attr(p, "kubernetes_version") {
        if str_attr(&prior, "kubernetes_version") != Some(v) {
            c.eks
                .update_nodegroup_version()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .version(v)
                .send()
                .await
                .map_err(|e| {
                    classify(
                        &format!("upgrading EKS nodegroup {cluster}:{name} to {v}"),
                        e,
                    )
                })?;
            wait_active(c, cluster, name, deadline).await?;
        }
    }
    let (had, want) = (tags_of(&prior), tags_of(p));
    if had != want {
        let arn = describe(c, cluster, name)
            .await?
            .and_then(|n| n.nodegroup_arn().map(str::to_string))
            .ok_or_else(|| invalid(format!("EKS nodegroup {cluster}:{name} has no ARN")))?;
        let gone: Vec<String> = had
            .keys()
            .filter(|k| !want.contains_key(*k))
            .cloned()
            .collect();
        if !gone.is_empty() {
            c.eks
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(gone))
                .send()
                .await
                .map_err(|e| classify(&format!("untagging EKS nodegroup {cluster}:{name}"), e))?;
        }
        if !want.is_empty() {
            c.eks
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(want.into_iter().collect()))
                .send()
                .await
                .map_err(|e| classify(&format!("tagging EKS nodegroup {cluster}:{name}"), e))?;
        }
    }
    Ok(())
}

/// Poll until the nodegroup is ACTIVE; CREATE_FAILED and DEGRADED are errors, with the
/// nodegroup's health issues (an EC2 capacity shortage is a capacity error).
async fn wait_active(
    c: &Clients,
    cluster: &str,
    name: &str,
    deadline: Instant,
) -> Result<(), ProviderError> {
    wait::until(
        &format!("EKS nodegroup {cluster}:{name} to become ACTIVE"),
        deadline,
        || async {
            let ng = describe(c, cluster, name).await?;
            let status = ng.as_ref().and_then(|n| n.status().cloned());
            match status {
                Some(NodegroupStatus::Active) => Ok(Poll::Ready(())),
                Some(NodegroupStatus::CreateFailed) | Some(NodegroupStatus::Degraded) => {
                    let issues: Vec<(String, String)> = ng
                        .as_ref()
                        .and_then(|n| n.health())
                        .map(|h| {
                            h.issues()
                                .iter()
                                .map(|i| {
                                    (
                                        i.code().map(|c| c.as_str()).unwrap_or("?").to_string(),
                                        i.message().unwrap_or("").to_string(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let text: Vec<String> =
                        issues.iter().map(|(c, m)| format!("{c}: {m}")).collect();
                    let message = format!(
                        "EKS nodegroup {cluster}:{name} is {:?}{}",
                        status,
                        if text.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", text.join("; "))
                        }
                    );
                    let capacity = issues.iter().find(|(c, _)| {
                        c.contains("InsufficientCapacity")
                            || c.contains("InsufficientInstanceCapacity")
                    });
                    Err(match capacity {
                        Some((code, _)) => {
                            ProviderError::new(ErrorKind::Capacity, message).with_code(code.clone())
                        }
                        None => invalid(message),
                    })
                }
                status => Ok(Poll::Pending(format!("{status:?}"))),
            }
        },
    )
    .await
}

async fn describe(
    c: &Clients,
    cluster: &str,
    name: &str,
) -> Result<Option<Nodegroup>, ProviderError> {
    match c
        .eks
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.nodegroup().cloned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(classify(
            &format!("reading EKS nodegroup {cluster}:{name}"),
            e,
        )),
    }
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let (cluster, name) = split_id(id)?;
    let Some(ng) = describe(c, cluster, name).await? else {
        return Ok(ReadResponse::Gone);
    };
    let mut attrs = prior.clone();
    attrs.insert("cloud".into(), Value::from("aws"));
    attrs.insert("id".into(), Value::from(id));
    attrs.insert("cluster".into(), Value::from(cluster));
    attrs.insert("name".into(), Value::from(name));
    if let Some(t) = ng.instance_types().first() {
        attrs.insert("instance_type".into(), Value::from(t.as_str()));
        // An imported pool: the catalog tells which GPUs the machine carries.
        if let Some(m) = gpu::machine_named(Cloud::Aws, t) {
            attrs
                .entry("accelerator".into())
                .or_insert_with(|| Value::from(m.accelerator));
            attrs
                .entry("gpus_per_node".into())
                .or_insert_with(|| Value::from(f64::from(m.gpus)));
        }
    }
    if let Some(s) = ng.scaling_config() {
        if let Some(n) = s.min_size() {
            attrs.insert("min_nodes".into(), Value::from(f64::from(n)));
        }
        if let Some(n) = s.max_size() {
            attrs.insert("max_nodes".into(), Value::from(f64::from(n)));
        }
    }
    let capacity = match ng.capacity_type() {
        Some(CapacityTypes::Spot) => "spot",
        Some(CapacityTypes::CapacityBlock) => "reserved",
        _ => "on_demand",
    };
    attrs.insert("capacity".into(), Value::from(capacity));
    if let Some(d) = ng.disk_size() {
        attrs.insert("disk_size_gb".into(), Value::from(f64::from(d)));
    }
    if let Some(v) = ng.version() {
        attrs.insert("kubernetes_version".into(), Value::from(v));
    }
    if let Some(r) = ng.node_role() {
        attrs.insert("node_role_arn".into(), Value::from(r));
    }
    attrs.insert(
        "subnet_ids".into(),
        Value::List(
            ng.subnets()
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect(),
        ),
    );
    let map = |m: Option<&HashMap<String, String>>| {
        Value::Map(
            m.map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect()
            })
            .unwrap_or_default(),
        )
    };
    attrs.insert("labels".into(), map(ng.labels()));
    attrs.insert("tags".into(), map(ng.tags()));
    // EKS does not keep the order of taints: follow the recorded order.
    let recorded = taints(prior);
    let rank = |t: &Taint| {
        let effect = t.effect().map(effect_from_eks).unwrap_or("NoSchedule");
        recorded
            .iter()
            .position(|(k, _, e)| Some(k.as_str()) == t.key() && e == effect)
            .unwrap_or(usize::MAX)
    };
    let mut live: Vec<&Taint> = ng.taints().iter().collect();
    live.sort_by_key(|t| rank(t));
    attrs.insert(
        "taints".into(),
        Value::List(
            live.into_iter()
                .map(|t| {
                    let mut m = BTreeMap::new();
                    m.insert("key".into(), Value::from(t.key().unwrap_or_default()));
                    m.insert(
                        "value".into(),
                        t.value().map(Value::from).unwrap_or(Value::Null),
                    );
                    m.insert(
                        "effect".into(),
                        Value::from(t.effect().map(effect_from_eks).unwrap_or("NoSchedule")),
                    );
                    Value::Map(m)
                })
                .collect(),
        ),
    );
    Ok(ReadResponse::Found { attributes: attrs })
}
