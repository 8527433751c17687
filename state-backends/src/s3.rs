//! The `s3` backend: state in an S3 object, written with `If-Match` on its ETag; the lock
//! an object created with `If-None-Match: *`; no DynamoDB table.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use mlinfra_engine::backend_config::BackendSpec;
use mlinfra_engine::state::StateError;

use crate::objects::{Cond, Layout, ObjectBackend, Objects, Precondition};
use crate::Rt;

pub struct S3Objects {
    rt: Rt,
    client: aws_sdk_s3::Client,
    bucket: String,
}

pub type S3Backend = ObjectBackend<S3Objects>;

impl S3Backend {
    pub fn open(spec: &BackendSpec, workspace: &str) -> Result<S3Backend, StateError> {
        let rt = Rt::new()?;
        let region = spec
            .str("region")
            .map(str::to_string)
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = spec.str("endpoint").map(str::to_string);
        let path_style = spec.bool("use_path_style").unwrap_or(endpoint.is_some());
        let client = rt.run(async move {
            let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region))
                .load()
                .await;
            let mut b = aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(path_style)
                .timeout_config(
                    aws_config::timeout::TimeoutConfig::builder()
                        .operation_attempt_timeout(crate::attempt_timeout())
                        .build(),
                )
                .retry_config(
                    aws_config::retry::RetryConfig::standard().with_max_attempts(crate::ATTEMPTS),
                );
            if let Some(e) = endpoint {
                b = b.endpoint_url(e);
            }
            Ok(aws_sdk_s3::Client::from_conf(b.build()))
        })?;
        let objects = S3Objects {
            rt,
            client,
            bucket: spec.str("bucket").unwrap_or_default().to_string(),
        };
        let layout = Layout::KeyPrefix {
            key: spec.str("key").unwrap_or_default().to_string(),
            prefix: spec
                .str("workspace_key_prefix")
                .unwrap_or("env:")
                .to_string(),
        };
        Ok(ObjectBackend::new(objects, layout, workspace))
    }
}

/// An SDK error as a state error naming the object and what S3 said.
fn s3_error<E, R>(
    bucket: &str,
    key: &str,
    action: &'static str,
    e: aws_sdk_s3::error::SdkError<E, R>,
) -> StateError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = match e.as_service_error() {
        Some(se) => format!(
            "{}: {}",
            se.code().unwrap_or("error"),
            se.message().unwrap_or("no message")
        ),
        None => crate::error_chain(&e),
    };
    StateError::Io {
        action,
        path: format!("s3://{bucket}/{key}").into(),
        source: std::io::Error::other(detail),
    }
}

type HttpResponse = aws_sdk_s3::config::http::HttpResponse;

/// Whether S3 said the bucket itself is missing (not only the object).
fn no_bucket<E: ProvideErrorMetadata, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|c| c == "NoSuchBucket")
}

fn missing_bucket(bucket: &str) -> StateError {
    StateError::Io {
        action: "use the state bucket",
        path: format!("s3://{bucket}").into(),
        source: std::io::Error::other(format!(
            "the bucket does not exist (or is in another account); create it first, with versioning on, for example: aws s3api create-bucket --bucket {bucket} — a configuration does not manage the bucket its own state is in"
        )),
    }
}

/// The HTTP status S3 answered with, when it answered.
fn status<E>(e: &aws_sdk_s3::error::SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl Objects for S3Objects {
    fn describe(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StateError> {
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), key.to_string());
        self.rt.run(async move {
            match client.get_object().bucket(&bucket).key(&key).send().await {
                Ok(out) => {
                    let etag = out.e_tag().unwrap_or_default().to_string();
                    let bytes = out
                        .body
                        .collect()
                        .await
                        .map_err(|e| StateError::Io {
                            action: "read",
                            path: format!("s3://{bucket}/{key}").into(),
                            source: std::io::Error::other(e.to_string()),
                        })?
                        .into_bytes()
                        .to_vec();
                    Ok(Some((bytes, etag)))
                }
                Err(e) if no_bucket(&e) => Err(missing_bucket(&bucket)),
                Err(e) if status(&e) == Some(404) => Ok(None),
                Err(e) => Err(s3_error(&bucket, &key, "read", e)),
            }
        })
    }

    fn put(
        &self,
        key: &str,
        bytes: &[u8],
        cond: Cond<'_>,
    ) -> Result<Result<String, Precondition>, StateError> {
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), key.to_string());
        let body = bytes.to_vec();
        let (if_match, if_none_match) = match cond {
            Cond::Absent => (None, Some("*".to_string())),
            Cond::Version(v) => (Some(v.to_string()), None),
        };
        self.rt.run(async move {
            let mut tries = 0;
            loop {
                tries += 1;
                let r = client
                    .put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(ByteStream::from(body.clone()))
                    .set_if_match(if_match.clone())
                    .set_if_none_match(if_none_match.clone())
                    .send()
                    .await;
                match r {
                    Ok(out) => return Ok(Ok(out.e_tag().unwrap_or_default().to_string())),
                    Err(e) if no_bucket(&e) => return Err(missing_bucket(&bucket)),
                    Err(e) if status(&e) == Some(412) => return Ok(Err(Precondition)),
                    // A conditional write that raced another on the same key: S3 asks
                    // for a retry.
                    Err(e) if status(&e) == Some(409) && tries < 5 => {
                        tokio::time::sleep(std::time::Duration::from_millis(100 * tries)).await;
                    }
                    // An If-Match on an object that is gone.
                    Err(e) if status(&e) == Some(404) && if_match.is_some() => {
                        return Ok(Err(Precondition))
                    }
                    Err(e) => return Err(s3_error(&bucket, &key, "write", e)),
                }
            }
        })
    }

    fn delete(&self, key: &str) -> Result<(), StateError> {
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), key.to_string());
        self.rt.run(async move {
            match client
                .delete_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if status(&e) == Some(404) => Ok(()),
                Err(e) => Err(s3_error(&bucket, &key, "delete", e)),
            }
        })
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let (client, bucket, prefix) =
            (self.client.clone(), self.bucket.clone(), prefix.to_string());
        self.rt.run(async move {
            let mut keys = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let out = client
                    .list_objects_v2()
                    .bucket(&bucket)
                    .prefix(&prefix)
                    .set_continuation_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        if no_bucket(&e) {
                            missing_bucket(&bucket)
                        } else {
                            s3_error(&bucket, &prefix, "list", e)
                        }
                    })?;
                keys.extend(
                    out.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_string)),
                );
                match out.next_continuation_token() {
                    Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                    _ => break,
                }
            }
            keys.sort();
            Ok(keys)
        })
    }
}
