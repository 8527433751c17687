//! `moved` and `removed` blocks, as a user runs them: plan shows the move, apply records
//! it without touching the cloud, and the object keeps its data (against moto, started by
//! ./scripts/test).

use crate::aws::{endpoint, run, unique, write, S3};
use crate::identity::{addresses, bucket};

#[test]
fn a_moved_block_renames_without_destroying_and_the_data_stays() {
    let s3 = S3::new();
    let name = unique("moved");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    write(dir.path(), &ep, &bucket("old", &name));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    s3.put_object(&name, "model.bin");

    write(
        dir.path(),
        &ep,
        &format!(
            "{}\nmoved {{\n  from = bucket.old\n  to   = bucket.new\n}}\n",
            bucket("new", &name)
        ),
    );
    let before = std::fs::read_to_string(dir.path().join("mlinfra.state.json")).unwrap();
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("# bucket.old has moved to bucket.new"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 0 to add, 0 to change, 0 to destroy."),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &["plan", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let c = &j["resource_changes"][0];
    assert_eq!(c["address"], "bucket.new");
    assert_eq!(c["previous_address"], "bucket.old");
    assert_eq!(c["actions"], serde_json::json!(["no-op"]));
    assert_eq!(j["summary"]["move"], 1);
    assert_eq!(j["has_changes"], true);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mlinfra.state.json")).unwrap(),
        before,
        "plan writes nothing"
    );

    // A saved plan carries the move, and applies it.
    let r = run(dir.path(), &["plan", "-out", "moves.plan"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(dir.path(), &["apply", "moves.plan"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("bucket.old: Moved to bucket.new"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("0 added, 0 changed, 0 destroyed"),
        "{}",
        r.stdout
    );
    assert_eq!(addresses(dir.path()), ["bucket.new"]);
    assert!(s3.has_object(&name, "model.bin"), "the data is kept");

    // The block stays harmless: the next plan has nothing to do.
    let r = run(dir.path(), &["plan"]);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
}

#[test]
fn count_keys_and_module_boundaries_move_and_count_added_moves_by_itself() {
    let _s3 = S3::new();
    let (a, b) = (unique("mva"), unique("mvb"));
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    write(
        dir.path(),
        &ep,
        &format!("{}{}", bucket("loose", &a), bucket("single", &b)),
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // `loose` goes into a module; `single` gains `count = 1`, which moves it to [0].
    std::fs::create_dir(dir.path().join("store")).unwrap();
    std::fs::write(
        dir.path().join("store/main.mlinfra.hcl"),
        "variable \"name\" {\n  type = string\n}\n\nbucket \"data\" {\n  cloud         = \"aws\"\n  name          = var.name\n  force_destroy = true\n}\n",
    )
    .unwrap();
    write(
        dir.path(),
        &ep,
        &format!(
            "module \"store\" {{\n  source = \"./store\"\n  name   = \"{a}\"\n}}\n\nmoved {{\n  from = bucket.loose\n  to   = module.store.bucket.data\n}}\n\nbucket \"single\" {{\n  count         = 1\n  cloud         = \"aws\"\n  name          = \"{b}\"\n  force_destroy = true\n}}\n"
        ),
    );
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("# bucket.loose has moved to module.store.bucket.data"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("# bucket.single has moved to bucket.single[0]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 0 to add, 0 to change, 0 to destroy."),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        addresses(dir.path()),
        ["bucket.single[0]", "module.store.bucket.data"]
    );
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("2 destroyed"), "{}", r.stdout);
}

#[test]
fn a_removed_block_forgets_the_object_and_leaves_it_in_the_cloud() {
    let s3 = S3::new();
    let (kept, other) = (unique("forget"), unique("stay"));
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    write(
        dir.path(),
        &ep,
        &format!("{}{}", bucket("legacy", &kept), bucket("other", &other)),
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // The block is still declared: an error at the removed block, nothing written.
    let still = format!(
        "{}{}\nremoved {{\n  from = bucket.legacy\n  lifecycle {{\n    destroy = false\n  }}\n}}\n",
        bucket("legacy", &kept),
        bucket("other", &other)
    );
    write(dir.path(), &ep, &still);
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "a removed block takes bucket.legacy out of the configuration, but bucket.legacy is still declared"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("main.mlinfra.hcl:17:1"), "{}", r.stderr);

    write(
        dir.path(),
        &ep,
        &format!(
            "{}\nremoved {{\n  from = bucket.legacy\n  lifecycle {{\n    destroy = false\n  }}\n}}\n",
            bucket("other", &other)
        ),
    );
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "# bucket.legacy will no longer be managed by mlinfra, but will not be destroyed"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 0 to add, 0 to change, 0 to destroy, 1 to forget."),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("bucket.legacy: Removed from state; the cloud object is kept"),
        "{}",
        r.stdout
    );
    assert_eq!(addresses(dir.path()), ["bucket.other"]);
    assert!(
        s3.buckets(&kept).contains(&kept),
        "the bucket is still there"
    );
    let r = run(dir.path(), &["plan"]);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
}

#[test]
fn a_move_onto_an_address_in_state_is_refused_and_nothing_is_written() {
    let _s3 = S3::new();
    let (a, b) = (unique("taken-a"), unique("taken-b"));
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    write(
        dir.path(),
        &ep,
        &format!("{}{}", bucket("a", &a), bucket("b", &b)),
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    write(
        dir.path(),
        &ep,
        &format!(
            "{}\nmoved {{\n  from = bucket.a\n  to   = bucket.b\n}}\n",
            bucket("b", &b)
        ),
    );
    let before = std::fs::read_to_string(dir.path().join("mlinfra.state.json")).unwrap();
    for cmd in [&["plan"][..], &["apply", "--auto-approve"]] {
        let r = run(dir.path(), cmd);
        assert_eq!(r.code, 1, "{cmd:?}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("cannot move bucket.a to bucket.b: bucket.b is already in the state"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("main.mlinfra.hcl:12:1"), "{}", r.stderr);
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mlinfra.state.json")).unwrap(),
        before
    );
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 1, "the moved block still refuses: {}", r.stdout);
}

/// The example of Terraform's idioms, copied with its AWS provider pointed at moto.
fn terraform_style(env: &str) -> tempfile::TempDir {
    let tmp = crate::copy_to_temp(&crate::repo().join("examples/terraform-style"));
    let main = tmp.path().join("main.mlinfra.hcl");
    let text = std::fs::read_to_string(&main).unwrap();
    let patched = text
        .replacen(
            "provider \"aws\" {\n  region = \"us-east-1\"\n}",
            &format!(
                "provider \"aws\" {{\n  region   = \"us-east-1\"\n  endpoint = \"{}\"\n}}",
                endpoint()
            ),
            1,
        )
        .replacen(
            "default     = \"dev\"",
            &format!("default     = \"{env}\""),
            1,
        );
    assert_ne!(patched, text);
    std::fs::write(&main, patched).unwrap();
    tmp
}

#[test]
fn a_terraform_style_module_with_dynamic_moved_check_and_formatlist_plans() {
    let s3 = S3::new();
    let env = unique("tfs");
    let tmp = terraform_style(&env);
    let dir = tmp.path();

    // Offline, from nothing: every block type evaluates, the check passes.
    let r = run(dir, &["plan", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let store = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "feature_store.fraud")
        .unwrap();
    let groups = &store["after"]["feature_group"];
    assert_eq!(groups["merchants"]["record_id"], "merchant_id");
    assert_eq!(groups["transactions"]["features"]["amount"], "float");
    assert_eq!(
        j["output_changes"]["dataset_urls"]["after"],
        serde_json::json!([
            format!("s3://acme-{env}-curated"),
            format!("s3://acme-{env}-raw")
        ])
    );

    // Before the refactor, the raw bucket was a root resource with data in it.
    let main = std::fs::read_to_string(dir.join("main.mlinfra.hcl")).unwrap();
    let before_dir = tempfile::tempdir().unwrap();
    write(
        before_dir.path(),
        &endpoint(),
        &bucket("raw", &format!("acme-{env}-raw")),
    );
    let r = run(before_dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    s3.put_object(&format!("acme-{env}-raw"), "part-0.parquet");
    std::fs::copy(
        before_dir.path().join("mlinfra.state.json"),
        dir.join("mlinfra.state.json"),
    )
    .unwrap();
    assert!(main.contains("moved {"));
    let r = run(dir, &["plan"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The module's bucket turns versioning on: an update of the moved object.
    assert!(
        r.stdout.contains(
            "  # module.data.bucket.datasets[\"raw\"] will be updated in-place\n  # (moved from bucket.raw)\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("will be destroyed"),
        "nothing is destroyed: {}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 3 to add, 1 to change, 0 to destroy."),
        "{}",
        r.stdout
    );

    // A feature group without `ts` fails the check: a warning, and the plan goes on.
    let r = run(
        dir,
        &[
            "plan",
            "--var",
            "feature_groups={ clicks = { record_id = \"id\", features = { id = \"string\" } } }",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "check \"point_in_time\" failed: every feature group needs a ts feature for point-in-time joins"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("main.mlinfra.hcl:72:21"), "{}", r.stderr);

    // A name too long for S3 fails the module's precondition, at its line.
    let r = run(dir, &["plan", "--var", &format!("env={}", "x".repeat(60))]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("precondition of module.data.bucket.datasets[\"raw\"] failed: S3 bucket names are at most 63 characters"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("modules/data/main.mlinfra.hcl:23:"),
        "{}",
        r.stderr
    );
    assert!(s3.has_object(&format!("acme-{env}-raw"), "part-0.parquet"));
}
