//! Bad input: exit 1, a diagnostic naming file:line:col, nothing written.

use crate::{copy_to_temp, fixture, mlinfra};

fn check(name: &str, expect: &[&str]) {
    let tmp = copy_to_temp(&fixture(&format!("invalid/{name}")));
    let dir = tmp.path();
    for cmd in [&["validate"][..], &["plan"][..]] {
        let r = mlinfra(dir, cmd);
        assert_eq!(r.code, 1, "{name} {cmd:?} should fail:\n{}", r.stderr);
        assert!(
            r.stdout.is_empty(),
            "{name}: nothing on stdout, got {}",
            r.stdout
        );
        assert!(
            r.stderr.contains("--> main.mlinfra.hcl:"),
            "{name}: no file:line:col in\n{}",
            r.stderr
        );
        for e in expect {
            assert!(
                r.stderr.contains(e),
                "{name}: expected {e:?} in\n{}",
                r.stderr
            );
        }
        assert!(!r.stderr.contains("panicked"), "{name} panicked");
        assert!(
            !dir.join("mlinfra.state.json").exists(),
            "{name}: bad input must not write state"
        );
    }
    insta::assert_snapshot!(format!("diag_{name}"), mlinfra(dir, &["validate"]).stderr);
}

#[test]
fn unknown_attribute_suggests_the_right_name() {
    check(
        "unknown-attribute",
        &["main.mlinfra.hcl:9:3", "did you mean `accelerator`?"],
    );
}

#[test]
fn wrong_types_name_expected_and_found() {
    check(
        "wrong-type",
        &[
            "main.mlinfra.hcl:3:16",
            "expected bool, found string \"sometimes\"",
            "expected map(string), found list",
        ],
    );
}

#[test]
fn missing_required_attribute_names_it() {
    check(
        "missing-required",
        &[
            "main.mlinfra.hcl:1:1",
            "missing required attribute `instance`",
        ],
    );
}

#[test]
fn bad_enum_values_list_the_allowed_ones() {
    check(
        "bad-enum",
        &[
            "main.mlinfra.hcl:9:19",
            "did you mean one of \"A10\", \"H100\"?",
            "did you mean \"spot\"?",
        ],
    );
}

#[test]
fn undefined_references_name_the_reference() {
    check(
        "undefined-reference",
        &[
            "`var.evn`",
            "did you mean `var.env`?",
            "`bucket.featurs`",
            "did you mean `bucket.features`?",
        ],
    );
}

#[test]
fn a_cycle_lists_every_address_on_it() {
    check(
        "cycle",
        &["dependency cycle between local.prefix, bucket.data, bucket.logs"],
    );
}

#[test]
fn unknown_blocks_are_reported_with_suggestions() {
    check(
        "unknown-block",
        &[
            "unknown block type `gpu_pol`",
            "did you mean `gpu_pool`?",
            "unknown block `lifecycle_rules`",
        ],
    );
}

#[test]
fn syntax_errors_point_at_the_problem() {
    check("syntax-error", &["syntax error"]);
}

#[test]
fn cloud_specific_attributes_are_checked() {
    check(
        "wrong-cloud-attribute",
        &["`subnet_ids` applies only on aws; cluster.serve is on azure"],
    );
}

#[test]
fn variable_validation_failures_show_the_message() {
    check("failed-validation", &["env must be dev or prod"]);
}

#[test]
fn unknown_functions_suggest_one() {
    check(
        "unknown-function",
        &["unknown function `lowercase`", "did you mean `lower`?"],
    );
}

#[test]
fn binary_garbage_and_empty_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend_from_slice(b"bucket \"x\" {\n\xff\xfe}\n");
    std::fs::write(dir.path().join("main.mlinfra.hcl"), &bytes).unwrap();
    let r = mlinfra(dir.path(), &["validate"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("main.mlinfra.hcl:1:1") && r.stderr.contains("not UTF-8"),
        "{}",
        r.stderr
    );

    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "bucket \"x\" { cloud = \"aws\" \0 }",
    )
    .unwrap();
    let r = mlinfra(dir.path(), &["plan"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("NUL byte"), "{}", r.stderr);

    std::fs::write(dir.path().join("main.mlinfra.hcl"), "").unwrap();
    let r = mlinfra(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(
        r.code, 0,
        "an empty configuration has nothing to do: {}",
        r.stderr
    );
    assert!(r.stdout.contains("No changes."));
}

#[test]
fn a_directory_without_manifests_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let r = mlinfra(dir.path(), &["plan"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no *.mlinfra.hcl files"), "{}", r.stderr);
}

#[test]
fn a_gpu_count_no_machine_carries_lists_the_counts_offered() {
    check(
        "no-machine",
        &[
            "main.mlinfra.hcl:10:19",
            "no aws machine carries 3 × L4",
            "gpus_per_node can be 1, 4, 8",
        ],
    );
}

#[test]
fn import_blocks_are_checked_before_any_cloud_call() {
    check(
        "import-block",
        &[
            "main.mlinfra.hcl:6:8",
            "did you mean bucket.datasets?",
            "main.mlinfra.hcl:12:8",
            "import id must be a non-empty string",
            "main.mlinfra.hcl:15:1",
            "import block has no `to`",
        ],
    );
}

#[test]
fn quoted_source_lines_are_cut_and_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!(
        "locals {{\n  pad = \"{}\"\n  bad = \"\x1b[2J\x1b]0;pwned\x07\" + nosuchfn(1)\n}}\nbucket \"b\" {{\n  cloud = \"gcp\"\n  tags  = {{ pad = \"{}\", x = nosuch(1) }}\n}}\n",
        "a".repeat(20_000),
        "b".repeat(20_000)
    );
    std::fs::write(dir.path().join("main.mlinfra.hcl"), long).unwrap();
    let r = mlinfra(dir.path(), &["validate"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("main.mlinfra.hcl:7:"),
        "{}",
        &r.stderr[..r.stderr.len().min(2000)]
    );
    assert!(
        !r.stderr.contains('\x1b') && !r.stderr.contains('\x07'),
        "control characters reach the terminal"
    );
    assert!(r.stderr.contains("\\u{1b}[2J"), "{}", r.stderr);
    // Quoted source lines (`7 | …`) and their carets stay short.
    for line in r.stderr.lines().filter(|l| l.contains(" | ")) {
        assert!(
            line.chars().count() < 200,
            "a line of {} characters",
            line.chars().count()
        );
    }
    assert!(r.stderr.contains('…'));
}
