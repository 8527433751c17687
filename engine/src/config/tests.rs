//! Evaluation tests over small manifests written to a temporary directory.

use std::collections::{BTreeMap, BTreeSet};

use mlinfra_schema::Value;

use crate::config::eval::{
    evaluate, EvalOptions, Evaluated, InputValue, Inputs, NoPrior, RawInput,
};
use crate::config::load::load;
use crate::diag::Diagnostics;

fn eval_files(
    files: &[(&str, &str)],
    inputs: Inputs,
) -> (Evaluated, Diagnostics, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let (config, mut diags) = load(dir.path());
    let (ev, d) = evaluate(
        &config,
        &EvalOptions {
            inputs: &inputs,
            prior: &NoPrior,
            replaced: &BTreeSet::new(),
        },
    );
    diags.extend(d);
    (ev, diags, dir)
}

fn eval(text: &str) -> (Evaluated, Diagnostics) {
    let (e, d, _dir) = eval_files(&[("main.mlinfra.hcl", text)], Inputs::new());
    (e, d)
}

fn attr<'a>(ev: &'a Evaluated, addr: &str, name: &str) -> &'a Value {
    &ev.resource(addr)
        .unwrap_or_else(|| panic!("no {addr}"))
        .attrs[name]
}

fn summaries(d: &Diagnostics) -> Vec<String> {
    d.iter().map(|d| d.summary.clone()).collect()
}

#[test]
fn locals_templates_functions_and_for_expressions() {
    let (ev, d) = eval(
        r#"
        locals {
          env   = "prod"
          zones = ["a", "b"]
          names = [for z in local.zones : upper("${local.env}-${z}") if z != "c"]
          by    = { for i, z in local.zones : z => i }
        }
        bucket "b" {
          cloud = "aws"
          name  = join(",", local.names)
          tags  = { first = tostring(local.by["b"]), n = length(local.zones) > 1 ? "many" : "one" }
        }
        "#,
    );
    assert!(d.is_empty(), "{:?}", summaries(&d));
    assert_eq!(attr(&ev, "bucket.b", "name"), &Value::from("PROD-A,PROD-B"));
    assert_eq!(
        attr(&ev, "bucket.b", "tags").to_json(),
        serde_json::json!({"first": "1", "n": "many"})
    );
}

#[test]
fn count_and_for_each_expand_into_addressed_instances() {
    let (ev, d) = eval(
        r#"
        bucket "c" {
          count = 2
          cloud = "gcp"
          name  = "data-${count.index}"
        }
        bucket "e" {
          for_each = { eu = "europe-west4", us = "us-central1" }
          cloud    = "gcp"
          name     = "d-${each.key}"
          location = each.value
        }
        "#,
    );
    assert!(d.is_empty(), "{:?}", summaries(&d));
    let addrs: Vec<String> = ev.resources.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(
        addrs,
        vec![
            "bucket.c[0]",
            "bucket.c[1]",
            "bucket.e[\"eu\"]",
            "bucket.e[\"us\"]"
        ]
    );
    assert_eq!(
        attr(&ev, "bucket.e[\"us\"]", "location"),
        &Value::from("us-central1")
    );
}

#[test]
fn references_record_dependencies_and_unknowns() {
    let (ev, d) = eval(
        r#"
        cluster "k" {
          cloud      = "aws"
          subnet_ids = ["s"]
          role_arn   = "r"
        }
        gpu_pool "p" {
          cluster       = cluster.k
          accelerator   = "H100"
          gpus_per_node = 8
          max_nodes     = 2
          labels        = { cluster_id = cluster.k.id }
          node_role_arn = "n"
        }
        bucket "b" {
          cloud      = "aws"
          depends_on = [gpu_pool.p]
        }
        "#,
    );
    assert!(d.is_empty(), "{:?}", summaries(&d));
    let pool = ev.resource("gpu_pool.p").unwrap();
    assert_eq!(
        pool.cloud.map(|c| c.as_str()),
        Some("aws"),
        "a pool inherits its cluster's cloud"
    );
    assert_eq!(pool.attrs["cluster"], Value::from("k"));
    assert!(pool.attrs["labels"].contains_unknown());
    assert_eq!(
        pool.depends_on.iter().cloned().collect::<Vec<_>>(),
        vec!["cluster.k"]
    );
    let b = ev.resource("bucket.b").unwrap();
    assert_eq!(
        b.depends_on.iter().cloned().collect::<Vec<_>>(),
        vec!["gpu_pool.p"]
    );
}

#[test]
fn modules_take_inputs_give_outputs_and_prefix_addresses() {
    let (ev, d, _dir) = eval_files(
        &[
            (
                "main.mlinfra.hcl",
                r#"
                module "store" {
                  source   = "./modules/store"
                  for_each = toset(["eu", "us"])
                  region   = each.key
                }
                output "names" {
                  value = { for k, m in module.store : k => m.bucket_name }
                }
                "#,
            ),
            (
                "modules/store/main.mlinfra.hcl",
                r#"
                variable "region" { type = string }
                bucket "b" {
                  cloud = "gcp"
                  name  = "store-${var.region}"
                }
                output "bucket_name" { value = bucket.b.name }
                "#,
            ),
        ],
        Inputs::new(),
    );
    assert!(d.is_empty(), "{:?}", summaries(&d));
    assert!(ev.resource("module.store[\"eu\"].bucket.b").is_some());
    assert_eq!(
        ev.outputs["names"].value.to_json(),
        serde_json::json!({"eu": "store-eu", "us": "store-us"})
    );
}

#[test]
fn variables_take_inputs_convert_types_and_validate() {
    let files = [(
        "main.mlinfra.hcl",
        r#"
        variable "gpus" { type = number }
        variable "env" {
          type    = string
          default = "dev"
          validation {
            condition     = contains(["dev", "prod"], var.env)
            error_message = "env must be dev or prod"
          }
        }
        variable "zones" { type = list(string) }
        bucket "b" {
          cloud = "aws"
          name  = "${var.env}-${var.gpus}-${length(var.zones)}"
        }
        "#,
    )];
    let mut inputs = Inputs::new();
    let text = |s: &str| InputValue {
        raw: RawInput::Text(s.into()),
        source: "--var".into(),
        span: None,
    };
    inputs.insert("gpus".into(), text("8"));
    inputs.insert("zones".into(), text("[\"a\", \"b\"]"));
    let (ev, d, _dir) = eval_files(&files, inputs.clone());
    assert!(d.is_empty(), "{:?}", summaries(&d));
    assert_eq!(attr(&ev, "bucket.b", "name"), &Value::from("dev-8-2"));

    inputs.insert("env".into(), text("staging"));
    inputs.insert("gpus".into(), text("eight"));
    let (_, d, _dir) = eval_files(&files, inputs);
    let s = summaries(&d);
    assert!(
        s.iter().any(|m| m.contains("env must be dev or prod")),
        "{s:?}"
    );
    assert!(
        s.iter()
            .any(|m| m.contains("invalid value for variable `gpus`")),
        "{s:?}"
    );
}

#[test]
fn sensitive_values_are_tracked_to_attributes_and_outputs() {
    let (ev, d) = eval(
        r#"
        variable "token" {
          type      = string
          default   = "s3cret"
          sensitive = true
        }
        endpoint "e" {
          cloud    = "aws"
          model    = { image = "img", environment = { TOKEN = var.token } }
          instance = { type = "ml.g4dn.xlarge" }
        }
        output "leak" { value = var.token }
        "#,
    );
    assert!(ev
        .resource("endpoint.e")
        .unwrap()
        .sensitive
        .contains("model"));
    assert!(summaries(&d)
        .iter()
        .any(|m| m.contains("output `leak` refers to sensitive values")));
}

#[test]
fn a_cycle_names_every_member() {
    let (_, d) = eval(
        r#"
        bucket "a" {
          cloud = "aws"
          name  = bucket.b.name
        }
        bucket "b" {
          cloud = "aws"
          name  = local.n
        }
        locals { n = bucket.a.name }
        "#,
    );
    let s = summaries(&d);
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(
        s[0].contains("bucket.a") && s[0].contains("bucket.b") && s[0].contains("local.n"),
        "{s:?}"
    );
}

#[test]
fn unknown_count_is_an_error() {
    let (_, d) = eval(
        r#"
        cluster "k" {
          cloud      = "aws"
          subnet_ids = ["s"]
          role_arn   = "r"
        }
        bucket "b" {
          count = length(cluster.k.id)
          cloud = "aws"
        }
        "#,
    );
    assert!(summaries(&d)
        .iter()
        .any(|m| m.contains("known only after apply")));
}

#[test]
fn provider_aliases_pick_the_provider_and_region() {
    let (ev, d) = eval(
        r#"
        provider "aws" { region = "us-east-1" }
        provider "aws" {
          alias  = "west"
          region = "us-west-2"
        }
        bucket "b" { provider = aws.west }
        bucket "c" { cloud = "aws" }
        "#,
    );
    assert!(d.is_empty(), "{:?}", summaries(&d));
    let b = ev.resource("bucket.b").unwrap();
    assert_eq!(b.provider.as_deref(), Some("aws.west"));
    assert_eq!(b.attrs["location"], Value::from("us-west-2"));
    assert_eq!(attr(&ev, "bucket.c", "location"), &Value::from("us-east-1"));
}

#[test]
fn prior_state_supplies_computed_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "bucket \"b\" {\n  cloud = \"aws\"\n}\nbucket \"c\" {\n  cloud = \"aws\"\n  tags = { src = bucket.b.url }\n}\n",
    )
    .unwrap();
    let (config, _) = load(dir.path());
    let mut prior: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    prior.insert(
        "bucket.b".into(),
        [("url".to_string(), Value::from("s3://b"))]
            .into_iter()
            .collect(),
    );
    let (ev, d) = evaluate(
        &config,
        &EvalOptions {
            inputs: &Inputs::new(),
            prior: &prior,
            replaced: &BTreeSet::new(),
        },
    );
    assert!(d.is_empty());
    assert_eq!(
        attr(&ev, "bucket.c", "tags").to_json(),
        serde_json::json!({"src": "s3://b"})
    );
    let replaced: BTreeSet<String> = ["bucket.b".to_string()].into();
    let (ev, _) = evaluate(
        &config,
        &EvalOptions {
            inputs: &Inputs::new(),
            prior: &prior,
            replaced: &replaced,
        },
    );
    assert!(
        attr(&ev, "bucket.c", "tags").contains_unknown(),
        "a replaced resource's computed values are unknown"
    );
}

/// Mutation fuzzing: corrupt the quickstart in many ways and check that loading,
/// evaluating, diffing and formatting never panic and always explain a failure.
#[test]
fn mutated_manifests_never_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let mut originals: Vec<(String, String)> = Vec::new();
    for e in std::fs::read_dir(&root).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "hcl") {
            originals.push((
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    originals.sort();
    let module = std::fs::read_to_string(root.join("modules/serving/main.mlinfra.hcl")).unwrap();
    // A small deterministic generator (xorshift), so failures reproduce.
    let mut seed: u64 = std::env::var("MLINFRA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "\"",
        "=",
        "${",
        "%{",
        "<<EOT\n",
        "\n",
        "var.",
        "local.",
        "module.",
        "cluster.train",
        "null",
        "-1",
        "1e400",
        "count.index",
        "each.key",
        "for x in",
        ":",
        "=>",
        "...",
        "?",
        "#",
        "/*",
        "\\",
        "\u{0}",
        "é",
        "gpu_pool",
        "for_each = 3",
        "count = -2",
        "depends_on = [x]",
        "lifecycle {",
        "provider = aws.nope",
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("modules/serving")).unwrap();
    std::fs::write(dir.path().join("modules/serving/main.mlinfra.hcl"), &module).unwrap();
    let rounds: usize = std::env::var("MLINFRA_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    for round in 0..rounds {
        let (name, text) = &originals[next(originals.len())];
        let mut bytes = text.as_bytes().to_vec();
        for _ in 0..1 + next(4) {
            let at = next(bytes.len() + 1);
            match next(3) {
                0 => {
                    let end = (at + 1 + next(40)).min(bytes.len());
                    bytes.drain(at.min(bytes.len())..end);
                }
                1 => {
                    let t = TOKENS[next(TOKENS.len())];
                    bytes.splice(at..at, t.bytes());
                }
                _ => {
                    if at < bytes.len() {
                        bytes[at] = next(256) as u8;
                    }
                }
            }
        }
        for (n, t) in &originals {
            std::fs::write(
                dir.path().join(n),
                if n == name { &bytes[..] } else { t.as_bytes() },
            )
            .unwrap();
        }
        let result = std::panic::catch_unwind(|| {
            let (config, mut diags) = load(dir.path());
            if !config.has_syntax_errors {
                let (ev, d) = evaluate(
                    &config,
                    &EvalOptions {
                        inputs: &Inputs::new(),
                        prior: &NoPrior,
                        replaced: &BTreeSet::new(),
                    },
                );
                diags.extend(d);
                if !diags.has_errors() {
                    let (plan, _) = crate::plan::diff(
                        &ev,
                        &crate::state::State::new(),
                        Vec::new(),
                        "h",
                        &Default::default(),
                    );
                    let _ = crate::plan_json::to_json(&plan);
                }
            }
            for d in diags.iter() {
                let _ = crate::diag::render(&config.sources, d, false);
                assert!(d.is_error() || d.severity == crate::diag::Severity::Warning);
            }
            if let Ok(s) = std::str::from_utf8(&bytes) {
                if let Ok(formatted) = crate::format::format_source(s) {
                    assert_eq!(
                        crate::format::format_source(&formatted).ok().as_deref(),
                        Some(formatted.as_str()),
                        "fmt is idempotent"
                    );
                }
            }
        });
        assert!(
            result.is_ok(),
            "round {round}: mutated {name} panicked:\n{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

fn plan_with_prior(text: &str, prior: &crate::state::State) -> (crate::plan::Plan, Diagnostics) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.mlinfra.hcl"), text).unwrap();
    let (config, _) = load(dir.path());
    let (result, diags) = crate::run::plan_configuration(
        &config,
        &Inputs::new(),
        prior,
        Vec::new(),
        &Default::default(),
        &Default::default(),
    );
    match result {
        Some((_, plan)) => (plan, diags),
        None => (
            crate::plan::Plan {
                changes: Vec::new(),
                drift: Vec::new(),
                outputs: Vec::new(),
                binding: crate::plan::Binding {
                    lineage: String::new(),
                    serial: 0,
                    config_hash: String::new(),
                },
                targets: Vec::new(),
                excludes: Vec::new(),
                refreshed: false,
                destroy: false,
                notes: Vec::new(),
            },
            diags,
        ),
    }
}

fn recorded(kind: &str, attrs: serde_json::Value) -> crate::state::ResourceState {
    crate::state::ResourceState {
        kind: kind.into(),
        cloud: Some("gcp".into()),
        provider: Some("gcp".into()),
        id: Some("x".into()),
        attributes: Value::from_json(&attrs).as_map().unwrap().clone(),
        sensitive: Default::default(),
        dependencies: Default::default(),
    }
}

fn bucket_state(name: &str, storage_class: &str, tags: serde_json::Value) -> crate::state::State {
    let mut s = crate::state::State::new();
    s.resources.insert(
        "bucket.b".into(),
        recorded(
            "bucket",
            serde_json::json!({
                "cloud": "gcp", "name": name, "location": "us-central1", "storage_class": storage_class,
                "versioning": false, "force_destroy": false, "tags": tags, "id": "b-id", "url": "gs://b"
            }),
        ),
    );
    s
}

#[test]
fn lifecycle_prevent_destroy_blocks_a_replacement() {
    let prior = bucket_state("old", "standard", serde_json::json!({}));
    let (_, d) = plan_with_prior(
        "bucket \"b\" {\n  cloud = \"gcp\"\n  name = \"new\"\n  location = \"us-central1\"\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n",
        &prior,
    );
    assert!(
        summaries(&d).iter().any(|s| s.contains("prevent_destroy")),
        "{:?}",
        summaries(&d)
    );
}

#[test]
fn lifecycle_create_before_destroy_orders_the_replacement() {
    let prior = bucket_state("old", "standard", serde_json::json!({}));
    let (plan, d) = plan_with_prior(
        "bucket \"b\" {\n  cloud = \"gcp\"\n  name = \"new\"\n  location = \"us-central1\"\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n",
        &prior,
    );
    assert!(!d.has_errors(), "{:?}", summaries(&d));
    assert_eq!(
        plan.changes[0].action,
        crate::plan::Action::CreateThenDelete
    );
    assert_eq!(
        plan.changes[0].replace_paths,
        vec![vec!["name".to_string()]]
    );
}

#[test]
fn lifecycle_ignore_changes_keeps_recorded_values() {
    let prior = bucket_state("b", "standard", serde_json::json!({"team": "a"}));
    let text = "bucket \"b\" {\n  cloud = \"gcp\"\n  location = \"us-central1\"\n  storage_class = \"archive\"\n  tags = { team = \"b\" }\n  lifecycle {\n    ignore_changes = [tags]\n  }\n}\n";
    let (plan, _) = plan_with_prior(text, &prior);
    assert_eq!(plan.changes[0].action, crate::plan::Action::Update);
    assert_eq!(plan.changes[0].reason_message, "storage_class changed");
    let (plan, _) = plan_with_prior(&text.replace("[tags]", "all"), &prior);
    assert_eq!(plan.changes[0].action, crate::plan::Action::NoOp);
}

#[test]
fn feature_additions_update_in_place_but_key_changes_replace() {
    let mut prior = crate::state::State::new();
    prior.resources.insert(
        "feature_store.f".into(),
        recorded(
            "feature_store",
            serde_json::json!({
                "cloud": "gcp", "name": "f", "id": "f-id", "tags": {}, "offline": null,
                "online": {"enabled": true, "ttl": null, "nodes": null},
                "feature_group": {"txn": {"record_id": "id", "event_time": "ts", "features": {"id": "string", "ts": "string"}, "description": null}}
            }),
        ),
    );
    let text = |record: &str, extra: &str| {
        format!("feature_store \"f\" {{\n  cloud = \"gcp\"\n  online {{\n    enabled = true\n  }}\n  feature_group \"txn\" {{\n    record_id = \"{record}\"\n    event_time = \"ts\"\n    features = {{ id = \"string\", ts = \"string\"{extra} }}\n  }}\n}}\n")
    };
    let (plan, d) = plan_with_prior(&text("id", ""), &prior);
    assert!(!d.has_errors(), "{:?}", summaries(&d));
    assert_eq!(plan.changes[0].action, crate::plan::Action::NoOp);
    let (plan, _) = plan_with_prior(&text("id", ", amount = \"float\""), &prior);
    assert_eq!(plan.changes[0].action, crate::plan::Action::Update);
    let (plan, _) = plan_with_prior(&text("txn_id", ""), &prior);
    assert_eq!(
        plan.changes[0].action,
        crate::plan::Action::DeleteThenCreate
    );
    assert_eq!(
        plan.changes[0].replace_paths,
        vec![vec![
            "feature_group".to_string(),
            "txn".into(),
            "record_id".into()
        ]]
    );
}

#[test]
fn module_count_and_files_resolve_against_the_module_directory() {
    let (ev, d, _dir) = eval_files(
        &[
            ("main.mlinfra.hcl", "module \"m\" {\n  count = 2\n  source = \"./mod\"\n  index = count.index\n}\n"),
            (
                "mod/main.mlinfra.hcl",
                "variable \"index\" { type = number }\nbucket \"b\" {\n  cloud = \"aws\"\n  name = trimspace(file(\"name.txt\"))\n  tags = { note = templatefile(\"note.tmpl\", { i = var.index }) }\n}\n",
            ),
            ("mod/name.txt", "from-file\n"),
            ("mod/note.tmpl", "replica ${i}"),
        ],
        Inputs::new(),
    );
    assert!(d.is_empty(), "{:?}", summaries(&d));
    assert_eq!(
        attr(&ev, "module.m[1].bucket.b", "name"),
        &Value::from("from-file")
    );
    assert_eq!(
        attr(&ev, "module.m[1].bucket.b", "tags").to_json(),
        serde_json::json!({"note": "replica 1"})
    );
}

#[test]
fn huge_counts_and_deep_nesting_are_errors_not_crashes() {
    let (_, d) = eval("bucket \"b\" {\n  count = 1e12\n  cloud = \"aws\"\n}\n");
    assert!(
        summaries(&d)
            .iter()
            .any(|s| s.contains("more than the 100000 instances")),
        "{:?}",
        summaries(&d)
    );
    let deep = format!(
        "locals {{\n  x = {}1{}\n}}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let (_, d) = eval(&deep);
    assert!(
        summaries(&d).iter().any(|s| s.contains("nest deeper than")),
        "{:?}",
        summaries(&d)
    );
}

#[test]
fn ignore_changes_names_must_be_attributes_of_the_kind() {
    let (_, d) = eval("bucket \"b\" {\n  cloud = \"aws\"\n  lifecycle {\n    ignore_changes = [tgas, tags.team]\n  }\n}\n");
    let s = summaries(&d);
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(
        s.iter()
            .all(|m| m.contains("is not an attribute of bucket")),
        "{s:?}"
    );
    assert!(d.iter().any(|x| x
        .help
        .as_deref()
        .is_some_and(|h| h.contains("did you mean `tags`?"))));
}

#[test]
fn template_strip_markers_remove_adjacent_whitespace() {
    let (ev, d) = eval(
        "locals {\n  list = <<EOT\n%{ for x in [\"a\", \"b\"] ~}\n${x}\n%{ endfor ~}\nend\nEOT\n  tight = \"x   ${~ \"y\" ~}   z\"\n  cond = \"[%{ if true ~}  yes  %{~ else ~}no%{~ endif }]\"\n}\nbucket \"b\" {\n  cloud = \"aws\"\n  tags = { list = local.list, tight = local.tight, cond = local.cond }\n}\n",
    );
    assert!(d.is_empty(), "{:?}", summaries(&d));
    let tags = attr(&ev, "bucket.b", "tags").to_json();
    assert_eq!(tags["tight"], "xyz");
    assert_eq!(tags["cond"], "[yes]");
    assert_eq!(tags["list"], "a\nb\nend\n");
}

const STORE_HEAD: &str =
    "bucket \"f\" {\n  cloud = \"gcp\"\n  name = \"f\"\n  location = \"us-central1\"\n}\n";

fn store(body: &str) -> String {
    format!("{STORE_HEAD}feature_store \"s\" {{\n  cloud = \"gcp\"\n  offline {{\n    bucket = bucket.f.name\n  }}\n{body}}}\n")
}

#[test]
fn dynamic_blocks_make_one_block_per_element() {
    let (ev, d) = eval(&format!(
        r#"
        variable "groups" {{
          default = {{
            clicks = {{ id = "click_id", features = {{ url = "string" }} }}
            txns   = {{ id = "txn_id", features = {{ amount = "float" }} }}
          }}
        }}
        variable "online" {{
          default = true
        }}
        {}"#,
        store(
            r#"
  dynamic "feature_group" {
    for_each = var.groups
    labels   = [feature_group.key]
    content {
      record_id  = feature_group.value.id
      event_time = "ts"
      features   = merge(feature_group.value.features, { ts = "string" })
    }
  }
  dynamic "online" {
    for_each = var.online ? [1] : []
    iterator = o
    content {
      enabled = true
      nodes   = o.value + 1
    }
  }
"#
        )
    ));
    assert!(!d.has_errors(), "{:?}", summaries(&d));
    let groups = attr(&ev, "feature_store.s", "feature_group");
    let Value::Map(g) = groups else {
        panic!("{groups:?}")
    };
    assert_eq!(g.keys().collect::<Vec<_>>(), ["clicks", "txns"]);
    assert_eq!(
        g["txns"].as_map().unwrap()["record_id"],
        Value::String("txn_id".into())
    );
    assert_eq!(
        g["clicks"].as_map().unwrap()["features"],
        Value::from_json(&serde_json::json!({"url": "string", "ts": "string"}))
    );
    let online = attr(&ev, "feature_store.s", "online").as_map().unwrap();
    assert_eq!(online["nodes"], Value::from(2.0));
    // The resource depends on what for_each and content read.
    let r = ev.resource("feature_store.s").unwrap();
    assert!(r.depends_on.contains("bucket.f"), "{:?}", r.depends_on);

    // An empty for_each makes no block.
    let (ev, d) = eval(&store(
        "  dynamic \"online\" {\n    for_each = []\n    content {\n      enabled = true\n    }\n  }\n",
    ));
    assert!(!d.has_errors(), "{:?}", summaries(&d));
    assert_eq!(attr(&ev, "feature_store.s", "online"), &Value::Null);
}

#[test]
fn dynamic_blocks_nest_and_mix_with_written_ones() {
    // A written block and a dynamic one of the same labeled type add up.
    let (ev, d) = eval(&store(
        r#"
  feature_group "fixed" {
    record_id  = "id"
    event_time = "ts"
    features   = { id = "string", ts = "string" }
  }
  dynamic "feature_group" {
    for_each = toset(["a", "b"])
    iterator = g
    labels   = ["g-${g.value}"]
    content {
      record_id  = "id"
      event_time = "ts"
      features   = { id = "string", ts = "string" }
    }
  }
"#,
    ));
    assert!(!d.has_errors(), "{:?}", summaries(&d));
    let Value::Map(g) = attr(&ev, "feature_store.s", "feature_group") else {
        panic!()
    };
    assert_eq!(g.keys().collect::<Vec<_>>(), ["fixed", "g-a", "g-b"]);
}

#[test]
fn dynamic_block_mistakes_are_errors_at_the_line() {
    let cases: &[(&str, &str)] = &[
        (
            "  dynamic \"onlin\" {\n    for_each = [1]\n    content {}\n  }\n",
            "dynamic block makes `onlin`, which is not a block in feature_store.s",
        ),
        (
            "  dynamic \"online\" {\n    for_each = [1, 2]\n    content {\n      enabled = true\n    }\n  }\n",
            "dynamic \"online\" makes a second `online` block in feature_store.s, which takes one",
        ),
        (
            "  dynamic \"feature_group\" {\n    for_each = [1]\n    content {}\n  }\n",
            "dynamic \"feature_group\" needs `labels`: each feature_group block has a label",
        ),
        (
            "  dynamic \"online\" {\n    for_each = 3\n    content {}\n  }\n",
            "the for_each of dynamic \"online\" is a number",
        ),
        (
            "  dynamic \"online\" {\n    for_each = [1]\n  }\n",
            "dynamic \"online\" needs `for_each` and a `content` block",
        ),
        (
            "  dynamic \"online\" {\n    for_each = [1]\n    forEach = 2\n    content {}\n  }\n",
            "unknown attribute `forEach` in dynamic \"online\"",
        ),
        (
            "  dynamic \"feature_group\" {\n    for_each = [\"a\", \"a\"]\n    labels = [feature_group.value]\n    content {\n      record_id = \"id\"\n      event_time = \"ts\"\n      features = { id = \"string\", ts = \"string\" }\n    }\n  }\n",
            "feature_group \"a\" is declared twice in feature_store.s",
        ),
        (
            "  dynamic \"online\" {\n    for_each = [1]\n    content {\n      enabld = true\n    }\n  }\n",
            "unknown attribute `enabld` in feature_store.s block `online`",
        ),
    ];
    for (body, want) in cases {
        let (_, d) = eval(&store(body));
        let s = summaries(&d);
        assert!(s.iter().any(|m| m == want), "{body}\n{s:?}");
        // Each error points into the dynamic block, never at line 1.
        assert!(
            d.iter()
                .filter(|d| d.is_error())
                .all(|d| d.span.is_some_and(|s| s.start > 0)),
            "{body}"
        );
    }
}

/// Evaluation and the plan's reading of the conditions, as `plan` reports them.
fn eval_planned(text: &str) -> (Evaluated, Diagnostics) {
    let (ev, mut d) = eval(text);
    d.extend(crate::config::conditions::plan_diagnostics(&ev.conditions));
    (ev, d)
}

fn conditions(ev: &Evaluated) -> Vec<(String, String, crate::config::conditions::Status)> {
    ev.conditions
        .iter()
        .map(|c| {
            (
                c.kind.as_str().to_string(),
                c.owner.clone(),
                c.status.clone(),
            )
        })
        .collect()
}

fn bucket_with(lifecycle: &str) -> String {
    format!(
        "variable \"env\" {{\n  default = \"prod\"\n}}\nbucket \"b\" {{\n  cloud = \"gcp\"\n  name = \"data-${{var.env}}\"\n  location = \"us-central1\"\n  lifecycle {{\n{lifecycle}  }}\n}}\n"
    )
}

#[test]
fn preconditions_and_postconditions_pass_fail_or_wait_for_apply() {
    use crate::config::conditions::Status;
    let (ev, d) = eval_planned(&bucket_with(
        "    precondition {\n      condition     = contains([\"dev\", \"prod\"], var.env)\n      error_message = \"env must be dev or prod\"\n    }\n    postcondition {\n      condition     = startswith(self.name, \"data-\")\n      error_message = \"bucket names start with data-\"\n    }\n    postcondition {\n      condition     = self.id != \"\"\n      error_message = \"the bucket has an id\"\n    }\n",
    ));
    assert!(!d.has_errors(), "{:?}", summaries(&d));
    assert_eq!(
        conditions(&ev),
        [
            ("precondition".into(), "bucket.b".into(), Status::Pass),
            ("postcondition".into(), "bucket.b".into(), Status::Pass),
            // `id` is set by the cloud: checked after apply.
            ("postcondition".into(), "bucket.b".into(), Status::Unknown),
        ]
    );

    let (ev, d) = eval_planned(&bucket_with(
        "    precondition {\n      condition     = var.env == \"staging\"\n      error_message = \"env is ${var.env}, but this bucket is for staging\"\n    }\n    postcondition {\n      condition     = length(self.name) < 5\n      error_message = \"${self.name} is too long\"\n    }\n",
    ));
    let s = summaries(&d);
    assert!(
        s.contains(
            &"precondition of bucket.b failed: env is prod, but this bucket is for staging"
                .to_string()
        ),
        "{s:?}"
    );
    assert!(
        s.contains(&"postcondition of bucket.b failed: data-prod is too long".to_string()),
        "{s:?}"
    );
    assert_eq!(d.error_count(), 2);
    assert!(matches!(ev.conditions[0].status, Status::Fail(_)));
}

#[test]
fn checks_warn_and_output_preconditions_stop_the_plan() {
    use crate::config::conditions::Status;
    let (ev, d) = eval_planned(
        r#"
        variable "replicas" {
          default = 1
        }
        bucket "b" {
          cloud    = "gcp"
          name     = "b"
          location = "us-central1"
        }
        check "redundancy" {
          assert {
            condition     = var.replicas >= 2
            error_message = "only ${var.replicas} replica: one zone outage takes serving down"
          }
          assert {
            condition     = bucket.b.url != ""
            error_message = "the bucket has a URL"
          }
        }
        output "bucket" {
          value = bucket.b.name
          precondition {
            condition     = var.replicas > 0
            error_message = "at least one replica"
          }
        }
        "#,
    );
    assert!(!d.has_errors(), "{:?}", summaries(&d));
    let s = summaries(&d);
    assert!(
        s.contains(
            &"check \"redundancy\" failed: only 1 replica: one zone outage takes serving down"
                .to_string()
        ),
        "{s:?}"
    );
    assert!(
        s.contains(&"check \"redundancy\" is known only after apply".to_string()),
        "{s:?}"
    );
    assert_eq!(
        conditions(&ev),
        [
            ("output precondition".into(), "bucket".into(), Status::Pass),
            (
                "check".into(),
                "redundancy".into(),
                Status::Fail("only 1 replica: one zone outage takes serving down".into())
            ),
            ("check".into(), "redundancy".into(), Status::Unknown),
        ]
    );
    let (_, d) = eval_planned(
        "variable \"n\" {\n  default = 0\n}\noutput \"o\" {\n  value = var.n\n  precondition {\n    condition = var.n > 0\n    error_message = \"n must be positive\"\n  }\n}\n",
    );
    assert_eq!(
        summaries(&d),
        ["precondition of output \"o\" failed: n must be positive"]
    );
}

#[test]
fn condition_mistakes_are_errors_at_the_line() {
    let cases: &[(&str, &str)] = &[
        (
            "check \"c\" {\n  assert {\n    condition = \"yes\"\n    error_message = \"m\"\n  }\n}\n",
            "the condition of a check of c is a string, not true or false",
        ),
        (
            "check \"c\" {\n  assert {\n    condition = true\n  }\n}\n",
            "assert block needs `condition` and `error_message`",
        ),
        (
            "check \"c\" {\n  data \"http\" \"x\" {\n  }\n  assert {\n    condition = true\n    error_message = \"m\"\n  }\n}\n",
            "a check block cannot read a data source in this build",
        ),
        ("check \"c\" {\n}\n", "check \"c\" has no assert block"),
        (
            "check \"c\" {\n  assert {\n    condition = true\n    error_message = \"m\"\n    severity = 1\n  }\n}\n",
            "unknown attribute `severity` in assert",
        ),
    ];
    for (text, want) in cases {
        let (_, d) = eval(text);
        let s = summaries(&d);
        assert!(s.iter().any(|m| m == want), "{text}\n{s:?}");
        assert!(
            d.iter().filter(|d| d.is_error()).all(|d| d.span.is_some()),
            "{text}"
        );
    }
}

fn planned(
    text: &str,
    prior: &crate::state::State,
    opts: &crate::plan::PlanOptions,
) -> Vec<(String, crate::plan::Action)> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.mlinfra.hcl"), text).unwrap();
    let (config, _) = load(dir.path());
    let (result, diags) = crate::run::plan_configuration(
        &config,
        &Inputs::new(),
        prior,
        Vec::new(),
        opts,
        &Default::default(),
    );
    assert!(!diags.has_errors(), "{:?}", summaries(&diags));
    result
        .unwrap()
        .1
        .changes
        .into_iter()
        .map(|c| (c.address, c.action))
        .collect()
}

#[test]
fn exclude_leaves_out_the_address_and_what_depends_on_it() {
    use crate::plan::{Action, PlanOptions};
    let text = "bucket \"a\" {\n  cloud = \"gcp\"\n  name = \"a\"\n  location = \"us-central1\"\n}\nbucket \"b\" {\n  cloud = \"gcp\"\n  name = \"${bucket.a.name}-b\"\n  location = \"us-central1\"\n}\nbucket \"c\" {\n  cloud = \"gcp\"\n  name = \"c\"\n  location = \"us-central1\"\n}\n";
    let ex = |list: &[&str], destroy: bool| PlanOptions {
        excludes: list
            .iter()
            .map(|s| crate::address::Address::parse_target(s).unwrap())
            .collect(),
        destroy,
        ..Default::default()
    };
    let none = crate::state::State::new();
    assert_eq!(
        planned(text, &none, &ex(&["bucket.a"], false)),
        [("bucket.c".to_string(), Action::Create)]
    );
    assert_eq!(
        planned(text, &none, &ex(&["bucket.b"], false)),
        [
            ("bucket.a".to_string(), Action::Create),
            ("bucket.c".to_string(), Action::Create)
        ]
    );
    // Destroying: what an excluded resource depends on is kept too.
    let mut prior = crate::state::State::new();
    for (addr, name, deps) in [
        ("bucket.a", "a", vec![]),
        ("bucket.b", "a-b", vec!["bucket.a"]),
        ("bucket.c", "c", vec![]),
    ] {
        let mut r = recorded(
            "bucket",
            serde_json::json!({"cloud": "gcp", "name": name, "location": "us-central1", "storage_class": "standard",
                "versioning": false, "force_destroy": false, "tags": {}, "id": name, "url": "gs://x"}),
        );
        r.dependencies = deps.into_iter().map(String::from).collect();
        prior.resources.insert(addr.into(), r);
    }
    assert_eq!(
        planned(text, &prior, &ex(&["bucket.b"], true)),
        [("bucket.c".to_string(), Action::Delete)]
    );
    assert_eq!(
        planned(text, &prior, &ex(&["bucket.c"], true)),
        [
            ("bucket.a".to_string(), Action::Delete),
            ("bucket.b".to_string(), Action::Delete)
        ]
    );
    // A name that matches nothing is an error, as for --target.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.mlinfra.hcl"), text).unwrap();
    let (config, _) = load(dir.path());
    let (_, d) = crate::run::plan_configuration(
        &config,
        &Inputs::new(),
        &none,
        Vec::new(),
        &ex(&["bucket.nope"], false),
        &Default::default(),
    );
    assert!(
        summaries(&d)
            .iter()
            .any(|s| s
                == "--exclude bucket.nope matches no resource in the configuration or the state"),
        "{:?}",
        summaries(&d)
    );
}

#[test]
fn replace_triggered_by_replaces_on_a_change_of_what_it_names() {
    use crate::plan::{Action, PlanOptions};
    let gcs = |name: &str, versioning: bool, tags: serde_json::Value| {
        recorded(
            "bucket",
            serde_json::json!({"cloud": "gcp", "name": name, "location": "us-central1", "storage_class": "standard",
                "versioning": versioning, "force_destroy": false, "tags": tags, "id": name, "url": "gs://x"}),
        )
    };
    let mut prior = crate::state::State::new();
    prior
        .resources
        .insert("bucket.a".into(), gcs("a", false, serde_json::json!({})));
    prior
        .resources
        .insert("bucket.b".into(), gcs("b", false, serde_json::json!({})));
    prior
        .resources
        .insert("bucket.c".into(), gcs("c", false, serde_json::json!({})));
    prior.resources.insert(
        "bucket.d[0]".into(),
        gcs("d-0", false, serde_json::json!({})),
    );
    let text = |a_attrs: &str| {
        format!(
            "bucket \"a\" {{\n  cloud = \"gcp\"\n  name = \"a\"\n  location = \"us-central1\"\n{a_attrs}}}\n\
             bucket \"b\" {{\n  cloud = \"gcp\"\n  name = \"b\"\n  location = \"us-central1\"\n  lifecycle {{\n    replace_triggered_by = [bucket.a.versioning]\n  }}\n}}\n\
             bucket \"c\" {{\n  cloud = \"gcp\"\n  name = \"c\"\n  location = \"us-central1\"\n  lifecycle {{\n    replace_triggered_by = [bucket.b]\n  }}\n}}\n\
             bucket \"d\" {{\n  count = 1\n  cloud = \"gcp\"\n  name = \"d-${{count.index}}\"\n  location = \"us-central1\"\n  lifecycle {{\n    replace_triggered_by = [bucket.a]\n  }}\n}}\n"
        )
    };
    let opts = PlanOptions::default();
    // A tag change updates `a`: `d` (any change of a) is replaced; `b` watches only
    // `versioning`, so it and `c` stay.
    let p = planned(&text("  tags = { team = \"ml\" }\n"), &prior, &opts);
    assert_eq!(
        p,
        [
            ("bucket.a".to_string(), Action::Update),
            ("bucket.b".to_string(), Action::NoOp),
            ("bucket.c".to_string(), Action::NoOp),
            ("bucket.d[0]".to_string(), Action::DeleteThenCreate),
        ]
    );
    // A versioning change triggers `b`, whose replacement triggers `c`.
    let p = planned(&text("  versioning = true\n"), &prior, &opts);
    assert_eq!(
        p,
        [
            ("bucket.a".to_string(), Action::Update),
            ("bucket.b".to_string(), Action::DeleteThenCreate),
            ("bucket.c".to_string(), Action::DeleteThenCreate),
            ("bucket.d[0]".to_string(), Action::DeleteThenCreate),
        ]
    );
    // Nothing changes: nothing is triggered.
    let p = planned(&text(""), &prior, &opts);
    assert!(p.iter().all(|(_, a)| *a == Action::NoOp), "{p:?}");
    // The reason names the trigger.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        text("  versioning = true\n"),
    )
    .unwrap();
    let (config, _) = load(dir.path());
    let (r, _) = crate::run::plan_configuration(
        &config,
        &Inputs::new(),
        &prior,
        Vec::new(),
        &opts,
        &Default::default(),
    );
    let plan = r.unwrap().1;
    let c = plan
        .changes
        .iter()
        .find(|c| c.address == "bucket.c")
        .unwrap();
    assert_eq!(c.reason, Some(crate::plan::Reason::ReplaceTriggered));
    assert_eq!(
        c.reason_message,
        "lifecycle.replace_triggered_by: bucket.b changes in this plan"
    );
    assert!(c.depends_on.contains(&"bucket.b".to_string()));
}

#[test]
fn prevent_destroy_from_an_expression_and_trigger_mistakes() {
    let prior = bucket_state("old", "standard", serde_json::json!({}));
    let (_, d) = plan_with_prior(
        "variable \"env\" {\n  default = \"prod\"\n}\nbucket \"b\" {\n  cloud = \"gcp\"\n  name = \"new\"\n  location = \"us-central1\"\n  lifecycle {\n    prevent_destroy = var.env == \"prod\"\n  }\n}\n",
        &prior,
    );
    assert!(
        summaries(&d)
            .iter()
            .any(|s| s
                == "bucket.b has lifecycle.prevent_destroy set, but the plan would destroy it"),
        "{:?}",
        summaries(&d)
    );
    let (_, d) = plan_with_prior(
        "variable \"env\" {\n  default = \"dev\"\n}\nbucket \"b\" {\n  cloud = \"gcp\"\n  name = \"new\"\n  location = \"us-central1\"\n  lifecycle {\n    prevent_destroy = var.env == \"prod\"\n  }\n}\n",
        &prior,
    );
    assert!(!d.has_errors(), "{:?}", summaries(&d));
    for (text, want) in [
        (
            "bucket \"b\" {\n  cloud = \"gcp\"\n  name = \"b\"\n  location = \"us-central1\"\n  lifecycle {\n    replace_triggered_by = [\"bucket.a\"]\n  }\n}\n",
            "replace_triggered_by takes resource references, not values",
        ),
        (
            "bucket \"b\" {\n  cloud = \"gcp\"\n  name = \"b\"\n  location = \"us-central1\"\n  lifecycle {\n    replace_triggered_by = [bucket.nope]\n  }\n}\n",
            "replace_triggered_by refers to bucket.nope, which is not declared in this module",
        ),
        (
            "bucket \"b\" {\n  cloud = \"gcp\"\n  name = \"b\"\n  location = \"us-central1\"\n  lifecycle {\n    prevent_destroy = \"yes\"\n  }\n}\n",
            "prevent_destroy of bucket.b is a string, not true or false",
        ),
    ] {
        let (_, d) = eval(text);
        assert!(summaries(&d).iter().any(|s| s == want), "{:?}", summaries(&d));
    }
}

const TRAINING: &str = "cluster \"c\" {\n  cloud = \"aws\"\n  kubernetes_version = \"1.31\"\n  subnet_ids = [\"subnet-1\"]\n  role_arn = \"arn:aws:iam::123456789012:role/eks\"\n}\ngpu_pool \"p\" {\n  cluster = cluster.c\n  accelerator = \"A100\"\n  gpus_per_node = 8\n  max_nodes = 2\n  node_role_arn = \"arn:aws:iam::123456789012:role/nodes\"\n}\npriority_class \"high\" {\n  value = 1000\n}\nbucket \"b\" {\n  cloud = \"aws\"\n  name = \"b\"\n}\n";

#[test]
fn a_resource_object_stands_for_its_name_where_that_kind_is_expected() {
    let (ev, d) = eval(&format!(
        "{TRAINING}queue \"q\" {{\n  pools = [gpu_pool.p]\n  nominal_gpus = 8\n  priority = priority_class.high\n}}\n"
    ));
    assert!(!d.has_errors(), "{:?}", summaries(&d));
    assert_eq!(
        attr(&ev, "queue.q", "priority"),
        &Value::String("high".into())
    );
    assert!(ev
        .resource("queue.q")
        .unwrap()
        .depends_on
        .contains("priority_class.high"));
    let (_, d) = eval(&format!(
        "{TRAINING}queue \"q\" {{\n  pools = [gpu_pool.p]\n  nominal_gpus = 8\n  priority = bucket.b\n}}\n"
    ));
    assert_eq!(
        summaries(&d),
        ["`priority` in queue.q takes a priority_class, but this refers to a bucket"]
    );
    let (_, d) = eval(&format!(
        "{TRAINING}queue \"q\" {{\n  pools = [cluster.c]\n  nominal_gpus = 8\n}}\n"
    ));
    assert_eq!(
        summaries(&d),
        ["`pools` in queue.q takes a gpu_pool, but this refers to a cluster"]
    );
}

#[test]
fn accelerators_use_skypilot_names_and_a_near_miss_names_every_close_one() {
    let (ev, d) = eval(TRAINING);
    assert!(!d.has_errors(), "{:?}", summaries(&d));
    assert_eq!(
        attr(&ev, "gpu_pool.p", "accelerator"),
        &Value::String("A100".into())
    );
    let (_, d) = eval(&TRAINING.replace("\"A100\"", "\"A100-40GB\""));
    let e = d.iter().find(|d| d.is_error()).expect("an error");
    assert_eq!(
        e.summary,
        "invalid value \"A100-40GB\" for `accelerator` in gpu_pool.p"
    );
    assert_eq!(
        e.help.as_deref(),
        Some("did you mean one of \"A100-80GB\", \"A100\"?")
    );
}

#[test]
fn ephemeral_values_reach_providers_locals_and_ephemeral_outputs_only() {
    let token = || {
        let mut inputs = Inputs::new();
        inputs.insert(
            "token".into(),
            InputValue {
                raw: RawInput::Text("tok-123".into()),
                source: "--var".into(),
                span: None,
            },
        );
        inputs
    };
    // Allowed: a provider block, locals, a child module's ephemeral variable and output,
    // and ephemeralasnull where a saved value is needed.
    let (ev, d, _dir) = eval_files(
        &[
            (
                "main.mlinfra.hcl",
                r#"variable "token" {
  type      = string
  ephemeral = true
}
locals {
  header = "Bearer ${var.token}"
}
provider "aws" {
  region     = "us-east-1"
  profile    = local.header
}
module "auth" {
  source = "./auth"
  token  = local.header
}
bucket "b" {
  cloud = "aws"
  name  = "data"
  tags  = { token = coalesce(ephemeralasnull(module.auth.header), "none") }
}
output "kept" {
  value = ephemeralasnull(var.token)
}
"#,
            ),
            (
                "auth/main.mlinfra.hcl",
                r#"variable "token" {
  type      = string
  ephemeral = true
}
output "header" {
  value     = upper(var.token)
  ephemeral = true
}
"#,
            ),
        ],
        token(),
    );
    assert!(d.is_empty(), "{:?}", summaries(&d));
    assert_eq!(
        attr(&ev, "bucket.b", "tags").to_json(),
        serde_json::json!({"token": "none"})
    );
    assert_eq!(ev.outputs["kept"].value, Value::Null);
    let p = ev.providers.iter().find(|p| p.key == "aws").unwrap();
    assert_eq!(p.attrs["profile"], Value::from("Bearer tok-123"));

    // Not allowed: anything saved in the plan or the state.
    let bad = |files: &[(&str, &str)]| {
        let (_, d, _dir) = eval_files(files, token());
        summaries(&d)
    };
    let head = "variable \"token\" {\n  type      = string\n  ephemeral = true\n}\n";
    let s = bad(&[(
        "main.mlinfra.hcl",
        &format!("{head}bucket \"b\" {{\n  cloud = \"aws\"\n  name  = var.token\n}}\n"),
    )]);
    assert!(
        s.iter()
            .any(|m| m.contains("`name` in bucket.b cannot take an ephemeral value")),
        "{s:?}"
    );
    let s = bad(&[(
        "main.mlinfra.hcl",
        &format!("{head}bucket \"b\" {{\n  count = length(var.token)\n  cloud = \"aws\"\n}}\n"),
    )]);
    assert!(
        s.iter()
            .any(|m| m.contains("the count of bucket.b cannot take an ephemeral value")),
        "{s:?}"
    );
    let s = bad(&[(
        "main.mlinfra.hcl",
        &format!("{head}output \"t\" {{\n  value = var.token\n}}\n"),
    )]);
    assert!(
        s.iter()
            .any(|m| m.contains("output `t` refers to ephemeral values")),
        "{s:?}"
    );
    let s = bad(&[(
        "main.mlinfra.hcl",
        &format!("{head}output \"t\" {{\n  value     = var.token\n  ephemeral = true\n}}\n"),
    )]);
    assert!(
        s.iter()
            .any(|m| m.contains("output `t` of the root module cannot be ephemeral")),
        "{s:?}"
    );
    let s = bad(&[
        (
            "main.mlinfra.hcl",
            &format!("{head}module \"m\" {{\n  source = \"./m\"\n  token  = var.token\n}}\n"),
        ),
        (
            "m/main.mlinfra.hcl",
            "variable \"token\" { type = string }\n",
        ),
    ]);
    assert!(s.iter().any(|m| m.contains("the input `token` is ephemeral, and the module's variable is not")), "{s:?}");
}

#[test]
fn an_ephemeral_value_may_change_between_plan_and_apply() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "variable \"token\" {\n  type      = string\n  ephemeral = true\n}\nvariable \"env\" { type = string }\n",
    )
    .unwrap();
    let (config, d) = load(dir.path());
    assert!(!d.has_errors());
    let inputs = |token: &str, env: &str| {
        let mut i = Inputs::new();
        for (k, v) in [("token", token), ("env", env)] {
            i.insert(
                k.into(),
                InputValue {
                    raw: RawInput::Text(v.into()),
                    source: "--var".into(),
                    span: None,
                },
            );
        }
        i
    };
    let h = |t: &str, e: &str| crate::run::config_hash(&config, &inputs(t, e));
    assert_eq!(
        h("tok-1", "prod"),
        h("tok-2", "prod"),
        "the saved plan binds no ephemeral value"
    );
    assert_ne!(h("tok-1", "prod"), h("tok-1", "dev"));
}

#[test]
fn write_only_values_take_ephemeral_inputs_and_leave_only_their_shape() {
    let mut inputs = Inputs::new();
    inputs.insert(
        "token".into(),
        InputValue {
            raw: RawInput::Text("hf_tok_123".into()),
            source: "--var".into(),
            span: None,
        },
    );
    let head =
        "variable \"token\" {\n  type      = string\n  sensitive = true\n  ephemeral = true\n}\n";
    let endpoint = |env: &str, wo: &str| {
        format!(
            "{head}endpoint \"e\" {{\n  cloud    = \"gcp\"\n  model    = {{ image = \"img\", environment = {env} }}\n  instance = {{ type = \"n1-standard-4\" }}\n  environment_wo = {wo}\n}}\n"
        )
    };
    let text = endpoint("{ MODE = \"fast\" }", "{ HF_TOKEN = var.token }");
    let (ev, d, _dir) = eval_files(&[("main.mlinfra.hcl", &text)], inputs.clone());
    assert!(d.is_empty(), "{:?}", summaries(&d));
    let e = ev.resource("endpoint.e").unwrap();
    assert_eq!(
        e.attrs["environment_wo"].to_json(),
        serde_json::json!({ "HF_TOKEN": null }),
        "the shape: names, no values"
    );
    assert_eq!(
        e.write_only["environment_wo"].to_json(),
        serde_json::json!({ "HF_TOKEN": "hf_tok_123" })
    );
    assert!(
        !e.sensitive.contains("environment_wo"),
        "the names are shown: {:?}",
        e.sensitive
    );
    assert_eq!(
        crate::secrets::scrub("token hf_tok_123"),
        "token (sensitive value)"
    );

    // The plain environment is saved, so it cannot take the ephemeral value.
    let text = endpoint("{ HF_TOKEN = var.token }", "{}");
    let (_, d, _dir) = eval_files(&[("main.mlinfra.hcl", &text)], inputs);
    assert!(
        summaries(&d)
            .iter()
            .any(|m| m.contains("`model` in endpoint.e cannot take an ephemeral value")),
        "{:?}",
        summaries(&d)
    );
}

/// Expressions keep 512 bits, but what reaches state (attributes, outputs) is what a JSON
/// number holds, so a value read back from state compares equal and no plan shows it as
/// changed again.
#[test]
fn numbers_reach_state_as_json_holds_them() {
    let (ev, d) = eval(
        r#"
        locals {
          third = 1 / 3
        }
        output "third" {
          value = local.third
        }
        output "exact" {
          value = [9007199254740993, 0.1 + 0.2, local.third * 3]
        }
        "#,
    );
    assert!(d.is_empty(), "{:?}", summaries(&d));
    for name in ["third", "exact"] {
        let v = &ev.outputs[name].value;
        let text = serde_json::to_string(&v.to_json()).unwrap();
        let back = Value::from_json(&serde_json::from_str(&text).unwrap());
        assert_eq!(&back, v, "{name}: {text}");
    }
    assert_eq!(
        serde_json::to_string(&ev.outputs["exact"].value.to_json()).unwrap(),
        "[9007199254740993,0.3,1]"
    );
    assert_eq!(
        ev.outputs["third"].value.to_json(),
        serde_json::json!(1.0 / 3.0)
    );
}

/// lookup on a map-typed variable gives the map's element type, as Terraform's does: the
/// default converts to it or is an error; on an object any default is allowed.
#[test]
fn lookup_on_a_declared_map_takes_a_default_of_its_element_type() {
    let (ev, d) = eval(
        r#"
        variable "counts" {
          type    = map(number)
          default = { a = 1 }
        }
        variable "names" {
          type    = map(string)
          default = { a = "x" }
        }
        variable "obj" {
          type    = object({ a = number, nested = map(number) })
          default = { a = 1, nested = { b = 2 } }
        }
        output "converted" {
          value = [lookup(var.counts, "x", "5"), lookup(var.names, "x", 5), lookup(var.counts, "a", "9")]
        }
        output "object_default" {
          value = lookup(var.obj, "x", "none")
        }
        output "null_default" {
          value = lookup(var.counts, "x", null)
        }
        "#,
    );
    assert!(d.is_empty(), "{:?}", summaries(&d));
    assert_eq!(
        ev.outputs["converted"].value.to_json(),
        serde_json::json!([5, "5", 1])
    );
    assert_eq!(ev.outputs["object_default"].value, Value::from("none"));
    assert_eq!(ev.outputs["null_default"].value, Value::Null);

    for bad in [
        r#"lookup(var.counts, "x", "none")"#,
        r#"lookup((var.counts), "x", [1])"#,
        r#"lookup(var.obj.nested, "x", "none")"#,
    ] {
        let (_, d) = eval(&format!(
            r#"
            variable "counts" {{
              type    = map(number)
              default = {{ a = 1 }}
            }}
            variable "obj" {{
              type    = object({{ a = number, nested = map(number) }})
              default = {{ a = 1, nested = {{ b = 2 }} }}
            }}
            output "o" {{
              value = {bad}
            }}
            "#
        ));
        let s = summaries(&d);
        assert!(
            s.iter().any(|m| m.contains(
                "the default value must have the same type as the map elements (number)"
            )),
            "{bad}: {s:?}"
        );
    }
}
