//! The provider contract as a user meets it: the provider's plan-time rules run in every
//! plan, offline and without credentials, and a replacement says why.

use crate::aws::NO_CREDENTIALS;
use crate::{mlinfra_env, Run};

fn plan(manifest: &str) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.mlinfra.hcl"), manifest).unwrap();
    let r = mlinfra_env(dir.path(), &["plan", "--no-color"], NO_CREDENTIALS);
    (dir, r)
}

#[test]
fn an_offline_plan_runs_the_clouds_own_name_rules() {
    let (dir, r) = plan(
        "provider \"aws\" {\n  region = \"us-east-1\"\n}\n\nbucket \"raw\" {\n  cloud = \"aws\"\n  name  = \"Raw_Data\"\n}\n",
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("\"Raw_Data\" is not a valid S3 bucket name")
            && r.stderr.contains("main.mlinfra.hcl:5:1"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("mlinfra.state.json").exists());
}

#[test]
fn a_bad_provider_block_or_missing_credentials_stop_before_any_call_only_when_called() {
    // An offline plan (empty state) calls nothing: no credentials are needed.
    let (_, r) = plan(
        "provider \"aws\" {\n  region = \"us-east-1\"\n}\n\nmodel_registry \"fraud\" {\n  cloud = \"aws\"\n}\n",
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 to add"), "{}", r.stdout);
    // An apply must call AWS: configure refuses first, naming the block.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "provider \"aws\" {\n  region = \"moon-base\"\n}\n\nmodel_registry \"fraud\" {\n  cloud = \"aws\"\n}\n",
    )
    .unwrap();
    let r = mlinfra_env(
        dir.path(),
        &["apply", "--auto-approve", "--no-color"],
        NO_CREDENTIALS,
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("error: provider \"aws\": region \"moon-base\" is not an AWS region name")
            && r.stderr.contains("main.mlinfra.hcl:1:1"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_version_jump_is_refused_at_plan_time_with_the_next_step() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = |v: &str| {
        format!("provider \"aws\" {{\n  region = \"us-east-1\"\n}}\n\ncluster \"train\" {{\n  cloud              = \"aws\"\n  kubernetes_version = \"{v}\"\n  subnet_ids         = [\"subnet-1\", \"subnet-2\"]\n  role_arn           = \"arn:aws:iam::123456789012:role/eks\"\n}}\n")
    };
    std::fs::write(dir.path().join("main.mlinfra.hcl"), manifest("1.33")).unwrap();
    // A state that holds the cluster at 1.31, as an earlier apply left it.
    let state = serde_json::json!({
        "version": 1, "lineage": "00000000-0000-4000-8000-000000000001", "serial": 1,
        "mlinfra_version": "0.1.0",
        "resources": [{
            "address": "cluster.train", "kind": "cluster", "cloud": "aws", "provider": "aws",
            "id": "train",
            "attributes": {"cloud": "aws", "name": "train", "region": "us-east-1", "kubernetes_version": "1.31",
                "subnet_ids": ["subnet-1", "subnet-2"], "role_arn": "arn:aws:iam::123456789012:role/eks"}
        }],
        "outputs": {}
    });
    std::fs::write(dir.path().join("mlinfra.state.json"), state.to_string()).unwrap();
    let r = mlinfra_env(
        dir.path(),
        &["plan", "--refresh=false", "--no-color"],
        NO_CREDENTIALS,
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("from 1.31 to 1.33") && r.stderr.contains("apply 1.32 first"),
        "{}",
        r.stderr
    );
    std::fs::write(dir.path().join("main.mlinfra.hcl"), manifest("1.32")).unwrap();
    let r = mlinfra_env(
        dir.path(),
        &["plan", "--refresh=false", "--no-color"],
        NO_CREDENTIALS,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("\"1.31\" -> \"1.32\""), "{}", r.stdout);
}

#[test]
fn schema_shows_each_clouds_plan_time_rules() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::mlinfra(dir.path(), &["schema", "cluster"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("checked by the providers in every plan, before any cloud call:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("aws    kubernetes_version upgrades one minor version at a time")
            && r.stdout.contains("gcp    name: a GKE name (≤ 40"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_replaced_cluster_may_start_at_any_version() {
    // The version step is a rule about changing a cluster in place: a new cluster (here a
    // new name) starts at whatever version the manifest asks for.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "provider \"aws\" {\n  region = \"us-east-1\"\n}\n\ncluster \"train\" {\n  cloud              = \"aws\"\n  name               = \"train-v2\"\n  kubernetes_version = \"1.33\"\n  subnet_ids         = [\"subnet-1\", \"subnet-2\"]\n  role_arn           = \"arn:aws:iam::123456789012:role/eks\"\n}\n",
    )
    .unwrap();
    let state = serde_json::json!({
        "version": 1, "lineage": "00000000-0000-4000-8000-000000000002", "serial": 1,
        "mlinfra_version": "0.1.0",
        "resources": [{
            "address": "cluster.train", "kind": "cluster", "cloud": "aws", "provider": "aws",
            "id": "train",
            "attributes": {"cloud": "aws", "name": "train", "region": "us-east-1", "kubernetes_version": "1.31",
                "subnet_ids": ["subnet-1", "subnet-2"], "role_arn": "arn:aws:iam::123456789012:role/eks"}
        }],
        "outputs": {}
    });
    std::fs::write(dir.path().join("mlinfra.state.json"), state.to_string()).unwrap();
    let r = mlinfra_env(
        dir.path(),
        &["plan", "--refresh=false", "--no-color"],
        NO_CREDENTIALS,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("cluster.train must be replaced")
            && r.stdout.contains("EKS cannot rename a cluster"),
        "{}",
        r.stdout
    );
}
