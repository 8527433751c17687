//! The provider conformance suite against moto (started by ./scripts/test).

use mlinfra_provider_api::{Attributes, ProviderConfig};
use mlinfra_provider_testing::conformance::{run, Case};
use mlinfra_schema::Value;

fn endpoint() -> String {
    std::env::var("MLINFRA_TEST_AWS_ENDPOINT")
        .expect("MLINFRA_TEST_AWS_ENDPOINT is not set: run ./scripts/test, which starts the moto AWS emulator")
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("c{}-{nanos}-{tag}", std::process::id())
}

fn attrs(kv: &[(&str, Value)]) -> Attributes {
    kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn config() -> ProviderConfig {
    ProviderConfig {
        key: "aws".into(),
        attributes: attrs(&[
            ("region", Value::from("us-east-1")),
            ("endpoint", Value::from(endpoint().as_str())),
        ]),
    }
}

fn check(case: Case) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let p = mlinfra_provider_aws::AwsProvider::new();
    let passed = rt
        .block_on(run(&p, &case))
        .unwrap_or_else(|f| panic!("{} on aws: {f}", case.kind));
    assert!(passed.contains(&"gone"), "{passed:?}");
}

#[test]
fn s3_buckets_conform() {
    check(Case {
        kind: "bucket".into(),
        create: attrs(&[
            ("name", Value::from(unique("b").as_str())),
            ("location", Value::from("us-east-1")),
            ("versioning", Value::Bool(false)),
            ("force_destroy", Value::Bool(false)),
        ]),
        update: attrs(&[("versioning", Value::Bool(true))]),
        config: config(),
    });
}

#[test]
fn ecr_repositories_conform() {
    check(Case {
        kind: "container_registry".into(),
        create: attrs(&[
            ("name", Value::from(unique("r").as_str())),
            ("immutable_tags", Value::Bool(false)),
            ("scan_on_push", Value::Bool(true)),
        ]),
        update: attrs(&[("immutable_tags", Value::Bool(true))]),
        config: config(),
    });
}

#[test]
fn model_package_groups_conform() {
    check(Case {
        kind: "model_registry".into(),
        create: attrs(&[("name", Value::from(unique("m").as_str()))]),
        update: Attributes::new(),
        config: config(),
    });
}

#[test]
fn refused_credentials_fail_configure() {
    // No credentials in the environment of a child: configure must say so at once.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "configure_without_credentials_child",
            "--nocapture",
        ])
        .env("MLINFRA_CHILD", "1")
        .env("AWS_ACCESS_KEY_ID", "")
        .env("AWS_SECRET_ACCESS_KEY", "")
        .env("AWS_PROFILE", "")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn configure_without_credentials_child() {
    if std::env::var("MLINFRA_CHILD").is_err() {
        return;
    }
    use mlinfra_provider_api::{ConfigureRequest, ErrorKind, Provider};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let p = mlinfra_provider_aws::AwsProvider::new();
    let e = rt
        .block_on(p.configure(ConfigureRequest::new(config())))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert!(
        e.message.contains("no AWS credentials were found"),
        "{}",
        e.message
    );
    let mut bad = config();
    bad.attributes.insert("region".into(), Value::from("mars"));
    let e = rt
        .block_on(p.configure(ConfigureRequest::new(bad)))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid, "{}", e.message);
}

fn tags(kv: &[(&str, &str)]) -> Value {
    Value::Map(
        kv.iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    )
}

fn subnets() -> Value {
    Value::List(vec![Value::from("subnet-1"), Value::from("subnet-2")])
}

#[test]
fn eks_clusters_conform() {
    check(Case {
        kind: "cluster".into(),
        create: attrs(&[
            ("name", Value::from(unique("k").as_str())),
            ("kubernetes_version", Value::from("1.31")),
            ("subnet_ids", subnets()),
            (
                "role_arn",
                Value::from("arn:aws:iam::123456789012:role/eks"),
            ),
        ]),
        update: attrs(&[("tags", tags(&[("team", "ml")]))]),
        config: config(),
    });
}

#[test]
fn eks_nodegroups_conform() {
    use mlinfra_provider_api::{ApplyAction, ApplyRequest, Provider};
    // A nodegroup joins a cluster: make one first, and remove it last.
    let cluster = unique("kn");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let p = mlinfra_provider_aws::AwsProvider::new();
    let c = attrs(&[
        ("name", Value::from(cluster.as_str())),
        ("kubernetes_version", Value::from("1.31")),
        ("subnet_ids", subnets()),
        (
            "role_arn",
            Value::from("arn:aws:iam::123456789012:role/eks"),
        ),
    ]);
    let req = |action| {
        ApplyRequest::new("cluster", action, Some(c.clone()), c.clone(), config())
            .with_timeout(Some(120))
    };
    rt.block_on(p.apply(req(ApplyAction::Create))).unwrap();
    check(Case {
        kind: "gpu_pool".into(),
        create: attrs(&[
            ("name", Value::from("l4")),
            ("cluster", Value::from(cluster.as_str())),
            ("accelerator", Value::from("L4")),
            ("gpus_per_node", Value::from(1.0)),
            ("instance_type", Value::from("g6.xlarge")),
            ("min_nodes", Value::from(0.0)),
            ("max_nodes", Value::from(2.0)),
            ("capacity", Value::from("on_demand")),
            ("disk_size_gb", Value::from(200.0)),
            ("subnet_ids", subnets()),
            (
                "node_role_arn",
                Value::from("arn:aws:iam::123456789012:role/nodes"),
            ),
        ]),
        update: attrs(&[("max_nodes", Value::from(4.0))]),
        config: config(),
    });
    rt.block_on(p.apply(req(ApplyAction::Delete))).unwrap();
}

#[test]
fn sagemaker_feature_stores_conform() {
    let name = unique("f");
    let mut g = std::collections::BTreeMap::new();
    g.insert("record_id".to_string(), Value::from("txn_id"));
    g.insert("event_time".to_string(), Value::from("ts"));
    g.insert(
        "features".to_string(),
        tags(&[("amount", "float"), ("ts", "string"), ("txn_id", "string")]),
    );
    g.insert("description".to_string(), Value::Null);
    let mut groups = std::collections::BTreeMap::new();
    groups.insert("txn".to_string(), Value::Map(g));
    let mut offline = std::collections::BTreeMap::new();
    offline.insert(
        "bucket".to_string(),
        Value::from(format!("{name}-offline").as_str()),
    );
    offline.insert("prefix".to_string(), Value::from("features"));
    check(Case {
        kind: "feature_store".into(),
        create: attrs(&[
            ("name", Value::from(name.as_str())),
            (
                "role_arn",
                Value::from("arn:aws:iam::123456789012:role/features"),
            ),
            ("offline", Value::Map(offline)),
            ("feature_group", Value::Map(groups)),
        ]),
        update: Attributes::new(),
        config: config(),
    });
}

#[test]
fn sagemaker_endpoints_conform() {
    let mut model = std::collections::BTreeMap::new();
    model.insert(
        "image".to_string(),
        Value::from("123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:3"),
    );
    model.insert(
        "artifact".to_string(),
        Value::from("s3://models/fraud/model.tar.gz"),
    );
    model.insert("environment".to_string(), Value::Null);
    let instance = |n: f64| {
        let mut m = std::collections::BTreeMap::new();
        m.insert("type".to_string(), Value::from("ml.g4dn.xlarge"));
        m.insert("count".to_string(), Value::from(n));
        Value::Map(m)
    };
    check(Case {
        kind: "endpoint".into(),
        create: attrs(&[
            ("name", Value::from(unique("e").as_str())),
            (
                "role_arn",
                Value::from("arn:aws:iam::123456789012:role/sagemaker"),
            ),
            ("model", Value::Map(model)),
            ("instance", instance(1.0)),
        ]),
        update: attrs(&[("tags", tags(&[("team", "risk")]))]),
        config: config(),
    });
}
