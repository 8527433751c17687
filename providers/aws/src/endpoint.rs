//! `endpoint` → a SageMaker model, an endpoint config and an endpoint.
//!
//! The model and the config are named `ENDPOINT-HASH`, where HASH covers everything they
//! hold, so a retried create finds its own objects. A change of model or instance creates
//! a new model and config and swaps them in with UpdateEndpoint, rolled out as `rollout`
//! says (all at once, canary or linear blue/green traffic shifting); the old config and
//! model are deleted once the endpoint is InService on the new one. The id is the
//! endpoint name.
//!
//! `environment_wo` joins the model's environment when the model is made; HASH covers its
//! names and `environment_wo_version`, never its values, and a read leaves it out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mlinfra_provider_api::wait::{self, Poll};

use aws_sdk_sagemaker::types::{
    BlueGreenUpdatePolicy, CapacitySize, CapacitySizeType, ContainerDefinition, DeploymentConfig,
    EndpointStatus, ProductionVariant, ProductionVariantInstanceType, TrafficRoutingConfig,
    TrafficRoutingConfigType,
};
use mlinfra_provider_api::{
    already_exists, secret_env, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind,
    ProviderError, ReadResponse,
};
use mlinfra_schema::Value;

use crate::attrs::{invalid, str_attr};
use crate::clients::Clients;
use crate::errors::classify;
use crate::sagemaker::{check_name, is_existing, is_missing, read_tags, sdk_tags, update_tags};

const VARIANT: &str = "main";

/// What the model and the endpoint config hold.
#[derive(Debug, PartialEq)]
struct Spec {
    image: String,
    artifact: Option<String>,
    environment: BTreeMap<String, String>,
    /// The secret variables' names and version ([`secret_env::fingerprint`]).
    secret: String,
    instance_type: String,
    count: i32,
    role: String,
}

fn spec(a: &Attributes) -> Result<Spec, ProviderError> {
    let model = a
        .get("model")
        .and_then(Value::as_map)
        .ok_or_else(|| invalid("endpoint has no model".into()))?;
    let instance = a
        .get("instance")
        .and_then(Value::as_map)
        .ok_or_else(|| invalid("endpoint has no instance".into()))?;
    let count = instance.get("count").and_then(Value::as_f64).unwrap_or(1.0);
    if count.fract() != 0.0 || !(1.0..=1000.0).contains(&count) {
        return Err(invalid(format!(
            "instance.count must be a whole number from 1 to 1000, found {count}"
        )));
    }
    Ok(Spec {
        image: model
            .get("image")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("model.image is required".into()))?
            .to_string(),
        artifact: model
            .get("artifact")
            .and_then(Value::as_str)
            .map(str::to_string),
        environment: model
            .get("environment")
            .and_then(Value::as_map)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        secret: secret_env::fingerprint(a),
        instance_type: instance
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("instance.type is required".into()))?
            .to_string(),
        count: count as i32,
        role: str_attr(a, "role_arn")
            .ok_or_else(|| {
                invalid("a SageMaker endpoint needs role_arn (its execution role)".into())
            })?
            .to_string(),
    })
}

/// FNV-1a over the spec: stable across runs and builds.
fn spec_hash(s: &Spec) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |b: &str| {
        for byte in b.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(&s.image);
    feed(s.artifact.as_deref().unwrap_or(""));
    for (k, v) in &s.environment {
        feed(k);
        feed(v);
    }
    if !s.secret.is_empty() {
        feed(&s.secret);
    }
    feed(&s.instance_type);
    feed(&s.count.to_string());
    feed(&s.role);
    format!("{:08x}", h as u32)
}

/// `ENDPOINT-HASH`, within SageMaker's 63 characters.
fn object_name(endpoint: &str, s: &Spec) -> String {
    let base: String = endpoint.chars().take(54).collect();
    format!("{}-{}", base.trim_end_matches('-'), spec_hash(s))
}

fn rollout(a: &Attributes) -> Result<DeploymentConfig, ProviderError> {
    let r = a.get("rollout").and_then(Value::as_map);
    let get = |k: &str| r.and_then(|r| r.get(k));
    let strategy = get("strategy")
        .and_then(Value::as_str)
        .unwrap_or("all_at_once");
    let bake = get("bake_minutes").and_then(Value::as_f64).unwrap_or(10.0);
    let wait = (bake * 60.0).round().clamp(0.0, 3600.0) as i32;
    let percent = |k: &str, default: f64| -> Result<CapacitySize, ProviderError> {
        let p = get(k).and_then(Value::as_f64).unwrap_or(default);
        if !(1.0..=99.0).contains(&p) || p.fract() != 0.0 {
            return Err(invalid(format!(
                "rollout.{k} must be a whole percentage from 1 to 99, found {p}"
            )));
        }
        Ok(CapacitySize::builder()
            .r#type(CapacitySizeType::CapacityPercent)
            .value(p as i32)
            .build())
    };
    let routing = match strategy {
        "canary" => TrafficRoutingConfig::builder()
            .r#type(TrafficRoutingConfigType::Canary)
            .canary_size(percent("canary_percent", 10.0)?),
        "linear" => TrafficRoutingConfig::builder()
            .r#type(TrafficRoutingConfigType::Linear)
            .linear_step_size(percent("linear_step_percent", 20.0)?),
        _ => TrafficRoutingConfig::builder().r#type(TrafficRoutingConfigType::AllAtOnce),
    }
    .wait_interval_in_seconds(wait)
    .build();
    Ok(DeploymentConfig::builder()
        .blue_green_update_policy(
            BlueGreenUpdatePolicy::builder()
                .traffic_routing_configuration(routing)
                .build(),
        )
        .build())
}

/// Create the model and the endpoint config for `s`, adopting ones a killed run made.
async fn create_objects(
    c: &Clients,
    endpoint: &str,
    s: &Spec,
    secrets: BTreeMap<String, String>,
    tags: &Attributes,
) -> Result<String, ProviderError> {
    let name = object_name(endpoint, s);
    let mut environment = s.environment.clone();
    environment.extend(secrets);
    let container = ContainerDefinition::builder()
        .image(&s.image)
        .set_model_data_url(s.artifact.clone())
        .set_environment((!environment.is_empty()).then(|| environment.into_iter().collect()))
        .build();
    if let Err(e) = c
        .sagemaker
        .create_model()
        .model_name(&name)
        .execution_role_arn(&s.role)
        .primary_container(container)
        .set_tags(sdk_tags(tags))
        .send()
        .await
    {
        if !e.as_service_error().is_some_and(is_existing) {
            return Err(classify(&format!("creating SageMaker model {name}"), e));
        }
    }
    let variant = ProductionVariant::builder()
        .variant_name(VARIANT)
        .model_name(&name)
        .instance_type(ProductionVariantInstanceType::from(
            s.instance_type.as_str(),
        ))
        .initial_instance_count(s.count)
        .build();
    if let Err(e) = c
        .sagemaker
        .create_endpoint_config()
        .endpoint_config_name(&name)
        .production_variants(variant)
        .set_tags(sdk_tags(tags))
        .send()
        .await
    {
        if !e.as_service_error().is_some_and(is_existing) {
            return Err(classify(
                &format!("creating SageMaker endpoint config {name}"),
                e,
            ));
        }
    }
    Ok(name)
}

/// Delete a model and endpoint config pair; already gone is fine.
async fn delete_objects(c: &Clients, name: &str) -> Result<(), ProviderError> {
    if let Err(e) = c
        .sagemaker
        .delete_endpoint_config()
        .endpoint_config_name(name)
        .send()
        .await
    {
        if !e.as_service_error().is_some_and(is_missing) {
            return Err(classify(
                &format!("deleting SageMaker endpoint config {name}"),
                e,
            ));
        }
    }
    if let Err(e) = c.sagemaker.delete_model().model_name(name).send().await {
        if !e.as_service_error().is_some_and(is_missing) {
            return Err(classify(&format!("deleting SageMaker model {name}"), e));
        }
    }
    Ok(())
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let name = str_attr(&req.planned, "name")
        .or_else(|| req.prior.as_ref().and_then(|p| str_attr(p, "name")))
        .ok_or_else(|| invalid("endpoint has no name".into()))?
        .to_string();
    let deadline = wait::deadline(req.timeout_seconds, Duration::from_secs(60 * 60));
    let p = &req.planned;
    if req.action != ApplyAction::Delete
        && p.get("autoscaling")
            .is_some_and(|v| !matches!(v, Value::Null))
    {
        return Err(invalid(
            "autoscaling on AWS endpoints (Application Auto Scaling) is not supported by this build yet; remove the autoscaling block or set instance.count".into(),
        ));
    }
    match req.action {
        ApplyAction::Create => {
            check_name("endpoint", &name)?;
            // Looked up first: not every endpoint refuses a second create of the same name,
            // and the model and config made below must not be attached to someone else's.
            if !req.adopt_existing && describe(c, &name).await?.is_some() {
                return Err(already_exists(&format!("SageMaker endpoint {name}"), &name));
            }
            let s = spec(p)?;
            let secrets = secret_env::values(p, &req.write_only)?;
            let config = create_objects(c, &name, &s, secrets, p).await?;
            if let Err(e) = c
                .sagemaker
                .create_endpoint()
                .endpoint_name(&name)
                .endpoint_config_name(&config)
                .set_tags(sdk_tags(p))
                .send()
                .await
            {
                if !e.as_service_error().is_some_and(is_existing) {
                    return Err(classify(&format!("creating SageMaker endpoint {name}"), e));
                }
                if !req.adopt_existing {
                    return Err(already_exists(&format!("SageMaker endpoint {name}"), &name));
                }
            }
            wait_in_service(c, &name, deadline).await?;
        }
        ApplyAction::Update => {
            let prior = req.prior.clone().unwrap_or_default();
            let s = spec(p)?;
            let live = describe(c, &name).await?.ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("SageMaker endpoint {name} no longer exists; run plan again"),
                )
            })?;
            let current = live.endpoint_config_name().unwrap_or_default().to_string();
            let wanted = object_name(&name, &s);
            if current != wanted {
                let secrets = secret_env::values(p, &req.write_only)?;
                create_objects(c, &name, &s, secrets, p).await?;
                wait_in_service(c, &name, deadline).await?;
                c.sagemaker
                    .update_endpoint()
                    .endpoint_name(&name)
                    .endpoint_config_name(&wanted)
                    .deployment_config(rollout(p)?)
                    .send()
                    .await
                    .map_err(|e| classify(&format!("updating SageMaker endpoint {name}"), e))?;
                wait_in_service(c, &name, deadline).await?;
                if !current.is_empty() {
                    delete_objects(c, &current).await?;
                }
            }
            if let Some(arn) = live.endpoint_arn() {
                update_tags(c, arn, &prior, p).await?;
            }
        }
        ApplyAction::Delete => {
            let live = describe(c, &name).await?;
            let config = live
                .as_ref()
                .and_then(|d| d.endpoint_config_name().map(str::to_string));
            if live.is_some() {
                match c
                    .sagemaker
                    .delete_endpoint()
                    .endpoint_name(&name)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.as_service_error().is_some_and(is_missing) => {}
                    Err(e) => {
                        return Err(classify(&format!("deleting SageMaker endpoint {name}"), e))
                    }
                }
                wait::until_gone(&format!("SageMaker endpoint {name}"), deadline, || {
                    describe(c, &name)
                })
                .await?;
            }
            // The objects of the recorded spec too, in case the endpoint went first.
            let mut names: Vec<String> = config.into_iter().collect();
            if let Some(s) = req.prior.as_ref().and_then(|a| spec(a).ok()) {
                names.push(object_name(&name, &s));
            }
            names.dedup();
            for n in names {
                delete_objects(c, &n).await?;
            }
            return Ok(ApplyResponse::default());
        }
    }
    match read(c, &name, p).await? {
        ReadResponse::Found { attributes } => Ok(ApplyResponse {
            id: Some(name),
            attributes: Some(attributes),
        }),
        ReadResponse::Gone => Err(ProviderError::new(
            ErrorKind::Transient,
            format!("SageMaker endpoint {name} is not visible yet"),
        )),
    }
}

/// Poll until the endpoint is InService; Failed is an error.
async fn wait_in_service(c: &Clients, name: &str, deadline: Instant) -> Result<(), ProviderError> {
    wait::until(
        &format!("SageMaker endpoint {name} to be InService"),
        deadline,
        || async {
            let d = describe(c, name).await?;
            let status = d.as_ref().and_then(|d| d.endpoint_status().cloned());
            match status {
                Some(EndpointStatus::InService) => Ok(Poll::Ready(())),
                Some(EndpointStatus::Failed) | Some(EndpointStatus::UpdateRollbackFailed) => {
                    let reason = d
                        .as_ref()
                        .and_then(|d| d.failure_reason())
                        .unwrap_or("no reason given");
                    let message = format!("SageMaker endpoint {name} is {status:?}: {reason}");
                    Err(
                        if reason.contains("InsufficientCapacity") || reason.contains("capacity") {
                            ProviderError::new(ErrorKind::Capacity, message)
                        } else {
                            invalid(message)
                        },
                    )
                }
                status => Ok(Poll::Pending(format!("{status:?}"))),
            }
        },
    )
    .await
}

type Described = aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;

async fn describe(c: &Clients, name: &str) -> Result<Option<Described>, ProviderError> {
    match c
        .sagemaker
        .describe_endpoint()
        .endpoint_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(is_missing) => Ok(None),
        Err(e) => Err(classify(&format!("reading SageMaker endpoint {name}"), e)),
    }
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let Some(d) = describe(c, id).await? else {
        return Ok(ReadResponse::Gone);
    };
    let mut attrs = prior.clone();
    attrs.insert("cloud".into(), Value::from("aws"));
    attrs.insert("name".into(), Value::from(id));
    attrs.insert("id".into(), Value::from(id));
    attrs.insert(
        "url".into(),
        Value::String(format!(
            "https://runtime.sagemaker.{}.amazonaws.com/endpoints/{id}/invocations",
            c.region
        )),
    );
    if let Some(config) = d.endpoint_config_name() {
        let cfg = c
            .sagemaker
            .describe_endpoint_config()
            .endpoint_config_name(config)
            .send()
            .await
            .map_err(|e| classify(&format!("reading SageMaker endpoint config {config}"), e))?;
        if let Some(v) = cfg.production_variants().first() {
            let mut instance = BTreeMap::new();
            instance.insert(
                "type".into(),
                v.instance_type()
                    .map(|t| Value::from(t.as_str()))
                    .unwrap_or(Value::Null),
            );
            // An unset count means one instance.
            let count_unset = prior
                .get("instance")
                .and_then(Value::as_map)
                .is_some_and(|i| i.get("count").is_none_or(|c| matches!(c, Value::Null)));
            let count = match v.initial_instance_count() {
                Some(1) if count_unset => Value::Null,
                Some(n) => Value::from(f64::from(n)),
                None => Value::Null,
            };
            instance.insert("count".into(), count);
            attrs.insert("instance".into(), Value::Map(instance));
            if let Some(model_name) = v.model_name() {
                let m = c
                    .sagemaker
                    .describe_model()
                    .model_name(model_name)
                    .send()
                    .await
                    .map_err(|e| classify(&format!("reading SageMaker model {model_name}"), e))?;
                if let Some(r) = m.execution_role_arn() {
                    attrs.insert("role_arn".into(), Value::from(r));
                }
                if let Some(pc) = m.primary_container() {
                    let prior_model = prior.get("model").and_then(Value::as_map);
                    let mut model = BTreeMap::new();
                    model.insert(
                        "image".into(),
                        pc.image().map(Value::from).unwrap_or(Value::Null),
                    );
                    model.insert(
                        "artifact".into(),
                        pc.model_data_url().map(Value::from).unwrap_or(Value::Null),
                    );
                    let mut env: BTreeMap<String, Value> = pc
                        .environment()
                        .map(|e| {
                            e.iter()
                                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                                .collect()
                        })
                        .unwrap_or_default();
                    secret_env::strip(&mut env, prior);
                    // No variables and `environment = {}` or none at all are the same.
                    let env = if env.is_empty() {
                        prior_model
                            .and_then(|m| m.get("environment"))
                            .filter(|v| v.as_map().is_some_and(|m| m.is_empty()))
                            .cloned()
                            .unwrap_or(Value::Null)
                    } else {
                        Value::Map(env)
                    };
                    model.insert("environment".into(), env);
                    attrs.insert("model".into(), Value::Map(model));
                }
            }
        }
    }
    if let Some(arn) = d.endpoint_arn() {
        attrs.insert("tags".into(), read_tags(c, arn).await?);
    }
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(image: &str) -> Spec {
        Spec {
            image: image.into(),
            artifact: None,
            environment: BTreeMap::new(),
            secret: String::new(),
            instance_type: "ml.g4dn.xlarge".into(),
            count: 1,
            role: "arn:aws:iam::1:role/x".into(),
        }
    }

    #[test]
    fn object_names_follow_the_spec_and_fit_sagemaker() {
        let a = object_name("scorer", &s("img:1"));
        assert_eq!(a, object_name("scorer", &s("img:1")), "stable");
        assert_ne!(a, object_name("scorer", &s("img:2")));
        assert!(a.starts_with("scorer-") && a.len() == "scorer-".len() + 8);
        let long = object_name(&"e".repeat(63), &s("img:1"));
        assert!(long.len() <= 63, "{long}");
        assert!(check_name("model", &long).is_ok());
    }
}
