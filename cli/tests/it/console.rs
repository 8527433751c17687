//! `mlinfra console` as a user pipes expressions into it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::Run;

fn console(dir: &Path, input: &str, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlinfra"))
        .arg("console")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn console_evaluates_against_the_quickstart() {
    let tmp = crate::copy_to_temp(&crate::repo().join("examples/quickstart"));
    let dir = tmp.path().to_path_buf();
    let r = console(
        &dir,
        "var.env\nlocal.tags\n# a comment\n\nbucket.datasets.name\nbucket.datasets.id\nlength(var.gpu_pools) * 2\nformatlist(\"%s-x\", [\"a\", \"b\"])\n",
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout,
        "\"prod\"\n{\n  \"env\"   = \"prod\"\n  \"owner\" = \"ml-platform\"\n}\n\"acme-prod-datasets\"\n(known after apply)\n4\n[\n  \"a-x\",\n  \"b-x\",\n]\n"
    );
    assert!(r.stderr.is_empty(), "{}", r.stderr);

    // Inputs apply as in plan; a wrong expression is an error at its column, the rest
    // still run, and the exit code says one failed.
    let r = console(
        &dir,
        "var.env\nvar.nope\nupper(var.env)\nexit\nvar.env\n",
        &[("MLINFRA_VAR_env", "dev")],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "\"dev\"\n\"DEV\"\n", "exit ends the input");
    assert!(r.stderr.contains("<console>:1:"), "{}", r.stderr);
    assert!(r.stderr.contains("var.nope"), "{}", r.stderr);

    // The console's own functions and the time and mark functions.
    let r = console(
        &dir,
        "type(var.gpu_pools)
type(var.env)
sensitive(var.env)
issensitive(sensitive(1))
timestamp()
formatdate(\"EEE, DD MMM YYYY\", \"2026-12-03T10:00:00Z\")
",
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("object({") || lines[0].starts_with("tuple(["),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.ends_with(
            "string\n(sensitive value)\ntrue\n(known after apply)\n\"Thu, 03 Dec 2026\"\n"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn console_reads_state_and_hides_sensitive_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "variable \"token\" {\n  type      = string\n  sensitive = true\n  default   = \"s3cr3t-value\"\n}\n\nbucket \"b\" {\n  cloud = \"gcp\"\n  name  = \"b\"\n  location = \"us-central1\"\n}\n",
    )
    .unwrap();
    let mut state = mlinfra_engine::state::State::new();
    state.resources.insert(
        "bucket.b".into(),
        mlinfra_engine::state::ResourceState {
            kind: "bucket".into(),
            cloud: Some("gcp".into()),
            provider: Some("gcp".into()),
            id: Some("b".into()),
            attributes: mlinfra_schema::Value::from_json(&serde_json::json!({
                "cloud": "gcp", "name": "b", "location": "us-central1", "storage_class": "standard",
                "versioning": false, "force_destroy": false, "tags": {}, "id": "b", "url": "gs://b"
            }))
            .as_map()
            .unwrap()
            .clone(),
            sensitive: Default::default(),
            dependencies: Default::default(),
        },
    );
    std::fs::write(dir.path().join("mlinfra.state.json"), state.to_json()).unwrap();
    let before = std::fs::read(dir.path().join("mlinfra.state.json")).unwrap();
    let r = console(
        dir.path(),
        "bucket.b.url\nvar.token\n\"${var.token}-x\"\n",
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout,
        "\"gs://b\"\n(sensitive value)\n(sensitive value)\n"
    );
    assert!(!r.stdout.contains("s3cr3t") && !r.stderr.contains("s3cr3t"));
    assert_eq!(
        std::fs::read(dir.path().join("mlinfra.state.json")).unwrap(),
        before,
        "the console writes nothing"
    );
    assert!(!dir.path().join("mlinfra.state.json.lock").exists());
}
