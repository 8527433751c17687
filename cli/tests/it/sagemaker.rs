//! SageMaker kinds against moto plus scripts/aws_double.py, which adds the operations moto
//! lacks (DeleteModelPackageGroup, UpdateFeatureGroup, DeleteFeatureGroup, UpdateEndpoint)
//! following the SageMaker API reference.

use std::path::Path;

use crate::aws::{endpoint, run, state, unique, write};

struct Sm {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_sagemaker::Client,
}

impl Sm {
    fn new() -> Sm {
        let (rt, sdk) = crate::aws::sdk();
        let conf = aws_sdk_sagemaker::config::Builder::from(&sdk)
            .endpoint_url(endpoint())
            .build();
        Sm {
            rt,
            client: aws_sdk_sagemaker::Client::from_conf(conf),
        }
    }
}

fn plan_actions(dir: &Path) -> Vec<(String, serde_json::Value)> {
    let r = run(dir, &["plan", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["actions"].clone(),
            )
        })
        .collect()
}

fn apply(dir: &Path) {
    let r = run(dir, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

fn clean(dir: &Path) {
    let r = run(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "a re-plan is clean:\n{}\n{}", r.stdout, r.stderr);
}

#[test]
fn model_registry_lifecycle_on_model_package_groups() {
    let name = unique("models");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let manifest = |desc: &str, team: &str| {
        format!(
            "model_registry \"fraud\" {{\n  cloud       = \"aws\"\n  name        = \"{name}\"\n  description = \"{desc}\"\n  tags        = {{ team = \"{team}\" }}\n}}\n"
        )
    };
    write(dir.path(), &ep, &manifest("Fraud models", "risk"));
    apply(dir.path());
    clean(dir.path());
    let sm = Sm::new();
    let d = sm
        .rt
        .block_on(
            sm.client
                .describe_model_package_group()
                .model_package_group_name(&name)
                .send(),
        )
        .unwrap();
    assert_eq!(d.model_package_group_description(), Some("Fraud models"));

    write(dir.path(), &ep, &manifest("Fraud models", "ml"));
    assert_eq!(
        plan_actions(dir.path()),
        [(
            "model_registry.fraud".to_string(),
            serde_json::json!(["update"])
        )]
    );
    apply(dir.path());
    assert_eq!(
        state(dir.path())["resources"][0]["attributes"]["tags"],
        serde_json::json!({"team": "ml"})
    );
    clean(dir.path());

    write(dir.path(), &ep, &manifest("Fraud and abuse models", "ml"));
    assert_eq!(
        plan_actions(dir.path()),
        [(
            "model_registry.fraud".to_string(),
            serde_json::json!(["delete", "create"])
        )]
    );
    apply(dir.path());
    clean(dir.path());

    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let gone = sm.rt.block_on(
        sm.client
            .describe_model_package_group()
            .model_package_group_name(&name)
            .send(),
    );
    assert!(gone.is_err(), "the group is deleted");
}

#[test]
fn feature_store_lifecycle_on_feature_groups() {
    let name = unique("fs");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let manifest = |ttl: &str, txn_features: &str, extra_group: bool| {
        let extra = if extra_group {
            "  feature_group \"users\" {\n    record_id  = \"user_id\"\n    event_time = \"ts\"\n    features   = { user_id = \"string\", ts = \"string\", age = \"int\" }\n  }\n"
        } else {
            ""
        };
        format!(
            "feature_store \"fraud\" {{\n  cloud    = \"aws\"\n  name     = \"{name}\"\n  role_arn = \"arn:aws:iam::123456789012:role/features\"\n  tags     = {{ team = \"risk\" }}\n  offline {{\n    bucket = \"{name}-offline\"\n  }}\n  online {{\n    ttl = \"{ttl}\"\n  }}\n  feature_group \"txn\" {{\n    record_id  = \"txn_id\"\n    event_time = \"ts\"\n    features   = {{ {txn_features} }}\n  }}\n{extra}}}\n"
        )
    };
    let base = "txn_id = \"string\", ts = \"string\", amount = \"float\"";
    write(dir.path(), &ep, &manifest("7d", base, false));
    apply(dir.path());
    clean(dir.path());
    let sm = Sm::new();
    let describe = |group: &str| {
        sm.rt
            .block_on(
                sm.client
                    .describe_feature_group()
                    .feature_group_name(format!("{name}-{group}"))
                    .send(),
            )
            .ok()
    };
    let d = describe("txn").unwrap();
    assert_eq!(d.feature_definitions().len(), 3);
    let online = d.online_store_config().unwrap();
    assert_eq!(online.enable_online_store(), Some(true));
    assert_eq!(online.ttl_duration().and_then(|t| t.value()), Some(7));
    assert_eq!(
        d.offline_store_config()
            .and_then(|o| o.s3_storage_config())
            .and_then(|s| s.s3_uri()),
        Some(format!("s3://{name}-offline/features").as_str())
    );

    // A new feature, a new TTL and a new group: all in place.
    let more = format!("{base}, merchant = \"string\"");
    write(dir.path(), &ep, &manifest("12h", &more, true));
    assert_eq!(
        plan_actions(dir.path()),
        [(
            "feature_store.fraud".to_string(),
            serde_json::json!(["update"])
        )]
    );
    apply(dir.path());
    let d = describe("txn").unwrap();
    assert_eq!(
        d.feature_definitions().len(),
        4,
        "UpdateFeatureGroup added one"
    );
    assert_eq!(
        d.online_store_config()
            .and_then(|o| o.ttl_duration())
            .and_then(|t| t.value()),
        Some(12)
    );
    assert!(describe("users").is_some(), "the new group exists");
    clean(dir.path());

    // Drift: a group deleted outside mlinfra is shown and created again.
    sm.rt
        .block_on(
            sm.client
                .delete_feature_group()
                .feature_group_name(format!("{name}-users"))
                .send(),
        )
        .unwrap();
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout.contains("changed outside of mlinfra") && r.stdout.contains("feature_group"),
        "{}",
        r.stdout
    );
    apply(dir.path());
    assert!(describe("users").is_some());
    clean(dir.path());

    // Removing a group is in place; removing a feature replaces the store.
    write(dir.path(), &ep, &manifest("12h", &more, false));
    assert_eq!(
        plan_actions(dir.path()),
        [(
            "feature_store.fraud".to_string(),
            serde_json::json!(["update"])
        )]
    );
    apply(dir.path());
    assert!(describe("users").is_none(), "the removed group is deleted");
    write(dir.path(), &ep, &manifest("12h", base, false));
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout.contains("must be replaced") && r.stdout.contains("merchant"),
        "{}",
        r.stdout
    );
    apply(dir.path());
    assert_eq!(describe("txn").unwrap().feature_definitions().len(), 3);
    clean(dir.path());

    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(describe("txn").is_none());
    assert_eq!(state(dir.path())["resources"], serde_json::json!([]));
}

#[test]
fn endpoint_lifecycle_with_a_canary_rollout() {
    let name = unique("ep");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let manifest = |endpoint_name: &str, image: &str, count: u32| {
        format!(
            "endpoint \"scorer\" {{\n  cloud    = \"aws\"\n  name     = \"{endpoint_name}\"\n  role_arn = \"arn:aws:iam::123456789012:role/sagemaker\"\n  model = {{\n    image    = \"{image}\"\n    artifact = \"s3://models/fraud/model.tar.gz\"\n    environment = {{ THRESHOLD = \"0.8\" }}\n  }}\n  instance = {{ type = \"ml.g4dn.xlarge\", count = {count} }}\n  rollout {{\n    strategy       = \"canary\"\n    canary_percent = 10\n    bake_minutes   = 5\n  }}\n  tags = {{ team = \"risk\" }}\n}}\n\noutput \"url\" {{\n  value = endpoint.scorer.url\n}}\n"
        )
    };
    let image1 = "123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:1";
    let image2 = "123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:2";
    write(dir.path(), &ep, &manifest(&name, image1, 1));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "url = \"https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/{name}/invocations\""
        )),
        "{}",
        r.stdout
    );
    clean(dir.path());
    let sm = Sm::new();
    let describe = || {
        sm.rt
            .block_on(sm.client.describe_endpoint().endpoint_name(&name).send())
            .ok()
    };
    let first_config = describe()
        .unwrap()
        .endpoint_config_name()
        .unwrap()
        .to_string();

    // A new image rolls out through a new config and UpdateEndpoint, as a canary.
    write(dir.path(), &ep, &manifest(&name, image2, 2));
    assert_eq!(
        plan_actions(dir.path()),
        [("endpoint.scorer".to_string(), serde_json::json!(["update"]))]
    );
    apply(dir.path());
    let d = describe().unwrap();
    let config = d.endpoint_config_name().unwrap().to_string();
    assert_ne!(config, first_config, "a new endpoint config is live");
    let routing = d
        .last_deployment_config()
        .and_then(|c| c.blue_green_update_policy())
        .and_then(|b| b.traffic_routing_configuration())
        .expect("UpdateEndpoint carried a deployment config");
    assert_eq!(routing.r#type().map(|t| t.as_str()), Some("CANARY"));
    assert_eq!(routing.canary_size().and_then(|c| c.value()), Some(10));
    assert_eq!(routing.wait_interval_in_seconds(), Some(300));
    let old = sm.rt.block_on(
        sm.client
            .describe_endpoint_config()
            .endpoint_config_name(&first_config)
            .send(),
    );
    assert!(old.is_err(), "the old endpoint config is deleted");
    let old = sm
        .rt
        .block_on(sm.client.describe_model().model_name(&first_config).send());
    assert!(old.is_err(), "the old model is deleted");
    clean(dir.path());

    // Another name is another endpoint.
    let renamed = format!("{name}-v2");
    write(dir.path(), &ep, &manifest(&renamed, image2, 2));
    assert_eq!(
        plan_actions(dir.path()),
        [(
            "endpoint.scorer".to_string(),
            serde_json::json!(["delete", "create"])
        )]
    );
    apply(dir.path());
    assert!(describe().is_none(), "the old endpoint is gone");
    clean(dir.path());

    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let left = sm
        .rt
        .block_on(sm.client.list_models().name_contains(&name).send())
        .unwrap();
    // (moto ignores NameContains: filter here.)
    let mine = |n: Option<&str>| n.is_some_and(|n| n.starts_with(name.as_str()));
    let models: Vec<_> = left
        .models()
        .iter()
        .filter(|m| mine(m.model_name()))
        .collect();
    assert!(models.is_empty(), "no model is left behind: {models:?}");
    let left = sm
        .rt
        .block_on(sm.client.list_endpoint_configs().send())
        .unwrap();
    let configs: Vec<_> = left
        .endpoint_configs()
        .iter()
        .filter(|c| mine(c.endpoint_config_name()))
        .collect();
    assert!(
        configs.is_empty(),
        "no endpoint config is left behind: {configs:?}"
    );
    let left = sm.rt.block_on(sm.client.list_endpoints().send()).unwrap();
    assert!(!left.endpoints().iter().any(|e| mine(e.endpoint_name())));
}

/// `environment_wo` reaches the model's container, and neither the plan, the saved plan,
/// the state nor any output holds its value; only a new `environment_wo_version` sends a
/// new value, and a saved plan takes the ephemeral value again at apply.
#[test]
fn endpoint_secret_environment_is_sent_and_never_stored() {
    let name = unique("wo");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let manifest = |version: u32| {
        format!(
            "variable \"hub_token\" {{\n  type      = string\n  sensitive = true\n  ephemeral = true\n}}\n\nendpoint \"scorer\" {{\n  cloud    = \"aws\"\n  name     = \"{name}\"\n  role_arn = \"arn:aws:iam::123456789012:role/sagemaker\"\n  model = {{\n    image       = \"123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:1\"\n    environment = {{ THRESHOLD = \"0.8\" }}\n  }}\n  environment_wo         = {{ HF_TOKEN = var.hub_token }}\n  environment_wo_version = {version}\n  instance = {{ type = \"ml.g4dn.xlarge\" }}\n}}\n"
        )
    };
    let with = |dir: &Path, args: &[&str], token: &str| {
        let var = format!("hub_token={token}");
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-var", var.as_str()]);
        let r = run(dir, &all);
        assert!(
            !r.stdout.contains("hf_") && !r.stderr.contains("hf_"),
            "a secret is printed:\n{}\n{}",
            r.stdout,
            r.stderr
        );
        r
    };
    let stored = |dir: &Path| {
        let text = std::fs::read_to_string(dir.join("mlinfra.state.json")).unwrap();
        assert!(!text.contains("hf_"), "the state holds a secret:\n{text}");
        state(dir)
    };
    let sm = Sm::new();
    let container_env = || {
        let d = sm
            .rt
            .block_on(sm.client.describe_endpoint().endpoint_name(&name).send())
            .unwrap();
        let config = d.endpoint_config_name().unwrap().to_string();
        let c = sm
            .rt
            .block_on(
                sm.client
                    .describe_endpoint_config()
                    .endpoint_config_name(&config)
                    .send(),
            )
            .unwrap();
        let model = c.production_variants()[0].model_name().unwrap().to_string();
        let m = sm
            .rt
            .block_on(sm.client.describe_model().model_name(&model).send())
            .unwrap();
        let env: std::collections::BTreeMap<String, String> = m
            .primary_container()
            .unwrap()
            .environment()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (model, env)
    };

    write(dir.path(), &ep, &manifest(1));
    let r = with(dir.path(), &["plan"], "hf_first");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("environment_wo         = { HF_TOKEN = (write-only) }"),
        "{}",
        r.stdout
    );
    let r = with(dir.path(), &["apply", "--auto-approve"], "hf_first");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (first_model, env) = container_env();
    assert_eq!(env["HF_TOKEN"], "hf_first");
    assert_eq!(env["THRESHOLD"], "0.8");
    let s = stored(dir.path());
    let attrs = &s["resources"][0]["attributes"];
    assert_eq!(
        attrs["environment_wo"],
        serde_json::json!({ "HF_TOKEN": null })
    );
    assert_eq!(
        attrs["model"]["environment"],
        serde_json::json!({ "THRESHOLD": "0.8" }),
        "the read leaves the secret variable out"
    );

    // A new value alone is no change: nothing is compared, nothing is sent.
    let r = with(dir.path(), &["plan", "--detailed-exitcode"], "hf_second");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A new version sends it, as a new model, from a saved plan given the value again.
    write(dir.path(), &ep, &manifest(2));
    let r = with(dir.path(), &["plan", "-out=next.plan"], "hf_second");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("environment_wo_version = 1 -> 2"),
        "{}",
        r.stdout
    );
    let saved = std::fs::read_to_string(dir.path().join("next.plan")).unwrap();
    assert!(!saved.contains("hf_"), "the saved plan holds a secret");
    let r = with(dir.path(), &["apply", "next.plan"], "hf_second");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (model, env) = container_env();
    assert_ne!(model, first_model, "a new model serves");
    assert_eq!(env["HF_TOKEN"], "hf_second");
    stored(dir.path());
    let r = with(dir.path(), &["plan", "--detailed-exitcode"], "hf_second");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    let r = with(dir.path(), &["destroy", "--auto-approve"], "hf_second");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}
