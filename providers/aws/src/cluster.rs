//! `cluster` → an EKS cluster: version, endpoint access and tags in place; waits for ACTIVE.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mlinfra_provider_api::wait::{self, Poll};

use aws_sdk_eks::types::{ClusterStatus, VpcConfigRequest};
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;

use crate::attrs::{flag, invalid, named, str_attr, tags_of};
use crate::clients::Clients;
use crate::errors::classify;

fn subnets(a: &Attributes) -> Vec<String> {
    a.get("subnet_ids")
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let name = str_attr(&req.planned, "name")
        .or_else(|| req.prior.as_ref().and_then(|p| str_attr(p, "name")))
        .ok_or_else(|| invalid("cluster has no name".into()))?
        .to_string();
    let deadline = wait::deadline(req.timeout_seconds, Duration::from_secs(60 * 60));
    match req.action {
        ApplyAction::Create => {
            let role = str_attr(&req.planned, "role_arn")
                .ok_or_else(|| invalid("an EKS cluster needs role_arn".into()))?;
            let vpc = VpcConfigRequest::builder()
                .set_subnet_ids(Some(subnets(&req.planned)))
                .endpoint_public_access(flag(&req.planned, "public_endpoint", true))
                .build();
            let tags = tags_of(&req.planned);
            let call = c
                .eks
                .create_cluster()
                .name(&name)
                .role_arn(role)
                .set_version(str_attr(&req.planned, "kubernetes_version").map(str::to_string))
                .resources_vpc_config(vpc)
                .set_tags(if tags.is_empty() {
                    None
                } else {
                    Some(tags.into_iter().collect())
                })
                .client_request_token(&req.client_token);
            if let Err(e) = call.send().await {
                // Adopt it only when an interrupted create of ours made it.
                let exists = e
                    .as_service_error()
                    .is_some_and(|se| se.is_resource_in_use_exception());
                if !exists {
                    return Err(classify(&format!("creating EKS cluster {name}"), e));
                }
                if !req.adopt_existing {
                    return Err(already_exists(&format!("EKS cluster {name}"), &name));
                }
            }
        }
        ApplyAction::Update => {
            let prior = req.prior.clone().unwrap_or_default();
            if str_attr(&prior, "kubernetes_version")
                != str_attr(&req.planned, "kubernetes_version")
            {
                if let Some(v) = str_attr(&req.planned, "kubernetes_version") {
                    c.eks
                        .update_cluster_version()
                        .name(&name)
                        .version(v)
                        .send()
                        .await
                        .map_err(|e| classify(&format!("upgrading EKS cluster {name}"), e))?;
                    wait_active(c, &name, deadline).await?;
                }
            }
            if flag(&prior, "public_endpoint", true) != flag(&req.planned, "public_endpoint", true)
            {
                c.eks
                    .update_cluster_config()
                    .name(&name)
                    .resources_vpc_config(
                        VpcConfigRequest::builder()
                            .endpoint_public_access(flag(&req.planned, "public_endpoint", true))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        classify(
                            &format!("changing endpoint access of EKS cluster {name}"),
                            e,
                        )
                    })?;
                wait_active(c, &name, deadline).await?;
            }
            let (had, want) = (tags_of(&prior), tags_of(&req.planned));
            if had != want {
                let arn = describe(c, &name)
                    .await?
                    .and_then(|cl| cl.arn().map(str::to_string))
                    .ok_or_else(|| invalid(format!("EKS cluster {name} has no ARN")))?;
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
                        .map_err(|e| classify(&format!("untagging EKS cluster {name}"), e))?;
                }
                if !want.is_empty() {
                    c.eks
                        .tag_resource()
                        .resource_arn(&arn)
                        .set_tags(Some(want.into_iter().collect()))
                        .send()
                        .await
                        .map_err(|e| classify(&format!("tagging EKS cluster {name}"), e))?;
                }
            }
        }
        ApplyAction::Delete => {
            match c.eks.delete_cluster().name(&name).send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception()) =>
                {
                    return Ok(ApplyResponse::default())
                }
                Err(e) => return Err(classify(&format!("deleting EKS cluster {name}"), e)),
            }
            // Deletion takes minutes on AWS: wait until the cluster is gone.
            wait::until_gone(&format!("EKS cluster {name}"), deadline, || {
                describe(c, &name)
            })
            .await?;
            return Ok(ApplyResponse::default());
        }
    }
    wait_active(c, &name, deadline).await?;
    match read(c, &name, &req.planned).await? {
        ReadResponse::Found { attributes } => Ok(ApplyResponse {
            id: Some(name),
            attributes: Some(attributes),
        }),
        ReadResponse::Gone => Err(ProviderError::new(
            ErrorKind::Transient,
            format!("EKS cluster {name} is not visible yet"),
        )),
    }
}

/// Poll until the cluster is ACTIVE; FAILED is an error.
async fn wait_active(c: &Clients, name: &str, deadline: Instant) -> Result<(), ProviderError> {
    wait::until(
        &format!("EKS cluster {name} to become ACTIVE"),
        deadline,
        || async {
            match describe(c, name).await?.and_then(|cl| cl.status().cloned()) {
                Some(ClusterStatus::Active) => Ok(Poll::Ready(())),
                Some(ClusterStatus::Failed) => Err(invalid(format!(
                    "EKS cluster {name} failed to become ACTIVE"
                ))),
                status => Ok(Poll::Pending(format!("{status:?}"))),
            }
        },
    )
    .await
}

async fn describe(
    c: &Clients,
    name: &str,
) -> Result<Option<aws_sdk_eks::types::Cluster>, ProviderError> {
    match c.eks.describe_cluster().name(name).send().await {
        Ok(out) => Ok(out.cluster().cloned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(classify(&format!("reading EKS cluster {name}"), e)),
    }
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let Some(cl) = describe(c, id).await? else {
        return Ok(ReadResponse::Gone);
    };
    let vpc = cl.resources_vpc_config();
    let tags: BTreeMap<String, Value> = cl
        .tags()
        .map(|t| {
            t.iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect()
        })
        .unwrap_or_default();
    let mut attrs = named(prior, id);
    attrs.insert("region".into(), Value::String(c.region.clone()));
    if let Some(v) = cl.version() {
        attrs.insert("kubernetes_version".into(), Value::from(v));
    }
    if let Some(r) = cl.role_arn() {
        attrs.insert("role_arn".into(), Value::from(r));
    }
    if let Some(vpc) = vpc {
        attrs.insert(
            "subnet_ids".into(),
            Value::List(
                vpc.subnet_ids()
                    .iter()
                    .map(|s| Value::from(s.as_str()))
                    .collect(),
            ),
        );
        attrs.insert(
            "public_endpoint".into(),
            Value::Bool(vpc.endpoint_public_access()),
        );
    }
    attrs.insert(
        "endpoint".into(),
        cl.endpoint().map(Value::from).unwrap_or(Value::Null),
    );
    attrs.insert("tags".into(), Value::Map(tags));
    Ok(ReadResponse::Found { attributes: attrs })
}
