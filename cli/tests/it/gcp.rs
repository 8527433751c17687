//! Apply on GCP against the GCP double (started by ./scripts/test): lifecycle, drift,
//! import, faults, the quickstart's GCP part, and the provider block's rules.
//!
//! Every test uses a project of its own, so tests share one double without seeing each
//! other's objects.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::{kill_apply_when, mlinfra_env, pending, recorded, stored_state, Run};

fn endpoint() -> String {
    std::env::var("MLINFRA_TEST_GCP_ENDPOINT").expect(
        "MLINFRA_TEST_GCP_ENDPOINT is not set: run ./scripts/test, which starts the GCP double",
    )
}

/// A project id no other test uses.
fn project() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "t{}-{}-{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::SeqCst),
        nanos % 10_000
    )
}

/// No Google credentials anywhere: the double needs none.
const NO_GOOGLE: &[(&str, &str)] = &[
    ("GOOGLE_APPLICATION_CREDENTIALS", ""),
    ("CLOUDSDK_CONFIG", "/nonexistent/gcloud"),
];

fn run(dir: &Path, args: &[&str]) -> Run {
    mlinfra_env(dir, args, NO_GOOGLE)
}

fn write(dir: &Path, project: &str, body: &str) {
    let text = format!(
        "provider \"gcp\" {{\n  project  = \"{project}\"\n  region   = \"us-central1\"\n  endpoint = \"{}\"\n}}\n\n{body}",
        endpoint()
    );
    std::fs::write(dir.join("main.mlinfra.hcl"), text).unwrap();
}

/// One HTTP/1.1 call to the double.
fn http(method: &str, path: &str, body: &str) -> (u16, String) {
    let host = endpoint();
    let addr = host.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Every object the double holds for `project`, as "table name" lines.
fn objects(project: &str) -> Vec<String> {
    let (_, body) = http("GET", "/__double/state", "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut out = Vec::new();
    for (table, items) in v["resources"].as_object().into_iter().flatten() {
        for (name, item) in items.as_object().into_iter().flatten() {
            let mine = name.contains(&format!("projects/{project}/"))
                || item["project"] == format!("projects/{project}")
                || item["name"]
                    .as_str()
                    .is_some_and(|n| n.contains(&format!("projects/{project}/")));
            if mine {
                out.push(format!("{table} {name}"));
            }
        }
    }
    out.sort();
    out
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn gcp_kinds_apply_replan_clean_update_in_place_replace_drift_import_and_destroy() {
    let p = project();
    let bucket = format!("{p}-features");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = |features: &str, registry: &str, labels: &str| {
        format!(
            r#"bucket "features" {{
  cloud      = "gcp"
  name       = "{bucket}"
  versioning = true
  tags       = {labels}
}}

container_registry "images" {{
  cloud          = "gcp"
  name           = "{registry}"
  immutable_tags = true
}}

feature_store "fraud" {{
  cloud = "gcp"
  offline {{
    bucket = bucket.features.name
  }}
  online {{
    nodes = 1
  }}
  feature_group "transactions" {{
    record_id  = "txn_id"
    event_time = "ts"
    features   = {features}
  }}
}}

model_registry "fraud" {{
  cloud         = "gcp"
  description   = "Fraud scoring models"
  serving_image = "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest"
}}
"#
        )
    };
    let two = r#"{ amount = "float", ts = "string", txn_id = "string" }"#;
    write(d, &p, &manifest(two, "scorer", r#"{ env = "dev" }"#));
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let made = objects(&p);
    for want in [
        format!("storage.buckets {bucket}"),
        format!("artifactregistry.repositories projects/{p}/locations/us-central1/repositories/scorer"),
        format!("vertex.featureOnlineStores projects/{p}/locations/us-central1/featureOnlineStores/fraud"),
        format!("vertex.featureGroups projects/{p}/locations/us-central1/featureGroups/fraud__transactions"),
        format!("vertex.features projects/{p}/locations/us-central1/featureGroups/fraud__transactions/features/amount"),
        format!("vertex.featureViews projects/{p}/locations/us-central1/featureOnlineStores/fraud/featureViews/transactions"),
        format!("vertex.models projects/{p}/locations/us-central1/models/fraud"),
    ] {
        assert!(made.contains(&want), "{want} not in {made:#?}");
    }
    // The record id and event time are the group's columns, not Features.
    assert!(
        !made
            .iter()
            .any(|o| o.ends_with("/features/txn_id") || o.ends_with("/features/ts")),
        "{made:#?}"
    );

    // A plan right after the apply has nothing to do.
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // A refresh-only plan changes no resource.
    let r = run(
        d,
        &[
            "plan",
            "--refresh-only",
            "--detailed-exitcode",
            "--no-color",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A new feature and a new label are changes in place.
    let three = r#"{ amount = "float", merchant = "string", ts = "string", txn_id = "string" }"#;
    write(
        d,
        &p,
        &manifest(three, "scorer", r#"{ env = "dev", team = "fraud" }"#),
    );
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout
            .contains("feature_store.fraud will be updated in-place"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("bucket.features will be updated in-place"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("0 to add, 2 to change, 0 to destroy"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    assert!(objects(&p)
        .iter()
        .any(|o| o.ends_with("/features/merchant")));
    let (_, b) = http("GET", &format!("/storage/v1/b/{bucket}"), "");
    assert!(
        b.contains("\"team\": \"fraud\"") || b.contains("\"team\":\"fraud\""),
        "{b}"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A new repository name replaces it, and says why.
    write(
        d,
        &p,
        &manifest(three, "scorer-v2", r#"{ env = "dev", team = "fraud" }"#),
    );
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout
            .contains("Artifact Registry cannot rename a repository"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let now = objects(&p);
    assert!(
        now.iter().any(|o| o.ends_with("/repositories/scorer-v2")),
        "{now:#?}"
    );
    assert!(
        !now.iter().any(|o| o.ends_with("/repositories/scorer")),
        "{now:#?}"
    );

    // Drift: the bucket deleted outside mlinfra is planned again.
    let (code, _) = http("DELETE", &format!("/storage/v1/b/{bucket}"), "");
    assert_eq!(code, 204);
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout.contains("bucket.features has been deleted"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("bucket.features will be created"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));

    // Import: a state without the registry takes it back by its resource name.
    let r = run(d, &["state", "rm", "container_registry.images"]);
    ok(&r);
    let id = format!("projects/{p}/locations/us-central1/repositories/scorer-v2");
    ok(&run(
        d,
        &["import", "container_registry.images", &id, "--no-color"],
    ));
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Destroy leaves nothing of this project in the double.
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(objects(&p), Vec::<String>::new());
}

#[test]
fn the_quickstarts_gcp_part_applies_replans_clean_and_destroys_to_nothing() {
    let dir = crate::copy_to_temp(&crate::repo().join("examples/quickstart"));
    let d = dir.path();
    let p = project();
    let main = d.join("main.mlinfra.hcl");
    let text = std::fs::read_to_string(&main).unwrap();
    let block = "provider \"gcp\" {\n  project = \"acme-ml\"\n  region  = \"us-central1\"\n}";
    assert!(text.contains(block), "the quickstart's gcp block changed");
    let ours = format!(
        "provider \"gcp\" {{\n  project  = \"{p}\"\n  region   = \"us-central1\"\n  endpoint = \"{}\"\n}}",
        endpoint()
    );
    std::fs::write(&main, text.replace(block, &ours)).unwrap();
    let _ = std::fs::remove_file(d.join("mlinfra.state.json"));
    let targets = [
        "--target",
        "bucket.features",
        "--target",
        "feature_store.fraud",
        "--target",
        "model_registry.fraud",
    ];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(targets.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let args = with(&["apply", "--auto-approve", "--no-color"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(d, &args);
    ok(&r);
    assert!(r.stdout.contains("Resources: 3 added"), "{}", r.stdout);
    assert!(objects(&p).len() >= 6, "{:#?}", objects(&p));
    let args = with(&["plan", "--detailed-exitcode", "--no-color"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(d, &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let args = with(&["destroy", "--auto-approve", "--no-color"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&run(d, &args));
    assert_eq!(objects(&p), Vec::<String>::new());
}

#[test]
fn throttling_and_unavailability_from_google_converge() {
    let p = project();
    let bucket = format!("{p}-raw");
    // The next bucket create answers RESOURCE_EXHAUSTED (429 with Retry-After), the next
    // repository create of this project 503 twice.
    let (code, _) = http(
        "POST",
        "/__double/faults",
        r#"{"method": "google.storage.v2.Storage/CreateBucket", "fault": "RESOURCE_EXHAUSTED", "retryAfter": 1}"#,
    );
    assert_eq!(code, 200);
    let (code, _) = http(
        "POST",
        "/__double/faults",
        &format!(
            r#"{{"path": "projects/{p}/.*/repositories$", "httpMethod": "POST", "fault": "UNAVAILABLE", "times": 2}}"#
        ),
    );
    assert_eq!(code, 200);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        &p,
        &format!("bucket \"raw\" {{\n  cloud = \"gcp\"\n  name  = \"{bucket}\"\n}}\n\ncontainer_registry \"images\" {{\n  cloud = \"gcp\"\n  name  = \"scorer\"\n}}\n"),
    );
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    ok(&r);
    assert!(r.stdout.contains("Resources: 2 added"), "{}", r.stdout);
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(objects(&p), Vec::<String>::new());
}

#[test]
fn an_offline_plan_runs_gcp_rules_and_a_bad_block_stops_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Vertex AI ids take no '-': the error is at the resource block.
    std::fs::write(
        d.join("main.mlinfra.hcl"),
        "provider \"gcp\" {\n  project = \"acme-ml\"\n  region  = \"us-central1\"\n}\n\nfeature_store \"fraud\" {\n  cloud = \"gcp\"\n  name  = \"acme-fraud\"\n  offline {\n    bucket = \"x\"\n  }\n}\n",
    )
    .unwrap();
    let r = run(d, &["plan", "--no-color"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("\"acme-fraud\" is not a valid Vertex AI feature online store id")
            && r.stderr.contains("main.mlinfra.hcl:6:1"),
        "{}",
        r.stderr
    );
    // A bad label is refused before any call too.
    std::fs::write(
        d.join("main.mlinfra.hcl"),
        "provider \"gcp\" {\n  project = \"acme-ml\"\n}\n\nbucket \"raw\" {\n  cloud = \"gcp\"\n  name  = \"acme-ml-raw\"\n  tags  = { Team = \"ML\" }\n}\n",
    )
    .unwrap();
    let r = run(d, &["plan", "--no-color"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("is not a valid GCP label key"),
        "{}",
        r.stderr
    );

    // An apply configures the provider first: a bad region is one error at the block.
    std::fs::write(
        d.join("main.mlinfra.hcl"),
        format!("provider \"gcp\" {{\n  project  = \"acme-ml\"\n  region   = \"us-east-1\"\n  endpoint = \"{}\"\n}}\n\ncontainer_registry \"raw\" {{\n  cloud = \"gcp\"\n  name  = \"acme-ml-raw-1\"\n}}\n", endpoint()),
    )
    .unwrap();
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("error: provider \"gcp\"")
            && r.stderr.contains("\"us-east-1\" is not a GCP region name")
            && r.stderr.contains("main.mlinfra.hcl:1:1"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("error:").count(), 1, "{}", r.stderr);
    let (_, state) = http("GET", "/__double/state", "");
    assert!(!state.contains("acme-ml-raw-1"));
}

#[test]
fn a_key_file_that_google_refuses_is_one_error_and_its_secret_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("key.json");
    // A service-account key whose private key is not a key: the secret must not leak.
    std::fs::write(
        &key,
        r#"{"type": "service_account", "project_id": "acme-ml", "private_key_id": "k1",
"private_key": "-----BEGIN PRIVATE KEY-----\nSECRETMARKER0123456789\n-----END PRIVATE KEY-----\n",
"client_email": "ci@acme-ml.iam.gserviceaccount.com", "client_id": "1",
"token_uri": "http://127.0.0.1:9/token"}"#,
    )
    .unwrap();
    std::fs::write(
        d.join("main.mlinfra.hcl"),
        format!("provider \"gcp\" {{\n  project          = \"acme-ml\"\n  credentials_file = \"{}\"\n}}\n\nbucket \"raw\" {{\n  cloud = \"gcp\"\n  name  = \"acme-ml-raw-2\"\n}}\n", key.display()),
    )
    .unwrap();
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("error: provider \"gcp\""), "{}", r.stderr);
    assert!(
        r.stderr.contains("no usable GCP credentials"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("SECRETMARKER") && !r.stdout.contains("SECRETMARKER"));
    assert_eq!(r.stderr.matches("error:").count(), 1, "{}", r.stderr);
}

#[test]
fn a_gke_cluster_and_gpu_pools_create_upgrade_one_minor_rescale_replace_and_destroy() {
    let p = project();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = |version: &str, max: u32, capacity: &str| {
        format!(
            r#"cluster "train" {{
  cloud              = "gcp"
  kubernetes_version = "{version}"
}}

gpu_pool "l4" {{
  cluster       = cluster.train
  accelerator   = "L4"
  gpus_per_node = 1
  max_nodes     = {max}
  capacity      = "{capacity}"
  sharing {{
    mode     = "time_slicing"
    replicas = 4
  }}
}}

gpu_pool "a100" {{
  cluster       = cluster.train
  accelerator   = "A100-80GB"
  gpus_per_node = 8
  max_nodes     = 2
  sharing {{
    mode    = "mig"
    profile = "1g.10gb"
  }}
}}
"#
        )
    };
    write(d, &p, &manifest("1.31", 4, "spot"));
    // Two pools of one cluster at once: GKE runs one operation per cluster, the second waits.
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let (_, body) = http(
        "GET",
        &format!("/v1/projects/{p}/locations/us-central1/clusters/train/nodePools/a100"),
        "",
    );
    let pool: serde_json::Value = serde_json::from_str(&body).unwrap();
    let acc = &pool["config"]["accelerators"][0];
    assert_eq!(acc["acceleratorType"], "nvidia-a100-80gb", "{body}");
    assert_eq!(acc["gpuPartitionSize"], "1g.10gb", "{body}");
    assert_eq!(pool["config"]["machineType"], "a2-ultragpu-8g", "{body}");
    let (_, body) = http(
        "GET",
        &format!("/v1/projects/{p}/locations/us-central1/clusters/train/nodePools/l4"),
        "",
    );
    let pool: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(pool["config"]["spot"], true, "{body}");
    assert_eq!(
        pool["config"]["accelerators"][0]["gpuSharingConfig"]["gpuSharingStrategy"], "TIME_SHARING",
        "{body}"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Two minors at once is refused before any call, with the next step.
    write(d, &p, &manifest("1.33", 4, "spot"));
    let r = run(d, &["plan", "--no-color"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("apply 1.32 first"), "{}", r.stderr);
    // One minor and a new autoscaling limit are in place.
    write(d, &p, &manifest("1.32", 6, "spot"));
    let r = run(d, &["plan", "--no-color"]);
    assert!(
        r.stdout.contains("0 to add, 2 to change, 0 to destroy"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let (_, body) = http(
        "GET",
        &format!("/v1/projects/{p}/locations/us-central1/clusters/train"),
        "",
    );
    assert!(
        body.contains("\"currentMasterVersion\": \"1.32\"")
            || body.contains("\"currentMasterVersion\":\"1.32\""),
        "{body}"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Spot to on-demand replaces the pool, and says why.
    write(d, &p, &manifest("1.32", 6, "on_demand"));
    let r = run(d, &["plan", "--no-color"]);
    assert!(
        r.stdout
            .contains("spot or reservation setting is fixed at creation"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));

    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(objects(&p), Vec::<String>::new());
}

#[test]
fn a_gke_stockout_is_a_capacity_error_and_the_failed_pool_is_not_lost() {
    let p = project();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        &p,
        "cluster \"train\" {\n  cloud = \"gcp\"\n}\n\ngpu_pool \"h100\" {\n  cluster       = cluster.train\n  accelerator   = \"H100\"\n  gpus_per_node = 8\n  max_nodes     = 2\n}\n",
    );
    let (code, _) = http(
        "POST",
        "/__double/faults",
        &format!(
            r#"{{"method": "*.nodePools.create", "path": "projects/{p}/", "fault": "ZONE_RESOURCE_POOL_EXHAUSTED"}}"#
        ),
    );
    assert_eq!(code, 200);
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("ZONE_RESOURCE_POOL_EXHAUSTED"), "{all}");
    assert!(
        all.contains("Google has no capacity for this machine there right now"),
        "{all}"
    );
    // Nothing is left behind: deleting the cluster removes the pool GKE left in ERROR.
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(objects(&p), Vec::<String>::new());
}

#[test]
fn a_vertex_endpoint_rolls_a_new_model_out_beside_the_old_and_rescales_in_place() {
    let p = project();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = |tag: &str, count: u32| {
        format!(
            r#"endpoint "scorer" {{
  cloud = "gcp"
  model = {{
    image       = "us-docker.pkg.dev/{p}/images/scorer:{tag}"
    environment = {{ MODE = "fast" }}
  }}
  environment_wo = {{ HF_TOKEN = "hf_gcp_secret" }}
  instance = {{
    type  = "g2-standard-4"
    count = {count}
  }}
  rollout {{
    strategy       = "canary"
    canary_percent = 10
    bake_minutes   = 0
  }}
}}
"#
        )
    };
    let endpoint_of = || -> serde_json::Value {
        let (_, body) = http(
            "GET",
            &format!("/v1/projects/{p}/locations/us-central1/endpoints/scorer"),
            "",
        );
        serde_json::from_str(&body).unwrap()
    };
    write(d, &p, &manifest("3", 1));
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let e = endpoint_of();
    let first = e["deployedModels"][0]["model"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        e["deployedModels"][0]["dedicatedResources"]["machineSpec"]["acceleratorType"], "NVIDIA_L4",
        "{e}"
    );
    // The write-only variable is in the model's container, never in the state.
    let env_of = |model: &str| -> serde_json::Value {
        let (_, body) = http("GET", &format!("/v1/{model}"), "");
        let m: serde_json::Value = serde_json::from_str(&body).unwrap();
        m["containerSpec"]["env"].clone()
    };
    assert_eq!(
        env_of(&first),
        serde_json::json!([
            { "name": "HF_TOKEN", "value": "hf_gcp_secret" },
            { "name": "MODE", "value": "fast" }
        ])
    );
    let stored = std::fs::read_to_string(d.join("mlinfra.state.json")).unwrap();
    assert!(!stored.contains("hf_gcp"), "{stored}");
    assert!(stored.contains("\"HF_TOKEN\": null"), "{stored}");
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A new image is in place for the endpoint: a new model, deployed beside the old one.
    write(d, &p, &manifest("4", 1));
    let r = run(d, &["plan", "--no-color"]);
    assert!(
        r.stdout
            .contains("endpoint.scorer will be updated in-place"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let e = endpoint_of();
    let deployed = e["deployedModels"].as_array().unwrap();
    assert_eq!(deployed.len(), 1, "{e}");
    let second = deployed[0]["model"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        env_of(&second)[0]["value"],
        "hf_gcp_secret",
        "a new model gets it too"
    );
    assert_eq!(
        e["trafficSplit"][deployed[0]["id"].as_str().unwrap()],
        100,
        "{e}"
    );
    // The old model is deleted once nothing serves it; the new one stays.
    let models = objects(&p);
    assert!(
        !models
            .iter()
            .any(|o| o.ends_with(first.rsplit('/').next().unwrap())),
        "{models:#?}"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // More replicas: the same deployment, rescaled.
    write(d, &p, &manifest("4", 3));
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let e = endpoint_of();
    assert_eq!(
        e["deployedModels"][0]["model"].as_str().unwrap(),
        second,
        "{e}"
    );
    assert_eq!(
        e["deployedModels"][0]["dedicatedResources"]["minReplicaCount"], 3,
        "{e}"
    );

    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(objects(&p), Vec::<String>::new());
}

#[test]
fn an_apply_killed_at_four_instants_leaves_no_orphan_and_no_duplicate() {
    let n = 40;
    // Kill with nothing recorded yet, early, midway and late.
    for (round, at) in [0usize, 5, 20, 35].into_iter().enumerate() {
        let p = project();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            &p,
            &format!("bucket \"b\" {{\n  count = {n}\n  cloud = \"gcp\"\n  name  = \"{p}-${{count.index}}\"\n}}\n"),
        );
        // Each create answers 40 ms late, so the apply is still going when it is killed.
        let (code, _) = http(
            "POST",
            "/__double/faults",
            &format!(
                r#"{{"method": "google.storage.v2.Storage/CreateBucket", "fault": "latency", "latencyMs": 40, "times": {n}}}"#
            ),
        );
        assert_eq!(code, 200);
        kill_apply_when(d, NO_GOOGLE, || {
            d.join("mlinfra.state.json.lock").exists()
                && (recorded(d) >= at && (at > 0 || pending(d)))
        });
        let r = run(d, &["apply", "--auto-approve", "--no-color"]);
        assert_eq!(r.code, 0, "round {round}: {}\n{}", r.stdout, r.stderr);
        let mut want: Vec<String> = (0..n).map(|i| format!("storage.buckets {p}-{i}")).collect();
        want.sort();
        assert_eq!(
            objects(&p),
            want,
            "round {round}: the live buckets are the manifest's, once each"
        );
        assert_eq!(
            recorded(d),
            n,
            "round {round}: every bucket is in state once"
        );
        assert!(!pending(d), "round {round}: no intent left");
        let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
        assert_eq!(r.code, 0, "round {round}: {}\n{}", r.stdout, r.stderr);
        ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
        assert_eq!(objects(&p), Vec::<String>::new(), "round {round}");
    }
}

#[test]
fn a_node_pool_create_killed_while_gke_works_on_it_is_adopted_by_its_handle() {
    let p = project();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        &p,
        "cluster \"train\" {\n  cloud = \"gcp\"\n}\n\ngpu_pool \"l4\" {\n  cluster       = cluster.train\n  accelerator   = \"L4\"\n  gpus_per_node = 1\n  max_nodes     = 2\n}\n",
    );
    // The pool create answers 1.5 s late: the run is killed while GKE has the request.
    let (code, _) = http(
        "POST",
        "/__double/faults",
        &format!(
            r#"{{"method": "*.nodePools.create", "path": "projects/{p}/", "fault": "latency", "latencyMs": 1500}}"#
        ),
    );
    assert_eq!(code, 200);
    kill_apply_when(d, NO_GOOGLE, || recorded(d) >= 1 && pending(d));
    let st = stored_state(d).unwrap();
    assert!(
        !st.pending.is_empty(),
        "the pool's intent was recorded before the call: {st:?}"
    );
    // Let the double finish what it was asked.
    std::thread::sleep(Duration::from_millis(1800));
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (_, body) = http(
        "GET",
        &format!("/v1/projects/{p}/locations/us-central1/clusters/train"),
        "",
    );
    let cluster: serde_json::Value = serde_json::from_str(&body).unwrap();
    let pools: Vec<&str> = cluster["nodePools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|np| np["name"].as_str())
        .collect();
    assert_eq!(pools, vec!["system", "l4"], "one pool, not two: {body}");
    assert_eq!(recorded(d), 2);
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(objects(&p), Vec::<String>::new());
}
