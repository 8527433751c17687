//! Secrets stay hidden on every path: a sensitive variable fed into every attribute of
//! every kind on every cloud, into count, for_each, cloud, timeouts and provider
//! attributes, never appears in what validate, plan, plan --json or cost print.

use std::path::Path;

use mlinfra_schema::{kinds, AttrType, BlockSchema, Cloud, KindClass};

use crate::{mlinfra_env, Run};

const SECRET: &str = "S3cr3t-Xq7-value";
const SECRET_NUMBER: &str = "918273645";

const VARIABLES: &str = r#"variable "secret_s" {
  type      = string
  sensitive = true
}
variable "secret_n" {
  type      = number
  sensitive = true
}
variable "secret_l" {
  type      = list(string)
  sensitive = true
}
variable "secret_m" {
  type      = map(string)
  sensitive = true
}
"#;

const ENV: &[(&str, &str)] = &[
    ("MLINFRA_VAR_secret_s", SECRET),
    ("MLINFRA_VAR_secret_n", SECRET_NUMBER),
    ("MLINFRA_VAR_secret_l", "[\"S3cr3t-Xq7-value\"]"),
    ("MLINFRA_VAR_secret_m", "{ k = \"S3cr3t-Xq7-value\" }"),
    ("AWS_ACCESS_KEY_ID", ""),
    ("AWS_PROFILE", ""),
];

/// A block to render: header, attributes, nested blocks.
#[derive(Clone)]
struct Block {
    header: String,
    attrs: Vec<(String, String)>,
    blocks: Vec<Block>,
}

impl Block {
    fn new(header: &str, attrs: &[(&str, &str)]) -> Block {
        Block {
            header: header.to_string(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            blocks: Vec::new(),
        }
    }
    fn with(mut self, b: Block) -> Block {
        self.blocks.push(b);
        self
    }
    fn set(&mut self, key: &str, value: &str) {
        match self.attrs.iter_mut().find(|(k, _)| k == key) {
            Some(a) => a.1 = value.to_string(),
            None => self.attrs.push((key.to_string(), value.to_string())),
        }
    }
    fn render(&self, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        out.push_str(&format!("{pad}{} {{\n", self.header));
        for (k, v) in &self.attrs {
            out.push_str(&format!("{pad}  {k} = {v}\n"));
        }
        for b in &self.blocks {
            b.render(indent + 2, out);
        }
        out.push_str(&format!("{pad}}}\n"));
    }
}

/// A valid block of `kind` on `cloud`, labeled `label`.
fn base(kind: &str, cloud: Cloud, label: &str) -> Block {
    let c = format!("\"{}\"", cloud.as_str());
    let h = format!("{kind} \"{label}\"");
    let aws = cloud == Cloud::Aws;
    let role = "\"arn:aws:iam::123456789012:role/r\"";
    match kind {
        "cluster" => {
            let mut b = Block::new(&h, &[("cloud", &c)]);
            if aws {
                b.set("subnet_ids", "[\"subnet-1\", \"subnet-2\"]");
                b.set("role_arn", role);
            }
            b
        }
        "gpu_pool" => {
            let mut b = Block::new(
                &h,
                &[
                    ("cluster", "cluster.support"),
                    ("accelerator", "\"H100\""),
                    ("gpus_per_node", "8"),
                    ("max_nodes", "2"),
                ],
            );
            if aws {
                b.set("node_role_arn", role);
            }
            b
        }
        "bucket" => {
            let mut b = Block::new(&h, &[("cloud", &c)]);
            if cloud == Cloud::Azure {
                b.set("storage_account", "\"acct\"");
            }
            b
        }
        "container_registry" | "model_registry" => Block::new(&h, &[("cloud", &c)]),
        "feature_store" => {
            let mut b = Block::new(&h, &[("cloud", &c)])
                .with(Block::new("offline", &[("bucket", "\"features\"")]))
                .with(Block::new("online", &[("enabled", "true")]))
                .with(Block::new(
                    "feature_group \"g\"",
                    &[
                        ("record_id", "\"id\""),
                        ("event_time", "\"ts\""),
                        ("features", "{ id = \"string\", ts = \"string\" }"),
                    ],
                ));
            if aws {
                b.set("role_arn", role);
            }
            b
        }
        "endpoint" => {
            let mut b = Block::new(
                &h,
                &[
                    ("cloud", &c),
                    ("model", "{ image = \"img:1\" }"),
                    ("instance", "{ type = \"ml.g5.xlarge\" }"),
                ],
            )
            .with(Block::new("autoscaling", &[("min", "1"), ("max", "2")]))
            .with(Block::new("rollout", &[("strategy", "\"all_at_once\"")]));
            if aws {
                b.set("role_arn", role);
            }
            b
        }
        "queue" => Block::new(
            &h,
            &[("pools", "[gpu_pool.support]"), ("nominal_gpus", "8")],
        ),
        "priority_class" => Block::new(&h, &[("value", "100")]),
        "budget" => Block::new(&h, &[("monthly_limit_usd", "1000000")]),
        other => panic!("no base block for {other}"),
    }
}

fn providers(overrides: &[(Cloud, &str, &str)]) -> String {
    let mut out = String::new();
    let defaults: [(Cloud, &[(&str, &str)]); 3] = [
        (Cloud::Aws, &[("region", "\"us-east-1\"")]),
        (
            Cloud::Gcp,
            &[("project", "\"acme\""), ("region", "\"us-central1\"")],
        ),
        (
            Cloud::Azure,
            &[
                (
                    "subscription_id",
                    "\"00000000-0000-0000-0000-000000000000\"",
                ),
                ("location", "\"eastus\""),
                ("resource_group", "\"ml\""),
            ],
        ),
    ];
    for (cloud, attrs) in defaults {
        let mut b = Block::new(&format!("provider \"{}\"", cloud.as_str()), attrs);
        for (c, k, v) in overrides {
            if *c == cloud {
                b.set(k, v);
            }
        }
        b.render(0, &mut out);
    }
    out
}

/// The sensitive variable of the attribute's own type, where one exists.
fn typed_secret(ty: &AttrType) -> Option<&'static str> {
    match ty {
        AttrType::String | AttrType::Ref(_) | AttrType::StringOrMap => Some("var.secret_s"),
        AttrType::Number | AttrType::NumberOrMap => Some("var.secret_n"),
        AttrType::List(_) | AttrType::Set(_) => Some("var.secret_l"),
        AttrType::Map(_) => Some("var.secret_m"),
        _ => None,
    }
}

fn check(dir: &Path, manifest: &str, what: &str) {
    std::fs::write(dir.join("main.mlinfra.hcl"), manifest).unwrap();
    for args in [&["validate"][..], &["plan"], &["plan", "--json"], &["cost"]] {
        let r: Run = mlinfra_env(dir, args, ENV);
        for secret in [SECRET, SECRET_NUMBER] {
            assert!(
                !r.stdout.contains(secret) && !r.stderr.contains(secret),
                "{what}: `mlinfra {}` printed the secret:\n{manifest}\n--- stdout\n{}\n--- stderr\n{}",
                args.join(" "),
                r.stdout,
                r.stderr
            );
        }
        assert!(
            !r.stderr.contains("panicked"),
            "{what}: {args:?} panicked:\n{}",
            r.stderr
        );
    }
}

/// Every variant of the block under test: each attribute (and each attribute of each
/// nested block) set to a secret of its own type and to a secret string.
fn variants(kind: &str, cloud: Cloud, schema: &BlockSchema) -> Vec<(String, Block)> {
    let mut out = Vec::new();
    let b = base(kind, cloud, "t");
    for a in schema
        .attributes
        .iter()
        .filter(|a| !a.read_only && a.applies_to(Some(cloud)))
    {
        for v in typed_secret(&a.ty).into_iter().chain(["var.secret_s"]) {
            let mut t = b.clone();
            t.set(a.name, v);
            out.push((format!("{kind}.{} = {v} on {cloud}", a.name), t));
        }
    }
    for nested in schema
        .blocks
        .iter()
        .filter(|n| n.clouds.is_empty() || n.clouds.contains(&cloud))
    {
        let header = if nested.labeled {
            format!("{} \"g\"", nested.name)
        } else {
            nested.name.to_string()
        };
        for a in nested
            .attributes
            .iter()
            .filter(|a| a.applies_to(Some(cloud)))
        {
            for v in typed_secret(&a.ty).into_iter().chain(["var.secret_s"]) {
                let mut t = b.clone();
                match t.blocks.iter_mut().find(|x| x.header == header) {
                    Some(inner) => inner.set(a.name, v),
                    None => t.blocks.push(Block::new(&header, &[(a.name, v)])),
                }
                out.push((
                    format!("{kind}.{}.{} = {v} on {cloud}", nested.name, a.name),
                    t,
                ));
            }
        }
    }
    // Meta-arguments.
    for (k, v) in [
        ("count", "var.secret_s"),
        ("count", "var.secret_n"),
        ("for_each", "var.secret_m"),
        ("for_each", "var.secret_l"),
    ] {
        let mut t = b.clone();
        t.set(k, v);
        out.push((format!("{kind} {k} = {v}"), t));
    }
    let mut t = b.clone();
    t.blocks
        .push(Block::new("timeouts", &[("create", "var.secret_s")]));
    out.push((format!("{kind} timeouts.create"), t));
    let mut t = b.clone();
    t.blocks.push(Block::new(
        "lifecycle",
        &[("ignore_changes", "var.secret_l")],
    ));
    out.push((format!("{kind} lifecycle.ignore_changes"), t));
    out
}

#[test]
fn a_sensitive_variable_in_any_attribute_of_any_kind_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases = 0;
    for k in kinds() {
        let clouds: Vec<Cloud> = if k.class == KindClass::Cloud {
            Cloud::ALL.to_vec()
        } else {
            vec![Cloud::Aws]
        };
        for cloud in clouds {
            for (what, block) in variants(k.name, cloud, &k.body) {
                let mut manifest = format!("{VARIABLES}{}", providers(&[]));
                base("cluster", cloud, "support").render(0, &mut manifest);
                base("gpu_pool", cloud, "support").render(0, &mut manifest);
                block.render(0, &mut manifest);
                check(dir.path(), &manifest, &what);
                cases += 1;
            }
        }
    }
    assert!(cases > 300, "only {cases} cases");
}

#[test]
fn a_sensitive_value_in_cloud_outputs_or_provider_attributes_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = |cloud: &str| format!("bucket \"b\" {{\n  cloud = {cloud}\n}}\n");
    check(
        dir.path(),
        &format!("{VARIABLES}{}{}", providers(&[]), bucket("var.secret_s")),
        "cloud",
    );
    check(
        dir.path(),
        &format!(
            "{VARIABLES}{}{}",
            providers(&[]),
            bucket("\"${var.secret_s}-x\"")
        ),
        "cloud from a secret",
    );
    check(
        dir.path(),
        &format!(
            "{VARIABLES}{}{}output \"o\" {{\n  value = var.secret_s\n}}\n",
            providers(&[]),
            bucket("\"aws\"")
        ),
        "an output that is not marked sensitive",
    );
    for (cloud, attr, v) in [
        (Cloud::Aws, "region", "var.secret_s"),
        (Cloud::Aws, "profile", "var.secret_s"),
        (Cloud::Aws, "endpoint", "var.secret_s"),
        (Cloud::Aws, "default_tags", "var.secret_m"),
        (Cloud::Aws, "region", "var.secret_n"),
        (Cloud::Gcp, "project", "var.secret_s"),
        (Cloud::Gcp, "region", "var.secret_s"),
        (Cloud::Gcp, "zone", "var.secret_s"),
        (Cloud::Azure, "subscription_id", "var.secret_s"),
        (Cloud::Azure, "tenant_id", "var.secret_s"),
        (Cloud::Azure, "location", "var.secret_s"),
        (Cloud::Azure, "resource_group", "var.secret_s"),
    ] {
        let mut manifest = format!("{VARIABLES}{}", providers(&[(cloud, attr, v)]));
        for k in ["bucket", "cluster", "container_registry", "model_registry"] {
            base(k, cloud, "t").render(0, &mut manifest);
        }
        check(
            dir.path(),
            &manifest,
            &format!("provider {cloud} {attr} = {v}"),
        );
    }
    // A secret in a variables file is not quoted in a diagnostic about it.
    std::fs::write(
        dir.path().join("s.vars"),
        format!("secret_n = \"{SECRET}\"\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        format!("{VARIABLES}bucket \"b\" {{\n  cloud = \"gcp\"\n}}\n"),
    )
    .unwrap();
    let r = mlinfra_env(dir.path(), &["plan", "--var-file", "s.vars"], ENV);
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains(SECRET), "{}", r.stderr);
}

#[test]
fn a_secret_bucket_name_is_not_printed_by_apply_or_its_errors() {
    use crate::aws::{endpoint, unique, write};
    let dir = tempfile::tempdir().unwrap();
    let manifest = "variable \"bucket_name\" {\n  sensitive = true\n}\n\nbucket \"b\" {\n  cloud = \"aws\"\n  name  = var.bucket_name\n}\n";
    write(dir.path(), &endpoint(), manifest);
    // A name S3 refuses: the provider's error quotes it.
    let bad = format!("Secret_Bucket_{}", unique("x"));
    let r = crate::mlinfra_env(
        dir.path(),
        &["apply", "--auto-approve"],
        &[
            ("MLINFRA_VAR_bucket_name", &bad),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("is not a valid S3 bucket name")
            || r.stderr.contains("is not a valid S3 bucket name"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        !r.stdout.contains(&bad) && !r.stderr.contains(&bad),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    // A good one: progress lines carry the id, which is the secret name.
    let good = unique("secret-name");
    let r = crate::mlinfra_env(
        dir.path(),
        &["apply", "--auto-approve"],
        &[
            ("MLINFRA_VAR_bucket_name", &good),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Creation complete"), "{}", r.stdout);
    assert!(
        !r.stdout.contains(&good) && !r.stderr.contains(&good),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    let r = crate::mlinfra_env(
        dir.path(),
        &["destroy", "--auto-approve"],
        &[
            ("MLINFRA_VAR_bucket_name", &good),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains(&good), "{}", r.stdout);
}
