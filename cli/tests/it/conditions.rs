//! Postconditions and checks that wait for the cloud's values are checked by apply once
//! the objects exist (against moto, started by ./scripts/test).

use crate::aws::{endpoint, run, unique, write, S3};

fn bucket(name: &str, post: &str) -> String {
    format!(
        "bucket \"b\" {{\n  cloud         = \"aws\"\n  name          = \"{name}\"\n  force_destroy = true\n\n  lifecycle {{\n    postcondition {{\n      condition     = {post}\n      error_message = \"the bucket ${{self.name}} has url ${{self.url}}\"\n    }}\n  }}\n}}\n\ncheck \"has_id\" {{\n  assert {{\n    condition     = bucket.b.id != \"\"\n    error_message = \"the bucket has no id\"\n  }}\n}}\n"
    )
}

#[test]
fn conditions_known_after_apply_are_checked_when_the_objects_exist() {
    let _s3 = S3::new();
    let name = unique("post");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &endpoint(),
        &bucket(&name, "startswith(self.url, \"s3://\")"),
    );
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "note: 2 condition(s) (postconditions, checks) read values known only after apply"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("warning: check \"has_id\" is known only after apply"),
        "{}",
        r.stderr
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    // Now known: no note, no warning.
    let r = run(dir.path(), &["plan"]);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    assert!(!r.stdout.contains("condition(s)"), "{}", r.stdout);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    run(dir.path(), &["destroy", "--auto-approve"]);
}

#[test]
fn a_postcondition_false_for_what_apply_made_fails_the_apply() {
    let _s3 = S3::new();
    let name = unique("post-bad");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &endpoint(),
        &bucket(&name, "startswith(self.url, \"gs://\")"),
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "error: postcondition of bucket.b failed: the bucket {name} has url s3://{name}"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("main.mlinfra.hcl:13:23"), "{}", r.stderr);
    assert!(!r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert!(
        r.stdout
            .contains("Apply complete, but a condition failed. Resources: 1 added"),
        "{}",
        r.stdout
    );
    // What was made is in state: the next plan fails the postcondition at plan time.
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("postcondition of bucket.b failed"),
        "{}",
        r.stderr
    );
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(
        r.code, 0,
        "destroy is not held back by a postcondition: {}\n{}",
        r.stdout, r.stderr
    );
}
