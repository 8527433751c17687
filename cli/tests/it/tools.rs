//! graph, schema, fmt, completions, help and -chdir.

use crate::{copy_to_temp, fixture, mlinfra, repo};

#[test]
fn graph_prints_dot_and_mermaid_with_module_clusters() {
    let q = repo().join("examples/quickstart");
    let r = mlinfra(&q, &["graph"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("digraph mlinfra {"));
    assert!(
        r.stdout
            .contains("\"gpu_pool.training[\\\"h100\\\"]\" -> \"cluster.train\";"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("subgraph \"cluster_module.serving\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("\"module.serving.endpoint.this\" -> \"container_registry.images\";"),
        "{}",
        r.stdout
    );
    let r = mlinfra(&q, &["graph", "--format", "mermaid"]);
    assert!(r.stdout.starts_with("flowchart RL\n"));
    assert!(r.stdout.contains(" --> "));
}

#[test]
fn schema_describes_kinds_and_exports_json_schema() {
    let r = mlinfra(&repo(), &["schema", "gpu_pool"]);
    assert!(
        r.stdout.contains(
            "aws    → EKS managed nodegroup (GPU AMI); names unique per account, region, `cluster`"
        ),
        "{}",
        r.stdout
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("accelerator"), "{}", r.stdout);
    assert!(r.stdout.contains("forces replacement"));
    assert!(r.stdout.contains("EKS managed nodegroup"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("schema");
    let r = mlinfra(
        dir.path(),
        &["schema", "--json", "--out", out.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for kind in [
        "cluster",
        "gpu_pool",
        "bucket",
        "container_registry",
        "feature_store",
        "model_registry",
        "endpoint",
        "queue",
        "priority_class",
        "budget",
    ] {
        let text = std::fs::read_to_string(out.join(format!("{kind}.schema.json"))).unwrap();
        let committed =
            std::fs::read_to_string(repo().join(format!("schema/json/{kind}.schema.json")))
                .unwrap();
        assert_eq!(text, committed, "schema/json/{kind}.schema.json is out of date: run mlinfra schema --json --out schema/json");
    }
    let r = mlinfra(&repo(), &["schema", "gpu_pol"]);
    assert_eq!(r.code, 1);
}

#[test]
fn fmt_rewrites_checks_and_round_trips() {
    let dir = copy_to_temp(&fixture("lifecycle"));
    let f = dir.path().join("main.mlinfra.hcl");
    let original = std::fs::read_to_string(&f).unwrap();
    let messy = original.replace("  cloud = \"gcp\"", "      cloud=\"gcp\"");
    assert_ne!(messy, original);
    std::fs::write(&f, &messy).unwrap();
    let r = mlinfra(dir.path(), &["fmt", "--check"]);
    assert_eq!(r.code, 3, "unformatted files fail --check: {}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        messy,
        "--check writes nothing"
    );
    let r = mlinfra(dir.path(), &["fmt"]);
    assert_eq!(r.code, 0);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), original);
    let r = mlinfra(dir.path(), &["fmt", "--check"]);
    assert_eq!(r.code, 0);
}

/// Published Terraform modules copied to `*.mlinfra.hcl`, as a user brings them: `fmt`
/// leaves every file exactly as `terraform fmt` left it, and a file that does not parse is
/// named at its line and column and left alone.
#[test]
fn fmt_leaves_published_modules_as_terraform_fmt_does() {
    let src = repo().join("engine/src/format/testdata/modules");
    let dir = tempfile::tempdir().unwrap();
    let mut copied = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "tf") {
                let rel = p.strip_prefix(&src).unwrap().with_extension("mlinfra.hcl");
                let to = dir.path().join(rel);
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(&p, &to).unwrap();
                copied.push(to);
            }
        }
    }
    assert!(copied.len() >= 8);
    let r = mlinfra(dir.path(), &["fmt", "--recursive"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "", "no file changes");
    for to in &copied {
        let rel = to.strip_prefix(dir.path()).unwrap();
        let original = src.join(rel.to_string_lossy().replace(".mlinfra.hcl", ".tf"));
        assert_eq!(
            std::fs::read(to).unwrap(),
            std::fs::read(original).unwrap(),
            "{}",
            rel.display()
        );
    }
    let bad = dir.path().join("bad.mlinfra.hcl");
    std::fs::write(&bad, "a = [1,\nb = 2\n").unwrap();
    let r = mlinfra(dir.path(), &["fmt", "bad.mlinfra.hcl"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("bad.mlinfra.hcl:2:3: cannot format, the file does not parse"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "a = [1,\nb = 2\n");
}

#[test]
fn examples_are_formatted() {
    let r = mlinfra(&repo(), &["fmt", "--check", "--recursive", "examples"]);
    assert_eq!(
        r.code, 0,
        "run `mlinfra fmt --recursive examples`:\n{}",
        r.stdout
    );
}

#[test]
fn completions_and_help_work() {
    let r = mlinfra(&repo(), &["completions", "bash"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("mlinfra"));
    for cmd in [
        "validate",
        "fmt",
        "plan",
        "show",
        "graph",
        "schema",
        "output",
        "completions",
        "force-unlock",
    ] {
        let r = mlinfra(&repo(), &[cmd, "--help"]);
        assert_eq!(r.code, 0, "{cmd} --help");
        assert!(r.stdout.contains("Examples:"), "{cmd} --help has examples");
    }
    let r = mlinfra(&repo(), &["plna"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("plan"), "{}", r.stderr);
}

#[test]
fn validate_reports_success_and_json() {
    let q = repo().join("examples/quickstart");
    let r = mlinfra(&q, &["validate"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("The configuration is valid (15 resource instances)."),
        "{}",
        r.stdout
    );
    let r = mlinfra(&fixture("invalid/bad-enum"), &["validate", "--json"]);
    assert_eq!(r.code, 1);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["valid"], false);
    assert_eq!(j["diagnostics"][0]["line"], 9);
    assert_eq!(j["diagnostics"][0]["file"], "main.mlinfra.hcl");
}
