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
