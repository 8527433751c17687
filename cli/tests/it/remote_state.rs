//! State in remote backends, through the binary: the AWS lifecycle with its state in S3
//! (moto), the quickstart planned with each backend, concurrent and killed applies,
//! init -migrate-state, workspaces, state pull and push.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::aws::{bucket_lifecycle, endpoint, pulled, run, unique, write, S3};
use crate::{copy_to_temp, repo};

/// A state bucket (not managed by mlinfra) and an `mlinfra` block keeping state at KEY.
fn s3_backend(key: &str) -> (String, String) {
    let bucket = "mlinfra-cli-state";
    S3::new().ensure(bucket);
    let block = format!(
        "mlinfra {{\n  backend \"s3\" {{\n    bucket   = \"{bucket}\"\n    key      = \"{key}\"\n    region   = \"us-east-1\"\n    endpoint = \"{}\"\n  }}\n}}\n\n",
        endpoint()
    );
    (bucket.to_string(), block)
}

#[test]
fn the_aws_lifecycle_passes_with_its_state_in_s3() {
    let key = format!("{}/mlinfra.state.json", unique("life"));
    let (bucket, block) = s3_backend(&key);
    bucket_lifecycle(&block);
    // The state is the object, whole (the journal folded in), with nothing managed left.
    let s3 = S3::new();
    let obj = s3.object(&bucket, &key).expect("the state object");
    let st: serde_json::Value = serde_json::from_slice(&obj).unwrap();
    assert_eq!(st["resources"], serde_json::json!([]));
    assert!(st["serial"].as_u64().unwrap() > 5, "{st}");
    assert!(
        s3.object(&bucket, &format!("{key}.lock")).is_none(),
        "no lock left"
    );
    assert!(
        s3.keys(&bucket, &format!("{key}.journal/")).is_empty(),
        "no journal left"
    );
}

/// A bucket in fake-gcs-server (a second create of the same name is refused, and ignored).
fn gcs_bucket(endpoint: &str, name: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{endpoint}/storage/v1/b?project=mlinfra-test"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"name": "{name}"}}"#))
            .send()
            .await
            .expect("fake-gcs-server answers");
    });
}

#[test]
fn the_quickstart_plans_with_each_backend() {
    let base = copy_to_temp(&repo().join("examples/quickstart"));
    let main = std::fs::read_to_string(base.path().join("main.mlinfra.hcl")).unwrap();
    let local = "  backend \"local\" {\n    path = \"mlinfra.state.json\"\n  }\n";
    assert!(main.contains(local), "the quickstart's backend block moved");
    let key = format!("{}/quickstart.state.json", unique("qs"));
    let (bucket, _) = s3_backend(&key);
    let blocks = [
        ("local", local.to_string()),
        (
            "s3",
            format!(
                "  backend \"s3\" {{\n    bucket   = \"{bucket}\"\n    key      = \"{key}\"\n    region   = \"us-east-1\"\n    endpoint = \"{}\"\n  }}\n",
                endpoint()
            ),
        ),
    ];
    let pg = std::env::var("MLINFRA_TEST_PG_CONN_STR")
        .expect("MLINFRA_TEST_PG_CONN_STR is not set: run ./scripts/test, which starts PostgreSQL");
    let schema = format!("qs_{}", unique("pg").replace('-', "_"));
    let gcs = std::env::var("MLINFRA_TEST_GCS_ENDPOINT").expect(
        "MLINFRA_TEST_GCS_ENDPOINT is not set: run ./scripts/test, which starts fake-gcs-server",
    );
    gcs_bucket(&gcs, "mlinfra-cli-state");
    let azure_blob = std::env::var("MLINFRA_TEST_AZURE_BLOB_ENDPOINT").expect(
        "MLINFRA_TEST_AZURE_BLOB_ENDPOINT is not set: run ./scripts/test, which starts Azurite",
    );
    let account = std::env::var("MLINFRA_TEST_AZURE_STATE_ACCOUNT").unwrap();
    let (status, body) = crate::azure::https(
        "PUT",
        &format!("{azure_blob}/{account}/mlinfra-cli-state?restype=container"),
        "",
        "https://storage.azure.com/.default",
    );
    assert!(status == 201 || status == 409, "{status} {body}");
    let blocks = blocks.into_iter().chain([
        (
            "azurerm",
            format!(
                "  backend \"azurerm\" {{\n    storage_account_name = \"{account}\"\n    container_name       = \"mlinfra-cli-state\"\n    key                  = \"{}/quickstart.state.json\"\n    endpoint             = \"{azure_blob}/{account}/\"\n    authority_host       = \"{}\"\n    ca_file              = \"{}\"\n  }}\n",
                unique("qs"),
                crate::azure::endpoint(),
                crate::azure::ca_file()
            ),
        ),
        (
            "pg",
            format!("  backend \"pg\" {{\n    schema_name = \"{schema}\"\n  }}\n"),
        ),
        (
            "gcs",
            format!(
                "  backend \"gcs\" {{\n    bucket   = \"mlinfra-cli-state\"\n    prefix   = \"{}\"\n    endpoint = \"{gcs}\"\n  }}\n",
                unique("qs")
            ),
        ),
    ]);
    for (kind, block) in blocks {
        let dir = copy_to_temp(base.path());
        std::fs::write(
            dir.path().join("main.mlinfra.hcl"),
            main.replace(local, &block),
        )
        .unwrap();
        // The connection string from the environment, as the pg backend reads it.
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("PG_CONN_STR", pg.as_str()),
        ];
        // The client secret the Azure double's token endpoint takes.
        env.extend_from_slice(crate::azure::CREDENTIALS);
        let run = |d: &Path, args: &[&str]| crate::mlinfra_env(d, args, &env);
        let r = run(dir.path(), &["init"]);
        assert_eq!(r.code, 0, "{kind}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(&format!("Backend {kind}")),
            "{kind}: {}",
            r.stdout
        );
        let r = run(dir.path(), &["plan"]);
        assert_eq!(r.code, 0, "{kind}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("to add"), "{kind}: {}", r.stdout);
        assert!(
            !dir.path().join("mlinfra.state.json").exists(),
            "{kind}: plan writes no state"
        );
        if kind == "pg" {
            // A password in a connection string is never shown or recorded.
            assert!(!r.stdout.contains(&pg) && !r.stderr.contains(&pg));
        }
    }
}

fn many(p: &str, n: usize) -> String {
    format!("bucket \"b\" {{\n  count = {n}\n  cloud = \"aws\"\n  name  = \"{p}-${{count.index}}\"\n}}\n")
}

fn spawn_apply(dir: &Path, parallelism: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_mlinfra"))
        .args(["apply", "--auto-approve", "--parallelism", parallelism])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn two_applies_on_one_s3_state_one_proceeds_the_other_names_the_holder() {
    let p = unique("s3lock");
    let key = format!("{p}/mlinfra.state.json");
    let (bucket, block) = s3_backend(&key);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &endpoint(), &format!("{block}{}", many(&p, 60)));
    let s3 = S3::new();
    let mut first = spawn_apply(dir.path(), "1");
    let start = Instant::now();
    while s3.object(&bucket, &format!("{key}.lock")).is_none()
        && start.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("is locked by"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("(pid {})", first.id())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("s3://{bucket}/{key}")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("mlinfra force-unlock "), "{}", r.stderr);
    assert!(first.wait().unwrap().success());
    assert_eq!(S3::new().buckets(&p).len(), 60);
    let r = run(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
}

#[test]
fn an_apply_killed_with_its_state_in_s3_is_recovered_by_the_next() {
    let p = unique("s3kill");
    let key = format!("{p}/mlinfra.state.json");
    let (bucket, block) = s3_backend(&key);
    let dir = tempfile::tempdir().unwrap();
    let n = 120;
    write(dir.path(), &endpoint(), &format!("{block}{}", many(&p, n)));
    let s3 = S3::new();
    let mut child = spawn_apply(dir.path(), "4");
    // Killed once some of the buckets are recorded in the journal.
    let start = Instant::now();
    while s3.keys(&bucket, &format!("{key}.journal/")).len() < 30
        && start.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let created = s3.buckets(&p).len();
    assert!(
        created > 0 && created < n,
        "killed mid-apply: {created} created"
    );
    assert!(
        s3.object(&bucket, &format!("{key}.lock")).is_some(),
        "the lock stayed"
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("ended without releasing the state lock"),
        "{}",
        r.stderr
    );
    let mut want: Vec<String> = (0..n).map(|i| format!("{p}-{i}")).collect();
    want.sort();
    assert_eq!(s3.buckets(&p), want, "each bucket once, none lost");
    let st = pulled(dir.path());
    assert_eq!(st["resources"].as_array().unwrap().len(), n);
    assert!(st["pending"].is_null(), "{st}");
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
}

#[test]
fn init_migrate_state_moves_local_state_to_s3_keeping_its_lineage() {
    let p = unique("migrate");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, &endpoint(), &many(&p, 2));
    assert_eq!(run(d, &["apply", "--auto-approve"]).code, 0);
    let before = pulled(d);
    let key = format!("{p}/mlinfra.state.json");
    let (bucket, block) = s3_backend(&key);
    write(d, &endpoint(), &format!("{block}{}", many(&p, 2)));
    // A backend changed under existing state is refused until init says what to do.
    let r = run(d, &["plan"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("init -migrate-state"), "{}", r.stderr);
    let r = run(d, &["init"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("init -migrate-state"), "{}", r.stderr);
    let r = run(d, &["init", "-migrate-state"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Copied workspace \"default\""),
        "{}",
        r.stdout
    );
    let obj: serde_json::Value =
        serde_json::from_slice(&S3::new().object(&bucket, &key).unwrap()).unwrap();
    assert_eq!(obj["lineage"], before["lineage"]);
    assert_eq!(obj["serial"], before["serial"]);
    let r = run(d, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        r.code, 0,
        "the migrated state is the live one: {}\n{}",
        r.stdout, r.stderr
    );
    assert_eq!(run(d, &["destroy", "--auto-approve"]).code, 0);
}

#[test]
fn workspaces_in_s3_keep_separate_states() {
    let p = unique("wss3");
    let key = format!("{p}/mlinfra.state.json");
    let (bucket, block) = s3_backend(&key);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = format!(
        "{block}variable \"env\" {{\n  type = string\n  default = \"dev\"\n}}\n\nbucket \"b\" {{\n  cloud = \"aws\"\n  name  = \"{p}-${{var.env}}\"\n}}\n"
    );
    write(d, &endpoint(), &manifest);
    assert_eq!(run(d, &["apply", "--auto-approve"]).code, 0);
    let r = run(d, &["workspace", "new", "staging"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(run(d, &["workspace", "show"]).stdout, "staging\n");
    let r = run(d, &["apply", "--auto-approve", "--var", "env=staging"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("1 added"),
        "its own empty state: {}",
        r.stdout
    );
    assert_eq!(
        run(d, &["workspace", "list"]).stdout,
        "  default\n* staging\n"
    );
    assert!(S3::new()
        .object(&bucket, &format!("env:/staging/{key}"))
        .is_some());
    let r = run(d, &["workspace", "delete", "staging"]);
    assert_eq!(r.code, 1, "the selected one cannot go");
    assert_eq!(run(d, &["workspace", "select", "default"]).code, 0);
    let r = run(d, &["workspace", "delete", "staging"]);
    assert_eq!(r.code, 1, "it still manages a bucket");
    assert!(
        r.stderr.contains("still manages 1 resources"),
        "{}",
        r.stderr
    );
    let r = run(d, &["workspace", "select", "nope"]);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    assert_eq!(run(d, &["workspace", "select", "staging"]).code, 0);
    assert_eq!(
        run(d, &["destroy", "--auto-approve", "--var", "env=staging"]).code,
        0
    );
    assert_eq!(run(d, &["workspace", "select", "default"]).code, 0);
    assert_eq!(run(d, &["workspace", "delete", "staging"]).code, 0);
    assert_eq!(run(d, &["workspace", "list"]).stdout, "* default\n");
    assert_eq!(S3::new().buckets(&p), vec![format!("{p}-dev")]);
    assert_eq!(run(d, &["destroy", "--auto-approve"]).code, 0);
}

#[test]
fn state_push_obeys_lineage_and_serial_unless_forced() {
    let p = unique("push");
    let key = format!("{p}/mlinfra.state.json");
    let (_, block) = s3_backend(&key);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, &endpoint(), &format!("{block}{}", many(&p, 1)));
    assert_eq!(run(d, &["apply", "--auto-approve"]).code, 0);
    let pulled_text = run(d, &["state", "pull"]).stdout;
    let st: serde_json::Value = serde_json::from_str(&pulled_text).unwrap();
    let mut older = st.clone();
    older["serial"] = serde_json::json!(st["serial"].as_u64().unwrap() - 1);
    std::fs::write(d.join("older.json"), older.to_string()).unwrap();
    let r = run(d, &["state", "push", "older.json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("older"), "{}", r.stderr);
    assert!(r.stderr.contains("state push -force"), "{}", r.stderr);
    std::fs::write(d.join("same.json"), &pulled_text).unwrap();
    assert_eq!(run(d, &["state", "push", "same.json"]).code, 0);
    let r = run(d, &["state", "push", "-force", "older.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(pulled(d)["serial"], older["serial"]);
    assert_eq!(run(d, &["destroy", "--auto-approve"]).code, 0);
}

#[test]
fn encrypted_state_is_unreadable_without_its_passphrase() {
    let p = unique("enc");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        &endpoint(),
        &format!(
            "mlinfra {{\n  encryption {{\n    enforced = true\n  }}\n}}\n\n{}",
            many(&p, 1)
        ),
    );
    fn with(pass: &str) -> [(&'static str, &str); 4] {
        [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("MLINFRA_STATE_PASSPHRASE", pass),
        ]
    }
    let pass = "correct horse battery staple";
    let r = crate::mlinfra_env(d, &["apply", "--auto-approve"], &with(pass));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let raw = std::fs::read_to_string(d.join("mlinfra.state.json")).unwrap();
    assert!(raw.starts_with("{\"mlinfra_encrypted\":1"), "{raw}");
    assert!(!raw.contains(&p), "no bucket name in the clear");
    let r = crate::mlinfra_env(d, &["state", "pull"], &with(pass));
    assert!(r.stdout.contains(&format!("{p}-0")), "{}", r.stderr);
    // Without it, or with another one: a clear error, nothing written.
    let r = crate::mlinfra_env(d, &["plan"], &with(""));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("MLINFRA_STATE_PASSPHRASE is not set"),
        "{}",
        r.stderr
    );
    let r = crate::mlinfra_env(d, &["plan"], &with("wrong"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("neither the passphrase nor the fallback decrypts it"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(pass) && !r.stdout.contains(pass));
    assert_eq!(
        std::fs::read_to_string(d.join("mlinfra.state.json")).unwrap(),
        raw
    );
    // A saved plan holds state's attributes: it is encrypted too, and applies only with
    // the passphrase.
    std::fs::write(
        d.join("main.mlinfra.hcl"),
        std::fs::read_to_string(d.join("main.mlinfra.hcl")).unwrap()
            + &format!("bucket \"c\" {{\n  cloud = \"aws\"\n  name  = \"{p}x-0\"\n}}\n"),
    )
    .unwrap();
    let r = crate::mlinfra_env(d, &["plan", "-out=plan.json"], &with(pass));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let saved = std::fs::read_to_string(d.join("plan.json")).unwrap();
    assert!(saved.starts_with("{\"mlinfra_encrypted\":1"), "{saved}");
    assert!(!saved.contains(&p), "no bucket name in the clear");
    let r = crate::mlinfra_env(d, &["show", "plan.json"], &with("wrong"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("refusing the saved plan")
            && r.stderr
                .contains("neither the passphrase nor the fallback decrypts it"),
        "{}",
        r.stderr
    );
    let r = crate::mlinfra_env(d, &["show", "plan.json"], &with(pass));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("{p}x-0")), "{}", r.stdout);
    let r = crate::mlinfra_env(d, &["apply", "plan.json"], &with(pass));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // A plaintext plan is refused where encryption is enforced.
    let plain = saved_plaintext(d, pass);
    std::fs::write(d.join("plain.json"), plain).unwrap();
    let r = crate::mlinfra_env(d, &["apply", "plain.json"], &with(pass));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("encryption is enforced"), "{}", r.stderr);
    let r = crate::mlinfra_env(d, &["destroy", "--auto-approve"], &with(pass));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

/// The plan of `d` saved without encryption (the block's `enforced` and passphrase
/// dropped for one run into another directory).
fn saved_plaintext(d: &Path, pass: &str) -> String {
    let other = tempfile::tempdir().unwrap();
    let main = std::fs::read_to_string(d.join("main.mlinfra.hcl")).unwrap();
    let plain = main.replace(
        "mlinfra {\n  encryption {\n    enforced = true\n  }\n}\n",
        "",
    );
    std::fs::write(other.path().join("main.mlinfra.hcl"), plain).unwrap();
    let r = crate::mlinfra_env(
        other.path(),
        &["plan", "-out=plan.json"],
        &[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("MLINFRA_STATE_PASSPHRASE", pass),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    std::fs::read_to_string(other.path().join("plan.json")).unwrap()
}

#[test]
fn the_state_passphrase_can_come_from_a_sensitive_variable() {
    let p = unique("encvar");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let aws = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let block = |sensitive: &str, passphrase: &str| {
        format!(
            "variable \"state_passphrase\" {{\n  type      = string\n  sensitive = {sensitive}\n}}\n\nmlinfra {{\n  encryption {{\n    passphrase = {passphrase}\n    enforced   = true\n  }}\n}}\n\n{}",
            many(&p, 1)
        )
    };
    // Not sensitive, a literal, an undeclared variable: errors at the place, nothing runs.
    for (sensitive, passphrase, says) in [
        ("false", "var.state_passphrase", "is not sensitive"),
        (
            "true",
            "\"hunter2\"",
            "must not be written in the configuration",
        ),
        ("true", "var.other", "which is not declared"),
    ] {
        write(d, &endpoint(), &block(sensitive, passphrase));
        let r = crate::mlinfra_env(d, &["plan"], &aws);
        assert_eq!(r.code, 1, "{}", r.stdout);
        assert!(r.stderr.contains(says), "{}", r.stderr);
        assert!(r.stderr.contains("main.mlinfra.hcl:"), "{}", r.stderr);
        assert!(!d.join("mlinfra.state.json").exists());
    }
    write(d, &endpoint(), &block("true", "var.state_passphrase"));
    let pass = "a passphrase only a variable knows";
    let r = crate::mlinfra_env(
        d,
        &[
            "apply",
            "--auto-approve",
            "--var",
            &format!("state_passphrase={pass}"),
        ],
        &aws,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains(pass) && !r.stderr.contains(pass));
    let raw = std::fs::read_to_string(d.join("mlinfra.state.json")).unwrap();
    assert!(raw.starts_with("{\"mlinfra_encrypted\":1"), "{raw}");
    // The same variable from the environment, for commands without --var.
    let with_env = |v: &'static str| {
        let mut e = aws.to_vec();
        e.push(("MLINFRA_VAR_state_passphrase", v));
        e
    };
    let r = crate::mlinfra_env(d, &["state", "pull"], &with_env(pass));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&format!("{p}-0")), "{}", r.stdout);
    let r = crate::mlinfra_env(d, &["plan"], &aws);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("variable \"state_passphrase\", which has no value")
            && r.stderr.contains("--var state_passphrase="),
        "{}",
        r.stderr
    );
    let r = crate::mlinfra_env(d, &["plan"], &with_env("not it"));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("neither the passphrase"), "{}", r.stderr);
    let r = crate::mlinfra_env(d, &["destroy", "--auto-approve"], &with_env(pass));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}
