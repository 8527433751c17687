//! The provider conformance suite against the Azure double (started by ./scripts/test).
//! Each case runs in a subscription of its own.

use std::collections::BTreeMap;

use mlinfra_provider_api::{ApplyAction, ApplyRequest, Attributes, Provider, ProviderConfig};
use mlinfra_provider_testing::conformance::{run, Case};
use mlinfra_schema::Value;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run ./scripts/test, which starts the Azure double")
    })
}

fn subscription(tag: u8) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{:08x}-0000-4000-8000-{:010x}{tag:02x}",
        std::process::id(),
        nanos
    )
}

fn attrs(kv: &[(&str, Value)]) -> Attributes {
    kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn config(sub: &str) -> ProviderConfig {
    let endpoint = env("MLINFRA_TEST_AZURE_ENDPOINT");
    ProviderConfig {
        key: "azure".into(),
        attributes: attrs(&[
            ("subscription_id", Value::from(sub)),
            ("location", Value::from("eastus")),
            ("resource_group", Value::from("conformance")),
            ("endpoint", Value::from(endpoint.as_str())),
            ("authority_host", Value::from(endpoint.as_str())),
            (
                "ca_file",
                Value::from(env("MLINFRA_TEST_AZURE_CA").as_str()),
            ),
        ]),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The double's token endpoint answers any client secret.
fn credentials() {
    std::env::set_var("AZURE_CLIENT_ID", "conformance");
    std::env::set_var("AZURE_CLIENT_SECRET", "not-a-secret");
    std::env::set_var("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa");
}

fn check(case: Case) {
    credentials();
    let p = mlinfra_provider_azure::AzureProvider::new();
    let passed = runtime()
        .block_on(run(&p, &case))
        .unwrap_or_else(|f| panic!("{} on azure: {f}", case.kind));
    assert!(passed.contains(&"gone"), "{passed:?}");
}

fn tags(kv: &[(&str, &str)]) -> Value {
    Value::Map(
        kv.iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    )
}

#[test]
fn blob_containers_conform() {
    let s = subscription(1);
    check(Case {
        kind: "bucket".into(),
        create: attrs(&[
            ("name", Value::from("data")),
            (
                "storage_account",
                Value::from(format!("conf{}", &s[..8]).as_str()),
            ),
            ("storage_class", Value::from("standard")),
            ("versioning", Value::Bool(false)),
            ("force_destroy", Value::Bool(true)),
            ("tags", tags(&[("env", "dev")])),
        ]),
        update: attrs(&[
            ("versioning", Value::Bool(true)),
            ("storage_class", Value::from("infrequent")),
            ("tags", tags(&[("env", "prod")])),
        ]),
        config: config(&s),
    });
}

#[test]
fn container_registries_conform() {
    let s = subscription(2);
    check(Case {
        kind: "container_registry".into(),
        create: attrs(&[
            ("name", Value::from(format!("conf{}", &s[..8]).as_str())),
            ("sku", Value::from("Basic")),
            ("tags", tags(&[("env", "dev")])),
        ]),
        update: attrs(&[
            ("sku", Value::from("Premium")),
            ("tags", tags(&[("env", "prod")])),
        ]),
        config: config(&s),
    });
}

#[test]
fn aks_clusters_conform() {
    let s = subscription(3);
    check(Case {
        kind: "cluster".into(),
        create: attrs(&[
            ("name", Value::from("conform")),
            ("kubernetes_version", Value::from("1.31")),
            ("public_endpoint", Value::Bool(true)),
            ("tags", tags(&[("env", "dev")])),
        ]),
        update: attrs(&[
            ("kubernetes_version", Value::from("1.32")),
            ("tags", tags(&[("env", "prod")])),
        ]),
        config: config(&s),
    });
}

#[test]
fn azure_ml_registries_conform() {
    let s = subscription(4);
    check(Case {
        kind: "model_registry".into(),
        create: attrs(&[
            ("name", Value::from(format!("conf-{}", &s[..8]).as_str())),
            ("description", Value::from("models")),
            ("tags", tags(&[("env", "dev")])),
        ]),
        update: attrs(&[
            ("description", Value::from("models, v2")),
            ("tags", tags(&[("env", "prod")])),
        ]),
        config: config(&s),
    });
}

#[test]
fn aks_gpu_pools_conform() {
    let s = subscription(5);
    credentials();
    // A pool joins a cluster: make one first.
    let cluster = |action: ApplyAction| {
        let a = attrs(&[
            ("name", Value::from("train")),
            ("kubernetes_version", Value::from("1.31")),
        ]);
        runtime()
            .block_on(
                mlinfra_provider_azure::AzureProvider::new().apply(
                    ApplyRequest::new("cluster", action, Some(a.clone()), a, config(&s))
                        .with_timeout(Some(120)),
                ),
            )
            .unwrap();
    };
    cluster(ApplyAction::Create);
    let mut sharing = BTreeMap::new();
    sharing.insert("mode".to_string(), Value::from("mig"));
    sharing.insert("profile".to_string(), Value::from("1g.10gb"));
    check(Case {
        kind: "gpu_pool".into(),
        create: attrs(&[
            ("name", Value::from("a100")),
            ("cluster", Value::from("train")),
            ("accelerator", Value::from("A100-80GB")),
            ("gpus_per_node", Value::from(1.0)),
            ("instance_type", Value::from("Standard_NC24ads_A100_v4")),
            ("min_nodes", Value::from(0.0)),
            ("max_nodes", Value::from(4.0)),
            ("capacity", Value::from("spot")),
            ("sharing", Value::Map(sharing)),
        ]),
        update: attrs(&[("max_nodes", Value::from(8.0))]),
        config: config(&s),
    });
    cluster(ApplyAction::Delete);
}

#[test]
fn azure_ml_endpoints_conform() {
    let s = subscription(6);
    let mut model = BTreeMap::new();
    model.insert("image".to_string(), Value::from("acme.azurecr.io/scorer:3"));
    model.insert("artifact".to_string(), Value::Null);
    // As a configuration evaluates: the optional parts left out are null.
    model.insert("environment".to_string(), Value::Null);
    let instance = |n: f64| {
        let mut m = BTreeMap::new();
        m.insert("type".to_string(), Value::from("Standard_DS3_v2"));
        m.insert("count".to_string(), Value::from(n));
        Value::Map(m)
    };
    check(Case {
        kind: "endpoint".into(),
        create: attrs(&[
            ("name", Value::from(format!("conf-{}", &s[..8]).as_str())),
            ("model", Value::Map(model)),
            ("instance", instance(1.0)),
        ]),
        update: attrs(&[("instance", instance(2.0))]),
        config: config(&s),
    });
}

/// A storage account whose blob data plane the double serves (Azurite): the feature store
/// writes its feature set specifications there. `./scripts/test` names them.
pub fn blob_account(i: usize) -> String {
    env("MLINFRA_TEST_AZURE_BLOB_ACCOUNTS")
        .split(',')
        .nth(i)
        .expect("MLINFRA_TEST_AZURE_BLOB_ACCOUNTS names too few accounts")
        .to_string()
}

#[test]
fn azure_ml_feature_stores_conform() {
    let s = subscription(7);
    credentials();
    // The offline container comes first, in an account Azurite serves.
    let account = blob_account(0);
    let bucket = |action: ApplyAction| {
        let a = attrs(&[
            ("name", Value::from("offline")),
            ("storage_account", Value::from(account.as_str())),
            ("force_destroy", Value::Bool(true)),
        ]);
        runtime()
            .block_on(
                mlinfra_provider_azure::AzureProvider::new().apply(
                    ApplyRequest::new("bucket", action, Some(a.clone()), a, config(&s))
                        .with_timeout(Some(120)),
                ),
            )
            .unwrap();
    };
    bucket(ApplyAction::Create);
    let group = |extra: &[(&str, &str)]| {
        let mut features: BTreeMap<String, Value> = [
            ("account_id", "string"),
            ("ts", "string"),
            ("amount", "float"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
        features.insert("account_id".into(), Value::from("string"));
        let mut g = BTreeMap::new();
        g.insert("record_id".to_string(), Value::from("account_id"));
        g.insert("event_time".to_string(), Value::from("ts"));
        g.insert("features".to_string(), Value::Map(features));
        // As a configuration evaluates: the optional parts left out are null.
        g.insert("description".to_string(), Value::Null);
        g.insert("bigquery_source".to_string(), Value::Null);
        Value::Map(BTreeMap::from([(
            "transactions".to_string(),
            Value::Map(g),
        )]))
    };
    let mut offline = BTreeMap::new();
    offline.insert(
        "bucket".to_string(),
        Value::from(format!("{account}/offline").as_str()),
    );
    offline.insert("prefix".to_string(), Value::from("features"));
    let mut online = BTreeMap::new();
    online.insert("enabled".to_string(), Value::Bool(false));
    online.insert("ttl".to_string(), Value::Null);
    check(Case {
        kind: "feature_store".into(),
        create: attrs(&[
            ("name", Value::from(format!("conf-{}", &s[..8]).as_str())),
            ("offline", Value::Map(offline)),
            ("online", Value::Map(online)),
            ("feature_group", group(&[])),
            ("tags", tags(&[("env", "dev")])),
        ]),
        update: attrs(&[
            ("feature_group", group(&[("count_7d", "int")])),
            ("tags", tags(&[("env", "prod")])),
        ]),
        config: config(&s),
    });
    bucket(ApplyAction::Delete);
}
