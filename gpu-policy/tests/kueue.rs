//! The quickstart's Kueue objects, validated against the upstream CRDs (tests/data/crds).

use std::path::Path;

use mlinfra_gpu_policy::validate::{check, crd_schema, yaml_documents};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn evaluated(dir: &Path) -> mlinfra_engine::Evaluated {
    let (mut config, diags) = mlinfra_engine::load(dir);
    assert!(!diags.has_errors());
    let (inputs, _) = mlinfra_engine::collect_inputs(&mut config, &[], Vec::new());
    let (ev, diags) = mlinfra_engine::evaluate(
        &config,
        &mlinfra_engine::EvalOptions {
            inputs: &inputs,
            prior: &mlinfra_engine::NoPrior,
            replaced: &Default::default(),
        },
    );
    assert!(!diags.has_errors());
    ev
}

fn schemas() -> Vec<(String, serde_json::Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/crds");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            out.push(crd_schema(&std::fs::read_to_string(&p).unwrap(), "v1beta2").unwrap());
        }
    }
    out
}

#[test]
fn every_quickstart_object_is_valid_against_its_crd() {
    let ev = evaluated(&repo().join("examples/quickstart"));
    let (objects, diags) = mlinfra_gpu_policy::emit(&ev);
    assert!(diags.is_empty(), "{diags:?}");
    let kinds: Vec<&str> = objects.iter().map(|o| o.kind).collect();
    for k in [
        "WorkloadPriorityClass",
        "ResourceFlavor",
        "Cohort",
        "ClusterQueue",
        "LocalQueue",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let schemas = schemas();
    for o in &objects {
        let docs = yaml_documents(&o.yaml).unwrap();
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        assert_eq!(doc["apiVersion"], "kueue.x-k8s.io/v1beta2");
        assert_eq!(doc["kind"], o.kind);
        let (_, schema) = schemas.iter().find(|(k, _)| k == o.kind).unwrap();
        let errs = check(schema, doc);
        assert!(
            errs.is_empty(),
            "{} {}: {errs:?}\n{}",
            o.kind,
            o.name,
            o.yaml
        );
    }
}

#[test]
fn the_validator_catches_what_the_crds_forbid() {
    let schemas = schemas();
    let cq = &schemas.iter().find(|(k, _)| k == "ClusterQueue").unwrap().1;
    let bad = yaml_documents(
        "apiVersion: kueue.x-k8s.io/v1beta2\nkind: ClusterQueue\nmetadata:\n  name: q\nspec:\n  queueingStrategy: Random\n  resourceGroups:\n  - coveredResources: [nvidia.com/gpu]\n    flavors:\n    - name: Bad_Name\n      resources:\n      - name: nvidia.com/gpu\n        nominalQuota: 8\n        borrowingLimit: 4\n",
    )
    .unwrap();
    let errs = check(cq, &bad[0]);
    for want in [
        "not one of",
        "does not match",
        "borrowingLimit must be nil when cohort is empty",
    ] {
        assert!(errs.iter().any(|e| e.contains(want)), "{want} in {errs:?}");
    }
}
