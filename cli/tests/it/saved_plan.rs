//! A saved plan is applied exactly, or refused before anything is written (against moto).

use std::path::Path;

use crate::aws::{endpoint, run, state, unique, write, S3};

fn bucket(label: &str, name: &str, team: &str) -> String {
    format!("bucket \"{label}\" {{\n  cloud = \"aws\"\n  name  = \"{name}\"\n  tags  = {{ team = \"{team}\" }}\n}}\n")
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn an_edited_plan_file_is_refused_by_apply_and_show() {
    let s3 = S3::new();
    let name = unique("edited");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &endpoint(), &bucket("b", &name, "ml"));
    assert_eq!(run(dir.path(), &["plan", "-out=plan.json"]).code, 0);
    let saved = read(dir.path(), "plan.json");
    assert!(saved.contains("\"digest\": \"sha256:"), "{saved}");
    // An edit of one value: show would display it, apply would not make it.
    let edited = saved.replace("\"team\": \"ml\"", "\"team\": \"finance\"");
    assert_ne!(edited, saved);
    std::fs::write(dir.path().join("plan.json"), &edited).unwrap();
    for cmd in [&["apply", "plan.json"][..], &["show", "plan.json"]] {
        let r = run(dir.path(), cmd);
        assert_eq!(r.code, 1, "{cmd:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("it was modified after `mlinfra plan -out` saved it"),
            "{}",
            r.stderr
        );
    }
    assert!(s3.buckets(&name).is_empty());
    assert!(
        !dir.path().join("mlinfra.state.json").exists(),
        "nothing written"
    );

    // Resealed by hand (the digest recomputed): the values still must match a fresh plan.
    let mut j: serde_json::Value = serde_json::from_str(&edited).unwrap();
    mlinfra_engine::plan_json::seal(&mut j);
    std::fs::write(
        dir.path().join("plan.json"),
        serde_json::to_string_pretty(&j).unwrap(),
    )
    .unwrap();
    let r = run(dir.path(), &["apply", "plan.json"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("the values planned for bucket.b are not what the configuration and live state give now"),
        "{}",
        r.stderr
    );
    assert!(s3.buckets(&name).is_empty());

    // The file as saved applies exactly.
    std::fs::write(dir.path().join("plan.json"), &saved).unwrap();
    let r = run(dir.path(), &["apply", "plan.json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        state(dir.path())["resources"][0]["attributes"]["tags"]["team"],
        "ml"
    );
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
}

/// A state with the intent of a create that a killed run started: the bucket exists.
fn with_interrupted_create(dir: &Path, s3: &S3, label: &str, name: &str) {
    s3.create(name);
    let mut st = state(dir);
    st["pending"] = serde_json::json!([{
        "address": format!("bucket.{label}"),
        "kind": "bucket",
        "cloud": "aws",
        "provider": "aws",
        "name": name,
        "client_token": "0123456789abcdef",
        "attributes": { "name": name, "cloud": "aws" },
        "dependencies": []
    }]);
    std::fs::write(
        dir.join("mlinfra.state.json"),
        serde_json::to_string_pretty(&st).unwrap(),
    )
    .unwrap();
}

/// `bucket.a` applied; `bucket.b` declared, and its create left pending by a killed run
/// that did make the bucket. Returns the directory and the configuration of both.
fn applied_a_with_b_interrupted(s3: &S3, p: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    write(dir.path(), &ep, &bucket("a", &format!("{p}-a"), "ml"));
    assert_eq!(run(dir.path(), &["apply", "--auto-approve"]).code, 0);
    let both = format!(
        "{}\n{}",
        bucket("a", &format!("{p}-a"), "ml"),
        bucket("b", &format!("{p}-b"), "ml")
    );
    write(dir.path(), &ep, &both);
    with_interrupted_create(dir.path(), s3, "b", &format!("{p}-b"));
    (dir, both)
}

#[test]
fn a_stale_saved_plan_writes_nothing_not_even_recovery() {
    let s3 = S3::new();
    let p = unique("stale");
    let (dir, both) = applied_a_with_b_interrupted(&s3, &p);
    let ep = endpoint();
    assert_eq!(run(dir.path(), &["plan", "-out=plan.json"]).code, 0);
    // The configuration changes after the plan was saved.
    write(dir.path(), &ep, &both.replace("\"ml\"", "\"platform\""));
    let before = read(dir.path(), "mlinfra.state.json");
    let r = run(dir.path(), &["apply", "plan.json"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("is stale"), "{}", r.stderr);
    assert_eq!(
        read(dir.path(), "mlinfra.state.json"),
        before,
        "a refused plan leaves the state as it was, the interrupted create included"
    );
}

#[test]
fn a_plan_saved_while_a_create_was_interrupted_applies_after_recovery() {
    let s3 = S3::new();
    let p = unique("recov");
    let (dir, _) = applied_a_with_b_interrupted(&s3, &p);
    // plan looks the interrupted create up (reads only) and plans what apply will do.
    let r = run(dir.path(), &["plan", "-out=plan.json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "bucket.b: the interrupted create of {p}-b reached the cloud; it is recorded as it is"
        )),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("bucket.b will be created"),
        "{}",
        r.stdout
    );
    assert!(
        state(dir.path())["pending"].is_array(),
        "plan writes nothing"
    );
    let r = run(dir.path(), &["apply", "plan.json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let st = state(dir.path());
    assert!(st["pending"].is_null(), "{st}");
    let addrs: Vec<&str> = st["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(addrs, vec!["bucket.a", "bucket.b"]);
    assert_eq!(
        st["resources"][1]["attributes"]["tags"]["team"], "ml",
        "the adopted bucket was brought to the configuration"
    );
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
}
