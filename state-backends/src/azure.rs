//! The `azurerm` backend: state in an Azure Storage block blob, written with `If-Match` on
//! its ETag (`If-None-Match: *` when new); the lock a blob lease of bounded duration on
//! `KEY.lock`, renewed while the run lives and released on every exit path. A run killed
//! while holding it stops renewing, and the lease expires by itself after [`LEASE_SECS`].
//!
//! Layout, as Terraform's azurerm backend: `KEY` for the default workspace,
//! `KEYenv:NAME` for the others.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, Etag, RequestContent, StatusCode, Url};
use azure_storage_blob::models::{
    BlobClientAcquireLeaseResultHeaders, BlobClientBreakLeaseOptions,
    BlobClientGetPropertiesResultHeaders, BlobContainerClientListBlobsOptions,
    BlockBlobClientUploadOptions, LeaseState,
};
use azure_storage_blob::{BlobClient, BlobContainerClient, BlobContainerClientOptions};
use futures::TryStreamExt;
use mlinfra_engine::backend_config::{BackendSpec, BackendValue};
use mlinfra_engine::state::{LockInfo, StateError};
use mlinfra_engine::store::{Backend, HeldLock, Stored, TryLock};
use mlinfra_schema::Value;

use crate::objects::{
    record, refuse_live_here, Beat, Cond, Heartbeat, Layout, ObjectBackend, Objects, Precondition,
};
use crate::Rt;

/// How long a lease lasts without a renewal (Azure allows 15 to 60 s).
pub const LEASE_SECS: i32 = 60;

pub struct AzureObjects {
    rt: Rt,
    container: Arc<BlobContainerClient>,
    /// `ACCOUNT/CONTAINER`, for messages.
    place: String,
}

/// The azurerm backend: the object operations of [`ObjectBackend`], with a lease for the
/// lock in place of a lock object.
pub struct AzureBackend {
    inner: ObjectBackend<AzureObjects>,
}

/// The block's attributes that choose the credentials, as the azure provider names them.
const CREDENTIAL_ATTRIBUTES: &[&str] = &[
    "tenant_id",
    "client_id",
    "use_msi",
    "use_cli",
    "authority_host",
    "ca_file",
];

impl AzureBackend {
    pub fn open(spec: &BackendSpec, workspace: &str) -> Result<AzureBackend, StateError> {
        let account = spec
            .str("storage_account_name")
            .unwrap_or_default()
            .to_string();
        let container_name = spec.str("container_name").unwrap_or_default().to_string();
        let place = format!("{account}/{container_name}");
        let fail = |action: &'static str, detail: String| StateError::Io {
            action,
            path: format!("azurerm://{place}").into(),
            source: std::io::Error::other(detail),
        };
        let mut attrs = mlinfra_provider_api::Attributes::new();
        for name in CREDENTIAL_ATTRIBUTES {
            match spec.attributes.get(*name) {
                Some(BackendValue::String(s)) => {
                    attrs.insert(name.to_string(), Value::from(s.clone()));
                }
                Some(BackendValue::Bool(b)) => {
                    attrs.insert(name.to_string(), Value::Bool(*b));
                }
                None => {}
            }
        }
        let (credential, mut options, _source): (Arc<dyn TokenCredential>, ClientOptions, String) =
            mlinfra_provider_azure::credentials_for(&attrs)
                .map_err(|e| fail("find Azure credentials for the state", e.to_string()))?;
        // The blob calls' own transport: the provider's trust (ca_file), with an attempt
        // timeout, and a bounded number of quick retries.
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .timeout(crate::attempt_timeout())
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = spec.str("ca_file") {
            let pem = std::fs::read(path)
                .map_err(|e| fail("read ca_file", format!("\"{path}\": {e}")))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| fail("read ca_file", format!("\"{path}\" is not PEM: {e}")))?;
            http = http.tls_certs_merge(certs);
        }
        let http = http
            .build()
            .map_err(|e| fail("build the HTTPS client", e.to_string()))?;
        let mut blob_options = options.clone();
        blob_options.transport = Some(azure_core::http::Transport::new(Arc::new(http)));
        blob_options.retry = azure_core::http::RetryOptions::exponential(
            azure_core::http::ExponentialRetryOptions {
                initial_delay: Duration::from_millis(200).try_into().unwrap_or_default(),
                max_retries: crate::ATTEMPTS - 1,
                max_delay: Duration::from_secs(2).try_into().unwrap_or_default(),
                ..Default::default()
            },
        );
        options = blob_options;
        let endpoint = spec
            .str("endpoint")
            .map(str::to_string)
            .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net/"));
        let url = Url::parse(&format!(
            "{}/{container_name}",
            endpoint.trim_end_matches('/')
        ))
        .map_err(|e| {
            fail(
                "reach",
                format!("endpoint \"{endpoint}\" is not a URL: {e}"),
            )
        })?;
        let container = BlobContainerClient::new(
            url,
            Some(credential),
            Some(BlobContainerClientOptions {
                client_options: options,
                ..Default::default()
            }),
        )
        .map_err(|e| fail("reach", e.to_string()))?;
        let objects = AzureObjects {
            rt: Rt::new()?,
            container: Arc::new(container),
            place,
        };
        let layout = Layout::KeyInfix {
            key: spec.str("key").unwrap_or_default().to_string(),
            infix: "env:".into(),
        };
        Ok(AzureBackend {
            inner: ObjectBackend::new(objects, layout, workspace),
        })
    }

    fn lock_blob(&self) -> BlobClient {
        self.inner
            .objects()
            .container
            .blob_client(&self.inner.lock_key())
    }
}

fn azure_error(place: &str, key: &str, action: &'static str, e: &azure_core::Error) -> StateError {
    StateError::Io {
        action,
        path: format!("azurerm://{place}/{key}").into(),
        source: std::io::Error::other(crate::error_chain(e)),
    }
}

/// The storage error code of an answer (`ContainerNotFound`, `LeaseAlreadyPresent`, …).
fn code(e: &azure_core::Error) -> Option<String> {
    match e.kind() {
        azure_core::error::ErrorKind::HttpResponse { error_code, .. } => error_code.clone(),
        _ => None,
    }
}

fn missing_container(place: &str) -> StateError {
    let (account, container) = place.split_once('/').unwrap_or((place, ""));
    StateError::Io {
        action: "use the state container",
        path: format!("azurerm://{place}").into(),
        source: std::io::Error::other(format!(
            "the storage account or its container does not exist (or this identity cannot see it); create the container first, for example: az storage container create --auth-mode login --account-name {account} --name {container} — a configuration does not manage the container its own state is in"
        )),
    }
}

impl AzureObjects {
    fn run<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T, StateError>> + Send + 'static,
    ) -> Result<T, StateError> {
        self.rt.run(f)
    }

    fn upload(
        &self,
        key: &str,
        bytes: &[u8],
        options: BlockBlobClientUploadOptions<'static>,
    ) -> Result<Result<String, azure_core::Error>, StateError> {
        let blob = self.container.blob_client(key);
        let body = bytes.to_vec();
        self.run(async move {
            Ok(blob
                .upload(RequestContent::from(body), Some(options))
                .await
                .map(|r| r.etag.map(|e| e.to_string()).unwrap_or_default()))
        })
    }
}

impl Objects for AzureObjects {
    fn describe(&self, key: &str) -> String {
        format!("azurerm://{}/{key}", self.place)
    }

    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StateError> {
        let blob = self.container.blob_client(key);
        let (place, key) = (self.place.clone(), key.to_string());
        self.run(async move {
            match blob.download(None).await {
                Ok(r) => {
                    let etag = r
                        .properties
                        .etag
                        .as_ref()
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    let bytes = r
                        .body
                        .collect()
                        .await
                        .map_err(|e| azure_error(&place, &key, "read", &e))?;
                    Ok(Some((bytes.to_vec(), etag)))
                }
                Err(e) if code(&e).as_deref() == Some("ContainerNotFound") => {
                    Err(missing_container(&place))
                }
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(None),
                Err(e) => Err(azure_error(&place, &key, "read", &e)),
            }
        })
    }

    fn put(
        &self,
        key: &str,
        bytes: &[u8],
        cond: Cond<'_>,
    ) -> Result<Result<String, Precondition>, StateError> {
        let options = match cond {
            Cond::Absent => BlockBlobClientUploadOptions {
                if_none_match: Some(Etag::from("*")),
                ..Default::default()
            },
            Cond::Version(v) => BlockBlobClientUploadOptions {
                if_match: Some(Etag::from(v.to_string())),
                ..Default::default()
            },
        };
        match self.upload(key, bytes, options)? {
            Ok(etag) => Ok(Ok(etag)),
            Err(e)
                if e.http_status() == Some(StatusCode::PreconditionFailed)
                    || code(&e).as_deref() == Some("BlobAlreadyExists") =>
            {
                Ok(Err(Precondition))
            }
            // An If-Match on a blob that is gone.
            Err(e)
                if e.http_status() == Some(StatusCode::NotFound)
                    && code(&e).as_deref() != Some("ContainerNotFound")
                    && matches!(cond, Cond::Version(_)) =>
            {
                Ok(Err(Precondition))
            }
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => {
                Err(missing_container(&self.place))
            }
            Err(e) => Err(azure_error(&self.place, key, "write", &e)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), StateError> {
        let blob = self.container.blob_client(key);
        let (place, key) = (self.place.clone(), key.to_string());
        self.run(async move {
            match blob.delete(None).await {
                Ok(_) => Ok(()),
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(()),
                Err(e) => Err(azure_error(&place, &key, "delete", &e)),
            }
        })
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let container = Arc::clone(&self.container);
        let (place, prefix) = (self.place.clone(), prefix.to_string());
        self.run(async move {
            let fail = |e: azure_core::Error| {
                if code(&e).as_deref() == Some("ContainerNotFound") {
                    missing_container(&place)
                } else {
                    azure_error(&place, &prefix, "list", &e)
                }
            };
            let mut pages = container
                .list_blobs(Some(BlobContainerClientListBlobsOptions {
                    prefix: Some(prefix.clone()),
                    ..Default::default()
                }))
                .map_err(fail)?
                .into_pages();
            let mut names = Vec::new();
            while let Some(page) = pages.try_next().await.map_err(fail)? {
                let model = page.into_model().map_err(fail)?;
                names.extend(model.blob_items.into_iter().filter_map(|b| b.name));
            }
            names.sort();
            Ok(names)
        })
    }
}

/// The holder's record in the lock blob, or `None` when the blob holds none (released).
fn parse_record(bytes: &[u8], location: &str) -> Option<LockInfo> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| LockInfo::unknown("its lock record does not parse", location)),
    )
}

/// Options for a write under the lease.
fn leased(lease: &str) -> BlockBlobClientUploadOptions<'static> {
    BlockBlobClientUploadOptions {
        lease_id: Some(lease.to_string()),
        ..Default::default()
    }
}

impl AzureBackend {
    fn acquired(&self, info: &LockInfo, lease: String, previous: Option<LockInfo>) -> TryLock {
        TryLock::Acquired {
            guard: Box::new(LeaseLock::start(
                Arc::clone(self.inner.objects()),
                self.inner.lock_key(),
                info.clone(),
                lease,
            )),
            abandoned_by: previous,
        }
    }

    /// The lock blob's record, and whether its lease is held now.
    fn read_lock(&self) -> Result<(Option<LockInfo>, bool), StateError> {
        let objects = self.inner.objects();
        let key = self.inner.lock_key();
        let location = objects.describe(&key);
        let Some((bytes, _)) = objects.get(&key)? else {
            return Ok((None, false));
        };
        let blob = self.lock_blob();
        let (place, k) = (objects.place.clone(), key.clone());
        let leased = objects.run(async move {
            match blob.get_properties(None).await {
                Ok(p) => Ok(p
                    .lease_state()
                    .ok()
                    .flatten()
                    .is_some_and(|s| s == LeaseState::Leased)),
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(false),
                Err(e) => Err(azure_error(&place, &k, "read the lease of", &e)),
            }
        })?;
        Ok((parse_record(&bytes, &location), leased))
    }

    /// Break the lock blob's lease at once (force-unlock, or a dead holder on this host).
    fn break_lease(&self) -> Result<(), StateError> {
        let objects = self.inner.objects();
        let blob = self.lock_blob();
        let (place, key) = (objects.place.clone(), self.inner.lock_key());
        objects.run(async move {
            match blob
                .break_lease(Some(BlobClientBreakLeaseOptions {
                    break_period: Some(0),
                    ..Default::default()
                }))
                .await
            {
                Ok(_) => Ok(()),
                // No lease there (it expired): nothing to break.
                Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()),
                Err(e) => Err(azure_error(&place, &key, "break the lease of", &e)),
            }
        })
    }

    /// Lease the lock blob for `id`, only while it is at `version` (holding our record).
    fn acquire(
        &self,
        id: &str,
        version: &str,
    ) -> Result<Result<String, azure_core::Error>, StateError> {
        let blob = self.lock_blob();
        let (id, version) = (id.to_string(), version.to_string());
        self.inner.objects().run(async move {
            let options = azure_storage_blob::models::BlobClientAcquireLeaseOptions {
                proposed_lease_id: Some(id.clone()),
                if_match: Some(Etag::from(version)),
                ..Default::default()
            };
            Ok(match blob.acquire_lease(LEASE_SECS, Some(options)).await {
                Ok(r) => Ok(r.lease_id().ok().flatten().unwrap_or(id)),
                Err(e) => Err(e),
            })
        })
    }
}

impl Backend for AzureBackend {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn read(&self) -> Result<Option<Stored>, StateError> {
        self.inner.read()
    }

    fn write(&self, bytes: &[u8], expected: Option<&str>) -> Result<String, StateError> {
        self.inner.write(bytes, expected)
    }

    fn try_lock(&self, info: &LockInfo) -> Result<TryLock, StateError> {
        let objects = self.inner.objects();
        let key = self.inner.lock_key();
        let location = objects.describe(&key);
        let mut broke = false;
        // The record goes in first, over the version read while the blob was free; the
        // lease is then taken only on that version. So a leased blob always holds its
        // holder's record, whenever a run is killed.
        for _ in 0..20 {
            let current = objects.get(&key)?;
            let (_, leased) = self.read_lock()?;
            if leased {
                let holder = current
                    .as_ref()
                    .and_then(|(b, _)| parse_record(b, &location))
                    .unwrap_or_else(|| LockInfo::unknown("it left no record", &location));
                if holder.id == info.id {
                    // Our own lease, taken by an attempt whose answer was lost.
                    return Ok(self.acquired(info, info.id.clone(), None));
                }
                if holder.holder_is_dead() && !broke {
                    // Its run was killed on this host: end its lease now rather than
                    // wait for it to expire.
                    self.break_lease()?;
                    broke = true;
                    continue;
                }
                return Ok(TryLock::Held(holder));
            }
            // Free. A record still there is a run whose lease expired (or was broken)
            // before it released the lock.
            let previous = current
                .as_ref()
                .and_then(|(b, _)| parse_record(b, &location))
                .filter(|p| p.id != info.id);
            let cond = match &current {
                Some((_, etag)) => Cond::Version(etag),
                None => Cond::Absent,
            };
            let Ok(version) = objects.put(&key, &record(info), cond)? else {
                continue; // another run wrote its record in between: look again
            };
            match self.acquire(&info.id, &version)? {
                Ok(lease) => return Ok(self.acquired(info, lease, previous)),
                // Leased, or rewritten, by another run in between: look again.
                Err(e)
                    if matches!(
                        e.http_status(),
                        Some(StatusCode::Conflict) | Some(StatusCode::PreconditionFailed)
                    ) => {}
                Err(e) => return Err(azure_error(&objects.place, &key, "lease", &e)),
            }
        }
        Err(StateError::Conflict {
            location,
            detail: "the lock blob kept changing while this run tried to lease it".into(),
        })
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let (holder, leased) = self.read_lock()?;
        Ok(holder.filter(|_| leased))
    }

    fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        let (holder, leased) = self.read_lock()?;
        let holder = LockInfo::to_unlock(holder.filter(|_| leased), id)?;
        refuse_live_here(holder.clone())?;
        self.break_lease()?;
        Ok(holder)
    }

    fn journal_append(&self, base: u64, serial: u64, bytes: &[u8]) -> Result<(), StateError> {
        self.inner.journal_append(base, serial, bytes)
    }

    fn journal_read(&self, base: u64) -> Result<Vec<Vec<u8>>, StateError> {
        self.inner.journal_read(base)
    }

    fn journal_clear(&self) -> Result<(), StateError> {
        self.inner.journal_clear()
    }

    fn workspaces(&self) -> Result<Vec<String>, StateError> {
        self.inner.workspaces()
    }

    fn delete_workspace(&self, name: &str) -> Result<(), StateError> {
        self.inner.delete_workspace(name)
    }
}

/// A held lease, renewed every [`crate::objects::HEARTBEAT`] (with the holder's record
/// rewritten with the time, for whoever finds the state locked).
struct LeaseLock {
    objects: Arc<AzureObjects>,
    key: String,
    lease: String,
    heartbeat: Heartbeat,
}

impl LeaseLock {
    fn start(objects: Arc<AzureObjects>, key: String, info: LockInfo, lease: String) -> LeaseLock {
        let heartbeat = {
            let (objects, key, lease) = (Arc::clone(&objects), key.clone(), lease.clone());
            Heartbeat::start("mlinfra-lease-renewal", move || {
                let (b, l) = (objects.container.blob_client(&key), lease.clone());
                let renewed =
                    objects.run(async move { Ok(b.renew_lease(l, None).await.map(|_| ())) });
                match renewed {
                    Ok(Ok(())) => {
                        let _ = objects.upload(&key, &record(&info), leased(&lease));
                        Beat::Alive
                    }
                    // Broken (force-unlock), or expired and taken by another run.
                    Ok(Err(e)) if e.http_status() == Some(StatusCode::Conflict) => Beat::Lost(
                        "the lease was broken (force-unlock) or expired while this run held it",
                    ),
                    // The next renewal tries again, well within the lease's duration.
                    _ => Beat::Retry,
                }
            })
        };
        LeaseLock {
            objects,
            key,
            lease,
            heartbeat,
        }
    }
}

impl HeldLock for LeaseLock {
    fn release(&mut self) -> Result<(), StateError> {
        self.heartbeat.stop();
        if self.lost().is_some() {
            return Ok(());
        }
        // End the lease, then clear the record while it is still ours (a record left
        // behind means a run that never released; another run may already have written
        // its own, which stays).
        let (blob, lease) = (
            self.objects.container.blob_client(&self.key),
            self.lease.clone(),
        );
        let (place, key) = (self.objects.place.clone(), self.key.clone());
        self.objects.run(async move {
            match blob.release_lease(lease, None).await {
                Ok(_) => Ok(()),
                Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()),
                Err(e) => Err(azure_error(&place, &key, "release the lease of", &e)),
            }
        })?;
        let location = self.objects.describe(&self.key);
        if let Some((bytes, etag)) = self.objects.get(&self.key)? {
            if parse_record(&bytes, &location).is_some_and(|h| h.id == self.lease) {
                let _ = self.objects.put(&self.key, b"", Cond::Version(&etag))?;
            }
        }
        Ok(())
    }

    fn lost(&self) -> Option<String> {
        self.heartbeat.lost()
    }

    fn watch(&self) -> Option<mlinfra_engine::store::LostWatch> {
        Some(self.heartbeat.watch())
    }
}
