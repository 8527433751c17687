//! Apply on Azure against the Azure double (started by ./scripts/test): lifecycle, drift,
//! import, faults, and the provider block's rules.
//!
//! Every test uses a subscription of its own, so tests share one double without seeing
//! each other's resources.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{kill_apply_when, mlinfra_env, pending, recorded, Run};

pub(crate) fn endpoint() -> String {
    std::env::var("MLINFRA_TEST_AZURE_ENDPOINT").expect(
        "MLINFRA_TEST_AZURE_ENDPOINT is not set: run ./scripts/test, which starts the Azure double",
    )
}

pub(crate) fn ca_file() -> String {
    std::env::var("MLINFRA_TEST_AZURE_CA").expect(
        "MLINFRA_TEST_AZURE_CA is not set: run ./scripts/test, which starts the Azure double",
    )
}

/// A subscription id no other test uses.
fn subscription() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        std::process::id(),
        (N.fetch_add(1, Ordering::SeqCst) as u64) << 32 | nanos as u64
    )
}

/// A client secret for the double's token endpoint (which answers any), and nothing of a
/// real login.
pub(crate) const CREDENTIALS: &[(&str, &str)] = &[
    ("AZURE_CLIENT_ID", "mlinfra-tests"),
    ("AZURE_CLIENT_SECRET", "not-a-secret"),
    ("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa"),
    ("AZURE_FEDERATED_TOKEN_FILE", ""),
    ("ARM_CLIENT_SECRET", ""),
];

fn run(dir: &Path, args: &[&str]) -> Run {
    mlinfra_env(dir, args, CREDENTIALS)
}

fn provider_block(sub: &str) -> String {
    format!(
        "provider \"azure\" {{\n  subscription_id = \"{sub}\"\n  location        = \"eastus\"\n  resource_group  = \"ml-test\"\n  endpoint        = \"{e}\"\n  authority_host  = \"{e}\"\n  ca_file         = \"{ca}\"\n}}\n",
        e = endpoint(),
        ca = ca_file()
    )
}

fn write(dir: &Path, sub: &str, body: &str) {
    let text = format!("{}\n{body}", provider_block(sub));
    std::fs::write(dir.join("main.mlinfra.hcl"), text).unwrap();
}

/// One HTTPS call to the double, with a token from its own token endpoint.
fn http(method: &str, path: &str, body: &str) -> (u16, String) {
    https(
        method,
        &format!("{}{path}", endpoint()),
        body,
        "https://management.azure.com/.default",
    )
}

/// The blob at `url` (served by Azurite for the double), read with a storage token.
fn blob(url: &str) -> Option<Vec<u8>> {
    let (code, body) = https("GET", url, "", "https://storage.azure.com/.default");
    (code == 200).then(|| body.into_bytes())
}

/// One HTTPS call to `url`, with a token for `scope` from the double's token endpoint.
pub(crate) fn https(method: &str, url: &str, body: &str, scope: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pem = std::fs::read(ca_file()).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
            .build()
            .unwrap();
        let base = endpoint();
        let token: serde_json::Value = serde_json::from_slice(
            &client
                .post(format!("{base}/tests/oauth2/v2.0/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=client_credentials&client_id=t&client_secret=s&scope={scope}"
                ))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let token = token["access_token"].as_str().unwrap().to_string();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = client
            .request(method, url)
            .bearer_auth(token)
            .header("x-ms-version", "2025-11-05")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    })
}

/// The ids of every resource the double holds in subscription `sub`, lower case.
fn resources(sub: &str) -> Vec<String> {
    let (_, body) = http("GET", "/__double/state", "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let prefix = format!("/subscriptions/{sub}/");
    let mut out: Vec<String> = v["resources"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(id, _)| id.to_ascii_lowercase())
        .filter(|id| id.starts_with(&prefix))
        .map(|id| id[prefix.len()..].to_string())
        .collect();
    out.sort();
    out
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

const STORAGE: &str = "?api-version=2026-04-01";

#[test]
fn azure_buckets_and_registries_apply_replan_clean_update_replace_drift_import_and_destroy() {
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let account = format!("acct{}", &s[..8]);
    let manifest = |registry: &str, sku: &str, tags: &str| {
        format!(
            r#"bucket "models" {{
  cloud           = "azure"
  name            = "models"
  storage_account = "{account}"
  versioning      = true
  force_destroy   = true
  tags            = {tags}
}}

container_registry "images" {{
  cloud = "azure"
  name  = "{registry}"
  sku   = "{sku}"
  tags  = {tags}
}}
"#
        )
    };
    let reg = format!("reg{}", &s[..8]);
    write(d, &s, &manifest(&reg, "Standard", r#"{ env = "dev" }"#));
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    ok(&r);
    assert!(r.stdout.contains("2 added"), "{}", r.stdout);
    let made = resources(&s);
    let group = "resourcegroups/ml-test/providers";
    for want in [
        format!("{group}/microsoft.storage/storageaccounts/{account}"),
        format!("{group}/microsoft.storage/storageaccounts/{account}/blobservices/default/containers/models"),
        format!("{group}/microsoft.containerregistry/registries/{reg}"),
    ] {
        assert!(made.contains(&want), "{want} not in {made:#?}");
    }
    // The account mlinfra made: StorageV2, TLS 1.2, versioning on its blob service.
    let apath = format!("/subscriptions/{s}/resourceGroups/ml-test/providers/Microsoft.Storage/storageAccounts/{account}");
    let (_, a) = http("GET", &format!("{apath}{STORAGE}"), "");
    let a: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(a["kind"], "StorageV2", "{a}");
    assert_eq!(a["properties"]["minimumTlsVersion"], "TLS1_2", "{a}");
    let (_, b) = http("GET", &format!("{apath}/blobServices/default{STORAGE}"), "");
    assert!(b.contains("\"isVersioningEnabled\": true"), "{b}");

    // A plan right after the apply has nothing to do; the registry's URL is its login server.
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = run(
        d,
        &["state", "show", "container_registry.images", "--no-color"],
    );
    ok(&r);
    assert!(
        r.stdout.contains(&format!("{reg}.azurecr.io")),
        "{}",
        r.stdout
    );

    // A new tag and a new sku are changes in place.
    write(
        d,
        &s,
        &manifest(&reg, "Premium", r#"{ env = "dev", team = "fraud" }"#),
    );
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout.contains("0 to add, 2 to change, 0 to destroy"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let rpath = format!("/subscriptions/{s}/resourceGroups/ml-test/providers/Microsoft.ContainerRegistry/registries/{reg}?api-version=2025-11-01");
    let (_, body) = http("GET", &rpath, "");
    assert!(body.contains("\"Premium\""), "{body}");
    assert!(body.contains("\"team\": \"fraud\""), "{body}");
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A new registry name replaces it, and says why.
    let reg2 = format!("{reg}v2");
    write(
        d,
        &s,
        &manifest(&reg2, "Premium", r#"{ env = "dev", team = "fraud" }"#),
    );
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout
            .contains("Azure cannot rename a container registry"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let now = resources(&s);
    assert!(
        now.iter()
            .any(|id| id.ends_with(&format!("/registries/{reg2}"))),
        "{now:#?}"
    );
    assert!(
        !now.iter()
            .any(|id| id.ends_with(&format!("/registries/{reg}"))),
        "{now:#?}"
    );

    // Drift: the container deleted outside mlinfra is planned again.
    let (code, _) = http(
        "DELETE",
        &format!("{apath}/blobServices/default/containers/models{STORAGE}"),
        "",
    );
    assert_eq!(code, 200);
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout.contains("bucket.models has been deleted"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("bucket.models will be created"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));

    // Import: a state without the registry takes it back by its name.
    ok(&run(d, &["state", "rm", "container_registry.images"]));
    ok(&run(
        d,
        &["import", "container_registry.images", &reg2, "--no-color"],
    ));
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Destroy leaves nothing in the subscription: the account mlinfra made goes with its
    // container; the resource group stays (it is the provider's, like a project).
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(resources(&s), Vec::<String>::new());
}

#[test]
fn an_existing_storage_account_is_referenced_and_outlives_its_containers() {
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let account = format!("shared{}", &s[..8]);
    let g = format!("/subscriptions/{s}/resourceGroups/ml-test");
    let (code, body) = http(
        "PUT",
        &format!("{g}?api-version=2024-03-01"),
        r#"{"location":"eastus"}"#,
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = http(
        "PUT",
        &format!("{g}/providers/Microsoft.Storage/storageAccounts/{account}{STORAGE}"),
        r#"{"location":"eastus","sku":{"name":"Standard_GRS"},"kind":"StorageV2","properties":{"accessTier":"Cool"}}"#,
    );
    assert_eq!(code, 202, "{body}");
    write(
        d,
        &s,
        &format!(
            "bucket \"raw\" {{\n  cloud           = \"azure\"\n  name            = \"raw\"\n  storage_account = \"{account}\"\n  storage_class   = \"infrequent\"\n}}\n"
        ),
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Without force_destroy, destroying a container (and its blobs) is refused.
    let r = run(d, &["destroy", "--auto-approve", "--no-color"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("force_destroy = true"), "{}", r.stderr);
    assert!(resources(&s)
        .iter()
        .any(|id| id.ends_with("/containers/raw")));
    write(
        d,
        &s,
        &format!(
            "bucket \"raw\" {{\n  cloud           = \"azure\"\n  name            = \"raw\"\n  storage_account = \"{account}\"\n  storage_class   = \"infrequent\"\n  force_destroy   = true\n}}\n"
        ),
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    let left = resources(&s);
    assert_eq!(
        left,
        vec![format!(
            "resourcegroups/ml-test/providers/microsoft.storage/storageaccounts/{account}"
        )],
        "the account was not mlinfra's, so it stays"
    );
}

#[test]
fn throttling_and_unavailability_from_arm_converge() {
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reg = format!("faults{}", &s[..8]);
    let faults = format!(
        r#"[{{"method":"PUT","path":"/subscriptions/{s}/.*/registries/","status":429,"retry_after":1,"times":2}},
            {{"method":"GET","path":"/subscriptions/{s}/.*/registries/","status":503,"times":2}},
            {{"method":"PUT","path":"/subscriptions/{s}/resourceGroups/ml-test$","status":500,"times":1}}]"#
    );
    let (code, body) = http("POST", "/__double/faults", &faults);
    assert_eq!(code, 200, "{body}");
    write(
        d,
        &s,
        &format!("container_registry \"images\" {{\n  cloud        = \"azure\"\n  name         = \"{reg}\"\n  scan_on_push = false\n}}\n"),
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let (_, body) = http("GET", "/__double/faults", "");
    let hits: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let mine: Vec<&serde_json::Value> = hits
        .iter()
        .filter(|f| f["path"].as_str().is_some_and(|p| p.contains(&s)))
        .collect();
    assert!(
        mine.iter().all(|f| f["hits"] == f["times"]),
        "every fault was met and ridden out: {mine:#?}"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(resources(&s), Vec::<String>::new());
}

#[test]
fn a_failed_long_running_operation_is_an_error_that_names_arms_code() {
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reg = format!("failed{}", &s[..8]);
    let faults = format!(
        r#"{{"method":"PUT","path":"/subscriptions/{s}/.*/registries/","status":400,"code":"QuotaExceeded","message":"registries quota of 0 reached","operation":true,"times":1}}"#
    );
    let (code, body) = http("POST", "/__double/faults", &faults);
    assert_eq!(code, 200, "{body}");
    write(
        d,
        &s,
        &format!("container_registry \"images\" {{\n  cloud        = \"azure\"\n  name         = \"{reg}\"\n  scan_on_push = false\n}}\n"),
    );
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("QuotaExceeded"), "{}", r.stderr);
    assert!(
        r.stderr.contains("registries quota of 0 reached"),
        "{}",
        r.stderr
    );
    // The next apply finds the failed registry and brings it to what is planned.
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(resources(&s), Vec::<String>::new());
}

#[test]
fn azure_names_and_the_provider_block_are_checked_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = subscription();
    let cases: &[(&str, &str)] = &[
        (
            "container_registry \"r\" {\n  cloud = \"azure\"\n  name  = \"acme-prod\"\n}\n",
            "is not a valid Azure Container Registry name",
        ),
        (
            "container_registry \"r\" {\n  cloud          = \"azure\"\n  name           = \"acmeprod\"\n  immutable_tags = true\n}\n",
            "ACR locks tags per repository",
        ),
        (
            "bucket \"b\" {\n  cloud           = \"azure\"\n  name            = \"data\"\n  storage_account = \"Acme-Data\"\n}\n",
            "is not a valid storage account name",
        ),
        (
            "bucket \"b\" {\n  cloud           = \"azure\"\n  name            = \"a--b\"\n  storage_account = \"acmedata\"\n}\n",
            "is not a valid blob container name",
        ),
        (
            "bucket \"b\" {\n  cloud           = \"azure\"\n  name            = \"cold\"\n  storage_account = \"acmedata\"\n  storage_class   = \"archive\"\n}\n",
            "Archive is set per blob",
        ),
    ];
    let before = resources(&s);
    for (body, want) in cases {
        write(d, &s, body);
        let r = run(d, &["plan", "--refresh=false", "--no-color"]);
        assert_ne!(r.code, 0, "{body}\n{}", r.stdout);
        assert!(r.stderr.contains(want), "{body}\n{}", r.stderr);
        assert!(!d.join("mlinfra.state.json").exists());
    }
    // The provider block: a subscription that is not a GUID is refused at configure.
    let text = provider_block(&s).replace(&s, "my-subscription");
    std::fs::write(
        d.join("main.mlinfra.hcl"),
        format!("{text}\ncontainer_registry \"r\" {{\n  cloud = \"azure\"\n  name  = \"acmeprod\"\n  scan_on_push = false\n}}\n"),
    )
    .unwrap();
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("is not a subscription id"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(":1:"),
        "the error points at the block: {}",
        r.stderr
    );
    assert_eq!(resources(&s), before);
}

#[test]
fn without_credentials_configure_says_what_to_set_and_calls_nothing() {
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = format!(
        "{}  use_cli = false\n}}\n\ncontainer_registry \"r\" {{\n  cloud        = \"azure\"\n  name         = \"nocreds{}\"\n  scan_on_push = false\n}}\n",
        provider_block(&s).trim_end().trim_end_matches('}'),
        &s[..8]
    );
    std::fs::write(d.join("main.mlinfra.hcl"), text).unwrap();
    let r = mlinfra_env(
        d,
        &["apply", "--auto-approve", "--no-color"],
        &[
            ("AZURE_CLIENT_ID", ""),
            ("AZURE_CLIENT_SECRET", ""),
            ("AZURE_TENANT_ID", ""),
            ("ARM_CLIENT_ID", ""),
            ("ARM_CLIENT_SECRET", ""),
            ("ARM_TENANT_ID", ""),
            ("AZURE_FEDERATED_TOKEN_FILE", ""),
        ],
    );
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("AZURE_CLIENT_SECRET"), "{}", r.stderr);
    assert!(!r.stderr.contains("not-a-secret"));
    assert_eq!(resources(&s), Vec::<String>::new());
}

const AKS: &str = "?api-version=2026-05-01";

#[test]
fn an_aks_cluster_and_gpu_pools_create_upgrade_one_minor_rescale_replace_drift_import_and_destroy()
{
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = |version: &str, max: u32, gpus: u32, team: &str| {
        format!(
            r#"cluster "train" {{
  cloud              = "azure"
  name               = "train"
  kubernetes_version = "{version}"
  tags               = {{ env = "dev" }}
}}

gpu_pool "mig" {{
  cluster       = cluster.train
  name          = "a100mig"
  accelerator   = "A100-80GB"
  gpus_per_node = 1
  max_nodes     = {max}
  labels        = {{ team = "{team}" }}
  taints        = [{{ key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }}]
  sharing {{
    mode    = "mig"
    profile = "1g.10gb"
  }}
}}

gpu_pool "t4" {{
  cluster       = cluster.train
  name          = "t4spot"
  accelerator   = "T4"
  gpus_per_node = {gpus}
  max_nodes     = 2
  capacity      = "spot"
}}
"#
        )
    };
    write(d, &s, &manifest("1.31", 4, 1, "research"));
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    ok(&r);
    assert!(r.stdout.contains("3 added"), "{}", r.stdout);
    let c = format!("/subscriptions/{s}/resourceGroups/ml-test/providers/Microsoft.ContainerService/managedClusters/train");
    let (_, body) = http("GET", &format!("{c}/agentPools/a100mig{AKS}"), "");
    let pool: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        pool["properties"]["vmSize"], "Standard_NC24ads_A100_v4",
        "{pool}"
    );
    assert_eq!(pool["properties"]["gpuInstanceProfile"], "MIG1g", "{pool}");
    assert_eq!(
        pool["properties"]["nodeTaints"][0], "nvidia.com/gpu=present:NoSchedule",
        "{pool}"
    );
    assert_eq!(pool["properties"]["minCount"], 0, "{pool}");
    let (_, body) = http("GET", &format!("{c}/agentPools/t4spot{AKS}"), "");
    let spot: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(spot["properties"]["scaleSetPriority"], "Spot", "{spot}");
    assert_eq!(
        spot["properties"]["vmSize"], "Standard_NC4as_T4_v3",
        "{spot}"
    );
    let (_, body) = http("GET", &format!("{c}{AKS}"), "");
    let cl: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        cl["properties"]["oidcIssuerProfile"]["enabled"], true,
        "{cl}"
    );
    assert_eq!(
        cl["properties"]["securityProfile"]["workloadIdentity"]["enabled"], true,
        "{cl}"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Autoscaling bounds and labels change in place; a two-minor jump is refused offline.
    write(d, &s, &manifest("1.33", 4, 1, "research"));
    let r = run(d, &["plan", "--refresh=false", "--no-color"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("one minor version at a time"),
        "{}",
        r.stderr
    );
    write(d, &s, &manifest("1.32", 8, 1, "fraud"));
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout.contains("0 to add, 2 to change, 0 to destroy"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let (_, body) = http("GET", &format!("{c}/agentPools/a100mig{AKS}"), "");
    let pool: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(pool["properties"]["maxCount"], 8, "{pool}");
    assert_eq!(pool["properties"]["nodeLabels"]["team"], "fraud", "{pool}");
    // The upgrade moved the control plane and every pool behind it.
    assert_eq!(pool["properties"]["orchestratorVersion"], "1.32", "{pool}");
    let (_, body) = http("GET", &format!("{c}/agentPools/system{AKS}"), "");
    assert!(body.contains("\"orchestratorVersion\": \"1.32\""), "{body}");
    let (_, body) = http("GET", &format!("{c}/agentPools/t4spot{AKS}"), "");
    assert!(body.contains("\"orchestratorVersion\": \"1.32\""), "{body}");
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A new GPU count is a new VM size, which AKS fixes at creation: the pool is rotated
    // in place through a temporary pool, and the plan says so.
    write(d, &s, &manifest("1.32", 8, 4, "fraud"));
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout.contains("gpu_pool.t4 will be updated in-place"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("rotated in place"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("AKS cannot change an agent pool's VM size in place: a temporary pool"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let (_, body) = http("GET", &format!("{c}/agentPools/t4spot{AKS}"), "");
    assert!(body.contains("Standard_NC64as_T4_v3"), "{body}");
    // Throughout the rotation a T4 pool served: after every pool operation on the cluster,
    // t4spot or its temporary pool was provisioned.
    let (_, state) = http("GET", "/__double/state", "");
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let history = state["poolHistory"][c.to_ascii_lowercase()]
        .as_array()
        .unwrap()
        .clone();
    let first = history
        .iter()
        .position(|h| h.as_array().unwrap().iter().any(|p| p == "t4spot"))
        .unwrap();
    for h in &history[first..] {
        let serving: Vec<&str> = h
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str())
            .collect();
        assert!(
            serving.iter().any(|p| p.starts_with("t4spot")),
            "a moment with no T4 pool: {history:?}"
        );
    }
    assert!(
        history.iter().any(|h| h.as_array().unwrap().len() == 4),
        "the temporary pool served beside the old one: {history:?}"
    );
    assert_eq!(
        resources(&s)
            .iter()
            .filter(|id| id.contains("/agentpools/"))
            .count(),
        3,
        "system, a100mig and t4spot; the temporary pool is gone"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Drift: a pool deleted outside mlinfra is planned again.
    let (code, _) = http("DELETE", &format!("{c}/agentPools/t4spot{AKS}"), "");
    assert_eq!(code, 202);
    let (_, _) = http("POST", "/__double/operations/complete", "");
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout.contains("gpu_pool.t4 has been deleted"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));

    // Import: a pool taken back by CLUSTER/POOL plans clean.
    ok(&run(d, &["state", "rm", "gpu_pool.mig"]));
    ok(&run(
        d,
        &["import", "gpu_pool.mig", "train/a100mig", "--no-color"],
    ));
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(resources(&s), Vec::<String>::new());
}

#[test]
fn aks_rules_are_checked_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = subscription();
    let cluster = "cluster \"train\" {\n  cloud = \"azure\"\n}\n";
    let cases: &[(&str, &str)] = &[
        (
            "gpu_pool \"p\" {\n  cluster = cluster.train\n  name = \"h100-spot\"\n  accelerator = \"H100\"\n  gpus_per_node = 8\n  max_nodes = 2\n}\n",
            "is not a valid AKS agent pool name",
        ),
        (
            "gpu_pool \"p\" {\n  cluster = cluster.train\n  name = \"l4\"\n  accelerator = \"T4\"\n  gpus_per_node = 1\n  max_nodes = 2\n  sharing {\n    mode = \"mps\"\n    replicas = 4\n  }\n}\n",
            "not offered on AKS",
        ),
        (
            "gpu_pool \"p\" {\n  cluster = cluster.train\n  name = \"res\"\n  accelerator = \"T4\"\n  gpus_per_node = 1\n  max_nodes = 2\n  capacity = \"reserved\"\n}\n",
            "capacity reservation group",
        ),
        (
            "gpu_pool \"p\" {\n  cluster = cluster.train\n  name = \"mig\"\n  accelerator = \"T4\"\n  gpus_per_node = 1\n  max_nodes = 2\n  sharing {\n    mode = \"mig\"\n    profile = \"1g.5gb\"\n  }\n}\n",
            "MIG on AKS needs A100 or H100",
        ),
    ];
    for (body, want) in cases {
        write(d, &s, &format!("{cluster}\n{body}"));
        let r = run(d, &["plan", "--refresh=false", "--no-color"]);
        assert_ne!(r.code, 0, "{body}\n{}", r.stdout);
        assert!(r.stderr.contains(want), "{body}\n{}", r.stderr);
    }
    assert_eq!(resources(&s), Vec::<String>::new());
}

#[test]
fn an_azure_apply_killed_at_four_instants_leaves_no_orphan_and_no_duplicate() {
    let n = 30;
    // Kill with nothing recorded yet, early, midway and late.
    for (round, at) in [0usize, 4, 15, 26].into_iter().enumerate() {
        let s = subscription();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let prefix = format!("k{}{round}", &s[..8]);
        write(
            d,
            &s,
            &format!("container_registry \"r\" {{\n  count = {n}\n  cloud = \"azure\"\n  name  = \"{prefix}x${{count.index}}\"\n}}\n"),
        );
        // Each registry PUT answers 40 ms late, so the apply is still going when it is killed.
        let (code, _) = http(
            "POST",
            "/__double/faults",
            &format!(
                r#"{{"method": "PUT", "path": "/subscriptions/{s}/.*/registries/", "latency_ms": 40, "times": {n}}}"#
            ),
        );
        assert_eq!(code, 200);
        kill_apply_when(d, CREDENTIALS, || {
            d.join("mlinfra.state.json.lock").exists()
                && (recorded(d) >= at && (at > 0 || pending(d)))
        });
        let r = run(d, &["apply", "--auto-approve", "--no-color"]);
        assert_eq!(r.code, 0, "round {round}: {}\n{}", r.stdout, r.stderr);
        let mut want: Vec<String> = (0..n)
            .map(|i| format!("resourcegroups/ml-test/providers/microsoft.containerregistry/registries/{prefix}x{i}"))
            .collect();
        want.sort();
        assert_eq!(
            resources(&s),
            want,
            "round {round}: the live registries are the manifest's, once each"
        );
        assert_eq!(
            recorded(d),
            n,
            "round {round}: every registry is in state once"
        );
        assert!(!pending(d), "round {round}: no intent left");
        let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
        assert_eq!(r.code, 0, "round {round}: {}\n{}", r.stdout, r.stderr);
        ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
        assert_eq!(resources(&s), Vec::<String>::new(), "round {round}");
    }
}

#[test]
fn an_azure_ml_registry_adds_regions_and_changes_its_description_in_place_and_destroys() {
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = |description: &str, regions: &str| {
        format!("model_registry \"fraud\" {{\n  cloud       = \"azure\"\n  name        = \"fraud-models\"\n  description = \"{description}\"\n  {regions}\n  tags        = {{ env = \"dev\" }}\n}}\n")
    };
    write(d, &s, &manifest("Fraud scoring models", ""));
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let path = format!("/subscriptions/{s}/resourceGroups/ml-test/providers/Microsoft.MachineLearningServices/registries/fraud-models?api-version=2026-05-01");
    let (_, body) = http("GET", &path, "");
    let reg: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        reg["properties"]["regionDetails"][0]["location"], "eastus",
        "{reg}"
    );
    assert_eq!(reg["tags"]["description"], "Fraud scoring models", "{reg}");
    assert_eq!(reg["identity"]["type"], "SystemAssigned", "{reg}");
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A new description and a second region are changes in place.
    write(
        d,
        &s,
        &manifest("Fraud models, v2", "regions = [\"eastus\", \"westeurope\"]"),
    );
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout
            .contains("model_registry.fraud will be updated in-place"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let (_, body) = http("GET", &path, "");
    assert!(
        body.contains("westeurope") && body.contains("Fraud models, v2"),
        "{body}"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A registry cannot leave a region: refused at plan time.
    write(
        d,
        &s,
        &manifest("Fraud models, v2", "regions = [\"eastus\"]"),
    );
    let r = run(d, &["plan", "--no-color"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("cannot leave a region (westeurope)"),
        "{}",
        r.stderr
    );

    // Import by name plans clean.
    write(
        d,
        &s,
        &manifest("Fraud models, v2", "regions = [\"eastus\", \"westeurope\"]"),
    );
    ok(&run(d, &["state", "rm", "model_registry.fraud"]));
    ok(&run(
        d,
        &[
            "import",
            "model_registry.fraud",
            "fraud-models",
            "--no-color",
        ],
    ));
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(resources(&s), Vec::<String>::new());
}

#[test]
fn an_azure_ml_endpoint_rolls_a_new_image_out_blue_green_and_never_goes_without_traffic() {
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = |tag: &str, count: u32| {
        format!(
            r#"endpoint "scorer" {{
  cloud    = "azure"
  name     = "fraud-scorer"
  model    = {{ image = "acme.azurecr.io/scorer:{tag}", artifact = "https://acme.blob.core.windows.net/models/fraud.tar.gz" }}
  instance = {{ type = "Standard_DS3_v2", count = {count} }}
  tags     = {{ env = "dev" }}

  environment_wo = {{ HF_TOKEN = "hf_azure_secret" }}
  rollout {{
    strategy       = "canary"
    canary_percent = 10
    bake_minutes   = 0
  }}
}}
"#
        )
    };
    write(d, &s, &manifest("3", 2));
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    ok(&r);
    let ws = format!("/subscriptions/{s}/resourceGroups/ml-test/providers/Microsoft.MachineLearningServices/workspaces/mlinfra");
    let ep = format!("{ws}/onlineEndpoints/fraud-scorer");
    let api = "?api-version=2026-05-01";
    let (_, body) = http("GET", &format!("{ep}{api}"), "");
    let e: serde_json::Value = serde_json::from_str(&body).unwrap();
    let traffic = e["properties"]["traffic"].as_object().unwrap().clone();
    assert_eq!(traffic.len(), 1, "{e}");
    let first = traffic.keys().next().unwrap().clone();
    assert_eq!(traffic[&first], 100, "{e}");
    let r = run(d, &["state", "show", "endpoint.scorer", "--no-color"]);
    assert!(
        r.stdout
            .contains("https://fraud-scorer.eastus.inference.ml.azure.com/score"),
        "{}",
        r.stdout
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // The write-only variable is in the deployment, never in the state.
    let secret_of = |dep: &str| -> serde_json::Value {
        let (_, body) = http("GET", &format!("{ep}/deployments/{dep}{api}"), "");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["properties"]["environmentVariables"]["HF_TOKEN"].clone()
    };
    assert_eq!(secret_of(&first), "hf_azure_secret");
    let stored = std::fs::read_to_string(d.join("mlinfra.state.json")).unwrap();
    assert!(!stored.contains("hf_azure"), "{stored}");

    // The instance count changes in place: same deployment, new capacity, and the
    // deployment written again keeps its secret variable.
    write(d, &s, &manifest("3", 3));
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let (_, body) = http("GET", &format!("{ep}/deployments/{first}{api}"), "");
    assert!(body.contains("\"capacity\": 3"), "{body}");
    assert_eq!(secret_of(&first), "hf_azure_secret");
    let stored = std::fs::read_to_string(d.join("mlinfra.state.json")).unwrap();
    assert!(!stored.contains("hf_azure"), "{stored}");

    // A new image is a new deployment beside the old one, with a canary first.
    write(d, &s, &manifest("4", 3));
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let (_, body) = http("GET", &format!("{ep}{api}"), "");
    let e: serde_json::Value = serde_json::from_str(&body).unwrap();
    let traffic = e["properties"]["traffic"].as_object().unwrap().clone();
    let second = traffic.keys().next().unwrap().clone();
    assert_ne!(second, first);
    assert_eq!(traffic.len(), 1, "the old deployment is gone: {e}");
    let (code, _) = http("GET", &format!("{ep}/deployments/{first}{api}"), "");
    assert_eq!(code, 404);
    // Every traffic split the endpoint was given sent all its traffic somewhere, and the
    // canary came before the switch.
    let (_, state) = http("GET", "/__double/state", "");
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let history = state["trafficHistory"][ep.to_ascii_lowercase()]
        .as_array()
        .unwrap()
        .clone();
    let splits: Vec<serde_json::Map<String, serde_json::Value>> = history
        .iter()
        .map(|t| t.as_object().unwrap().clone())
        .filter(|t| !t.is_empty())
        .collect();
    for t in &splits {
        let sum: i64 = t.values().map(|v| v.as_i64().unwrap()).sum();
        assert_eq!(sum, 100, "a split without all traffic: {history:?}");
    }
    assert!(
        splits
            .iter()
            .any(|t| t.get(&second).and_then(|v| v.as_i64()) == Some(10)
                && t.get(&first).and_then(|v| v.as_i64()) == Some(90)),
        "the canary: {history:?}"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Autoscaling: an Azure Monitor autoscale setting on the serving deployment.
    let scaled = |tag: &str, bounds: &str| {
        manifest(tag, 3).replace(
            "  rollout {",
            &format!("  autoscaling {{\n{bounds}\n  }}\n  rollout {{"),
        )
    };
    let insights = format!(
        "/subscriptions/{s}/resourceGroups/ml-test/providers/Microsoft.Insights/autoscalesettings"
    );
    let aapi = "?api-version=2022-10-01";
    let setting = |dep: &str| -> Option<serde_json::Value> {
        let (code, body) = http("GET", &format!("{insights}/fraud-scorer-{dep}{aapi}"), "");
        (code == 200).then(|| serde_json::from_str(&body).unwrap())
    };
    // Bounds the service refuses are refused by the plan, before any call.
    write(d, &s, &scaled("4", "    min = 0\n    max = 4"));
    let r = run(d, &["plan", "--no-color"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("keeps at least 1 instance"),
        "{}",
        r.stderr
    );
    write(
        d,
        &s,
        &scaled(
            "4",
            "    min = 1\n    max = 4\n    target_invocations_per_instance = 100",
        ),
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let a = setting(&second).expect("the deployment's autoscale setting");
    let prof = &a["properties"]["profiles"][0];
    assert_eq!(
        prof["capacity"],
        serde_json::json!({"minimum": "1", "maximum": "4", "default": "3"}),
        "{a}"
    );
    assert_eq!(a["properties"]["enabled"], true, "{a}");
    assert!(a["properties"]["targetResourceUri"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/deployments/{second}")));
    assert_eq!(prof["rules"][0]["metricTrigger"]["threshold"], 100.0, "{a}");
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The bounds change in place.
    let wider = scaled(
        "4",
        "    min = 1\n    max = 6\n    target_invocations_per_instance = 100",
    );
    write(d, &s, &wider);
    let r = run(d, &["plan", "--no-color"]);
    assert!(
        r.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    assert_eq!(
        setting(&second).unwrap()["properties"]["profiles"][0]["capacity"]["maximum"],
        "6"
    );
    // A setting deleted behind mlinfra's back is drift, and the next apply puts it back.
    let (code, _) = http(
        "DELETE",
        &format!("{insights}/fraud-scorer-{second}{aapi}"),
        "",
    );
    assert_eq!(code, 200);
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("autoscaling"), "{}", r.stdout);
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    assert!(setting(&second).is_some());
    // A new image under autoscaling: the new deployment has its own setting before it
    // takes traffic, and the old one's goes with it.
    write(
        d,
        &s,
        &scaled(
            "5",
            "    min = 1\n    max = 6\n    target_invocations_per_instance = 100",
        ),
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let (_, body) = http("GET", &format!("{ep}{api}"), "");
    let e: serde_json::Value = serde_json::from_str(&body).unwrap();
    let third = e["properties"]["traffic"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    assert_ne!(third, second);
    assert!(setting(&third).is_some());
    assert!(
        setting(&second).is_none(),
        "the old deployment's setting is gone"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Without the block, the setting goes and the count is instance.count again.
    write(d, &s, &manifest("5", 2));
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    assert!(setting(&third).is_none());
    let (_, body) = http("GET", &format!("{ep}/deployments/{third}{api}"), "");
    assert!(body.contains("\"capacity\": 2"), "{body}");
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Import by name plans clean; destroy leaves the workspace (the provider's) and nothing else.
    write(d, &s, &manifest("5", 2));
    ok(&run(d, &["state", "rm", "endpoint.scorer"]));
    ok(&run(
        d,
        &["import", "endpoint.scorer", "fraud-scorer", "--no-color"],
    ));
    // The rollout is mlinfra's, not the endpoint's: the plan after an import adds it back
    // to the state, and changes nothing on Azure.
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("~ model"), "{}", r.stdout);
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    let left: Vec<String> = resources(&s)
        .into_iter()
        .filter(|id| !id.ends_with("/workspaces/mlinfra") && !id.contains("/storageaccounts/mlws"))
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

#[test]
fn an_aks_pool_create_killed_while_arm_works_on_it_is_adopted_by_its_handle() {
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        &s,
        "cluster \"train\" {\n  cloud = \"azure\"\n}\n\ngpu_pool \"t4\" {\n  cluster       = cluster.train\n  name          = \"t4\"\n  accelerator   = \"T4\"\n  gpus_per_node = 1\n  max_nodes     = 2\n}\n",
    );
    // The pool PUT answers 1.5 s late: the run is killed while ARM has the request.
    let (code, _) = http(
        "POST",
        "/__double/faults",
        &format!(
            r#"{{"method": "PUT", "path": "/subscriptions/{s}/.*/agentPools/t4", "latency_ms": 1500}}"#
        ),
    );
    assert_eq!(code, 200);
    kill_apply_when(d, CREDENTIALS, || recorded(d) >= 1 && pending(d));
    assert!(pending(d), "the pool's intent was recorded before the call");
    std::thread::sleep(std::time::Duration::from_millis(1800));
    let r = run(d, &["apply", "--auto-approve", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let pools: Vec<String> = resources(&s)
        .into_iter()
        .filter(|id| id.contains("/agentpools/"))
        .map(|id| id.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(pools, vec!["system", "t4"], "one GPU pool, not two");
    assert!(!pending(d));
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(resources(&s), Vec::<String>::new());
}

#[test]
fn a_gpu_pool_rotation_killed_at_three_instants_is_finished_by_the_next_apply() {
    let manifest = |gpus: u32| {
        format!("cluster \"train\" {{\n  cloud = \"azure\"\n}}\n\ngpu_pool \"t4\" {{\n  cluster       = cluster.train\n  name          = \"t4pool\"\n  accelerator   = \"T4\"\n  gpus_per_node = {gpus}\n  max_nodes     = 2\n}}\n")
    };
    let pools = |s: &str| -> Vec<String> {
        resources(s)
            .into_iter()
            .filter(|id| id.contains("/agentpools/"))
            .map(|id| id.rsplit('/').next().unwrap().to_string())
            .collect()
    };
    // Killed with the temporary pool made; with the pool deleted; with the pool remade.
    for round in 0..3 {
        let s = subscription();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, &s, &manifest(1));
        ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
        // Every pool call answers 300 ms late, so each step can be caught.
        let (code, _) = http(
            "POST",
            "/__double/faults",
            &format!(
                r#"{{"path": "/subscriptions/{s}/.*/agentPools/", "latency_ms": 300, "times": null}}"#
            ),
        );
        assert_eq!(code, 200);
        write(d, &s, &manifest(4));
        let temp = "t4poolr".to_string();
        kill_apply_when(d, CREDENTIALS, || {
            let now = pools(&s);
            let has_temp = now.iter().any(|p| p.starts_with(&temp));
            let has_pool = now.iter().any(|p| p == "t4pool");
            match round {
                0 => has_temp,
                1 => has_temp && !has_pool,
                _ => {
                    has_temp
                        && has_pool
                        && {
                            let (_, b) = http(
                            "GET",
                            &format!("/subscriptions/{s}/resourceGroups/ml-test/providers/Microsoft.ContainerService/managedClusters/train/agentPools/t4pool{AKS}"),
                            "",
                        );
                            b.contains("Standard_NC64as_T4_v3")
                        }
                }
            }
        });
        let r = run(d, &["apply", "--auto-approve", "--no-color"]);
        assert_eq!(r.code, 0, "round {round}: {}\n{}", r.stdout, r.stderr);
        assert_eq!(
            pools(&s),
            vec!["system", "t4pool"],
            "round {round}: the pool, and no temporary pool"
        );
        let (_, b) = http(
            "GET",
            &format!("/subscriptions/{s}/resourceGroups/ml-test/providers/Microsoft.ContainerService/managedClusters/train/agentPools/t4pool{AKS}"),
            "",
        );
        assert!(b.contains("Standard_NC64as_T4_v3"), "round {round}: {b}");
        let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
        assert_eq!(r.code, 0, "round {round}: {}\n{}", r.stdout, r.stderr);
        ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
        assert_eq!(resources(&s), Vec::<String>::new(), "round {round}");
    }
}

#[test]
fn workload_identity_from_a_federated_token_file_is_used_when_there_is_no_secret() {
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // What AKS workload identity or a CI system's OIDC step writes: a signed JWT. The
    // double's token endpoint takes any assertion; the real credential code sends it.
    let token = d.join("federated-token");
    std::fs::write(
        &token,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtbGluZnJhIn0.c2lnbmF0dXJl",
    )
    .unwrap();
    write(
        d,
        &s,
        &format!(
            "container_registry \"r\" {{\n  cloud = \"azure\"\n  name  = \"wid{}\"\n}}\n",
            &s[..8]
        ),
    );
    let env = [
        ("AZURE_CLIENT_SECRET", ""),
        ("ARM_CLIENT_SECRET", ""),
        ("AZURE_CLIENT_ID", "mlinfra-ci"),
        ("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa"),
        ("AZURE_FEDERATED_TOKEN_FILE", token.to_str().unwrap()),
    ];
    let r = mlinfra_env(d, &["apply", "--auto-approve", "--no-color"], &env);
    ok(&r);
    let (_, state) = http("GET", "/__double/state", "");
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert!(
        state["tokenRequests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["clientId"] == "mlinfra-ci" && t["method"] == "assertion"),
        "the token was asked for with the federated assertion: {}",
        state["tokenRequests"]
    );
    assert!(
        resources(&s)
            .iter()
            .any(|id| id.ends_with(&format!("/registries/wid{}", &s[..8]))),
        "{:?}",
        resources(&s)
    );
    let r = mlinfra_env(d, &["destroy", "--auto-approve", "--no-color"], &env);
    ok(&r);
    assert_eq!(resources(&s), Vec::<String>::new());
}

#[test]
fn the_quickstart_applies_replans_clean_and_destroys_on_three_local_clouds() {
    let aws = std::env::var("MLINFRA_TEST_AWS_ENDPOINT")
        .expect("MLINFRA_TEST_AWS_ENDPOINT is not set: run ./scripts/test, which starts moto");
    let gcp = std::env::var("MLINFRA_TEST_GCP_ENDPOINT").expect(
        "MLINFRA_TEST_GCP_ENDPOINT is not set: run ./scripts/test, which starts the GCP double",
    );
    let s = subscription();
    let project = format!("qs{}", &s[..8]);
    let dir = crate::copy_to_temp(&crate::repo().join("examples/quickstart"));
    let d = dir.path();
    let _ = std::fs::remove_file(d.join("mlinfra.state.json"));
    let main = d.join("main.mlinfra.hcl");
    let mut text = std::fs::read_to_string(&main).unwrap();
    for (from, to) in [
        (
            "provider \"aws\" {\n  region = \"us-east-1\"\n}".to_string(),
            format!("provider \"aws\" {{\n  region   = \"us-east-1\"\n  endpoint = \"{aws}\"\n}}"),
        ),
        (
            "provider \"gcp\" {\n  project = \"acme-ml\"\n  region  = \"us-central1\"\n}".to_string(),
            format!("provider \"gcp\" {{\n  project  = \"{project}\"\n  region   = \"us-central1\"\n  endpoint = \"{gcp}\"\n}}"),
        ),
        (
            "provider \"azure\" {\n  subscription_id = \"00000000-0000-0000-0000-000000000000\"\n  location        = \"eastus\"\n  resource_group  = \"ml-serving\"\n}".to_string(),
            provider_block(&s).replace("ml-test", "ml-serving").trim_end().to_string(),
        ),
    ] {
        assert!(text.contains(&from), "the quickstart's provider block changed: {from}");
        text = text.replace(&from, &to);
    }
    std::fs::write(&main, text).unwrap();
    let env: &[(&str, &str)] = &[
        ("AZURE_CLIENT_ID", "mlinfra-tests"),
        ("AZURE_CLIENT_SECRET", "not-a-secret"),
        ("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa"),
        ("AZURE_FEDERATED_TOKEN_FILE", ""),
        ("GOOGLE_APPLICATION_CREDENTIALS", ""),
    ];
    let r = mlinfra_env(d, &["apply", "--auto-approve", "--no-color"], env);
    ok(&r);
    assert!(r.stdout.contains("Resources: 11 added"), "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "endpoint_url = \"https://fraud-scorer.eastus.inference.ml.azure.com/score\""
        ),
        "{}",
        r.stdout
    );
    // The endpoint's autoscaling block is an autoscale setting on its deployment.
    let scaled: Vec<String> = resources(&s)
        .into_iter()
        .filter(|id| id.contains("/microsoft.insights/autoscalesettings/fraud-scorer-d"))
        .collect();
    assert_eq!(scaled.len(), 1, "{scaled:?}");
    let r = mlinfra_env(d, &["plan", "--detailed-exitcode", "--no-color"], env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = mlinfra_env(d, &["destroy", "--auto-approve", "--no-color"], env);
    ok(&r);
    assert!(r.stdout.contains("11 destroyed"), "{}", r.stdout);
    // What stays on Azure is the provider's: the ML workspace and its storage account.
    let left: Vec<String> = resources(&s)
        .into_iter()
        .filter(|id| !id.ends_with("/workspaces/mlinfra") && !id.contains("/storageaccounts/mlws"))
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

/// A storage account whose blob data the double serves through Azurite (`./scripts/test`
/// names them in MLINFRA_TEST_AZURE_BLOB_ACCOUNTS; the conformance suite takes the first).
fn blob_account(i: usize) -> String {
    std::env::var("MLINFRA_TEST_AZURE_BLOB_ACCOUNTS")
        .expect("MLINFRA_TEST_AZURE_BLOB_ACCOUNTS is not set: run ./scripts/test, which starts the Azure double with Azurite")
        .split(',')
        .nth(i)
        .expect("MLINFRA_TEST_AZURE_BLOB_ACCOUNTS names too few accounts")
        .to_string()
}

fn feature_store_manifest(account: &str, groups: &str) -> String {
    format!(
        r#"bucket "offline" {{
  cloud           = "azure"
  name            = "offline"
  storage_account = "{account}"
  force_destroy   = true
}}

feature_store "fraud" {{
  cloud = "azure"
  name  = "fraud-features"
  offline {{
    bucket = bucket.offline.id
  }}
  online {{
    enabled = false
  }}
  tags = {{ team = "fraud" }}
{groups}}}
"#
    )
}

fn group(label: &str, features: &[(&str, &str)]) -> String {
    let f: Vec<String> = features
        .iter()
        .map(|(k, v)| format!("      {k} = \"{v}\""))
        .collect();
    format!(
        "  feature_group \"{label}\" {{\n    record_id  = \"account_id\"\n    event_time = \"ts\"\n    features = {{\n      account_id = \"string\"\n      ts = \"string\"\n{}\n    }}\n  }}\n",
        f.join("\n")
    )
}

/// The version names of feature set `label` in the store, in order.
fn featureset_versions(sub: &str, label: &str) -> Vec<String> {
    let mut v: Vec<String> = resources(sub)
        .into_iter()
        .filter_map(|id| {
            id.strip_prefix(&format!(
                "resourcegroups/ml-test/providers/microsoft.machinelearningservices/workspaces/fraud-features/featuresets/{label}/versions/"
            ))
            .filter(|rest| !rest.contains('/'))
            .map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn an_azure_feature_store_adds_a_feature_as_a_new_version_drifts_imports_and_destroys() {
    let s = subscription();
    let account = blob_account(1);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let two = format!(
        "{}{}",
        group("transactions", &[("amount", "float")]),
        group("profiles", &[("age_days", "int")])
    );
    write(d, &s, &feature_store_manifest(&account, &two));
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    assert_eq!(featureset_versions(&s, "transactions"), ["1"]);
    assert_eq!(featureset_versions(&s, "profiles"), ["1"]);
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // The specification mlinfra wrote is one Microsoft's own loader reads.
    let ws = format!("/subscriptions/{s}/resourceGroups/ml-test/providers/Microsoft.MachineLearningServices/workspaces/fraud-features");
    let api = "?api-version=2026-05-01";
    let (_, body) = http(
        "GET",
        &format!("{ws}/featuresets/transactions/versions/1{api}"),
        "",
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let folder = v["properties"]["specification"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        folder.contains(&format!(
            "/{account}/offline/features/featuresets/transactions/1"
        )),
        "{folder}"
    );
    let spec = blob(&format!("{folder}/FeatureSetSpec.yaml")).expect("the specification blob");
    let file = d.join("FeatureSetSpec.yaml");
    std::fs::write(&file, &spec).unwrap();
    let python = std::env::var("MLINFRA_TEST_AZURE_CHECK_PYTHON").expect(
        "MLINFRA_TEST_AZURE_CHECK_PYTHON is not set: run ./scripts/test, which installs azure-ai-ml",
    );
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import sys\nfrom azure.ai.ml.entities._feature_set.featureset_spec_metadata import FeaturesetSpecMetadata as M\nm = M.load(sys.argv[1])\nprint(m.source.type, m.source.timestamp_column.name, [(f.name, f.data_type) for f in m.features], [(c.name, c.type.value) for c in m.index_columns])",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        said.trim(),
        "parquet ts [('amount', 'double')] [('account_id', 'string')]"
    );

    // A feature added: a new version beside the last, and the plan says so.
    let more = format!(
        "{}{}",
        group("transactions", &[("amount", "float"), ("count_7d", "int")]),
        group("profiles", &[("age_days", "int")])
    );
    write(d, &s, &feature_store_manifest(&account, &more));
    let r = run(d, &["plan", "--no-color"]);
    ok(&r);
    assert!(
        r.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("feature set transactions gets a new version beside the last"),
        "{}",
        r.stdout
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    assert_eq!(featureset_versions(&s, "transactions"), ["1", "2"]);
    assert_eq!(
        featureset_versions(&s, "profiles"),
        ["1"],
        "the other group is untouched"
    );
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A version deleted outside mlinfra is drift: the plan shows the feature it took away,
    // and the apply writes the next version.
    let (code, _) = http(
        "DELETE",
        &format!("{ws}/featuresets/transactions/versions/2{api}"),
        "",
    );
    assert!(code == 200 || code == 202, "{code}");
    let (_, _) = http("POST", "/__double/operations/complete", "");
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("+ count_7d"), "{}", r.stdout);
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    assert_eq!(featureset_versions(&s, "transactions"), ["1", "2"]);
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A group taken out: its feature set goes, with its specifications.
    let (_, body) = http(
        "GET",
        &format!("{ws}/featuresets/profiles/versions/1{api}"),
        "",
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let profiles = v["properties"]["specification"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    write(
        d,
        &s,
        &feature_store_manifest(
            &account,
            &group("transactions", &[("amount", "float"), ("count_7d", "int")]),
        ),
    );
    ok(&run(d, &["apply", "--auto-approve", "--no-color"]));
    assert_eq!(featureset_versions(&s, "profiles"), Vec::<String>::new());
    assert!(blob(&format!("{profiles}/FeatureSetSpec.yaml")).is_none());

    // Import by name plans clean.
    ok(&run(d, &["state", "rm", "feature_store.fraud"]));
    ok(&run(
        d,
        &[
            "import",
            "feature_store.fraud",
            "fraud-features",
            "--no-color",
        ],
    ));
    let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Destroy leaves nothing: the store, its specifications, the container and the account
    // mlinfra made for it.
    ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
    assert_eq!(resources(&s), Vec::<String>::new());
    assert!(blob(&format!("{folder}/FeatureSetSpec.yaml")).is_none());
}

#[test]
fn azure_feature_store_rules_are_checked_before_any_call() {
    let s = subscription();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let account = blob_account(2);
    let base = feature_store_manifest(&account, &group("transactions", &[("amount", "float")]));
    for (from, to, says) in [
        (
            "    enabled = false",
            "    enabled = true",
            "add online { enabled = false }",
        ),
        (
            "bucket = bucket.offline.id",
            "bucket = \"offline\"",
            "bucket.NAME.id",
        ),
        (
            "amount = \"float\"",
            "amount = \"vector\"",
            "Azure ML does not have",
        ),
        (
            "      amount = \"float\"\n",
            "",
            "no feature besides record_id and event_time",
        ),
        (
            "name  = \"fraud-features\"",
            "name  = \"-fraud\"",
            "not a valid Azure ML feature store name",
        ),
    ] {
        assert!(base.contains(from), "{from}");
        write(d, &s, &base.replace(from, to));
        let r = run(d, &["plan", "--no-color"]);
        assert_ne!(r.code, 0, "{to}: {}", r.stdout);
        assert!(r.stderr.contains(says), "{to}: {}", r.stderr);
        assert!(r.stderr.contains("main.mlinfra.hcl:"), "{}", r.stderr);
    }
    assert_eq!(resources(&s), Vec::<String>::new(), "nothing was called");
    assert!(
        !d.join("mlinfra.state.json").exists(),
        "nothing was written"
    );
}

#[test]
fn an_azure_feature_store_create_killed_at_two_instants_converges_with_one_version_per_group() {
    let account = blob_account(3);
    for (round, wait_for) in [
        "workspaces/fraud-features",
        "workspaces/fraud-features/featurestoreentities/account_id/versions/1",
    ]
    .into_iter()
    .enumerate()
    {
        let s = subscription();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            &s,
            &feature_store_manifest(&account, &group("transactions", &[("amount", "float")])),
        );
        // The writes after the instant answer late, so the apply is killed between them.
        let (code, _) = http(
            "POST",
            "/__double/faults",
            &format!(
                r#"[{{"method": "PUT", "path": "/subscriptions/{s}/.*/featurestoreEntities/", "latency_ms": 1500, "times": 1}},
                   {{"method": "PUT", "path": "/subscriptions/{s}/.*/featuresets/", "latency_ms": 1500, "times": 1}}]"#
            ),
        );
        assert_eq!(code, 200);
        let key = format!(
            "resourcegroups/ml-test/providers/microsoft.machinelearningservices/{wait_for}"
        );
        let start = std::time::Instant::now();
        assert!(
            kill_apply_when(d, CREDENTIALS, || resources(&s).contains(&key)),
            "round {round}: the apply ended before {wait_for} appeared"
        );
        eprintln!("round {round}: killed after {:?}", start.elapsed());
        let r = run(d, &["apply", "--auto-approve", "--no-color"]);
        assert_eq!(r.code, 0, "round {round}: {}\n{}", r.stdout, r.stderr);
        assert_eq!(
            featureset_versions(&s, "transactions"),
            ["1"],
            "round {round}: one version, no duplicate"
        );
        assert!(!pending(d), "round {round}: no intent left");
        let r = run(d, &["plan", "--detailed-exitcode", "--no-color"]);
        assert_eq!(r.code, 0, "round {round}: {}\n{}", r.stdout, r.stderr);
        ok(&run(d, &["destroy", "--auto-approve", "--no-color"]));
        assert_eq!(resources(&s), Vec::<String>::new(), "round {round}");
    }
}
