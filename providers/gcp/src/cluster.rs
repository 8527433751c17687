//! `cluster` → a GKE cluster (regional at the provider's region unless `region` names a
//! region or zone), with workload identity, a small CPU `system` pool for cluster
//! services, and GPU pools added as `gpu_pool`s. The version upgrades in place, one minor
//! at a time; labels change in place; name, location and network replace.

use std::time::Duration;

use google_cloud_container_v1::model::{
    Cluster, IPAllocationPolicy, NodeConfig, NodePool, NodePoolAutoscaling, PrivateClusterConfig,
    WorkloadIdentityConfig,
};
use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;

use crate::attrs::{flag, labels_of, name_of, named, read_back, str_attr, tags_value};
use crate::clients::Clients;
use crate::errors::{classify, is_not_found};
use crate::gke;

/// The CPU pool every cluster starts with, for kube-system and controllers.
pub const SYSTEM_POOL: &str = "system";
const SYSTEM_MACHINE: &str = "e2-standard-4";

/// GKE's cluster and node pool name rule.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a valid GKE {what} name: use up to 40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen"
        ))
    }
}

/// The location of the cluster: its `region` (a region or a zone), else the provider's.
pub fn location(c: &Clients, a: &Attributes) -> String {
    str_attr(a, "region").unwrap_or(&c.region).to_string()
}

fn full_name(c: &Clients, a: &Attributes, id: &str) -> String {
    if id.starts_with("projects/") {
        id.to_string()
    } else {
        format!("{}/clusters/{id}", c.location(&location(c, a)))
    }
}

fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn desired(c: &Clients, planned: &Attributes, name: &str) -> Cluster {
    let mut cluster = Cluster::new()
        .set_name(name)
        .set_network(str_attr(planned, "network").unwrap_or("default"))
        .set_resource_labels(labels_of(planned))
        .set_workload_identity_config(
            WorkloadIdentityConfig::new().set_workload_pool(format!("{}.svc.id.goog", c.project)),
        )
        .set_node_pools([NodePool::new()
            .set_name(SYSTEM_POOL)
            .set_initial_node_count(1)
            .set_config(NodeConfig::new().set_machine_type(SYSTEM_MACHINE))
            .set_autoscaling(
                NodePoolAutoscaling::new()
                    .set_enabled(true)
                    .set_min_node_count(1)
                    .set_max_node_count(3),
            )]);
    if let Some(v) = str_attr(planned, "kubernetes_version") {
        cluster = cluster.set_initial_cluster_version(v);
    }
    if !c.zones.is_empty() {
        cluster = cluster.set_locations(c.zones.clone());
    }
    if let Some(s) = str_attr(planned, "subnetwork") {
        cluster = cluster.set_subnetwork(s);
    }
    if !flag(planned, "public_endpoint", true) {
        #[allow(deprecated)]
        let private = PrivateClusterConfig::new()
            .set_enable_private_nodes(true)
            .set_enable_private_endpoint(true)
            .set_master_ipv4_cidr_block("172.16.0.0/28");
        cluster = cluster
            .set_private_cluster_config(private)
            .set_ip_allocation_policy(IPAllocationPolicy::new().set_use_ip_aliases(true));
    }
    cluster
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    match req.action {
        ApplyAction::Create => {
            let limit = deadline(req.timeout_seconds, Duration::from_secs(2700));
            let name = name_of(&req.planned, "cluster")?.to_string();
            let loc = location(c, &req.planned);
            let full = full_name(c, &req.planned, &name);
            let sent = c
                .gke
                .create_cluster()
                .set_parent(c.location(&loc))
                .set_cluster(desired(c, &req.planned, &name))
                .send()
                .await;
            match sent {
                Ok(op) => {
                    gke::done(c, &format!("GKE cluster {full} to be created"), limit, op).await?;
                }
                Err(e) => {
                    let err = classify(&format!("creating GKE cluster {full}"), e);
                    if err.kind != ErrorKind::AlreadyExists {
                        return Err(err);
                    }
                    if !req.adopt_existing {
                        return Err(already_exists(&format!("GKE cluster {full}"), &full));
                    }
                    // An interrupted create of ours: wait until it is usable.
                    wait_running(c, &full, limit).await?;
                }
            }
            finish(c, &full, &req.planned).await
        }
        ApplyAction::Update => {
            let limit = deadline(req.timeout_seconds, Duration::from_secs(3600));
            let prior = req.prior.clone().unwrap_or_default();
            let id = str_attr(&prior, "id")
                .map(Ok)
                .unwrap_or_else(|| name_of(&req.planned, "cluster"))?;
            let full = full_name(c, &req.planned, id);
            let was = str_attr(&prior, "kubernetes_version");
            let want = str_attr(&req.planned, "kubernetes_version");
            if let (Some(v), true) = (want, was != want) {
                let op = gke::start(limit, || async {
                    c.gke
                        .update_cluster()
                        .set_name(&full)
                        .set_update(
                            google_cloud_container_v1::model::ClusterUpdate::new()
                                .set_desired_master_version(v),
                        )
                        .send()
                        .await
                        .map_err(|e| classify(&format!("upgrading GKE cluster {full} to {v}"), e))
                })
                .await?;
                gke::done(
                    c,
                    &format!("GKE cluster {full} to upgrade to {v}"),
                    limit,
                    op,
                )
                .await?;
            }
            if labels_of(&prior) != labels_of(&req.planned) {
                set_labels(c, &full, &req.planned, limit).await?;
            }
            finish(c, &full, &req.planned).await
        }
        ApplyAction::Delete => {
            let limit = deadline(req.timeout_seconds, Duration::from_secs(2700));
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            let id = str_attr(prior, "id")
                .map(Ok)
                .unwrap_or_else(|| name_of(prior, "cluster"))?;
            let full = full_name(c, prior, id);
            let sent = gke::start(limit, || async {
                match c.gke.delete_cluster().set_name(&full).send().await {
                    Ok(op) => Ok(Some(op)),
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(classify(&format!("deleting GKE cluster {full}"), e)),
                }
            })
            .await?;
            if let Some(op) = sent {
                gke::done(c, &format!("GKE cluster {full} to be deleted"), limit, op).await?;
            }
            Ok(ApplyResponse::default())
        }
    }
}

async fn set_labels(
    c: &Clients,
    full: &str,
    planned: &Attributes,
    limit: std::time::Instant,
) -> Result<(), ProviderError> {
    let op = gke::start(limit, || async {
        let now = c
            .gke
            .get_cluster()
            .set_name(full)
            .send()
            .await
            .map_err(|e| classify(&format!("reading GKE cluster {full}"), e))?;
        c.gke
            .set_labels()
            .set_name(full)
            .set_resource_labels(labels_of(planned))
            .set_label_fingerprint(now.label_fingerprint)
            .send()
            .await
            .map_err(|e| classify(&format!("labelling GKE cluster {full}"), e))
    })
    .await?;
    gke::done(c, &format!("GKE cluster {full} to be labelled"), limit, op).await?;
    Ok(())
}

async fn wait_running(
    c: &Clients,
    full: &str,
    limit: std::time::Instant,
) -> Result<(), ProviderError> {
    use google_cloud_container_v1::model::cluster::Status;
    use mlinfra_provider_api::wait::{until, Poll};
    until(
        &format!("GKE cluster {full} to be RUNNING"),
        limit,
        || async {
            let cl = c
                .gke
                .get_cluster()
                .set_name(full)
                .send()
                .await
                .map_err(|e| classify(&format!("reading GKE cluster {full}"), e))?;
            match cl.status {
                Status::Running => Ok(Poll::Ready(())),
                Status::Error | Status::Degraded => Err(ProviderError::new(
                    ErrorKind::Other,
                    format!(
                        "GKE cluster {full} is {}",
                        cl.status.name().unwrap_or("ERROR")
                    ),
                )),
                s => Ok(Poll::Pending(
                    s.name().unwrap_or("PROVISIONING").to_string(),
                )),
            }
        },
    )
    .await
}

async fn finish(
    c: &Clients,
    full: &str,
    planned: &Attributes,
) -> Result<ApplyResponse, ProviderError> {
    read_back(
        read(c, full, planned).await?,
        Some(full),
        &format!("GKE cluster {full}"),
    )
}

/// `1.31.4-gke.1000` as the manifest wrote it: the minor when that is what it asked for.
pub fn version_as_written(current: &str, written: Option<&str>) -> String {
    match written {
        Some(w)
            if current == w
                || current.starts_with(&format!("{w}."))
                || current.starts_with(&format!("{w}-")) =>
        {
            w.to_string()
        }
        _ => {
            let mut parts = current.split(['.', '-']);
            match (parts.next(), parts.next()) {
                (Some(a), Some(b)) if written.is_none_or(|w| w.matches('.').count() <= 1) => {
                    format!("{a}.{b}")
                }
                _ => current.to_string(),
            }
        }
    }
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let full = full_name(c, prior, id);
    let cl = match c.gke.get_cluster().set_name(&full).send().await {
        Ok(cl) => cl,
        Err(e) if is_not_found(&e) => return Ok(ReadResponse::Gone),
        Err(e) => return Err(classify(&format!("reading GKE cluster {full}"), e)),
    };
    let mut attrs = named(prior, short(&full), &full);
    attrs.insert("region".into(), Value::from(cl.location.as_str()));
    attrs.insert(
        "kubernetes_version".into(),
        Value::from(
            version_as_written(
                &cl.current_master_version,
                str_attr(prior, "kubernetes_version"),
            )
            .as_str(),
        ),
    );
    let network = cl
        .network
        .rsplit('/')
        .next()
        .unwrap_or(&cl.network)
        .to_string();
    attrs.insert("network".into(), Value::from(network.as_str()));
    if !cl.subnetwork.is_empty() && str_attr(prior, "subnetwork").is_some() {
        let sub = cl
            .subnetwork
            .rsplit('/')
            .next()
            .unwrap_or(&cl.subnetwork)
            .to_string();
        attrs.insert("subnetwork".into(), Value::from(sub.as_str()));
    }
    // GKE still answers the private endpoint here (deprecated in favour of
    // controlPlaneEndpointsConfig, which it fills from this).
    #[allow(deprecated)]
    let private = cl
        .private_cluster_config
        .as_ref()
        .is_some_and(|p| p.enable_private_endpoint);
    attrs.insert("public_endpoint".into(), Value::Bool(!private));
    attrs.insert("tags".into(), tags_value(&cl.resource_labels));
    if !cl.endpoint.is_empty() {
        attrs.insert(
            "endpoint".into(),
            Value::String(format!("https://{}", cl.endpoint)),
        );
    }
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        assert!(check_name("cluster", "train").is_ok());
        assert!(check_name("cluster", "Train").is_err());
        assert!(check_name("cluster", &"a".repeat(41)).is_err());
        assert_eq!(version_as_written("1.31.4-gke.1000", Some("1.31")), "1.31");
        assert_eq!(version_as_written("1.32.1-gke.1000", Some("1.31")), "1.32");
        assert_eq!(
            version_as_written("1.31.4-gke.1000", Some("1.31.4-gke.1000")),
            "1.31.4-gke.1000"
        );
        assert_eq!(version_as_written("1.31", Some("1.31")), "1.31");
    }
}
