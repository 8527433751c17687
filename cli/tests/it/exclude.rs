//! `plan`/`apply --exclude ADDR`: everything except the excluded resources and what
//! depends on them (against moto, started by ./scripts/test).

use crate::aws::{endpoint, run, unique, write, S3};
use crate::identity::addresses;

#[test]
fn apply_exclude_leaves_out_the_address_and_its_dependents() {
    let s3 = S3::new();
    let p = unique("excl");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &endpoint(),
        &format!(
            "bucket \"raw\" {{\n  cloud         = \"aws\"\n  name          = \"{p}-raw\"\n  force_destroy = true\n}}\n\nbucket \"derived\" {{\n  cloud         = \"aws\"\n  name          = \"${{bucket.raw.name}}-derived\"\n  force_destroy = true\n}}\n\nbucket \"logs\" {{\n  cloud         = \"aws\"\n  name          = \"{p}-logs\"\n  force_destroy = true\n}}\n"
        ),
    );
    let r = run(dir.path(), &["plan", "--exclude", "bucket.raw"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("note: the plan leaves out bucket.raw, what depends on it; changes to them may be pending"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        r.stdout
    );

    // A saved plan keeps its exclusions.
    let r = run(
        dir.path(),
        &["plan", "--exclude", "bucket.raw", "-out", "p.plan"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(dir.path(), &["apply", "p.plan"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(addresses(dir.path()), ["bucket.logs"]);
    assert!(s3.buckets(&p).iter().all(|b| b == &format!("{p}-logs")));

    let r = run(
        dir.path(),
        &["apply", "--auto-approve", "--exclude", "bucket.derived"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 added"), "{}", r.stdout);
    // Destroying everything but `derived` keeps what it depends on, `raw`.
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = run(
        dir.path(),
        &["destroy", "--auto-approve", "--exclude", "bucket.derived"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 destroyed"), "{}", r.stdout);
    let mut left = addresses(dir.path());
    left.sort();
    assert_eq!(left, ["bucket.derived", "bucket.raw"]);
    let r = run(dir.path(), &["plan", "--exclude", "bucket.nope"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("--exclude bucket.nope matches no resource"),
        "{}",
        r.stderr
    );
    let r = run(
        dir.path(),
        &["plan", "--exclude", "bucket.raw", "--target", "bucket.logs"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    run(dir.path(), &["destroy", "--auto-approve"]);
}
