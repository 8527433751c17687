//! The `gcs` backend: state in a Cloud Storage object, written with `ifGenerationMatch` on
//! the generation it was read at (`0` when new); the lock an object created with
//! `ifGenerationMatch=0`. Reads and writes go through google-cloud-storage's `Storage`
//! client (the JSON API). That crate lists and deletes objects only over gRPC
//! (`StorageControl`), so those two calls are made on the same JSON API, with the same
//! credentials, here.
//!
//! Layout, as Terraform's gcs backend: `PREFIX/NAME.state.json` for workspace NAME, its
//! lock `…state.json.lock` and its journal `…state.json.journal/BASE/SERIAL`.

use google_cloud_auth::credentials::{self, CacheableResource, Credentials};
use google_cloud_storage::client::Storage;
use mlinfra_engine::backend_config::BackendSpec;
use mlinfra_engine::state::StateError;

use crate::objects::{Cond, Layout, ObjectBackend, Objects, Precondition};
use crate::Rt;

/// What a workspace's state object is called under the prefix.
pub const SUFFIX: &str = ".state.json";

pub struct GcsObjects {
    rt: Rt,
    client: Storage,
    http: reqwest::Client,
    credentials: Credentials,
    /// The JSON API's root: `https://storage.googleapis.com` or `endpoint`.
    api: String,
    bucket: String,
}

pub type GcsBackend = ObjectBackend<GcsObjects>;

impl GcsBackend {
    pub fn open(spec: &BackendSpec, workspace: &str) -> Result<GcsBackend, StateError> {
        let rt = Rt::new()?;
        let bucket = spec.str("bucket").unwrap_or_default().to_string();
        let api = spec
            .str("endpoint")
            .unwrap_or("https://storage.googleapis.com")
            .trim_end_matches('/')
            .to_string();
        // An emulator over plain http takes no credentials; anything else uses
        // Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's login,
        // or the metadata server).
        let credentials = if api.starts_with("http://") {
            credentials::anonymous::Builder::new().build()
        } else {
            credentials::Builder::default().build().map_err(|e| StateError::Io {
                action: "find GCP credentials for the state bucket",
                path: format!("gs://{bucket}").into(),
                source: std::io::Error::other(format!(
                    "{e} (run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a key file)"
                )),
            })?
        };
        let client = {
            let (api, credentials) = (api.clone(), credentials.clone());
            rt.run(async move {
                use google_cloud_gax::retry_policy::RetryPolicyExt;
                let backoff =
                    google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder::new()
                        .with_initial_delay(std::time::Duration::from_millis(200))
                        .with_maximum_delay(std::time::Duration::from_secs(2))
                        .clamp();
                Storage::builder()
                    .with_endpoint(api)
                    .with_credentials(credentials)
                    .with_retry_policy(
                        google_cloud_storage::retry_policy::RetryableErrors
                            .with_attempt_limit(crate::ATTEMPTS),
                    )
                    .with_backoff_policy(backoff)
                    // Every write in one request: a conditional write is then one atomic
                    // step on the server, whatever its size.
                    .with_resumable_upload_threshold(usize::MAX)
                    .build()
                    .await
                    .map_err(|e| StateError::Io {
                        action: "build the Cloud Storage client",
                        path: "".into(),
                        source: std::io::Error::other(crate::error_chain(&e)),
                    })
            })?
        };
        let mut prefix = spec.str("prefix").unwrap_or_default().to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let objects = GcsObjects {
            rt,
            client,
            http: reqwest::Client::builder()
                .timeout(crate::attempt_timeout())
                .build()
                .map_err(|e| StateError::Io {
                    action: "build the HTTP client",
                    path: "".into(),
                    source: std::io::Error::other(e.to_string()),
                })?,
            credentials,
            api,
            bucket,
        };
        let layout = Layout::Named {
            prefix,
            suffix: SUFFIX.into(),
        };
        Ok(ObjectBackend::new(objects, layout, workspace))
    }
}

impl GcsObjects {
    fn bucket_path(&self) -> String {
        format!("projects/_/buckets/{}", self.bucket)
    }

    fn error(&self, key: &str, action: &'static str, detail: String) -> StateError {
        StateError::Io {
            action,
            path: format!("gs://{}/{key}", self.bucket).into(),
            source: std::io::Error::other(detail),
        }
    }

    /// `API/storage/v1/b/BUCKET`: the bucket's own resource.
    fn bucket_url(&self) -> Result<reqwest::Url, StateError> {
        let mut url = self.url(None)?;
        url.path_segments_mut()
            .map_err(|_| {
                self.error(
                    "",
                    "reach",
                    format!("endpoint {} is not a base URL", self.api),
                )
            })?
            .pop();
        Ok(url)
    }

    /// `API/storage/v1/b/BUCKET/o[/KEY]`, each part escaped.
    fn url(&self, key: Option<&str>) -> Result<reqwest::Url, StateError> {
        let mut url = reqwest::Url::parse(&self.api).map_err(|e| {
            self.error(
                key.unwrap_or(""),
                "reach",
                format!("endpoint {}: {e}", self.api),
            )
        })?;
        {
            let mut parts = url.path_segments_mut().map_err(|_| {
                self.error(
                    key.unwrap_or(""),
                    "reach",
                    format!("endpoint {} is not a base URL", self.api),
                )
            })?;
            parts
                .pop_if_empty()
                .extend(["storage", "v1", "b", &self.bucket, "o"]);
            if let Some(k) = key {
                parts.push(k);
            }
        }
        Ok(url)
    }
}

/// `call()`, given [`crate::attempt_timeout`] for each try and tried again when it goes
/// unanswered, up to [`crate::ATTEMPTS`] times. (The crate's JSON transport has no
/// attempt timeout of its own.)
async fn timed<T, F, Fut>(mut call: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let limit = crate::attempt_timeout();
    for _ in 0..crate::ATTEMPTS {
        if let Ok(v) = tokio::time::timeout(limit, call()).await {
            return Ok(v);
        }
    }
    Err(format!(
        "no answer within {} s, {} times",
        limit.as_secs(),
        crate::ATTEMPTS
    ))
}

/// The credentials' request headers (none for an emulator).
async fn auth_headers(c: &Credentials) -> Result<http::HeaderMap, String> {
    match c.headers(http::Extensions::new()).await {
        Ok(CacheableResource::New { data, .. }) => Ok(data),
        Ok(CacheableResource::NotModified) => Ok(http::HeaderMap::new()),
        Err(e) => Err(crate::error_chain(&e)),
    }
}

fn missing_bucket(bucket: &str) -> StateError {
    StateError::Io {
        action: "use the state bucket",
        path: format!("gs://{bucket}").into(),
        source: std::io::Error::other(format!(
            "the bucket does not exist (or this account cannot see it); create it first, with object versioning on, for example: gcloud storage buckets create gs://{bucket} — a configuration does not manage the bucket its own state is in"
        )),
    }
}

impl Objects for GcsObjects {
    fn describe(&self, key: &str) -> String {
        format!("gs://{}/{key}", self.bucket)
    }

    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StateError> {
        let (client, bucket, key_s) = (self.client.clone(), self.bucket_path(), key.to_string());
        let (http, creds, bucket_url) = (
            self.http.clone(),
            self.credentials.clone(),
            self.bucket_url()?,
        );
        let r = self.rt.run(async move {
            let read = timed(|| client.read_object(bucket.clone(), key_s.clone()).send()).await;
            let mut resp = match read {
                Err(elapsed) => return Ok(Err(Some(elapsed))),
                Ok(Ok(r)) => r,
                // No such object, or no such bucket: a missing bucket is said now, not at
                // the first write. A refused bucket read (object-only roles) means it exists.
                Ok(Err(e)) if e.http_status_code() == Some(404) => {
                    let headers = auth_headers(&creds).await.unwrap_or_default();
                    let missing = match http.get(bucket_url).headers(headers).send().await {
                        Ok(r) => r.status().as_u16() == 404,
                        Err(_) => false,
                    };
                    return Ok(if missing { Err(None) } else { Ok(None) });
                }
                Ok(Err(e)) => return Ok(Err(Some(crate::error_chain(&e)))),
            };
            let generation = resp.object().generation.to_string();
            let mut bytes = Vec::new();
            while let Some(chunk) = resp.next().await {
                match chunk {
                    Ok(c) => bytes.extend_from_slice(&c),
                    Err(e) => return Ok(Err(Some(crate::error_chain(&e)))),
                }
            }
            Ok(Ok(Some((bytes, generation))))
        })?;
        r.map_err(|d| match d {
            Some(d) => self.error(key, "read", d),
            None => missing_bucket(&self.bucket),
        })
    }

    fn put(
        &self,
        key: &str,
        bytes: &[u8],
        cond: Cond<'_>,
    ) -> Result<Result<String, Precondition>, StateError> {
        let generation: i64 = match cond {
            Cond::Absent => 0,
            Cond::Version(v) => match v.parse() {
                Ok(g) => g,
                // Not a generation this backend wrote: it cannot match.
                Err(_) => return Ok(Err(Precondition)),
            },
        };
        let (client, bucket, key_s) = (self.client.clone(), self.bucket_path(), key.to_string());
        // The checksum goes in the metadata part, where the server checks it before it
        // stores anything (fake-gcs-server 1.54 stores a trailing checksum part as data).
        let crc = crc32c::crc32c(bytes);
        let body = bytes::Bytes::copy_from_slice(bytes);
        let r = self.rt.run(async move {
            // A conditional write is safe to send again after a timeout: if the first one
            // landed, the next is refused, and the caller reads back what is there.
            let r = timed(|| {
                client
                    .write_object(bucket.clone(), key_s.clone(), body.clone())
                    .set_if_generation_match(generation)
                    .set_content_type("application/json")
                    .with_known_crc32c(crc)
                    .send_unbuffered()
            })
            .await;
            Ok(match r {
                Err(elapsed) => Err((None, elapsed)),
                Ok(Ok(o)) => Ok(Ok(o.generation.to_string())),
                Ok(Err(e)) if e.http_status_code() == Some(412) => Ok(Err(Precondition)),
                Ok(Err(e)) => Err((e.http_status_code(), crate::error_chain(&e))),
            })
        })?;
        match r {
            Ok(v) => Ok(v),
            Err((Some(404), _)) => Err(missing_bucket(&self.bucket)),
            Err((_, d)) => Err(self.error(key, "write", d)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), StateError> {
        let url = self.url(Some(key))?;
        let (http, creds) = (self.http.clone(), self.credentials.clone());
        let r = self.rt.run(async move {
            let headers = match auth_headers(&creds).await {
                Ok(h) => h,
                Err(e) => return Ok(Err(e)),
            };
            Ok(match http.delete(url).headers(headers).send().await {
                Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => Ok(()),
                Ok(r) => {
                    let status = r.status();
                    Err(format!("{status}: {}", r.text().await.unwrap_or_default()))
                }
                Err(e) => Err(crate::error_chain(&e)),
            })
        })?;
        r.map_err(|d| self.error(key, "delete", d))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let base = self.url(None)?;
        let (http, creds, p) = (
            self.http.clone(),
            self.credentials.clone(),
            prefix.to_string(),
        );
        let r = self.rt.run(async move {
            let mut names = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut url = base.clone();
                url.query_pairs_mut()
                    .append_pair("prefix", &p)
                    .append_pair("fields", "items(name),nextPageToken");
                if let Some(t) = &token {
                    url.query_pairs_mut().append_pair("pageToken", t);
                }
                let headers = match auth_headers(&creds).await {
                    Ok(h) => h,
                    Err(e) => return Ok(Err((None, e))),
                };
                let resp = match http.get(url).headers(headers).send().await {
                    Ok(r) => r,
                    Err(e) => return Ok(Err((None, crate::error_chain(&e)))),
                };
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                if status != 200 {
                    return Ok(Err((Some(status), format!("{status}: {text}"))));
                }
                let page: serde_json::Value = match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(e) => return Ok(Err((None, format!("the listing does not parse: {e}")))),
                };
                names.extend(
                    page["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|o| o["name"].as_str().map(str::to_string)),
                );
                match page["nextPageToken"].as_str() {
                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                    _ => break,
                }
            }
            names.sort();
            Ok(Ok(names))
        })?;
        match r {
            Ok(n) => Ok(n),
            Err((Some(404), _)) => Err(missing_bucket(&self.bucket)),
            Err((_, d)) => Err(self.error(prefix, "list", d)),
        }
    }
}
