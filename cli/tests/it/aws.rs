//! Apply against moto (started by ./scripts/test): lifecycle, drift, crashes, locking, faults.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::{mlinfra_env, Run};

pub(crate) fn endpoint() -> String {
    std::env::var("MLINFRA_TEST_AWS_ENDPOINT")
        .expect("MLINFRA_TEST_AWS_ENDPOINT is not set: run ./scripts/test, which starts the moto AWS emulator")
}

pub(crate) const CREDS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// An environment with no AWS credentials anywhere in the chain.
pub(crate) const NO_CREDENTIALS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", ""),
    ("AWS_SECRET_ACCESS_KEY", ""),
    ("AWS_PROFILE", ""),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
    ("AWS_CONFIG_FILE", "/nonexistent/config"),
];

pub(crate) fn run(dir: &Path, args: &[&str]) -> Run {
    mlinfra_env(dir, args, CREDS)
}

/// A bucket-name prefix no other test (or earlier run against the same moto) uses.
pub(crate) fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "t{}-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        nanos % 100_000
    )
}

pub(crate) fn write(dir: &Path, endpoint: &str, body: &str) {
    let text = format!("provider \"aws\" {{\n  region   = \"us-east-1\"\n  endpoint = \"{endpoint}\"\n}}\n\n{body}");
    std::fs::write(dir.join("main.mlinfra.hcl"), text).unwrap();
}

/// A direct S3 client, to check and to change what mlinfra manages.
/// A runtime and the SDK configuration of the test credentials, for direct clients of
/// the emulator (each builds its client with `endpoint()`).
pub(crate) fn sdk() -> (tokio::runtime::Runtime, aws_config::SdkConfig) {
    for (k, v) in CREDS {
        require_env(k, v);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sdk = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .load(),
    );
    (rt, sdk)
}

pub(crate) struct S3 {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

impl S3 {
    pub(crate) fn new() -> S3 {
        let (rt, sdk) = sdk();
        let conf = aws_sdk_s3::config::Builder::from(&sdk)
            .endpoint_url(endpoint())
            .force_path_style(true)
            .build();
        S3 {
            rt,
            client: aws_sdk_s3::Client::from_conf(conf),
        }
    }

    /// A bucket mlinfra does not manage (one that holds state), made when absent.
    pub(crate) fn ensure(&self, bucket: &str) {
        let _ = self
            .rt
            .block_on(self.client.create_bucket().bucket(bucket).send());
    }

    /// The object at KEY in BUCKET, if there is one.
    pub(crate) fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let out = self
            .rt
            .block_on(self.client.get_object().bucket(bucket).key(key).send())
            .ok()?;
        Some(
            self.rt
                .block_on(out.body.collect())
                .ok()?
                .into_bytes()
                .to_vec(),
        )
    }

    /// Every key under PREFIX in BUCKET.
    pub(crate) fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .send(),
            )
            .unwrap();
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }

    pub(crate) fn buckets(&self, prefix: &str) -> Vec<String> {
        let out = self.rt.block_on(self.client.list_buckets().send()).unwrap();
        let mut names: Vec<String> = out
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter(|n| n.starts_with(prefix))
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    pub(crate) fn tags(&self, bucket: &str) -> Vec<(String, String)> {
        match self
            .rt
            .block_on(self.client.get_bucket_tagging().bucket(bucket).send())
        {
            Ok(t) => {
                let mut v: Vec<(String, String)> = t
                    .tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect();
                v.sort();
                v
            }
            Err(_) => Vec::new(),
        }
    }

    fn versioning(&self, bucket: &str) -> Option<String> {
        let v = self
            .rt
            .block_on(self.client.get_bucket_versioning().bucket(bucket).send())
            .unwrap();
        v.status().map(|s| s.as_str().to_string())
    }

    fn put_tags(&self, bucket: &str, k: &str, v: &str) {
        let tag = aws_sdk_s3::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap();
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .tag_set(tag)
            .build()
            .unwrap();
        self.rt
            .block_on(
                self.client
                    .put_bucket_tagging()
                    .bucket(bucket)
                    .tagging(tagging)
                    .send(),
            )
            .unwrap();
    }

    pub(crate) fn put_object(&self, bucket: &str, key: &str) {
        let body = aws_sdk_s3::primitives::ByteStream::from_static(b"weights");
        self.rt
            .block_on(
                self.client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(body)
                    .send(),
            )
            .unwrap();
    }

    /// Whether `bucket` exists and holds `key`.
    pub(crate) fn has_object(&self, bucket: &str, key: &str) -> bool {
        self.rt
            .block_on(self.client.head_object().bucket(bucket).key(key).send())
            .is_ok()
    }

    /// Create a bucket outside mlinfra.
    pub(crate) fn create(&self, bucket: &str) {
        self.rt
            .block_on(self.client.create_bucket().bucket(bucket).send())
            .unwrap();
    }

    fn delete(&self, bucket: &str) {
        self.rt
            .block_on(self.client.delete_bucket().bucket(bucket).send())
            .unwrap();
    }
}

pub(crate) fn require_env(k: &str, v: &str) {
    if std::env::var(k).ok().as_deref() != Some(v) {
        panic!("run the AWS tests through ./scripts/test, which sets {k}={v}");
    }
}

pub(crate) fn state(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("mlinfra.state.json")).unwrap()).unwrap()
}

#[test]
fn bucket_lifecycle_create_update_replace_drift_destroy() {
    bucket_lifecycle("");
}

/// The state as the next command reads it, wherever the backend keeps it.
pub(crate) fn pulled(dir: &Path) -> serde_json::Value {
    let r = run(dir, &["state", "pull"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// Create, update in place, drift, delete outside, replace and destroy two buckets, with
/// the state in the backend `backend` declares (an `mlinfra { … }` block, or local).
pub(crate) fn bucket_lifecycle(backend: &str) {
    let s3 = S3::new();
    let p = unique("life");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let manifest = |tag: &str, name: &str| {
        format!(
            "{backend}bucket \"data\" {{\n  cloud      = \"aws\"\n  name       = \"{p}-{name}\"\n  versioning = true\n  tags       = {{ team = \"{tag}\" }}\n}}\n\nbucket \"logs\" {{\n  cloud = \"aws\"\n  name  = \"${{bucket.data.id}}-logs\"\n}}\n\noutput \"data_url\" {{\n  value = bucket.data.url\n}}\n"
        )
    };
    write(dir.path(), &ep, &manifest("ml", "data"));

    // Create: the logs bucket's name is known only once the data bucket exists.
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("Apply complete! Resources: 2 added, 0 changed, 0 destroyed."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("data_url = \"s3://{p}-data\"")),
        "{}",
        r.stdout
    );
    assert_eq!(
        s3.buckets(&p),
        vec![format!("{p}-data"), format!("{p}-data-logs")]
    );
    assert_eq!(
        s3.tags(&format!("{p}-data")),
        vec![("team".into(), "ml".into())]
    );
    assert_eq!(
        s3.versioning(&format!("{p}-data")).as_deref(),
        Some("Enabled")
    );
    let st = pulled(dir.path());
    assert!(st["pending"].is_null(), "no intent is left behind: {st}");
    assert_eq!(
        run(dir.path(), &["output", "data_url"]).stdout,
        format!("s3://{p}-data\n")
    );

    // A re-plan, refreshed from moto, is clean.
    let r = run(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // In place: tags.
    write(dir.path(), &ep, &manifest("research", "data"));
    let r = run(dir.path(), &["plan", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let data = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "bucket.data")
        .unwrap();
    assert_eq!(data["actions"], serde_json::json!(["update"]));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        s3.tags(&format!("{p}-data")),
        vec![("team".into(), "research".into())]
    );

    // Drift: changed outside mlinfra, shown, and put back.
    s3.put_tags(&format!("{p}-data"), "team", "someone-else");
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout.contains("Objects have changed outside of mlinfra"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("~ team = \"someone-else\" -> \"research\""),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        s3.tags(&format!("{p}-data")),
        vec![("team".into(), "research".into())]
    );

    // Deleted outside mlinfra: planned as a create again.
    s3.delete(&format!("{p}-data-logs"));
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout.contains("# bucket.logs has been deleted"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("# bucket.logs will be created"),
        "{}",
        r.stdout
    );
    assert_eq!(run(dir.path(), &["apply", "--auto-approve"]).code, 0);

    // Replace: a new name cannot be changed in place; the dependent follows.
    write(dir.path(), &ep, &manifest("research", "data2"));
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout.contains("# bucket.data must be replaced"),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        s3.buckets(&p),
        vec![format!("{p}-data2"), format!("{p}-data2-logs")]
    );
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);

    // Destroy leaves nothing.
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("Destroy complete! Resources: 0 added, 0 changed, 2 destroyed."),
        "{}",
        r.stdout
    );
    assert!(s3.buckets(&p).is_empty());
    assert_eq!(pulled(dir.path())["resources"], serde_json::json!([]));
}

#[test]
fn saved_plans_apply_exactly_or_are_refused_when_stale() {
    let s3 = S3::new();
    let p = unique("saved");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    write(
        dir.path(),
        &ep,
        &format!("bucket \"a\" {{\n  cloud = \"aws\"\n  name  = \"{p}-a\"\n}}\n"),
    );
    assert_eq!(run(dir.path(), &["plan", "-out=p.json"]).code, 0);
    write(
        dir.path(),
        &ep,
        &format!("bucket \"a\" {{\n  cloud = \"aws\"\n  name  = \"{p}-b\"\n}}\n"),
    );
    let r = run(dir.path(), &["apply", "p.json"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("is stale: the configuration or its inputs changed"),
        "{}",
        r.stderr
    );
    assert!(s3.buckets(&p).is_empty(), "a refused plan changes nothing");
    assert_eq!(run(dir.path(), &["plan", "-out=p.json"]).code, 0);
    let r = run(dir.path(), &["apply", "p.json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(s3.buckets(&p), vec![format!("{p}-b")]);
    // Applying it again: the state's serial moved on.
    let r = run(dir.path(), &["apply", "p.json"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("the state changed since it was made"),
        "{}",
        r.stderr
    );
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
}

/// How many resources a state file records right now (0 while it does not exist).
/// The resources a running apply has recorded: its snapshot with the journal replayed.
pub fn recorded_resources(state_file: &Path) -> usize {
    mlinfra_engine::store::StateStore::local(state_file)
        .read()
        .ok()
        .flatten()
        .map(|s| s.resources.len())
        .unwrap_or(0)
}

fn many(p: &str, n: usize) -> String {
    format!("bucket \"b\" {{\n  count = {n}\n  cloud = \"aws\"\n  name  = \"{p}-${{count.index}}\"\n}}\n")
}

#[test]
fn an_apply_killed_at_any_instant_is_recovered_by_the_next() {
    let s3 = S3::new();
    let ep = endpoint();
    let n = 200;
    let mut mid_apply_kills = 0;
    // Kill when the state records this many buckets: before the first, early, midway, late.
    for (round, recorded) in [0usize, 10, 90, 180].into_iter().enumerate() {
        let p = unique(&format!("crash{round}"));
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &ep, &many(&p, n));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlinfra"))
            .args(["apply", "--auto-approve", "--parallelism", "4"])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let state_file = dir.path().join("mlinfra.state.json");
        let lock = dir.path().join("mlinfra.state.json.lock");
        let start = Instant::now();
        loop {
            let count = recorded_resources(&state_file);
            let started = lock.exists();
            if (started && count >= recorded) || start.elapsed() > Duration::from_secs(60) {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        let created_before = s3.buckets(&p).len();
        if created_before > 0 && created_before < n {
            mid_apply_kills += 1;
        }
        let delay_ms = start.elapsed().as_millis();

        let r = run(dir.path(), &["apply", "--auto-approve"]);
        assert_eq!(
            r.code, 0,
            "round {round} ({delay_ms} ms, {created_before} created): {}\n{}",
            r.stdout, r.stderr
        );
        if created_before > 0 {
            assert!(
                r.stderr.contains("ended without releasing the state lock"),
                "round {round}: the killed run is reported: {}",
                r.stderr
            );
        }
        let mut want: Vec<String> = (0..n).map(|i| format!("{p}-{i}")).collect();
        want.sort();
        assert_eq!(
            s3.buckets(&p),
            want,
            "round {round}: the live buckets equal the manifest exactly"
        );
        let st = state(dir.path());
        assert_eq!(
            st["resources"].as_array().unwrap().len(),
            n,
            "round {round}: every bucket is in state once"
        );
        assert!(st["pending"].is_null(), "round {round}: no intent left");
        let r = run(dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(
            r.code, 0,
            "round {round}: a re-plan is clean:\n{}",
            r.stdout
        );
        assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
    }
    assert!(
        mid_apply_kills >= 2,
        "at least two kills landed in the middle of an apply ({mid_apply_kills})"
    );
}

#[test]
fn a_second_apply_names_the_holder_of_the_lock() {
    let p = unique("lock");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &endpoint(), &many(&p, 80));
    let mut first = Command::new(env!("CARGO_BIN_EXE_mlinfra"))
        .args(["apply", "--auto-approve", "--parallelism", "1"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.path().join("mlinfra.state.json.lock");
    let start = Instant::now();
    while !lock.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("is locked by"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("(pid {})", first.id())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("running `apply`"), "{}", r.stderr);
    assert!(first.wait().unwrap().success());
    // With a lock timeout the second waits for the first and then finds nothing to do.
    let r = run(
        dir.path(),
        &["apply", "--auto-approve", "--lock-timeout", "60s"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
}

/// An HTTP proxy in front of moto that answers every `every`-th request with a fault:
/// alternately 503 SlowDown (S3's throttling) and 500 InternalError.
fn faulty_proxy(upstream: String, every: usize) -> (String, std::sync::Arc<AtomicUsize>) {
    let (addr, faults, _) = proxy(upstream, every);
    (addr, faults)
}

type Requests = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A proxy in front of moto that records every request (head and body) and, when
/// `every` is not 0, answers every `every`-th one with a fault.
fn proxy(upstream: String, every: usize) -> (String, std::sync::Arc<AtomicUsize>, Requests) {
    let requests: Requests = Default::default();
    let recorded = requests.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let faults = std::sync::Arc::new(AtomicUsize::new(0));
    let count = AtomicUsize::new(0);
    let up = upstream.trim_start_matches("http://").to_string();
    let injected = faults.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let Some(request) = read_request(&mut client) else {
                continue;
            };
            recorded
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&request).into_owned());
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            if every != 0 && n.is_multiple_of(every) {
                let f = injected.fetch_add(1, Ordering::SeqCst);
                let (status, code) = if f.is_multiple_of(2) {
                    ("503 Slow Down", "SlowDown")
                } else {
                    ("500 Internal Server Error", "InternalError")
                };
                let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected</Message></Error>");
                let _ = write!(client, "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                continue;
            }
            let Ok(mut server) = TcpStream::connect(&up) else {
                continue;
            };
            let _ = server.write_all(&request);
            let mut response = Vec::new();
            let _ = server.read_to_end(&mut response);
            let _ = client.write_all(&response);
        }
    });
    (addr, faults, requests)
}

/// Read one request, forcing `Connection: close` so each connection carries one exchange.
fn read_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut out = String::new();
    for line in head.trim_end().lines() {
        let lower = line.to_ascii_lowercase();
        if !lower.starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut req = out.into_bytes();
    req.extend_from_slice(&buf[header_end..]);
    Some(req)
}

#[test]
fn apply_converges_through_throttling_and_server_errors() {
    let s3 = S3::new();
    let p = unique("fault");
    let (proxy, faults) = faulty_proxy(endpoint(), 4);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &proxy, &format!("{}\nbucket \"tagged\" {{\n  cloud = \"aws\"\n  name  = \"{p}-tagged\"\n  tags  = {{ a = \"b\" }}\n}}\n", many(&p, 30)));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(faults.load(Ordering::SeqCst) >= 5, "faults were injected");
    assert_eq!(s3.buckets(&p).len(), 31);
    assert_eq!(
        s3.tags(&format!("{p}-tagged")),
        vec![("a".into(), "b".into())]
    );
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(s3.buckets(&p).is_empty());
}

#[test]
fn missing_credentials_fail_fast_and_leave_nothing_in_flight() {
    let p = unique("nocreds");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &endpoint(), &many(&p, 40));
    let r = mlinfra_env(dir.path(), &["apply", "--auto-approve"], NO_CREDENTIALS);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        !r.stdout.contains(": retry "),
        "no retrying of refused credentials: {}",
        r.stdout
    );
    assert!(
        r.stdout.contains("no AWS credentials were found")
            || r.stderr.contains("no AWS credentials were found"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    // The provider is configured before any call: one error naming its block.
    assert!(
        r.stderr.contains("error: provider \"aws\"") && r.stderr.contains("nothing was changed"),
        "{}",
        r.stderr
    );
    assert_nothing_recorded(dir.path());
}

#[test]
fn a_malformed_credentials_file_fails_at_once() {
    let p = unique("badcreds");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &endpoint(), &many(&p, 40));
    let bad = dir.path().join("credentials");
    std::fs::write(&bad, "[default\naws_access_key_id = AKIA\n garbage line\n").unwrap();
    let bad = bad.to_str().unwrap();
    let env = [
        ("AWS_ACCESS_KEY_ID", ""),
        ("AWS_SECRET_ACCESS_KEY", ""),
        ("AWS_PROFILE", ""),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_SHARED_CREDENTIALS_FILE", bad),
        ("AWS_CONFIG_FILE", bad),
    ];
    let r = mlinfra_env(dir.path(), &["apply", "--auto-approve"], &env);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        !r.stdout.contains(": retry "),
        "a malformed file is not retried: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains("could not parse profile file"),
        "{}",
        r.stderr
    );
    // The provider is configured before any call: one error naming its block.
    assert!(
        r.stderr.contains("error: provider \"aws\"") && r.stderr.contains("nothing was changed"),
        "{}",
        r.stderr
    );
    assert_nothing_recorded(dir.path());
}

/// A run refused before its first cloud call leaves no state, or one with nothing in it.
fn assert_nothing_recorded(dir: &Path) {
    if dir.join("mlinfra.state.json").exists() {
        let st = state(dir);
        assert!(st["pending"].is_null(), "{st}");
        assert_eq!(st["resources"], serde_json::json!([]));
    }
}

#[test]
fn the_first_interrupt_finishes_in_flight_work_and_starts_nothing_new() {
    interrupted_by("INT", "Interrupt received");
}

#[test]
fn sigterm_from_a_ci_runner_is_handled_like_the_first_interrupt() {
    interrupted_by("TERM", "SIGTERM received");
}

fn interrupted_by(signal: &str, announced: &str) {
    let s3 = S3::new();
    let p = unique(&format!("sig{}", signal.to_lowercase()));
    let dir = tempfile::tempdir().unwrap();
    let n = 80;
    write(dir.path(), &endpoint(), &many(&p, n));
    let child = Command::new(env!("CARGO_BIN_EXE_mlinfra"))
        .args(["apply", "--auto-approve", "--parallelism", "2"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let state_file = dir.path().join("mlinfra.state.json");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let count = recorded_resources(&state_file);
        if count >= 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains(announced), "{stderr}");
    assert!(
        !dir.path().join("mlinfra.state.json.lock").exists(),
        "the lock was released"
    );
    assert!(stdout.contains("Apply interrupted."), "{stdout}");
    assert!(
        stderr.contains("not started: the apply was interrupted"),
        "{stderr}"
    );
    // What finished is in state, nothing is in flight, and the cloud agrees.
    let st = state(dir.path());
    assert!(
        st["pending"].is_null(),
        "in-flight creates finished and were recorded: {st}"
    );
    let recorded = st["resources"].as_array().unwrap().len();
    assert!(recorded > 0 && recorded < n, "{recorded}");
    assert_eq!(s3.buckets(&p).len(), recorded);
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains("ended without releasing"),
        "the interrupted run ended cleanly: {}",
        r.stderr
    );
    assert_eq!(s3.buckets(&p).len(), n);
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
}

#[test]
fn a_bucket_with_objects_needs_force_destroy() {
    let s3 = S3::new();
    let p = unique("full");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let manifest = |force: bool| {
        format!("bucket \"models\" {{\n  cloud         = \"aws\"\n  name          = \"{p}\"\n  versioning    = true\n  force_destroy = {force}\n}}\n")
    };
    write(dir.path(), &ep, &manifest(false));
    assert_eq!(run(dir.path(), &["apply", "--auto-approve"]).code, 0);
    s3.put_object(&p, "fraud/model.tar.gz");
    s3.put_object(&p, "fraud/model.tar.gz");
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("force_destroy = true"), "{}", r.stderr);
    assert_eq!(s3.buckets(&p).len(), 1);
    write(dir.path(), &ep, &manifest(true));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert!(r.stdout.contains("1 changed"), "{}", r.stdout);
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(s3.buckets(&p).is_empty());
}

#[test]
fn import_brings_an_existing_bucket_under_management() {
    let s3 = S3::new();
    let p = unique("import");
    s3.rt
        .block_on(s3.client.create_bucket().bucket(&p).send())
        .unwrap();
    s3.put_tags(&p, "team", "legacy");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &endpoint(), &format!("bucket \"legacy\" {{\n  cloud = \"aws\"\n  name  = \"{p}\"\n  tags  = {{ team = \"ml\" }}\n}}\n"));
    let r = run(dir.path(), &["import", "bucket.nope", &p]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("bucket.nope is not declared"),
        "{}",
        r.stderr
    );
    let r = run(dir.path(), &["import", "bucket.legacy", &p]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Import successful!"));
    let r = run(dir.path(), &["import", "bucket.legacy", &p]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("already in the state"));
    // The plan updates the imported bucket in place rather than creating it.
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout
            .contains("# bucket.legacy will be updated in-place"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("~ team = \"legacy\" -> \"ml\""),
        "{}",
        r.stdout
    );
    assert_eq!(run(dir.path(), &["apply", "--auto-approve"]).code, 0);
    assert_eq!(s3.tags(&p), vec![("team".into(), "ml".into())]);
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
}

#[test]
fn import_blocks_adopt_existing_objects_at_plan_time() {
    let s3 = S3::new();
    let p = unique("importblk");
    s3.rt
        .block_on(s3.client.create_bucket().bucket(&p).send())
        .unwrap();
    s3.put_tags(&p, "team", "legacy");
    let dir = tempfile::tempdir().unwrap();
    let body = |team: &str, id: &str| {
        format!("variable \"legacy_bucket\" {{\n  default = \"{id}\"\n}}\n\nimport {{\n  to = bucket.legacy\n  id = var.legacy_bucket\n}}\n\nbucket \"legacy\" {{\n  cloud = \"aws\"\n  name  = \"{p}\"\n  tags  = {{ team = \"{team}\" }}\n}}\n")
    };
    // An id that names nothing is an error at the import block; nothing is written.
    write(
        dir.path(),
        &endpoint(),
        &body("ml", &format!("{p}-missing")),
    );
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("cannot import bucket.legacy")
            && r.stderr.contains("main.mlinfra.hcl:11:8")
            && r.stderr.contains("no bucket with id"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("mlinfra.state.json").exists());

    write(dir.path(), &endpoint(), &body("ml", &p));
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout
            .contains("# bucket.legacy will be updated in-place")
            && r.stdout.contains(&format!("# (imported from \"{p}\")"))
            && r.stdout.contains("~ team = \"legacy\" -> \"ml\"")
            && r.stdout
                .contains("Plan: 1 to import, 0 to add, 1 to change, 0 to destroy."),
        "the plan reads the object and diffs it, instead of creating it: {}",
        r.stdout
    );
    let r = run(dir.path(), &["plan", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["summary"]["import"], 1);
    assert_eq!(j["resource_changes"][0]["importing"]["id"], p.as_str());
    assert!(
        !dir.path().join("mlinfra.state.json").exists(),
        "plan writes nothing"
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("Resources: 1 imported, 0 added, 1 changed, 0 destroyed."),
        "{}",
        r.stdout
    );
    assert_eq!(s3.tags(&p), vec![("team".into(), "ml".into())]);
    assert_eq!(state(dir.path())["resources"][0]["id"], p.as_str());
    // Once in state, the block has nothing left to do.
    let r = run(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
    assert!(s3.buckets(&p).is_empty());
}

#[test]
fn container_registry_lifecycle_on_ecr() {
    let p = unique("ecr");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let manifest = |immutable: bool, team: &str| {
        format!(
            "container_registry \"images\" {{\n  cloud          = \"aws\"\n  name           = \"{p}/scorer\"\n  immutable_tags = {immutable}\n  tags           = {{ team = \"{team}\" }}\n}}\n\noutput \"push_to\" {{\n  value = container_registry.images.url\n}}\n"
        )
    };
    write(dir.path(), &ep, &manifest(false, "ml"));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("dkr.ecr.us-east-1.amazonaws.com/{p}/scorer")),
        "{}",
        r.stdout
    );
    assert_eq!(
        run(dir.path(), &["plan", "--detailed-exitcode"]).code,
        0,
        "a re-plan refreshed from ECR is clean"
    );
    write(dir.path(), &ep, &manifest(true, "platform"));
    let r = run(dir.path(), &["plan", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        j["resource_changes"][0]["actions"],
        serde_json::json!(["update"])
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let st = state(dir.path());
    assert_eq!(st["resources"][0]["attributes"]["immutable_tags"], true);
    assert_eq!(
        st["resources"][0]["attributes"]["tags"],
        serde_json::json!({"team": "platform"})
    );
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);
    // Another name is another repository: replaced.
    let renamed = manifest(true, "platform").replace("/scorer\"", "/ranker\"");
    write(dir.path(), &ep, &renamed);
    let r = run(dir.path(), &["plan", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        j["resource_changes"][0]["actions"],
        serde_json::json!(["delete", "create"])
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        state(dir.path())["resources"][0]["id"],
        format!("{p}/ranker").as_str()
    );
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = run(
        dir.path(),
        &[
            "import",
            "container_registry.images",
            &format!("{p}/scorer"),
        ],
    );
    assert_eq!(r.code, 1, "a destroyed repository cannot be imported");
}

#[test]
fn eks_cluster_lifecycle() {
    let p = unique("eks");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let manifest_public = |version: &str, team: &str, public: bool| {
        format!(
            "cluster \"train\" {{\n  cloud              = \"aws\"\n  name               = \"{p}\"\n  kubernetes_version = \"{version}\"\n  subnet_ids         = [\"subnet-0a1b2c3d\", \"subnet-4e5f6a7b\"]\n  role_arn           = \"arn:aws:iam::123456789012:role/eks\"\n  public_endpoint    = {public}\n  tags               = {{ team = \"{team}\" }}\n}}\n\noutput \"api\" {{\n  value = cluster.train.endpoint\n}}\n"
        )
    };
    let manifest = |version: &str, team: &str| manifest_public(version, team, true);
    write(dir.path(), &ep, &manifest("1.30", "ml"));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("api = \"https://"),
        "the API endpoint is an output: {}",
        r.stdout
    );
    assert_eq!(
        run(dir.path(), &["plan", "--detailed-exitcode"]).code,
        0,
        "a re-plan refreshed from EKS is clean"
    );
    // Tags change in place.
    write(dir.path(), &ep, &manifest("1.30", "platform"));
    let r = run(dir.path(), &["plan", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        j["resource_changes"][0]["actions"],
        serde_json::json!(["update"])
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let st = state(dir.path());
    assert_eq!(
        st["resources"][0]["attributes"]["kubernetes_version"],
        "1.30"
    );
    assert_eq!(
        st["resources"][0]["attributes"]["tags"],
        serde_json::json!({"team": "platform"})
    );
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);
    // An upgrade and an endpoint access change are in place (UpdateClusterVersion and
    // UpdateClusterConfig, served by scripts/aws_double.py), each waiting for ACTIVE.
    write(dir.path(), &ep, &manifest_public("1.31", "platform", false));
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout
            .contains("~ kubernetes_version = \"1.30\" -> \"1.31\"")
            && r.stdout.contains("~ public_endpoint    = true -> false")
            && r.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "an upgrade is in place: {}",
        r.stdout
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (rt, eks) = eks();
    let cl = rt
        .block_on(eks.describe_cluster().name(&p).send())
        .unwrap()
        .cluster()
        .cloned()
        .unwrap();
    assert_eq!(cl.version(), Some("1.31"));
    assert_eq!(cl.status().map(|s| s.as_str()), Some("ACTIVE"));
    let vpc = cl.resources_vpc_config().unwrap();
    assert!(!vpc.endpoint_public_access());
    assert_eq!(vpc.subnet_ids().len(), 2, "the subnets are kept");
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);
    // EKS upgrades one minor version at a time; the refusal is reported, not retried.
    write(dir.path(), &ep, &manifest_public("1.33", "platform", false));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("Unsupported Kubernetes minor version update")
            || r.stderr
                .contains("Unsupported Kubernetes minor version update"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    // Other subnets are another cluster: replaced.
    let moved =
        manifest_public("1.31", "platform", false).replace("subnet-4e5f6a7b", "subnet-99999999");
    write(dir.path(), &ep, &moved);
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout.contains("# cluster.train must be replaced")
            && r.stdout.contains("subnet_ids cannot be changed in place"),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let cl = rt
        .block_on(eks.describe_cluster().name(&p).send())
        .unwrap()
        .cluster()
        .cloned()
        .unwrap();
    assert!(cl
        .resources_vpc_config()
        .unwrap()
        .subnet_ids()
        .contains(&"subnet-99999999".to_string()));
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(state(dir.path())["resources"], serde_json::json!([]));
}

/// A direct EKS client on its own runtime, to check and to change nodegroups.
fn eks() -> (tokio::runtime::Runtime, aws_sdk_eks::Client) {
    let (rt, sdk) = sdk();
    let conf = aws_sdk_eks::config::Builder::from(&sdk)
        .endpoint_url(endpoint())
        .build();
    (rt, aws_sdk_eks::Client::from_conf(conf))
}

#[test]
fn gpu_pool_lifecycle_on_eks_nodegroups() {
    let p = unique("ng");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let versioned = |version: &str, accelerator: &str, max: u32, team: &str, taint: &str| {
        format!(
            "cluster \"train\" {{\n  cloud      = \"aws\"\n  name       = \"{p}\"\n  kubernetes_version = \"{version}\"\n  subnet_ids = [\"subnet-0a1b2c3d\", \"subnet-4e5f6a7b\"]\n  role_arn   = \"arn:aws:iam::123456789012:role/eks\"\n}}\n\n\
             gpu_pool \"h100\" {{\n  cluster       = cluster.train\n  name          = \"gpus\"\n  accelerator   = \"{accelerator}\"\n  gpus_per_node = 8\n  max_nodes     = {max}\n  capacity      = \"spot\"\n  node_role_arn = \"arn:aws:iam::123456789012:role/nodes\"\n  labels        = {{ team = \"{team}\" }}\n  taints        = [{{ key = \"{taint}\", value = \"present\", effect = \"NoSchedule\" }}]\n  tags          = {{ owner = \"ml\" }}\n}}\n"
        )
    };
    let manifest = |accelerator: &str, max: u32, team: &str, taint: &str| {
        versioned("1.31", accelerator, max, team, taint)
    };
    write(
        dir.path(),
        &ep,
        &manifest("H100", 4, "research", "nvidia.com/gpu"),
    );
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.contains("+ instance_type") && l.ends_with("= \"p5.48xlarge\"")),
        "the GPU catalog picks the machine at plan time: {}",
        r.stdout
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (rt, eks) = eks();
    let describe = || {
        rt.block_on(
            eks.describe_nodegroup()
                .cluster_name(&p)
                .nodegroup_name("gpus")
                .send(),
        )
        .unwrap()
        .nodegroup()
        .cloned()
        .unwrap()
    };
    let ng = describe();
    assert_eq!(ng.instance_types(), ["p5.48xlarge"]);
    assert_eq!(
        ng.ami_type().map(|a| a.as_str()),
        Some("AL2023_x86_64_NVIDIA")
    );
    assert_eq!(ng.capacity_type().map(|a| a.as_str()), Some("SPOT"));
    assert_eq!(
        ng.subnets(),
        ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
        "the cluster's subnets"
    );
    assert_eq!(ng.scaling_config().and_then(|s| s.max_size()), Some(4));
    assert_eq!(ng.taints().len(), 1);
    assert_eq!(
        run(dir.path(), &["plan", "--detailed-exitcode"]).code,
        0,
        "a re-plan refreshed from EKS is clean"
    );

    // Scaling, labels and taints change in place through UpdateNodegroupConfig.
    write(
        dir.path(),
        &ep,
        &manifest("H100", 8, "platform", "dedicated"),
    );
    let r = run(dir.path(), &["plan", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let pool = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "gpu_pool.h100")
        .unwrap();
    assert_eq!(pool["actions"], serde_json::json!(["update"]), "{pool}");
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let ng = describe();
    assert_eq!(ng.scaling_config().and_then(|s| s.max_size()), Some(8));
    assert_eq!(
        ng.labels().and_then(|l| l.get("team")).map(String::as_str),
        Some("platform")
    );
    let keys: Vec<&str> = ng.taints().iter().filter_map(|t| t.key()).collect();
    assert_eq!(keys, ["dedicated"], "the old taint is removed");
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);

    // Drift: someone scales the nodegroup by hand; the plan shows it and puts it back.
    rt.block_on(
        eks.update_nodegroup_config()
            .cluster_name(&p)
            .nodegroup_name("gpus")
            .scaling_config(
                aws_sdk_eks::types::NodegroupScalingConfig::builder()
                    .min_size(0)
                    .max_size(2)
                    .desired_size(0)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout.contains("changed outside of mlinfra") && r.stdout.contains("max_nodes"),
        "drift is shown: {}",
        r.stdout
    );
    assert!(
        r.stdout.contains("~ max_nodes") && r.stdout.contains("2 -> 8"),
        "and fixed in place: {}",
        r.stdout
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        describe().scaling_config().and_then(|s| s.max_size()),
        Some(8)
    );

    // A cluster upgrade carries the nodes along, in place and after the cluster.
    write(
        dir.path(),
        &ep,
        &versioned("1.32", "H100", 8, "platform", "dedicated"),
    );
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout
            .contains("~ kubernetes_version = \"1.31\" -> \"1.32\"")
            && r.stdout.contains("0 to add, 2 to change, 0 to destroy"),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(describe().version(), Some("1.32"));
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);
    let manifest = |accelerator: &str, max: u32, team: &str, taint: &str| {
        versioned("1.32", accelerator, max, team, taint)
    };

    // Another accelerator is another machine: the nodegroup is replaced.
    write(
        dir.path(),
        &ep,
        &manifest("A100-80GB", 8, "platform", "dedicated"),
    );
    let r = run(dir.path(), &["plan"]);
    assert!(
        r.stdout.contains("must be replaced")
            && r.stdout.contains("\"p5.48xlarge\" -> \"p4de.24xlarge\""),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(describe().instance_types(), ["p4de.24xlarge"]);
    assert_eq!(run(dir.path(), &["plan", "--detailed-exitcode"]).code, 0);

    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(state(dir.path())["resources"], serde_json::json!([]));
    let gone = rt.block_on(eks.list_nodegroups().cluster_name(&p).send());
    assert!(gone.is_err(), "the cluster and its nodegroups are gone");
}

#[test]
fn assume_role_signs_every_call_with_the_role_credentials() {
    let s3 = S3::new();
    let p = unique("role");
    let (proxy, _, requests) = proxy(endpoint(), 0);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "provider \"aws\" {{\n  region   = \"us-east-1\"\n  endpoint = \"{proxy}\"\n  assume_role {{\n    role_arn     = \"arn:aws:iam::123456789012:role/deployer\"\n    session_name = \"ci\"\n  }}\n}}\n\nbucket \"data\" {{\n  cloud = \"aws\"\n  name  = \"{p}\"\n}}\n"
    );
    std::fs::write(dir.path().join("main.mlinfra.hcl"), text).unwrap();
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(s3.buckets(&p), vec![p.clone()]);
    let seen = requests.lock().unwrap().clone();
    let assume = seen
        .iter()
        .find(|r| r.contains("Action=AssumeRole"))
        .expect("STS AssumeRole was called");
    assert!(
        assume.contains("Credential=testing/") && assume.contains("RoleSessionName=ci"),
        "the chain's credentials assume the role: {assume}"
    );
    let create = seen
        .iter()
        .find(|r| r.starts_with(&format!("PUT /{p}/ ")))
        .unwrap_or_else(|| {
            let heads: Vec<&str> = seen.iter().filter_map(|r| r.lines().next()).collect();
            panic!("CreateBucket went through the proxy: {heads:?}")
        });
    assert!(
        create.contains("Credential=") && !create.contains("Credential=testing/"),
        "CreateBucket is signed with the role's credentials: {create}"
    );
    assert!(
        !r.stdout.contains("testing") && !r.stderr.contains("testing"),
        "credentials are never printed"
    );
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn progress_is_one_live_line_per_operation_on_a_terminal() {
    let p = unique("tty");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &endpoint(), &many(&p, 5));
    // `script` (util-linux) runs the binary on a pseudo-terminal.
    let cmd = format!("{} apply --auto-approve", env!("CARGO_BIN_EXE_mlinfra"));
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .envs(CREDS.iter().copied())
        .output()
        .expect("`script` (util-linux) runs the binary on a pseudo-terminal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(": Creating... ") && text.contains("\u{1b}[2K"),
        "live lines, redrawn in place: {text}"
    );
    for i in 0..5 {
        assert!(
            text.contains(&format!("bucket.b[{i}]: Creation complete after")),
            "each live line ends as its final line: {text}"
        );
    }
    assert!(
        !text.contains("] bucket.b[0]: Creating..."),
        "no timestamps on a terminal: {text}"
    );
    // Not on a terminal (CI): plain timestamped lines.
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with('[') && l.contains("] bucket.b[0]: Destroying...")),
        "{}",
        r.stdout
    );
}

/// `timestamp()` is known after apply: the plan shows it so, and apply tags the bucket
/// with the time it made it. A `templatefile` renders Terraform's syntax into a tag.
#[test]
fn timestamp_is_taken_at_apply_and_templates_render() {
    let s3 = S3::new();
    let p = unique("time");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("owner.tftpl"),
        "%{ for t in teams ~}${t}%{ endfor ~}",
    )
    .unwrap();
    write(
        dir.path(),
        &endpoint(),
        &format!(
            "bucket \"data\" {{\n  cloud = \"aws\"\n  name  = \"{p}-data\"\n  tags  = {{\n    created = timestamp()\n    owner   = templatefile(\"owner.tftpl\", {{ teams = [\"ml\", \"-\", \"infra\"] }})\n    day     = formatdate(\"YYYY-MM-DD\", \"2026-12-03T10:00:00Z\")\n  }}\n}}\n"
        ),
    );
    let r = run(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("(known after apply)"), "{}", r.stdout);
    let before = std::time::SystemTime::now();
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let tags = s3.tags(&format!("{p}-data"));
    let get = |k: &str| tags.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("owner").as_deref(), Some("ml-infra"));
    assert_eq!(get("day").as_deref(), Some("2026-12-03"));
    let created = get("created").expect("a created tag");
    assert!(created.len() == 20 && created.ends_with('Z'), "{created}");
    let year: u64 = created[..4].parse().unwrap();
    let now_year = 1970
        + before
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 31_556_952;
    assert!(year == now_year || year == now_year + 1, "{created}");
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}
