//! `endpoint` → a Vertex AI Endpoint serving an uploaded Model through one deployed model
//! on dedicated machines.
//!
//! The Model is `ENDPOINT-HASH`, where HASH covers its image, artifact and environment, so
//! a retried upload finds its own model. A change of model or machine rolls out beside the
//! old deployment: the new model is deployed with the traffic `rollout` gives it (all at
//! once: 100; canary: `canary_percent`, then 100 after `bake_minutes`; linear: steps of
//! `linear_step_percent`), and the old one is undeployed and its model deleted last — the
//! endpoint never serves nothing. A replica change is `mutateDeployedModel`, in place.
//! `environment_wo` joins the container's environment at upload; HASH covers its names and
//! `environment_wo_version`, never its values, and a read leaves it out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use google_cloud_aiplatform_v1::model::{
    AcceleratorType, DedicatedResources, DeployedModel, Endpoint, EnvVar, MachineSpec, Model,
    ModelContainerSpec,
};
use google_cloud_longrunning::model::Operation;
use google_cloud_wkt::FieldMask;
use mlinfra_provider_api::rollout::Rollout;
use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, secret_env, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind,
    ProviderError, ReadResponse,
};
use mlinfra_schema::{gpu, Cloud, Value};

use crate::attrs::{invalid, labels_of, name_of, named, read_back, str_attr, tags_value};
use crate::clients::Clients;
use crate::errors::{classify, is_not_found};
use crate::lro;

/// Vertex AI's endpoint id rule (for ids the caller chooses), short enough that the
/// endpoint's model ids (`ID-` and 8 hex digits) fit Vertex AI's 63 characters.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = (1..=54).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{id}\" is not a valid Vertex AI endpoint id here: use up to 54 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen"
        ))
    }
}

/// A Compute Engine machine type, as Vertex AI serves on (`n1-standard-4`, `g2-standard-8`).
pub fn check_machine(t: &str) -> Result<(), String> {
    let ok = t.split_once('-').is_some_and(|(family, rest)| {
        !family.is_empty()
            && family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{t}\" is not a Compute Engine machine type, which Vertex AI serves on: use one like n1-standard-4 or g2-standard-8"
        ))
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Spec {
    image: String,
    artifact: Option<String>,
    environment: BTreeMap<String, String>,
    /// The secret variables' names and version ([`secret_env::fingerprint`]).
    secret: String,
    machine: String,
    min: i32,
    max: i32,
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
    let count = instance.get("count").and_then(Value::as_f64).unwrap_or(1.0) as i32;
    let scaling = a.get("autoscaling").and_then(Value::as_map);
    let bound = |k: &str, d: i32| {
        scaling
            .and_then(|m| m.get(k))
            .and_then(Value::as_f64)
            .map(|v| v as i32)
            .unwrap_or(d)
    };
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
        machine: instance
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("instance.type is required".into()))?
            .to_string(),
        min: bound("min", count.max(1)),
        max: bound("max", count.max(1)),
    })
}

/// The model's id: the endpoint's name and a stable hash of what the model holds.
fn model_id(endpoint: &str, s: &Spec) -> String {
    // FNV-1a: stable across builds, unlike the standard library's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |b: &[u8]| {
        for x in b {
            h ^= u64::from(*x);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
    };
    feed(s.image.as_bytes());
    feed(s.artifact.as_deref().unwrap_or_default().as_bytes());
    for (k, v) in &s.environment {
        feed(k.as_bytes());
        feed(v.as_bytes());
    }
    if !s.secret.is_empty() {
        feed(s.secret.as_bytes());
    }
    format!("{endpoint}-{:08x}", h as u32)
}

fn accelerator(machine: &str) -> Option<(AcceleratorType, i32)> {
    let m = gpu::machine_named(Cloud::Gcp, machine)?;
    let t = match m.accelerator {
        "T4" => AcceleratorType::NvidiaTeslaT4,
        "V100" => AcceleratorType::NvidiaTeslaV100,
        "L4" => AcceleratorType::NvidiaL4,
        "A100" => AcceleratorType::NvidiaTeslaA100,
        "A100-80GB" => AcceleratorType::NvidiaA10080Gb,
        "H100" => AcceleratorType::NvidiaH10080Gb,
        "H200" => AcceleratorType::NvidiaH200141Gb,
        "B200" => AcceleratorType::NvidiaB200,
        _ => return None,
    };
    Some((t, m.gpus as i32))
}

fn resources(s: &Spec) -> DedicatedResources {
    let mut machine = MachineSpec::new().set_machine_type(&s.machine);
    if let Some((t, n)) = accelerator(&s.machine) {
        machine = machine.set_accelerator_type(t).set_accelerator_count(n);
    }
    DedicatedResources::new()
        .set_machine_spec(machine)
        .set_min_replica_count(s.min)
        .set_max_replica_count(s.max)
}

fn endpoint_name(c: &Clients, id: &str) -> String {
    if id.starts_with("projects/") {
        id.to_string()
    } else {
        format!("{}/endpoints/{id}", c.location(&c.region))
    }
}

fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

async fn op_endpoint(c: &Clients, name: String) -> Result<Operation, ProviderError> {
    c.endpoints
        .get_operation()
        .set_name(&name)
        .send()
        .await
        .map_err(|e| classify(&format!("reading operation {name}"), e))
}

async fn op_model(c: &Clients, name: String) -> Result<Operation, ProviderError> {
    c.models
        .get_operation()
        .set_name(&name)
        .send()
        .await
        .map_err(|e| classify(&format!("reading operation {name}"), e))
}

/// Upload the model unless this spec's model is there already; its resource name.
async fn upload(
    c: &Clients,
    endpoint: &str,
    s: &Spec,
    secrets: BTreeMap<String, String>,
    limit: Instant,
) -> Result<String, ProviderError> {
    let id = model_id(endpoint, s);
    let name = format!("{}/models/{id}", c.location(&c.region));
    match c.models.get_model().set_name(&name).send().await {
        Ok(m) => return Ok(m.name),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(classify(&format!("reading Vertex AI model {name}"), e)),
    }
    let mut environment = s.environment.clone();
    environment.extend(secrets);
    let container = ModelContainerSpec::new().set_image_uri(&s.image).set_env(
        environment
            .iter()
            .map(|(k, v)| EnvVar::new().set_name(k).set_value(v)),
    );
    let mut model = Model::new()
        .set_display_name(&id)
        .set_container_spec(container);
    if let Some(a) = &s.artifact {
        model = model.set_artifact_uri(a);
    }
    let sent = c
        .models
        .upload_model()
        .set_parent(c.location(&c.region))
        .set_model_id(&id)
        .set_model(model)
        .send()
        .await;
    match sent {
        Ok(op) => {
            lro::done(
                &format!("Vertex AI model {name} to be uploaded"),
                limit,
                op,
                |n| op_model(c, n),
            )
            .await?;
        }
        Err(e) => {
            let err = classify(&format!("uploading Vertex AI model {name}"), e);
            if err.kind != ErrorKind::AlreadyExists {
                return Err(err);
            }
        }
    }
    let m = c
        .models
        .get_model()
        .set_name(&name)
        .send()
        .await
        .map_err(|e| classify(&format!("reading Vertex AI model {name}"), e))?;
    Ok(m.name)
}

async fn get(c: &Clients, name: &str) -> Result<Option<Endpoint>, ProviderError> {
    match c.endpoints.get_endpoint().set_name(name).send().await {
        Ok(e) => Ok(Some(e)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(classify(&format!("reading Vertex AI endpoint {name}"), e)),
    }
}

fn same_model(a: &str, b: &str) -> bool {
    short(a) == short(b)
}

/// Whether deployment `d` serves `model` on the machine `s` asks for.
fn serves(d: &DeployedModel, model: &str, s: &Spec) -> bool {
    same_model(&d.model, model)
        && d.dedicated_resources()
            .and_then(|r| r.machine_spec.as_ref())
            .is_some_and(|m| m.machine_type == s.machine)
}

/// Deploy `model` with `percent` of the traffic; the rest stays with what serves now.
async fn deploy(
    c: &Clients,
    endpoint: &str,
    model: &str,
    s: &Spec,
    percent: i32,
    limit: Instant,
) -> Result<String, ProviderError> {
    let now = get(c, endpoint).await?.unwrap_or_default();
    if let Some(d) = now.deployed_models.iter().find(|d| serves(d, model, s)) {
        return Ok(d.id.clone());
    }
    let mut split: std::collections::HashMap<String, i32> = std::collections::HashMap::new();
    split.insert("0".into(), percent);
    let others: Vec<&DeployedModel> = now.deployed_models.iter().collect();
    if let Some(first) = others.first() {
        split.insert(first.id.clone(), 100 - percent);
        for o in others.iter().skip(1) {
            split.insert(o.id.clone(), 0);
        }
    }
    let dm = DeployedModel::new()
        .set_model(model)
        .set_display_name(short(model))
        .set_dedicated_resources(resources(s));
    let op = c
        .endpoints
        .deploy_model()
        .set_endpoint(endpoint)
        .set_deployed_model(dm)
        .set_traffic_split(split)
        .send()
        .await
        .map_err(|e| {
            classify(
                &format!(
                    "deploying {} to Vertex AI endpoint {endpoint}",
                    short(model)
                ),
                e,
            )
        })?;
    lro::done(
        &format!("{} to be deployed on {endpoint}", short(model)),
        limit,
        op,
        |n| op_endpoint(c, n),
    )
    .await?;
    let after = get(c, endpoint).await?.unwrap_or_default();
    after
        .deployed_models
        .iter()
        .find(|d| serves(d, model, s) && now.deployed_models.iter().all(|o| o.id != d.id))
        .map(|d| d.id.clone())
        .ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Transient,
                format!(
                    "{} was deployed on {endpoint} but is not listed yet",
                    short(model)
                ),
            )
        })
}

async fn set_traffic(
    c: &Clients,
    endpoint: &str,
    split: &[(String, i32)],
) -> Result<(), ProviderError> {
    c.endpoints
        .update_endpoint()
        .set_endpoint(
            Endpoint::new()
                .set_name(endpoint)
                .set_traffic_split(split.iter().cloned()),
        )
        .set_update_mask(FieldMask::default().set_paths(["traffic_split"]))
        .send()
        .await
        .map_err(|e| {
            classify(
                &format!("shifting traffic on Vertex AI endpoint {endpoint}"),
                e,
            )
        })?;
    Ok(())
}

async fn undeploy_others(
    c: &Clients,
    endpoint: &str,
    keep: &str,
    limit: Instant,
) -> Result<(), ProviderError> {
    let now = get(c, endpoint).await?.unwrap_or_default();
    for d in now.deployed_models.iter().filter(|d| d.id != keep) {
        let op = c
            .endpoints
            .undeploy_model()
            .set_endpoint(endpoint)
            .set_deployed_model_id(&d.id)
            .set_traffic_split([(keep.to_string(), 100)])
            .send()
            .await
            .map_err(|e| classify(&format!("undeploying {} from {endpoint}", d.id), e))?;
        lro::done(
            &format!("{} to be undeployed from {endpoint}", d.id),
            limit,
            op,
            |n| op_endpoint(c, n),
        )
        .await?;
        // The same model may stay deployed on another machine: delete it only when unused.
        let kept = now
            .deployed_models
            .iter()
            .any(|o| o.id == keep && same_model(&o.model, &d.model));
        if !kept {
            delete_model(c, &d.model, limit).await?;
        }
    }
    Ok(())
}

async fn delete_model(c: &Clients, name: &str, limit: Instant) -> Result<(), ProviderError> {
    match c.models.delete_model().set_name(name).send().await {
        Ok(op) => {
            lro::done(
                &format!("Vertex AI model {name} to be deleted"),
                limit,
                op,
                |n| op_model(c, n),
            )
            .await?;
            Ok(())
        }
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(classify(&format!("deleting Vertex AI model {name}"), e)),
    }
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let limit = deadline(req.timeout_seconds, Duration::from_secs(3600));
    let id = name_of(&req.planned, "endpoint")?.to_string();
    let name = endpoint_name(c, &id);
    match req.action {
        ApplyAction::Create => {
            let s = spec(&req.planned)?;
            let sent = c
                .endpoints
                .create_endpoint()
                .set_parent(c.location(&c.region))
                .set_endpoint_id(&id)
                .set_endpoint(
                    Endpoint::new()
                        .set_display_name(&id)
                        .set_labels(labels_of(&req.planned)),
                )
                .send()
                .await;
            match sent {
                Ok(op) => {
                    lro::done(
                        &format!("Vertex AI endpoint {name} to be created"),
                        limit,
                        op,
                        |n| op_endpoint(c, n),
                    )
                    .await?;
                }
                Err(e) => {
                    let err = classify(&format!("creating Vertex AI endpoint {name}"), e);
                    if err.kind != ErrorKind::AlreadyExists {
                        return Err(err);
                    }
                    if !req.adopt_existing {
                        return Err(already_exists(&format!("Vertex AI endpoint {name}"), &id));
                    }
                }
            }
            let secrets = secret_env::values(&req.planned, &req.write_only)?;
            let model = upload(c, &id, &s, secrets, limit).await?;
            let keep = deploy(c, &name, &model, &s, 100, limit).await?;
            undeploy_others(c, &name, &keep, limit).await?;
        }
        ApplyAction::Update => {
            let prior = req.prior.clone().unwrap_or_default();
            let was = spec(&prior)?;
            let want = spec(&req.planned)?;
            if labels_of(&prior) != labels_of(&req.planned) {
                c.endpoints
                    .update_endpoint()
                    .set_endpoint(
                        Endpoint::new()
                            .set_name(&name)
                            .set_labels(labels_of(&req.planned)),
                    )
                    .set_update_mask(FieldMask::default().set_paths(["labels"]))
                    .send()
                    .await
                    .map_err(|e| classify(&format!("labelling Vertex AI endpoint {name}"), e))?;
            }
            let rolls = was.image != want.image
                || was.artifact != want.artifact
                || was.environment != want.environment
                || was.secret != want.secret
                || was.machine != want.machine;
            if rolls {
                let secrets = secret_env::values(&req.planned, &req.write_only)?;
                let model = upload(c, &id, &want, secrets, limit).await?;
                let r = Rollout::of(&req.planned);
                let first = r.first_percent() as i32;
                let new_id = deploy(c, &name, &model, &want, first, limit).await?;
                let old: Vec<String> = get(c, &name)
                    .await?
                    .unwrap_or_default()
                    .deployed_models
                    .iter()
                    .filter(|d| d.id != new_id)
                    .map(|d| d.id.clone())
                    .collect();
                let mut at = first;
                while at < 100 {
                    tokio::time::sleep(Duration::from_secs(r.bake_seconds)).await;
                    at = r.next_percent(i64::from(at)) as i32;
                    let mut split = vec![(new_id.clone(), at)];
                    if let Some(o) = old.first() {
                        split.push((o.clone(), 100 - at));
                    }
                    split.extend(old.iter().skip(1).map(|o| (o.clone(), 0)));
                    set_traffic(c, &name, &split).await?;
                }
                undeploy_others(c, &name, &new_id, limit).await?;
            } else if was.min != want.min || was.max != want.max {
                let now = get(c, &name).await?.unwrap_or_default();
                if let Some(d) = now.deployed_models.first() {
                    let op = c
                        .endpoints
                        .mutate_deployed_model()
                        .set_endpoint(&name)
                        .set_deployed_model(
                            DeployedModel::new()
                                .set_id(&d.id)
                                .set_dedicated_resources(resources(&want)),
                        )
                        .set_update_mask(FieldMask::default().set_paths([
                            "dedicated_resources.min_replica_count",
                            "dedicated_resources.max_replica_count",
                        ]))
                        .send()
                        .await
                        .map_err(|e| classify(&format!("rescaling {} on {name}", d.id), e))?;
                    lro::done(&format!("{} on {name} to rescale", d.id), limit, op, |n| {
                        op_endpoint(c, n)
                    })
                    .await?;
                }
            }
        }
        ApplyAction::Delete => {
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            let name = endpoint_name(c, str_attr(prior, "id").unwrap_or(&id));
            if let Some(now) = get(c, &name).await? {
                for d in &now.deployed_models {
                    let op = c
                        .endpoints
                        .undeploy_model()
                        .set_endpoint(&name)
                        .set_deployed_model_id(&d.id)
                        .send()
                        .await
                        .map_err(|e| classify(&format!("undeploying {} from {name}", d.id), e))?;
                    lro::done(
                        &format!("{} to be undeployed from {name}", d.id),
                        limit,
                        op,
                        |n| op_endpoint(c, n),
                    )
                    .await?;
                    delete_model(c, &d.model, limit).await?;
                }
                match c.endpoints.delete_endpoint().set_name(&name).send().await {
                    Ok(op) => {
                        lro::done(
                            &format!("Vertex AI endpoint {name} to be deleted"),
                            limit,
                            op,
                            |n| op_endpoint(c, n),
                        )
                        .await?;
                    }
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => {
                        return Err(classify(&format!("deleting Vertex AI endpoint {name}"), e))
                    }
                }
            }
            // A model uploaded by an interrupted create, never deployed.
            if let Ok(s) = spec(prior) {
                let id = str_attr(prior, "name").unwrap_or(&id).to_string();
                delete_model(
                    c,
                    &format!("{}/models/{}", c.location(&c.region), model_id(&id, &s)),
                    limit,
                )
                .await?;
            }
            return Ok(ApplyResponse::default());
        }
    }
    read_back(
        read(c, &name, &req.planned).await?,
        None,
        &format!("Vertex AI endpoint {name}"),
    )
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let name = endpoint_name(c, id);
    let Some(e) = get(c, &name).await? else {
        return Ok(ReadResponse::Gone);
    };
    let mut attrs = named(prior, short(&e.name), &e.name);
    attrs.insert("tags".into(), tags_value(&e.labels));
    attrs.insert(
        "url".into(),
        Value::String(format!(
            "https://{}-aiplatform.googleapis.com/v1/{}:predict",
            c.region, e.name
        )),
    );
    // What serves most of the traffic is what the manifest describes.
    let serving = e
        .deployed_models
        .iter()
        .max_by_key(|d| e.traffic_split.get(&d.id).copied().unwrap_or(0));
    let Some(d) = serving else {
        return Ok(ReadResponse::Found { attributes: attrs });
    };
    let m = match c.models.get_model().set_name(&d.model).send().await {
        Ok(m) => Some(m),
        Err(err) if is_not_found(&err) => None,
        Err(err) => {
            return Err(classify(
                &format!("reading Vertex AI model {}", d.model),
                err,
            ))
        }
    };
    if let Some(spec) = m.as_ref().and_then(|m| m.container_spec.as_ref()) {
        let mut model = prior
            .get("model")
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        model.insert("image".into(), Value::from(spec.image_uri.as_str()));
        let artifact = m
            .as_ref()
            .map(|m| m.artifact_uri.clone())
            .unwrap_or_default();
        model.insert(
            "artifact".into(),
            if artifact.is_empty() {
                Value::Null
            } else {
                Value::from(artifact.as_str())
            },
        );
        let mut env: BTreeMap<String, Value> = spec
            .env
            .iter()
            .map(|v| (v.name.clone(), Value::from(v.value.as_str())))
            .collect();
        secret_env::strip(&mut env, prior);
        if !env.is_empty()
            || model
                .get("environment")
                .is_some_and(|v| !matches!(v, Value::Null))
        {
            model.insert("environment".into(), Value::Map(env));
        }
        attrs.insert("model".into(), Value::Map(model));
    }
    if let Some(r) = d.dedicated_resources() {
        let mut instance = prior
            .get("instance")
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        if let Some(ms) = &r.machine_spec {
            instance.insert("type".into(), Value::from(ms.machine_type.as_str()));
        }
        let scaled = prior
            .get("autoscaling")
            .is_some_and(|v| v.as_map().is_some());
        if scaled {
            let mut a = prior
                .get("autoscaling")
                .and_then(Value::as_map)
                .cloned()
                .unwrap_or_default();
            a.insert("min".into(), Value::from(f64::from(r.min_replica_count)));
            a.insert("max".into(), Value::from(f64::from(r.max_replica_count)));
            attrs.insert("autoscaling".into(), Value::Map(a));
        } else {
            instance.insert("count".into(), Value::from(f64::from(r.min_replica_count)));
        }
        attrs.insert("instance".into(), Value::Map(instance));
    }
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_machines_and_model_ids() {
        assert!(check_id("scorer").is_ok());
        assert!(check_id("Scorer").is_err());
        assert!(check_machine("n1-standard-4").is_ok());
        assert!(check_machine("g2-standard-8").is_ok());
        assert!(check_machine("ml.g5.xlarge").is_err());
        let s = Spec {
            image: "us-docker.pkg.dev/p/r/scorer:3".into(),
            artifact: None,
            environment: BTreeMap::new(),
            secret: String::new(),
            machine: "g2-standard-4".into(),
            min: 1,
            max: 1,
        };
        let a = model_id("scorer", &s);
        assert_eq!(a, model_id("scorer", &s.clone()));
        let mut t = s.clone();
        t.image = "us-docker.pkg.dev/p/r/scorer:4".into();
        assert_ne!(a, model_id("scorer", &t));
        // The machine is not the model: a new machine deploys the same model again.
        let mut u = s.clone();
        u.machine = "g2-standard-8".into();
        assert_eq!(a, model_id("scorer", &u));
        assert_eq!(
            accelerator("g2-standard-4"),
            Some((AcceleratorType::NvidiaL4, 1))
        );
    }
}
