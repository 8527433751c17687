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
