//! Plans of the quickstart and of changes against recorded state.

use serde_json::{json, Value};

use crate::{copy_to_temp, fixture, mlinfra, mlinfra_env, repo, stable};

/// The quickstart copied into a temporary directory, so runs do not share a state lock.
fn quickstart() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    crate::copy_dir(
        &repo().join("examples/quickstart"),
        &tmp.path().join("quickstart"),
    );
    tmp
}

#[test]
fn quickstart_plans_offline_with_every_resource_created() {
    let tmp = quickstart();
    let dir = tmp.path().join("quickstart");
    let r = mlinfra(
        tmp.path(),
        &["-chdir=quickstart", "plan", "--detailed-exitcode"],
    );

    assert_eq!(r.code, 2, "changes present → exit 2\n{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert!(
        r.stdout
            .contains("Plan: 11 to add, 0 to change, 0 to destroy."),
        "{}",
        r.stdout
    );
    assert!(
        !dir.join("mlinfra.state.json").exists(),
        "plan never writes state"
    );
    insta::assert_snapshot!("quickstart_plan", r.stdout);
}

#[test]
fn quickstart_json_plan_is_stable_and_documented() {
    let tmp = quickstart();
    let r = mlinfra(&tmp.path().join("quickstart"), &["plan", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["format_version"], "1.0");
    assert_eq!(
        j["summary"],
        json!({"import": 0, "add": 11, "change": 0, "destroy": 0, "forget": 0, "move": 0, "no_op": 0})
    );
    let pool = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "gpu_pool.training[\"h100\"]")
        .unwrap();
    assert_eq!(pool["actions"], json!(["create"]));
    assert_eq!(pool["cloud"], "aws");
    assert_eq!(pool["after"]["capacity"], "spot");
    assert_eq!(pool["after_unknown"], json!({"id": true}));
    assert_eq!(
        pool["after"]["instance_type"], "p5.48xlarge",
        "the GPU catalog picks the machine at plan time"
    );
    assert_eq!(pool["depends_on"], json!(["cluster.train"]));
    insta::assert_snapshot!("quickstart_plan_json", stable(&r.stdout));
}

/// Turn a JSON plan into the state an apply would leave: unknowns filled in.
fn state_from_plan(plan: &Value) -> Value {
    fn fill(v: &Value, unknown: &Value, addr: &str, key: &str) -> Value {
        match (v, unknown) {
            (_, Value::Bool(true)) => json!(format!("{key}-of-{addr}")),
            (Value::Object(m), Value::Object(u)) => {
                let mut out = m.clone();
                for (k, x) in u {
                    out.insert(
                        k.clone(),
                        fill(m.get(k).unwrap_or(&Value::Null), x, addr, k),
                    );
                }
                Value::Object(out)
            }
            _ => v.clone(),
        }
    }
    let resources: Vec<Value> = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let addr = c["address"].as_str().unwrap();
            let attrs = fill(&c["after"], &c["after_unknown"], addr, "");
            json!({
                "address": addr, "kind": c["kind"], "cloud": c["cloud"], "provider": c["provider"],
                "id": attrs["id"], "attributes": attrs, "dependencies": c["depends_on"],
            })
        })
        .collect();
    let outputs: serde_json::Map<String, Value> = plan["output_changes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, o)| {
            (
                k.clone(),
                json!({"value": o["after"], "sensitive": o["sensitive"]}),
            )
        })
        .collect();
    json!({
        "version": 1, "lineage": "6b0e8c5e-1111-4222-8333-944455556666", "serial": 7,
        "mlinfra_version": "0.1.0", "resources": resources, "outputs": outputs,
    })
}

/// The lifecycle fixture as an apply would leave it: resources recorded in dependency order,
/// each with values resolved from what was recorded before it.
pub(crate) fn applied_lifecycle() -> tempfile::TempDir {
    let dir = copy_to_temp(&fixture("lifecycle"));
    let path = dir.path().join("mlinfra.state.json");
    let mut state = json!({
        "version": 1, "lineage": "6b0e8c5e-1111-4222-8333-944455556666", "serial": 7,
        "mlinfra_version": "0.1.0", "resources": [], "outputs": {},
    });
    for _ in 0..5 {
        std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
        let r = mlinfra(dir.path(), &["plan", "--json", "--refresh=false"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let plan: Value = serde_json::from_str(&r.stdout).unwrap();
        let next = state_from_plan(&plan);
        let done: Vec<String> = state["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["address"].as_str().unwrap().to_string())
            .collect();
        let ready: Vec<Value> = next["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["dependencies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|d| done.iter().any(|x| x == d.as_str().unwrap()))
            })
            .cloned()
            .collect();
        let finished = ready.len() == next["resources"].as_array().unwrap().len();
        state["resources"] = Value::Array(ready);
        if finished {
            state["outputs"] = next["outputs"].clone();
            break;
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    dir
}

fn actions(dir: &std::path::Path, args: &[&str]) -> Vec<(String, Value, Value)> {
    let mut a = vec!["plan", "--json", "--refresh=false"];
    a.extend_from_slice(args);
    let r = mlinfra(dir, &a);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["actions"].clone(),
                c["replace_paths"].clone(),
            )
        })
        .collect()
}

#[test]
fn a_matching_state_plans_no_changes() {
    let dir = applied_lifecycle();
    let r = mlinfra(
        dir.path(),
        &["plan", "--refresh=false", "--detailed-exitcode"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("No changes. Your infrastructure matches the configuration."),
        "{}",
        r.stdout
    );
}

#[test]
fn in_place_changes_are_updates() {
    let dir = applied_lifecycle();
    let got = actions(dir.path(), &["--var", "max_nodes=16"]);
    assert!(
        got.contains(&("gpu_pool.h100".into(), json!(["update"]), json!([]))),
        "{got:?}"
    );
    let r = mlinfra(
        dir.path(),
        &[
            "plan",
            "--refresh=false",
            "--var",
            "max_nodes=16",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(r.code, 2);
    insta::assert_snapshot!("plan_update", r.stdout);
}

#[test]
fn force_new_changes_are_replacements_with_their_paths() {
    let dir = applied_lifecycle();
    let got = actions(dir.path(), &["--var", "accelerator=A100-80GB"]);
    assert!(
        got.contains(&(
            "gpu_pool.h100".into(),
            json!(["delete", "create"]),
            json!([["accelerator"], ["instance_type"]])
        )),
        "{got:?}"
    );
    let r = mlinfra(
        dir.path(),
        &["plan", "--refresh=false", "--var", "accelerator=A100-80GB"],
    );
    assert!(r.stdout.contains("# forces replacement"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{}",
        r.stdout
    );
    insta::assert_snapshot!("plan_replace", r.stdout);
}

#[test]
fn removed_instances_are_deleted_with_a_reason() {
    let dir = applied_lifecycle();
    let r = mlinfra(
        dir.path(),
        &[
            "plan",
            "--refresh=false",
            "--json",
            "--var",
            "with_logs=false",
        ],
    );
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    let logs = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "bucket.logs[0]")
        .unwrap();
    assert_eq!(logs["actions"], json!(["delete"]));
    assert_eq!(logs["reason"], "delete_because_no_resource_config");
    let r = mlinfra(
        dir.path(),
        &["plan", "--refresh=false", "--var", "with_logs=false"],
    );
    assert!(
        r.stdout.contains("# bucket.logs[0] will be destroyed"),
        "{}",
        r.stdout
    );
}

#[test]
fn replace_and_target_flags_narrow_and_force_the_plan() {
    let dir = applied_lifecycle();
    let got = actions(dir.path(), &["--replace", "cluster.train"]);
    assert!(
        got.contains(&(
            "cluster.train".into(),
            json!(["delete", "create"]),
            json!([])
        )),
        "{got:?}"
    );
    // The pool reads cluster.train.id, which a replacement makes unknown: the pool changes too.
    assert!(
        got.iter()
            .any(|(a, act, _)| a == "gpu_pool.h100" && act != &json!(["no-op"])),
        "{got:?}"
    );

    let got = actions(
        dir.path(),
        &[
            "--target",
            "gpu_pool.h100",
            "--var",
            "max_nodes=8",
            "--var",
            "with_logs=false",
        ],
    );
    let addrs: Vec<&str> = got.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        addrs,
        vec!["cluster.train", "gpu_pool.h100"],
        "a target plans itself and its dependencies only"
    );
}

#[test]
fn saved_plans_render_with_show() {
    let dir = applied_lifecycle();
    let r = mlinfra(
        dir.path(),
        &[
            "plan",
            "--refresh=false",
            "-out=tfplan.json",
            "--var",
            "max_nodes=16",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let saved = dir.path().join("tfplan.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let shown = mlinfra(dir.path(), &["show", "tfplan.json"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("~ max_nodes"), "{}", shown.stdout);
    assert!(shown
        .stdout
        .contains("Plan: 0 to add, 1 to change, 0 to destroy."));
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(j["binding"]["serial"], 7);
    assert_eq!(
        j["binding"]["lineage"],
        "6b0e8c5e-1111-4222-8333-944455556666"
    );
    assert!(j["binding"]["config_hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    // A different input gives a different binding hash.
    mlinfra(
        dir.path(),
        &[
            "plan",
            "--refresh=false",
            "-out=other.json",
            "--var",
            "max_nodes=17",
        ],
    );
    let k: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("other.json")).unwrap())
            .unwrap();
    assert_ne!(j["binding"]["config_hash"], k["binding"]["config_hash"]);
}

#[test]
fn sensitive_values_never_reach_output_or_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        r#"
variable "hf_token" {
  type      = string
  sensitive = true
}

endpoint "llm" {
  cloud    = "gcp"
  model    = { image = "us-docker.pkg.dev/acme/llm:1", environment = { HF_TOKEN = var.hf_token } }
  instance = { type = "g2-standard-8", count = 1 }
}

output "token" {
  value     = var.hf_token
  sensitive = true
}
"#,
    )
    .unwrap();
    let secret = "hf_TOPSECRET_value";
    for args in [
        &["plan"][..],
        &["plan", "--json"][..],
        &["plan", "-out=p.json"][..],
        &["validate"][..],
    ] {
        let r = mlinfra_env(dir.path(), args, &[("MLINFRA_VAR_hf_token", secret)]);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{args:?} leaked the secret"
        );
    }
    assert!(!std::fs::read_to_string(dir.path().join("p.json"))
        .unwrap()
        .contains(secret));
    let r = mlinfra_env(dir.path(), &["plan"], &[("MLINFRA_VAR_hf_token", secret)]);
    assert!(
        r.stdout.contains("model    = (sensitive value)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("token = (sensitive value)"),
        "{}",
        r.stdout
    );
}

#[test]
fn variables_come_from_files_env_and_flags_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "variable \"name\" { type = string }\nvariable \"zones\" {\n  type    = list(string)\n  default = []\n}\nbucket \"b\" {\n  cloud = \"gcp\"\n  name  = \"${var.name}-${length(var.zones)}\"\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("a.auto.mlinfra.vars"),
        "name = \"auto\"\nzones = [\"a\", \"b\"]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("extra.vars"), "name = \"file\"\n").unwrap();
    let name = |args: &[&str], env: &[(&str, &str)]| {
        let mut a = vec!["plan", "--json", "--refresh=false"];
        a.extend_from_slice(args);
        let r = mlinfra_env(dir.path(), &a, env);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let j: Value = serde_json::from_str(&r.stdout).unwrap();
        j["resource_changes"][0]["after"]["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        name(&[], &[("MLINFRA_VAR_name", "env")]),
        "auto-2",
        "auto files override the environment"
    );
    assert_eq!(name(&["--var-file", "extra.vars"], &[]), "file-2");
    assert_eq!(
        name(&["--var-file", "extra.vars", "--var", "name=flag"], &[]),
        "flag-2"
    );
    assert_eq!(
        name(&["--var", "name=flag", "--var-file", "extra.vars"], &[]),
        "file-2",
        "later flags win"
    );
    assert_eq!(
        name(&["--var", "zones=[\"x\"]"], &[]),
        "auto-1",
        "complex values parse as HCL"
    );
    let r = mlinfra(dir.path(), &["plan", "--refresh=false", "--var", "nmae=x"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("variable `nmae` (from --var) is not declared")
            && r.stderr.contains("did you mean `name`?"),
        "{}",
        r.stderr
    );
}

#[test]
fn destroy_plans_delete_everything_and_refresh_only_changes_nothing() {
    let dir = applied_lifecycle();
    let got = actions(dir.path(), &["--destroy"]);
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|(_, a, _)| a == &json!(["delete"])),
        "{got:?}"
    );
    let r = mlinfra(dir.path(), &["plan", "--refresh=false", "--destroy"]);
    assert!(
        r.stdout
            .contains("Plan: 0 to add, 0 to change, 3 to destroy."),
        "{}",
        r.stdout
    );
    // A refresh-only plan changes no resource: see gcp.rs, which runs it against the double.
}

#[test]
fn multi_line_strings_diff_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = |desc: &str| {
        format!("model_registry \"m\" {{\n  cloud         = \"gcp\"\n  serving_image = \"us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest\"\n  description   = <<-EOT\n{desc}  EOT\n}}\n")
    };
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        manifest("    Fraud models.\n    Owner: risk team.\n"),
    )
    .unwrap();
    let r = mlinfra(dir.path(), &["plan", "--refresh=false", "--json"]);
    let state = state_from_plan(&serde_json::from_str(&r.stdout).unwrap());
    std::fs::write(dir.path().join("mlinfra.state.json"), state.to_string()).unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        manifest("    Fraud models.\n    Owner: payments team.\n"),
    )
    .unwrap();
    let r = mlinfra(dir.path(), &["plan", "--refresh=false"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("~ description   = <<-EOT\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("          Fraud models.\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("- Owner: risk team.") && r.stdout.contains("+ Owner: payments team."),
        "{}",
        r.stdout
    );
}

#[test]
fn targets_follow_dependencies_when_creating_and_dependents_when_destroying() {
    let dir = applied_lifecycle();
    let got = actions(dir.path(), &["--destroy", "--target", "cluster.train"]);
    let addrs: Vec<&str> = got.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        addrs,
        vec!["cluster.train", "gpu_pool.h100"],
        "destroying the cluster destroys the pool on it"
    );
    let got = actions(dir.path(), &["--destroy", "--target", "gpu_pool.h100"]);
    let addrs: Vec<&str> = got.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        addrs,
        vec!["gpu_pool.h100"],
        "destroying the pool keeps its cluster"
    );

    let tmp = quickstart();
    let r = mlinfra(
        &tmp.path().join("quickstart"),
        &["plan", "--json", "--target", "module.serving"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    let addrs: Vec<&str> = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addrs,
        vec![
            "bucket.features",
            "container_registry.images",
            "module.serving.endpoint.this"
        ]
    );
}

#[test]
fn secrets_are_not_echoed_by_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "variable \"pin\" {\n  type      = number\n  sensitive = true\n}\nbucket \"b\" {\n  cloud = \"aws\"\n  tags  = { n = tostring(var.pin) }\n}\n",
    )
    .unwrap();
    let r = mlinfra_env(dir.path(), &["validate"], &[("MLINFRA_VAR_pin", "hunter2")]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("the value is sensitive and not shown"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
    std::fs::write(dir.path().join("s.vars"), "pin = \"hunter2\"\n").unwrap();
    let r = mlinfra(dir.path(), &["validate", "--var-file", "s.vars"]);
    assert!(
        !r.stderr.contains("hunter2"),
        "the snippet must not show the secret either:\n{}",
        r.stderr
    );
}
