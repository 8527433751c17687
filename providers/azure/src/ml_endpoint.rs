//! `endpoint` → an Azure ML managed online endpoint and its deployment, in the provider's
//! ML workspace (Microsoft.MachineLearningServices).
//!
//! The serving image is an environment version and the artifact a model version, both
//! named from what they hold. A deployment is named from its image, artifact, environment
//! variables and instance type (`d` + 8 hex digits), so a change of any of them is a new
//! deployment beside the old: blue/green, traffic moved as `rollout` says (all at once;
//! canary: `canary_percent`, then 100 after `bake_minutes`; linear: steps of
//! `linear_step_percent`), and the old deployment deleted only once the new one takes all
//! traffic. The instance count changes in place. The endpoint always has a deployment
//! taking its traffic.
//!
//! `environment_wo` joins the deployment's environment variables each time the deployment
//! is written; its names and `environment_wo_version` (never its values) are part of the
//! deployment's name, and a read leaves it out.
//!
//! `autoscaling` is an Azure Monitor autoscale setting (Microsoft.Insights/autoscalesettings)
//! per deployment, named `{endpoint}-{deployment}`: made right after its deployment, so a
//! new deployment scales while it takes its share of traffic, and deleted right before it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mlinfra_provider_api::rollout::Rollout;
use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, secret_env, ApplyAction, ApplyRequest, ApplyResponse, Attributes,
    ProviderError, ReadResponse,
};
use mlinfra_schema::Value;
use serde_json::{json, Map, Value as Json};

use crate::attrs::{acted_on, fnv, get_named, last_segment, read_back, tags_json, tags_value};
use crate::clients::Clients;
use crate::ml_registry::API;

/// An online endpoint name: 3–32 letters, digits and '-', starting with a letter (it is a
/// DNS label: NAME.REGION.inference.ml.azure.com, unique per region).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (3..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!("\"{name}\" is not a valid Azure ML online endpoint name: use 3 to 32 letters, digits and '-', starting with a letter and not ending with '-' (it becomes NAME.REGION.inference.ml.azure.com)"))
    }
}

/// The `autoscaling` block's bounds as Azure Monitor takes them: a managed online deployment
/// keeps at least one instance, and the bounds are whole numbers.
pub fn check_scaling(sc: &BTreeMap<String, Value>) -> Result<(), String> {
    let n = |k: &str| sc.get(k).and_then(Value::as_f64);
    let (Some(min), Some(max)) = (n("min"), n("max")) else {
        return Ok(()); // unknown until apply
    };
    if min.fract() != 0.0 || max.fract() != 0.0 {
        return Err(format!(
            "autoscaling min ({min}) and max ({max}) must be whole numbers of instances"
        ));
    }
    if min < 1.0 {
        return Err(format!("autoscaling min = {min}: an Azure ML managed online deployment keeps at least 1 instance; set min = 1 or more"));
    }
    if max < min {
        return Err(format!(
            "autoscaling max ({max}) is below min ({min}); set max >= min"
        ));
    }
    if let Some(t) = n("target_invocations_per_instance") {
        if t <= 0.0 {
            return Err(format!("autoscaling target_invocations_per_instance = {t}: give a rate above 0 (requests per minute per instance)"));
        }
    }
    Ok(())
}

/// What a deployment serves.
#[derive(Clone, Debug, PartialEq)]
struct Spec {
    image: String,
    artifact: Option<String>,
    environment: BTreeMap<String, String>,
    /// The secret variables' names and version ([`secret_env::fingerprint`]).
    secret: String,
    instance_type: String,
    count: i64,
    scaling: Option<Scaling>,
}

/// The `autoscaling` block: the bounds, and the request rate per instance to hold.
#[derive(Clone, Debug, PartialEq)]
struct Scaling {
    min: i64,
    max: i64,
    target: Option<f64>,
}

fn spec(a: &Attributes) -> Result<Spec, ProviderError> {
    let model = a.get("model").and_then(Value::as_map);
    let instance = a.get("instance").and_then(Value::as_map);
    let image = model
        .and_then(|m| m.get("image"))
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::invalid("endpoint has no model.image"))?
        .to_string();
    let artifact = model
        .and_then(|m| m.get("artifact"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let environment = model
        .and_then(|m| m.get("environment"))
        .and_then(Value::as_map)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let instance_type = instance
        .and_then(|m| m.get("type"))
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::invalid("endpoint has no instance.type"))?
        .to_string();
    let count = instance
        .and_then(|m| m.get("count"))
        .and_then(Value::as_f64)
        .unwrap_or(1.0) as i64;
    let scaling = a.get("autoscaling").and_then(Value::as_map).map(|m| {
        let n = |k: &str| m.get(k).and_then(Value::as_f64);
        Scaling {
            min: n("min").unwrap_or(1.0) as i64,
            max: n("max").unwrap_or(1.0) as i64,
            target: n("target_invocations_per_instance"),
        }
    });
    Ok(Spec {
        image,
        artifact,
        environment,
        secret: secret_env::fingerprint(a),
        instance_type,
        count,
        scaling,
    })
}

impl Spec {
    /// The deployment's name: what it serves, hashed (the count is not part of it).
    fn deployment(&self) -> String {
        let env: Vec<String> = self
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut key = format!(
            "{}|{}|{}|{}",
            self.image,
            self.artifact.as_deref().unwrap_or(""),
            env.join(","),
            self.instance_type
        );
        if !self.secret.is_empty() {
            key.push('|');
            key.push_str(&self.secret);
        }
        format!("d{:08x}", fnv(&key) & 0xffff_ffff)
    }

    /// The instance count a deployment starts with: `instance.count`, within the
    /// autoscaling bounds when there are any.
    fn start_count(&self) -> i64 {
        match &self.scaling {
            Some(sc) => self.count.clamp(sc.min, sc.max.max(sc.min)),
            None => self.count,
        }
    }
}

/// The API of Microsoft.Insights autoscale settings (its newest stable one).
pub const AUTOSCALE_API: &str = "2022-10-01";

fn autoscale_path(c: &Clients, name: &str, dep: &str) -> String {
    c.path(
        "Microsoft.Insights",
        &format!("autoscalesettings/{name}-{dep}"),
    )
}

/// One rule of an autoscale profile.
fn rule(
    metric: &str,
    namespace: &str,
    resource: &str,
    (operator, threshold): (&str, f64),
    per_instance: Option<&str>,
    (direction, window): (&str, &str),
) -> Json {
    let mut trigger = json!({
        "metricName": metric,
        "metricNamespace": namespace,
        "metricResourceUri": resource,
        "timeGrain": "PT1M",
        "statistic": "Average",
        "timeWindow": window,
        "timeAggregation": "Average",
        "operator": operator,
        "threshold": threshold,
    });
    if let Some(dep) = per_instance {
        trigger["dimensions"] =
            json!([{ "DimensionName": "deployment", "Operator": "Equals", "Values": [dep] }]);
        trigger["dividePerInstance"] = json!(true);
    }
    json!({
        "metricTrigger": trigger,
        "scaleAction": { "direction": direction, "type": "ChangeCount", "value": "1", "cooldown": window },
    })
}

/// The autoscale setting of deployment `dep` (ARM id `dpath`, of the endpoint `epath`) as
/// `s` wants it.
fn autoscale_body(
    location: &str,
    (epath, dpath, dep): (&str, &str, &str),
    s: &Spec,
    sc: &Scaling,
) -> Json {
    let rules = match sc.target {
        // Requests per minute per instance (the endpoint's metric, for this deployment).
        Some(t) => {
            let ns = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints";
            vec![
                rule(
                    "RequestsPerMinute",
                    ns,
                    epath,
                    ("GreaterThan", t),
                    Some(dep),
                    ("Increase", "PT5M"),
                ),
                rule(
                    "RequestsPerMinute",
                    ns,
                    epath,
                    ("LessThan", t / 2.0),
                    Some(dep),
                    ("Decrease", "PT10M"),
                ),
            ]
        }
        // No rate given: CPU utilization of the deployment's instances, 70 % out, 25 % in.
        None => {
            let ns = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments";
            vec![
                rule(
                    "CpuUtilizationPercentage",
                    ns,
                    dpath,
                    ("GreaterThan", 70.0),
                    None,
                    ("Increase", "PT5M"),
                ),
                rule(
                    "CpuUtilizationPercentage",
                    ns,
                    dpath,
                    ("LessThan", 25.0),
                    None,
                    ("Decrease", "PT10M"),
                ),
            ]
        }
    };
    json!({
        "location": location,
        "tags": { "created-by": "mlinfra" },
        "properties": {
            "enabled": true,
            "targetResourceUri": dpath,
            "profiles": [{
                "name": "mlinfra",
                "capacity": {
                    "minimum": sc.min.to_string(),
                    "maximum": sc.max.to_string(),
                    "default": s.start_count().to_string(),
                },
                "rules": rules,
            }],
        },
    })
}

/// Makes the autoscale setting of `dep` what `s` says: written when `s` scales, deleted
/// when it does not.
async fn scale(
    c: &Clients,
    name: &str,
    dep: &str,
    s: &Spec,
    limit: Instant,
) -> Result<(), ProviderError> {
    let path = autoscale_path(c, name, dep);
    match &s.scaling {
        Some(sc) => {
            c.arm
                .put(
                    &path,
                    AUTOSCALE_API,
                    &autoscale_body(
                        &c.location,
                        (&endpoint_path(c, name), &deployment_path(c, name, dep), dep),
                        s,
                        sc,
                    ),
                    limit,
                )
                .await?;
        }
        None => c.arm.delete(&path, AUTOSCALE_API, limit).await?,
    }
    Ok(())
}

fn endpoint_path(c: &Clients, name: &str) -> String {
    format!("{}/onlineEndpoints/{name}", c.workspace_path())
}

fn deployment_path(c: &Clients, name: &str, dep: &str) -> String {
    format!("{}/deployments/{dep}", endpoint_path(c, name))
}

/// The environment version that holds `image`, made when it is not there.
async fn environment(
    c: &Clients,
    name: &str,
    s: &Spec,
    limit: Instant,
) -> Result<String, ProviderError> {
    let path = format!(
        "{}/environments/{name}-image/versions/{:08x}",
        c.workspace_path(),
        fnv(&s.image) & 0xffff_ffff
    );
    if c.arm.get(&path, API).await?.is_none() {
        let body = json!({ "properties": { "image": s.image, "osType": "Linux" } });
        c.arm.put(&path, API, &body, limit).await?;
    }
    Ok(path)
}

/// The model version that points at `artifact`, made when it is not there.
async fn model(
    c: &Clients,
    name: &str,
    s: &Spec,
    limit: Instant,
) -> Result<Option<String>, ProviderError> {
    let Some(uri) = &s.artifact else {
        return Ok(None);
    };
    let path = format!(
        "{}/models/{name}-model/versions/{:08x}",
        c.workspace_path(),
        fnv(uri) & 0xffff_ffff
    );
    if c.arm.get(&path, API).await?.is_none() {
        let body = json!({ "properties": { "modelUri": uri, "modelType": "custom_model" } });
        c.arm.put(&path, API, &body, limit).await?;
    }
    Ok(Some(path))
}

/// Makes (or resizes) the deployment of `s`; answers its name.
async fn deploy(
    c: &Clients,
    name: &str,
    s: &Spec,
    secrets: &BTreeMap<String, String>,
    limit: Instant,
) -> Result<String, ProviderError> {
    let env = environment(c, name, s, limit).await?;
    let model = model(c, name, s, limit).await?;
    let dep = s.deployment();
    let mut props = Map::new();
    props.insert("endpointComputeType".into(), json!("Managed"));
    props.insert("instanceType".into(), json!(s.instance_type));
    props.insert("environmentId".into(), json!(env));
    if let Some(m) = model {
        props.insert("model".into(), json!(m));
    }
    let mut variables = s.environment.clone();
    variables.extend(secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
    props.insert("environmentVariables".into(), json!(variables));
    props.insert("scaleSettings".into(), json!({ "scaleType": "Default" }));
    props.insert("appInsightsEnabled".into(), json!(false));
    let body = json!({
        "location": c.location,
        "sku": { "name": "Default", "capacity": s.start_count() },
        "properties": props,
    });
    c.arm
        .put(&deployment_path(c, name, &dep), API, &body, limit)
        .await?;
    Ok(dep)
}

fn endpoint_body(c: &Clients, planned: &Attributes, traffic: &BTreeMap<String, i64>) -> Json {
    json!({
        "location": c.location,
        "identity": { "type": "SystemAssigned" },
        "tags": tags_json(planned),
        "properties": { "authMode": "Key", "publicNetworkAccess": "Enabled", "traffic": traffic },
    })
}

async fn traffic_of(c: &Clients, name: &str) -> Result<BTreeMap<String, i64>, ProviderError> {
    Ok(c.arm
        .get(&endpoint_path(c, name), API)
        .await?
        .and_then(|e| e.pointer("/properties/traffic").cloned())
        .and_then(|t| t.as_object().cloned())
        .into_iter()
        .flatten()
        .map(|(k, v)| (k, v.as_i64().unwrap_or(0)))
        .collect())
}

async fn set_traffic(
    c: &Clients,
    name: &str,
    planned: &Attributes,
    traffic: &BTreeMap<String, i64>,
    limit: Instant,
) -> Result<(), ProviderError> {
    c.arm
        .put(
            &endpoint_path(c, name),
            API,
            &endpoint_body(c, planned, traffic),
            limit,
        )
        .await?;
    Ok(())
}

/// The names of the endpoint's deployments.
async fn deployments(c: &Clients, name: &str) -> Result<Vec<String>, ProviderError> {
    c.arm
        .names(&format!("{}/deployments", endpoint_path(c, name)), API)
        .await
}

/// Deletes every deployment but `keep` (they take no traffic by now).
async fn delete_others(
    c: &Clients,
    name: &str,
    keep: &str,
    limit: Instant,
) -> Result<(), ProviderError> {
    for d in deployments(c, name)
        .await?
        .into_iter()
        .filter(|d| d != keep)
    {
        // The setting first: one left behind would point at nothing.
        c.arm
            .delete(&autoscale_path(c, name, &d), AUTOSCALE_API, limit)
            .await?;
        c.arm
            .delete(&deployment_path(c, name, &d), API, limit)
            .await?;
    }
    Ok(())
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let limit = deadline(req.timeout_seconds, Duration::from_secs(3600));
    let p = &req.planned;
    let prior = req.prior.as_ref().unwrap_or(p);
    let name = acted_on(req, "endpoint")?.to_string();
    let epath = endpoint_path(c, &name);
    match req.action {
        ApplyAction::Create => {
            let s = spec(p)?;
            let secrets = secret_env::values(p, &req.write_only)?;
            c.ensure_workspace(limit).await?;
            let exists = c.arm.get(&epath, API).await?.is_some();
            if exists && !req.adopt_existing {
                return Err(already_exists(
                    &format!("Azure ML online endpoint {name}"),
                    &name,
                ));
            }
            let traffic = if exists {
                traffic_of(c, &name).await?
            } else {
                BTreeMap::new()
            };
            if exists {
                c.arm
                    .put(&epath, API, &endpoint_body(c, p, &traffic), limit)
                    .await?;
            } else {
                c.arm
                    .create(&epath, API, &endpoint_body(c, p, &traffic), limit)
                    .await?;
            }
            let dep = deploy(c, &name, &s, &secrets, limit).await?;
            scale(c, &name, &dep, &s, limit).await?;
            set_traffic(c, &name, p, &BTreeMap::from([(dep.clone(), 100)]), limit).await?;
            delete_others(c, &name, &dep, limit).await?;
        }
        ApplyAction::Update => {
            let was = spec(prior)?;
            let want = spec(p)?;
            // Every write of the deployment sends them: a write replaces its variables.
            let secrets = secret_env::values(p, &req.write_only)?;
            let live = traffic_of(c, &name).await?;
            if want.deployment() != was.deployment() || !live.contains_key(&want.deployment()) {
                // Blue/green: the new deployment beside the old, traffic moved by the rollout.
                let new = deploy(c, &name, &want, &secrets, limit).await?;
                scale(c, &name, &new, &want, limit).await?;
                let old: Vec<String> = live
                    .iter()
                    .filter(|(d, pct)| **d != new && **pct > 0)
                    .map(|(d, _)| d.clone())
                    .collect();
                let r = Rollout::of(p);
                let mut at = if old.is_empty() {
                    100
                } else {
                    r.first_percent()
                };
                loop {
                    let mut split = BTreeMap::from([(new.clone(), at)]);
                    if let Some(o) = old.first() {
                        split.insert(o.clone(), 100 - at);
                    }
                    for o in old.iter().skip(1) {
                        split.insert(o.clone(), 0);
                    }
                    set_traffic(c, &name, p, &split, limit).await?;
                    if at >= 100 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(r.bake_seconds)).await;
                    at = r.next_percent(at);
                }
                // Only now, with all traffic on the new deployment, do the old ones go.
                set_traffic(c, &name, p, &BTreeMap::from([(new.clone(), 100)]), limit).await?;
                delete_others(c, &name, &new, limit).await?;
            } else {
                let dep = want.deployment();
                // Under autoscaling the setting owns the live count; `instance.count` is
                // the count it starts from.
                if want.count != was.count && want.scaling.is_none() {
                    deploy(c, &name, &want, &secrets, limit).await?;
                }
                if want.scaling != was.scaling
                    || (want.scaling.is_some() && want.count != was.count)
                {
                    if was.scaling.is_some() && want.scaling.is_none() {
                        // Back to a fixed count: the setting goes, then the count is set.
                        scale(c, &name, &dep, &want, limit).await?;
                        deploy(c, &name, &want, &secrets, limit).await?;
                    } else {
                        scale(c, &name, &dep, &want, limit).await?;
                    }
                }
                if prior.get("tags") != p.get("tags") {
                    set_traffic(c, &name, p, &live, limit).await?;
                }
            }
        }
        ApplyAction::Delete => {
            // Autoscale settings live beside the endpoint, not in it: each goes first.
            for d in deployments(c, &name).await? {
                c.arm
                    .delete(&autoscale_path(c, &name, &d), AUTOSCALE_API, limit)
                    .await?;
            }
            c.arm.delete(&epath, API, limit).await?;
            for asset in [
                format!("models/{name}-model"),
                format!("environments/{name}-image"),
            ] {
                let path = format!("{}/{asset}", c.workspace_path());
                for v in c.arm.names(&format!("{path}/versions"), API).await? {
                    c.arm
                        .delete(&format!("{path}/versions/{v}"), API, limit)
                        .await?;
                }
                c.arm.delete(&path, API, limit).await?;
            }
            return Ok(ApplyResponse::default());
        }
    }
    read_back(
        read(c, &name, p).await?,
        &format!("Azure ML online endpoint {name}"),
    )
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let name = last_segment(id);
    let Some((ep, mut attrs)) = get_named(c, &endpoint_path(c, name), API, prior, name).await?
    else {
        return Ok(ReadResponse::Gone);
    };
    attrs.insert("tags".into(), tags_value(ep.get("tags")));
    if let Some(u) = ep.pointer("/properties/scoringUri").and_then(Json::as_str) {
        attrs.insert("url".into(), Value::from(u));
    }
    // What serves: the deployment with the most traffic.
    let live = ep
        .pointer("/properties/traffic")
        .and_then(Json::as_object)
        .and_then(|t| {
            t.iter()
                .filter(|(_, v)| v.as_i64().unwrap_or(0) > 0)
                .max_by_key(|(_, v)| v.as_i64().unwrap_or(0))
                .map(|(k, _)| k.clone())
        });
    let Some(dep) = live else {
        // No deployment takes traffic: what is planned is not what serves.
        attrs.remove("model");
        return Ok(ReadResponse::Found { attributes: attrs });
    };
    let Some(d) = c.arm.get(&deployment_path(c, name, &dep), API).await? else {
        attrs.remove("model");
        return Ok(ReadResponse::Found { attributes: attrs });
    };
    let props = d.get("properties").cloned().unwrap_or_default();
    let recorded = |k: &str| -> BTreeMap<String, Value> {
        prior
            .get(k)
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default()
    };
    let mut instance = recorded("instance");
    if let Some(t) = props.get("instanceType").and_then(Json::as_str) {
        instance.insert("type".to_string(), Value::from(t));
    }
    let setting = c
        .arm
        .get(&autoscale_path(c, name, &dep), AUTOSCALE_API)
        .await?;
    match setting
        .as_ref()
        .and_then(|s| s.pointer("/properties/profiles/0"))
    {
        // Autoscaled: the setting holds the bounds and the count it starts from; the live
        // count is the autoscaler's.
        Some(profile) => {
            let cap = |k: &str| {
                profile
                    .pointer(&format!("/capacity/{k}"))
                    .and_then(Json::as_str)
                    .and_then(|v| v.parse::<f64>().ok())
            };
            let mut scaling = recorded("autoscaling");
            for (attr, k) in [("min", "minimum"), ("max", "maximum")] {
                if let Some(n) = cap(k) {
                    scaling.insert(attr.to_string(), Value::from(n));
                }
            }
            let target = profile
                .get("rules")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .find(|r| {
                    r.pointer("/metricTrigger/metricName")
                        .and_then(Json::as_str)
                        == Some("RequestsPerMinute")
                        && r.pointer("/scaleAction/direction").and_then(Json::as_str)
                            == Some("Increase")
                })
                .and_then(|r| r.pointer("/metricTrigger/threshold"))
                .and_then(Json::as_f64);
            scaling.insert(
                "target_invocations_per_instance".to_string(),
                target.map_or(Value::Null, Value::from),
            );
            attrs.insert("autoscaling".into(), Value::Map(scaling));
            if let Some(n) = cap("default") {
                instance.insert("count".to_string(), Value::from(n));
            }
        }
        None => {
            attrs.insert("autoscaling".into(), Value::Null);
            if let Some(n) = d.pointer("/sku/capacity").and_then(Json::as_f64) {
                instance.insert("count".to_string(), Value::from(n));
            }
        }
    }
    attrs.insert("instance".into(), Value::Map(instance));
    let mut model = recorded("model");
    let image = match props.get("environmentId").and_then(Json::as_str) {
        Some(env) => c.arm.get(env, API).await?.and_then(|e| {
            e.pointer("/properties/image")
                .and_then(Json::as_str)
                .map(str::to_string)
        }),
        None => None,
    };
    match image {
        Some(i) => model.insert("image".to_string(), Value::String(i)),
        None => model.remove("image"),
    };
    let artifact = match props.get("model").and_then(Json::as_str) {
        Some(m) => c.arm.get(m, API).await?.and_then(|e| {
            e.pointer("/properties/modelUri")
                .and_then(Json::as_str)
                .map(str::to_string)
        }),
        None => None,
    };
    match artifact {
        Some(uri) => {
            model.insert("artifact".to_string(), Value::String(uri));
        }
        None => {
            model.insert("artifact".to_string(), Value::Null);
        }
    }
    let mut env: BTreeMap<String, Value> = props
        .get("environmentVariables")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str().unwrap_or_default())))
        .collect();
    secret_env::strip(&mut env, prior);
    // An empty environment keeps the manifest's shape (left out, or {}).
    let had = model
        .get("environment")
        .and_then(Value::as_map)
        .is_some_and(|m| !m.is_empty());
    if !env.is_empty() || had {
        model.insert("environment".to_string(), Value::Map(env));
    }
    // The configuration's shape: an optional part it leaves out evaluates to null.
    model
        .entry("environment".to_string())
        .or_insert(Value::Null);
    attrs.insert("model".into(), Value::Map(model));
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_and_deployment_names() {
        assert!(check_name("fraud-scorer").is_ok());
        assert!(check_name("1scorer").is_err());
        assert!(check_name("ab").is_err());
        assert!(check_name("scorer-").is_err());
        let s = Spec {
            image: "acme.azurecr.io/scorer:3".into(),
            artifact: None,
            environment: BTreeMap::new(),
            secret: String::new(),
            instance_type: "Standard_DS3_v2".into(),
            count: 2,
            scaling: None,
        };
        let d = s.deployment();
        assert!(d.starts_with('d') && d.len() == 9, "{d}");
        assert_eq!(
            Spec {
                count: 5,
                ..s.clone()
            }
            .deployment(),
            d,
            "the count is resized in place"
        );
        assert_ne!(
            Spec {
                image: "acme.azurecr.io/scorer:4".into(),
                ..s
            }
            .deployment(),
            d
        );
    }

    #[test]
    fn autoscale_settings_follow_the_block() {
        let ep = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/scorer";
        let mut s = Spec {
            image: "acme.azurecr.io/scorer:3".into(),
            artifact: None,
            environment: BTreeMap::new(),
            secret: String::new(),
            instance_type: "Standard_DS3_v2".into(),
            count: 12,
            scaling: Some(Scaling {
                min: 1,
                max: 8,
                target: Some(100.0),
            }),
        };
        assert_eq!(s.start_count(), 8, "a count above max starts at max");
        let dep = s.deployment();
        let dp = format!("{ep}/deployments/{dep}");
        let body = autoscale_body("eastus", (ep, &dp, &dep), &s, s.scaling.as_ref().unwrap());
        let p = &body["properties"];
        assert_eq!(p["enabled"], true);
        assert!(p["targetResourceUri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/onlineEndpoints/scorer/deployments/{dep}")));
        let prof = &p["profiles"][0];
        assert_eq!(
            prof["capacity"],
            json!({"minimum": "1", "maximum": "8", "default": "8"})
        );
        let out = &prof["rules"][0];
        assert_eq!(out["metricTrigger"]["metricName"], "RequestsPerMinute");
        assert_eq!(out["metricTrigger"]["threshold"], 100.0);
        assert_eq!(out["metricTrigger"]["dividePerInstance"], true);
        assert_eq!(
            out["metricTrigger"]["dimensions"][0]["Values"][0],
            dep.as_str()
        );
        assert_eq!(out["scaleAction"]["direction"], "Increase");
        assert_eq!(prof["rules"][1]["metricTrigger"]["threshold"], 50.0);
        assert_eq!(prof["rules"][1]["scaleAction"]["direction"], "Decrease");
        s.scaling = Some(Scaling {
            min: 2,
            max: 4,
            target: None,
        });
        let dp = format!("{ep}/deployments/{dep}");
        let body = autoscale_body("eastus", (ep, &dp, &dep), &s, s.scaling.as_ref().unwrap());
        let rules = &body["properties"]["profiles"][0]["rules"];
        assert_eq!(
            rules[0]["metricTrigger"]["metricName"],
            "CpuUtilizationPercentage"
        );
        assert_eq!(
            rules[0]["metricTrigger"]["metricResourceUri"],
            body["properties"]["targetResourceUri"]
        );
    }
}
