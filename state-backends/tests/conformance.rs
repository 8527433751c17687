//! One conformance suite for every state backend: each test runs against every backend
//! whose server the test command started (local always; s3 against moto through
//! MLINFRA_TEST_AWS_ENDPOINT; gcs against fake-gcs-server through
//! MLINFRA_TEST_GCS_ENDPOINT; azurerm against Azurite behind the Azure double through
//! MLINFRA_TEST_AZURE_BLOB_ENDPOINT; pg against Debian's PostgreSQL through
//! MLINFRA_TEST_PG_CONN_STR).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mlinfra_engine::backend_config::{BackendSpec, BackendValue};
use mlinfra_engine::state::{PendingCreate, ResourceState, State, StateError};
use mlinfra_engine::store::{StateStore, Touched};
use mlinfra_schema::Value;
use mlinfra_state_backends::open_store;

const BUCKET: &str = "mlinfra-state-conformance";

/// A backend under test: its spec for one test's unique key.
struct Target {
    name: &'static str,
    spec: BackendSpec,
    /// Where faults are injected in front of its server, when they can be.
    faults: Option<Faults>,
}

/// A server that takes fault requests (the AWS double, or scripts/fault_proxy.py in front
/// of fake-gcs-server and Azurite), and how its requests name the default workspace's
/// objects.
struct Faults {
    /// The URL that takes `POST`/`DELETE` of faults.
    control: String,
    /// The CA bundle it is served under (https), if any.
    ca: Option<String>,
    /// The method that writes an object.
    write: &'static str,
    /// How a request on an object shows its name: `s3`, `gcs` or `azurerm`.
    kind: &'static str,
    /// The default workspace's state object.
    state: String,
}

impl Faults {
    /// A regex for the requests on object `state + suffix` (only that object when `exact`).
    fn spot(&self, suffix: &str, exact: bool) -> String {
        let object = regex_escape(&format!("{}{suffix}", self.state));
        match (self.kind, exact) {
            ("gcs", true) => format!("name={object}&"),
            ("gcs", false) => format!("name={object}"),
            ("azurerm", true) => format!("/{AZURE_CONTAINER}/{object}(\\\\?|$)"),
            ("azurerm", false) => format!("/{AZURE_CONTAINER}/{object}"),
            (_, true) => format!("{object}$"),
            (_, false) => object,
        }
    }

    /// A client of the control URL (trusting its CA).
    fn client(&self) -> reqwest::Client {
        let mut b = reqwest::Client::builder();
        if let Some(ca) = &self.ca {
            let pem = std::fs::read(ca).unwrap();
            b = b.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).unwrap());
        }
        b.build().unwrap()
    }

    /// How many injections of the faults set are left (none once each was met).
    fn left(&self) -> u64 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let body = rt.block_on(async {
            let r = self.client().get(&self.control).send().await.unwrap();
            r.bytes().await.unwrap()
        });
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let list = v
            .get("faults")
            .unwrap_or(&v)
            .as_array()
            .cloned()
            .unwrap_or_default();
        list.iter().map(|f| f["times"].as_u64().unwrap_or(0)).sum()
    }

    /// One fault (JSON), or none left (empty).
    fn set(&self, json: &str) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let status = rt.block_on(async {
            let c = self.client();
            let r = if json.is_empty() {
                c.delete(&self.control).send().await
            } else {
                c.post(&self.control).body(json.to_string()).send().await
            };
            r.unwrap().status().as_u16()
        });
        assert_eq!(status, 200);
    }
}

fn unique(tag: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{}-{n}", std::process::id())
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, BackendValue> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), BackendValue::String(v.to_string())))
        .collect()
}

fn s3_endpoint() -> Option<String> {
    std::env::var("MLINFRA_TEST_AWS_ENDPOINT").ok()
}

fn ensure_bucket(endpoint: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await;
        let conf = aws_sdk_s3::config::Builder::from(&shared)
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build();
        let _ = aws_sdk_s3::Client::from_conf(conf)
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await;
    });
}

/// The conformance bucket in fake-gcs-server (created once; a second create is refused).
fn ensure_gcs_bucket(endpoint: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = reqwest::Client::new()
            .post(format!("{endpoint}/storage/v1/b?project=mlinfra-test"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"name": "{BUCKET}"}}"#))
            .send()
            .await;
    });
}

const AZURE_CONTAINER: &str = "mlinfra-state-conformance";

/// Azurite behind the Azure double: its blob address, the state account, the double's
/// Entra endpoint and CA.
struct Azure {
    blob: String,
    account: String,
    entra: String,
    ca: String,
    /// Whether `blob` is the fault proxy in front of Azurite.
    proxied: bool,
}

/// The Azure target, once its container exists, with the client secret the double's token
/// endpoint takes (as the Azure provider's conformance suite sets it).
fn azure() -> Option<Azure> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    // Through the fault proxy (whose CA bundle also holds the double's) when there is one.
    let proxy = var("MLINFRA_TEST_AZURE_BLOB_FAULTS_ENDPOINT")
        .zip(var("MLINFRA_TEST_AZURE_BLOB_FAULTS_CA"));
    let az = Azure {
        blob: match &proxy {
            Some((p, _)) => p.clone(),
            None => var("MLINFRA_TEST_AZURE_BLOB_ENDPOINT")?,
        },
        account: var("MLINFRA_TEST_AZURE_STATE_ACCOUNT")?,
        entra: var("MLINFRA_TEST_AZURE_ENDPOINT")?,
        ca: match &proxy {
            Some((_, ca)) => ca.clone(),
            None => var("MLINFRA_TEST_AZURE_CA")?,
        },
        proxied: proxy.is_some(),
    };
    std::env::set_var("AZURE_CLIENT_ID", "conformance");
    std::env::set_var("AZURE_CLIENT_SECRET", "not-a-secret");
    std::env::set_var("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa");
    let status = az.call(
        "PUT",
        &format!("{AZURE_CONTAINER}?restype=container"),
        &[],
        b"",
    );
    assert!(status == 201 || status == 409, "container: {status}");
    Some(az)
}

impl Azure {
    /// One call to Azurite at `ACCOUNT/PATH`, with a storage token from the double; its
    /// status.
    fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let pem = std::fs::read(&self.ca).unwrap();
            let client = reqwest::Client::builder()
                .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
                .build()
                .unwrap();
            let token: serde_json::Value = serde_json::from_slice(
                &client
                    .post(format!("{}/tests/oauth2/v2.0/token", self.entra))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials&client_id=t&client_secret=s&scope=https://storage.azure.com/.default")
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap(),
            )
            .unwrap();
            let mut req = client
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{}/{}/{path}", self.blob, self.account),
                )
                .bearer_auth(token["access_token"].as_str().unwrap())
                .header("x-ms-version", "2025-11-05")
                .body(body.to_vec());
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send().await.unwrap().status().as_u16()
        })
    }
}

/// Every backend available here, each with a fresh place for `tag`.
fn targets(dir: &Path, tag: &str) -> Vec<Target> {
    let key = unique(tag);
    let mut t = vec![Target {
        name: "local",
        spec: BackendSpec {
            kind: "local".into(),
            attributes: attrs(&[("path", &format!("{key}/mlinfra.state.json"))]),
            root_dir: dir.to_path_buf(),
            encryption: None,
        },
        faults: None,
    }];
    if let Some(ep) = s3_endpoint() {
        ensure_bucket(&ep);
        let state = format!("{key}/mlinfra.state.json");
        t.push(Target {
            name: "s3",
            spec: BackendSpec {
                kind: "s3".into(),
                attributes: attrs(&[
                    ("bucket", BUCKET),
                    ("key", &state),
                    ("region", "us-east-1"),
                    ("endpoint", &ep),
                ]),
                root_dir: dir.to_path_buf(),
                encryption: None,
            },
            faults: Some(Faults {
                control: format!("{ep}/__double/faults"),
                ca: None,
                write: "PUT",
                kind: "s3",
                state,
            }),
        });
    }
    if let Ok(direct) = std::env::var("MLINFRA_TEST_GCS_ENDPOINT") {
        ensure_gcs_bucket(&direct);
        // Through the fault proxy when the test command started one.
        let proxy = std::env::var("MLINFRA_TEST_GCS_FAULTS_ENDPOINT").ok();
        let ep = proxy.clone().unwrap_or(direct);
        t.push(Target {
            name: "gcs",
            spec: BackendSpec {
                kind: "gcs".into(),
                attributes: attrs(&[("bucket", BUCKET), ("prefix", &key), ("endpoint", &ep)]),
                root_dir: dir.to_path_buf(),
                encryption: None,
            },
            faults: proxy.map(|p| Faults {
                control: format!("{p}/__faults"),
                ca: None,
                write: "POST",
                kind: "gcs",
                state: format!("{key}/default.state.json"),
            }),
        });
    }
    if let Some(az) = azure() {
        let state = format!("{key}/mlinfra.state.json");
        t.push(Target {
            name: "azurerm",
            spec: BackendSpec {
                kind: "azurerm".into(),
                attributes: attrs(&[
                    ("storage_account_name", &az.account),
                    ("container_name", AZURE_CONTAINER),
                    ("key", &state),
                    ("endpoint", &format!("{}/{}/", az.blob, az.account)),
                    ("authority_host", &az.entra),
                    ("ca_file", &az.ca),
                ]),
                root_dir: dir.to_path_buf(),
                encryption: None,
            },
            faults: az.proxied.then(|| Faults {
                control: format!("{}/__faults", az.blob),
                ca: Some(az.ca.clone()),
                write: "PUT",
                kind: "azurerm",
                state,
            }),
        });
    }
    if let Ok(conn) = std::env::var("MLINFRA_TEST_PG_CONN_STR") {
        // A schema of its own per test: a fresh place, as a key is for the others.
        let schema = key.replace('-', "_");
        t.push(Target {
            name: "pg",
            spec: BackendSpec {
                kind: "pg".into(),
                attributes: attrs(&[("conn_str", &conn), ("schema_name", &format!("t_{schema}"))]),
                root_dir: dir.to_path_buf(),
                encryption: None,
            },
            faults: None,
        });
    }
    t
}

fn resource(i: usize) -> ResourceState {
    let mut attributes = BTreeMap::new();
    attributes.insert("name".to_string(), Value::from(format!("bucket-{i}")));
    attributes.insert("versioning".to_string(), Value::Bool(i.is_multiple_of(2)));
    ResourceState {
        kind: "bucket".into(),
        cloud: Some("aws".into()),
        provider: Some("aws".into()),
        id: Some(format!("bucket-{i}")),
        attributes,
        sensitive: Default::default(),
        dependencies: Default::default(),
    }
}

fn spec_json(spec: &BackendSpec) -> String {
    let a: serde_json::Map<String, serde_json::Value> = spec
        .attributes
        .iter()
        .map(|(k, v)| match v {
            BackendValue::String(s) => (k.clone(), serde_json::Value::String(s.clone())),
            BackendValue::Bool(b) => (k.clone(), serde_json::Value::Bool(*b)),
        })
        .collect();
    serde_json::json!({"kind": spec.kind, "attributes": a, "root": spec.root_dir, }).to_string()
}

fn spec_from_json(s: &str) -> BackendSpec {
    let v: serde_json::Value = serde_json::from_str(s).unwrap();
    let attributes = v["attributes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, a)| {
            (
                k.clone(),
                BackendValue::String(a.as_str().unwrap().to_string()),
            )
        })
        .collect();
    BackendSpec {
        kind: v["kind"].as_str().unwrap().to_string(),
        attributes,
        root_dir: PathBuf::from(v["root"].as_str().unwrap()),
        encryption: None,
    }
}

/// Run this test binary as a worker process doing `mode` against `spec`.
fn worker(spec: &BackendSpec, mode: &str, rounds: usize) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["worker_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("MLINFRA_CONFORMANCE_WORKER", spec_json(spec))
        .env("MLINFRA_CONFORMANCE_MODE", mode)
        .env("MLINFRA_CONFORMANCE_ROUNDS", rounds.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// The worker's body; a no-op when this binary runs as the test suite.
#[test]
fn worker_entry() {
    let Ok(spec) = std::env::var("MLINFRA_CONFORMANCE_WORKER") else {
        return;
    };
    let spec = spec_from_json(&spec);
    let mode = std::env::var("MLINFRA_CONFORMANCE_MODE").unwrap();
    let rounds: usize = std::env::var("MLINFRA_CONFORMANCE_ROUNDS")
        .unwrap()
        .parse()
        .unwrap();
    let store = open_store(&spec, "default").unwrap();
    match mode.as_str() {
        // Each round: take the lock, read the serial, write serial + 1.
        "race" => {
            for _ in 0..rounds {
                let lock = store.lock("race", Duration::from_secs(120)).unwrap();
                let mut s = store.read().unwrap().unwrap();
                let based_on = Some(s.serial);
                store.write(&mut s, based_on).unwrap();
                lock.release().unwrap();
            }
        }
        // Under the lock, journal `rounds` more resources, then finish.
        "timeouts" => {
            let lock = store.lock("apply", Duration::from_secs(60)).unwrap();
            let mut s = store.read().unwrap().unwrap();
            let start = s.resources.len();
            for i in start..start + rounds {
                let addr = format!("bucket.b[{i}]");
                s.resources.insert(addr.clone(), resource(i));
                let based_on = Some(s.serial);
                store
                    .record(&mut s, based_on, Touched::Address(&addr))
                    .unwrap();
            }
            store.finish(&mut s).unwrap();
            lock.release().unwrap();
        }
        // Hold the lock and journal one step after another until killed.
        "journal" => {
            let _lock = store.lock("apply", Duration::from_secs(60)).unwrap();
            let mut s = store.read().unwrap().unwrap();
            let start = s.resources.len();
            for i in start..start + rounds {
                let addr = format!("bucket.b[{i}]");
                // As apply does: a step left in flight by a killed run is started again.
                s.pending.retain(|p| p.address != addr);
                s.pending.push(pending(&addr));
                let based_on = Some(s.serial);
                store
                    .record(&mut s, based_on, Touched::Address(&addr))
                    .unwrap();
                s.pending.retain(|p| p.address != addr);
                s.resources.insert(addr.clone(), resource(i));
                let based_on = Some(s.serial);
                store
                    .record(&mut s, based_on, Touched::Address(&addr))
                    .unwrap();
                println!("recorded {addr}");
            }
            store.finish(&mut s).unwrap();
        }
        other => panic!("unknown mode {other}"),
    }
}

fn pending(addr: &str) -> PendingCreate {
    PendingCreate {
        address: addr.to_string(),
        kind: "bucket".into(),
        cloud: "aws".into(),
        provider: "aws".into(),
        name: addr.to_string(),
        client_token: "token".into(),
        handle: None,
        attributes: Default::default(),
        dependencies: Vec::new(),
    }
}

fn fresh(t: &Target) -> (StateStore, State) {
    let store = open_store(&t.spec, "default").unwrap();
    let mut s = State::new();
    store.write(&mut s, None).unwrap();
    (store, s)
}

#[test]
fn racing_processes_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    for t in targets(dir.path(), "race") {
        let (store, _) = fresh(&t);
        let (n, m) = (4, 6);
        let children: Vec<_> = (0..n)
            .map(|_| worker(&t.spec, "race", m).spawn().unwrap())
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}: a worker failed: {}",
                t.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let s = store.read().unwrap().unwrap();
        assert_eq!(
            s.serial,
            1 + (n * m) as u64,
            "{}: every round's write is there",
            t.name
        );
        assert!(store.lock_holder().is_none(), "{}: no lock left", t.name);
    }
}

#[test]
fn a_holder_killed_at_random_instants_is_recovered_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    for t in targets(dir.path(), "kill") {
        let (store, _) = fresh(&t);
        let mut seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
        let mut last = 0;
        for round in 0..4 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let delay = Duration::from_millis(100 + (seed >> 33) % 500);
            let mut child = worker(&t.spec, "journal", 100_000).spawn().unwrap();
            std::thread::sleep(delay);
            child.kill().unwrap(); // SIGKILL
            let _ = child.wait();
            // The next run takes the lock without anyone's help and reads a whole state.
            let lock = store
                .lock("apply", Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("{} round {round}: {e}", t.name));
            let s = store.read().unwrap().unwrap();
            let n = s.resources.len();
            assert!(
                n >= last,
                "{} round {round}: nothing recorded is lost",
                t.name
            );
            for i in 0..n {
                assert!(
                    s.resources.contains_key(&format!("bucket.b[{i}]")),
                    "{} round {round}: steps replay in order, no gap",
                    t.name
                );
            }
            assert!(
                s.pending.len() <= 1,
                "{}: at most the step in flight",
                t.name
            );
            last = n;
            drop(lock);
        }
        // A run after the kills goes on from where they stopped and folds the journal in.
        let out = worker(&t.spec, "journal", 5).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = store.read().unwrap().unwrap();
        assert_eq!(s.resources.len(), last + 5, "{}", t.name);
        assert!(s.pending.is_empty());
        assert!(
            store.backend().journal_read(s.serial).unwrap().is_empty(),
            "{}: the finished run left no journal",
            t.name
        );
    }
}

#[test]
fn a_stale_conditional_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for t in targets(dir.path(), "stale") {
        let (store, mut s) = fresh(&t);
        let old = store.backend().read().unwrap().unwrap().version;
        let mut other = s.clone();
        let other_store = open_store(&t.spec, "default").unwrap();
        other_store.read().unwrap();
        other_store.write(&mut other, Some(1)).unwrap();
        // At the backend: a write over the version read before is refused.
        let e = store.backend().write(b"{}", Some(&old)).unwrap_err();
        assert!(matches!(e, StateError::Conflict { .. }), "{}: {e}", t.name);
        let e = store.backend().write(b"{}", None).unwrap_err();
        assert!(matches!(e, StateError::Conflict { .. }), "{}: {e}", t.name);
        // At the store: the serial this run read is not the stored one.
        let e = store.write(&mut s, Some(1)).unwrap_err();
        assert!(
            matches!(e, StateError::StaleSerial { .. }),
            "{}: {e}",
            t.name
        );
        assert_eq!(store.read().unwrap().unwrap().serial, 2, "{}", t.name);
    }
}

#[test]
fn lineage_and_serial_rules_hold() {
    let dir = tempfile::tempdir().unwrap();
    for t in targets(dir.path(), "rules") {
        let (store, mut s) = fresh(&t);
        let mut foreign = State::new();
        let e = store.write(&mut foreign, Some(1)).unwrap_err();
        assert!(
            matches!(e, StateError::ForeignLineage { .. }),
            "{}: {e}",
            t.name
        );
        store.write(&mut s, Some(1)).unwrap();
        let mut older = s.clone();
        older.serial = 1;
        assert!(matches!(
            store.push(&older, false),
            Err(StateError::Refused { .. })
        ));
        let mut same = s.clone();
        same.resources.insert("bucket.x".into(), resource(0));
        assert!(matches!(
            store.push(&same, false),
            Err(StateError::Refused { .. })
        ));
        assert!(store.push(&State::new(), false).is_err(), "{}", t.name);
        store.push(&s, false).unwrap();
        store.push(&older, true).unwrap();
        assert_eq!(
            store.read().unwrap().unwrap().serial,
            1,
            "{}: -force",
            t.name
        );
    }
}

#[test]
fn a_100000_resource_state_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    for t in targets(dir.path(), "big") {
        let (store, mut s) = fresh(&t);
        for i in 0..100_000 {
            s.resources.insert(format!("bucket.b[{i}]"), resource(i));
        }
        store.write(&mut s, Some(1)).unwrap();
        let back = open_store(&t.spec, "default")
            .unwrap()
            .read()
            .unwrap()
            .unwrap();
        assert_eq!(back, s, "{}", t.name);
    }
}

#[test]
fn workspaces_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    for t in targets(dir.path(), "ws") {
        let (store, mut s) = fresh(&t);
        s.resources.insert("bucket.a".into(), resource(1));
        store.write(&mut s, Some(1)).unwrap();
        let staging = open_store(&t.spec, "staging").unwrap();
        assert!(staging.read().unwrap().is_none(), "{}", t.name);
        let mut st = State::new();
        staging.write(&mut st, None).unwrap();
        // Locks are per workspace too.
        let _l = store.lock("apply", Duration::ZERO).unwrap();
        let _m = staging.lock("apply", Duration::ZERO).unwrap();
        assert_eq!(
            store.workspaces().unwrap(),
            vec!["default", "staging"],
            "{}",
            t.name
        );
        assert_eq!(store.read().unwrap().unwrap().resources.len(), 1);
        assert!(staging.read().unwrap().unwrap().resources.is_empty());
        drop(_m);
        store.backend().delete_workspace("staging").unwrap();
        assert_eq!(store.workspaces().unwrap(), vec!["default"], "{}", t.name);
        assert_eq!(store.read().unwrap().unwrap().resources.len(), 1);
    }
}

#[test]
fn a_lock_is_exclusive_and_unlock_needs_its_id() {
    let dir = tempfile::tempdir().unwrap();
    for t in targets(dir.path(), "lock") {
        let (store, _) = fresh(&t);
        let held = store.lock("apply", Duration::ZERO).unwrap();
        let other = open_store(&t.spec, "default").unwrap();
        let start = Instant::now();
        match other.lock("plan", Duration::from_millis(600)) {
            Err(StateError::Locked { holder }) => {
                assert_eq!(holder.id, held.info.id, "{}", t.name);
                assert_eq!(holder.operation, "apply");
                assert_eq!(holder.pid, std::process::id());
            }
            r => panic!("{}: expected Locked, got {r:?}", t.name),
        }
        assert!(
            start.elapsed() >= Duration::from_millis(600),
            "{}: waited",
            t.name
        );
        assert!(matches!(
            other.force_unlock("not-the-id"),
            Err(StateError::LockMismatch { .. }) | Err(StateError::Locked { .. })
        ));
        // A live holder on this host is not unlocked from under it.
        assert!(other.force_unlock(&held.info.id).is_err(), "{}", t.name);
        held.release().unwrap();
        assert!(other.lock("plan", Duration::ZERO).is_ok(), "{}", t.name);
    }
}

#[test]
fn faults_during_writes_leave_the_state_readable_and_the_journal_replayable() {
    let dir = tempfile::tempdir().unwrap();
    for t in targets(dir.path(), "faults") {
        let Some(f) = &t.faults else { continue };
        let (w, n) = (f.write, t.name);
        let (store, mut s) = fresh(&t);
        // Errors the SDK retries: the write lands on a later attempt.
        let journal = f.spot(".journal/", false);
        f.set(&format!(
            r#"{{"method": "{w}", "path": "{journal}", "status": 503, "times": 2}}"#
        ));
        s.resources.insert("bucket.b[0]".into(), resource(0));
        store
            .record(&mut s, Some(1), Touched::Address("bucket.b[0]"))
            .unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(f.left(), 0, "{n}: both 503s were met");
        // A journal entry that landed but whose answer was lost: the retry finds its own
        // entry there, and counts it.
        f.set(&format!(
            r#"{{"method": "{w}", "path": "{journal}", "status": 500, "times": 1, "after": true}}"#
        ));
        s.resources.insert("bucket.b[1]".into(), resource(1));
        store
            .record(&mut s, Some(2), Touched::Address("bucket.b[1]"))
            .unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(f.left(), 0, "{n}");
        // The same for the lock (the lock that never released, opentofu#4405) and for
        // the snapshot.
        let lock_spot = f.spot(".lock", true);
        f.set(&format!(
            r#"{{"method": "{w}", "path": "{lock_spot}", "status": 500, "times": 1, "after": true}}"#
        ));
        let lock = store
            .lock("apply", Duration::ZERO)
            .unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(f.left(), 0, "{n}: the lock fault was met");
        let state_spot = f.spot("", true);
        f.set(&format!(
            r#"{{"method": "{w}", "path": "{state_spot}", "status": 503, "times": 1, "after": true}}"#
        ));
        store.finish(&mut s).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(f.left(), 0, "{n}: the snapshot fault was met");
        lock.release().unwrap();
        assert!(store.lock_holder().is_none(), "{n}: the lock was released");
        f.set("");
        let back = open_store(&t.spec, "default")
            .unwrap()
            .read()
            .unwrap()
            .unwrap();
        assert_eq!(back, s, "{n}");
        // Faults that outlast the retries fail the write cleanly: what was recorded
        // before stays readable and the journal replays.
        s.resources.insert("bucket.b[2]".into(), resource(2));
        store
            .record(&mut s, Some(3), Touched::Address("bucket.b[2]"))
            .unwrap();
        let any = f.spot("", false);
        f.set(&format!(
            r#"{{"method": "{w}", "path": "{any}", "status": 503, "times": 50}}"#
        ));
        let mut t2 = s.clone();
        t2.resources.insert("bucket.b[3]".into(), resource(3));
        assert!(
            store
                .record(&mut t2, Some(4), Touched::Address("bucket.b[3]"))
                .is_err(),
            "{n}"
        );
        f.set("");
        let back = open_store(&t.spec, "default")
            .unwrap()
            .read()
            .unwrap()
            .unwrap();
        assert_eq!(back.serial, 4, "{n}");
        assert_eq!(back.resources.len(), 3, "{n}");
        // Timeouts, in a run whose requests time out after 1 s: a journal entry whose
        // answer comes 2.5 s late (it landed), then one held 2.5 s before it fails (it
        // did not); each is tried again, and the run goes on.
        f.set(&format!(
            r#"{{"method": "{w}", "path": "{journal}", "status": null, "delay_ms": 2500, "times": 1, "after": true}}"#
        ));
        f.set(&format!(
            r#"{{"method": "{w}", "path": "{journal}", "status": 503, "delay_ms": 2500, "times": 1}}"#
        ));
        let out = worker(&t.spec, "timeouts", 2)
            .env("MLINFRA_STATE_ATTEMPT_TIMEOUT", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(f.left(), 0, "{n}: both timeouts were met");
        f.set("");
        let back = open_store(&t.spec, "default")
            .unwrap()
            .read()
            .unwrap()
            .unwrap();
        assert_eq!(
            back.resources.len(),
            5,
            "{n}: both steps after the timeouts"
        );
        assert!(store.lock_holder().is_none(), "{n}");
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '-' || c == '_' {
                c.to_string()
            } else {
                format!("\\\\{c}")
            }
        })
        .collect()
}

#[test]
fn encrypted_state_and_journal_read_back_only_with_the_passphrase() {
    use mlinfra_engine::crypto::Codec;
    use mlinfra_state_backends::open_backend;
    let dir = tempfile::tempdir().unwrap();
    for t in targets(dir.path(), "enc") {
        let sealed = |pass: &str, fallback: Option<&str>| {
            StateStore::new(open_backend(&t.spec, "default").unwrap(), "default")
                .with_codec(Codec::new(pass.into(), fallback.map(str::to_string), true))
        };
        let store = sealed("s3cret passphrase", None);
        let mut s = State::new();
        store.write(&mut s, None).unwrap();
        s.resources.insert("bucket.b[0]".into(), resource(0));
        store
            .record(&mut s, Some(1), Touched::Address("bucket.b[0]"))
            .unwrap();
        // Neither the snapshot nor the journal entry holds the state in the clear.
        let raw = store.backend().read().unwrap().unwrap().bytes;
        assert!(
            !String::from_utf8_lossy(&raw).contains(&s.lineage),
            "{}",
            t.name
        );
        for e in store.backend().journal_read(1).unwrap() {
            assert!(
                !String::from_utf8_lossy(&e).contains("bucket-0"),
                "{}",
                t.name
            );
        }
        assert_eq!(
            sealed("s3cret passphrase", None).read().unwrap().unwrap(),
            s
        );
        // A wrong passphrase, or none, is a clear error, never garbage.
        let e = sealed("wrong", None).read().unwrap_err().to_string();
        assert!(
            e.contains("neither the passphrase nor the fallback decrypts it"),
            "{}: {e}",
            t.name
        );
        let plain = open_store(&t.spec, "default").unwrap();
        let e = plain.read().unwrap_err().to_string();
        assert!(e.contains("no `encryption` block"), "{}: {e}", t.name);
        // Rotation: the old passphrase as the fallback reads; the next write is under
        // the new one only.
        let rotated = sealed("new passphrase", Some("s3cret passphrase"));
        let mut r = rotated.read().unwrap().unwrap();
        assert_eq!(r, s);
        let based_on = Some(r.serial);
        rotated.write(&mut r, based_on).unwrap();
        assert!(
            sealed("s3cret passphrase", None).read().is_err(),
            "{}",
            t.name
        );
        assert_eq!(sealed("new passphrase", None).read().unwrap().unwrap(), r);
        // Enforced: plaintext state is refused.
        let other = open_store(&t.spec, "plain").unwrap();
        other.write(&mut State::new(), None).unwrap();
        let enforced = StateStore::new(open_backend(&t.spec, "plain").unwrap(), "plain")
            .with_codec(Codec::new("p".into(), None, true));
        let e = enforced.read().unwrap_err().to_string();
        assert!(e.contains("encryption is enforced"), "{}: {e}", t.name);
    }
}

/// Delete the default workspace's lock object of `t` (s3 or gcs), or break its lease
/// (azurerm), behind the store's back.
fn remove_lock_object(t: &Target) {
    let attr = |name: &str| match t.spec.attributes.get(name) {
        Some(BackendValue::String(s)) => s.clone(),
        _ => panic!("{} has no {name}", t.name),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if t.name == "azurerm" {
        // Another host breaks the lease (`force-unlock`).
        let blob = format!("{AZURE_CONTAINER}/{}.lock", attr("key"));
        let status = azure().unwrap().call(
            "PUT",
            &format!("{blob}?comp=lease"),
            &[
                ("x-ms-lease-action", "break"),
                ("x-ms-lease-break-period", "0"),
            ],
            b"",
        );
        assert_eq!(status, 202, "break lease");
        return;
    }
    rt.block_on(async {
        if t.name == "gcs" {
            let object = format!("{}/default.state.json.lock", attr("prefix")).replace('/', "%2F");
            let r = reqwest::Client::new()
                .delete(format!(
                    "{}/storage/v1/b/{BUCKET}/o/{object}",
                    attr("endpoint")
                ))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            return;
        }
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await;
        let conf = aws_sdk_s3::config::Builder::from(&shared)
            .endpoint_url(attr("endpoint"))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
            .delete_object()
            .bucket(BUCKET)
            .key(format!("{}.lock", attr("key")))
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn a_run_whose_lock_was_removed_writes_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    for t in targets(dir.path(), "lost")
        .into_iter()
        .filter(|t| ["s3", "gcs", "azurerm"].contains(&t.name))
    {
        let (store, mut s) = fresh(&t);
        let lock = store.lock("apply", Duration::ZERO).unwrap();
        s.resources.insert("bucket.b[0]".into(), resource(0));
        store
            .record(&mut s, Some(1), Touched::Address("bucket.b[0]"))
            .unwrap();
        // Another host's `force-unlock` removes the lock object under this run.
        remove_lock_object(&t);
        // The next heartbeat finds it gone; from then on the run writes nothing.
        let start = Instant::now();
        while lock.lost().is_none() && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(lock.lost().is_some(), "the heartbeat saw the lock go");
        s.resources.insert("bucket.b[1]".into(), resource(1));
        let e = store
            .record(&mut s, Some(2), Touched::Address("bucket.b[1]"))
            .unwrap_err();
        assert!(e.to_string().contains("state lock was lost"), "{e}");
        assert!(store.write(&mut s, Some(2)).is_err());
        let back = open_store(&t.spec, "default")
            .unwrap()
            .read()
            .unwrap()
            .unwrap();
        assert_eq!(back.resources.len(), 1, "what was recorded before stays");
    }
}

#[test]
fn a_dropped_database_connection_fails_the_write_cleanly_and_the_journal_replays() {
    let Ok(conn) = std::env::var("MLINFRA_TEST_PG_CONN_STR") else {
        return;
    };
    let tag = unique("drop").replace('-', "_");
    let dir = tempfile::tempdir().unwrap();
    // This test's connections carry their own application name, so that only they are cut.
    let spec = BackendSpec {
        kind: "pg".into(),
        attributes: attrs(&[
            ("conn_str", &format!("{conn} application_name={tag}")),
            ("schema_name", &format!("t_{tag}")),
        ]),
        root_dir: dir.path().to_path_buf(),
        encryption: None,
    };
    let store = open_store(&spec, "default").unwrap();
    let mut s = State::new();
    store.write(&mut s, None).unwrap();
    for i in 0..3 {
        let addr = format!("bucket.b[{i}]");
        s.resources.insert(addr.clone(), resource(i));
        let based_on = Some(s.serial);
        store
            .record(&mut s, based_on, Touched::Address(&addr))
            .unwrap();
    }
    // The server ends this store's connection, as a failover or a network cut would.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cut: i64 = rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&tag],
            )
            .await
            .unwrap()
            .get(0)
    });
    assert!(cut >= 1, "the store's connection was cut");
    s.resources.insert("bucket.b[3]".into(), resource(3));
    let based_on = Some(s.serial);
    let e = store
        .record(&mut s, based_on, Touched::Address("bucket.b[3]"))
        .unwrap_err();
    assert!(e.to_string().contains("pg schema"), "{e}");
    // The next run reads everything recorded before the cut, and goes on.
    let next = open_store(&spec, "default").unwrap();
    let mut r = next.read().unwrap().unwrap();
    assert_eq!(r.resources.len(), 3);
    assert_eq!(r.serial, 4);
    let based_on = Some(r.serial);
    next.write(&mut r, based_on).unwrap();
    assert_eq!(
        open_store(&spec, "default")
            .unwrap()
            .read()
            .unwrap()
            .unwrap(),
        r
    );
}

#[test]
fn a_lease_left_by_a_run_on_another_host_expires_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let Some(t) = targets(dir.path(), "lease")
        .into_iter()
        .find(|t| t.name == "azurerm")
    else {
        return;
    };
    let Some(BackendValue::String(key)) = t.spec.attributes.get("key").cloned() else {
        panic!()
    };
    let (store, _) = fresh(&t);
    // A run on another host took the lease for 15 s, wrote its record, and was killed.
    let az = azure().unwrap();
    let blob = format!("{AZURE_CONTAINER}/{key}.lock");
    let id = "0b7a43c5-8a5e-4b2f-9d51-3f1f0c8e2a61";
    let record = serde_json::json!({
        "id": id, "pid": 4242, "host": "ci-runner-7", "user": "ci", "operation": "apply",
        "created": 1, "path": key, "heartbeat": 1
    })
    .to_string();
    let put = |headers: &[(&str, &str)]| {
        let mut h = vec![("x-ms-blob-type", "BlockBlob")];
        h.extend_from_slice(headers);
        az.call("PUT", &blob, &h, record.as_bytes())
    };
    assert_eq!(put(&[]), 201);
    let leased = az.call(
        "PUT",
        &format!("{blob}?comp=lease"),
        &[
            ("x-ms-lease-action", "acquire"),
            ("x-ms-lease-duration", "15"),
            ("x-ms-proposed-lease-id", id),
        ],
        b"",
    );
    assert_eq!(leased, 201);
    assert_eq!(put(&[("x-ms-lease-id", id)]), 201);
    // While the lease lasts, the state is locked and the holder is named.
    let e = store.lock("apply", Duration::ZERO).unwrap_err().to_string();
    assert!(e.contains("ci-runner-7"), "{e}");
    // Once it expires, the next run takes the lock with no force-unlock, and says whose
    // run never released it.
    let start = Instant::now();
    let lock = store.lock("apply", Duration::from_secs(40)).unwrap();
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(
        lock.abandoned_by.as_ref().map(|h| h.host.as_str()),
        Some("ci-runner-7")
    );
    drop(lock);
    // Released: the next run finds nobody abandoned it.
    let again = store.lock("plan", Duration::ZERO).unwrap();
    assert!(again.abandoned_by.is_none());
}
