//! The quickstart's Kueue objects, validated against the upstream CRDs (tests/data/crds).

use std::path::Path;

use mlinfra_gpu_policy::validate::{check, crd_storage_schema, yaml_documents};

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
            let (kind, _, schema) =
                crd_storage_schema(&std::fs::read_to_string(&p).unwrap()).unwrap();
            out.push((kind, schema));
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
        "ConfigMap",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let schemas = schemas();
    for o in objects.iter().filter(|o| o.kind != "ConfigMap") {
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

/// Every key path of a YAML value with the type at its end (`a.b[].c: number`); keys
/// under the user-named maps of mig-parted (`mig-configs`, `mig-devices`) become `*`.
fn shape(v: &serde_json::Value, path: &str, out: &mut std::collections::BTreeSet<String>) {
    use serde_json::Value as J;
    let named = path.ends_with(".mig-configs") || path.ends_with(".mig-devices");
    match v {
        J::Object(m) => {
            for (k, x) in m {
                let k = if named { "*" } else { k.as_str() };
                shape(x, &format!("{path}.{k}"), out);
            }
        }
        J::Array(a) => {
            for x in a {
                shape(x, &format!("{path}[]"), out);
            }
        }
        J::String(_) => {
            out.insert(format!("{path}: string"));
        }
        J::Bool(_) => {
            out.insert(format!("{path}: bool"));
        }
        J::Number(_) => {
            out.insert(format!("{path}: number"));
        }
        J::Null => {}
    }
}

fn nvidia(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/nvidia")
            .join(name),
    )
    .unwrap()
}

#[test]
fn mig_and_time_slicing_configs_follow_nvidias_documented_structure() {
    let ev = evaluated(&repo().join("tests/fixtures/policies"));
    let (objects, diags) = mlinfra_gpu_policy::emit(&ev);
    assert!(diags.is_empty(), "{diags:?}");
    let schemas = schemas();
    for o in objects.iter().filter(|o| o.kind != "ConfigMap") {
        let doc = &yaml_documents(&o.yaml).unwrap()[0];
        let (_, schema) = schemas.iter().find(|(k, _)| k == o.kind).unwrap();
        assert!(
            check(schema, doc).is_empty(),
            "{}: {:?}",
            o.name,
            check(schema, doc)
        );
    }
    let cq = objects.iter().find(|o| o.kind == "ClusterQueue").unwrap();
    assert!(
        cq.yaml.contains("nvidia.com/mig-3g.40gb") && cq.yaml.contains("nominalQuota: 16"),
        "{}",
        cq.yaml
    );

    // mig-parted: the keys and types of NVIDIA's examples, and only profiles they name.
    let mig = objects
        .iter()
        .find(|o| o.name == mlinfra_gpu_policy::MIG_CONFIGMAP)
        .unwrap();
    let cm = &yaml_documents(&mig.yaml).unwrap()[0];
    assert_eq!(cm["metadata"]["namespace"], "gpu-operator");
    let inner = &yaml_documents(cm["data"]["config.yaml"].as_str().unwrap()).unwrap()[0];
    assert_eq!(inner["version"], "v1");
    let entry = &inner["mig-configs"]["mlinfra-a100-mig"][0];
    assert_eq!(entry["devices"], "all");
    assert_eq!(entry["mig-enabled"], true);
    let reference = yaml_documents(&nvidia("mig-parted_config-default.yaml")).unwrap();
    let mut known = std::collections::BTreeSet::new();
    for configs in reference[0]["mig-configs"].as_object().unwrap().values() {
        for e in configs.as_array().unwrap() {
            if let Some(d) = e["mig-devices"].as_object() {
                known.extend(d.keys().cloned());
            }
        }
    }
    for (profile, count) in entry["mig-devices"].as_object().unwrap() {
        assert!(
            known.contains(profile),
            "{profile} is a profile NVIDIA's default config names"
        );
        assert!(count.is_u64());
    }
    let mut ours = std::collections::BTreeSet::new();
    shape(inner, "", &mut ours);
    let mut theirs = std::collections::BTreeSet::new();
    shape(
        &yaml_documents(&nvidia("mig-parted_config.yaml")).unwrap()[0],
        "",
        &mut theirs,
    );
    assert!(
        ours.is_subset(&theirs),
        "{:?} not in {:?}",
        ours.difference(&theirs).collect::<Vec<_>>(),
        theirs
    );

    // Device plugin: the keys and types of the documented time-slicing example.
    let dp = objects
        .iter()
        .find(|o| o.name == mlinfra_gpu_policy::DEVICE_PLUGIN_CONFIGMAP)
        .unwrap();
    let cm = &yaml_documents(&dp.yaml).unwrap()[0];
    let inner = &yaml_documents(cm["data"]["mlinfra-l4-sliced"].as_str().unwrap()).unwrap()[0];
    assert_eq!(
        inner["sharing"]["timeSlicing"]["resources"][0]["replicas"],
        4
    );
    let mut ours = std::collections::BTreeSet::new();
    shape(inner, "", &mut ours);
    let mut theirs = std::collections::BTreeSet::new();
    shape(
        &yaml_documents(&nvidia("device-plugin_time-slicing_config.yaml")).unwrap()[0],
        "",
        &mut theirs,
    );
    assert!(ours.is_subset(&theirs), "{ours:?} vs {theirs:?}");
}

#[test]
fn karpenter_and_volcano_objects_are_valid_against_their_crds() {
    let ev = evaluated(&repo().join("examples/quickstart"));
    let opts = mlinfra_gpu_policy::Options {
        karpenter: true,
        volcano: true,
        ..Default::default()
    };
    let (objects, diags) = mlinfra_gpu_policy::emit_with(&ev, &opts);
    assert!(diags.is_empty(), "{diags:?}");
    let schemas = schemas();
    let pools: Vec<&mlinfra_gpu_policy::Object> =
        objects.iter().filter(|o| o.kind == "NodePool").collect();
    assert_eq!(pools.len(), 4, "one NodePool per AWS pool");
    assert_eq!(objects.iter().filter(|o| o.kind == "Queue").count(), 2);
    for o in objects.iter().filter(|o| o.kind != "ConfigMap") {
        let doc = &yaml_documents(&o.yaml).unwrap()[0];
        let (_, schema) = schemas
            .iter()
            .find(|(k, _)| k == o.kind)
            .unwrap_or_else(|| panic!("no CRD for {}", o.kind));
        let errs = check(schema, doc);
        assert!(
            errs.is_empty(),
            "{} {}: {errs:?}\n{}",
            o.kind,
            o.name,
            o.yaml
        );
    }
    let h100 = yaml_documents(
        &pools
            .iter()
            .find(|o| o.name == "acme-prod-h100")
            .unwrap()
            .yaml,
    )
    .unwrap();
    assert_eq!(
        h100[0]["spec"]["limits"]["nvidia.com/gpu"], 128,
        "8 GPUs × 16 nodes"
    );
    assert_eq!(
        h100[0]["spec"]["template"]["spec"]["requirements"][1]["values"][0],
        "spot"
    );
    let q = yaml_documents(
        &objects
            .iter()
            .find(|o| o.kind == "Queue" && o.name == "research")
            .unwrap()
            .yaml,
    )
    .unwrap();
    assert_eq!(q[0]["spec"]["guarantee"]["resource"]["nvidia.com/gpu"], 64);
    assert_eq!(
        q[0]["spec"]["capability"]["nvidia.com/gpu"], 96,
        "64 nominal + 32 borrowing"
    );
}

/// Every NVIDIA config among `objects` has only the key paths and types of NVIDIA's
/// examples, and names only MIG profiles the default configuration names.
fn check_nvidia(objects: &[mlinfra_gpu_policy::Object]) -> usize {
    let reference = |name: &str| {
        let mut s = std::collections::BTreeSet::new();
        shape(&yaml_documents(&nvidia(name)).unwrap()[0], "", &mut s);
        s
    };
    let mig_shape = reference("mig-parted_config.yaml");
    let slice_shape = reference("device-plugin_time-slicing_config.yaml");
    let default = yaml_documents(&nvidia("mig-parted_config-default.yaml")).unwrap();
    let mut known = std::collections::BTreeSet::new();
    for configs in default[0]["mig-configs"].as_object().unwrap().values() {
        for e in configs.as_array().unwrap() {
            if let Some(d) = e["mig-devices"].as_object() {
                known.extend(d.keys().cloned());
            }
        }
    }
    let mut checked = 0;
    for o in objects.iter().filter(|o| o.kind == "ConfigMap") {
        let cm = &yaml_documents(&o.yaml).unwrap()[0];
        for (key, text) in cm["data"].as_object().unwrap() {
            let inner = &yaml_documents(text.as_str().unwrap()).unwrap()[0];
            let mut ours = std::collections::BTreeSet::new();
            shape(inner, "", &mut ours);
            let allowed = if o.name == mlinfra_gpu_policy::MIG_CONFIGMAP {
                for configs in inner["mig-configs"].as_object().unwrap().values() {
                    for e in configs.as_array().unwrap() {
                        for p in e["mig-devices"].as_object().unwrap().keys() {
                            assert!(known.contains(p), "{p} in {}/{key}", o.name);
                        }
                    }
                }
                &mig_shape
            } else {
                &slice_shape
            };
            assert!(ours.is_subset(allowed), "{}/{key}: {ours:?}", o.name);
            checked += 1;
        }
    }
    checked
}

#[test]
fn the_quickstarts_nvidia_configs_follow_the_documented_structure() {
    let ev = evaluated(&repo().join("examples/quickstart"));
    let (objects, diags) = mlinfra_gpu_policy::emit(&ev);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(
        check_nvidia(&objects),
        2,
        "one MIG config and one time-slicing config"
    );
}

#[test]
fn an_mps_pool_on_gke_offers_its_clients_as_gpus_and_emits_no_device_plugin_config() {
    let dir = tempfile::tempdir().unwrap();
    let pool = |cloud: &str| {
        format!(
            "cluster \"infer\" {{\n  cloud = \"{cloud}\"\n{extra}}}\n\ngpu_pool \"l4\" {{\n  cluster       = cluster.infer\n  accelerator   = \"L4\"\n  gpus_per_node = 1\n  max_nodes     = 4\n{pool_extra}  sharing {{\n    mode     = \"mps\"\n    replicas = 4\n  }}\n}}\n\nqueue \"serving\" {{\n  pools        = [gpu_pool.l4]\n  nominal_gpus = 4\n}}\n",
            extra = if cloud == "aws" { "  subnet_ids = [\"subnet-1\"]\n  role_arn   = \"arn:aws:iam::123456789012:role/eks\"\n" } else { "" },
            pool_extra = if cloud == "aws" { "  node_role_arn = \"arn:aws:iam::123456789012:role/node\"\n" } else { "" },
        )
    };
    std::fs::write(dir.path().join("main.mlinfra.hcl"), pool("gcp")).unwrap();
    let (objects, diags) = mlinfra_gpu_policy::emit(&evaluated(dir.path()));
    assert!(diags.is_empty(), "{diags:?}");
    let flavor = objects.iter().find(|o| o.kind == "ResourceFlavor").unwrap();
    assert!(
        flavor
            .yaml
            .contains("\"cloud.google.com/gke-gpu-sharing-strategy\": \"mps\""),
        "{}",
        flavor.yaml
    );
    let cq = objects.iter().find(|o| o.kind == "ClusterQueue").unwrap();
    // 4 GPUs (4 nodes × 1) × 4 clients: 16 schedulable nvidia.com/gpu.
    assert!(
        cq.yaml.contains("nvidia.com/gpu") && cq.yaml.contains("nominalQuota: 16"),
        "{}",
        cq.yaml
    );
    assert!(
        !objects.iter().any(|o| o.kind == "ConfigMap"),
        "GKE runs MPS itself: no device-plugin configuration"
    );
    // Elsewhere MPS needs a device-plugin setup this build does not write.
    std::fs::write(dir.path().join("main.mlinfra.hcl"), pool("aws")).unwrap();
    let (_, diags) = mlinfra_gpu_policy::emit(&evaluated(dir.path()));
    assert!(
        format!("{diags:?}").contains("is set up by GKE's node pools only"),
        "{diags:?}"
    );
}
