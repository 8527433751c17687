//! `mlinfra policy emit`: Kueue objects from the quickstart; checks that stop bad quotas.

use crate::{mlinfra, repo};

#[test]
fn quickstart_policies_as_one_stream_and_as_files() {
    let tmp = crate::copy_to_temp(&repo().join("examples/quickstart"));
    let q = tmp.path().to_path_buf();
    let r = mlinfra(&q, &["policy", "emit"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.matches("\n---\n").count() + 1,
        r.stdout.matches("\napiVersion: ").count()
    );
    insta::assert_snapshot!("quickstart_policies", r.stdout);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("policies");
    let r = mlinfra(&q, &["policy", "emit", "--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "clusterqueues.yaml",
            "cohorts.yaml",
            "localqueues.yaml",
            "nvidia-configs.yaml",
            "resourceflavors.yaml",
            "workloadpriorityclasses.yaml"
        ]
    );
    let cq = std::fs::read_to_string(out.join("clusterqueues.yaml")).unwrap();
    assert!(
        cq.contains("cohortName: \"ml\"")
            && cq.contains("nominalQuota: 51")
            && cq.contains("nominalQuota: 13"),
        "{cq}"
    );
}

fn emit_with(queue: &str) -> crate::Run {
    let dir = crate::copy_to_temp(&crate::fixture("lifecycle"));
    std::fs::write(dir.path().join("queue.mlinfra.hcl"), queue).unwrap();
    let r = mlinfra(dir.path(), &["policy", "emit"]);

    r
}

#[test]
fn quotas_beyond_capacity_and_borrowing_without_a_cohort_are_errors() {
    // The fixture's pool holds 8 GPUs × 4 nodes = 32.
    let r = emit_with("queue \"q\" {\n  pools        = [gpu_pool.h100]\n  nominal_gpus = 40\n}\n");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("queue.mlinfra.hcl:1:1")
            && r.stderr
                .contains("nominal_gpus 40 is more than its pools hold (32 GPUs"),
        "{}",
        r.stderr
    );
    let r = emit_with("queue \"q\" {\n  pools        = [gpu_pool.h100]\n  nominal_gpus = 40\n  overcommit   = true\n}\n");
    assert_eq!(r.code, 0, "overcommit allows it: {}", r.stderr);
    let r = emit_with("queue \"q\" {\n  pools           = [gpu_pool.h100]\n  nominal_gpus    = 16\n  borrowing_limit = 8\n}\n");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("borrowing_limit needs a cohort"),
        "{}",
        r.stderr
    );
    let r = emit_with("queue \"a\" {\n  pools        = [gpu_pool.h100]\n  nominal_gpus = 24\n  cohort       = \"ml\"\n}\n\nqueue \"b\" {\n  pools        = [gpu_pool.h100]\n  nominal_gpus = 24\n  cohort       = \"ml\"\n}\n");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cohort \"ml\": its queues' nominal quotas add up to 48 GPUs, more than its pools hold (32)"), "{}", r.stderr);
    let r = emit_with("cluster \"other\" {\n  cloud = \"gcp\"\n}\n\ngpu_pool \"other\" {\n  cluster       = cluster.other\n  accelerator   = \"L4\"\n  gpus_per_node = 1\n  max_nodes     = 2\n}\n\nqueue \"q\" {\n  pools        = [gpu_pool.h100, gpu_pool.other]\n  nominal_gpus = 4\n}\n");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("the queue names pools of different clusters (other, train)"),
        "{}",
        r.stderr
    );
    let r = emit_with("queue \"a\" {\n  name         = \"same\"\n  pools        = [gpu_pool.h100]\n  nominal_gpus = 8\n}\n\nqueue \"b\" {\n  name         = \"same\"\n  pools        = [gpu_pool.h100]\n  nominal_gpus = 8\n}\n");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("the queue name \"same\" is already used by queue.a"),
        "{}",
        r.stderr
    );
}

fn emit_pool(accelerator: &str, sharing: &str) -> crate::Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        format!("cluster \"c\" {{\n  cloud = \"gcp\"\n}}\n\ngpu_pool \"p\" {{\n  cluster       = cluster.c\n  accelerator   = \"{accelerator}\"\n  gpus_per_node = 1\n  max_nodes     = 2\n\n  sharing {{\n{sharing}\n  }}\n}}\n"),
    )
    .unwrap();
    mlinfra(dir.path(), &["policy", "emit"])
}

#[test]
fn mig_and_time_slicing_mistakes_are_errors_at_the_pool() {
    let r = emit_pool("L4", "    mode    = \"mig\"\n    profile = \"1g.10gb\"");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("main.mlinfra.hcl:5:1") && r.stderr.contains("L4 has no MIG"),
        "{}",
        r.stderr
    );
    let r = emit_pool(
        "A100-80GB",
        "    mode    = \"mig\"\n    profile = \"1g.5gb\"",
    );
    assert!(
        r.stderr
            .contains("1g.5gb is not a MIG profile of the A100-80GB"),
        "{}",
        r.stderr
    );
    let r = emit_pool(
        "H100",
        "    mode    = \"mig\"\n    profile = { \"3g.40gb\" = 2, \"2g.20gb\" = 1 }",
    );
    assert!(
        r.stderr
            .contains("does not fit one H100: it needs 8 of 7 compute slices"),
        "{}",
        r.stderr
    );
    let r = emit_pool(
        "A100",
        "    mode    = \"mig\"\n    profile = { \"1g.10gb\" = 5 }",
    );
    assert!(
        r.stderr.contains("at most 4 × 1g.10gb fit one A100"),
        "{}",
        r.stderr
    );
    let r = emit_pool("L4", "    mode = \"time_slicing\"");
    assert!(
        r.stderr.contains("time slicing needs replicas"),
        "{}",
        r.stderr
    );
    let r = emit_pool(
        "A100-80GB",
        "    mode    = \"mig\"\n    profile = \"1g.10gb\"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("\"1g.10gb\": 7"),
        "one profile fills the GPU: {}",
        r.stdout
    );
}

#[test]
fn the_sharing_fixture_emits_mig_and_time_slicing_configs() {
    let tmp = crate::copy_to_temp(&crate::fixture("policies"));
    let r = mlinfra(tmp.path(), &["policy", "emit"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("sharing_policies", r.stdout);
}

#[test]
fn karpenter_and_volcano_objects_on_request() {
    let tmp = crate::copy_to_temp(&repo().join("examples/quickstart"));
    let q = tmp.path().to_path_buf();
    let plain = mlinfra(&q, &["policy", "emit"]);
    assert!(!plain.stdout.contains("kind: NodePool") && !plain.stdout.contains("kind: Queue"));
    let r = mlinfra(
        &q,
        &[
            "policy",
            "emit",
            "--karpenter",
            "--volcano",
            "--node-class",
            "gpu",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.matches("kind: NodePool").count(),
        4,
        "one per AWS pool"
    );
    assert_eq!(
        r.stdout
            .matches("apiVersion: scheduling.volcano.sh/v1beta1")
            .count(),
        2,
        "one per queue"
    );
    assert!(
        r.stdout.contains("name: \"gpu\""),
        "the EC2NodeClass: {}",
        r.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let r = mlinfra(
        &q,
        &[
            "policy",
            "emit",
            "--karpenter",
            "--volcano",
            "--out",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.path().join("karpenter-nodepools.yaml").exists());
    assert!(dir.path().join("volcano-queues.yaml").exists());
    let volcano = std::fs::read_to_string(dir.path().join("volcano-queues.yaml")).unwrap();
    assert!(
        volcano.contains("reclaimable: true"),
        "a YAML boolean, lowercase: {volcano}"
    );
}

#[test]
fn plan_lists_the_policy_objects_that_changed_since_the_last_emit() {
    let tmp = crate::copy_to_temp(&repo().join("examples/quickstart"));
    let q = tmp.path();
    let r = mlinfra(q, &["plan"]);
    assert!(
        r.stdout
            .contains("GPU policy objects that changed since the last policy emit")
            && r.stdout.contains("  + ClusterQueue research")
            && r.stdout.contains("  + LocalQueue research/research"),
        "{}",
        r.stdout
    );
    assert_eq!(mlinfra(q, &["policy", "emit"]).code, 0);
    let r = mlinfra(q, &["plan", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        j["policy_changes"],
        serde_json::json!([]),
        "nothing changed since the emit"
    );
    let training = q.join("training.mlinfra.hcl");
    let text = std::fs::read_to_string(&training)
        .unwrap()
        .replace("nominal_gpus    = 64", "nominal_gpus    = 80");
    std::fs::write(&training, text).unwrap();
    let r = mlinfra(q, &["plan", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        j["policy_changes"],
        serde_json::json!([{"action": "update", "object": "ClusterQueue research"}])
    );
    let r = mlinfra(q, &["plan", "--destroy", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        j["policy_changes"],
        serde_json::json!([]),
        "a destroy plan changes no policy"
    );
    // A policy check fails the plan too, at the queue.
    let text = std::fs::read_to_string(&training)
        .unwrap()
        .replace("nominal_gpus    = 80", "nominal_gpus    = 500");
    std::fs::write(&training, text).unwrap();
    let r = mlinfra(q, &["plan"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("nominal_gpus 500 is more than its pools hold (160 GPUs"),
        "{}",
        r.stderr
    );
}
