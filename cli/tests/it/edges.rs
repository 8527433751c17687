//! Smaller defects of the hostile-input review: each repro, now a clear error or fixed.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::aws::{endpoint, run, state, unique};
use crate::mlinfra;

const TWO_BUCKETS: &str =
    "bucket \"features\" {\n  cloud = \"gcp\"\n}\n\nbucket \"models\" {\n  cloud = \"gcp\"\n}\n";

#[test]
fn a_target_or_replace_that_names_nothing_is_an_error_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.mlinfra.hcl"), TWO_BUCKETS).unwrap();
    for cmd in [
        &["plan", "--target", "bucket.featurs"][..],
        &["apply", "--auto-approve", "--target", "bucket.featurs"],
        &["plan", "--replace", "bucket.featurs"],
    ] {
        let r = mlinfra(dir.path(), cmd);
        assert_eq!(r.code, 1, "{cmd:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("bucket.featurs matches no resource in the configuration or the state"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("did you mean"), "{}", r.stderr);
        assert!(r.stderr.contains("bucket.features?"), "{}", r.stderr);
    }
    // What does exist is accepted: an instance, a resource, a module.
    assert_eq!(
        mlinfra(dir.path(), &["plan", "--target", "bucket.features"]).code,
        0
    );
    assert!(!dir.path().join("mlinfra.state.json").exists());
}

#[test]
fn numbers_too_large_to_represent_are_errors_not_a_diff_on_every_plan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "output \"total\" {\n  value = sum([1e308, 1e308])\n}\n\noutput \"scaled\" {\n  value = 1e308 * 10\n}\n\noutput \"parsed\" {\n  value = tonumber(\"inf\")\n}\n",
    )
    .unwrap();
    let r = mlinfra(dir.path(), &["plan"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("output `total` holds a number too large to represent"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("main.mlinfra.hcl:1:1"), "{}", r.stderr);
    assert!(r.stderr.contains("tonumber(): \"inf\" is not a number"));
    // Arithmetic has 512 bits and a wide exponent, as Terraform's; what state cannot hold
    // (a JSON number is a 64-bit float) is an error where it would be stored.
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "locals {\n  big = 1e308 * 10\n}\n\noutput \"scaled\" {\n  value = local.big\n}\n\noutput \"back\" {\n  value = local.big / 100\n}\n",
    )
    .unwrap();
    let r = mlinfra(dir.path(), &["plan"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("output `scaled` holds a number too large to represent"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("main.mlinfra.hcl:5:1"), "{}", r.stderr);
    assert!(!r.stderr.contains("output `back`"), "{}", r.stderr);
    assert!(!dir.path().join("mlinfra.state.json").exists());
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // More output than a pipe holds (64 KiB), so the writer is still writing when the
    // reader goes away, however fast it runs.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "bucket \"b\" {\n  count = 3000\n  cloud = \"aws\"\n  name  = \"pipe-${count.index}\"\n}\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlinfra"))
        .args(["plan", "--json"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte, then close the pipe, as `| head -c1` does.
    let mut out = child.stdout.take().unwrap();
    let mut one = [0u8; 1];
    out.read_exact(&mut one).unwrap();
    drop(out);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(1), "{stderr}");
}

#[test]
fn provider_default_tags_reach_every_taggable_resource() {
    let p = unique("deftags");
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "bucket \"data\" {{\n  cloud = \"aws\"\n  name  = \"{p}\"\n  tags  = {{ env = \"dev\", owner = \"data-team\" }}\n}}\n\ncontainer_registry \"images\" {{\n  cloud = \"aws\"\n  name  = \"{p}/img\"\n}}\n"
    );
    // Terraform's form of the block, written into the provider block by `write`.
    let text = format!(
        "provider \"aws\" {{\n  region   = \"us-east-1\"\n  endpoint = \"{}\"\n  default_tags {{\n    tags = {{ owner = \"ml-platform\", cost_center = \"42\" }}\n  }}\n}}\n\n{body}",
        endpoint()
    );
    std::fs::write(dir.path().join("main.mlinfra.hcl"), text).unwrap();
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("cost_center"), "{}", r.stdout);
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let st = state(dir.path());
    let tags = |addr: &str| {
        st["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == addr)
            .map(|r| r["attributes"]["tags"].clone())
            .unwrap()
    };
    assert_eq!(
        tags("bucket.data"),
        serde_json::json!({ "cost_center": "42", "env": "dev", "owner": "data-team" }),
        "the resource's own tag wins"
    );
    assert_eq!(
        tags("container_registry.images"),
        serde_json::json!({ "cost_center": "42", "owner": "ml-platform" })
    );
    // Refreshed from S3 and ECR, the tags are what was applied: no diff.
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
    // A value that is not a map of strings is an error at the provider.
    let text = "provider \"aws\" {\n  region       = \"us-east-1\"\n  default_tags = [\"x\"]\n}\n\nbucket \"b\" {\n  cloud = \"aws\"\n}\n";
    std::fs::write(dir.path().join("main.mlinfra.hcl"), text).unwrap();
    let r = mlinfra(dir.path(), &["validate"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("default_tags of provider \"aws\" must be a map of strings"),
        "{}",
        r.stderr
    );
}
