//! The provider conformance suite against the GCP double (started by ./scripts/test).
//! Each case runs in a project of its own.

use std::collections::BTreeMap;

use mlinfra_provider_api::{
    ApplyAction, ApplyRequest, Attributes, ConfigureRequest, ErrorKind, Provider, ProviderConfig,
};
use mlinfra_provider_testing::conformance::{run, Case};
use mlinfra_schema::Value;

fn endpoint() -> String {
    std::env::var("MLINFRA_TEST_GCP_ENDPOINT").expect(
        "MLINFRA_TEST_GCP_ENDPOINT is not set: run ./scripts/test, which starts the GCP double",
    )
}

fn project(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "c{}-{}-{tag}",
        std::process::id() % 100_000,
        nanos % 100_000
    )
}

fn attrs(kv: &[(&str, Value)]) -> Attributes {
    kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn config(project: &str) -> ProviderConfig {
    ProviderConfig {
        key: "gcp".into(),
        attributes: attrs(&[
            ("project", Value::from(project)),
            ("region", Value::from("us-central1")),
            ("endpoint", Value::from(endpoint().as_str())),
        ]),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Debug builds of the Google clients nest deep futures: poll them on a roomy stack.
fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

fn check(case: Case) {
    on_big_stack(move || {
        let p = mlinfra_provider_gcp::GcpProvider::new();
        let passed = runtime()
            .block_on(run(&p, &case))
            .unwrap_or_else(|f| panic!("{} on gcp: {f}", case.kind));
        assert!(passed.contains(&"gone"), "{passed:?}");
    });
}

fn labels(kv: &[(&str, &str)]) -> Value {
    Value::Map(
        kv.iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    )
}

#[test]
fn cloud_storage_buckets_conform() {
    let p = project("b");
    check(Case {
        kind: "bucket".into(),
        create: attrs(&[
            ("name", Value::from(format!("{p}-data").as_str())),
            ("location", Value::from("us-central1")),
            ("storage_class", Value::from("standard")),
            ("versioning", Value::Bool(false)),
            ("force_destroy", Value::Bool(false)),
            ("tags", labels(&[("env", "dev")])),
        ]),
        update: attrs(&[
            ("versioning", Value::Bool(true)),
            ("storage_class", Value::from("infrequent")),
        ]),
        config: config(&p),
    });
}

#[test]
fn artifact_registry_repositories_conform() {
    let p = project("r");
    check(Case {
        kind: "container_registry".into(),
        create: attrs(&[
            ("name", Value::from("scorer")),
            ("immutable_tags", Value::Bool(false)),
            ("scan_on_push", Value::Bool(true)),
        ]),
        update: attrs(&[("immutable_tags", Value::Bool(true))]),
        config: config(&p),
    });
}

#[test]
fn vertex_parent_models_conform() {
    let p = project("m");
    check(Case {
        kind: "model_registry".into(),
        create: attrs(&[
            ("name", Value::from("fraud")),
            ("description", Value::from("Fraud models")),
            (
                "serving_image",
                Value::from("us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest"),
            ),
        ]),
        update: attrs(&[("tags", labels(&[("team", "risk")]))]),
        config: config(&p),
    });
}

fn group(features: &[(&str, &str)]) -> Value {
    let mut g = BTreeMap::new();
    g.insert("record_id".into(), Value::from("txn_id"));
    g.insert("event_time".into(), Value::from("ts"));
    g.insert(
        "features".into(),
        Value::Map(
            features
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect(),
        ),
    );
    g.insert("description".into(), Value::Null);
    g.insert("bigquery_source".into(), Value::Null);
    let mut m = BTreeMap::new();
    m.insert("transactions".to_string(), Value::Map(g));
    Value::Map(m)
}

#[test]
fn vertex_feature_stores_conform() {
    let p = project("f");
    let mut online = BTreeMap::new();
    online.insert("enabled".to_string(), Value::Bool(true));
    online.insert("nodes".to_string(), Value::from(1.0));
    online.insert("ttl".to_string(), Value::Null);
    check(Case {
        kind: "feature_store".into(),
        create: attrs(&[
            ("name", Value::from("fraud")),
            ("online", Value::Map(online)),
            (
                "feature_group",
                group(&[("amount", "float"), ("ts", "string"), ("txn_id", "string")]),
            ),
        ]),
        // A new feature is in place.
        update: attrs(&[(
            "feature_group",
            group(&[
                ("amount", "float"),
                ("merchant", "string"),
                ("ts", "string"),
                ("txn_id", "string"),
            ]),
        )]),
        config: config(&p),
    });
}

#[test]
fn gke_clusters_conform() {
    let p = project("k");
    check(Case {
        kind: "cluster".into(),
        create: attrs(&[
            ("name", Value::from("train")),
            ("kubernetes_version", Value::from("1.31")),
            ("network", Value::from("default")),
            ("public_endpoint", Value::Bool(true)),
        ]),
        update: attrs(&[("kubernetes_version", Value::from("1.32"))]),
        config: config(&p),
    });
}

#[test]
fn gke_node_pools_conform() {
    let p = project("n");
    // A node pool joins a cluster: make one first.
    let cluster = |action: ApplyAction| {
        let cfg = config(&p);
        on_big_stack(move || {
            let gcp = mlinfra_provider_gcp::GcpProvider::new();
            let attrs = attrs(&[
                ("name", Value::from("train")),
                ("network", Value::from("default")),
            ]);
            runtime()
                .block_on(
                    gcp.apply(
                        ApplyRequest::new("cluster", action, Some(attrs.clone()), attrs, cfg)
                            .with_timeout(Some(60)),
                    ),
                )
                .unwrap();
        });
    };
    cluster(ApplyAction::Create);
    let mut sharing = BTreeMap::new();
    sharing.insert("mode".to_string(), Value::from("time_slicing"));
    sharing.insert("replicas".to_string(), Value::from(4.0));
    check(Case {
        kind: "gpu_pool".into(),
        create: attrs(&[
            ("name", Value::from("l4")),
            ("cluster", Value::from("train")),
            ("accelerator", Value::from("L4")),
            ("gpus_per_node", Value::from(1.0)),
            ("instance_type", Value::from("g2-standard-4")),
            ("min_nodes", Value::from(0.0)),
            ("max_nodes", Value::from(4.0)),
            ("capacity", Value::from("spot")),
            ("sharing", Value::Map(sharing)),
        ]),
        update: attrs(&[("max_nodes", Value::from(8.0))]),
        config: config(&p),
    });
    cluster(ApplyAction::Delete);
}

#[test]
fn vertex_endpoints_conform() {
    let p = project("e");
    let mut model = BTreeMap::new();
    model.insert(
        "image".to_string(),
        Value::from(format!("us-docker.pkg.dev/{p}/images/scorer:3").as_str()),
    );
    model.insert("artifact".to_string(), Value::Null);
    let instance = |n: f64| {
        let mut m = BTreeMap::new();
        m.insert("type".to_string(), Value::from("g2-standard-4"));
        m.insert("count".to_string(), Value::from(n));
        Value::Map(m)
    };
    check(Case {
        kind: "endpoint".into(),
        create: attrs(&[
            ("name", Value::from("scorer")),
            ("model", Value::Map(model)),
            ("instance", instance(1.0)),
        ]),
        update: attrs(&[("instance", instance(2.0))]),
        config: config(&p),
    });
}

#[test]
fn a_bad_block_fails_configure_before_any_call() {
    let p = mlinfra_provider_gcp::GcpProvider::new();
    let rt = runtime();
    let mut bad = config("acme-ml");
    bad.attributes
        .insert("region".into(), Value::from("us-east-1"));
    let e = rt
        .block_on(p.configure(ConfigureRequest::new(bad)))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid, "{}", e.message);
    let mut none = config("acme-ml");
    none.attributes.remove("project");
    let e = rt
        .block_on(p.configure(ConfigureRequest::new(none)))
        .unwrap_err();
    assert!(e.message.contains("project is required"), "{}", e.message);
}
