//! `mlinfra policy emit`: Kueue objects from the quickstart; checks that stop bad quotas.

use crate::{mlinfra, repo};

#[test]
fn quickstart_policies_as_one_stream_and_as_files() {
    let q = repo().join("examples/quickstart");
    let r = mlinfra(&q, &["policy", "emit"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.matches("\n---\n").count() + 1,
        r.stdout
            .matches("apiVersion: kueue.x-k8s.io/v1beta2")
            .count()
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
    let r = emit_with("queue \"a\" {\n  name         = \"same\"\n  pools        = [gpu_pool.h100]\n  nominal_gpus = 8\n}\n\nqueue \"b\" {\n  name         = \"same\"\n  pools        = [gpu_pool.h100]\n  nominal_gpus = 8\n}\n");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("the queue name \"same\" is already used by queue.a"),
        "{}",
        r.stderr
    );
}
